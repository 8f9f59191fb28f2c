import PipelineSpec
internal import CSystem
import FoundationEssentials
import Glibc

/// One way of undoing a stage, tried in order: a canary's traffic back to 0 %, the stage's
/// `rollback` script, then (a migrate stage whose downgrade failed or is missing) its backup restored.
enum UndoStep: String, Sendable {
    /// A canary's `traffic` script with `PIPELINE_TRAFFIC_PERCENT=0`.
    case traffic
    /// A blue-green stage's `switch` script with the live colour, back from the idle one.
    case switchBack
    case rollback
    case restore

    /// The journal's phase of a try of this step.
    var phase: AttemptPhase {
        switch self {
        case .traffic: return .traffic
        case .switchBack: return .switchBack
        case .rollback: return .rollback
        case .restore: return .restore
        }
    }
}

/// Where a rollback stands: what is left to undo and the try in flight. Works from the recorded
/// run alone (``RunState`` and its ``RunDefinition``), never from the pipeline file. Owned by the
/// engine's ``Engine/State`` (`rollingBack`, and `interrupting` while its script is stopped).
final class RollbackProgress {
    /// The stage whose failure started the rollback (nil for `pipeline rollback`).
    let failed: String?
    /// Stage ids still to undo; the head is the one being undone.
    var queue: [String] = []
    /// The steps left for the head of the queue.
    var steps: [UndoStep] = []
    /// Tries of the current step so far.
    var attempt = 0
    /// Whether the head's `rollback_started` is journaled.
    var started = false
    /// When the next try of the current step may start (retry delay).
    var wake: Int?
    var log = LazyLog()
    /// Whether `rollback.before` ran (then `rollback.after` runs at the end), and what failed of the two.
    var hooksRan = false
    var hookProblems: [String] = []

    init(failed: String?, queue: [String]) {
        self.failed = failed
        self.queue = queue
    }
}

/// What a rollback must undo, decided from the recorded run alone: pure, so it is tested
/// in-process on replayed journals.
extension RunState {
    /// Stages that started an attempt and did not succeed: they may have half-applied. Newest
    /// attempt first, the failed stage (if any) at the head.
    func halfAppliedStages(failed: String?) -> [String] {
        let started = stages.filter { record in
            // A stage none of whose tries could start applied nothing.
            guard record.attempts.contains(where: { $0.outcome != .notStarted }) else { return false }
            switch record.status {
            case .failed, .running, .pending: return true
            case .succeeded, .rolledBack, .rollbackFailed, .skipped: return false
            }
        }
        let newestFirst = started.sorted { ($0.attempts.last?.startedClock ?? 0) > ($1.attempts.last?.startedClock ?? 0) }.map(\.id)
        guard let failed, newestFirst.contains(failed) else { return newestFirst }
        return [failed] + newestFirst.filter { $0 != failed }
    }

    /// The ways of undoing a stage, in order; empty when it has nothing to undo.
    func undoSteps(_ definition: RunDefinition.StageDefinition) -> [UndoStep] {
        var steps: [UndoStep] = []
        // Traffic goes back to 0 % unless the journal says it is there already (or was never moved).
        if definition.traffic != nil, let percent = stage(definition.id)?.traffic, percent != 0 { steps.append(.traffic) }
        if definition.switchScript != nil, let record = stage(definition.id) {
            // Traffic back on the live colour unless the journal says it is there (or never left).
            if let target = record.switchedTo, !(target == record.liveColor && record.switchSettled) { steps.append(.switchBack) }
            // The stage's own rollback restores the idle colour; it has nothing to do before colours were chosen.
            if definition.rollback != nil, record.idleColor != nil { steps.append(.rollback) }
            return steps
        }
        if definition.rollback != nil { steps.append(.rollback) } else if canRestore(definition) { steps.append(.restore) }
        return steps
    }

    /// Whether a migrate stage can be undone by restoring its journaled backup.
    func canRestore(_ definition: RunDefinition.StageDefinition) -> Bool {
        definition.restore != nil && stage(definition.id)?.backup != nil
    }

    /// The stages a rollback undoes, in order: those that may have half-applied (the failed one
    /// first), then the completed ones newest first. A stage with nothing to undo is left out
    /// unless it is irreversible (the rollback stops there).
    func rollbackQueue(failed: String?) -> [String] {
        var queue: [String] = []
        for id in halfAppliedStages(failed: failed) {
            if let definition = definition.stage(id), !undoSteps(definition).isEmpty || !definition.reversible { queue.append(id) }
        }
        for id in completionOrder.reversed() where stage(id)?.status == .succeeded || stage(id)?.status == .rollbackFailed {
            if !queue.contains(id) { queue.append(id) }
        }
        return queue
    }
}

extension Engine {
    /// Starts undoing: the stages that may have half-applied first (the failed one, then any stopped
    /// or interrupted mid-attempt, or running when an engine died), then completed stages in reverse
    /// order of completion, never past a stage that is not reversible.
    func beginRollback(failed: String?) {
        let queue = run.rollbackQueue(failed: failed)
        record(.rollbackBegun(queue: queue, failedStage: failed))
        let progress = RollbackProgress(failed: failed, queue: queue)
        state = .rollingBack(progress)
        if queue.isEmpty {
            finishRollback(status: .rolledBack, note: nil)
        } else {
            output.note("rolling back: \(queue.map { "'\($0)'" }.joined(separator: " then "))")
            // Around every rollback that undoes something; a failure never stops it.
            progress.hooksRan = true
            if let problem = rollbackHook(after: false) { progress.hookProblems.append(problem) }
        }
    }

    func advanceRollback(_ undo: RollbackProgress, now: Int) throws(EngineError) -> Bool {
        guard !busy else { return false }
        if let wake = undo.wake {
            guard now >= wake else { return false }
            undo.wake = nil
        }
        guard let id = undo.queue.first else {
            finishRollback(status: .rolledBack, note: nil)
            return true
        }
        guard let definition = run.definition.stage(id) else {
            undo.queue.removeFirst()
            return true
        }
        if !definition.reversible {
            // Never cross it: the stage and everything before it stay applied.
            finishRollback(
                status: .rollbackFailed,
                note: "rollback stopped at '\(id)': it is marked 'reversible: false'; it and the stages before it remain applied")
            return true
        }
        if !undo.started {
            undo.steps = run.undoSteps(definition)
            guard !undo.steps.isEmpty else {
                record(.rollbackFinished(stage: id, status: .nothingToUndo, method: nil))
                undo.queue.removeFirst()
                return true
            }
            record(.rollbackStarted(stage: id))
            undo.started = true
            undo.attempt = 0
        }
        let step = undo.steps[0]
        let script: String
        switch step {
        case .traffic: script = definition.traffic ?? "true"
        case .switchBack: script = definition.switchScript ?? "true"
        case .rollback: script = definition.rollback ?? "true"
        case .restore: script = definition.restore ?? "true"
        }
        undo.attempt += 1
        let phase = step.phase.rawValue
        undo.log.reset(logPath("logs/\(id).\(phase).\(undo.attempt).log"))
        record(.attemptStarted(stage: id, phase: step.phase, attempt: undo.attempt, log: undo.log.path))
        output.attemptStarted(stage: id, attempt: undo.attempt, phase: phase)
        let isHalfApplied = run.stage(id).map { $0.status != .succeeded && $0.status != .rollbackFailed } ?? false
        let live = run.stage(id)?.liveColor ?? ""
        let what = step == .traffic ? "traffic to 0%" : step == .switchBack ? "switch back to \(live)" : phase
        output.note(
            "[\(id)] \(what) attempt \(undo.attempt)/\(definition.retry.attempts)" + (isHalfApplied ? " (it did not finish: it may have half-applied)" : ""))
        var extra = outputsForScripts(of: id, receiver: "its \(phase)").map { ("PIPELINE_OUTPUT_" + $0.0.uppercased(), $0.1) }
        extra.append(("PIPELINE_PHASE", phase))
        if step == .traffic { extra.append(("PIPELINE_TRAFFIC_PERCENT", "0")) }
        if step == .switchBack {
            extra.append(("PIPELINE_COLOR", live))
            if let idle = run.stage(id)?.idleColor { extra.append(("PIPELINE_FROM_COLOR", idle)) }
            record(.colorSwitch(stage: id, color: live))
        }
        if let backup = run.stage(id)?.backup { extra.append(("PIPELINE_BACKUP_PATH", backup)) }
        let env = environment(stageID: id, stageEnv: definition.env, attempt: undo.attempt, outputsPath: "/dev/null", extra: extra)
        try spawn(
            script, shell: definition.shell, environment: env, timeoutMs: definition.timeoutMs, purpose: .rollback(stage: id),
            attempt: (id, step.phase, undo.attempt))
        return true
    }

    func rollbackScriptFinished(_ id: String, _ child: ChildProcess) throws(EngineError) {
        guard let undo, let step = undo.steps.first, let definition = run.definition.stage(id) else { return }
        let phase = step.phase.rawValue
        let outcome = AttemptOutcome.of(child, interrupted: state.isInterrupting)
        record(.attemptFinished(attemptEnd(id, phase: step.phase, attempt: undo.attempt, child, outcome: outcome)))
        undo.log.close()
        output.attemptEnded(stage: id, attempt: undo.attempt, phase: phase, status: outcome.rawValue, logPath: undo.log.path)
        if state.isInterrupting { return }
        if outcome == .succeeded {
            undo.steps.removeFirst()
            undo.attempt = 0
            if step == .traffic { output.note("[\(id)] traffic back to 0%") }
            if step == .switchBack { output.note("[\(id)] traffic back on \(run.stage(id)?.liveColor ?? "the live colour")") }
            guard undo.steps.isEmpty else { return }
            record(.rollbackFinished(stage: id, status: .rolledBack, method: step == .restore ? "restore" : step == .switchBack ? "switch-back" : "rollback"))
            output.note(step == .restore ? "[\(id)] restored from the backup \(run.stage(id)?.backup ?? "")" : "[\(id)] rolled back")
            undo.queue.removeFirst()
            undo.started = false
            return
        }
        output.note("[\(id)] \(phase) attempt \(undo.attempt) failed (\(child.statusText))")
        if undo.attempt < definition.retry.attempts {
            undo.wake = clock.now() + retryDelay(definition.retry, after: undo.attempt)
            return
        }
        if step == .rollback, run.canRestore(definition) {
            output.note("[\(id)] the downgrade failed; restoring the backup \(run.stage(id)?.backup ?? "") instead")
            undo.steps = [.restore]
            undo.attempt = 0
            return
        }
        record(.rollbackFinished(stage: id, status: .rollbackFailed, method: phase))
        let what =
            step == .traffic
            ? "the traffic reset (to 0%) of '\(id)'"
            : step == .switchBack ? "the switch back to \(run.stage(id)?.liveColor ?? "the live colour") of '\(id)'" : "the \(phase) of '\(id)'"
        finishRollback(status: .rollbackFailed, note: "\(what) failed after \(undo.attempt) attempt\(undo.attempt == 1 ? "" : "s")")
    }

    /// Records the end of a rollback and what a person must still undo.
    func finishRollback(status: RunState.Status, note: String?) {
        var status = status
        var note = note
        if let undo, undo.hooksRan {
            if let problem = rollbackHook(after: true, outcome: status.rawValue) { undo.hookProblems.append(problem) }
            if !undo.hookProblems.isEmpty {
                // The stages may all be undone, but what the hooks do (maintenance mode, traffic) is not
                // known to be: a human must look.
                let text = undo.hookProblems.joined(separator: "; ") + ": a human must check what it was meant to do"
                note = note.map { $0 + "; " + text } ?? text
                status = .rollbackFailed
            }
        }
        // Still applied: stages whose effects were not undone by a rollback script.
        let halfApplied = Set(run.halfAppliedStages(failed: nil))
        let remaining = (run.completionOrder + run.stages.map(\.id).filter { halfApplied.contains($0) && !run.completionOrder.contains($0) }).filter { id in
            let record = run.stage(id)
            guard let definition = run.definition.stage(id) else { return false }
            let undoable = !run.undoSteps(definition).isEmpty || !definition.reversible
            return (record?.status == .succeeded || halfApplied.contains(id)) && undoable || record?.status == .rollbackFailed
        }
        let failedStage = undo?.failed
        let failedRun = failedStage != nil
        let undone = run.stages.contains { $0.status == .rolledBack }
        let final: RunState.Status = status == .rollbackFailed ? .rollbackFailed : (failedRun && !undone ? .failed : .rolledBack)
        record(.runFinished(status: final, remaining: status == .rolledBack ? [] : remaining, note: note, failedStage: failedStage))
        if status == .rolledBack {
            if failedRun {
                output.note(undone ? "run \(run.run) failed; its stages were rolled back" : "run \(run.run) failed; nothing needed undoing")
            } else {
                output.note("run \(run.run) rolled back" + (run.elapsedMs(now: clock.timestamp()).map { " (\(HumanDuration.text($0)) in all)" } ?? ""))
            }
            state = .finished(failedRun ? ExitStatus.failedRolledBack : ExitStatus.succeeded)
            if final == .rolledBack { notify(.rolledBack, failedStage: failedStage, reason: failedStage.map(failureReason)) }
        } else {
            if remaining.isEmpty, let undo, !undo.hookProblems.isEmpty, run.stages.allSatisfy({ $0.status != .rollbackFailed }) {
                output.note("ROLLBACK NEEDS A HUMAN: every stage was undone, but \(note ?? "")")
            } else {
                output.note("ROLLBACK INCOMPLETE: \(note ?? "")")
                output.note(
                    "still applied, for a human to undo: \(remaining.isEmpty ? "nothing recorded" : remaining.map { "'\($0)'" }.joined(separator: ", "))")
            }
            state = .finished(ExitStatus.rollbackFailed)
            notify(.rollbackFailed, failedStage: failedStage, reason: note)
        }
    }
}

extension Engine {
    func attemptEnd(_ stage: String, phase: AttemptPhase, attempt: Int, _ child: ChildProcess, outcome: AttemptOutcome) -> JournalEvent.AttemptEnd {
        .init(
            stage: stage, phase: phase, attempt: attempt, exitCode: child.exitCode, signal: child.signalName,
            durationMs: clock.now() - child.startedAt, outcome: outcome)
    }

    /// The declared outputs the stage wrote to `$PIPELINE_OUTPUTS` (format: `StageOutputs`); the file
    /// is rewritten with secrets masked. See `StageOutputs.swift`.
    func readOutputs(_ path: String, declared: [String]) -> Result<[(String, String)], StageOutputs.Problem> {
        scrubAndParseOutputs(path, declared: declared)
    }
}
