import PipelineSpec
internal import CSystem
import FoundationEssentials
import Glibc

/// A log file created on the first line written (0600), so an attempt that prints nothing costs no inode.
struct LazyLog {
    private(set) var path = ""
    private var fd: Int32 = -1

    /// Starts a new log at `path` (closing the previous one).
    mutating func reset(_ path: String) {
        close()
        self.path = path
    }

    /// Appends `text`; returns the error when the log cannot be opened or written (full disk, no
    /// descriptors), so the engine can say so instead of silently losing lines.
    @discardableResult
    mutating func write(_ text: String) -> String? {
        guard !path.isEmpty else { return nil }
        // Never follow a symlink planted where a log goes.
        if fd < 0 { fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard fd >= 0 else { return "cannot open the log '\(path)': \(String(cString: strerror(errno)))" }
        return Posix.writeAll(fd, text) ? nil : "cannot write the log '\(path)': \(String(cString: strerror(errno)))"
    }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// An approval question on screen: the stage it is for and what was typed so far.
struct ApprovalPrompt {
    var node: Int
    var typed: [UInt8] = []
}

/// Runs a pipeline: starts stages as real processes when their needs have succeeded, gates,
/// retries and times them out, rolls back completed stages in reverse order on failure, and
/// records every state change in the journal before acting on it.
///
/// One thread owns all state: a `poll` loop over the children's output pipes and a signalfd
/// (SIGCHLD, SIGINT, SIGTERM, SIGHUP), with timers on the injected ``EngineClock``. No state is
/// shared, so no locks are needed, and a virtual clock can skip idle waits deterministically.
public class Engine {
    /// The phases of the whole run, each with the data only it has.
    enum State {
        /// Starting stages as their needs succeed.
        case running
        /// A gate stopped the run: no new stage starts; exits 4 once running ones end.
        case stopping(stage: String, reason: String, message: String)
        /// `stage` failed: no new stage starts; rollback begins once running ones end.
        case failing(stage: String)
        /// Undoing stages one by one: what is left, and the try in flight.
        case rollingBack(RollbackProgress)
        /// SIGINT/SIGTERM/SIGHUP (`signals` so far): every process group is being stopped; a rollback
        /// that was in flight keeps its progress until its scripts have ended.
        case interrupting(signals: Int, rollback: RollbackProgress?)
        case finished(Int32)

        var isRunning: Bool { if case .running = self { return true } else { return false } }
        var isFailing: Bool { if case .failing = self { return true } else { return false } }
        var isInterrupting: Bool { if case .interrupting = self { return true } else { return false } }
        /// The rollback in progress (also while an interruption stops its script).
        var rollback: RollbackProgress? {
            switch self {
            case .rollingBack(let progress): return progress
            case .interrupting(_, let progress): return progress
            default: return nil
            }
        }
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
        /// Its approval prompt is shown; the answer is read from standard input by the loop.
        case awaitingApproval
        /// Between attempts (or gate-check tries).
        case retryDelay(until: Int, gateCheck: Bool)
        case succeeded, failed
        /// Will not run (`stage_skipped`); counts as done for the stages that need it.
        case skipped
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
        /// The answer typed at its prompt, until the gate takes it.
        var approvalAnswer: Bool?
        var checkDone = false
        /// Whether its `if:` (and the outputs it reads) were looked at: once, when it became ready.
        var conditionDone = false
        var log = LazyLog()
        var outputsPath = ""
        var actions: [Action] = []
        /// Where a migrate stage's backup script writes its artifact this attempt (`PIPELINE_BACKUP_PATH`).
        var backupPath: String?
        /// A blue-green stage's try waits before its switch for its `switch-after` stages.
        var parkedAtSwitch = false
    }

    let options: EngineOptions
    let output: EngineOutput
    let clock: EngineClock
    let store: any StateStore
    /// What starts the scripts' processes.
    let spawner: any ProcessSpawner
    let masker: SecretMasker
    var state: State = .running
    var run: RunState
    var journal: (any RunJournal)!
    var lock: (any PipelineLock)?
    var pendingEvents: [JournalEvent] = []
    var jobs: [pid_t: (child: ChildProcess, purpose: Purpose)] = [:]
    /// Native work in flight (probes, canary, verify), by the fd it reports on.
    var tasks: [Int32: (task: NativeTask, node: Int)] = [:]
    /// Scripts whose start is journaled but not yet durable, oldest first: each starts once its
    /// batch is (write-ahead), while the loop goes on reaping and preparing the next ones.
    var queuedLaunches: [QueuedLaunch] = []
    /// Whether the journal is synced in the background (real processes on the real clock); with
    /// simulated processes or a virtual clock every spawn syncs first, deterministically.
    let backgroundSync: Bool
    /// Whether any child or native task is in flight (or a script waits for its start to be durable).
    var busy: Bool { !jobs.isEmpty || !tasks.isEmpty || !queuedLaunches.isEmpty }
    var signalFD: Int32 = -1
    /// The rollback in progress, if any.
    var undo: RollbackProgress? { state.rollback }
    /// When the lease was last renewed (monotonic real ms; leases live in real time).
    var lastRenewal = 0
    /// Keys for scripts that could not start (negative, never a pid).
    var nextFailedSpawnToken: pid_t = -1
    /// Whether a log write failure was already reported (once per run).
    var reportedLogFailure = false
    /// The caller's environment without the declared secrets: what every script inherits (only an
    /// `env` binding passes a secret on). Fixed for the run.
    lazy var inheritedEnvironment: [String: String] = {
        var env = options.environment
        for name in run.definition.secrets { env[name] = nil }
        return env
    }()
    /// ``inheritedEnvironment`` as `NAME=value` entries, by name (rendered once per run).
    lazy var inheritedEntries: [(name: String, entry: String)] = inheritedEnvironment.map { ($0.key, $0.key + "=" + $0.value) }
    /// Where each name is in ``inheritedEntries``.
    lazy var inheritedPositions: [String: Int] = Dictionary(uniqueKeysWithValues: inheritedEntries.enumerated().map { ($0.element.name, $0.offset) })

    var runDirectory: String { store.localDirectory(run.run) }
    /// ``runDirectory`` as an absolute path (what scripts are told).
    lazy var absoluteRunDirectory: String = absolute(runDirectory)
    /// The variable names of the last script's environment, and what they replace (``EnvironmentPlan``).
    var environmentPlan: EnvironmentPlan?

    /// An engine that works from the recorded run alone (`pipeline rollback`, a resumed rollback);
    /// ``DeployEngine`` adds the pipeline file's stages.
    init(run: RunState, store: any StateStore, options: EngineOptions, output: EngineOutput, clock: EngineClock) {
        self.options = options
        self.output = output
        self.clock = clock
        self.run = run
        self.store = store
        spawner = options.spawner ?? SystemSpawner()
        backgroundSync = options.spawner == nil && !clock.isVirtual
        // The state URL is a secret too (it may carry a password): masked wherever output goes.
        masker = SecretMasker(
            run.definition.secrets.compactMap { name in options.environment[name].map { (name, $0) } }
                + (options.stateURL.map { url in [("--state", url)] + PostgresConnection.password(of: url).map { ("--state password", $0) } } ?? []))
    }

    // MARK: - What a deploy adds (``DeployEngine`` overrides these; a rollback alone has none)

    /// Sets up before the loop starts.
    func prepareLoop() {}
    /// Starts what can start, and ends the run when nothing is left; true when something changed.
    func advanceDeploy(now: Int) throws(EngineError) -> Bool { false }
    /// Whether an approval prompt waits for a line on standard input.
    var awaitingAnswer: Bool { false }
    /// Reads what was typed at the prompt.
    func readAnswer() {}
    /// The run stopped running: a prompt on screen no longer stands.
    func dropPrompt() {}
    /// The run stopped running: tries waiting for other stages (a blue-green switch) end.
    func stopParked() throws(EngineError) {}
    /// The deploy's own timers (gate waits, retry delays).
    func deployTimers() -> [Int] { [] }
    /// A stage's script, or its gate check, ended.
    func stageJobFinished(_ node: Int, gateCheck: Bool, _ child: ChildProcess) throws(EngineError) {}
    /// A stage's native work reported.
    func taskReported(_ task: NativeTask, node: Int) throws(EngineError) {}
    /// The id of stage `node` of the pipeline file.
    func stageID(of node: Int) -> String { "" }
    /// Appends to stage `node`'s current log; returns a write failure.
    func writeStageLog(_ node: Int, _ text: String) -> String? { nil }

    // MARK: - Entry points

    /// Runs a validated pipeline from the start.
    /// - Returns: the exit status (see ``ExitStatus``).
    public static func run(_ loaded: LoadedPipeline, options: EngineOptions, output: EngineOutput) -> Int32 {
        let clock = options.clock ?? EngineClock(virtual: options.virtualClock, wallStart: options.wallStart)
        let workdir = options.workingDirectory
        let file = loaded.pipeline.path.hasPrefix("/") ? loaded.pipeline.path : workdir + "/" + loaded.pipeline.path
        do throws(EngineError) {
            try checkSecrets(loaded.pipeline.secrets, options.environment)
            try checkApprovals(options.approved, loaded.pipeline)
            let requiresSkipped = try checkSkipRequires(options.skipRequires, loaded.pipeline)
            let store = try StateStores.open(options.stateURL ?? options.stateDirectory, localRoot: options.stateDirectory, leaseTTLms: options.leaseTTLms)
            if requiresSkipped == nil { try Promotion.check(loaded.pipeline, in: store) }
            let environment = loaded.pipeline.environment?.name
            let lock = try takeLock(
                store, pipeline: LockScope.key(pipeline: loaded.pipeline.name, environment: environment), run: "(starting)", options: options, output: output)
            let (runID, sequence) = try store.createRun(pipeline: loaded.pipeline.name, clock: clock)
            lock.describe(run: runID)
            var state = RunState(
                run: runID, pipeline: loaded.pipeline.name, file: file, workdir: workdir,
                fileHash: Hashing.sha256(loaded.hashedBytes), started: clock.timestamp(), ended: nil, status: .running,
                pid: Int(getpid()), waiting: nil,
                stages: loaded.pipeline.stages.map { .init(id: $0.id, status: .pending, attempts: [], outputs: [], rollback: nil, approved: false) },
                completionOrder: [], definition: RunDefinition(loaded.pipeline), remaining: [], rollbackNote: nil)
            state.environment = environment
            state.release = loaded.pipeline.release
            state.inputs = loaded.pipeline.inputValues.map { ($0.name, $0.value) }
            state.requiresSkipped = requiresSkipped
            let engine = DeployEngine(pipeline: loaded.pipeline, graph: loaded.graph, run: state, store: store, options: options, output: output, clock: clock)
            engine.lock = lock
            try PrivateFiles.makeDirectory(engine.runDirectory + "/logs")
            try PrivateFiles.makeDirectory(engine.runDirectory + "/outputs")
            engine.journal = try store.openJournal(run: runID, clock: clock)
            engine.record(
                .runStarted(
                    .init(
                        run: runID, pipeline: state.pipeline, file: file, workdir: workdir, fileHash: state.fileHash,
                        pid: Int(getpid()), host: Host.name, boot: Host.bootID, sequence: sequence, definition: state.definition,
                        environment: state.environment, release: state.release, inputs: state.inputs, requiresSkipped: requiresSkipped)), apply: false)
            try engine.flush()
            for name in engine.masker.unmaskable {
                output.note("warning: secret '\(name)' is shorter than \(SecretMasker.minimumLength) characters and cannot be masked in output")
            }
            if let requiresSkipped {
                output.note("warning: requires of '\(environment ?? "")' not checked (--skip-requires): \(requiresSkipped)")
            }
            let place = (environment.map { " in '\($0)'" } ?? "") + (state.release.map { ", release \($0)" } ?? "")
            output.note(
                "run \(runID) of '\(state.pipeline)'\(place) (\(loaded.pipeline.stages.count) stage\(loaded.pipeline.stages.count == 1 ? "" : "s")); journal: "
                    + (store.isShared ? "the --state database (logs: \(engine.runDirectory))" : engine.runDirectory))
            engine.notify(.started)
            return engine.execute()
        } catch {
            output.note("error: \(error.message)")
            return error.exitCode
        }
    }

    /// A declared secret that is not set would silently become the empty string (a deploy with
    /// `DATABASE_URL=`): refused before anything runs.
    static func checkSecrets(_ names: [String], _ environment: [String: String]) throws(EngineError) {
        // Empty counts as missing: a deploy with `DATABASE_URL=` fails later, and worse.
        let missing = names.filter { (environment[$0] ?? "").isEmpty }.sorted()
        guard !missing.isEmpty else { return }
        throw EngineError(
            "declared secret\(missing.count == 1 ? "" : "s") \(missing.map { "'\($0)'" }.joined(separator: ", ")) not set (or empty) in the environment; nothing was run"
        )
    }

    /// `--skip-requires REASON` needs a reason and an environment with `requires` to skip.
    /// - Returns: the reason, or nil when nothing is skipped.
    static func checkSkipRequires(_ reason: String?, _ pipeline: Pipeline) throws(EngineError) -> String? {
        guard let reason else { return nil }
        guard !reason.trimmedSpaces.isEmpty else { throw EngineError("--skip-requires needs a REASON (it is journaled)") }
        guard let environment = pipeline.environment, !environment.requires.isEmpty else {
            throw EngineError(
                "--skip-requires: "
                    + (pipeline.environment.map { "environment '\($0.name)' requires nothing" } ?? "'\(pipeline.name)' declares no environments"))
        }
        return reason
    }

    /// `--approve NAME` must name a stage with an approval gate: a typo would otherwise be ignored.
    static func checkApprovals(_ approved: Set<String>, _ pipeline: Pipeline) throws(EngineError) {
        let gated = pipeline.stages.filter { $0.gate?.approval != nil }.map(\.id)
        for name in approved.sorted() where !gated.contains(name) {
            var message = "--approve '\(name)': "
            message += pipeline.stages.contains { $0.id == name } ? "stage '\(name)' has no approval gate" : "no stage '\(name)'"
            if let close = Suggestion.closest(name, among: gated) {
                message += "; did you mean '\(close)'?"
            } else if gated.isEmpty {
                message += "; no stage of '\(pipeline.name)' has an approval gate"
            }
            throw EngineError(message)
        }
    }

    /// Which run a command without a RUN argument means: the newest, when the newest runs all belong to
    /// one pipeline and environment (or `pipeline` and `environment` narrow them to one); otherwise a
    /// refusal listing them.
    static func latest(_ store: any StateStore, pipeline: String?, environment: String? = nil, command: String) throws(EngineError) -> String {
        let runs = store.runsNewestFirst().filter {
            (pipeline == nil || $0.pipeline == pipeline) && (environment == nil || $0.environment == environment)
        }
        guard let newest = runs.first else {
            var what = pipeline.map { " of pipeline '\($0)'" } ?? ""
            if let environment { what += " in environment '\(environment)'" }
            throw EngineError(what.isEmpty ? "no runs recorded in '\(store.location)'" : "no runs\(what) in '\(store.location)'")
        }
        var latestByScope: [(scope: String, id: String)] = []
        for run in runs {
            let scope = LockScope.key(pipeline: run.pipeline, environment: run.environment)
            if !latestByScope.contains(where: { $0.scope == scope }) { latestByScope.append((scope, run.id)) }
        }
        if latestByScope.count > 1 {
            let list = latestByScope.map { "'\($0.scope)' (latest run \($0.id))" }.joined(separator: ", ")
            throw EngineError(
                "the state dir holds runs of \(latestByScope.count) pipelines or environments: \(list); name the run ('pipeline \(command) RUN'), the pipeline (--pipeline NAME) or the environment (--env NAME)"
            )
        }
        return newest.id
    }

    /// After a crash of the engine, a try it started may still run (its process group outlives it):
    /// nothing new may start while one does.
    /// With `wait` (`--wait-lock`), waits for them to end instead, as for another run's lock.
    static func checkNoLiveGroups(_ state: RunState, wait: Bool, output: EngineOutput, shared: Bool = false) throws(EngineError) {
        if wait, state.host.isEmpty || state.host == Host.name {
            var told = false
            while true {
                let live = state.openGroups.filter { Host.groupAlive($0.value) }
                if live.isEmpty { break }
                if !told {
                    output.note(
                        "waiting for process group\(live.count == 1 ? "" : "s") \(live.values.sorted().map(String.init).joined(separator: ", ")), started by the engine that stopped, to end"
                    )
                    told = true
                }
                usleep(50_000)
            }
        }
        // After a reboot nothing the dead engine started can still run.
        if !state.boot.isEmpty, state.boot != Host.bootID { return }
        guard state.host.isEmpty || state.host == Host.name else {
            // A shared store: its lease expired, so its holder is gone or fenced (exit 5); what it
            // was running is treated as after a local crash.
            if !state.openGroups.isEmpty, !shared {
                throw EngineError(
                    "run \(state.run) was started on host '\(state.host)', and tries it started may still run there (process groups \(state.openGroups.values.sorted().map(String.init).joined(separator: ", "))); continue it on that host"
                )
            }
            return
        }
        let live = state.openGroups.filter { Host.groupAlive($0.value) }.sorted { $0.key < $1.key }
        guard !live.isEmpty else { return }
        let list = live.map { "'\($0.key.split(separator: "/").first ?? "")' (process group \($0.value))" }.joined(separator: ", ")
        let kill = live.map { "kill -TERM -- -\($0.value)" }.joined(separator: "; ")
        throw EngineError(
            "run \(state.run): \(list) started by the engine that stopped \(live.count == 1 ? "is" : "are") still running; wait for \(live.count == 1 ? "it" : "them") to end or stop \(live.count == 1 ? "it" : "them") ('\(kill)'), then try again (or pass --wait-lock to wait)"
        )
    }

    /// Takes the lock of `pipeline`; with `--wait-lock`, says what it waits for and, once taken,
    /// how long it waited.
    static func takeLock(
        _ store: any StateStore, pipeline: String, run: String, options: EngineOptions, output: EngineOutput
    ) throws(EngineError) -> any PipelineLock {
        var waitedSince: Int?
        let lock = try store.lock(pipeline: pipeline, run: run, wait: options.lockWait) { message in
            waitedSince = EngineClock.monotonicMs()
            output.note(message)
        }
        if let waitedSince {
            output.note(
                "took the lock of pipeline '\(pipeline)' after waiting \(TimeSpan(milliseconds: (EngineClock.monotonicMs() - waitedSince) / 100 * 100))")
        }
        return lock
    }

    /// Opens the store, picks the run (RUN, or the latest of one pipeline), takes its pipeline's
    /// lock and loads the run again under it; refuses while a process group of the run still lives.
    static func takeOver(
        runID: String?, pipeline: String?, environment: String?, command: String, options: EngineOptions,
        output: EngineOutput
    ) throws(EngineError) -> (any StateStore, any PipelineLock, RunState) {
        let store = try StateStores.open(options.stateURL ?? options.stateDirectory, localRoot: options.stateDirectory, leaseTTLms: options.leaseTTLms)
        let id: String
        if let runID {
            id = try RunID.checked(runID)
        } else {
            id = try latest(store, pipeline: pipeline, environment: environment, command: command)
        }
        let probe = try store.load(id)
        let lock = try takeLock(store, pipeline: probe.lockScope, run: id, options: options, output: output)
        let state = try store.load(id)  // again, under the lock
        if state.status != .rolledBack {
            try checkNoLiveGroups(state, wait: options.waitForLock, output: output, shared: store.isShared)
            try checkSecrets(state.definition.secrets, options.environment)
        }
        return (store, lock, state)
    }

    /// A run of the same pipeline and environment that started after `state` and may have changed
    /// the target since (anything but rolled back, or failed with nothing applied): resuming
    /// `state` would deploy its older stages over it.
    static func newerDeploy(than state: RunState, in store: any StateStore) -> RunState? {
        for listing in store.runsNewestFirst() {
            if listing.id == state.run { return nil }
            guard listing.pipeline == state.pipeline, let other = try? store.load(listing.id), other.environment == state.environment else { continue }
            switch other.status {
            case .rolledBack: continue
            case .failed where other.completionOrder.isEmpty: continue
            default: return other
            }
        }
        return nil
    }

    /// Continues an interrupted, waiting or abandoned run: succeeded stages are not run again; a run
    /// interrupted while rolling back finishes its rollback.
    public static func resume(runID: String?, pipeline: String? = nil, environment: String? = nil, options: EngineOptions, output: EngineOutput) -> Int32 {
        let clock = options.clock ?? EngineClock(virtual: options.virtualClock, wallStart: options.wallStart)
        do throws(EngineError) {
            let (store, lock, state) = try takeOver(
                runID: runID, pipeline: pipeline, environment: environment, command: "resume", options: options, output: output)
            let id = state.run
            switch state.status {
            case .interrupted, .waiting, .running, .abandoned: break
            default:
                throw EngineError(
                    "run \(id) finished as '\(state.status.rawValue)'; there is nothing to resume (start a new run, or 'pipeline rollback \(id)')")
            }
            if !state.rollbackBegun, let newer = newerDeploy(than: state, in: store) {
                throw EngineError(
                    "run \(id) is older than run \(newer.run) of '\(newer.pipeline)'\(newer.environment.map { " in '\($0)'" } ?? ""), which started after it and is \(newer.status.rawValue): resuming \(id) would deploy its older stages over it; start a new run, or roll \(newer.run) back first ('pipeline rollback \(newer.run)')"
                )
            }
            var options = options
            options.workingDirectory = state.workdir
            if state.rollbackBegun {
                // Never deploy again what a rollback was undoing: finish the undo.
                let engine = Engine(run: state, store: store, options: options, output: output, clock: clock)
                engine.lock = lock
                engine.journal = try store.openJournal(run: id, clock: clock)
                engine.record(
                    .runResumed(pid: Int(getpid()), host: Host.name, boot: Host.bootID, purpose: .rollback, forced: nil, definition: nil, fileHash: nil))
                try engine.flush()
                output.note("run \(id) was stopped while rolling back; finishing the rollback")
                engine.beginRollback(failed: state.failedStage)
                return engine.execute()
            }
            let loaded: LoadedPipeline
            do {
                // The environment and input values it started with, never new ones.
                loaded = try PipelineLoader.load(path: state.file, options: .init(environment: state.environment, inputs: state.inputs.map { ($0.0, $0.1) }))
            } catch {
                throw EngineError(
                    "cannot resume run \(id): its pipeline file '\(state.file)' no longer validates:\n"
                        + error.diagnostics.map(\.headline).joined(separator: "\n"))
            }
            try checkApprovals(options.approved, loaded.pipeline)
            // The same checks `run` makes before anything runs: the migration lint included.
            let findings = MigrationLinter.preflight(loaded.pipeline, workingDirectory: state.workdir)
            if !findings.isEmpty {
                throw EngineError(
                    "cannot resume run \(id): migration lint found \(findings.count) problem\(findings.count == 1 ? "" : "s"):\n"
                        + findings.map(\.headline).joined(separator: "\n"))
            }
            let changes = StageChanges(recorded: state, now: loaded.pipeline)
            if Hashing.sha256(loaded.hashedBytes) != state.fileHash && !options.force {
                throw EngineError(
                    "the pipeline file '\(state.file)' changed since run \(id) started (\(changes.summary)); resuming would mix two versions (pass --force to resume anyway)"
                )
            }
            let engine = DeployEngine(pipeline: loaded.pipeline, graph: loaded.graph, run: state, store: store, options: options, output: output, clock: clock)
            engine.lock = lock
            engine.journal = try store.openJournal(run: id, clock: clock)
            return try engine.prepareResume(changed: Hashing.sha256(loaded.hashedBytes) != state.fileHash ? changes : nil, source: loaded.hashedBytes)
        } catch {
            output.note("error: \(error.message)")
            return error.exitCode
        }
    }

    /// Undoes the applied stages of a run, newest first, from its journal alone: the stages that
    /// were running when it stopped (they may have half-applied) first.
    public static func rollback(runID: String?, pipeline: String? = nil, environment: String? = nil, options: EngineOptions, output: EngineOutput) -> Int32 {
        let clock = options.clock ?? EngineClock(virtual: options.virtualClock, wallStart: options.wallStart)
        do throws(EngineError) {
            var (store, lock, state) = try takeOver(
                runID: runID, pipeline: pipeline, environment: environment, command: "rollback", options: options, output: output)
            let id = state.run
            if state.status == .rolledBack {
                throw EngineError("run \(id) is already rolled back", exitCode: 0)
            }
            var options = options
            options.workingDirectory = state.workdir
            state.status = .running
            let engine = Engine(run: state, store: store, options: options, output: output, clock: clock)
            engine.lock = lock
            engine.journal = try store.openJournal(run: id, clock: clock)
            engine.record(.runResumed(pid: Int(getpid()), host: Host.name, boot: Host.bootID, purpose: .rollback, forced: nil, definition: nil, fileHash: nil))
            try engine.flush()
            output.note("rolling back run \(id) of '\(state.pipeline)'")
            engine.beginRollback(failed: nil)
            return engine.execute()
        } catch {
            output.note(error.exitCode == 0 ? error.message : "error: \(error.message)")
            return error.exitCode
        }
    }

    // MARK: - Journal

    /// Queues an event and applies it to the in-memory state (the same code replay uses).
    func record(_ event: JournalEvent, apply: Bool = true) {
        pendingEvents.append(event)
        if apply {
            run.apply(event, time: clock.timestamp(), clock: clock.now())
        }
    }

    /// Makes every event recorded so far durable (those submitted earlier too), then starts the
    /// scripts that waited for it; called before any action that depends on them.
    func flush() throws(EngineError) {
        if !pendingEvents.isEmpty {
            output.journaled(try journal.append(pendingEvents))
            pendingEvents.removeAll(keepingCapacity: true)
        } else {
            try journal.makeDurable(journal.lastBatch)
        }
        try launchDurable()
    }

    /// Writes the recorded events and has them synced in the background (``RunJournal/submit(_:)``):
    /// nothing that depends on them acts before they are durable (a script's launch waits in
    /// ``queuedLaunches``).
    func submit() throws(EngineError) {
        guard !pendingEvents.isEmpty else { return }
        output.journaled(try journal.submit(pendingEvents).lines)
        pendingEvents.removeAll(keepingCapacity: true)
    }

    /// Starts the queued scripts whose batch is durable now, in the order they were queued.
    func launchDurable() throws(EngineError) {
        var ready = 0
        while ready < queuedLaunches.count, try journal.isDurable(queuedLaunches[ready].batch) { ready += 1 }
        guard ready > 0 else { return }
        let launches = queuedLaunches.prefix(ready)
        queuedLaunches.removeFirst(ready)
        try start(launches)
    }

    /// Starts scripts whose starts are durable, all of them first, then journals their process
    /// groups in one write: the second script does not wait for the first one's record, and the
    /// groups are on disk before the loop next blocks (as each was right after its spawn).
    func start(_ launches: some Collection<QueuedLaunch>) throws(EngineError) {
        var groups: [JournalEvent] = []
        groups.reserveCapacity(launches.count)
        for launch in launches {
            if let group = self.launch(launch) { groups.append(group) }
        }
        guard !groups.isEmpty else { return }
        output.journaled(try journal.appendUnsynced(groups))
    }

    // MARK: - The loop

    func execute() -> Int32 {
        prepareLoop()
        signalFD = ps_signalfd_open()
        defer {
            if signalFD >= 0 { close(signalFD) }
        }
        do {
            while true {
                if case .finished(let code) = state {
                    try flush()
                    if let problem = store.writeSnapshot(run) { output.note("warning: \(problem) (the journal is intact)") }
                    output.runEnded(run)
                    return code
                }
                try step()
                if backgroundSync { try submit() } else { try flush() }
                if case .finished = state { continue }
                try wait()
            }
        } catch {
            // Their starts may not be durable: they never start.
            queuedLaunches.removeAll()
            if error.exitCode == ExitStatus.lostLease { return selfFence(error) }
            // The journal cannot be written: stop every process, say so, exit 3 (a human must look).
            for (_, job) in jobs { job.child.signalGroup(SIGKILL) }
            output.note("error: \(error.message)")
            return ExitStatus.rollbackFailed
        }
    }

    /// The lease is lost: another runner may own the run now. Stop every process group (TERM, the
    /// grace, KILL), start nothing, write nothing more, exit 5.
    func selfFence(_ error: EngineError) -> Int32 {
        output.note("error: \(error.message)")
        output.note("stopping every stage: this runner no longer holds the lease (exit 5)")
        queuedLaunches.removeAll()
        for (_, job) in jobs { terminate(job.child) }
        for (_, entry) in tasks { entry.task.cancel() }
        let deadline = EngineClock.monotonicMs() + options.killGraceMs
        while jobs.values.contains(where: { $0.child.groupAlive }), EngineClock.monotonicMs() < deadline { usleep(20_000) }
        for (_, job) in jobs { job.child.signalGroup(SIGKILL) }
        for (pid, _) in jobs { _ = spawner.reap(pid) }
        return ExitStatus.lostLease
    }

    /// Renews a lease that needs it (every TTL/3). A renewal that fails for want of the database is
    /// retried at the next turn; past half the TTL without one, or when another runner holds the
    /// lease now, the runner fences itself.
    func renewLeaseIfDue() throws(EngineError) {
        guard let lock, let interval = lock.renewIntervalMs else { return }
        let now = clock.isVirtual ? EngineClock.monotonicMs() : clock.now()
        if lastRenewal == 0 { lastRenewal = now }
        guard now - lastRenewal >= interval else { return }
        do throws(EngineError) {
            try lock.renew()
            lastRenewal = now
        } catch {
            if error.exitCode == ExitStatus.lostLease || now - lastRenewal >= interval * 3 / 2 {
                throw EngineError(error.message, exitCode: ExitStatus.lostLease)
            }
        }
    }

    /// Advances every stage and the run as far as possible without waiting.
    func step() throws(EngineError) {
        if !state.isRunning {
            dropPrompt()
            try stopParked()
        }
        var progressed = true
        while progressed {
            progressed = false
            let now = clock.now()
            switch state {
            case .running, .stopping:
                progressed = try advanceDeploy(now: now)
            case .failing(let stage):
                if !busy {
                    notify(.failed, failedStage: stage, reason: failureReason(stage))
                    beginRollback(failed: stage)
                    progressed = true
                }
            case .rollingBack(let progress):
                progressed = try advanceRollback(progress, now: now)
            case .interrupting:
                if !busy {
                    record(.runInterrupted)
                    if run.rollbackBegun {
                        output.note(
                            "interrupted while rolling back: every script was stopped; finish the rollback with 'pipeline resume \(run.run)' (or 'pipeline rollback \(run.run)')"
                        )
                    } else {
                        output.note(
                            "interrupted: every stage was stopped; continue with 'pipeline resume \(run.run)', or undo it with 'pipeline rollback \(run.run)'")
                    }
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
        if clock.isVirtual, let change = spawner.nextChange() {
            // Simulated processes on a virtual clock: jump to whichever comes first, their next
            // change or a timer, let them act, then look at what they did without waiting.
            let target = min(change, clock.now() + (timeout ?? Int.max / 2))
            clock.skip(target - clock.now())
            spawner.advance(to: clock.now())
            timeout = 0
        } else if let t = timeout, t > 0, clock.isVirtual, !busy, !awaitingAnswer {
            clock.skip(t)
            return
        }
        if timeout == nil && !busy && !awaitingAnswer { return }
        var fds = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
        var owners: [pid_t] = [0]
        if awaitingAnswer {
            fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0))
            owners.append(0)
        }
        for (pid, job) in jobs where !job.child.eof {
            fds.append(pollfd(fd: job.child.fd, events: Int16(POLLIN), revents: 0))
            owners.append(pid)
        }
        let firstTask = fds.count
        for fd in tasks.keys { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        let durableFD = queuedLaunches.isEmpty ? -1 : journal.durableFD
        if durableFD >= 0 { fds.append(pollfd(fd: durableFD, events: Int16(POLLIN), revents: 0)) }
        let lastTask = durableFD >= 0 ? fds.count - 1 : fds.count
        if timeout == nil { timeout = -1 }
        let n = poll(&fds, nfds_t(fds.count), Int32(clamping: timeout!))
        if n < 0 && errno != EINTR { throw EngineError("poll failed: \(String(cString: strerror(errno)))", exitCode: 3) }
        if durableFD >= 0, fds[lastTask].revents != 0 {
            // A slot waited for this: start its script before looking at anything else.
            journal.acknowledgeDurable()
            try launchDurable()
        }
        for (i, pfd) in fds.enumerated() where pfd.revents != 0 && i > 0 && i < firstTask {
            if owners[i] == 0 { readAnswer(); continue }
            if let job = jobs[owners[i]] {
                drain(job.child, job.purpose)
                if job.child.eof, job.child.exitStatus == nil { awaitExit(of: owners[i]) }
            }
        }
        for pfd in fds[firstTask..<lastTask] where pfd.revents != 0 {
            if let entry = tasks[pfd.fd] { try taskReported(entry.task, node: entry.node) }
        }
        if fds[0].revents != 0 { try handleSignals() }
        handleTimers()
        try renewLeaseIfDue()
        try collectFinishedJobs()
    }

    func nextTimer() -> Int? {
        var times: [Int] = []
        if let interval = lock?.renewIntervalMs, !clock.isVirtual { times.append(max(lastRenewal, clock.now() - interval) + interval) }
        for (_, job) in jobs {
            if let d = job.child.deadline, !job.child.timedOut, job.child.exitStatus == nil { times.append(d) }
            if let t = job.child.terminatedAt, !job.child.killed { times.append(t + options.killGraceMs) }
            if let exited = job.child.exitedAt, !job.child.eof { times.append(exited + EngineDefaults.outputGraceMs) }
        }
        times += deployTimers()
        if let wake = undo?.wake { times.append(wake) }
        for (_, entry) in tasks where !entry.task.timedOut { if let d = entry.task.deadline { times.append(d) } }
        return times.min()
    }

    func handleSignals() throws(EngineError) {
        while true {
            let sig = ps_signalfd_read(signalFD)
            if sig <= 0 { break }
            if sig == SIGCHLD { continue }
            // Scripts whose start is journaled are stopped like the running ones: started first, as
            // they would have been already with the sync on this thread.
            try flush()
            if case .interrupting(let signals, let rollback) = state {
                // Again: kill at once.
                state = .interrupting(signals: signals + 1, rollback: rollback)
                for (_, job) in jobs { job.child.signalGroup(SIGKILL); job.child.killed = true }
                for (_, entry) in tasks { entry.task.cancel() }
            } else {
                state = .interrupting(signals: 1, rollback: state.rollback)
                output.note("received \(String(cString: ps_signal_name(sig))): stopping every stage (again to kill at once)")
                for (_, job) in jobs { terminate(job.child) }
                for (_, entry) in tasks { entry.task.cancel() }
            }
        }
        reap()
    }

    /// The longest ``awaitExit(of:)`` waits, in nanoseconds.
    static let exitAfterEOFBudgetNs = 50_000

    /// A script whose output just ended is usually exiting: its exit is microseconds away (the
    /// pipe's end wakes the loop while the child is still in `exit`, often preempting it on the
    /// same core), and reaping it now saves the loop a second wake-up for its SIGCHLD. Waits at
    /// most ``exitAfterEOFBudgetNs``, yielding the core meanwhile: a script that closes its output
    /// and goes on running is then reaped the usual way. Real processes only.
    func awaitExit(of pid: pid_t) {
        guard backgroundSync, pid > 0 else { return }
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        while true {
            sched_yield()
            reap()
            guard let job = jobs[pid], job.child.exitStatus == nil else { return }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if (Int(now.tv_sec) - Int(start.tv_sec)) * 1_000_000_000 + Int(now.tv_nsec) - Int(start.tv_nsec) >= Self.exitAfterEOFBudgetNs { return }
        }
    }

    /// Reaps the engine's own children (by pid: children of native tasks are theirs to reap).
    func reap() {
        for (pid, job) in jobs where job.child.exitStatus == nil {
            guard let status = spawner.reap(pid) else { continue }
            job.child.exitStatus = status
            job.child.exitedAt = clock.now()
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
            if let exited = child.exitedAt, !child.eof, now >= exited + EngineDefaults.outputGraceMs {
                // The script is done, but a process it started (a daemon in its own session) still
                // holds the pipe: stop reading rather than wait for it.
                drain(child, job.purpose)
                if !child.eof {
                    child.closeOutput()
                    emit(job.purpose, "the script exited but a process it started still holds its output; no longer reading it")
                }
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
        case .action(let i), .gateCheck(let i): return stageID(of: i)
        case .rollback(let id): return id
        }
    }

    func writeLog(_ purpose: Purpose, _ text: String) {
        let failure: String?
        switch purpose {
        case .action(let i), .gateCheck(let i): failure = writeStageLog(i, text)
        case .rollback: failure = undo?.log.write(text)
        }
        if let failure, !reportedLogFailure {
            reportedLogFailure = true
            output.note("warning: \(failure); output still goes to the terminal (further log failures of this run are not reported)")
        }
    }

    func emit(_ purpose: Purpose, _ text: String) {
        let text = masker.mask(text)
        output.note("[\(stageID(purpose))] \(text)")
        writeLog(purpose, "pipeline: \(text)\n")
    }

    func collectFinishedJobs() throws(EngineError) {
        // A start that became durable while this turn of the loop read output and reaped (its
        // flush's notice may have been consumed already, by an older one) starts before the ends
        // are handled: it is then in flight, so the next start is synced in the background
        // instead of here, and slots that finished together do not stay in step. Not while a
        // native task's report waits to be written: the journal keeps the order of recording.
        if !queuedLaunches.isEmpty && pendingEvents.isEmpty { try launchDurable() }
        for (pid, job) in jobs where job.child.finished {
            jobs[pid] = nil
            switch job.purpose {
            case .action(let i): try stageJobFinished(i, gateCheck: false, job.child)
            case .gateCheck(let i): try stageJobFinished(i, gateCheck: true, job.child)
            case .rollback(let id): try rollbackScriptFinished(id, job.child)
            }
        }
    }

    /// Starts a script as a child once the journal durably says it started (what was recorded is
    /// written now; with ``backgroundSync`` and other work in flight the script waits in
    /// ``queuedLaunches`` for the sync while the loop goes on, else the sync is done here first).
    /// Its process group is
    /// journaled right after (written, not synced: a crash of the engine keeps it, and a crash of the
    /// machine takes the group with it), so `resume` and `rollback` can tell whether it still runs.
    /// A script that cannot start (no shell, no descriptors) is a try that exited 127 at once.
    func spawn(
        _ script: String, shell: [String], environment: [String], timeoutMs: Int?, purpose: Purpose,
        attempt: (stage: String, phase: AttemptPhase, number: Int)
    ) throws(EngineError) {
        // With nothing else in flight (a chain) there is nothing to do while the sync runs: it is
        // done here, without handing it to the flusher and back.
        let overlap = backgroundSync && !(jobs.isEmpty && tasks.isEmpty)
        if overlap { try submit() } else { try flush() }
        let launch = QueuedLaunch(
            argv: shell + [script], environment: environment, timeoutMs: timeoutMs, purpose: purpose, attempt: attempt, batch: journal.lastBatch)
        guard overlap else { return try start(CollectionOfOne(launch)) }
        queuedLaunches.append(launch)
        // Durable already (nothing new to sync, or a journal that syncs every append): start now.
        try launchDurable()
    }

    /// A script to start once batch `batch` of the journal (its start) is durable.
    struct QueuedLaunch {
        var argv: [String]
        var environment: [String]
        var timeoutMs: Int?
        var purpose: Purpose
        var attempt: (stage: String, phase: AttemptPhase, number: Int)
        var batch: Int
    }

    /// Starts a script whose start is durable; a timeout counts from here.
    /// - Returns: the record of its process group, for the caller to journal at once (nil when it could not start).
    func launch(_ launch: QueuedLaunch) -> JournalEvent? {
        let child: ChildProcess
        do {
            child = try ChildProcess(
                argv: launch.argv, environment: launch.environment, directory: options.workingDirectory, now: clock.now(), spawner: spawner)
        } catch {
            let failed = ChildProcess(failedToStart: error.message, token: nextFailedSpawnToken, now: clock.now())
            nextFailedSpawnToken -= 1
            jobs[failed.pid] = (failed, launch.purpose)
            emit(launch.purpose, error.message)
            return nil
        }
        if let t = launch.timeoutMs { child.deadline = child.startedAt + t }
        jobs[child.pid] = (child, launch.purpose)
        let attempt = launch.attempt
        return .processStarted(stage: attempt.stage, phase: attempt.phase, attempt: attempt.number, pgid: Int(child.pid))
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
