// swift-tools-version: 6.0
import PackageDescription

// The binary's code sees only what each file imports (FoundationEssentials, not Foundation, whose
// members would otherwise leak in through swift-crypto), so the static release binary does not
// link Foundation: its ~800 protocol conformance records would be scanned at every start.
let essentialsOnly: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

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
        // The system libpq (Debian: libpq-dev), for the PostgreSQL state store: its header at build
        // time, the library loaded (dlopen) when a `--state postgres://…` first connects, so no
        // other command pays for loading it.
        .target(name: "CLibPQ"),
        // HTTP (probes, webhooks, Prometheus) through the system libcurl (Debian: libcurl4, headers
        // from libcurl4-openssl-dev), loaded when the first request runs, like libpq.
        .target(name: "CHTTP"),
        // The reader's event loop, in C: libyaml's events into the flat node arena (PipelineYAML only).
        .target(name: "CYAMLArena", dependencies: ["CYAML"]),
        // The only target that touches C: turns libyaml events into located Swift nodes.
        .target(name: "PipelineYAML", dependencies: ["CYAML", "CYAMLArena"], swiftSettings: essentialsOnly),
        // System calls Swift cannot reach directly: signalfd, wait-status macros, posix_spawn attributes.
        .target(name: "CSystem"),
        // The spec: model, decoding, graph, lint, plan, migration lint, diagnostics. Reads pipeline
        // files and says what they mean; runs nothing.
        .target(name: "PipelineSpec", dependencies: ["PipelineYAML"], swiftSettings: essentialsOnly),
        // The engine: journal, state store, execution, stage kinds. Builds on the spec, never the reverse.
        .target(
            name: "PipelineEngine",
            dependencies: ["PipelineSpec", "CSystem", "CLibPQ", "CHTTP", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: essentialsOnly
        ),
        // Both as one import (tests, the fuzz target).
        .target(name: "PipelineKit", dependencies: ["PipelineSpec", "PipelineEngine"]),
        .executableTarget(
            name: "pipeline",
            dependencies: [
                "PipelineSpec",
                "PipelineEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: essentialsOnly
        ),
        .testTarget(
            name: "PipelineKitTests",
            dependencies: ["PipelineKit", "PipelineSpec", "PipelineEngine", "PipelineYAML"],
            exclude: ["Fixtures"]
        ),
    ]
)
