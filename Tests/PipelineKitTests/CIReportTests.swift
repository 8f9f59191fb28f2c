import Foundation
import Testing

/// What CI sees of a run: output streamed live in GitHub Actions (grouped, or prefixed when stages
/// run side by side), `::error` annotations on the failed stage, a step summary written even when
/// its file does not exist yet, `--junit` reports valid against schemas/junit.xsd, and
/// `--output json` carrying exactly the journal's lines.
@Suite(.serialized, .timeLimit(.minutes(3))) struct CIReportTests {
    static let failing = """
        version: 1
        name: shop
        stages:
          - { id: build, kind: command, run: "echo compiled" }
          - id: api
            kind: backend
            run: "echo deploying api; exit 3"
            rollback: "echo undoing api"
          - { id: verify, kind: verify, smoke: ["true"] }
        """

    @Test func aStagesOutputIsShownWhileItRuns() throws {
        let box = try Sandbox(
            """
            version: 1
            name: live
            stages:
              - { id: slow, kind: command, run: 'echo first; while [ ! -e go ]; do sleep 0.05; done; echo second' }
            """)
        defer { box.remove() }
        let job = try box.background(["run", "p.yml"], env: ["GITHUB_ACTIONS": "true"])
        // The first line is in the log while the stage is still waiting for `go`.
        #expect(waitUntil(seconds: 30) { job.stdout.contains("::group::slow attempt 1\nfirst\n") }, "\(job.output)")
        #expect(!job.stdout.contains("second"))
        _ = FileManager.default.createFile(atPath: box.dir.appendingPathComponent("go").path, contents: nil)
        #expect(job.wait(seconds: 60) == 0, "\(job.output)")
        #expect(job.stdout.contains("first\nsecond\n[slow] attempt 1: succeeded\n::endgroup::\n"), "\(job.stdout)")
    }

    @Test func stagesSideBySideArePrefixedLiveAndGroupedWhenTheyEnd() throws {
        let box = try Sandbox(
            """
            version: 1
            name: fan
            stages:
              - { id: one, kind: command, needs: [], run: 'echo "one says hi"; touch one.up; while [ ! -e go ]; do sleep 0.05; done' }
              - { id: two, kind: command, needs: [], run: 'echo "two says hi"; touch two.up; while [ ! -e go ]; do sleep 0.05; done' }
            """)
        defer { box.remove() }
        let job = try box.background(["run", "p.yml", "--max-parallel", "2"], env: ["GITHUB_ACTIONS": "true"])
        #expect(waitUntil(seconds: 30) { box.exists("one.up") && box.exists("two.up") }, "\(job.output)")
        // Whichever started second is prefixed live; the first one's group was closed when it did.
        #expect(waitUntil(seconds: 30) { job.stdout.contains("[two] two says hi\n") || job.stdout.contains("[one] one says hi\n") }, "\(job.stdout)")
        _ = FileManager.default.createFile(atPath: box.dir.appendingPathComponent("go").path, contents: nil)
        #expect(job.wait(seconds: 60) == 0, "\(job.output)")
        let out = job.stdout
        #expect(out.contains("::group::one attempt 1: succeeded (its whole log)\none says hi\n::endgroup::"), "\(out)")
        #expect(out.contains("::group::two attempt 1: succeeded (its whole log)\ntwo says hi\n::endgroup::"), "\(out)")
        // Groups never nest: every ::group:: is closed before the next opens.
        var open = false
        for line in out.split(separator: "\n") {
            if line.hasPrefix("::group::") {
                #expect(!open, "a group opened inside another: \(out)")
                open = true
            } else if line == "::endgroup::" {
                open = false
            }
        }
        #expect(!open)
    }

    @Test func aFailedRunIsAnnotatedAndSummarisedEvenWithoutASummaryFile() throws {
        let box = try Sandbox(Self.failing)
        defer { box.remove() }
        let summary = box.dir.appendingPathComponent("step/summary.md")
        try FileManager.default.createDirectory(at: summary.deletingLastPathComponent(), withIntermediateDirectories: true)
        let result = try box.pipeline(["run", "p.yml"], env: ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary.path])
        #expect(result.status == 1, "\(result.output)")
        let run = try #require(box.runs.first)
        #expect(
            result.stdout.contains(
                "::error file=p.yml,line=5,title=stage 'api' failed::pipeline 'shop', run \(run): stage 'api' failed: exit 3 on attempt 1 of 1%0A"),
            "\(result.stdout)")
        #expect(result.stdout.contains("deploying api"), "the annotation carries the log's tail: \(result.stdout)")
        let text = try String(contentsOf: summary, encoding: .utf8)
        #expect(text.hasPrefix("### pipeline `shop`: rolled back\n"), "\(text)")
        #expect(text.contains("**Failed:** stage `api`: exit 3 on attempt 1 of 1 (log: `.pipeline/runs/\(run)/logs/api.1.log`)"), "\(text)")
        #expect(text.contains("| `api` | rolled back | 1 | ") && text.contains("| `build` | succeeded | 1 | "), "\(text)")
        #expect(text.contains("| `verify` | pending | 0 | — | — |"), "\(text)")
        #expect(!text.contains("0.0"), "durations are for people (8ms, 1.2s), not 0.009s: \(text)")
    }

    @Test func aFailedRollbackTellsAHumanWhatToDo() throws {
        let box = try Sandbox(
            """
            version: 1
            name: stuck
            stages:
              - { id: api, kind: backend, run: "true", rollback: "echo cannot; exit 1" }
              - { id: web, kind: frontend, run: "exit 2", rollback: "true" }
            """)
        defer { box.remove() }
        let summary = box.dir.appendingPathComponent("summary.md")
        let result = try box.pipeline(["run", "p.yml", "--junit", "report.xml"], env: ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary.path])
        #expect(result.status == 3, "\(result.output)")
        #expect(result.stdout.contains("::error file=p.yml,line=4,title=rollback of 'api' failed::the rollback of stage 'api' failed"), "\(result.stdout)")
        let text = try String(contentsOf: summary, encoding: .utf8)
        #expect(text.contains("**A human must act:** the rollback did not finish; still applied: `api`."), "\(text)")
        #expect(text.contains("pipeline rollback \(try #require(box.runs.first))"), "\(text)")
        let xml = box.read("report.xml")
        #expect(xml.contains("<testcase name=\"api (rollback)\" classname=\"stuck\""), "\(xml)")
        #expect(xml.contains("<error message=\"the rollback failed: a human must undo 'api'\" type=\"rollback\">cannot</error>"), "\(xml)")
        try Self.expectValidJUnit(box.dir.appendingPathComponent("report.xml").path)
    }

    static func expectValidJUnit(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let schema = Binary.root.appendingPathComponent("schemas/junit.xsd").path
        let check = try Binary.run(executable: "/usr/bin/env", ["xmllint", "--noout", "--schema", schema, path])
        #expect(check.status == 0, "xmllint (scripts/install-deps --test installs libxml2-utils): \(check.stderr)", sourceLocation: sourceLocation)
    }

    @Test func aJUnitReportHasATestcasePerStageAndPerVerifiedURL() throws {
        let server = try ScriptedServer(["/health": [["status": 200, "body": "ok"]]])
        defer { server.stop() }
        let box = try Sandbox(
            """
            version: 1
            name: shop
            stages:
              - { id: build, kind: command, run: "echo compiled" }
              - { id: api, kind: backend, run: "echo 'deploying <api> & co'", rollback: "true" }
              - { id: verify, kind: verify, http: { url: "\(server.base)/health" } }
            """)
        defer { box.remove() }
        let ok = try box.pipeline(["run", "p.yml", "--junit", "ok.xml"])
        #expect(ok.status == 0, "\(ok.output)")
        try Self.expectValidJUnit(box.dir.appendingPathComponent("ok.xml").path)
        let xml = box.read("ok.xml")
        #expect(xml.contains("<testsuite name=\"shop\" tests=\"4\" failures=\"0\" errors=\"0\" skipped=\"0\""), "\(xml)")
        #expect(xml.contains("<testcase name=\"verify › \(server.base)/health\" classname=\"shop\""), "\(xml)")
        #expect(xml.contains("deploying &lt;api&gt; &amp; co"), "\(xml)")

        let failing = try Sandbox(Self.failing)
        defer { failing.remove() }
        #expect(try failing.pipeline(["run", "p.yml", "--junit", "bad.xml"]).status == 1)
        try Self.expectValidJUnit(failing.dir.appendingPathComponent("bad.xml").path)
        let bad = failing.read("bad.xml")
        #expect(bad.contains("failures=\"1\" errors=\"0\" skipped=\"1\""), "\(bad)")
        #expect(bad.contains("<failure message=\"exit 3 on attempt 1 of 1\" type=\"stage\">"), "\(bad)")
        #expect(bad.contains("<skipped message=\"not run (the run ended rolled back before it)\"/>"), "\(bad)")
    }

    /// The environment and release of a run are in its step summary, annotations and JUnit report.
    @Test func reportsNameTheEnvironmentAndRelease() throws {
        let box = try Sandbox(
            """
            version: 1
            name: shop
            inputs:
              version: {type: string, required: true}
            release: ${{ inputs.version }}
            environments:
              staging: {}
              production: {}
            stages:
              - { id: api, kind: backend, run: "exit 3", rollback: "true" }
              - { id: verify, kind: verify, smoke: ["true"] }
            """)
        defer { box.remove() }
        let summary = box.dir.appendingPathComponent("summary.md")
        let result = try box.pipeline(
            ["run", "p.yml", "--env", "staging", "--input", "version=v42", "--junit", "r.xml"],
            env: ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary.path])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stdout.contains("::pipeline 'shop' in 'staging', run "), "\(result.stdout)")
        let text = try String(contentsOf: summary, encoding: .utf8)
        #expect(text.hasPrefix("### pipeline `shop` in `staging`: rolled back\n\nRun `"), "\(text)")
        #expect(text.contains(" of release `v42`, started "), "\(text)")
        try Self.expectValidJUnit(box.dir.appendingPathComponent("r.xml").path)
        let xml = box.read("r.xml")
        #expect(xml.contains("<testsuite name=\"shop@staging\""), "\(xml)")
        #expect(xml.contains("<property name=\"environment\" value=\"staging\"/>") && xml.contains("<property name=\"release\" value=\"v42\"/>"), "\(xml)")
    }

    @Test func jsonOutputIsTheJournalLineForLine() throws {
        let box = try Sandbox(Self.failing)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml", "--output", "json"])
        #expect(result.status == 1, "\(result.output)")
        let journal = box.read(".pipeline/runs/\(try #require(box.runs.first))/events.jsonl")
        #expect(result.stdout == journal, "stdout:\n\(result.stdout)\njournal:\n\(journal)")
        #expect(result.stderr.contains("[api] deploying api") && result.stderr.contains("[api] failed after 1 attempt"), "\(result.stderr)")
        for line in result.stdout.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not one JSON object: \(line)")
        }
        let rollback = try box.pipeline(["rollback", "--output", "json"])
        #expect(rollback.status == 0 && rollback.stdout.isEmpty == false || rollback.stderr.contains("already rolled back"), "\(rollback.output)")
    }
}
