import Foundation
import Testing

/// `kind: blue-green` by real runs of the binary: the idle colour deployed and checked against a
/// real HTTP server before any traffic, the switch, the switch back on failure, and the live colour
/// derived from the recorded runs (local state and PostgreSQL), so consecutive deploys alternate.
@Suite(.serialized, .timeLimit(.minutes(5))) struct BlueGreenTests {
    /// A blue-green stage whose health check probes `base/<colour>/health`, then a verify that fails
    /// while the file `fail-verify` exists.
    static func pipeline(_ base: String) -> String {
        """
        version: 1
        name: shop
        stages:
          - id: app
            kind: blue-green
            outputs: [previous]
            deploy: |
              echo "previous=$(cat "release-$PIPELINE_COLOR" 2>/dev/null || echo none)" >> "$PIPELINE_OUTPUTS"
              echo "$PIPELINE_RUN_ID" > "release-$PIPELINE_COLOR"
              echo "deploy $PIPELINE_COLOR (live $PIPELINE_LIVE_COLOR)" >> ledger
            http: {url: "\(base)/${{ color }}/health", initial-delay: 0s, interval: 100ms, failure-threshold: 2, attempts: 5, timeout: 2s}
            smoke: ['echo "smoke $PIPELINE_COLOR" >> ledger']
            switch: 'echo "switch $PIPELINE_COLOR" >> ledger; echo "$PIPELINE_COLOR" > live'
            rollback: 'echo "$PIPELINE_OUTPUT_PREVIOUS" > "release-$PIPELINE_COLOR"; echo "restore $PIPELINE_COLOR" >> ledger'
          - id: check
            kind: verify
            smoke: ['test ! -f fail-verify']
        """
    }

    static var healthy: [String: [[String: Any]]] { ["/blue/health": [["status": 200]], "/green/health": [["status": 200]]] }

    @Test func consecutiveDeploysAlternateAndAFailureSwitchesBackAndRestoresTheIdleColour() throws {
        let server = try ScriptedServer(Self.healthy)
        defer { server.stop() }
        let box = try Sandbox(Self.pipeline(server.base))
        defer { box.remove() }
        #expect(try box.pipeline(["validate", "--strict", "p.yml"]).status == 0)
        let first = try box.pipeline(["run", "p.yml"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("[app] live colour: blue (no earlier run switched it); deploying green"), "\(first.stderr)")
        #expect(box.read("live") == "green\n")
        let second = try box.pipeline(["run", "p.yml"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(box.read("live") == "blue\n")
        #expect(Ledger(box).lines == ["deploy green (live blue)", "smoke green", "switch green", "deploy blue (live green)", "smoke blue", "switch blue"])
        let colors = box.events(of: box.runsInStartOrder.last!).first { $0["type"] as? String == "colors" }
        #expect(colors?["live"] as? String == "green" && colors?["idle"] as? String == "blue")
        #expect(colors?["decided_by"] as? String == box.runsInStartOrder.first)

        // The third deploy goes to green; verify fails after the switch: traffic goes back to blue
        // and green gets its previous release back.
        try "x".write(to: box.dir.appendingPathComponent("fail-verify"), atomically: true, encoding: .utf8)
        let failed = try box.pipeline(["run", "p.yml"])
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(box.read("live") == "blue\n", "traffic is back on the live colour")
        #expect(box.read("release-green") == box.runsInStartOrder[0] + "\n", "green holds the release it had before the failed run")
        #expect(Array(Ledger(box).lines.suffix(5)) == ["deploy green (live blue)", "smoke green", "switch green", "switch blue", "restore green"])
        #expect(failed.stderr.contains("[app] traffic back on blue"), "\(failed.stderr)")
        let switches = box.events(of: box.runsInStartOrder.last!).filter { $0["type"] as? String == "color_switch" }.map { $0["color"] as? String }
        #expect(switches == ["green", "blue"], "the switch and the switch back are journaled before they run")

        // Blue is still live: the next deploy goes to green again.
        try FileManager.default.removeItem(at: box.dir.appendingPathComponent("fail-verify"))
        let fourth = try box.pipeline(["run", "p.yml"])
        #expect(fourth.status == 0, "\(fourth.stderr)")
        #expect(fourth.stderr.contains("live colour: blue (since run \(box.runsInStartOrder[2]))"), "\(fourth.stderr)")
        #expect(box.read("live") == "green\n")
    }

    @Test func anUnhealthyIdleColourNeverTakesTraffic() throws {
        let server = try ScriptedServer(["/blue/health": [["status": 200]], "/green/health": [["status": 503]]])
        defer { server.stop() }
        let box = try Sandbox(Self.pipeline(server.base))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(Ledger(box).lines == ["deploy green (live blue)", "restore green"], "no switch, no switch back; the idle colour restored")
        #expect(box.read("live").isEmpty)
        #expect(box.read("release-green") == "none\n")
        #expect(result.stdout.contains("/green/health, expected 200"), "\(result.stdout)")
        #expect(box.events(of: box.runsInStartOrder.last!).allSatisfy { $0["type"] as? String != "color_switch" })
        // Nothing switched: blue is still live, green is still the one to deploy.
        let again = try box.pipeline(["run", "p.yml"])
        #expect(again.stderr.contains("live colour: blue (no earlier run switched it); deploying green"), "\(again.stderr)")
    }

    @Test func aSwitchThatNeverSettledStopsTheNextDeploy() throws {
        let box = try Sandbox(
            """
            version: 1
            name: stuck
            stages:
              - id: app
                kind: blue-green
                deploy: 'true'
                switch: 'echo "switch $PIPELINE_COLOR" >> ledger; exit 1'
            """)
        defer { box.remove() }
        let first = try box.pipeline(["run", "p.yml"])
        #expect(first.status == 3, "the switch and its switch back failed: \(first.stderr)")
        #expect(Ledger(box).lines == ["switch green", "switch blue"])
        let second = try box.pipeline(["run", "p.yml"])
        #expect(second.status == 1, "\(second.stderr)")
        #expect(
            (second.stdout + second.stderr).contains(
                "cannot tell which colour of 'app' is live: run \(box.runsInStartOrder[0]) started switching traffic to 'blue'"),
            "\(second.stdout)\(second.stderr)")
        #expect(Ledger(box).lines.count == 2, "nothing was deployed over a colour that may be live")
    }

    /// The idle colour deployed while the migration runs, the switch after it: valid with
    /// `--strict`, in that order for real, and no switch when the migration fails. The migration
    /// waits for the deploy's line itself (not only for the ledger to exist), so the ledger's
    /// order does not depend on how soon a shell writes after opening the file.
    static let deployBeforeMigrate = """
        version: 1
        name: early
        stages:
          - {id: presync, kind: env-presync, require: [HOME]}
          - id: app
            kind: blue-green
            needs: [presync]
            switch-after: [migrate]
            deploy: 'echo "deploy $PIPELINE_COLOR" >> ledger'
            switch: 'echo "switch $PIPELINE_COLOR" >> ledger'
            rollback: 'echo "restore $PIPELINE_COLOR" >> ledger'
          - id: migrate
            kind: migrate
            needs: [presync]
            backup: 'echo dump > "$PIPELINE_BACKUP_PATH"'
            run: 'i=0; while ! grep -q "^deploy " ledger 2>/dev/null; do i=$((i + 1)); if [ $i -gt 200 ]; then echo "no deploy after 10 s" >> ledger; exit 1; fi; sleep 0.05; done; sleep 0.3; test ! -f fail-migrate; echo migrated >> ledger'
            restore: 'echo restored >> ledger'
          - {id: check, kind: verify, needs: [app], smoke: ['true']}
        """

    @Test func theIdleColourIsDeployedBeforeTheMigrationAndSwitchedAfterIt() throws {
        let box = try Sandbox(Self.deployBeforeMigrate)
        defer { box.remove() }
        let strict = try box.pipeline(["validate", "--strict", "p.yml"])
        #expect(strict.status == 0, "switch-after satisfies deploy-before-prepare: \(strict.stderr)")
        // One slot: the waiting try does not hold it, or the migration could never start.
        let result = try box.pipeline(["run", "p.yml", "--max-parallel", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Ledger(box).lines == ["deploy green", "migrated", "switch green"])
        #expect(result.stderr.contains("[app] waiting for 'migrate' before the switch"), "\(result.stderr)")
        // Without switch-after, --strict refuses the same file: the switch could come first.
        let unordered = try Sandbox(Self.deployBeforeMigrate.replacingOccurrences(of: "    switch-after: [migrate]\n", with: ""))
        defer { unordered.remove() }
        let refused = try unordered.pipeline(["validate", "--strict", "p.yml"])
        #expect(refused.status == 2 && refused.stderr.contains("blue-green 'app' does not need migrate 'migrate'"), "\(refused.stderr)")
    }

    @Test func aFailedMigrationMeansNoSwitchAndTheIdleColourRestored() throws {
        let box = try Sandbox(Self.deployBeforeMigrate)
        defer { box.remove() }
        try "x".write(to: box.dir.appendingPathComponent("fail-migrate"), atomically: true, encoding: .utf8)
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(Ledger(box).lines == ["deploy green", "restored", "restore green"], "\(Ledger(box).text)")
        let run = box.runsInStartOrder.last!
        let app = try #require(Sandbox.stages(try box.state(run))["app"])
        #expect(app["status"] as? String == "rolled_back")
        #expect(box.events(of: run).allSatisfy { $0["type"] as? String != "color_switch" })
        let ended = box.events(of: run).first { $0["type"] as? String == "attempt_finished" && $0["stage"] as? String == "app" }
        #expect(ended?["outcome"] as? String == "stopped")
    }

    @Test func planShowsTheColoursSteps() throws {
        let box = try Sandbox(Self.pipeline("http://127.0.0.1:1"))
        defer { box.remove() }
        let plan = try box.pipeline(["plan", "p.yml"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("to the idle colour (blue or green) → health check GET"), "\(plan.stdout)")
        #expect(plan.stdout.contains("on rollback: switch back to the live colour, then 'rollback' on the idle colour"), "\(plan.stdout)")
    }

    @Test func coloursAlternateWithPostgresState() throws {
        let url = try PostgresStateTests.database()
        let server = try ScriptedServer(Self.healthy)
        defer { server.stop() }
        // Two runners (working directories) sharing the database: the colour follows the shared runs.
        let one = try Sandbox(Self.pipeline(server.base))
        let two = try Sandbox(Self.pipeline(server.base))
        defer { one.remove(); two.remove() }
        #expect(try one.pipeline(["run", "p.yml", "--state", url]).status == 0)
        let second = try two.pipeline(["run", "p.yml", "--state", url])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("live colour: green (since run "), "\(second.stderr)")
        #expect(two.read("live") == "blue\n")
        try "x".write(to: one.dir.appendingPathComponent("fail-verify"), atomically: true, encoding: .utf8)
        let failed = try one.pipeline(["run", "p.yml", "--state", url])
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(Array(Ledger(one).lines.suffix(2)) == ["switch blue", "restore green"])
        let fourth = try two.pipeline(["run", "p.yml", "--state", url])
        #expect(fourth.stderr.contains("live colour: blue (since run "), "\(fourth.stderr)")
        #expect(two.read("live") == "green\n")
    }
}
