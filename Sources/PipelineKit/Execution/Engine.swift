import CSystem
import Foundation

/// A log file created on the first line written (0600), so an attempt that prints nothing costs no inode.
struct LazyLog {
    private(set) var path = ""
    private var fd: Int32 = -1

    /// Starts a new log at `path` (closing the previous one).
    mutating func reset(_ path: String) {
        close()
        self.path = path
    }

    mutating func write(_ text: String) {
        guard !path.isEmpty else { return }
        if fd < 0 { fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { return }
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// Runs a pipeline: starts stages as real processes when their needs have succeeded, gates,
/// retries and times them out, rolls back completed stages in reverse order on failure, and
/// records every state change in the journal before acting on it.
///
/// One thread owns all state: a `poll` loop over the children's output pipes and a signalfd
/// (SIGCHLD, SIGINT, SIGTERM, SIGHUP), with timers on the injected ``EngineClock``. No state is
/// shared, so no locks are needed, and a virtual clock can skip idle waits deterministically.
public final class Engine {
    /// The phases of the whole run.
    enum State: Equatable {
        /// Starting stages as their needs succeed.
        case running
        /// A gate stopped the run: no new stage starts; exits 4 once running ones end.
        case stopping(stage: String, reason: String, message: String)
        /// A stage failed: no new stage starts; rollback begins once running ones end.
        case failing
        /// Undoing completed stages one by one, newest first.
        case rollingBack
        /// SIGINT/SIGTERM: every process group is being stopped.
        case interrupting
        case finished(Int32)
    }

    /// What a stage is doing.
    enum Phase: Equatable {
        case pending
        /// Waiting for a gate timer (`wait`, a closed `window`).
        case gateTimer(until: Int)
        /// A gate `check` script runs.
        case gateCheck
        /// Gates passed; waits for a free slot.
        case ready
        /// An attempt runs (action index within the attempt).
        case running(action: Int)
        /// Between attempts (or gate-check tries).
        case retryDelay(until: Int, gateCheck: Bool)
        case succeeded, failed
    }

    /// What a running child process is for.
    enum Purpose {
        case action(stage: Int)
        case gateCheck(stage: Int)
        case rollback(stage: String)
    }

    struct StageExec {
        var phase: Phase = .pending
        var attempt = 0
        var checkTries = 0
        /// Gate-check tries journaled before a resume: numbers (and log names) continue after them.
        var checkNumberBase = 0
        var waitDone = false
        var windowDone = false
        var approvalDone = false
        var checkDone = false
        var log = LazyLog()
        var outputsPath = ""
        var actions: [Action] = []
        /// Where a migrate stage's backup script writes its artifact this attempt (`PIPELINE_BACKUP_PATH`).
        var backupPath: String?
    }

    let pipeline: Pipeline?
    let graph: StageGraph?
    let options: EngineOptions
    let output: EngineOutput
    let clock: EngineClock
    let store: JournalStore
    let masker: SecretMasker
    var state: State = .running
    var run: RunState
    var journal: JournalWriter!
    var lock: StateLock?
    var pendingEvents: [(type: String, fields: [(String, JSONValue)])] = []
    var stages: [StageExec] = []
    /// Stages whose needs have all succeeded and that have not ended, in graph order: the only
    /// ones the loop looks at, so each step costs what is in flight, not the pipeline's size.
    var openStages: [Int] = []
    var openDirty = false
    var unmetNeeds: [Int] = []
    var succeededCount = 0
    var positionInOrder: [Int] = []
    var jobs: [pid_t: (child: ChildProcess, purpose: Purpose)] = [:]
    /// Native work in flight (probes, canary, verify), by the fd it reports on.
    var tasks: [Int32: (task: NativeTask, node: Int)] = [:]
    /// Whether any child or native task is in flight.
    var busy: Bool { !jobs.isEmpty || !tasks.isEmpty }
    var signalFD: Int32 = -1
    var rollbackQueue: [String] = []
    /// The stage whose failure started the rollback (nil for `pipeline rollback`).
    var failedStage: String?
    var rollbackAttempt = 0
    /// The stage at the head of the rollback queue is being undone by restoring its backup.
    var restoring = false
    var rollbackWake: Int?
    var rollbackLog = LazyLog()
    var interruptCount = 0
    var exitCode: Int32 = 0

    var runDirectory: String { store.runDirectory(run.run) }

    init(pipeline: Pipeline?, graph: StageGraph?, run: RunState, options: EngineOptions, output: EngineOutput, clock: EngineClock) {
        self.pipeline = pipeline
        self.graph = graph
        self.options = options
        self.output = output
        self.clock = clock
        self.run = run
        store = JournalStore(root: options.stateDirectory)
        masker = SecretMasker(run.definition.secrets.compactMap { name in options.environment[name].map { (name, $0) } })
        stages = (pipeline?.stages ?? []).map { _ in StageExec() }
    }

    // MARK: - Entry points

    /// Runs a validated pipeline from the start.
    /// - Returns: the exit status (see ``ExitStatus``).
    public static func run(_ loaded: LoadedPipeline, options: EngineOptions, output: EngineOutput) -> Int32 {
        let clock = EngineClock(virtual: options.virtualClock, wallStart: options.wallStart)
        let runID = JournalStore.newRunID(clock: clock)
        let workdir = options.workingDirectory
        let file = loaded.pipeline.path.hasPrefix("/") ? loaded.pipeline.path : workdir + "/" + loaded.pipeline.path
        let state = RunState(
            run: runID, pipeline: loaded.pipeline.name, file: file, workdir: workdir,
            fileHash: Hashing.sha256(loaded.source), started: clock.timestamp(), ended: nil, status: .running,
            pid: Int(getpid()), waiting: nil,
            stages: loaded.pipeline.stages.map { .init(id: $0.id, status: .pending, attempts: [], outputs: [], rollback: nil, approved: false) },
            completionOrder: [], definition: RunDefinition(loaded.pipeline), remaining: [], rollbackNote: nil)
        let engine = Engine(pipeline: loaded.pipeline, graph: loaded.graph, run: state, options: options, output: output, clock: clock)
        do throws(EngineError) {
            engine.lock = try StateLock(store: engine.store, pipeline: state.pipeline, run: runID, wait: options.waitForLock)
            try JournalStore.makeDirectory(engine.runDirectory + "/logs")
            try JournalStore.makeDirectory(engine.runDirectory + "/outputs")
            engine.journal = try JournalWriter(path: engine.runDirectory + "/events.jsonl", clock: clock)
            engine.record("run_started", [
                ("run", .string(runID)), ("pipeline", .string(state.pipeline)), ("file", .string(file)), ("workdir", .string(workdir)),
                ("file_sha256", .string(state.fileHash)), ("pid", .int(Int(getpid()))), ("definition", state.definition.json),
            ], apply: false)
            try engine.flush()
        } catch {
            output.note("error: \(error.message)")
            return error.exitCode
        }
        for name in engine.masker.unmaskable {
            output.note("warning: secret '\(name)' is shorter than \(SecretMasker.minimumLength) characters and cannot be masked in output")
        }
        output.note("run \(runID) of '\(state.pipeline)' (\(loaded.pipeline.stages.count) stages); journal: \(engine.runDirectory)")
        return engine.execute()
    }

    /// Continues an interrupted or waiting run: succeeded stages are not run again.
    public static func resume(runID: String?, options: EngineOptions, output: EngineOutput) -> Int32 {
        let store = JournalStore(root: options.stateDirectory)
        let clock = EngineClock(virtual: options.virtualClock, wallStart: options.wallStart)
        do throws(EngineError) {
            let id: String
            if let runID { id = runID } else { id = try latest(store) }
            let lockProbe = try store.load(id)
            let lock = try StateLock(store: store, pipeline: lockProbe.pipeline, run: id, wait: options.waitForLock)
            let state = try store.load(id)  // again, under the lock
            switch state.status {
            case .interrupted, .waiting, .running: break
            default: throw EngineError("run \(id) finished as '\(state.status.rawValue)'; there is nothing to resume (start a new run, or 'pipeline rollback \(id)')")
            }
            let loaded: LoadedPipeline
            do {
                loaded = try PipelineLoader.load(path: state.file)
            } catch {
                throw EngineError("cannot resume run \(id): its pipeline file '\(state.file)' no longer validates:\n" + error.diagnostics.map(\.headline).joined(separator: "\n"))
            }
            if Hashing.sha256(loaded.source) != state.fileHash && !options.force {
                throw EngineError("the pipeline file '\(state.file)' changed since run \(id) started; resuming would mix two versions (pass --force to resume anyway)")
            }
            var options = options
            options.workingDirectory = state.workdir
            let engine = Engine(pipeline: loaded.pipeline, graph: loaded.graph, run: state, options: options, output: output, clock: clock)
            engine.lock = lock
            engine.journal = try JournalWriter(path: engine.runDirectory + "/events.jsonl", clock: clock)
            return try engine.prepareResume()
        } catch {
            output.note("error: \(error.message)")
            return error.exitCode
        }
    }

    /// Undoes the applied stages of a finished run, newest first, from its journal alone.
    public static func rollback(runID: String?, options: EngineOptions, output: EngineOutput) -> Int32 {
        let store = JournalStore(root: options.stateDirectory)
        let clock = EngineClock(virtual: options.virtualClock, wallStart: options.wallStart)
        do throws(EngineError) {
            let id: String
            if let runID { id = runID } else { id = try latest(store) }
            let probe = try store.load(id)
            let lock = try StateLock(store: store, pipeline: probe.pipeline, run: id, wait: options.waitForLock)
            var state = try store.load(id)
            if state.status == .rolledBack {
                throw EngineError("run \(id) is already rolled back", exitCode: 0)
            }
            var options = options
            options.workingDirectory = state.workdir
            state.status = .running
            let engine = Engine(pipeline: nil, graph: nil, run: state, options: options, output: output, clock: clock)
            engine.lock = lock
            engine.journal = try JournalWriter(path: engine.runDirectory + "/events.jsonl", clock: clock)
            engine.record("run_resumed", [("pid", .int(Int(getpid()))), ("purpose", .string("rollback"))])
            try engine.flush()
            output.note("rolling back run \(id) of '\(state.pipeline)'")
            engine.beginRollback(failed: nil)
            return engine.execute()
        } catch {
            output.note(error.exitCode == 0 ? error.message : "error: \(error.message)")
            return error.exitCode
        }
    }

    static func latest(_ store: JournalStore) throws(EngineError) -> String {
        guard let id = store.runIDs().last else { throw EngineError("no runs recorded in '\(store.root)'") }
        return id
    }

    func prepareResume() throws(EngineError) -> Int32 {
        // Stages that were running when the engine died: re-run (idempotent), or stop for a decision.
        let wasRunning = run.stages.filter { $0.status == .running }.map(\.id)
        record("run_resumed", [("pid", .int(Int(getpid()))), ("forced", .bool(options.force))])
        for id in wasRunning where options.assumeDone.contains(id) {
            record("stage_finished", [("stage", .string(id)), ("status", .string("succeeded")), ("outputs", .object([])), ("note", .string("assumed done by a person"))])
        }
        try flush()
        for (i, stage) in pipeline!.stages.enumerated() {
            let record = run.stages[i]
            stages[i].attempt = record.attempts.count
            stages[i].checkNumberBase = record.gateChecks
            stages[i].approvalDone = record.approved
            if record.status == .succeeded { stages[i].phase = .succeeded }
            if wasRunning.contains(stage.id), !stage.idempotent, !options.rerun.contains(stage.id), !options.assumeDone.contains(stage.id) {
                state = .stopping(stage: stage.id, reason: "decision",
                                  message: "stage '\(stage.id)' was running when the engine stopped and is not idempotent: check the target, then resume with --rerun \(stage.id) or --assume-done \(stage.id)")
            }
        }
        output.note("resuming run \(run.run) of '\(run.pipeline)'")
        return execute()
    }

    // MARK: - Journal

    /// Queues an event and applies it to the in-memory state (the same code replay uses).
    func record(_ type: String, _ fields: [(String, JSONValue)], apply: Bool = true) {
        pendingEvents.append((type, fields))
        if apply {
            run.apply(.object([("type", .string(type)), ("time", .string(clock.timestamp())), ("clock_ms", .int(clock.now()))] + fields))
        }
    }

    /// Makes queued events durable; called before any action that depends on them.
    func flush() throws(EngineError) {
        guard !pendingEvents.isEmpty else { return }
        try journal.append(pendingEvents)
        pendingEvents.removeAll(keepingCapacity: true)
    }

    // MARK: - The loop

    func execute() -> Int32 {
        if let graph {
            positionInOrder = [Int](repeating: 0, count: stages.count)
            for (position, node) in graph.order.enumerated() { positionInOrder[node] = position }
            unmetNeeds = graph.needs.map { $0.filter { stages[$0].phase != .succeeded }.count }
            succeededCount = stages.filter { $0.phase == .succeeded }.count
            openStages = graph.order.filter { unmetNeeds[$0] == 0 && stages[$0].phase != .succeeded && stages[$0].phase != .failed }
        }
        signalFD = ps_signalfd_open()
        defer {
            if signalFD >= 0 { close(signalFD) }
        }
        do {
            while true {
                if case .finished(let code) = state {
                    try flush()
                    store.writeSnapshot(run)
                    output.runEnded(run)
                    return code
                }
                try step()
                try flush()
                if case .finished = state { continue }
                try wait()
            }
        } catch {
            // The journal cannot be written: stop every process, say so, exit 3 (a human must look).
            for (_, job) in jobs { job.child.signalGroup(SIGKILL) }
            output.note("error: \(error.message)")
            return ExitStatus.rollbackFailed
        }
    }

    /// Advances every stage and the run as far as possible without waiting.
    func step() throws(EngineError) {
        var progressed = true
        while progressed {
            progressed = false
            let now = clock.now()
            switch state {
            case .running, .stopping:
                progressed = try advanceStages(now: now)
                try checkRunEnd()
            case .failing:
                if !busy {
                    beginRollback(failed: failedStage ?? run.stages.last { $0.status == .failed }?.id)
                    progressed = true
                }
            case .rollingBack:
                progressed = try advanceRollback(now: now)
            case .interrupting:
                if !busy {
                    record("run_interrupted", [])
                    output.note("interrupted: every stage was stopped; continue with 'pipeline resume \(run.run)'")
                    state = .finished(ExitStatus.interrupted)
                }
            case .finished:
                return
            }
        }
    }

    /// Blocks until output, a child's exit, a signal or the next timer.
    func wait() throws(EngineError) {
        var timeout = nextTimer().map { max(0, $0 - clock.now()) }
        if let t = timeout, t > 0, clock.isVirtual, !busy {
            clock.skip(t)
            return
        }
        if timeout == nil && !busy { return }
        var fds = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
        var owners: [pid_t] = [0]
        for (pid, job) in jobs where !job.child.eof {
            fds.append(pollfd(fd: job.child.fd, events: Int16(POLLIN), revents: 0))
            owners.append(pid)
        }
        let firstTask = fds.count
        for fd in tasks.keys { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        if timeout == nil { timeout = -1 }
        let n = poll(&fds, nfds_t(fds.count), Int32(clamping: timeout!))
        if n < 0 && errno != EINTR { throw EngineError("poll failed: \(String(cString: strerror(errno)))", exitCode: 3) }
        for (i, pfd) in fds.enumerated() where pfd.revents != 0 && i > 0 && i < firstTask {
            if let job = jobs[owners[i]] { drain(job.child, job.purpose) }
        }
        for pfd in fds[firstTask...] where pfd.revents != 0 {
            if let entry = tasks[pfd.fd] { try collect(entry.task, node: entry.node) }
        }
        if fds[0].revents != 0 { handleSignals() }
        handleTimers()
        try collectFinishedJobs()
    }

    func nextTimer() -> Int? {
        var times: [Int] = []
        for (_, job) in jobs {
            if let d = job.child.deadline, !job.child.timedOut, job.child.exitStatus == nil { times.append(d) }
            if let t = job.child.terminatedAt, !job.child.killed { times.append(t + options.killGraceMs) }
        }
        for node in openStages {
            switch stages[node].phase {
            case .gateTimer(let until), .retryDelay(let until, _): times.append(until)
            default: break
            }
        }
        if let wake = rollbackWake { times.append(wake) }
        for (_, entry) in tasks where !entry.task.timedOut { if let d = entry.task.deadline { times.append(d) } }
        return times.min()
    }

    /// A stage ended: it leaves the open set; on success its dependents may join it.
    func stageEnded(_ node: Int, succeeded: Bool) {
        stages[node].phase = succeeded ? .succeeded : .failed
        openStages.removeAll { $0 == node }
        guard succeeded, let graph else { return }
        succeededCount += 1
        for dependent in graph.dependents[node] {
            unmetNeeds[dependent] -= 1
            if unmetNeeds[dependent] == 0 {
                openStages.append(dependent)
                openDirty = true
            }
        }
    }

    func handleSignals() {
        while true {
            let sig = ps_signalfd_read(signalFD)
            if sig <= 0 { break }
            if sig == SIGCHLD { continue }
            interruptCount += 1
            if interruptCount == 1 {
                output.note("received \(String(cString: ps_signal_name(sig))): stopping every stage (again to kill at once)")
                state = .interrupting
                for (_, job) in jobs { terminate(job.child) }
                for (_, entry) in tasks { entry.task.cancel() }
            } else {
                for (_, job) in jobs { job.child.signalGroup(SIGKILL); job.child.killed = true }
                for (_, entry) in tasks { entry.task.cancel() }
            }
        }
        reap()
    }

    /// Reaps the engine's own children (by pid: children of native tasks are theirs to reap).
    func reap() {
        var status: Int32 = 0
        for (pid, job) in jobs where job.child.exitStatus == nil {
            guard waitpid(pid, &status, WNOHANG) == pid else { continue }
            job.child.exitStatus = status
            // Nothing of the stage may outlive it: stop what is left of its group.
            if job.child.groupAlive, job.child.terminatedAt == nil { terminate(job.child) }
            drain(job.child, job.purpose)
        }
    }

    func handleTimers() {
        let now = clock.now()
        for (_, entry) in tasks {
            if let deadline = entry.task.deadline, now >= deadline, !entry.task.timedOut {
                entry.task.timedOut = true
                emit(.action(stage: entry.node), "timed out after \(TimeSpan(milliseconds: now - entry.task.startedAt)); stopping it")
                entry.task.cancel()
            }
        }
        for (_, job) in jobs {
            let child = job.child
            if let deadline = child.deadline, now >= deadline, child.exitStatus == nil, !child.timedOut {
                child.timedOut = true
                emit(job.purpose, "timed out after \(TimeSpan(milliseconds: now - child.startedAt)); stopping its process group")
                terminate(child)
            }
            if let t = child.terminatedAt, !child.killed, now >= t + options.killGraceMs {
                child.signalGroup(SIGKILL)
                child.killed = true
            }
        }
        reap()
    }

    func terminate(_ child: ChildProcess) {
        guard child.terminatedAt == nil else { return }
        child.signalGroup(SIGTERM)
        child.signalGroup(SIGCONT)
        child.terminatedAt = clock.now()
    }

    /// Reads a child's output into the terminal and its log, masked.
    func drain(_ child: ChildProcess, _ purpose: Purpose) {
        guard !child.eof else { return }
        let id = stageID(purpose)
        for line in child.readLines(masker: masker) {
            let masked = masker.mask(line)
            output.stageLine(stage: id, line: masked)
            writeLog(purpose, masked + "\n")
        }
    }

    func stageID(_ purpose: Purpose) -> String {
        switch purpose {
        case .action(let i), .gateCheck(let i): return pipeline!.stages[i].id
        case .rollback(let id): return id
        }
    }

    func writeLog(_ purpose: Purpose, _ text: String) {
        switch purpose {
        case .action(let i), .gateCheck(let i): stages[i].log.write(text)
        case .rollback: rollbackLog.write(text)
        }
    }

    func emit(_ purpose: Purpose, _ text: String) {
        let text = masker.mask(text)
        output.note("[\(stageID(purpose))] \(text)")
        writeLog(purpose, "pipeline: \(text)\n")
    }

    func collectFinishedJobs() throws(EngineError) {
        for (pid, job) in jobs where job.child.finished {
            jobs[pid] = nil
            switch job.purpose {
            case .action(let i): try actionFinished(i, job.child)
            case .gateCheck(let i): try gateCheckFinished(i, job.child)
            case .rollback(let id): try rollbackScriptFinished(id, job.child)
            }
        }
    }

    /// Starts a script as a child; the journal must already say it started.
    func spawn(_ script: String, shell: [String], environment: [String], timeoutMs: Int?, purpose: Purpose) throws(EngineError) -> ChildProcess {
        try flush()
        let child = try ChildProcess(argv: shell + [script], environment: environment, directory: options.workingDirectory, now: clock.now())
        if let t = timeoutMs { child.deadline = child.startedAt + t }
        jobs[child.pid] = (child, purpose)
        return child
    }

    func logPath(_ relative: String) -> String { runDirectory + "/" + relative }

    /// The delay before the next try, with up to ±25% jitter when the policy asks for it.
    func retryDelay(_ policy: RetryPolicy, after attempt: Int) -> Int {
        let base = policy.delay(afterAttempt: attempt).milliseconds
        guard policy.jitter, base > 0 else { return base }
        let spread = base / 4
        return min(policy.maxDelay.milliseconds, max(0, base + Int.random(in: -spread...spread)))
    }
}
