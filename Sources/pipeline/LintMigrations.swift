import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

struct LintMigrations: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint-migrations",
        abstract: "Check database migrations (SQL, Alembic) for changes unsafe while old and new versions both run.",
        discussion: """
            Rules:
            \(MigrationRule.allCases.map { "  \($0.rawValue): \($0.reason)" }.joined(separator: "\n"))

            Suppress a finding with a comment on its line or on the line just above its statement ('-- pipeline: allow dropping-column' in SQL, '# pipeline: allow dropping-column' in Python), or for a whole file with one in the file's first comment block. Drops and renames in downgrade files and in Alembic's downgrade() are expected and not reported. See docs/migration-lint.md.

            Exit status: 0 clean, 1 findings, 2 bad input (no such path, unknown rule id, unreadable file).
            """)

    enum Format: String, CaseIterable, ExpressibleByArgument {
        case text, json
    }

    @Argument(help: "Migration files, directories (searched for *.sql and Alembic *.py) or globs ('migrations/*.sql', 'db/**/*.sql').")
    var paths: [String]

    @Option(help: ArgumentHelp("A rule id not to report (repeat it, or separate ids with commas).", valueName: "rule"))
    var allow: [String] = []

    @Option(help: "Output format: text (diagnostics with source excerpts) or json (an array of findings).")
    var format: Format = .text

    /// The `--allow` ids, split at commas.
    private var allowIDs: [String] {
        allow.flatMap { $0.split(separator: ",") }.map { String($0).trimmedSpaces }.filter { !$0.isEmpty }
    }

    func validate() throws {
        for id in allowIDs where MigrationRule(rawValue: id) == nil {
            let hint = MigrationRule.closest(to: id).map { "; did you mean '\($0.rawValue)'?" } ?? ""
            throw ValidationError("unknown migration lint rule '\(id)' in --allow\(hint)")
        }
    }

    func run() throws {
        let rules = Set(allowIDs.compactMap(MigrationRule.init(rawValue:)))
        let result = MigrationLinter.lint(paths: paths, allow: rules, base: FileManager.default.currentDirectoryPath)

        switch format {
        case .json:
            let items = result.findings.map { finding in
                JSONValue.object([
                    ("rule", .string(finding.rule.rawValue)), ("path", .string(finding.path)), ("line", .int(finding.line)),
                    ("column", .int(finding.column)), ("message", .string(finding.message)),
                ])
            }
            Terminal.out(JSONValue.array(items).pretty)
        case .text:
            var sources: [String: [UInt8]] = [:]
            for path in Set(result.findings.map(\.path)) { sources[path] = PipelineLoader.source(of: path, limit: 16 << 20) }
            Terminal.out(DiagnosticRenderer(sources: sources).render(result.findings.map(\.diagnostic), format: .text))
        }
        for error in result.errors { Terminal.err(error.headline + "\n") }
        if format == .text {
            let files = Set(result.findings.map(\.path)).count
            var summary = "\(count(result.findings.count, "finding")) in \(count(files, "file"))"
            if !result.errors.isEmpty { summary += ", \(count(result.errors.count, "error"))" }
            Terminal.err(summary + "\n")
        }
        if !result.errors.isEmpty { throw ExitCode(2) }
        if !result.findings.isEmpty { throw ExitCode(1) }
    }

    private func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
