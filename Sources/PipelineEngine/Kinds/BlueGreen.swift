import PipelineSpec

/// Which colour of a blue-green stage is live, derived from the runs the state store recorded
/// (local or PostgreSQL alike, through ``StateStore``): no table of its own, so the answer is
/// always the one the journals support.
enum BlueGreenHistory {
    /// The live colour of stage `stage` of `pipeline` in `environment`: the colour the newest earlier run (of that environment) that
    /// switched it left traffic on (its switch, or its switch back). With no such run, the first
    /// of `colors`.
    /// - Returns: the live colour and the run that decided it (nil: no earlier run switched).
    /// - Throws: when the newest run that switched did not finish its switch (or switch back):
    ///   which colour serves is then unknown, and deploying to a guessed "idle" colour could
    ///   overwrite the live one.
    static func live(
        of stage: String, pipeline: String, environment: String?, colors: [String], store: any StateStore, excluding current: String
    ) throws(EngineError) -> (live: String, decidedBy: String?) {
        for listing in store.runsNewestFirst() where listing.pipeline == pipeline && listing.id != current {
            let state = try store.load(listing.id)
            // Each environment has its own pair of colours.
            guard state.environment == environment, let record = state.stage(stage), let target = record.switchedTo else { continue }
            guard record.switchSettled else {
                throw EngineError(
                    "cannot tell which colour of '\(stage)' is live: run \(listing.id) started switching traffic to '\(target)' and did not finish (no switch or switch back succeeded after it); finish that run ('pipeline rollback \(listing.id)' switches back) or point traffic by hand and roll it back, then try again"
                )
            }
            guard colors.contains(target) else {
                throw EngineError(
                    "run \(listing.id) left the traffic of '\(stage)' on colour '\(target)', which is not one of its 'colors' (\(colors.joined(separator: ", "))); point traffic at one of them by hand first"
                )
            }
            return (target, listing.id)
        }
        return (colors[0], nil)
    }
}

extension DeployEngine {
    /// Decides (once per run, under the pipeline's lock) and journals the colours of a blue-green
    /// stage before its first attempt; a retry or a resume keeps them.
    func chooseColors(_ stage: Stage) throws(EngineError) {
        guard case .blueGreen(let spec) = stage.spec, run.stage(stage.id)?.idleColor == nil else { return }
        let (live, decidedBy) = try BlueGreenHistory.live(
            of: stage.id, pipeline: run.pipeline, environment: run.environment, colors: spec.colors, store: store, excluding: run.run)
        let idle = spec.idle(whenLive: live)
        record(.colors(stage: stage.id, live: live, idle: idle, decidedBy: decidedBy))
        try flush()
        output.note(
            "[\(stage.id)] live colour: \(live)" + (decidedBy.map { " (since run \($0))" } ?? " (no earlier run switched it)") + "; deploying \(idle)")
    }

    /// The `switch-after` stages of a blue-green stage.
    func switchAfter(_ node: Int) -> [String] {
        if case .blueGreen(let spec) = pipeline.stages[node].spec { return spec.switchAfter }
        return []
    }

    /// The `switch-after` stages that have not succeeded yet.
    func switchAfterPending(_ node: Int) -> [String] {
        switchAfter(node).filter { id in graph.index[id].map { stages[$0].phase != .succeeded } ?? false }
    }

    /// The run stopped running while a blue-green try waited before its switch: the try ends
    /// without switching — `stopped` when the run is failing (the rollback then restores the idle
    /// colour), `interrupted` otherwise (a gate stopped the run, or a signal), so `resume` runs it again.
    func stopParkedSwitches() throws(EngineError) {
        for node in stages.indices where stages[node].parkedAtSwitch {
            stages[node].parkedAtSwitch = false
            emit(.action(stage: node), "not switching: the run is \(state.isFailing ? "failing" : "stopping")")
            try attemptFinished(node, ok: false, exitCode: nil, signal: nil, outcome: state.isFailing ? .stopped : .interrupted)
        }
    }

    /// Journals (durably) where the switch is about to point traffic, before its script runs.
    func recordSwitch(_ stage: Stage) throws(EngineError) {
        guard let idle = run.stage(stage.id)?.idleColor else { return }
        record(.colorSwitch(stage: stage.id, color: idle))
        try flush()
    }
}
