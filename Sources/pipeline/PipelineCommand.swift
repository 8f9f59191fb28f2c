import ArgumentParser
import PipelineEngine
import PipelineSpec

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Declarative deployment pipelines: validate, plan and run ordered deploy stages with rollback.",
        version: PipelineVersion.current,
        subcommands: [
            Validate.self, Plan.self, Diff.self, Run.self, Resume.self, Rollback.self, Promote.self, Abort.self, Status.self, History.self, Report.self,
            Lock.self, Schema.self,
            LintMigrations.self,
        ]
    )
}
