/// The stages as a directed acyclic graph: an edge from each need to the stage that needs it.
public struct StageGraph: Sendable {
    /// Stage ids in file order; index = node number.
    public let ids: [String]
    /// The nodes each node needs, as written.
    private let needLists: NodeLists
    /// Node numbers in an order where every stage follows everything it needs (file order breaks
    /// ties), wave after wave.
    public let order: [Int]
    /// Where each wave starts in ``order``, and where the last ends (one more than the waves).
    private let waveBounds: [Int]
    /// The nodes that need each node, in node order.
    private let dependentLists: NodeLists

    /// For each node, the nodes it needs. Made on each call (``needs(of:)`` reads one node's).
    public var needs: [[Int]] { (0..<ids.count).map { Array(needLists[$0]) } }

    /// The nodes `node` needs.
    public func needs(of node: Int) -> ArraySlice<Int> { needLists[node] }

    /// Node numbers grouped in waves: everything in a wave can run in parallel once earlier waves
    /// are done. Made on each call, from ``order``.
    public var waves: [[Int]] { (0..<waveCount).map { Array(order[waveBounds[$0]..<waveBounds[$0 + 1]]) } }

    /// How many waves there are.
    public var waveCount: Int { waveBounds.count - 1 }

    /// The nodes that need `node`, in node order.
    public func dependents(of node: Int) -> ArraySlice<Int> { dependentLists[node] }

    /// The node number of each id.
    public let index: [String: Int]

    /// The cycles found while building: each the ids along it, the first repeated at the end.
    public struct Cycle: Error, Sendable, Equatable {
        public var paths: [[String]]
    }

    /// Builds the graph from ids and their (already known to exist) needs.
    /// - Throws: ``Cycle`` with the whole path when the needs loop.
    /// - Complexity: O(V + E).
    public init(ids: [String], needs: [[String]]) throws(Cycle) {
        var index: [String: Int] = [:]
        index.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() { index[id] = i }
        var lists = NodeLists(reservingCapacity: ids.count)
        for list in needs { lists.append(contentsOf: list.lazy.compactMap { index[$0] }) }
        try self.init(ids: ids, index: index, needs: lists)
    }

    /// Builds the graph from ids that are unique, the node number of each, and each node's needs
    /// as node numbers: what the loader has already worked out while checking the needs.
    /// - Throws: ``Cycle`` with the whole path when the needs loop.
    /// - Complexity: O(V + E).
    package init(ids: [String], index: [String: Int], needs needLists: NodeLists) throws(Cycle) {
        precondition(needLists.count == ids.count, "one list of needs per node")
        // The dependents of each node, counted first, then filled in node order.
        var dependentStart = [Int](repeating: 0, count: ids.count + 1)
        var indegree = [Int](repeating: 0, count: ids.count)
        for node in 0..<ids.count {
            let list = needLists[node]
            indegree[node] = list.count
            for need in list { dependentStart[need + 1] += 1 }
        }
        for node in 0..<ids.count { dependentStart[node + 1] += dependentStart[node] }
        var dependentList = [Int](repeating: 0, count: dependentStart[ids.count])
        var next = dependentStart
        for node in 0..<ids.count {
            for need in needLists[node] {
                dependentList[next[need]] = node
                next[need] += 1
            }
        }
        let dependentLists = NodeLists(start: dependentStart, list: dependentList)
        // Kahn's algorithm, level by level, each level appended to `order` and sorted in place (a
        // min-heap is unnecessary because levels keep file order).
        var order: [Int] = []
        order.reserveCapacity(ids.count)
        for node in 0..<ids.count where indegree[node] == 0 { order.append(node) }
        var waveBounds = [0]
        var start = 0
        while start < order.count {
            let end = order.count
            waveBounds.append(end)
            for position in start..<end {
                let node = order[position]
                for dependent in dependentLists[node] {
                    indegree[dependent] -= 1
                    if indegree[dependent] == 0 { order.append(dependent) }
                }
            }
            // In the array's own storage (a sort of `order[end...]` copies the slice and back).
            if order.count - end > 1 { order.withUnsafeMutableBufferPointer { $0[end...].sort() } }
            start = end
        }
        if order.count < ids.count {
            throw Self.findCycles(ids: ids, needs: needLists, remaining: Set((0..<ids.count).filter { indegree[$0] > 0 }))
        }
        self.ids = ids
        self.needLists = needLists
        self.dependentLists = dependentLists
        self.order = order
        self.waveBounds = waveBounds
        self.index = index
    }

    /// Finds every disjoint cycle among the nodes Kahn's algorithm could not order.
    private static func findCycles(ids: [String], needs: NodeLists, remaining: Set<Int>) -> Cycle {
        var remaining = remaining
        var paths: [[String]] = []
        while let start = remaining.min() {
            // Walk needs inside the unresolved part until a node repeats: that loop is a cycle,
            // read as "a needs b needs … needs a".
            var path: [Int] = [start]
            var position: [Int: Int] = [start: 0]
            var node = start
            while let next = needs[node].first(where: { remaining.contains($0) }) {
                if let at = position[next] {
                    let loop = Array(path[at...])
                    paths.append((loop + [next]).map { ids[$0] })
                    remaining.subtract(loop)
                    break
                }
                position[next] = path.count
                path.append(next)
                node = next
            }
            // Drop nodes that were only waiting on the cycles found so far.
            var changed = true
            while changed {
                changed = false
                for n in remaining where !needs[n].contains(where: remaining.contains) {
                    remaining.remove(n)
                    changed = true
                }
            }
        }
        return Cycle(paths: paths)
    }

    /// Every node that `node` needs, directly or not.
    /// - Complexity: O(V + E) per call.
    public func ancestors(of node: Int) -> Set<Int> {
        var seen = Set<Int>()
        var stack = Array(needLists[node])
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack.append(contentsOf: needLists[next]) }
        }
        return seen
    }

    /// Every node that needs `node`, directly or not.
    /// - Complexity: O(V + E) per call.
    public func descendants(of node: Int) -> Set<Int> {
        var seen = Set<Int>()
        var stack = Array(dependents(of: node))
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack.append(contentsOf: dependents(of: next)) }
        }
        return seen
    }

    /// The wave number of each node.
    public var waveOf: [Int] {
        var result = [Int](repeating: 0, count: ids.count)
        for w in 0..<waveCount { for node in order[waveBounds[w]..<waveBounds[w + 1]] { result[node] = w } }
        return result
    }
}

/// A list of node numbers for each node, stored one after another in one array (two arrays in
/// all, not one per node: a 10,000-stage file would make 10,000 of them to be validated).
package struct NodeLists: Sendable {
    /// Where each node's list starts in ``list``, and where the last ends.
    private var start: [Int] = [0]
    private var list: [Int] = []

    /// No lists; room for `nodes` of them.
    package init(reservingCapacity nodes: Int) { start.reserveCapacity(nodes + 1) }

    /// Lists already laid out: `start` has one more entry than there are nodes, from 0 up to
    /// `list.count`.
    init(start: [Int], list: [Int]) {
        self.start = start
        self.list = list
    }

    /// How many nodes have a list.
    package var count: Int { start.count - 1 }

    /// The list of `node`.
    package subscript(node: Int) -> ArraySlice<Int> { list[start[node]..<start[node + 1]] }

    /// Adds the next node's list.
    package mutating func append<S: Sequence<Int>>(contentsOf items: S) {
        list.append(contentsOf: items)
        start.append(list.count)
    }

    /// Adds the next node's list, of one node.
    package mutating func append(_ item: Int) {
        list.append(item)
        start.append(list.count)
    }
}
