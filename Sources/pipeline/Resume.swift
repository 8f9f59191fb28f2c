import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract:
            "Continue an interrupted, waiting or abandoned run with the environment and inputs it started with; succeeded stages are not run again; a run stopped while rolling back finishes its rollback.",
        discussion: """
            Exit status: 0 succeeded; 1 failed and rolled back cleanly; 2 invalid input, usage or lock held; \
            3 rollback failed or incomplete, or a rollback.before/after script failed (a human must act); 4 stopped at a gate; 5 lost the lease (--state: another \
            runner may have taken over); 130 interrupted.
            """)

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @OptionGroup var engine: EngineArguments

    @Flag(help: "Resume even if the pipeline file changed since the run started.")
    var force = false

    @Option(help: "Run again a non-idempotent stage that was running when the engine stopped (repeatable).")
    var rerun: [String] = []

    @Option(help: "Treat a stage that was running when the engine stopped as done (repeatable).")
    var assumeDone: [String] = []

    @Option(help: "Without RUN: the latest run of this pipeline (needed when the state dir holds several pipelines).")
    var pipeline: String?

    @Option(name: .customLong("env"), help: ArgumentHelp("Without RUN: the latest run in this environment.", valueName: "NAME"))
    var environment: String?

    func run() throws {
        var options = try engine.options()
        options.force = force
        options.rerun = Set(rerun)
        options.assumeDone = Set(assumeDone)
        let code = Engine.resume(
            runID: runID, pipeline: pipeline, environment: environment, options: options, output: engine.runner.terminal(options))
        if code != 0 { throw ExitCode(code) }
    }
}
