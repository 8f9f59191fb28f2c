/// One path component of a glob: `*` (any characters), `?` (one character) and `[…]`
/// classes (`[abc]`, `[a-z]`, `[!abc]`); `**` is handled by ``MigrationFiles``.
package struct GlobPattern: Sendable {
    private let pattern: [Character]

    package init(_ pattern: String) { self.pattern = Array(pattern) }

    /// Whether a string has any glob characters.
    package static func isGlob(_ s: String) -> Bool { s.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    /// Whether a name matches the whole pattern.
    package func matches(_ name: String) -> Bool {
        let name = Array(name)
        var p = 0
        var n = 0
        var star: (p: Int, n: Int)?
        while n < name.count {
            if p < pattern.count, pattern[p] == "*" {
                star = (p, n)
                p += 1
            } else if p < pattern.count, let next = step(p, name[n]) {
                p = next
                n += 1
            } else if let s = star {
                // Let the last `*` take one more character and retry.
                star = (s.p, s.n + 1)
                p = s.p + 1
                n = s.n + 1
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }

    /// Matches one character at pattern index `p`; returns the next pattern index.
    private func step(_ p: Int, _ c: Character) -> Int? {
        switch pattern[p] {
        case "?":
            return p + 1
        case "[":
            guard let (matched, next) = matchClass(p, c) else { return pattern[p] == c ? p + 1 : nil }
            return matched ? next : nil
        default:
            return pattern[p] == c ? p + 1 : nil
        }
    }

    /// Matches a `[…]` class at `p`; nil when the class is not closed (then `[` is literal).
    private func matchClass(_ p: Int, _ c: Character) -> (Bool, Int)? {
        var k = p + 1
        var negate = false
        if k < pattern.count, pattern[k] == "!" || pattern[k] == "^" {
            negate = true
            k += 1
        }
        var matched = false
        var first = true
        while k < pattern.count, pattern[k] != "]" || first {
            first = false
            if k + 2 < pattern.count, pattern[k + 1] == "-", pattern[k + 2] != "]" {
                if pattern[k] <= c && c <= pattern[k + 2] { matched = true }
                k += 3
            } else {
                if pattern[k] == c { matched = true }
                k += 1
            }
        }
        guard k < pattern.count else { return nil }
        return (matched != negate, k + 1)
    }
}
