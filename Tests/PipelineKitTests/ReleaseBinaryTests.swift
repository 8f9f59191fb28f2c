import Foundation
import Testing

/// The release binary (`scripts/release`) runs where neither Swift nor libyaml is installed:
/// `ldd` lists no Swift library and no libyaml, and in a mount namespace where the toolchain's
/// libraries and libyaml are hidden it still validates and runs a pipeline, while the debug
/// binary (dynamically linked) cannot even start there.
@Suite(.serialized, .timeLimit(.minutes(30))) struct ReleaseBinaryTests {
    /// `$PIPELINE_TEST_RELEASE_BIN` (scripts/test builds it first), else built here.
    static func releaseBinary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["PIPELINE_TEST_RELEASE_BIN"], !path.isEmpty { return path }
        let built = try Binary.run(
            executable: Binary.root.appendingPathComponent("scripts/release").path, ["--bin-only"],
            environment: ["HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/root"])
        try #require(built.status == 0, "scripts/release --bin-only failed: \(built.stderr.suffix(2000))")
        let path = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.hasPrefix("/") ? path : Binary.root.appendingPathComponent(path).path
    }

    static func ldd(_ path: String) throws -> String {
        try Binary.run(executable: "/usr/bin/env", ["ldd", path]).stdout
    }

    @Test func theReleaseBinaryNeedsNeitherSwiftNorLibyaml() throws {
        let release = try Self.releaseBinary()
        let libraries = try Self.ldd(release)
        #expect(!libraries.isEmpty)
        for name in ["libswift", "libFoundation", "libdispatch", "libyaml"] {
            #expect(!libraries.contains(name), "the release binary needs \(name): \(libraries)")
        }
        // What the debug binary loads from the toolchain and libyaml: hidden below.
        let debug = try Self.ldd(Binary.path)
        let swiftCore = try #require(debug.split(separator: "\n").first { $0.contains("libswiftCore.so") })
        let toolchainLib = String(swiftCore.split(separator: " ")[2]).split(separator: "/").dropLast().joined(separator: "/")
        let yamlLine = try #require(debug.split(separator: "\n").first { $0.contains("libyaml") })
        let yaml = String(yamlLine.split(separator: " ")[2])

        let box = try Sandbox(
            """
            version: 1
            name: anywhere
            stages:
              - { id: a, kind: command, run: 'echo ran a > a.out' }
              - { id: verify, kind: verify, smoke: ['test -s a.out'] }
            """)
        defer { box.remove() }
        func hidden(_ binary: String, _ command: String) throws -> Binary.Result {
            let script = """
                set -e
                mount -t tmpfs none '/\(toolchainLib)'
                mount --bind /dev/null "$(readlink -f '\(yaml)')"
                cd '\(box.dir.path)'
                '\(binary)' \(command)
                """
            return try Binary.run(executable: "/usr/bin/env", ["unshare", "--mount", "sh", "-c", script])
        }
        let cannot = try hidden(Binary.path, "--version")
        #expect(cannot.status != 0, "the libraries were not hidden: the debug binary started")
        let version = try hidden(release, "--version")
        #expect(version.status == 0 && !version.stdout.isEmpty, "\(version.stderr)")
        let validate = try hidden(release, "validate p.yml")
        #expect(validate.status == 0, "\(validate.stderr)")
        let run = try hidden(release, "run p.yml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(box.read("a.out") == "ran a\n")
    }
}
