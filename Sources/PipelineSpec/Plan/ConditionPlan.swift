/// What the plan knows about each stage's `if:` when the file is read: inputs and the environment
/// are known, `env` values and outputs are not (they are read when the stage is ready).
package struct ConditionPlan {
    /// Stages known to be skipped, with why (a false `if:`, or an output of a skipped stage).
    package var skipped: [String: String] = [:]

    /// - Complexity: O(V + E) over the graph order.
    package init(_ pipeline: Pipeline, graph: StageGraph) {
        for node in graph.order {
            let stage = pipeline.stages[node]
            if let producer = stage.outputProducers.sorted().first(where: { skipped[$0] != nil }) {
                skipped[stage.id] = "reads an output of '\(producer)', which is skipped"
            } else if let condition = stage.condition, condition.staticDecision == false {
                skipped[stage.id] = "if: false"
            }
        }
    }

    /// Whether the plan says anything about conditions (else every format renders as before).
    package static func matters(_ pipeline: Pipeline) -> Bool { pipeline.stages.contains { $0.condition != nil } }

    /// `inputs.mode == 'maintenance' (false: skipped)` for a stage with an `if:`; the decision is
    /// `decided when the stage is ready` when it reads `env` or outputs.
    package func line(for stage: Stage) -> String? {
        guard let condition = stage.condition else { return skipped[stage.id] }
        let folded = condition.expression.description
        let shown = folded == condition.text ? condition.text : "\(condition.text) [here: \(folded)]"
        switch condition.staticDecision {
        case true?: return skipped[stage.id].map { "\(shown) (true, but skipped: \($0))" } ?? "\(shown) (true: runs)"
        case false?: return "\(shown) (false: skipped)"
        case nil: return skipped[stage.id].map { "\(shown) (skipped: \($0))" } ?? "\(shown) (decided when the stage is ready)"
        }
    }
}
