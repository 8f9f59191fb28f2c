import ArgumentParser
import PipelineSpec

extension PlanRenderer.Format: ExpressibleByArgument {}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what a pipeline will run: stages in parallel waves with gates, retries, timeouts and rollbacks.",
        discussion:
            "Formats: text (terminal), markdown (paste into a pull request), mermaid, dot (Graphviz), json (stable shape, see docs/format.md). Stages from included stage files say where they come from; a stage with 'if:' shows its condition and, with the inputs and environment chosen (--env, --input), whether it runs. Exit status: 0, or 2 when the file is invalid."
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(help: "Output format: text, markdown, mermaid, dot or json.")
    var format: PlanRenderer.Format = .text

    @Flag(help: "Treat lint warnings as errors.")
    var strict = false

    @OptionGroup var choice: ChoiceArguments

    @Option(
        help: ArgumentHelp(
            "Also show what changed against the file at this git ref (alone, as the last option: the merge base of HEAD and origin/HEAD). Text and markdown.",
            valueName: "REF"))
    var diffBase: String?

    @Flag(help: "With --diff-base: exit 0 when nothing changed, 1 on an error, 2 when something changed.")
    var detailedExitcode = false

    @Option(help: "Colour of the changes: 'auto', 'always' or 'never'.")
    var color: ColorChoice = .auto

    func run() throws {
        let loaded = try PlanChanges.load(file, choice: choice, strict: strict, preflight: true, detailed: detailedExitcode && diffBase != nil)
        guard let diffBase else {
            if detailedExitcode { throw ValidationError("--detailed-exitcode needs --diff-base (or use 'pipeline diff OLD NEW')") }
            Terminal.out(PlanRenderer(loaded).render(format))
            return
        }
        guard format == .text || format == .markdown else { throw ValidationError("--diff-base works with --format text or markdown") }
        let base: (ref: String, bytes: [UInt8])
        do {
            base = try Git.file(file, at: diffBase == RunnerArguments.mergeBase ? nil : diffBase)
        } catch {
            Terminal.err("error: \(error.message)\n")
            throw ExitCode(detailedExitcode ? 1 : 2)
        }
        let old = try PlanChanges.load(file, bytes: base.bytes, choice: choice, detailed: detailedExitcode)
        Terminal.out(PlanRenderer(loaded).render(format) + "\n")
        let diff = PlanDiff(old: old.pipeline, new: loaded.pipeline)
        if format == .markdown { Terminal.out("_Compared with `\(base.ref.prefix(40))`._\n\n") } else { Terminal.out("compared with \(base.ref):\n") }
        try PlanChanges.report(diff, format: format == .markdown ? .markdown : .text, color: color, detailed: detailedExitcode)
    }
}
