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

/// One node of a document, stored flat in the document's arena.
public struct YAMLNode: Sendable {
    /// The three shapes of YAML content.
    public enum Kind: UInt8, Sendable { case scalar, mapping, sequence }

    /// The scalar's text (empty for collections).
    public var value: String
    // Stored small and in this order (the widest first), so a node takes 40 bytes, not 56: a
    // 10,000-stage file has some 200,000 of them.
    private var line: Int32
    private var column: Int32
    /// First index into ``YAMLDocument/children``; mappings store key, value, key, value…
    var childStart: Int32
    /// How many entries in ``YAMLDocument/children`` belong to this node.
    var childCount: Int32
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

    init(kind: Kind, mark: Mark, value: String, style: ScalarStyle, childStart: Int32, childCount: Int32) {
        self.value = value
        line = Int32(clamping: mark.line)
        column = Int32(clamping: mark.column)
        self.childStart = childStart
        self.childCount = childCount
        self.kind = kind
        self.style = style
    }

    /// Whether a plain scalar spells YAML's null (`~`, `null`, or nothing).
    public var isNull: Bool {
        kind == .scalar && style == .plain && (value.isEmpty || value == "~" || value == "null" || value == "Null" || value == "NULL")
    }
}

/// A parsed YAML document: every node in one array, children referenced by index.
///
/// Built by ``YAMLReader``; keeps no pointer into libyaml.
public struct YAMLDocument: Sendable {
    /// Every node, in document order.
    public internal(set) var nodes: [YAMLNode]
    /// Child lists of collections, each collection's children contiguous.
    public internal(set) var children: [NodeID]
    /// The root node.
    public internal(set) var root: NodeID
    /// Whether some scalar holds the bytes `${{` (false: none does, so no reference needs looking
    /// for). Set by ``YAMLReader``.
    public internal(set) var mayHoldReferences = true

    /// A document of no node, to put in place of one whose memory is no longer needed. Reading
    /// a node of it traps.
    public static var released: YAMLDocument { YAMLDocument(nodes: [], children: [], root: 0, mayHoldReferences: false) }

    /// The node with the given id.
    @inlinable public subscript(id: NodeID) -> YAMLNode { nodes[Int(id)] }

    /// The entries of a mapping node, in the order written. Duplicate keys were already removed.
    /// - Complexity: O(n) in the number of entries.
    public func entries(of id: NodeID) -> [(key: NodeID, value: NodeID)] {
        let node = nodes[Int(id)]
        precondition(node.kind == .mapping)
        var result: [(key: NodeID, value: NodeID)] = []
        result.reserveCapacity(Int(node.childCount) / 2)
        var index = Int(node.childStart)
        let end = index + Int(node.childCount)
        while index < end {
            result.append((children[index], children[index + 1]))
            index += 2
        }
        return result
    }

    /// The items of a sequence node, in order.
    public func items(of id: NodeID) -> ArraySlice<NodeID> {
        let node = nodes[Int(id)]
        precondition(node.kind == .sequence)
        return children[Int(node.childStart)..<Int(node.childStart + node.childCount)]
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
