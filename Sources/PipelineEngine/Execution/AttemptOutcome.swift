import PipelineSpec
/// How one try of a script ended, decided in one place for every kind of try (a stage's
/// attempt, a gate check, an undo step). Journaled as `outcome`.
public enum AttemptOutcome: String, Sendable, CaseIterable {
    case succeeded
    case failed
    /// Its timeout expired; the process group was stopped.
    case timedOut = "timed_out"
    /// `pipeline` was interrupted (SIGINT/SIGTERM/SIGHUP) and stopped it. Does not use up a retry.
    case interrupted
    /// Another stage failed and `--on-failure stop` stopped it.
    case stopped
    /// The engine died while it ran: its end was never recorded.
    case unknown
    /// The script could not be started (its shell is missing, no descriptors left): nothing ran.
    case notStarted = "not_started"
    /// A canary or watch paused for a person (a `pause` step, or too many inconclusive readings)
    /// and the run stopped (exit 4); `resume` or `promote` continues after the pause. Does not use up a retry.
    case paused

    /// Precedence, once for all: a script that exited 0 succeeded (its effect is applied, whatever
    /// happened around it); then its own timeout; then an interruption; then a stop; else a failure.
    static func of(_ child: ChildProcess, interrupted: Bool, stopped: Bool = false) -> AttemptOutcome {
        if child.startError != nil { return .notStarted }
        return decide(
            exitedZero: child.succeeded, timedOut: child.timedOut, interrupted: interrupted && child.terminatedAt != nil,
            stopped: stopped && child.terminatedAt != nil)
    }

    /// The same precedence for native work (probes, canary analysis), which has no exit status.
    static func decide(exitedZero: Bool, timedOut: Bool, interrupted: Bool, stopped: Bool) -> AttemptOutcome {
        if exitedZero { return .succeeded }
        if timedOut { return .timedOut }
        if interrupted { return .interrupted }
        if stopped { return .stopped }
        return .failed
    }

    /// Whether this try counts against the retry budget (an interrupted or unknown one does not:
    /// the script was not allowed to finish).
    public var usesBudget: Bool { self != .interrupted && self != .unknown && self != .paused }
}
