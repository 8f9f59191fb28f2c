import Foundation
import Testing

/// `migrate` stages against real databases: a PostgreSQL cluster on loopback (started by
/// scripts/test) and SQLite (through the bundled demo). Backup, upgrade, a failing later stage,
/// then downgrade (or restore) must leave schema and rows exactly as they were.
@Suite(.serialized, .timeLimit(.minutes(3))) struct DatabaseMigrateTests {
    static let serverURL = ProcessInfo.processInfo.environment["PIPELINE_TEST_PG_URL"] ?? "postgresql://postgres@127.0.0.1:54329/postgres"

    /// A fresh database on the test cluster with a `customers` table and rows; its URL.
    static func makeDatabase() throws -> String {
        let name = "pipeline_\(UInt32.random(in: 0...UInt32.max))"
        let create = try Binary.run(executable: "psql", ["-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)", serverURL])
        try #require(create.status == 0, "PostgreSQL is not reachable at \(serverURL) (scripts/test starts it): \(create.stderr)")
        let url = String(serverURL[..<serverURL.lastIndex(of: "/")!]) + "/" + name
        let seed = try Binary.run(
            executable: "psql",
            [
                "-v", "ON_ERROR_STOP=1", "-q", "-c",
                """
                CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, created_at date NOT NULL DEFAULT '2026-01-01');
                INSERT INTO customers (name) VALUES ('ada'), ('grace'), ('linus');
                """, url,
            ])
        try #require(seed.status == 0, "\(seed.stderr)")
        return url
    }

    static func dropDatabase(_ url: String) {
        let name = String(url.split(separator: "/").last ?? "")
        _ = try? Binary.run(executable: "psql", ["-q", "-c", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)", serverURL])
    }

    /// Schema and rows, as text to compare.
    static func snapshot(_ url: String) throws -> String {
        let schema = try Binary.run(executable: "pg_dump", ["--schema-only", "--no-owner", "--no-privileges", url])
        let rows = try Binary.run(executable: "psql", ["-At", "-c", "SELECT * FROM customers ORDER BY id", url])
        #expect(schema.status == 0 && rows.status == 0, "\(schema.stderr)\(rows.stderr)")
        // pg_dump prints its own version and a random restrict key (PostgreSQL 15.14+): not schema.
        let stable = schema.stdout.split(separator: "\n").filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") && !$0.hasPrefix("-- Dumped") }
        return stable.joined(separator: "\n") + "\n" + rows.stdout
    }

    static func pipeline(downgrade: String) -> String {
        """
        version: 1
        name: pg
        secrets: [DATABASE_URL]
        stages:
          - id: migrate
            kind: migrate
            env: { DATABASE_URL: "${{ secrets.DATABASE_URL }}" }
            backup: pg_dump --format=custom --file "$PIPELINE_BACKUP_PATH" "$DATABASE_URL"
            run: psql -v ON_ERROR_STOP=1 -q -f migrations/0002_tier.sql "$DATABASE_URL"
            rollback: psql -v ON_ERROR_STOP=1 -q -f \(downgrade) "$DATABASE_URL"
            restore: pg_restore --clean --if-exists --no-owner --dbname "$DATABASE_URL" "$PIPELINE_BACKUP_PATH"
          - id: backend
            kind: backend
            env: { DATABASE_URL: "${{ secrets.DATABASE_URL }}" }
            run: psql -At -c "SELECT count(*) FROM customers WHERE tier = 'basic'" "$DATABASE_URL"
            rollback: echo "backend v1 back"
          - { id: verify, kind: verify, smoke: ["echo 'smoke test fails' >&2; exit 1"] }
        """
    }

    static func writeMigrations(_ box: Sandbox) throws {
        let folder = box.dir.appendingPathComponent("migrations")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try """
        ALTER TABLE customers ADD COLUMN tier text NOT NULL DEFAULT 'basic';
        CREATE INDEX CONCURRENTLY customers_tier ON customers (tier);
        """.write(to: folder.appendingPathComponent("0002_tier.sql"), atomically: true, encoding: .utf8)
        try """
        DROP INDEX CONCURRENTLY customers_tier;
        ALTER TABLE customers DROP COLUMN tier;
        """.write(to: folder.appendingPathComponent("0002_tier.down.sql"), atomically: true, encoding: .utf8)
    }

    @Test func postgresDowngradeRestoresSchemaAndRowsAfterALaterStageFails() throws {
        let url = try Self.makeDatabase()
        defer { Self.dropDatabase(url) }
        let before = try Self.snapshot(url)
        let box = try Sandbox(Self.pipeline(downgrade: "migrations/0002_tier.down.sql"))
        defer { box.remove() }
        try Self.writeMigrations(box)
        let result = try box.pipeline(["run", "p.yml"], env: ["DATABASE_URL": url])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("[backend] 3"), "the migration really ran: \(result.stdout)")
        #expect(try Self.snapshot(url) == before)
        let state = try box.state()
        let migrate = try #require(Sandbox.stages(state)["migrate"])
        #expect(migrate["status"] as? String == "rolled_back")
        #expect((migrate["rollback"] as? [String: Any])?["method"] as? String == "rollback")
        // The backup is journaled, private, and a real pg_dump archive.
        let backup = try #require(migrate["backup"] as? String)
        let attributes = try FileManager.default.attributesOfItem(atPath: backup)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try Data(contentsOf: URL(fileURLWithPath: backup)).prefix(5) == Data("PGDMP".utf8))
        // The connection string is a declared secret: never printed or journaled.
        let runDir = ".pipeline/runs/\(box.runs.last!)"
        #expect(!result.stdout.contains(url) && !result.stderr.contains(url))
        #expect(!box.read("\(runDir)/events.jsonl").contains(url))
    }

    @Test func postgresBackupIsRestoredWhenTheDowngradeFails() throws {
        let url = try Self.makeDatabase()
        defer { Self.dropDatabase(url) }
        let before = try Self.snapshot(url)
        let box = try Sandbox(Self.pipeline(downgrade: "migrations/missing.sql"))
        defer { box.remove() }
        try Self.writeMigrations(box)
        let result = try box.pipeline(["run", "p.yml"], env: ["DATABASE_URL": url])
        #expect(result.status == 1, "\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("the downgrade failed; restoring the backup"))
        #expect(try Self.snapshot(url) == before)
        let migrate = try #require(Sandbox.stages(try box.state())["migrate"])
        #expect(migrate["status"] as? String == "rolled_back")
        #expect((migrate["rollback"] as? [String: Any])?["method"] as? String == "restore")
    }

    @Test func aBackupScriptThatWritesNothingStopsTheMigration() throws {
        let box = try Sandbox(
            """
            version: 1
            name: nobackup
            stages:
              - { id: migrate, kind: migrate, backup: "echo pretending", run: "touch migrated", rollback: "rm -f migrated" }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1)
        #expect((result.stdout + result.stderr).contains("the backup script succeeded but wrote nothing at $PIPELINE_BACKUP_PATH"))
        #expect(!FileManager.default.fileExists(atPath: box.dir.appendingPathComponent("migrated").path))
    }

    @Test func runLintsMigrationsBeforeAnythingRuns() throws {
        let pipeline = """
            version: 1
            name: linted
            stages:
              - { id: first, run: "echo first >> ran.log" }
              - id: migrate
                kind: migrate
                lint: { paths: ["db/*.sql"]ALLOW }
                backup: 'echo dump > "$PIPELINE_BACKUP_PATH"'
                run: echo migrate >> ran.log
                rollback: echo undo >> ran.log
            """
        let box = try Sandbox(pipeline.replacingOccurrences(of: "ALLOW", with: ""))
        defer { box.remove() }
        try FileManager.default.createDirectory(at: box.dir.appendingPathComponent("db"), withIntermediateDirectories: true)
        try "-- expand/contract, step 3\nALTER TABLE users\n    DROP COLUMN legacy_email;\n"
            .write(to: box.dir.appendingPathComponent("db/0003_drop.sql"), atomically: true, encoding: .utf8)
        let refused = try box.pipeline(["run", "p.yml"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("db/0003_drop.sql:3:5: error: dropping column 'legacy_email' of 'users'"), "\(refused.stderr)")
        #expect(refused.stderr.contains("[dropping-column]"))
        #expect(box.read("ran.log").isEmpty, "nothing runs")
        #expect(box.runs.isEmpty, "no run is recorded")
        try pipeline.replacingOccurrences(of: "ALLOW", with: ", allow: [dropping-column]")
            .write(to: box.dir.appendingPathComponent("p.yml"), atomically: true, encoding: .utf8)
        let allowed = try box.pipeline(["run", "p.yml"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(box.read("ran.log") == "first\nmigrate\n")
    }
}
