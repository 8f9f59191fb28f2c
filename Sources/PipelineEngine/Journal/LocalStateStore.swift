import PipelineSpec
internal import CSystem
import FoundationEssentials
import Glibc

/// The files of runs under a state directory (default `.pipeline/`):
/// `runs/<run-id>/events.jsonl` (the write-ahead log), `state.json` (snapshot), `logs/`, `outputs/`;
/// `locks/<pipeline>.lock`; `sequence` (the order runs started in). Directories are 0700 and files
/// 0600: they hold operational detail. A state dir, `runs/` or `locks/` that is a symlink, is not
/// owned by the user or is writable by others is refused: a run planted there would be executed.
public struct LocalStateStore: StateStore {
    /// The state directory.
    public let root: String
    public var location: String { root }
    public var isShared: Bool { false }

    /// A store rooted at a directory (created on first write), without checks (tests, read-only tools).
    public init(root: String) { self.root = root }

    /// A store rooted at `root`, refused when it (or `runs/`, `locks/`) is unsafe to trust.
    /// - Throws: ``EngineError`` (exit 2), one line naming the path and how to fix it.
    public init(checking root: String) throws(EngineError) {
        self.root = root
        for path in [root, root + "/runs", root + "/locks"] { try Self.checkPrivate(path) }
    }

    /// Refuses a path that exists and is a symlink, not a directory, not owned by the user, or
    /// writable by group or others (as ssh does for `~/.ssh`).
    static func checkPrivate(_ path: String) throws(EngineError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // created later, 0700
        if info.st_mode & S_IFMT == S_IFLNK {
            throw EngineError("refusing the state dir '\(path)': it is a symlink (state is never followed through links)")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw EngineError("refusing the state dir '\(path)': it is not a directory") }
        if info.st_uid != geteuid() {
            throw EngineError(
                "refusing the state dir '\(path)': it is owned by uid \(info.st_uid), not by you (uid \(geteuid())); a run recorded there could execute another user's scripts"
            )
        }
        if info.st_mode & 0o022 != 0 {
            throw EngineError(
                "refusing the state dir '\(path)': it is writable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); fix it with 'chmod 700 \(path)'"
            )
        }
    }

    /// The directory of a run.
    public func runDirectory(_ run: String) -> String { root + "/runs/" + run }

    /// Creates a new run's directory; it must not exist (never reuse or follow what is there).
    func makeRunDirectory(_ run: String) throws(EngineError) {
        try PrivateFiles.makeDirectory(root + "/runs")
        guard mkdir(runDirectory(run), 0o700) == 0 else {
            throw EngineError("cannot create the run directory '\(runDirectory(run))': \(String(cString: strerror(errno)))")
        }
    }

    public func createRun(pipeline: String, clock: EngineClock) throws(EngineError) -> (id: String, sequence: Int) {
        let id = Self.newRunID(clock: clock)
        let sequence = try nextSequence()
        try makeRunDirectory(id)
        return (id, sequence)
    }

    public func openJournal(run: String, clock: EngineClock) throws(EngineError) -> any RunJournal {
        try JournalWriter(path: runDirectory(run) + "/events.jsonl", clock: clock)
    }

    public func lock(pipeline: String, run: String, wait: LockWait?, waiting: (String) -> Void) throws(EngineError) -> any PipelineLock {
        try StateLock(store: self, pipeline: pipeline, run: run, wait: wait, waiting: waiting)
    }

    public func localDirectory(_ run: String) -> String { runDirectory(run) }

    /// A new, sortable run id: `20261122T103000Z-3fa9c1` (its place in the order runs started in is
    /// a counter in the state dir, so a wall clock stepped back never makes an older run look newer).
    static func newRunID(clock: EngineClock) -> String {
        let iso = EngineClock.iso(clock.wallMs())
        let compact = iso.prefix(19).filter { $0 != "-" && $0 != ":" }
        let random = String(UInt32.random(in: 0..<0xFFFFFF), radix: 16)
        return compact + "Z-" + String(repeating: "0", count: 6 - random.count) + random
    }

    /// Takes the next number of `sequence` (under its own lock, across pipelines).
    func nextSequence() throws(EngineError) -> Int {
        try PrivateFiles.makeDirectory(root)
        let path = root + "/sequence"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw EngineError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try Self.checkOwnRegularFile(fd, path)
        _ = Posix.lock(fd, LOCK_EX)
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmed : ""
        guard let current = text.isEmpty ? 0 : Int(text), current >= 0 else {
            throw EngineError(
                "the run counter '\(path)' is corrupt ('\(text.prefix(20))'); write a number there at least as large as the number of runs recorded")
        }
        let next = current + 1
        let line = "\(next)\n"
        ftruncate(fd, 0)
        _ = line.withCString { pwrite(fd, $0, strlen($0), 0) }
        fdatasync(fd)
        return next
    }

    /// Refuses a state file that is not a regular file of the user's with one link.
    static func checkOwnRegularFile(_ fd: Int32, _ path: String) throws(EngineError) {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(), info.st_nlink == 1 else {
            throw EngineError("refusing '\(path)': not a regular file of yours with a single link")
        }
    }

    /// Recorded runs, newest first: by the start counter, then (runs recorded before it) by id.
    public func runsNewestFirst() -> [RunListing] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/runs")) ?? []
        var runs: [RunListing] = []
        for name in names where !name.hasPrefix(".") {
            guard let first = Self.firstEvent(runDirectory(name) + "/events.jsonl") else {
                if FileManager.default.fileExists(atPath: runDirectory(name) + "/events.jsonl") { runs.append(RunListing(id: name, pipeline: "", sequence: 0)) }
                continue
            }
            runs.append(
                RunListing(
                    id: name, pipeline: first["pipeline"]?.string ?? "", sequence: first["sequence"]?.int ?? 0, environment: first["environment"]?.string))
        }
        return runs.sorted { $0.sequence != $1.sequence ? $0.sequence > $1.sequence : $0.id > $1.id }
    }

    /// The first line of a journal, parsed (without reading the rest).
    static func firstEvent(_ path: String) -> JSONValue? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while data.count < 16 << 20 {
            let n = Posix.read(fd, &buffer)
            guard n > 0 else { break }
            if let newline = buffer[0..<n].firstIndex(of: UInt8(ascii: "\n")) {
                data.append(contentsOf: buffer[0..<newline])
                return JSONValue.parse(Substring(String(decoding: data, as: UTF8.self)))
            }
            data.append(contentsOf: buffer[0..<n])
        }
        return nil
    }

    /// Loads a run by replaying its journal. A torn final line (a crash mid-write) is ignored;
    /// a bad line anywhere else is corruption and is reported, not guessed around.
    public func load(_ run: String) throws(EngineError) -> RunState {
        let events = try events(run)
        guard var state = RunState.replay(events) else {
            throw EngineError("run '\(run)' has no recorded start (the engine stopped while creating it); there is nothing to resume or undo")
        }
        if state.status == .running, !isLive(state) { state.status = .abandoned }
        return state
    }

    public func events(_ run: String) throws(EngineError) -> [JSONValue] {
        let run = try RunID.checked(run)
        let path = runDirectory(run) + "/events.jsonl"
        var info = stat()
        if lstat(runDirectory(run), &info) == 0, info.st_mode & S_IFMT != S_IFDIR || info.st_uid != geteuid() {
            throw EngineError("refusing run '\(run)': its directory is a symlink or not yours")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw EngineError("no run '\(run)' in \(root)") }
        close(fd)
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
                if i == 0 { break }  // a torn first line: the run was never recorded as started
                throw EngineError("\(path):\(i + 1): the journal is corrupt (a line in the middle is not JSON); not guessing")
            }
            events.append(event)
        }
        return events
    }

    /// Whether the engine recorded as running `state` still holds its lock (its pipeline's, per environment; checked on
    /// this host only: another host's engine cannot be seen from here, and is assumed alive).
    public func isLive(_ state: RunState) -> Bool {
        guard state.host.isEmpty || state.host == Host.name else { return true }
        var info = stat()
        guard lstat(StateLock.path(root: root, pipeline: state.lockScope), &info) == 0 else { return false }
        return Host.flockHolders(inode: UInt64(info.st_ino)).contains(state.pid)
    }

    /// Writes `state.json` atomically: temp file, fsync, rename, fsync of the directory.
    /// - Returns: why it could not, or nil.
    @discardableResult
    public func writeSnapshot(_ state: RunState) -> String? {
        let dir = runDirectory(state.run)
        let temp = dir + "/.state.json.tmp"
        let text = state.json.pretty
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return "cannot write '\(temp)': \(String(cString: strerror(errno)))" }
        var bytes = Array(text.utf8)
        let written = Posix.writeAll(fd, &bytes)
        fsync(fd)
        close(fd)
        guard written, rename(temp, dir + "/state.json") == 0 else { return "cannot write '\(dir)/state.json': \(String(cString: strerror(errno)))" }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
        return nil
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
/// done before the engine acts on what the events say (write-ahead). The sync is on the caller's
/// thread (``append(_:)``) or, for ``submit(_:)``, on a ``JournalFlusher`` thread that batches
/// submitted while one is in flight share.
final class JournalWriter: RunJournal {
    private let fd: Int32
    private let clock: EngineClock
    private var appends = 0
    /// Test hook (`PIPELINE_TEST_CRASH_AT=N` or `N-half`): SIGKILL the engine at its Nth journal append,
    /// after it is durable, or halfway through writing it.
    private let crashAt: (count: Int, half: Bool)?
    /// Syncs submitted batches in the background (started by the first ``submit(_:)``).
    private var flusher: (flusher: JournalFlusher, thread: pthread_t)?
    /// Batches up to this number are durable (synced on this thread, or known from the flusher).
    private var durable = 0
    private let probe = DurabilityProbe.fromEnvironment()

    init(path: String, clock: EngineClock) throws(EngineError) {
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw EngineError("cannot open the journal '\(path)': \(String(cString: strerror(errno)))") }
        try LocalStateStore.checkOwnRegularFile(fd, path)
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

    deinit {
        if let flusher { flusher.flusher.stop(flusher.thread) }
        close(fd)
    }

    /// Appends events in one `write` without waiting for the disk: for facts that only matter
    /// while this machine is up (process groups' ids), made durable by the next ``append(_:)``.
    @discardableResult
    func appendUnsynced(_ events: [JournalEvent]) throws(EngineError) -> [String] {
        var (text, lines) = JournalEvent.encode(events, time: clock.timestamp(), clockMs: clock.now())
        guard Posix.writeAll(fd, &text) else {
            throw EngineError("cannot write the journal: \(String(cString: strerror(errno)))", exitCode: 3)
        }
        return lines
    }

    /// Stamps and appends events durably.
    @discardableResult
    func append(_ events: [JournalEvent]) throws(EngineError) -> [String] {
        guard !events.isEmpty else { return [] }
        let lines = try write(events)
        try makeDurable(appends)
        return lines
    }

    func submit(_ events: [JournalEvent]) throws(EngineError) -> (lines: [String], batch: Int) {
        guard !events.isEmpty else { return ([], appends) }
        let lines = try write(events)
        if let crash = crashAt, crash.count == appends {
            // The hook's moment is exact only with the sync here (and nothing written after it).
            try makeDurable(appends)
            return (lines, appends)
        }
        if flusher == nil, let made = JournalFlusher(fd: fd, probe: probe) {
            if let thread = made.start() { flusher = (made, thread) }
        }
        guard let flusher else {
            // No thread to sync on (no descriptors, no threads): sync here.
            try makeDurable(appends)
            return (lines, appends)
        }
        flusher.flusher.request(appends)
        return (lines, appends)
    }

    var lastBatch: Int { appends }

    func isDurable(_ number: Int) throws(EngineError) -> Bool {
        if number <= durable { return true }
        if let flusher { durable = max(durable, try flusher.flusher.durable()) }
        return number <= durable
    }

    func makeDurable(_ number: Int) throws(EngineError) {
        guard try !isDurable(number) else { return }
        let size = probe.size(fd)
        if fdatasync(fd) != 0 {
            throw EngineError("cannot sync the journal: \(String(cString: strerror(errno)))", exitCode: 3)
        }
        probe.synced(size)
        durable = appends
        flusher?.flusher.madeDurable(appends)
        if let crash = crashAt, crash.count == appends { kill(getpid(), SIGKILL) }
    }

    var durableFD: Int32 { flusher?.flusher.completionFD ?? -1 }

    func acknowledgeDurable() { flusher?.flusher.acknowledge() }

    /// Stamps `events` and writes them as one batch (the next number), not yet synced.
    private func write(_ events: [JournalEvent]) throws(EngineError) -> [String] {
        var (text, lines) = JournalEvent.encode(events, time: clock.timestamp(), clockMs: clock.now())
        appends += 1
        let written: Bool
        if let crash = crashAt, crash.count == appends, crash.half {
            var half = Array(text.prefix(max(1, text.count / 2)))
            written = Posix.writeAll(fd, &half)
        } else {
            written = Posix.writeAll(fd, &text)
        }
        guard written else {
            throw EngineError("cannot write the journal: \(String(cString: strerror(errno)))", exitCode: 3)
        }
        return lines
    }
}

/// One run per state directory and pipeline: an exclusive `flock` the kernel releases if the
/// holder dies, with the holder's run id and pid in the file for the message.
public final class StateLock: PipelineLock {
    private let fd: Int32

    /// Where the lock of `pipeline` lives.
    static func path(root: String, pipeline: String) -> String { root + "/locks/\(pipeline).lock" }

    /// Takes the lock.
    /// - Parameters:
    ///   - wait: wait until it is free (the kernel wakes a blocked `flock`; with a timeout, it is
    ///     tried every 50 ms) instead of failing at once.
    ///   - waiting: told once what it waits for.
    /// - Throws: ``EngineError`` (exit 2) naming the holder's run and pid, or refusing a lock file
    ///   that is a symlink or not the user's.
    public init(store: LocalStateStore, pipeline: String, run: String, wait: LockWait?, waiting: (String) -> Void) throws(EngineError) {
        try PrivateFiles.makeDirectory(store.root + "/locks")
        let path = Self.path(root: store.root, pipeline: pipeline)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "it is a symlink" : String(cString: strerror(errno))
            throw EngineError("cannot open the lock '\(path)': \(reason)")
        }
        do throws(EngineError) {
            try LocalStateStore.checkOwnRegularFile(fd, path)
            try take(pipeline: pipeline, wait: wait, waiting: waiting)
        } catch {
            close(fd)
            throw error
        }
        describe(run: run)
    }

    private func take(pipeline: String, wait: LockWait?, waiting: (String) -> Void) throws(EngineError) {
        if Posix.lock(fd, LOCK_EX | LOCK_NB) { return }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buffer, buffer.count, 0)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmed : ""
        let holder = text.isEmpty ? "holder unknown" : text
        guard let wait else {
            throw EngineError("pipeline '\(pipeline)' is locked by another run (\(holder)); wait for it, or pass --wait-lock")
        }
        waiting("waiting for the lock of pipeline '\(pipeline)' (\(holder))")
        guard let timeout = wait.timeoutMs else {
            if Posix.lock(fd, LOCK_EX) { return }
            throw EngineError("cannot take the lock of pipeline '\(pipeline)': \(String(cString: strerror(errno)))")
        }
        let deadline = EngineClock.monotonicMs() + timeout
        while !Posix.lock(fd, LOCK_EX | LOCK_NB) {
            guard EngineClock.monotonicMs() < deadline else { throw wait.gaveUp(pipeline, holder: holder) }
            usleep(50_000)
        }
    }

    /// Writes the holder's run id and pid into the lock file (for the message others get).
    public func describe(run: String) {
        ftruncate(fd, 0)
        let text = "run \(run) pid \(getpid()) host \(Host.name)\n"
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { close(fd) }
}
