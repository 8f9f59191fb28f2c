import PipelineYAML

/// A validated pipeline file: what `plan` renders and the executor runs.
public struct Pipeline: Sendable {
    /// The format version (always 1 for now).
    public var version: Int
    /// The pipeline's name (`[A-Za-z0-9._-]+`), used for locks and journals.
    public var name: String
    /// Free text.
    public var description: String?
    /// Variables exported to every stage, in the order written.
    public var env: [EnvEntry]
    /// Names of environment variables whose values are secret.
    public var secrets: [String]
    /// The argv prefix every script is appended to.
    public var shell: [String]
    /// Stages in the order written.
    public var stages: [Stage]
    /// The file the pipeline was read from, as the user named it.
    public var path: String
    /// Hooks told about the run's events (`notify`).
    public var notify: [NotifyHook] = []
    /// Scripts run around every rollback (`rollback: {before, after}`).
    public var rollbackHooks: RollbackHooks? = nil
    /// The `include` entries expanded into ``stages``, in the order they were read.
    public var includes: [IncludeRecord] = []
    /// Declared inputs, in the order written.
    public var inputs: [PipelineInput] = []
    /// The value of every declared input for this load (given, from the environment, or the
    /// default), in declaration order: what `run_started` journals.
    public var inputValues: [(name: String, value: String)] = []
    /// Names of the declared environments, in the order written (empty: the file is one environment).
    public var environments: [String] = []
    /// The environment chosen with `--env`, when the file declares environments.
    public var environment: PipelineEnvironment?
    /// The release identity (`release:` with inputs substituted), if declared.
    public var release: String?

    /// The stage with an id, if any.
    public func stage(_ id: String) -> Stage? { stages.first { $0.id == id } }

    /// The file a stage is written in: the pipeline file, or the stage file it was included from.
    public func file(of stage: Stage) -> String { stage.origin?.path ?? path }
}

/// One `NAME: value` of an `env` mapping; the value may hold `${{ … }}` references.
public struct EnvEntry: Sendable, Equatable {
    /// The variable name.
    public var name: String
    /// The value as written, references unresolved.
    public var value: Template
    /// Where the entry is written.
    public var mark: Mark
}

/// The kinds of stage: each encodes a rule of safe deploys (see DOMAIN.md).
public enum StageKind: String, CaseIterable, Sendable {
    case command
    case envPresync = "env-presync"
    case infraPrecheck = "infra-precheck"
    case migrate, backend, frontend, canary, verify, watch
    case blueGreen = "blue-green"

    /// Whether the stage ships code to users (the lint rules about ordering use this).
    public var isDeploy: Bool { self == .backend || self == .frontend || self == .canary || self == .blueGreen }
    /// Whether the stage prepares the target (must run before any deploy).
    public var isPreparation: Bool { self == .envPresync || self == .infraPrecheck || self == .migrate }
}

/// One stage: common settings plus its kind's own.
public struct Stage: Sendable {
    /// Unique id (`[a-z0-9][a-z0-9_-]*`).
    public var id: String
    /// Display name.
    public var name: String?
    /// Free text.
    public var description: String?
    /// The stage's kind.
    public var kind: StageKind
    /// Ids of the stages this one needs, after defaulting.
    public var needs: [String]
    /// Where each need is written (the stage's mark for a defaulted need).
    public var needMarks: [Mark]
    /// Whether `needs` was written (false: it defaulted to the previous stage).
    public var needsWritten: Bool
    /// The main script, if the kind has one.
    public var run: Script?
    /// The script that undoes this stage.
    public var rollback: Script?
    /// Per-attempt time limit.
    public var timeout: TimeSpan
    /// Retry policy.
    public var retry: RetryPolicy
    /// Stage variables.
    public var env: [EnvEntry]
    /// Conditions checked before the stage starts.
    public var gate: Gate? {
        get { boxedGate?.value }
        set { boxedGate = newValue.map(Boxed.init) }
    }
    // Few stages have a gate or an `if:`, and every stage is stored and copied: the two (105 and
    // 40 bytes inline) are boxed, which makes a `Stage` 312 bytes, not 448.
    // Set directly only by the decoder, through the memberwise initializer (an initializer of our
    // own made the decoder copy each new stage into the list rather than move it).
    var boxedGate: Boxed<Gate>?
    /// Output names the stage publishes.
    public var outputs: [String]
    /// Safe to re-run when the engine died while it ran.
    public var idempotent: Bool
    /// The argv prefix its scripts are appended to.
    public var shell: [String]
    /// Kind-specific settings.
    public var spec: KindSpec
    /// Where the stage's mapping starts.
    public var mark: Mark
    /// Where each key of the stage is written, for diagnostics about it.
    public var keyMarks: KeyMarks
    /// Lint rules accepted for this stage (`allow`).
    public var allow: [String] = []
    /// The stage file it is written in, when it came through an `include` (nil: the pipeline file).
    public var origin: StageOrigin? = nil
    /// `if:`: the stage runs only when it holds; nil: always.
    public var condition: StageCondition? {
        get { boxedCondition?.value }
        set { boxedCondition = newValue.map(Boxed.init) }
    }
    var boxedCondition: Boxed<StageCondition>? = nil

    /// Every template the stage reads (`env` values, URLs, the approval message).
    public var templates: [Template] {
        var all = env.map(\.value)
        if let message = gate?.approval?.message { all.append(message) }
        switch spec {
        case .infraPrecheck(let checks):
            all += checks.compactMap { if case .http(let probe) = $0.probe { return probe.url } else { return nil } }
        case .canary(let spec):
            all += spec.analysis.compactMap { if case .http(let url, _, _) = $0.source { return url } else { return nil } }
        case .verify(let spec):
            if let http = spec.http { all.append(http.url) }
        case .blueGreen(let spec):
            if let http = spec.http { all.append(http.url) }
        default:
            break
        }
        return all
    }

    /// The stages whose outputs it reads, in templates or in its `if:`.
    public var outputProducers: Set<String> {
        var ids = Set<String>()
        for template in templates {
            for case .output(let stage, _) in template.references { ids.insert(stage) }
        }
        for case .output(let stage, _) in condition?.expression.references ?? [] { ids.insert(stage) }
        return ids
    }

    /// The mark of a key if written, else the stage's.
    public func mark(of key: String) -> Mark { keyMarks[key] ?? mark }

    /// False when the migrate stage declares rollback must never go past it.
    public var reversible: Bool {
        if case .migrate(let m) = spec { return m.reversible }
        return true
    }
}

/// Where each key of a mapping is written, by name: a short list (a stage has a few dozen keys at
/// most), searched in order, so a stage costs no hash table. The names are kept apart from the
/// marks, so stages written with the same keys in the same order share one array of names, and
/// each mark is one word: a 10,000-stage file keeps ~1 MB of key marks, not ~3 MB.
public struct KeyMarks: Sendable, ExpressibleByDictionaryLiteral {
    /// The keys, in the order first set.
    private var keys: [String] = []
    /// The mark of each key in ``keys``, line and column packed in one word.
    private var marks: [UInt64] = []

    /// The keys and their marks, in the order first set.
    public var entries: [(key: String, mark: Mark)] {
        zip(keys, marks).map { ($0, Self.unpack($1)) }
    }

    /// Creates marks from `key: mark` pairs.
    public init(dictionaryLiteral elements: (String, Mark)...) {
        for (key, mark) in elements { self[key] = mark }
    }

    /// Creates marks from pairs, each key once.
    package init(_ entries: [(key: String, mark: Mark)]) {
        keys = entries.map(\.key)
        marks = entries.map { Self.pack($0.mark) }
    }

    /// Creates marks from keys (each once; the array may be shared with other stages) and their
    /// marks packed with ``pack(_:)``, in the same order.
    package init(keys: [String], packedMarks: [UInt64]) {
        precondition(keys.count == packedMarks.count)
        self.keys = keys
        marks = packedMarks
    }

    /// The mark of `key`, if set.
    /// - Complexity: O(*n*) in the number of keys.
    public subscript(key: String) -> Mark? {
        get { keys.firstIndex(of: key).map { Self.unpack(marks[$0]) } }
        set {
            let index = keys.firstIndex(of: key)
            switch (index, newValue) {
            case (let i?, let mark?): marks[i] = Self.pack(mark)
            case (let i?, nil):
                keys.remove(at: i)
                marks.remove(at: i)
            case (nil, let mark?):
                keys.append(key)
                marks.append(Self.pack(mark))
            case (nil, nil): break
            }
        }
    }

    /// A mark in one word: the line in the high half, the column in the low (each clamped to 32 bits).
    package static func pack(_ mark: Mark) -> UInt64 {
        UInt64(UInt32(bitPattern: Int32(clamping: mark.line))) << 32 | UInt64(UInt32(bitPattern: Int32(clamping: mark.column)))
    }

    private static func unpack(_ word: UInt64) -> Mark {
        Mark(line: Int(Int32(bitPattern: UInt32(truncatingIfNeeded: word >> 32))), column: Int(Int32(bitPattern: UInt32(truncatingIfNeeded: word))))
    }
}

/// A shell script written in the file, with where it starts.
public struct Script: Sendable, Equatable {
    /// The script text, passed to the shell as one argument, never spliced.
    public var source: String
    /// Where it is written.
    public var mark: Mark
}

/// Settings that only one kind of stage has.
public enum KindSpec: Sendable {
    case command
    // The large settings are boxed: every stage holds a `KindSpec`, and most are commands.
    indirect case envPresync(EnvPresyncSpec)
    case infraPrecheck([PrecheckCheck])
    indirect case migrate(MigrateSpec)
    case backend, frontend
    indirect case canary(CanarySpec)
    indirect case verify(VerifySpec)
    indirect case watch(WatchSpec)
    indirect case blueGreen(BlueGreenSpec)
}

/// `env-presync`: variables that must exist before code ships.
public struct EnvPresyncSpec: Sendable {
    public var require: [String]
    public var files: [String]
    public var apply: Script?
}

/// One `infra-precheck` check.
public struct PrecheckCheck: Sendable {
    /// How the check probes.
    public enum Probe: Sendable {
        case command(Script)
        case http(HTTPProbe)
        case tcp(host: String, port: Int)
    }

    public var name: String
    public var probe: Probe
    public var timeout: TimeSpan
    public var mark: Mark
}

/// An HTTP request with an expected status.
public struct HTTPProbe: Sendable {
    public var url: Template
    public var expect: Int
    public var timeout: TimeSpan
}

/// `migrate`: backup, migration, lint of migration files, reversibility.
public struct MigrateSpec: Sendable {
    public var backup: Script?
    public var restore: Script?
    public var lintPaths: [String]
    public var lintAllow: [String]
    public var reversible: Bool
}

/// The migration lint rules' ids, shared by validation (`allow`) and the linter.
public enum MigrationRule: String, CaseIterable, Sendable {
    case addingNotNullColumn = "adding-not-null-column"
    case droppingColumn = "dropping-column"
    case droppingTable = "dropping-table"
    case renamingColumn = "renaming-column"
    case renamingTable = "renaming-table"
    case changingColumnType = "changing-column-type"
    case settingNotNull = "setting-not-null"
    case indexWithoutConcurrently = "index-without-concurrently"
    case emptyDowngrade = "empty-downgrade"
    case multipleHeads = "multiple-heads"
}

/// `verify`: a health probe and smoke scripts.
public struct VerifySpec: Sendable {
    public var http: VerifyProbe?
    public var smoke: [Script]
}

/// The health probe of a verify stage (defaults from DOMAIN.md).
public struct VerifyProbe: Sendable {
    public var url: Template
    public var expect: Int
    public var timeout: TimeSpan
    public var interval: TimeSpan
    public var initialDelay: TimeSpan
    public var failureThreshold: Int
    public var attempts: Int
}

/// Conditions that must hold before a stage starts.
public struct Gate: Sendable {
    /// Nil: no approval needed.
    public var approval: Approval?
    public var window: DeployWindow?
    public var check: Script?
    public var wait: TimeSpan?
}

/// A human approval.
public struct Approval: Sendable {
    public var message: Template?
}

/// Days and hours, in a time zone, when the stage may start.
public struct DeployWindow: Sendable {
    /// 1 = Monday … 7 = Sunday.
    public var days: [Int]
    /// Minutes after midnight.
    public var start: Int
    public var end: Int
    public var timezone: String

    package static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// `mon-fri 10:00-17:00 Asia/Tokyo`.
    public var summary: String {
        let names = days.map { Self.dayNames[$0 - 1] }
        let dayText = days == [1, 2, 3, 4, 5] ? "mon-fri" : names.joined(separator: ",")
        return "\(dayText) \(Self.clock(start))-\(Self.clock(end)) \(timezone)"
    }

    package static func clock(_ minutes: Int) -> String {
        let h = minutes / 60, m = minutes % 60
        return (h < 10 ? "0" : "") + "\(h):" + (m < 10 ? "0" : "") + "\(m)"
    }
}

/// Formats a number without a trailing `.0` (`1.5`, `2`, `0.05`).
package func formatNumber(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
    return "\(v)"
}

/// A value stored out of line (one reference in its holder's layout), immutable: a holder that
/// changes it stores a new box, so the holder keeps value semantics.
struct Boxed<Value: Sendable>: Sendable {
    private final class Storage: Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }
    private let storage: Storage
    init(_ value: Value) { storage = Storage(value) }
    var value: Value { storage.value }
}
