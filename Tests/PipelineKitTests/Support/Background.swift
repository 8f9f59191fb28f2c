import Foundation

/// The built binary (or any executable) started in the background: output to files, signals
/// sent to it by pid, and every wait bounded by a deadline (a hung engine fails the test, it
/// does not hang it). Waits use `waitpid(WNOHANG)` polling, never Foundation's Process.
final class Background {
    let pid: pid_t
    private let scratch: URL
    private var status: Int32?

    /// Starts `pipeline ARGS…` in `directory` (same minimal environment as ``Binary/run``).
    convenience init(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws {
        try self.init(executable: Binary.path, arguments, in: directory, environment: environment)
    }

    /// Starts a shell script in `directory` with `$PIPELINE` set to the binary.
    static func shell(_ script: String, in directory: URL, environment: [String: String] = [:]) throws -> Background {
        var env = environment
        env["PIPELINE"] = Binary.path
        return try Background(executable: "/bin/sh", ["-c", script], in: directory, environment: env)
    }

    init(executable: String, _ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-bg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, scratch.appendingPathComponent("out").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, scratch.appendingPathComponent("err").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "NO_COLOR": "1"]
        for (k, v) in environment { env[k] = v }
        // `exec` so the pid is the executable's own (signals reach it, not a wrapper).
        let argv = (["/usr/bin/env", "-C", directory.path, executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        var attributes = Binary.cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        let rc = posix_spawn(&child, "/usr/bin/env", &actions, &attributes, argv, envp)
        guard rc == 0 else { throw Binary.SpawnError(code: rc, executable: executable) }
        pid = child
    }

    deinit {
        if status == nil {
            kill(pid, SIGKILL)
            var s: Int32 = 0
            waitpid(pid, &s, 0)
        }
        try? FileManager.default.removeItem(at: scratch)
    }

    var stdout: String { (try? String(contentsOf: scratch.appendingPathComponent("out"), encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: scratch.appendingPathComponent("err"), encoding: .utf8)) ?? "" }
    var output: String { stdout + stderr }

    func signal(_ sig: Int32) { if status == nil { kill(pid, sig) } }

    /// Whether it has exited (reaps it if so).
    var hasExited: Bool { poll() != nil }

    private func poll() -> Int32? {
        if let status { return status }
        var raw: Int32 = 0
        let r = waitpid(pid, &raw, WNOHANG)
        guard r == pid else { return nil }
        let code: Int32 = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status = code
        return code
    }

    /// The exit status (128 + signal when killed), or nil if it is still running at the deadline.
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let code = poll() { return code }
            if Date() >= deadline { return nil }
            usleep(20_000)
        }
    }

    /// Waits; on the deadline kills it (SIGKILL) and returns nil.
    func waitOrKill(seconds: Double) -> Int32? {
        if let code = wait(seconds: seconds) { return code }
        kill(pid, SIGKILL)
        _ = wait(seconds: 10)
        return nil
    }
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held.
@discardableResult
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if condition() { return true }
        if Date() >= deadline { return false }
        usleep(20_000)
    }
}

/// Whether a process (not a zombie) is alive.
func processIsAlive(_ pid: Int32) -> Bool { !processIsGone(pid) }

/// Runs `pipeline ARGS` in `box` with a bound: nil status when it had not returned by then (it is killed).
struct BoundedResult {
    var status: Int32?
    var stdout: String
    var stderr: String
    var output: String { stdout + stderr }
    /// Whether it returned before the bound.
    var returned: Bool { status != nil }
}

extension Sandbox {
    func pipeline(_ args: [String], env: [String: String] = [:], within seconds: Double) throws -> BoundedResult {
        let job = try Background(args, in: dir, environment: env)
        let status = job.waitOrKill(seconds: seconds)
        return BoundedResult(status: status, stdout: job.stdout, stderr: job.stderr)
    }

    func shell(_ script: String, env: [String: String] = [:], within seconds: Double) throws -> BoundedResult {
        let job = try Background.shell(script, in: dir, environment: env)
        let status = job.waitOrKill(seconds: seconds)
        return BoundedResult(status: status, stdout: job.stdout, stderr: job.stderr)
    }

    /// Starts `pipeline ARGS` in the background in the sandbox.
    func background(_ args: [String], env: [String: String] = [:]) throws -> Background {
        try Background(args, in: dir, environment: env)
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: dir.appendingPathComponent(relative).path) }

    /// Writes a file into the sandbox, creating its directory (an included stage file in `stages/`).
    func write(_ relative: String, _ text: String) throws {
        let url = dir.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// A pid a script wrote to `relative` (nil until written).
    func pid(_ relative: String) -> Int32? { Int32(read(relative).trimmingCharacters(in: .whitespacesAndNewlines)) }
}
