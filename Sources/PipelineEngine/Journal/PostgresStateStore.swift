internal import CSystem
import FoundationEssentials
import Glibc
import PipelineSpec

/// Runs kept in PostgreSQL (`--state postgres://…`), so one run per pipeline holds across CI
/// runners and any machine can resume, inspect or roll back a run. The journal lines are the same
/// JSON as the local `events.jsonl`; logs, outputs files and backups stay on the machine that ran
/// the stage (under `--state-dir`).
///
/// One run per pipeline is a **lease** (`pipeline.leases`): holder (run, host, pid, user), times
/// from the database clock, an expiry renewed every TTL/3, and a fencing **epoch** that grows on
/// every takeover. Every journal append checks, in the same transaction and under the lease row's
/// lock, that the writer still holds the current epoch; a writer that lost it is refused (exit 5).
/// No session advisory lock is ever held (safe behind a transaction-pooling proxy); the schema
/// migration takes a transaction-scoped one.
public final class PostgresStateStore: StateStore, @unchecked Sendable {
    /// The schema version this build writes.
    static let schemaVersion = 3
    /// The oldest schema version whose readers and writers work correctly on this schema: a
    /// `pipeline` older than it refuses the database (`meta.compatible_from`; a schema-1 binary,
    /// which knew no such key, refuses anything newer than 1).
    static let compatibleFrom = 2

    let db: PostgresConnection
    /// Where this machine keeps logs, outputs and backups.
    let local: LocalStateStore
    /// The lease time-to-live.
    let leaseTTLms: Int
    /// The lease this process holds, once taken (the journal appends under its epoch).
    private(set) weak var lease: PostgresLease?

    public var location: String { db.redacted }
    public var isShared: Bool { true }

    /// Connects, creates or migrates the tables, and checks the local directory.
    public init(url: String, localRoot: String, leaseTTLms: Int) throws(EngineError) {
        db = try PostgresConnection(url: url)
        local = try LocalStateStore(checking: localRoot)
        self.leaseTTLms = leaseTTLms
        try migrate()
    }

    /// Creates the schema, or refuses a database migrated by a newer `pipeline`.
    func migrate() throws(EngineError) {
        try db.transaction { () throws(EngineError) in
            try db.query("SELECT pg_advisory_xact_lock(hashtext('pipeline.schema'))")
            try db.query("CREATE SCHEMA IF NOT EXISTS pipeline")
            try db.query("CREATE TABLE IF NOT EXISTS pipeline.meta (key text PRIMARY KEY, value text NOT NULL)")
            let version = PostgresConnection.firstInt(try db.query("SELECT value FROM pipeline.meta WHERE key = 'schema_version'")) ?? 0
            let compatible = PostgresConnection.firstInt(try db.query("SELECT value FROM pipeline.meta WHERE key = 'compatible_from'")) ?? version
            if compatible > Self.schemaVersion {
                throw EngineError(
                    "the state database \(location) was migrated by a newer pipeline (schema version \(version), usable from version \(compatible); this one understands up to \(Self.schemaVersion)): upgrade pipeline"
                )
            }
            if version < 1 {
                try db.query(
                    """
                    CREATE TABLE pipeline.leases (pipeline text PRIMARY KEY, run text NOT NULL, host text NOT NULL, pid integer NOT NULL,
                      usr text NOT NULL, epoch bigint NOT NULL, acquired timestamptz NOT NULL, renewed timestamptz NOT NULL, expires timestamptz NOT NULL)
                    """)
                try db.query(
                    """
                    CREATE TABLE pipeline.runs (run text PRIMARY KEY, pipeline text NOT NULL,
                      sequence bigint GENERATED ALWAYS AS IDENTITY UNIQUE, started timestamptz NOT NULL DEFAULT now())
                    """)
                try db.query(
                    """
                    CREATE TABLE pipeline.events (run text NOT NULL REFERENCES pipeline.runs (run), seq integer NOT NULL,
                      epoch bigint NOT NULL, line text NOT NULL, PRIMARY KEY (run, seq))
                    """)
                try db.query(
                    """
                    CREATE TABLE pipeline.lease_releases (pipeline text NOT NULL, epoch bigint NOT NULL, run text NOT NULL,
                      released_by text NOT NULL, reason text NOT NULL, released timestamptz NOT NULL DEFAULT now())
                    """)
            }
            if version < 2 {
                // Waiting in line for a lease (--wait-lock), first come first served.
                try db.query(
                    """
                    CREATE TABLE pipeline.lease_waiters (ticket bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, pipeline text NOT NULL,
                      run text NOT NULL, host text NOT NULL, pid integer NOT NULL, usr text NOT NULL, since timestamptz NOT NULL, expires timestamptz NOT NULL)
                    """)
                try db.query("CREATE INDEX lease_waiters_pipeline ON pipeline.lease_waiters (pipeline, ticket)")
            }
            if version < 3 {
                // Operator requests (`pipeline promote`, `pipeline abort`) for a running canary or watch;
                // additive, so a schema-2 pipeline still works here (it never reads them).
                try db.query(
                    """
                    CREATE TABLE IF NOT EXISTS pipeline.requests (id text PRIMARY KEY, run text NOT NULL, action text NOT NULL,
                      requested_by text NOT NULL, requested timestamptz NOT NULL DEFAULT now())
                    """)
            }
            if version < Self.schemaVersion {
                for (key, value) in [("schema_version", Self.schemaVersion), ("compatible_from", Self.compatibleFrom)] {
                    try db.query(
                        "INSERT INTO pipeline.meta VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, String(value)])
                }
            }
        }
    }

    public func createRun(pipeline: String, clock: EngineClock) throws(EngineError) -> (id: String, sequence: Int) {
        let id = LocalStateStore.newRunID(clock: clock)
        let rows = try db.query("INSERT INTO pipeline.runs (run, pipeline) VALUES ($1, $2) RETURNING sequence", [id, pipeline])
        try local.makeRunDirectory(id)
        return (id, PostgresConnection.firstInt(rows) ?? 0)
    }

    public func openJournal(run: String, clock: EngineClock) throws(EngineError) -> any RunJournal {
        guard let lease else { throw EngineError("no lease held for run \(run)", exitCode: 3) }
        // This machine may not have run it before (a takeover): its logs go here from now on.
        try PrivateFiles.makeDirectory(local.runDirectory(run) + "/logs")
        try PrivateFiles.makeDirectory(local.runDirectory(run) + "/outputs")
        let next = PostgresConnection.firstInt(try db.query("SELECT coalesce(max(seq), 0) FROM pipeline.events WHERE run = $1", [run])) ?? 0
        return PostgresJournal(db: db, lease: lease, run: run, next: next + 1, clock: clock)
    }

    public func load(_ run: String) throws(EngineError) -> RunState {
        guard var state = RunState.replay(try events(run)) else { throw EngineError("run '\(run)' has no recorded start") }
        if state.status == .running, !isLive(state) { state.status = .abandoned }
        return state
    }

    public func events(_ run: String) throws(EngineError) -> [JSONValue] {
        let run = try RunID.checked(run)
        let rows = try db.query("SELECT line FROM pipeline.events WHERE run = $1 ORDER BY seq", [run])
        guard !rows.isEmpty else { throw EngineError("no run '\(run)' in \(location)") }
        var events: [JSONValue] = []
        for (i, row) in rows.enumerated() {
            guard let line = row.first ?? nil, let event = JSONValue.parse(Substring(line)) else {
                throw EngineError("run '\(run)': journal line \(i + 1) in \(location) is not JSON; not guessing")
            }
            events.append(event)
        }
        return events
    }

    public func runsNewestFirst() -> [RunListing] {
        // The environment is in the first journal line (run_started), as in the local store.
        let rows =
            (try? db.query(
                "SELECT r.run, r.pipeline, r.sequence, e.line FROM pipeline.runs r LEFT JOIN pipeline.events e ON e.run = r.run AND e.seq = 1 ORDER BY r.sequence DESC"
            )) ?? []
        return rows.map {
            RunListing(
                id: $0[0] ?? "", pipeline: $0[1] ?? "", sequence: Int($0[2] ?? "") ?? 0,
                environment: ($0[3] ?? nil).flatMap { JSONValue.parse(Substring($0))?["environment"]?.string })
        }
    }

    public func lock(pipeline: String, run: String, wait: LockWait?, waiting: (String) -> Void) throws(EngineError) -> any PipelineLock {
        let taken = try PostgresLease(db: db, pipeline: pipeline, run: run, ttlMs: leaseTTLms, wait: wait, waiting: waiting)
        lease = taken
        return taken
    }

    public func isLive(_ state: RunState) -> Bool {
        let rows = (try? db.query("SELECT run, expires > now() FROM pipeline.leases WHERE pipeline = $1", [state.lockScope])) ?? []
        guard let row = rows.first else { return false }
        return row[0] == state.run && row[1] == "t"
    }

    public func writeSnapshot(_ state: RunState) -> String? {
        var info = stat()
        guard lstat(local.runDirectory(state.run), &info) == 0 else { return nil }
        return local.writeSnapshot(state)
    }

    public func localDirectory(_ run: String) -> String { local.runDirectory(run) }

    /// One pipeline's lease, as `pipeline lock status` shows it.
    public struct LeaseInfo: Sendable {
        public var pipeline: String
        public var run: String
        public var host: String
        public var pid: Int
        public var user: String
        public var epoch: Int
        public var acquired: String
        public var expires: String
        public var expired: Bool

        /// As `status --json` shows it (`schemas/journal.schema.json`, `$defs/lease`).
        public var json: JSONValue {
            .object([
                ("run", .string(run)), ("host", .string(host)), ("pid", .int(pid)), ("user", .string(user)), ("epoch", .int(epoch)),
                ("acquired", .string(acquired)), ("expires", .string(expires)), ("expired", .bool(expired)),
            ])
        }
    }

    /// Every lease (or one pipeline's), newest taken first.
    public func leases(pipeline: String? = nil) throws(EngineError) -> [LeaseInfo] {
        let time = PostgresLease.time
        let rows = try db.query(
            """
            SELECT pipeline, run, host, pid, usr, epoch, to_char(acquired AT TIME ZONE 'UTC', \(time)), to_char(expires AT TIME ZONE 'UTC', \(time)),
              expires <= now() FROM pipeline.leases WHERE $1::text IS NULL OR pipeline = $1 ORDER BY acquired DESC
            """, [pipeline])
        return rows.map {
            LeaseInfo(
                pipeline: $0[0] ?? "", run: $0[1] ?? "", host: $0[2] ?? "", pid: Int($0[3] ?? "") ?? 0, user: $0[4] ?? "",
                epoch: Int($0[5] ?? "") ?? 0, acquired: $0[6] ?? "", expires: $0[7] ?? "", expired: $0[8] == "t")
        }
    }

    /// Ends a live lease by force — its epoch moves on, so its holder's next append or renewal is
    /// refused and it fences itself (exit 5) — recording
    /// who did it and why in `pipeline.lease_releases`.
    /// - Returns: the lease as it was.
    /// - Throws: ``EngineError`` when there is no live lease, or without a reason.
    public func release(pipeline: String, reason: String, by: String) throws(EngineError) -> LeaseInfo {
        guard !reason.trimmedSpaces.isEmpty else { throw EngineError("a forced release needs --reason TEXT") }
        guard let lease = try leases(pipeline: pipeline).first else { throw EngineError("pipeline '\(pipeline)' has no lease in \(location)") }
        guard !lease.expired else { throw EngineError("the lease of '\(pipeline)' is not held (it expired \(lease.expires)); nothing to release") }
        try db.transaction { () throws(EngineError) in
            let rows = try db.query(
                "UPDATE pipeline.leases SET expires = now(), epoch = epoch + 1 WHERE pipeline = $1 AND epoch = $2 AND expires > now() RETURNING run",
                [pipeline, String(lease.epoch)])
            guard !rows.isEmpty else { throw EngineError("the lease of '\(pipeline)' changed meanwhile; look again with 'pipeline lock status'") }
            try db.query(
                "INSERT INTO pipeline.lease_releases (pipeline, epoch, run, released_by, reason) VALUES ($1, $2, $3, $4, $5)",
                [pipeline, String(lease.epoch), lease.run, by, reason])
            try db.query("SELECT pg_notify($1, $2)", [PostgresLease.channel, pipeline])  // delivered at COMMIT
        }
        return lease
    }

}

/// The held lease of one pipeline in PostgreSQL: renewed every TTL/3 by the engine's loop, released
/// (expired at once, with a `NOTIFY` to the runs waiting for it) when it is deinitialised.
final class PostgresLease: PipelineLock {
    let db: PostgresConnection
    let pipeline: String
    let ttlMs: Int
    /// The fencing token: grows on every takeover; exported to scripts as `PIPELINE_FENCE`.
    let epoch: Int
    /// When the lease was last taken or renewed (monotonic ms): until half a TTL after it, this
    /// runner surely still holds it, so a failing write may be retried.
    private(set) var confirmedMs: Int

    /// The channel every lease release and every waiter leaving the line is announced on (the
    /// payload is the pipeline's name).
    static let channel = "pipeline_lease"
    /// Database timestamps as the journal writes its own: ISO 8601 UTC with milliseconds.
    static let time = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"

    /// Takes the lease of `pipeline`, or waits in line for it (`wait`).
    init(db: PostgresConnection, pipeline: String, run: String, ttlMs: Int, wait: LockWait?, waiting: (String) -> Void) throws(EngineError) {
        self.db = db
        self.pipeline = pipeline
        self.ttlMs = ttlMs
        let holder = LeaseHolder(run: run)
        if let epoch = try holder.take(db, pipeline, ttlMs: ttlMs, ticket: nil) {
            self.epoch = epoch
        } else if let wait {
            self.epoch = try LeaseLine(db: db, pipeline: pipeline, holder: holder, ttlMs: ttlMs).wait(wait, waiting: waiting)
        } else {
            throw EngineError("pipeline '\(pipeline)' is locked by another run (\(try Self.describeHolder(db, pipeline))); wait for it, or pass --wait-lock")
        }
        confirmedMs = EngineClock.monotonicMs()
    }

    /// Who holds the lease, and how many runs wait for it, in words.
    static func describeHolder(_ db: PostgresConnection, _ pipeline: String) throws(EngineError) -> String {
        let row =
            try db.query(
                """
                SELECT l.run, l.host, l.pid, to_char(l.acquired AT TIME ZONE 'UTC', \(time)), to_char(l.expires AT TIME ZONE 'UTC', \(time)), l.expires <= now(),
                  (SELECT count(*) FROM pipeline.lease_waiters w WHERE w.pipeline = $1 AND w.expires > now())
                FROM (SELECT $1::text AS pipeline) p LEFT JOIN pipeline.leases l ON l.pipeline = p.pipeline
                """, [pipeline]
            ).first ?? []
        guard row.count == 7 else { return "holder unknown" }
        let waiters = Int(row[6] ?? "") ?? 0
        let line = waiters == 0 ? "" : "; \(waiters) run\(waiters == 1 ? "" : "s") waiting in line"
        guard let run = row[0] else { return "no holder" + line }
        if row[5] == "t" { return "free since \(row[4] ?? ""), last held by run \(run)" + line }
        return "run \(run) on \(row[1] ?? "") pid \(row[2] ?? ""), since \(row[3] ?? ""), lease expires \(row[4] ?? "")" + line
    }

    var fence: Int? { epoch }
    var renewIntervalMs: Int? { max(1, ttlMs / 3) }

    /// Milliseconds left in which this runner surely still holds the lease.
    var budgetMs: Int { confirmedMs + ttlMs / 2 - EngineClock.monotonicMs() }

    func renew() throws(EngineError) {
        let started = EngineClock.monotonicMs()
        let rows = try db.query(
            "UPDATE pipeline.leases SET renewed = now(), expires = now() + $3::bigint * interval '1 millisecond' WHERE pipeline = $1 AND epoch = $2 AND expires > now() RETURNING 1",
            [pipeline, String(epoch), String(ttlMs)])
        if rows.isEmpty { throw EngineError("lost the lease of pipeline '\(pipeline)': another runner took it over", exitCode: ExitStatus.lostLease) }
        confirmedMs = started
    }

    func describe(run: String) {
        _ = try? db.query("UPDATE pipeline.leases SET run = $3 WHERE pipeline = $1 AND epoch = $2", [pipeline, String(epoch), run])
    }

    deinit {
        _ = try? db.query("UPDATE pipeline.leases SET expires = now() WHERE pipeline = $1 AND epoch = $2", [pipeline, String(epoch)])
        _ = try? db.query("SELECT pg_notify($1, $2)", [Self.channel, pipeline])
    }
}

/// Who takes a lease: this process, for a run.
struct LeaseHolder {
    var run: String
    var host = Host.name
    var pid = String(getpid())
    var user = ProcessInfo.processInfo.environment["USER"] ?? String(getuid())

    /// Takes the lease when it is free or expired (database clock) and no run waiting in line
    /// before `ticket` (nil: behind every waiter) is still alive; a live holder is never displaced.
    /// - Returns: the new epoch, or nil when it is not this runner's turn.
    func take(_ db: PostgresConnection, _ pipeline: String, ttlMs: Int, ticket: Int?) throws(EngineError) -> Int? {
        let rows = try db.query(
            """
            INSERT INTO pipeline.leases AS l (pipeline, run, host, pid, usr, epoch, acquired, renewed, expires)
            SELECT $1, $2, $3, $4, $5, 1, now(), now(), now() + $6::bigint * interval '1 millisecond'
            WHERE NOT EXISTS (SELECT 1 FROM pipeline.lease_waiters w WHERE w.pipeline = $1 AND w.expires > now() AND w.ticket < $7::bigint)
            ON CONFLICT (pipeline) DO UPDATE SET run = excluded.run, host = excluded.host, pid = excluded.pid, usr = excluded.usr,
              epoch = l.epoch + 1, acquired = now(), renewed = now(), expires = excluded.expires
            WHERE l.expires <= now()
            RETURNING epoch
            """, [pipeline, run, host, pid, user, String(ttlMs), String(ticket ?? Int.max)])
        return PostgresConnection.firstInt(rows)
    }
}

/// Waiting in line for a lease (`--wait-lock`), first come first served: each waiter has a ticket
/// in `pipeline.lease_waiters`, kept alive every TTL/3 (a waiter that dies drops out of line when
/// its row expires), and takes the lease only when no live waiter is ahead of it. It sleeps on the
/// connection's socket (`LISTEN`), woken by the `NOTIFY` of a release or of a waiter leaving the
/// line; it also wakes when the holder's lease runs out (a holder that died sends nothing) and to
/// keep its place. SIGINT, SIGTERM and SIGHUP while waiting leave the line and exit 130.
struct LeaseLine {
    let db: PostgresConnection
    let pipeline: String
    let holder: LeaseHolder
    let ttlMs: Int

    func wait(_ wait: LockWait, waiting: (String) -> Void) throws(EngineError) -> Int {
        let deadline = wait.timeoutMs.map { EngineClock.monotonicMs() + $0 }
        let signals = ps_signalfd_open()
        defer { if signals >= 0 { close(signals) } }
        try db.query("LISTEN \(PostgresLease.channel)")
        var ticket = try join()
        defer {
            _ = try? db.query("DELETE FROM pipeline.lease_waiters WHERE ticket = $1", [String(ticket)])
            _ = try? db.query("SELECT pg_notify($1, $2)", [PostgresLease.channel, pipeline])
            _ = try? db.query("UNLISTEN \(PostgresLease.channel)")
        }
        waiting("waiting for the lease of pipeline '\(pipeline)' (\(try PostgresLease.describeHolder(db, pipeline)))")
        while true {
            // LISTEN is re-issued each turn: a connection reset on the way drops it.
            try db.query("LISTEN \(PostgresLease.channel)")
            ticket = try keep(ticket)
            if let epoch = try holder.take(db, pipeline, ttlMs: ttlMs, ticket: ticket) { return epoch }
            let row = try db.query(
                "SELECT greatest(0, ceil(extract(epoch FROM expires - now()) * 1000))::bigint FROM pipeline.leases WHERE pipeline = $1", [pipeline])
            let expiresIn = PostgresConnection.firstInt(row) ?? 0
            var sleep = min(max(1, ttlMs / 3), expiresIn > 0 ? expiresIn + 5 : ttlMs / 3)
            if let deadline {
                let left = deadline - EngineClock.monotonicMs()
                guard left > 0 else { throw wait.gaveUp(pipeline, holder: try PostgresLease.describeHolder(db, pipeline)) }
                sleep = min(sleep, left)
            }
            let woken = db.awaitNotifications(timeoutMs: max(10, sleep), signalFD: signals)
            if woken.signalled {
                throw EngineError("interrupted while waiting for the lease of pipeline '\(pipeline)'; nothing was started", exitCode: ExitStatus.interrupted)
            }
        }
    }

    /// Joins the end of the line: the new ticket.
    private func join() throws(EngineError) -> Int {
        let rows = try db.query(
            """
            INSERT INTO pipeline.lease_waiters (pipeline, run, host, pid, usr, since, expires)
            VALUES ($1, $2, $3, $4, $5, now(), now() + $6::bigint * interval '1 millisecond') RETURNING ticket
            """, [pipeline, holder.run, holder.host, holder.pid, holder.user, String(ttlMs)])
        guard let ticket = PostgresConnection.firstInt(rows) else { throw EngineError("the state database gave no place in line", exitCode: 3) }
        return ticket
    }

    /// Keeps the place in line alive; a place that lapsed (this runner could not reach the
    /// database for a TTL) is lost, and the waiter joins the end of the line again.
    private func keep(_ ticket: Int) throws(EngineError) -> Int {
        let rows = try db.query(
            "UPDATE pipeline.lease_waiters SET expires = now() + $2::bigint * interval '1 millisecond' WHERE ticket = $1 AND expires > now() RETURNING 1",
            [String(ticket), String(ttlMs)])
        if !rows.isEmpty { return ticket }
        _ = try db.query("DELETE FROM pipeline.lease_waiters WHERE ticket = $1", [String(ticket)])
        return try join()
    }
}

/// A run's journal in PostgreSQL: each batch is one transaction that locks the lease row, checks
/// the writer's epoch and inserts the lines; a writer that lost the lease is refused (exit 5).
final class PostgresJournal: RunJournal {
    let db: PostgresConnection
    let lease: PostgresLease
    let run: String
    var next: Int
    let clock: EngineClock

    init(db: PostgresConnection, lease: PostgresLease, run: String, next: Int, clock: EngineClock) {
        self.db = db
        self.lease = lease
        self.run = run
        self.next = next
        self.clock = clock
    }

    @discardableResult
    func append(_ events: [JournalEvent]) throws(EngineError) -> [String] {
        guard !events.isEmpty else { return [] }
        let lines = JournalEvent.encode(events, time: clock.timestamp(), clockMs: clock.now()).lines
        try write(lines)
        return lines
    }

    @discardableResult
    func appendUnsynced(_ events: [JournalEvent]) throws(EngineError) -> [String] {
        try append(events)
    }

    /// Writes `lines` in one transaction under the lease. A write that fails for a reason that may
    /// pass (a lost connection, a restarting server) is retried with backoff (100 ms, doubling up
    /// to 2 s) for as long as the lease is surely still this runner's (half a TTL after it was last
    /// renewed), then the runner fences itself (exit 5). A retry first checks whether the lost
    /// attempt committed after all (its answer may be what was lost).
    private func write(_ lines: [String]) throws(EngineError) {
        var delayMs = 100
        while true {
            do throws(EngineError) {
                try writeOnce(lines)
                return
            } catch {
                guard error.exitCode != ExitStatus.lostLease, db.lastFailureTransient else { throw error }
                if (try? committed(lines.count)) == true {
                    next += lines.count
                    return
                }
                guard lease.budgetMs > delayMs else {
                    throw EngineError(
                        "cannot write the journal to the state database for half the lease's TTL (\(error.message)): this runner may no longer hold the lease",
                        exitCode: ExitStatus.lostLease)
                }
                usleep(UInt32(delayMs * 1000))
                delayMs = min(delayMs * 2, 2000)
            }
        }
    }

    /// Whether the `count` lines from `next` on are in the database, written under this epoch.
    private func committed(_ count: Int) throws(EngineError) -> Bool {
        let rows = try db.query(
            "SELECT count(*) FROM pipeline.events WHERE run = $1 AND seq >= $2 AND seq < $3 AND epoch = $4",
            [run, String(next), String(next + count), String(lease.epoch)])
        return PostgresConnection.firstInt(rows) == count
    }

    private func writeOnce(_ lines: [String]) throws(EngineError) {
        try db.transaction { () throws(EngineError) in
            let held = PostgresConnection.firstInt(try db.query("SELECT epoch FROM pipeline.leases WHERE pipeline = $1 FOR UPDATE", [lease.pipeline]))
            guard held == lease.epoch else {
                throw EngineError(
                    "lost the lease of pipeline '\(lease.pipeline)' (epoch \(held.map(String.init) ?? "none") now, ours \(lease.epoch)): writing nothing more",
                    exitCode: ExitStatus.lostLease)
            }
            for (i, line) in lines.enumerated() {
                try db.query("INSERT INTO pipeline.events (run, seq, epoch, line) VALUES ($1, $2, $3, $4)", [run, String(next + i), String(lease.epoch), line])
            }
        }
        next += lines.count
    }
}
