import Foundation

/// Runs the built `pipeline` executable as a real child process (posix_spawn + waitpid;
/// output captured through files so neither pipe can fill up).
struct Binary {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: String { stdout + stderr }
    }

    /// The package root (where Package.swift is).
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The `pipeline` executable built beside the test bundle.
    static let path: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the test runner is <bin>/pipelinePackageTests.xctest; on macOS it sits deeper.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("pipeline").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/pipeline").path
    }()

    /// Runs `pipeline ARGS…` in `directory` with `environment` added to a minimal one.
    static func run(_ arguments: [String], in directory: URL = root, environment: [String: String] = [:], stdin: String? = nil) throws -> Result {
        try run(executable: path, arguments, in: directory, environment: environment, stdin: stdin)
    }

    /// Runs any executable; returns its status and output.
    static func run(executable: String, _ arguments: [String], in directory: URL = root, environment: [String: String] = [:], stdin: String? = nil) throws
        -> Result
    {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("out").path
        let errPath = scratch.appendingPathComponent("err").path
        let inPath = scratch.appendingPathComponent("in").path
        _ = FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "NO_COLOR": "1"]
        for (k, v) in environment { env[k] = v }
        // `env -C DIR` changes directory in the child (posix_spawn's chdir action is not exported to Swift here).
        let argv = (["/usr/bin/env", "-C", directory.path, executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        var attributes = cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        let rc = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SpawnError(code: rc, executable: executable) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(
            status: exit,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Spawn attributes giving the child an empty signal mask and default handlers: the test
    /// runner blocks signals (SIGTERM among them) and a child would otherwise inherit that.
    static func cleanSignalAttributes() -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return attributes
    }

    struct SpawnError: Error, CustomStringConvertible {
        var code: Int32
        var executable: String
        var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }
}

/// Where fixtures live, and whether to rewrite golden files (`PIPELINE_UPDATE_GOLDEN=1 swift test`).
enum Fixtures {
    static let directory = Binary.root.appendingPathComponent("Tests/PipelineKitTests/Fixtures")
    static let update = ProcessInfo.processInfo.environment["PIPELINE_UPDATE_GOLDEN"] == "1"

    static func names(in folder: String, ext: String) -> [String] {
        let dir = directory.appendingPathComponent(folder)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasSuffix("." + ext) }.map { String($0.dropLast(ext.count + 1)) }.sorted()
    }

    static func read(_ relative: String) -> String? {
        try? String(contentsOf: directory.appendingPathComponent(relative), encoding: .utf8)
    }

    static func write(_ relative: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(relative), atomically: true, encoding: .utf8)
    }
}
