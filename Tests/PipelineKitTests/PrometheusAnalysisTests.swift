import Foundation
import Testing

/// The `prometheus:` analysis source end to end: a real Prometheus (Debian's package) on a free
/// port of 127.0.0.1 scraping an exporter this test controls, queried by the real binary.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PrometheusAnalysisTests {
    static let metrics = """
        app_error_ratio 0.01
        app_nan_ratio NaN
        app_requests_total{code="200"} 10
        app_requests_total{code="500"} 1

        """

    static func pipeline(_ analysis: String) -> String {
        """
        version: 1
        name: prom
        stages:
          - { id: api, kind: backend, run: "echo deployed >> ran.log", rollback: "echo undeployed >> ran.log" }
          - id: shift
            kind: canary
            traffic: echo "$PIPELINE_TRAFFIC_PERCENT" >> traffic.log
            steps: [100]
            bake: 0s
            analysis:
        \(analysis)
        """
    }

    static func readings(_ box: Sandbox) throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for event in try box.events() where event["type"] as? String == "measurement" {
            if let metric = event["metric"] as? String { out[metric] = event }
        }
        return out
    }

    @Test func passFailNoDataNaNBadQuerySeveralSeriesAndNetworkErrors() throws {
        let prometheus = try PrometheusServer(metrics: Self.metrics)
        defer { prometheus.stop() }
        let base = prometheus.base
        let closed = "http://127.0.0.1:\(try PrometheusServer.freePort())"
        let analysis = """
                  - { name: ratio, prometheus: { url: "\(base)", query: "app_error_ratio + 0" }, max: 0.05 }
                  - { name: scalar, prometheus: { url: "\(base)/", query: "scalar(app_error_ratio)" }, max: 0.05 }
                  - { name: nan, prometheus: { url: "\(base)", query: "app_nan_ratio" }, max: 0.05 }
                  - { name: absent, prometheus: { url: "\(base)", query: "app_absent_metric" }, max: 0.05 }
                  - { name: bad, prometheus: { url: "\(base)", query: "sum(" }, max: 0.05 }
                  - { name: several, prometheus: { url: "\(base)", query: "app_requests_total" }, max: 100 }
                  - { name: down, prometheus: { url: "\(closed)", query: "up", timeout: 2s }, max: 1 }
            """
        let box = try Sandbox(Self.pipeline(analysis))
        defer { box.remove() }
        // One round: everything without a value is inconclusive (below the limit of 3), so the canary passes.
        let first = try box.pipeline(["run", "p.yml"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        let readings = try Self.readings(box)
        func verdict(_ name: String) -> String? { readings[name]?["verdict"] as? String }
        func reason(_ name: String) -> String { readings[name]?["reason"] as? String ?? "" }
        #expect(verdict("ratio") == "pass" && readings["ratio"]?["value"] as? Double == 0.01)
        #expect(verdict("scalar") == "pass")
        #expect(verdict("nan") == "inconclusive" && reason("nan") == "Prometheus returned 'NaN', not a finite number")
        #expect(verdict("absent") == "inconclusive" && reason("absent") == "no data: the query returned no series")
        #expect(verdict("bad") == "inconclusive" && reason("bad").hasPrefix("Prometheus answered HTTP 400 (bad_data): "), "\(reason("bad"))")
        #expect(verdict("several") == "inconclusive")
        #expect(reason("several").contains("the query returned 2 series"), "\(reason("several"))")
        #expect(reason("several").contains("aggregate them to one, e.g. sum(…) or max(…)"))
        #expect(verdict("down") == "inconclusive" && reason("down").hasPrefix("Prometheus at \(closed): "), "\(reason("down"))")
        #expect(first.stdout.contains("100%: absent = no value (≤ 0.05): inconclusive: no data: the query returned no series"), "\(first.stdout)")

        // The error ratio climbs: the canary fails and rolls back.
        try prometheus.setMetrics(
            Self.metrics.replacingOccurrences(of: "app_error_ratio 0.01", with: "app_error_ratio 0.2"), probe: "app_error_ratio", expect: "\"0.2\"")
        let failing = try Sandbox(
            Self.pipeline("      - { name: ratio, prometheus: { url: \"\(base)\", query: \"app_error_ratio\" }, max: 0.05, failure-limit: 1 }"))
        defer { failing.remove() }
        let second = try failing.pipeline(["run", "p.yml"])
        #expect(second.status == 1, "\(second.stderr)")
        #expect(second.stderr.contains("canary aborted at 100%: ratio = 0.2 (≤ 0.05)"), "\(second.stderr)")
        #expect(failing.read("ran.log") == "deployed\nundeployed\n")

        // No data, with an inconclusive limit of 1: the canary pauses for a person (exit 4).
        let empty = try Sandbox(
            Self.pipeline("      - { name: absent, prometheus: { url: \"\(base)\", query: \"app_absent_metric\" }, max: 0.05, inconclusive-limit: 1 }"))
        defer { empty.remove() }
        let third = try empty.pipeline(["run", "p.yml"])
        #expect(third.status == 4, "\(third.stderr)")
        #expect(third.stderr.contains("1 inconclusive reading of 'absent' in a row"), "\(third.stderr)")
    }
}
