/// One-line descriptions of a stage's settings, shared by every plan format.
package struct StageSummary {
    package let stage: Stage

    /// `approval ("message"), window mon-fri 10:00-17:00 Asia/Tokyo, check, wait 5m`, or nil.
    package var gates: String? {
        guard let gate = stage.gate else { return nil }
        var parts: [String] = []
        if let approval = gate.approval {
            parts.append(approval.message.map { "approval (\"\($0.raw)\")" } ?? "approval")
        }
        if let window = gate.window { parts.append("window \(window.summary)") }
        if gate.check != nil { parts.append("check `\(firstLine(gate.check!.source))`") }
        if let wait = gate.wait { parts.append("wait \(wait)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// What the kind does, in one line (steps, checks, probes…), or nil for plain commands.
    package var details: String? {
        switch stage.spec {
        case .command, .backend, .frontend:
            return nil
        case .envPresync(let spec):
            var text = "require \(spec.require.joined(separator: ", "))"
            if !spec.files.isEmpty { text += "; declared in \(spec.files.joined(separator: ", "))" }
            if spec.apply != nil { text += "; apply" }
            return text
        case .infraPrecheck(let checks):
            return "checks: "
                + checks.map { check in
                    switch check.probe {
                    case .command: return "\(check.name) (command)"
                    case .http(let probe): return "\(check.name) (GET \(probe.url.raw) → \(probe.expect))"
                    case .tcp(let host, let port): return "\(check.name) (tcp \(host):\(port))"
                    }
                }.joined(separator: ", ")
        case .migrate(let spec):
            var parts: [String] = [spec.backup != nil ? "backup first" : "no backup"]
            if spec.restore != nil { parts.append("restore available") }
            if !spec.lintPaths.isEmpty { parts.append("lint \(spec.lintPaths.joined(separator: ", "))") }
            if !spec.reversible { parts.append("IRREVERSIBLE: rollback stops here") }
            return parts.joined(separator: "; ")
        case .canary(let spec):
            var text = spec.steps.map(\.description).joined(separator: " → ")
            text += ", bake \(spec.bake) each, measure every \(spec.interval), abort after \(spec.failureLimit) consecutive failures"
            if !spec.analysis.isEmpty { text += "; analysis: " + Self.analysis(spec.analysis) }
            return text
        case .watch(let spec):
            var text = "watch \(spec.duration), measure every \(spec.interval), abort after \(spec.failureLimit) consecutive failures"
            if let baseline = spec.baseline { text += ", baseline from '\(baseline)'" }
            return text + "; analysis: " + Self.analysis(spec.analysis)
        case .verify(let spec):
            var parts: [String] = []
            if let http = spec.http {
                parts.append(
                    "GET \(http.url.raw) → \(http.expect) (first after \(http.initialDelay), every \(http.interval), timeout \(http.timeout), unhealthy after \(http.failureThreshold) failures)"
                )
            }
            if !spec.smoke.isEmpty { parts.append("\(spec.smoke.count) smoke script\(spec.smoke.count == 1 ? "" : "s")") }
            return parts.joined(separator: "; ")
        case .blueGreen(let spec):
            let colors = spec.colors.joined(separator: " or ")
            var steps = ["deploy `\(firstLine(spec.deploy.source))` to the idle colour (\(colors))"]
            if let http = spec.http { steps.append("health check GET \(http.url.raw) → \(http.expect) (unhealthy after \(http.failureThreshold) failures)") }
            if !spec.smoke.isEmpty { steps.append("\(spec.smoke.count) smoke script\(spec.smoke.count == 1 ? "" : "s") of the idle colour") }
            if !spec.switchAfter.isEmpty { steps.append("wait for \(spec.switchAfter.map { "'\($0)'" }.joined(separator: ", "))") }
            steps.append("switch `\(firstLine(spec.switchScript.source))` traffic to it")
            return steps.joined(separator: " → ") + "; on rollback: switch back to the live colour"
                + (stage.rollback == nil ? "" : ", then 'rollback' on the idle colour")
        }
    }

    /// `error-rate ≤ 0.05, payments ≤ 0 (failure-limit 1)`.
    static func analysis(_ metrics: [CanaryMetric]) -> String {
        metrics.map { metric in
            var bounds: [String] = []
            if let max = metric.max { bounds.append("≤ \(max)") }
            if let min = metric.min { bounds.append("≥ \(min)") }
            var rules: [String] = []
            if let limit = metric.rules.failureLimit { rules.append("failure-limit \(limit)") }
            if let span = metric.rules.sustained { rules.append("for \(span)") }
            if let n = metric.rules.consecutiveSuccesses { rules.append("\(n) consecutive successes") }
            if metric.rules.onNoData != .inconclusive { rules.append("no data: \(metric.rules.onNoData.rawValue)") }
            if case .prometheus = metric.source { rules.append("prometheus") }
            return "\(metric.name) \(bounds.joined(separator: " and "))" + (rules.isEmpty ? "" : " (\(rules.joined(separator: ", ")))")
        }.joined(separator: ", ")
    }

    /// The first line of the main script (for `run`-less kinds, their own script).
    package var action: String? {
        if let run = stage.run { return firstLine(run.source) }
        switch stage.spec {
        case .envPresync(let spec): return spec.apply.map { firstLine($0.source) }
        case .canary(let spec): return firstLine(spec.traffic.source)
        case .blueGreen(let spec): return firstLine(spec.deploy.source)
        default: return nil
        }
    }

    package var rollback: String? { stage.rollback.map { firstLine($0.source) } }

    package var retry: String { stage.retry.summary }

    /// The first non-empty line, with `…` when more follow.
    package func firstLine(_ script: String) -> String {
        let lines = script.split(separator: "\n").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        guard let first = lines.first else { return "" }
        return lines.count > 1 ? first + " …" : first
    }
}
