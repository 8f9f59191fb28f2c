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
        // spawn. The changes are a dozen names: found by a linear search, each looked up once in
        // the inherited ones (not every inherited name hashed per spawn).
        var names: [String] = []
        var values: [String?] = []
        for (name, value) in scriptVariables(stageID: stageID, stageEnv: stageEnv, attempt: attempt, outputsPath: outputsPath, extra: extra) {
            if let index = names.firstIndex(of: name) {
                values[index] = value
            } else {
                names.append(name)
                values.append(value)
            }
        }
        let inherited = inheritedEntries
        var replaced = [Bool](repeating: false, count: inherited.count)
        for name in names {
            if let index = inheritedPositions[name] { replaced[index] = true }
        }
        var entries: [String] = []
        entries.reserveCapacity(inherited.count + names.count)
        for (index, (_, entry)) in inherited.enumerated() where !replaced[index] { entries.append(entry) }
        for (name, value) in zip(names, values) {
            if let value { entries.append(name + "=" + value) }
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
        var pipelineEnv: [String: String] = [:]
        for (name, raw) in run.definition.env {
            let value = resolve(raw, stageID: nil, pipelineEnv: pipelineEnv)
            pipelineEnv[name] = value
            variables.append((name, value))
        }
        for (name, raw) in stageEnv { variables.append((name, resolve(raw, stageID: stageID, pipelineEnv: pipelineEnv))) }
        let runDirectory = absolute(runDirectory)
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
