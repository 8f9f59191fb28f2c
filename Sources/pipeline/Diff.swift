import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineSpec

/// How a plan diff is printed.
enum DiffFormat: String, CaseIterable, ExpressibleByArgument { case text, markdown }

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "What changed between two versions of a pipeline file: stages added, removed and changed, with script and gate changes.",
        discussion:
            "Both files are read with the same --env and --input. Exit status: 0 (with --detailed-exitcode: 0 no change, 1 error, 2 changed); without it, 2 when a file is invalid."
    )

    @Argument(help: "The old version of the file.")
    var old: String

    @Argument(help: "The new version of the file.")
    var new: String

    @Option(help: "Output format: text (coloured on a terminal) or markdown (for a pull-request comment).")
    var format: DiffFormat = .text

    @Flag(help: "Exit 0 when nothing changed, 1 on an error, 2 when something changed (as terraform plan -detailed-exitcode).")
    var detailedExitcode = false

    @Option(help: "Colour: 'auto' (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it), 'always' or 'never'.")
    var color: ColorChoice = .auto

    @OptionGroup var choice: ChoiceArguments

    func run() throws {
        let before = try PlanChanges.load(old, choice: choice, detailed: detailedExitcode)
        let after = try PlanChanges.load(new, choice: choice, detailed: detailedExitcode)
        try PlanChanges.report(PlanDiff(old: before.pipeline, new: after.pipeline), format: format, color: color, detailed: detailedExitcode)
    }
}

/// Shared by `diff` and `plan --diff-base`.
enum PlanChanges {
    /// Loads a file; with --detailed-exitcode an invalid one exits 1 instead of 2.
    static func load(
        _ file: String, bytes: [UInt8]? = nil, choice: ChoiceArguments, strict: Bool = false, preflight: Bool = false, detailed: Bool
    ) throws -> LoadedPipeline {
        do {
            return try Load.pipeline(file, bytes: bytes, choice: choice, strict: strict, preflight: preflight)
        } catch let code as ExitCode where detailed {
            throw code == .success ? code : ExitCode(1)
        }
    }

    static func report(_ diff: PlanDiff, format: DiffFormat, color: ColorChoice, detailed: Bool) throws {
        switch format {
        case .text: Terminal.out(diff.text(color: color.enabled(fd: 1)))
        case .markdown: Terminal.out(diff.markdown())
        }
        if detailed && !diff.isEmpty { throw ExitCode(2) }
    }
}
