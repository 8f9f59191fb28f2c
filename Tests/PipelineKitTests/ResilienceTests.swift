import Foundation
import Testing

/// Crashes, signals, locks, gates and secrets: what makes the engine trustworthy in production.
@Suite(.timeLimit(.minutes(3))) struct ResilienceTests {
    static let sixStages: String = {
        var text = "version: 1\nname: crashy\nstages:\n"
        for i in 1...6 {
            text +=
                "  - { id: s\(i), outputs: [n], run: 'echo s\(i) >> ran.log; echo n=\(i) >> \"$PIPELINE_OUTPUTS\"', rollback: 'echo undo-s\(i) >> ran.log' }\n"
        }
        return text
    }()

    /// SIGKILL the engine at every journal append (after it is durable, and halfway through writing it):
    /// the journal always loads and `resume` finishes without re-running a stage that had succeeded.
    @Test("kill -9 at journal append N, then resume", arguments: Array(1...8).flatMap { ["\($0)", "\($0)-half"] })
    func crashAtEveryJournalWrite(_ point: String) throws {
        let box = try Sandbox(Self.sixStages)
        defer { box.remove() }
        let crashed = try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CRASH_AT": point])
        #expect(crashed.status == 137, "engine was killed at \(point): \(crashed.stderr)")
        let run = try #require(box.runs.first)
        guard box.read(".pipeline/runs/\(run)/events.jsonl").contains("\n") else {
            // Killed while writing the very first event: the run never started, and says so.
            let status = try box.pipeline(["resume"])
            #expect(status.status == 2)
            #expect(status.stderr.contains("has no recorded start"))
            #expect(box.read("ran.log").isEmpty)
            return
        }
        let before = try box.state()
        let succeededBefore = Sandbox.stages(before).filter { $0.value["status"] as? String == "succeeded" }.map(\.key)
        if before["status"] as? String != "succeeded" {
            let resumed = try box.pipeline(["resume"])
            #expect(resumed.status == 0, "resume after crash at \(point): \(resumed.stderr)")
        }
        let after = try box.state()
        #expect(after["status"] as? String == "succeeded")
        let ran = box.read("ran.log").split(separator: "\n").map(String.init)
        for i in 1...6 {
            let count = ran.filter { $0 == "s\(i)" }.count
            #expect(count >= 1 && count <= 2, "s\(i) ran \(count) times")
            if succeededBefore.contains("s\(i)") { #expect(count == 1, "s\(i) had succeeded before the crash but ran again") }
        }
        #expect(Sandbox.stages(after)["s6"]?["outputs"] as? [String: String] == ["n": "6"])
        // Appending after the torn line left the journal whole.
        #expect(try box.pipeline(["status"]).status == 0)
    }

    @Test func theJournalHasExactlyEightDurableAppendsForSixChainedStages() throws {
        // Group commit: "s(k) finished" and "s(k+1) started" share one write and one fdatasync.
        let box = try Sandbox(Self.sixStages)
        defer { box.remove() }
        // The 8th durable append is reached (the hook kills there) and a 9th never happens.
        #expect(try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CRASH_AT": "8"]).status == 137)
        let again = try Sandbox(Self.sixStages)
        defer { again.remove() }
        #expect(try again.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CRASH_AT": "9"]).status == 0)
    }

    @Test func externalKillAtRandomMomentsThenResume() throws {
        var slow = "version: 1\nname: slow\nstages:\n"
        for i in 1...8 { slow += "  - { id: s\(i), run: 'sleep 0.05; echo s\(i) >> ran.log' }\n" }
        var killedMidRun = 0
        for delay in ["0.05", "0.13", "0.21", "0.32"] {
            let box = try Sandbox(slow)
            defer { box.remove() }
            // The delay counts from the run's first journal line, not from the process start: on a
            // loaded machine start-up alone can outlast the shorter delays.
            _ = try box.shell(
                """
                "$PIPELINE" run p.yml >/dev/null 2>&1 & pid=$!
                n=0; until [ -s .pipeline/runs/*/events.jsonl ] 2>/dev/null || [ $n -ge 2000 ]; do sleep 0.01; n=$((n+1)); done
                sleep \(delay); kill -9 $pid; wait $pid
                """)
            guard !box.recordedRuns.isEmpty else { continue }
            let before = try box.state()
            if before["status"] as? String != "succeeded" { killedMidRun += 1 }
            let succeededBefore = Sandbox.stages(before).filter { $0.value["status"] as? String == "succeeded" }.map(\.key)
            // The killed engine's stage may still run: --wait-lock waits for its process group.
            let resumed = try box.pipeline(["resume", "--wait-lock"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let ran = box.read("ran.log").split(separator: "\n").map(String.init)
            for id in succeededBefore { #expect(ran.filter { $0 == id }.count == 1, "\(id) re-ran") }
            #expect(Set(ran) == Set((1...8).map { "s\($0)" }))
        }
        #expect(killedMidRun >= 2, "only \(killedMidRun) of 4 kills landed mid-run: the test tested too little")
    }

    @Test func aTornFinalLineIsIgnoredButCorruptionInTheMiddleIsReported() throws {
        let box = try Sandbox(Self.sixStages)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 0)
        let path = box.dir.appendingPathComponent(".pipeline/runs/\(box.runs[0])/events.jsonl")
        var text = try String(contentsOf: path, encoding: .utf8)
        try (text + "{\"type\":\"attempt_sta").write(to: path, atomically: true, encoding: .utf8)
        #expect(try box.pipeline(["status"]).status == 0)
        var lines = text.split(separator: "\n").map(String.init)
        lines[3] = "{not json"
        text = lines.joined(separator: "\n") + "\n"
        try text.write(to: path, atomically: true, encoding: .utf8)
        let status = try box.pipeline(["status"])
        #expect(status.status == 2)
        #expect(status.stderr.contains("events.jsonl:4: the journal is corrupt"))
    }

    @Test func aSecondRunOnTheSameTargetIsRefusedWhileTheFirstHoldsTheLock() throws {
        let box = try Sandbox(
            """
            version: 1
            name: locked
            stages:
              - { id: long, run: "sleep 1; echo done >> ran.log" }
            """)
        defer { box.remove() }
        let result = try box.shell(
            """
            "$PIPELINE" run p.yml > first.out 2>&1 & first=$!
            while [ ! -s .pipeline/locks/locked.lock ]; do sleep 0.02; done
            "$PIPELINE" run p.yml > second.out 2>&1; echo "second=$?"
            wait $first; echo "first=$?"
            """)
        #expect(result.stdout == "second=2\nfirst=0\n")
        #expect(box.runs.count == 1)
        let holder = try #require(box.runs.first)
        #expect(box.read("second.out").contains("pipeline 'locked' is locked by another run (run \(holder) pid "))
        #expect(box.read("ran.log") == "done\n")
        // The lock died with its holder: a later run goes ahead.
        #expect(try box.pipeline(["run", "p.yml"]).status == 0)
    }

    /// `--wait-lock` says what it waits for and waits; `--wait-lock=TIMEOUT` gives up with exit 2.
    @Test func aSecondRunWaitsForTheLockOrGivesUpAfterItsTimeout() throws {
        let box = try Sandbox(
            """
            version: 1
            name: queued
            stages:
              - { id: long, run: 'echo "start $WHO" >> ran.log; while [ ! -e go ]; do sleep 0.05; done; echo "end $WHO" >> ran.log' }
            """)
        defer { box.remove() }
        let first = try box.background(["run", "p.yml"], env: ["WHO": "first"])
        #expect(waitUntil(seconds: 30) { box.read("ran.log").contains("start first") })
        let impatient = try box.pipeline(["run", "p.yml", "--wait-lock=300ms"], env: ["WHO": "impatient"], within: 30)
        #expect(impatient.status == 2, "\(impatient.output)")
        #expect(impatient.stderr.contains("gave up waiting 300ms for the lock of pipeline 'queued' (run "), "\(impatient.stderr)")
        let second = try box.background(["run", "p.yml", "--wait-lock"], env: ["WHO": "second"])
        #expect(waitUntil(seconds: 30) { second.stderr.contains("waiting for the lock of pipeline 'queued' (run ") }, "\(second.output)")
        _ = FileManager.default.createFile(atPath: box.dir.appendingPathComponent("go").path, contents: nil)
        #expect(first.wait(seconds: 60) == 0 && second.wait(seconds: 60) == 0, "\(first.output)\(second.output)")
        #expect(second.stderr.contains("took the lock of pipeline 'queued' after waiting"), "\(second.stderr)")
        #expect(box.read("ran.log") == "start first\nend first\nstart second\nend second\n")
        let bad = try box.pipeline(["run", "p.yml", "--wait-lock=soon"])
        #expect(bad.status == 2 && bad.stderr.contains("--wait-lock: 'soon' is not a duration"), "\(bad.stderr)")
    }

    /// `status --pipeline NAME` picks the latest run of that pipeline in a state dir shared by several.
    @Test func statusOfOnePipelineAmongSeveral() throws {
        let box = try Sandbox("version: 1\nname: first\nstages:\n  - { id: a, run: 'true' }\n")
        defer { box.remove() }
        try "version: 1\nname: second\nstages:\n  - { id: b, run: 'false' }\n".write(
            to: box.dir.appendingPathComponent("q.yml"), atomically: true, encoding: .utf8)
        #expect(try box.pipeline(["run", "p.yml"]).status == 0)
        #expect(try box.pipeline(["run", "q.yml"]).status == 1)
        #expect(try box.pipeline(["status"]).stdout.contains("of 'second': "))
        let first = try box.pipeline(["status", "--pipeline", "first"])
        #expect(first.status == 0 && first.stdout.contains("of 'first': succeeded"), "\(first.output)")
        let none = try box.pipeline(["status", "--pipeline", "third"])
        #expect(none.status == 2 && none.stderr.contains("no runs of pipeline 'third' recorded"), "\(none.output)")
    }

    @Test func aLockHeldByAKilledRunDoesNotBlock() throws {
        let box = try Sandbox("version: 1\nname: stale\nstages:\n  - { id: a, run: 'true' }\n")
        defer { box.remove() }
        let crashed = try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CRASH_AT": "1"])
        #expect(crashed.status == 137)
        #expect(try box.pipeline(["run", "p.yml"]).status == 0)
    }

    @Test func secretsNeverAppearInOutputLogsOrJournal() throws {
        let box = try Sandbox(
            """
            version: 1
            name: secretive
            secrets: [API_TOKEN, CERT]
            stages:
              - id: leak
                outputs: [token]
                env: { ALIAS: "${{ secrets.API_TOKEN }}", API_TOKEN: "${{ secrets.API_TOKEN }}", CERT: "${{ secrets.CERT }}" }
                run: |
                  echo "token is $API_TOKEN and alias $ALIAS"
                  printf '%s\\n' "$CERT"
                  echo "token=$API_TOKEN" >> "$PIPELINE_OUTPUTS"
                  echo "$API_TOKEN" >&2
                  exit 1
                rollback: echo "undo with $API_TOKEN"
            """)
        defer { box.remove() }
        let secret = "tok-3f9a-SECRET-value"
        let cert = "-----BEGIN-----\nline-one-secret\nline-two-secret\n-----END-----"
        let result = try box.pipeline(["run", "p.yml"], env: ["API_TOKEN": secret, "CERT": cert])
        #expect(result.status == 1)
        #expect(result.stdout.contains("[leak] token is *** and alias ***"))
        #expect(result.stdout.contains("[leak] ***"))
        for needle in [secret, "line-one-secret", "line-two-secret"] {
            #expect(!result.stdout.contains(needle) && !result.stderr.contains(needle), "terminal shows \(needle)")
            for (path, text) in box.allFiles() where path.contains("/.pipeline/") && !path.hasSuffix(".env") {
                #expect(!text.contains(needle), "\(path) holds \(needle)")
            }
        }
        let log = box.read(".pipeline/runs/\(box.runs[0])/logs/leak.1.log")
        #expect(log.contains("token is *** and alias ***"))
    }

    @Test func sigtermStopsEveryChildRecordsInterruptedAndResumes() throws {
        let box = try Sandbox(
            """
            version: 1
            name: stoppable
            stages:
              - { id: first, run: "echo first >> ran.log" }
              - id: long
                run: |
                  if [ -f resumed ]; then echo long >> ran.log; exit 0; fi
                  (exec sleep 60) &
                  echo $! > grandchild.pid
                  sleep 60
            """)
        defer { box.remove() }
        let result = try box.shell(
            """
            "$PIPELINE" run p.yml --kill-grace 500ms > run.out 2>&1 & pid=$!
            while [ ! -s grandchild.pid ]; do sleep 0.02; done
            kill -TERM $pid; wait $pid; echo "exit=$?"
            """)
        #expect(result.stdout == "exit=130\n", "\(box.read("run.out"))")
        let grandchild = try #require(Int32(box.read("grandchild.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(processIsGone(grandchild))
        let state = try box.state()
        #expect(state["status"] as? String == "interrupted")
        #expect(Sandbox.stages(state)["long"]?["status"] as? String == "pending")
        _ = FileManager.default.createFile(atPath: box.dir.appendingPathComponent("resumed").path, contents: nil)
        let resumed = try box.pipeline(["resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(box.read("ran.log") == "first\nlong\n")
        #expect(Sandbox.stages(try box.state())["long"]?["attempts"] as? Int == 2)
    }

    @Test func approvalGateStopsANonInteractiveRunUntilResumedWithApproval() throws {
        let box = try Sandbox(
            """
            version: 1
            name: gated
            stages:
              - { id: build, run: "echo build >> ran.log" }
              - id: deploy
                gate: { approval: { message: "ship run ${{ run.id }} to production?" } }
                run: echo deploy >> ran.log
            """)
        defer { box.remove() }
        let stopped = try box.pipeline(["run", "p.yml"])
        #expect(stopped.status == 4)
        let run = try #require(box.runs.first)
        #expect(
            stopped.stderr.contains("stage 'deploy' needs approval (ship run \(run) to production?); continue with 'pipeline resume \(run) --approve deploy'"))
        let waiting = try box.state()
        #expect(waiting["status"] as? String == "waiting")
        #expect((waiting["waiting"] as? [String: Any])?["reason"] as? String == "approval")
        #expect(try box.pipeline(["resume", run]).status == 4, "still not approved")
        let resumed = try box.pipeline(["resume", run, "--approve", "deploy"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(box.read("ran.log") == "build\ndeploy\n")
    }

    /// A run left waiting at a gate is not resumed over a newer run that deployed meanwhile: its
    /// older stages would overwrite what the newer one shipped. Once the newer one is rolled
    /// back, the older one may go on.
    @Test func anOldWaitingRunIsNotResumedOverANewerDeploy() throws {
        let box = try Sandbox(
            """
            version: 1
            name: gated
            stages:
              - { id: build, run: "echo build $PIPELINE_RUN_ID >> ran.log" }
              - { id: deploy, gate: { approval: true }, run: "echo deploy $PIPELINE_RUN_ID >> ran.log", rollback: "echo undo >> ran.log" }
            """)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 4)
        let old = try #require(box.runs.first)
        #expect(try box.pipeline(["run", "p.yml", "--yes"]).status == 0)
        let newer = try #require(box.runs.first { $0 != old })
        let refused = try box.pipeline(["resume", old, "--approve", "deploy"])
        #expect(refused.status == 2, "\(refused.output)")
        #expect(
            refused.stderr.contains("run \(old) is older than run \(newer) of 'gated', which started after it and is succeeded"),
            "\(refused.stderr)")
        #expect(!box.read("ran.log").contains("deploy \(old)"))
        #expect(try box.pipeline(["rollback", newer]).status == 0)
        let resumed = try box.pipeline(["resume", old, "--approve", "deploy"])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(box.read("ran.log").contains("deploy \(old)"))
    }

    @Test func resumeRefusesAChangedPipelineFileUnlessForced() throws {
        let box = try Sandbox("version: 1\nname: changing\nstages:\n  - { id: a, run: 'true' }\n  - { id: b, gate: { approval: true }, run: 'true' }\n")
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 4)
        try "version: 1\nname: changing\nstages:\n  - { id: a, run: 'true' }\n  - { id: b, gate: { approval: true }, run: 'echo changed' }\n"
            .write(to: box.dir.appendingPathComponent("p.yml"), atomically: true, encoding: .utf8)
        let refused = try box.pipeline(["resume", "--approve", "b"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("changed since run"))
        #expect(try box.pipeline(["resume", "--approve", "b", "--force"]).status == 0)
    }

    @Test func aNonIdempotentStageThatWasRunningStopsForADecision() throws {
        let box = try Sandbox(
            """
            version: 1
            name: careful
            stages:
              - { id: charge, idempotent: false, run: "echo $$ > charge.pid; echo charge >> ran.log; exec sleep 60" }
            """)
        defer { box.remove() }
        _ = try box.shell("\"$PIPELINE\" run p.yml >/dev/null 2>&1 & pid=$!; while [ ! -s ran.log ]; do sleep 0.02; done; kill -9 $pid; wait $pid")
        // The engine died with its child still running (nothing could stop it); clean it up here.
        let charge = Int32(box.read("charge.pid").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        defer { if charge > 0 { kill(charge, SIGKILL) } }
        // While its process group lives, nothing may start: resume refuses, naming the group.
        let alive = try box.pipeline(["resume"])
        #expect(alive.status == 2)
        #expect(alive.stderr.contains("'charge' (process group \(charge))"), "\(alive.stderr)")
        kill(charge, SIGKILL)
        for _ in 0..<200 where kill(-charge, 0) == 0 { usleep(10_000) }
        let stopped = try box.pipeline(["resume"])
        #expect(stopped.status == 4)
        #expect(stopped.stderr.contains("stage 'charge' was running when the engine stopped and is not idempotent"))
        #expect(try box.pipeline(["resume"]).status == 4, "the decision is still pending on a second resume")
        let done = try box.pipeline(["resume", "--assume-done", "charge"])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(box.read("ran.log") == "charge\n")
    }

    @Test func deployWindowStopsOutsideItsHours() throws {
        let box = try Sandbox(
            """
            version: 1
            name: windowed
            stages:
              - { id: deploy, gate: { window: { days: [mon, tue, wed, thu, fri], hours: "10:00-17:00", timezone: Asia/Tokyo } }, run: "echo ran >> ran.log" }
            """)
        defer { box.remove() }
        // Saturday 2026-11-21 12:00 in Tokyo: outside (a weekend).
        let saturday = "1795230000000"
        let stopped = try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_NOW_MS": saturday])
        #expect(stopped.status == 4)
        #expect(stopped.stderr.contains("it opens at 2026-11-23T01:00:00.000Z"))
        // With --window wait, the (virtual) clock waits until Monday 10:00 Tokyo, then runs.
        let waited = try box.pipeline(["run", "p.yml", "--window", "wait"], env: ["PIPELINE_TEST_NOW_MS": saturday, "PIPELINE_TEST_CLOCK": "virtual"])
        #expect(waited.status == 0, "\(waited.stderr)")
        #expect(box.read("ran.log") == "ran\n")
    }
}
