import PipelineYAML

/// A string that may hold `${{ expr }}` references, parsed into literal and reference parts.
/// Values are substituted only where a template is allowed (env values, URLs, messages),
/// never into shell text.
public struct Template: Sendable, Equatable, CustomStringConvertible {
    /// A piece of a template.
    public enum Part: Sendable, Equatable {
        case literal(String)
        case reference(Reference)
    }

    /// The parts in order.
    public var parts: [Part]
    /// The text as written.
    public var raw: String

    /// The references it holds.
    public var references: [Reference] {
        parts.compactMap { if case .reference(let r) = $0 { return r } else { return nil } }
    }

    public var description: String { raw }

    /// Parses `text`; returns the problems (offset in `text`, message) instead of throwing,
    /// so every bad reference in a file is reported.
    public static func parse(_ text: String) -> (Template, [(offset: Int, message: String)]) {
        var parts: [Part] = []
        var problems: [(offset: Int, message: String)] = []
        guard text.mayHoldReference, text.contains("${{") else { return (Template(parts: [.literal(text)], raw: text), []) }
        var rest = text[...]
        while let open = rest.range(of: "${{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            let offset = text.distance(from: text.startIndex, to: open.lowerBound)
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                problems.append((offset, "unterminated '${{': close it with '}}'"))
                return (Template(parts: parts, raw: text), problems)
            }
            let expression = rest[open.upperBound..<close.lowerBound].trimmingSpaces()
            if let reference = Reference(parsing: expression) {
                parts.append(.reference(reference))
            } else {
                problems.append((offset, "'\(expression)' is not a reference; use 'env.NAME', 'secrets.NAME', 'stages.ID.outputs.NAME' or 'run.id'"))
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        return (Template(parts: parts, raw: text), problems)
    }
}

/// What a `${{ }}` names.
public enum Reference: Sendable, Equatable, CustomStringConvertible {
    case env(String)
    case secret(String)
    case output(stage: String, name: String)
    case runID
    /// `color`: the colour a blue-green stage deploys (only in a blue-green stage).
    case color
    /// A parameter of a stage file (`parameters.NAME`), replaced by its value when the file is included.
    case parameter(String)

    package init?(parsing expression: String) {
        let parts = expression.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch (parts.first, parts.count) {
        case ("env", 2) where !parts[1].isEmpty: self = .env(parts[1])
        case ("secrets", 2) where !parts[1].isEmpty: self = .secret(parts[1])
        case ("stages", 4) where parts[2] == "outputs" && !parts[1].isEmpty && !parts[3].isEmpty:
            self = .output(stage: parts[1], name: parts[3])
        case ("run", 2) where parts[1] == "id": self = .runID
        case ("color", 1): self = .color
        case ("parameters", 2) where !parts[1].isEmpty: self = .parameter(parts[1])
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .env(let n): return "env.\(n)"
        case .secret(let n): return "secrets.\(n)"
        case .output(let s, let n): return "stages.\(s).outputs.\(n)"
        case .runID: return "run.id"
        case .color: return "color"
        case .parameter(let n): return "parameters.\(n)"
        }
    }
}

extension StringProtocol {
    package func trimmingSpaces() -> String {
        // On UTF-8 bytes: blanks are ASCII, and this runs for every scalar of a large file.
        let text = Substring(self)
        guard let first = text.utf8.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let last = text.utf8.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        return String(text[first...last])
    }
}

extension StringProtocol {
    /// Whether the UTF-8 bytes hold `${{`. Every scalar of a file is asked this, so it is a byte
    /// scan: false means no `${{` in any sense (a match of characters is a match of bytes), and only
    /// a true one needs the slower character-level reading.
    /// - Complexity: O(n) in the length in bytes.
    package var mayHoldReference: Bool {
        let found = utf8.withContiguousStorageIfAvailable { Self.holdsOpener($0) }
        return found ?? Array(utf8).withUnsafeBufferPointer { Self.holdsOpener($0) }
    }

    private static func holdsOpener(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 3 else { return false }
        var i = 0
        let end = bytes.count - 2
        while i < end {
            if bytes[i] == UInt8(ascii: "$"), bytes[i + 1] == UInt8(ascii: "{"), bytes[i + 2] == UInt8(ascii: "{") { return true }
            i += 1
        }
        return false
    }

    /// The first range of `needle` (no Foundation).
    package func range(of needle: String) -> Range<Index>? {
        guard let first = needle.first else { return nil }
        var index = startIndex
        while index < endIndex {
            if self[index] == first, self[index...].hasPrefix(needle) {
                return index..<self.index(index, offsetBy: needle.count)
            }
            index = self.index(after: index)
        }
        return nil
    }
}
