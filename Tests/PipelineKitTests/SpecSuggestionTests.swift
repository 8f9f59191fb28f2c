import Foundation
@testable import PipelineEngine
@testable import PipelineKit
@testable import PipelineSpec
import Testing

/// F19: "did you mean" skips candidates whose length is too far from the word, so a huge
/// unknown word costs nothing beyond reading it.
@Suite struct SpecSuggestionTests {
    @Test(
        "close words are still suggested",
        arguments: [
            ("retires", "retry"), ("bakend", "backend"), ("canry", "canary"), ("Migrate", "migrate"), ("tues", "tue"),
        ])
    func closeWordsAreSuggested(_ word: String, _ expected: String) {
        #expect(Suggestion.closest(word, among: ["retry", "backend", "canary", "migrate", "tue", "rollback"]) == expected)
    }

    @Test func theDistanceIsBoundedByTheCutoff() {
        #expect(Suggestion.distance("kitten", "sitting", cutoff: 3) == 3)
        #expect(Suggestion.distance("retires", "retry", cutoff: 3) == 3)
        #expect(Suggestion.distance("retires", "retry", cutoff: 2) == nil)
        #expect(Suggestion.distance("ab", "ba", cutoff: 1) == 1)
        // Past the cutoff there is no distance: the work stops, whatever the lengths.
        #expect(Suggestion.distance("kitten", "sitting", cutoff: 2) == nil)
        #expect(Suggestion.distance(String(repeating: "x", count: 1 << 20), "backend", cutoff: 3) == nil)
        #expect(Suggestion.distance(String(repeating: "x", count: 1 << 16), String(repeating: "y", count: 1 << 16), cutoff: 3) == nil)
    }

    /// The banded distance agrees with the full matrix wherever the full one is within the cutoff.
    @Test func theBandedDistanceMatchesTheFullMatrix() {
        func full(_ a: [Character], _ b: [Character]) -> Int {
            var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
            for i in 0...a.count { d[i][0] = i }
            for j in 0...b.count { d[0][j] = j }
            for i in stride(from: 1, through: a.count, by: 1) {
                for j in stride(from: 1, through: b.count, by: 1) {
                    d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                    if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
                }
            }
            return d[a.count][b.count]
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let a = (0..<Int.random(in: 0...7, using: &generator)).map { _ in "abc".randomElement(using: &generator)! }
            let b = (0..<Int.random(in: 0...7, using: &generator)).map { _ in "abc".randomElement(using: &generator)! }
            let cutoff = Int.random(in: 0...3, using: &generator)
            let expected = full(a, b)
            #expect(Suggestion.distance(a, b, cutoff: cutoff) == (expected <= cutoff ? expected : nil), "\(String(a)) \(String(b)) \(cutoff)")
        }
    }

    /// The finding's file, at 4 MiB: `validate` held 3 GB for 16 MiB, building a matrix per kind name.
    /// Run under an address-space limit, which the old code exceeds and the new stays far below.
    @Test("a huge unknown kind fails validation at once, in little memory", .timeLimit(.minutes(2)))
    func hugeUnknownKind() throws {
        let kind = String(repeating: "x", count: 4 << 20)
        let sandbox = try Sandbox("version: 1\nname: f19\nstages:\n  - id: a\n    kind: \(kind)\n    run: \"true\"\n")
        defer { sandbox.remove() }
        let result = try sandbox.shell("ulimit -v 393216 && exec \"$PIPELINE\" validate p.yml")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("p.yml:5:11: error: unknown stage kind 'xxxxxxxx"), "\(result.stderr.prefix(300))")
        #expect(result.stderr.hasSuffix("1 error, 0 warnings\n"))
    }
}
