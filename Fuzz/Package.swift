// swift-tools-version: 6.0
// The libFuzzer target on the loader, a package of its own so that the main package never
// links an executable without `main`: build it only through scripts/fuzz, which passes
// -sanitize=fuzzer (which links libFuzzer) and -parse-as-library; `PipelineFuzz_main` starts its driver.
import PackageDescription

let package = Package(
    name: "PipelineFuzz",
    dependencies: [.package(name: "pipeline", path: "..")],
    targets: [
        .executableTarget(name: "PipelineFuzz", dependencies: [.product(name: "PipelineKit", package: "pipeline")])
    ]
)
