/// The upper bounds every numeric field of the format is held to when a file is validated,
/// so that nothing that validates can overflow or trap at run time (docs/format.md, "Limits").
/// The JSON Schema states the same numbers as `maximum`.
public enum FormatLimits {
    /// The longest duration anywhere in a file: 720h (30 days).
    public static let maxDuration = TimeSpan(milliseconds: 720 * 3_600_000)
    /// The most attempts of a retry policy, the first included.
    public static let maxRetryAttempts = 100
    /// The largest retry `backoff` multiplier.
    public static let maxBackoff = 1000.0
    /// The largest canary `failure-limit` (consecutive failed analysis rounds).
    public static let maxFailureLimit = 100
    /// The largest verify `http.failure-threshold`.
    public static let maxFailureThreshold = 100
    /// The most probes of a verify `http` check (`http.attempts`).
    public static let maxProbeAttempts = 10_000
    /// The deepest chain of `include`s: a pipeline file and at most 7 stage files below it.
    public static let maxIncludeDepth = 8
    /// The most `include` entries expanded for one pipeline (a file included twice counts twice).
    public static let maxIncludes = 64
}
