import PipelineSpec
internal import CSystem
import FoundationEssentials
import Glibc

/// A script running as a child in its own process group, its stdout and stderr on one pipe.
/// Owned by the engine's loop; nothing here blocks.
final class ChildProcess {
    let pid: pid_t
    let fd: Int32
    let startedAt: Int
    /// What started it, and what signals and probes its group.
    private let spawner: any ProcessSpawner
    var deadline: Int?
    var exitStatus: Int32?
    var eof = false
    /// When SIGTERM went to the group; SIGKILL follows after the grace period.
    var terminatedAt: Int?
    var killed = false
    var timedOut = false
    /// When the script itself was reaped (a process it started may still hold the pipe).
    var exitedAt: Int?
    var pending: [UInt8] = []
    /// What each `read` fills: allocated on the first read, never zeroed (64 KB of stores per
    /// script); only the bytes a `read` returned are ever looked at.
    private var buffer: UnsafeMutableBufferPointer<UInt8>?
    static let readSize = 65536
    /// The most one ``readLines(masker:)`` call takes from the pipe.
    static let mostPerCall = 1 << 20
    /// Why the script could not be started (no shell, no descriptors): it then counts as an attempt
    /// that exited 127 at once, so retries and rollback apply as usual.
    private(set) var startError: String?
    /// Whether the output pipe is closed (at most once: a number closed twice may be someone else's).
    private var closed = false

    /// A script that could not start, recorded as if it had exited 127 at once; `token` is a negative
    /// key unique among the engine's jobs (never a pid, so no signal can be sent to it).
    init(failedToStart message: String, token: pid_t, now: Int) {
        precondition(token < 0)
        pid = token
        fd = -1
        spawner = SystemSpawner()
        startedAt = now
        exitStatus = 127 << 8
        eof = true
        closed = true
        startError = message
    }

    /// Spawns `argv` (argv[0] absolute) with `environment` in `directory`, through `spawner`.
    init(argv: [String], environment: [String], directory: String?, now: Int, spawner: any ProcessSpawner = SystemSpawner()) throws(EngineError) {
        (pid, fd) = try spawner.start(argv: argv, environment: environment, directory: directory)
        self.spawner = spawner
        startedAt = now
    }

    deinit { buffer?.deallocate() }

    var finished: Bool { exitStatus != nil && eof }

    /// Stops reading before EOF (a detached process still holds the pipe open).
    func closeOutput() {
        eof = true
        closeOnce()
    }

    private func closeOnce() {
        guard !closed else { return }
        closed = true
        close(fd)
    }

    /// A partial line longer than this is passed on in pieces (a script printing without newlines
    /// must not make the engine hold its whole output).
    static let longestLine = 65536

    /// Reads what is available; returns complete lines (the last partial line is kept until EOF,
    /// or passed on in pieces once it is longer than ``longestLine``).
    ///
    /// Each returned line is masked on its own by the caller, so a piece of a long line is cut
    /// where `masker` says (``SecretMasker/cut(_:)``): never through a secret, and keeping back
    /// enough bytes that a secret still arriving is masked with the next piece.
    ///
    /// Complete lines are decoded straight from the read buffer (one per line, nothing copied on the
    /// way); only a partial line is kept in ``pending``.
    func readLines(masker: SecretMasker? = nil) -> [String] {
        var lines: [String] = []
        guard !closed else { return lines }
        let buffer = self.buffer ?? UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Self.readSize)
        self.buffer = buffer
        var taken = 0
        while true {
            var n: Int
            repeat { n = Glibc.read(fd, buffer.baseAddress, buffer.count) } while n < 0 && errno == EINTR
            if n > 0 {
                splitLines(UnsafeBufferPointer(rebasing: buffer[0..<n]), into: &lines)
                taken += n
                // Bounded per call: a child writing as fast as this reads must not make one call
                // hold all it writes (a long partial line goes out in pieces, the rest waits in the pipe).
                if pending.count > Self.longestLine || taken >= Self.mostPerCall { break }
                continue
            }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { eof = true }
            break
        }
        if eof {
            if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)) }
            pending.removeAll()
        } else if pending.count > Self.longestLine {
            let cut = (masker ?? SecretMasker([])).cut(pending)
            lines.append(String(decoding: pending[..<cut], as: UTF8.self))
            pending.removeFirst(cut)
        }
        if eof { closeOnce() }
        return lines
    }

    /// Appends the complete lines of `chunk` (joined to ``pending`` for the first) to `lines`, and
    /// keeps what follows the last newline in ``pending``.
    private func splitLines(_ chunk: UnsafeBufferPointer<UInt8>, into lines: inout [String]) {
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if pending.isEmpty {
                lines.append(String(decoding: chunk[start..<newline], as: UTF8.self))
            } else {
                pending.append(contentsOf: chunk[start..<newline])
                lines.append(String(decoding: pending, as: UTF8.self))
                pending.removeAll(keepingCapacity: true)
            }
            start = newline + 1
        }
        pending.append(contentsOf: chunk[start...])
    }

    /// Sends a signal to the whole process group (grandchildren included).
    func signalGroup(_ sig: Int32) {
        guard pid > 0 else { return }
        spawner.signal(group: pid, sig)
    }

    /// Whether any process of the group is still alive.
    var groupAlive: Bool { pid > 0 && spawner.groupAlive(pid) }

    /// `exit 3`, `killed by SIGKILL`.
    var statusText: String {
        if let startError { return "could not start: \(startError)" }
        guard let status = exitStatus else { return "running" }
        let code = ps_exit_code(status)
        if code >= 0 { return "exit \(code)" }
        return "killed by \(String(cString: ps_signal_name(ps_term_signal(status))))"
    }

    var succeeded: Bool { exitStatus.map { ps_exit_code($0) == 0 } ?? false }
    var exitCode: Int? {
        exitStatus.flatMap {
            let c = ps_exit_code($0); return c >= 0 ? Int(c) : nil
        }
    }
    var signalName: String? {
        exitStatus.flatMap {
            let s = ps_term_signal($0); return s > 0 ? String(cString: ps_signal_name(s)) : nil
        }
    }
}
