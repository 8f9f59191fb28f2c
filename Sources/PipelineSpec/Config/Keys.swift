/// The keys of every mapping in the format. Each enum is the single list used for decoding,
/// unknown-key detection, "did you mean", and the test that the JSON Schema agrees.

/// Top-level keys.
public enum PipelineKey: String, CaseIterable, Sendable {
    case version, name, description, inputs, environments, release, env, secrets, defaults, stages, notify, rollback
}

/// Keys of one declared input (`inputs.NAME`).
public enum InputKey: String, CaseIterable, Sendable {
    case description, type, `default`, required
}

/// Keys of one environment (`environments.NAME`).
public enum EnvironmentKey: String, CaseIterable, Sendable {
    case description, env, vars, inputs, gate, requires
}

/// Keys of `defaults`.
public enum DefaultsKey: String, CaseIterable, Sendable {
    case timeout, retry, shell
}

/// Keys of a retry mapping.
public enum RetryKey: String, CaseIterable, Sendable {
    case attempts, delay, backoff, maxDelay = "max-delay", jitter
}

/// Every key a stage may have; which apply depends on its kind (``allowed(for:)``).
public enum StageKey: String, CaseIterable, Sendable {
    // common to every kind
    case id, name, description, kind, needs, rollback, timeout, retry, env, gate, outputs, idempotent, shell, allow
    case `if`
    // scripts and kind-specific keys
    case run
    case require, files, apply
    case checks
    case backup, restore, lint, reversible
    case traffic, steps, bake, interval, failureLimit = "failure-limit", analysis
    case trafficTimeout = "traffic-timeout"
    case http, smoke
    case duration, baseline
    case deploy, `switch`, colors, switchAfter = "switch-after"

    package static let common: [StageKey] = [
        .id, .name, .description, .kind, .needs, .rollback, .timeout, .retry, .env, .gate, .outputs, .idempotent, .shell, .if, .allow,
    ]

    /// Every key a stage of `kind` accepts (the common ones first, and as a set of ordinals, one
    /// bit each) and every key it requires (`id` first), built once per kind: every stage is
    /// decoded with them.
    package static func accepted(by kind: StageKind) -> (allowed: [StageKey], allowedSet: UInt64, required: [StageKey]) {
        for entry in acceptedByKind where entry.kind == kind { return (entry.allowed, entry.allowedSet, entry.required) }
        preconditionFailure("every stage kind is in acceptedByKind")
    }

    private static let acceptedByKind: [(kind: StageKind, allowed: [StageKey], allowedSet: UInt64, required: [StageKey])] = StageKind.allCases
        .map { kind in
            let specific = specific(to: kind)
            let allowed = common + specific.allowed
            return (kind, allowed, Fields<StageKey>.set(of: allowed), [.id] + specific.required)
        }

    /// The kind-specific keys a stage of `kind` accepts, and which of them are required.
    package static func specific(to kind: StageKind) -> (allowed: [StageKey], required: [StageKey]) {
        switch kind {
        case .command, .backend, .frontend: return ([.run], [.run])
        case .envPresync: return ([.require, .files, .apply], [.require])
        case .infraPrecheck: return ([.checks], [.checks])
        case .migrate: return ([.run, .backup, .restore, .lint, .reversible], [.run])
        case .canary: return ([.traffic, .trafficTimeout, .steps, .bake, .interval, .failureLimit, .analysis], [.traffic, .steps])
        case .watch: return ([.duration, .interval, .failureLimit, .analysis, .baseline], [.duration, .analysis])
        case .verify: return ([.http, .smoke], [])
        case .blueGreen: return ([.deploy, .switch, .switchAfter, .http, .smoke, .colors], [.deploy, .switch])
        }
    }

    /// The kinds whose stages accept this key (for "belongs to 'canary'" messages).
    package var kinds: [StageKind] {
        StageKind.allCases.filter { Self.specific(to: $0).allowed.contains(self) }
    }
}

/// Keys of `gate`.
public enum GateKey: String, CaseIterable, Sendable {
    case approval, window, check, wait
}

/// Keys of `gate.approval` when it is a mapping.
public enum ApprovalKey: String, CaseIterable, Sendable {
    case message
}

/// Keys of `gate.window`.
public enum WindowKey: String, CaseIterable, Sendable {
    case days, hours, timezone
}

/// Keys of one `infra-precheck` check.
public enum CheckKey: String, CaseIterable, Sendable {
    case name, run, http, tcp, timeout
}

/// Keys of a check's `http`.
public enum CheckHTTPKey: String, CaseIterable, Sendable {
    case url, expect, timeout
}

/// Keys of `migrate`'s `lint`.
public enum LintKey: String, CaseIterable, Sendable {
    case paths, allow
}

/// Keys of one canary `analysis` metric.
public enum AnalysisKey: String, CaseIterable, Sendable {
    case name, run, http, prometheus, max, min, timeout
    case failureLimit = "failure-limit", sustained = "for", consecutiveSuccesses = "consecutive-successes"
    case onNoData = "on-no-data", inconclusiveLimit = "inconclusive-limit"
}

/// Keys of an analysis metric's `prometheus`.
public enum AnalysisPrometheusKey: String, CaseIterable, Sendable {
    case url, query, timeout
}

/// Keys of a canary step written as a mapping.
public enum CanaryStepKey: String, CaseIterable, Sendable {
    case percent, bake, pause
}

/// Keys of an analysis metric's `http`.
public enum AnalysisHTTPKey: String, CaseIterable, Sendable {
    case url, json, timeout
}

/// Keys of `verify`'s `http`.
public enum VerifyHTTPKey: String, CaseIterable, Sendable {
    case url, expect, timeout, interval, initialDelay = "initial-delay", failureThreshold = "failure-threshold", attempts
}

/// Keys of one `notify` item.
public enum NotifyKey: String, CaseIterable, Sendable {
    case on, run, webhook, timeout
}

/// Keys of the top-level `rollback` mapping.
public enum RollbackHooksKey: String, CaseIterable, Sendable {
    case before, after, timeout
}

// The tables that match each enum's keys by their bytes (see ``ConfigKey``).
extension PipelineKey: ConfigKey { package static let table = KeyTable<PipelineKey>() }
extension InputKey: ConfigKey { package static let table = KeyTable<InputKey>() }
extension EnvironmentKey: ConfigKey { package static let table = KeyTable<EnvironmentKey>() }
extension DefaultsKey: ConfigKey { package static let table = KeyTable<DefaultsKey>() }
extension RetryKey: ConfigKey { package static let table = KeyTable<RetryKey>() }
extension StageKey: ConfigKey { package static let table = KeyTable<StageKey>() }
// Not a key, a value: every stage's `kind` is matched by its bytes too.
extension StageKind: ConfigKey { package static let table = KeyTable<StageKind>() }
extension GateKey: ConfigKey { package static let table = KeyTable<GateKey>() }
extension ApprovalKey: ConfigKey { package static let table = KeyTable<ApprovalKey>() }
extension WindowKey: ConfigKey { package static let table = KeyTable<WindowKey>() }
extension CheckKey: ConfigKey { package static let table = KeyTable<CheckKey>() }
extension CheckHTTPKey: ConfigKey { package static let table = KeyTable<CheckHTTPKey>() }
extension LintKey: ConfigKey { package static let table = KeyTable<LintKey>() }
extension AnalysisKey: ConfigKey { package static let table = KeyTable<AnalysisKey>() }
extension AnalysisPrometheusKey: ConfigKey { package static let table = KeyTable<AnalysisPrometheusKey>() }
extension CanaryStepKey: ConfigKey { package static let table = KeyTable<CanaryStepKey>() }
extension AnalysisHTTPKey: ConfigKey { package static let table = KeyTable<AnalysisHTTPKey>() }
extension VerifyHTTPKey: ConfigKey { package static let table = KeyTable<VerifyHTTPKey>() }
extension NotifyKey: ConfigKey { package static let table = KeyTable<NotifyKey>() }
extension RollbackHooksKey: ConfigKey { package static let table = KeyTable<RollbackHooksKey>() }
