/// One thing an attempt of a stage does, in order: the scripts of its kind (a migrate's backup
/// then its migration; each smoke test of a verify) and the engine's own native work.
package enum Action {
    /// A script with extra environment.
    case script(String, label: String, env: [(String, String)])
    /// Work the engine does itself on a thread (probes, canary analysis, presync checks).
    case native(NativeWork)

    /// The native kinds of work.
    package enum NativeWork {
        case envPresync(EnvPresyncSpec)
        case precheck([PrecheckCheck])
        case canary(CanarySpec)
        case verify(VerifyProbe)
        case watch(WatchSpec)

        package var label: String {
            switch self {
            case .envPresync: return "presync checks"
            case .precheck: return "checks"
            case .canary: return "canary"
            case .verify: return "health probe"
            case .watch: return "watch"
            }
        }
    }

    /// The label of a migrate stage's backup script: the engine journals its artifact.
    package static let backupLabel = "backup"

    /// Whether this is a migrate stage's backup script.
    package var isBackup: Bool {
        if case .script(_, Self.backupLabel, _) = self { return true }
        return false
    }

    /// The actions of one attempt of a stage.
    package static func plan(for stage: Stage) -> [Action] {
        func script(_ s: Script?, _ label: String) -> [Action] {
            s.map { [.script($0.source, label: label, env: [])] } ?? []
        }
        switch stage.spec {
        case .command, .backend, .frontend:
            return script(stage.run, "run")
        case .migrate(let spec):
            return script(spec.backup, backupLabel) + script(stage.run, "run")
        case .envPresync(let spec):
            return [.native(.envPresync(spec))] + script(spec.apply, "apply")
        case .infraPrecheck(let checks):
            return [.native(.precheck(checks))]
        case .canary(let spec):
            return [.native(.canary(spec))]
        case .watch(let spec):
            return [.native(.watch(spec))]
        case .verify(let spec):
            return (spec.http.map { [.native(.verify($0))] } ?? [])
                + spec.smoke.enumerated().map { .script($0.element.source, label: "smoke \($0.offset + 1)", env: []) }
        }
    }
}
