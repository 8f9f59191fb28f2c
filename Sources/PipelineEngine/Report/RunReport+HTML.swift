import PipelineSpec

/// `pipeline report RUN --format html`: one self-contained page (inline CSS and SVG, no script,
/// no fetch) with the failure reason up front, the run's timeline — each stage's tries and
/// rollback steps as bars over time, the waits at gates — the stages' table, and each analysed
/// metric charted reading by reading against its bound. Every value from the journal is escaped.
extension RunReport {
    /// One try of a script (or of native work) as a bar.
    struct Bar {
        var stage: String
        var phase: String
        var attempt: Int
        var start: Int
        var end: Int?
        var outcome: String?
    }

    public func html(events: [JSONValue]) -> String {
        let e = Self.escape
        let times = events.compactMap { $0["time"]?.string.flatMap(RunState.epochMs) }
        let origin = times.min() ?? 0
        let last = max(times.max() ?? origin, origin + 1)
        var bars: [Bar] = []
        var waits: [(stage: String, reason: String, at: Int)] = []
        for event in events {
            guard let type = event["type"]?.string, let at = event["time"]?.string.flatMap(RunState.epochMs) else { continue }
            let stage = event["stage"]?.string ?? ""
            switch type {
            case "attempt_started":
                bars.append(Bar(stage: stage, phase: event["phase"]?.string ?? "run", attempt: event["attempt"]?.int ?? 0, start: at))
            case "attempt_finished":
                let phase = event["phase"]?.string ?? "run"
                let attempt = event["attempt"]?.int ?? 0
                if let i = bars.lastIndex(where: { $0.stage == stage && $0.phase == phase && $0.attempt == attempt && $0.end == nil }) {
                    bars[i].end = at
                    bars[i].outcome = event["outcome"]?.string
                }
            case "run_waiting":
                waits.append((stage, event["reason"]?.string ?? "", at))
            default: break
            }
        }
        var page = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(e(state.pipeline)) \(e(state.run))</title>
            <style>
            body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1100px}
            h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px} code{font:12px ui-monospace,monospace}
            .status-succeeded,.status-rolled_back{color:#1a7f37}.status-failed,.status-rollback_failed{color:#cf222e}
            .failure{border:1px solid #cf222e;background:#ffebe9;padding:8px 12px;border-radius:6px;margin:12px 0}
            .act{border:1px solid #9a6700;background:#fff8c5;padding:8px 12px;border-radius:6px;margin:12px 0}
            table{border-collapse:collapse} td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
            svg text{font:11px system-ui,sans-serif;fill:#1f2328}
            .bar{stroke:#1f2328;stroke-width:.5}.outcome-succeeded{fill:#2da44e}.outcome-failed,.outcome-timed_out,.outcome-not_started{fill:#cf222e}
            .outcome-interrupted,.outcome-stopped,.outcome-unknown,.outcome-open{fill:#bf8700}.phase-rollback,.phase-traffic,.phase-restore{fill-opacity:.55;stroke-dasharray:3 2}
            .wait{stroke:#8250df;stroke-width:2}.bound{stroke:#cf222e;stroke-dasharray:4 3}.axis{stroke:#d0d7de}
            .point{stroke:#1f2328;stroke-width:.5}.verdict-pass{fill:#2da44e}.verdict-fail{fill:#cf222e}.verdict-baseline{fill:#0969da}.verdict-inconclusive{fill:#bf8700}
            </style></head><body>
            <h1>pipeline <code>\(e(state.pipeline))</code>\(state.environment.map { " in <code>\(e($0))</code>" } ?? ""): <span class="status-\(e(state.status.rawValue))">\(e(Self.words(state.status.rawValue)))</span></h1>
            <p>run <code>\(e(state.run))</code>\(state.release.map { ", release <code>\(e($0))</code>" } ?? ""), started \(e(state.started))\(state.elapsedMs().map { ", took \(HumanDuration.text($0))" } ?? "")</p>

            """
        if let failed = state.failedStage.flatMap(state.stage), let reason = state.failureReason(failed) {
            page += "<div class=\"failure\"><strong>Failed:</strong> stage <code>\(e(failed.id))</code>: \(e(reason))"
            if let log = failed.attempts.last?.log { page += " (log <code>\(e(log))</code>)" }
            let tail = logTail(failed.attempts.last?.log, lines: 8)
            if !tail.isEmpty { page += "<pre>\(e(tail))</pre>" }
            page += "</div>\n"
        }
        if state.status == .rollbackFailed || !state.remaining.isEmpty {
            page += "<div class=\"act\"><strong>A human must act:</strong> " + state.nextSteps.map(e).joined(separator: "; ") + "</div>\n"
        }
        page += timeline(bars: bars, waits: waits, origin: origin, last: last)
        page += stageTable()
        page += metricCharts(events)
        return page + "</body></html>\n"
    }

    static func escape(_ text: String) -> String {
        TerminalText.escaped(text, keepingNewlines: true).replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
            .replacingAll("\"", with: "&quot;").replacingAll("'", with: "&#39;")
    }

    /// Stages as rows, tries as bars from their start to their end, gate waits as marks.
    func timeline(bars: [Bar], waits: [(stage: String, reason: String, at: Int)], origin: Int, last: Int) -> String {
        let e = Self.escape
        let rows = state.stages.map(\.id)
        let left = 150.0, width = 900.0, rowHeight = 22.0
        let span = Double(max(1, last - origin))
        func x(_ t: Int) -> Double { left + Double(t - origin) / span * width }
        var svg =
            "<h2>Timeline</h2>\n<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 20))\" height=\"\(Int(Double(rows.count) * rowHeight + 40))\">\n"
        for (i, id) in rows.enumerated() {
            let y = Double(i) * rowHeight + 10
            svg +=
                "<text x=\"4\" y=\"\(y + 14)\">\(e(id))</text><line class=\"axis\" x1=\"\(left)\" x2=\"\(left + width)\" y1=\"\(y + rowHeight - 2)\" y2=\"\(y + rowHeight - 2)\"/>\n"
        }
        for bar in bars {
            guard let row = rows.firstIndex(of: bar.stage) else { continue }
            let y = Double(row) * rowHeight + 12
            let start = x(bar.start)
            let end = max(start + 2, x(bar.end ?? last))
            let outcome = bar.outcome ?? "open"
            let ms = (bar.end ?? last) - bar.start
            svg +=
                "<rect class=\"bar outcome-\(e(outcome)) phase-\(e(bar.phase))\" x=\"\(Self.n(start))\" y=\"\(Self.n(y))\" width=\"\(Self.n(end - start))\" height=\"\(Self.n(rowHeight - 8))\"><title>\(e(bar.stage)) \(e(bar.phase)) attempt \(bar.attempt): \(e(outcome)), \(HumanDuration.text(ms))</title></rect>\n"
        }
        for wait in waits {
            guard let row = rows.firstIndex(of: wait.stage) else { continue }
            let y = Double(row) * rowHeight + 10
            svg +=
                "<line class=\"wait\" x1=\"\(Self.n(x(wait.at)))\" x2=\"\(Self.n(x(wait.at)))\" y1=\"\(Self.n(y))\" y2=\"\(Self.n(y + rowHeight))\"><title>waiting (\(e(wait.reason)))</title></line>\n"
        }
        let bottom = Double(rows.count) * rowHeight + 30
        svg += "<text x=\"\(left)\" y=\"\(bottom)\">0s</text><text x=\"\(left + width - 40)\" y=\"\(bottom)\">\(HumanDuration.text(last - origin))</text>\n"
        return svg
            + "</svg>\n<p>Bars: green succeeded, red failed or timed out, amber interrupted or open; paler dashed bars undo a stage (rollback, traffic back to 0 %, restore); violet marks a wait at a gate.</p>\n"
    }

    func stageTable() -> String {
        let e = Self.escape
        var table = "<h2>Stages</h2>\n<table><tr><th>stage</th><th>status</th><th>attempts</th><th>time</th><th>rollback</th></tr>\n"
        for stage in state.stages {
            table +=
                "<tr><td><code>\(e(stage.id))</code></td><td class=\"status-\(e(stage.status.rawValue))\">\(e(Self.words(stage.status.rawValue)))</td><td>\(stage.attempts.count)</td><td>\(stage.attempts.isEmpty ? "—" : HumanDuration.text(RunState.durationMs(stage)))</td><td>\(e(stage.rollback.map { Self.words($0.status.rawValue) } ?? "—"))</td></tr>\n"
        }
        return table + "</table>\n"
    }

    /// One chart per analysed metric: its readings in order, coloured by verdict, each step's
    /// percentage under it, and its bound as a dashed line where the bound is a number.
    func metricCharts(_ events: [JSONValue]) -> String {
        let e = Self.escape
        var metrics: [(key: String, stage: String, metric: String, readings: [JSONValue])] = []
        for m in events where m["type"]?.string == "measurement" {
            let stage = m["stage"]?.string ?? "", metric = m["metric"]?.string ?? ""
            let key = stage + "\u{0}" + metric
            if let i = metrics.firstIndex(where: { $0.key == key }) { metrics[i].readings.append(m) } else { metrics.append((key, stage, metric, [m])) }
        }
        guard !metrics.isEmpty else { return "" }
        var out = "<h2>Metrics</h2>\n"
        for metric in metrics {
            func value(_ m: JSONValue) -> Double? {
                switch m["value"] {
                case .double(let d)?: return d.isFinite ? d : nil
                case .int(let i)?: return Double(i)
                default: return nil
                }
            }
            let bounds = metric.readings.compactMap { $0["bound"]?.string.flatMap(Self.number) }
            let values = metric.readings.compactMap(value) + bounds
            let top = max(values.max() ?? 1, 1e-9) * 1.15
            let left = 50.0, width = 640.0, height = 160.0
            let step = width / Double(max(1, metric.readings.count))
            out += "<h3><code>\(e(metric.stage))</code> › \(e(metric.metric))</h3>\n"
            out += "<svg class=\"metric\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 20))\" height=\"\(Int(height + 40))\">\n"
            out +=
                "<line class=\"axis\" x1=\"\(left)\" x2=\"\(left)\" y1=\"10\" y2=\"\(height + 10)\"/><line class=\"axis\" x1=\"\(left)\" x2=\"\(left + width)\" y1=\"\(height + 10)\" y2=\"\(height + 10)\"/>\n"
            out += "<text x=\"4\" y=\"16\">\(e(Self.short(top)))</text><text x=\"4\" y=\"\(height + 10)\">0</text>\n"
            for (i, reading) in metric.readings.enumerated() {
                let cx = left + step * (Double(i) + 0.5)
                // Its bound, as it was for this reading (a baseline-relative one moves).
                if let bound = reading["bound"]?.string.flatMap(Self.number) {
                    let y = 10 + height - bound / top * height
                    out +=
                        "<line class=\"bound\" x1=\"\(Self.n(cx - step / 2))\" x2=\"\(Self.n(cx + step / 2))\" y1=\"\(Self.n(y))\" y2=\"\(Self.n(y))\"><title>bound \(e(reading["bound"]?.string ?? ""))</title></line>\n"
                }
                let verdict = reading["verdict"]?.string ?? ""
                let label =
                    "\(reading["step"]?.int.map { "\($0)%" } ?? ""): \(value(reading).map(formatNumber) ?? "no value") (\(verdict)\(reading["bound"]?.string.map { ", bound \($0)" } ?? ""))"
                if let v = value(reading) {
                    let cy = 10 + height - v / top * height
                    out +=
                        "<circle class=\"point verdict-\(e(verdict))\" cx=\"\(Self.n(cx))\" cy=\"\(Self.n(cy))\" r=\"4\"><title>\(e(label))</title></circle>\n"
                } else {
                    out += "<text class=\"point verdict-\(e(verdict))\" x=\"\(Self.n(cx - 4))\" y=\"\(height + 4)\">?<title>\(e(label))</title></text>\n"
                }
                if i == 0 || metric.readings[i - 1]["step"]?.int != reading["step"]?.int {
                    out += "<text x=\"\(Self.n(cx - 8))\" y=\"\(height + 28)\">\(reading["step"]?.int.map { "\($0)%" } ?? "")</text>\n"
                }
            }
            out += "</svg>\n"
        }
        return out + "<p>Points: blue baseline, green pass, red fail, amber inconclusive (? where a reading had no value); the dashed line is the bound.</p>\n"
    }

    /// The limit a bound text starts with: `≤ 0.4 (baseline * 2)` → 0.4 (nil when there is none).
    static func number(_ bound: String) -> Double? {
        let digits = bound.drop { !($0.isNumber || $0 == ".") }.prefix { $0.isNumber || $0 == "." || $0 == "e" }
        return Double(digits)
    }

    /// An axis label: three significant digits.
    static func short(_ v: Double) -> String {
        guard v.isFinite, v != 0 else { return "0" }
        var scale = 1.0
        while abs(v) * scale < 100 { scale *= 10 }
        while abs(v) * scale >= 1000 { scale /= 10 }
        return formatNumber((v * scale).rounded() / scale)
    }

    static func n(_ v: Double) -> String { String(Int((v * 10).rounded())) == "" ? "0" : formatNumber((v * 10).rounded() / 10) }
}
