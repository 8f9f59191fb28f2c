import Foundation
@testable import PipelineEngine
@testable import PipelineKit
@testable import PipelineSpec
import Testing

/// The JSON Schema, the format reference and the decoder describe the same format.
@Suite struct SchemaTests {
    static func schema() throws -> [String: Any] {
        let data = try Data(contentsOf: Binary.root.appendingPathComponent("schemas/pipeline.schema.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func keys(_ object: [String: Any]?) -> Set<String> {
        Set((object?["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
    }

    static func def(_ schema: [String: Any], _ name: String) -> [String: Any]? {
        (schema["$defs"] as? [String: Any])?[name] as? [String: Any]
    }

    static func names<K: CaseIterable & RawRepresentable>(_: K.Type) -> Set<String> where K.RawValue == String {
        Set(K.allCases.map(\.rawValue))
    }

    @Test func schemaListsExactlyTheKeysTheDecoderAccepts() throws {
        let schema = try Self.schema()
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect(Self.keys(schema) == Self.names(PipelineKey.self))
        #expect(Self.keys(Self.def(schema, "defaults")) == Self.names(DefaultsKey.self))
        #expect(Self.keys(Self.def(schema, "retryPolicy")) == Self.names(RetryKey.self))
        #expect(Self.keys(Self.def(schema, "stage")) == Self.names(StageKey.self))
        #expect(Self.keys(Self.def(schema, "gate")) == Self.names(GateKey.self))
        #expect(Self.keys(Self.def(schema, "window")) == Self.names(WindowKey.self))
        #expect(Self.keys(Self.def(schema, "approval")) == Self.names(ApprovalKey.self))
        #expect(Self.keys(Self.def(schema, "check")) == Self.names(CheckKey.self))
        #expect(Self.keys(Self.def(schema, "checkHttp")) == Self.names(CheckHTTPKey.self))
        #expect(Self.keys(Self.def(schema, "lint")) == Self.names(LintKey.self))
        #expect(Self.keys(Self.def(schema, "analysis")) == Self.names(AnalysisKey.self))
        #expect(Self.keys(Self.def(schema, "analysisHttp")) == Self.names(AnalysisHTTPKey.self))
        #expect(Self.keys(Self.def(schema, "analysisPrometheus")) == Self.names(AnalysisPrometheusKey.self))
        #expect(Self.keys(Self.def(schema, "verifyHttp")) == Self.names(VerifyHTTPKey.self))
        #expect(Self.keys(Self.def(schema, "notifyHook")) == Self.names(NotifyKey.self))
        #expect(Self.keys(Self.def(schema, "rollbackHooks")) == Self.names(RollbackHooksKey.self))
        #expect(Self.keys(Self.def(schema, "input")) == Self.names(InputKey.self))
        #expect(Self.keys(Self.def(schema, "environment")) == Self.names(EnvironmentKey.self))
    }

    @Test func schemaKnowsEveryKindAndRule() throws {
        let text = try String(contentsOf: Binary.root.appendingPathComponent("schemas/pipeline.schema.json"), encoding: .utf8)
        for kind in StageKind.allCases { #expect(text.contains("\"\(kind.rawValue)\""), "kind \(kind.rawValue)") }
        for rule in MigrationRule.allCases { #expect(text.contains("\"\(rule.rawValue)\""), "rule \(rule.rawValue)") }
        for rule in Linter.Rule.allCases { #expect(text.contains("\"\(rule.rawValue)\""), "lint rule \(rule.rawValue)") }
        for event in RunEvent.allCases { #expect(text.contains("\"\(event.rawValue)\""), "event \(event.rawValue)") }
    }

    @Test func formatReferenceDocumentsEveryKey() throws {
        let doc = try String(contentsOf: Binary.root.appendingPathComponent("docs/format.md"), encoding: .utf8)
        var all = Self.names(PipelineKey.self).union(Self.names(StageKey.self)).union(Self.names(RetryKey.self))
        all.formUnion(Self.names(GateKey.self)); all.formUnion(Self.names(WindowKey.self)); all.formUnion(Self.names(CheckKey.self))
        all.formUnion(Self.names(VerifyHTTPKey.self)); all.formUnion(Self.names(AnalysisKey.self)); all.formUnion(Self.names(AnalysisHTTPKey.self))
        all.formUnion(Self.names(LintKey.self)); all.formUnion(Self.names(DefaultsKey.self))
        all.formUnion(Self.names(AnalysisPrometheusKey.self)); all.formUnion(Self.names(CanaryStepKey.self))
        all.formUnion(Self.names(NotifyKey.self)); all.formUnion(Self.names(RollbackHooksKey.self))
        for event in RunEvent.allCases { #expect(doc.contains("`\(event.rawValue)`"), "docs/format.md explains event `\(event.rawValue)`") }
        all.formUnion(Self.names(InputKey.self)); all.formUnion(Self.names(EnvironmentKey.self))
        for key in all { #expect(doc.contains("`\(key)`"), "docs/format.md mentions `\(key)`") }
        for rule in Linter.Rule.allCases { #expect(doc.contains("`\(rule.rawValue)`"), "docs/format.md explains lint rule `\(rule.rawValue)`") }
    }

    @Test func schemaCommandPrintsTheCommittedSchema() throws {
        let result = try Binary.run(["schema"])
        #expect(result.status == 0)
        let committed = try String(contentsOf: Binary.root.appendingPathComponent("schemas/pipeline.schema.json"), encoding: .utf8)
        #expect(result.stdout == committed, "run scripts/embed-schema after editing the schema")
    }

    /// A third-party validator (python `jsonschema`) accepts every example and rejects structural mistakes.
    @Test func thirdPartyValidatorAgrees() throws {
        let script = Binary.root.appendingPathComponent("scripts/check-schema.py").path
        let examples =
            try FileManager.default.contentsOfDirectory(atPath: Binary.root.appendingPathComponent("pipelines").path)
            .filter { $0.hasSuffix(".yml") }.sorted().map { "pipelines/\($0)" }
            + ExamplePipelineTests.stageFiles.map { "pipelines/stages/\($0)" }
        #expect(examples.count >= 3)
        let good = try Binary.run(executable: "/usr/bin/env", ["python3", script] + examples)
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        let rejected = [
            "unknown-keys", "wrong-kind-keys", "bad-durations", "out-of-range", "wrong-types", "missing-required", "missing-stage-keys", "bad-ids", "bad-hooks",
        ]
        let bad = try Binary.run(
            executable: "/usr/bin/env", ["python3", script, "--expect-invalid"] + rejected.map { "Tests/PipelineKitTests/Fixtures/invalid/\($0).yml" })
        #expect(bad.status == 0, "\(bad.stdout)\(bad.stderr)")
    }
}
