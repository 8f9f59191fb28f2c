// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "pipeline",
    platforms: [.macOS(.v13)],
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
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]
        ),
        // The only target that touches C: turns libyaml events into located Swift nodes.
        .target(name: "PipelineYAML", dependencies: ["CYAML"]),
        // System calls Swift cannot reach directly: signalfd, wait-status macros, posix_spawn attributes.
        .target(name: "CSystem"),
        .target(
            name: "PipelineKit",
            dependencies: ["PipelineYAML", "CSystem", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "pipeline",
            dependencies: [
                "PipelineKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PipelineKitTests",
            dependencies: ["PipelineKit", "PipelineYAML"],
            exclude: ["Fixtures"]
        ),
    ]
)
