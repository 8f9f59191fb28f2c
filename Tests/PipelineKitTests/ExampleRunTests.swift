import Foundation
import Testing

/// The canary examples of `pipelines/` run end to end against local stand-ins: their URLs pointed
/// at servers on loopback (a scripted metrics server, a real Prometheus), their cloud CLIs
/// (`kubectl`, `gcloud`, `alembic`, `pg_dump`) replaced by scripts on PATH that log their calls.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ExampleRunTests {
    /// A sandbox holding `pipelines/NAME` with some lines replaced, the `orders` migrations beside
    /// it, and a `bin/` of stand-ins that log `NAME ARGS` to `calls.log`.
    static func box(_ name: String, replacing: [(String, String)], standIns: [String: String]) throws -> Sandbox {
        var text = try String(contentsOf: Binary.root.appendingPathComponent("pipelines/\(name)"), encoding: .utf8)
        for (old, new) in replacing {
            #expect(text.contains(old), "pipelines/\(name) no longer holds '\(old)'")
            text = text.replacingOccurrences(of: old, with: new)
        }
        let box = try Sandbox(text)
        try FileManager.default.copyItem(at: Binary.root.appendingPathComponent("pipelines/orders"), to: box.dir.appendingPathComponent("orders"))
        try FileManager.default.createDirectory(at: box.dir.appendingPathComponent("bin"), withIntermediateDirectories: true)
        for (tool, body) in standIns {
            let path = box.dir.appendingPathComponent("bin/\(tool)").path
            try "#!/bin/sh\necho \"\(tool) $*\" >> \"$CALLS\"\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
        return box
    }

    static func env(_ box: Sandbox, _ extra: [String: String] = [:]) -> [String: String] {
        [
            "PATH": box.dir.appendingPathComponent("bin").path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "CALLS": box.dir.appendingPathComponent("calls.log").path, "PIPELINE_TEST_CLOCK": "virtual",
        ].merging(extra) { $1 }
    }

    static let kubectl = """
        case "$*" in *" get deploy "*) echo registry.example.com/shop/checkout:previous ;; esac
        """

    static func metrics(_ payments: [Double], errorRate: Double = 0.002, p95: Double = 0.12) -> [[String: Any]] {
        payments.map { ["json": ["payments": ["errors_per_minute": $0], "http": ["error_rate": errorRate, "p95_seconds": p95]]] }
    }

    @Test func theKubernetesCanaryPromotesAndRollsBackOnOnePaymentError() throws {
        // Every request to /canary takes the next answer: two baselines, then three metrics a round,
        // ten rounds at 10 % (5m every 30s): request 32 is the first payment reading at 25 %.
        for (payments, expected) in [([0.0], Int32(0)), ([Double](repeating: 0, count: 32) + [1], Int32(1))] {
            let server = try ScriptedServer(["/canary": Self.metrics(payments), "/health": [["status": 200]], "/api/cart/ping": [["status": 200]]])
            defer { server.stop() }
            let box = try Self.box(
                "k8s-canary.yml",
                replacing: [
                    ("METRICS_URL: https://metrics.shop.example.com/v1/services/checkout", "METRICS_URL: \(server.base)"),
                    ("SHOP_URL: https://shop.example.com", "SHOP_URL: \(server.base)"),
                ], standIns: ["kubectl": Self.kubectl])
            defer { box.remove() }
            let result = try box.pipeline(["run", "p.yml"], env: Self.env(box))
            #expect(result.status == expected, "\(result.stdout)\(result.stderr)")
            let weights = box.read("calls.log").split(separator: "\n").filter { $0.contains("canary-weight=") }
                .map { $0.split(separator: "=").last.map(String.init) ?? "" }
            if expected == 0 {
                #expect(weights == ["0", "10", "25", "50", "100", "0"], "the canary steps, then the promotion's reset: \(weights)")
                #expect(box.read("calls.log").contains("kubectl -n shop set image deploy/checkout app=registry.example.com/shop/checkout:2026.12.01"))
            } else {
                // The first payment error, at the first reading at 25 %, rolls back at once.
                #expect(weights == ["0", "10", "25", "0"], "\(weights)")
                #expect(result.stderr.contains("canary aborted at 25%: payment-errors = 1 (≤ 0) [1 failed reading in a row]"), "\(result.stderr)")
                #expect(box.read("calls.log").contains("set image deploy/checkout-canary app=registry.example.com/shop/checkout:previous"))
                #expect(!box.read("calls.log").contains("deploy/checkout app="), "the stable Deployment was never touched")
            }
        }
    }

    static let billingMetrics = """
        http_requests_total{service="billing-api",code="200"} ${99*t}
        http_requests_total{service="billing-api",code="500"} ${0.5*t}
        payment_failures_total{service="billing-api"} 0

        """

    @Test func theCloudRunPipelineMigratesCanariesOnPrometheusAndWatches() throws {
        let prometheus = try PrometheusServer(metrics: Self.billingMetrics)
        defer { prometheus.stop() }
        // rate() needs two samples in its window.
        let ready = waitUntil(seconds: 60) { prometheus.query("sum(rate(http_requests_total[1m]))")?.contains("\"value\"") == true }
        try #require(ready, "no rate from Prometheus")
        let box = try Self.box(
            "cloudrun-prometheus.yml",
            replacing: [
                ("API_URL: https://billing.example.com", "API_URL: \(prometheus.base)"),
                ("tcp: billing-db.internal:5432", "tcp: 127.0.0.1:\(prometheus.port)"),
                ("url: \"${{ env.API_URL }}/health\"", "url: \"${{ env.API_URL }}/-/healthy\""),
            ],
            standIns: [
                "gcloud": "case \"$*\" in *latestCreatedRevisionName*) echo billing-api-00042 ;; *describe*) echo billing-api-00041 ;; esac",
                "alembic": "case \"$1\" in current) echo 'a1b2c3 (head)' ;; heads) echo 'd4e5f6 (head)' ;; esac",
                "pg_dump": "for a in \"$@\"; do case \"$a\" in --file=*) echo dump > \"${a#--file=}\" ;; esac; done",
                "pg_restore": "true",
            ])
        defer { box.remove() }
        // The file's inputs point it at the local Prometheus and shorten the watch to 10 minutes.
        let result = try box.pipeline(
            ["run", "p.yml", "--input", "prometheus=\(prometheus.base)", "--input", "watch=10m"],
            env: Self.env(box, ["DATABASE_URL": "postgresql://billing@db/billing"]))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let calls = box.read("calls.log")
        #expect(calls.contains("alembic upgrade head"))
        for percent in [10, 50, 100] { #expect(calls.contains("--to-revisions=billing-api-00042=\(percent)"), "\(calls)") }
        let events = try box.events().filter { $0["type"] as? String == "measurement" }
        let baseline = try #require(events.first { $0["verdict"] as? String == "baseline" })
        #expect(baseline["metric"] as? String == "error-ratio")
        #expect(abs((baseline["value"] as? Double ?? 0) - 0.005) < 0.001, "0.5 of 99.5 requests a second fail: \(baseline)")
        let watch = events.filter { $0["stage"] as? String == "watch" }
        #expect(watch.count == 20, "a reading of two metrics every minute for ten minutes")
        #expect(watch.allSatisfy { $0["verdict"] as? String == "pass" })
        #expect((result.stdout + result.stderr).contains("[watch] watched for 10m: every analysis held"))
    }
}
