extension YAMLDocument {
    /// Gives a scalar new text and style: how `${{ inputs.* }}` and `${{ environment.* }}` are
    /// substituted before a document is decoded. The node keeps its mark, so a problem with the
    /// value is reported where the reference is written.
    public mutating func setScalar(_ id: NodeID, value: String, style: ScalarStyle) {
        precondition(nodes[Int(id)].kind == .scalar)
        // The new text goes after the old (which another node may still share, see `replace`).
        nodes[Int(id)].start = ~Int32(extra.count)
        nodes[Int(id)].count = Int32(value.utf8.count)
        extra += value.utf8
        nodes[Int(id)].style = style
    }

    /// Makes node `id` stand for node `source` (its kind, text, style and children, which are
    /// shared, not copied), keeping the mark of `id` for the node itself.
    public mutating func replace(_ id: NodeID, with source: NodeID) {
        let mark = nodes[Int(id)].mark
        nodes[Int(id)] = nodes[Int(source)]
        nodes[Int(id)].mark = mark
    }
}
