import PipelineYAML

/// A stage's `if:`: a small expression over inputs, the environment, `env` and stage outputs,
/// parsed and checked when the file is read, never given to a shell.
public struct StageCondition: Sendable {
    /// The expression as written.
    public var text: String
    /// The expression with `inputs.*` and `environment.*` replaced by their values (static).
    public var expression: ConditionExpression
    /// Where the `if:` value is written.
    public var mark: Mark

    /// Creates a condition.
    public init(text: String, expression: ConditionExpression, mark: Mark) {
        self.text = text
        self.expression = expression
        self.mark = mark
    }

    /// The decision known when the file is read (it reads only inputs, the environment and
    /// literals, or its runtime parts cannot change it); nil when it is decided when the stage is ready.
    public var staticDecision: Bool? { expression.truth { _ in nil } }
}

/// A value of the expression language: text from the file or a run, a number, or a boolean.
public enum ConditionValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case number(Double)
    case boolean(Bool)

    public var description: String {
        switch self {
        case .string(let s): return "'" + s.replacingAll("'", with: "''") + "'"
        case .number(let n): return formatNumber(n)
        case .boolean(let b): return b ? "true" : "false"
        }
    }
}

/// What a name in an expression reads when the stage is ready (the static names are already values).
public enum ConditionReference: Sendable, Equatable, CustomStringConvertible {
    /// A top-level `env` variable (`env.NAME`), as the stage's scripts would get it.
    case env(String)
    /// An output of a stage this one needs (`stages.ID.outputs.NAME`).
    case output(stage: String, name: String)
    /// A static name left unresolved: a stage file checked alone knows no inputs or environment.
    case unresolved(String)

    public var description: String {
        switch self {
        case .env(let n): return "env.\(n)"
        case .output(let s, let n): return "stages.\(s).outputs.\(n)"
        case .unresolved(let text): return text
        }
    }
}

/// The parsed expression.
public indirect enum ConditionExpression: Sendable, Equatable, CustomStringConvertible {
    case literal(ConditionValue)
    /// A value read when the stage is ready; always text (env values and outputs are strings).
    case reference(ConditionReference)
    case not(ConditionExpression)
    case and(ConditionExpression, ConditionExpression)
    case or(ConditionExpression, ConditionExpression)
    case equal(ConditionExpression, ConditionExpression)
    case notEqual(ConditionExpression, ConditionExpression)

    /// The references it reads when the stage is ready.
    public var references: [ConditionReference] {
        switch self {
        case .literal: return []
        case .reference(let r): return [r]
        case .not(let e): return e.references
        case .and(let a, let b), .or(let a, let b), .equal(let a, let b), .notEqual(let a, let b): return a.references + b.references
        }
    }

    /// The expression in the language's own syntax (static values shown as literals).
    public var description: String {
        func wrapped(_ e: ConditionExpression) -> String {
            switch e {
            case .and, .or: return "(\(e))"
            default: return e.description
            }
        }
        switch self {
        case .literal(let v): return v.description
        case .reference(let r): return r.description
        case .not(let e):
            if case .literal = e { return "!\(e)" }
            if case .reference = e { return "!\(e)" }
            return "!(\(e))"
        case .and(let a, let b): return "\(wrappedOr(a)) && \(wrappedOr(b))"
        case .or(let a, let b): return "\(a) || \(b)"
        case .equal(let a, let b): return "\(wrapped(a)) == \(wrapped(b))"
        case .notEqual(let a, let b): return "\(wrapped(a)) != \(wrapped(b))"
        }
    }

    private func wrappedOr(_ e: ConditionExpression) -> String {
        if case .or = e { return "(\(e))" }
        return e.description
    }

    /// Evaluates to true or false; nil while a reference it needs is unknown (`lookup` returns nil).
    /// `&&` and `||` decide without the unknown side when the known one suffices.
    /// - Parameter lookup: the text of a reference, or nil when not known yet.
    public func truth(_ lookup: (ConditionReference) -> String?) -> Bool? {
        switch self {
        case .literal(.boolean(let b)): return b
        case .literal, .reference: return nil  // not boolean: refused when the file is read
        case .not(let e): return e.truth(lookup).map { !$0 }
        case .and(let a, let b):
            let left = a.truth(lookup)
            if left == false { return false }
            let right = b.truth(lookup)
            if right == false { return false }
            return left == true && right == true ? true : nil
        case .or(let a, let b):
            let left = a.truth(lookup)
            if left == true { return true }
            let right = b.truth(lookup)
            if right == true { return true }
            return left == false && right == false ? false : nil
        case .equal(let a, let b): return Self.equal(a, b, lookup)
        case .notEqual(let a, let b): return Self.equal(a, b, lookup).map { !$0 }
        }
    }

    /// `==`: text read at run time compares with a number as a number (`'3' == 3`), with a
    /// boolean as `'true'` / `'false'`, with text exactly; two typed values must have one type.
    static func equal(_ a: ConditionExpression, _ b: ConditionExpression, _ lookup: (ConditionReference) -> String?) -> Bool? {
        func value(_ e: ConditionExpression) -> (ConditionValue, text: Bool)? {
            switch e {
            case .literal(let v): return (v, false)
            case .reference(let r): return lookup(r).map { (.string($0), true) }
            default: return e.truth(lookup).map { (.boolean($0), false) }
            }
        }
        guard let (left, leftText) = value(a), let (right, rightText) = value(b) else { return nil }
        switch (left, right) {
        case (.string(let x), .string(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.boolean(let x), .boolean(let y)): return x == y
        case (.string(let s), .number(let n)) where leftText, (.number(let n), .string(let s)) where rightText:
            return Double(s.trimmingSpaces()).map { $0 == n } ?? false
        case (.string(let s), .boolean(let b)) where leftText, (.boolean(let b), .string(let s)) where rightText:
            return s == (b ? "true" : "false")
        default: return false
        }
    }
}
