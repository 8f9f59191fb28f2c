/// "Did you mean" for misspelled words, by edit distance with a cutoff.
package enum Suggestion {
    /// `; did you mean 'retry'?` when a candidate is close enough, else "".
    package static func didYouMean(_ word: String, among candidates: [String]) -> String {
        guard let best = closest(word, among: candidates) else { return "" }
        return "; did you mean '\(best)'?"
    }

    /// The closest candidate within a distance of about a third of the word's length (at most 3).
    /// A candidate whose length differs from the word's by more than that cannot be close and
    /// is skipped unread, so a huge unknown word costs one pass over it, not a matrix.
    /// - Complexity: O(*n* + *c*), *n* the word's length and *c* the candidates' total length.
    package static func closest(_ word: String, among candidates: [String]) -> String? {
        let length = word.count
        let cutoff = max(1, min(3, length / 3 + 1))
        var lowered: [Character]?
        var best: (String, Int)?
        for candidate in candidates where abs(candidate.count - length) <= cutoff {
            if lowered == nil { lowered = Array(word.lowercased()) }
            let limit = min(cutoff, (best?.1 ?? cutoff + 1) - 1)
            guard limit >= 0, let d = distance(lowered!, Array(candidate.lowercased()), cutoff: limit) else { continue }
            best = (candidate, d)
        }
        return best?.0
    }

    /// Damerau–Levenshtein (optimal string alignment) distance, so `retires` → `retry` is close,
    /// or nil when it is larger than `cutoff`.
    /// - Complexity: O(min(*n*, *m*) × `cutoff`) time and O(`cutoff`) memory: only the diagonal
    ///   band within `cutoff` is computed, and the work stops once a row exceeds it.
    package static func distance(_ a: String, _ b: String, cutoff: Int) -> Int? {
        guard abs(a.count - b.count) <= cutoff else { return nil }
        return distance(Array(a), Array(b), cutoff: cutoff)
    }

    package static func distance(_ a: [Character], _ b: [Character], cutoff k: Int) -> Int? {
        guard k >= 0, abs(a.count - b.count) <= k else { return nil }
        let infinity = k + 1
        let width = 2 * k + 1
        // Row i holds d[i][j] for j in i-k...i+k, at index j - i + k.
        var before = [Int](repeating: infinity, count: width)  // row i - 2
        var previous = [Int](repeating: infinity, count: width)  // row i - 1
        var current = [Int](repeating: infinity, count: width)
        for j in 0...min(k, b.count) { current[j + k] = j }
        for i in 1...max(1, a.count) where i <= a.count {
            swap(&before, &previous)
            swap(&previous, &current)
            var rowMinimum = infinity
            for index in 0..<width {
                let j = i + index - k
                guard j >= 0, j <= b.count else { current[index] = infinity; continue }
                if j == 0 { current[index] = i; rowMinimum = min(rowMinimum, i); continue }
                let up = index + 1 < width ? previous[index + 1] : infinity  // d[i-1][j]
                let left = index > 0 ? current[index - 1] : infinity  // d[i][j-1]
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(up + 1, left + 1, previous[index] + cost)  // d[i-1][j-1] at the same index
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, before[index] + 1)  // d[i-2][j-2], same index two rows up
                }
                current[index] = min(value, infinity)
                rowMinimum = min(rowMinimum, current[index])
            }
            if rowMinimum > k { return nil }
        }
        let result = current[b.count - a.count + k]
        return result <= k ? result : nil
    }
}
