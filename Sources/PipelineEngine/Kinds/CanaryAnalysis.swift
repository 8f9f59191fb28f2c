import PipelineSpec

/// The rules of a canary's or a watch's analyses over time: each reading passes, fails or is
/// inconclusive; per metric, consecutive failures (held for `for`) fail the stage, consecutive
/// inconclusive readings pause it for a person, and `consecutive-successes` holds a step until
/// enough good readings came in.
///
/// Failure and inconclusive streaks carry across steps (a bad trend at 10 % that goes on at 50 %
/// is one streak); success streaks start again at every step (each traffic level needs its own
/// evidence). A promote after a pause clears the inconclusive streaks: a person judged them.
struct CanaryAnalysis {
    /// What one reading came to.
    enum Outcome: String {
        case pass, fail, inconclusive
    }

    /// One judged reading.
    struct Judgement {
        var outcome: Outcome
        /// The bounds as text (`≤ 0.015 (max(baseline * 1.5, 0.01))`).
        var bounds: String
        /// Why the reading has no verdict of its own (no value, no baseline).
        var reason: String?
    }

    /// What the stage must do after a round.
    enum Decision: Equatable {
        case carryOn
        /// Fail the stage (traffic back to 0 %).
        case abort(String)
        /// Stop for a person.
        case pause(String)
    }

    struct Tally {
        var failures = 0
        var failingSince: Int?
        var successes = 0
        var inconclusive = 0
        var lastText = ""
    }

    let metrics: [CanaryMetric]
    let stageFailureLimit: Int
    let baseline: [String: Double?]
    private(set) var tallies: [String: Tally] = [:]

    init(metrics: [CanaryMetric], stageFailureLimit: Int, baseline: [String: Double?]) {
        self.metrics = metrics
        self.stageFailureLimit = stageFailureLimit
        self.baseline = baseline
        for metric in metrics { tallies[metric.name] = Tally() }
    }

    /// Judges one reading against a metric's bounds.
    static func judge(_ reading: MetricReading, _ metric: CanaryMetric, baseline: Double?) -> Judgement {
        var parts: [String] = []
        var outcome = Outcome.pass
        var reason = reading.reason
        for (bound, isMax) in [(metric.max, true), (metric.min, false)] {
            guard let bound else { continue }
            guard let limit = bound.value(baseline: baseline) else {
                parts.append("\(isMax ? "≤" : "≥") \(bound)")
                if reading.value != nil {
                    outcome = .inconclusive
                    reason = "no baseline of '\(metric.name)', so '\(bound)' has no value"
                }
                continue
            }
            parts.append("\(isMax ? "≤" : "≥") \(formatNumber(limit))" + (bound == .absolute(limit) ? "" : " (\(bound))"))
            if let value = reading.value, outcome != .inconclusive, !(limit.isFinite && (isMax ? value <= limit : value >= limit)) { outcome = .fail }
        }
        if reading.value == nil {
            switch metric.rules.onNoData {
            case .inconclusive: outcome = .inconclusive
            case .fail: outcome = .fail
            case .pass: outcome = .pass
            }
        }
        return Judgement(outcome: outcome, bounds: parts.joined(separator: ", "), reason: reason)
    }

    /// A new step: success streaks start again.
    mutating func startStep() {
        for name in tallies.keys { tallies[name]!.successes = 0 }
    }

    /// A person promoted past a pause: inconclusive streaks are forgiven.
    mutating func promoted() {
        for name in tallies.keys { tallies[name]!.inconclusive = 0 }
    }

    /// Counts one judged reading of `metric` taken at `now` (engine clock, ms).
    mutating func count(_ metric: CanaryMetric, _ judgement: Judgement, text: String, now: Int) {
        var tally = tallies[metric.name] ?? Tally()
        tally.lastText = text
        switch judgement.outcome {
        case .pass:
            tally.failures = 0
            tally.failingSince = nil
            tally.inconclusive = 0
            tally.successes += 1
        case .fail:
            tally.failures += 1
            if tally.failingSince == nil { tally.failingSince = now }
            tally.inconclusive = 0
            tally.successes = 0
        case .inconclusive:
            // Neither breaks nor extends a failure streak.
            tally.inconclusive += 1
            tally.successes = 0
        }
        tallies[metric.name] = tally
    }

    /// What the readings so far call for, at `now`.
    func decide(now: Int) -> Decision {
        var failed: [String] = []
        for metric in metrics {
            guard let tally = tallies[metric.name], tally.failures > 0 else { continue }
            let limit = metric.rules.failureLimit(stage: stageFailureLimit)
            let held = metric.rules.sustained.map { now - (tally.failingSince ?? now) >= $0.milliseconds } ?? true
            if tally.failures >= limit, held {
                var rule = "\(tally.failures) failed reading\(tally.failures == 1 ? "" : "s") in a row"
                if let span = metric.rules.sustained { rule += ", broken for \(span) or more" }
                failed.append("\(tally.lastText) [\(rule)]")
            }
        }
        if !failed.isEmpty { return .abort(failed.joined(separator: ", ")) }
        for metric in metrics {
            guard let tally = tallies[metric.name], tally.inconclusive >= metric.rules.inconclusiveLimit else { continue }
            return .pause("\(tally.inconclusive) inconclusive reading\(tally.inconclusive == 1 ? "" : "s") of '\(metric.name)' in a row (\(tally.lastText))")
        }
        return .carryOn
    }

    /// Whether every metric with `consecutive-successes` has had that many passes in a row.
    var enoughSuccesses: Bool {
        metrics.allSatisfy { metric in
            guard let needed = metric.rules.consecutiveSuccesses else { return true }
            return (tallies[metric.name]?.successes ?? 0) >= needed
        }
    }
}
