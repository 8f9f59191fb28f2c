import Foundation
import Testing

/// Runs kept in a real PostgreSQL (the cluster `scripts/test` starts): one run per pipeline across
/// "runners" (working directories), takeover after a dead holder's lease expires, self-fencing of
/// a holder that was paused past its lease, and rollback/status from anywhere.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct PostgresStateTests {
    static let serverURL = ProcessInfo.processInfo.environment["PIPELINE_TEST_PG_URL"] ?? "postgresql://postgres@127.0.0.1:54329/postgres"

    /// A fresh database on the test cluster; its URL.
    static func database() throws -> String {
        let name = "pipeline_state_\(UInt32.random(in: 0...UInt32.max))"
        let create = try Binary.run(executable: "/usr/bin/env", ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)", serverURL])
        try #require(create.status == 0, "PostgreSQL is not reachable at \(serverURL) (scripts/test starts it): \(create.stderr)")
        return String(serverURL[..<serverURL.lastIndex(of: "/")!]) + "/" + name
    }

    /// `scripts/pg-cluster COMMAND` on the test cluster (restart, pause, start).
    static func cluster(_ command: String) throws -> Binary.Result {
        try Binary.run(executable: Binary.root.appendingPathComponent("scripts/pg-cluster").path, [command], environment: ["PIPELINE_TEST_PG_URL": serverURL])
    }

    static func psql(_ url: String, _ sql: String) throws -> String {
        let result = try Binary.run(executable: "/usr/bin/env", ["psql", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql, url])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    static let twoStages = """
        version: 1
        name: shared
        secrets: [TOKEN]
        stages:
          - {id: a, kind: backend, env: {T: '${{ secrets.TOKEN }}'}, run: 'echo "deploy a $T" >> "$LEDGER"; echo token=$T', rollback: 'echo undo a >> "$LEDGER"'}
          - {id: b, kind: backend, run: 'echo deploy b >> "$LEDGER"', rollback: 'echo undo b >> "$LEDGER"'}
          - {id: verify, kind: verify, smoke: ['true']}
        """

    @Test func statusHistoryAndRollbackFromAnotherMachineAndNoSecretInTheDatabase() throws {
        let url = try Self.database()
        let runner = try Sandbox(Self.twoStages)
        let other = try Sandbox("")
        defer { runner.remove(); other.remove() }
        let env = ["TOKEN": "s3cretvalue123", "LEDGER": runner.dir.appendingPathComponent("ledger").path]
        let run = try runner.pipeline(["run", "p.yml", "--state", url], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        // Another directory, with no local state at all: the database has the run.
        let status = try other.pipeline(["status", "--state", url])
        #expect(status.status == 0 && status.stdout.contains("of 'shared': succeeded"), "\(status.stdout)\(status.stderr)")
        #expect(status.stdout.contains("lease of 'shared'"), "\(status.stdout)")
        #expect(try other.pipeline(["history"], env: ["PIPELINE_STATE": url]).stdout.contains("  shared    succeeded  "))
        let rollback = try other.pipeline(["rollback", "--state", url], env: env)
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(Ledger(runner).lines == ["deploy a s3cretvalue123", "deploy b", "undo b", "undo a"])
        let dump = try Binary.run(executable: "/usr/bin/env", ["pg_dump", url])
        #expect(dump.status == 0 && dump.stdout.contains("run_started"), "\(dump.stderr)")
        #expect(!dump.stdout.contains("s3cretvalue123"), "a secret value is in the database")
    }

    @Test func concurrentRunsFromTwoRunnersExactlyOneRunsEachTime() throws {
        let url = try Self.database()
        let one = try Sandbox("version: 1\nname: race\nstages:\n  - {id: s, run: 'echo start >> \"$LEDGER\"; sleep 0.3; echo end >> \"$LEDGER\"'}\n")
        let two = try Sandbox("version: 1\nname: race\nstages:\n  - {id: s, run: 'echo start >> \"$LEDGER\"; sleep 0.3; echo end >> \"$LEDGER\"'}\n")
        defer { one.remove(); two.remove() }
        let ledger = one.dir.appendingPathComponent("ledger").path
        for pair in 0..<20 {
            let a = try one.background(["run", "p.yml", "--state", url], env: ["LEDGER": ledger])
            let b = try two.background(["run", "p.yml", "--state", url], env: ["LEDGER": ledger])
            let codes = [a.wait(seconds: 60), b.wait(seconds: 60)]
            #expect(codes.filter { $0 == 0 }.count == 1 && codes.filter { $0 == 2 }.count == 1, "pair \(pair): exits \(codes)")
            let loser = codes[0] == 2 ? a : b
            #expect(loser.stderr.contains("is locked by another run (run "), "pair \(pair): \(loser.stderr)")
        }
        #expect(!Ledger(one).hasOverlappingStarts, "two runs overlapped: \(Ledger(one).text)")
        #expect(Ledger(one).count("end") == 20)
    }

    @Test func aKilledHoldersRunIsTakenOverAfterItsLeaseExpires() throws {
        let url = try Self.database()
        let yaml = """
            version: 1
            name: takeover
            stages:
              - {id: s1, run: 'echo s1 >> "$LEDGER"'}
              - {id: s2, run: 'echo start s2 >> "$LEDGER"; sleep 1; echo end s2 >> "$LEDGER"'}
              - {id: s3, run: 'echo s3 >> "$LEDGER"'}
            """
        let first = try Sandbox(yaml)
        let second = try Sandbox(yaml)
        defer { first.remove(); second.remove() }
        let env = ["LEDGER": first.dir.appendingPathComponent("ledger").path]
        let holder = try first.background(["run", "p.yml", "--state", url, "--lease-ttl", "2s"], env: env)
        #expect(waitUntil(seconds: 30) { Ledger(first).contains("start s2") })
        holder.signal(SIGKILL)
        _ = holder.wait(seconds: 10)
        // While the lease lives, a second runner is refused, naming the holder.
        let early = try second.pipeline(["resume", "--state", url], env: env, within: 30)
        #expect(early.status == 2 && early.stderr.contains("is locked by another run"), "\(early.output)")
        // --wait-lock: it takes over once the lease expires (and s2's script has ended).
        let resumed = try second.pipeline(["resume", "--state", url, "--wait-lock"], env: env, within: 60)
        #expect(resumed.status == 0, "\(resumed.output)")
        let ledger = Ledger(first)
        #expect(ledger.count("s1") == 1, "s1 had succeeded and ran again: \(ledger.text)")
        #expect(ledger.count("s3") == 1 && ledger.contains("end s2"), "\(ledger.text)")
    }

    @Test func aPausedHolderFencesItselfAfterATakeoverAndWritesNothingMore() throws {
        let url = try Self.database()
        let yaml = """
            version: 1
            name: paused
            stages:
              - {id: long, run: 'echo "start $PIPELINE_FENCE" >> "$LEDGER"; sleep 4; echo "end $PIPELINE_FENCE" >> "$LEDGER"'}
              - {id: after, run: 'echo "after $PIPELINE_FENCE" >> "$LEDGER"'}
            """
        let first = try Sandbox(yaml)
        let second = try Sandbox(yaml)
        defer { first.remove(); second.remove() }
        let env = ["LEDGER": first.dir.appendingPathComponent("ledger").path]
        let holder = try first.background(["run", "p.yml", "--state", url, "--lease-ttl", "2s"], env: env)
        #expect(waitUntil(seconds: 30) { Ledger(first).contains("start 1") })
        holder.signal(SIGSTOP)
        usleep(2_500_000)  // past the lease
        let taker = try second.background(["resume", "--state", url, "--wait-lock"], env: env)
        #expect(waitUntil(seconds: 30) { (try? Self.psql(url, "SELECT epoch FROM pipeline.leases"))?.contains("2") == true }, "no takeover")
        holder.signal(SIGCONT)
        #expect(holder.wait(seconds: 30) == 5, "the paused holder did not fence itself: \(holder.output)")
        #expect(taker.wait(seconds: 60) == 0, "\(taker.output)")
        let ledger = Ledger(first)
        #expect(!ledger.contains("end 1") && !ledger.contains("after 1"), "the fenced holder's work went on: \(ledger.text)")
        #expect(ledger.contains("after 2"), "\(ledger.text)")
        // No event of the old epoch after the first of the new one.
        let order = try Self.psql(url, "SELECT coalesce(max(seq) FILTER (WHERE epoch = 1), 0) < min(seq) FILTER (WHERE epoch = 2) FROM pipeline.events")
        #expect(order.trimmingCharacters(in: .whitespacesAndNewlines) == "t", "the fenced holder wrote after the takeover")
    }
}

extension PostgresStateTests {
    /// The holder's connection killed by the server mid-run: it reconnects, keeps its lease (same
    /// epoch) and the run ends with its journal whole.
    @Test func aKilledConnectionIsReconnectedAndTheRunGoesOn() throws {
        let url = try Self.database()
        let box = try Sandbox(
            """
            version: 1
            name: reconnect
            stages:
              - {id: a, run: 'echo a >> "$LEDGER"; sleep 2'}
              - {id: b, run: 'echo b >> "$LEDGER"'}
            """)
        defer { box.remove() }
        let env = ["LEDGER": box.dir.appendingPathComponent("ledger").path]
        let holder = try box.background(["run", "p.yml", "--state", url, "--lease-ttl", "3s"], env: env)
        #expect(waitUntil(seconds: 30) { Ledger(box).contains("a") })
        let name = String(url[url.index(after: url.lastIndex(of: "/")!)...])
        let killed = try Self.psql(
            Self.serverURL, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(name)' AND application_name = 'pipeline'")
        #expect(killed.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "no connection of the holder to kill: \(killed)")
        #expect(holder.wait(seconds: 60) == 0, "\(holder.output)")
        #expect(Ledger(box).lines == ["a", "b"])
        let status = try box.pipeline(["status", "--state", url, "--json"])
        #expect(status.stdout.contains("\"status\": \"succeeded\""), "\(status.stdout)")
        #expect(try Self.psql(url, "SELECT DISTINCT epoch FROM pipeline.events").trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }
}

extension PostgresStateTests {
    /// `pipeline lock status` shows the holder; `lock release --reason` ends the lease, is recorded,
    /// and the holder fences itself (exit 5) without writing more.
    @Test func aForcedReleaseIsRecordedAndFencesTheHolder() throws {
        let url = try Self.database()
        let box = try Sandbox(
            """
            version: 1
            name: stuck
            stages:
              - {id: a, run: 'echo start >> "$LEDGER"; sleep 20; echo end >> "$LEDGER"'}
            """)
        let other = try Sandbox("")
        defer { box.remove(); other.remove() }
        let holder = try box.background(["run", "p.yml", "--state", url, "--lease-ttl", "3s"], env: ["LEDGER": box.dir.appendingPathComponent("ledger").path])
        #expect(waitUntil(seconds: 30) { Ledger(box).contains("start") })
        let status = try other.pipeline(["lock", "status", "--state", url])
        #expect(status.status == 0 && status.stdout.contains("stuck: held until") && status.stdout.contains("epoch 1"), "\(status.stdout)\(status.stderr)")
        let noReason = try other.pipeline(["lock", "release", "--state", url, "--pipeline", "stuck"])
        #expect(noReason.status == 2, "a release without a reason was accepted")
        let release = try other.pipeline(["lock", "release", "--state", url, "--pipeline", "stuck", "--reason", "runner wedged, INC-42"])
        #expect(release.status == 0, "\(release.stderr)")
        #expect(holder.wait(seconds: 30) == 5, "the released holder did not fence itself: \(holder.output)")
        #expect(!Ledger(box).contains("end"), "the holder's stage went on after the release")
        #expect(try Self.psql(url, "SELECT reason FROM pipeline.lease_releases").contains("runner wedged, INC-42"))
        // The run can be continued by anyone now.
        #expect(try other.pipeline(["lock", "status", "--state", url]).stdout.contains("stuck: free"))
    }
}

extension PostgresStateTests {
    /// The PostgreSQL server restarted mid-run (every connection dropped): the holder reconnects and
    /// finishes, or fences itself; never two holders, and the journal ends whole.
    @Test func aServerRestartMidRunIsSurvived() throws {
        let url = try Self.database()
        let box = try Sandbox(
            """
            version: 1
            name: restart
            stages:
              - {id: a, run: 'echo a >> "$LEDGER"; sleep 3'}
              - {id: b, run: 'echo b >> "$LEDGER"'}
            """)
        defer { box.remove() }
        let env = ["LEDGER": box.dir.appendingPathComponent("ledger").path]
        let holder = try box.background(["run", "p.yml", "--state", url, "--lease-ttl", "10s"], env: env)
        #expect(waitUntil(seconds: 30) { Ledger(box).contains("a") })
        let restart = try Self.cluster("restart")
        #expect(restart.status == 0, "\(restart.stderr)")
        let code = holder.wait(seconds: 90)
        #expect(code == 0 || code == 5, "neither finished nor fenced itself: \(String(describing: code)) \(holder.output)")
        if code == 0 {
            #expect(Ledger(box).lines == ["a", "b"])
            let status = try box.pipeline(["status", "--state", url, "--json"])
            #expect(status.stdout.contains("\"status\": \"succeeded\""), "\(status.stdout)\(status.stderr)")
        }
        #expect(try Self.psql(url, "SELECT count(DISTINCT epoch) FROM pipeline.events").trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }
}

extension PostgresStateTests {
    static let held = """
        version: 1
        name: line
        stages:
          - {id: s, run: 'echo "start $WHO" >> "$LEDGER"; while [ ! -e "$GO" ]; do sleep 0.05; done; echo "end $WHO" >> "$LEDGER"'}
        """

    static func waiters(_ url: String) -> Int {
        Int(((try? psql(url, "SELECT count(*) FROM pipeline.lease_waiters WHERE expires > now()")) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// `--wait-lock` waits in line: first come, first served, each woken by the NOTIFY of the
    /// release before it (the lease TTL is a minute, so a waiter that only woke on its own timers
    /// would take 20 s), and a run that does not wait is refused while others wait in line.
    @Test func waitersTakeTheLeaseInTheOrderTheyCameWokenByTheRelease() throws {
        let url = try Self.database()
        let boxes = try (0..<4).map { _ in try Sandbox(Self.held) }
        defer { boxes.forEach { $0.remove() } }
        let ledger = boxes[0].dir.appendingPathComponent("ledger").path
        let go = boxes[0].dir.appendingPathComponent("go").path
        func env(_ who: String) -> [String: String] { ["LEDGER": ledger, "GO": go, "WHO": who] }
        let flags = ["--state", url, "--lease-ttl", "60s"]
        let holder = try boxes[0].background(["run", "p.yml"] + flags, env: env("holder"))
        #expect(waitUntil(seconds: 30) { Ledger(boxes[0]).contains("start holder") })
        let first = try boxes[1].background(["run", "p.yml", "--wait-lock"] + flags, env: env("first"))
        #expect(waitUntil(seconds: 30) { Self.waiters(url) == 1 }, "the first waiter is not in line")
        let second = try boxes[2].background(["run", "p.yml", "--wait-lock=5m"] + flags, env: env("second"))
        #expect(waitUntil(seconds: 30) { Self.waiters(url) == 2 }, "the second waiter is not in line")
        let refused = try boxes[3].pipeline(["run", "p.yml"] + flags, env: env("third"), within: 30)
        #expect(refused.status == 2 && refused.stderr.contains("2 runs waiting in line"), "\(refused.output)")
        #expect(first.stderr.contains("waiting for the lease of pipeline 'line' (run "), "\(first.stderr)")

        let released = Date()
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        #expect(holder.wait(seconds: 60) == 0, "\(holder.output)")
        #expect(first.wait(seconds: 60) == 0, "\(first.output)")
        #expect(second.wait(seconds: 60) == 0, "\(second.output)")
        let waited = Int(Date().timeIntervalSince(released) * 1000)
        #expect(waited < 15_000, "the waiters took \(waited) ms after the release: not woken by NOTIFY")
        #expect(first.stderr.contains("took the lock of pipeline 'line' after waiting"), "\(first.stderr)")
        let order = Ledger(boxes[0]).lines
        #expect(order == ["start holder", "end holder", "start first", "end first", "start second", "end second"], "\(order)")
        #expect(Self.waiters(url) == 0, "a waiter stayed in line")
    }

    /// `--wait-lock=TIMEOUT` gives up (exit 2) naming the holder; Ctrl-C while waiting exits 130;
    /// either way the waiter leaves the line at once.
    @Test func aWaitThatRunsOutOrIsInterruptedLeavesTheLine() throws {
        let url = try Self.database()
        let holderBox = try Sandbox(Self.held)
        let waiterBox = try Sandbox(Self.held)
        defer { holderBox.remove(); waiterBox.remove() }
        let env = ["LEDGER": holderBox.dir.appendingPathComponent("ledger").path, "GO": holderBox.dir.appendingPathComponent("go").path, "WHO": "h"]
        let holder = try holderBox.background(["run", "p.yml", "--state", url], env: env)
        #expect(waitUntil(seconds: 30) { Ledger(holderBox).contains("start h") }, "\(holder.output)")
        let timedOut = try waiterBox.pipeline(["run", "p.yml", "--state", url, "--wait-lock", "1s"], env: env, within: 60)
        #expect(timedOut.status == 2, "\(timedOut.output)")
        #expect(timedOut.stderr.contains("gave up waiting 1s for the lock of pipeline 'line' (run "), "\(timedOut.stderr)")
        #expect(Self.waiters(url) == 0)
        let interrupted = try waiterBox.background(["resume", "--state", url, "--pipeline", "line", "--wait-lock"], env: env)
        #expect(waitUntil(seconds: 30) { Self.waiters(url) == 1 }, "the waiter is not in line: \(interrupted.output)")
        interrupted.signal(SIGINT)
        #expect(interrupted.wait(seconds: 30) == 130, "\(interrupted.output)")
        #expect(Self.waiters(url) == 0, "the interrupted waiter stayed in line")
        _ = FileManager.default.createFile(atPath: env["GO"]!, contents: nil)
        #expect(holder.wait(seconds: 60) == 0, "\(holder.output)")
        #expect(Ledger(holderBox).lines == ["start h", "end h"])
    }

    /// The server down for a while mid-run (longer than one reconnect): the journal append of the
    /// stage that ends meanwhile is retried with backoff inside the lease budget, and the run
    /// finishes with one epoch.
    @Test func aServerDownForAWhileIsWaitedForWithinTheLeaseBudget() throws {
        let url = try Self.database()
        let box = try Sandbox(
            """
            version: 1
            name: outage
            stages:
              - {id: a, run: 'echo a >> "$LEDGER"; sleep 1'}
              - {id: b, run: 'echo b >> "$LEDGER"'}
            """)
        defer { box.remove() }
        let env = ["LEDGER": box.dir.appendingPathComponent("ledger").path]
        let holder = try box.background(["run", "p.yml", "--state", url, "--lease-ttl", "20s"], env: env)
        #expect(waitUntil(seconds: 30) { Ledger(box).contains("a") })
        let pause = try Self.cluster("pause")
        #expect(pause.status == 0, "\(pause.stderr)")
        usleep(3_000_000)  // a's end is journaled while the server is down
        let start = try Self.cluster("start")
        #expect(start.status == 0, "\(start.stderr)")
        #expect(holder.wait(seconds: 90) == 0, "\(holder.output)")
        #expect(Ledger(box).lines == ["a", "b"])
        #expect(try Self.psql(url, "SELECT count(DISTINCT epoch) FROM pipeline.events").trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let status = try box.pipeline(["status", "--state", url, "--json"])
        #expect(status.stdout.contains("\"lease\": {") && status.stdout.contains("\"epoch\": 1"), "\(status.stdout)")
    }
}

extension PostgresStateTests {
    /// A file with environments holds a lease per environment: `lock status --pipeline NAME`
    /// shows each, `--pipeline NAME@ENV` one.
    @Test func lockStatusOfAPipelineShowsEachEnvironmentsLease() throws {
        let url = try Self.database()
        let box = try Sandbox(
            """
            version: 1
            name: envs
            environments:
              staging: {}
              production: {}
            stages:
              - {id: hold, env: {WHERE: '${{ environment.name }}'}, run: 'echo "start $WHERE" >> "$LEDGER"; while [ ! -e "$GO" ]; do sleep 0.05; done'}
            """)
        defer { box.remove() }
        let env = ["LEDGER": box.dir.appendingPathComponent("ledger").path, "GO": box.dir.appendingPathComponent("go").path]
        let staging = try box.background(["run", "p.yml", "--env", "staging", "--state", url], env: env)
        let production = try box.background(["run", "p.yml", "--env", "production", "--state", url], env: env)
        #expect(
            waitUntil(seconds: 30) { Ledger(box).contains("start staging") && Ledger(box).contains("start production") },
            "\(staging.output)\(production.output)")
        let all = try box.pipeline(["lock", "status", "--state", url, "--pipeline", "envs"])
        #expect(all.status == 0 && all.stdout.contains("envs@staging: held until") && all.stdout.contains("envs@production: held until"), "\(all.output)")
        let one = try box.pipeline(["lock", "status", "--state", url, "--pipeline", "envs@staging"])
        #expect(one.stdout.contains("envs@staging: held") && !one.stdout.contains("envs@production"), "\(one.output)")
        _ = FileManager.default.createFile(atPath: env["GO"]!, contents: nil)
        #expect(staging.wait(seconds: 60) == 0 && production.wait(seconds: 60) == 0, "\(staging.output)\(production.output)")
    }
}
