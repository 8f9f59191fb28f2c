import Glibc
import PipelineSpec

/// What the surfaces people read (the terminal, `status`, a CI step summary, a JUnit report) say
/// about a run, derived from its state in one place.
extension RunState {
    /// Milliseconds since 1970 of a journal timestamp (`2026-11-22T10:30:00.000Z`), nil if it is not one.
    public static func epochMs(_ timestamp: String) -> Int? {
        let digits = Array(timestamp.utf8)
        guard digits.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for i in range {
                guard digits[i] >= 48, digits[i] <= 57 else { return nil }
                value = value * 10 + Int32(digits[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let millis = digits.count >= 23 && digits[19] == UInt8(ascii: ".") ? Int(number(20..<23) ?? 0) : 0
        return Int(timegm(&parts)) * 1000 + millis
    }

    /// From its start to its end (or to `now`, a journal timestamp, while it has not ended).
    public func elapsedMs(now: String? = nil) -> Int? {
        guard let start = Self.epochMs(started), let end = (ended ?? now).flatMap(Self.epochMs) else { return nil }
        return max(0, end - start)
    }

    /// The time a stage's tries took, all of them.
    public static func durationMs(_ stage: StageRecord) -> Int {
        stage.attempts.compactMap(\.durationMs).reduce(0, +)
    }

    /// Why a stage did not succeed, in a few words (`exit 3 on attempt 2 of 2`), or nil if it did
    /// not fail.
    public func failureReason(_ stage: StageRecord) -> String? {
        guard stage.status == .failed || stage.status == .rollbackFailed || failedStage == stage.id else { return nil }
        guard let last = stage.attempts.last else { return "it failed before any attempt started" }
        let tries = definition.stage(stage.id)?.retry.attempts ?? 1
        let which = "attempt \(last.number) of \(max(tries, last.number))"
        switch last.outcome {
        case .timedOut?: return "timed out on \(which)"
        case .notStarted?: return "its script could not be started (\(which))"
        case .interrupted?: return "interrupted on \(which)"
        case .stopped?: return "stopped when another stage failed (\(which))"
        case .paused?: return "paused for a person (\(which))"
        case .unknown?, nil: return "the engine stopped during \(which)"
        case .failed?, .succeeded?:
            if let signal = last.signal { return "killed by \(signal) on \(which)" }
            if let code = last.exitCode { return "exit \(code) on \(which)" }
            return "failed on \(which)"
        }
    }

    /// What a person should run next, if anything (`pipeline resume …`, `pipeline rollback …`).
    public var nextSteps: [String] {
        switch status {
        case .waiting where waiting?.reason == "pause":
            return ["pipeline promote \(run)  (continue after the pause)", "pipeline abort \(run)  (traffic to 0% and undo)"]
        case .waiting: return ["pipeline resume \(run)  (continue, with --approve STAGE for an approval)", "pipeline rollback \(run)  (undo instead)"]
        case .interrupted, .abandoned: return ["pipeline resume \(run)  (continue)", "pipeline rollback \(run)  (undo it)"]
        case .rollbackFailed:
            let hookFailed = ["rollback.before failed", "rollback.after failed"].contains { rollbackNote?.contains($0) ?? false }
            if hookFailed, remaining.isEmpty, !stages.contains(where: { $0.status == .rollbackFailed }) {
                // Every stage was undone; a script around the rollback was not known to work.
                return ["every stage was undone: check by hand what the failed rollback.before/after script was meant to do (maintenance mode, traffic)"]
            }
            var steps = ["undo by hand what is still applied: \(remaining.isEmpty ? "see the log of the failed rollback" : remaining.joined(separator: ", "))"]
            steps.append("or fix the cause and run 'pipeline rollback \(run)': it tries again what is left")
            return steps
        case .running, .succeeded, .failed, .rolledBack: return []
        }
    }
}
