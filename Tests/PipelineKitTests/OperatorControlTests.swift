import Foundation
import Testing

/// `pipeline promote` and `pipeline abort` from a second process while the first runs a canary,
/// through the local state dir and through PostgreSQL (`--state URL`), on the real clock.
@Suite(.serialized, .timeLimit(.minutes(5))) struct OperatorControlTests {
    static func pipeline(steps: String, bake: String) -> String {
        """
        version: 1
        name: operated
        stages:
          - { id: api, kind: backend, run: "echo deployed >> ran.log", rollback: "echo undeployed >> ran.log" }
          - id: shift
            kind: canary
            traffic: echo "$PIPELINE_TRAFFIC_PERCENT" >> traffic.log
            steps: \(steps)
            bake: \(bake)
            interval: 200ms
            timeout: 10m
            retry: 3
            analysis:
              - { name: errors, run: echo 0.01, max: 0.05 }
          - { id: verify, kind: verify, smoke: ["true"] }
        """
    }

    /// The id of the only run, once the canary's traffic is at `percent`.
    static func runAt(_ box: Sandbox, _ percent: String, _ job: Background) throws -> String {
        let reached = waitUntil(seconds: 60) { box.read("traffic.log").split(separator: "\n").last == Substring(percent) }
        try #require(reached, "the canary never reached \(percent)%: \(job.output)")
        return try #require(box.runs.first)
    }

    static func abortMidCanary(state: [String]) throws {
        let box = try Sandbox(Self.pipeline(steps: "[10, 50, 100]", bake: "10m"))
        defer { box.remove() }
        let job = try box.background(["run", "p.yml", "--state-dir", ".pipeline"] + state)
        let run = try Self.runAt(box, "10", job)
        let abort = try box.pipeline(["abort", run] + state, within: 60)
        #expect(abort.status == 0, "\(abort.output)")
        #expect(abort.stderr.contains("abort of run \(run) requested (stage 'shift', canary, traffic at 10%)"), "\(abort.stderr)")
        #expect(abort.stderr.contains("taken: stage 'shift' sets traffic to 0% and fails; the run rolls back"), "\(abort.stderr)")
        #expect(job.wait(seconds: 60) == 1, "\(job.output)")
        #expect(job.output.contains("canary aborted at 10%: aborted by "), "\(job.output)")
        // Traffic back to 0 % at once, no retry of the aborted canary, the backend undone.
        #expect(box.read("traffic.log") == "0\n10\n0\n")
        #expect(box.read("ran.log") == "deployed\nundeployed\n")
        // The run is over: there is nothing to abort or promote any more.
        let again = try box.pipeline(["promote", run] + state, within: 60)
        #expect(again.status == 2)
        #expect(again.stderr.contains("error: run \(run) is not running a canary or watch (it is rolled_back); nothing to promote"), "\(again.stderr)")
    }

    @Test func abortMidCanaryFromASecondProcessWithLocalState() throws {
        try Self.abortMidCanary(state: [])
    }

    @Test func abortMidCanaryFromASecondProcessWithPostgresState() throws {
        let url = try PostgresStateTests.database()
        try Self.abortMidCanary(state: ["--state", url])
    }

    /// A canary waiting at a pause (`--pause wait`) continues when promoted from another process;
    /// a promote during a bake ends the bake.
    @Test func promoteEndsAPauseAndABakeFromASecondProcess() throws {
        let box = try Sandbox(Self.pipeline(steps: "[10, {pause: true}, {percent: 50, bake: 10m}, 100]", bake: "300ms"))
        defer { box.remove() }
        let job = try box.background(["run", "p.yml", "--pause", "wait"])
        let run = try Self.runAt(box, "10", job)
        let paused = waitUntil(seconds: 60) { (try? box.events())?.contains { $0["type"] as? String == "analysis_paused" } == true }
        try #require(paused, "no pause: \(job.output)")
        #expect(!job.hasExited)
        let promote = try box.pipeline(["promote", run], within: 60)
        #expect(promote.status == 0, "\(promote.output)")
        // Now at 50 % for a 10 minute bake: the second promote ends it.
        _ = try Self.runAt(box, "50", job)
        #expect(try box.pipeline(["promote", run], within: 60).status == 0)
        #expect(job.wait(seconds: 60) == 0, "\(job.output)")
        #expect(box.read("traffic.log") == "0\n10\n50\n100\n")
        let controls = try box.events().filter { $0["type"] as? String == "control" }
        #expect(controls.map { $0["action"] as? String } == ["promote", "promote"])
        #expect(job.output.contains("50%: promoted by "), "\(job.output)")
        JournalSchemaTests.expectTypes(try JournalSchemaTests.checkAll(box), "abort")
    }

    @Test func promoteOrAbortOfARunNotInACanaryIsRefused() throws {
        let box = try Sandbox(
            """
            version: 1
            name: plain
            stages:
              - { id: slow, kind: backend, run: "touch started; sleep 30" }
            """)
        defer { box.remove() }
        let job = try box.background(["run", "p.yml"])
        try #require(waitUntil(seconds: 60) { box.exists("started") }, "\(job.output)")
        let run = try #require(box.runs.first)
        let abort = try box.pipeline(["abort", run], within: 60)
        #expect(abort.status == 2)
        #expect(abort.stderr.contains("error: run \(run) is not running a canary or watch (running: 'slow' (backend)); nothing to abort"), "\(abort.stderr)")
        job.signal(SIGTERM)
        _ = job.waitOrKill(seconds: 30)
    }
}

extension OperatorControlTests {
    /// A run stopped at a pause (exit 4) has no engine to ask: `abort` rolls it back here, the
    /// canary's traffic to 0 % first.
    @Test func abortOfARunStoppedAtAPauseRollsItBack() throws {
        let box = try Sandbox(Self.pipeline(steps: "[10, {pause: true}, 100]", bake: "1s"))
        defer { box.remove() }
        let run = try box.pipeline(["run", "p.yml", "--pause", "stop"], within: 60)
        #expect(run.status == 4, "\(run.output)")
        let abort = try box.pipeline(["abort"], within: 60)
        #expect(abort.status == 0, "\(abort.output)")
        #expect(abort.stderr.contains("paused at stage 'shift': traffic to 0%, then rollback"), "\(abort.stderr)")
        #expect(box.read("traffic.log") == "0\n10\n0\n")
        #expect(box.read("ran.log") == "deployed\nundeployed\n")
        #expect(try box.pipeline(["status"]).stdout.contains("rolled_back"))
    }
}
