import PipelineYAML

/// `canary`: traffic steps with metric analysis.
public struct CanarySpec: Sendable {
    /// The script that sets the new release's share (`$PIPELINE_TRAFFIC_PERCENT`).
    public var traffic: Script
    /// How long one run of `traffic` may take (`traffic-timeout`).
    public var trafficTimeout: TimeSpan
    public var steps: [CanaryStep]
    /// The hold at a step that sets no `bake` of its own.
    public var bake: TimeSpan
    public var interval: TimeSpan
    /// Consecutive failed readings of a metric that fail the stage, unless the metric sets its own.
    public var failureLimit: Int
    public var analysis: [CanaryMetric]

    /// The traffic percentages in order (pause-only steps left out).
    public var percents: [Int] { steps.compactMap(\.percent) }
}

/// One canary step: shift traffic to `percent` (if given), hold for `bake` analysing, then, with
/// `pause`, wait for a person (`pipeline promote`).
public struct CanaryStep: Sendable, Equatable, CustomStringConvertible {
    /// Nil for a step that only pauses.
    public var percent: Int?
    /// Nil: the stage's `bake` (a pause-only step: no hold before the pause).
    public var bake: TimeSpan?
    public var pause: Bool

    public init(percent: Int?, bake: TimeSpan? = nil, pause: Bool = false) {
        self.percent = percent
        self.bake = bake
        self.pause = pause
    }

    /// `10%`, `50% (bake 15m)`, `pause`, `50% then pause`.
    public var description: String {
        var parts: [String] = []
        if let percent { parts.append("\(percent)%") }
        if let bake { parts.append(percent == nil ? "hold \(bake)" : "(bake \(bake))") }
        if pause { parts.append(percent == nil && bake == nil ? "pause" : "then pause") }
        return parts.joined(separator: " ")
    }
}

/// `watch`: holds for `duration` after the deploy, analysing every `interval`; no traffic change.
public struct WatchSpec: Sendable {
    public var duration: TimeSpan
    public var interval: TimeSpan
    public var failureLimit: Int
    public var analysis: [CanaryMetric]
    /// The canary stage whose baseline readings the relative bounds use.
    public var baseline: String?
}

/// One metric a canary or watch analyses, with its own rules.
public struct CanaryMetric: Sendable {
    /// Where the number comes from.
    public enum Source: Sendable {
        case command(Script)
        case http(url: Template, jsonPath: String, timeout: TimeSpan)
        case prometheus(PrometheusQuery)
    }

    public var name: String
    public var source: Source
    public var max: Bound?
    public var min: Bound?
    public var rules: AnalysisRules
    /// How long a `run` script may take.
    public var timeout: TimeSpan
    public var mark: Mark

    public init(name: String, source: Source, max: Bound?, min: Bound?, rules: AnalysisRules = AnalysisRules(), timeout: TimeSpan, mark: Mark) {
        self.name = name
        self.source = source
        self.max = max
        self.min = min
        self.rules = rules
        self.timeout = timeout
        self.mark = mark
    }

    /// Whether a bound needs the baseline reading.
    public var usesBaseline: Bool { (max?.usesBaseline ?? false) || (min?.usesBaseline ?? false) }
}

/// An instant query of a Prometheus server (`/api/v1/query`).
public struct PrometheusQuery: Sendable {
    /// The server's base URL (`http://prometheus:9090`).
    public var url: Template
    /// The PromQL expression; it must come to one series or a scalar.
    public var query: Template
    public var timeout: TimeSpan
}

/// How readings of one metric turn into a verdict.
public struct AnalysisRules: Sendable, Equatable {
    /// Consecutive failed readings that fail the stage; nil: the stage's `failure-limit` (1 with `for`).
    public var failureLimit: Int?
    /// How long a bound must stay broken before the metric fails the stage (`for`).
    public var sustained: TimeSpan?
    /// Consecutive passing readings a step needs before it may end (`consecutive-successes`).
    public var consecutiveSuccesses: Int?
    /// What a reading without a value counts as (`on-no-data`).
    public var onNoData: NoDataPolicy
    /// Consecutive inconclusive readings that pause the stage for a person (`inconclusive-limit`).
    public var inconclusiveLimit: Int

    public init(
        failureLimit: Int? = nil, sustained: TimeSpan? = nil, consecutiveSuccesses: Int? = nil, onNoData: NoDataPolicy = .inconclusive,
        inconclusiveLimit: Int = FormatDefaults.inconclusiveLimit
    ) {
        self.failureLimit = failureLimit
        self.sustained = sustained
        self.consecutiveSuccesses = consecutiveSuccesses
        self.onNoData = onNoData
        self.inconclusiveLimit = inconclusiveLimit
    }

    /// The failure limit in force: the metric's, else 1 when `for` is set, else the stage's.
    public func failureLimit(stage: Int) -> Int { failureLimit ?? (sustained == nil ? stage : 1) }
}

/// What a reading without a value (no data, NaN, an unreadable source) counts as.
public enum NoDataPolicy: String, Sendable, CaseIterable {
    case fail, inconclusive, pass
}

/// A metric bound: a number, relative to the baseline (the value measured before the first step),
/// or the greatest / least of several (`max(baseline * 1.5, 0.01)`: a floor under a relative bound).
public indirect enum Bound: Sendable, Equatable, CustomStringConvertible {
    case absolute(Double)
    case baselineTimes(Double)
    case baselinePlus(Double)
    /// `max(a, b, …)`.
    case greatest([Bound])
    /// `min(a, b, …)`.
    case least([Bound])

    /// Whether any term needs the baseline.
    public var usesBaseline: Bool {
        switch self {
        case .absolute: return false
        case .baselineTimes, .baselinePlus: return true
        case .greatest(let terms), .least(let terms): return terms.contains(where: \.usesBaseline)
        }
    }

    /// The bound for a baseline. Without a baseline, a term that needs one drops out of `max`/`min`
    /// (the floor or cap still holds); nil when nothing is left.
    public func value(baseline: Double?) -> Double? {
        switch self {
        case .absolute(let v): return v
        case .baselineTimes(let f): return baseline.map { $0 * f }
        case .baselinePlus(let d): return baseline.map { $0 + d }
        case .greatest(let terms): return terms.compactMap { $0.value(baseline: baseline) }.max()
        case .least(let terms): return terms.compactMap { $0.value(baseline: baseline) }.min()
        }
    }

    public var description: String {
        switch self {
        case .absolute(let v): return formatNumber(v)
        case .baselineTimes(let f): return "baseline * \(formatNumber(f))"
        case .baselinePlus(let d): return d < 0 ? "baseline - \(formatNumber(-d))" : "baseline + \(formatNumber(d))"
        case .greatest(let terms): return "max(\(terms.map(\.description).joined(separator: ", ")))"
        case .least(let terms): return "min(\(terms.map(\.description).joined(separator: ", ")))"
        }
    }
}
