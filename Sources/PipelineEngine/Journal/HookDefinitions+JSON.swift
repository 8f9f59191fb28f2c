import PipelineSpec

/// The definition's `notify` and `rollback_hooks` (written only when the pipeline has them, so
/// journals of pipelines without hooks are unchanged).
extension HookDefinitions {
    init(_ pipeline: Pipeline) {
        shell = pipeline.shell
        notify = pipeline.notify.map { hook in
            var item = Notify(events: hook.events.map(\.rawValue), run: nil, webhook: nil, timeoutMs: hook.timeout.milliseconds)
            switch hook.target {
            case .command(let script): item.run = script.source
            case .webhook(let url): item.webhook = url.raw
            }
            return item
        }
        if let hooks = pipeline.rollbackHooks {
            rollbackBefore = hooks.before?.source
            rollbackAfter = hooks.after?.source
            rollbackTimeoutMs = hooks.timeout.milliseconds
        }
    }

    init(json: JSONValue) {
        notify = (json["notify"]?.array ?? []).map { item in
            Notify(
                events: item["on"]?.strings ?? [], run: item["run"]?.string, webhook: item["webhook"]?.string,
                timeoutMs: item["timeout_ms"]?.int ?? FormatDefaults.notifyTimeout.milliseconds)
        }
        let rollback = json["rollback_hooks"]
        rollbackBefore = rollback?["before"]?.string
        rollbackAfter = rollback?["after"]?.string
        rollbackTimeoutMs = rollback?["timeout_ms"]?.int ?? FormatDefaults.rollbackHookTimeout.milliseconds
        shell = json["hook_shell"]?.strings ?? FormatDefaults.shell
    }

    var jsonFields: [(String, JSONValue)] {
        guard !isEmpty else { return [] }
        var fields: [(String, JSONValue)] = [("hook_shell", .array(shell.map(JSONValue.string)))]
        if !notify.isEmpty {
            fields.append(
                (
                    "notify",
                    .array(
                        notify.map { item in
                            .object(
                                [("on", .array(item.events.map(JSONValue.string)))]
                                    + (item.run.map { [("run", JSONValue.string($0))] } ?? [])
                                    + (item.webhook.map { [("webhook", JSONValue.string($0))] } ?? [])
                                    + [("timeout_ms", .int(item.timeoutMs))])
                        })
                ))
        }
        if rollbackBefore != nil || rollbackAfter != nil {
            fields.append(
                (
                    "rollback_hooks",
                    .object([
                        ("before", rollbackBefore.map(JSONValue.string) ?? .null), ("after", rollbackAfter.map(JSONValue.string) ?? .null),
                        ("timeout_ms", .int(rollbackTimeoutMs)),
                    ])
                ))
        }
        return fields
    }
}
