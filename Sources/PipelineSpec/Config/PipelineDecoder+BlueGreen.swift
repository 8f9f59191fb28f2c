import PipelineYAML

extension PipelineDecoder {
    /// `blue-green`: `deploy`, `switch`, the idle colour's health check (`http`, `smoke`), `colors`.
    package mutating func decodeBlueGreen(_ fields: Fields<StageKey>, label: String, stage: String) -> BlueGreenSpec {
        let empty = Script(source: "", mark: fields.mark)
        var spec = BlueGreenSpec(deploy: empty, switchScript: empty, http: nil, smoke: [], colors: FormatDefaults.blueGreenColors)
        if let d = fields[.deploy], let s = script(d, "'deploy' of \(label)") { spec.deploy = s }
        if let w = fields[.switch], let s = script(w, "'switch' of \(label)") { spec.switchScript = s }
        if let h = fields[.http] { spec.http = decodeVerifyProbe(h, label: label, stage: stage) }
        if let s = fields[.smoke] { spec.smoke = decodeSmoke(s, label: label) }
        if let c = fields[.colors], let items = reader.strings(c, "'colors' of \(label)") {
            let names = items.map(\.0)
            if names.count != 2 || names[0] == names[1] {
                reader.error(reader[c].mark, "'colors' of \(label) must be two different names, e.g. [blue, green]")
            } else if let bad = items.first(where: { !Self.isStageID($0.0) }) {
                reader.error(bad.1, "colour '\(bad.0)' of \(label) must match [a-z0-9][a-z0-9_-]*")
            } else {
                spec.colors = names
            }
        }
        if let a = fields[.switchAfter], let items = reader.strings(a, "'switch-after' of \(label)") {
            for (index, item) in items.enumerated() where items[..<index].contains(where: { $0.0 == item.0 }) {
                reader.error(item.1, "\(label) lists '\(item.0)' twice in 'switch-after'")
            }
            spec.switchAfter = items.map(\.0)
            spec.switchAfterMarks = items.map(\.1)
        }
        return spec
    }

    /// `switch-after` names stages of the file that do not wait for the blue-green stage (which
    /// would then wait for them forever).
    package static func checkSwitchAfter(_ pipeline: Pipeline, _ graph: StageGraph, _ decoder: inout PipelineDecoder) {
        // By index, each stage's kind looked at in place (not a copy of every stage); the ids
        // only for a message.
        for node in pipeline.stages.indices {
            guard case .blueGreen(let spec) = pipeline.stages[node].spec else { continue }
            let stage = pipeline.stages[node]
            let waiting = graph.descendants(of: node)
            for (id, mark) in zip(spec.switchAfter, spec.switchAfterMarks) {
                guard let other = graph.index[id] else {
                    decoder.reader.error(
                        mark, "stage '\(stage.id)' switches after unknown stage '\(id)'" + Suggestion.didYouMean(id, among: pipeline.stages.map { $0.id }))
                    continue
                }
                if other == node {
                    decoder.reader.error(mark, "stage '\(stage.id)' cannot switch after itself")
                } else if waiting.contains(other) {
                    decoder.reader.error(
                        mark, "stage '\(stage.id)' cannot switch after '\(id)': '\(id)' needs '\(stage.id)' (directly or not), so both would wait forever")
                }
            }
        }
    }

    /// `allow: [rule-id]`: lint rules accepted for one stage.
    package mutating func decodeAllow(_ id: NodeID, label: String) -> [String] {
        guard let items = reader.strings(id, "'allow' of \(label)") else { return [] }
        let rules = Linter.Rule.allCases.map(\.rawValue)
        var allowed: [String] = []
        for (rule, mark) in items {
            if Linter.Rule(rawValue: rule) == nil {
                let hint = MigrationRule(rawValue: rule) != nil ? "; migration lint rules are allowed in the migrate stage's 'lint.allow'" : ""
                reader.error(mark, "unknown lint rule '\(rule)' in 'allow' of \(label)" + (hint.isEmpty ? Suggestion.didYouMean(rule, among: rules) : hint))
            } else if allowed.contains(rule) {
                reader.error(mark, "'allow' of \(label) lists '\(rule)' twice")
            } else {
                allowed.append(rule)
            }
        }
        return allowed
    }
}
