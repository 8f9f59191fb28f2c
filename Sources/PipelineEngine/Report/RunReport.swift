import FoundationEssentials
import Glibc
import PipelineSpec

/// A finished (or stopped) run as CI shows it: GitHub annotations, the step summary in
/// Markdown, and a JUnit XML report (`schemas/junit.xsd`). Built from the run's state and the
/// probe and measurement events the engine journaled in this process.
public struct RunReport {
    public var state: RunState
    /// `probe` and `measurement` journal events (parsed lines).
    public var checks: [JSONValue]
    /// The directory annotation paths are relative to (GitHub's workspace; default the run's workdir).
    public var workspace: String?

    public init(state: RunState, checks: [JSONValue], workspace: String? = nil) {
        self.state = state
        self.checks = checks
        self.workspace = workspace ?? ProcessInfo.processInfo.environment["GITHUB_WORKSPACE"]
    }

    /// `rolled_back` → `rolled back`.
    static func words(_ raw: String) -> String { raw.replacingAll("_", with: " ") }

    // MARK: - Annotations

    /// `::error` lines for the failed stage and for every stage whose rollback failed, pointing at
    /// the stage in the pipeline file.
    public func annotations() -> [String] {
        var out: [String] = []
        let (file, lines) = stageLines()
        func properties(_ stage: String, _ title: String) -> [(String, String)] {
            var props: [(String, String)] = []
            if let file { props.append(("file", file)) }
            if let line = lines[stage] { props.append(("line", String(line))) }
            props.append(("title", title))
            return props
        }
        for stage in state.stages {
            if let reason = state.failureReason(stage), stage.status != .rollbackFailed || state.failedStage == stage.id {
                let tail = logTail(stage.attempts.last?.log, lines: 5)
                out.append(
                    WorkflowCommand.line(
                        "error", properties(stage.id, "stage '\(stage.id)' failed"),
                        "pipeline '\(state.pipeline)'\(state.environment.map { " in '\($0)'" } ?? ""), run \(state.run): stage '\(stage.id)' failed: \(reason)"
                            + (tail.isEmpty ? "" : "\n" + tail)))
            }
            if stage.rollback?.status == .rollbackFailed {
                out.append(
                    WorkflowCommand.line(
                        "error", properties(stage.id, "rollback of '\(stage.id)' failed"),
                        "the rollback of stage '\(stage.id)' failed: it is still applied and a human must undo it ("
                            + state.nextSteps.joined(separator: "; ") + ")"))
            }
        }
        return out
    }

    /// The pipeline file relative to the workspace, and each stage's line in it (best effort: the
    /// line where `id: STAGE` is written).
    func stageLines() -> (String?, [String: Int]) {
        guard !state.file.isEmpty else { return (nil, [:]) }
        let base = (workspace ?? state.workdir).hasSuffix("/") ? (workspace ?? state.workdir) : (workspace ?? state.workdir) + "/"
        let file = state.file.hasPrefix(base) ? String(state.file.dropFirst(base.count)) : state.file
        guard let text = try? String(contentsOfFile: state.file, encoding: .utf8) else { return (file, [:]) }
        var lines: [String: Int] = [:]
        let ids = Set(state.stages.map(\.id))
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard let range = line.range(of: "id:") else { continue }
            let before = line[..<range.lowerBound].last
            guard before == nil || before == " " || before == "{" || before == "-" || before == "," else { continue }
            let value = line[range.upperBound...].drop { $0 == " " }.prefix { !",}# ".contains($0) }
            let id = String(value.drop { $0 == "'" || $0 == "\"" }.reversed().drop { $0 == "'" || $0 == "\"" }.reversed())
            if ids.contains(id), lines[id] == nil { lines[id] = number + 1 }
        }
        return (file, lines)
    }

    /// The last `lines` lines of a (masked) log, relative to the run's workdir.
    func logTail(_ log: String?, lines: Int) -> String {
        guard let log, !log.isEmpty else { return "" }
        let path = log.hasPrefix("/") ? log : state.workdir + "/" + log
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        let text = String(decoding: data.suffix(64 * 1024), as: UTF8.self)
        return text.split(separator: "\n").suffix(lines).map { TerminalText.escaped(String($0)) }.joined(separator: "\n")
    }

    // MARK: - Step summary

    /// The GitHub step summary: outcome, failure reason, stages with durations, the canary
    /// measurements, and what a person must do when a rollback failed.
    public func markdownSummary() -> String {
        func cell(_ s: String) -> String { TerminalText.escaped(s).replacingAll("|", with: "\\|") }
        let place = state.environment.map { " in `\(cell($0))`" } ?? ""
        var text = "### pipeline `\(cell(state.pipeline))`\(place): \(Self.words(state.status.rawValue))\n\n"
        text += "Run `\(state.run)`" + (state.release.map { " of release `\(cell($0))`" } ?? "") + ", started \(state.started)"
        if let ms = state.elapsedMs() { text += ", took \(HumanDuration.text(ms))" }
        text += "\n\n"
        if let failed = state.failedStage.flatMap(state.stage), let reason = state.failureReason(failed) {
            text += "**Failed:** stage `\(cell(failed.id))`: \(cell(reason))"
            if let log = failed.attempts.last?.log { text += " (log: `\(cell(log))`)" }
            text += "\n\n"
        }
        text += "| stage | status | attempts | time | rollback |\n|---|---|---:|---:|---|\n"
        for stage in state.stages {
            let time = stage.attempts.isEmpty ? "—" : HumanDuration.text(RunState.durationMs(stage))
            text +=
                "| `\(cell(stage.id))` | \(Self.words(stage.status.rawValue)) | \(stage.attempts.count) | \(time) | \(stage.rollback.map { Self.words($0.status.rawValue) } ?? "—") |\n"
        }
        let measurements = checks.filter { $0["type"]?.string == "measurement" }
        if !measurements.isEmpty {
            text += "\n#### Measurements\n\n| stage | step | metric | value | bound | verdict |\n|---|---:|---|---:|---|---|\n"
            for m in measurements {
                let value = m["value"].flatMap { v -> String? in if case .double(let d) = v { return formatNumber(d) } else { return v.int.map(String.init) } }
                text +=
                    "| `\(cell(m["stage"]?.string ?? ""))` | \(m["step"]?.int.map { "\($0)%" } ?? "") | \(cell(m["metric"]?.string ?? "")) | \(value ?? "no value" + (m["reason"]?.string.map { ": " + cell($0) } ?? "")) | \(cell(m["bound"]?.string ?? "")) | \(cell(m["verdict"]?.string ?? "")) |\n"
            }
        }
        if state.status == .rollbackFailed || !state.remaining.isEmpty {
            text += "\n> [!WARNING]\n> **A human must act:** the rollback did not finish"
            if !state.remaining.isEmpty { text += "; still applied: \(state.remaining.map { "`\(cell($0))`" }.joined(separator: ", "))" }
            text += ".\n"
            for step in state.nextSteps { text += "> - \(cell(step))\n" }
        } else if !state.nextSteps.isEmpty {
            text += "\nNext: " + state.nextSteps.map { "`\(cell($0))`" }.joined(separator: " or ") + "\n"
        }
        return text + "\n"
    }

    // MARK: - JUnit

    /// One `testsuite` for the run: a `testcase` per stage (skipped when it never ran, failed with
    /// the reason and the log's tail), one per verify URL probed and one per analysed metric of a
    /// canary, and one for each failed rollback (an `error`: a human must act).
    public func junit() -> String {
        var cases: [String] = []
        var failures = 0
        var errors = 0
        var skipped = 0
        let suite = Self.xml(state.environment.map { "\(state.pipeline)@\($0)" } ?? state.pipeline)
        func testcase(_ name: String, seconds: Double, body: String = "") -> String {
            let time = TextTools.threeDecimals(seconds)
            let open = "    <testcase name=\"\(Self.xml(name))\" classname=\"\(suite)\" time=\"\(time)\""
            return body.isEmpty ? open + "/>" : open + ">\n" + body + "    </testcase>"
        }
        for stage in state.stages {
            let seconds = Double(RunState.durationMs(stage)) / 1000
            let tail = logTail(stage.attempts.last?.log, lines: 30)
            let out = tail.isEmpty ? "" : "      <system-out>\(Self.xml(tail))</system-out>\n"
            if let reason = state.failureReason(stage), stage.status == .failed || state.failedStage == stage.id {
                failures += 1
                cases.append(
                    testcase(
                        stage.id, seconds: seconds, body: "      <failure message=\"\(Self.xml(reason))\" type=\"stage\">\(Self.xml(tail))</failure>\n" + out))
            } else if stage.attempts.isEmpty {
                skipped += 1
                // Skipped by its `if:` (or for reading a skipped stage's output), or never reached.
                let message = stage.skipReason.map { "skipped: \($0)" } ?? "not run (the run ended \(Self.words(state.status.rawValue)) before it)"
                cases.append(testcase(stage.id, seconds: 0, body: "      <skipped message=\"\(Self.xml(message))\"/>\n"))
            } else {
                cases.append(testcase(stage.id, seconds: seconds, body: out))
            }
            if stage.rollback?.status == .rollbackFailed {
                errors += 1
                let undo = logTail(stage.rollback?.attempts.last?.log, lines: 30)
                cases.append(
                    testcase(
                        "\(stage.id) (rollback)", seconds: Double(stage.rollback?.attempts.compactMap(\.durationMs).reduce(0, +) ?? 0) / 1000,
                        body:
                            "      <error message=\"the rollback failed: a human must undo '\(Self.xml(stage.id))'\" type=\"rollback\">\(Self.xml(undo))</error>\n"
                    ))
            }
        }
        // Verify probes, per stage and URL: passed when the last one answered as expected.
        var probes: [(key: String, ok: Bool, detail: String, ms: Int)] = []
        for p in checks where p["type"]?.string == "probe" {
            let key = "\(p["stage"]?.string ?? "") › \(p["url"]?.string ?? "")"
            let detail = p["error"]?.string ?? p["status"]?.int.map { "HTTP \($0)" } ?? "no answer"
            let entry = (key, p["ok"]?.bool == true, detail, p["ms"]?.int ?? 0)
            if let i = probes.firstIndex(where: { $0.key == key }) { probes[i] = entry } else { probes.append(entry) }
        }
        for probe in probes {
            if probe.ok {
                cases.append(testcase(probe.key, seconds: Double(probe.ms) / 1000))
            } else {
                failures += 1
                cases.append(
                    testcase(probe.key, seconds: Double(probe.ms) / 1000, body: "      <failure message=\"\(Self.xml(probe.detail))\" type=\"probe\"/>\n"))
            }
        }
        // Canary analyses, per stage and metric: failed when any reading broke its bound.
        var metrics: [(key: String, bad: [String], count: Int)] = []
        for m in checks where m["type"]?.string == "measurement" {
            let key = "\(m["stage"]?.string ?? "") › \(m["metric"]?.string ?? "")"
            let i =
                metrics.firstIndex { $0.key == key }
                ?? {
                    metrics.append((key, [], 0)); return metrics.count - 1
                }()
            metrics[i].count += 1
            if m["verdict"]?.string == "fail" {
                let value = m["value"].flatMap { v -> String? in if case .double(let d) = v { return formatNumber(d) } else { return nil } } ?? "no value"
                metrics[i].bad.append("\(value) at \(m["step"]?.int ?? 0)% (bound \(m["bound"]?.string ?? "?"))")
            }
        }
        for metric in metrics {
            if metric.bad.isEmpty {
                cases.append(testcase(metric.key, seconds: 0))
            } else {
                failures += 1
                let message = "\(metric.bad.count) of \(metric.count) readings broke the bound: " + metric.bad.prefix(5).joined(separator: ", ")
                cases.append(testcase(metric.key, seconds: 0, body: "      <failure message=\"\(Self.xml(message))\" type=\"analysis\"/>\n"))
            }
        }
        let total = TextTools.threeDecimals(Double(state.elapsedMs() ?? 0) / 1000)
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml +=
            "<testsuites name=\"pipeline\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\" time=\"\(total)\">\n"
        xml +=
            "  <testsuite name=\"\(suite)\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\" time=\"\(total)\" timestamp=\"\(Self.xml(String(state.started.prefix(19))))\" hostname=\"\(Self.xml(state.host.isEmpty ? Host.name : state.host))\">\n"
        xml += "    <properties>\n"
        var properties = [("run", state.run), ("status", state.status.rawValue), ("file", state.file)]
        if let environment = state.environment { properties.append(("environment", environment)) }
        if let release = state.release { properties.append(("release", release)) }
        for (name, value) in properties {
            xml += "      <property name=\"\(name)\" value=\"\(Self.xml(value))\"/>\n"
        }
        xml += "    </properties>\n"
        for c in cases { xml += c + "\n" }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }

    /// Text escaped for XML 1.0 attributes and content; characters XML cannot carry become `\u{…}`.
    static func xml(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) || (0xD800...0xDFFF).contains(scalar.value) {
                    out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
