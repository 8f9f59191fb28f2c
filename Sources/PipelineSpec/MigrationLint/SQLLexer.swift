/// One token of SQL: a word, a quoted identifier, a string or a punctuation character.
package struct SQLToken: Sendable {
    package enum Kind: Sendable {
        /// A keyword, unquoted identifier or number (`ALTER`, `users`, `42`).
        case word
        /// `"Name"` or `` `name` ``; `text` is the name without quotes.
        case quotedIdentifier
        /// `'…'`, `E'…'` or `$tag$…$tag$`; `text` is the content.
        case string
        /// Any other single character (`(`, `,`, `.`, `;`).
        case punctuation
    }

    package var kind: Kind
    package var text: String
    /// Index of the first character in the source.
    package var start: Int
    /// Index just past the last character.
    package var end: Int

    /// The word in upper case, for keyword matching ("" for other kinds).
    package var keyword: String { kind == .word ? text.uppercased() : "" }

    /// Whether this is the keyword `word` (case-insensitive).
    package func isWord(_ word: String) -> Bool { kind == .word && text.uppercased() == word }

    /// Whether this is the punctuation character `c`.
    package func isPunctuation(_ c: Character) -> Bool { kind == .punctuation && text == String(c) }

    /// Whether it can name a table or column.
    package var isIdentifier: Bool { kind == .word || kind == .quotedIdentifier }
}

/// Splits SQL into tokens and comments. Never fails: unterminated strings and comments
/// run to the end of the text.
///
/// Knows PostgreSQL and SQLite lexical rules: `--` and nested `/* */` comments, `'…'`
/// strings with `''`, `E'…'` strings with backslash escapes, `$tag$…$tag$` strings,
/// `"…"` and `` `…` `` identifiers.
package enum SQLLexer {
    package struct Result: Sendable {
        package var tokens: [SQLToken]
        package var comments: [SourceComment]
    }

    package static func lex(_ source: SourceText) -> Result {
        var tokens: [SQLToken] = []
        var comments: [SourceComment] = []
        var lastTokenLine = 0
        var i = 0
        let n = source.count

        func startsWith(_ s: String, at index: Int) -> Bool {
            var k = index
            for c in s {
                guard source[k] == c else { return false }
                k += 1
            }
            return true
        }

        while i < n {
            guard let c = source[i] else { break }
            if c.isWhitespace || c == "\u{FEFF}" {
                i += 1
                continue
            }
            let standalone = source.position(i).line != lastTokenLine
            if startsWith("--", at: i) {
                var k = i + 2
                while let d = source[k], !d.isLineBreak { k += 1 }
                comments.append(SourceComment(start: i, body: (i + 2)..<k, standalone: standalone))
                i = k
                continue
            }
            if startsWith("/*", at: i) {
                var depth = 1
                var k = i + 2
                var bodyEnd = n
                while k < n {
                    if startsWith("/*", at: k) {
                        depth += 1
                        k += 2
                    } else if startsWith("*/", at: k) {
                        depth -= 1
                        if depth == 0 {
                            bodyEnd = k
                            k += 2
                            break
                        }
                        k += 2
                    } else {
                        k += 1
                    }
                }
                comments.append(SourceComment(start: i, body: (i + 2)..<min(bodyEnd, n), standalone: standalone))
                i = min(k, n)
                continue
            }

            let token: SQLToken
            if c == "'" {
                token = quoted(source, from: i, contentStart: i + 1, quote: "'", backslashEscapes: false, kind: .string)
            } else if (c == "E" || c == "e"), source[i + 1] == "'" {
                token = quoted(source, from: i, contentStart: i + 2, quote: "'", backslashEscapes: true, kind: .string)
            } else if c == "\"" || c == "`" {
                token = quoted(source, from: i, contentStart: i + 1, quote: c, backslashEscapes: false, kind: .quotedIdentifier)
            } else if c == "$", let dollar = dollarQuoted(source, from: i) {
                token = dollar
            } else if isWordCharacter(c) {
                var k = i + 1
                while let d = source[k], isWordCharacter(d) || d == "$" { k += 1 }
                token = SQLToken(kind: .word, text: source.text(i..<k), start: i, end: k)
            } else {
                token = SQLToken(kind: .punctuation, text: String(c), start: i, end: i + 1)
            }
            tokens.append(token)
            lastTokenLine = source.position(max(token.end - 1, token.start)).line
            i = max(token.end, i + 1)
        }
        return Result(tokens: tokens, comments: comments)
    }

    private static func isWordCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "_"
    }

    /// A string or identifier closed by `quote`, where a doubled quote stands for one.
    private static func quoted(
        _ source: SourceText, from start: Int, contentStart: Int, quote: Character,
        backslashEscapes: Bool, kind: SQLToken.Kind
    ) -> SQLToken {
        var content = ""
        var k = contentStart
        while let c = source[k] {
            if backslashEscapes, c == "\\" {
                if let next = source[k + 1] { content.append(next) }
                k += 2
                continue
            }
            if c == quote {
                if source[k + 1] == quote {
                    content.append(quote)
                    k += 2
                    continue
                }
                return SQLToken(kind: kind, text: content, start: start, end: k + 1)
            }
            content.append(c)
            k += 1
        }
        return SQLToken(kind: kind, text: content, start: start, end: source.count)
    }

    /// `$$…$$` or `$tag$…$tag$`; nil for `$1` (a parameter) or a lone `$`.
    private static func dollarQuoted(_ source: SourceText, from start: Int) -> SQLToken? {
        var k = start + 1
        var tag = "$"
        while let c = source[k], c != "$" {
            guard c.isLetter || c == "_" || (c.isNumber && k > start + 1) else { return nil }
            tag.append(c)
            k += 1
        }
        guard source[k] == "$" else { return nil }
        tag.append("$")
        let contentStart = k + 1
        var m = contentStart
        let tagChars = Array(tag)
        while m < source.count {
            if source[m] == "$", (0..<tagChars.count).allSatisfy({ source[m + $0] == tagChars[$0] }) {
                return SQLToken(kind: .string, text: source.text(contentStart..<m), start: start, end: m + tagChars.count)
            }
            m += 1
        }
        return SQLToken(kind: .string, text: source.text(contentStart..<source.count), start: start, end: source.count)
    }
}
