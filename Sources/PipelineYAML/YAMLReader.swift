internal import CYAML

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

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
        var builder = Builder(maxDepth: limits.maxDepth, expectedNodes: bytes.count / 8, input: input)
        while true {
            try parser.next(bytes)
            defer { yaml_event_delete(parser.event) }
            if try builder.consume(parser.event) { break }
        }
        guard let root = builder.root else {
            throw YAMLProblem(mark: Mark(line: 1, column: 1), message: "the file is empty; a pipeline needs at least 'version', 'name' and 'stages'")
        }
        return Result(
            document: YAMLDocument(
                nodes: builder.nodes, children: builder.children, source: bytes, extra: builder.extra, root: root,
                mayHoldReferences: builder.mayHoldReferences),
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

/// Turns events into the flat node arena, enforcing the strict rules as it goes. It reads each
/// libyaml event in place (no copy of the event, no intermediate value per event), and keeps the
/// innermost open collection in ``top`` rather than at the end of an array, so the common steps
/// (a scalar, a key, a value) touch plain fields, not array elements.
private struct Builder {
    struct Frame {
        var node: Int32
        var pendingStart: Int
        var isMapping: Bool
        var expectingKey = true
        var dropValue = false
        /// The index in ``keyTables`` of the keys seen so far, built only once a mapping grows
        /// past a handful of entries (-1: none). Not the table itself: a frame holds no reference,
        /// so it is pushed and popped without a retain.
        var keyTable: Int32 = -1
        /// One bit per key seen so far, chosen by its length and first and last bytes (equal
        /// keys set the same bit): a key whose bit is clear is new, and is not compared at all.
        var keyBits: UInt64 = 0
    }

    let maxDepth: Int
    var nodes: [YAMLNode] = []
    var children: [NodeID] = []
    /// The file's bytes (libyaml's input): most scalars' text is a slice of them.
    let input: UnsafeBufferPointer<UInt8>
    /// The input holds the bytes `${{` somewhere (false: only a scalar not written as it reads,
    /// one with escapes, can hold them).
    let inputMayHoldReferences: Bool
    /// The text of the scalars that are not a slice of ``input``, one after another.
    var extra: [UInt8] = []
    var pending: [NodeID] = []
    /// The innermost open collection (meaningless while ``depth`` is 0).
    var top = Frame(node: 0, pendingStart: 0, isMapping: false)
    /// The collections open around ``top``, outermost first.
    var parents: [Frame] = []
    /// How many collections are open.
    var depth = 0
    /// The key tables of the open mappings that have one, innermost last.
    var keyTables: [[[UInt8]: Mark]] = []
    var root: NodeID?
    var documents = 0
    var duplicates: [YAMLProblem] = []
    /// Some scalar so far holds `${{`.
    var mayHoldReferences = false

    init(maxDepth: Int, expectedNodes: Int, input: UnsafeBufferPointer<UInt8>) {
        self.maxDepth = maxDepth
        self.input = input
        inputMayHoldReferences = Self.opensReference(input)
        nodes.reserveCapacity(max(1024, expectedNodes))
        children.reserveCapacity(max(1024, expectedNodes))
        HugePages.advise(capacityOf: &nodes)
    }

    /// Consumes one event (read in place; the caller deletes it). Returns true at the end of the stream.
    mutating func consume(_ event: UnsafeMutablePointer<yaml_event_t>) throws(YAMLProblem) -> Bool {
        switch event.pointee.type {
        case YAML_SCALAR_EVENT:
            let mark = Mark(event.pointee.start_mark)
            let scalar = event.pointee.data.scalar
            try refuse(mark: mark, hasTag: scalar.tag != nil, hasAnchor: scalar.anchor != nil)
            let value = UnsafeBufferPointer(start: scalar.value, count: scalar.length)
            let style: ScalarStyle
            switch scalar.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            try addScalar(mark: mark, value: value, style: style, at: Int(event.pointee.start_mark.index))
        case YAML_MAPPING_START_EVENT:
            let start = event.pointee.data.mapping_start
            try open(mark: Mark(event.pointee.start_mark), kind: .mapping, hasTag: start.tag != nil, hasAnchor: start.anchor != nil)
        case YAML_SEQUENCE_START_EVENT:
            let start = event.pointee.data.sequence_start
            try open(mark: Mark(event.pointee.start_mark), kind: .sequence, hasTag: start.tag != nil, hasAnchor: start.anchor != nil)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            close()
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw YAMLProblem(mark: Mark(event.pointee.start_mark), message: "a pipeline file holds one YAML document; a second one starts here")
            }
        case YAML_ALIAS_EVENT:
            throw YAMLProblem(mark: Mark(event.pointee.start_mark), message: "aliases ('*name') are not supported; write the value out")
        case YAML_STREAM_END_EVENT:
            return true
        default:
            // Stream start, document end.
            break
        }
        return false
    }

    private mutating func addScalar(mark: Mark, value: UnsafeBufferPointer<UInt8>, style: ScalarStyle, at index: Int) throws(YAMLProblem) {
        let id = NodeID(nodes.count)
        let start: Int32
        if let offset = Self.sourceOffset(of: value, style: style, at: index, in: input), let at = Int32(exactly: offset),
            at <= Int32.max - Int32(value.count)
        {
            // Written as it reads: its text is the input's.
            start = at
            if inputMayHoldReferences && !mayHoldReferences { mayHoldReferences = Self.opensReference(value) }
        } else {
            // The extra text stays addressable by Int32 offsets: files are limited far below that.
            guard extra.count + value.count <= Int(Int32.max) else {
                throw YAMLProblem(mark: mark, message: "the file's text is larger than \(YAMLReader.describe(bytes: Int(Int32.max)))")
            }
            start = ~Int32(extra.count)
            extra.append(contentsOf: value)
            if !mayHoldReferences { mayHoldReferences = Self.opensReference(value) }
        }
        nodes.append(YAMLNode(kind: .scalar, mark: mark, style: style, start: start, count: Int32(value.count)))
        guard depth > 0 else {
            root = id
            return
        }
        guard top.isMapping, top.expectingKey else { return attach(id) }
        // A key: compared with the keys before it in the same mapping.
        top.expectingKey = false
        if let first = firstMark(of: value) {
            duplicates.append(
                YAMLProblem(mark: mark, message: "duplicate key '\(String(decoding: value, as: UTF8.self))' (first defined at line \(first.line))"))
            top.dropValue = true
            return
        }
        if top.keyTable >= 0 { keyTables[Int(top.keyTable)][Array(value)] = mark }
        pending.append(id)
    }

    /// Where in the input a scalar's text is written exactly as it reads, if it is: a plain
    /// scalar at its start mark, a quoted one just past its quote (libyaml's mark index counts
    /// characters; where that is not the byte offset, the bytes differ and the text is copied).
    static func sourceOffset(of value: UnsafeBufferPointer<UInt8>, style: ScalarStyle, at index: Int, in input: UnsafeBufferPointer<UInt8>) -> Int? {
        let offset: Int
        switch style {
        case .plain: offset = index
        case .singleQuoted, .doubleQuoted: offset = index + 1
        case .literal, .folded: return nil
        }
        guard offset >= 0, offset <= input.count - value.count else { return nil }
        guard let wanted = value.baseAddress, let base = input.baseAddress else { return value.isEmpty ? offset : nil }
        return memcmp(base + offset, wanted, value.count) == 0 ? offset : nil
    }

    /// Whether the text holds the bytes `${{`.
    static func opensReference(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 3, var at = bytes.baseAddress else { return false }
        let last = at + (bytes.count - 2)
        // memchr finds each `$` a word at a time; most text holds none.
        while at < last, let dollar = memchr(at, Int32(UInt8(ascii: "$")), last - at) {
            let found = dollar.assumingMemoryBound(to: UInt8.self)
            if found[1] == UInt8(ascii: "{") && found[2] == UInt8(ascii: "{") { return true }
            at = UnsafePointer(found + 1)
        }
        return false
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
        if depth > 0, top.isMapping, top.expectingKey {
            throw YAMLProblem(mark: mark, message: "mapping keys must be plain scalars, not \(kind == .mapping ? "mappings" : "sequences")")
        }
        if depth >= maxDepth {
            throw YAMLProblem(mark: mark, message: "nesting is deeper than \(maxDepth) levels")
        }
        if depth > 0 { parents.append(top) }
        top = Frame(node: Int32(nodes.count), pendingStart: pending.count, isMapping: kind == .mapping)
        depth += 1
        nodes.append(YAMLNode(kind: kind, mark: mark, style: .plain, start: 0, count: 0))
    }

    /// Calls `body` with the text of a scalar node already added.
    private func withText<R>(of node: YAMLNode, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if node.start >= 0 { return body(UnsafeBufferPointer(rebasing: input[Int(node.start)..<Int(node.start + node.count)])) }
        return extra.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[Int(~node.start)..<Int(~node.start) + Int(node.count)])) }
    }

    private mutating func close() {
        let node = Int(top.node)
        let start = top.pendingStart
        nodes[node].start = NodeID(children.count)
        nodes[node].count = NodeID(pending.count - start)
        children.append(contentsOf: pending[start...])
        pending.removeLast(pending.count - start)
        if top.keyTable >= 0 { keyTables.removeLast() }
        depth -= 1
        guard depth > 0 else {
            root = NodeID(node)
            return
        }
        top = parents.removeLast()
        attach(NodeID(node))
    }

    /// Adds a value (or a sequence item) to the innermost open collection; a key never comes here
    /// (keys are scalars, added by ``addScalar(mark:value:style:)``).
    private mutating func attach(_ id: NodeID) {
        guard top.isMapping else {
            pending.append(id)
            return
        }
        top.expectingKey = true
        if top.dropValue {
            top.dropValue = false
        } else {
            pending.append(id)
        }
    }

    /// The bit of ``Frame/keyBits`` that a key sets.
    @inline(__always) static func keyBit(of key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard let first = key.first, let last = key.last else { return 1 }
        return 1 << UInt64((key.count &* 7 &+ Int(first) &* 3 &+ Int(last)) & 63)
    }

    /// Where a key was first written in the innermost open mapping, if it was. Keys are compared
    /// by their bytes, by length first. Small mappings are scanned; large ones get a dictionary,
    /// so the check stays O(1).
    private mutating func firstMark(of key: UnsafeBufferPointer<UInt8>) -> Mark? {
        if top.keyTable >= 0 { return keyTables[Int(top.keyTable)][Array(key)] }
        let start = top.pendingStart
        if pending.count - start > 32 {
            var keys: [[UInt8]: Mark] = [:]
            for index in stride(from: start, to: pending.count, by: 2) {
                let node = nodes[Int(pending[index])]
                let bytes = withText(of: node) { Array($0) }
                if keys[bytes] == nil { keys[bytes] = node.mark }
            }
            keyTables.append(keys)
            top.keyTable = Int32(keyTables.count - 1)
            return keys[Array(key)]
        }
        let bit = Self.keyBit(of: key)
        if top.keyBits & bit == 0 {
            top.keyBits |= bit
            return nil
        }
        let length = Int32(key.count)
        return pending.withUnsafeBufferPointer { pending in
            nodes.withUnsafeBufferPointer { nodes in
                var index = start
                while index < pending.count {
                    let other = nodes[Int(pending[index])]
                    index += 2
                    guard other.count == length else { continue }
                    let same = withText(of: other) { text in
                        for i in 0..<key.count where text[i] != key[i] { return false }
                        return true
                    }
                    if same { return other.mark }
                }
                return nil
            }
        }
    }
}
