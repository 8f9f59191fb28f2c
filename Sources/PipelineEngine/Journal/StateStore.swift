import PipelineSpec
/// Everything the engine needs from where runs are kept: create a run, append its events durably,
/// read a run back, list runs, take and hold the one-run-per-pipeline lock, and say whether the
/// engine recorded as running a run is still alive. The engine talks only to this seam; local
/// JSON-lines files with `flock` (``LocalStateStore``) are the first implementation.
///
/// Logs, outputs files and backups always stay on the machine that runs the stage, in
/// ``localDirectory(_:)``; only the journal and the lock live in the store.
public protocol StateStore: Sendable {
    /// Where the state is, for messages (a path, or a URL without its password).
    var location: String { get }

    /// Whether other machines share it: then a process group recorded on another host cannot be
    /// probed, and a takeover of an expired lease is how a run continues elsewhere.
    var isShared: Bool { get }

    /// Allocates a new run of `pipeline` (the caller holds its lock): its id, and its place in
    /// the order runs started in.
    func createRun(pipeline: String, clock: EngineClock) throws(EngineError) -> (id: String, sequence: Int)

    /// Opens a run's journal for appending.
    func openJournal(run: String, clock: EngineClock) throws(EngineError) -> any RunJournal

    /// Replays a run's journal.
    /// - Throws: ``EngineError`` when there is no such run or its journal is corrupt.
    func load(_ run: String) throws(EngineError) -> RunState

    /// A run's journal events, in order (a torn last line left out), for reports.
    /// - Throws: ``EngineError`` when there is no such run or its journal is corrupt.
    func events(_ run: String) throws(EngineError) -> [JSONValue]

    /// Recorded runs, newest first.
    func runsNewestFirst() -> [RunListing]

    /// Takes the lock of `pipeline`, failing at once (naming the holder) unless `wait` says how
    /// long to wait for it; `waiting` is told once, in one line, what it is waiting for.
    func lock(pipeline: String, run: String, wait: LockWait?, waiting: (String) -> Void) throws(EngineError) -> any PipelineLock

    /// Whether the engine recorded as running `state` still holds its lock.
    func isLive(_ state: RunState) -> Bool

    /// Stores a readable snapshot of a run (best effort); returns why it could not, or nil.
    func writeSnapshot(_ state: RunState) -> String?

    /// The directory on this machine for a run's logs, outputs and backups.
    func localDirectory(_ run: String) -> String

    /// Records an operator request (`pipeline promote`/`abort`) where the run lives
    /// (``OperatorRequest``; a store that cannot refuses).
    func postRequest(_ request: OperatorRequest) throws(EngineError)

    /// The operator requests recorded for a run, oldest first; the engine polls them.
    func requests(run: String) throws(EngineError) -> [OperatorRequest]
}

/// A run's journal, opened for appending.
public protocol RunJournal: AnyObject {
    /// Appends events durably, in order, before the engine acts on them (write-ahead).
    /// - Returns: the JSON lines written, exactly as stored (for `--output json`).
    @discardableResult
    func append(_ events: [JournalEvent]) throws(EngineError) -> [String]
    /// Appends events (in one write) without waiting for them to be durable (made durable by the next ``append(_:)``).
    /// - Returns: the JSON lines written, exactly as stored.
    @discardableResult
    func appendUnsynced(_ events: [JournalEvent]) throws(EngineError) -> [String]
    /// Appends events in order and has them made durable in the background: nothing may act on
    /// them before ``isDurable(_:)`` says so for the returned batch number.
    /// - Returns: the JSON lines written, and the batch's number.
    func submit(_ events: [JournalEvent]) throws(EngineError) -> (lines: [String], batch: Int)
    /// The number of the newest batch appended (0 before any).
    var lastBatch: Int { get }
    /// Whether batch `number` (and every one before it) is durable.
    /// - Throws: ``EngineError`` (exit 3) when a background sync failed.
    func isDurable(_ number: Int) throws(EngineError) -> Bool
    /// Makes every batch up to `number` durable now, on the caller's thread.
    func makeDurable(_ number: Int) throws(EngineError)
    /// Readable when more batches became durable in the background (-1: none ever do); the caller
    /// polls it and then calls ``acknowledgeDurable()``.
    var durableFD: Int32 { get }
    /// Clears ``durableFD``'s readiness.
    func acknowledgeDurable()
}

/// A journal without a background sync: every append is durable when it returns.
extension RunJournal {
    public func submit(_ events: [JournalEvent]) throws(EngineError) -> (lines: [String], batch: Int) { (try append(events), 0) }
    public var lastBatch: Int { 0 }
    public func isDurable(_ number: Int) throws(EngineError) -> Bool { true }
    public func makeDurable(_ number: Int) throws(EngineError) {}
    public var durableFD: Int32 { -1 }
    public func acknowledgeDurable() {}
}

/// The held lock of one pipeline; released when it is deinitialised (or its holder dies).
public protocol PipelineLock: AnyObject {
    /// Says which run holds it (for the message others get).
    func describe(run: String)
    /// The fencing token of a lease (exported to scripts as `PIPELINE_FENCE`); nil for a local lock.
    var fence: Int? { get }
    /// How often the engine must renew it (ms); nil when it needs no renewal.
    var renewIntervalMs: Int? { get }
    /// Renews it.
    /// - Throws: ``EngineError`` with exit 5 when it was lost (another runner took over), another
    ///   code when the store could not be reached.
    func renew() throws(EngineError)
}

extension PipelineLock {
    public var fence: Int? { nil }
    public var renewIntervalMs: Int? { nil }
    public func renew() throws(EngineError) {}
}

/// How long `--wait-lock` waits for a lock another run holds.
public struct LockWait: Sendable, Equatable {
    /// Give up after this long (ms), exit 2; nil waits as long as it takes.
    public var timeoutMs: Int?

    public init(timeoutMs: Int? = nil) { self.timeoutMs = timeoutMs }

    /// The message of a wait that ran out.
    func gaveUp(_ pipeline: String, holder: String) -> EngineError {
        EngineError("gave up waiting \(TimeSpan(milliseconds: timeoutMs ?? 0).description) for the lock of pipeline '\(pipeline)' (\(holder))")
    }
}

/// One recorded run, as listed.
public struct RunListing: Sendable {
    public var id: String
    public var pipeline: String
    /// Its place in the order runs started in (0: recorded before the counter existed).
    public var sequence: Int
    /// Its environment (`run_started.environment`); nil when it has none, or it was not read.
    public var environment: String? = nil
}

/// Opens the store a `--state-dir` (or, later, `--state URL`) names.
public enum StateStores {
    /// Whether `location` names a PostgreSQL database.
    public static func isDatabase(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// The store at `location`, checked (an unsafe local state dir is refused): a path, or a
    /// `postgres://` URL, whose logs and outputs then live under `localRoot`.
    public static func open(_ location: String, localRoot: String = ".pipeline", leaseTTLms: Int = 30_000) throws(EngineError) -> any StateStore {
        if isDatabase(location) { return try PostgresStateStore(url: location, localRoot: localRoot, leaseTTLms: leaseTTLms) }
        return try LocalStateStore(checking: location)
    }
}

/// Run ids as given on the command line.
public enum RunID {
    /// `20261122T103000Z-3fa9c1`: letters, digits, `-`, `_`, `.`, not starting with a dot, never a path.
    public static func checked(_ id: String) throws(EngineError) -> String {
        let allowed = id.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46
        }
        guard !id.isEmpty, id.utf8.count <= 128, allowed, !id.hasPrefix(".") else {
            throw EngineError("invalid run id '\(id.prefix(80))': not a run id (like 20261122T103000Z-3fa9c1; see 'pipeline history')")
        }
        return id
    }
}
