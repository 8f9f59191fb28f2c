internal import CYAML

/// Reads untrusted YAML into a ``YAMLDocument`` through libyaml's event API, strictly:
/// one document, no anchors or aliases, no tags, scalar keys only, bounded size and depth.
///
/// Duplicate keys are collected in ``Result/duplicates`` (the first one is kept); every other
/// problem stops the read and is thrown as a ``YAMLProblem``.
public enum YAMLReader {
    /// What a successful read returns.
    public struct Result: Sendable {
        /// The document.
        public var document: YAMLDocument
        /// Duplicate mapping keys, each reported at the repeated key.
        public var duplicates: [YAMLProblem]
    }

    /// Parses bytes as one strict YAML document.
    /// - Parameters:
    ///   - bytes: the file's content.
    ///   - limits: size and depth limits.
    /// - Returns: the document and the duplicate keys found.
    /// - Throws: ``YAMLProblem`` for a syntax error, invalid UTF-8, an empty file, a second
    ///   document, an anchor, alias or tag, a non-scalar key, or a limit exceeded.
    /// - Complexity: O(n) in the size of the input.
    public static func read(_ bytes: [UInt8], limits: YAMLLimits = YAMLLimits()) throws(YAMLProblem) -> Result {
        if bytes.count > limits.maxBytes {
            throw YAMLProblem(
                mark: Mark(line: 1, column: 1),
                message: "file is \(describe(bytes: bytes.count)); the limit is \(describe(bytes: limits.maxBytes))")
        }
        // libyaml reads the array's own storage (no copy); the parser lives only inside this call.
        let parsed = bytes.withUnsafeBufferPointer { input in
            Swift.Result { () throws(YAMLProblem) in try parse(input, bytes: bytes, limits: limits) }
        }
        return try parsed.get()
    }

    private static func parse(_ input: UnsafeBufferPointer<UInt8>, bytes: [UInt8], limits: YAMLLimits) throws(YAMLProblem) -> Result {
        let parser = EventParser(input)
        // A node takes at least ~8 bytes of text (`- a: b\n` is three), so the arena rarely grows.
        var builder = Builder(maxDepth: limits.maxDepth, expectedNodes: bytes.count / 8)
        while true {
            try parser.next(bytes)
            defer { yaml_event_delete(parser.event) }
            if try builder.consume(Event(parser.event.pointee)) { break }
        }
        guard let root = builder.root else {
            throw YAMLProblem(mark: Mark(line: 1, column: 1), message: "the file is empty; a pipeline needs at least 'version', 'name' and 'stages'")
        }
        return Result(
            document: YAMLDocument(nodes: builder.nodes, children: builder.children, root: root, mayHoldReferences: builder.mayHoldReferences),
            duplicates: builder.duplicates)
    }

    /// A size for messages: `512 bytes`, `12 KiB`, `16.0 MiB`.
    public static func describe(bytes: Int) -> String {
        if bytes >= 1 << 20 {
            let tenths = (bytes * 10) >> 20
            return "\(tenths / 10).\(tenths % 10) MiB"
        }
        if bytes >= 1 << 10 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}

/// Owns a libyaml parser and its current event; frees them in `deinit`. The C structs live at
/// fixed addresses (not in stored properties, which Swift would check for exclusive access on
/// every event). The input is the caller's, and must outlive the parser.
private final class EventParser {
    let parser: UnsafeMutablePointer<yaml_parser_t>
    let event: UnsafeMutablePointer<yaml_event_t>
    /// A byte to point at for an empty input (libyaml wants a non-null pointer).
    private let empty: UnsafeMutablePointer<UInt8>

    init(_ input: UnsafeBufferPointer<UInt8>) {
        empty = .allocate(capacity: 1)
        empty.initialize(to: 0)
        parser = .allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        event = .allocate(capacity: 1)
        event.initialize(to: yaml_event_t())
        _ = yaml_parser_initialize(parser)
        yaml_parser_set_input_string(parser, input.isEmpty ? UnsafePointer(empty) : input.baseAddress, input.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        event.deallocate()
        empty.deallocate()
    }

    /// Parses the next event into `event` (the caller deletes it).
    func next(_ bytes: [UInt8]) throws(YAMLProblem) {
        if yaml_parser_parse(parser, event) == 0 { throw problem(bytes) }
    }

    private func problem(_ bytes: [UInt8]) -> YAMLProblem {
        let parser = self.parser.pointee
        let text = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        if parser.error == YAML_READER_ERROR {
            // Reader errors (bad encoding) carry a byte offset, not a mark.
            let offset = min(Int(parser.problem_offset), bytes.count)
            let message = text.contains("UTF-8") ? "invalid UTF-8: \(text)" : text
            return YAMLProblem(mark: mark(atByteOffset: offset, in: bytes), message: message)
        }
        var message = text
        if let context = parser.context {
            let at = Mark(parser.context_mark)
            message += " (\(String(cString: context)) at line \(at.line), column \(at.column))"
        }
        return YAMLProblem(mark: Mark(parser.problem_mark), message: message)
    }

    private func mark(atByteOffset offset: Int, in bytes: [UInt8]) -> Mark {
        var line = 1
        var column = 1
        for byte in bytes[..<offset] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return Mark(line: line, column: column)
    }
}

extension Mark {
    /// Converts libyaml's 0-based mark, once, at the C border.
    init(_ mark: yaml_mark_t) {
        self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}

/// The parts of a libyaml event the builder needs, copied out of C memory.
private enum Event {
    case streamStart, streamEnd, documentStart(Mark), documentEnd
    case alias(Mark)
    case scalar(Mark, String, ScalarStyle, hasTag: Bool, hasAnchor: Bool)
    case sequenceStart(Mark, hasTag: Bool, hasAnchor: Bool)
    case mappingStart(Mark, hasTag: Bool, hasAnchor: Bool)
    case sequenceEnd, mappingEnd

    init(_ event: yaml_event_t) {
        let mark = Mark(event.start_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT: self = .streamStart
        case YAML_STREAM_END_EVENT: self = .streamEnd
        case YAML_DOCUMENT_START_EVENT: self = .documentStart(mark)
        case YAML_DOCUMENT_END_EVENT: self = .documentEnd
        case YAML_ALIAS_EVENT: self = .alias(mark)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let style: ScalarStyle
            switch scalar.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            self = .scalar(mark, value, style, hasTag: scalar.tag != nil, hasAnchor: scalar.anchor != nil)
        case YAML_SEQUENCE_START_EVENT:
            let start = event.data.sequence_start
            self = .sequenceStart(mark, hasTag: start.tag != nil, hasAnchor: start.anchor != nil)
        case YAML_MAPPING_START_EVENT:
            let start = event.data.mapping_start
            self = .mappingStart(mark, hasTag: start.tag != nil, hasAnchor: start.anchor != nil)
        case YAML_SEQUENCE_END_EVENT: self = .sequenceEnd
        case YAML_MAPPING_END_EVENT: self = .mappingEnd
        default: self = .documentEnd
        }
    }
}

/// Turns events into the flat node arena, enforcing the strict rules as it goes.
private struct Builder {
    struct Frame {
        var node: Int
        var pendingStart: Int
        var isMapping: Bool
        var expectingKey = true
        var dropValue = false
        /// Keys seen so far, built only once a mapping grows past a handful of entries.
        var keys: [String: Mark]?
    }

    let maxDepth: Int
    var nodes: [YAMLNode] = []
    var children: [NodeID] = []
    var pending: [NodeID] = []
    var frames: [Frame] = []
    var root: NodeID?
    var documents = 0
    var duplicates: [YAMLProblem] = []
    /// Some scalar so far holds `${{`.
    var mayHoldReferences = false

    init(maxDepth: Int, expectedNodes: Int) {
        self.maxDepth = maxDepth
        nodes.reserveCapacity(max(1024, expectedNodes))
        children.reserveCapacity(max(1024, expectedNodes))
    }

    /// Returns true at the end of the stream.
    mutating func consume(_ event: Event) throws(YAMLProblem) -> Bool {
        switch event {
        case .streamStart, .documentEnd:
            return false
        case .streamEnd:
            return true
        case .documentStart(let mark):
            documents += 1
            if documents > 1 {
                throw YAMLProblem(mark: mark, message: "a pipeline file holds one YAML document; a second one starts here")
            }
        case .alias(let mark):
            throw YAMLProblem(mark: mark, message: "aliases ('*name') are not supported; write the value out")
        case .scalar(let mark, let value, let style, let hasTag, let hasAnchor):
            try refuse(mark: mark, hasTag: hasTag, hasAnchor: hasAnchor)
            if !mayHoldReferences { mayHoldReferences = Self.opensReference(value) }
            let id = NodeID(nodes.count)
            nodes.append(YAMLNode(kind: .scalar, mark: mark, value: value, style: style, childStart: 0, childCount: 0))
            attach(id)
        case .sequenceStart(let mark, let hasTag, let hasAnchor):
            try open(mark: mark, kind: .sequence, hasTag: hasTag, hasAnchor: hasAnchor)
        case .mappingStart(let mark, let hasTag, let hasAnchor):
            try open(mark: mark, kind: .mapping, hasTag: hasTag, hasAnchor: hasAnchor)
        case .sequenceEnd, .mappingEnd:
            let frame = frames.removeLast()
            nodes[frame.node].childStart = NodeID(children.count)
            nodes[frame.node].childCount = NodeID(pending.count - frame.pendingStart)
            children.append(contentsOf: pending[frame.pendingStart...])
            pending.removeSubrange(frame.pendingStart...)
            attach(NodeID(frame.node))
        }
        return false
    }

    /// Whether the text holds the bytes `${{`.
    static func opensReference(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= 3 else { return false }
            for i in 0..<(bytes.count - 2)
            where bytes[i] == UInt8(ascii: "$") && bytes[i + 1] == UInt8(ascii: "{") && bytes[i + 2] == UInt8(ascii: "{") {
                return true
            }
            return false
        }
    }

    private func refuse(mark: Mark, hasTag: Bool, hasAnchor: Bool) throws(YAMLProblem) {
        if hasTag {
            throw YAMLProblem(mark: mark, message: "tags ('!name', '!!type') are not allowed in a pipeline file")
        }
        if hasAnchor {
            throw YAMLProblem(mark: mark, message: "anchors ('&name') and aliases are not supported; write the value out")
        }
    }

    private mutating func open(mark: Mark, kind: YAMLNode.Kind, hasTag: Bool, hasAnchor: Bool) throws(YAMLProblem) {
        try refuse(mark: mark, hasTag: hasTag, hasAnchor: hasAnchor)
        if let parent = frames.last, parent.isMapping, parent.expectingKey {
            throw YAMLProblem(mark: mark, message: "mapping keys must be plain scalars, not \(kind == .mapping ? "mappings" : "sequences")")
        }
        if frames.count >= maxDepth {
            throw YAMLProblem(mark: mark, message: "nesting is deeper than \(maxDepth) levels")
        }
        frames.append(Frame(node: nodes.count, pendingStart: pending.count, isMapping: kind == .mapping))
        nodes.append(YAMLNode(kind: kind, mark: mark, value: "", style: .plain, childStart: 0, childCount: 0))
    }

    private mutating func attach(_ id: NodeID) {
        guard !frames.isEmpty else {
            root = id
            return
        }
        let top = frames.count - 1
        guard frames[top].isMapping else {
            pending.append(id)
            return
        }
        if frames[top].expectingKey {
            frames[top].expectingKey = false
            let key = nodes[Int(id)]
            if let first = firstMark(of: key.value, in: top) {
                duplicates.append(
                    YAMLProblem(
                        mark: key.mark,
                        message: "duplicate key '\(key.value)' (first defined at line \(first.line))"))
                frames[top].dropValue = true
                return
            }
            if frames[top].keys != nil { frames[top].keys![key.value] = key.mark }
            pending.append(id)
        } else {
            frames[top].expectingKey = true
            if frames[top].dropValue {
                frames[top].dropValue = false
            } else {
                pending.append(id)
            }
        }
    }

    /// Where a key was first written in the mapping on frame `top`, if it was.
    /// Small mappings are scanned; large ones get a dictionary, so the check stays O(1).
    private mutating func firstMark(of key: String, in top: Int) -> Mark? {
        if let keys = frames[top].keys { return keys[key] }
        let start = frames[top].pendingStart
        if pending.count - start > 32 {
            var keys: [String: Mark] = [:]
            for index in stride(from: start, to: pending.count, by: 2) {
                let node = nodes[Int(pending[index])]
                keys[node.value] = node.mark
            }
            frames[top].keys = keys
            return keys[key]
        }
        for index in stride(from: start, to: pending.count, by: 2) where nodes[Int(pending[index])].value == key {
            return nodes[Int(pending[index])].mark
        }
        return nil
    }
}
