import PipelineSpec
import FoundationEssentials
import Glibc

/// One reading of a metric: a finite value, or why there is none.
struct MetricReading: Sendable {
    var value: Double?
    /// Why there is no value: the HTTP status, the error text, the missing JSON path.
    var reason: String?
    /// What the source said besides the value (Prometheus `warnings`).
    var warnings: [String] = []

    init(value: Double, warnings: [String] = []) {
        self.value = value
        self.warnings = warnings
    }

    init(reason: String, warnings: [String] = []) {
        self.reason = reason
        self.warnings = warnings
    }

    /// Reads a metric from its source (a script, an HTTP JSON document, a Prometheus query); never
    /// throws: a source that cannot be read gives a reading without a value and the reason.
    static func read(_ metric: CanaryMetric, _ context: KindContext, _ task: NativeTask) -> MetricReading {
        func value(_ read: Result<Double, Probes.NotANumber>) -> MetricReading {
            switch read {
            case .success(let value): return MetricReading(value: value)
            case .failure(let problem): return MetricReading(reason: problem.message)
            }
        }
        switch metric.source {
        case .command(let script):
            var lines: [String] = []
            let code = task.runScript(
                context.shell + [script.source], environment: context.environment, directory: context.directory,
                timeoutMs: metric.timeout.milliseconds
            ) { lines.append($0) }
            let last = lines.last { !$0.trimmedSpaces.isEmpty }.map { ": " + context.masker.mask(String($0.prefix(120))) } ?? ""
            guard let code else { return MetricReading(reason: "the script did not finish within \(metric.timeout)") }
            guard code == 0 else { return MetricReading(reason: "the script exited \(code)\(last)") }
            return value(Probes.number(printed: lines))
        case .http(let url, let path, let timeout):
            let url = context.resolve(url)
            let shown = context.masker.mask(url)
            let result = Probes.get(url, timeoutMs: timeout.milliseconds, cancelled: { task.isCancelled })
            if let error = result.error { return MetricReading(reason: "GET \(shown): \(error)") }
            guard let status = result.status, (200..<300).contains(status) else {
                return MetricReading(reason: "GET \(shown) returned \(result.statusText)")
            }
            return value(Probes.number(in: result.body, at: path))
        case .prometheus(let query):
            return Prometheus.read(
                base: context.resolve(query.url), query: context.resolve(query.query), timeoutMs: query.timeout.milliseconds,
                cancelled: { task.isCancelled })
        }
    }
}
