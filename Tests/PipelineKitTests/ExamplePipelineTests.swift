import Foundation
import Testing

/// Every file in `pipelines/` is valid, with no warning even under `--strict`.
@Suite struct ExamplePipelineTests {
    static let files = ((try? FileManager.default.contentsOfDirectory(atPath: Binary.root.appendingPathComponent("pipelines").path)) ?? [])
        .filter { $0.hasSuffix(".yml") }.sorted()

    @Test func theExamplesExist() {
        for name in ["prod.yml", "staging.yml", "demo.yml"] { #expect(Self.files.contains(name)) }
    }

    @Test("example validates cleanly under --strict", arguments: files)
    func validatesStrictly(_ name: String) throws {
        let result = try Binary.run(["validate", "--strict", "pipelines/\(name)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "pipelines/\(name): valid\n")
    }
}
