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
        for name in ["libswift", "libFoundation", "libdispatch", "libyaml", "libstdc++", "libcurl", "libpq"] {
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

    /// FoundationEssentials alone knows no named time zone: the release binary must carry ICU's
    /// tz database (TimeZoneCatalog links it), or every deploy window outside UTC is refused.
    @Test func theReleaseBinaryKnowsNamedTimeZones() throws {
        let release = try Self.releaseBinary()
        let box = try Sandbox(
            """
            version: 1
            name: zones
            stages:
              - id: a
                kind: command
                run: 'echo ran a > a.out'
                gate: { window: { days: [mon, tue, wed, thu, fri, sat, sun], hours: '00:00-24:00', timezone: Asia/Tokyo } }
            """)
        defer { box.remove() }
        let run = try Binary.run(executable: release, ["run", "p.yml"], in: box.dir)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(box.read("a.out") == "ran a\n")
        try "version: 1\nname: zones\nstages:\n  - { id: a, kind: command, run: 'true', gate: { window: { hours: '10:00-17:00', timezone: Mars/Olympus } } }\n"
            .write(to: box.dir.appendingPathComponent("mars.yml"), atomically: true, encoding: .utf8)
        let mars = try Binary.run(executable: release, ["validate", "mars.yml"], in: box.dir)
        #expect(mars.status != 0 && mars.output.contains("unknown time zone 'Mars/Olympus'"), "\(mars.stdout)\(mars.stderr)")
    }

    /// libcurl and libpq are loaded when first needed, not linked: with both made unloadable the
    /// release binary still starts, validates and runs a pipeline that needs neither; a stage
    /// that probes a URL fails with one line naming libcurl, and `--state postgres://…` exits 2
    /// naming libpq.
    @Test func libcurlAndLibpqAreLoadedOnlyWhenARunNeedsThem() throws {
        let release = try Self.releaseBinary()
        let box = try Sandbox(
            """
            version: 1
            name: nohttp
            stages:
              - { id: a, kind: command, run: 'echo ran a > a.out' }
            """)
        defer { box.remove() }
        try box.write(
            "http.yml",
            """
            version: 1
            name: http
            stages:
              - { id: check, kind: verify, http: { url: 'http://127.0.0.1:9/health', initial-delay: 0s, attempts: 1, failure-threshold: 1 } }
            """)
        // The libraries' real files, as the dynamic loader finds them: libpq, and both libcurl
        // builds the loader tries (OpenSSL's, then GnuTLS's).
        let found = try Binary.run(
            executable: "/bin/sh", ["-c", "/sbin/ldconfig -p | awk '/(libcurl|libcurl-gnutls)\\.so\\.4 |libpq\\.so\\.5 /{print $NF}' | xargs -r readlink -f"])
        let libraries = found.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("/") }
        try #require(
            libraries.contains { $0.contains("libcurl") } && libraries.contains { $0.contains("libpq") }, "libcurl or libpq not found: \(found.stdout)")
        func hidden(_ command: String) throws -> Binary.Result {
            let script = """
                set -e
                \(libraries.map { "mount --bind /dev/null '\($0)'" }.joined(separator: "\n"))
                cd '\(box.dir.path)'
                '\(release)' \(command)
                """
            return try Binary.run(executable: "/usr/bin/env", ["unshare", "--mount", "sh", "-c", script])
        }
        let version = try hidden("--version")
        #expect(version.status == 0 && !version.stdout.isEmpty, "\(version.stderr)")
        let run = try hidden("run p.yml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(box.read("a.out") == "ran a\n")
        let probe = try hidden("run http.yml")
        #expect(probe.status == 1, "\(probe.stdout)\(probe.stderr)")
        #expect((probe.stdout + probe.stderr).contains("HTTP needs libcurl"), "\(probe.stdout)\(probe.stderr)")
        let state = try hidden("run p.yml --state postgres://nobody@127.0.0.1:9/none")
        #expect(state.status == 2, "\(state.stdout)\(state.stderr)")
        #expect(state.stderr.contains("needs libpq"), "\(state.stderr)")
    }
}
