/// One thing an attempt of a stage does, in order: the scripts of its kind (a migrate's backup
/// then its migration; each smoke test of a verify) and the engine's own checks.
enum Action {
    /// A script with extra environment (e.g. the canary's traffic percentage).
    case script(String, label: String, env: [(String, String)])
    /// Every named variable must be set and non-empty in the run's environment.
    case requireEnv([String])

    /// The actions of one attempt of a stage.
    static func plan(for stage: Stage) -> [Action] {
        func script(_ s: Script?, _ label: String, _ env: [(String, String)] = []) -> [Action] {
            s.map { [.script($0.source, label: label, env: env)] } ?? []
        }
        switch stage.spec {
        case .command, .backend, .frontend:
            return script(stage.run, "run")
        case .migrate(let spec):
            return script(spec.backup, "backup") + script(stage.run, "run")
        case .envPresync(let spec):
            return [.requireEnv(spec.require)] + script(spec.apply, "apply")
        case .infraPrecheck(let checks):
            return checks.compactMap { check in
                if case .command(let s) = check.probe { return .script(s.source, label: "check '\(check.name)'", env: []) }
                return nil
            }
        case .canary(let spec):
            return spec.steps.map { .script(spec.traffic.source, label: "traffic \($0)%", env: [("PIPELINE_TRAFFIC_PERCENT", String($0))]) }
        case .verify(let spec):
            return spec.smoke.enumerated().map { .script($0.element.source, label: "smoke \($0.offset + 1)", env: []) }
        }
    }
}
