import PipelineSpec
import Foundation

/// Instant queries of a Prometheus server (`GET /api/v1/query`), read into one ``MetricReading``.
///
/// Sample values are JSON strings (`"1"`, `"NaN"`, `"+Inf"`). An empty result is no data, not an
/// error; a vector of one series or a scalar is a value; several series are refused with a hint to
/// aggregate; HTTP errors (400 bad query, 422, 503) and network errors carry the server's text.
enum Prometheus {
    /// The query URL: the server's base URL, `/api/v1/query`, and the expression percent-encoded
    /// (a `+` included, which a query string would otherwise read as a space).
    static func queryURL(base: String, query: String) -> String {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "+&=#;")
        let encoded = query.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return trimmed + "/api/v1/query?query=" + encoded
    }

    /// Runs `query` against `base` and reads the answer.
    static func read(base: String, query: String, timeoutMs: Int, cancelled: () -> Bool) -> MetricReading {
        let url = queryURL(base: base, query: query)
        let result = Probes.get(url, timeoutMs: timeoutMs, cancelled: cancelled)
        if let error = result.error { return MetricReading(reason: "Prometheus at \(base): \(error)") }
        return answer(status: result.status ?? 0, body: result.body)
    }

    /// Reads one `/api/v1/query` answer.
    static func answer(status: Int, body: Data) -> MetricReading {
        let json = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) as? [String: Any]
        let warnings = ((json?["warnings"] as? [Any]) ?? []).map { "\($0)" } + ((json?["infos"] as? [Any]) ?? []).map { "\($0)" }
        func noValue(_ reason: String) -> MetricReading { MetricReading(reason: reason, warnings: warnings) }
        guard let json else {
            let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return noValue("Prometheus answered HTTP \(status) that is not JSON" + (text.isEmpty ? "" : ": \(text)"))
        }
        guard status == 200, json["status"] as? String == "success" else {
            let type = (json["errorType"] as? String).map { " (\($0))" } ?? ""
            let error = json["error"] as? String ?? "no error text"
            return noValue("Prometheus answered HTTP \(status)\(type): \(error)")
        }
        guard let data = json["data"] as? [String: Any], let type = data["resultType"] as? String else {
            return noValue("Prometheus answered without 'data.resultType'")
        }
        switch type {
        case "vector":
            let series = data["result"] as? [[String: Any]] ?? []
            guard !series.isEmpty else { return noValue("no data: the query returned no series") }
            guard series.count == 1 else {
                let labels = series.prefix(3).map { labelText($0["metric"]) }.joined(separator: ", ")
                return noValue(
                    "the query returned \(series.count) series (\(labels)\(series.count > 3 ? ", …" : "")); aggregate them to one, e.g. sum(…) or max(…)")
            }
            return sample(series[0]["value"], warnings: warnings)
        case "scalar":
            return sample(data["result"], warnings: warnings)
        default:
            return noValue("the query returned a \(type), not one number; use an instant vector of one series or a scalar")
        }
    }

    /// `[timestamp, "value"]`: a finite number, or why not.
    static func sample(_ pair: Any?, warnings: [String]) -> MetricReading {
        guard let pair = pair as? [Any], pair.count == 2, let text = pair[1] as? String else {
            return MetricReading(reason: "Prometheus answered a sample without a value", warnings: warnings)
        }
        guard let value = Double(text), value.isFinite else {
            return MetricReading(reason: "Prometheus returned '\(text.prefix(40))', not a finite number", warnings: warnings)
        }
        return MetricReading(value: value, warnings: warnings)
    }

    static func labelText(_ metric: Any?) -> String {
        let labels = (metric as? [String: Any]) ?? [:]
        return "{" + labels.keys.sorted().map { "\($0)=\"\(labels[$0] ?? "")\"" }.joined(separator: ", ") + "}"
    }
}
