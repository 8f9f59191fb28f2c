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
        environmentValues(stageID: stageID, stageEnv: stageEnv, attempt: attempt, outputsPath: outputsPath, extra: extra)
            .map { "\($0.key)=\($0.value)" }
    }

    /// The same environment as a dictionary (what env-presync checks).
    func environmentValues(
        stageID: String, stageEnv: [(String, String)], attempt: Int, outputsPath: String,
        extra: [(String, String)] = []
    ) -> [String: String] {
        var env = options.environment
        // Declared secrets are not inherited: only an `env` binding passes one on.
        for name in run.definition.secrets { env[name] = nil }
        var pipelineEnv: [String: String] = [:]
        for (name, raw) in run.definition.env {
            let value = resolve(raw, stageID: nil, pipelineEnv: pipelineEnv)
            pipelineEnv[name] = value
            env[name] = value
        }
        for (name, raw) in stageEnv { env[name] = resolve(raw, stageID: stageID, pipelineEnv: pipelineEnv) }
        let file = run.file
        env["PIPELINE_RUN_ID"] = run.run
        env["PIPELINE_STAGE"] = stageID
        env["PIPELINE_ATTEMPT"] = String(attempt)
        env["PIPELINE_RUN_DIR"] = absolute(runDirectory)
        env["PIPELINE_STATE_DIR"] = absolute(runDirectory)  // the older name of PIPELINE_RUN_DIR
        env["PIPELINE_OUTPUTS"] = absolute(outputsPath)
        env["PIPELINE_FILE"] = file
        env["PIPELINE_ENVIRONMENT"] = run.environment
        env["PIPELINE_RELEASE"] = run.release
        // The lease's fencing token: external systems can refuse writes from a stale runner.
        if let fence = lock?.fence { env["PIPELINE_FENCE"] = String(fence) }
        env["PIPELINE_STATE"] = nil
        // A blue-green stage's scripts: the colour it deploys, and the one that serves now.
        if let record = run.stage(stageID), let idle = record.idleColor, let live = record.liveColor {
            env["PIPELINE_COLOR"] = idle
            env["PIPELINE_LIVE_COLOR"] = live
        }
        for (name, value) in extra { env[name] = value }
        return env
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
