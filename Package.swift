// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "pipeline",
    products: [
        .executable(name: "pipeline", targets: ["pipeline"]),
        .library(name: "PipelineKit", targets: ["PipelineKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
    ],
    targets: [
        // The system libyaml (Debian: libyaml-dev). No vendored copy.
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // The system libpq (Debian: libpq-dev), for the PostgreSQL state store.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // The only target that touches C: turns libyaml events into located Swift nodes.
        .target(name: "PipelineYAML", dependencies: ["CYAML"]),
        // System calls Swift cannot reach directly: signalfd, wait-status macros, posix_spawn attributes.
        .target(name: "CSystem"),
        // The spec: model, decoding, graph, lint, plan, migration lint, diagnostics. Reads pipeline
        // files and says what they mean; runs nothing.
        .target(name: "PipelineSpec", dependencies: ["PipelineYAML"]),
        // The engine: journal, state store, execution, stage kinds. Builds on the spec, never the reverse.
        .target(
            name: "PipelineEngine",
            dependencies: ["PipelineSpec", "CSystem", "CLibPQ", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Both as one import (tests, the fuzz target).
        .target(name: "PipelineKit", dependencies: ["PipelineSpec", "PipelineEngine"]),
        .executableTarget(
            name: "pipeline",
            dependencies: [
                "PipelineSpec",
                "PipelineEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PipelineKitTests",
            dependencies: ["PipelineKit", "PipelineSpec", "PipelineEngine", "PipelineYAML"],
            exclude: ["Fixtures"]
        ),
    ]
)
