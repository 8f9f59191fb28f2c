import PipelineYAML

/// One environment a pipeline file deploys to (`environments.NAME`), as chosen with `--env NAME`.
public struct PipelineEnvironment: Sendable {
    /// The environment's name.
    public var name: String
    /// Free text.
    public var description: String?
    /// Environments in which a run of the same release must have succeeded before this one starts.
    public var requires: [String]
    /// The environment's own variables (already merged into ``Pipeline/env``).
    public var env: [EnvEntry]
    /// Where the environment is declared.
    public var mark: Mark
}
