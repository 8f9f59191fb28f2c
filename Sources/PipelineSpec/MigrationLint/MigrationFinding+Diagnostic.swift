import PipelineYAML

extension MigrationFinding {
    /// The finding as an error diagnostic whose code is the rule id, for ``DiagnosticRenderer``:
    /// `path:line:column: error: message [rule-id]`.
    public var diagnostic: Diagnostic {
        Diagnostic(.error, path: path, mark: Mark(line: line, column: column), message: message, code: rule.rawValue)
    }
}
