import Foundation
import PipelineKit
import Testing

/// The run journal against `schemas/journal.schema.json`: real runs of the binary (success,
/// retries and rollback, failed rollback, gates and resume, SIGTERM, crashes, migrate restore,
/// verify and canary, a canary's traffic reset) checked line by line by a third-party validator (`scripts/check-journal.py`,
/// python `jsonschema`), and the schema's event types kept equal to what the engine records.
@Suite(.serialized, .timeLimit(.minutes(3))) struct JournalSchemaTests {
    static let schemaPath = Binary.root.appendingPathComponent("schemas/journal.schema.json").path
    static let checkerPath = Binary.root.appendingPathComponent("scripts/check-journal.py").path
    static let virtual = ["PIPELINE_TEST_CLOCK": "virtual"]

    /// The event types each scenario must produce; together they must cover the schema.
    static let expectedTypes: [String: Set<String>] = [
        "success": ["run_started", "attempt_started", "attempt_finished", "stage_finished", "run_finished"],
        "retries": [
            "run_started", "gate_passed", "attempt_started", "attempt_finished", "stage_finished", "rollback_started", "rollback_finished", "run_finished",
        ],
        "rollbackFailure": ["attempt_finished", "rollback_begun", "rollback_started", "rollback_finished", "run_finished"],
        "approval": ["run_waiting", "run_resumed", "stage_approved", "gate_passed", "attempt_started", "attempt_finished", "run_finished"],
        "interrupted": ["attempt_finished", "run_interrupted", "run_resumed", "run_finished", "process_started", "outputs_recorded"],
        "crash": ["run_resumed", "run_waiting", "stage_finished", "run_finished"],
        "restore": ["backup", "attempt_started", "attempt_finished", "rollback_finished", "run_finished"],
        "canaryRollback": ["run_resumed", "rollback_begun", "rollback_started", "attempt_started", "process_started", "rollback_finished"],
        "rollbackCommand": ["run_resumed", "rollback_started", "rollback_finished", "run_finished"],
        "verify": ["probe", "attempt_finished", "stage_finished"],
        "canary": ["measurement", "traffic", "rollback_finished", "run_finished"],
        "operator": ["analysis_paused", "run_waiting", "measurement"],
        "abort": ["control", "traffic", "analysis_paused"],
        "blueGreen": ["colors", "color_switch", "hook", "probe", "rollback_finished", "run_finished"],
        "conditions": ["stage_skipped", "stage_finished", "rollback_begun", "rollback_finished", "run_finished"],
    ]

    // MARK: - Helpers

    /// Runs the checker on one run directory (and a status document); returns its result.
    static func runChecker(_ runDirectory: String, status: String? = nil) throws -> Binary.Result {
        try Binary.run(executable: "python3", [checkerPath, schemaPath, runDirectory] + (status.map { [$0] } ?? []))
    }

    /// Checks every run of a sandbox, with its `status --json`; returns the event types seen.
    @discardableResult
    static func checkAll(_ box: Sandbox, sourceLocation: SourceLocation = #_sourceLocation) throws -> Set<String> {
        var types = Set<String>()
        #expect(!box.runs.isEmpty, "no run recorded", sourceLocation: sourceLocation)
        for run in box.runs {
            let status = try box.pipeline(["status", run, "--json"])
            #expect(status.status == 0, "status --json: \(status.stderr)", sourceLocation: sourceLocation)
            let statusPath = box.dir.appendingPathComponent("status.\(run).json").path
            try status.stdout.write(toFile: statusPath, atomically: true, encoding: .utf8)
            let runDirectory = box.dir.appendingPathComponent(".pipeline/runs/\(run)").path
            let result = try runChecker(runDirectory, status: statusPath)
            #expect(result.status == 0, "check-journal.py:\n\(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
            for line in box.read(".pipeline/runs/\(run)/events.jsonl").split(separator: "\n") {
                if let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let type = event["type"] as? String {
                    types.insert(type)
                }
            }
        }
        return types
    }

    static func expectTypes(_ seen: Set<String>, _ scenario: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let missing = (expectedTypes[scenario] ?? []).subtracting(seen)
        #expect(missing.isEmpty, "scenario '\(scenario)' did not record \(missing.sorted())", sourceLocation: sourceLocation)
    }

    static func schema() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: schemaPath))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The event types the schema knows: `$defs/event/properties/type/enum`.
    static func schemaEventTypes() throws -> Set<String> {
        let defs = try #require(try schema()["$defs"] as? [String: Any])
        let event = try #require(defs["event"] as? [String: Any])
        let type = try #require((event["properties"] as? [String: Any])?["type"] as? [String: Any])
        return Set(try #require(type["enum"] as? [String]))
    }

    /// The event types the engine records: the cases of its typed protocol, ``JournalEvent/Kind``.
    static func sourceEventTypes() throws -> Set<String> {
        Set(JournalEvent.Kind.allCases.map(\.rawValue))
    }

    // MARK: - The schema and the source agree

    @Test func theSchemaKnowsExactlyTheEventTypesTheEngineRecords() throws {
        let source = try Self.sourceEventTypes()
        let schema = try Self.schemaEventTypes()
        #expect(schema == source, "only in the schema: \(schema.subtracting(source).sorted()); only in Sources: \(source.subtracting(schema).sorted())")
        // Every type has its own definition, selected by an if/then on `type`.
        let defs = try #require(try Self.schema()["$defs"] as? [String: Any])
        let branches = try #require((defs["event"] as? [String: Any])?["allOf"] as? [[String: Any]])
        var dispatched = Set<String>()
        for branch in branches {
            let type = try #require(((branch["if"] as? [String: Any])?["properties"] as? [String: Any])?["type"] as? [String: Any])
            let name = try #require(type["const"] as? String)
            dispatched.insert(name)
            #expect((branch["then"] as? [String: Any])?["$ref"] as? String == "#/$defs/event_\(name)")
            #expect(defs["event_\(name)"] != nil, "no $defs/event_\(name)")
        }
        #expect(dispatched == schema)
        // The scenarios below exercise every type.
        let exercised = Self.expectedTypes.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        #expect(exercised == schema, "not exercised by any scenario: \(schema.subtracting(exercised).sorted())")
    }

    // MARK: - Real journals match the schema

    @Test func skippedStagesByConditionAndByASkippedOutputThenARollback() throws {
        let box = try Sandbox(
            """
            version: 1
            name: skips
            inputs:
              mode: {default: compatible}
            stages:
              - { id: a, run: "true", rollback: "true" }
              - { id: b, if: "inputs.mode == 'maintenance'", outputs: [since], run: "true" }
              - { id: c, env: { SINCE: "${{ stages.b.outputs.since }}" }, run: "true" }
              - { id: d, run: "exit 1" }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1, "\(result.stderr)")
        Self.expectTypes(try Self.checkAll(box), "conditions")
    }

    @Test func successWithOutputsAndAMaskedSecret() throws {
        let box = try Sandbox(
            """
            version: 1
            name: shop
            secrets: [API_TOKEN]
            env: { REGION: eu-west-1, AUTH: "${{ secrets.API_TOKEN }}" }
            stages:
              - { id: build, run: "echo built", outputs: [version] }
              - id: deploy
                outputs: [url, token]
                env: { TARGET: prod }
                retry: { attempts: 2, delay: 1s, backoff: 1.5 }
                timeout: 2m
                run: |
                  echo "version=1.4.2" >> "$PIPELINE_OUTPUTS"
                  echo "url=https://shop.example/$TARGET" >> "$PIPELINE_OUTPUTS"
                  echo "token=$AUTH" >> "$PIPELINE_OUTPUTS"
                  echo "deploying with $AUTH"
                rollback: echo undo
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["API_TOKEN": "s3cr3t-t0ken"])
        #expect(result.status == 0, "\(result.stderr)")
        Self.expectTypes(try Self.checkAll(box), "success")
        let run = try #require(box.runs.first)
        let stages = Sandbox.stages(try box.state())
        #expect(stages["deploy"]?["outputs"] as? [String: String] == ["url": "https://shop.example/prod", "token": "***"])
        for file in ["events.jsonl", "state.json", "logs/deploy.1.log"] {
            #expect(!box.read(".pipeline/runs/\(run)/\(file)").contains("s3cr3t-t0ken"), "\(file) holds the secret")
        }
        #expect(!box.read("status.\(run).json").contains("s3cr3t-t0ken"))
    }

    @Test func failureWithRetriesAndReverseRollback() throws {
        let box = try Sandbox(
            """
            version: 1
            name: failing
            stages:
              - { id: a, run: "echo a", rollback: "echo undo a", gate: { wait: 1m } }
              - { id: b, run: "echo b" }
              - id: c
                retry: { attempts: 3, delay: 2s }
                run: "echo trying; exit 7"
                rollback: "echo undo c"
              - { id: never, run: "echo never" }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1, "\(result.stderr)")
        Self.expectTypes(try Self.checkAll(box), "retries")
        let state = try box.state()
        #expect(state["status"] as? String == "rolled_back")
        #expect(Sandbox.stages(state)["c"]?["attempts"] as? Int == 3)
    }

    @Test func aFailedRollbackAndATimeoutAndStoppedStage() throws {
        let box = try Sandbox(
            """
            version: 1
            name: rbfail
            stages:
              - { id: a, run: "echo a", rollback: "echo undo a" }
              - { id: b, run: "echo b", rollback: "echo cannot; exit 3", retry: { attempts: 2, delay: 10ms } }
              - { id: slow, needs: [b], run: "sleep 30", rollback: "echo undo slow" }
              - { id: c, needs: [b], run: "sleep 30", timeout: 300ms, rollback: "kill -TERM $$" }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml", "--on-failure", "stop", "--max-parallel", "4", "--kill-grace", "200ms"])
        #expect(result.status == 3, "\(result.stderr)")
        Self.expectTypes(try Self.checkAll(box), "rollbackFailure")
        let outcomes = try box.events().filter { $0["type"] as? String == "attempt_finished" }.compactMap { $0["outcome"] as? String }
        #expect(outcomes.contains("timed_out") && outcomes.contains("stopped"), "\(outcomes)")
        #expect(try box.state()["status"] as? String == "rollback_failed")
    }

    @Test func anApprovalGateWaitsThenResumesWithApproval() throws {
        let box = try Sandbox(
            """
            version: 1
            name: gated
            stages:
              - { id: build, run: "echo build" }
              - id: deploy
                gate:
                  approval: { message: "ship ${{ run.id }}?" }
                  window: { days: [mon, tue, wed, thu, fri, sat, sun], hours: "00:00-23:59", timezone: UTC }
                  wait: 30s
                  check: test -f ready
                retry: { attempts: 2, delay: 10s }
                run: echo deploy
            """)
        defer { box.remove() }
        // Inside the window whenever the test runs: a Wednesday noon, UTC.
        let env = Self.virtual.merging(["PIPELINE_TEST_NOW_MS": "1795608000000"]) { $1 }
        #expect(try box.pipeline(["run", "p.yml"], env: env).status == 4)
        #expect(try box.state()["status"] as? String == "waiting")
        try Self.checkAll(box)
        #expect(try box.pipeline(["resume", "--approve", "deploy"], env: env).status == 4, "the gate check fails without ./ready")
        _ = FileManager.default.createFile(atPath: box.dir.appendingPathComponent("ready").path, contents: nil)
        let resumed = try box.pipeline(["resume", "--approve", "deploy"], env: env)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        Self.expectTypes(try Self.checkAll(box), "approval")
    }

    @Test func anInterruptedRunThenResume() throws {
        let box = try Sandbox(
            """
            version: 1
            name: stoppable
            stages:
              - { id: first, run: "echo first" }
              - id: long
                outputs: [previous]
                run: |
                  echo "previous=v41" >> "$PIPELINE_OUTPUTS"
                  if [ -f resumed ]; then echo long; exit 0; fi
                  echo started > started
                  sleep 60
            """)
        defer { box.remove() }
        let result = try box.shell(
            """
            "$PIPELINE" run p.yml --kill-grace 300ms > run.out 2>&1 & pid=$!
            while [ ! -s started ]; do sleep 0.02; done
            kill -TERM $pid; wait $pid; echo "exit=$?"
            """)
        #expect(result.stdout == "exit=130\n", "\(box.read("run.out"))")
        #expect(try box.state()["status"] as? String == "interrupted")
        // What the interrupted try wrote is recorded for its rollback.
        let recorded = try box.events().filter { $0["type"] as? String == "outputs_recorded" }
        #expect(recorded.map { $0["outputs"] as? [String: String] } == [["previous": "v41"]])
        #expect(Sandbox.stages(try box.state())["long"]?["outputs"] as? [String: String] == ["previous": "v41"])
        try Self.checkAll(box)
        _ = FileManager.default.createFile(atPath: box.dir.appendingPathComponent("resumed").path, contents: nil)
        #expect(try box.pipeline(["resume"]).status == 0)
        Self.expectTypes(try Self.checkAll(box), "interrupted")
    }

    @Test func aCrashWithATornLineThenADecisionAndAssumeDone() throws {
        let box = try Sandbox(
            """
            version: 1
            name: careful
            stages:
              - { id: prep, run: "echo prep" }
              - { id: charge, idempotent: false, run: "echo charge" }
            """)
        defer { box.remove() }
        // Killed halfway through writing the 3rd append ("prep finished, charge started"): a torn last line.
        #expect(try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CRASH_AT": "3-half"]).status == 137)
        let run = try #require(box.runs.first)
        #expect(!box.read(".pipeline/runs/\(run)/events.jsonl").hasSuffix("\n"), "expected a torn last line")
        try Self.checkAll(box)
        // Killed right after "charge started" is durable: the stage was running when the engine died.
        try FileManager.default.removeItem(at: box.dir.appendingPathComponent(".pipeline"))
        #expect(try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CRASH_AT": "3"]).status == 137)
        #expect(try box.state()["status"] as? String == "abandoned", "a run whose engine was killed reads 'abandoned'")
        try Self.checkAll(box)
        #expect(try box.pipeline(["resume"]).status == 4)
        #expect((try box.state()["waiting"] as? [String: Any])?["reason"] as? String == "decision")
        try Self.checkAll(box)
        #expect(try box.pipeline(["resume", "--assume-done", "charge"]).status == 0)
        Self.expectTypes(try Self.checkAll(box), "crash")
    }

    @Test func aMigrateStageRestoredFromItsBackup() throws {
        let box = try Sandbox(
            """
            version: 1
            name: migrating
            stages:
              - { id: api, run: "echo api", rollback: "echo undo api" }
              - id: db
                kind: migrate
                backup: echo dump > "$PIPELINE_BACKUP_PATH"
                run: echo migrate
                rollback: echo downgrade fails; exit 1
                restore: echo "restore from $PIPELINE_BACKUP_PATH"
              - { id: web, shell: [/nonexistent/sh, -c], run: "echo web" }
            """)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 1)
        Self.expectTypes(try Self.checkAll(box), "restore")
        // A script that could not start: outcome not_started, exit 127, and no process group.
        let web = try box.events().filter { $0["stage"] as? String == "web" }
        #expect(web.filter { $0["type"] as? String == "attempt_finished" }.map { $0["outcome"] as? String } == ["not_started"])
        #expect(web.first { $0["type"] as? String == "attempt_finished" }?["exit_code"] as? Int == 127)
        #expect(!web.contains { $0["type"] as? String == "process_started" })
    }

    @Test func rollbackOfASucceededRun() throws {
        let box = try Sandbox(
            """
            version: 1
            name: undoable
            stages:
              - { id: a, run: "echo a", rollback: "echo undo a" }
              - { id: b, run: "echo b" }
              - { id: c, run: "echo c", rollback: "echo undo c" }
            """)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 0)
        #expect(try box.pipeline(["rollback"]).status == 0)
        Self.expectTypes(try Self.checkAll(box), "rollbackCommand")
    }

    @Test func verifyProbesAndSmokeTests() throws {
        let server = try ScriptedServer(["/health": [["status": 503], ["status": 200, "body": "ok"]]])
        defer { server.stop() }
        let box = try Sandbox(
            """
            version: 1
            name: verify
            secrets: [TOKEN]
            stages:
              - id: verify
                kind: verify
                http: { url: "\(server.base)/health?t=${{ secrets.TOKEN }}", timeout: 3s, interval: 10s, initial-delay: 10s, failure-threshold: 3 }
                smoke: ["echo smoke ok"]
              - id: unreachable
                kind: verify
                http: { url: "http://127.0.0.1:\(closedPort())/health", timeout: 1s, interval: 10s, failure-threshold: 1 }
            """)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"], env: Self.virtual.merging(["TOKEN": "tok-123456"]) { $1 }).status == 1)
        Self.expectTypes(try Self.checkAll(box), "verify")
        let probes = try box.events().filter { $0["type"] as? String == "probe" }
        #expect(probes.map { $0["ok"] as? Bool } == [false, true, false])
        #expect(probes.last?["error"] is String, "an unreachable target records an error and no status")
        #expect(!box.read(".pipeline/runs/\(box.runs[0])/events.jsonl").contains("tok-123456"))
    }

    @Test func canaryMeasurementsAndTrafficShifts() throws {
        let server = try ScriptedServer(["/errors": KindTests.values("rate", [0.01, 0.01, 0.2, 0.2]), "/latency": KindTests.values("p95", [0.2])])
        defer { server.stop() }
        let box = try Sandbox(KindTests.canary(server.base))
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"], env: Self.virtual).status == 1)
        Self.expectTypes(try Self.checkAll(box), "canary")
        let verdicts = Set(try box.events().compactMap { $0["verdict"] as? String })
        #expect(verdicts == ["baseline", "pass", "fail"])
    }

    @Test func rollbackOfAPromotedCanaryResetsItsTraffic() throws {
        let server = try ScriptedServer(["/errors": KindTests.values("rate", [0.01]), "/latency": KindTests.values("p95", [0.2])])
        defer { server.stop() }
        let box = try Sandbox(KindTests.canary(server.base))
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"], env: Self.virtual).status == 0)
        #expect(try box.pipeline(["rollback"], env: Self.virtual).status == 0)
        Self.expectTypes(try Self.checkAll(box), "canaryRollback")
        let events = try box.events()
        let undo = events.filter { $0["type"] as? String == "attempt_started" && $0["phase"] as? String == "traffic" }
        #expect(undo.map { $0["stage"] as? String } == ["shift"])
        #expect((undo.first?["log"] as? String)?.hasSuffix("/logs/shift.traffic.1.log") == true)
        let begun = try #require(events.first { $0["type"] as? String == "rollback_begun" })
        #expect(begun["queue"] as? [String] == ["shift", "api"])
        #expect(begun["failed_stage"] == nil)
    }

    @Test func blueGreenSwitchBackAndHooks() throws {
        let server = try ScriptedServer(BlueGreenTests.healthy.merging(["/hook": [["status": 500]]]) { $1 })
        defer { server.stop() }
        let hooks = """
            notify:
              - {on: [started, succeeded, failed, rolled_back], webhook: "\(server.base)/hook"}
              - {on: [failed], run: 'echo "$PIPELINE_EVENT"'}
            rollback: {before: 'true', after: 'true'}
            """
        let box = try Sandbox(BlueGreenTests.pipeline(server.base).replacingOccurrences(of: "stages:\n", with: hooks + "\nstages:\n"))
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 0)
        try "x".write(to: box.dir.appendingPathComponent("fail-verify"), atomically: true, encoding: .utf8)
        #expect(try box.pipeline(["run", "p.yml"]).status == 1)
        Self.expectTypes(try Self.checkAll(box), "blueGreen")
        let undo = box.events(of: box.runsInStartOrder.last!).filter { $0["type"] as? String == "attempt_started" && $0["phase"] as? String == "switch-back" }
        #expect(undo.count == 1)
    }

    // MARK: - The checker catches drift

    @Test func theCheckerRejectsAJournalThatDriftedFromTheSchema() throws {
        let box = try Sandbox("version: 1\nname: tiny\nstages:\n  - { id: a, run: 'echo a' }\n")
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 0)
        let run = try #require(box.runs.first)
        let original = box.dir.appendingPathComponent(".pipeline/runs/\(run)")
        let status = try box.pipeline(["status", run, "--json"]).stdout
        #expect(try Self.runChecker(original.path).status == 0)

        /// A copy of the run with one file changed; the checker's output on it.
        func check(_ label: String, file: String? = "events.jsonl", statusText: String? = nil, _ change: (String) -> String = { $0 }) throws -> Binary.Result {
            let copy = box.dir.appendingPathComponent("copy-\(label)")
            try FileManager.default.copyItem(at: original, to: copy)
            if let file {
                let path = copy.appendingPathComponent(file).path
                let text = try String(contentsOfFile: path, encoding: .utf8)
                let changed = change(text)
                #expect(changed != text, "mutation '\(label)' changed nothing")
                try changed.write(toFile: path, atomically: true, encoding: .utf8)
            }
            var statusPath: String?
            if let statusText {
                statusPath = copy.appendingPathComponent("status.json").path
                try statusText.write(toFile: statusPath!, atomically: true, encoding: .utf8)
            }
            return try Self.runChecker(copy.path, status: statusPath)
        }
        func lines(_ text: String, _ change: (String) -> String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false).map { change(String($0)) }.joined(separator: "\n")
        }

        // A field of the wrong type.
        let wrongType = try check("wrong-type") { text in
            lines(text) { $0.contains("\"attempt_finished\"") ? $0.replacingOccurrences(of: "\"exit_code\":0", with: "\"exit_code\":\"0\"") : $0 }
        }
        #expect(wrongType.status == 1)
        #expect(wrongType.stdout.contains("events.jsonl:4: error: /exit_code:"), "\(wrongType.stdout)")
        // An event type the schema does not know.
        let unknown = try check("unknown-type") {
            $0 + "{\"type\":\"stage_teleported\",\"time\":\"2026-01-01T00:00:00.000Z\",\"clock_ms\":1,\"stage\":\"a\"}\n"
        }
        #expect(unknown.status == 1)
        #expect(unknown.stdout.contains("events.jsonl:7: error:"), "\(unknown.stdout)")
        // A field the schema does not allow, and a required one missing.
        let extra = try check("extra-field") { text in
            lines(text) { $0.contains("\"stage_finished\"") ? $0.replacingOccurrences(of: "\"outputs\":{}", with: "\"outputs\":{},\"color\":\"red\"") : $0 }
        }
        #expect(extra.status == 1 && extra.stdout.contains("'color' was unexpected"), "\(extra.stdout)")
        let missing = try check("missing-field") { text in
            lines(text) { $0.contains("\"attempt_started\"") ? $0.replacingOccurrences(of: ",\"log\":", with: ",\"logfile\":") : $0 }
        }
        #expect(missing.status == 1 && missing.stdout.contains("'log' is a required property"), "\(missing.stdout)")
        // A stage_skipped without its reason.
        let skipped = try check("stage-skipped") { $0 + "{\"type\":\"stage_skipped\",\"time\":\"2026-01-01T00:00:00.000Z\",\"clock_ms\":1,\"stage\":\"a\"}\n" }
        #expect(skipped.status == 1 && skipped.stdout.contains("'reason' is a required property"), "\(skipped.stdout)")
        // New fields are required: a process group without its pgid, a start without its host or sequence.
        let noPgid = try check("no-pgid") { text in
            lines(text) { $0.contains("\"process_started\"") ? $0.replacingOccurrences(of: ",\"pgid\":", with: ",\"pid\":") : $0 }
        }
        #expect(
            noPgid.status == 1 && noPgid.stdout.contains("events.jsonl:3: error:") && noPgid.stdout.contains("'pgid' is a required property"),
            "\(noPgid.stdout)")
        let noHost = try check("no-host") { text in
            lines(text) { $0.contains("\"run_started\"") ? $0.replacingOccurrences(of: ",\"host\":", with: ",\"hostname\":") : $0 }
        }
        #expect(noHost.status == 1 && noHost.stdout.contains("'host' is a required property"), "\(noHost.stdout)")
        let badSequence = try check("bad-sequence") { text in
            lines(text) { line in
                guard line.contains("\"run_started\""), let range = line.range(of: #""sequence":[0-9]+"#, options: .regularExpression) else { return line }
                return line.replacingCharacters(in: range, with: "\"sequence\":\"1\"")
            }
        }
        #expect(badSequence.status == 1 && badSequence.stdout.contains("events.jsonl:1: error: /sequence:"), "\(badSequence.stdout)")
        // A line in the middle that is not JSON (a torn last line alone is ignored).
        let corrupt = try check("corrupt") { text in lines(text) { $0.contains("\"attempt_started\"") ? String($0.prefix(20)) : $0 } }
        #expect(corrupt.status == 1 && corrupt.stdout.contains("events.jsonl:2: error: not JSON"), "\(corrupt.stdout)")
        let torn = try check("torn") { $0 + "{\"type\":\"run_fin" }
        #expect(torn.status == 0, "\(torn.stdout)")
        // state.json without a required field.
        let state = try check("state", file: "state.json") { $0.replacingOccurrences(of: "\"file_sha256\"", with: "\"file_hash\"") }
        #expect(state.status == 1 && state.stdout.contains("state.json:1: error:"), "\(state.stdout)")
        // A status document whose stage `attempts` is a list, not a count.
        let badStatus = status.replacingOccurrences(of: "\"attempts\": 1,", with: "\"attempts\": [1],")
        #expect(badStatus != status)
        let statusResult = try check("status", file: nil, statusText: badStatus)
        #expect(statusResult.status == 1 && statusResult.stdout.contains("status.json:1: error: /stages/0/attempts:"), "\(statusResult.stdout)")
        // A stage status that does not exist; 'abandoned' is for status --json only, never state.json.
        let skippedStage = status.replacingOccurrences(
            of: "\"status\": \"succeeded\",\n      \"attempts\"", with: "\"status\": \"cancelled\",\n      \"attempts\"")
        #expect(skippedStage != status)
        let skippedResult = try check("status-skipped", file: nil, statusText: skippedStage)
        #expect(skippedResult.status == 1 && skippedResult.stdout.contains("status.json:1: error: /stages/0/status:"), "\(skippedResult.stdout)")
        let abandoned = status.replacingOccurrences(of: "\"status\": \"succeeded\",\n  \"pid\"", with: "\"status\": \"abandoned\",\n  \"pid\"")
            .replacingOccurrences(of: #"\n  "ended": "[^"]*""#, with: "\n  \"ended\": null", options: .regularExpression)
        #expect(abandoned != status)
        #expect(try check("status-abandoned", file: nil, statusText: abandoned).status == 0, "an abandoned run is a valid status document")
        let abandonedState = try check("state-abandoned", file: "state.json") { text in
            text.replacingOccurrences(of: "\"status\": \"succeeded\",\n  \"pid\"", with: "\"status\": \"abandoned\",\n  \"pid\"")
                .replacingOccurrences(of: #"\n  "ended": "[^"]*""#, with: "\n  \"ended\": null", options: .regularExpression)
        }
        #expect(abandonedState.status == 1 && abandonedState.stdout.contains("state.json:1: error: /status:"), "\(abandonedState.stdout)")
    }
}
