import ArgumentParser
import Foundation
import PipelineEngine
import PipelineSpec

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Undo a finished run's applied stages in reverse order of completion, from its journal alone.")

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @OptionGroup var engine: EngineArguments

    @Option(help: "Without RUN: the latest run of this pipeline (needed when the state dir holds several pipelines).")
    var pipeline: String?

    func run() throws {
        let options = try engine.options()
        let code = Engine.rollback(runID: runID, pipeline: pipeline, options: options, output: TerminalOutput(environment: options.environment))
        if code != 0 { throw ExitCode(code) }
    }
}
