/// Text from a pipeline file placed in Markdown (CommonMark with GitHub's tables) so that it is
/// shown exactly as written: it can never leave its code span, open an HTML comment or tag,
/// start a link or emphasis, or split a table cell (F16: the plan is what reviewers read).
package enum MarkdownText {
    /// A code span holding `text` literally: its fence is one backtick longer than the longest
    /// run of backticks inside (the CommonMark rule), padded with a space where the text starts
    /// or ends with a backtick or a space, which the renderer strips again. Inside a code span
    /// `<`, `&` and `\` are literal, so no HTML can start. Newlines become spaces.
    /// - Parameter inTable: escape `|` as `\|`, which GitHub's tables unescape even inside code.
    /// - Complexity: O(*n*).
    package static func code(_ text: String, inTable: Bool = false) -> String {
        var content = text.replacingAll("\r\n", with: " ").replacingAll("\n", with: " ").replacingAll("\r", with: " ")
        if inTable { content = content.replacingAll("|", with: "\\|") }
        var longest = 0, run = 0
        for c in content.utf8 {
            run = c == UInt8(ascii: "`") ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = content.hasPrefix("`") || content.hasSuffix("`") || (content.hasPrefix(" ") && content.hasSuffix(" "))
        let space = pad && !content.allSatisfy({ $0 == " " }) ? " " : ""
        return fence + space + content + space + fence
    }

    /// Prose (a description, a lint message) that must not become markup: every character
    /// Markdown or HTML could read as markup is backslash-escaped (CommonMark lets any ASCII
    /// punctuation be escaped), and newlines become spaces. Nothing can open a tag or a comment;
    /// a URL in the text may show a stray `\` where GitHub autolinks it, so exact values
    /// (scripts, URLs, messages) go in ``code(_:inTable:)`` instead.
    /// - Parameter block: the text starts a paragraph: leading spaces are dropped (four would
    ///   make a code block) and a line-start marker (`#`, `-`, `+`, `=`, `>`, `1.`, `1)`) is escaped.
    package static func text(_ text: String, block: Bool = false) -> String {
        let inline: Set<Character> = ["\\", "`", "*", "_", "[", "]", "<", ">", "&", "|", "~", "$", "!"]
        let lineStart: Set<Character> = ["#", "-", "+", "=", ":"]
        let body = block ? Substring(text).drop { $0 == " " || $0 == "\t" } : Substring(text)
        let digits = block ? body.prefix { $0.isASCII && $0.isNumber }.count : -1
        var out = ""
        for (offset, c) in body.enumerated() {
            if c == "\n" || c == "\r" || c == "\r\n" { out.append(" "); continue }
            let marker = (offset == 0 && lineStart.contains(c)) || (offset == digits && digits > 0 && (c == "." || c == ")"))
            if inline.contains(c) || (block && marker) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// A fenced code block holding `text` literally (a script, in full): the fence is three
    /// backticks or one more than the longest run of backticks in the text, so no line of it can
    /// close the block early; the info string names the language.
    package static func fenced(_ text: String, language: String = "sh") -> String {
        var longest = 0, run = 0
        for c in text.utf8 {
            run = c == UInt8(ascii: "`") ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        let body = text.hasSuffix("\n") ? text : text + "\n"
        return fence + language + "\n" + body + fence + "\n"
    }
}
