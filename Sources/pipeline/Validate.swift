import PipelineYAML
import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

extension DiagnosticRenderer.Format: ExpressibleByArgument {}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check pipeline files: syntax, keys, types, the stage graph, the deploy rules and the migration lint.",
        discussion: """
            Included stage files are checked with the pipeline that includes them. A stage file ('kind: stages') given alone is \
            checked on its own: its parameters stay unresolved, and 'env.*' and 'secrets.*' are checked where it is included.

            Exit status: 0 valid (warnings allowed), 2 invalid.
            """)

    @Argument(help: "Pipeline files to check.")
    var files: [String]

    @Flag(help: "Treat lint warnings as errors.")
    var strict = false

    @Option(help: "Output format: text, json or github (workflow annotations).")
    var format: DiagnosticRenderer.Format = .text

    @OptionGroup var choice: ChoiceArguments

    @Option(help: "Colour of text diagnostics: 'auto' (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it), 'always' or 'never'.")
    var color: ColorChoice = .auto

    func run() throws {
        var options = try choice.options(strict: strict)
        options.acceptStageFile = true
        ValidateJob(files: files, options: options, format: format, color: color).run()
    }
}

/// What `validate` does once its arguments are known: shared by the command and by the fast path
/// of `pipeline validate FILE…` (see `FastArguments`), so both run exactly the same code.
struct ValidateJob {
    var files: [String]
    var options: PipelineLoader.Options
    var format: DiagnosticRenderer.Format
    var color: ColorChoice

    /// Checks every file, prints the diagnostics and ends the process (0 valid, 2 invalid).
    func run() -> Never {
        var all: [Diagnostic] = []
        var sources: [String: [UInt8]] = [:]
        var invalid = false
        // Every model loaded, kept until the process ends (see the end of this function).
        var models: [[LoadedPipeline]] = []
        for file in files {
            do {
                // Without --env, every environment the file declares is checked.
                let each = try PipelineLoader.loadEach(path: file, options: options)
                let loaded = each[0]
                all += loaded.warnings
                sources.merge(loaded.sources) { old, _ in old }
                // What `run` checks before starting: the migration lint of each migrate stage.
                var preflight: [Diagnostic] = []
                var seen = Set<String>()
                for one in each {
                    for finding in MigrationLinter.preflight(one.pipeline)
                    where seen.insert("\(finding.path):\(finding.mark.line):\(finding.mark.column):\(finding.message)").inserted {
                        preflight.append(finding)
                    }
                }
                if preflight.contains(where: { $0.severity == .error }) { invalid = true }
                sources = Load.sources(of: preflight, known: sources)
                all += preflight
                models.append(each)
            } catch {
                invalid = true
                all += error.diagnostics
                sources = Load.sources(of: error.diagnostics, known: sources)
            }
        }
        let renderer = DiagnosticRenderer(sources: sources)
        let text = renderer.render(all, format: format)
        switch format {
        case .json:
            Terminal.out(text)
        case .text, .github:
            Terminal.err(format == .text ? DiagnosticColors.paint(text, color.enabled(fd: 2)) : text)
            if format == .text {
                let errors = all.filter { $0.severity == .error }.count
                let warnings = all.count - errors
                let summary =
                    invalid
                    ? "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"
                    : "\(files.count == 1 ? files[0] : "\(files.count) files"): valid"
                        + (warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : "")
                Terminal.err(summary + "\n")
            }
        }
        // The process ends here, right after its output (written unbuffered, nothing is left to
        // flush): the kernel takes the memory back at once, where releasing the models field by
        // field would cost more than linting them (issue 15).
        withExtendedLifetime(models) { endProcess(status: invalid ? 2 : 0) }
    }
}

/// Ends the process at once with `status` (the C library's `exit`: stdio is flushed, nothing of
/// Swift is torn down). Out here, where `exit` is not `ParsableCommand.exit(withError:)`.
private func endProcess(status: Int32) -> Never {
    exit(status)
}
