@testable import PipelineEngine
@testable import PipelineKit
@testable import PipelineSpec
import PipelineYAML
import Testing

@Suite struct TimeSpanTests {
    @Test(arguments: [
        ("500ms", 500), ("90s", 90_000), ("10m", 600_000), ("1h30m", 5_400_000), ("1h", 3_600_000),
        ("0s", 0), ("2m5s250ms", 125_250), ("1h0m", 3_600_000),
    ])
    func parses(_ text: String, _ ms: Int) {
        #expect(TimeSpan(parsing: text)?.milliseconds == ms)
    }

    @Test(arguments: ["", "10", "5mins", "1m30", "30m1h", "1h1h", "-5s", "1.5s", "10 m", "ms", "9999999999s"])
    func rejects(_ text: String) {
        #expect(TimeSpan(parsing: text) == nil)
    }

    /// The decoder parses durations from the node's bytes: the same answers as from a `String`.
    @Test(arguments: ["500ms", "90s", "1h30m", "0s", "2m5s250ms", "", "10", "5mins", "1h1h", "-5s", "1.5s", "ms", "9999999999s", "5m"])
    func parsesBytesAsText(_ text: String) {
        let fromBytes = Array(text.utf8).withUnsafeBufferPointer { TimeSpan(parsingUTF8: $0) }
        #expect(fromBytes == TimeSpan(parsing: text))
    }

    @Test func printsShortestSpelling() {
        #expect(TimeSpan(milliseconds: 5_400_000).description == "1h30m")
        #expect(TimeSpan(milliseconds: 90_000).description == "1m30s")
        #expect(TimeSpan(milliseconds: 500).description == "500ms")
    }

    @Test func retryDelaysGrowAndCap() {
        let policy = RetryPolicy(attempts: 5, delay: .seconds(2), backoff: 2, maxDelay: .seconds(10), jitter: false)
        #expect((1...4).map { policy.delay(afterAttempt: $0).milliseconds } == [2000, 4000, 8000, 10_000])
    }
}

/// The byte-level readers the decoder uses in place of `String` parsing, checked against it.
@Suite struct ByteLevelReadingTests {
    @Test(arguments: [
        "0", "7", "42", "-0", "+5", "-5", "+", "-", "", "12a", "a12", "00012", " 1", "1 ", "1_000", "0x10", "+-1", "--1", "1e3",
        "٣", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "99999999999999999999", "+9223372036854775807",
    ])
    func integersReadAsIntReadsThem(_ text: String) {
        let fromBytes = Array(text.utf8).withUnsafeBufferPointer { ConfigReader.decimal($0) }
        #expect(fromBytes == Int(text), "\(text.debugDescription)")
    }

    /// Every name of a key enum is found by its bytes, and no text that differs from every name
    /// in one byte (or by a byte more or less) is: names of every length class (under 4, 4 to 7,
    /// 8 to 16, over 16 bytes).
    @Test func keyTablesMatchExactlyTheirNames() {
        func check<K: ConfigKey>(_: K.Type) {
            let names = Set(K.allCases.map(\.rawValue))
            for key in K.allCases {
                #expect(K.table.key(key.rawValue) == key)
                let bytes = Array(key.rawValue.utf8)
                var variants: [[UInt8]] = [Array(bytes.dropLast()), bytes + [UInt8(ascii: "x")], [UInt8(ascii: "x")] + bytes]
                for i in bytes.indices {
                    var changed = bytes
                    changed[i] = changed[i] == UInt8(ascii: "z") ? UInt8(ascii: "y") : UInt8(ascii: "z")
                    variants.append(changed)
                }
                for variant in variants {
                    let text = String(decoding: variant, as: UTF8.self)
                    let found = variant.withUnsafeBufferPointer { K.table.key($0) }
                    #expect(found?.rawValue == (names.contains(text) ? text : nil), "\(K.self): \(text.debugDescription)")
                }
            }
        }
        check(StageKey.self)
        check(StageKind.self)
        check(PipelineKey.self)
        check(RetryKey.self)
        check(AnalysisKey.self)
        check(VerifyHTTPKey.self)
    }

    /// Duplicate keys are found however their bytes fall into the reader's per-mapping key bits:
    /// mappings of keys drawn from a few similar words (same lengths, same first and last
    /// letters), compared with a plain pairwise search.
    @Test func duplicateKeysAreFoundWhateverTheirBits() throws {
        let words = ["a", "b", "ab", "ba", "aa", "abc", "acb", "bac", "axxc", "ayyc", "axyc", "k", "kk", "kik", "kok"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let count = Int.random(in: 1...20, using: &generator)
            let keys = (0..<count).map { _ in words.randomElement(using: &generator)! }
            var text = "m:\n"
            for (i, key) in keys.enumerated() { text += "  \(key): \(i)\n" }
            var expected: [String] = []
            var first: [String: Int] = [:]
            for (i, key) in keys.enumerated() {
                if let line = first[key] {
                    expected.append("duplicate key '\(key)' (first defined at line \(line))")
                } else {
                    first[key] = i + 2
                }
            }
            let result = try YAMLReader.read(Array(text.utf8))
            #expect(result.duplicates.map(\.message) == expected, "\(keys)")
            let doc = result.document
            let kept = doc.entries(of: doc.entries(of: doc.root)[0].value).map { doc.value(of: $0.key) }
            var seen = Set<String>()
            #expect(kept == keys.filter { seen.insert($0).inserted })
        }
    }
}

@Suite struct StageGraphTests {
    @Test func wavesGroupWhatCanRunInParallel() throws {
        let graph = try StageGraph(ids: ["a", "b", "c", "d"], needs: [[], ["a"], ["a"], ["b", "c"]])
        #expect(graph.waves == [[0], [1, 2], [3]])
        #expect(graph.ancestors(of: 3) == [0, 1, 2])
        #expect(graph.descendants(of: 0) == [1, 2, 3])
    }

    @Test func everyCycleIsReportedWithItsWholePath() {
        #expect(throws: StageGraph.Cycle(paths: [["a", "b", "a"], ["x", "y", "z", "x"]])) {
            try StageGraph(ids: ["a", "b", "c", "x", "y", "z"], needs: [["b"], ["a"], ["a"], ["y"], ["z"], ["x"]])
        }
    }

    @Test func largeChainIsLinear() throws {
        let n = 20_000
        let ids = (0..<n).map { "s\($0)" }
        let graph = try StageGraph(ids: ids, needs: (0..<n).map { $0 == 0 ? [] : ["s\($0 - 1)"] })
        #expect(graph.waves.count == n)
    }
}

@Suite struct SuggestionTests {
    @Test(arguments: [("retires", "retry"), ("timout", "timeout"), ("aproval", "approval"), ("backnd", "backend"), ("rolback", "rollback")])
    func suggestsTheClosestWord(_ typo: String, _ expected: String) {
        #expect(Suggestion.closest(typo, among: StageKey.allCases.map(\.rawValue) + ["backend", "approval"]) == expected)
    }

    @Test func suggestsNothingForUnrelatedWords() {
        #expect(Suggestion.closest("database", among: ["backend", "frontend"]) == nil)
    }
}

@Suite struct TemplateTests {
    @Test func splitsLiteralsAndReferences() {
        let (template, problems) = Template.parse("v=${{ stages.api.outputs.rev }}/${{env.REGION}}")
        #expect(problems.isEmpty)
        #expect(template.parts == [.literal("v="), .reference(.output(stage: "api", name: "rev")), .literal("/"), .reference(.env("REGION"))])
    }

    @Test func reportsBadExpressions() {
        #expect(Template.parse("${{ github.sha }}").1.count == 1)
        #expect(Template.parse("${{ run.id").1.first?.message.contains("unterminated") == true)
    }
}

@Suite struct YAMLReaderTests {
    @Test func marksAreOneBased() throws {
        let result = try YAMLReader.read(Array("a: 1\nb:\n  - x\n".utf8))
        let doc = result.document
        let entries = doc.entries(of: doc.root)
        #expect(doc[entries[0].key].mark == Mark(line: 1, column: 1))
        #expect(doc[entries[0].value].mark == Mark(line: 1, column: 4))
        let items = doc.items(of: entries[1].value)
        #expect(doc[items.first!].mark == Mark(line: 3, column: 5))
    }

    @Test func duplicateKeysAreCollectedAndTheFirstKept() throws {
        var text = "big:\n"
        for i in 0..<100 { text += "  k\(i): \(i)\n" }
        text += "  k7: again\nsmall: {a: 1, a: 2}\n"
        let result = try YAMLReader.read(Array(text.utf8))
        #expect(result.duplicates.map(\.message) == ["duplicate key 'k7' (first defined at line 9)", "duplicate key 'a' (first defined at line 103)"])
        let doc = result.document
        let big = doc.entries(of: doc.entries(of: doc.root)[0].value)
        #expect(big.count == 100)
        #expect(doc.value(of: big[7].value) == "7")
    }

    /// The depth limit bounds the nesting, and only the nesting a file has costs memory: a limit
    /// of `Int.max` reads a 200-level file, a limit of 3 stops a 4-level one where it goes deeper.
    @Test func theDepthLimitIsTheLimitWhateverItsSize() throws {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "\n"
        let read = try YAMLReader.read(Array(deep.utf8), limits: YAMLLimits(maxDepth: .max))
        #expect(read.document.nodes.count == 200)
        #expect(throws: YAMLProblem(mark: Mark(line: 1, column: 4), message: "nesting is deeper than 3 levels")) {
            try YAMLReader.read(Array("[[[[]]]]\n".utf8), limits: YAMLLimits(maxDepth: 3))
        }
    }

    /// An empty key, quoted or an empty literal (the first copied text of the file, so it has no
    /// buffer to point into), is compared like any other key.
    @Test func emptyKeysAreDuplicatesOfEachOther() throws {
        let result = try YAMLReader.read(Array("a:\n  ? |\n  : 1\n  \"\": 2\n  '': 3\nb: x\n".utf8))
        #expect(result.duplicates.map(\.message) == ["duplicate key '' (first defined at line 2)", "duplicate key '' (first defined at line 2)"])
        #expect(result.duplicates.map(\.mark) == [Mark(line: 4, column: 3), Mark(line: 5, column: 3)])
        let doc = result.document
        #expect(doc.entries(of: doc.entries(of: doc.root)[0].value).count == 1)
    }

    /// A scalar's text is a slice of the file where it is written as it reads, and a copy where it
    /// is not: either way it is what libyaml gives, whatever comes before it in the file.
    @Test(arguments: [
        ("plain", "plain"), ("'single'", "single"), ("\"double\"", "double"), ("'it''s'", "it's"),
        ("\"tab\\there\"", "tab\there"), ("\"\\u0024{{ inputs.x }}\"", "${{ inputs.x }}"), ("''", ""), ("", ""),
        ("|\n  line one\n  line two\n", "line one\nline two\n"), (">\n  folded\n  text\n", "folded text\n"),
        ("a\n  b", "a b"), ("\"x\n  y\"", "x y"), ("café", "café"), ("'naïve'", "naïve"),
    ])
    func scalarTextIsWhatLibyamlGives(_ written: String, _ text: String) throws {
        for before in ["", "é: ü\n", "'quoted key': \"ÿ\"\n"] {
            let doc = try YAMLReader.read(Array("\(before)k: \(written)\nafter: ñ end\n".utf8)).document
            let entries = doc.entries(of: doc.root)
            #expect(doc.value(of: entries[entries.count - 2].value) == text, "after \(before.debugDescription)")
            #expect(doc.value(of: entries[entries.count - 1].value) == "ñ end")
            #expect(doc.mayHoldReferences == text.contains("${{"))
        }
    }

    @Test func scalarsWrittenAsTheyReadAreNotCopied() throws {
        let doc = try YAMLReader.read(Array("a: b\nc: 'd'\ne: \"f\"\nlist: [x, 'y', \"z\"]\n".utf8)).document
        #expect(doc.extra.isEmpty)
        let copied = try YAMLReader.read(Array("a: 'it''s'\nb: |\n  text\n".utf8)).document
        #expect(String(decoding: copied.extra, as: UTF8.self) == "it'stext\n")
    }

    @Test func duplicateKeysOfNestedLargeMappingsAreFoundInEach() throws {
        var text = "outer:\n"
        for i in 0..<40 { text += "  o\(i): \(i)\n" }
        text += "  inner:\n"
        for i in 0..<40 { text += "    i\(i): \(i)\n" }
        text += "    i3: again\n  o5: again\n  \"o6\": quoted\n"
        let result = try YAMLReader.read(Array(text.utf8))
        #expect(
            result.duplicates.map(\.message) == [
                "duplicate key 'i3' (first defined at line 46)", "duplicate key 'o5' (first defined at line 7)",
                "duplicate key 'o6' (first defined at line 8)",
            ])
    }

    @Test func quotedScalarsKeepTheirStyle() throws {
        let doc = try YAMLReader.read(Array("a: 'no'\nb: no\n".utf8)).document
        let entries = doc.entries(of: doc.root)
        #expect(doc[entries[0].value].style == .singleQuoted)
        #expect(doc[entries[1].value].style == .plain)
    }
}
