import PipelineSpec

/// The variable names a config file declares, read line by line in the forms real files use:
///
/// - dotenv: `NAME=value`, `export NAME=value` (quoted values too);
/// - YAML keys: `NAME: value` (a GitHub workflow's `env:` map, docker-compose's `environment:` map);
/// - YAML list items: `- NAME=value`, `- "NAME=value"`, `- NAME` (docker-compose's `environment:` list);
/// - `NAME=` pairs inside a value: `'A=${_A},B=${_B}'` (Cloud Build's `--set-env-vars`),
///   `--env NAME=value`;
/// - references: `$NAME`, `${NAME}`, `${{ secrets.NAME }}`, `${{ env.NAME }}`, `${{ vars.NAME }}`.
///
/// A line whose first non-blank character is `#` is a comment and declares nothing; the comments
/// that mention a name being looked for are kept, so the check can say it ignored them (a
/// commented-out `# STRIPE_KEY=` is the usual reason a file "does not declare" it).
struct ConfigDeclarations {
    private(set) var names = Set<String>()
    /// Comment lines (1-based number, text) that mention one of the names asked about.
    private(set) var ignoredComments: [(Int, String)] = []

    init(_ text: String, mentioning wanted: Set<String> = []) {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Substring(rawLine).drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("#") {
                if !wanted.isEmpty, !Self.words(in: line).isDisjoint(with: wanted) {
                    ignoredComments.append((index + 1, String(line.trimmingSpaces())))
                }
                continue
            }
            scan(line)
        }
    }

    /// Runs of name characters in a text.
    static func words(in text: Substring) -> Set<String> {
        Set(text.split(whereSeparator: { !isName($0) }).map(String.init))
    }

    static func isName(_ c: Character) -> Bool { c == "_" || (c.isASCII && (c.isLetter || c.isNumber)) }

    private mutating func scan(_ text: Substring) {
        var line = text
        if line.hasPrefix("export ") { line = line.dropFirst(7).drop { $0 == " " } }
        var item = false
        if line.hasPrefix("- ") {
            line = line.dropFirst(2).drop { $0 == " " }
            item = true
        }
        if line.hasPrefix("\"") || line.hasPrefix("'") { line = line.dropFirst() }
        let key = line.prefix(while: Self.isName)
        // A bare name as a list item: docker-compose's `environment:` list passing a variable through.
        if item, !key.isEmpty, !key.first!.isNumber, line.dropFirst(key.count).allSatisfy({ "\"' \t\r".contains($0) }) {
            names.insert(String(key))
        }
        if !key.isEmpty, let next = line.dropFirst(key.count).first, next == "=" || next == ":", !key.first!.isNumber {
            names.insert(String(key))
        }
        pairs(in: text)
        references(in: text)
    }

    /// `NAME=` wherever a name starts after a separator: `'A=${_A},B=${_B}'`, `--env A=1`.
    private mutating func pairs(in text: Substring) {
        var index = text.startIndex
        while let equals = text[index...].firstIndex(of: "=") {
            var start = equals
            while start > text.startIndex, Self.isName(text[text.index(before: start)]) { start = text.index(before: start) }
            let name = text[start..<equals]
            let before = start > text.startIndex ? text[text.index(before: start)] : " "
            if !name.isEmpty, !name.first!.isNumber, " \t'\",=".contains(before) { names.insert(String(name)) }
            index = text.index(after: equals)
        }
    }

    private mutating func references(in text: Substring) {
        var rest = text
        while let dollar = rest.firstIndex(of: "$") {
            rest = rest[rest.index(after: dollar)...]
            var candidate = rest
            if candidate.hasPrefix("{{") {
                candidate = candidate.dropFirst(2).drop { $0 == " " }
                for prefix in ["secrets.", "env.", "vars."] where candidate.hasPrefix(prefix) {
                    let name = candidate.dropFirst(prefix.count).prefix(while: Self.isName)
                    if !name.isEmpty { names.insert(String(name)) }
                }
                continue
            }
            if candidate.hasPrefix("{") { candidate = candidate.dropFirst() }
            let name = candidate.prefix(while: Self.isName)
            if !name.isEmpty, !(name.first!.isNumber) { names.insert(String(name)) }
        }
    }
}
