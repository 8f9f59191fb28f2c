import Foundation
import Testing

/// `environments.production.requires: [staging]` through the real binary, on both state stores:
/// production starts only after the same release succeeded in staging and was not rolled back
/// since; the override is journaled; runs, locks and rollbacks are per pipeline and environment.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct PromotionTests {
    static let file = """
        version: 1
        name: shop
        inputs:
          version: {required: true}
        release: ${{ inputs.version }}
        environments:
          staging: {}
          production:
            requires: [staging]
        stages:
          - id: deploy
            kind: backend
            env:
              WHERE: ${{ environment.name }}
              VERSION: ${{ inputs.version }}
            run: echo "deploy $WHERE $VERSION" >> "$LEDGER"; test "${FAIL_IN:-}" != "$WHERE"
            rollback: echo "undo $WHERE $VERSION" >> "$LEDGER"
          - id: verify
            kind: verify
            smoke: ['test "${FAIL_VERIFY_IN:-}" != "$WHERE"']
            env:
              WHERE: ${{ environment.name }}
        """

    enum Store: String, CaseIterable, CustomStringConvertible {
        case local, postgres
        var description: String { rawValue }

        /// The `--state` arguments for a fresh store of this kind.
        func arguments() throws -> [String] {
            switch self {
            case .local: return []
            case .postgres: return ["--state", try PostgresStateTests.database()]
            }
        }
    }

    @Test("production waits for the same release in staging, and for it not to be rolled back", arguments: Store.allCases)
    func promotion(_ store: Store) throws {
        let box = try Sandbox(Self.file)
        defer { box.remove() }
        let state = try store.arguments()
        let env = ["LEDGER": box.dir.appendingPathComponent("ledger").path]
        func run(_ environment: String, _ version: String, _ extra: [String] = [], _ more: [String: String] = [:]) throws -> Binary.Result {
            try box.pipeline(["run", "p.yml", "--env", environment, "--input", "version=\(version)"] + extra + state, env: env.merging(more) { $1 })
        }

        // Before staging ran: refused, one line naming what is missing, nothing run or recorded.
        let early = try run("production", "1.0")
        #expect(early.status == 4)
        let refusal =
            "error: environment 'production' requires release '1.0' of 'shop' to have succeeded in 'staging': 'staging' has no run of it; nothing was run (override with --skip-requires REASON)\n"
        #expect(early.stderr.hasSuffix(refusal), "\(early.stderr)")
        #expect(Ledger(box).lines.isEmpty)
        #expect(!(try box.pipeline(["history"] + state)).stdout.contains("production"))

        #expect(try run("staging", "1.0").status == 0)
        let promoted = try run("production", "1.0")
        #expect(promoted.status == 0, "\(promoted.stderr)")
        #expect(promoted.stderr.contains("of 'shop' in 'production', release 1.0 ("), "\(promoted.stderr)")

        // Another release has not been through staging.
        let other = try run("production", "2.0")
        #expect(other.status == 4)
        #expect(other.stderr.contains("requires release '2.0' of 'shop' to have succeeded in 'staging': 'staging' has no run of it"), "\(other.stderr)")

        // Staging rolled back: the release no longer counts as tested there.
        let undo = try box.pipeline(["rollback", "--env", "staging"] + state, env: env)
        #expect(undo.status == 0, "\(undo.stderr)")
        let again = try run("production", "1.0")
        #expect(again.status == 4)
        #expect(again.stderr.contains("in 'staging' its latest run "), "\(again.stderr)")
        #expect(again.stderr.contains(" is rolled_back; nothing was run"), "\(again.stderr)")

        // The override: journaled with its reason, shown by status.
        let forced = try run("production", "1.0", ["--skip-requires", "hotfix: staging is down"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stderr.contains("warning: requires of 'production' not checked (--skip-requires): hotfix: staging is down"))
        let status = try box.pipeline(["status", "--env", "production"] + state)
        #expect(status.stdout.contains("in 'production': succeeded"), "\(status.stdout)")
        #expect(status.stdout.contains("release 1.0\n"), "\(status.stdout)")
        #expect(status.stdout.contains("requires skipped (--skip-requires): hotfix: staging is down\n"), "\(status.stdout)")
        let json = try #require(
            JSONSerialization.jsonObject(with: Data(try box.pipeline(["status", "--json", "--env", "production"] + state).stdout.utf8)) as? [String: Any])
        #expect(json["requires_skipped"] as? String == "hotfix: staging is down")
        #expect(json["environment"] as? String == "production")
        #expect(json["inputs"] as? [String: String] == ["version": "1.0"])
        #expect(
            Ledger(box).lines == [
                "deploy staging 1.0", "deploy production 1.0", "undo staging 1.0", "deploy production 1.0",
            ])
        // The journals with environment, release, inputs and requires_skipped match the schema
        // (a third-party validator on every line and on status --json).
        if store == .local { try JournalSchemaTests.checkAll(box) }
    }

    @Test("a production failure rolls back production only", arguments: Store.allCases)
    func failureIsPerEnvironment(_ store: Store) throws {
        let box = try Sandbox(Self.file)
        defer { box.remove() }
        let state = try store.arguments()
        let env = ["LEDGER": box.dir.appendingPathComponent("ledger").path, "FAIL_VERIFY_IN": "production"]
        #expect(try box.pipeline(["run", "p.yml", "--env", "staging", "--input", "version=3"] + state, env: env).status == 0)
        let failed = try box.pipeline(["run", "p.yml", "--env", "production", "--input", "version=3"] + state, env: env)
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(Ledger(box).lines == ["deploy staging 3", "deploy production 3", "undo production 3"])
        #expect(try box.pipeline(["status", "--env", "staging"] + state).stdout.contains("in 'staging': succeeded"))
        let history = try box.pipeline(["history"] + state).stdout
        let rows = history.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.first?.prefix(3) == ["RUN", "PIPELINE", "ENV"], "\(history)")
        #expect(rows.contains { $0.count > 5 && $0[1] == "shop" && $0[2] == "production" && $0[3] == "rolled_back" && $0.contains("3") }, "\(history)")
        #expect(rows.contains { $0.count > 5 && $0[1] == "shop" && $0[2] == "staging" && $0[3] == "succeeded" }, "\(history)")
        let only = try box.pipeline(["history", "--env", "staging"] + state).stdout
        #expect(!only.contains("production") && only.contains("staging"), "\(only)")
    }

    @Test("staging and production run at once; two production runs do not", arguments: Store.allCases)
    func locksArePerEnvironment(_ store: Store) throws {
        let box = try Sandbox(
            """
            version: 1
            name: shop
            environments:
              staging: {}
              production: {}
            stages:
              - id: hold
                env: {WHERE: '${{ environment.name }}'}
                run: |
                  echo "start $WHERE" >> "$LEDGER"
                  i=0; while [ ! -e "go-$WHERE" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
                  echo "end $WHERE" >> "$LEDGER"
            """)
        defer { box.remove() }
        let state = try store.arguments()
        let env = ["LEDGER": box.dir.appendingPathComponent("ledger").path]
        let staging = try box.background(["run", "p.yml", "--env", "staging"] + state, env: env)
        #expect(waitUntil(seconds: 30) { Ledger(box).contains("start staging") })
        // Production runs to its end while staging holds its own lock.
        try box.write("go-production", "")
        let production = try box.pipeline(["run", "p.yml", "--env", "production"] + state, env: env)
        #expect(production.status == 0, "\(production.stderr)")
        // A second production run while one holds production's lock is refused, naming the holder.
        try? FileManager.default.removeItem(at: box.dir.appendingPathComponent("go-production"))
        let first = try box.background(["run", "p.yml", "--env", "production"] + state, env: env)
        #expect(waitUntil(seconds: 30) { Ledger(box).count("start production") == 2 })
        let second = try box.pipeline(["run", "p.yml", "--env", "production"] + state, env: env)
        #expect(second.status == 2)
        #expect(second.stderr.contains("pipeline 'shop@production' is locked by another run (run "), "\(second.stderr)")
        try box.write("go-production", "")
        try box.write("go-staging", "")
        #expect(first.wait(seconds: 60) == 0, "\(first.stderr)")
        #expect(staging.wait(seconds: 60) == 0, "\(staging.stderr)")
        #expect(Ledger(box).lines.first == "start staging")
        #expect(Ledger(box).lines.filter { $0.hasSuffix("production") }.count == 4)
        #expect(Ledger(box).index(of: "end production")! < Ledger(box).index(of: "end staging")!)
    }

    @Test func resumeUsesTheRecordedInputsAndEnvironment() throws {
        let box = try Sandbox(
            """
            version: 1
            name: shop
            inputs:
              version: {required: true}
            environments:
              staging: {}
              production:
                gate: {approval: true}
            stages:
              - id: deploy
                kind: backend
                env: {WHERE: '${{ environment.name }}', VERSION: '${{ inputs.version }}'}
                run: echo "deploy $WHERE $VERSION" >> "$LEDGER"
                rollback: echo "undo $WHERE $VERSION" >> "$LEDGER"
              - {id: verify, kind: verify, smoke: ['true']}
            """)
        defer { box.remove() }
        let env = ["LEDGER": box.dir.appendingPathComponent("ledger").path]
        // The environment's gate is on the first stage: no answer, the run stops there.
        let stopped = try box.pipeline(["run", "p.yml", "--env", "production", "--input", "version=7"], env: env)
        #expect(stopped.status == 4, "\(stopped.stderr)")
        #expect(Ledger(box).lines.isEmpty)
        // resume takes no --input: the values are the recorded ones.
        let refused = try box.pipeline(["resume", "--input", "version=8"], env: env)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--input"), "\(refused.stderr)")
        let resumed = try box.pipeline(["resume", "--env", "production", "--approve", "deploy"], env: env)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(Ledger(box).lines == ["deploy production 7"])
        let rollback = try box.pipeline(["rollback", "--env", "production"], env: env)
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(Ledger(box).lines == ["deploy production 7", "undo production 7"])
    }
}
