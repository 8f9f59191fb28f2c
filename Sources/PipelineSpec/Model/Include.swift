import PipelineYAML

/// Where a file was included: the `include` entry of the including file.
public struct IncludeSite: Sendable, Equatable, Hashable {
    /// The including file, as diagnostics name it.
    public var path: String
    /// Where its `include` entry is written.
    public var mark: Mark

    /// Creates a site.
    public init(path: String, mark: Mark) {
        self.path = path
        self.mark = mark
    }

    /// `shop.yml:12:5`.
    public var location: String { "\(path):\(mark.line):\(mark.column)" }
}

/// The file a stage is written in, when it is not the pipeline file itself.
public struct StageOrigin: Sendable, Equatable {
    /// The stage file, as diagnostics name it (its path joined to the including file's directory).
    public var path: String
    /// The chain of `include` entries that brought it in, innermost first.
    public var includedFrom: [IncludeSite]

    /// Creates an origin.
    public init(path: String, includedFrom: [IncludeSite]) {
        self.path = path
        self.includedFrom = includedFrom
    }

    /// `stages/build.yml (included from shop.yml:12:5)`.
    public var summary: String { path + IncludeSite.suffix(includedFrom) }
}

extension IncludeSite {
    /// ` (included from shop.yml:12:5)`, or `` for none; a chain reads
    /// ` (included from a.yml:3:5, from shop.yml:12:5)`.
    public static func suffix(_ chain: [IncludeSite]) -> String {
        guard !chain.isEmpty else { return "" }
        return " (included from " + chain.map(\.location).joined(separator: ", from ") + ")"
    }
}

/// One `- include:` entry of a stage list, expanded: what the plan and the graph check need.
public struct IncludeRecord: Sendable {
    /// The stage file, as diagnostics name it.
    public var path: String
    /// Where the entry is written (its file and chain).
    public var site: IncludeSite
    /// The chain above the entry's own file, innermost first.
    public var includedFrom: [IncludeSite]
    /// The prefix its stage ids got (`eu` makes `health` `eu-health`), nil for none.
    public var prefix: String?
    /// The parameter values it passed, in the order the stage file declares them.
    public var parameters: [(String, String)]
    /// `needs` written on the entry (already prefixed like the entry's own file), with marks.
    public var needs: [(String, Mark)]
    /// The ids of the stages it brought in.
    public var stages: [String]
}
