import Foundation
import Testing

/// `pipeline run` with real processes: ordering, parallelism, retries, timeouts, rollback.
@Suite(.timeLimit(.minutes(3))) struct RunCommandTests {
    @Test func fanOutAndFanInHonourNeedsAndMaxParallel() throws {
        let box = try Sandbox(
            """
            version: 1
            name: fan
            stages:
              - { id: root, run: "sleep 0.1" }
              - { id: a, needs: [root], run: "sleep 0.3" }
              - { id: b, needs: [root], run: "sleep 0.3" }
              - { id: c, needs: [root], run: "sleep 0.3" }
              - { id: d, needs: [root], run: "sleep 0.3" }
              - { id: join, needs: [a, b, c, d], run: "true" }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml", "--max-parallel", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        var spans: [String: (Int, Int)] = [:]
        var starts: [String: Int] = [:]
        for event in try box.events() where event["phase"] as? String == "run" {
            let stage = event["stage"] as! String, clock = event["clock_ms"] as! Int
            if event["type"] as? String == "attempt_started" { starts[stage] = clock }
            if event["type"] as? String == "attempt_finished" { spans[stage] = (starts[stage]!, clock) }
        }
        #expect(spans.count == 6)
        for id in ["a", "b", "c", "d"] {
            #expect(spans[id]!.0 >= spans["root"]!.1, "\(id) starts after root ends")
            #expect(spans["join"]!.0 >= spans[id]!.1, "join starts after \(id) ends")
        }
        // At no instant do more than two stages run; with four 0.3 s stages and two slots, two do overlap.
        let fanned = ["a", "b", "c", "d"].map { spans[$0]! }
        var maxOverlap = 0
        for (start, _) in fanned {
            maxOverlap = max(maxOverlap, fanned.filter { $0.0 <= start && start < $0.1 }.count)
        }
        #expect(maxOverlap == 2)
    }

    @Test func retryBacksOffAndSucceedsOnTheThirdAttempt() throws {
        let box = try Sandbox(
            """
            version: 1
            name: flaky
            stages:
              - id: flaky
                retry: { attempts: 3, delay: 2s, backoff: 2.0, jitter: false }
                run: |
                  n=$(cat count 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > count
                  echo "try $n"
                  [ "$n" -ge 3 ]
            """)
        defer { box.remove() }
        // The virtual clock skips the 2 s and 4 s waits instead of sleeping.
        let result = try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CLOCK": "virtual"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[flaky] try 3"))
        let events = try box.events().filter { $0["stage"] as? String == "flaky" && ($0["type"] as? String)?.hasPrefix("attempt_") == true }
        #expect(
            events.map { $0["type"] as! String } == [
                "attempt_started", "attempt_finished", "attempt_started", "attempt_finished", "attempt_started", "attempt_finished",
            ])
        let clock = events.map { $0["clock_ms"] as! Int }
        // The stamps are taken when each batch is made durable, a few ms either side of the delay
        // itself: ranges, not exact values (the exact delays are checked in EngineSimulationTests).
        #expect(clock[2] - clock[1] >= 1800 && clock[2] - clock[1] < 3000, "first delay 2s: \(clock[2] - clock[1]) ms")
        #expect(clock[4] - clock[3] >= 3600 && clock[4] - clock[3] < 6000, "second delay 4s (backoff 2): \(clock[4] - clock[3]) ms")
        #expect(events.compactMap { $0["outcome"] as? String } == ["failed", "failed", "succeeded"])
        let stage = try #require(Sandbox.stages(box.state())["flaky"])
        #expect(stage["attempts"] as? Int == 3)
        #expect(stage["status"] as? String == "succeeded")
    }

    @Test func exhaustedRetriesFailTheRun() throws {
        let box = try Sandbox(
            """
            version: 1
            name: broken
            stages:
              - { id: broken, retry: 2, run: "echo nope; exit 7" }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CLOCK": "virtual"])
        #expect(result.status == 1)
        let state = try box.state()
        #expect(state["status"] as? String == "failed")
        let stage = try #require(Sandbox.stages(state)["broken"])
        #expect(stage["status"] as? String == "failed")
        #expect(stage["attempts"] as? Int == 2)
        let log = try #require(stage["attempt_log"] as? [[String: Any]])
        #expect(log.map { $0["exit_code"] as? Int } == [7, 7])
        #expect(box.read(".pipeline/runs/\(box.runs[0])/logs/broken.2.log") == "nope\npipeline: attempt 2 failed (exit 7)\n")
    }

    @Test func timeoutKillsTheWholeProcessGroupEvenWhatIgnoresSIGTERM() throws {
        let box = try Sandbox(
            """
            version: 1
            name: slow
            stages:
              - id: slow
                timeout: 500ms
                run: |
                  (trap '' TERM; exec sleep 60) &
                  echo $! > grandchild.pid
                  trap '' TERM
                  sleep 60
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml", "--kill-grace", "300ms"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("timed out after"))
        let grandchild = try #require(Int32(box.read("grandchild.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(processIsGone(grandchild), "grandchild \(grandchild) survived")
        let stage = try #require(Sandbox.stages(box.state())["slow"])
        let attempt = try #require((stage["attempt_log"] as? [[String: Any]])?.first)
        #expect(attempt["outcome"] as? String == "timed_out")
        #expect(attempt["signal"] as? String == "SIGKILL")
    }

    static let sevenStages: String = {
        var text = "version: 1\nname: seven\nstages:\n"
        for i in 1...7 {
            text += """
                  - id: s\(i)
                    outputs: [token]
                    run: |
                      echo "run s\(i)" >> order.log
                      echo "token=t\(i)" >> "$PIPELINE_OUTPUTS"
                      [ "$FAIL_AT" != "s\(i)" ]
                    rollback: |
                      echo "undo s\(i) ${PIPELINE_OUTPUT_TOKEN:-none}" >> order.log
                      [ "$BREAK_UNDO" != "s\(i)" ]

                """
        }
        return text
    }()

    @Test func failureAtStageFiveRollsBackInReverseOrderWithRecordedOutputs() throws {
        let box = try Sandbox(Self.sevenStages)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["FAIL_AT": "s5"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(
            box.read("order.log") == """
                run s1
                run s2
                run s3
                run s4
                run s5
                undo s5 t5
                undo s4 t4
                undo s3 t3
                undo s2 t2
                undo s1 t1

                """)
        let state = try box.state()
        #expect(state["status"] as? String == "rolled_back")
        let stages = Sandbox.stages(state)
        #expect(stages["s5"]?["status"] as? String == "rolled_back")
        for i in 1...4 { #expect(stages["s\(i)"]?["status"] as? String == "rolled_back") }
        for i in 6...7 { #expect(stages["s\(i)"]?["status"] as? String == "pending") }
        #expect((stages["s3"]?["outputs"] as? [String: String]) == ["token": "t3"])
    }

    @Test func failedRollbackExits3AndSaysWhatIsStillApplied() throws {
        let box = try Sandbox(Self.sevenStages)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["FAIL_AT": "s4", "BREAK_UNDO": "s2"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("ROLLBACK INCOMPLETE: the rollback of 's2' failed after 1 attempt"))
        #expect(result.stderr.contains("still applied, for a human to undo: 's1', 's2'"))
        let state = try box.state()
        #expect(state["status"] as? String == "rollback_failed")
        #expect(state["remaining"] as? [String] == ["s1", "s2"])
        let stages = Sandbox.stages(state)
        #expect(stages["s3"]?["status"] as? String == "rolled_back")
        #expect(stages["s2"]?["status"] as? String == "rollback_failed")
        #expect(stages["s1"]?["status"] as? String == "succeeded")
        #expect(box.read("order.log").hasSuffix("undo s4 t4\nundo s3 t3\nundo s2 t2\n"))
    }

    @Test func rollbackStopsAtAnIrreversibleStage() throws {
        let box = try Sandbox(
            """
            version: 1
            name: irreversible
            stages:
              - { id: a, run: "echo a >> order.log", rollback: "echo undo-a >> order.log" }
              - { id: m, kind: migrate, reversible: false, backup: 'echo dump > "$PIPELINE_BACKUP_PATH"', run: "echo m >> order.log", rollback: "echo undo-m >> order.log" }
              - { id: b, kind: backend, run: "echo b >> order.log", rollback: "echo undo-b >> order.log" }
              - { id: c, run: "exit 1" }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 3)
        #expect(box.read("order.log") == "a\nm\nb\nundo-b\n")
        #expect(result.stderr.contains("rollback stopped at 'm': it is marked 'reversible: false'"))
        #expect(try box.state()["remaining"] as? [String] == ["a", "m"])
    }

    @Test func rollbackOfASucceededRunUsesTheJournalAlone() throws {
        let box = try Sandbox(Self.sevenStages)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 0)
        // The file is gone: rollback must work from what the journal recorded.
        try FileManager.default.removeItem(at: box.dir.appendingPathComponent("p.yml"))
        let result = try box.pipeline(["rollback"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(box.read("order.log").hasSuffix((1...7).reversed().map { "undo s\($0) t\($0)\n" }.joined()))
        #expect(try box.state()["status"] as? String == "rolled_back")
        #expect(try box.pipeline(["rollback"]).stderr.contains("already rolled back"))
    }

    @Test func dryRunPrintsEveryScriptAndRunsNothing() throws {
        let box = try Sandbox(Self.sevenStages)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml", "--dry-run"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("1. s1 (command), needs nothing"))
        #expect(result.stdout.contains("     | echo \"undo s7 ${PIPELINE_OUTPUT_TOKEN:-none}\" >> order.log"))
        #expect(box.read("order.log").isEmpty)
        #expect(box.runs.isEmpty)
    }

    @Test func journalAndLogsArePrivate() throws {
        let box = try Sandbox(Self.sevenStages)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"], env: ["FAIL_AT": "s5"]).status == 1)
        let run = try #require(box.runs.first)
        for dir in [".pipeline", ".pipeline/runs", ".pipeline/runs/\(run)", ".pipeline/runs/\(run)/logs", ".pipeline/locks"] {
            let mode = try FileManager.default.attributesOfItem(atPath: box.dir.appendingPathComponent(dir).path)[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(dir)")
        }
        for file in ["events.jsonl", "state.json", "logs/s5.1.log", "outputs/s1.1.env"] {
            let mode =
                try FileManager.default.attributesOfItem(atPath: box.dir.appendingPathComponent(".pipeline/runs/\(run)/\(file)").path)[.posixPermissions]
                as? Int
            #expect(mode == 0o600, "\(file)")
        }
    }

    @Test func outputsFlowToLaterStagesThroughTheEnvironmentOnly() throws {
        let box = try Sandbox(
            """
            version: 1
            name: flow
            env: { GREETING: "hello; rm -rf nothing" }
            stages:
              - id: api
                outputs: [release]
                run: echo 'release=v2 $(touch pwned) `touch pwned2`' >> "$PIPELINE_OUTPUTS"
              - id: web
                env: { RELEASE: "${{ stages.api.outputs.release }}", RUN: "${{ run.id }}", MSG: "${{ env.GREETING }}" }
                run: printf '%s|%s|%s\\n' "$RELEASE" "$MSG" "${RUN:+has-run-id}" > seen.txt
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(box.read("seen.txt") == "v2 $(touch pwned) `touch pwned2`|hello; rm -rf nothing|has-run-id\n")
        #expect(!FileManager.default.fileExists(atPath: box.dir.appendingPathComponent("pwned").path))
        #expect(!FileManager.default.fileExists(atPath: box.dir.appendingPathComponent("pwned2").path))
    }
}

/// In GitHub Actions, output is grouped per attempt and a summary table is appended to the step summary.
@Suite(.timeLimit(.minutes(2))) struct GitHubActionsTests {
    @Test func groupsAndStepSummary() throws {
        let box = try Sandbox(
            """
            version: 1
            name: ci
            stages:
              - { id: build, run: "echo compiling" }
              - { id: test, retry: { attempts: 2, delay: 1s }, run: "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; echo testing; [ $n -ge 1 ]" }
            """)
        defer { box.remove() }
        let summary = box.dir.appendingPathComponent("summary.md")
        _ = FileManager.default.createFile(atPath: summary.path, contents: Data("# earlier step\n".utf8))
        let result = try box.pipeline(
            ["run", "p.yml"], env: ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary.path, "PIPELINE_TEST_CLOCK": "virtual"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("::group::build attempt 1\ncompiling\n[build] attempt 1: succeeded\n::endgroup::\n"), "\(result.stdout)")
        #expect(result.stdout.contains("::group::test attempt 1\ntesting\n[test] attempt 1: failed\n::endgroup::\n"))
        #expect(result.stdout.contains("::group::test attempt 2\ntesting\n[test] attempt 2: succeeded\n::endgroup::\n"))
        let text = try String(contentsOf: summary, encoding: .utf8)
        #expect(text.hasPrefix("# earlier step\n### pipeline `ci`: succeeded\n"))
        #expect(text.contains("| `build` | succeeded | 1 |"))
        #expect(text.contains("| `test` | succeeded | 2 |"))
    }
}
