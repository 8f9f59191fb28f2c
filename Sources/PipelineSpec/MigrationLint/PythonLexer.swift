/// One token of Python: a name, number, string or operator.
package struct PythonToken: Sendable {
    package enum Kind: Sendable { case name, number, string, op }

    package var kind: Kind
    /// The name, number or operator as written; for strings, the raw content between the quotes.
    package var text: String
    /// Index of the first character (the prefix or opening quote for strings).
    package var start: Int
    /// Index just past the last character.
    package var end: Int
    /// For strings: the content between the quotes.
    package var content: Range<Int>

    package func isName(_ name: String) -> Bool { kind == .name && text == name }
    package func isOp(_ op: String) -> Bool { kind == .op && text == op }
}

/// A logical line of Python: its tokens and its indentation.
package struct PythonLine: Sendable {
    /// Indices into the token list.
    package var tokens: Range<Int>
    /// Characters before its first token on that line.
    package var indent: Int
}

/// Splits Python source into tokens, logical lines and comments: enough structure to find
/// top-level assignments, function bodies and calls. Never fails on odd input: unterminated
/// strings end at the end of their line (or of the file, when triple-quoted) and unbalanced
/// brackets are tolerated.
package enum PythonLexer {
    package struct Result: Sendable {
        package var tokens: [PythonToken]
        package var lines: [PythonLine]
        package var comments: [SourceComment]
    }

    package static func lex(_ source: SourceText) -> Result {
        var tokens: [PythonToken] = []
        var lines: [PythonLine] = []
        var comments: [SourceComment] = []
        var depth = 0
        var lineStart = 0  // first token of the current logical line
        var lastTokenLine = 0
        var i = 0
        let n = source.count

        func endLine() {
            if tokens.count > lineStart {
                let indent = source.position(tokens[lineStart].start).column - 1
                lines.append(PythonLine(tokens: lineStart..<tokens.count, indent: indent))
            }
            lineStart = tokens.count
        }

        while i < n {
            guard let c = source[i] else { break }
            if c.isLineBreak {
                if depth == 0 { endLine() }
                i += 1
                continue
            }
            if c == "\\", source[i + 1]?.isLineBreak == true {
                i += 2
                continue
            }
            if c.isWhitespace || c == "\u{FEFF}" {
                i += 1
                continue
            }
            if c == "#" {
                var k = i + 1
                while let d = source[k], !d.isLineBreak { k += 1 }
                comments.append(SourceComment(start: i, body: (i + 1)..<k, standalone: source.position(i).line != lastTokenLine))
                i = k
                continue
            }

            let token: PythonToken
            if let string = string(source, at: i) {
                token = string
            } else if c.isLetter || c == "_" {
                var k = i + 1
                while let d = source[k], d.isLetter || d.isNumber || d == "_" { k += 1 }
                token = PythonToken(kind: .name, text: source.text(i..<k), start: i, end: k, content: i..<k)
            } else if c.isNumber || (c == "." && source[i + 1]?.isNumber == true) {
                var k = i + 1
                while let d = source[k], d.isLetter || d.isNumber || d == "_" || d == "." { k += 1 }
                token = PythonToken(kind: .number, text: source.text(i..<k), start: i, end: k, content: i..<k)
            } else {
                let length = operatorLength(source, at: i)
                token = PythonToken(kind: .op, text: source.text(i..<(i + length)), start: i, end: i + length, content: i..<(i + length))
                if "([{".contains(c) { depth += 1 }
                if ")]}".contains(c) { depth = max(0, depth - 1) }
            }
            tokens.append(token)
            lastTokenLine = source.position(max(token.end - 1, token.start)).line
            i = max(token.end, i + 1)
        }
        endLine()
        return Result(tokens: tokens, lines: lines, comments: comments)
    }

    /// A string literal starting at `i` (with an optional `r`, `b`, `u`, `f` prefix), or nil.
    private static func string(_ source: SourceText, at i: Int) -> PythonToken? {
        var k = i
        while let c = source[k], "rRbBuUfFtT".contains(c), k - i < 2 { k += 1 }
        guard let quote = source[k], quote == "'" || quote == "\"" else { return nil }
        if k > i, let before = source[i - 1], before.isLetter || before.isNumber || before == "_" { return nil }
        let triple = source[k + 1] == quote && source[k + 2] == quote
        let contentStart = k + (triple ? 3 : 1)
        var m = contentStart
        while let c = source[m] {
            if c == "\\" {
                m += 2
                continue
            }
            if triple {
                if c == quote, source[m + 1] == quote, source[m + 2] == quote {
                    return PythonToken(kind: .string, text: source.text(contentStart..<m), start: i, end: m + 3, content: contentStart..<m)
                }
            } else if c == quote {
                return PythonToken(kind: .string, text: source.text(contentStart..<m), start: i, end: m + 1, content: contentStart..<m)
            } else if c.isLineBreak {
                break
            }
            m += 1
        }
        let end = min(m, source.count)
        return PythonToken(kind: .string, text: source.text(contentStart..<end), start: i, end: end, content: contentStart..<end)
    }

    /// `...`, two-character operators (`==`, `->`, `:=`, `**`, …) or one character.
    private static func operatorLength(_ source: SourceText, at i: Int) -> Int {
        if source[i] == ".", source[i + 1] == ".", source[i + 2] == "." { return 3 }
        guard let c = source[i], let d = source[i + 1] else { return 1 }
        let pair = String([c, d])
        let pairs: Set<String> = [
            "==", "!=", "<=", ">=", "->", ":=", "**", "//", "<<", ">>",
            "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
        ]
        return pairs.contains(pair) ? 2 : 1
    }
}
