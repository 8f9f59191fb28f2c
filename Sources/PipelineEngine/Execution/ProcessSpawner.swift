internal import CSystem
import FoundationEssentials
import Glibc
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

/// Real processes: `vfork` and `execve` (`ps_spawn`, in CSystem) with a new process group and
/// a reset signal mask, `waitpid`, `kill(-pgid, …)`. A script that is one plain command under the
/// default shell is executed directly, as `make` does (``SimpleCommand``).
public final class SystemSpawner: ProcessSpawner, @unchecked Sendable {
    public init() {}

    public func start(argv: [String], environment: [String], directory: String?) throws(EngineError) -> (pid: Int32, output: Int32) {
        if let command = SimpleCommand.direct(argv, environment: environment, directory: directory),
            case .success(let started) = launch(command.path, command.argv, command.given, directory, edit: command.pwd)
        {
            return started
        }
        // Not a plain command, or it would not execute as one: the shell runs it, and says why if it cannot.
        switch launch(argv[0], argv, environment, directory) {
        case .success(let started): return started
        case .failure(let error): throw error
        }
    }

    /// Starts `path` with `argv` and `environment` (with `edit` in place) in `directory`, its output on a new pipe.
    private func launch(
        _ path: String, _ argv: [String], _ environment: [String], _ directory: String?, edit: (index: Int?, entry: String)? = nil
    ) -> Result<(pid: Int32, output: Int32), EngineError> {
        var fds: [Int32] = [0, 0]
        guard ps_pipe_cloexec(&fds) == 0 else {
            return .failure(EngineError("cannot create a pipe: \(String(cString: strerror(errno)))", exitCode: 1))
        }
        var child: Int32 = 0
        let rc = CStrings.withVectors(argv, environment, edit: edit) { args, env in ps_spawn(&child, path, args, env, fds[1], directory) }
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            return .failure(EngineError("cannot start '\(path)': \(String(cString: strerror(rc)))", exitCode: 1))
        }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        return .success((child, fds[0]))
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

/// NUL-terminated vectors (`char *const argv[]`) for `posix_spawn`, every string in one allocation.
enum CStrings {
    /// Calls `body` with `first` and `second` as NULL-terminated arrays of C strings, valid only
    /// during the call; `edit` replaces the entry of `second` at its index (nil: adds it at the end).
    static func withVectors<R>(
        _ first: [String], _ second: [String], edit: (index: Int?, entry: String)? = nil,
        _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>, UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        // The entry replaced, or added at the end when nothing is replaced.
        let replaced = edit?.index
        let added = edit.flatMap { $0.index == nil ? $0.entry : nil }
        var bytes = edit.map { $0.entry.utf8.count + 1 } ?? 0
        for string in first { bytes += string.utf8.count + 1 }
        for string in second { bytes += string.utf8.count + 1 }
        let count = first.count + second.count + (added == nil ? 0 : 1)
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: max(1, bytes)) { storage in
            withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<CChar>?.self, capacity: count + 2) { pointers in
                var offset = 0
                var slot = 0
                func add(_ string: String) {
                    let start = storage.baseAddress! + offset
                    var string = string
                    string.withUTF8 { bytes in
                        if let base = bytes.baseAddress { memcpy(start, base, bytes.count) }
                        offset += bytes.count
                    }
                    storage[offset] = 0
                    offset += 1
                    pointers[slot] = start
                    slot += 1
                }
                for string in first { add(string) }
                pointers[slot] = nil
                slot += 1
                for index in second.indices {
                    if index == replaced, let edit { add(edit.entry) } else { add(second[index]) }
                }
                if let added { add(added) }
                pointers[slot] = nil
                let base = UnsafePointer(pointers.baseAddress!)
                return body(base, base + first.count + 1)
            }
        }
    }
}
