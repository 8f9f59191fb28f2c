/// A 1-based line and column (counted in characters) in a migration file.
package struct SourcePosition: Hashable, Comparable, Sendable {
    package var line: Int
    package var column: Int

    package static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// Text as characters, each with its position in the file it came from.
///
/// A migration file's own text numbers its characters from 1:1. SQL embedded in a Python
/// string (`op.execute("…")`) keeps the positions its characters have in the Python file,
/// so findings inside it point at the right line and column of that file.
package struct SourceText: Sendable {
    /// The characters (`"\r\n"` is one character, as Swift counts them).
    private(set) var chars: [Character]
    /// The position of each character, plus one for the end of the text.
    private(set) var positions: [SourcePosition]

    /// Numbers the characters of a whole file.
    package init(_ text: String) {
        chars = Array(text)
        positions = []
        positions.reserveCapacity(chars.count + 1)
        var line = 1
        var column = 1
        for c in chars {
            positions.append(SourcePosition(line: line, column: column))
            if c.isLineBreak {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        positions.append(SourcePosition(line: line, column: column))
    }

    /// Characters taken from elsewhere, with the positions they have there.
    /// - Parameters:
    ///   - chars: the characters.
    ///   - positions: one position per character, plus the end position.
    package init(chars: [Character], positions: [SourcePosition]) {
        self.chars = chars
        var positions = positions
        let end = positions.last ?? SourcePosition(line: 1, column: 1)
        while positions.count < chars.count + 1 { positions.append(end) }
        self.positions = Array(positions.prefix(chars.count + 1))
    }

    /// The number of characters.
    package var count: Int { chars.count }

    /// The character at `index`, or nil past either end.
    package subscript(index: Int) -> Character? {
        index >= 0 && index < chars.count ? chars[index] : nil
    }

    /// The position of the character at `index` (clamped to the text).
    package func position(_ index: Int) -> SourcePosition {
        positions[min(max(index, 0), positions.count - 1)]
    }

    /// The characters in `range` (clamped to the text) as a string.
    package func text(_ range: Range<Int>) -> String {
        let lower = min(max(range.lowerBound, 0), chars.count)
        let upper = min(max(range.upperBound, lower), chars.count)
        return String(chars[lower..<upper])
    }
}

extension Character {
    /// A line break as the diagnostic renderer counts lines: `\n` or `\r\n`.
    package var isLineBreak: Bool { self == "\n" || self == "\r\n" }
}
