import Foundation
import Testing

/// Group commit keeps the write-ahead rule: attempts that start together share one `fdatasync`,
/// but a script only ever runs after its own start and every need's end are in the journal. Each
/// script checks that itself when it starts (reading the journal), runs are killed with SIGKILL at
/// pseudo-random moments (a fixed seed), and the journal's order is checked after every crash.
@Suite(.timeLimit(.minutes(5)))
struct GroupCommitTests {
    /// Four independent stages, four that each need two of them, and one that needs those four:
    /// with `--max-parallel 2` ends and starts arrive together all the time.
    static let needs: [(String, [String])] = {
        var stages: [(String, [String])] = (1...4).map { ("a\($0)", []) }
        stages += (1...4).map { ("b\($0)", ["a\($0)", "a\($0 % 4 + 1)"]) }
        stages.append(("c", (1...4).map { "b\($0)" }))
        return stages
    }()

    static let pipeline: String = {
        var text = "version: 1\nname: fan\nstages:\n"
        for (id, needs) in needs {
            // A plain command (run without the shell): the check script gets the stage and its needs.
            text += "  - id: \(id)\n    needs: [\(needs.joined(separator: ", "))]\n    run: sh check.sh \(([id] + needs).joined(separator: " "))\n"
        }
        return text
    }()

    /// Records a violation in the ledger when the journal does not yet hold this attempt's start,
    /// or a need's successful end, at the moment the script runs.
    static let check = """
        j="$PIPELINE_RUN_DIR/events.jsonl"
        me=$1
        shift
        grep '"type":"attempt_started"' "$j" | grep -q "\\"stage\\":\\"$me\\",\\"phase\\":\\"run\\",\\"attempt\\":$PIPELINE_ATTEMPT," \\
          || echo "violation: $me attempt $PIPELINE_ATTEMPT runs before its start is journaled" >> ledger
        for need in "$@"; do
          grep '"type":"stage_finished"' "$j" | grep -q "\\"stage\\":\\"$need\\",\\"status\\":\\"succeeded\\"" \\
            || echo "violation: $me runs before the end of $need is journaled" >> ledger
        done
        echo "start $me" >> ledger
        sleep 0.05
        echo "end $me" >> ledger

        """

    static func sandbox() throws -> Sandbox {
        let box = try Sandbox(pipeline)
        try check.write(to: box.dir.appendingPathComponent("check.sh"), atomically: true, encoding: .utf8)
        return box
    }

    /// The journal's own order: every attempt starts after the successful end of each of its needs.
    static func orderProblems(_ events: [[String: Any]]) -> [String] {
        var problems: [String] = []
        var finished = Set<String>()
        let needsOf = Dictionary(uniqueKeysWithValues: needs)
        for event in events {
            let stage = event["stage"] as? String ?? ""
            switch event["type"] as? String {
            case "stage_finished" where event["status"] as? String == "succeeded":
                finished.insert(stage)
            case "attempt_started" where event["phase"] as? String == "run":
                for need in needsOf[stage] ?? [] where !finished.contains(need) {
                    problems.append("\(stage) started before the end of \(need) was journaled")
                }
            default:
                break
            }
        }
        return problems
    }

    @Test func everyScriptRunsAfterItsStartAndItsNeedsEndsAreJournaled() throws {
        let box = try Self.sandbox()
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml", "--max-parallel", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let ledger = Ledger(box)
        #expect(ledger.count(prefix: "violation") == 0, "\(ledger.text)")
        #expect(ledger.count(prefix: "end") == Self.needs.count, "\(ledger.text)")
        let problems = Self.orderProblems(try box.events())
        #expect(problems.isEmpty, "\(problems)")
    }

    /// Checks, when the script runs, that the journal was synced past its own start and past the
    /// successful end of each need (the sizes `PIPELINE_TEST_DURABLE_LOG` gets after every sync).
    static let durableCheck = """
        j="$PIPELINE_RUN_DIR/events.jsonl"
        me=$1
        shift
        durable=$(sort -n "$PIPELINE_TEST_DURABLE_LOG" 2>/dev/null | tail -n 1)
        line_end() { grep -b -E "$1" "$j" | head -n 1 | LC_ALL=C awk -F: '{ print $1 + length($0) - length($1) }'; }
        check() {
          end=$(line_end "$2")
          if [ -z "$end" ] || [ "$end" -gt "${durable:-0}" ]; then
            echo "violation: $me runs before $1 is durable (it ends at byte ${end:-none}, synced: ${durable:-0})" >> ledger
          fi
        }
        check "its start" "\\"type\\":\\"attempt_started\\".*\\"stage\\":\\"$me\\",\\"phase\\":\\"run\\",\\"attempt\\":$PIPELINE_ATTEMPT,"
        for need in "$@"; do
          check "the end of $need" "\\"type\\":\\"stage_finished\\".*\\"stage\\":\\"$need\\",\\"status\\":\\"succeeded\\""
        done
        echo "start $me" >> ledger
        sleep 0.05
        echo "end $me" >> ledger

        """

    /// The journal is synced on a thread of its own while the engine goes on: a script still
    /// starts only once its start and its needs' ends are durable, not merely written. Each sync
    /// is held back 30 ms (a test hook) so that a script started too early would run inside the
    /// window and see it.
    @Test func aScriptStartsOnlyOnceItsStartIsDurableNotJustWritten() throws {
        let box = try Sandbox(Self.pipeline)
        defer { box.remove() }
        try Self.durableCheck.write(to: box.dir.appendingPathComponent("check.sh"), atomically: true, encoding: .utf8)
        let log = box.dir.appendingPathComponent("durable.log").path
        let result = try box.pipeline(
            ["run", "p.yml", "--max-parallel", "2"], env: ["PIPELINE_TEST_SYNC_DELAY_MS": "30", "PIPELINE_TEST_DURABLE_LOG": log])
        #expect(result.status == 0, "\(result.stderr)")
        let ledger = Ledger(box)
        #expect(ledger.count(prefix: "violation") == 0, "\(ledger.text)")
        #expect(ledger.count(prefix: "end") == Self.needs.count, "\(ledger.text)")
        #expect(Self.orderProblems(try box.events()).isEmpty)
    }

    /// Killed at random moments, then resumed: no script ever ran ahead of the journal, the
    /// journal's order holds at every crash, and the resumed run finishes every stage.
    @Test func killedAtRandomMomentsTheJournalIsAlwaysAheadOfTheScripts() throws {
        var moments = CrashConsistencyTests.Moments(state: 0x5EED_0015)
        var killedMidRun = 0
        for trial in 0..<8 {
            let box = try Self.sandbox()
            defer { box.remove() }
            let engine = try box.background(["run", "p.yml", "--max-parallel", "2"])
            usleep(useconds_t(30_000 + moments.next(upTo: 0.4) * 1_000_000))
            engine.signal(SIGKILL)
            guard let code = engine.wait(seconds: 20) else {
                Issue.record("trial \(trial): the engine did not die")
                continue
            }
            if code == 137, box.recordedRuns.isEmpty { continue }  // killed before it recorded anything
            if code == 137 {
                killedMidRun += 1
                let problems = Self.orderProblems(try box.events())
                #expect(problems.isEmpty, "trial \(trial): at the crash: \(problems)")
                let resumed = try box.pipeline(["resume", "--wait-lock"], within: 60)
                #expect(resumed.returned && resumed.status == 0, "trial \(trial): \(resumed.output)")
            }
            let ledger = Ledger(box)
            #expect(ledger.count(prefix: "violation") == 0, "trial \(trial): \(ledger.text)")
            for (id, _) in Self.needs { #expect(ledger.contains("end \(id)"), "trial \(trial): \(id) never finished: \(ledger.text)") }
            let after = Self.orderProblems(try box.events())
            #expect(after.isEmpty, "trial \(trial): after the resume: \(after)")
        }
        #expect(killedMidRun >= 3, "only \(killedMidRun) of 8 trials killed the engine mid-run: the campaign tested too little")
    }

    /// Scripts that start together are all spawned before their process groups are journaled (in
    /// one write), yet every script's group is in the journal while it runs, so `resume` after a
    /// crash of the engine can find what it left running. Each script checks its own group (a
    /// plain command's program is its group's leader: its pid is the group's id), waiting for it
    /// rather than trusting a fixed sleep to outlast the engine's write on a loaded machine.
    @Test func everyRunningScriptsProcessGroupIsInTheJournal() throws {
        var text = "version: 1\nname: groups\nstages:\n"
        for i in 1...6 { text += "  - { id: s\(i), needs: [], run: sh group.sh s\(i) }\n" }
        let box = try Sandbox(text)
        defer { box.remove() }
        // The groups are written right after the spawns (docs/journal.md), so a script may run a
        // moment before its own is there: it looks for up to 10 s, while it still runs.
        let script = """
            i=0
            until grep '"type":"process_started"' "$PIPELINE_RUN_DIR/events.jsonl" \\
              | grep -q "\\"stage\\":\\"$1\\",\\"phase\\":\\"run\\",\\"attempt\\":1,\\"pgid\\":$$}"; do
              i=$((i + 1))
              if [ $i -gt 200 ]; then
                echo "violation: the process group of $1 ($$) is not in the journal while it runs" >> ledger
                break
              fi
              sleep 0.05
            done
            echo "end $1" >> ledger

            """
        try script.write(to: box.dir.appendingPathComponent("group.sh"), atomically: true, encoding: .utf8)
        let result = try box.pipeline(["run", "p.yml", "--max-parallel", "3"])
        #expect(result.status == 0, "\(result.stderr)")
        let ledger = Ledger(box)
        #expect(ledger.count(prefix: "violation") == 0, "\(ledger.text)")
        #expect(ledger.count(prefix: "end") == 6, "\(ledger.text)")
        let groups = try box.events().filter { $0["type"] as? String == "process_started" }
        #expect(groups.count == 6, "\(groups)")
    }
}
