import PipelineSpec
import FoundationEssentials
import Glibc

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
        return trimmed + "/api/v1/query?query=" + percentEncoded(query)
    }

    /// `text` percent-encoded for a query value: every byte of its UTF-8 but the unreserved
    /// characters and `!$'()*,/:?@` (a query's characters, less the `+&=#;` it would read itself).
    static func percentEncoded(_ text: String) -> String {
        let kept = Set("!$'()*,/:?@-._~".utf8)
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            let letterOrDigit = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            if letterOrDigit || kept.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
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
        let parsed = JSONValue.parse(String(decoding: body, as: UTF8.self)[...])
        let json: JSONValue? = if case .object = parsed { parsed } else { nil }
        let warnings = ((json?["warnings"]?.array) ?? []).map(text) + ((json?["infos"]?.array) ?? []).map(text)
        func noValue(_ reason: String) -> MetricReading { MetricReading(reason: reason, warnings: warnings) }
        guard let json else {
            let text = String(decoding: body.prefix(200), as: UTF8.self).trimmed
            return noValue("Prometheus answered HTTP \(status) that is not JSON" + (text.isEmpty ? "" : ": \(text)"))
        }
        guard status == 200, json["status"]?.string == "success" else {
            let type = json["errorType"]?.string.map { " (\($0))" } ?? ""
            let error = json["error"]?.string ?? "no error text"
            return noValue("Prometheus answered HTTP \(status)\(type): \(error)")
        }
        guard let data = json["data"], let type = data["resultType"]?.string else {
            return noValue("Prometheus answered without 'data.resultType'")
        }
        switch type {
        case "vector":
            let series = data["result"]?.array ?? []
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
    static func sample(_ pair: JSONValue?, warnings: [String]) -> MetricReading {
        guard let pair = pair?.array, pair.count == 2, let text = pair[1].string else {
            return MetricReading(reason: "Prometheus answered a sample without a value", warnings: warnings)
        }
        guard let value = Double(text), value.isFinite else {
            return MetricReading(reason: "Prometheus returned '\(text.prefix(40))', not a finite number", warnings: warnings)
        }
        return MetricReading(value: value, warnings: warnings)
    }

    /// `{name="value", …}`, names sorted.
    static func labelText(_ metric: JSONValue?) -> String {
        guard case .object(let fields) = metric else { return "{}" }
        return "{" + fields.sorted { $0.0 < $1.0 }.map { "\($0.0)=\"\(text($0.1))\"" }.joined(separator: ", ") + "}"
    }

    /// A warning or label value as text: a string as it is, anything else as compact JSON.
    static func text(_ value: JSONValue) -> String { value.string ?? value.compact }
}
