extension MigrationRule {
    /// What the rule catches and why, in one line (for `--help` and the docs).
    public var reason: String {
        switch self {
        case .addingNotNullColumn: return "a column added NOT NULL without a default: fails on existing rows and on the old version's inserts"
        case .droppingColumn: return "a dropped column: loses data and breaks the old version still reading it"
        case .droppingTable: return "a dropped table: loses data and breaks the old version still using it"
        case .renamingColumn: return "a renamed column: breaks the old version, which still uses the old name"
        case .renamingTable: return "a renamed table: breaks the old version, which still uses the old name"
        case .changingColumnType: return "a column type change: can lock and rewrite the table, lose data, and cannot be rolled back"
        case .settingNotNull: return "NOT NULL set on an existing column: scans the table under an exclusive lock and fails on nulls"
        case .indexWithoutConcurrently: return "an index built without CONCURRENTLY: blocks writes to the table while it builds"
        case .emptyDowngrade: return "a downgrade that does nothing: the migration cannot be rolled back"
        case .multipleHeads: return "several Alembic heads: parallel migrations must be merged into one chain before deploy"
        }
    }

    /// The rule whose id is closest to a misspelled one, if any is close enough: by edit
    /// distance (`droping-column`), else by word stems (`drop-table` → `dropping-table`,
    /// `rename-column` → `renaming-column`).
    public static func closest(to id: String) -> MigrationRule? {
        if let near = Suggestion.closest(id, among: allCases.map(\.rawValue)) { return MigrationRule(rawValue: near) }
        let words = id.lowercased().split(separator: "-")
        let stems = allCases.filter { rule in
            let ruleWords = rule.rawValue.split(separator: "-")
            return ruleWords.count == words.count
                && zip(words, ruleWords).allSatisfy { word, ruleWord in
                    let shared = zip(word, ruleWord).prefix { $0 == $1 }.count
                    return shared >= min(4, word.count, ruleWord.count)
                }
        }
        return stems.count == 1 ? stems.first : nil
    }
}
