import Foundation
import Testing

@testable import PipelineSpec

/// The top-level stages are decoded as the file is read (`StreamedStages`): every file must load
/// exactly as when the whole document is read first, whether the stages were taken while reading,
/// only some were, or what they assumed turns out wrong and the file is read again.
@Suite struct StreamedStagesTests {
    /// A load summarised as text: the diagnostics, or the stages as decoded.
    static func summary(_ load: () throws(DiagnosticError) -> LoadedPipeline) -> String {
        func line(_ d: Diagnostic) -> String { "\(d.path):\(d.mark.line):\(d.mark.column): \(d.severity): \(d.message)" }
        do {
            let loaded = try load()
            let stages = loaded.pipeline.stages.map { stage in
                let env = stage.env.map { "\($0.name)=\($0.value.raw)" }.joined(separator: ",")
                return "\(stage.id) kind=\(stage.kind.rawValue) needs=\(stage.needs) marks=\(stage.needMarks.map(\.line)) "
                    + "timeout=\(stage.timeout) retry=\(stage.retry.attempts) shell=\(stage.shell) env=\(env) run=\(stage.run?.source ?? "-")"
            }
            return (stages + loaded.warnings.map(line)).joined(separator: "\n")
        } catch {
            return error.diagnostics.map(line).joined(separator: "\n")
        }
    }

    /// The load of `path` as the loader does it (streaming), and with the whole document read first.
    static func both(_ path: String, options: PipelineLoader.Options = PipelineLoader.Options()) throws -> (streamed: String, whole: String) {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let streamed = summary { () throws(DiagnosticError) in try PipelineLoader.load(bytes: bytes, path: path, options: options) }
        let whole = summary { () throws(DiagnosticError) in
            try PipelineLoader.load(PipelineLoader.readDocument(bytes, path: path, limits: options.limits), bytes: bytes, path: path, options: options)
        }
        return (streamed, whole)
    }

    /// How many items of the top-level stages were taken while reading.
    static func taken(_ text: String) throws -> Int {
        let streamed = StreamedStages(path: "p.yml")
        _ = try PipelineLoader.readDocument(Array(text.utf8), path: "p.yml", limits: .init(), streamed: streamed)
        return streamed.nodes.count
    }

    static let header = "version: 1\nname: p\n"

    /// Files whose stages are taken while reading, partly or not at all, or whose assumptions break.
    static let cases: [(name: String, text: String, taken: Int)] = [
        ("plain", header + "stages:\n  - id: a\n    run: x\n  - id: b\n    run: y\n    timeout: 5m\n", 2),
        (
            "defaults and secrets before",
            header + "secrets: [TOKEN]\ndefaults:\n  timeout: 2m\n  shell: ['/bin/sh', '-c']\nstages:\n  - id: a\n    run: x\n    env:\n      TOKEN: literal\n",
            1
        ),
        ("defaults after (read again)", header + "stages:\n  - id: a\n    run: x\ndefaults:\n  timeout: 7m\n  retry: 3\n", 1),
        ("secrets after (read again)", header + "stages:\n  - id: a\n    run: x\n    env:\n      TOKEN: literal\nsecrets: [TOKEN]\n", 1),
        (
            "a reference stops the taking",
            header
                + "stages:\n  - id: a\n    run: x\n    outputs: [V]\n  - id: b\n    env:\n      V: ${{ stages.a.outputs.V }}\n    run: y\n  - id: c\n    run: z\n",
            1
        ),
        (
            "inputs before", header + "inputs:\n  mode: {default: x}\nstages:\n  - id: a\n    if: inputs.mode == 'x'\n    run: x\n", 0
        ),
        ("inputs after (read again)", header + "stages:\n  - id: a\n    if: inputs.mode == 'x'\n    run: x\ninputs:\n  mode: {default: x}\n", 1),
        (
            "errors and duplicates in stages",
            header
                + "stages:\n  - id: a\n    run: x\n    runn: y\n    timeout: 5\n  - id: a\n    kind: canery\n  - id: B\n    run: x\n    run: y\n    needs: [a, a, zz]\n",
            3
        ),
        ("a scalar item (read again)", header + "stages:\n  - id: a\n    run: x\n  - oops\n  - id: b\n    run: y\n", 2),
        ("stages twice", header + "stages:\n  - id: a\n    run: x\nstages:\n  - id: b\n    run: y\n", 1),
        ("flow items", header + "stages: [{id: a, run: x}, {id: b, run: y, needs: []}]\n", 2),
        ("empty", header + "stages: []\n", 0),
        ("a stage file", "version: 1\nstages:\n  - id: a\n    run: x\nkind: stages\n", 1),
    ]

    @Test(arguments: cases.indices)
    func aFileLoadsAsWhenReadWhole(_ index: Int) throws {
        let (name, text, taken) = Self.cases[index]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("streamed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("p.yml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try Self.taken(text) == taken, "\(name)")
        for options in [PipelineLoader.Options(), PipelineLoader.Options(acceptStageFile: true)] {
            let (streamed, whole) = try Self.both(path, options: options)
            #expect(streamed == whole, "\(name)")
        }
    }

    @Test func anIncludeEntryStopsTheTakingAndTheStagesAfterItNeedItsLast() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("streamed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("stages"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = Self.header + "stages:\n  - id: a\n    run: x\n  - include: stages/db.yml\n    prefix: db\n  - id: c\n    run: z\n"
        try text.write(to: dir.appendingPathComponent("p.yml"), atomically: true, encoding: .utf8)
        try "version: 1\nkind: stages\nstages:\n  - id: migrate\n    run: m\n".write(
            to: dir.appendingPathComponent("stages/db.yml"), atomically: true, encoding: .utf8)
        #expect(try Self.taken(text) == 1)
        let (streamed, whole) = try Self.both(dir.appendingPathComponent("p.yml").path)
        #expect(streamed == whole)
        #expect(streamed.contains("c kind=command needs=[\"db-migrate\"]"), "\(streamed)")
    }

    @Test func aLongListKeepsOneStageOfNodesAtATime() throws {
        var text = Self.header + "stages:\n"
        for i in 0..<2000 { text += "  - id: s\(i)\n    run: echo \(i)\n    description: stage number \(i)\n" }
        let streamed = StreamedStages(path: "p.yml")
        let read = try PipelineLoader.readDocument(Array(text.utf8), path: "p.yml", limits: .init(), streamed: streamed)
        #expect(streamed.nodes.count == 2000)
        // The top-level mapping, its entries (`version: 1`, `name: p`, `stages` and its list) and
        // an empty mapping per stage.
        #expect(read.document.nodes.count == 7 + 2000)
        #expect(read.document.text.count < 64)
    }
}
