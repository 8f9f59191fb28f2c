import PipelineSpec
/// What a try of a script was for (`phase` in the journal).
public enum AttemptPhase: String, Sendable, CaseIterable {
    /// A try of the stage itself.
    case run
    /// A try of its gate's `check` script.
    case gateCheck = "gate-check"
    /// A try of its `rollback` script.
    case rollback
    /// A try of a migrate stage's `restore` script, given the journaled backup.
    case restore
    /// A try of a canary's `traffic` script with 0 %, when the canary is undone.
    case traffic
    /// A try of a blue-green stage's `switch` script with the previous (live) colour, when it is undone.
    case switchBack = "switch-back"

    /// Whether the try undoes the stage.
    public var undoes: Bool { self == .rollback || self == .restore || self == .traffic || self == .switchBack }
}

/// What became of a stage's rollback.
public enum RollbackStatus: String, Sendable, CaseIterable {
    case running
    case rolledBack = "rolled_back"
    case rollbackFailed = "rollback_failed"
    /// The stage has no way of being undone (no rollback script, no restorable backup).
    case nothingToUndo = "nothing_to_undo"
}

/// Why `pipeline` started again on a recorded run.
public enum ResumePurpose: String, Sendable, CaseIterable {
    /// `pipeline resume`: continue the deploy.
    case resume
    /// `pipeline rollback`, or a resume finishing an interrupted rollback.
    case rollback
}

/// Every event the journal records, with its payload: the one protocol the engine writes, the
/// replay (``RunState``) reads and `schemas/journal.schema.json` describes. Each is one JSON line
/// `{"type": …, "time": …, "clock_ms": …, fields…}`; ``JournalEvent/Kind`` lists the types.
public enum JournalEvent: Sendable {
    /// The first line of every journal.
    case runStarted(RunStart)
    /// Another `pipeline` took over the run (resume or rollback). `definition` and `fileHash` are
    /// set when `resume --force` continued it on a changed file.
    case runResumed(pid: Int, host: String, boot: String, purpose: ResumePurpose?, forced: Bool?, definition: RunDefinition?, fileHash: String?)
    case stageApproved(stage: String, by: String)
    case gatePassed(stage: String, gate: String, ms: Int?)
    /// Written (and made durable) before the script starts.
    case attemptStarted(stage: String, phase: AttemptPhase, attempt: Int, log: String)
    /// The try's process group, written right after it started (not synced: it matters only while
    /// the machine is up, when `resume` must not start work beside a group still running).
    case processStarted(stage: String, phase: AttemptPhase, attempt: Int, pgid: Int)
    case attemptFinished(AttemptEnd)
    /// `masked`: the outputs whose journaled value had a secret masked (absent when none).
    case stageFinished(stage: String, status: RunState.StageStatus, outputs: [(String, String)], masked: [String], note: String?)
    /// The stage will not run: its `if:` is false (`condition`: the expression as written), or it
    /// reads an output of a stage that was skipped. Written when the stage became ready, instead of
    /// any gate or attempt; a skipped stage is never run, resumed or rolled back.
    case stageSkipped(stage: String, condition: String?, reason: String)
    /// Outputs an attempt wrote before it was interrupted: what its rollback receives.
    case outputsRecorded(stage: String, outputs: [(String, String)], masked: [String])
    case backup(stage: String, attempt: Int, path: String, bytes: Int)
    case runWaiting(stage: String, reason: String, message: String)
    /// A rollback began: the stages it will undo, in order. Until `run_finished`, `resume` finishes it.
    case rollbackBegun(queue: [String], failedStage: String?)
    case rollbackStarted(stage: String)
    case rollbackFinished(stage: String, status: RollbackStatus, method: String?)
    case runFinished(status: RunState.Status, remaining: [String]?, note: String?, failedStage: String?)
    case runInterrupted
    /// One HTTP probe of a verify stage.
    case probe(NativeStamp, stage: String, attempt: Int, url: String, status: Int?, error: String?, ms: Int, ok: Bool)
    /// One canary measurement (a baseline at step 0, then one per analysis round and metric).
    /// `verdict` is `baseline`, `pass`, `fail` or `inconclusive`; `reason` says why a reading has no
    /// value (HTTP status, error text, missing JSON path); `warnings` are what a Prometheus server said.
    case measurement(
        NativeStamp, stage: String, step: Int, metric: String, value: Double?, bound: String?, verdict: String, reason: String? = nil,
        warnings: [String] = [])
    /// A canary or watch paused for a person: at step `step` (0-based index into `steps`) because of `reason`.
    case analysisPaused(NativeStamp, stage: String, step: Int, reason: String)
    /// The engine took an operator's request (`promote` or `abort`) for the stage it is running.
    case control(stage: String, action: String, request: String, by: String)
    /// A canary's traffic script was asked for `percent`.
    case traffic(NativeStamp, stage: String, percent: Int)
    /// The colours of a blue-green stage in this run: `live` takes traffic now, `idle` is deployed.
    /// `decidedBy` is the earlier run whose switch made `live` live (nil: no earlier run switched).
    case colors(stage: String, live: String, idle: String, decidedBy: String?)
    /// A blue-green stage's `switch` script is about to point traffic at `color` (made durable first).
    case colorSwitch(stage: String, color: String)
    /// A `notify` hook or a `rollback.before`/`after` script ran; `ok` false never changed the run's outcome
    /// (except that a failed `rollback.before`/`after` makes the rollback's outcome `rollback_failed`).
    case hook(NativeStamp, name: String, event: String, ok: Bool, detail: String, ms: Int)
    /// A line of a type this version does not know (a newer `pipeline` wrote it): kept, not applied.
    case unknown(type: String)

    /// The event types, as written in `type`.
    public enum Kind: String, Sendable, CaseIterable {
        case runStarted = "run_started", runResumed = "run_resumed", stageApproved = "stage_approved", gatePassed = "gate_passed"
        case attemptStarted = "attempt_started", processStarted = "process_started", attemptFinished = "attempt_finished"
        case stageFinished = "stage_finished", stageSkipped = "stage_skipped", outputsRecorded = "outputs_recorded", backup
        case runWaiting = "run_waiting", rollbackBegun = "rollback_begun", rollbackStarted = "rollback_started"
        case rollbackFinished = "rollback_finished", runFinished = "run_finished", runInterrupted = "run_interrupted"
        case probe, measurement, traffic
        case analysisPaused = "analysis_paused", control
        case colors, colorSwitch = "color_switch", hook
    }

    /// When native work (a probe, a measurement) happened, on the wall clock and the engine's
    /// clock; the journal's own `time` is when it was made durable.
    public struct NativeStamp: Sendable {
        public var at: String
        public var atMs: Int
    }

    /// What `run_started` records.
    public struct RunStart: Sendable {
        public var run: String
        public var pipeline: String
        public var file: String
        public var workdir: String
        public var fileHash: String
        public var pid: Int
        public var host: String
        /// The kernel's boot id when it started (empty if unknown).
        public var boot: String
        /// The run's place in the order runs started in (0: recorded before the counter existed).
        public var sequence: Int
        public var definition: RunDefinition
        /// The environment chosen with `--env` (nil: the file declares none).
        public var environment: String? = nil
        /// The release (`release:`), fixed when the run started.
        public var release: String? = nil
        /// Every input's value, in declaration order: what `resume` loads the file with again.
        public var inputs: [(String, String)] = []
        /// Why the environment's `requires` was not checked (`--skip-requires REASON`).
        public var requiresSkipped: String? = nil
    }

    /// What `attempt_finished` records.
    public struct AttemptEnd: Sendable {
        public var stage: String
        public var phase: AttemptPhase
        public var attempt: Int
        public var exitCode: Int?
        public var signal: String?
        public var durationMs: Int
        public var outcome: AttemptOutcome
    }

    public var kind: Kind? {
        switch self {
        case .runStarted: return .runStarted
        case .runResumed: return .runResumed
        case .stageApproved: return .stageApproved
        case .gatePassed: return .gatePassed
        case .attemptStarted: return .attemptStarted
        case .processStarted: return .processStarted
        case .attemptFinished: return .attemptFinished
        case .stageFinished: return .stageFinished
        case .stageSkipped: return .stageSkipped
        case .outputsRecorded: return .outputsRecorded
        case .backup: return .backup
        case .runWaiting: return .runWaiting
        case .rollbackBegun: return .rollbackBegun
        case .rollbackStarted: return .rollbackStarted
        case .rollbackFinished: return .rollbackFinished
        case .runFinished: return .runFinished
        case .runInterrupted: return .runInterrupted
        case .probe: return .probe
        case .measurement: return .measurement
        case .traffic: return .traffic
        case .analysisPaused: return .analysisPaused
        case .control: return .control
        case .colors: return .colors
        case .colorSwitch: return .colorSwitch
        case .hook: return .hook
        case .unknown: return nil
        }
    }

    /// The event's fields after `type`, `time` and `clock_ms`, in journal order.
    var fields: [(String, JSONValue)] {
        func outputs(_ pairs: [(String, String)]) -> JSONValue { .object(pairs.map { ($0.0, .string($0.1)) }) }
        func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func stamp(_ s: NativeStamp) -> [(String, JSONValue)] { [("at", .string(s.at)), ("at_ms", .int(s.atMs))] }
        switch self {
        case .runStarted(let r):
            return [
                ("run", .string(r.run)), ("pipeline", .string(r.pipeline)), ("file", .string(r.file)), ("workdir", .string(r.workdir)),
                ("file_sha256", .string(r.fileHash)), ("pid", .int(r.pid)), ("host", .string(r.host)),
            ]
                + (r.boot.isEmpty ? [] : [("boot", JSONValue.string(r.boot))])
                + [
                    ("sequence", .int(r.sequence)),
                    ("definition", r.definition.json),
                ]
                + (r.environment.map { [("environment", JSONValue.string($0))] } ?? [])
                + (r.release.map { [("release", JSONValue.string($0))] } ?? [])
                + (r.inputs.isEmpty ? [] : [("inputs", JSONValue.object(r.inputs.map { ($0.0, .string($0.1)) }))])
                + (r.requiresSkipped.map { [("requires_skipped", JSONValue.string($0))] } ?? [])
        case .runResumed(let pid, let host, let boot, let purpose, let forced, let definition, let fileHash):
            var f: [(String, JSONValue)] = [("pid", .int(pid)), ("host", .string(host))]
            if !boot.isEmpty { f.append(("boot", .string(boot))) }
            if let purpose { f.append(("purpose", .string(purpose.rawValue))) }
            if let forced { f.append(("forced", .bool(forced))) }
            if let definition { f.append(("definition", definition.json)) }
            if let fileHash { f.append(("file_sha256", .string(fileHash))) }
            return f
        case .stageApproved(let stage, let by):
            return [("stage", .string(stage)), ("by", .string(by))]
        case .gatePassed(let stage, let gate, let ms):
            return [("stage", .string(stage)), ("gate", .string(gate))] + (ms.map { [("ms", JSONValue.int($0))] } ?? [])
        case .attemptStarted(let stage, let phase, let attempt, let log):
            return [("stage", .string(stage)), ("phase", .string(phase.rawValue)), ("attempt", .int(attempt)), ("log", .string(log))]
        case .processStarted(let stage, let phase, let attempt, let pgid):
            return [("stage", .string(stage)), ("phase", .string(phase.rawValue)), ("attempt", .int(attempt)), ("pgid", .int(pgid))]
        case .attemptFinished(let e):
            return [
                ("stage", .string(e.stage)), ("phase", .string(e.phase.rawValue)), ("attempt", .int(e.attempt)),
                ("exit_code", e.exitCode.map(JSONValue.int) ?? .null), ("signal", optional(e.signal)),
                ("duration_ms", .int(e.durationMs)), ("outcome", .string(e.outcome.rawValue)),
            ]
        case .stageFinished(let stage, let status, let values, let masked, let note):
            return [("stage", .string(stage)), ("status", .string(status.rawValue)), ("outputs", outputs(values))]
                + (masked.isEmpty ? [] : [("masked", .array(masked.map(JSONValue.string)))])
                + (note.map { [("note", JSONValue.string($0))] } ?? [])
        case .stageSkipped(let stage, let condition, let reason):
            return [("stage", .string(stage))] + (condition.map { [("condition", JSONValue.string($0))] } ?? []) + [("reason", .string(reason))]
        case .outputsRecorded(let stage, let values, let masked):
            return [("stage", .string(stage)), ("outputs", outputs(values))]
                + (masked.isEmpty ? [] : [("masked", .array(masked.map(JSONValue.string)))])
        case .backup(let stage, let attempt, let path, let bytes):
            return [("stage", .string(stage)), ("attempt", .int(attempt)), ("path", .string(path)), ("bytes", .int(bytes))]
        case .runWaiting(let stage, let reason, let message):
            return [("stage", .string(stage)), ("reason", .string(reason)), ("message", .string(message))]
        case .rollbackBegun(let queue, let failedStage):
            return [("queue", .array(queue.map(JSONValue.string)))] + (failedStage.map { [("failed_stage", JSONValue.string($0))] } ?? [])
        case .rollbackStarted(let stage):
            return [("stage", .string(stage))]
        case .rollbackFinished(let stage, let status, let method):
            return [("stage", .string(stage)), ("status", .string(status.rawValue))] + (method.map { [("method", JSONValue.string($0))] } ?? [])
        case .runFinished(let status, let remaining, let note, let failedStage):
            var f: [(String, JSONValue)] = [("status", .string(status.rawValue))]
            if let remaining { f.append(("remaining", .array(remaining.map(JSONValue.string)))) }
            if let note { f.append(("note", .string(note))) }
            if let failedStage { f.append(("failed_stage", .string(failedStage))) }
            return f
        case .runInterrupted, .unknown:
            return []
        case .probe(let s, let stage, let attempt, let url, let status, let error, let ms, let ok):
            return stamp(s) + [
                ("stage", .string(stage)), ("attempt", .int(attempt)), ("url", .string(url)),
                ("status", status.map(JSONValue.int) ?? .null), ("error", optional(error)), ("ms", .int(ms)), ("ok", .bool(ok)),
            ]
        case .measurement(let s, let stage, let step, let metric, let value, let bound, let verdict, let reason, let warnings):
            return stamp(s) + [
                ("stage", .string(stage)), ("step", .int(step)), ("metric", .string(metric)),
                ("value", value.map(JSONValue.double) ?? .null), ("bound", optional(bound)), ("verdict", .string(verdict)),
            ]
                + (reason.map { [("reason", JSONValue.string($0))] } ?? [])
                + (warnings.isEmpty ? [] : [("warnings", .array(warnings.map(JSONValue.string)))])
        case .analysisPaused(let s, let stage, let step, let reason):
            return stamp(s) + [("stage", .string(stage)), ("step", .int(step)), ("reason", .string(reason))]
        case .control(let stage, let action, let request, let by):
            return [("stage", .string(stage)), ("action", .string(action)), ("request", .string(request)), ("by", .string(by))]
        case .traffic(let s, let stage, let percent):
            return stamp(s) + [("stage", .string(stage)), ("percent", .int(percent))]
        case .colors(let stage, let live, let idle, let decidedBy):
            return [("stage", .string(stage)), ("live", .string(live)), ("idle", .string(idle)), ("decided_by", optional(decidedBy))]
        case .colorSwitch(let stage, let color):
            return [("stage", .string(stage)), ("color", .string(color))]
        case .hook(let s, let name, let event, let ok, let detail, let ms):
            return stamp(s) + [("hook", .string(name)), ("event", .string(event)), ("ok", .bool(ok)), ("detail", .string(detail)), ("ms", .int(ms))]
        }
    }

    /// The journal line (without its newline).
    func line(time: String, clockMs: Int) -> JSONValue {
        .object([("type", .string(kind?.rawValue ?? "unknown")), ("time", .string(time)), ("clock_ms", .int(clockMs))] + fields)
    }

    /// Appends the UTF-8 of ``line(time:clockMs:)`` to `out`, written straight from the fields.
    func writeLine(to out: inout [UInt8], time: String, clockMs: Int) {
        JSON.append("{\"type\":", to: &out)
        JSON.appendQuoted(kind?.rawValue ?? "unknown", to: &out)
        JSON.append(",\"time\":", to: &out)
        JSON.appendQuoted(time, to: &out)
        JSON.append(",\"clock_ms\":", to: &out)
        JSON.appendDecimal(clockMs, to: &out)
        let fields = fields
        if !fields.isEmpty { out.append(UInt8(ascii: ",")) }
        JSONValue.writeMembers(fields, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// A batch of events stamped alike: the text to append (a line each) and its lines as strings
    /// (what ``EngineOutput/journaled(_:)`` is given).
    static func encode(_ events: [JournalEvent], time: String, clockMs: Int) -> (text: [UInt8], lines: [String]) {
        var text: [UInt8] = []
        text.reserveCapacity(256 * events.count)
        var lines: [String] = []
        lines.reserveCapacity(events.count)
        for event in events {
            let start = text.count
            event.writeLine(to: &text, time: time, clockMs: clockMs)
            lines.append(String(decoding: text[start...], as: UTF8.self))
            text.append(UInt8(ascii: "\n"))
        }
        return (text, lines)
    }

    /// The same event with every free-text value masked (probe URLs and errors can carry a token).
    func masked(_ mask: (String) -> String) -> JournalEvent {
        switch self {
        case .probe(let s, let stage, let attempt, let url, let status, let error, let ms, let ok):
            return .probe(s, stage: stage, attempt: attempt, url: mask(url), status: status, error: error.map(mask), ms: ms, ok: ok)
        case .measurement(let s, let stage, let step, let metric, let value, let bound, let verdict, let reason, let warnings):
            return .measurement(
                s, stage: stage, step: step, metric: metric, value: value, bound: bound.map(mask), verdict: verdict, reason: reason.map(mask),
                warnings: warnings.map(mask))
        case .analysisPaused(let s, let stage, let step, let reason):
            return .analysisPaused(s, stage: stage, step: step, reason: mask(reason))
        case .runWaiting(let stage, let reason, let message):
            return .runWaiting(stage: stage, reason: reason, message: mask(message))
        case .runFinished(let status, let remaining, let note, let failedStage):
            return .runFinished(status: status, remaining: remaining, note: note.map(mask), failedStage: failedStage)
        case .hook(let s, let name, let event, let ok, let detail, let ms):
            return .hook(s, name: name, event: event, ok: ok, detail: mask(detail), ms: ms)
        default:
            return self
        }
    }
}

/// A journal line read back: the event, and when it was made durable.
public struct JournalRecord: Sendable {
    public var event: JournalEvent
    public var time: String
    public var clockMs: Int
}

extension JournalRecord {
    /// Decodes one journal line. Fields a version of `pipeline` did not write get their documented
    /// defaults, so journals of earlier versions replay; nil when the line has no `type`.
    public init?(json: JSONValue) {
        guard let type = json["type"]?.string else { return nil }
        let time = json["time"]?.string ?? ""
        let clockMs = json["clock_ms"]?.int ?? 0
        self.time = time
        self.clockMs = clockMs
        let stage = json["stage"]?.string ?? ""
        let phase = AttemptPhase(rawValue: json["phase"]?.string ?? "") ?? .run
        let attempt = json["attempt"]?.int ?? 0
        func pairs(_ value: JSONValue?) -> [(String, String)] {
            guard case .object(let fields)? = value else { return [] }
            return fields.compactMap { key, value in value.string.map { (key, $0) } }
        }
        func stamp() -> JournalEvent.NativeStamp { .init(at: json["at"]?.string ?? time, atMs: json["at_ms"]?.int ?? clockMs) }
        guard let kind = JournalEvent.Kind(rawValue: type) else {
            event = .unknown(type: type)
            return
        }
        switch kind {
        case .runStarted:
            event = .runStarted(
                .init(
                    run: json["run"]?.string ?? "", pipeline: json["pipeline"]?.string ?? "", file: json["file"]?.string ?? "",
                    workdir: json["workdir"]?.string ?? "", fileHash: json["file_sha256"]?.string ?? "", pid: json["pid"]?.int ?? 0,
                    host: json["host"]?.string ?? "", boot: json["boot"]?.string ?? "", sequence: json["sequence"]?.int ?? 0,
                    definition: RunDefinition(json: json["definition"] ?? .null), environment: json["environment"]?.string,
                    release: json["release"]?.string, inputs: pairs(json["inputs"]), requiresSkipped: json["requires_skipped"]?.string))
        case .runResumed:
            event = .runResumed(
                pid: json["pid"]?.int ?? 0, host: json["host"]?.string ?? "", boot: json["boot"]?.string ?? "",
                purpose: json["purpose"]?.string.flatMap(ResumePurpose.init(rawValue:)), forced: json["forced"]?.bool,
                definition: json["definition"].map(RunDefinition.init(json:)), fileHash: json["file_sha256"]?.string)
        case .stageApproved:
            event = .stageApproved(stage: stage, by: json["by"]?.string ?? "")
        case .gatePassed:
            event = .gatePassed(stage: stage, gate: json["gate"]?.string ?? "", ms: json["ms"]?.int)
        case .attemptStarted:
            event = .attemptStarted(stage: stage, phase: phase, attempt: attempt, log: json["log"]?.string ?? "")
        case .processStarted:
            event = .processStarted(stage: stage, phase: phase, attempt: attempt, pgid: json["pgid"]?.int ?? 0)
        case .attemptFinished:
            event = .attemptFinished(
                .init(
                    stage: stage, phase: phase, attempt: attempt, exitCode: json["exit_code"]?.int, signal: json["signal"]?.string,
                    durationMs: json["duration_ms"]?.int ?? 0, outcome: AttemptOutcome(rawValue: json["outcome"]?.string ?? "") ?? .failed))
        case .stageFinished:
            event = .stageFinished(
                stage: stage, status: RunState.StageStatus(rawValue: json["status"]?.string ?? "") ?? .failed,
                outputs: pairs(json["outputs"]), masked: json["masked"]?.strings ?? [], note: json["note"]?.string)
        case .stageSkipped:
            event = .stageSkipped(stage: stage, condition: json["condition"]?.string, reason: json["reason"]?.string ?? "")
        case .outputsRecorded:
            event = .outputsRecorded(stage: stage, outputs: pairs(json["outputs"]), masked: json["masked"]?.strings ?? [])
        case .backup:
            event = .backup(stage: stage, attempt: attempt, path: json["path"]?.string ?? "", bytes: json["bytes"]?.int ?? 0)
        case .runWaiting:
            event = .runWaiting(stage: stage, reason: json["reason"]?.string ?? "", message: json["message"]?.string ?? "")
        case .rollbackBegun:
            event = .rollbackBegun(queue: json["queue"]?.strings ?? [], failedStage: json["failed_stage"]?.string)
        case .rollbackStarted:
            event = .rollbackStarted(stage: stage)
        case .rollbackFinished:
            event = .rollbackFinished(
                stage: stage, status: RollbackStatus(rawValue: json["status"]?.string ?? "") ?? .rollbackFailed,
                method: json["method"]?.string)
        case .runFinished:
            event = .runFinished(
                status: RunState.Status(rawValue: json["status"]?.string ?? "") ?? .failed, remaining: json["remaining"]?.strings,
                note: json["note"]?.string, failedStage: json["failed_stage"]?.string)
        case .runInterrupted:
            event = .runInterrupted
        case .probe:
            event = .probe(
                stamp(), stage: stage, attempt: attempt, url: json["url"]?.string ?? "", status: json["status"]?.int,
                error: json["error"]?.string, ms: json["ms"]?.int ?? 0, ok: json["ok"]?.bool ?? false)
        case .measurement:
            let value: Double? = {
                switch json["value"] {
                case .double(let d)?: return d
                case .int(let i)?: return Double(i)
                default: return nil
                }
            }()
            event = .measurement(
                stamp(), stage: stage, step: json["step"]?.int ?? 0, metric: json["metric"]?.string ?? "",
                value: value, bound: json["bound"]?.string, verdict: json["verdict"]?.string ?? "", reason: json["reason"]?.string,
                warnings: json["warnings"]?.strings ?? [])
        case .traffic:
            event = .traffic(stamp(), stage: stage, percent: json["percent"]?.int ?? 0)
        case .analysisPaused:
            event = .analysisPaused(stamp(), stage: stage, step: json["step"]?.int ?? 0, reason: json["reason"]?.string ?? "")
        case .control:
            event = .control(
                stage: stage, action: json["action"]?.string ?? "", request: json["request"]?.string ?? "", by: json["by"]?.string ?? "")
        case .colors:
            event = .colors(
                stage: stage, live: json["live"]?.string ?? "", idle: json["idle"]?.string ?? "", decidedBy: json["decided_by"]?.string)
        case .colorSwitch:
            event = .colorSwitch(stage: stage, color: json["color"]?.string ?? "")
        case .hook:
            event = .hook(
                stamp(), name: json["hook"]?.string ?? "", event: json["event"]?.string ?? "", ok: json["ok"]?.bool ?? false,
                detail: json["detail"]?.string ?? "", ms: json["ms"]?.int ?? 0)
        }
    }
}
