import PipelineSpec
import Foundation

/// What a native task needs from the engine to run scripts and probes for one stage.
struct KindContext: Sendable {
    var stage: String
    var shell: [String]
    var environment: [String]
    var directory: String
    var masker: SecretMasker
    /// `${{ }}` already substituted in URLs.
    var resolve: @Sendable (Template) -> String
}

/// `infra-precheck`: every check at once (commands, native HTTP and TCP); every failure reported together.
enum PrecheckRunner {
    static func run(_ checks: [PrecheckCheck], _ context: KindContext, _ task: NativeTask) -> NativeTask.Verdict {
        let failures = Failures()
        let group = DispatchGroup()
        for check in checks {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                if let problem = probe(check, context, task) {
                    failures.add("'\(check.name)': \(problem)")
                    task.say("check '\(check.name)' failed: \(problem)")
                } else {
                    task.say("check '\(check.name)' passed")
                }
            }
        }
        group.wait()
        let all = failures.sorted()
        return all.isEmpty
            ? .init(ok: true, message: "all \(checks.count) checks passed")
            : .init(ok: false, message: "\(all.count) of \(checks.count) checks failed: " + all.joined(separator: "; "))
    }

    static func probe(_ check: PrecheckCheck, _ context: KindContext, _ task: NativeTask) -> String? {
        switch check.probe {
        case .command(let script):
            let code = task.runScript(
                context.shell + [script.source], environment: context.environment, directory: context.directory,
                timeoutMs: check.timeout.milliseconds, masker: context.masker
            ) { task.say("\(check.name): \(context.masker.mask($0))") }
            guard let code else { return "did not finish within \(check.timeout)" }
            return code == 0 ? nil : "exit \(code)"
        case .http(let probe):
            let url = context.resolve(probe.url)
            let result = Probes.get(url, timeoutMs: probe.timeout.milliseconds, cancelled: { task.isCancelled })
            if let error = result.error { return "GET \(context.masker.mask(url)): \(error)" }
            return result.status == probe.expect ? nil : "GET \(context.masker.mask(url)) returned \(result.statusText), expected \(probe.expect)"
        case .tcp(let host, let port):
            return Probes.tcp(host: host, port: port, timeoutMs: check.timeout.milliseconds, cancelled: { task.isCancelled })
        }
    }

    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ item: String) { lock.withLock { items.append(item) } }
        func sorted() -> [String] { lock.withLock { items.sorted() } }
    }
}

/// `env-presync`: every required variable is set, and declared in every listed file.
enum EnvPresyncRunner {
    static func run(_ spec: EnvPresyncSpec, environment: [String: String], base: String, _ task: NativeTask) -> NativeTask.Verdict {
        var problems: [String] = []
        let missing = spec.require.filter { (environment[$0] ?? "").isEmpty }
        if !missing.isEmpty { problems.append("not set in the environment: \(missing.joined(separator: ", "))") }
        for file in spec.files {
            let path = file.hasPrefix("/") ? file : base + "/" + file
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                problems.append("\(file): cannot be read")
                continue
            }
            let declared = ConfigDeclarations(text, mentioning: Set(spec.require))
            for (line, text) in declared.ignoredComments {
                task.say("\(file):\(line): ignored (a comment): \(text)")
            }
            let absent = spec.require.filter { !declared.names.contains($0) }
            if !absent.isEmpty { problems.append("\(file) does not declare \(absent.joined(separator: ", "))") }
        }
        for problem in problems { task.say(problem) }
        return problems.isEmpty
            ? .init(ok: true, message: "\(spec.require.count) variables set and declared in \(spec.files.count) file(s)")
            : .init(ok: false, message: problems.joined(separator: "; "))
    }
}

/// `verify`: an HTTP health probe with the DOMAIN.md timing (initial delay, interval, timeout,
/// consecutive-failure threshold, a cap on attempts).
enum VerifyRunner {
    static func run(_ probe: VerifyProbe, _ context: KindContext, _ task: NativeTask) -> NativeTask.Verdict {
        let url = context.resolve(probe.url)
        let shown = context.masker.mask(url)
        if probe.initialDelay.milliseconds > 0 {
            task.say("waiting \(probe.initialDelay) before the first probe of \(shown)")
            guard task.sleep(ms: probe.initialDelay.milliseconds) else { return .init(ok: false, message: "cancelled") }
        }
        var consecutive = 0
        for attempt in 1...probe.attempts {
            let result = Probes.get(url, timeoutMs: probe.timeout.milliseconds, cancelled: { task.isCancelled })
            let ok = result.error == nil && result.status == probe.expect
            let detail = result.error ?? "HTTP \(result.statusText)"
            task.record(
                .probe(
                    task.stamp, stage: context.stage, attempt: attempt, url: shown, status: result.status, error: result.error,
                    ms: result.milliseconds, ok: ok))
            if ok {
                task.say("probe \(attempt): \(detail) from \(shown): healthy")
                return .init(ok: true, message: "healthy after \(attempt) probe\(attempt == 1 ? "" : "s")")
            }
            consecutive += 1
            task.say("probe \(attempt): \(detail) from \(shown), expected \(probe.expect) (\(consecutive)/\(probe.failureThreshold) consecutive failures)")
            if consecutive >= probe.failureThreshold {
                return .init(ok: false, message: "unhealthy: \(consecutive) consecutive failed probes of \(shown) (last: \(detail))")
            }
            if attempt < probe.attempts, !task.sleep(ms: probe.interval.milliseconds) { return .init(ok: false, message: "cancelled") }
        }
        return .init(ok: false, message: "no healthy answer from \(shown) in \(probe.attempts) probes")
    }
}

/// `canary`: shifts traffic step by step, bakes, and watches metrics against absolute or
/// baseline-relative bounds; too many consecutive failures send traffic back to 0 and fail the stage.
enum CanaryRunner {
    static func run(_ spec: CanarySpec, _ context: KindContext, _ task: NativeTask) -> NativeTask.Verdict {
        // The baseline must be measured without the new release taking traffic: after a retry or a
        // resume of an interrupted canary, traffic may still sit at the last step.
        guard shift(to: 0, spec, context, task) else {
            return .init(ok: false, message: "the traffic script failed to set traffic to 0% before measuring the baseline")
        }
        var baseline: [String: Double] = [:]
        for metric in spec.analysis {
            if let value = measure(metric, context, task) {
                baseline[metric.name] = value
                task.record(.measurement(task.stamp, stage: context.stage, step: 0, metric: metric.name, value: value, bound: nil, verdict: "baseline"))
                task.say("baseline \(metric.name) = \(formatNumber(value))")
            } else {
                return .init(ok: false, message: "cannot measure the baseline of '\(metric.name)'")
            }
        }
        for step in spec.steps {
            guard shift(to: step, spec, context, task) else {
                _ = shift(to: 0, spec, context, task)
                return .init(ok: false, message: "the traffic script failed at \(step)%; traffic sent back to 0%")
            }
            var consecutive = 0
            let bakeEnd = task.clock.now() + spec.bake.milliseconds
            repeat {
                let wait = min(spec.interval.milliseconds, max(0, bakeEnd - task.clock.now()))
                if wait > 0, !task.sleep(ms: wait) { return .init(ok: false, message: "cancelled") }
                var failed: [String] = []
                for metric in spec.analysis {
                    let value = measure(metric, context, task)
                    let (ok, boundText) = judge(value, metric, baseline: baseline[metric.name])
                    task.record(
                        .measurement(
                            task.stamp, stage: context.stage, step: step, metric: metric.name, value: value, bound: boundText,
                            verdict: ok ? "pass" : "fail"))
                    let shown = value.map(formatNumber) ?? "no value"
                    task.say("\(step)%: \(metric.name) = \(shown) (\(boundText)): \(ok ? "pass" : "FAIL")")
                    if !ok { failed.append("\(metric.name) = \(shown) (\(boundText))") }
                }
                consecutive = failed.isEmpty ? 0 : consecutive + 1
                if consecutive >= spec.failureLimit {
                    task.say("\(consecutive) consecutive failed analyses at \(step)%: aborting, traffic back to 0%")
                    _ = shift(to: 0, spec, context, task)
                    return .init(ok: false, message: "canary aborted at \(step)%: \(failed.joined(separator: ", "))")
                }
            } while task.clock.now() < bakeEnd
        }
        return .init(ok: true, message: "promoted through \(spec.steps.map { "\($0)%" }.joined(separator: " → "))")
    }

    static func shift(to percent: Int, _ spec: CanarySpec, _ context: KindContext, _ task: NativeTask) -> Bool {
        task.say("traffic → \(percent)%")
        task.record(.traffic(task.stamp, stage: context.stage, percent: percent))
        let code = task.runScript(
            context.shell + [spec.traffic.source], environment: context.environment + ["PIPELINE_TRAFFIC_PERCENT=\(percent)"],
            directory: context.directory, timeoutMs: 120_000, masker: context.masker
        ) { task.say(context.masker.mask($0)) }
        return code == 0
    }

    /// A finite value, or nil (said why) when there is none: the round or the baseline fails.
    static func measure(_ metric: CanaryMetric, _ context: KindContext, _ task: NativeTask) -> Double? {
        func value(_ read: Result<Double, Probes.NotANumber>) -> Double? {
            switch read {
            case .success(let value): return value
            case .failure(let problem): task.say("\(metric.name): \(problem.message)"); return nil
            }
        }
        switch metric.source {
        case .command(let script):
            var lines: [String] = []
            let code = task.runScript(
                context.shell + [script.source], environment: context.environment, directory: context.directory,
                timeoutMs: 30_000
            ) { lines.append($0) }
            guard code == 0 else { return nil }
            return value(Probes.number(printed: lines))
        case .http(let url, let path, let timeout):
            let url = context.resolve(url)
            let result = Probes.get(url, timeoutMs: timeout.milliseconds, cancelled: { task.isCancelled })
            if let error = result.error { task.say("\(metric.name): GET \(url): \(error)"); return nil }
            guard let status = result.status, (200..<300).contains(status) else {
                task.say("\(metric.name): GET \(url) returned \(result.statusText)")
                return nil
            }
            return value(Probes.number(in: result.body, at: path))
        }
    }

    /// Whether a value is within the metric's bounds, and the bounds as text (`≤ 1.5 (baseline * 1.5)`).
    static func judge(_ value: Double?, _ metric: CanaryMetric, baseline: Double?) -> (Bool, String) {
        // Not a number (nil, NaN, ±infinity) fails: no comparison with NaN is ever true.
        var ok = value?.isFinite ?? false
        var parts: [String] = []
        if let max = metric.max, let limit = max.value(baseline: baseline) {
            parts.append("≤ \(formatNumber(limit))" + (max == .absolute(limit) ? "" : " (\(max))"))
            if let value, !(limit.isFinite && value <= limit) { ok = false }
        }
        if let min = metric.min, let limit = min.value(baseline: baseline) {
            parts.append("≥ \(formatNumber(limit))" + (min == .absolute(limit) ? "" : " (\(min))"))
            if let value, !(limit.isFinite && value >= limit) { ok = false }
        }
        return (ok, parts.joined(separator: ", "))
    }
}
