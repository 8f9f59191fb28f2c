/// A comment found by one of the lexers: where it starts and where its text is.
struct SourceComment: Sendable {
    /// Index of the comment marker (`--`, `/*`, `#`).
    var start: Int
    /// The comment's text, without its markers.
    var body: Range<Int>
    /// Whether nothing but whitespace precedes it on its line.
    var standalone: Bool
}

/// A problem in a file that is not a finding (a suppression naming an unknown rule).
struct LintProblem: Sendable {
    var position: SourcePosition
    var message: String
}

/// A finding before suppression comments are applied.
struct ScannedFinding: Sendable {
    var rule: MigrationRule
    /// Where the offending clause starts.
    var position: SourcePosition
    /// The first line of the statement or call the finding is in (for SQL inside
    /// `op.execute`, both the statement's and the call's): a suppression comment on that
    /// line or on the comment lines just above it applies.
    var anchorLines: [Int]
    var message: String
}

/// An Alembic revision and the revisions it follows.
struct AlembicRevision: Sendable {
    var id: String
    var downRevisions: [String]
    /// Where `revision =` is written.
    var position: SourcePosition
}

/// Everything scanning one file found, before suppression.
struct MigrationFileScan: Sendable {
    var findings: [ScannedFinding] = []
    /// `pipeline: allow …` comments anywhere in the file.
    var suppressions: [SuppressionComment] = []
    /// Lines holding nothing but a comment (the block above a statement is read through these).
    var commentLines: Set<Int> = []
    /// Rules allowed for the whole file by its first comment block.
    var fileRules: Set<MigrationRule> = []
    var problems: [LintProblem] = []
    /// Set for Alembic files that declare a revision.
    var revision: AlembicRevision?

    /// Records a file's comments: their suppressions, and which lines are comment-only.
    /// - Parameters:
    ///   - comments: the comments, in file order.
    ///   - source: the text they index into.
    ///   - isHeader: whether a comment belongs to the file's first comment block.
    mutating func record(_ comments: [SourceComment], in source: SourceText, isHeader: (SourceComment) -> Bool) {
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
    func isSuppressed(_ finding: ScannedFinding, allow: Set<MigrationRule>) -> Bool {
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
    static func headerValue(_ key: String, in comment: SourceComment, source: SourceText) -> String? {
        let text = source.text(comment.body).trimmingWhitespace().lowercased()
        guard text.hasPrefix(key + ":") else { return nil }
        return String(text.dropFirst(key.count + 1)).trimmingWhitespace()
    }
}

extension String {
    /// The string without leading and trailing whitespace (no Foundation needed).
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
