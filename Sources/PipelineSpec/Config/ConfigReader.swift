import PipelineYAML

/// Typed, located access to a ``YAMLDocument``: every accessor checks the node's shape and
/// records a diagnostic (expected vs found) instead of failing, so all problems are reported together.
package struct ConfigReader {
    /// The document being read; `${{ inputs.* }}` and `${{ environment.* }}` already substituted.
    package var document: YAMLDocument
    package let path: String
    /// The `include` entries that brought this file in, innermost first (empty: the pipeline file).
    package let includedFrom: [IncludeSite]
    package var diagnostics: [Diagnostic] = []
    /// Scalars whose static reference could not be resolved: that error is the one reported there,
    /// not a second one about the value it left.
    package var silenced: Set<Mark> = []
    /// Scalars whose text came from a static reference, with the text as written: a problem with
    /// the value says where it came from.
    package var substituted: [Mark: String] = [:]

    package init(document: YAMLDocument, path: String, includedFrom: [IncludeSite] = []) {
        self.document = document
        self.path = path
        self.includedFrom = includedFrom
    }

    package subscript(id: NodeID) -> YAMLNode { document[id] }

    /// A scalar's text (empty for a collection), made as a `String` on each call.
    package func value(_ id: NodeID) -> String { document.value(of: id) }

    /// Whether node `id` is a scalar whose text is exactly `word` (compared by bytes).
    package func scalar(_ id: NodeID, is word: String) -> Bool { document.scalar(id, is: word) }

    /// Whether node `id` is a plain scalar spelling null.
    package func isNull(_ id: NodeID) -> Bool { document.isNull(id) }

    package mutating func error(_ mark: Mark, _ message: String) {
        if silenced.contains(mark) { return }
        let origin = substituted[mark].map { " (the value of '\($0)')" } ?? ""
        diagnostics.append(Diagnostic(.error, path: path, mark: mark, message: message + origin, includedFrom: includedFrom))
    }

    /// An error at a mark of another file: the stage file `origin` (nil: this reader's own file).
    package mutating func error(_ mark: Mark, _ message: String, in origin: StageOrigin?) {
        guard let origin else { return error(mark, message) }
        diagnostics.append(Diagnostic(.error, path: origin.path, mark: mark, message: message, includedFrom: origin.includedFrom))
    }

    package mutating func warning(_ mark: Mark, _ message: String, code: String) {
        diagnostics.append(Diagnostic(.warning, path: path, mark: mark, message: message, code: code, includedFrom: includedFrom))
    }

    /// "a string", "a mapping", "a list", "null", "a number", "a boolean".
    package func describe(_ id: NodeID) -> String {
        let node = document[id]
        switch node.kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            if isNull(id) { return "nothing (null)" }
            guard node.style == .plain else { return "a string" }
            if scalar(id, is: "true") || scalar(id, is: "false") { return "a boolean" }
            if Double(value(id)) != nil { return "a number" }
            return "a string"
        }
    }

    package mutating func mismatch(_ id: NodeID, _ what: String, expected: String) {
        error(document[id].mark, "\(what): expected \(expected), found \(describe(id))")
    }

    /// The fields of a mapping whose keys come from `K`. Unknown keys get "did you mean";
    /// keys in `K` but not in `allowed` are passed to `misplaced` for a kind-specific message.
    /// Keys are matched by their bytes (``KeyTable``); nothing is built for a key that is known.
    /// `allowedSet` is `allowed` as ``Fields/set(of:)`` makes it, when the caller has it already.
    package mutating func fields<K: ConfigKey>(
        _ id: NodeID, _ what: @autoclosure () -> String, _ keys: K.Type, allowed: [K]? = nil, allowedSet: UInt64? = nil,
        misplaced: ((K) -> String)? = nil
    ) -> Fields<K>? {
        guard document[id].kind == .mapping else {
            mismatch(id, what(), expected: "a mapping")
            return nil
        }
        var fields = Fields<K>(mark: document[id].mark)
        let entries = document.entries(of: id)
        fields.reserveCapacity(entries.count)
        let table = K.table
        let allowedSet = allowedSet ?? allowed.map(Fields<K>.set) ?? ~UInt64(0)
        for (keyID, valueID) in entries {
            let key = document[keyID]
            if let known = document.withBytes(of: keyID, { table.key($0) }) {
                if allowedSet & (1 << UInt64(known.ordinal)) == 0 {
                    error(key.mark, misplaced?(known) ?? "'\(value(keyID))' is not allowed in \(what())")
                    continue
                }
                fields.append(known, valueID, key.mark)
            } else {
                let names = allowed?.map(\.rawValue) ?? table.names
                let name = value(keyID)
                error(key.mark, "unknown key '\(name)' in \(what())" + Suggestion.didYouMean(name, among: names))
            }
        }
        return fields
    }

    /// Reports each required key that is missing, at the mapping.
    package mutating func require<K: ConfigKey>(_ fields: Fields<K>, _ keys: [K], in what: @autoclosure () -> String) {
        for key in keys where fields[key] == nil {
            error(fields.mark, "\(what()) is missing required key '\(key.rawValue)'")
        }
    }

    /// A scalar as text. Any style is accepted: `NO` where a string is expected stays `NO`.
    package mutating func string(_ id: NodeID, _ what: @autoclosure () -> String) -> String? {
        guard document[id].kind == .scalar, !isNull(id) else {
            mismatch(id, what(), expected: "a string")
            return nil
        }
        return value(id)
    }

    /// A boolean: only plain `true` / `false`; YAML 1.1 spellings get an error with the fix.
    package mutating func bool(_ id: NodeID, _ what: @autoclosure () -> String) -> Bool? {
        let node = document[id]
        if node.kind == .scalar, node.style == .plain {
            if scalar(id, is: "true") { return true }
            if scalar(id, is: "false") { return false }
            let text = value(id)
            switch text {
            case "yes", "Yes", "YES", "on", "On", "ON", "y", "Y", "True", "TRUE":
                error(node.mark, "\(what()): '\(text)' is not a boolean here; write 'true'")
                return nil
            case "no", "No", "NO", "off", "Off", "OFF", "n", "N", "False", "FALSE":
                error(node.mark, "\(what()): '\(text)' is not a boolean here; write 'false'")
                return nil
            default: break
            }
        }
        mismatch(id, what(), expected: "'true' or 'false'")
        return nil
    }

    /// A plain integer within a range.
    package mutating func int(_ id: NodeID, _ what: @autoclosure () -> String, in range: ClosedRange<Int>) -> Int? {
        let node = document[id]
        guard node.kind == .scalar, node.style == .plain, let value = document.withBytes(of: id, Self.decimal) else {
            mismatch(id, what(), expected: "an integer")
            return nil
        }
        guard range.contains(value) else {
            let upper = range.upperBound == Int.max ? "" : " and \(range.upperBound)"
            error(
                node.mark,
                range.upperBound == Int.max
                    ? "\(what()) must be at least \(range.lowerBound), found \(value)"
                    : "\(what()) must be between \(range.lowerBound)\(upper), found \(value)")
            return nil
        }
        return value
    }

    /// The integer that `bytes` spell as `Int(String)` reads one (an optional sign, then ASCII
    /// digits, within `Int`'s range), or nil; from the bytes, with no `String` made.
    static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            i = 1
        }
        guard i < bytes.count else { return nil }
        var value = 0
        while i < bytes.count {
            let digit = Int(bytes[i]) &- 48
            guard digit >= 0, digit <= 9 else { return nil }
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            // Accumulated toward the sign, so Int.min (one more than Int.max) is read too.
            let (next, overflowAdd) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflowTimes, !overflowAdd else { return nil }
            value = next
            i += 1
        }
        return value
    }

    /// A plain number.
    package mutating func number(_ id: NodeID, _ what: @autoclosure () -> String) -> Double? {
        let node = document[id]
        guard node.kind == .scalar, node.style == .plain, let value = Double(self.value(id)), value.isFinite else {
            mismatch(id, what(), expected: "a number")
            return nil
        }
        return value
    }

    /// A duration (`500ms`, `90s`, `10m`, `1h30m`), at most ``FormatLimits/maxDuration``.
    package mutating func duration(_ id: NodeID, _ what: @autoclosure () -> String, positive: Bool = false) -> TimeSpan? {
        let node = document[id]
        guard node.kind == .scalar, !isNull(id) else {
            mismatch(id, what(), expected: "a duration like '90s'")
            return nil
        }
        guard let span = document.withBytes(of: id, { TimeSpan(parsingUTF8: $0) }) else {
            let text = value(id)
            let hint = Int(text) != nil ? "; add a unit: '\(text)s'" : "; use h, m, s, ms in that order, e.g. '1h30m', '90s', '500ms'"
            error(node.mark, "\(what()): '\(text)' is not a duration\(hint)")
            return nil
        }
        if positive, span.milliseconds == 0 {
            error(node.mark, "\(what()) must be longer than 0s")
            return nil
        }
        if span > FormatLimits.maxDuration {
            error(node.mark, "\(what()) must be at most \(FormatLimits.maxDuration) (30 days), found '\(value(id))'")
            return nil
        }
        return span
    }

    /// The items of a list.
    package mutating func list(_ id: NodeID, _ what: @autoclosure () -> String) -> ArraySlice<NodeID>? {
        guard document[id].kind == .sequence else {
            mismatch(id, what(), expected: "a list")
            return nil
        }
        return document.items(of: id)
    }

    /// A list of strings, with the mark of each.
    package mutating func strings(_ id: NodeID, _ what: @autoclosure () -> String) -> [(String, Mark)]? {
        guard let items = list(id, what()) else { return nil }
        var result: [(String, Mark)] = []
        for item in items {
            if let s = string(item, "each item of \(what())") { result.append((s, document[item].mark)) }
        }
        return result
    }
}

/// The values of a mapping, by key, with where each key is written.
package struct Fields<K: ConfigKey> {
    package var mark: Mark
    /// The known keys written, in the order written (each once), with the value and the key's mark.
    package private(set) var entries: [(key: K, value: NodeID, mark: Mark)] = []
    /// The ordinals of the keys in ``entries``, one bit each: most keys looked up are not written,
    /// and are answered without a scan.
    private var written: UInt64 = 0

    package init(mark: Mark) {
        self.mark = mark
    }

    /// The keys as a set of ordinals, one bit each.
    package static func set(of keys: [K]) -> UInt64 { keys.reduce(0) { $0 | 1 << UInt64($1.ordinal) } }

    /// Adds a key written in the mapping (each key once).
    @inline(__always) package mutating func append(_ key: K, _ value: NodeID, _ mark: Mark) {
        entries.append((key, value, mark))
        written |= 1 << UInt64(key.ordinal)
    }

    /// Reserves room for `count` keys.
    package mutating func reserveCapacity(_ count: Int) { entries.reserveCapacity(count) }

    /// The value of `key`, if written. A linear scan: a mapping holds at most a few dozen known keys.
    @inline(__always) package subscript(key: K) -> NodeID? {
        let ordinal = key.ordinal
        guard written & (1 << UInt64(ordinal)) != 0 else { return nil }
        for entry in entries where entry.key.ordinal == ordinal { return entry.value }
        return nil
    }

    /// Where `key` is written, if it is.
    package func mark(of key: K) -> Mark? {
        let ordinal = key.ordinal
        guard written & (1 << UInt64(ordinal)) != 0 else { return nil }
        for entry in entries where entry.key.ordinal == ordinal { return entry.mark }
        return nil
    }
}
