/// The one-line messages of migration findings, shared by the SQL and Alembic scanners so
/// the same problem reads the same whichever way it was written. Each says what breaks
/// (while the old and new versions both run, by locking, or by losing data) and the safe way.
package enum FindingMessage {
    package static func addingNotNullColumn(column: String?, table: String?) -> String {
        "adding \(describe(column: column, table: table)) as NOT NULL without a default fails on existing rows, "
            + "and inserts from the old version, which does not know the column, fail too; "
            + "add it nullable (or with a default), backfill, then add the constraint in a later deploy"
    }

    package static func droppingColumn(column: String?, table: String?) -> String {
        "dropping \(describe(column: column, table: table)) loses its data and breaks the old version still reading it, "
            + "so rollback cannot bring it back; stop using it in one deploy and drop it in a later one"
    }

    package static func droppingTable(_ tables: [String]) -> String {
        let named = tables.isEmpty ? "a table" : (tables.count == 1 ? "table " : "tables ") + quoteList(tables)
        return "dropping \(named) loses its data and breaks the old version still using it, "
            + "so rollback cannot bring it back; stop using it in one deploy and drop it in a later one"
    }

    package static func renamingColumn(from old: String?, to new: String?, table: String?) -> String {
        "renaming \(describe(column: old, table: table))\(new.map { " to '\($0)'" } ?? "") breaks the old version, "
            + "which still uses the old name while both versions run; add the new column, copy the data, "
            + "switch the code, then drop the old column in later deploys"
    }

    package static func renamingTable(from old: String?, to new: String?) -> String {
        "renaming \(old.map { "table '\($0)'" } ?? "a table")\(new.map { " to '\($0)'" } ?? "") breaks the old version, "
            + "which still queries the old name while both versions run; create the new table (or a view), "
            + "switch the code, then drop the old one in a later deploy"
    }

    package static func changingColumnType(column: String?, table: String?, type: String?) -> String {
        "changing the type of \(describe(column: column, table: table))\(type.map { " to '\($0)'" } ?? "") "
            + "can rewrite the table under an exclusive lock, can lose data and cannot be rolled back, "
            + "and the old version may write values the new type rejects; add a new column, backfill, switch, then drop the old one"
    }

    package static func settingNotNull(column: String?, table: String?) -> String {
        "setting \(describe(column: column, table: table)) NOT NULL scans the table under an exclusive lock "
            + "and fails if a row is still null, and the old version may still insert nulls; "
            + "add CHECK (… IS NOT NULL) NOT VALID, backfill, VALIDATE CONSTRAINT, then set NOT NULL"
    }

    package static func indexWithoutConcurrently(index: String?, table: String?) -> String {
        "creating \(index.map { "index '\($0)'" } ?? "an index")\(table.map { " on '\($0)'" } ?? "") without CONCURRENTLY "
            + "blocks writes to the table until the index is built; use CREATE INDEX CONCURRENTLY, outside a transaction"
    }

    package static func emptyDowngrade(function: String) -> String {
        "\(function)() does nothing, so this migration cannot be rolled back; write the reverse of its upgrade"
    }

    package static let emptyDowngradeFile = "this downgrade file has no statements, so the migration cannot be rolled back; write the reverse of its upgrade"

    package static func multipleHeads(_ head: String, all heads: [String]) -> String {
        "revision '\(head)' is one of \(heads.count) heads (\(quoteList(heads))): migrations written in parallel "
            + "forked the revision chain, which must be linear before deploy; join them with 'alembic merge'"
    }

    private static func describe(column: String?, table: String?) -> String {
        switch (column, table) {
        case let (column?, table?): return "column '\(column)' of '\(table)'"
        case let (column?, nil): return "column '\(column)'"
        case let (nil, table?): return "a column of '\(table)'"
        case (nil, nil): return "a column"
        }
    }

    private static func quoteList(_ names: [String]) -> String {
        names.sorted().map { "'\($0)'" }.joined(separator: ", ")
    }
}
