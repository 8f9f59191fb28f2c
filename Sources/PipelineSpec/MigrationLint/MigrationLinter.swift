import PipelineYAML

/// One unsafe schema change found in a migration file.
public struct MigrationFinding: Sendable, Equatable {
    /// The rule that found it.
    public var rule: MigrationRule
    /// The file, as given or relative to the path given (a directory or a glob).
    public var path: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, counted in characters.
    public var column: Int
    /// One line, lowercase: what breaks (while the old and new versions both run, by
    /// locking a table, or by losing data) and the safe way to do it.
    public var message: String

    /// Creates a finding.
    public init(rule: MigrationRule, path: String, line: Int, column: Int, message: String) {
        self.rule = rule
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }
}

/// Lints database migrations for changes that are unsafe while the old and the new
/// version of an application run side by side (see `docs/migration-lint.md`).
///
/// Reads SQL files (PostgreSQL and SQLite) and Alembic revision files. Never crashes on
/// odd input: unreadable or non-UTF-8 files are reported in `errors`, and the lexers
/// accept any text.
public enum MigrationLinter {
    /// The largest file read; a migration larger than this is surely generated data.
    package static let maxFileBytes = 16 << 20

    /// Lints files and directories (recursively: `*.sql` and Alembic `*.py` files), with
    /// `allow` rule ids suppressed globally.
    /// - Parameters:
    ///   - paths: files, directories or globs (`migrations/*.sql`, `alembic/versions/*.py`,
    ///     `db/**/*.sql`), relative to `base` unless absolute.
    ///   - allow: rules not to report anywhere.
    ///   - base: the directory relative paths start from.
    /// - Returns: the findings, sorted by path, line and column; and one error diagnostic per
    ///   problem that stopped a file from being linted, or per path that matched nothing (at
    ///   line 0: the whole file), or per bad suppression comment (located).
    public static func lint(paths: [String], allow: Set<MigrationRule> = [], base: String) -> (findings: [MigrationFinding], errors: [Diagnostic]) {
        let expansion = MigrationFiles.expand(paths, base: base)
        var errors = expansion.errors
        var covered = expansion.failed
        var scanned: [(file: MigrationFile, scan: MigrationFileScan)] = []

        for file in expansion.files {
            let source: SourceText
            switch read(file) {
            case .success(let text):
                source = text
            case .failure(let error):
                errors.append(.file(.error, path: file.path, message: error.message))
                covered.formUnion(file.arguments)
                continue
            }
            if let scan = scan(file, source) {
                scanned.append((file, scan))
                covered.formUnion(file.arguments)
            } else if file.explicit {
                let message =
                    file.fileExtension == "py"
                    ? "not an Alembic migration (no top-level 'revision =' and 'def upgrade')"
                    : "not a migration file; expected *.sql or an Alembic *.py"
                errors.append(.file(.error, path: file.path, message: message))
                covered.formUnion(file.arguments)
            }
        }
        for (index, path) in paths.enumerated() where !covered.contains(index) {
            errors.append(.file(.error, path: path, message: "no migration files here (*.sql, or Alembic *.py with 'revision =' and 'def upgrade')"))
        }

        let revisions = scanned.indices.compactMap { i in scanned[i].scan.revision.map { (file: i, revision: $0) } }
        for head in RevisionGraph.multipleHeads(revisions.map(\.revision)) {
            let (file, revision) = revisions[head.index]
            scanned[file].scan.findings.append(
                ScannedFinding(
                    rule: .multipleHeads, position: revision.position, anchorLines: [revision.position.line],
                    message: FindingMessage.multipleHeads(revision.id, all: head.heads)))
        }

        var findings: [MigrationFinding] = []
        for (file, scan) in scanned {
            for problem in scan.problems.sorted(by: { $0.position < $1.position }) {
                errors.append(
                    Diagnostic(
                        .error, path: file.path, mark: Mark(line: problem.position.line, column: problem.position.column),
                        message: problem.message))
            }
            for finding in scan.findings where !scan.isSuppressed(finding, allow: allow) {
                findings.append(
                    MigrationFinding(
                        rule: finding.rule, path: file.path, line: finding.position.line,
                        column: finding.position.column, message: finding.message))
            }
        }
        findings.sort { ($0.path, $0.line, $0.column, $0.rule.rawValue) < ($1.path, $1.line, $1.column, $1.rule.rawValue) }
        return (findings, errors)
    }

    // MARK: - Files

    private struct ReadError: Error {
        package var message: String
    }

    private static func read(_ file: MigrationFile) -> Result<SourceText, ReadError> {
        let bytes: [UInt8]
        do {
            bytes = try PipelineLoader.readFile(file.location, limit: maxFileBytes)
        } catch {
            return .failure(ReadError(message: error.message))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else {
            return .failure(ReadError(message: "not UTF-8 text (a binary file?); migration files are read as UTF-8"))
        }
        return .success(SourceText(text))
    }

    /// Scans a file by its extension; nil when it is not a migration.
    private static func scan(_ file: MigrationFile, _ source: SourceText) -> MigrationFileScan? {
        switch file.fileExtension {
        case "sql": return scanSQL(source, path: file.path)
        case "py": return AlembicScanner.scan(source, sqlite: pathSaysSQLite(file.path))
        default: return nil
        }
    }

    private static func scanSQL(_ source: SourceText, path: String) -> MigrationFileScan {
        let lexed = SQLLexer.lex(source)
        var scan = MigrationFileScan()
        let codeStart = lexed.tokens.first?.start ?? source.count
        let isHeader = { (comment: SourceComment) in comment.start < codeStart }
        var context = SQLScanner.Context(downgrade: isDowngradeFile(path), sqlite: pathSaysSQLite(path))
        for comment in lexed.comments where isHeader(comment) {
            if let dialect = MigrationFileScan.headerValue("dialect", in: comment, source: source) {
                context.sqlite = dialect.hasPrefix("sqlite")
            }
        }
        scan.record(lexed.comments, in: source, isHeader: isHeader)
        scan.findings = SQLScanner.scan(source, tokens: lexed.tokens, context: &context)
        if context.downgrade, lexed.tokens.isEmpty {
            scan.findings.append(
                ScannedFinding(
                    rule: .emptyDowngrade, position: SourcePosition(line: 1, column: 1),
                    anchorLines: [1], message: FindingMessage.emptyDowngradeFile))
        }
        return scan
    }

    /// A downgrade SQL file: a file name with the word `down` or `downgrade`
    /// (`0003_users.down.sql`, `down_0003.sql`), ending in `rollback` (`0003_users_rollback.sql`),
    /// a Flyway undo migration (`U3__users.sql`), or a file in a `down/`, `downgrade(s)/`
    /// or `rollback(s)/` folder.
    package static func isDowngradeFile(_ path: String) -> Bool {
        let components = path.lowercased().split(separator: "/").map(String.init)
        guard let name = components.last else { return false }
        let stem = name.hasSuffix(".sql") ? String(name.dropLast(4)) : name
        let words = stem.split { !$0.isLetter && !$0.isNumber }.map(String.init)
        if words.contains("down") || words.contains("downgrade") || words.last == "rollback" { return true }
        if name.hasPrefix("u"), name.dropFirst().first?.isNumber == true, name.contains("__") { return true }
        let folders: Set<String> = ["down", "downgrade", "downgrades", "rollback", "rollbacks"]
        return components.dropLast().contains { folders.contains($0) }
    }

    /// A path with `sqlite` in it (`db/sqlite/0001.sql`, `app.sqlite.sql`).
    package static func pathSaysSQLite(_ path: String) -> Bool {
        path.lowercased().contains("sqlite")
    }
}
