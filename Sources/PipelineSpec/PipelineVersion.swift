/// The version of the `pipeline` tool and the format versions it reads.
public enum PipelineVersion {
    /// The tool's version.
    public static let current = "0.1.0"
    /// Pipeline file format versions this build reads.
    public static let formats = [1]
}
