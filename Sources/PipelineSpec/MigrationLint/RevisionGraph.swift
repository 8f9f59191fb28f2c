/// The revision → down_revision graph of Alembic migrations.
package enum RevisionGraph {
    /// Revisions that are one of several heads of their history.
    ///
    /// A head is a revision no other revision names as its down_revision. A history is a
    /// set of revisions connected through down_revision links (a revision named but not
    /// among the files still connects its children), so two unrelated projects linted
    /// together are two histories, each allowed one head.
    /// - Parameter revisions: the revisions of the files linted.
    /// - Returns: for each such head, its index in `revisions` and the ids of all heads of its history, sorted.
    /// - Complexity: O((n + e) · α(n)) for n revisions and e down_revision links (union-find).
    package static func multipleHeads(_ revisions: [AlembicRevision]) -> [(index: Int, heads: [String])] {
        var parent: [String: String] = [:]
        func find(_ id: String) -> String {
            var root = id
            while let up = parent[root], up != root { root = up }
            var node = id
            while let up = parent[node], up != root {
                parent[node] = root
                node = up
            }
            return root
        }
        func union(_ a: String, _ b: String) {
            if parent[a] == nil { parent[a] = a }
            if parent[b] == nil { parent[b] = b }
            let (ra, rb) = (find(a), find(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }

        var referenced: Set<String> = []
        for revision in revisions {
            union(revision.id, revision.id)
            for down in revision.downRevisions {
                union(revision.id, down)
                referenced.insert(down)
            }
        }
        var headsByHistory: [String: Set<String>] = [:]
        for revision in revisions where !referenced.contains(revision.id) {
            headsByHistory[find(revision.id), default: []].insert(revision.id)
        }
        var out: [(index: Int, heads: [String])] = []
        for (index, revision) in revisions.enumerated() where !referenced.contains(revision.id) {
            let heads = headsByHistory[find(revision.id)] ?? []
            if heads.count > 1 { out.append((index, heads.sorted())) }
        }
        return out
    }
}
