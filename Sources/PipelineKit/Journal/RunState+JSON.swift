/// The journal's JSON forms: events (one per line in `events.jsonl`) and the state snapshot
/// (`state.json`), both described by `schemas/journal.schema.json`.
extension RunState {
    /// Rebuilds a run's state by applying its events in order.
    /// - Returns: nil when the first event is not `run_started`.
    public static func replay(_ events: [JSONValue]) -> RunState? {
        guard let first = events.first, first["type"]?.string == "run_started" else { return nil }
        var state = RunState(
            run: first["run"]?.string ?? "", pipeline: first["pipeline"]?.string ?? "",
            file: first["file"]?.string ?? "", workdir: first["workdir"]?.string ?? "",
            fileHash: first["file_sha256"]?.string ?? "", started: first["time"]?.string ?? "",
            ended: nil, status: .running, pid: first["pid"]?.int ?? 0, waiting: nil,
            stages: [], completionOrder: [],
            definition: RunDefinition(json: first["definition"] ?? .null), remaining: [], rollbackNote: nil)
        state.stages = state.definition.stages.map {
            StageRecord(id: $0.id, status: .pending, attempts: [], outputs: [], rollback: nil, approved: false)
        }
        for event in events.dropFirst() { state.apply(event) }
        return state
    }

    /// Applies one event.
    public mutating func apply(_ event: JSONValue) {
        let time = event["time"]?.string ?? ""
        let clock = event["clock_ms"]?.int ?? 0
        let stageID = event["stage"]?.string ?? ""
        switch event["type"]?.string {
        case "run_resumed":
            status = .running
            waiting = nil
            ended = nil
            pid = event["pid"]?.int ?? pid
            // A stage still 'running' was running when the engine died: its attempt's end is unknown.
            // It stays 'running' until a new attempt starts or a person says it is done.
            for i in stages.indices where stages[i].status == .running {
                if var last = stages[i].attempts.last, last.ended == nil {
                    last.outcome = "unknown"
                    stages[i].attempts[stages[i].attempts.count - 1] = last
                }
            }
        case "stage_approved":
            update(stageID) { $0.approved = true }
        case "attempt_started" where event["phase"]?.string == "gate-check":
            update(stageID) { $0.gateChecks += 1 }
        case "attempt_finished" where event["phase"]?.string == "gate-check":
            break
        case "attempt_started":
            let attempt = Attempt(number: event["attempt"]?.int ?? 0, started: time, ended: nil, exitCode: nil, signal: nil,
                                  durationMs: nil, outcome: nil, log: event["log"]?.string ?? "", startedClock: clock, endedClock: nil)
            if event["phase"]?.string == "rollback" || event["phase"]?.string == "restore" {
                update(stageID) { record in
                    if record.rollback == nil { record.rollback = Rollback(status: "running", attempts: []) }
                    record.rollback!.attempts.append(attempt)
                }
            } else {
                update(stageID) { record in
                    record.status = .running
                    record.attempts.append(attempt)
                }
            }
        case "attempt_finished":
            let finish: (inout Attempt) -> Void = { attempt in
                attempt.ended = time
                attempt.endedClock = clock
                attempt.exitCode = event["exit_code"]?.int
                attempt.signal = event["signal"]?.string
                attempt.durationMs = event["duration_ms"]?.int
                attempt.outcome = event["outcome"]?.string
            }
            update(stageID) { record in
                if event["outcome"]?.string == "interrupted" { record.status = .pending }
                if event["phase"]?.string == "rollback" || event["phase"]?.string == "restore" {
                    if let n = record.rollback?.attempts.indices.last { finish(&record.rollback!.attempts[n]) }
                } else if let n = record.attempts.indices.last {
                    finish(&record.attempts[n])
                }
            }
        case "stage_finished":
            let status = StageStatus(rawValue: event["status"]?.string ?? "") ?? .failed
            update(stageID) { record in
                record.status = status
                if case .object(let fields)? = event["outputs"] {
                    record.outputs = fields.compactMap { key, value in value.string.map { (key, $0) } }
                }
                record.maskedOutputs = event["masked"]?.strings ?? []
                record.clearOutputs = nil
            }
            if status == .succeeded { completionOrder.append(stageID) }
        case "backup":
            update(stageID) { $0.backup = event["path"]?.string }
        case "stage_skipped":
            update(stageID) { $0.status = .skipped }
        case "run_waiting":
            status = .waiting
            waiting = Waiting(stage: stageID, reason: event["reason"]?.string ?? "", message: event["message"]?.string ?? "")
        case "rollback_started":
            update(stageID) { record in
                if record.rollback == nil { record.rollback = Rollback(status: "running", attempts: []) }
                record.rollback!.status = "running"
            }
        case "rollback_finished":
            let result = event["status"]?.string ?? "rollback_failed"
            update(stageID) { record in
                if record.rollback == nil { record.rollback = Rollback(status: result, attempts: []) }
                record.rollback!.status = result
                record.rollback!.method = event["method"]?.string
                switch result {
                case "rolled_back": record.status = .rolledBack
                case "rollback_failed": record.status = .rollbackFailed
                default: break
                }
            }
        case "run_finished":
            status = Status(rawValue: event["status"]?.string ?? "") ?? .failed
            ended = time
            remaining = event["remaining"]?.strings ?? []
            rollbackNote = event["note"]?.string
            waiting = nil
        case "run_interrupted":
            status = .interrupted
            ended = time
        default:
            break
        }
    }

    /// The snapshot written to `state.json` and printed by `status --json`.
    public var json: JSONValue {
        func attempts(_ list: [Attempt]) -> JSONValue {
            .array(list.map { a in
                .object([
                    ("number", .int(a.number)), ("started", .string(a.started)), ("ended", a.ended.map(JSONValue.string) ?? .null),
                    ("exit_code", a.exitCode.map(JSONValue.int) ?? .null), ("signal", a.signal.map(JSONValue.string) ?? .null),
                    ("duration_ms", a.durationMs.map(JSONValue.int) ?? .null), ("outcome", a.outcome.map(JSONValue.string) ?? .null),
                    ("log", .string(a.log)),
                ])
            })
        }
        return .object([
            ("format", .int(1)),
            ("run", .string(run)), ("pipeline", .string(pipeline)), ("file", .string(file)), ("workdir", .string(workdir)),
            ("file_sha256", .string(fileHash)), ("started", .string(started)), ("ended", ended.map(JSONValue.string) ?? .null),
            ("status", .string(status.rawValue)), ("pid", .int(pid)),
            ("waiting", waiting.map { .object([("stage", .string($0.stage)), ("reason", .string($0.reason)), ("message", .string($0.message))]) } ?? .null),
            ("stages", .array(stages.map { s in
                .object([
                    ("id", .string(s.id)), ("status", .string(s.status.rawValue)),
                    ("attempts", .int(s.attempts.count)), ("attempt_log", attempts(s.attempts)),
                    ("outputs", .object(s.outputs.map { ($0.0, .string($0.1)) })),
                    ("backup", s.backup.map(JSONValue.string) ?? .null),
                    ("rollback", s.rollback.map { .object([("status", .string($0.status)), ("method", $0.method.map(JSONValue.string) ?? .null),
                                                           ("attempts", attempts($0.attempts))]) } ?? .null),
                ])
            })),
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
                id: s["id"]?.string ?? "", kind: s["kind"]?.string ?? "command", rollback: s["rollback"]?.string, restore: s["restore"]?.string,
                shell: s["shell"]?.strings ?? ["/bin/sh", "-e", "-c"], timeoutMs: s["timeout_ms"]?.int ?? 600_000,
                retry: RetryPolicy(attempts: r?["attempts"]?.int ?? 1, delay: TimeSpan(milliseconds: r?["delay_ms"]?.int ?? 1000),
                                   backoff: Double(r?["backoff_x1000"]?.int ?? 2000) / 1000, maxDelay: TimeSpan(milliseconds: r?["max_delay_ms"]?.int ?? 60_000),
                                   jitter: r?["jitter"]?.bool ?? true),
                env: pairs(s["env"]), reversible: s["reversible"]?.bool ?? true, outputs: s["outputs"]?.strings ?? [])
        }
    }

    /// Records a validated pipeline's rollback-relevant parts.
    init(_ pipeline: Pipeline) {
        env = pipeline.env.map { ($0.name, $0.value.raw) }
        secrets = pipeline.secrets
        stages = pipeline.stages.map { s in
            var restore: String?
            if case .migrate(let spec) = s.spec { restore = spec.restore?.source }
            return StageDefinition(id: s.id, kind: s.kind.rawValue, rollback: s.rollback?.source, restore: restore, shell: s.shell, timeoutMs: s.timeout.milliseconds,
                            retry: s.retry, env: s.env.map { ($0.name, $0.value.raw) }, reversible: s.reversible, outputs: s.outputs)
        }
    }

    var json: JSONValue {
        .object([
            ("env", .object(env.map { ($0.0, .string($0.1)) })),
            ("secrets", .array(secrets.map(JSONValue.string))),
            ("stages", .array(stages.map { s in
                .object([
                    ("id", .string(s.id)), ("kind", .string(s.kind)), ("rollback", s.rollback.map(JSONValue.string) ?? .null),
                    ("restore", s.restore.map(JSONValue.string) ?? .null),
                    ("shell", .array(s.shell.map(JSONValue.string))), ("timeout_ms", .int(s.timeoutMs)),
                    ("retry", .object([("attempts", .int(s.retry.attempts)), ("delay_ms", .int(s.retry.delay.milliseconds)),
                                       ("backoff_x1000", .int(Int(s.retry.backoff * 1000))), ("max_delay_ms", .int(s.retry.maxDelay.milliseconds)),
                                       ("jitter", .bool(s.retry.jitter))])),
                    ("env", .object(s.env.map { ($0.0, .string($0.1)) })), ("reversible", .bool(s.reversible)),
                    ("outputs", .array(s.outputs.map(JSONValue.string))),
                ])
            })),
        ])
    }
}
