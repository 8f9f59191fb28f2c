import PipelineSpec
import FoundationEssentials
import Glibc

/// What a native task needs from the engine to run scripts and probes for one stage.
struct KindContext: Sendable {
    var stage: String
    var shell: [String]
    var environment: [String]
    var directory: String
    var masker: SecretMasker
    /// `${{ }}` already substituted in URLs.
    var resolve: @Sendable (Template) -> String
    /// The run's id, for the commands messages name.
    var run = ""
    /// Whether a pause waits for `pipeline promote` (else the run stops with exit 4).
    var pauseWaits = false
    /// A canary continuing after a pause; a watch's baseline (from its canary).
    var resume: AnalysisResume?
}

/// `infra-precheck`: every check at once (commands, native HTTP and TCP); every failure reported together.
enum PrecheckRunner {
    static func run(_ checks: [PrecheckCheck], _ context: KindContext, _ task: NativeTask) -> NativeTask.Verdict {
        let failures = Failures()
        Threads.all(
            checks.map { check in
                {
                    if let problem = probe(check, context, task) {
                        failures.add("'\(check.name)': \(problem)")
                        task.say("check '\(check.name)' failed: \(problem)")
                    } else {
                        task.say("check '\(check.name)' passed")
                    }
                }
            })
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
        private let lock = Lock()
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
