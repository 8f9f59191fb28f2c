import PipelineSpec
import FoundationEssentials
import Glibc

/// `notify` hooks and the `rollback.before`/`after` scripts, from the run's recorded definition (so
/// `pipeline rollback` runs them too, without the pipeline file).
///
/// Hooks run one at a time on the engine's thread, each within its time limit: a signal that
/// arrives meanwhile is acted on when the hook ends. A hook's failure is reported and journaled
/// (`hook` events); it never changes the run's outcome and never stops a rollback.
extension Engine {
    /// What a hook is told about the run.
    struct HookContext {
        var event: String
        var status: String
        var failedStage: String?
        var reason: String?
    }

    /// Tells every `notify` hook that listens for `event`.
    func notify(_ event: RunEvent, failedStage: String? = nil, reason: String? = nil) {
        let hooks = run.definition.hooks.notify.enumerated().filter { $0.element.events.contains(event.rawValue) }
        guard !hooks.isEmpty else { return }
        // The hooks see what the journal holds: make it durable first.
        try? flush()
        let context = HookContext(event: event.rawValue, status: statusName(for: event), failedStage: failedStage, reason: reason.map(masker.mask))
        for (index, hook) in hooks {
            let name = "notify \(index + 1)"
            let started = clock.now()
            let result: (ok: Bool, detail: String)
            if let script = hook.run {
                result = runHookScript(script, name: name, context: context, timeoutMs: hook.timeoutMs)
            } else if let url = hook.webhook {
                result = postWebhook(resolve(url, stageID: nil, pipelineEnv: nil), context: context, timeoutMs: hook.timeoutMs)
            } else {
                continue
            }
            journalHook(name, context: context, result: result, started: started)
            if !result.ok {
                output.note("warning: \(name) (on \(event.rawValue)) failed: \(masker.mask(result.detail)); the run's outcome is unchanged")
            }
        }
        try? flush()
    }

    /// Runs `rollback.before` or `rollback.after`, if the pipeline has it. `outcome` is what the
    /// undo of the stages came to (`rolled_back`, `rollback_failed`), given to `after` as `PIPELINE_STATUS`.
    /// - Returns: nil when it is absent or succeeded, else what went wrong (for the run's note).
    func rollbackHook(after: Bool, outcome: String? = nil) -> String? {
        let hooks = run.definition.hooks
        guard let script = after ? hooks.rollbackAfter : hooks.rollbackBefore else { return nil }
        let name = after ? "rollback.after" : "rollback.before"
        try? flush()
        output.note("[\(name)] running")
        let context = HookContext(
            event: after ? "rollback_finished" : "rollback_begun", status: outcome ?? run.status.rawValue, failedStage: run.failedStage, reason: nil)
        let started = clock.now()
        let result = runHookScript(script, name: name, context: context, timeoutMs: hooks.rollbackTimeoutMs)
        journalHook(name, context: context, result: result, started: started)
        try? flush()
        if result.ok {
            output.note("[\(name)] succeeded")
            return nil
        }
        output.note("warning: \(name) failed: \(masker.mask(result.detail))" + (after ? "" : "; rolling back anyway"))
        return "\(name) failed (\(masker.mask(result.detail)))"
    }

    /// Why stage `id` failed, in one line, from its last attempt.
    func failureReason(_ id: String) -> String {
        guard let attempt = run.stage(id)?.attempts.last else { return "stage '\(id)' failed" }
        let how = attempt.signal.map { "killed by \($0)" } ?? attempt.exitCode.map { "exit \($0)" } ?? (attempt.outcome?.rawValue ?? "failed")
        let tries = run.stage(id)?.attempts.count ?? 1
        return "stage '\(id)' failed after \(tries) attempt\(tries == 1 ? "" : "s") (\(how))"
    }

    private func statusName(for event: RunEvent) -> String {
        switch event {
        case .started: return "running"
        case .failed: return "failed"
        default: return event.rawValue
        }
    }

    private func journalHook(_ name: String, context: HookContext, result: (ok: Bool, detail: String), started: Int) {
        record(
            .hook(
                .init(at: clock.timestamp(), atMs: clock.now()), name: name, event: context.event, ok: result.ok, detail: masker.mask(result.detail),
                ms: clock.now() - started))
    }

    /// A hook script: the event reaches it in `PIPELINE_*` variables, never in its text.
    private func runHookScript(_ script: String, name: String, context: HookContext, timeoutMs: Int) -> (ok: Bool, detail: String) {
        var extra: [(String, String)] = [("PIPELINE_EVENT", context.event), ("PIPELINE_STATUS", context.status)]
        if let failed = context.failedStage { extra.append(("PIPELINE_FAILED_STAGE", failed)) }
        if let reason = context.reason { extra.append(("PIPELINE_REASON", reason)) }
        var env = environmentValues(stageID: "", stageEnv: [], attempt: 1, outputsPath: "/dev/null", extra: extra)
        env["PIPELINE_STAGE"] = nil
        var log = LazyLog()
        log.reset(logPath("logs/\(name.replacing(" ", with: "-")).\(context.event).log"))
        defer { log.close() }
        let task = NativeTask(clock: clock)
        let code = task.runScript(
            run.definition.hooks.shell + [script], environment: env.map { "\($0.key)=\($0.value)" }, directory: options.workingDirectory,
            timeoutMs: timeoutMs, masker: masker
        ) { line in
            let masked = masker.mask(line)
            output.stageLine(stage: name, line: masked)
            log.write(masked + "\n")
        }
        guard let code else { return (false, "did not finish within \(TimeSpan(milliseconds: timeoutMs)) (killed)") }
        return code == 0 ? (true, "exit 0") : (false, "exit \(code)")
    }

    /// A webhook: one JSON POST; any 2xx answer is success.
    private func postWebhook(_ url: String, context: HookContext, timeoutMs: Int) -> (ok: Bool, detail: String) {
        var fields: [(String, JSONValue)] = [("run", .string(run.run)), ("pipeline", .string(run.pipeline))]
        if let environment = run.environment { fields.append(("environment", .string(environment))) }
        fields += [
            ("event", .string(context.event)), ("status", .string(context.status)),
            ("failed_stage", context.failedStage.map(JSONValue.string) ?? .null), ("reason", context.reason.map(JSONValue.string) ?? .null),
        ]
        let body = Data(JSONValue.object(fields).compact.utf8)
        let result = Probes.postJSON(url, body: body, timeoutMs: timeoutMs)
        let shown = masker.mask(url)
        if let error = result.error { return (false, "POST \(shown): \(error)") }
        guard let status = result.status, (200..<300).contains(status) else { return (false, "POST \(shown) returned HTTP \(result.statusText)") }
        return (true, "POST \(shown): HTTP \(status)")
    }
}
