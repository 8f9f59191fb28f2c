import Foundation
import Testing

/// `pipeline plan` renders the example pipelines; golden files catch any change in output.
@Suite(.timeLimit(.minutes(2))) struct PlanCommandTests {
    static let formats: [(format: String, ext: String)] = [("text", "txt"), ("markdown", "md"), ("mermaid", "mmd"), ("dot", "dot"), ("json", "json")]
    static let examples = ["prod", "staging", "demo"]

    @Test("plan output matches its golden file", arguments: examples, formats.map(\.format))
    func golden(_ example: String, _ format: String) throws {
        let ext = Self.formats.first { $0.format == format }!.ext
        let result = try Binary.run(["plan", "pipelines/\(example).yml", "--format", format])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let golden = "golden/\(example).\(ext)"
        if Fixtures.update { try Fixtures.write(golden, result.stdout) }
        let expected = try #require(Fixtures.read(golden), "missing \(golden): run with PIPELINE_UPDATE_GOLDEN=1 and review it")
        #expect(result.stdout == expected)
    }

    @Test func jsonPlanHasTheDocumentedShape() throws {
        let result = try Binary.run(["plan", "pipelines/prod.yml", "--format", "json"])
        let plan = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(plan["format"] as? Int == 1)
        #expect(plan["pipeline"] as? String == "orders-prod")
        let waves = try #require(plan["waves"] as? [[String]])
        let stages = try #require(plan["stages"] as? [[String: Any]])
        #expect(waves.flatMap { $0 }.count == stages.count)
        // Stages come in execution order: every need appears before the stage that needs it.
        var seen = Set<String>()
        for stage in stages {
            let id = try #require(stage["id"] as? String)
            for need in try #require(stage["needs"] as? [String]) { #expect(seen.contains(need), "\(id) needs \(need)") }
            seen.insert(id)
            #expect(stage["kind"] is String)
            #expect(stage["timeout_ms"] is Int)
            #expect((stage["retry"] as? [String: Any])?["attempts"] is Int)
        }
        #expect((plan["warnings"] as? [Any])?.isEmpty == true)
    }

    @Test func markdownCarriesDiagramTableAndWarnings() throws {
        let result = try Binary.run(["plan", "lint/every-rule.yml", "--format", "markdown"], in: Fixtures.directory)
        #expect(result.status == 0)
        #expect(result.stdout.contains("```mermaid\nflowchart TD\n"))
        #expect(result.stdout.contains("| wave | stage | kind | needs | gate | timeout | retry | rollback |"))
        #expect(result.stdout.contains("- ⚠️ line 25: canary 'canary' ends at 50%"))
    }

    @Test func planOfAnInvalidFileExits2WithDiagnostics() throws {
        let result = try Binary.run(["plan", "invalid/cycle.yml"], in: Fixtures.directory)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("invalid/cycle.yml:5:5: error: cycle in 'needs': a -> c -> b -> a\n"))
    }

    @Test func dotRendersWithGraphviz() throws {
        let dot = ["/usr/bin/dot", "/usr/local/bin/dot"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try #require(dot != nil, "Graphviz is not installed: scripts/test installs it")
        for example in Self.examples {
            let plan = try Binary.run(["plan", "pipelines/\(example).yml", "--format", "dot"])
            let svg = try Binary.run(executable: dot!, ["-Tsvg"], stdin: plan.stdout)
            #expect(svg.status == 0, "\(svg.stderr)")
            #expect(svg.stdout.contains("<svg"))
            for id in plan.stdout.matches(of: /^  "([a-z0-9_-]+)" \[label/.anchorsMatchLineEndings()).map({ String($0.1) }) {
                #expect(svg.stdout.contains(">\(id.replacingOccurrences(of: "-", with: "&#45;"))</text>"), "node \(id) drawn")
            }
        }
    }
}
