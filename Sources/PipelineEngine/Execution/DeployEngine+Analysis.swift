import PipelineSpec

extension DeployEngine {
    /// The URL and query templates of a canary's or watch's analyses (resolved before the task starts).
    static func analysisTemplates(_ metrics: [CanaryMetric]) -> [Template] {
        metrics.flatMap { metric -> [Template] in
            switch metric.source {
            case .command: return []
            case .http(let url, _, _): return [url]
            case .prometheus(let query): return [query.url, query.query]
            }
        }
    }

    /// What a canary or watch attempt starts from: after a pause that stopped the run, the canary
    /// continues with the step after it, on its recorded baseline; a watch reads its canary's baseline.
    func analysisResume(_ stage: Stage) -> AnalysisResume? {
        switch stage.spec {
        case .canary:
            guard let record = run.stage(stage.id), record.attempts.dropLast().last?.outcome == .paused, let paused = record.pausedAt else { return nil }
            return AnalysisResume(baseline: record.baseline, nextStep: paused + 1, percent: record.traffic)
        case .watch(let spec):
            guard let canary = spec.baseline else { return nil }
            return AnalysisResume(baseline: run.stage(canary)?.baseline ?? [:], nextStep: 0, percent: nil)
        default:
            return nil
        }
    }
}

extension DeployEngine {
    /// The canary and watch tasks running now.
    var analysingTasks: [(task: NativeTask, node: Int)] {
        tasks.values.filter { [.canary, .watch].contains(pipeline.stages[$0.node].kind) }.sorted { $0.node < $1.node }
    }

    /// When to look for operator requests next (only while a canary or watch runs, on a real clock).
    func controlTimer() -> [Int] {
        guard !clock.isVirtual, !analysingTasks.isEmpty else { return [] }
        return [lastControlPoll + EngineDefaults.controlPollMs]
    }

    /// Takes operator requests (`pipeline promote`/`abort`) not yet taken: journals a `control`
    /// event for each stage it goes to (before acting on it), then hands it to the running task.
    /// A store that cannot be read now is tried again at the next poll.
    func pollControl(now: Int) throws(EngineError) {
        let analysing = analysingTasks
        guard !analysing.isEmpty, clock.isVirtual || now - lastControlPoll >= EngineDefaults.controlPollMs else { return }
        lastControlPoll = now
        guard let requests = try? store.requests(run: run.run) else { return }
        for request in requests where !run.handledRequests.contains(request.id) {
            for (task, node) in analysing {
                let stage = pipeline.stages[node].id
                record(.control(stage: stage, action: request.action.rawValue, request: request.id, by: request.by))
                try flush()
                output.note("[\(stage)] \(request.action.rawValue) requested by \(request.by)")
                switch request.action {
                case .promote: task.deliver(.promote(by: request.by))
                case .abort:
                    abortedByOperator.insert(node)
                    task.deliver(.abort(by: request.by))
                }
            }
        }
    }
}
