internal import CSystem
import FoundationEssentials
import Glibc
import PipelineSpec

/// The engine running a pipeline file: its stages, their needs and gates, retries, outputs and
/// approval prompts, on top of what ``Engine`` does from the recorded run alone (the loop, the
/// journal, processes, signals, timers and rollback).
final class DeployEngine: Engine {
    let pipeline: Pipeline
    let graph: StageGraph
    var stages: [StageExec] = []
    /// Stages whose needs have all succeeded and that have not ended, in graph order: the only
    /// ones the loop looks at, so each step costs what is in flight, not the pipeline's size.
    var openStages: [Int] = []
    var openDirty = false
    var unmetNeeds: [Int] = []
    var succeededCount = 0
    /// Stages skipped by `if:` (or for reading a skipped stage's output).
    var skippedCount = 0
    var positionInOrder: [Int] = []
    /// How many stages run at once (``EngineOptions/maxParallel`` within the descriptor limit).
    var maxParallel = 1
    /// The approval prompt on screen, if any.
    var prompt: ApprovalPrompt?
    /// When the engine last looked for operator requests (engine clock).
    var lastControlPoll = Int.min / 2
    /// Stages an operator aborted: they fail without a retry.
    var abortedByOperator = Set<Int>()

    init(pipeline: Pipeline, graph: StageGraph, run: RunState, store: any StateStore, options: EngineOptions, output: EngineOutput, clock: EngineClock) {
        self.pipeline = pipeline
        self.graph = graph
        stages = pipeline.stages.map { _ in StageExec() }
        super.init(run: run, store: store, options: options, output: output, clock: clock)
    }

    override func prepareLoop() {
        maxParallel = parallelismWithinDescriptorLimit()
        positionInOrder = [Int](repeating: 0, count: stages.count)
        for (position, node) in graph.order.enumerated() { positionInOrder[node] = position }
        // A skipped stage counts as done for the stages that need it.
        unmetNeeds = graph.needs.map { $0.filter { stages[$0].phase != .succeeded && stages[$0].phase != .skipped }.count }
        succeededCount = stages.filter { $0.phase == .succeeded }.count
        skippedCount = stages.filter { $0.phase == .skipped }.count
        openStages = graph.order.filter { unmetNeeds[$0] == 0 && ![.succeeded, .failed, .skipped].contains(stages[$0].phase) }
    }

    override func advanceDeploy(now: Int) throws(EngineError) -> Bool {
        try pollControl(now: now)
        let progressed = try advanceStages(now: now)
        try checkRunEnd()
        return progressed
    }

    override func stopParked() throws(EngineError) { try stopParkedSwitches() }

    override var awaitingAnswer: Bool { prompt != nil }

    override func readAnswer() { readApproval() }

    override func dropPrompt() {
        guard let prompt else { return }
        // The run is stopping, failing or interrupted: the question no longer stands.
        output.note("")
        output.note("[\(pipeline.stages[prompt.node].id)] approval no longer asked: the run is stopping")
        stages[prompt.node].phase = .pending
        self.prompt = nil
    }

    override func deployTimers() -> [Int] {
        var earliest: Int?
        for node in openStages {
            switch stages[node].phase {
            case .gateTimer(let until), .retryDelay(let until, _): earliest = min(earliest ?? until, until)
            default: continue
            }
        }
        return (earliest.map { [$0] } ?? []) + controlTimer()
    }

    override func stageJobFinished(_ node: Int, gateCheck: Bool, _ child: ChildProcess) throws(EngineError) {
        if gateCheck { try gateCheckFinished(node, child) } else { try actionFinished(node, child) }
    }

    override func taskReported(_ task: NativeTask, node: Int) throws(EngineError) { try collect(task, node: node) }

    override func stageID(of node: Int) -> String { pipeline.stages[node].id }

    override func writeStageLog(_ node: Int, _ text: String) -> String? { stages[node].log.write(text) }
}

extension DeployEngine {
    func prepareResume(changed: StageChanges?, source: [UInt8]) throws(EngineError) -> Int32 {
        // Stages that were running when the engine died: re-run (idempotent), or stop for a decision.
        let wasRunning = run.stages.filter { $0.status == .running }.map(\.id)
        if let changed { output.note("warning: resuming run \(run.run) on a changed file (--force): \(changed.summary)") }
        record(
            .runResumed(
                pid: Int(getpid()), host: Host.name, boot: Host.bootID, purpose: .resume, forced: options.force,
                definition: changed.map { _ in RunDefinition(pipeline) }, fileHash: changed.map { _ in Hashing.sha256(source) }))
        for id in wasRunning where options.assumeDone.contains(id) {
            record(.stageFinished(stage: id, status: .succeeded, outputs: [], masked: [], note: "assumed done by a person"))
        }
        try flush()
        // Records are matched by stage id, never by position: the file may have been reordered.
        for (i, stage) in pipeline.stages.enumerated() {
            guard let record = run.stage(stage.id) else { continue }
            stages[i].attempt = record.attempts.count
            stages[i].checkNumberBase = record.gateChecks
            stages[i].approvalDone = record.approved
            if record.status == .succeeded { stages[i].phase = .succeeded }
            // A skipped stage stays skipped; one that started (or was approved) was decided to run.
            if record.status == .skipped { stages[i].phase = .skipped }
            stages[i].conditionDone = record.status == .skipped || !record.attempts.isEmpty || record.approved || record.gateChecks > 0
            if wasRunning.contains(stage.id), !stage.idempotent, !options.rerun.contains(stage.id), !options.assumeDone.contains(stage.id) {
                state = .stopping(
                    stage: stage.id, reason: "decision",
                    message:
                        "stage '\(stage.id)' was running when the engine stopped and is not idempotent: check the target, then resume with --rerun \(stage.id) or --assume-done \(stage.id)"
                )
            }
        }
        output.note("resuming run \(run.run) of '\(run.pipeline)'")
        return execute()
    }

    /// How many stages may run at once: `--max-parallel`, capped so every running stage can have its
    /// pipe and log (the soft descriptor limit is first raised to the hard one, as servers do).
    func parallelismWithinDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return options.maxParallel }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = min(limit.rlim_max, 1 << 20)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
        let free = Int(clamping: limit.rlim_cur) - open - EngineDefaults.reservedDescriptors
        let allowed = max(1, free / EngineDefaults.descriptorsPerStage)
        guard allowed < options.maxParallel else { return options.maxParallel }
        output.note(
            "warning: --max-parallel \(options.maxParallel) lowered to \(allowed): the descriptor limit (ulimit -n \(limit.rlim_cur)) leaves room for \(allowed) stage\(allowed == 1 ? "" : "s") at once"
        )
        return allowed
    }

    /// Reads what was typed at the approval prompt; a whole line answers it (end of input: no one
    /// can answer, the run stops at the gate).
    func readApproval() {
        guard var prompt else { return }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = read(0, &buffer, buffer.count)
        if n < 0 && (errno == EINTR || errno == EAGAIN) { return }
        if n > 0 { prompt.typed.append(contentsOf: buffer[0..<n]) }
        let node = prompt.node
        if let newline = prompt.typed.firstIndex(of: UInt8(ascii: "\n")) {
            let answer = String(decoding: prompt.typed[..<newline], as: UTF8.self).trimmedSpaces.lowercased()
            stages[node].approvalAnswer = answer == "y" || answer == "yes"
        } else if n <= 0 {
            let stage = stageID(.action(stage: node))
            stop(
                stage, reason: "approval",
                message: "stage '\(stage)' needs approval (no answer: standard input closed); continue with 'pipeline resume \(run.run) --approve \(stage)'")
        } else {
            self.prompt = prompt
            return
        }
        stages[node].phase = .pending
        self.prompt = nil
    }

    /// A stage ended: it leaves the open set; on success (or skipped) its dependents may join it.
    func stageEnded(_ node: Int, succeeded: Bool, skipped: Bool = false) {
        stages[node].phase = skipped ? .skipped : succeeded ? .succeeded : .failed
        openStages.removeAll { $0 == node }
        if skipped {
            skippedCount += 1
        } else if succeeded {
            succeededCount += 1
        } else {
            return
        }
        for dependent in graph.dependents(of: node) {
            unmetNeeds[dependent] -= 1
            if unmetNeeds[dependent] == 0 {
                openStages.append(dependent)
                openDirty = true
            }
        }
    }
}
