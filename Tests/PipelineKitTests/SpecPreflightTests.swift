import Foundation
import PipelineKit
import Testing

/// `validate` runs every check `run` runs before starting: in particular the migration lint of
/// each migrate stage's `lint.paths` (``MigrationLinter/preflight(_:workingDirectory:)``).
@Suite struct SpecPreflightTests {
    static let pipeline = """
        version: 1
        name: preflight
        stages:
          - id: migrate
            kind: migrate
            lint: { paths: [db/*.sql] }
            backup: ./backup.sh
            run: ./migrate.sh
            rollback: ./down.sh
        """

    static func sandbox(_ pipeline: String = pipeline, migration: String) throws -> Sandbox {
        let sandbox = try Sandbox(pipeline)
        try FileManager.default.createDirectory(at: sandbox.dir.appendingPathComponent("db"), withIntermediateDirectories: true)
        try migration.write(to: sandbox.dir.appendingPathComponent("db/0001.sql"), atomically: true, encoding: .utf8)
        return sandbox
    }

    @Test("validate fails on a migration lint finding, located in the migration, as run does", .timeLimit(.minutes(2)))
    func validateReportsFindings() throws {
        let sandbox = try Self.sandbox(migration: "ALTER TABLE users DROP COLUMN legacy;\n")
        defer { sandbox.remove() }
        let validate = try sandbox.pipeline(["validate", "p.yml"])
        #expect(validate.status == 2)
        #expect(validate.stderr.hasPrefix("db/0001.sql:1:19: error: "), "\(validate.stderr)")
        #expect(
            validate.stderr.contains(
                "(stage 'migrate') [dropping-column]\nALTER TABLE users DROP COLUMN legacy;\n" + String(repeating: " ", count: 18) + "^\n"),
            "\(validate.stderr)")
        #expect(validate.stderr.hasSuffix("1 error, 0 warnings\n"))
        let json = try sandbox.pipeline(["validate", "--format", "json", "p.yml"])
        #expect(json.status == 2)
        #expect(json.stdout.contains("\"code\": \"dropping-column\""))
        // A reviewer never reads the plan of a file that cannot run.
        for args in [["run", "--dry-run", "p.yml"], ["run", "p.yml"], ["plan", "p.yml"], ["plan", "--format", "markdown", "p.yml"]] {
            let run = try sandbox.pipeline(args)
            #expect(run.status == 2, "\(args): \(run.stderr)")
            #expect(run.stderr.contains("db/0001.sql:1:19: error: "))
        }
    }

    @Test("validate fails when a lint path matches nothing, at the stage's 'lint' key", .timeLimit(.minutes(2)))
    func validateReportsUnmatchedPaths() throws {
        let sandbox = try Self.sandbox(Self.pipeline.replacingOccurrences(of: "db/*.sql", with: "nowhere/*.sql"), migration: "SELECT 1;\n")
        defer { sandbox.remove() }
        let validate = try sandbox.pipeline(["validate", "p.yml"])
        #expect(validate.status == 2)
        #expect(validate.stderr.hasPrefix("p.yml:6:5: error: stage 'migrate': lint: nowhere/*.sql: no files match this pattern\n"), "\(validate.stderr)")
    }

    @Test("a clean or allowed migration validates", .timeLimit(.minutes(2)))
    func cleanMigrationValidates() throws {
        let allowed = Self.pipeline.replacingOccurrences(of: "paths: [db/*.sql]", with: "paths: [db/*.sql], allow: [dropping-column]")
        let sandbox = try Self.sandbox(allowed, migration: "ALTER TABLE users DROP COLUMN legacy;\n")
        defer { sandbox.remove() }
        let validate = try sandbox.pipeline(["validate", "--strict", "p.yml"])
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stderr == "p.yml: valid\n")
    }

    @Test("the library's preflight returns located diagnostics, not strings")
    func preflightReturnsDiagnostics() throws {
        let sandbox = try Self.sandbox(migration: "-- pipeline: allow droping-column\nALTER TABLE users DROP COLUMN legacy;\n")
        defer { sandbox.remove() }
        let loaded = try PipelineLoader.load(path: sandbox.dir.appendingPathComponent("p.yml").path)
        let diagnostics = MigrationLinter.preflight(loaded.pipeline, workingDirectory: "/")
        let db = sandbox.dir.appendingPathComponent("db/0001.sql").path
        #expect(
            diagnostics.map(\.headline) == [
                "\(db):2:19: error: \(diagnostics.first?.message ?? "") [dropping-column]",
                "\(db):1:20: error: unknown migration lint rule 'droping-column' in a suppression comment; did you mean 'dropping-column'? (stage 'migrate')",
            ])
        #expect(diagnostics.allSatisfy { $0.severity == .error })
    }
}
