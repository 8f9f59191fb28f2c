import PipelineYAML

/// What happened to a run, as the `on:` of a `notify` hook names it.
public enum RunEvent: String, CaseIterable, Sendable {
    /// The run began (after its first journal line).
    case started
    /// Every stage succeeded.
    case succeeded
    /// A stage failed; the rollback (if any) starts right after.
    case failed
    /// A rollback finished and undid what it had to.
    case rolledBack = "rolled_back"
    /// A rollback stopped before it undid everything: a human must look.
    case rollbackFailed = "rollback_failed"
    /// The run stopped at a gate (approval, window, check), to be continued by `resume`.
    case waiting
}

/// One `notify` item: a script or a webhook, for some run events.
public struct NotifyHook: Sendable {
    /// What the hook does.
    public enum Target: Sendable {
        /// A script; the event arrives in `PIPELINE_EVENT`, `PIPELINE_STATUS`, … (never in its text).
        case command(Script)
        /// A JSON POST to a URL.
        case webhook(Template)
    }

    public var events: [RunEvent]
    public var target: Target
    /// Time limit of one call.
    public var timeout: TimeSpan
    public var mark: Mark
}

/// `rollback: {before, after}` at the top level: scripts run around every rollback.
public struct RollbackHooks: Sendable {
    /// Run before the first stage is undone (maintenance mode on, traffic stopped).
    public var before: Script?
    /// Run after the last stage is undone, whatever the outcome (maintenance mode off, traffic resumed).
    public var after: Script?
    /// Time limit of each.
    public var timeout: TimeSpan
}
