extension PlanRenderer {
    /// What `run --dry-run` prints: every script that would run, in order, with gates, retries,
    /// timeouts and the rollback that would undo it. Nothing is run. Control characters from the
    /// file are shown escaped (``TerminalText``).
    public func dryRun() -> String {
        TerminalText.escaped(dryRunText(), keepingNewlines: true)
    }

    package func dryRunText() -> String {
        let stages = pipeline.stages
        var out = "dry run of '\(pipeline.name)' (\(pipeline.path)): nothing is executed\n"
        for line in contextLines { out += line + "\n" }
        let conditions = ConditionPlan(pipeline, graph: graph)
        for (step, node) in graph.order.enumerated() {
            let stage = stages[node]
            out += "\n\(step + 1). \(stage.id) (\(stage.kind.rawValue))"
            out += stage.needs.isEmpty ? ", needs nothing\n" : ", after \(stage.needs.joined(separator: ", "))\n"
            if let origin = stage.origin { out += "   from \(origin.summary)\n" }
            if let line = conditions.line(for: stage) { out += (stage.condition == nil ? "   skipped: " : "   if: ") + line + "\n" }
            if let gates = StageSummary(stage: stage).gates { out += "   gate: \(gates)\n" }
            out += "   timeout \(stage.timeout) per attempt; retry: \(stage.retry.summary)\n"
            if !stage.env.isEmpty { out += "   env: " + stage.env.map { "\($0.name)=\($0.value.raw)" }.joined(separator: " ") + "\n" }
            for action in Action.plan(for: stage) {
                switch action {
                case .native(let work):
                    out += "   \(work.label): \(StageSummary(stage: stage).details ?? "")\n"
                case .script(let source, let label, let env):
                    let extra = env.map { " with \($0.0)=\($0.1)" }.joined()
                    out += "   \(label)\(extra):\n" + indent(source)
                }
            }
            if case .canary(let spec) = stage.spec {
                out += "   traffic script (run with PIPELINE_TRAFFIC_PERCENT at each step, and 0 on abort):\n" + indent(spec.traffic.source)
            }
            if case .infraPrecheck(let checks) = stage.spec {
                for check in checks {
                    if case .command(let script) = check.probe { out += "   check '\(check.name)':\n" + indent(script.source) }
                }
            }
            if let rollback = stage.rollback {
                out += "   rollback:\n" + indent(rollback.source)
            } else {
                out += stage.reversible ? "   rollback: none\n" : "   rollback: none (not reversible: rollback stops here)\n"
            }
        }
        out += "\non failure: the failed stage's rollback runs first, then completed stages are undone in reverse order of completion"
        if let stop = stages.last(where: { !$0.reversible }) { out += ", never past '\(stop.id)'" }
        return out + ".\n"
    }

    private func indent(_ script: String) -> String {
        script.split(separator: "\n", omittingEmptySubsequences: false)
            .reversed().drop { $0.isEmpty }.reversed()
            .map { "     | \($0)" }.joined(separator: "\n") + "\n"
    }
}
