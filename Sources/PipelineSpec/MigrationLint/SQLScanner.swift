/// Finds unsafe schema changes in SQL statements (PostgreSQL and SQLite dialects).
///
/// Statements are split on `;` (not inside strings, comments, or the `BEGIN … END` body
/// of a `CREATE TRIGGER`); each is matched by its leading keywords, case-insensitively.
/// Changes to a table created earlier in the same file are safe (the table is new and
/// empty, and no running version uses it) and are not reported.
package struct SQLScanner {
    /// What a scan knows beyond the text; one Alembic file shares it across its SQL strings.
    package struct Context: Sendable {
        /// Downgrade code, where dropping and renaming are expected.
        package var downgrade = false
        /// SQLite, which has no `CREATE INDEX CONCURRENTLY`.
        package var sqlite = false
        /// Keys (``SQLName/key``) of tables created so far in the file.
        package var createdTables: Set<String> = []
    }

    private let source: SourceText
    private var context: Context
    private var findings: [ScannedFinding] = []

    /// Scans tokens of SQL text.
    /// - Parameters:
    ///   - source: the text the tokens index into.
    ///   - tokens: ``SQLLexer`` tokens of that text.
    ///   - context: the file's context; tables created here are added to it.
    /// - Returns: the findings, in text order.
    package static func scan(_ source: SourceText, tokens: [SQLToken], context: inout Context) -> [ScannedFinding] {
        var scanner = SQLScanner(source: source, context: context)
        for statement in statements(tokens) { scanner.check(statement) }
        context = scanner.context
        return scanner.findings
    }

    /// Splits tokens into statements at `;`, keeping a `CREATE TRIGGER … BEGIN … END` (or a
    /// `BEGIN ATOMIC … END` function body) whole.
    package static func statements(_ tokens: [SQLToken]) -> [ArraySlice<SQLToken>] {
        var out: [ArraySlice<SQLToken>] = []
        var start = 0
        var blockDepth = 0
        for (i, token) in tokens.enumerated() {
            if token.isWord("BEGIN"), i > start, tokens[start].isWord("CREATE") {
                blockDepth += 1
            } else if blockDepth > 0, token.isWord("CASE") {
                blockDepth += 1
            } else if blockDepth > 0, token.isWord("END") {
                blockDepth -= 1
            } else if blockDepth == 0, token.isPunctuation(";") {
                if i > start { out.append(tokens[start..<i]) }
                start = i + 1
            }
        }
        if start < tokens.count { out.append(tokens[start...]) }
        return out
    }

    private mutating func check(_ statement: ArraySlice<SQLToken>) {
        guard let first = statement.first else { return }
        var cursor = SQLCursor(statement)
        if cursor.accept("ALTER", "TABLE") {
            alterTable(&cursor, anchor: first)
        } else if cursor.accept("DROP", "TABLE") {
            dropTable(&cursor, at: first)
        } else if cursor.accept("CREATE") {
            _ = cursor.accept("OR", "REPLACE")
            let unique = cursor.accept("UNIQUE")
            if cursor.accept("INDEX") {
                createIndex(&cursor, at: first)
            } else if !unique {
                while cursor.acceptAny(["GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED", "VIRTUAL"]) {}
                if cursor.accept("TABLE") {
                    _ = cursor.accept("IF", "NOT", "EXISTS")
                    if let table = cursor.name() { context.createdTables.insert(table.key) }
                }
            }
        }
    }

    // MARK: - Statements

    /// `ALTER TABLE [IF EXISTS] [ONLY] name action[, action…]`.
    private mutating func alterTable(_ cursor: inout SQLCursor, anchor: SQLToken) {
        _ = cursor.accept("IF", "EXISTS")
        _ = cursor.accept("ONLY")
        guard let table = cursor.name() else { return }
        _ = cursor.acceptPunctuation("*")
        guard !context.createdTables.contains(table.key) else {
            // A new table: only follow a rename, so the new name stays known as new.
            var rename = cursor
            if rename.accept("RENAME", "TO"), let new = rename.name() { context.createdTables.insert(new.key) }
            return
        }
        for action in cursor.splitRest() {
            alterTableAction(action, table: table, anchor: anchor)
        }
    }

    private mutating func alterTableAction(_ action: ArraySlice<SQLToken>, table: SQLName, anchor: SQLToken) {
        guard let first = action.first else { return }
        var cursor = SQLCursor(action)
        let constraintWords: Set<String> = ["CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "EXCLUDE"]
        if cursor.accept("ADD") {
            _ = cursor.accept("COLUMN")
            _ = cursor.accept("IF", "NOT", "EXISTS")
            guard let word = cursor.current, !constraintWords.contains(word.keyword), let column = cursor.identifier() else { return }
            let rest = cursor.rest
            let notNull = SQLCursor.containsAtTopLevel(rest, "NOT", "NULL")
            let hasDefault = SQLCursor.containsAtTopLevel(rest, "DEFAULT") || SQLCursor.containsAtTopLevel(rest, "GENERATED")
            if notNull && !hasDefault {
                report(
                    .addingNotNullColumn, at: first, anchor: anchor,
                    FindingMessage.addingNotNullColumn(column: column, table: table.display))
            }
        } else if cursor.accept("DROP") {
            guard !context.downgrade, !(cursor.current.map { constraintWords.contains($0.keyword) } ?? true) else { return }
            _ = cursor.accept("COLUMN")
            _ = cursor.accept("IF", "EXISTS")
            report(
                .droppingColumn, at: first, anchor: anchor,
                FindingMessage.droppingColumn(column: cursor.identifier(), table: table.display))
        } else if cursor.accept("RENAME") {
            if cursor.accept("TO") {
                let new = cursor.name()
                if let new { context.createdTables.remove(new.key) }
                guard !context.downgrade else { return }
                report(.renamingTable, at: first, anchor: anchor, FindingMessage.renamingTable(from: table.display, to: new?.display))
            } else if !cursor.accept("CONSTRAINT") {
                guard !context.downgrade else { return }
                _ = cursor.accept("COLUMN")
                let old = cursor.identifier()
                let new = cursor.accept("TO") ? cursor.identifier() : nil
                report(
                    .renamingColumn, at: first, anchor: anchor,
                    FindingMessage.renamingColumn(from: old, to: new, table: table.display))
            }
        } else if cursor.accept("ALTER") {
            _ = cursor.accept("COLUMN")
            let column = cursor.identifier()
            if cursor.accept("TYPE") || cursor.accept("SET", "DATA", "TYPE") {
                let typeTokens = cursor.rest.prefix { !["USING", "COLLATE"].contains($0.keyword) }
                let type = typeTokens.first.flatMap { first in typeTokens.last.map { source.text(first.start..<$0.end) } }
                report(
                    .changingColumnType, at: first, anchor: anchor,
                    FindingMessage.changingColumnType(column: column, table: table.display, type: type))
            } else if cursor.accept("SET", "NOT", "NULL") {
                report(.settingNotNull, at: first, anchor: anchor, FindingMessage.settingNotNull(column: column, table: table.display))
            }
        }
    }

    /// `DROP TABLE [IF EXISTS] name[, name…] [CASCADE]`.
    private mutating func dropTable(_ cursor: inout SQLCursor, at first: SQLToken) {
        _ = cursor.accept("IF", "EXISTS")
        var dropped: [String] = []
        while let table = cursor.name() {
            if !context.createdTables.contains(table.key) { dropped.append(table.display) }
            context.createdTables.remove(table.key)
            guard cursor.acceptPunctuation(",") else { break }
        }
        guard !context.downgrade, !dropped.isEmpty else { return }
        report(.droppingTable, at: first, anchor: first, FindingMessage.droppingTable(dropped))
    }

    /// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON [ONLY] table …`.
    private mutating func createIndex(_ cursor: inout SQLCursor, at first: SQLToken) {
        let concurrently = cursor.accept("CONCURRENTLY")
        _ = cursor.accept("IF", "NOT", "EXISTS")
        let index = cursor.current?.isWord("ON") == true ? nil : cursor.name()
        guard cursor.accept("ON") else { return }
        _ = cursor.accept("ONLY")
        let table = cursor.name()
        guard !concurrently, !context.sqlite, !(table.map { context.createdTables.contains($0.key) } ?? false) else { return }
        report(
            .indexWithoutConcurrently, at: first, anchor: first,
            FindingMessage.indexWithoutConcurrently(index: index?.display, table: table?.display))
    }

    private mutating func report(_ rule: MigrationRule, at token: SQLToken, anchor: SQLToken, _ message: String) {
        findings.append(
            ScannedFinding(
                rule: rule, position: source.position(token.start),
                anchorLines: [source.position(anchor.start).line], message: message))
    }
}

/// A possibly schema-qualified name: `users`, `public.users`, `"Users"`.
package struct SQLName: Sendable {
    /// The parts as written, without quotes.
    package var parts: [String]
    /// The last part as the database compares it: unquoted names fold to lower case.
    package var key: String

    /// `public.users`.
    package var display: String { parts.joined(separator: ".") }
}

/// Reads a statement's tokens from left to right.
package struct SQLCursor {
    private let tokens: ArraySlice<SQLToken>
    private var index: Int

    package init(_ tokens: ArraySlice<SQLToken>) {
        self.tokens = tokens
        index = tokens.startIndex
    }

    /// The next token, if any.
    package var current: SQLToken? { index < tokens.endIndex ? tokens[index] : nil }

    /// The tokens not read yet.
    package var rest: ArraySlice<SQLToken> { tokens[min(index, tokens.endIndex)...] }

    /// Reads a sequence of keywords if the next tokens are exactly those.
    package mutating func accept(_ words: String...) -> Bool {
        var k = index
        for word in words {
            guard k < tokens.endIndex, tokens[k].isWord(word) else { return false }
            k += 1
        }
        index = k
        return true
    }

    /// Reads one keyword if it is any of `words`.
    package mutating func acceptAny(_ words: Set<String>) -> Bool {
        guard let token = current, words.contains(token.keyword) else { return false }
        index += 1
        return true
    }

    /// Reads a punctuation character if it is next.
    package mutating func acceptPunctuation(_ c: Character) -> Bool {
        guard let token = current, token.isPunctuation(c) else { return false }
        index += 1
        return true
    }

    /// Reads one identifier (a word or a quoted name).
    package mutating func identifier() -> String? {
        guard let token = current, token.isIdentifier else { return nil }
        index += 1
        return token.text
    }

    /// Reads a dotted name.
    package mutating func name() -> SQLName? {
        guard let token = current, token.isIdentifier else { return nil }
        var parts = [token.text]
        var last = token
        index += 1
        while let dot = current, dot.isPunctuation("."), index + 1 < tokens.endIndex, tokens[index + 1].isIdentifier {
            last = tokens[index + 1]
            parts.append(last.text)
            index += 2
        }
        return SQLName(parts: parts, key: last.kind == .word ? last.text.lowercased() : last.text)
    }

    /// The unread tokens split at commas outside parentheses.
    package func splitRest() -> [ArraySlice<SQLToken>] {
        var out: [ArraySlice<SQLToken>] = []
        var depth = 0
        var start = index
        for k in index..<tokens.endIndex {
            let token = tokens[k]
            if token.isPunctuation("(") { depth += 1 }
            if token.isPunctuation(")") { depth = max(0, depth - 1) }
            if depth == 0, token.isPunctuation(",") {
                out.append(tokens[start..<k])
                start = k + 1
            }
        }
        if start < tokens.endIndex { out.append(tokens[start...]) }
        return out
    }

    /// Whether a keyword sequence occurs in `tokens` outside parentheses.
    package static func containsAtTopLevel(_ tokens: ArraySlice<SQLToken>, _ words: String...) -> Bool {
        var depth = 0
        for k in tokens.indices {
            let token = tokens[k]
            if token.isPunctuation("(") { depth += 1 }
            if token.isPunctuation(")") { depth = max(0, depth - 1) }
            guard depth == 0 else { continue }
            if words.indices.allSatisfy({ k + $0 < tokens.endIndex && tokens[k + $0].isWord(words[$0]) }) { return true }
        }
        return false
    }
}
