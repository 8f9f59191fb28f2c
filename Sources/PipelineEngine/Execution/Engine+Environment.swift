import PipelineSpec
extension Engine {
    /// The environment of a stage's script: the caller's without the declared secrets, the
    /// pipeline's `env`, the stage's `env` (references resolved, never pasted into shell text),
    /// and the `PIPELINE_*` variables. A script sees a secret only where an `env` entry binds it
    /// with `${{ secrets.NAME }}`.
    func environment(for stage: Stage, attempt: Int, outputsPath: String, extra: [(String, String)] = []) -> [String] {
        environment(
            stageID: stage.id, stageEnv: stage.env.map { ($0.name, $0.value.raw) }, attempt: attempt,
            outputsPath: outputsPath, extra: extra)
    }

    func environment(stageID: String, stageEnv: [(String, String)], attempt: Int, outputsPath: String, extra: [(String, String)]) -> [String] {
        // The inherited part is rendered once per run; only what a script changes is rendered per
        // spawn. Which names a script changes, and which inherited entries they replace, is worked
        // out once for each list of names (every stage of a plain pipeline has the same list) and
        // reused while the list stays the same.
        let variables = scriptVariables(stageID: stageID, stageEnv: stageEnv, attempt: attempt, outputsPath: outputsPath, extra: extra)
        let plan: EnvironmentPlan
        if let last = environmentPlan, last.listed.elementsEqual(variables.lazy.map(\.0)) {
            plan = last
        } else {
            plan = EnvironmentPlan(listed: variables.map(\.0), inheritedPositions: inheritedPositions, inheritedCount: inheritedEntries.count)
            environmentPlan = plan
        }
        var values = [String?](repeating: nil, count: plan.names.count)
        for index in variables.indices { values[plan.slots[index]] = variables[index].1 }
        let inherited = inheritedEntries
        var entries: [String] = []
        entries.reserveCapacity(inherited.count + plan.names.count + 1)
        for index in inherited.indices where !plan.replaced[index] { entries.append(inherited[index].entry) }
        for index in plan.names.indices {
            if let value = values[index] { entries.append(plan.names[index] + "=" + value) }
        }
        return entries
    }

    /// The same environment as a dictionary (what env-presync checks).
    func environmentValues(
        stageID: String, stageEnv: [(String, String)], attempt: Int, outputsPath: String,
        extra: [(String, String)] = []
    ) -> [String: String] {
        var env = inheritedEnvironment
        for (name, value) in scriptVariables(stageID: stageID, stageEnv: stageEnv, attempt: attempt, outputsPath: outputsPath, extra: extra) {
            env[name] = value
        }
        return env
    }

    /// What the engine sets in (or, nil, removes from) the inherited environment for a script, in
    /// order (a later entry for the same name wins): the pipeline's `env`, the stage's `env`, the
    /// `PIPELINE_*` variables, then `extra`.
    func scriptVariables(stageID: String, stageEnv: [(String, String)], attempt: Int, outputsPath: String, extra: [(String, String)]) -> [(String, String?)] {
        var variables: [(String, String?)] = []
        variables.reserveCapacity(run.definition.env.count + stageEnv.count + extra.count + 14)
        var pipelineEnv: [String: String] = [:]
        for (name, raw) in run.definition.env {
            let value = resolve(raw, stageID: nil, pipelineEnv: pipelineEnv)
            pipelineEnv[name] = value
            variables.append((name, value))
        }
        for (name, raw) in stageEnv { variables.append((name, resolve(raw, stageID: stageID, pipelineEnv: pipelineEnv))) }
        let runDirectory = absoluteRunDirectory
        variables += [
            ("PIPELINE_RUN_ID", run.run),
            ("PIPELINE_STAGE", stageID),
            ("PIPELINE_ATTEMPT", String(attempt)),
            ("PIPELINE_RUN_DIR", runDirectory),
            ("PIPELINE_STATE_DIR", runDirectory),  // the older name of PIPELINE_RUN_DIR
            ("PIPELINE_OUTPUTS", absolute(outputsPath)),
            ("PIPELINE_FILE", run.file),
            ("PIPELINE_ENVIRONMENT", run.environment),
            ("PIPELINE_RELEASE", run.release),
        ]
        // The lease's fencing token: external systems can refuse writes from a stale runner.
        if let fence = lock?.fence { variables.append(("PIPELINE_FENCE", String(fence))) }
        variables.append(("PIPELINE_STATE", nil))
        // A blue-green stage's scripts: the colour it deploys, and the one that serves now.
        if let record = run.stage(stageID), let idle = record.idleColor, let live = record.liveColor {
            variables.append(("PIPELINE_COLOR", idle))
            variables.append(("PIPELINE_LIVE_COLOR", live))
        }
        for (name, value) in extra { variables.append((name, value)) }
        return variables
    }

    /// Substitutes `${{ }}` references in a template (URLs, messages).
    func resolve(_ template: Template, stage: Stage) -> String {
        resolve(template.raw, stageID: stage.id, pipelineEnv: nil)
    }

    func resolve(_ raw: String, stageID: String?, pipelineEnv: [String: String]?) -> String {
        guard raw.contains("${{") else { return raw }
        let (template, _) = Template.parse(raw)
        var out = ""
        for part in template.parts {
            switch part {
            case .literal(let text): out += text
            case .reference(let reference):
                switch reference {
                case .runID: out += run.run
                case .parameter: break  // replaced when the stage file was included
                case .secret(let name): out += options.environment[name] ?? ""
                case .env(let name):
                    if let value = pipelineEnv?[name] {
                        out += value
                    } else if let raw = run.definition.env.first(where: { $0.0 == name })?.1 {
                        out += resolve(raw, stageID: nil, pipelineEnv: [:])
                    }
                case .color:
                    out += stageID.flatMap { run.stage($0)?.idleColor } ?? ""
                case .output(let stage, let name):
                    out += outputsForScripts(of: stage, receiver: stageID.map { "stage '\($0)'" } ?? "the script").first { $0.0 == name }?.1 ?? ""
                }
            }
        }
        return out
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : options.workingDirectory + "/" + path
    }
}

/// What a list of script variable names (``Engine/scriptVariables(stageID:stageEnv:attempt:outputsPath:extra:)``,
/// a name listed twice when a later entry overrides it) makes of the inherited environment.
struct EnvironmentPlan {
    /// The names as listed.
    var listed: [String]
    /// Each name once, in the order first listed.
    var names: [String] = []
    /// For each listed name, its index in ``names`` (a later value for it wins).
    var slots: [Int] = []
    /// Which inherited entries (by position) a listed name replaces.
    var replaced: [Bool]

    init(listed: [String], inheritedPositions: [String: Int], inheritedCount: Int) {
        self.listed = listed
        replaced = [Bool](repeating: false, count: inheritedCount)
        for name in listed {
            if let index = names.firstIndex(of: name) {
                slots.append(index)
            } else {
                slots.append(names.count)
                names.append(name)
                if let position = inheritedPositions[name] { replaced[position] = true }
            }
        }
    }
}
