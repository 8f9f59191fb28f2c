internal import CSystem
import Foundation
import PipelineSpec

/// How the engine starts its scripts and watches them: real processes in their own process
/// groups (``SystemSpawner``), or, in tests, simulated ones that run on the engine's clock, so
/// scheduling, retries, gates, timeouts and rollback are exercised in-process without a shell.
public protocol ProcessSpawner: AnyObject, Sendable {
    /// Starts `argv` (argv[0] absolute) in a new process group with `environment` in `directory`,
    /// stdin from /dev/null, stdout and stderr on one pipe.
    /// - Returns: the process (and group) id, and the pipe's read end, non-blocking and close-on-exec.
    func start(argv: [String], environment: [String], directory: String?) throws(EngineError) -> (pid: Int32, output: Int32)
    /// The wait status of `pid` once it has exited (it is reaped then), else nil. Never blocks.
    func reap(_ pid: Int32) -> Int32?
    /// Sends `signal` to the whole process group `pid`.
    func signal(group pid: Int32, _ signal: Int32)
    /// Whether any process of group `pid` is alive.
    func groupAlive(_ pid: Int32) -> Bool
    /// For simulated processes: when (on the engine's clock) the next one changes state; nil for
    /// real processes, which change state in real time.
    func nextChange() -> Int?
    /// For simulated processes: lets those whose time has come act (print, exit).
    func advance(to now: Int)
}

/// Real processes: `posix_spawn` with a new process group and a reset signal mask, `waitpid`,
/// `kill(-pgid, …)`.
public final class SystemSpawner: ProcessSpawner, @unchecked Sendable {
    public init() {}

    public func start(argv: [String], environment: [String], directory: String?) throws(EngineError) -> (pid: Int32, output: Int32) {
        var fds: [Int32] = [0, 0]
        guard ps_pipe_cloexec(&fds) == 0 else { throw EngineError("cannot create a pipe: \(String(cString: strerror(errno)))", exitCode: 1) }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var child: Int32 = 0
        let rc = cArgs.withUnsafeBufferPointer { args in
            cEnv.withUnsafeBufferPointer { env in
                ps_spawn(&child, args.baseAddress, env.baseAddress, fds[1], directory)
            }
        }
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw EngineError("cannot start '\(argv[0])': \(String(cString: strerror(rc)))", exitCode: 1)
        }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        return (child, fds[0])
    }

    public func reap(_ pid: Int32) -> Int32? {
        if case .exited(let status) = Posix.reap(pid) { return status }
        return nil
    }

    public func signal(group pid: Int32, _ signal: Int32) {
        guard pid > 0 else { return }
        _ = kill(-pid, signal)
    }

    public func groupAlive(_ pid: Int32) -> Bool { pid > 0 && kill(-pid, 0) == 0 }

    public func nextChange() -> Int? { nil }

    public func advance(to now: Int) {}
}
