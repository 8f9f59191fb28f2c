import Foundation
import Testing

/// Every file in `pipelines/` is valid, with no warning even under `--strict`.
@Suite struct ExamplePipelineTests {
    static let files = ((try? FileManager.default.contentsOfDirectory(atPath: Binary.root.appendingPathComponent("pipelines").path)) ?? [])
        .filter { $0.hasSuffix(".yml") }.sorted()

    /// The stage files the examples include (`pipelines/stages/`).
    static let stageFiles = ((try? FileManager.default.contentsOfDirectory(atPath: Binary.root.appendingPathComponent("pipelines/stages").path)) ?? [])
        .filter { $0.hasSuffix(".yml") }.sorted()

    /// The required inputs of each example (the rest have defaults).
    static let inputs: [String: [String]] = [
        "orders.yml": ["--input", "sha=0a1b2c3d"],
        "storefront.yml": ["--input", "image=2026.12.01-3"],
        "azure-bluegreen.yml": ["--input", "sha=1a2b3c4"],
    ]

    /// The environments each example declares.
    static let environments: [String: [String]] = [
        "orders.yml": ["staging", "production"], "storefront.yml": ["staging", "production"], "azure-bluegreen.yml": ["staging", "production"],
    ]

    @Test func theExamplesExist() {
        for name in ["orders.yml", "storefront.yml", "demo.yml", "regions.yml"] { #expect(Self.files.contains(name)) }
        #expect(Self.stageFiles.contains("region.yml"))
    }

    @Test("an example's stage file validates alone", arguments: stageFiles)
    func stageFileValidatesAlone(_ name: String) throws {
        let result = try Binary.run(["validate", "--strict", "pipelines/stages/\(name)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "pipelines/stages/\(name): valid\n")
    }

    /// Without --env, validate checks every environment the file declares.
    @Test("example validates cleanly under --strict", arguments: files)
    func validatesStrictly(_ name: String) throws {
        let result = try Binary.run(["validate", "--strict", "pipelines/\(name)"] + (Self.inputs[name] ?? []))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "pipelines/\(name): valid\n")
    }

    /// `run --dry-run` checks what `validate` checks, the migration lint included: the
    /// examples' `lint.paths` name real migrations (pipelines/orders/migrations).
    @Test("example passes run --dry-run in each environment", arguments: files)
    func dryRunPasses(_ name: String) throws {
        for environment in Self.environments[name] ?? [] {
            let result = try Binary.run(["run", "--dry-run", "pipelines/\(name)", "--env", environment] + (Self.inputs[name] ?? []))
            #expect(result.status == 0, "\(environment): \(result.stderr)")
            #expect(result.stdout.contains("environment: \(environment) ("), "\(result.stdout)")
        }
        if Self.environments[name] == nil {
            let result = try Binary.run(["run", "--dry-run", "pipelines/\(name)"] + (Self.inputs[name] ?? []))
            #expect(result.status == 0, "\(result.stderr)")
        }
    }
}
