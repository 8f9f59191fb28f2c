import Foundation
import Testing

/// `pipeline plan` renders the example pipelines; golden files catch any change in output.
@Suite(.timeLimit(.minutes(2))) struct PlanCommandTests {
    static let formats: [(format: String, ext: String)] = [("text", "txt"), ("markdown", "md"), ("mermaid", "mmd"), ("dot", "dot"), ("json", "json")]
    /// Golden name → the example and the choices it is planned with.
    static let choices: [String: (file: String, args: [String])] = [
        "orders-staging": ("orders", ["--env", "staging", "--input", "sha=0a1b2c3d"]),
        "orders-production": ("orders", ["--env", "production", "--input", "sha=0a1b2c3d"]),
        "storefront-production": ("storefront", ["--env", "production", "--input", "image=2026.12.01-3"]),
        "demo": ("demo", []),
    ]
    static let examples = choices.keys.sorted()

    @Test("plan output matches its golden file", arguments: examples, formats.map(\.format))
    func golden(_ example: String, _ format: String) throws {
        let ext = Self.formats.first { $0.format == format }!.ext
        let (file, args) = Self.choices[example]!
        let result = try Binary.run(["plan", "pipelines/\(file).yml", "--format", format] + args)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let golden = "golden/\(example).\(ext)"
        if Fixtures.update { try Fixtures.write(golden, result.stdout) }
        let expected = try #require(Fixtures.read(golden), "missing \(golden): run with PIPELINE_UPDATE_GOLDEN=1 and review it")
        #expect(result.stdout == expected)
    }

    @Test func jsonPlanHasTheDocumentedShape() throws {
        let result = try Binary.run(["plan", "pipelines/orders.yml", "--format", "json", "--env", "production", "--input", "sha=0a1b2c3d"])
        let plan = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(plan["format"] as? Int == 1)
        #expect(plan["pipeline"] as? String == "orders")
        #expect((plan["environment"] as? [String: Any])?["requires"] as? [String] == ["staging"])
        #expect(plan["environments"] as? [String] == ["staging", "production"])
        #expect(plan["release"] as? String == "0a1b2c3d")
        #expect((plan["inputs"] as? [[String: Any]])?.first?["value"] as? String == "0a1b2c3d")
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
            let (file, args) = Self.choices[example]!
            let plan = try Binary.run(["plan", "pipelines/\(file).yml", "--format", "dot"] + args)
            let svg = try Binary.run(executable: dot!, ["-Tsvg"], stdin: plan.stdout)
            #expect(svg.status == 0, "\(svg.stderr)")
            #expect(svg.stdout.contains("<svg"))
            for id in plan.stdout.matches(of: /^  "([a-z0-9_-]+)" \[label/.anchorsMatchLineEndings()).map({ String($0.1) }) {
                #expect(svg.stdout.contains(">\(id.replacingOccurrences(of: "-", with: "&#45;"))</text>"), "node \(id) drawn")
            }
        }
    }
}
