/// A comment found by one of the lexers: where it starts and where its text is.
package struct SourceComment: Sendable {
    /// Index of the comment marker (`--`, `/*`, `#`).
    package var start: Int
    /// The comment's text, without its markers.
    package var body: Range<Int>
    /// Whether nothing but whitespace precedes it on its line.
    package var standalone: Bool
}

/// A problem in a file that is not a finding (a suppression naming an unknown rule).
package struct LintProblem: Sendable {
    package var position: SourcePosition
    package var message: String
}

/// A finding before suppression comments are applied.
package struct ScannedFinding: Sendable {
    package var rule: MigrationRule
    /// Where the offending clause starts.
    package var position: SourcePosition
    /// The first line of the statement or call the finding is in (for SQL inside
    /// `op.execute`, both the statement's and the call's): a suppression comment on that
    /// line or on the comment lines just above it applies.
    package var anchorLines: [Int]
    package var message: String
}

/// An Alembic revision and the revisions it follows.
package struct AlembicRevision: Sendable {
    package var id: String
    package var downRevisions: [String]
    /// Where `revision =` is written.
    package var position: SourcePosition
}

/// Everything scanning one file found, before suppression.
package struct MigrationFileScan: Sendable {
    package var findings: [ScannedFinding] = []
    /// `pipeline: allow …` comments anywhere in the file.
    package var suppressions: [SuppressionComment] = []
    /// Lines holding nothing but a comment (the block above a statement is read through these).
    package var commentLines: Set<Int> = []
    /// Rules allowed for the whole file by its first comment block.
    package var fileRules: Set<MigrationRule> = []
    package var problems: [LintProblem] = []
    /// Set for Alembic files that declare a revision.
    package var revision: AlembicRevision?

    /// Records a file's comments: their suppressions, and which lines are comment-only.
    /// - Parameters:
    ///   - comments: the comments, in file order.
    ///   - source: the text they index into.
    ///   - isHeader: whether a comment belongs to the file's first comment block.
    package mutating func record(_ comments: [SourceComment], in source: SourceText, isHeader: (SourceComment) -> Bool) {
        for comment in comments {
            if comment.standalone {
                let first = source.position(comment.start).line
                let last = source.position(comment.body.upperBound).line
                for line in first...max(first, last) { commentLines.insert(line) }
            }
            let (suppression, problems) = SuppressionComment.parse(comment, in: source)
            self.problems += problems
            guard let suppression else { continue }
            suppressions.append(suppression)
            if isHeader(comment) { fileRules.formUnion(suppression.rules) }
        }
    }

    /// Whether a finding is allowed by `allow`, by the file's header, by a comment on its
    /// line or its statement's first line, or by the comment lines directly above its statement.
    package func isSuppressed(_ finding: ScannedFinding, allow: Set<MigrationRule>) -> Bool {
        if allow.contains(finding.rule) || fileRules.contains(finding.rule) { return true }
        var lines: Set<Int> = [finding.position.line]
        for anchor in finding.anchorLines {
            lines.insert(anchor)
            var line = anchor - 1
            while line >= 1, commentLines.contains(line) {
                lines.insert(line)
                line -= 1
            }
        }
        return suppressions.contains { lines.contains($0.line) && $0.rules.contains(finding.rule) }
    }

    /// The lowercased value of a `key: value` comment (`-- dialect: sqlite`), or nil.
    package static func headerValue(_ key: String, in comment: SourceComment, source: SourceText) -> String? {
        let text = source.text(comment.body).trimmingWhitespace().lowercased()
        guard text.hasPrefix(key + ":") else { return nil }
        return String(text.dropFirst(key.count + 1)).trimmingWhitespace()
    }
}

extension String {
    /// The string without leading and trailing whitespace (no Foundation needed).
    package func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
