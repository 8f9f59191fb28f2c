import Foundation
import Testing

/// env-presync on the forms real config files use, and the lint changes that came with blue-green:
/// per-stage `allow`, `missing-rollback` accepting a restorable migrate stage, the
/// `relative-downgrade` warning, `deploy-before-prepare` on a blue-green stage.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PresyncAndLintTests {
    static let files = ["cloudbuild.yml", "deploy.yml", "docker-compose.yml", ".env.example"]

    static func presync(require: [String], files: [String]) -> String {
        """
        version: 1
        name: presync
        stages:
          - id: env
            kind: env-presync
            require: [\(require.joined(separator: ", "))]
            files: [\(files.joined(separator: ", "))]
        """
    }

    /// A sandbox holding copies of Fixtures/presync (a Cloud Build file, a GitHub workflow, a
    /// docker-compose file and a dotenv file that each declare the variables their own way).
    static func box(require: [String], files: [String] = files) throws -> Sandbox {
        let box = try Sandbox(presync(require: require, files: files.map { "\"\($0)\"" }))
        for file in Self.files {
            try FileManager.default.copyItem(
                at: Fixtures.directory.appendingPathComponent("presync/\(file)"), to: box.dir.appendingPathComponent(file))
        }
        return box
    }

    @Test(arguments: files)
    func eachFormDeclaresTheVariables(_ file: String) throws {
        let box = try Self.box(require: ["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"], files: [file])
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["DATABASE_URL": "postgres://x", "STRIPE_WEBHOOK_SECRET": "whsec_1234"])
        #expect(result.status == 0, "\(file): \(result.stdout)\(result.stderr)")
    }

    @Test(arguments: files)
    func aCommentedOutDeclarationIsIgnoredAndSaidSo(_ file: String) throws {
        let box = try Self.box(require: ["DATABASE_URL", "SENTRY_DSN"], files: [file])
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["DATABASE_URL": "postgres://x", "SENTRY_DSN": "https://k@sentry/1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(file) does not declare SENTRY_DSN"), "\(result.stderr)")
        if file != "docker-compose.yml" {
            #expect(result.stdout.contains("[env] \(file):"), "\(result.stdout)")
            #expect(result.stdout.contains(": ignored (a comment): # "), "\(result.stdout)")
        }
    }

    @Test func blueGreenAllowRestoreAndRelativeDowngradeLint() throws {
        let normal = try Binary.run(["validate", "lint/blue-green.yml"], in: Fixtures.directory)
        #expect(normal.status == 0)
        if Fixtures.update { try Fixtures.write("lint/blue-green.expected", normal.stderr) }
        #expect(normal.stderr == Fixtures.read("lint/blue-green.expected"))
        // The restorable migrate stage needs no rollback; the worker's missing rollback is accepted.
        #expect(!normal.stderr.contains("'migrate-restorable' has no 'rollback'"))
        #expect(!normal.stderr.contains("'worker' has no 'rollback'"))
        #expect(normal.stderr.contains("backend 'cron' has no 'rollback'"))
        #expect(normal.stderr.contains("[relative-downgrade]"))
        #expect(normal.stderr.contains("blue-green 'green' does not need migrate 'migrate': its switch could send traffic"))
        let strict = try Binary.run(["validate", "--strict", "lint/blue-green.yml"], in: Fixtures.directory)
        #expect(strict.status == 2)
    }

    @Test func aBlueGreenStageAfterTheMigrationPassesStrict() throws {
        let box = try Sandbox(
            """
            version: 1
            name: ordered
            stages:
              - {id: migrate, kind: migrate, backup: 'true', run: 'true', restore: 'true'}
              - {id: app, kind: blue-green, deploy: 'true', switch: 'true'}
              - {id: check, kind: verify, smoke: ['true']}
            """)
        defer { box.remove() }
        let result = try box.pipeline(["validate", "--strict", "p.yml"])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
