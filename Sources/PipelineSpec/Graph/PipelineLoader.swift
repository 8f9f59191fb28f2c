import FoundationEssentials
import Glibc
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
    /// The stage files its `include` entries read, in the order first read, with their bytes.
    public var includedSources: [(path: String, bytes: [UInt8])] = []
    /// The file is a stage file (`kind: stages`) checked alone: `validate` only.
    public var isStageFile = false

    /// What the run's file hash covers: the file's bytes, then each included file's length and
    /// bytes (the file's bytes alone when it includes nothing), so a changed stage file is a changed
    /// pipeline. Paths are left out: `resume` reads the file by its absolute path.
    public var hashedBytes: [UInt8] {
        var bytes = source
        for (_, included) in includedSources {
            bytes += [0] + Array("\(included.count):".utf8) + included
        }
        return bytes
    }

    /// The bytes of every file read, by path (for excerpts under diagnostics).
    public var sources: [String: [UInt8]] {
        var all: [String: [UInt8]] = [pipeline.path: source]
        for (path, bytes) in includedSources { all[path] = bytes }
        return all
    }
}

/// Reads, validates and lints pipeline files: the front door of every command.
public enum PipelineLoader {
    /// Options that change what counts as an error.
    public struct Options: Sendable {
        /// Lint warnings become errors.
        public var strict: Bool
        /// Reader limits (for each file, the included ones too).
        public var limits: YAMLLimits
        /// The environment chosen with `--env` (required when the file declares environments).
        public var environment: String?
        /// `--input NAME=VALUE`, in the order given.
        public var inputs: [(name: String, value: String)]
        /// A stage file (`kind: stages`) is checked alone instead of refused (`validate`).
        public var acceptStageFile: Bool

        /// Creates options.
        public init(
            strict: Bool = false, limits: YAMLLimits = YAMLLimits(), environment: String? = nil, inputs: [(name: String, value: String)] = [],
            acceptStageFile: Bool = false
        ) {
            self.strict = strict
            self.limits = limits
            self.environment = environment
            self.inputs = inputs
            self.acceptStageFile = acceptStageFile
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
            bytes = try readFile(path, limit: options.limits.maxBytes, reserveHeap: true)
        } catch {
            throw DiagnosticError([Diagnostic(.error, path: path, mark: Mark(line: 1, column: 1), message: error.message)])
        }
        return try load(bytes: bytes, path: path, options: options)
    }

    /// Validates bytes already in memory.
    /// - Throws: ``DiagnosticError`` with every problem, located.
    public static func load(bytes: [UInt8], path: String, options: Options = Options()) throws(DiagnosticError) -> LoadedPipeline {
        let read = try readDocument(bytes, path: path, limits: options.limits)
        return try load(read, bytes: bytes, path: path, options: options)
    }

    /// Validates a file once per environment it declares (once if it declares none), as `validate`
    /// does without `--env`: every rule holds in each. A problem found in some environments only
    /// names them.
    /// - Returns: one loaded pipeline per environment, in the order declared.
    /// - Throws: ``DiagnosticError`` with every problem of every environment, located.
    public static func loadEach(path: String, options: Options = Options()) throws(DiagnosticError) -> [LoadedPipeline] {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path, limit: options.limits.maxBytes, reserveHeap: true)
        } catch {
            throw DiagnosticError([Diagnostic(.error, path: path, mark: Mark(line: 1, column: 1), message: error.message)])
        }
        return try loadEach(bytes: bytes, path: path, options: options)
    }

    /// ``loadEach(path:options:)`` on bytes already in memory.
    /// - Throws: ``DiagnosticError`` with every problem of every environment, located.
    public static func loadEach(bytes: [UInt8], path: String, options: Options = Options()) throws(DiagnosticError) -> [LoadedPipeline] {
        let read = try readDocument(bytes, path: path, limits: options.limits)
        let names = options.environment == nil ? PipelineDecoder.environmentNames(read.document) : []
        guard !names.isEmpty else { return [try load(read, bytes: bytes, path: path, options: options)] }
        var loaded: [LoadedPipeline] = []
        var found: [(name: String, diagnostics: [Diagnostic])] = []
        for name in names {
            var each = options
            each.environment = name
            do {
                let one = try load(read, bytes: bytes, path: path, options: each)
                loaded.append(one)
                found.append((name, one.warnings))
            } catch {
                found.append((name, error.diagnostics))
            }
        }
        // The same problem in every environment is reported once; one found in some names them.
        var merged: [Diagnostic] = []
        var seen = Set<String>()
        for (_, diagnostics) in found {
            for diagnostic in diagnostics {
                let key = "\(diagnostic.path):\(diagnostic.mark.line):\(diagnostic.mark.column):\(diagnostic.severity):\(diagnostic.message)"
                guard seen.insert(key).inserted else { continue }
                let holders = found.filter { entry in
                    entry.diagnostics.contains {
                        $0.path == diagnostic.path && $0.mark == diagnostic.mark && $0.message == diagnostic.message && $0.severity == diagnostic.severity
                    }
                }.map(\.name)
                // Lint runs only where there is no error: a warning is compared with those environments.
                let linted = found.filter { !$0.diagnostics.contains { $0.severity == .error } }.count
                var copy = diagnostic
                if holders.count < (diagnostic.severity == .error ? names.count : linted) {
                    copy.message += " (in environment\(holders.count == 1 ? "" : "s") \(holders.map { "'\($0)'" }.joined(separator: ", ")))"
                }
                merged.append(copy)
            }
        }
        // The pipeline file's problems first, then each included file's (diagnostics of one load are in that order already).
        var fileOrder = [path: 0]
        for diagnostic in merged where fileOrder[diagnostic.path] == nil { fileOrder[diagnostic.path] = fileOrder.count }
        func key(_ d: Diagnostic) -> (Int, Mark, Int) { (fileOrder[d.path] ?? Int.max, d.mark, d.severity == .error ? 0 : 1) }
        merged.sort { key($0) < key($1) }
        guard loaded.count == names.count else { throw DiagnosticError(merged) }
        for i in loaded.indices { loaded[i].warnings = merged.filter { $0.severity != .error } }
        return loaded
    }

    static func readDocument(_ bytes: [UInt8], path: String, limits: YAMLLimits) throws(DiagnosticError) -> YAMLReader.Result {
        do {
            return try YAMLReader.read(bytes, limits: limits)
        } catch {
            throw DiagnosticError([Diagnostic(.error, path: path, mark: error.mark, message: error.message)])
        }
    }

    static func load(_ read: consuming YAMLReader.Result, bytes: [UInt8], path: String, options: Options) throws(DiagnosticError) -> LoadedPipeline {
        var decoder = PipelineDecoder(document: read.document, path: path, choice: StaticChoice(environment: options.environment, inputs: options.inputs))
        let limit = options.limits.maxBytes
        let reading = IncludeReading(limits: options.limits) { file in
            Result { () throws(ReadError) in try readFile(file, limit: limit, regularOnly: true) }.mapError { .init(message: $0.message) }
        }
        decoder.includeReading = reading
        for duplicate in read.duplicates { decoder.reader.error(duplicate.mark, duplicate.message) }
        let isStageFile = options.acceptStageFile && PipelineDecoder.stageFileMarker(read.document) != nil
        _ = consume read
        let decoded = isStageFile ? decoder.decodeStageFileAlone() : decoder.decode()
        // What follows needs marks, not nodes: the arena goes before the graph and the lint are built.
        decoder.releaseDocuments()
        var graph: StageGraph?
        if let pipeline = decoded {
            graph = checkGraph(pipeline, &decoder)
            if let graph { PipelineDecoder.checkSwitchAfter(pipeline, graph, &decoder) }
            checkReferences(pipeline, graph, &decoder, alone: isStageFile)
        }
        var diagnostics = decoder.reader.diagnostics
        if let pipeline = decoded, let graph, !isStageFile, !diagnostics.contains(where: { $0.severity == .error }) {
            var warnings = Linter.lint(pipeline, graph: graph)
            if options.strict {
                for i in warnings.indices { warnings[i].severity = .error }
            }
            diagnostics += warnings
        }
        // The pipeline file's problems first, then each included file's, in the order they were read.
        var fileOrder = [path: 0]
        for (i, file) in reading.sources.enumerated() where fileOrder[file.path] == nil { fileOrder[file.path] = i + 1 }
        func key(_ d: Diagnostic) -> (Int, Mark, Int) { (fileOrder[d.path] ?? Int.max, d.mark, d.severity == .error ? 0 : 1) }
        diagnostics.sort { key($0) < key($1) }
        guard let pipeline = decoded, let graph, !diagnostics.contains(where: { $0.severity == .error }) else {
            throw DiagnosticError(diagnostics)
        }
        return LoadedPipeline(
            pipeline: pipeline, graph: graph, warnings: diagnostics, source: bytes, includedSources: reading.sources, isStageFile: isStageFile)
    }

    /// Unique ids, known needs, no cycles.
    package static func checkGraph(_ pipeline: Pipeline, _ decoder: inout PipelineDecoder) -> StageGraph? {
        // Stages are read by index: a `Stage` copied out of the array costs a retain of each field.
        let stages = pipeline.stages
        var firstIndex: [String: Int] = [:]
        firstIndex.reserveCapacity(stages.count)
        var ok = true
        for i in stages.indices where !stages[i].id.isEmpty {
            // One hash of the id: inserted, and if it was there already, put back.
            guard let j = firstIndex.updateValue(i, forKey: stages[i].id) else { continue }
            firstIndex[stages[i].id] = j
            let first = stages[j].mark(of: "id")
            let firstFile = pipeline.file(of: stages[j])
            let place = firstFile == pipeline.file(of: stages[i]) ? "line \(first.line)" : "\(firstFile):\(first.line):\(first.column)"
            decoder.reader.error(stages[i].mark(of: "id"), "duplicate stage id '\(stages[i].id)' (first defined at \(place))", in: stages[i].origin)
            ok = false
        }
        // Closures, not key paths: `map(\.id)` copies each `Stage` to read one field.
        let ids = stages.map { $0.id }
        // Each need as a node number, looked up once here (the graph is built from them), into
        // one flat list (not an array per stage).
        var needLists = NodeLists(reservingCapacity: stages.count)
        var numbers: [Int] = []
        for s in stages.indices {
            // A stage needing the one before it (the default, and what most write) is told by a
            // comparison, not a hash; with every id unique so far, that stage is its id's first.
            if ok, s > 0, stages[s].needs.count == 1, !stages[s - 1].id.isEmpty, stages[s].needs[0] == stages[s - 1].id {
                needLists.append(s - 1)
                continue
            }
            numbers.removeAll(keepingCapacity: true)
            for (i, need) in stages[s].needs.enumerated() {
                if let number = firstIndex[need] {
                    numbers.append(number)
                } else if stages[s].needsWritten {
                    let stage = stages[s]
                    let mark = i < stage.needMarks.count ? stage.needMarks[i] : stage.mark
                    decoder.reader.error(mark, "stage '\(stage.id)' needs unknown stage '\(need)'" + Suggestion.didYouMean(need, among: ids), in: stage.origin)
                    ok = false
                }
            }
            needLists.append(contentsOf: numbers)
        }
        // An include entry's `needs` are written in the including file.
        for include in pipeline.includes {
            for (need, mark) in include.needs where firstIndex[need] == nil {
                let origin = include.includedFrom.isEmpty ? nil : StageOrigin(path: include.site.path, includedFrom: include.includedFrom)
                decoder.reader.error(
                    mark, "the include of '\(include.path)' needs unknown stage '\(need)'" + Suggestion.didYouMean(need, among: ids), in: origin)
                ok = false
            }
        }
        guard ok else { return nil }
        do {
            // A stage without an id (already an error) is not in `firstIndex`: the graph then
            // numbers every id itself, as it always has.
            if ids.contains(where: { $0.isEmpty }) { return try StageGraph(ids: ids, needs: stages.map { $0.needs }) }
            return try StageGraph(ids: ids, index: firstIndex, needs: needLists)
        } catch {
            for path in error.paths {
                let stage = pipeline.stage(path[0])
                let mark = stage.map { $0.mark(of: "needs") } ?? Mark(line: 1, column: 1)
                let message = path.count == 2 ? "stage '\(path[0])' needs itself" : "cycle in 'needs': \(path.joined(separator: " -> "))"
                decoder.reader.error(mark, message, in: stage?.origin)
            }
            return nil
        }
    }

    /// Every `${{ }}` names something that will exist when the value is needed.
    /// Without a graph (it had errors), whether the producer runs first is not checked.
    /// - Parameter alone: a stage file checked alone: `env.*` and `secrets.*` are checked where it is included.
    package static func checkReferences(_ pipeline: Pipeline, _ graph: StageGraph?, _ decoder: inout PipelineDecoder, alone: Bool = false) {
        let ids = pipeline.stages.map { $0.id }
        let envNames = pipeline.env.map(\.name)
        var ancestorCache: [String: Set<Int>] = [:]
        // The first stage of each id (as `pipeline.stage(_:)` finds it), built once: a file with
        // many references stays linear.
        var first: [String: Int] = [:]
        if !decoder.references.isEmpty {
            first.reserveCapacity(ids.count)
            for (i, id) in ids.enumerated() where first[id] == nil { first[id] = i }
        }
        func stage(_ id: String) -> Stage? { first[id].map { pipeline.stages[$0] } }
        for pending in decoder.references {
            func error(_ message: String) {
                let shown = pending.inCondition ? "'if' of stage '\(pending.stage ?? "")': " + PipelineDecoder.withoutBraces(message) : message
                decoder.reader.error(pending.mark, shown, in: pending.origin)
            }
            switch pending.reference {
            case .runID, .parameter:
                break
            case .color:
                if pending.stage.flatMap({ stage($0) })?.kind != .blueGreen {
                    decoder.reader.error(
                        pending.mark, "'${{ color }}' is the colour a blue-green stage deploys; it can only be used in a 'blue-green' stage")
                }
            case .env(let name):
                if !alone, !envNames.contains(name) {
                    error("'${{ env.\(name) }}' names no variable of the top-level 'env'" + Suggestion.didYouMean(name, among: envNames))
                } else if pending.inCondition, let entry = pipeline.env.first(where: { $0.name == name }),
                    entry.value.references.contains(where: { if case .secret = $0 { return true } else { return false } })
                {
                    error("'env.\(name)' holds a secret; a condition cannot read secrets (whether a stage ran would tell something about the value)")
                }
            case .secret(let name):
                if !alone, !pipeline.secrets.contains(name) {
                    error("'${{ secrets.\(name) }}' names no declared secret; add it to 'secrets'" + Suggestion.didYouMean(name, among: pipeline.secrets))
                }
            case .output(let stageID, let name):
                guard let reader = pending.stage else {
                    error(
                        pending.inParameter
                            ? "a parameter value cannot read stage outputs (it is read before any stage runs); pass what the stages read with 'env' or read the output in the stage file itself"
                            : "the top-level 'env' cannot read stage outputs; bind '${{ stages.\(stageID).outputs.\(name) }}' in the 'env' of the stage that needs it"
                    )
                    continue
                }
                guard let producer = stage(stageID) else {
                    error("'${{ stages.\(stageID).outputs.\(name) }}' names unknown stage '\(stageID)'" + Suggestion.didYouMean(stageID, among: ids))
                    continue
                }
                if stageID == reader {
                    error("stage '\(reader)' cannot read its own output '\(name)'; its rollback receives it as $PIPELINE_OUTPUT_\(name.uppercased())")
                    continue
                }
                var runsBefore = true
                if let graph, let node = graph.index[stageID], let readerNode = graph.index[reader] {
                    if ancestorCache[reader] == nil { ancestorCache[reader] = graph.ancestors(of: readerNode) }
                    runsBefore = ancestorCache[reader]!.contains(node)
                }
                if !runsBefore {
                    error(
                        "stage '\(reader)' reads an output of '\(stageID)' but does not need it (directly or not), so the value may not exist yet; add '\(stageID)' to its 'needs'"
                    )
                } else if !producer.outputs.contains(name) {
                    let hint = Suggestion.didYouMean(name, among: producer.outputs)
                    error("stage '\(stageID)' declares no output '\(name)'" + (hint.isEmpty ? "; list it in its 'outputs'" : hint))
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
    /// - Parameter regularOnly: refuse anything but a regular file (an included stage file: a path
    ///   written in a file must not make `pipeline` wait on a FIFO, a terminal or `/dev/stdin`).
    /// - Parameter reserveHeap: the file is a pipeline to load: a large one reserves the heap its
    ///   model needs first (``HugePages/reserveHeap(_:)``).
    package static func readFile(_ path: String, limit: Int, regularOnly: Bool = false, reserveHeap: Bool = false) throws(ReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (regularOnly ? O_NONBLOCK : 0))
        guard fd >= 0 else { throw ReadError(message: "cannot read the file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ReadError(message: "cannot read the file: \(String(cString: strerror(errno)))") }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw ReadError(message: "is a directory, not a pipeline file") }
        if regularOnly, (info.st_mode & S_IFMT) != S_IFREG { throw ReadError(message: "is not a regular file") }
        if Int(info.st_size) > limit {
            throw ReadError(message: "file is \(YAMLReader.describe(bytes: Int(info.st_size))); the limit is \(YAMLReader.describe(bytes: limit))")
        }
        // A large pipeline file's model takes some ten times its size: reserved at once, in huge pages.
        if reserveHeap { HugePages.reserveHeap(Int(info.st_size) * 12) }
        // Read in place: the size the file has now, and one byte more to see whether it grew.
        var failure: Int32 = 0
        var bytes = [UInt8](unsafeUninitializedCapacity: Int(info.st_size) + 1) { buffer, count in
            count = 0
            while count < buffer.count {
                let n = read(fd, buffer.baseAddress! + count, buffer.count - count)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = errno }
                if n <= 0 { return }
                count += n
            }
        }
        if failure != 0 { throw ReadError(message: "cannot read the file: \(String(cString: strerror(failure)))") }
        guard bytes.count > Int(info.st_size) else { return bytes }
        // It grew while being read: the rest in chunks, up to the limit.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            if bytes.count > limit {
                throw ReadError(message: "file is larger than the limit of \(YAMLReader.describe(bytes: limit))")
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(message: "cannot read the file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        if bytes.count > limit {
            throw ReadError(message: "file is larger than the limit of \(YAMLReader.describe(bytes: limit))")
        }
        return bytes
    }
}
