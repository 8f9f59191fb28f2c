import PipelineSpec
/// The state of one run, rebuilt by replaying its journal; what `status`, `resume` and
/// `rollback` read, and what `state.json` holds.
public struct RunState: Sendable {
    /// The run's overall status.
    public enum Status: String, Sendable, CaseIterable {
        case running, waiting, succeeded, failed
        case rolledBack = "rolled_back"
        case rollbackFailed = "rollback_failed"
        case interrupted
        /// Recorded as running, but its engine is gone (killed, lost with its runner): never
        /// journaled, decided when the run is loaded. `resume` continues it, `rollback` undoes it.
        case abandoned
    }

    /// One stage's status.
    public enum StageStatus: String, Sendable, CaseIterable {
        case pending, running, succeeded, failed
        case rolledBack = "rolled_back"
        case rollbackFailed = "rollback_failed"
        /// Never ran (`stage_skipped`): its `if:` was false, or it reads an output of a skipped stage.
        case skipped
    }

    /// One execution of a script: a try of the stage, or of its rollback.
    public struct Attempt: Sendable {
        public var number: Int
        public var started: String
        public var ended: String?
        public var exitCode: Int?
        public var signal: String?
        public var durationMs: Int?
        public var outcome: AttemptOutcome?
        public var log: String
        /// Milliseconds on the engine's clock (monotonic; virtual under the test clock).
        public var startedClock: Int
        public var endedClock: Int?
        /// The try's process group (`process_started`), for scripts.
        public var pgid: Int? = nil
    }

    /// What became of a stage's rollback.
    public struct Rollback: Sendable {
        public var status: RollbackStatus
        public var attempts: [Attempt]
        /// How it was undone: `rollback` (the stage's script) or `restore` (a migrate stage's backup restored).
        public var method: String? = nil
    }

    /// One stage's record.
    public struct StageRecord: Sendable {
        public var id: String
        public var status: StageStatus
        public var attempts: [Attempt]
        public var outputs: [(String, String)]
        public var rollback: Rollback?
        public var approved: Bool
        /// The backup artifact a migrate stage's `backup` script wrote (the last attempt's).
        public var backup: String? = nil
        /// Tries of the stage's gate check so far (not attempts of the stage).
        public var gateChecks = 0
        /// A canary's last journaled traffic percentage (`traffic` events).
        public var traffic: Int? = nil
        /// A canary's baseline readings (`measurement` events with verdict `baseline`); nil: no value.
        public var baseline: [String: Double?] = [:]
        /// The step a canary or watch last paused at (`analysis_paused`).
        public var pausedAt: Int? = nil
        /// A blue-green stage's colours in this run (`colors`).
        public var liveColor: String? = nil
        public var idleColor: String? = nil
        /// The colour its last `switch` (or switch back) pointed traffic at (`color_switch`), and
        /// whether that script is known to have succeeded.
        public var switchedTo: String? = nil
        public var switchSettled = false
        /// Outputs whose journaled value has a secret masked (`stage_finished.masked`).
        public var maskedOutputs: [String] = []
        /// Why it was skipped (`stage_skipped.reason`), if it was.
        public var skipReason: String? = nil
        /// The outputs as the stage wrote them, known only to the engine process that ran it:
        /// never journaled, nor written to `state.json`.
        public var clearOutputs: [(String, String)]? = nil
    }

    /// Why a run stopped to wait.
    public struct Waiting: Sendable {
        public var stage: String
        /// `approval`, `window` or `decision`.
        public var reason: String
        public var message: String
    }

    public var run: String
    public var pipeline: String
    public var file: String
    public var workdir: String
    public var fileHash: String
    public var started: String
    public var ended: String?
    public var status: Status
    public var pid: Int
    public var waiting: Waiting?
    public var stages: [StageRecord]
    /// The host the engine ran on (`run_started`, `run_resumed`): a process group can only be probed there.
    public var host = ""
    /// The boot id of the last engine's start: process groups of another boot are gone.
    public var boot = ""
    /// Process groups of tries whose end is not journaled, by "stage/phase/attempt": after a crash of
    /// the engine they may still run.
    public var openGroups: [String: Int] = [:]
    /// A rollback began (`rollback_begun`) and the run has not finished since: `resume` continues it.
    public var rollbackBegun = false
    /// The stage whose failure started the rollback, if one did.
    public var failedStage: String?
    /// Position of each stage in ``stages`` (rebuilt when stale).
    var indexByID: [String: Int] = [:]
    /// Stage ids in the order they succeeded: rollback walks it backwards.
    public var completionOrder: [String]
    /// What rollback needs, recorded when the run started.
    public var definition: RunDefinition
    /// Stage ids that rollback could not undo (for a human), after a failed or stopped rollback.
    public var remaining: [String]
    /// Why the last rollback stopped early, if it did.
    public var rollbackNote: String?
    /// Operator requests (`pipeline promote`/`abort`) the engine has taken (`control` events).
    public var handledRequests: Set<String> = []
    /// The environment it runs in (`--env`), nil when the file declares none.
    public var environment: String? = nil
    /// What it deploys (`release:`), if the file names it.
    public var release: String? = nil
    /// Every input's value, as recorded when it started: `resume` loads the file with these.
    public var inputs: [(String, String)] = []
    /// Why the environment's `requires` was not checked, if it was skipped.
    public var requiresSkipped: String? = nil

    /// The key its lock (or lease) is taken under: one run at a time per pipeline and environment.
    public var lockScope: String { LockScope.key(pipeline: pipeline, environment: environment) }

    /// The record of a stage.
    public func stage(_ id: String) -> StageRecord? {
        if let i = indexByID[id], i < stages.count, stages[i].id == id { return stages[i] }
        return stages.first { $0.id == id }
    }

    mutating func update(_ id: String, _ change: (inout StageRecord) -> Void) {
        if indexByID.count != stages.count { reindex() }
        if let i = indexByID[id] { change(&stages[i]) }
    }

    private mutating func reindex() {
        indexByID = [:]
        for (i, stage) in stages.enumerated() { indexByID[stage.id] = i }
    }
}

/// What `pipeline rollback` needs to undo stages from the journal alone, without the pipeline file.
/// Secret values are never stored: only names and unresolved `${{ }}` templates.
public struct RunDefinition: Sendable {
    public struct StageDefinition: Sendable {
        public var id: String
        public var kind: String
        public var rollback: String?
        /// A canary's `traffic` script: run with 0 % when the stage is undone.
        public var traffic: String? = nil
        /// A migrate stage's `restore` script: run when its downgrade fails (or it has none) and a backup exists.
        public var restore: String?
        public var shell: [String]
        public var timeoutMs: Int
        public var retry: RetryPolicy
        public var env: [(String, String)]
        public var reversible: Bool
        public var outputs: [String]
        /// A blue-green stage's `switch` script: run with the live colour when the stage is undone.
        public var switchScript: String? = nil
    }

    public var env: [(String, String)]
    public var secrets: [String]
    public var stages: [StageDefinition]
    /// The `notify` hooks and the `rollback.before`/`after` scripts, so `pipeline rollback` runs them too.
    public var hooks = HookDefinitions()

    public func stage(_ id: String) -> StageDefinition? { stages.first { $0.id == id } }
}

/// The hooks of a run's pipeline, as recorded in its definition.
public struct HookDefinitions: Sendable {
    /// One `notify` hook: a script or a webhook URL (an unresolved template).
    public struct Notify: Sendable {
        public var events: [String]
        public var run: String?
        public var webhook: String?
        public var timeoutMs: Int
    }

    public var notify: [Notify] = []
    public var rollbackBefore: String?
    public var rollbackAfter: String?
    public var rollbackTimeoutMs = FormatDefaults.rollbackHookTimeout.milliseconds
    /// The shell the hooks' scripts run with (the pipeline's `defaults.shell`).
    public var shell = FormatDefaults.shell

    public var isEmpty: Bool { notify.isEmpty && rollbackBefore == nil && rollbackAfter == nil }
}

/// The key of the one-run-at-a-time lock: the pipeline's name, and `@environment` when the file
/// declares environments, so staging and production of one pipeline run side by side.
public enum LockScope {
    /// `shop` or `shop@production`.
    public static func key(pipeline: String, environment: String?) -> String {
        environment.map { pipeline + "@" + $0 } ?? pipeline
    }
}
