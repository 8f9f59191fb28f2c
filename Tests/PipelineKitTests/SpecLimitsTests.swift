import Foundation
import Testing

/// F13: every number in the format is bounded when the file is validated, so a file that
/// validates cannot trap or overflow once it runs (docs/format.md, "Limits").
@Suite struct SpecLimitsTests {
    @Test("a retry backoff of 1e16 is a located validation error, not a crash at run time", .timeLimit(.minutes(2)))
    func hugeBackoffIsRefused() throws {
        let sandbox = try Sandbox(
            """
            version: 1
            name: f13
            stages:
              - id: a
                run: "true"
                retry: {attempts: 2, backoff: 1e16}
            """)
        defer { sandbox.remove() }
        let validate = try sandbox.pipeline(["validate", "p.yml"])
        #expect(validate.status == 2)
        #expect(
            validate.stderr.hasPrefix("p.yml:6:35: error: 'backoff' of 'retry' of stage 'a' must be between 1.0 and 1000, found 1e16\n"), "\(validate.stderr)")
        let run = try sandbox.pipeline(["run", "p.yml"])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(sandbox.runs.isEmpty, "nothing is journaled for an invalid file")
    }

    /// Every number at its limit validates, plans and runs (the run journals the definition,
    /// where the backoff once overflowed an Int).
    @Test("every field at its limit validates, plans and runs", .timeLimit(.minutes(2)))
    func fieldsAtTheirLimitsWork() throws {
        let sandbox = try Sandbox(
            """
            version: 1
            name: limits
            defaults:
              timeout: 720h
              retry: { attempts: 100, delay: 720h, backoff: 1000, max-delay: 720h }
            stages:
              - id: build
                run: "true"
                rollback: "true"
                gate: { wait: 0s }
            """)
        defer { sandbox.remove() }
        let validate = try sandbox.pipeline(["validate", "p.yml"])
        #expect(validate.status == 0, "\(validate.stderr)")
        let plan = try sandbox.pipeline(["plan", "--format", "json", "p.yml"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let run = try sandbox.pipeline(["run", "p.yml"])
        #expect(run.status == 0, "\(run.stderr)")
        let state = try sandbox.state()
        #expect(state["status"] as? String == "succeeded")
    }

    @Test("the JSON Schema states the same maximums as the decoder")
    func schemaStatesTheLimits() throws {
        let schema = try SchemaTests.schema()
        // A typed key also accepts a whole static reference (`anyOf: [the type, staticRef]`): the limit is on the type.
        func property(_ def: String, _ key: String) -> [String: Any]? {
            let found = (SchemaTests.def(schema, def)?["properties"] as? [String: Any])?[key] as? [String: Any]
            return (found?["anyOf"] as? [[String: Any]])?.first ?? found
        }
        #expect(property("retryPolicy", "attempts")?["maximum"] as? Int == 100)
        #expect(property("retryPolicy", "backoff")?["maximum"] as? Int == 1000)
        #expect(property("verifyHttp", "failure-threshold")?["maximum"] as? Int == 100)
        #expect(property("verifyHttp", "attempts")?["maximum"] as? Int == 10_000)
        let text = try String(contentsOf: Binary.root.appendingPathComponent("schemas/pipeline.schema.json"), encoding: .utf8)
        #expect(text.contains("at most 720h"), "the duration definition states its limit")
    }
}
