import Foundation
import Testing

/// The deploy kinds against a real HTTP server on loopback, with the virtual clock for bake
/// times, intervals and delays.
@Suite(.serialized, .timeLimit(.minutes(3))) struct KindTests {
    static let virtual = ["PIPELINE_TEST_CLOCK": "virtual"]

    static func canary(_ base: String, failureLimit: Int = 2) -> String {
        """
        version: 1
        name: canary
        stages:
          - { id: api, kind: backend, run: "echo deployed >> ran.log", rollback: "echo undeployed >> ran.log" }
          - id: shift
            kind: canary
            traffic: echo "$PIPELINE_TRAFFIC_PERCENT" >> traffic.log
            steps: [10, 50, 100]
            bake: 1m
            interval: 30s
            failure-limit: \(failureLimit)
            analysis:
              - { name: error-rate, http: { url: "\(base)/errors", json: rate }, max: 0.05 }
              - { name: p95, http: { url: "\(base)/latency", json: "p95.seconds" }, max: "baseline * 2" }
        """
    }

    static func values(_ key: String, _ list: [Double]) -> [[String: Any]] {
        list.map { ["json": key == "rate" ? ["rate": $0] : ["p95": ["seconds": $0]]] }
    }

    @Test func canaryPromotesThroughEveryStep() throws {
        let server = try ScriptedServer(["/errors": Self.values("rate", [0.01]), "/latency": Self.values("p95", [0.2])])
        defer { server.stop() }
        let box = try Sandbox(Self.canary(server.base))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(box.read("traffic.log") == "0\n10\n50\n100\n", "0% first: the baseline is measured without the new release")
        let measurements = try box.events().filter { $0["type"] as? String == "measurement" }
        // A baseline of the relative metric only (an absolute-only metric needs none), then two
        // analyses (every 30 s of a 1 m bake) per step and metric.
        #expect(measurements.count == 1 + 3 * 2 * 2)
        #expect(measurements.filter { $0["verdict"] as? String == "baseline" }.map { $0["metric"] as? String } == ["p95"])
        #expect(measurements.allSatisfy { ["baseline", "pass"].contains($0["verdict"] as? String) })
        #expect(result.stdout.contains("[shift] 50%: p95 = 0.2 (≤ 0.4 (baseline * 2)): pass"))
    }

    @Test func canaryAbortsAtFiftyPercentOnTheErrorRate() throws {
        // Two readings at 10 %, then two bad ones at 50 % (error-rate is absolute: no baseline reading).
        let server = try ScriptedServer(["/errors": Self.values("rate", [0.01, 0.01, 0.2, 0.2]), "/latency": Self.values("p95", [0.2])])
        defer { server.stop() }
        let box = try Sandbox(Self.canary(server.base))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(box.read("traffic.log") == "0\n10\n50\n0\n")
        #expect(box.read("ran.log") == "deployed\nundeployed\n")
        #expect(result.stderr.contains("canary aborted at 50%: error-rate = 0.2 (≤ 0.05)"))
        let failed = try box.events().filter { $0["type"] as? String == "measurement" && $0["verdict"] as? String == "fail" }
        #expect(failed.count == 2)
        #expect(failed.allSatisfy { $0["step"] as? Int == 50 && $0["metric"] as? String == "error-rate" })
    }

    @Test func canaryAbortsOnABaselineRelativeP95() throws {
        let server = try ScriptedServer(["/errors": Self.values("rate", [0.0]), "/latency": Self.values("p95", [0.2, 0.3, 0.35, 0.5, 0.9])])
        defer { server.stop() }
        let box = try Sandbox(Self.canary(server.base))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1)
        #expect(box.read("traffic.log") == "0\n10\n50\n0\n")
        #expect(result.stderr.contains("canary aborted at 50%: p95 = 0.9 (≤ 0.4 (baseline * 2))"))
    }

    static func verify(_ url: String, timeout: String = "3s", threshold: Int = 3) -> String {
        """
        version: 1
        name: verify
        stages:
          - id: verify
            kind: verify
            http: { url: "\(url)", timeout: \(timeout), interval: 10s, initial-delay: 10s, failure-threshold: \(threshold) }
            smoke: ["echo smoke ok >> ran.log"]
        """
    }

    @Test func verifyPassesAfterTwoFailedProbes() throws {
        let server = try ScriptedServer(["/health": [["status": 503], ["status": 503], ["status": 200, "body": "ok"]]])
        defer { server.stop() }
        let box = try Sandbox(Self.verify(server.base + "/health"))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 0, "\(result.stderr)")
        let probes = try box.events().filter { $0["type"] as? String == "probe" }
        #expect(probes.map { $0["status"] as? Int } == [503, 503, 200])
        // Probes 10 s apart after a 10 s initial delay, on the virtual clock.
        let clocks = probes.map { $0["at_ms"] as! Int }
        #expect(clocks[1] - clocks[0] >= 10_000 && clocks[2] - clocks[1] >= 10_000)
        #expect(box.read("ran.log") == "smoke ok\n")
    }

    @Test func verifyFailsAfterTheFailureThreshold() throws {
        let server = try ScriptedServer(["/health": [["status": 500]]])
        defer { server.stop() }
        let box = try Sandbox(Self.verify(server.base + "/health"))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1)
        #expect(result.stderr.contains("unhealthy: 3 consecutive failed probes of \(server.base)/health (last: HTTP 500)"))
        #expect(box.read("ran.log").isEmpty, "smoke tests do not run after a failed probe")
    }

    @Test func aProbeThatTimesOutCountsAsAFailure() throws {
        let server = try ScriptedServer(["/health": [["status": 200, "delay_ms": 3000]]])
        defer { server.stop() }
        let box = try Sandbox(Self.verify(server.base + "/health", timeout: "300ms", threshold: 1))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1)
        #expect(result.stderr.contains("(last: timed out after 300ms)"))
    }

    @Test func precheckRunsEveryCheckAndReportsEveryFailureTogether() throws {
        let server = try ScriptedServer(["/ready": [["status": 200]], "/bucket": [["status": 403]]])
        defer { server.stop() }
        let closed = closedPort()
        let box = try Sandbox(
            """
            version: 1
            name: pre
            stages:
              - id: pre
                kind: infra-precheck
                checks:
                  - { name: api ready, http: { url: "\(server.base)/ready" } }
                  - { name: bucket readable, http: { url: "\(server.base)/bucket", expect: 200 } }
                  - { name: server port, tcp: "127.0.0.1:\(server.port)" }
                  - { name: database port, tcp: "127.0.0.1:\(closed)", timeout: 1s }
                  - { name: disk, run: "echo checking disk; exit 3" }
                  - { name: dns, run: "true" }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "3 of 6 checks failed: 'bucket readable': GET \(server.base)/bucket returned 403, expected 200; 'database port': cannot connect to 127.0.0.1:\(closed): Connection refused; 'disk': exit 3"
            ))
        #expect(result.stdout.contains("[pre] disk: checking disk"))
        #expect(result.stdout.contains("[pre] check 'api ready' passed"))
    }

    @Test func envPresyncNamesEveryMissingVariableAndFile() throws {
        let box = try Sandbox(
            """
            version: 1
            name: presync
            stages:
              - id: presync
                kind: env-presync
                require: [DATABASE_URL, STRIPE_WEBHOOK_SECRET]
                files: [.env.example, ci.yml]
                apply: echo applied >> ran.log
            """)
        defer { box.remove() }
        try "DATABASE_URL=\n# STRIPE_WEBHOOK_SECRET= (commented out)\n".write(
            to: box.dir.appendingPathComponent(".env.example"), atomically: true, encoding: .utf8)
        try "env:\n  DATABASE_URL: ${{ secrets.DATABASE_URL }}\n  STRIPE_WEBHOOK_SECRET: ${{ secrets.STRIPE_WEBHOOK_SECRET }}\n"
            .write(to: box.dir.appendingPathComponent("ci.yml"), atomically: true, encoding: .utf8)
        let failed = try box.pipeline(["run", "p.yml"], env: ["DATABASE_URL": "postgres://x"])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("not set in the environment: STRIPE_WEBHOOK_SECRET; .env.example does not declare STRIPE_WEBHOOK_SECRET"))
        #expect(box.read("ran.log").isEmpty)
        try "DATABASE_URL=\nSTRIPE_WEBHOOK_SECRET=\n".write(to: box.dir.appendingPathComponent(".env.example"), atomically: true, encoding: .utf8)
        let passed = try box.pipeline(["run", "p.yml"], env: ["DATABASE_URL": "postgres://x", "STRIPE_WEBHOOK_SECRET": "whsec_123"])
        #expect(passed.status == 0, "\(passed.stderr)")
        #expect(box.read("ran.log") == "applied\n")
    }

    /// A check that leaves a detached process writing without pause to its output still gets its
    /// verdict: what is left is read for the output grace at most, then the pipe is closed.
    @Test func aCheckWhoseDetachedChildWritesForeverStillEnds() throws {
        let box = try Sandbox(
            """
            version: 1
            name: chatty
            stages:
              - id: pre
                kind: infra-precheck
                checks:
                  - { name: leaves a writer behind, run: 'setsid yes & sleep 0.2', timeout: 30s }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], within: 60)
        #expect(result.returned && result.status == 0, "\(result.stderr.suffix(2000))")
    }

    @Test func aResponseWithoutEndIsCutAtTheBodyLimit() throws {
        let server = try ScriptedServer(["/health": [["endless": true]]])
        defer { server.stop() }
        let box = try Sandbox(
            """
            version: 1
            name: endless
            stages:
              - id: verify
                kind: verify
                http: { url: "\(server.base)/health", timeout: 2m, initial-delay: 0s, failure-threshold: 1, attempts: 1 }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("the response is larger than 16 MiB"), "\(result.stdout)\(result.stderr)")
    }

    @Test func sigtermDuringASlowProbeStopsAtOnce() throws {
        let server = try ScriptedServer(["/health": [["status": 200, "delay_ms": 60000]]])
        defer { server.stop() }
        let box = try Sandbox(
            """
            version: 1
            name: slow
            stages:
              - id: verify
                kind: verify
                http: { url: "\(server.base)/health", timeout: 5m, initial-delay: 0s, failure-threshold: 1 }
            """)
        defer { box.remove() }
        let started = Date()
        let result = try box.shell(
            """
            "$PIPELINE" run p.yml > run.out 2>&1 & pid=$!
            until grep -q "health probe" run.out 2>/dev/null; do sleep 0.05; done
            sleep 0.3; kill -TERM $pid; wait $pid; echo "exit=$?"
            """)
        #expect(result.stdout == "exit=130\n", "\(box.read("run.out"))")
        #expect(Date().timeIntervalSince(started) < 20, "the probe is cancelled, not waited for")
        #expect(Sandbox.stages(try box.state())["verify"]?["status"] as? String == "pending", "interrupted, to run again on resume")
    }

    @Test func aCheckThatStartsADaemonFinishesWhenItsScriptDoes() throws {
        let box = try Sandbox(
            """
            version: 1
            name: daemon
            stages:
              - id: pre
                kind: infra-precheck
                timeout: 20s
                checks:
                  - { name: starts a daemon, run: "setsid sleep 30 > /dev/null 2>&1 & echo $! > daemon.pid; echo started", timeout: 10s }
            """)
        defer { box.remove() }
        let started = Date()
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 8)
        _ = try box.shell("kill $(cat daemon.pid)")
    }

    @Test func aRetriedMigrationKeepsTheFirstBackup() throws {
        let box = try Sandbox(
            """
            version: 1
            name: retried
            stages:
              - id: migrate
                kind: migrate
                retry: { attempts: 2, delay: 10ms }
                backup: 'cp db "$PIPELINE_BACKUP_PATH"'
                run: echo "half-applied" >> db; exit 1
                restore: 'cp "$PIPELINE_BACKUP_PATH" db'
            """)
        defer { box.remove() }
        try "schema v1\n".write(to: box.dir.appendingPathComponent("db"), atomically: true, encoding: .utf8)
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(box.read("db") == "schema v1\n", "restored to the state before the first attempt")
        #expect(try box.events().filter { $0["type"] as? String == "backup" }.count == 1)
    }
}
