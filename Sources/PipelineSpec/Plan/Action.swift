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
            return (spec.http.map { [.native(.verify($0))] } ?? []) + smoke(spec.smoke)
        case .blueGreen(let spec):
            return [.script(spec.deploy.source, label: "deploy", env: [])] + (spec.http.map { [.native(.verify($0))] } ?? []) + smoke(spec.smoke)
                + [.script(spec.switchScript.source, label: switchLabel, env: [])]
        }
    }

    /// The label of a blue-green stage's switch script: the engine journals the switch before it runs.
    package static let switchLabel = "switch"

    /// Whether this is a blue-green stage's switch script.
    package var isSwitch: Bool {
        if case .script(_, Self.switchLabel, _) = self { return true }
        return false
    }

    /// Smoke tests, each named by its number and first line (`smoke 2/3: curl -fsS …/ping`).
    static func smoke(_ scripts: [Script]) -> [Action] {
        scripts.enumerated().map { index, script in
            let lines = script.source.split(separator: "\n").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
            var name = lines.first ?? ""
            if name.count > 60 { name = String(name.prefix(59)) + "…" }
            if lines.count > 1 { name += " …" }
            return .script(script.source, label: "smoke \(index + 1)/\(scripts.count): \(name)", env: [])
        }
    }
}
