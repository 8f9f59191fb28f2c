/// Parses and type-checks an `if:` expression: `==`, `!=`, `&&`, `||`, `!`, parentheses,
/// `'string'` / `"string"` / number / `true` / `false` literals and dotted names. Problems carry
/// the character offset inside the expression, so diagnostics point at the column.
package struct ConditionParser {
    /// What a dotted name stands for: a value known now (an input, the environment) or a value read
    /// when the stage is ready (text).
    package enum Resolved {
        case value(ConditionValue)
        case reference(ConditionReference)
    }

    /// A problem at a character offset of the expression.
    package struct Problem: Error {
        package var offset: Int
        package var message: String
    }

    /// The static type of a subexpression; `text` is read at run time and compares with anything.
    enum Kind: String {
        case string, number, boolean, text
        /// Unknown because a name did not resolve (already reported).
        case unknown
    }

    enum Token: Equatable {
        case string(String), number(Double), name(String), op(String), open, close, end
    }

    private var tokens: [(token: Token, offset: Int)] = []
    private var position = 0
    private var problems: [Problem] = []
    private let resolve: (String, Int) -> Resolved?

    /// Parses `text`; `resolve` turns a dotted name (at its offset) into a value or a reference,
    /// reporting (and returning nil for) a name it does not know.
    /// - Returns: the expression (nil when it has problems), and the first syntax problem or every type problem.
    package static func parse(_ text: String, resolve: @escaping (String, Int) -> Resolved?) -> (ConditionExpression?, [Problem]) {
        var parser = ConditionParser(resolve: resolve)
        switch Self.lex(text) {
        case .failure(let problem): return (nil, [problem])
        case .success(let tokens): parser.tokens = tokens
        }
        guard let (expression, kind, offset) = parser.parseOr() else { return (nil, parser.problems) }
        if parser.current.token != .end {
            return (nil, [Problem(offset: parser.current.offset, message: "unexpected \(Self.describe(parser.current.token)) after the end of the expression")])
        }
        if kind != .boolean, kind != .unknown {
            parser.problems.append(
                Problem(offset: offset, message: "the condition is \(Self.article(kind)), not true or false; compare it, e.g. \(expression) == 'yes'"))
        }
        return (parser.problems.isEmpty ? expression : nil, parser.problems)
    }

    private init(resolve: @escaping (String, Int) -> Resolved?) { self.resolve = resolve }

    private var current: (token: Token, offset: Int) { tokens[min(position, tokens.count - 1)] }

    private mutating func take(_ op: String) -> Int? {
        guard current.token == .op(op) else { return nil }
        defer { position += 1 }
        return current.offset
    }

    // or := and ('||' and)*
    private mutating func parseOr() -> (ConditionExpression, Kind, Int)? {
        guard let first = parseAnd() else { return nil }
        var (left, kind) = (first.0, first.1)
        let start = first.2
        while let at = take("||") {
            guard let (right, rightKind, rightStart) = parseAnd() else { return nil }
            requireBoolean(kind, start, "||", at)
            requireBoolean(rightKind, rightStart, "||", at)
            left = .or(left, right)
            kind = .boolean
        }
        return (left, kind, start)
    }

    // and := comparison ('&&' comparison)*
    private mutating func parseAnd() -> (ConditionExpression, Kind, Int)? {
        guard let first = parseComparison() else { return nil }
        var (left, kind) = (first.0, first.1)
        let start = first.2
        while let at = take("&&") {
            guard let (right, rightKind, rightStart) = parseComparison() else { return nil }
            requireBoolean(kind, start, "&&", at)
            requireBoolean(rightKind, rightStart, "&&", at)
            left = .and(left, right)
            kind = .boolean
        }
        return (left, kind, start)
    }

    // comparison := unary (('==' | '!=') unary)?
    private mutating func parseComparison() -> (ConditionExpression, Kind, Int)? {
        guard let (left, kind, start) = parseUnary() else { return nil }
        let op = current.token
        guard op == .op("==") || op == .op("!=") else { return (left, kind, start) }
        let at = current.offset
        position += 1
        guard let (right, rightKind, _) = parseUnary() else { return nil }
        if current.token == .op("==") || current.token == .op("!=") {
            problems.append(Problem(offset: current.offset, message: "comparisons cannot be chained; use parentheses and '&&'"))
            return nil
        }
        if kind != rightKind, ![kind, rightKind].contains(.text), ![kind, rightKind].contains(.unknown) {
            problems.append(
                Problem(
                    offset: at,
                    message: "'\(op == .op("==") ? "==" : "!=")' compares \(Self.article(kind)) with \(Self.article(rightKind)): they are never equal"))
        }
        return (op == .op("==") ? .equal(left, right) : .notEqual(left, right), .boolean, start)
    }

    // unary := '!' unary | primary
    private mutating func parseUnary() -> (ConditionExpression, Kind, Int)? {
        if let at = take("!") {
            guard let (operand, kind, start) = parseUnary() else { return nil }
            requireBoolean(kind, start, "!", at)
            return (.not(operand), .boolean, at)
        }
        return parsePrimary()
    }

    // primary := '(' or ')' | literal | name
    private mutating func parsePrimary() -> (ConditionExpression, Kind, Int)? {
        let (token, offset) = current
        position += 1
        switch token {
        case .open:
            guard let (inner, kind, _) = parseOr() else { return nil }
            guard current.token == .close else {
                problems.append(Problem(offset: current.offset, message: "expected ')' to close the '(' at column \(offset + 1) of the expression"))
                return nil
            }
            position += 1
            return (inner, kind, offset)
        case .string(let s): return (.literal(.string(s)), .string, offset)
        case .number(let n): return (.literal(.number(n)), .number, offset)
        case .name("true"): return (.literal(.boolean(true)), .boolean, offset)
        case .name("false"): return (.literal(.boolean(false)), .boolean, offset)
        case .name(let name):
            switch resolve(name, offset) {
            case .value(let v)?: return (.literal(v), Self.kind(of: v), offset)
            case .reference(.unresolved(let text))?:
                // A stage file checked alone: the value's type is known only where it is included.
                return (.reference(.unresolved(text)), .unknown, offset)
            case .reference(let r)?: return (.reference(r), .text, offset)
            case nil: return (.literal(.boolean(false)), .unknown, offset)
            }
        default:
            problems.append(Problem(offset: offset, message: "expected a value, a name or '(' but found \(Self.describe(token))"))
            return nil
        }
    }

    private mutating func requireBoolean(_ kind: Kind, _ offset: Int, _ op: String, _ at: Int) {
        guard kind != .boolean, kind != .unknown else { return }
        problems.append(
            Problem(offset: offset, message: "'\(op)' needs true or false, but this is \(Self.article(kind)); compare it with '==' first"))
    }

    static func kind(of value: ConditionValue) -> Kind {
        switch value {
        case .string: return .string
        case .number: return .number
        case .boolean: return .boolean
        }
    }

    static func article(_ kind: Kind) -> String {
        switch kind {
        case .string: return "a string"
        case .number: return "a number"
        case .boolean: return "a boolean"
        case .text: return "text read at run time"
        case .unknown: return "an unknown value"
        }
    }

    static func describe(_ token: Token) -> String {
        switch token {
        case .string(let s): return "the string '\(s)'"
        case .number(let n): return "the number \(formatNumber(n))"
        case .name(let n): return "'\(n)'"
        case .op(let o): return "'\(o)'"
        case .open: return "'('"
        case .close: return "')'"
        case .end: return "the end of the expression"
        }
    }

    // MARK: - Lexer

    /// Splits the expression into tokens with their character offsets.
    static func lex(_ text: String) -> Result<[(token: Token, offset: Int)], Problem> {
        let chars = Array(text)
        var out: [(token: Token, offset: Int)] = []
        var i = 0
        func isNameStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_") }
        func isNamePart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-" || c == ".") }
        while i < chars.count {
            let c = chars[i]
            let start = i
            if c == " " || c == "\t" || c == "\n" {
                i += 1
                continue
            }
            if c == "'" || c == "\"" {
                // A quote inside is written twice ('it''s').
                var value = ""
                i += 1
                var closed = false
                while i < chars.count {
                    if chars[i] == c {
                        if i + 1 < chars.count, chars[i + 1] == c {
                            value.append(c)
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    value.append(chars[i])
                    i += 1
                }
                guard closed else { return .failure(Problem(offset: start, message: "unterminated string: close it with \(c)")) }
                out.append((.string(value), start))
                continue
            }
            if c.isASCII, c.isNumber || (c == "-" && i + 1 < chars.count && chars[i + 1].isASCII && chars[i + 1].isNumber) {
                i += 1
                while i < chars.count, chars[i].isASCII, chars[i].isNumber || chars[i] == "." { i += 1 }
                let literal = String(chars[start..<i])
                guard let number = Double(literal), number.isFinite else {
                    return .failure(Problem(offset: start, message: "'\(literal)' is not a number"))
                }
                out.append((.number(number), start))
                continue
            }
            if isNameStart(c) {
                while i < chars.count, isNamePart(chars[i]) { i += 1 }
                out.append((.name(String(chars[start..<i])), start))
                continue
            }
            let two = i + 1 < chars.count ? String(chars[i...i + 1]) : ""
            if ["==", "!=", "&&", "||"].contains(two) {
                out.append((.op(two), start))
                i += 2
                continue
            }
            switch c {
            case "!": out.append((.op("!"), start))
            case "(": out.append((.open, start))
            case ")": out.append((.close, start))
            case "=": return .failure(Problem(offset: start, message: "'=' is not an operator; compare with '=='"))
            case "&", "|": return .failure(Problem(offset: start, message: "'\(c)' is not an operator; write '\(c)\(c)'"))
            default:
                return .failure(
                    Problem(
                        offset: start, message: "unexpected '\(c)'; an expression has names, 'strings', numbers, true, false, ==, !=, &&, ||, ! and parentheses"
                    ))
            }
            i += 1
        }
        out.append((.end, chars.count))
        return .success(out)
    }
}
