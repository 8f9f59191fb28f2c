import Foundation
import PipelineSpec
import PipelineYAML
import Testing

/// A large file is read with libyaml on a thread of its own and its stage list decoded in parts
/// on several threads (issue 15). Both must read every file exactly as one thread does: the same
/// document, the same first problem, the same diagnostics in the same order, the same pipeline.
/// Each case here is read both ways and compared; the cases put problems at the start, at the end
/// and around the places where the work is split (event batches, stage parts).
@Suite struct ParallelReadTests {
    /// A valid pipeline of `count` stages that uses much of the format: kinds, lists, mappings,
    /// quoted and block scalars (text that is not a slice of the file), defaults, conditions.
    static func pipeline(stages count: Int, top: String = "", stage extra: (Int) -> String = { _ in "" }) -> String {
        var text = "version: 1\nname: big\ndefaults:\n  timeout: 10m\n  retry: 2\n\(top)stages:\n"
        for i in 0..<count {
            switch i % 5 {
            case 0:
                text += "  - id: s\(i)\n    name: \"Stage \\t\(i) \\u00e9\\L\"\n    run: |\n      echo \(i)\n      true\n    rollback: 'it''s \(i)'\n"
            case 1:
                text += "  - id: s\(i)\n    needs: [s\(i - 1)]\n    run: \"true\"\n    env: {A: \"x\\ny\", B: plain}\n    timeout: 5m\n"
            case 2:
                text += "  - id: s\(i)\n    kind: verify\n    http: {url: \"http://127.0.0.1:9/\(i)\", expect: 200}\n    retry: {attempts: 3, delay: 1s}\n"
            case 3:
                text += "  - id: s\(i)\n    description: >\n      folded\n      text \(i)\n    run: \"true\"\n    outputs: [OUT\(i)]\n"
            default:
                text += "  - id: s\(i)\n    needs:\n      - s\(i - 1)\n      - s\(i - 3)\n    run: \"echo $A\"\n    idempotent: false\n"
            }
            text += extra(i)
        }
        return text
    }

    /// Reads `text` with and without the parse thread and compares what each gives.
    @discardableResult
    static func compareReads(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> YAMLProblem? {
        let bytes = Array(text.utf8)
        let threaded = Result { () throws(YAMLProblem) in try YAMLReader.read(bytes, parseThread: true) }
        let single = Result { () throws(YAMLProblem) in try YAMLReader.read(bytes, parseThread: false) }
        switch (threaded, single) {
        case (.success(let a), .success(let b)):
            #expect(dump(a.document) == dump(b.document), sourceLocation: sourceLocation)
            #expect(a.duplicates == b.duplicates, sourceLocation: sourceLocation)
            #expect(a.document.mayHoldReferences == b.document.mayHoldReferences, sourceLocation: sourceLocation)
            return nil
        case (.failure(let a), .failure(let b)):
            #expect(a == b, sourceLocation: sourceLocation)
            return a
        default:
            Issue.record("one read failed and the other did not: \(threaded) / \(single)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Every node in order: its kind, mark, style and text, or its children.
    static func dump(_ document: YAMLDocument) -> [String] {
        document.nodes.indices.map { index in
            let id = NodeID(index)
            let node = document[id]
            switch node.kind {
            case .scalar: return "\(node.mark) \(node.style) \(document.value(of: id).debugDescription)"
            case .mapping: return "\(node.mark) mapping \(document.entries(of: id).map { "\($0.key)=\($0.value)" })"
            case .sequence: return "\(node.mark) sequence \(document.items(of: id).map(String.init))"
            }
        } + ["root \(document.root)"]
    }

    /// Loads `text` with and without threads and compares the diagnostics and the pipelines.
    static func compareLoads(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        let bytes = Array(text.utf8)
        var single = PipelineLoader.Options()
        single.threads = false
        let outcomes = [PipelineLoader.Options(), single].map { options in
            Result { () throws(DiagnosticError) in try PipelineLoader.loadEach(bytes: bytes, path: "big.yml", options: options) }
        }
        func describe(_ outcome: Result<[LoadedPipeline], DiagnosticError>) -> [String] {
            switch outcome {
            case .success(let loaded):
                return loaded.flatMap { one in
                    one.warnings.map { "\($0.mark.line):\($0.mark.column): \($0.severity): \($0.message)" }
                        + [PlanRenderer(one).render(.json)]
                        + one.pipeline.stages.map { "\($0.id) \($0.needs) \($0.needMarks) \($0.mark) \($0.needsWritten) \($0.timeout) \($0.retry)" }
                }
            case .failure(let error):
                return error.diagnostics.map { "\($0.path):\($0.mark.line):\($0.mark.column): \($0.severity): \($0.message)" }
            }
        }
        let threaded = describe(outcomes[0])
        #expect(threaded == describe(outcomes[1]), sourceLocation: sourceLocation)
        return threaded
    }

    @Test("a large file reads the same with libyaml on its own thread, valid or broken anywhere", .timeLimit(.minutes(2)))
    func parseThreadReadsTheSame() throws {
        let valid = Self.pipeline(stages: 3000)
        #expect(valid.utf8.count > 2 * 128 << 10, "many batches, and past the size that starts the thread")
        #expect(Self.compareReads(valid) == nil)
        let lines = valid.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Problems the builder finds (it stops the parser) and problems libyaml finds (after every
        // event before them), near the start, around batch boundaries and at the end.
        let defects = [
            "  - id: x\n    run: *alias\n", "  - id: x\n    run: &anchor a\n", "  - id: x\n    run: !tag a\n",
            "  - id: x\n    run: a\n    run: b\n", "  - id: x\n    {a: b}: c\n", "  - id: x\n    run: [unclosed\n",
            "  - id: x\n   bad: indent\n", "---\nsecond: document\n", "  - id: x\n    run: \"\\q\"\n",
            "  - id: x\n    deep: " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "\n",
            "  - id: x\n\trun: tab\n", "  - id: x\n    run: 'unterminated\n",
        ]
        for line in [6, 400, 2000, lines.count / 2, lines.count - 3] {
            for defect in defects {
                var broken = lines
                broken.insert(defect, at: line)
                let problem = Self.compareReads(broken.joined(separator: "\n"))
                if defect.contains("run: b") {
                    #expect(problem == nil, "a duplicate key is collected, not thrown (compared above)")
                } else {
                    // Refused where it was put, or a little after (where libyaml sees it).
                    #expect(
                        problem.map { $0.mark.line > line && $0.mark.line <= line + 20 } == true,
                        "\(defect.debugDescription) at \(line): \(String(describing: problem))")
                }
            }
        }
        // Invalid UTF-8 late in the file, and a file cut in the middle of a quoted scalar.
        var bytes = Array(valid.utf8)
        bytes.insert(0xFF, at: bytes.count - 100)
        let invalid = Result { () throws(YAMLProblem) in try YAMLReader.read(bytes, parseThread: true) }
        let invalidSingle = Result { () throws(YAMLProblem) in try YAMLReader.read(bytes, parseThread: false) }
        guard case .failure(let a) = invalid, case .failure(let b) = invalidSingle else {
            Issue.record("invalid UTF-8 was read")
            return
        }
        #expect(a == b && a.message.hasPrefix("invalid UTF-8"), "\(a) / \(b)")
        let cut = valid.utf8.firstRange(of: "\"Stage \\t2500".utf8)!.lowerBound
        #expect(Self.compareReads(String(valid[..<cut]) + "\"Stage") != nil)
    }

    @Test("a long stage list decodes the same in parts: every problem, in order, and each part's first stage needs the one before", .timeLimit(.minutes(2)))
    func partsDecodeTheSame() throws {
        let valid = Self.compareLoads(Self.pipeline(stages: 4000))
        #expect(valid.contains { $0.hasPrefix("s2000 [\"s1999\"]") }, "the first stage of the second part needs the last of the first")
        #expect(valid.contains { $0.hasPrefix("s3000 [\"s2999\"]") })
        // Problems in every part, around the part boundaries; each file gives its diagnostics.
        let found = Self.compareLoads(
            Self.pipeline(stages: 4000) { i in
                switch i {
                case 0, 1999, 2000, 3999: return "    timeout: soon\n"
                case 2001: return "  - run: \"true\"\n  - id: s2001\n    run: \"true\"\n"
                case 2998: return "  - id: BAD\n    kind: comand\n    run: x\n"
                case 3001: return "    neds: [s1]\n"
                default: return ""
                }
            })
        #expect(found.count >= 8, "\(found)")
        #expect(found.contains { $0.contains("unknown stage kind 'comand'") && $0.contains("did you mean 'command'") }, "\(found)")
        #expect(found.contains { $0.contains("duplicate stage id 's2001'") }, "\(found)")
        // A part that meets an `include` entry stops, and the list is read in one pass: the same result.
        let included = Self.compareLoads(Self.pipeline(stages: 4000) { $0 == 3500 ? "  - include: missing/stages.yml\n" : "" })
        #expect(included.contains { $0.contains("missing/stages.yml") }, "\(included)")
        // Substituted values (inputs) keep the single pass; the results still agree.
        let inputs = "inputs:\n  region: {type: string, default: eu}\n"
        _ = Self.compareLoads(Self.pipeline(stages: 4000, top: inputs) { $0 == 2500 ? "    env: {R: \"${{ inputs.region }}\"}\n" : "" })
        // Ids used before they are defined, and a cycle that crosses the parts.
        let cycle = Self.compareLoads(
            Self.pipeline(stages: 4000) { $0 == 10 ? "    needs: [s3990]\n" : ($0 == 3990 ? "    needs: [s10]\n" : "") })
        #expect(cycle.contains { $0.contains("cycle") || $0.contains("twice") || $0.contains("needs") }, "\(cycle)")
    }

    @Test("pipeline validate and plan of a 4,000-stage file: located errors from every part, and a valid plan", .timeLimit(.minutes(2)))
    func binaryReadsALargeFile() throws {
        let broken = Self.pipeline(stages: 4000) { i in i == 3999 ? "    timeout: soon\n" : (i == 5 ? "    retry: many\n" : "") }
        let sandbox = try Sandbox(broken)
        defer { sandbox.remove() }
        let validate = try sandbox.pipeline(["validate", "p.yml"])
        #expect(validate.status == 2)
        let errors = validate.stderr.split(separator: "\n").filter { $0.contains(": error: ") }
        #expect(errors.count == 2, "\(validate.stderr)")
        let lastLine = broken.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("timeout: soon") }! + 1
        #expect(errors.last?.hasPrefix("p.yml:\(lastLine):14: error: 'timeout' of stage 's3999'") == true, "\(errors)")
        #expect(errors.first?.contains("'retry' of stage 's5'") == true, "\(errors)")
        try Self.pipeline(stages: 4000).write(to: sandbox.dir.appendingPathComponent("ok.yml"), atomically: true, encoding: .utf8)
        let plan = try sandbox.pipeline(["plan", "--format", "json", "ok.yml"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any]
        #expect(json != nil)
        #expect(plan.stdout.contains("\"s3999\""))
    }
}
