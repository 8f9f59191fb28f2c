import PipelineYAML

/// `blue-green`: deploy the idle colour, check it before it takes traffic, switch traffic to it.
///
/// Which colour is live is not written in the file: the engine derives it from the recorded runs
/// of the pipeline (the last one that switched, or switched back), so consecutive deploys alternate.
public struct BlueGreenSpec: Sendable {
    /// Deploys the new release to the idle colour (`$PIPELINE_COLOR`); it takes no traffic yet.
    public var deploy: Script
    /// Points all traffic at `$PIPELINE_COLOR`; run again with the previous colour to switch back.
    public var switchScript: Script
    /// The health check of the idle colour, before any traffic (a verify stage's `http`).
    public var http: VerifyProbe?
    /// Smoke tests of the idle colour, before any traffic (`$PIPELINE_COLOR` set).
    public var smoke: [Script]
    /// The two colours; the first deploy goes to the second (the first is taken as live).
    public var colors: [String]
    /// Stages that must succeed before the switch, but not before the deploy (`switch-after`):
    /// deploying the idle colour takes no traffic, switching does.
    public var switchAfter: [String] = []
    /// Where each of `switchAfter` is written.
    public var switchAfterMarks: [Mark] = []

    /// The colour other than `live`.
    public func idle(whenLive live: String) -> String { colors.first { $0 != live } ?? colors[0] }
}
