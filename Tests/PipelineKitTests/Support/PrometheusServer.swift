import Foundation

// The test's own client for asking Prometheus whether it has scraped (the engine's HTTP goes
// through libcurl, loaded on first use; Foundation's needs FoundationNetworking linked).
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real Prometheus (Debian's `prometheus`, installed by `scripts/install-deps --test`) on a free
/// port of 127.0.0.1, scraping every second a tiny exporter (Fixtures/servers/metrics_exporter.py)
/// whose metrics the test writes; its own storage directory; both killed by ``stop()``.
final class PrometheusServer {
    let port: Int
    private let prometheus: Background
    private let exporter: Background
    let dir: URL

    /// Starts the exporter serving `metrics`, then Prometheus, and waits (bounded) until the
    /// exporter's first scrape is queryable.
    init(metrics: String) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-prom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        try metrics.write(to: dir.appendingPathComponent("metrics.txt"), atomically: true, encoding: .utf8)
        let portFile = dir.appendingPathComponent("exporter.port").path
        let script = Fixtures.directory.appendingPathComponent("servers/metrics_exporter.py").path
        exporter = try Background(executable: "python3", [script, portFile, dir.appendingPathComponent("metrics.txt").path], in: dir)
        var exporterPort: Int?
        waitUntil(seconds: 20) {
            exporterPort = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            return exporterPort != nil
        }
        guard let exporterPort else { throw Binary.SpawnError(code: ETIMEDOUT, executable: "metrics_exporter.py") }
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: app
                static_configs:
                  - targets: ['127.0.0.1:\(exporterPort)']
            """
        try config.write(to: dir.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        port = try Self.freePort()
        prometheus = try Background(
            executable: Self.binary,
            [
                "--config.file=\(dir.appendingPathComponent("prometheus.yml").path)", "--storage.tsdb.path=\(dir.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ], in: dir)
        let scraped = waitUntil(seconds: 60) { self.query("up{job=\"app\"}")?.contains("\"1\"") == true }
        guard scraped else {
            stop()
            throw Binary.SpawnError(code: ETIMEDOUT, executable: "prometheus (no scrape within 60s: \(prometheus.stderr.suffix(400)))")
        }
    }

    static var binary: String { FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") ? "/usr/bin/prometheus" : "prometheus" }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Rewrites the exporter's metrics and waits (bounded) until Prometheus has scraped them:
    /// `probe` is a query whose answer contains `expect` once it has.
    func setMetrics(_ text: String, probe: String, expect: String) throws {
        try text.write(to: dir.appendingPathComponent("metrics.txt"), atomically: true, encoding: .utf8)
        let seen = waitUntil(seconds: 30) { self.query(probe)?.contains(expect) == true }
        if !seen { throw Binary.SpawnError(code: ETIMEDOUT, executable: "prometheus (metrics not scraped within 30s)") }
    }

    /// The raw answer of an instant query (nil when Prometheus does not answer).
    func query(_ promql: String) -> String? {
        var components = URLComponents(string: base + "/api/v1/query")!
        components.percentEncodedQuery = "query=" + (promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        guard let url = components.url, let data = try? Data(contentsOf: url) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    func stop() {
        prometheus.signal(SIGTERM)
        if prometheus.wait(seconds: 10) == nil { _ = prometheus.waitOrKill(seconds: 1) }
        exporter.signal(SIGTERM)
        _ = exporter.waitOrKill(seconds: 5)
        try? FileManager.default.removeItem(at: dir)
    }

    /// A port of 127.0.0.1 free a moment ago (bound to port 0, then closed).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Binary.SpawnError(code: errno, executable: "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Binary.SpawnError(code: errno, executable: "bind") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
