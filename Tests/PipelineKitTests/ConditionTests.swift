import Foundation
import Testing

/// `if:` on stages through the real binary: static conditions (inputs, environment) and run-time
/// ones (env, outputs), `stage_skipped` in the journal, dependents, rollback and resume.
@Suite(.timeLimit(.minutes(3))) struct ConditionTests {
    static func types(_ events: [[String: Any]], _ type: String) -> [[String: Any]] { events.filter { $0["type"] as? String == type } }

    /// The events of the newest run (run ids of one second sort by their random part, so ask `status`).
    static func latest(_ box: Sandbox) throws -> [[String: Any]] {
        let run = try #require(try box.state()["run"] as? String)
        return box.read(".pipeline/runs/\(run)/events.jsonl").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func aStageSkippedInOneEnvironmentRunsInTheOtherAndBothAreJournaled() throws {
        let box = try Sandbox(
            """
            version: 1
            name: shop
            environments:
              staging:
                env: {URL: http://staging.example}
              production:
                env: {URL: http://production.example}
            stages:
              - id: deploy
                run: echo "deploy $URL" >> ledger
              - id: page-oncall
                if: environment.name == 'production'
                run: echo "page $URL" >> ledger
              - id: verify
                run: echo verify >> ledger
            """)
        defer { box.remove() }
        let staging = try box.pipeline(["run", "--env", "staging", "p.yml"])
        #expect(staging.status == 0, "\(staging.stderr)")
        #expect(staging.stderr.contains("[page-oncall] skipped: if: environment.name == 'production': false"), "\(staging.stderr)")
        #expect(Ledger(box).lines == ["deploy http://staging.example", "verify"])
        let skipped = Self.types(try Self.latest(box), "stage_skipped")
        #expect(skipped.count == 1)
        #expect(skipped.first?["stage"] as? String == "page-oncall")
        #expect(skipped.first?["condition"] as? String == "environment.name == 'production'")
        #expect(Self.types(try Self.latest(box), "attempt_started").allSatisfy { $0["stage"] as? String != "page-oncall" })
        let state = Sandbox.stages(try box.state())
        #expect(state["page-oncall"]?["status"] as? String == "skipped")
        #expect(state["page-oncall"]?["skip_reason"] as? String == "if: environment.name == 'production': false")
        #expect(try box.state()["status"] as? String == "succeeded")

        try box.write("ledger", "")
        let production = try box.pipeline(["run", "--env", "production", "p.yml"])
        #expect(production.status == 0, "\(production.stderr)")
        #expect(Ledger(box).lines == ["deploy http://production.example", "page http://production.example", "verify"])
        let events = try Self.latest(box)
        #expect(Self.types(events, "stage_skipped").isEmpty)
        #expect(Self.types(events, "stage_finished").compactMap { $0["stage"] as? String } == ["deploy", "page-oncall", "verify"])
        // The journals validate against the schema (stage_skipped included).
        for run in box.runs {
            let status = try box.pipeline(["status", run, "--json"])
            let statusPath = box.dir.appendingPathComponent("status.json").path
            try status.stdout.write(toFile: statusPath, atomically: true, encoding: .utf8)
            let checked = try JournalSchemaTests.runChecker(box.dir.appendingPathComponent(".pipeline/runs/\(run)").path, status: statusPath)
            #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
        }

        // The plan shows the condition and what it decides in each environment.
        let plan = try box.pipeline(["plan", "--env", "staging", "p.yml"])
        #expect(plan.stdout.contains("skipped here: page-oncall"), "\(plan.stdout)")
        #expect(
            plan.stdout.contains("if:       environment.name == 'production' [here: 'staging' == 'production'] (false: skipped)"), "\(plan.stdout)")
        let prodPlan = try box.pipeline(["plan", "--env", "production", "p.yml"])
        #expect(prodPlan.stdout.contains("(true: runs)") && !prodPlan.stdout.contains("skipped here"), "\(prodPlan.stdout)")
        for format in ["markdown", "mermaid", "dot", "json"] {
            let rendered = try box.pipeline(["plan", "--env", "staging", "p.yml", "--format", format])
            #expect(rendered.status == 0)
            #expect(rendered.stdout.contains("environment.name == 'production'"), "\(format): \(rendered.stdout)")
        }
        let json = try box.pipeline(["plan", "--env", "staging", "p.yml", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let page = try #require((object["stages"] as? [[String: Any]])?.first { $0["id"] as? String == "page-oncall" })
        #expect((page["if"] as? [String: Any])?["decision"] as? Bool == false)
        #expect(page["skipped"] as? String == "if: false")
    }

    @Test func inputsAndRunTimeValuesDecideAndDependentsOfASkippedStageStillRun() throws {
        let box = try Sandbox(
            """
            version: 1
            name: maint
            inputs:
              mode: {default: compatible}
              replicas: {type: number, default: "2"}
            env:
              REGION: eu
            stages:
              - id: check
                outputs: [changed, count]
                run: printf 'changed=yes\\ncount=3\\n' >> "$PIPELINE_OUTPUTS"
              - id: maintenance-on
                if: inputs.mode == 'maintenance'
                outputs: [since]
                run: echo "since=now" >> "$PIPELINE_OUTPUTS"; echo maintenance-on >> ledger
              - id: migrate
                run: echo migrate >> ledger
              - id: announce
                needs: [maintenance-on]
                env:
                  SINCE: ${{ stages.maintenance-on.outputs.since }}
                run: echo "announce $SINCE" >> ledger
              - id: scale
                needs: [check, migrate]
                if: (stages.check.outputs.count == 3 && inputs.replicas != 3) || env.REGION == 'us'
                run: echo scale >> ledger
              - id: unchanged
                needs: [check, migrate]
                if: stages.check.outputs.changed != 'yes'
                run: echo unchanged >> ledger
            """)
        defer { box.remove() }
        let first = try box.pipeline(["run", "p.yml"])
        #expect(first.status == 0, "\(first.stderr)")
        // migrate needs the skipped maintenance-on and runs; announce reads its output and is skipped too.
        #expect(Ledger(box).lines == ["migrate", "scale"], "\(Ledger(box).text)")
        let skipped = Dictionary(
            uniqueKeysWithValues: Self.types(try Self.latest(box), "stage_skipped").map { ($0["stage"] as! String, $0["reason"] as! String) })
        #expect(
            skipped == [
                "maintenance-on": "if: inputs.mode == 'maintenance': false",
                "announce": "it reads an output of 'maintenance-on', which was skipped",
                "unchanged": "if: stages.check.outputs.changed != 'yes': false",
            ])
        #expect(Self.types(try Self.latest(box), "stage_skipped").first { $0["stage"] as? String == "announce" }?["condition"] == nil)
        let status = try box.pipeline(["status"])
        #expect(status.stdout.contains(/announce +skipped +\(it reads an output of 'maintenance-on', which was skipped\)/), "\(status.stdout)")

        try box.write("ledger", "")
        let second = try box.pipeline(["run", "p.yml", "--input", "mode=maintenance", "--input", "replicas=3"])
        #expect(second.status == 0, "\(second.stderr)")
        // migrate and announce both need only maintenance-on, so they may run in either order.
        let lines = Ledger(box).lines
        #expect(lines.first == "maintenance-on" && lines.dropFirst().sorted() == ["announce now", "migrate"], "\(Ledger(box).text)")
        #expect(Self.types(try Self.latest(box), "stage_skipped").compactMap { $0["stage"] as? String }.sorted() == ["scale", "unchanged"])
    }

    @Test func rollbackAfterAFailureNeverUndoesTheSkippedStageInTheMiddle() throws {
        let box = try Sandbox(
            """
            version: 1
            name: undo
            inputs:
              extra: {type: boolean, default: "false"}
            stages:
              - id: a
                run: echo a >> ledger
                rollback: echo undo-a >> ledger
              - id: b
                if: inputs.extra
                run: echo b >> ledger
                rollback: echo undo-b >> ledger
              - id: c
                run: echo c >> ledger
                rollback: echo undo-c >> ledger
              - id: d
                run: exit 1
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(Ledger(box).lines == ["a", "c", "undo-c", "undo-a"], "\(Ledger(box).text)")
        let events = try Self.latest(box)
        #expect(Self.types(events, "rollback_begun").first?["queue"] as? [String] == ["c", "a"])
        #expect(Self.types(events, "rollback_started").allSatisfy { $0["stage"] as? String != "b" })
        let stages = Sandbox.stages(try box.state())
        #expect(stages["b"]?["status"] as? String == "skipped")
        #expect(stages["b"]?["rollback"] is NSNull)
        #expect(stages["a"]?["status"] as? String == "rolled_back" && stages["c"]?["status"] as? String == "rolled_back")
        // `pipeline rollback` of the rolled-back run finds nothing more to undo, and b stays skipped.
        #expect(try box.state()["status"] as? String == "rolled_back")
    }

    @Test func aSkippedStageStaysSkippedWhenTheRunIsResumed() throws {
        let file = """
            version: 1
            name: resumed
            inputs:
              extra: {default: "off"}
            stages:
              - id: a
                run: echo a >> ledger
              - id: b
                if: inputs.extra == 'on'
                run: echo b >> ledger
              - id: c
                gate: {approval: true}
                run: echo c >> ledger
            """
        let box = try Sandbox(file)
        defer { box.remove() }
        let stopped = try box.pipeline(["run", "p.yml"])
        #expect(stopped.status == 4, "\(stopped.stderr)")
        // The condition would now be true; the resumed run keeps the recorded decision.
        try box.write("p.yml", file.replacingOccurrences(of: "default: \"off\"", with: "default: \"on\""))
        let resumed = try box.pipeline(["resume", "--force", "--approve", "c"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(Ledger(box).lines == ["a", "c"], "\(Ledger(box).text)")
        #expect(Self.types(try Self.latest(box), "stage_skipped").count == 1)
        #expect(Sandbox.stages(try box.state())["b"]?["status"] as? String == "skipped")
    }

    @Test func conditionsOfIncludedStagesReadTheirParametersAndPrefixedOutputs() throws {
        let box = try Sandbox(
            """
            version: 1
            name: regions
            stages:
              - include: stages/region.yml
                prefix: eu
                with: {region: eu, smoke: "yes"}
              - include: stages/region.yml
                prefix: us
                needs: []
                with: {region: us}
            """)
        defer { box.remove() }
        try box.write(
            "stages/region.yml",
            """
            version: 1
            kind: stages
            parameters:
              region:
              smoke: {default: "no"}
            stages:
              - id: deploy
                outputs: [healthy]
                env: {REGION: "${{ parameters.region }}"}
                run: echo "deploy $REGION" >> ledger; echo "healthy=yes" >> "$PIPELINE_OUTPUTS"
              - id: smoke
                if: parameters.smoke == 'yes' && stages.deploy.outputs.healthy == 'yes'
                env: {REGION: "${{ parameters.region }}"}
                run: echo "smoke $REGION" >> ledger
            """)
        let alone = try box.pipeline(["validate", "stages/region.yml"])
        #expect(alone.status == 0, "\(alone.stderr)")
        // Alone, a stage file knows no inputs or environment: conditions on them are checked where it is included.
        try box.write(
            "stages/flag.yml", "version: 1\nkind: stages\nstages:\n  - id: x\n    if: inputs.dry && environment.name == 'production'\n    run: 'true'\n")
        let flag = try box.pipeline(["validate", "stages/flag.yml"])
        #expect(flag.status == 0, "\(flag.stderr)")
        let result = try box.pipeline(["run", "p.yml", "--max-parallel", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Set(Ledger(box).lines) == ["deploy eu", "smoke eu", "deploy us"], "\(Ledger(box).text)")
        #expect(Self.types(try Self.latest(box), "stage_skipped").compactMap { $0["stage"] as? String } == ["us-smoke"])
    }
}
