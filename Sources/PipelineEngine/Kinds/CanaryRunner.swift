import PipelineSpec
import FoundationEssentials
import Glibc

/// Where a canary continues after a pause that stopped the run (exit 4): its baseline readings,
/// the step after the pause, and the traffic it left.
struct AnalysisResume: Sendable {
    var baseline: [String: Double?]
    var nextStep: Int
    var percent: Int?
}

/// `canary`: shifts traffic step by step, holds each step while analysing (``AnalysisHold``), and
/// sends traffic back to 0 % when an analysis fails or an operator aborts.
enum CanaryRunner {
    static func run(_ spec: CanarySpec, _ context: KindContext, _ task: NativeTask) -> NativeTask.Verdict {
        var baseline: [String: Double?] = [:]
        var start = 0
        var percent: Int?
        if let resume = context.resume {
            baseline = resume.baseline
            start = resume.nextStep
            percent = resume.percent
            task.say("continuing after the pause at step \(start) (traffic at \(percent ?? 0)%)")
        } else {
            // The baseline must be measured without the new release taking traffic: after a retry or a
            // resume of an interrupted canary, traffic may still sit at the last step.
            guard shift(to: 0, spec, context, task) else {
                return .init(ok: false, message: "the traffic script failed to set traffic to 0% before measuring the baseline")
            }
            percent = 0
            for metric in spec.analysis where metric.usesBaseline {
                let reading = MetricReading.read(metric, context, task)
                baseline[metric.name] = reading.value
                task.record(
                    .measurement(
                        task.stamp, stage: context.stage, step: 0, metric: metric.name, value: reading.value, bound: nil, verdict: "baseline",
                        reason: reading.reason, warnings: reading.warnings))
                if let problem = baselineProblem(metric, reading) {
                    task.say("baseline \(metric.name): no value (\(reading.reason ?? ""))")
                    return .init(ok: false, message: problem)
                }
                AnalysisHold.sayBaseline(metric, reading, task)
            }
        }
        var hold = AnalysisHold(
            analysis: CanaryAnalysis(metrics: spec.analysis, stageFailureLimit: spec.failureLimit, baseline: baseline), interval: spec.interval,
            context: context)
        for index in start..<spec.steps.count {
            let step = spec.steps[index]
            if let target = step.percent {
                guard shift(to: target, spec, context, task) else {
                    _ = shift(to: 0, spec, context, task)
                    return .init(ok: false, message: "the traffic script failed at \(target)%; traffic sent back to 0%")
                }
                percent = target
            }
            let bake = step.bake ?? (step.percent == nil ? TimeSpan(milliseconds: 0) : spec.bake)
            let where_ = "\(percent ?? 0)%"
            switch hold.hold(bake, pause: step.pause, step: index, percent: percent ?? 0, label: where_, roundFirst: step.percent != nil, task) {
            case .done, .promoted:
                continue
            case .abort(let message):
                task.say("\(message): aborting, traffic back to 0%")
                _ = shift(to: 0, spec, context, task)
                return .init(ok: false, message: "canary aborted at \(where_): \(message)")
            case .paused(let message):
                return .init(ok: false, message: message, paused: true)
            case .cancelled:
                return .init(ok: false, message: "cancelled")
            }
        }
        return .init(ok: true, message: "promoted through \(spec.steps.map(\.description).joined(separator: " → "))")
    }

    /// Why a baseline reading without a value stops the canary: a bound that would have nothing left.
    static func baselineProblem(_ metric: CanaryMetric, _ reading: MetricReading) -> String? {
        guard reading.value == nil else { return nil }
        for bound in [metric.max, metric.min].compactMap({ $0 }) where bound.value(baseline: nil) == nil {
            return "cannot measure the baseline of '\(metric.name)' (\(reading.reason ?? "no value")), and '\(bound)' needs it; add a floor: 'max(\(bound), N)'"
        }
        return nil
    }

    static func shift(to percent: Int, _ spec: CanarySpec, _ context: KindContext, _ task: NativeTask) -> Bool {
        task.say("traffic → \(percent)%")
        // Durable before the script runs: a rollback after a crash must know traffic may have moved.
        task.recordDurably(.traffic(task.stamp, stage: context.stage, percent: percent))
        let code = task.runScript(
            context.shell + [spec.traffic.source], environment: context.environment + ["PIPELINE_TRAFFIC_PERCENT=\(percent)"],
            directory: context.directory, timeoutMs: spec.trafficTimeout.milliseconds, masker: context.masker
        ) { task.say(context.masker.mask($0)) }
        if code == nil { task.say("the traffic script did not finish within \(spec.trafficTimeout) (traffic-timeout)") }
        return code == 0
    }
}

/// `watch`: holds for `duration` after the deploy, analysing every `interval`; no traffic changes.
/// Relative bounds use the baseline a named canary measured earlier in the run.
enum WatchRunner {
    static func run(_ spec: WatchSpec, _ context: KindContext, _ task: NativeTask) -> NativeTask.Verdict {
        let baseline = context.resume?.baseline ?? [:]
        for metric in spec.analysis where metric.usesBaseline {
            let reading = baseline[metric.name].flatMap { $0 }.map { MetricReading(value: $0) } ?? MetricReading(reason: "the canary recorded none")
            if let problem = CanaryRunner.baselineProblem(metric, reading) {
                return .init(ok: false, message: problem.replacing("cannot measure", with: "no recorded"))
            }
            AnalysisHold.sayBaseline(metric, reading, task)
        }
        var hold = AnalysisHold(
            analysis: CanaryAnalysis(metrics: spec.analysis, stageFailureLimit: spec.failureLimit, baseline: baseline), interval: spec.interval,
            context: context)
        switch hold.hold(spec.duration, pause: false, step: 0, percent: 0, label: "watch", roundFirst: false, task) {
        case .done: return .init(ok: true, message: "watched for \(spec.duration): every analysis held")
        case .promoted(let by): return .init(ok: true, message: "watch ended early by \(by)")
        case .abort(let message): return .init(ok: false, message: "watch failed: \(message)")
        case .paused(let message): return .init(ok: false, message: message, paused: true)
        case .cancelled: return .init(ok: false, message: "cancelled")
        }
    }
}

/// Holding one step (or a watch) while analysing every `interval`, answering operator requests
/// and pausing for a person when a rule asks for it.
struct AnalysisHold {
    enum Result {
        case done
        case promoted(by: String)
        case abort(String)
        /// Paused and nobody waited: the run stops (exit 4).
        case paused(String)
        case cancelled
    }

    var analysis: CanaryAnalysis
    let interval: TimeSpan
    let context: KindContext

    init(analysis: CanaryAnalysis, interval: TimeSpan, context: KindContext) {
        self.analysis = analysis
        self.interval = interval
        self.context = context
    }

    static func sayBaseline(_ metric: CanaryMetric, _ reading: MetricReading, _ task: NativeTask) {
        guard let value = reading.value else {
            task.say("baseline \(metric.name): no value (\(reading.reason ?? "")); its bounds use what needs no baseline")
            return
        }
        task.say("baseline \(metric.name) = \(formatNumber(value))")
        for bound in [metric.max, metric.min].compactMap({ $0 }) where value == 0 && bound.value(baseline: 0) == 0 {
            task.say("warning: the baseline of '\(metric.name)' is 0, so '\(bound)' is 0: any reading above 0 breaks it; add a floor: 'max(\(bound), N)'")
        }
    }

    /// Holds for `span` (then, with `pause`, until promoted), one analysis round every `interval`.
    mutating func hold(_ span: TimeSpan, pause: Bool, step: Int, percent: Int, label: String, roundFirst: Bool, _ task: NativeTask) -> Result {
        analysis.startStep()
        let end = task.clock.now() + span.milliseconds
        var pausedFor: String?
        var pauseRecorded = false
        var rounds = 0
        while true {
            if let control = task.takeControl() {
                switch control {
                case .abort(let by): return .abort("aborted by \(by)")
                case .promote(let by):
                    task.say("\(label): promoted by \(by)" + (pausedFor == nil ? ": the bake ends now" : ": the pause ends"))
                    analysis.promoted()
                    return .promoted(by: by)
                }
            }
            let now = task.clock.now()
            if pausedFor == nil, now >= end, analysis.enoughSuccesses, rounds > 0 || !roundFirst {
                guard pause else { return .done }
                pausedFor = "step \(step + 1) is a pause"
            }
            if let reason = pausedFor {
                if !pauseRecorded {
                    task.record(.analysisPaused(task.stamp, stage: context.stage, step: step, reason: reason))
                    pauseRecorded = true
                    guard context.pauseWaits else {
                        task.say("\(label): paused (\(reason))")
                        return .paused(
                            "stage '\(context.stage)' paused at \(label): \(reason); continue with 'pipeline promote \(context.run)' (or 'pipeline resume \(context.run)'), or undo with 'pipeline abort \(context.run)'"
                        )
                    }
                    task.say(
                        "\(label): paused (\(reason)); waiting for 'pipeline promote \(context.run)' or 'pipeline abort \(context.run)' (analysis goes on)")
                }
            }
            // Rounds every `interval` until the hold ends; past its end (waiting for successes, or paused), every `interval` too.
            let wait = pausedFor != nil || now >= end && rounds > 0 ? interval.milliseconds : min(interval.milliseconds, max(0, end - now))
            if wait > 0 {
                let before = task.clock.now()
                guard task.sleepUntilControl(ms: wait) else { return .cancelled }
                if pausedFor != nil { task.addPaused(ms: task.clock.now() - before) }
                if task.hasControl { continue }
            }
            rounds += 1
            for metric in analysis.metrics {
                let reading = MetricReading.read(metric, context, task)
                let judgement = CanaryAnalysis.judge(reading, metric, baseline: analysis.baseline[metric.name] ?? nil)
                let shown = reading.value.map(formatNumber) ?? "no value"
                let text = "\(metric.name) = \(shown)" + (judgement.bounds.isEmpty ? "" : " (\(judgement.bounds))")
                task.record(
                    .measurement(
                        task.stamp, stage: context.stage, step: percent, metric: metric.name, value: reading.value,
                        bound: judgement.bounds.isEmpty ? nil : judgement.bounds, verdict: judgement.outcome.rawValue, reason: judgement.reason,
                        warnings: reading.warnings))
                let why = judgement.reason.map { ": \($0)" } ?? ""
                task.say("\(label): \(text): \(judgement.outcome == .fail ? "FAIL" : judgement.outcome.rawValue)\(why)")
                for warning in reading.warnings { task.say("\(label): \(metric.name): Prometheus warning: \(warning)") }
                analysis.count(metric, judgement, text: text + why, now: task.clock.now())
            }
            switch analysis.decide(now: task.clock.now()) {
            case .carryOn: break
            case .abort(let message): return .abort(message)
            case .pause(let reason): if pausedFor == nil { pausedFor = reason }
            }
        }
    }
}
