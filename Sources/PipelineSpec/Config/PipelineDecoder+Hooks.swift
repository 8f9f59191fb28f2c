import PipelineYAML

extension PipelineDecoder {
    /// `notify`: a list of `{on: [events], run: SCRIPT}` or `{on: [events], webhook: URL}`.
    package mutating func decodeNotify(_ id: NodeID) -> [NotifyHook] {
        guard let items = reader.list(id, "'notify'") else { return [] }
        var hooks: [NotifyHook] = []
        let names = RunEvent.allCases.map(\.rawValue)
        for (index, item) in items.enumerated() {
            let what = "item \(index + 1) of 'notify'"
            guard let fields = reader.fields(item, what, NotifyKey.self) else { continue }
            reader.require(fields, [.on], in: what)
            var events: [RunEvent] = []
            if let o = fields[.on], let list = reader.strings(o, "'on' of \(what)") {
                if list.isEmpty { reader.error(reader[o].mark, "'on' of \(what) is empty; list events such as [failed, rolled_back]") }
                for (name, mark) in list {
                    if let event = RunEvent(rawValue: name) {
                        if events.contains(event) { reader.error(mark, "'on' of \(what) lists '\(name)' twice") } else { events.append(event) }
                    } else {
                        reader.error(
                            mark,
                            "unknown event '\(name)' in 'on' of \(what); expected one of: \(names.joined(separator: ", "))"
                                + Suggestion.didYouMean(name, among: names))
                    }
                }
            }
            var timeout = FormatDefaults.notifyTimeout
            if let t = fields[.timeout], let span = reader.duration(t, "'timeout' of \(what)", positive: true) { timeout = span }
            let target: NotifyHook.Target
            switch (fields[.run], fields[.webhook]) {
            case (let r?, nil):
                guard let s = script(r, "'run' of \(what)") else { continue }
                target = .command(s)
            case (nil, let w?):
                guard let address = url(w, "'webhook' of \(what)", stage: nil) else { continue }
                target = .webhook(address)
            case (nil, nil):
                reader.error(fields.mark, "\(what) needs 'run' (a script) or 'webhook' (a URL)")
                continue
            default:
                reader.error(fields.mark, "\(what) has both 'run' and 'webhook'; give exactly one")
                continue
            }
            hooks.append(NotifyHook(events: events, target: target, timeout: timeout, mark: fields.mark))
        }
        return hooks
    }

    /// The top-level `rollback: {before, after, timeout}`.
    package mutating func decodeRollbackHooks(_ id: NodeID) -> RollbackHooks? {
        guard let fields = reader.fields(id, "the top-level 'rollback'", RollbackHooksKey.self) else { return nil }
        var hooks = RollbackHooks(before: nil, after: nil, timeout: FormatDefaults.rollbackHookTimeout)
        hooks.before = fields[.before].flatMap { script($0, "'rollback.before'") }
        hooks.after = fields[.after].flatMap { script($0, "'rollback.after'") }
        if let t = fields[.timeout], let span = reader.duration(t, "'rollback.timeout'", positive: true) { hooks.timeout = span }
        if fields[.before] == nil, fields[.after] == nil {
            reader.error(fields.mark, "the top-level 'rollback' needs 'before', 'after' or both")
        }
        return hooks
    }
}
