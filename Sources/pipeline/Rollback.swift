import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Undo a run from its journal alone: the stages that were running when it stopped first, then the completed ones in reverse order.",
        discussion: """
            Exit status: 0 rolled back (or already rolled back); 1 a failed run, rolled back cleanly; 2 invalid input, usage, \
            lock held or a process group of the run still alive; 3 rollback failed or incomplete, or a rollback.before/after script failed (a human must act); \
            5 lost the lease (--state); 130 interrupted.
            """)

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @OptionGroup var engine: RunnerArguments

    @Option(help: "Without RUN: the latest run of this pipeline (needed when the state dir holds several pipelines).")
    var pipeline: String?

    @Option(name: .customLong("env"), help: ArgumentHelp("Without RUN: the latest run in this environment.", valueName: "NAME"))
    var environment: String?

    func run() throws {
        let options = try engine.options()
        let code = Engine.rollback(runID: runID, pipeline: pipeline, environment: environment, options: options, output: engine.terminal(options))
        if code != 0 { throw ExitCode(code) }
    }
}
