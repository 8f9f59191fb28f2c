import PipelineSpec
/// The journal's JSON forms: events (one per line in `events.jsonl`) and the state snapshot
/// (`state.json`), both described by `schemas/journal.schema.json`.
extension RunState {
    /// Rebuilds a run's state by applying its journal lines in order.
    /// - Returns: nil when the first line is not `run_started`.
    public static func replay(_ lines: [JSONValue]) -> RunState? {
        replay(lines.compactMap(JournalRecord.init(json:)))
    }

    /// Rebuilds a run's state by applying its events in order.
    /// - Returns: nil when the first event is not `run_started`.
    public static func replay(_ records: [JournalRecord]) -> RunState? {
        guard let first = records.first, case .runStarted(let start) = first.event else { return nil }
        var state = RunState(
            run: start.run, pipeline: start.pipeline, file: start.file, workdir: start.workdir,
            fileHash: start.fileHash, started: first.time, ended: nil, status: .running, pid: start.pid, waiting: nil,
            stages: [], completionOrder: [], definition: start.definition, remaining: [], rollbackNote: nil)
        state.stages = state.definition.stages.map {
            StageRecord(id: $0.id, status: .pending, attempts: [], outputs: [], rollback: nil, approved: false)
        }
        state.host = start.host
        state.boot = start.boot
        state.environment = start.environment
        state.release = start.release
        state.inputs = start.inputs
        state.requiresSkipped = start.requiresSkipped
        for record in records.dropFirst() { state.apply(record.event, time: record.time, clock: record.clockMs) }
        return state
    }

    /// Applies one event, made durable at `time` (`clock` on the engine's clock).
    public mutating func apply(_ event: JournalEvent, time: String, clock: Int) {
        switch event {
        case .runStarted, .probe, .unknown, .hook:
            break
        case .measurement(_, let stage, _, let metric, let value, _, let verdict, _, _):
            if verdict == "baseline" { update(stage) { $0.baseline[metric] = value } }
        case .analysisPaused(_, let stage, let step, _):
            update(stage) { $0.pausedAt = step }
        case .control(_, _, let request, _):
            handledRequests.insert(request)
        case .colors(let stage, let live, let idle, _):
            update(stage) { record in
                record.liveColor = live
                record.idleColor = idle
            }
        case .colorSwitch(let stage, let color):
            update(stage) { record in
                record.switchedTo = color
                record.switchSettled = false
            }
        case .runResumed(let pid, let host, let boot, _, _, let changed, let fileHash):
            status = .running
            waiting = nil
            ended = nil
            self.pid = pid
            if !host.isEmpty { self.host = host }
            // Groups recorded under an earlier boot of the kernel cannot be alive now.
            if !boot.isEmpty, !self.boot.isEmpty, boot != self.boot { openGroups = [:] }
            self.boot = boot
            if let fileHash { self.fileHash = fileHash }
            // A stage still 'running' was running when the engine died: its attempt's end is unknown.
            // It stays 'running' until a new attempt starts or a person says it is done.
            for i in stages.indices {
                if stages[i].status == .running, let n = stages[i].attempts.indices.last, stages[i].attempts[n].ended == nil {
                    stages[i].attempts[n].outcome = .unknown
                }
                // An undo try cut off the same way.
                if let n = stages[i].rollback?.attempts.indices.last, stages[i].rollback!.attempts[n].ended == nil {
                    stages[i].rollback!.attempts[n].outcome = .unknown
                }
            }
            if let changed {
                // `resume --force` on a changed file: the new definition, plus every stage of the old
                // one it dropped (a removed stage that was applied is still rolled back).
                var merged = changed.stages
                for old in definition.stages where !merged.contains(where: { $0.id == old.id }) { merged.append(old) }
                definition = RunDefinition(env: changed.env, secrets: changed.secrets, stages: merged, hooks: changed.hooks)
                for stage in merged where self.stage(stage.id) == nil {
                    stages.append(StageRecord(id: stage.id, status: .pending, attempts: [], outputs: [], rollback: nil, approved: false))
                }
            }
        case .stageApproved(let stage, _):
            update(stage) { $0.approved = true }
        case .gatePassed:
            break
        case .processStarted(let stage, let phase, let attempt, let pgid):
            openGroups[Self.groupKey(stage, phase, attempt)] = pgid
            if phase == .run {
                update(stage) { record in
                    if let n = record.attempts.indices.last { record.attempts[n].pgid = pgid }
                }
            }
        case .outputsRecorded(let stage, let outputs, let masked):
            update(stage) { record in
                record.outputs = outputs
                record.maskedOutputs = masked
                record.clearOutputs = nil
            }
        case .traffic(_, let stage, let percent):
            update(stage) { $0.traffic = percent }
        case .rollbackBegun(_, let failed):
            rollbackBegun = true
            failedStage = failed
        case .attemptStarted(let stage, .gateCheck, _, _):
            update(stage) { $0.gateChecks += 1 }
        case .attemptStarted(let stage, let phase, let number, let log):
            let attempt = Attempt(
                number: number, started: time, ended: nil, exitCode: nil, signal: nil,
                durationMs: nil, outcome: nil, log: log, startedClock: clock, endedClock: nil)
            update(stage) { record in
                if phase.undoes {
                    if record.rollback == nil { record.rollback = Rollback(status: .running, attempts: []) }
                    record.rollback!.attempts.append(attempt)
                } else {
                    record.status = .running
                    record.attempts.append(attempt)
                }
            }
        case .attemptFinished(let end):
            openGroups[Self.groupKey(end.stage, end.phase, end.attempt)] = nil
            guard end.phase != .gateCheck else { break }
            let finish: (inout Attempt) -> Void = { attempt in
                attempt.ended = time
                attempt.endedClock = clock
                attempt.exitCode = end.exitCode
                attempt.signal = end.signal
                attempt.durationMs = end.durationMs
                attempt.outcome = end.outcome
            }
            update(end.stage) { record in
                // A canary's traffic reset that succeeded: traffic is at 0 %.
                if end.phase == .traffic, end.outcome == .succeeded { record.traffic = 0 }
                // A blue-green switch is the last script of its try: the try's success is the switch's;
                // a switch back succeeded on its own try.
                if end.outcome == .succeeded, record.switchedTo != nil, end.phase == .run || end.phase == .switchBack {
                    record.switchSettled = true
                }
                if end.phase.undoes {
                    if let n = record.rollback?.attempts.indices.last { finish(&record.rollback!.attempts[n]) }
                } else {
                    if end.outcome == .interrupted || end.outcome == .paused { record.status = .pending }
                    if let n = record.attempts.indices.last { finish(&record.attempts[n]) }
                }
            }
        case .stageFinished(let stage, let status, let outputs, let masked, _):
            update(stage) { record in
                record.status = status
                if !outputs.isEmpty || status == .succeeded {
                    record.outputs = outputs
                    record.maskedOutputs = masked
                    record.clearOutputs = nil
                }
            }
            if status == .succeeded { completionOrder.append(stage) }
        case .stageSkipped(let stage, _, let reason):
            update(stage) { record in
                record.status = .skipped
                record.skipReason = reason
            }
        case .backup(let stage, _, let path, _):
            update(stage) { $0.backup = path }
        case .runWaiting(let stage, let reason, let message):
            status = .waiting
            waiting = Waiting(stage: stage, reason: reason, message: message)
        case .rollbackStarted(let stage):
            // Journals of versions before `rollback_begun`: a rollback under way shows here.
            if !rollbackBegun {
                rollbackBegun = true
                failedStage = failedStage ?? stages.first { $0.status == .failed }?.id
            }
            update(stage) { record in
                if record.rollback == nil { record.rollback = Rollback(status: .running, attempts: []) }
                record.rollback!.status = .running
            }
        case .rollbackFinished(let stage, let result, let method):
            update(stage) { record in
                if record.rollback == nil { record.rollback = Rollback(status: result, attempts: []) }
                record.rollback!.status = result
                record.rollback!.method = method
                switch result {
                case .rolledBack: record.status = .rolledBack
                case .rollbackFailed: record.status = .rollbackFailed
                case .running, .nothingToUndo: break
                }
            }
        case .runFinished(let final, let remaining, let note, _):
            status = final
            ended = time
            self.remaining = remaining ?? []
            rollbackNote = note
            waiting = nil
            rollbackBegun = false
        case .runInterrupted:
            status = .interrupted
            ended = time
        }
    }

    /// The key of a try in ``openGroups``.
    static func groupKey(_ stage: String, _ phase: AttemptPhase, _ attempt: Int) -> String {
        "\(stage)/\(phase.rawValue)/\(attempt)"
    }

    /// The snapshot written to `state.json` and printed by `status --json`.
    public var json: JSONValue {
        func attempts(_ list: [Attempt]) -> JSONValue {
            .array(
                list.map { a in
                    .object([
                        ("number", .int(a.number)), ("started", .string(a.started)), ("ended", a.ended.map(JSONValue.string) ?? .null),
                        ("exit_code", a.exitCode.map(JSONValue.int) ?? .null), ("signal", a.signal.map(JSONValue.string) ?? .null),
                        ("duration_ms", a.durationMs.map(JSONValue.int) ?? .null), ("outcome", a.outcome.map { JSONValue.string($0.rawValue) } ?? .null),
                        ("log", .string(a.log)),
                    ])
                })
        }
        return .object([
            ("format", .int(1)),
            ("run", .string(run)), ("pipeline", .string(pipeline)), ("file", .string(file)), ("workdir", .string(workdir)),
            ("file_sha256", .string(fileHash)), ("started", .string(started)), ("ended", ended.map(JSONValue.string) ?? .null),
            ("status", .string(status.rawValue)), ("pid", .int(pid)),
            ("environment", environment.map(JSONValue.string) ?? .null), ("release", release.map(JSONValue.string) ?? .null),
            ("inputs", .object(inputs.map { ($0.0, .string($0.1)) })), ("requires_skipped", requiresSkipped.map(JSONValue.string) ?? .null),
            ("waiting", waiting.map { .object([("stage", .string($0.stage)), ("reason", .string($0.reason)), ("message", .string($0.message))]) } ?? .null),
            (
                "stages",
                .array(
                    stages.map { s in
                        .object([
                            ("id", .string(s.id)), ("status", .string(s.status.rawValue)),
                            ("attempts", .int(s.attempts.count)), ("attempt_log", attempts(s.attempts)),
                            ("outputs", .object(s.outputs.map { ($0.0, .string($0.1)) })),
                            ("backup", s.backup.map(JSONValue.string) ?? .null),
                            ("skip_reason", s.skipReason.map(JSONValue.string) ?? .null),
                            (
                                "rollback",
                                s.rollback.map {
                                    .object([
                                        ("status", .string($0.status.rawValue)), ("method", $0.method.map(JSONValue.string) ?? .null),
                                        ("attempts", attempts($0.attempts)),
                                    ])
                                } ?? .null
                            ),
                        ])
                    })
            ),
            ("completion_order", .array(completionOrder.map(JSONValue.string))),
            ("remaining", .array(remaining.map(JSONValue.string))),
            ("rollback_note", rollbackNote.map(JSONValue.string) ?? .null),
        ])
    }
}

extension RunDefinition {
    init(json: JSONValue) {
        func pairs(_ v: JSONValue?) -> [(String, String)] {
            guard case .object(let fields)? = v else { return [] }
            return fields.compactMap { k, v in v.string.map { (k, $0) } }
        }
        env = pairs(json["env"])
        secrets = json["secrets"]?.strings ?? []
        stages = (json["stages"]?.array ?? []).map { s in
            let r = s["retry"]
            return StageDefinition(
                id: s["id"]?.string ?? "", kind: s["kind"]?.string ?? "command", rollback: s["rollback"]?.string, traffic: s["traffic"]?.string,
                restore: s["restore"]?.string,
                shell: s["shell"]?.strings ?? FormatDefaults.shell, timeoutMs: s["timeout_ms"]?.int ?? FormatDefaults.timeout.milliseconds,
                retry: RetryPolicy(
                    attempts: r?["attempts"]?.int ?? FormatDefaults.retry.attempts,
                    delay: TimeSpan(milliseconds: r?["delay_ms"]?.int ?? FormatDefaults.retry.delay.milliseconds),
                    backoff: r?["backoff_x1000"]?.int.map { Double($0) / 1000 } ?? FormatDefaults.retry.backoff,
                    maxDelay: TimeSpan(milliseconds: r?["max_delay_ms"]?.int ?? FormatDefaults.retry.maxDelay.milliseconds),
                    jitter: r?["jitter"]?.bool ?? FormatDefaults.retry.jitter),
                env: pairs(s["env"]), reversible: s["reversible"]?.bool ?? true, outputs: s["outputs"]?.strings ?? [],
                switchScript: s["switch"]?.string)
        }
        hooks = HookDefinitions(json: json)
    }

    /// Records a validated pipeline's rollback-relevant parts.
    init(_ pipeline: Pipeline) {
        env = pipeline.env.map { ($0.name, $0.value.raw) }
        secrets = pipeline.secrets
        stages = pipeline.stages.map { s in
            var restore: String?
            var traffic: String?
            if case .migrate(let spec) = s.spec { restore = spec.restore?.source }
            if case .canary(let spec) = s.spec { traffic = spec.traffic.source }
            var switchScript: String?
            if case .blueGreen(let spec) = s.spec { switchScript = spec.switchScript.source }
            return StageDefinition(
                id: s.id, kind: s.kind.rawValue, rollback: s.rollback?.source, traffic: traffic, restore: restore, shell: s.shell,
                timeoutMs: s.timeout.milliseconds,
                retry: s.retry, env: s.env.map { ($0.name, $0.value.raw) }, reversible: s.reversible, outputs: s.outputs,
                switchScript: switchScript)
        }
        hooks = HookDefinitions(pipeline)
    }

    var json: JSONValue {
        .object(
            [
                ("env", .object(env.map { ($0.0, .string($0.1)) })),
                ("secrets", .array(secrets.map(JSONValue.string))),
                ("stages", .array(stages.map(\.json))),
            ] + hooks.jsonFields)
    }
}

extension RunDefinition.StageDefinition {
    var json: JSONValue {
        let s = self
        return .object(
            [
                ("id", .string(s.id)), ("kind", .string(s.kind)), ("rollback", s.rollback.map(JSONValue.string) ?? .null),
                ("traffic", s.traffic.map(JSONValue.string) ?? .null),
                ("restore", s.restore.map(JSONValue.string) ?? .null),
                ("shell", .array(s.shell.map(JSONValue.string))), ("timeout_ms", .int(s.timeoutMs)),
                (
                    "retry",
                    .object([
                        ("attempts", .int(s.retry.attempts)), ("delay_ms", .int(s.retry.delay.milliseconds)),
                        ("backoff_x1000", .int(Int(exactly: (s.retry.backoff * 1000).rounded()) ?? Int(Int32.max))),
                        ("max_delay_ms", .int(s.retry.maxDelay.milliseconds)),
                        ("jitter", .bool(s.retry.jitter)),
                    ])
                ),
                ("env", .object(s.env.map { ($0.0, .string($0.1)) })), ("reversible", .bool(s.reversible)),
                ("outputs", .array(s.outputs.map(JSONValue.string))),
            ] + (s.switchScript.map { [("switch", JSONValue.string($0))] } ?? []))
    }
}
