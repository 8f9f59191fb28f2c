/// Every default of the pipeline format, in one place (docs/format.md lists the same values; the
/// engine's own constants are `EngineDefaults`, the bounds `FormatLimits`).
public enum FormatDefaults {
    /// `shell`: how a script is run.
    public static let shell = ["/bin/sh", "-e", "-c"]
    /// A stage's `timeout`.
    public static let timeout = TimeSpan.minutes(10)
    /// `retry`: one attempt; delays of a retry policy that leaves them out.
    public static let retry = RetryPolicy(attempts: 1, delay: .seconds(1), backoff: 2.0, maxDelay: .minutes(1), jitter: true)
    /// A canary's `bake`, `interval` and `failure-limit`.
    public static let canaryBake = TimeSpan.minutes(5)
    public static let canaryInterval = TimeSpan.seconds(30)
    public static let canaryFailureLimit = 3
    /// How long a canary's `traffic` script may run (`traffic-timeout`), and an analysis `run` script (`timeout`).
    public static let trafficTimeout = TimeSpan.minutes(2)
    public static let analysisTimeout = TimeSpan.seconds(30)
    /// An analysis' `inconclusive-limit`: consecutive readings without a value that pause for a person.
    public static let inconclusiveLimit = 3
    /// A Prometheus query's `timeout`.
    public static let prometheusTimeout = TimeSpan.seconds(10)
    /// A watch's `interval`.
    public static let watchInterval = TimeSpan.minutes(1)
    /// An HTTP check's expected status and timeout (verify, precheck, analysis).
    public static let httpExpect = 200
    public static let httpTimeout = TimeSpan.seconds(3)
    /// A verify probe's `interval`, `initial-delay`, `failure-threshold` and `attempts`.
    public static let probeInterval = TimeSpan.seconds(10)
    public static let probeInitialDelay = TimeSpan.seconds(10)
    public static let probeFailureThreshold = 3
    public static let probeAttempts = 30
    /// A precheck's own `timeout`.
    public static let checkTimeout = TimeSpan.seconds(3)
    /// A blue-green stage's `colors`.
    public static let blueGreenColors = ["blue", "green"]
    /// A `notify` hook's `timeout` (script or webhook).
    public static let notifyTimeout = TimeSpan.seconds(10)
    /// The `timeout` of the top-level `rollback.before` and `rollback.after` scripts.
    public static let rollbackHookTimeout = TimeSpan.minutes(5)
}
