import PipelineSpec
/// How a run behaves; set from the command line.
public struct EngineOptions: Sendable {
    /// What to do outside a deploy window.
    public enum WindowPolicy: String, Sendable, CaseIterable { case wait, fail }
    /// What happens to stages still running when another fails.
    public enum FailurePolicy: String, Sendable, CaseIterable { case wait, stop }

    /// Where runs are recorded: a directory, or a `postgres://` URL (then ``stateDirectory`` holds
    /// this machine's logs and outputs).
    public var stateDirectory = ".pipeline"
    /// A PostgreSQL URL (`--state`), or nil for the local state dir. Treated as a secret.
    public var stateURL: String?
    /// How long a PostgreSQL lease lasts without renewal (`--lease-ttl`).
    public var leaseTTLms = 30_000
    /// How many stages run at once.
    public var maxParallel = 2
    /// Stages pre-approved (`--approve`).
    public var approved: Set<String> = []
    /// Approve every approval gate (`--yes`).
    public var approveAll = false
    public var window = WindowPolicy.fail
    public var onFailure = FailurePolicy.wait
    /// Wait for the state lock instead of failing (`--wait-lock [TIMEOUT]`); nil fails at once.
    public var lockWait: LockWait?
    public var waitForLock: Bool { lockWait != nil }
    /// Resume even if the pipeline file changed.
    public var force = false
    /// Stages that were running when the engine died and may be run again although not idempotent.
    public var rerun: Set<String> = []
    /// Stages that were running when the engine died and a human checked are done.
    public var assumeDone: Set<String> = []
    /// Grace between SIGTERM and SIGKILL to a process group.
    public var killGraceMs = 5000
    /// `--skip-requires REASON`: start without the environment's `requires` holding, journaling why.
    public var skipRequires: String?
    /// Skip idle waits (tests).
    public var virtualClock = false
    /// Pretend the wall clock reads this at start (tests of deploy windows), ms since 1970.
    public var wallStart: Int?
    /// The working directory scripts run in (the caller's).
    public var workingDirectory = "."
    /// The caller's environment, passed to every script.
    public var environment: [String: String] = [:]
    /// The clock, when the caller brings one (tests: a manual clock); else real, or virtual with
    /// ``virtualClock``.
    public var clock: EngineClock?
    /// What starts the scripts (tests: simulated processes); else real processes.
    public var spawner: (any ProcessSpawner)?

    public init() {}
}

/// Where the engine's words go: the CLI prints them; the library never does.
public protocol EngineOutput: AnyObject {
    /// One line of a stage's output (already masked).
    func stageLine(stage: String, line: String)
    /// A status line from the engine (already masked).
    func note(_ text: String)
    /// Shows a prompt asking a person to approve a stage; false when no one can be asked (no TTY,
    /// CI). The engine reads the answer (a line, `y`/`yes` approves) from standard input in its
    /// own loop, so signals, timers and other stages' output stay live while it waits.
    func promptApproval(stage: String, message: String) -> Bool
    /// An attempt ended; its whole (masked) log is at `logPath`.
    func attemptEnded(stage: String, attempt: Int, phase: String, status: String, logPath: String)
    /// The run ended (or stopped); `state` is final for this invocation.
    func runEnded(_ state: RunState)
    /// An attempt of a stage (or of its rollback, gate check, …) is starting.
    func attemptStarted(stage: String, attempt: Int, phase: String)
    /// Journal lines were written, exactly as stored (`--output json`).
    func journaled(_ lines: [String])
}

extension EngineOutput {
    public func attemptStarted(stage: String, attempt: Int, phase: String) {}
    public func journaled(_ lines: [String]) {}
}

/// The documented exit codes.
public enum ExitStatus {
    public static let succeeded: Int32 = 0
    public static let failedRolledBack: Int32 = 1
    public static let invalid: Int32 = 2
    public static let rollbackFailed: Int32 = 3
    public static let stoppedAtGate: Int32 = 4
    /// The lease was lost (another runner may have taken over): this runner stopped its stages and wrote nothing more.
    public static let lostLease: Int32 = 5
    public static let interrupted: Int32 = 130
}
