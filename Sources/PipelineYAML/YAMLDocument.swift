/// A position in a source file, 1-based, as editors and compilers show it.
public struct Mark: Hashable, Sendable, Comparable {
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in characters.
    public var column: Int

    /// Creates a mark from 1-based line and column numbers.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (lhs: Mark, rhs: Mark) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// How a scalar was written: it decides whether `yes` is a word or a mistaken boolean.
public enum ScalarStyle: UInt8, Sendable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// The index of a node inside its ``YAMLDocument``.
public typealias NodeID = Int32

/// One node of a document, stored flat in the document's arena. A node holds no text and no
/// reference (it is plain data, copied and freed without retains): a scalar's text is a slice of
/// ``YAMLDocument/source`` or ``YAMLDocument/extra``, read with ``YAMLDocument/value(of:)`` and its byte-level companions.
public struct YAMLNode: Sendable {
    /// The three shapes of YAML content.
    public enum Kind: UInt8, Sendable { case scalar, mapping, sequence }

    // Stored small (20 bytes a node, not the 40 of a node holding a `String`): a 10,000-stage
    // file has some 200,000 of them.
    private var line: Int32
    private var column: Int32
    /// A scalar: where its text is, as ``YAMLDocument/withBytes(of:_:)`` reads it (0 or more: an offset
    /// in ``YAMLDocument/source``; below 0: `~start` is an offset in ``YAMLDocument/extra``);
    /// a collection: the first index into ``YAMLDocument/children`` (mappings store key, value,
    /// key, value…).
    @usableFromInline var start: Int32
    /// A scalar: the length of its text in bytes; a collection: how many entries in
    /// ``YAMLDocument/children`` belong to it.
    @usableFromInline var count: Int32
    /// The shape of this node.
    public var kind: Kind
    /// The scalar's style (plain for collections).
    public var style: ScalarStyle

    /// Where the node starts.
    public var mark: Mark {
        get { Mark(line: Int(line), column: Int(column)) }
        set {
            line = Int32(clamping: newValue.line)
            column = Int32(clamping: newValue.column)
        }
    }

    init(kind: Kind, mark: Mark, style: ScalarStyle, start: Int32, count: Int32) {
        line = Int32(clamping: mark.line)
        column = Int32(clamping: mark.column)
        self.start = start
        self.count = count
        self.kind = kind
        self.style = style
    }

    /// The length of a scalar's text in bytes (0 for collections).
    public var byteCount: Int { kind == .scalar ? Int(count) : 0 }

    /// Whether a node is laid out as the C reader's `pl_node` (CYAMLArena.h), which the reader
    /// copies nodes from byte for byte: line, column, start and count as 32-bit integers at 0, 4,
    /// 8 and 12, kind and style as bytes at 16 and 17, 20 bytes a node.
    static let matchesCLayout =
        MemoryLayout<YAMLNode>.offset(of: \.line) == 0 && MemoryLayout<YAMLNode>.offset(of: \.column) == 4
        && MemoryLayout<YAMLNode>.offset(of: \.start) == 8 && MemoryLayout<YAMLNode>.offset(of: \.count) == 12
        && MemoryLayout<YAMLNode>.offset(of: \.kind) == 16 && MemoryLayout<YAMLNode>.offset(of: \.style) == 17
        && MemoryLayout<YAMLNode>.stride == 20 && Kind.mapping.rawValue == 1 && Kind.sequence.rawValue == 2
        && ScalarStyle.folded.rawValue == 4
}

/// A parsed YAML document: every node in one array, children referenced by index, the text of
/// every scalar a slice of the file's own bytes where it is written out as it reads (most are),
/// or else of one byte buffer of the rest.
///
/// Built by ``YAMLReader``; keeps no pointer into libyaml.
public struct YAMLDocument: Sendable {
    /// Every node, in document order.
    public internal(set) var nodes: [YAMLNode]
    /// Child lists of collections, each collection's children contiguous.
    public internal(set) var children: [NodeID]
    /// The file's bytes (the reader's input, shared, not copied): a scalar whose text is
    /// exactly the bytes it is written in (a plain scalar on one line, a quoted one without
    /// escapes) is a slice of them.
    public internal(set) var source: [UInt8]
    /// The text of the other scalars, one after another, as libyaml gives it (quotes and escapes
    /// resolved, lines folded), and of those given new text (``setScalar(_:value:style:)``), UTF-8.
    public internal(set) var extra: [UInt8]
    /// The root node.
    public internal(set) var root: NodeID
    /// Whether some scalar holds the bytes `${{` (false: none does, so no reference needs looking
    /// for). Set by ``YAMLReader``.
    public internal(set) var mayHoldReferences = true

    /// A document of no node, to put in place of one whose memory is no longer needed. Reading
    /// a node of it traps.
    public static var released: YAMLDocument { YAMLDocument(nodes: [], children: [], source: [], extra: [], root: 0, mayHoldReferences: false) }

    /// The node with the given id.
    @inlinable public subscript(id: NodeID) -> YAMLNode { nodes[Int(id)] }

    /// A scalar's text as a `String` (empty for a collection). Made on each call: decoders call it
    /// for the values they keep, and compare keys and words by their bytes.
    @inlinable public func value(of id: NodeID) -> String {
        withBytes(of: id) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with a scalar's text (empty for a collection).
    @inlinable public func withBytes<R>(of id: NodeID, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let node = nodes[Int(id)]
        guard node.kind == .scalar else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return withText(of: node, body)
    }

    /// Calls `body` with the text of a scalar node, in ``source`` or ``extra``.
    @inlinable func withText<R>(of node: YAMLNode, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let start = node.start
        return (start >= 0 ? source : extra).withUnsafeBufferPointer { all in
            let from = start >= 0 ? Int(start) : Int(~start)
            return body(UnsafeBufferPointer(rebasing: all[from..<from + Int(node.count)]))
        }
    }

    /// Whether node `id` is a scalar (of any style) whose text is exactly `word`.
    @inlinable public func scalar(_ id: NodeID, is word: String) -> Bool {
        let node = nodes[Int(id)]
        // The length first: most words are told apart by it, without reading a byte.
        guard node.kind == .scalar, word.utf8.count == Int(node.count) else { return false }
        var word = word
        return word.withUTF8 { wanted in
            withText(of: node) { text in
                for i in 0..<wanted.count where text[i] != wanted[i] { return false }
                return true
            }
        }
    }

    /// Whether a plain scalar spells YAML's null (`~`, `null`, or nothing).
    @inlinable public func isNull(_ id: NodeID) -> Bool {
        let node = nodes[Int(id)]
        guard node.kind == .scalar, node.style == .plain else { return false }
        switch node.count {
        case 0: return true
        case 1: return withText(of: node) { $0[0] } == UInt8(ascii: "~")
        case 4: return scalar(id, is: "null") || scalar(id, is: "Null") || scalar(id, is: "NULL")
        default: return false
        }
    }

    /// The entries of a mapping node, in the order written. Duplicate keys were already removed.
    /// A view of ``children`` (no array is built).
    @inlinable public func entries(of id: NodeID) -> MappingEntries {
        let node = nodes[Int(id)]
        precondition(node.kind == .mapping)
        return MappingEntries(children: children[Int(node.start)..<Int(node.start + node.count)])
    }

    /// The items of a sequence node, in order.
    @inlinable public func items(of id: NodeID) -> ArraySlice<NodeID> {
        let node = nodes[Int(id)]
        precondition(node.kind == .sequence)
        return children[Int(node.start)..<Int(node.start + node.count)]
    }
}

/// The entries of a mapping, key and value, in the order written: a view of the document's
/// child list, which stores them as key, value, key, value…
public struct MappingEntries: RandomAccessCollection, Sendable {
    @usableFromInline let children: ArraySlice<NodeID>

    @inlinable init(children: ArraySlice<NodeID>) { self.children = children }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { children.count / 2 }

    @inlinable public subscript(position: Int) -> (key: NodeID, value: NodeID) {
        let at = children.startIndex + 2 * position
        return (children[at], children[at + 1])
    }
}

/// A problem found while reading: syntax and safety problems stop the read; duplicate keys do not.
public struct YAMLProblem: Error, Sendable, Equatable {
    /// Where the problem is.
    public var mark: Mark
    /// A one-line, lowercase explanation.
    public var message: String

    /// Creates a problem at a mark.
    public init(mark: Mark, message: String) {
        self.mark = mark
        self.message = message
    }
}

/// The limits that keep untrusted input from costing unbounded time or memory.
public struct YAMLLimits: Sendable {
    /// Largest accepted file, in bytes.
    public var maxBytes: Int
    /// Deepest accepted nesting of collections.
    public var maxDepth: Int

    /// Creates limits.
    public init(maxBytes: Int = 16 << 20, maxDepth: Int = 64) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }
}
