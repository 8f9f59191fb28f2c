import PipelineYAML

extension PlanRenderer {
    /// The stable JSON shape documented in docs/plan-json.md (`"format": 1`).
    package func json() -> String {
        let stages = pipeline.stages
        let waveOf = graph.waveOf
        var o = JSONObjectWriter()
        o.field("format", raw: "1")
        o.field("pipeline", pipeline.name)
        o.field("file", pipeline.path)
        o.field("description", pipeline.description)
        o.field("secrets", list: pipeline.secrets)
        contextJSON(&o)
        o.field(
            "waves",
            raw: "[" + graph.waves.map { wave in "[" + wave.map { JSON.quote(stages[$0].id) }.joined(separator: ", ") + "]" }.joined(separator: ", ") + "]")
        var items: [String] = []
        let conditions = ConditionPlan(pipeline, graph: graph)
        for node in graph.order {
            let stage = stages[node]
            let summary = StageSummary(stage: stage)
            var s = JSONObjectWriter(indent: 3)
            s.field("id", stage.id)
            s.field("name", stage.name)
            s.field("kind", stage.kind.rawValue)
            s.field("wave", raw: String(waveOf[node] + 1))
            s.field("needs", list: stage.needs)
            s.field("run", stage.run?.source)
            s.field("rollback", stage.rollback?.source)
            s.field("timeout_ms", raw: String(stage.timeout.milliseconds))
            var r = JSONObjectWriter(indent: 4)
            r.field("attempts", raw: String(stage.retry.attempts))
            r.field("delay_ms", raw: String(stage.retry.delay.milliseconds))
            r.field("backoff", raw: formatNumber(stage.retry.backoff))
            r.field("max_delay_ms", raw: String(stage.retry.maxDelay.milliseconds))
            r.field("jitter", raw: String(stage.retry.jitter))
            s.field("retry", raw: r.finish())
            if let gate = stage.gate {
                var g = JSONObjectWriter(indent: 4)
                g.field("approval", raw: String(gate.approval != nil))
                g.field("approval_message", gate.approval?.message?.raw)
                if let window = gate.window {
                    var w = JSONObjectWriter(indent: 5)
                    w.field("days", list: window.days.map { DeployWindow.dayNames[$0 - 1] })
                    w.field("hours", "\(DeployWindow.clock(window.start))-\(DeployWindow.clock(window.end))")
                    w.field("timezone", window.timezone)
                    g.field("window", raw: w.finish())
                } else {
                    g.field("window", raw: "null")
                }
                g.field("check", gate.check?.source)
                g.field("wait_ms", raw: gate.wait.map { String($0.milliseconds) } ?? "null")
                s.field("gate", raw: g.finish())
            } else {
                s.field("gate", raw: "null")
            }
            s.field("outputs", list: stage.outputs)
            s.field("idempotent", raw: String(stage.idempotent))
            s.field("reversible", raw: String(stage.reversible))
            s.field("summary", summary.details)
            if let condition = stage.condition {
                // Only for a stage with `if:`: as written, with inputs and the environment replaced, and the decision known now.
                var c = JSONObjectWriter(indent: 4)
                c.field("expression", condition.text)
                c.field("evaluated", condition.expression.description)
                c.field("decision", raw: condition.staticDecision.map { String($0) } ?? "null")
                s.field("if", raw: c.finish())
            }
            if let reason = conditions.skipped[stage.id] { s.field("skipped", reason) }
            if let origin = stage.origin {
                // Only for a stage of an included stage file: where it is written, and the include chain.
                var f = JSONObjectWriter(indent: 4)
                f.field("file", origin.path)
                let sites = origin.includedFrom.map {
                    "{\"file\": \(JSON.quote($0.path)), \"line\": \($0.mark.line), \"column\": \($0.mark.column)}"
                }
                f.field("included_from", raw: "[" + sites.joined(separator: ", ") + "]")
                s.field("source", raw: f.finish())
            }
            items.append(s.finish())
        }
        o.field("stages", raw: items.isEmpty ? "[]" : "[\n    " + items.joined(separator: ",\n    ") + "\n  ]")
        let warnings = loaded.warnings.map { w in
            "{\"file\": \(JSON.quote(w.path)), \"line\": \(w.mark.line), \"column\": \(w.mark.column), \"code\": \(w.code.map(JSON.quote) ?? "null"), \"message\": \(JSON.quote(w.message))}"
        }
        o.field("warnings", raw: warnings.isEmpty ? "[]" : "[\n    " + warnings.joined(separator: ",\n    ") + "\n  ]")
        return o.finish() + "\n"
    }
}

/// Writes one JSON object with keys in a fixed order (stable output for golden files and diffs).
package struct JSONObjectWriter {
    private var fields: [String] = []
    private let indent: Int

    package init(indent: Int = 1) { self.indent = indent }

    package mutating func field(_ key: String, raw: String) { fields.append("\(JSON.quote(key)): \(raw)") }
    package mutating func field(_ key: String, _ value: String?) { field(key, raw: value.map(JSON.quote) ?? "null") }
    package mutating func field(_ key: String, list: [String]) { field(key, raw: "[" + list.map(JSON.quote).joined(separator: ", ") + "]") }

    package func finish() -> String {
        let pad = String(repeating: "  ", count: indent)
        let closing = String(repeating: "  ", count: indent - 1)
        return "{\n" + fields.map { pad + $0 }.joined(separator: ",\n") + "\n" + closing + "}"
    }
}
