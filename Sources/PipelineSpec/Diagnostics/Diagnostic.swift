import PipelineYAML

/// One problem found in a pipeline file, located and explained in one line.
public struct Diagnostic: Sendable, Equatable {
    /// How serious a problem is.
    public enum Severity: String, Sendable, Comparable {
        case warning, error

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .warning && rhs == .error }
    }

    /// Error or warning.
    public var severity: Severity
    /// The file as the user named it.
    public var path: String
    /// Where in the file; line 0 for a problem with the whole file (it cannot be read, or a
    /// path matched nothing), shown as `path: error: message`.
    public var mark: Mark
    /// A lowercase, one-line message.
    public var message: String
    /// A stable id for lint warnings (`missing-rollback`), nil for plain errors.
    public var code: String?
    /// When ``path`` is a stage file brought in by `include`: the entries that included it,
    /// innermost first (empty for the pipeline file itself).
    public var includedFrom: [IncludeSite] = []

    /// A problem with a whole file or path, not a place in it (line 0).
    public static func file(_ severity: Severity, path: String, message: String, code: String? = nil) -> Diagnostic {
        Diagnostic(severity, path: path, mark: Mark(line: 0, column: 0), message: message, code: code)
    }

    /// Creates a diagnostic.
    public init(_ severity: Severity, path: String, mark: Mark, message: String, code: String? = nil, includedFrom: [IncludeSite] = []) {
        self.severity = severity
        self.path = path
        self.mark = mark
        self.message = message
        self.code = code
        self.includedFrom = includedFrom
    }

    /// The message with where its file was included from: ` (included from shop.yml:12:5)`.
    public var messageWithInclusion: String { message + IncludeSite.suffix(includedFrom) }

    /// `path:line:column: error: message`, the line compilers and CI annotators parse, ending in
    /// `(included from shop.yml:12:5)` for a problem in an included stage file; control
    /// characters in the path or the message are shown escaped (``TerminalText``), so it stays one
    /// line and safe to print.
    public var headline: String {
        let suffix = code.map { " [\($0)]" } ?? ""
        let location = mark.line == 0 ? "" : ":\(mark.line):\(mark.column)"
        return "\(TerminalText.escaped(path))\(location): \(severity.rawValue): \(TerminalText.escaped(messageWithInclusion))\(suffix)"
    }
}

/// Thrown when reading or validation finds errors; carries every diagnostic found.
public struct DiagnosticError: Error, Sendable {
    /// All diagnostics, errors and warnings, in file order.
    public var diagnostics: [Diagnostic]

    /// Creates the error.
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
}
