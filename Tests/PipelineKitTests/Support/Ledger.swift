import Foundation

/// The side-effect log stage scripts append to (`echo deploy a >> ledger`): what really happened
/// to the target, whatever the journal says.
struct Ledger {
    let lines: [String]

    init(_ box: Sandbox, file: String = "ledger") {
        lines = box.read(file).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    var text: String { lines.joined(separator: " | ") }

    func count(_ line: String) -> Int { lines.filter { $0 == line }.count }
    func count(prefix: String) -> Int { lines.filter { $0.hasPrefix(prefix) }.count }
    func contains(_ line: String) -> Bool { lines.contains(line) }

    /// The index of the first line equal to `line` (at or after `from`).
    func index(of line: String, from: Int = 0) -> Int? {
        guard from < lines.count else { return nil }
        return lines[from...].firstIndex(of: line)
    }

    /// The index of the last line equal to `line`.
    func lastIndex(of line: String) -> Int? { lines.lastIndex(of: line) }

    /// Whether two `start …` lines ever appear without an `end …` between them: two copies ran at once.
    var hasOverlappingStarts: Bool {
        var open = 0
        for line in lines {
            if line.hasPrefix("start") {
                if open > 0 { return true }
                open += 1
            } else if line.hasPrefix("end") {
                open = max(0, open - 1)
            }
        }
        return false
    }
}
