import PipelineSpec

extension DeployEngine {
    /// Decides, once, when stage `node` becomes ready (its needs succeeded or were skipped) and
    /// before any gate, whether it runs: a stage that reads an output of a skipped stage is skipped
    /// (the value does not exist), then its `if:` is evaluated with the values of this run.
    /// - Returns: true when the stage was skipped (journaled `stage_skipped`).
    func skipIfItShouldNot(_ node: Int) -> Bool {
        stages[node].conditionDone = true
        let stage = pipeline.stages[node]
        if let producer = stage.outputProducers.sorted().first(where: { run.stage($0)?.status == .skipped }) {
            skip(node, condition: nil, reason: "it reads an output of '\(producer)', which was skipped")
            return true
        }
        guard let condition = stage.condition else { return false }
        let holds = condition.expression.truth { self.conditionValue($0, reader: stage.id) } ?? false
        guard !holds else {
            if condition.staticDecision == nil { output.note("[\(stage.id)] if: \(condition.text): true") }
            return false
        }
        skip(node, condition: condition.text, reason: "if: \(condition.text): false")
        return true
    }

    func skip(_ node: Int, condition: String?, reason: String) {
        let id = pipeline.stages[node].id
        record(.stageSkipped(stage: id, condition: condition, reason: reason))
        output.note("[\(id)] skipped: \(reason)")
        stageEnded(node, succeeded: false, skipped: true)
    }

    /// The text of a name a condition reads at run time: a top-level `env` value as scripts get it,
    /// or a recorded output ("" when absent, as a `${{ }}` reference would be).
    func conditionValue(_ reference: ConditionReference, reader: String) -> String? {
        switch reference {
        case .env(let name):
            guard let raw = run.definition.env.first(where: { $0.0 == name })?.1 else { return "" }
            return resolve(raw, stageID: nil, pipelineEnv: nil)
        case .output(let stage, let name):
            return outputsForScripts(of: stage, receiver: "the 'if' of stage '\(reader)'").first { $0.0 == name }?.1 ?? ""
        case .unresolved:
            return nil
        }
    }
}
