import CSystem
import Foundation

extension Engine {
    /// Starts undoing: the failed stage first (it may have half-applied), then completed stages in
    /// reverse order of completion, never past a stage that is not reversible.
    func beginRollback(failed: String?) {
        var queue: [String] = []
        failedStage = failed
        // The failed stage, then any stage stopped mid-attempt because of it (`--on-failure stop`):
        // each may have half-applied.
        let halfApplied = [failed].compactMap { $0 } + run.stages.filter { $0.status == .failed && $0.id != failed }.map(\.id)
        for id in halfApplied {
            if let definition = run.definition.stage(id), definition.rollback != nil || canRestore(definition),
               !(run.stage(id)?.attempts.isEmpty ?? true) {
                queue.append(id)
            }
        }
        for id in run.completionOrder.reversed() where run.stage(id)?.status == .succeeded || run.stage(id)?.status == .rollbackFailed {
            if !queue.contains(id) { queue.append(id) }
        }
        rollbackQueue = queue
        rollbackAttempt = 0
        restoring = false
        state = .rollingBack
        if queue.isEmpty {
            finishRollback(status: .rolledBack, note: nil)
        } else {
            output.note("rolling back: \(queue.map { "'\($0)'" }.joined(separator: " then "))")
        }
    }

    func advanceRollback(now: Int) throws(EngineError) -> Bool {
        guard !busy else { return false }
        if let wake = rollbackWake {
            guard now >= wake else { return false }
            rollbackWake = nil
        }
        guard let id = rollbackQueue.first else {
            finishRollback(status: .rolledBack, note: nil)
            return true
        }
        guard let definition = run.definition.stage(id) else {
            rollbackQueue.removeFirst()
            return true
        }
        let isFailedStage = run.stage(id)?.status == .failed
        if !definition.reversible {
            // Never cross it: the stage and everything before it stay applied.
            finishRollback(status: .rollbackFailed,
                           note: "rollback stopped at '\(id)': it is marked 'reversible: false'; it and the stages before it remain applied")
            return true
        }
        if definition.rollback == nil, !restoring, canRestore(definition) { restoring = true }
        guard let script = restoring ? definition.restore : definition.rollback else {
            record("rollback_finished", [("stage", .string(id)), ("status", .string("nothing_to_undo"))])
            rollbackQueue.removeFirst()
            return true
        }
        let phase = restoring ? "restore" : "rollback"
        // A restore after a failed downgrade continues the same undo: one `rollback_started` per stage.
        let startsUndo = rollbackAttempt == 0 && (!restoring || definition.rollback == nil)
        if startsUndo { record("rollback_started", [("stage", .string(id))]) }
        rollbackAttempt += 1
        rollbackLog.reset(logPath("logs/\(id).\(phase).\(rollbackAttempt).log"))
        record("attempt_started", [("stage", .string(id)), ("phase", .string(phase)), ("attempt", .int(rollbackAttempt)), ("log", .string(rollbackLog.path))])
        output.note("[\(id)] \(phase) attempt \(rollbackAttempt)/\(definition.retry.attempts)" + (isFailedStage ? " (the failed stage, which may have half-applied)" : ""))
        var extra = outputsForScripts(of: id, receiver: "its \(phase)").map { ("PIPELINE_OUTPUT_" + $0.0.uppercased(), $0.1) }
        extra.append(("PIPELINE_PHASE", phase))
        if let backup = run.stage(id)?.backup { extra.append(("PIPELINE_BACKUP_PATH", backup)) }
        let env = environment(stageID: id, stageEnv: definition.env, attempt: rollbackAttempt, outputsPath: "/dev/null", extra: extra)
        _ = try spawn(script, shell: definition.shell, environment: env, timeoutMs: definition.timeoutMs, purpose: .rollback(stage: id))
        return true
    }

    /// Whether a migrate stage can be undone by restoring its journaled backup.
    func canRestore(_ definition: RunDefinition.StageDefinition) -> Bool {
        definition.restore != nil && run.stage(definition.id)?.backup != nil
    }

    func rollbackScriptFinished(_ id: String, _ child: ChildProcess) throws(EngineError) {
        let phase = restoring ? "restore" : "rollback"
        record("attempt_finished", attemptFields(id, phase: phase, attempt: rollbackAttempt, child))
        rollbackLog.close()
        output.attemptEnded(stage: id, attempt: rollbackAttempt, phase: phase, status: child.succeeded ? "succeeded" : "failed",
                            logPath: run.stage(id)?.rollback?.attempts.last?.log ?? "")
        if state == .interrupting { return }
        let definition = run.definition.stage(id)!
        if child.succeeded {
            record("rollback_finished", [("stage", .string(id)), ("status", .string("rolled_back")), ("method", .string(phase))])
            output.note(restoring ? "[\(id)] restored from the backup \(run.stage(id)?.backup ?? "")" : "[\(id)] rolled back")
            rollbackQueue.removeFirst()
            rollbackAttempt = 0
            restoring = false
            return
        }
        output.note("[\(id)] \(phase) attempt \(rollbackAttempt) failed (\(child.statusText))")
        if rollbackAttempt < definition.retry.attempts {
            rollbackWake = clock.now() + retryDelay(definition.retry, after: rollbackAttempt)
            return
        }
        if !restoring, canRestore(definition) {
            output.note("[\(id)] the downgrade failed; restoring the backup \(run.stage(id)?.backup ?? "") instead")
            restoring = true
            rollbackAttempt = 0
            return
        }
        restoring = false
        record("rollback_finished", [("stage", .string(id)), ("status", .string("rollback_failed")), ("method", .string(phase))])
        finishRollback(status: .rollbackFailed, note: "the rollback of '\(id)' failed after \(rollbackAttempt) attempt\(rollbackAttempt == 1 ? "" : "s")")
    }

    /// Records the end of a rollback and what a person must still undo.
    func finishRollback(status: RunState.Status, note: String?) {
        // Still applied: stages whose effects were not undone by a rollback script.
        let remaining = run.completionOrder.filter { id in
            let record = run.stage(id)
            let definition = run.definition.stage(id)
            return record?.status == .succeeded && (definition?.rollback != nil || definition?.restore != nil)
                || record?.status == .rollbackFailed
        }
        let failedRun = failedStage != nil
        let undone = run.stages.contains { $0.status == .rolledBack }
        let final: RunState.Status = status == .rollbackFailed ? .rollbackFailed : (failedRun && !undone ? .failed : .rolledBack)
        var fields: [(String, JSONValue)] = [("status", .string(final.rawValue)),
                                              ("remaining", .array(status == .rolledBack ? [] : remaining.map(JSONValue.string)))]
        if let note { fields.append(("note", .string(note))) }
        if let failedStage { fields.append(("failed_stage", .string(failedStage))) }
        record("run_finished", fields)
        if status == .rolledBack {
            output.note(failedRun ? "run \(run.run) failed; completed stages were rolled back" : "run \(run.run) rolled back")
            state = .finished(failedRun ? ExitStatus.failedRolledBack : ExitStatus.succeeded)
        } else {
            output.note("ROLLBACK INCOMPLETE: \(note ?? "")")
            output.note("still applied, for a human to undo: \(remaining.isEmpty ? "nothing recorded" : remaining.map { "'\($0)'" }.joined(separator: ", "))")
            state = .finished(ExitStatus.rollbackFailed)
        }
    }
}
