/// A `pipeline: allow RULE[, RULE…]` comment.
///
/// Rule ids are separated by commas or spaces; text after ` -- ` or `#` is a free-form
/// reason (`-- pipeline: allow dropping-column -- unused since 2.3`).
package struct SuppressionComment: Sendable {
    /// The line of the `pipeline:` word.
    package var line: Int
    /// The rules it allows.
    package var rules: Set<MigrationRule>

    /// Parses a comment.
    /// - Returns: the suppression (nil when the comment is not a `pipeline:` comment) and
    ///   any problems in it (unknown rule ids, an unknown directive), located.
    package static func parse(_ comment: SourceComment, in source: SourceText) -> (SuppressionComment?, [LintProblem]) {
        var i = comment.body.lowerBound
        let end = comment.body.upperBound
        func at(_ index: Int) -> Character? { index < end ? source[index] : nil }
        while let c = at(i), c.isWhitespace, !c.isLineBreak { i += 1 }
        let marker = "pipeline:"
        guard source.text(i..<min(i + marker.count, end)).lowercased() == marker else { return (nil, []) }
        let start = source.position(i)
        i += marker.count
        while let c = at(i), c.isWhitespace, !c.isLineBreak { i += 1 }

        let verbStart = i
        while let c = at(i), c.isLetter { i += 1 }
        let verb = source.text(verbStart..<i)
        guard verb.lowercased() == "allow" else {
            let message =
                verb.isEmpty
                ? "'pipeline:' comment names no directive; write e.g. 'pipeline: allow dropping-column'"
                : "unknown 'pipeline:' directive '\(verb)'; write 'pipeline: allow RULE'"
            return (nil, [LintProblem(position: verb.isEmpty ? start : source.position(verbStart), message: message)])
        }

        var rules: Set<MigrationRule> = []
        var problems: [LintProblem] = []
        var named = 0
        scanning: while i < end {
            while let c = at(i), (c.isWhitespace && !c.isLineBreak) || c == "," { i += 1 }
            guard let c = at(i), !c.isLineBreak else { break }
            if c == "#" || (c == "-" && at(i + 1) == "-") { break scanning }
            let idStart = i
            while let c = at(i), !c.isWhitespace, c != "," { i += 1 }
            let id = source.text(idStart..<i)
            named += 1
            if let rule = MigrationRule(rawValue: id) {
                rules.insert(rule)
            } else {
                let hint = MigrationRule.closest(to: id).map { "; did you mean '\($0.rawValue)'?" } ?? ""
                problems.append(
                    LintProblem(
                        position: source.position(idStart),
                        message: "unknown migration lint rule '\(id)' in a suppression comment" + hint))
            }
        }
        if named == 0 {
            problems.append(LintProblem(position: start, message: "'pipeline: allow' names no rule; write e.g. 'pipeline: allow dropping-column'"))
        }
        return (SuppressionComment(line: start.line, rules: rules), problems)
    }
}
