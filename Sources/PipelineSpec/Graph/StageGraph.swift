/// The stages as a directed acyclic graph: an edge from each need to the stage that needs it.
public struct StageGraph: Sendable {
    /// Stage ids in file order; index = node number.
    public let ids: [String]
    /// For each node, the nodes it needs.
    public let needs: [[Int]]
    /// For each node, the nodes that need it.
    public let dependents: [[Int]]
    /// Node numbers in an order where every stage follows everything it needs (file order breaks ties).
    public let order: [Int]
    /// Node numbers grouped in waves: everything in a wave can run in parallel once earlier waves are done.
    public let waves: [[Int]]

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
        try self.init(ids: ids, index: index, needs: needs.map { $0.compactMap { index[$0] } })
    }

    /// Builds the graph from ids that are unique, the node number of each, and each node's needs
    /// as node numbers: what the loader has already worked out while checking the needs.
    /// - Throws: ``Cycle`` with the whole path when the needs loop.
    /// - Complexity: O(V + E).
    package init(ids: [String], index: [String: Int], needs needIndices: [[Int]]) throws(Cycle) {
        var dependents = [[Int]](repeating: [], count: ids.count)
        var indegree = [Int](repeating: 0, count: ids.count)
        for (node, list) in needIndices.enumerated() {
            indegree[node] = list.count
            // A first dependent as a one-element array: cheaper than growing an empty one.
            for need in list {
                if dependents[need].isEmpty { dependents[need] = [node] } else { dependents[need].append(node) }
            }
        }
        // Kahn's algorithm, level by level; a min-heap is unnecessary because levels keep file order.
        var waves: [[Int]] = []
        var order: [Int] = []
        order.reserveCapacity(ids.count)
        var current = (0..<ids.count).filter { indegree[$0] == 0 }
        while !current.isEmpty {
            waves.append(current)
            order.append(contentsOf: current)
            var next: [Int] = []
            for node in current {
                for dependent in dependents[node] {
                    indegree[dependent] -= 1
                    if indegree[dependent] == 0 {
                        if next.isEmpty { next = [dependent] } else { next.append(dependent) }
                    }
                }
            }
            next.sort()
            current = next
        }
        if order.count < ids.count {
            throw Self.findCycles(ids: ids, needs: needIndices, remaining: Set((0..<ids.count).filter { indegree[$0] > 0 }))
        }
        self.ids = ids
        self.needs = needIndices
        self.dependents = dependents
        self.order = order
        self.waves = waves
        self.index = index
    }

    /// Finds every disjoint cycle among the nodes Kahn's algorithm could not order.
    private static func findCycles(ids: [String], needs: [[Int]], remaining: Set<Int>) -> Cycle {
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
        var stack = needs[node]
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack.append(contentsOf: needs[next]) }
        }
        return seen
    }

    /// Every node that needs `node`, directly or not.
    /// - Complexity: O(V + E) per call.
    public func descendants(of node: Int) -> Set<Int> {
        var seen = Set<Int>()
        var stack = dependents[node]
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack.append(contentsOf: dependents[next]) }
        }
        return seen
    }

    /// The wave number of each node.
    public var waveOf: [Int] {
        var result = [Int](repeating: 0, count: ids.count)
        for (w, wave) in waves.enumerated() { for node in wave { result[node] = w } }
        return result
    }
}
