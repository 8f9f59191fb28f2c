/// Finds unsafe operations in an Alembic migration: a Python file with a top-level
/// `revision = …` and `def upgrade…`.
///
/// Reads `op.*` calls (and `batch_op.*` calls inside `with op.batch_alter_table(…) as batch_op:`)
/// in `upgrade()` and `downgrade()`, scans the SQL of `op.execute("…")` with ``SQLScanner``,
/// flags a `downgrade()` that does nothing, and reads `revision` / `down_revision` for the
/// revision graph. As in SQL downgrade files, dropping and renaming are expected in
/// `downgrade()` and not reported there.
package struct AlembicScanner {
    private let source: SourceText
    private let lexed: PythonLexer.Result
    private var scan = MigrationFileScan()
    private var sql = SQLScanner.Context()

    private var tokens: [PythonToken] { lexed.tokens }

    /// Scans a Python file.
    /// - Parameters:
    ///   - source: the file's text.
    ///   - sqlite: whether the path says SQLite (a `# dialect:` header comment overrides it).
    /// - Returns: what was found, or nil when the file is not an Alembic migration.
    package static func scan(_ source: SourceText, sqlite: Bool) -> MigrationFileScan? {
        let lexed = PythonLexer.lex(source)
        var scanner = AlembicScanner(source: source, lexed: lexed)
        let functions = scanner.functions()
        guard let revisionLine = scanner.topLevelLine(assigning: "revision"),
            functions.contains(where: { $0.name.hasPrefix("upgrade") })
        else { return nil }
        scanner.readHeader(sqlite: sqlite)
        scanner.readRevision(revisionLine)
        // A merge revision (several down_revisions) joins branches and changes nothing:
        // its upgrade and downgrade are both empty by design.
        let merge =
            (scanner.scan.revision?.downRevisions.count ?? 0) > 1
            && functions.filter { $0.name.hasPrefix("upgrade") }.allSatisfy { $0.statements.allSatisfy(scanner.doesNothing) }
        for function in functions {
            let downgrade = function.name.hasPrefix("downgrade")
            if downgrade, !merge, function.statements.allSatisfy({ scanner.doesNothing($0) }) {
                scanner.report(
                    .emptyDowngrade, at: function.def, anchors: [function.def],
                    FindingMessage.emptyDowngrade(function: function.name))
            }
            scanner.sql.downgrade = downgrade
            scanner.sql.createdTables = []
            scanner.scanCalls(function.body)
        }
        return scanner.scan
    }

    private init(source: SourceText, lexed: PythonLexer.Result) {
        self.source = source
        self.lexed = lexed
    }

    // MARK: - File structure

    /// Comments before the first statement that is not the module docstring are the header:
    /// their suppressions cover the file, and `# dialect: sqlite` or `postgresql` sets the dialect.
    private mutating func readHeader(sqlite: Bool) {
        var firstCode = lexed.lines.first
        if let first = lexed.lines.first, tokens[first.tokens].allSatisfy({ $0.kind == .string }) {
            firstCode = lexed.lines.dropFirst().first
        }
        let codeStart = firstCode.map { tokens[$0.tokens.lowerBound].start } ?? source.count
        let isHeader = { (comment: SourceComment) in comment.start < codeStart }
        sql.sqlite = sqlite
        for comment in lexed.comments where isHeader(comment) {
            if let dialect = MigrationFileScan.headerValue("dialect", in: comment, source: source) {
                sql.sqlite = dialect.hasPrefix("sqlite")
            }
        }
        scan.record(lexed.comments, in: source, isHeader: isHeader)
    }

    /// The top-level logical line `name = …` or `name: type = …`.
    private func topLevelLine(assigning name: String) -> PythonLine? {
        lexed.lines.first { line in
            line.indent == 0 && line.tokens.count >= 3 && tokens[line.tokens.lowerBound].isName(name)
                && (tokens[line.tokens.lowerBound + 1].isOp("=") || tokens[line.tokens.lowerBound + 1].isOp(":"))
        }
    }

    /// The strings assigned on a line: `"a"` → ["a"], `None` → [], `("a", "b")` → ["a", "b"].
    private func assignedStrings(_ line: PythonLine) -> [String]? {
        guard let equals = line.tokens.first(where: { tokens[$0].isOp("=") }) else { return nil }
        let value = tokens[(equals + 1)..<line.tokens.upperBound]
        guard let first = value.first else { return nil }
        if value.count == 1, first.kind == .string { return [first.text] }
        if value.count == 1, first.isName("None") { return [] }
        if first.isOp("(") || first.isOp("[") { return value.filter { $0.kind == .string }.map(\.text) }
        return nil
    }

    private mutating func readRevision(_ line: PythonLine) {
        guard let id = assignedStrings(line)?.first else { return }
        let downs = topLevelLine(assigning: "down_revision").flatMap(assignedStrings) ?? []
        scan.revision = AlembicRevision(id: id, downRevisions: downs, position: source.position(tokens[line.tokens.lowerBound].start))
    }

    /// A top-level function: its `def` token, name, body statements and body tokens.
    private struct Function {
        package var def: Int
        package var name: String
        package var statements: [Range<Int>]
        package var body: Range<Int>
    }

    private func functions() -> [Function] {
        var out: [Function] = []
        let lines = lexed.lines
        for (index, line) in lines.enumerated() where line.indent == 0 {
            var k = line.tokens.lowerBound
            if tokens[k].isName("async") { k += 1 }
            guard k + 1 < line.tokens.upperBound, tokens[k].isName("def"), tokens[k + 1].kind == .name else { continue }
            let def = k
            // The header ends at the first ':' outside brackets.
            var depth = 0
            var colon: Int?
            for m in (k + 2)..<line.tokens.upperBound {
                let token = tokens[m]
                if token.isOp("(") || token.isOp("[") || token.isOp("{") { depth += 1 }
                if token.isOp(")") || token.isOp("]") || token.isOp("}") { depth = max(0, depth - 1) }
                if depth == 0, token.isOp(":") {
                    colon = m
                    break
                }
            }
            guard let colon else { continue }
            var statements: [Range<Int>] = []
            var body: Range<Int>
            if colon + 1 < line.tokens.upperBound {
                body = (colon + 1)..<line.tokens.upperBound
                statements = split(body, at: ";")
            } else {
                let nested = lines[(index + 1)...].prefix { $0.indent > line.indent }
                body = (nested.first?.tokens.lowerBound ?? colon + 1)..<(nested.last?.tokens.upperBound ?? colon + 1)
                for statement in nested { statements += split(statement.tokens, at: ";") }
            }
            out.append(Function(def: def, name: tokens[k + 1].text, statements: statements, body: body))
        }
        return out
    }

    private func split(_ range: Range<Int>, at op: String) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = range.lowerBound
        for k in range where tokens[k].isOp(op) {
            if k > start { out.append(start..<k) }
            start = k + 1
        }
        if start < range.upperBound { out.append(start..<range.upperBound) }
        return out
    }

    /// `pass`, `...`, a docstring, `return` or `return None`.
    private func doesNothing(_ statement: Range<Int>) -> Bool {
        let words = tokens[statement]
        if words.allSatisfy({ $0.kind == .string }) { return true }
        if words.count == 1, let only = words.first, only.isName("pass") || only.isOp("...") || only.isName("return") { return true }
        return words.count == 2 && words.first?.isName("return") == true && words.last?.isName("None") == true
    }

    // MARK: - Calls

    /// One argument of a call: `value` or `keyword=value`.
    private struct Argument {
        package var keyword: String?
        /// The keyword's token, or the value's first token.
        package var start: Int
        package var value: Range<Int>
    }

    /// A call `receiver.method(arguments)`.
    private struct Call {
        package var receiver: Int
        package var method: String
        package var arguments: [Argument]
        /// The tokens between the parentheses.
        package var inside: Range<Int>

        package func positional(_ index: Int) -> Argument? {
            let list = arguments.filter { $0.keyword == nil }
            return index < list.count ? list[index] : nil
        }

        package func keyword(_ name: String) -> Argument? { arguments.first { $0.keyword == name } }
    }

    private mutating func scanCalls(_ body: Range<Int>) {
        // The objects whose methods are Alembic operations: `op`, and each `batch_op` bound
        // by `with op.batch_alter_table("table") as batch_op:` (whose operations name no table).
        var batchTables: [String: String] = [:]
        var k = body.lowerBound
        while k + 3 < body.upperBound {
            defer { k += 1 }
            let receiver = tokens[k]
            guard receiver.kind == .name, receiver.text == "op" || batchTables[receiver.text] != nil,
                tokens[k + 1].isOp("."), tokens[k + 2].kind == .name, tokens[k + 3].isOp("(")
            else { continue }
            let close = closing(k + 3, limit: body.upperBound)
            let inside = (k + 4)..<close
            let call = Call(receiver: k, method: tokens[k + 2].text, arguments: arguments(inside), inside: inside)
            let batchTable = batchTables[receiver.text]
            if receiver.text == "op", call.method == "batch_alter_table" {
                if close + 2 < body.upperBound, tokens[close + 1].isName("as"), tokens[close + 2].kind == .name {
                    batchTables[tokens[close + 2].text] = call.positional(0).flatMap { string($0.value) } ?? ""
                }
                continue
            }
            operation(call, batchTable: batchTable)
        }
    }

    /// Checks one `op.<method>(…)` call.
    /// - Parameter batchTable: the table of a `batch_op` receiver (its calls name no table), or nil for `op`.
    private mutating func operation(_ call: Call, batchTable: String?) {
        let batch = batchTable != nil
        // Operations on a batch name no table: their positional arguments shift by one.
        let shift = batch ? 0 : 1
        let table = batchTable.flatMap { $0.isEmpty ? nil : $0 } ?? (batch ? nil : call.positional(0).flatMap { string($0.value) })
        let isNew = table.map { sql.createdTables.contains($0) } ?? false
        switch call.method {
        case "create_table":
            if let table { sql.createdTables.insert(table) }
        case "add_column":
            guard !isNew, let column = columnCall(in: call.inside) else { return }
            let nullable = column.keyword("nullable").map { isName($0.value, "False") } ?? false
            let serverDefault = column.keyword("server_default").map { !isName($0.value, "None") } ?? false
            let generated = column.arguments.contains { argument in
                tokens[argument.value].contains { $0.isName("Computed") || $0.isName("Identity") }
            }
            guard nullable, !serverDefault, !generated else { return }
            report(
                .addingNotNullColumn, at: call.receiver, anchors: [call.receiver],
                FindingMessage.addingNotNullColumn(column: column.positional(0).flatMap { string($0.value) }, table: table))
        case "drop_column":
            guard !sql.downgrade, !isNew else { return }
            let column = call.positional(shift).flatMap { string($0.value) }
            report(.droppingColumn, at: call.receiver, anchors: [call.receiver], FindingMessage.droppingColumn(column: column, table: table))
        case "drop_table":
            guard let table = call.positional(0).flatMap({ string($0.value) }) ?? table else { return }
            let created = sql.createdTables.remove(table) != nil
            guard !sql.downgrade, !created else { return }
            report(.droppingTable, at: call.receiver, anchors: [call.receiver], FindingMessage.droppingTable([table]))
        case "alter_column":
            guard !isNew else { return }
            let column = call.positional(shift).flatMap { string($0.value) }
            if let rename = call.keyword("new_column_name"), !sql.downgrade {
                report(
                    .renamingColumn, at: rename.start, anchors: [call.receiver],
                    FindingMessage.renamingColumn(from: column, to: string(rename.value), table: table))
            }
            if let type = call.keyword("type_") {
                report(
                    .changingColumnType, at: type.start, anchors: [call.receiver],
                    FindingMessage.changingColumnType(column: column, table: table, type: text(type.value)))
            }
            if let nullable = call.keyword("nullable"), isName(nullable.value, "False") {
                report(.settingNotNull, at: nullable.start, anchors: [call.receiver], FindingMessage.settingNotNull(column: column, table: table))
            }
        case "rename_table":
            let new = call.positional(1).flatMap { string($0.value) }
            if isNew {
                if let new { sql.createdTables.insert(new) }
                return
            }
            guard !sql.downgrade else { return }
            report(.renamingTable, at: call.receiver, anchors: [call.receiver], FindingMessage.renamingTable(from: table, to: new))
        case "create_index":
            let index = call.positional(0).flatMap { string($0.value) }
            let indexTable = batch ? table : (call.positional(1) ?? call.keyword("table_name")).flatMap { string($0.value) }
            let concurrently = call.keyword("postgresql_concurrently").map { isName($0.value, "True") } ?? false
            guard !concurrently, !sql.sqlite, !(indexTable.map { sql.createdTables.contains($0) } ?? false) else { return }
            report(
                .indexWithoutConcurrently, at: call.receiver, anchors: [call.receiver],
                FindingMessage.indexWithoutConcurrently(index: index, table: indexTable))
        case "execute":
            guard let argument = call.positional(0) ?? call.keyword("sqltext") else { return }
            executeSQL(argument.value, callLine: source.position(tokens[call.receiver].start).line)
        default:
            break
        }
    }

    /// Scans the SQL of `op.execute("…")` (also through `sa.text("…")`), keeping each
    /// character's position in this file.
    private mutating func executeSQL(_ value: Range<Int>, callLine: Int) {
        let strings = stringTokens(value)
        guard !strings.isEmpty else { return }
        var chars: [Character] = []
        var positions: [SourcePosition] = []
        for token in strings {
            if !chars.isEmpty {
                chars.append(" ")
                positions.append(source.position(token.start))
            }
            let raw = source.text(token.start..<token.content.lowerBound).lowercased().contains("r")
            var m = token.content.lowerBound
            while m < token.content.upperBound, let c = source[m] {
                positions.append(source.position(m))
                if c == "\\", !raw, let next = source[m + 1], m + 1 < token.content.upperBound {
                    // Python escapes: keep one character where the escape was, so columns stay put.
                    chars.append(["n": "\n", "t": " ", "r": " "][next] ?? next)
                    m += 2
                } else {
                    chars.append(c)
                    m += 1
                }
            }
        }
        positions.append(source.position(strings.last.map { $0.content.upperBound } ?? 0))
        let embedded = SourceText(chars: chars, positions: positions)
        let lexedSQL = SQLLexer.lex(embedded)
        scan.record(lexedSQL.comments, in: embedded, isHeader: { _ in false })
        for var finding in SQLScanner.scan(embedded, tokens: lexedSQL.tokens, context: &sql) {
            finding.anchorLines.append(callLine)
            scan.findings.append(finding)
        }
    }

    /// The `sa.Column(…)` call among an `add_column`'s arguments.
    private func columnCall(in range: Range<Int>) -> Call? {
        for k in range where tokens[k].isName("Column") && k + 1 < range.upperBound && tokens[k + 1].isOp("(") {
            let close = closing(k + 1, limit: range.upperBound)
            let inside = (k + 2)..<close
            return Call(receiver: k, method: "Column", arguments: arguments(inside), inside: inside)
        }
        return nil
    }

    // MARK: - Tokens

    /// The index of the bracket closing the one at `open`, or `limit` when it is missing.
    private func closing(_ open: Int, limit: Int) -> Int {
        var depth = 0
        for k in open..<limit {
            let token = tokens[k]
            if token.isOp("(") || token.isOp("[") || token.isOp("{") { depth += 1 }
            if token.isOp(")") || token.isOp("]") || token.isOp("}") {
                depth -= 1
                if depth == 0 { return k }
            }
        }
        return limit
    }

    /// Arguments split at commas outside brackets.
    private func arguments(_ range: Range<Int>) -> [Argument] {
        var out: [Argument] = []
        var depth = 0
        var start = range.lowerBound
        func add(_ end: Int) {
            guard end > start else { return }
            if end - start >= 2, tokens[start].kind == .name, tokens[start + 1].isOp("=") {
                out.append(Argument(keyword: tokens[start].text, start: start, value: (start + 2)..<end))
            } else {
                out.append(Argument(keyword: nil, start: start, value: start..<end))
            }
        }
        for k in range {
            let token = tokens[k]
            if token.isOp("(") || token.isOp("[") || token.isOp("{") { depth += 1 }
            if token.isOp(")") || token.isOp("]") || token.isOp("}") { depth = max(0, depth - 1) }
            if depth == 0, token.isOp(",") {
                add(k)
                start = k + 1
            }
        }
        add(range.upperBound)
        return out
    }

    /// The string tokens of a value: `"…" "…"` (adjacent literals), or the first argument of
    /// a wrapper call such as `op.f("…")` or `sa.text("…")`.
    private func stringTokens(_ value: Range<Int>) -> [PythonToken] {
        guard !value.isEmpty else { return [] }
        if tokens[value].allSatisfy({ $0.kind == .string }) { return Array(tokens[value]) }
        guard let open = value.first(where: { tokens[$0].isOp("(") }),
            tokens[value.lowerBound..<open].allSatisfy({ $0.kind == .name || $0.isOp(".") })
        else { return [] }
        let close = closing(open, limit: value.upperBound)
        guard let first = arguments((open + 1)..<close).first, first.keyword == nil else { return [] }
        return stringTokens(first.value)
    }

    private func string(_ value: Range<Int>) -> String? {
        let strings = stringTokens(value)
        return strings.isEmpty ? nil : strings.map(\.text).joined()
    }

    private func text(_ value: Range<Int>) -> String? {
        guard let first = value.first, let last = value.last else { return nil }
        return source.text(tokens[first].start..<tokens[last].end)
    }

    private func isName(_ value: Range<Int>, _ name: String) -> Bool {
        value.count == 1 && tokens[value.lowerBound].isName(name)
    }

    private mutating func report(_ rule: MigrationRule, at token: Int, anchors: [Int], _ message: String) {
        scan.findings.append(
            ScannedFinding(
                rule: rule, position: source.position(tokens[token].start),
                anchorLines: anchors.map { source.position(tokens[$0].start).line }, message: message))
    }
}
