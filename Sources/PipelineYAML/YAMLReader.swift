internal import CYAML
internal import CYAMLArena

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
        let tables = KeyTables()
        let maxDepth = Int32(clamping: limits.maxDepth)
        // The whole event loop runs in C (CYAMLArena): it is the reader's hot loop, one step per
        // event, where Swift paid a check per store and a call per event (benchmarks/RESULTS.md).
        // Large mappings' keys come back here, to hash-flood-safe Swift dictionaries.
        let buffers = ArenaBuffers()
        // Alive to the end: `arena` below is a copy of its pointers, which the document copies from.
        defer { withExtendedLifetime(buffers) {} }
        // The parser and the key tables are used through pointers only, during the call.
        let status = withExtendedLifetime((parser, tables)) {
            pl_arena_read(
                parser.parser, parser.event, parser.input, input.count, maxDepth,
                { context, table, key, length, line in
                    let tables = Unmanaged<KeyTables>.fromOpaque(context!).takeUnretainedValue()
                    return tables.seen(table: Int(table), key: UnsafeBufferPointer(start: key, count: length), line: line)
                },
                { context, table in
                    Unmanaged<KeyTables>.fromOpaque(context!).takeUnretainedValue().close(table: Int(table))
                },
                Unmanaged.passUnretained(tables).toOpaque(), buffers.arena)
        }
        let arena = buffers.arena.pointee
        let at = Mark(line: Int(arena.problem_line), column: Int(arena.problem_column))
        switch status {
        case PL_READ_OK: break
        case PL_READ_PARSER_ERROR: throw parser.problem(bytes)
        case PL_READ_TAG: throw YAMLProblem(mark: at, message: "tags ('!name', '!!type') are not allowed in a pipeline file")
        case PL_READ_ANCHOR: throw YAMLProblem(mark: at, message: "anchors ('&name') and aliases are not supported; write the value out")
        case PL_READ_ALIAS: throw YAMLProblem(mark: at, message: "aliases ('*name') are not supported; write the value out")
        case PL_READ_SECOND_DOCUMENT: throw YAMLProblem(mark: at, message: "a pipeline file holds one YAML document; a second one starts here")
        case PL_READ_MAPPING_KEY: throw YAMLProblem(mark: at, message: "mapping keys must be plain scalars, not mappings")
        case PL_READ_SEQUENCE_KEY: throw YAMLProblem(mark: at, message: "mapping keys must be plain scalars, not sequences")
        case PL_READ_TOO_DEEP: throw YAMLProblem(mark: at, message: "nesting is deeper than \(limits.maxDepth) levels")
        case PL_READ_TEXT_TOO_LARGE:
            throw YAMLProblem(mark: at, message: "the file's text is larger than \(YAMLReader.describe(bytes: Int(Int32.max)))")
        default: throw YAMLProblem(mark: Mark(line: 1, column: 1), message: "out of memory while reading the file")
        }
        guard arena.root >= 0 else {
            throw YAMLProblem(mark: Mark(line: 1, column: 1), message: "the file is empty; a pipeline needs at least 'version', 'name' and 'stages'")
        }
        let document = YAMLDocument(
            nodes: adopt(arena.nodes, count: Int(arena.node_count), as: YAMLNode.self),
            children: adopt(arena.children, count: Int(arena.child_count), as: NodeID.self), source: bytes,
            extra: adopt(arena.extra, count: arena.extra_count, as: UInt8.self), root: arena.root,
            mayHoldReferences: arena.may_hold_references != 0)
        var duplicates: [YAMLProblem] = []
        for index in 0..<Int(arena.duplicate_count) {
            let duplicate = arena.duplicates[index]
            duplicates.append(
                YAMLProblem(
                    mark: document[duplicate.key].mark,
                    message: "duplicate key '\(document.value(of: duplicate.key))' (first defined at line \(duplicate.first_line))"))
        }
        return Result(document: document, duplicates: duplicates)
    }

    /// A Swift array of a C buffer's elements, laid out alike (``YAMLNode/matchesCLayout`` checks
    /// the nodes'). A large one asks for huge pages before it is written (``HugePages``).
    private static func adopt<C, Element>(_ buffer: UnsafeMutablePointer<C>?, count: Int, as: Element.Type) -> [Element] {
        precondition(MemoryLayout<C>.stride == MemoryLayout<Element>.stride && (Element.self != YAMLNode.self || YAMLNode.matchesCLayout))
        guard let buffer, count > 0 else { return [] }
        return [Element](unsafeUninitializedCapacity: count) { elements, initialized in
            HugePages.advise(UnsafeMutableRawBufferPointer(elements))
            _ = memcpy(elements.baseAddress!, buffer, count * MemoryLayout<Element>.stride)
            initialized = count
        }
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
    /// The input's first byte (a byte of its own for an empty input: libyaml wants a non-null pointer).
    let input: UnsafePointer<UInt8>
    private let empty: UnsafeMutablePointer<UInt8>

    init(_ input: UnsafeBufferPointer<UInt8>) {
        empty = .allocate(capacity: 1)
        empty.initialize(to: 0)
        parser = .allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        event = .allocate(capacity: 1)
        event.initialize(to: yaml_event_t())
        _ = yaml_parser_initialize(parser)
        self.input = input.baseAddress.flatMap { input.isEmpty ? nil : $0 } ?? UnsafePointer(empty)
        yaml_parser_set_input_string(parser, self.input, input.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        event.deallocate()
        empty.deallocate()
    }

    /// libyaml's problem, once a parse has failed.
    func problem(_ bytes: [UInt8]) -> YAMLProblem {
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

/// Owns what the C reader made (`pl_arena`'s malloc'ed buffers); frees it in `deinit`, once the
/// document has copied it. At a fixed address, as the C code fills it in place.
private final class ArenaBuffers {
    let arena: UnsafeMutablePointer<pl_arena>

    init() {
        arena = .allocate(capacity: 1)
        arena.initialize(to: pl_arena())
    }

    deinit {
        pl_arena_free(arena)
        arena.deallocate()
    }
}

/// The keys of the open large mappings (more than 32 keys), for the C reader's duplicate check:
/// one dictionary a mapping, innermost last, keyed by the key's bytes (Swift's hashing is seeded
/// per process, so a file cannot be written to make every key collide).
private final class KeyTables {
    private var tables: [[[UInt8]: Int32]] = []

    /// The line `key` was first written on in table `table`, or 0 after recording it at `line`.
    func seen(table: Int, key: UnsafeBufferPointer<UInt8>, line: Int32) -> Int32 {
        if table == tables.count { tables.append([:]) }
        let bytes = Array(key)
        if let first = tables[table][bytes] { return first }
        tables[table][bytes] = line
        return 0
    }

    func close(table: Int) {
        if table == tables.count - 1 { tables.removeLast() }
    }
}
