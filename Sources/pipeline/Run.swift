import ArgumentParser
import Foundation
import PipelineEngine
import PipelineSpec

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline: stages as real processes, with gates, retries, timeouts and reverse-order rollback on failure.",
        discussion: """
            Exit status: 0 succeeded; 1 failed and rolled back cleanly; 2 invalid input, usage or lock held; \
            3 rollback failed or incomplete, or a rollback.before/after script failed (a human must act); 4 stopped at a gate; 5 lost the lease (--state: another \
            runner may have taken over); 130 interrupted.
            """)

    @Argument(help: "The pipeline file.")
    var file: String

    @OptionGroup var engine: EngineArguments

    @Flag(help: "Print exactly what would run, in order, with gates and rollbacks; run nothing.")
    var dryRun = false

    func run() throws {
        let loaded = try Load.pipeline(file)
        for warning in loaded.warnings { Terminal.err(warning.headline + "\n") }
        // Migration safety lint: nothing runs while a migrate stage's files have findings.
        let findings = MigrationLinter.preflight(loaded.pipeline)
        if !findings.isEmpty {
            var sources: [String: [UInt8]] = [file: loaded.source]
            for path in Set(findings.map(\.path)) where sources[path] == nil { sources[path] = PipelineLoader.source(of: path, limit: 16 << 20) }
            Terminal.err(DiagnosticRenderer(sources: sources).render(findings, format: .text))
            Terminal.err(
                "migration lint: \(findings.count) problem\(findings.count == 1 ? "" : "s"); nothing was run (allow a rule with 'lint: { allow: [rule-id] }' or a '-- pipeline: allow rule-id' comment)\n"
            )
            throw ExitCode(2)
        }
        if dryRun {
            Terminal.out(PlanRenderer(loaded).dryRun())
            return
        }
        let options = try engine.options()
        let code = Engine.run(loaded, options: options, output: engine.runner.terminal(options))
        if code != 0 { throw ExitCode(code) }
    }
}
