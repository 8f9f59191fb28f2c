import Foundation
import Testing

/// `notify` hooks and `rollback: {before, after}` by real runs: webhooks against a real HTTP server
/// on loopback (answering 200, 500, or not listening at all), failing hook scripts, and the
/// rollback scripts around an automatic rollback and around `pipeline rollback`.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HookTests {
    /// Two stages that undo into the ledger; `fail` makes the second fail.
    static func pipeline(notify: String, rollback: String = "") -> String {
        """
        version: 1
        name: hooked
        secrets: [TOKEN]
        env: {TOKEN: "${{ secrets.TOKEN }}"}
        \(notify)
        \(rollback)
        stages:
          - {id: api, kind: backend, run: 'echo deploy api >> ledger', rollback: 'echo undo api >> ledger'}
          - {id: web, kind: frontend, run: 'echo deploy web >> ledger; test ! -f fail', rollback: 'echo undo web >> ledger'}
          - {id: check, kind: verify, smoke: ['true']}
        """
    }

    static let env = ["TOKEN": "tok-s3cret-value"]

    @Test func aWebhookGetsTheRunsEventsAsJSON() throws {
        let server = try ScriptedServer(["/hook": [["status": 200]]])
        defer { server.stop() }
        let box = try Sandbox(Self.pipeline(notify: "notify:\n  - {on: [started, succeeded, failed, rolled_back], webhook: \"\(server.base)/hook\"}"))
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"], env: Self.env).status == 0)
        try "x".write(to: box.dir.appendingPathComponent("fail"), atomically: true, encoding: .utf8)
        #expect(try box.pipeline(["run", "p.yml"], env: Self.env).status == 1)
        let posts = server.posts()
        let bodies = posts.compactMap { $0["body"] as? [String: Any] }
        #expect(bodies.map { $0["event"] as? String } == ["started", "succeeded", "started", "failed", "rolled_back"])
        #expect(posts.allSatisfy { $0["content_type"] as? String == "application/json" })
        let failed = try #require(bodies.first { $0["event"] as? String == "failed" })
        #expect(failed["run"] as? String == box.runsInStartOrder[1] && failed["pipeline"] as? String == "hooked")
        #expect(failed["status"] as? String == "failed" && failed["failed_stage"] as? String == "web")
        #expect(failed["reason"] as? String == "stage 'web' failed after 1 attempt (exit 1)")
        #expect(bodies.last?["status"] as? String == "rolled_back")
        let hooks = box.events(of: box.runsInStartOrder.last!).filter { $0["type"] as? String == "hook" }
        #expect(hooks.count == 3 && hooks.allSatisfy { $0["ok"] as? Bool == true })
    }

    @Test(arguments: ["500", "closed port"])
    func aFailingWebhookDuringARollbackNeverStopsIt(_ failure: String) throws {
        let server = try ScriptedServer(["/hook": [["status": 500, "body": "boom"]]])
        defer { server.stop() }
        let url = failure == "500" ? "\(server.base)/hook" : "http://127.0.0.1:\(closedPort())/hook"
        let box = try Sandbox(
            Self.pipeline(
                notify: "notify:\n  - {on: [failed, rolled_back, rollback_failed], webhook: \"\(url)\", timeout: 3s}",
                rollback: "rollback: {before: 'echo before >> ledger', after: 'echo after >> ledger'}"))
        defer { box.remove() }
        try "x".write(to: box.dir.appendingPathComponent("fail"), atomically: true, encoding: .utf8)
        let result = try box.pipeline(["run", "p.yml"], env: Self.env)
        #expect(result.status == 1, "the run failed and was rolled back, whatever the webhook said: \(result.stderr)")
        #expect(Ledger(box).lines == ["deploy api", "deploy web", "before", "undo web", "undo api", "after"])
        #expect(try box.state(box.runsInStartOrder.last!)["status"] as? String == "rolled_back")
        let hooks = box.events(of: box.runsInStartOrder.last!).filter { $0["type"] as? String == "hook" }
        let webhooks = hooks.filter { $0["hook"] as? String == "notify 1" }
        #expect(webhooks.map { $0["event"] as? String } == ["failed", "rolled_back"])
        #expect(webhooks.allSatisfy { $0["ok"] as? Bool == false }, "\(webhooks)")
        let detail = webhooks.first?["detail"] as? String ?? ""
        #expect(failure == "500" ? detail.hasSuffix("returned HTTP 500") : detail.contains("POST http://127.0.0.1:"), "\(detail)")
        #expect(result.stderr.contains("warning: notify 1 (on failed) failed:"), "\(result.stderr)")
        #expect(result.stderr.contains("the run's outcome is unchanged"))
        if failure == "500" { #expect(server.posts().count == 2) }
    }

    @Test func aFailingRunHookIsReportedMaskedAndChangesNothing() throws {
        let box = try Sandbox(
            Self.pipeline(
                notify: """
                    notify:
                      - on: [started, succeeded]
                        run: 'echo "telling chat with $TOKEN about $PIPELINE_EVENT $PIPELINE_RUN_ID"; exit 9'
                    """))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.env)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[notify 1] telling chat with *** about started \(box.runsInStartOrder[0])"), "\(result.stdout)")
        #expect(result.stderr.contains("warning: notify 1 (on succeeded) failed: exit 9; the run's outcome is unchanged"), "\(result.stderr)")
        #expect(try box.state(box.runsInStartOrder.last!)["status"] as? String == "succeeded")
        let hooks = box.events(of: box.runsInStartOrder.last!).filter { $0["type"] as? String == "hook" }
        #expect(hooks.map { $0["detail"] as? String } == ["exit 9", "exit 9"])
        #expect(box.read(".pipeline/runs/\(box.runsInStartOrder[0])/logs/notify-1.started.log").contains("telling chat with *** about started"))
        for (path, text) in box.allFiles() where path.contains(".pipeline") {
            #expect(!text.contains("tok-s3cret-value"), "the secret is in \(path)")
        }
    }

    @Test func rollbackBeforeAndAfterRunAroundAnAutomaticRollbackAndPipelineRollback() throws {
        let hooks = "rollback: {before: 'echo \"before $PIPELINE_EVENT\" >> ledger', after: 'echo \"after $PIPELINE_STATUS\" >> ledger'}"
        let box = try Sandbox(Self.pipeline(notify: "", rollback: hooks))
        defer { box.remove() }
        try "x".write(to: box.dir.appendingPathComponent("fail"), atomically: true, encoding: .utf8)
        #expect(try box.pipeline(["run", "p.yml"], env: Self.env).status == 1)
        #expect(Ledger(box).lines == ["deploy api", "deploy web", "before rollback_begun", "undo web", "undo api", "after rolled_back"])
        // A run that succeeded, undone by `pipeline rollback`: the same scripts, from the journal.
        try FileManager.default.removeItem(at: box.dir.appendingPathComponent("fail"))
        #expect(try box.pipeline(["run", "p.yml"], env: Self.env).status == 0)
        try FileManager.default.removeItem(at: box.dir.appendingPathComponent("p.yml"))
        let rollback = try box.pipeline(["rollback"], env: Self.env)
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(
            Array(Ledger(box).lines.suffix(6)) == ["deploy api", "deploy web", "before rollback_begun", "undo web", "undo api", "after rolled_back"])
        let names = box.events(of: box.runsInStartOrder.last!).filter { $0["type"] as? String == "hook" }.map { $0["hook"] as? String }
        #expect(names == ["rollback.before", "rollback.after"])
    }

    @Test func aRunStoppedAtAGateTellsTheWaitingHooks() throws {
        let box = try Sandbox(
            """
            version: 1
            name: gated
            notify:
              - {on: [waiting], run: 'echo "$PIPELINE_EVENT $PIPELINE_STATUS: $PIPELINE_REASON" >> hooks'}
            stages:
              - {id: api, kind: backend, run: 'true', rollback: 'true', gate: {approval: {message: "ship it?"}}}
              - {id: check, kind: verify, smoke: ['true']}
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(box.read("hooks").hasPrefix("waiting waiting: stage 'api' needs approval (ship it?)"), "\(box.read("hooks"))")
    }

    @Test(arguments: ["before", "after"])
    func aFailingRollbackHookStillRollsBackAndAsksForAHuman(_ which: String) throws {
        let scripts = which == "before" ? "{before: 'exit 1', after: 'echo after >> ledger'}" : "{before: 'echo before >> ledger', after: 'exit 1'}"
        let box = try Sandbox(Self.pipeline(notify: "", rollback: "rollback: \(scripts)"))
        defer { box.remove() }
        try "x".write(to: box.dir.appendingPathComponent("fail"), atomically: true, encoding: .utf8)
        let result = try box.pipeline(["run", "p.yml"], env: Self.env)
        #expect(result.status == 3, "a human must look: \(result.stderr)")
        #expect(Ledger(box).lines.contains("undo web") && Ledger(box).lines.contains("undo api"), "the rollback ran: \(Ledger(box).text)")
        #expect(result.stderr.contains("ROLLBACK NEEDS A HUMAN: every stage was undone, but rollback.\(which) failed (exit 1)"), "\(result.stderr)")
        let state = try box.state(box.runsInStartOrder.last!)
        #expect(state["status"] as? String == "rollback_failed")
        #expect((state["rollback_note"] as? String ?? "").contains("rollback.\(which) failed (exit 1)"))
        #expect(Sandbox.stages(state).values.filter { $0["status"] as? String == "rolled_back" }.count == 2)
        let status = try box.pipeline(["status"])
        #expect(status.stdout.contains("every stage was undone: check by hand what the failed rollback.before/after script"), "\(status.stdout)")
    }
}
