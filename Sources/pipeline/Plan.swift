import ArgumentParser
import PipelineSpec

extension PlanRenderer.Format: ExpressibleByArgument {}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
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

    func run() throws {
        let loaded = try Load.pipeline(file, choice: choice, strict: strict, preflight: true)
        Terminal.out(PlanRenderer(loaded).render(format))
    }
}
