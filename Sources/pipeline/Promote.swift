import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

struct Promote: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "End the current bake or pause of a run's canary (or its watch) and move to the next step, from any terminal or machine.",
        discussion: """
            A running canary or watch takes the request through the state store (--state-dir, or --state URL) within a second. \
            A run stopped at a pause (exit 4) continues here, as 'pipeline resume' does. \
            Exit status: 0 taken (or, for a stopped run, what resume returns); 2 the run is not running a canary or watch; \
            3 the engine did not take it within 30s.
            """)

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @OptionGroup var engine: EngineArguments

    @Option(help: "Without RUN: the latest run of this pipeline.")
    var pipeline: String?

    func run() throws {
        let options = try engine.options()
        let code = Engine.control(.promote, runID: runID, pipeline: pipeline, options: options, output: TerminalOutput(environment: options.environment))
        if code != 0 { throw ExitCode(code) }
    }
}

struct Abort: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort",
        abstract: "Stop a run's canary (or watch): traffic to 0% and the run rolls back, from any terminal or machine.",
        discussion: """
            A running canary or watch takes the request through the state store (--state-dir, or --state URL) within a second; \
            its stage fails without a retry and the run rolls back. A run stopped at a pause (exit 4) is rolled back here. \
            Exit status: 0 taken (or, for a stopped run, what rollback returns); 2 the run is not running a canary or watch; \
            3 the engine did not take it within 30s.
            """)

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @OptionGroup var engine: RunnerArguments

    @Option(help: "Without RUN: the latest run of this pipeline.")
    var pipeline: String?

    func run() throws {
        let options = try engine.options()
        let code = Engine.control(.abort, runID: runID, pipeline: pipeline, options: options, output: TerminalOutput(environment: options.environment))
        if code != 0 { throw ExitCode(code) }
    }
}
