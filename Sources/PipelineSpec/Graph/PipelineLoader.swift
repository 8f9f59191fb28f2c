import Foundation
import PipelineYAML

/// A pipeline that passed validation, with its graph and any lint warnings.
public struct LoadedPipeline: Sendable {
    /// The typed pipeline.
    public var pipeline: Pipeline
    /// Its stage graph.
    public var graph: StageGraph
    /// Warnings (lint findings); errors never reach here.
    public var warnings: [Diagnostic]
    /// The file's bytes, for excerpts and hashing.
    public var source: [UInt8]
}

/// Reads, validates and lints pipeline files: the front door of every command.
public enum PipelineLoader {
    /// Options that change what counts as an error.
    public struct Options: Sendable {
        /// Lint warnings become errors.
        public var strict: Bool
        /// Reader limits.
        public var limits: YAMLLimits

        /// Creates options.
        public init(strict: Bool = false, limits: YAMLLimits = YAMLLimits()) {
            self.strict = strict
            self.limits = limits
        }
    }

    /// Reads a file from disk and validates it.
    /// - Parameters:
    ///   - path: the path as the user wrote it (used in diagnostics).
    ///   - options: strictness and limits.
    /// - Returns: the validated pipeline with warnings.
    /// - Throws: ``DiagnosticError`` with every problem, located.
    public static func load(path: String, options: Options = Options()) throws(DiagnosticError) -> LoadedPipeline {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path, limit: options.limits.maxBytes)
        } catch {
            throw DiagnosticError([Diagnostic(.error, path: path, mark: Mark(line: 1, column: 1), message: error.message)])
        }
        return try load(bytes: bytes, path: path, options: options)
    }

    /// Validates bytes already in memory.
    /// - Throws: ``DiagnosticError`` with every problem, located.
    public static func load(bytes: [UInt8], path: String, options: Options = Options()) throws(DiagnosticError) -> LoadedPipeline {
        let read: YAMLReader.Result
        do {
            read = try YAMLReader.read(bytes, limits: options.limits)
        } catch {
            throw DiagnosticError([Diagnostic(.error, path: path, mark: error.mark, message: error.message)])
        }
        var decoder = PipelineDecoder(document: read.document, path: path)
        for duplicate in read.duplicates { decoder.reader.error(duplicate.mark, duplicate.message) }
        let decoded = decoder.decode()
        var graph: StageGraph?
        if let pipeline = decoded {
            graph = checkGraph(pipeline, &decoder)
            if let graph { PipelineDecoder.checkSwitchAfter(pipeline, graph, &decoder) }
            checkReferences(pipeline, graph, &decoder)
        }
        var diagnostics = decoder.reader.diagnostics
        if let pipeline = decoded, let graph, !diagnostics.contains(where: { $0.severity == .error }) {
            var warnings = Linter.lint(pipeline, graph: graph)
            if options.strict {
                for i in warnings.indices { warnings[i].severity = .error }
            }
            diagnostics += warnings
        }
        diagnostics.sort { ($0.mark, $0.severity == .error ? 0 : 1) < ($1.mark, $1.severity == .error ? 0 : 1) }
        guard let pipeline = decoded, let graph, !diagnostics.contains(where: { $0.severity == .error }) else {
            throw DiagnosticError(diagnostics)
        }
        return LoadedPipeline(pipeline: pipeline, graph: graph, warnings: diagnostics, source: bytes)
    }

    /// Unique ids, known needs, no cycles.
    package static func checkGraph(_ pipeline: Pipeline, _ decoder: inout PipelineDecoder) -> StageGraph? {
        var firstMark: [String: Mark] = [:]
        var ok = true
        for stage in pipeline.stages where !stage.id.isEmpty {
            if let first = firstMark[stage.id] {
                decoder.reader.error(stage.mark(of: "id"), "duplicate stage id '\(stage.id)' (first defined at line \(first.line))")
                ok = false
            } else {
                firstMark[stage.id] = stage.mark(of: "id")
            }
        }
        let ids = pipeline.stages.map(\.id)
        for stage in pipeline.stages where stage.needsWritten {
            for (i, need) in stage.needs.enumerated() where firstMark[need] == nil {
                let mark = i < stage.needMarks.count ? stage.needMarks[i] : stage.mark
                decoder.reader.error(mark, "stage '\(stage.id)' needs unknown stage '\(need)'" + Suggestion.didYouMean(need, among: ids))
                ok = false
            }
        }
        guard ok else { return nil }
        do {
            return try StageGraph(ids: ids, needs: pipeline.stages.map(\.needs))
        } catch {
            for path in error.paths {
                let mark = pipeline.stage(path[0]).map { $0.mark(of: "needs") } ?? Mark(line: 1, column: 1)
                let message = path.count == 2 ? "stage '\(path[0])' needs itself" : "cycle in 'needs': \(path.joined(separator: " -> "))"
                decoder.reader.error(mark, message)
            }
            return nil
        }
    }

    /// Every `${{ }}` names something that will exist when the value is needed.
    /// Without a graph (it had errors), whether the producer runs first is not checked.
    package static func checkReferences(_ pipeline: Pipeline, _ graph: StageGraph?, _ decoder: inout PipelineDecoder) {
        let ids = pipeline.stages.map(\.id)
        let envNames = pipeline.env.map(\.name)
        var ancestorCache: [String: Set<Int>] = [:]
        for pending in decoder.references {
            switch pending.reference {
            case .runID:
                break
            case .color:
                if pending.stage.flatMap({ pipeline.stage($0) })?.kind != .blueGreen {
                    decoder.reader.error(
                        pending.mark, "'${{ color }}' is the colour a blue-green stage deploys; it can only be used in a 'blue-green' stage")
                }
            case .env(let name):
                if !envNames.contains(name) {
                    decoder.reader.error(
                        pending.mark, "'${{ env.\(name) }}' names no variable of the top-level 'env'" + Suggestion.didYouMean(name, among: envNames))
                }
            case .secret(let name):
                if !pipeline.secrets.contains(name) {
                    decoder.reader.error(
                        pending.mark,
                        "'${{ secrets.\(name) }}' names no declared secret; add it to 'secrets'" + Suggestion.didYouMean(name, among: pipeline.secrets))
                }
            case .output(let stageID, let name):
                guard let reader = pending.stage else {
                    decoder.reader.error(
                        pending.mark,
                        "the top-level 'env' cannot read stage outputs; bind '${{ stages.\(stageID).outputs.\(name) }}' in the 'env' of the stage that needs it"
                    )
                    continue
                }
                guard let producer = pipeline.stage(stageID) else {
                    decoder.reader.error(
                        pending.mark, "'${{ stages.\(stageID).outputs.\(name) }}' names unknown stage '\(stageID)'" + Suggestion.didYouMean(stageID, among: ids)
                    )
                    continue
                }
                if stageID == reader {
                    decoder.reader.error(
                        pending.mark,
                        "stage '\(reader)' cannot read its own output '\(name)'; its rollback receives it as $PIPELINE_OUTPUT_\(name.uppercased())")
                    continue
                }
                var runsBefore = true
                if let graph, let node = graph.index[stageID], let readerNode = graph.index[reader] {
                    if ancestorCache[reader] == nil { ancestorCache[reader] = graph.ancestors(of: readerNode) }
                    runsBefore = ancestorCache[reader]!.contains(node)
                }
                if !runsBefore {
                    decoder.reader.error(
                        pending.mark,
                        "stage '\(reader)' reads an output of '\(stageID)' but does not need it (directly or not), so the value may not exist yet; add '\(stageID)' to its 'needs'"
                    )
                } else if !producer.outputs.contains(name) {
                    let hint = Suggestion.didYouMean(name, among: producer.outputs)
                    decoder.reader.error(pending.mark, "stage '\(stageID)' declares no output '\(name)'" + (hint.isEmpty ? "; list it in its 'outputs'" : hint))
                }
            }
        }
    }

    /// The file's bytes for excerpts under diagnostics; nil when unreadable or over the limit.
    public static func source(of path: String, limit: Int = YAMLLimits().maxBytes) -> [UInt8]? {
        try? readFile(path, limit: limit)
    }

    package struct ReadError: Error { var message: String }

    /// Reads a whole file, refusing one over the limit before reading it.
    package static func readFile(_ path: String, limit: Int) throws(ReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(message: "cannot read the file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ReadError(message: "cannot read the file: \(String(cString: strerror(errno)))") }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw ReadError(message: "is a directory, not a pipeline file") }
        if Int(info.st_size) > limit {
            throw ReadError(message: "file is \(YAMLReader.describe(bytes: Int(info.st_size))); the limit is \(YAMLReader.describe(bytes: limit))")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(message: "cannot read the file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit {
                throw ReadError(message: "file is larger than the limit of \(YAMLReader.describe(bytes: limit))")
            }
        }
        return bytes
    }
}
