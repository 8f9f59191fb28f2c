import PipelineYAML

/// One declared input (`inputs.NAME`): a value given from outside the file with `--input NAME=VALUE`,
/// by the chosen environment, or by its default; read as `${{ inputs.NAME }}`.
public struct PipelineInput: Sendable {
    /// The value types an input may have.
    public enum ValueType: String, CaseIterable, Sendable {
        case string, number, boolean, duration

        /// Why `value` is not of this type, or nil when it is.
        public func problem(_ value: String) -> String? {
            switch self {
            case .string:
                return nil
            case .number:
                return Double(value).map { $0.isFinite } == true && !value.contains(where: { $0.isLetter })
                    ? nil : "'\(value)' is not a number"
            case .boolean:
                return value == "true" || value == "false" ? nil : "'\(value)' is not a boolean; write 'true' or 'false'"
            case .duration:
                guard let span = TimeSpan(parsing: value) else {
                    if Int(value) != nil { return "'\(value)' is not a duration; add a unit: '\(value)s'" }
                    return "'\(value)' is not a duration; use h, m, s, ms in that order, e.g. '1h30m', '90s', '500ms'"
                }
                return span > FormatLimits.maxDuration ? "'\(value)' is longer than \(FormatLimits.maxDuration) (30 days)" : nil
            }
        }
    }

    /// The input's name (`[A-Za-z_][A-Za-z0-9_-]*`).
    public var name: String
    /// Free text.
    public var description: String?
    /// The type values are checked against.
    public var type: ValueType
    /// The value when none is given.
    public var defaultValue: String?
    /// Whether a run must be given a value (by `--input` or by its environment).
    public var required: Bool
    /// Where the input is declared.
    public var mark: Mark
}
