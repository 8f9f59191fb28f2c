/// Text from a file made safe to print on a terminal or in a CI log: control characters are
/// shown escaped, never sent raw, so a crafted name cannot clear the screen, retitle the window,
/// move the cursor or reorder what is shown (docs/format.md, "Diagnostics").
public enum TerminalText {
    /// Whether a scalar is shown as `\u{…}`: the C0 controls except tab (and newline where kept),
    /// DEL, the C1 controls, and the bidirectional embeddings, overrides and isolates
    /// (U+202A–U+202E, U+2066–U+2069), which can make a line read differently from what it is.
    package static func isEscaped(_ scalar: Unicode.Scalar, keepingNewlines: Bool) -> Bool {
        switch scalar.value {
        case 0x09: return false
        case 0x0A: return !keepingNewlines
        case 0x00..<0x20, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// The text with each escaped scalar written as `\u{1B}` (hexadecimal, upper case, as in Swift).
    /// - Parameters:
    ///   - text: any text, typically from a pipeline file.
    ///   - keepingNewlines: leave `\n` as it is (for multi-line output such as a plan).
    /// - Returns: the text itself when nothing needs escaping.
    /// - Complexity: O(*n*).
    public static func escaped(_ text: String, keepingNewlines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isEscaped($0, keepingNewlines: keepingNewlines) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isEscaped(scalar, keepingNewlines: keepingNewlines) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }
}
