import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: stages as real processes, with gates, retries, timeouts and reverse-order rollback on failure.",
        discussion: """
            Exit status: 0 succeeded; 1 failed and rolled back cleanly; 2 invalid input, usage or lock held; \
            3 rollback failed or incomplete, or a rollback.before/after script failed (a human must act); 4 stopped at a gate, or refused by the environment's \
            'requires' (nothing ran); 5 lost the lease (--state: another \
            runner may have taken over); 130 interrupted.
            """)

    @Argument(help: "The pipeline file.")
    var file: String

    @OptionGroup var choice: ChoiceArguments

    @OptionGroup var engine: EngineArguments

    @Flag(help: "Print exactly what would run, in order, with gates and rollbacks; run nothing.")
    var dryRun = false

    @Option(
        help: ArgumentHelp(
            "Start although the environment's 'requires' does not hold (no succeeded run of the same release there); the reason is journaled and shown by status.",
            valueName: "REASON"))
    var skipRequires: String?

    func run() throws {
        let loaded = try Load.pipeline(file, choice: choice)
        for warning in loaded.warnings { Terminal.err(warning.headline + "\n") }
        // Migration safety lint: nothing runs while a migrate stage's files have findings.
        let findings = MigrationLinter.preflight(loaded.pipeline)
        if !findings.isEmpty {
            Terminal.err(DiagnosticRenderer(sources: Load.sources(of: findings, known: loaded.sources)).render(findings, format: .text))
            Terminal.err(
                "migration lint: \(findings.count) problem\(findings.count == 1 ? "" : "s"); nothing was run (allow a rule with 'lint: { allow: [rule-id] }' or a '-- pipeline: allow rule-id' comment)\n"
            )
            throw ExitCode(2)
        }
        if dryRun {
            Terminal.out(PlanRenderer(loaded).dryRun())
            return
        }
        var options = try engine.options()
        options.skipRequires = skipRequires
        let code = Engine.run(loaded, options: options, output: engine.runner.terminal(options))
        if code != 0 { throw ExitCode(code) }
    }
}
