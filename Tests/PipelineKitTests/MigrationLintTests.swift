import Foundation
import PipelineKit
import Testing

/// The migration linter on a corpus of real-looking migrations (Fixtures/migrations:
/// PostgreSQL, SQLite and Alembic), on odd files, and through the `pipeline lint-migrations` binary.
@Suite struct MigrationLintTests {
    static let corpus = Fixtures.directory.appendingPathComponent("migrations")

    static func lint(_ paths: [String], allow: Set<MigrationRule> = [], in base: URL = corpus) -> (findings: [MigrationFinding], errors: [String]) {
        let result = MigrationLinter.lint(paths: paths, allow: allow, base: base.path)
        return (result.findings, result.errors.map(\.headline))
    }

    // MARK: - Every rule fires where it should…

    struct Expected: Sendable, CustomTestStringConvertible {
        var rule: MigrationRule
        var path: String
        var line: Int
        var column: Int
        var testDescription: String { "\(rule.rawValue) at \(path):\(line):\(column)" }

        init(_ rule: MigrationRule, _ path: String, _ line: Int, _ column: Int) {
            (self.rule, self.path, self.line, self.column) = (rule, path, line, column)
        }

        init(_ finding: MigrationFinding) {
            self.init(finding.rule, finding.path, finding.line, finding.column)
        }
    }

    static let reshape = "alembic/unsafe/versions/5f1e2d3c4b5a_reshape_users.py"
    static let seedPlans = "alembic/unsafe/versions/7b8c9d0e1f2a_seed_plans.py"

    /// Every finding the corpus holds, and nothing else.
    static let firing: [Expected] = [
        Expected(.addingNotNullColumn, "postgres/V2__add_accounts_plan.sql", 2, 22),
        Expected(.addingNotNullColumn, "sqlite/003_add_notes_pinned.sql", 2, 19),
        Expected(.addingNotNullColumn, reshape, 20, 5),
        Expected(.droppingColumn, "postgres/V4__drop_accounts_legacy_flag.sql", 5, 5),
        Expected(.droppingColumn, reshape, 21, 5),
        Expected(.droppingColumn, reshape, 28, 35),  // inside op.execute("…")
        Expected(.droppingColumn, reshape, 30, 9),  // batch_op.drop_column
        Expected(.droppingColumn, "suppression/inline.sql", 11, 20),
        Expected(.droppingTable, "postgres/V6__drop_sessions.sql", 2, 1),
        Expected(.droppingTable, "sqlite/004_rebuild_notes.sql", 14, 1),
        Expected(.droppingTable, reshape, 22, 5),
        Expected(.renamingColumn, "postgres/V8__rename_accounts_fullname.sql", 2, 22),
        Expected(.renamingColumn, reshape, 23, 42),
        Expected(.renamingColumn, seedPlans, 27, 27),
        Expected(.renamingColumn, "suppression/file_level.sql", 6, 21),
        Expected(.renamingTable, "postgres/V10__rename_invoices.sql", 1, 39),
        Expected(.renamingTable, reshape, 24, 5),
        Expected(.changingColumnType, "postgres/V12__widen_invoice_amount.sql", 3, 5),
        Expected(.changingColumnType, reshape, 25, 37),
        Expected(.settingNotNull, "postgres/V14__require_account_referrer.sql", 2, 22),
        Expected(.settingNotNull, reshape, 26, 69),
        Expected(.indexWithoutConcurrently, "postgres/V16__index_invoices_account.sql", 2, 1),
        Expected(.indexWithoutConcurrently, reshape, 27, 5),
        Expected(.emptyDowngrade, reshape, 33, 1),
        Expected(.emptyDowngrade, seedPlans, 31, 1),
        Expected(.emptyDowngrade, "postgres-updown/000003_backfill_actor_ids.down.sql", 1, 1),
        Expected(.multipleHeads, "alembic/two_heads/versions/1b2c3d4e5f60_add_products_sku.py", 11, 1),
        Expected(.multipleHeads, "alembic/two_heads/versions/2c3d4e5f6071_add_products_weight.py", 11, 1),
    ]

    @Test("the rule fires at the exact line and column", arguments: firing)
    func ruleFires(_ expected: Expected) throws {
        // Lint the folder (multiple-heads needs the other revisions), then find the file's findings.
        let folder = (expected.path as NSString).deletingLastPathComponent
        let result = Self.lint([folder])
        #expect(result.errors.isEmpty, "\(result.errors)")
        let inFile = result.findings.filter { $0.path == expected.path }.map(Expected.init)
        #expect(inFile.contains { $0.testDescription == expected.testDescription }, "found: \(inFile.map(\.testDescription))")
    }

    @Test func everyRuleHasAFiringCase() {
        #expect(Set(Self.firing.map(\.rule)) == Set(MigrationRule.allCases))
    }

    @Test func theCorpusHoldsExactlyTheListedFindings() {
        let result = Self.lint(["."])
        #expect(result.errors.isEmpty, "\(result.errors)")
        let found = result.findings.map { Expected($0).testDescription }
        let listed = Self.firing.map(\.testDescription)
        #expect(found.sorted() == listed.sorted())
        // Sorted by path, line, column.
        let keys = result.findings.map { ($0.path, $0.line, $0.column) }
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 <= $1 })
        for finding in result.findings {
            #expect(finding.message.first?.isLowercase == true, "\(finding.message)")
            #expect(!finding.message.contains("\n"))
        }
    }

    // MARK: - …and stays quiet on the similar safe change

    struct Safe: Sendable, CustomTestStringConvertible {
        var rule: MigrationRule
        var paths: [String]
        var why: String
        var testDescription: String { "\(rule.rawValue): \(paths.joined(separator: " ")) (\(why))" }

        init(_ rule: MigrationRule, _ paths: String..., why: String) {
            (self.rule, self.paths, self.why) = (rule, paths, why)
        }
    }

    static let safe: [Safe] = [
        Safe(.addingNotNullColumn, "postgres/V3__add_accounts_region.sql", why: "NOT NULL with a DEFAULT"),
        Safe(.addingNotNullColumn, "postgres/V1__create_accounts.sql", why: "NOT NULL column added to a table created in the same file"),
        Safe(.addingNotNullColumn, "alembic/linear/versions/2b3c4d5e6f70_add_orders_status.py", why: "nullable=False with server_default"),
        Safe(.droppingColumn, "postgres/V5__drop_accounts_status_check.sql", why: "DROP CONSTRAINT, not a column"),
        Safe(.droppingColumn, "postgres-updown/000002_rename_audit_actor.down.sql", why: "in a downgrade file"),
        Safe(.droppingTable, "postgres/V7__import_plans.sql", why: "a scratch table created in the same file"),
        Safe(.droppingTable, "postgres-updown/000001_create_audit_log.down.sql", why: "in a downgrade file"),
        Safe(.renamingColumn, "postgres/V9__rename_accounts_pkey.sql", why: "RENAME CONSTRAINT"),
        Safe(.renamingColumn, "postgres-updown/000002_rename_audit_actor.up.sql", why: "suppressed by the comment above it"),
        Safe(.renamingTable, "postgres/V11__rename_accounts_email_index.sql", why: "ALTER INDEX … RENAME"),
        Safe(.changingColumnType, "postgres/V13__invoice_amount_default.sql", why: "ALTER COLUMN … SET DEFAULT"),
        Safe(.settingNotNull, "postgres/V15__require_account_referrer_check.sql", why: "CHECK … NOT VALID, then VALIDATE"),
        Safe(.indexWithoutConcurrently, "postgres/V17__index_invoices_created.sql", why: "CREATE INDEX CONCURRENTLY"),
        Safe(.indexWithoutConcurrently, "postgres-updown/000001_create_audit_log.up.sql", why: "index on a table created in the same file"),
        Safe(.indexWithoutConcurrently, "sqlite/001_create_notes.sql", "sqlite/002_index_notes_created.sql", why: "a folder named sqlite"),
        Safe(.indexWithoutConcurrently, "app-cache", why: "a '-- dialect: sqlite' header"),
        Safe(.indexWithoutConcurrently, "alembic/linear/versions/3c4d5e6f7081_index_orders_status.py", why: "postgresql_concurrently=True"),
        Safe(.emptyDowngrade, "alembic/linear/versions/1a2b3c4d5e6f_create_orders.py", why: "downgrade with a real body"),
        Safe(.emptyDowngrade, "alembic/merged/versions/de40f0a1b2c3_merge_coupon_and_currency.py", why: "a merge revision: both functions empty by design"),
        Safe(.multipleHeads, "alembic/linear/versions", why: "a linear chain"),
        Safe(.multipleHeads, "alembic/merged/versions", why: "two branches joined by a merge revision"),
        Safe(.multipleHeads, "alembic/linear", "alembic/merged", why: "separate histories linted together"),
        Safe(.addingNotNullColumn, "alembic/unsafe/versions/6a7b8c9d0e1f_safe_counterparts.py", why: "every operation of 5f1e2d3c4b5a done the safe way"),
    ]

    @Test("the similar safe change is not reported", arguments: safe)
    func safeChangeIsQuiet(_ safe: Safe) throws {
        let result = Self.lint(safe.paths)
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.findings.isEmpty, "\(result.findings.map { "\($0.path):\($0.line):\($0.column) \($0.rule.rawValue)" })")
    }

    @Test func everyRuleHasASafeCase() {
        #expect(Set(Self.safe.map(\.rule)) == Set(MigrationRule.allCases))
    }

    // MARK: - Suppression

    @Test func fileLevelCommentSuppressesOnlyTheRulesItNames() {
        let result = Self.lint(["suppression/file_level.sql"])
        #expect(result.findings.map(\.rule) == [.renamingColumn])
    }

    @Test func inlineCommentsOnTheLineOrJustAboveTheStatement() {
        let result = Self.lint(["suppression/inline.sql"])
        #expect(result.findings.map { "\($0.line):\($0.column) \($0.rule.rawValue)" } == ["11:20 dropping-column"])
    }

    @Test func allowParameterSuppressesEverywhere() {
        let all = Self.lint(["postgres"])
        #expect(all.findings.contains { $0.rule == .droppingColumn })
        let allowed = Self.lint(["postgres"], allow: [.droppingColumn, .droppingTable])
        #expect(!allowed.findings.contains { $0.rule == .droppingColumn || $0.rule == .droppingTable })
        #expect(allowed.findings.count == all.findings.count - 2)
    }

    @Test func suppressionCommentsInPython() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(
            "versions/a1_first.py",
            alembic(
                revision: "a1", down: "None",
                upgrade: """
                    # pipeline: allow renaming-table -- the old name is served by a view meanwhile
                    op.rename_table("a", "b")
                    op.drop_column("t", "c")  # pipeline: allow dropping-column
                    op.alter_column(
                        "t", "d", nullable=False  # pipeline: allow setting-not-null
                    )
                    op.drop_table("x")
                    """))
        try dir.write(
            "versions/b2_second.py",
            "# pipeline: allow dropping-table, empty-downgrade\n"
                + alembic(
                    revision: "b2", down: "\"a1\"",
                    upgrade: """
                        op.drop_table("y")
                        """, downgrade: "pass"))
        let result = Self.lint(["versions"], in: dir.url)
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.findings.map { "\($0.path):\($0.line) \($0.rule.rawValue)" } == ["versions/a1_first.py:21 dropping-table"])
    }

    @Test func unknownRuleInASuppressionCommentIsAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(
            "0001.sql",
            """
            -- pipeline: allow droping-column
            ALTER TABLE users DROP COLUMN legacy; -- pipeline: allow renaming-colum, dropping-table
            -- pipeline: ignore dropping-column
            """)
        try dir.write("0002.py", alembic(revision: "r2", down: "None", upgrade: "op.drop_table('t')  # pipeline: allow drop-table"))
        let result = Self.lint(["."], in: dir.url)
        #expect(
            result.errors == [
                "0001.sql:1:20: error: unknown migration lint rule 'droping-column' in a suppression comment; did you mean 'dropping-column'?",
                "0001.sql:2:58: error: unknown migration lint rule 'renaming-colum' in a suppression comment; did you mean 'renaming-column'?",
                "0001.sql:3:14: error: unknown 'pipeline:' directive 'ignore'; write 'pipeline: allow RULE'",
                "0002.py:15:43: error: unknown migration lint rule 'drop-table' in a suppression comment; did you mean 'dropping-table'?",
            ])
        // The misspelled suppression suppresses nothing.
        #expect(result.findings.map(\.rule) == [.droppingColumn, .droppingTable])
    }

    // MARK: - Odd input

    @Test func emptyAndCommentOnlyFilesAreClean() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("empty.sql", "")
        try dir.write("comments.sql", "-- nothing yet\n/* still nothing */\n")
        try dir.write("blank.sql", "\n\n   \n")
        let result = Self.lint(["."], in: dir.url)
        #expect(result.findings.isEmpty)
        #expect(result.errors.isEmpty)
    }

    @Test func binaryAndInvalidUTF8FilesAreErrorsNotCrashes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data([0xFF, 0xFE, 0x00, 0x41, 0xC3, 0x28, 0x0A, 0x80, 0xBF]).write(to: dir.url.appendingPathComponent("blob.sql"))
        try Data("revision = 'x'\ndef upgrade():\n    op.drop_table('\u{00e9}".utf8.dropLast()).write(to: dir.url.appendingPathComponent("cut.py"))
        try dir.write("ok.sql", "DROP TABLE t;")
        let result = Self.lint(["."], in: dir.url)
        #expect(
            result.errors == [
                "blob.sql: error: not UTF-8 text (a binary file?); migration files are read as UTF-8",
                "cut.py: error: not UTF-8 text (a binary file?); migration files are read as UTF-8",
            ])
        #expect(result.findings.map(\.path) == ["ok.sql"])
    }

    @Test("truncated and garbled input never crashes the linter", arguments: 0..<4)
    func garbledInput(_ seed: Int) throws {
        let fragments = [
            "ALTER", "TABLE", "t", "ADD", "COLUMN", "DROP", "RENAME", "TO", "CREATE", "INDEX", "ON", "NOT", "NULL",
            "(", ")", ",", ";", ".", "'", "\"", "`", "$$", "$a$", "E'", "\\", "--", "/*", "*/", "\n", " ", "\t",
            "op", ".", "drop_column", "execute", "def", "downgrade", "upgrade", ":", "revision", "=", "down_revision",
            "\"\"\"", "'''", "#", "pipeline:", "allow", "r\"", "with", "as", "batch_op", "é", "\r\n", "[", "]", "CASE", "BEGIN", "END",
        ]
        var generator = SplitMix(seed: UInt64(seed))
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for file in 0..<40 {
            var text = ""
            for _ in 0..<Int(generator.next() % 300) { text += fragments[Int(generator.next() % UInt64(fragments.count))] }
            let header = file.isMultiple(of: 2) ? "revision = 'r\(file)'\ndown_revision = None\ndef upgrade():\n    " : ""
            try dir.write("f\(file).\(file.isMultiple(of: 2) ? "py" : "sql")", header + text)
        }
        let result = Self.lint(["."], in: dir.url)
        for finding in result.findings {
            #expect(finding.line >= 1 && finding.column >= 1)
        }
    }

    // MARK: - Paths and globs

    @Test func globsMatchLikeAShell() throws {
        let sql = Self.lint(["postgres/V1?__*.sql"])
        #expect(
            Set(sql.findings.map(\.path)) == [
                "postgres/V10__rename_invoices.sql", "postgres/V12__widen_invoice_amount.sql",
                "postgres/V14__require_account_referrer.sql", "postgres/V16__index_invoices_account.sql",
            ])
        let deep = Self.lint(["**/*.sql"])
        #expect(deep.findings.count == Self.firing.filter { $0.path.hasSuffix(".sql") }.count)
        let alembic = Self.lint(["alembic/*/versions/*.py"])
        #expect(alembic.findings.count == Self.firing.filter { $0.path.hasSuffix(".py") }.count)
        let classes = Self.lint(["alembic/two_heads/versions/[12]*.py"])
        #expect(classes.findings.map(\.rule) == [.multipleHeads, .multipleHeads])
        let directory = Self.lint(["./postgres/"])
        #expect(directory.findings.first?.path == "./postgres/V10__rename_invoices.sql")
        let absolute = Self.lint([Self.corpus.appendingPathComponent("postgres/V2__add_accounts_plan.sql").path])
        #expect(absolute.findings.first?.path == Self.corpus.appendingPathComponent("postgres/V2__add_accounts_plan.sql").path)
    }

    @Test func pathsThatMatchNothingAreErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("docs/readme.md", "# nothing to lint")
        try dir.write("env.py", "from alembic import context\n")
        try dir.write("notes.txt", "DROP TABLE t;")
        let result = Self.lint(["missing", "migrations/*.sql", "docs", "env.py", "notes.txt"], in: dir.url)
        #expect(result.findings.isEmpty)
        #expect(
            result.errors == [
                "missing: error: no such file or directory",
                "migrations/*.sql: error: no files match this pattern",
                "env.py: error: not an Alembic migration (no top-level 'revision =' and 'def upgrade')",
                "notes.txt: error: not a migration file; expected *.sql or an Alembic *.py",
                "docs: error: no migration files here (*.sql, or Alembic *.py with 'revision =' and 'def upgrade')",
            ])
    }

    @Test func nonMigrationPythonFilesInAFolderAreSkipped() throws {
        let result = Self.lint(["alembic/linear"])
        #expect(result.errors.isEmpty)
        #expect(result.findings.isEmpty)
    }

    // MARK: - Downgrades, dialects, Alembic details

    @Test(
        "downgrade files may drop and rename",
        arguments: [
            "0003_users.down.sql", "down_0003.sql", "0003-users-downgrade.sql", "0003_users_rollback.sql", "U3__users.sql", "down/0003_users.sql",
        ])
    func downgradeFileNames(_ name: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(
            name, "DROP TABLE users;\nALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t RENAME TO u;\nALTER TABLE t DROP COLUMN c;\nCREATE INDEX i ON t (a);\n"
        )
        let result = Self.lint([name], in: dir.url)
        // Only the non-destructive rules still apply in a downgrade.
        #expect(result.findings.map(\.rule) == [.indexWithoutConcurrently])
    }

    @Test("files that merely contain 'down' in a word are upgrades", arguments: ["0003_countdown.sql", "0004_markdown_body.sql", "0005_rollback_log.sql"])
    func notDowngradeFileNames(_ name: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(name, "DROP TABLE users;\n")
        #expect(Self.lint([name], in: dir.url).findings.map(\.rule) == [.droppingTable])
    }

    @Test func sqliteHeaderAndPostgresOverride() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("a.sql", "-- dialect: sqlite\nCREATE INDEX i ON t (a);\n")
        try dir.write("sqlite/b.sql", "-- dialect: postgresql\nCREATE INDEX i ON t (a);\n")
        try dir.write("c.sql", "CREATE INDEX i ON t (a);\n-- dialect: sqlite (too late: not in the first comment block)\n")
        let result = Self.lint(["."], in: dir.url)
        #expect(result.findings.map(\.path) == ["c.sql", "sqlite/b.sql"])
    }

    @Test func sqlLexerIgnoresStringsCommentsAndQuotedNames() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(
            "0001.sql",
            """
            /* DROP TABLE a; /* nested */ DROP TABLE b; */
            INSERT INTO log VALUES ('DROP TABLE c;', E'it\\'s; DROP TABLE d', $$DROP TABLE e;$$, $x$ ; DROP TABLE f $x$);
            SELECT "DROP TABLE g;" FROM t;
            ALTER TABLE "Weird;Name" DROP COLUMN "Col"; drop table h
            """)
        let result = Self.lint(["0001.sql"], in: dir.url)
        #expect(result.findings.map { "\($0.line):\($0.column) \($0.rule.rawValue)" } == ["4:26 dropping-column", "4:45 dropping-table"])
        #expect(result.findings.first?.message.hasPrefix("dropping column 'Col' of 'Weird;Name'") == true)
    }

    @Test func multiActionAlterTableReportsEachAction() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(
            "0001.sql",
            "alter table users\n  add column a int not null,\n  drop column b,\n  alter c type bigint,\n  add column d numeric(10, 2) check (d is not null);\n")
        let result = Self.lint(["0001.sql"], in: dir.url)
        #expect(
            result.findings.map { "\($0.line):\($0.column) \($0.rule.rawValue)" } == [
                "2:3 adding-not-null-column", "3:3 dropping-column", "4:3 changing-column-type",
            ])
    }

    @Test(
        "empty downgrade bodies",
        arguments: [
            ("def downgrade(): pass", true),
            ("def downgrade() -> None:\n    \"\"\"Nothing.\"\"\"\n    # really nothing\n    ...", true),
            ("def downgrade():\n    return None", true),
            ("def downgrade():\n    op.drop_table('t')", false),
            ("def downgrade():\n    raise NotImplementedError('irreversible: restore the backup')", false),
        ])
    func emptyDowngrade(_ body: String, _ empty: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("r1.py", "revision = 'r1'\ndown_revision = None\n\ndef upgrade():\n    op.create_table('t')\n\n" + body + "\n")
        let result = Self.lint(["r1.py"], in: dir.url)
        #expect(result.findings.map { "\($0.line):\($0.column) \($0.rule.rawValue)" } == (empty ? ["7:1 empty-downgrade"] : []))
    }

    @Test func threeHeadsAreAllNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("base.py", alembic(revision: "base", down: "None", upgrade: "pass"))
        for head in ["h1", "h2", "h3"] { try dir.write("\(head).py", alembic(revision: head, down: "'base'", upgrade: "pass")) }
        // A separate project linted along: its single head is fine.
        try dir.write("other/o1.py", alembic(revision: "o1", down: "None", upgrade: "pass"))
        try dir.write("other/o2.py", alembic(revision: "o2", down: "('o1',)", upgrade: "pass"))
        let result = Self.lint(["."], in: dir.url)
        let heads = result.findings.filter { $0.rule == .multipleHeads }
        #expect(heads.map(\.path) == ["h1.py", "h2.py", "h3.py"])
        #expect(heads.first?.message.hasPrefix("revision 'h1' is one of 3 heads ('h1', 'h2', 'h3')") == true)
        #expect(heads.allSatisfy { $0.line == 8 && $0.column == 1 })
    }

    @Test func reasonsAndDocsCoverEveryRule() throws {
        let docs = try String(contentsOf: Binary.root.appendingPathComponent("docs/migration-lint.md"), encoding: .utf8)
        for rule in MigrationRule.allCases {
            #expect(!rule.reason.isEmpty)
            #expect(docs.contains("### `\(rule.rawValue)`"), "docs section for \(rule.rawValue)")
        }
        #expect(MigrationRule.closest(to: "droping-table") == .droppingTable)
        #expect(MigrationRule.closest(to: "rename-column") == .renamingColumn)
        #expect(MigrationRule.closest(to: "banana") == nil)
    }

    // MARK: - The binary

    @Test func cliExitsZeroWhenClean() throws {
        let result = try Binary.run(
            ["lint-migrations", "migrations/alembic/linear", "migrations/postgres/V3__add_accounts_region.sql"], in: Fixtures.directory)
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "0 findings in 0 files\n")
    }

    @Test func cliExitsOneWithCompilerStyleFindings() throws {
        let result = try Binary.run(
            ["lint-migrations", "migrations/postgres/V2__add_accounts_plan.sql", "migrations/postgres/V1*.sql"], in: Fixtures.directory)
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first?.hasPrefix("migrations/postgres/V10__rename_invoices.sql:1:39: error: renaming table 'public.invoices' to 'bills'") == true)
        #expect(lines.first?.hasSuffix(" [renaming-table]") == true)
        #expect(lines.dropFirst().first == "ALTER TABLE IF EXISTS public.invoices RENAME TO bills;")
        #expect(lines.dropFirst(2).first == String(repeating: " ", count: 38) + "^")
        #expect(result.stdout.contains("migrations/postgres/V2__add_accounts_plan.sql:2:22: error: adding column 'plan' of 'accounts' as NOT NULL"))
        for line in lines where line.hasPrefix("migrations/") {
            #expect(line.wholeMatch(of: /migrations\/[^:]+:[0-9]+:[0-9]+: error: [a-z].+ \[[a-z-]+\]/) != nil, "\(line)")
        }
        #expect(result.stderr == "5 findings in 5 files\n")
    }

    @Test func cliAllowAndJSON() throws {
        let result = try Binary.run(
            [
                "lint-migrations", "--format", "json", "--allow", "renaming-table,changing-column-type", "--allow", "setting-not-null",
                "migrations/postgres/V1*.sql",
            ], in: Fixtures.directory)
        #expect(result.status == 1)
        let items = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(items.count == 1)
        let item = try #require(items.first)
        #expect(Set(item.keys) == ["rule", "path", "line", "column", "message"])
        #expect(item["rule"] as? String == "index-without-concurrently")
        #expect(item["path"] as? String == "migrations/postgres/V16__index_invoices_account.sql")
        #expect(item["line"] as? Int == 2)
        #expect(item["column"] as? Int == 1)
        #expect(result.stderr.isEmpty)

        let clean = try Binary.run(["lint-migrations", "--format", "json", "migrations/alembic/merged"], in: Fixtures.directory)
        #expect(clean.status == 0)
        #expect(clean.stdout == "[]\n")
    }

    @Test func cliExitsTwoOnBadInput() throws {
        let missing = try Binary.run(["lint-migrations", "migrations/postgres/V2__add_accounts_plan.sql", "no/such/dir"], in: Fixtures.directory)
        #expect(missing.status == 2)
        #expect(missing.stdout.contains("V2__add_accounts_plan.sql:2:22: error:"))
        #expect(missing.stderr == "no/such/dir: error: no such file or directory\n1 finding in 1 file, 1 error\n")

        let unknown = try Binary.run(["lint-migrations", "--allow", "droping-column", "migrations/postgres"], in: Fixtures.directory)
        #expect(unknown.status == 2)
        #expect(unknown.stdout.isEmpty)
        #expect(unknown.stderr.contains("unknown migration lint rule 'droping-column' in --allow; did you mean 'dropping-column'?"))

        let none = try Binary.run(["lint-migrations"], in: Fixtures.directory)
        #expect(none.status == 2)
    }

    @Test func cliOnTheWholeCorpusMatchesTheGoldenOutput() throws {
        let result = try Binary.run(["lint-migrations", "migrations"], in: Fixtures.directory)
        #expect(result.status == 1)
        let golden = "migrations.expected"
        let output = result.stdout + result.stderr
        if Fixtures.update { try Fixtures.write(golden, output) }
        let expected = try #require(Fixtures.read(golden), "missing \(golden): run with PIPELINE_UPDATE_GOLDEN=1 and review it")
        #expect(output == expected)
        #expect(result.stderr == "\(Self.firing.count) findings in \(Set(Self.firing.map(\.path)).count) files\n")
    }

    // MARK: - Helpers

    /// An Alembic revision file: `revision =` on line 8, the `upgrade` body from line 15.
    func alembic(revision: String, down: String, upgrade: String, downgrade: String = "op.drop_table('t')") -> String {
        let indent = { (body: String) in body.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n") }
        return """
            \"\"\"a revision

            Revision ID: \(revision)
            \"\"\"
            from alembic import op
            import sqlalchemy as sa

            revision = "\(revision)"
            down_revision = \(down)
            branch_labels = None
            depends_on = None


            def upgrade():
            \(indent(upgrade))


            def downgrade():
            \(indent(downgrade))

            """
    }
}

/// A scratch directory for files the corpus should not hold (binary, generated, odd names).
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-lint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String) throws {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A small deterministic random generator, so a garbled-input case can be replayed.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
