import Foundation
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
    /// The schema version this build writes; a database at a newer version is refused.
    static let schemaVersion = 1

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
        try db.query("BEGIN")
        do throws(EngineError) {
            try db.query("SELECT pg_advisory_xact_lock(hashtext('pipeline.schema'))")
            try db.query("CREATE SCHEMA IF NOT EXISTS pipeline")
            try db.query("CREATE TABLE IF NOT EXISTS pipeline.meta (key text PRIMARY KEY, value text NOT NULL)")
            let version = PostgresConnection.firstInt(try db.query("SELECT value FROM pipeline.meta WHERE key = 'schema_version'")) ?? 0
            if version > Self.schemaVersion {
                throw EngineError(
                    "the state database \(location) was migrated by a newer pipeline (schema version \(version); this one understands up to \(Self.schemaVersion)): upgrade pipeline"
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
                try db.query(
                    "INSERT INTO pipeline.meta VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [String(Self.schemaVersion)])
            }
            try db.query("COMMIT")
        } catch {
            _ = try? db.query("ROLLBACK")
            throw error
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
        guard var state = RunState.replay(events) else { throw EngineError("run '\(run)' has no recorded start") }
        if state.status == .running, !isLive(state) { state.status = .abandoned }
        return state
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

    public func lock(pipeline: String, run: String, wait: Bool) throws(EngineError) -> any PipelineLock {
        let taken = try PostgresLease(db: db, pipeline: pipeline, run: run, ttlMs: leaseTTLms, wait: wait)
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
    }

    /// Every lease (or one pipeline's), newest taken first.
    public func leases(pipeline: String? = nil) throws(EngineError) -> [LeaseInfo] {
        let time = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"
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
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw EngineError("a forced release needs --reason TEXT") }
        guard let lease = try leases(pipeline: pipeline).first else { throw EngineError("pipeline '\(pipeline)' has no lease in \(location)") }
        guard !lease.expired else { throw EngineError("the lease of '\(pipeline)' is not held (it expired \(lease.expires)); nothing to release") }
        try db.query("BEGIN")
        do throws(EngineError) {
            let rows = try db.query(
                "UPDATE pipeline.leases SET expires = now(), epoch = epoch + 1 WHERE pipeline = $1 AND epoch = $2 AND expires > now() RETURNING run",
                [pipeline, String(lease.epoch)])
            guard !rows.isEmpty else { throw EngineError("the lease of '\(pipeline)' changed meanwhile; look again with 'pipeline lock status'") }
            try db.query(
                "INSERT INTO pipeline.lease_releases (pipeline, epoch, run, released_by, reason) VALUES ($1, $2, $3, $4, $5)",
                [pipeline, String(lease.epoch), lease.run, by, reason])
            try db.query("COMMIT")
        } catch {
            _ = try? db.query("ROLLBACK")
            throw error
        }
        return lease
    }

    /// The lease of `pipeline` as the database has it, for `status` (nil when never taken).
    public func leaseHolder(_ pipeline: String) -> (run: String, host: String, pid: Int, epoch: Int, expires: String, expired: Bool)? {
        let rows =
            (try? db.query(
                "SELECT run, host, pid, epoch, to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), expires <= now() FROM pipeline.leases WHERE pipeline = $1",
                [pipeline])) ?? []
        guard let r = rows.first else { return nil }
        return (r[0] ?? "", r[1] ?? "", Int(r[2] ?? "") ?? 0, Int(r[3] ?? "") ?? 0, r[4] ?? "", r[5] == "t")
    }
}

/// The held lease of one pipeline in PostgreSQL: renewed every TTL/3 by the engine's loop, released
/// (expired at once) when it is deinitialised.
final class PostgresLease: PipelineLock {
    let db: PostgresConnection
    let pipeline: String
    let ttlMs: Int
    /// The fencing token: grows on every takeover; exported to scripts as `PIPELINE_FENCE`.
    let epoch: Int

    init(db: PostgresConnection, pipeline: String, run: String, ttlMs: Int, wait: Bool) throws(EngineError) {
        self.db = db
        self.pipeline = pipeline
        self.ttlMs = ttlMs
        let user = ProcessInfo.processInfo.environment["USER"] ?? String(getuid())
        while true {
            // Taken when free or expired (database clock); a live holder is never displaced.
            let rows = try db.query(
                """
                INSERT INTO pipeline.leases AS l (pipeline, run, host, pid, usr, epoch, acquired, renewed, expires)
                VALUES ($1, $2, $3, $4, $5, 1, now(), now(), now() + $6::bigint * interval '1 millisecond')
                ON CONFLICT (pipeline) DO UPDATE SET run = excluded.run, host = excluded.host, pid = excluded.pid, usr = excluded.usr,
                  epoch = l.epoch + 1, acquired = now(), renewed = now(), expires = excluded.expires
                WHERE l.expires <= now()
                RETURNING epoch
                """, [pipeline, run, Host.name, String(getpid()), user, String(ttlMs)])
            if let epoch = PostgresConnection.firstInt(rows) {
                self.epoch = epoch
                return
            }
            if !wait {
                let holder =
                    try db.query(
                        "SELECT run, host, pid, to_char(acquired AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM pipeline.leases WHERE pipeline = $1",
                        [pipeline]
                    ).first ?? []
                let text =
                    holder.count == 5
                    ? "run \(holder[0] ?? "") on \(holder[1] ?? "") pid \(holder[2] ?? ""), since \(holder[3] ?? ""), lease expires \(holder[4] ?? "")"
                    : "holder unknown"
                throw EngineError("pipeline '\(pipeline)' is locked by another run (\(text)); wait for it, or pass --wait-lock")
            }
            usleep(250_000)
        }
    }

    var fence: Int? { epoch }
    var renewIntervalMs: Int? { max(1, ttlMs / 3) }

    func renew() throws(EngineError) {
        let rows = try db.query(
            "UPDATE pipeline.leases SET renewed = now(), expires = now() + $3::bigint * interval '1 millisecond' WHERE pipeline = $1 AND epoch = $2 AND expires > now() RETURNING 1",
            [pipeline, String(epoch), String(ttlMs)])
        if rows.isEmpty { throw EngineError("lost the lease of pipeline '\(pipeline)': another runner took it over", exitCode: ExitStatus.lostLease) }
    }

    func describe(run: String) {
        _ = try? db.query("UPDATE pipeline.leases SET run = $3 WHERE pipeline = $1 AND epoch = $2", [pipeline, String(epoch), run])
    }

    deinit {
        _ = try? db.query("UPDATE pipeline.leases SET expires = now() WHERE pipeline = $1 AND epoch = $2", [pipeline, String(epoch)])
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

    func append(_ events: [JournalEvent]) throws(EngineError) {
        guard !events.isEmpty else { return }
        let time = clock.timestamp()
        let ms = clock.now()
        try write(events.map { $0.line(time: time, clockMs: ms).compact })
    }

    func appendUnsynced(_ event: JournalEvent) throws(EngineError) {
        try write([event.line(time: clock.timestamp(), clockMs: clock.now()).compact])
    }

    private func write(_ lines: [String]) throws(EngineError) {
        try db.query("BEGIN")
        do throws(EngineError) {
            let held = PostgresConnection.firstInt(try db.query("SELECT epoch FROM pipeline.leases WHERE pipeline = $1 FOR UPDATE", [lease.pipeline]))
            guard held == lease.epoch else {
                throw EngineError(
                    "lost the lease of pipeline '\(lease.pipeline)' (epoch \(held.map(String.init) ?? "none") now, ours \(lease.epoch)): writing nothing more",
                    exitCode: ExitStatus.lostLease)
            }
            for (i, line) in lines.enumerated() {
                try db.query("INSERT INTO pipeline.events (run, seq, epoch, line) VALUES ($1, $2, $3, $4)", [run, String(next + i), String(lease.epoch), line])
            }
            try db.query("COMMIT")
            next += lines.count
        } catch {
            _ = try? db.query("ROLLBACK")
            throw error
        }
    }
}
