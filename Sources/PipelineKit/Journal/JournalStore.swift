import CSystem
import Foundation

/// The files of runs under a state directory (default `.pipeline/`):
/// `runs/<run-id>/events.jsonl` (the write-ahead log), `state.json` (snapshot), `logs/`, `outputs/`;
/// `locks/<pipeline>.lock`. Directories are 0700 and files 0600: they hold operational detail.
public struct JournalStore: Sendable {
    /// The state directory.
    public let root: String

    /// Creates a store rooted at a directory (created on first write).
    public init(root: String) { self.root = root }

    /// The directory of a run.
    public func runDirectory(_ run: String) -> String { root + "/runs/" + run }

    /// Creates `path` and its parents with mode 0700.
    public static func makeDirectory(_ path: String) throws(EngineError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw EngineError("cannot create directory '\(current)': \(String(cString: strerror(errno)))")
            }
        }
        chmod(path, 0o700)
    }

    /// A new, sortable run id: `20261122T103000Z-3fa9c1`.
    public static func newRunID(clock: EngineClock) -> String {
        let iso = EngineClock.iso(clock.wallMs())
        let compact = iso.prefix(19).filter { $0 != "-" && $0 != ":" }
        let random = String(UInt32.random(in: 0..<0xFFFFFF), radix: 16)
        return compact + "Z-" + String(repeating: "0", count: 6 - random.count) + random
    }

    /// Run ids in the store, oldest first.
    public func runIDs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/runs")) ?? [])
            .filter { FileManager.default.fileExists(atPath: runDirectory($0) + "/events.jsonl") }
            .sorted()
    }

    /// Loads a run by replaying its journal. A torn final line (a crash mid-write) is ignored;
    /// a bad line anywhere else is corruption and is reported, not guessed around.
    public func load(_ run: String) throws(EngineError) -> RunState {
        let path = runDirectory(run) + "/events.jsonl"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError("no run '\(run)' in \(root)")
        }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if let last = lines.last, last.isEmpty { lines.removeLast() } else if !lines.isEmpty { lines.removeLast() }  // torn tail
        var events: [JSONValue] = []
        events.reserveCapacity(lines.count)
        for (i, line) in lines.enumerated() {
            guard let event = JSONValue.parse(line) else {
                throw EngineError("\(path):\(i + 1): the journal is corrupt (a line in the middle is not JSON); not guessing")
            }
            events.append(event)
        }
        guard let state = RunState.replay(events) else {
            throw EngineError("run '\(run)' has no recorded start (the engine stopped while creating it); there is nothing to resume or undo")
        }
        return state
    }

    /// Writes `state.json` atomically: temp file, fsync, rename, fsync of the directory.
    public func writeSnapshot(_ state: RunState) {
        let dir = runDirectory(state.run)
        let temp = dir + "/.state.json.tmp"
        let text = state.json.pretty
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        fsync(fd)
        close(fd)
        rename(temp, dir + "/state.json")
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

/// An error the engine reports as one line and an exit code.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var exitCode: Int32
    public init(_ message: String, exitCode: Int32 = 2) {
        self.message = message
        self.exitCode = exitCode
    }
    public var description: String { message }
}

/// Appends events to a run's `events.jsonl`: each batch is one `write` and one `fdatasync`,
/// done before the engine acts on what the events say (write-ahead).
final class JournalWriter {
    private let fd: Int32
    private let clock: EngineClock
    private var appends = 0
    /// Test hook (`PIPELINE_TEST_CRASH_AT=N` or `N-half`): SIGKILL the engine at its Nth journal append,
    /// after it is durable, or halfway through writing it.
    private let crashAt: (count: Int, half: Bool)?

    init(path: String, clock: EngineClock) throws(EngineError) {
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EngineError("cannot open the journal '\(path)': \(String(cString: strerror(errno)))") }
        self.clock = clock
        // A crash mid-write leaves a torn last line; cut it off so new events start on a line of their own.
        let size = lseek(fd, 0, SEEK_END)
        if size > 0 {
            var keep = Int(size)
            var byte: UInt8 = 0
            while keep > 0, pread(fd, &byte, 1, off_t(keep - 1)) == 1, byte != UInt8(ascii: "\n") { keep -= 1 }
            if keep < Int(size) {
                ftruncate(fd, off_t(keep))
                fdatasync(fd)
            }
        }
        if let spec = ProcessInfo.processInfo.environment["PIPELINE_TEST_CRASH_AT"] {
            let half = spec.hasSuffix("-half")
            crashAt = Int(half ? String(spec.dropLast(5)) : spec).map { ($0, half) }
        } else {
            crashAt = nil
        }
    }

    deinit { close(fd) }

    /// Stamps and appends events durably.
    func append(_ events: [(type: String, fields: [(String, JSONValue)])]) throws(EngineError) {
        guard !events.isEmpty else { return }
        let time = clock.timestamp()
        let ms = clock.now()
        var text = ""
        for event in events {
            let object = JSONValue.object([("type", .string(event.type)), ("time", .string(time)), ("clock_ms", .int(ms))] + event.fields)
            text += object.compact + "\n"
        }
        appends += 1
        var bytes = Array(text.utf8)
        if let crash = crashAt, crash.count == appends, crash.half {
            bytes = Array(bytes.prefix(max(1, bytes.count / 2)))
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw EngineError("cannot write the journal: \(String(cString: strerror(errno)))", exitCode: 3)
            }
            offset += n
        }
        if fdatasync(fd) != 0 {
            throw EngineError("cannot sync the journal: \(String(cString: strerror(errno)))", exitCode: 3)
        }
        if let crash = crashAt, crash.count == appends { kill(getpid(), SIGKILL) }
    }
}

/// One run per state directory and pipeline: an exclusive `flock` the kernel releases if the
/// holder dies, with the holder's run id and pid in the file for the message.
public final class StateLock {
    private let fd: Int32

    /// Takes the lock.
    /// - Parameter wait: block until it is free instead of failing at once.
    /// - Throws: ``EngineError`` (exit 2) naming the holder's run and pid.
    public init(store: JournalStore, pipeline: String, run: String, wait: Bool) throws(EngineError) {
        try JournalStore.makeDirectory(store.root + "/locks")
        let path = store.root + "/locks/\(pipeline).lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EngineError("cannot open the lock '\(path)': \(String(cString: strerror(errno)))") }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            if errno == EINTR { continue }
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw EngineError("pipeline '\(pipeline)' is locked by another run (\(holder.isEmpty ? "holder unknown" : holder)); wait for it, or pass --wait-lock")
        }
        ftruncate(fd, 0)
        let text = "run \(run) pid \(getpid())\n"
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { close(fd) }
}
