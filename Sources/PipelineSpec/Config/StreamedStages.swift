import PipelineYAML

/// Stages decoded while the pipeline file is read, one item of the top-level `stages` as soon as
/// it is read (``YAMLReader/ItemConsumer``), so the nodes of a long list are never all held at once:
/// the arena keeps one stage's nodes at a time, and each is decoded while they are fresh in the cache.
///
/// Each item is decoded by ``PipelineDecoder/decodeStage(_:previous:timeout:retry:shell:)``, as
/// ``PipelineDecoder/decodeStageList(_:previous:defaults:)`` would decode it, and what it reported
/// (diagnostics, references) is replayed in its place there, so the output is the same. Items are
/// taken only while what decoding them depends on is known from the entries before `stages`: the
/// first `include` entry, item holding `${{`, or a file declaring `inputs`, `environments` or
/// `kind` stops the taking (those items stay in the document). What was assumed (the `defaults`,
/// the declared `secrets`, no inputs or environments) is checked when the list is decoded; if it
/// does not hold (say `defaults` is written after `stages`), the decoder says so and the file is
/// read again without streaming.
package final class StreamedStages {
    /// Everything, in one value: the class's methods mutate it in place (reading a struct through
    /// a class property would copy it, the decoder and its reader with it, at every access).
    private var state: State

    /// - Parameters:
    ///   - path: the pipeline file's path, as diagnostics name it.
    ///   - bytes: the file's size: room for its stages is made once (a stage takes some 64 bytes
    ///     or more as written; room not used is never touched, so it costs no memory).
    package init(path: String, bytes: Int = 0) {
        state = State(probe: PipelineDecoder(document: .released, path: path))
        state.stages.reserveCapacity(bytes / 64)
    }

    /// The items taken, in order: each is now an empty mapping in the document.
    package var nodes: [NodeID] { state.nodes }
    /// What decoding the taken items reported, in order.
    package var diagnostics: [Diagnostic] { state.diagnostics }
    package var references: [PipelineDecoder.PendingReference] { state.references }
    /// The id of the last stage decoded (nil: none).
    package var previous: String? { state.previous }
    /// Whether nothing was taken.
    package var isEmpty: Bool { state.nodes.isEmpty }

    /// Takes an item of the top-level `stages` (see ``YAMLReader/ItemConsumer``).
    package func take(_ item: NodeID, _ document: YAMLDocument, _ head: MappingEntries, _ holdsReference: Bool) -> Bool {
        state.take(item, document, head, holdsReference)
    }

    /// Whether the items were decoded as `decoder` would decode its top-level list from `previous`
    /// with `defaults`.
    package func assumed(previous: String?, defaults: StageDefaults, by decoder: PipelineDecoder) -> Bool {
        previous == nil && defaults == (state.defaults ?? .builtIn) && decoder.secretsDeclared == state.secrets && decoder.scope == nil
            && decoder.inputs.isEmpty && decoder.environments.isEmpty && decoder.statics.isEmpty
    }

    /// Hands over the decoded stages (this object keeps none).
    package func takeStages() -> [Stage] {
        defer { state.stages = [] }
        return state.stages
    }

    private struct State {
        var probe: PipelineDecoder
        var nodes: [NodeID] = []
        var diagnostics: [Diagnostic] = []
        var references: [PipelineDecoder.PendingReference] = []
        var previous: String?
        /// The stages decoded (an item that is no valid stage gives none).
        var stages: [Stage] = []
        /// What the items were decoded with, read from the entries before `stages` (nil: no item yet).
        var defaults: StageDefaults?
        var secrets: Set<String> = []
        var stopped = false

        mutating func take(_ item: NodeID, _ document: YAMLDocument, _ head: MappingEntries, _ holdsReference: Bool) -> Bool {
            guard !stopped else { return false }
            probe.use(document)
            defer { probe.releaseDocuments() }
            if defaults == nil, !readHead(head) {
                stopped = true
                return false
            }
            if holdsReference || isInclude(item) {
                stopped = true
                return false
            }
            let defaults = defaults ?? .builtIn
            let decoded = probe.decodeStage(item, previous: previous, timeout: defaults.timeout, retry: defaults.retry, shell: defaults.shell)
            if !probe.reader.diagnostics.isEmpty {
                diagnostics += probe.reader.diagnostics
                probe.reader.diagnostics.removeAll(keepingCapacity: true)
            }
            if !probe.references.isEmpty {
                references += probe.references
                probe.references.removeAll(keepingCapacity: true)
            }
            // Moved into the list, not copied (a copy retains each field).
            switch consume decoded {
            case .some(let stage):
                previous = stage.id
                stages.append(stage)
            case .none: break
            }
            nodes.append(item)
            return true
        }

        /// Reads the `defaults` and `secrets` written before `stages` with the probe (its
        /// diagnostics are dropped: the pipeline's decoding reports them). False when the file
        /// declares what stages may read besides those (`inputs`, `environments`), or is a stage
        /// file (`kind`).
        mutating func readHead(_ head: MappingEntries) -> Bool {
            var secretsID: NodeID?
            var defaultsID: NodeID?
            for (keyID, valueID) in head {
                if probe.reader.scalar(keyID, is: StageFileKey.kind.rawValue) { return false }
                switch probe.reader.document.withBytes(of: keyID, { PipelineKey.table.key($0) }) {
                case .inputs?, .environments?: return false
                case .secrets?: secretsID = valueID
                case .defaults?: defaultsID = valueID
                default: break
                }
            }
            if let secretsID { _ = probe.decodeSecrets(secretsID) }
            defaults = defaultsID.map { probe.decodeDefaults($0) } ?? .builtIn
            secrets = probe.secretsDeclared
            probe.reader.diagnostics.removeAll()
            probe.references.removeAll()
            return true
        }

        /// Whether the item is an `include` entry (expanded by the pipeline's decoding, which reads files).
        func isInclude(_ item: NodeID) -> Bool {
            let document = probe.reader.document
            return document.entries(of: item).contains { document.scalar($0.key, is: IncludeKey.include.rawValue) }
        }
    }
}
