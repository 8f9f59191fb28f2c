import PipelineSpec
/// How a pipeline file's stages differ from those a run recorded when it started: what `resume`
/// says before refusing a changed file, and what `--force` applies (records matched by stage id).
struct StageChanges {
    var added: [String] = []
    var removed: [String] = []
    /// Stages present in both whose order among the common stages changed.
    var moved: [String] = []
    /// Stages present in both whose recorded definition (script, rollback, shell, env, …) changed.
    var edited: [String] = []

    init(recorded run: RunState, now pipeline: Pipeline) {
        let old = run.definition.stages.map(\.id)
        let new = pipeline.stages.map(\.id)
        added = new.filter { !old.contains($0) }
        removed = old.filter { !new.contains($0) }
        let commonOld = old.filter { new.contains($0) }
        let commonNew = new.filter { old.contains($0) }
        moved = zip(commonOld, commonNew).filter { $0 != $1 }.map(\.1)
        let now = RunDefinition(pipeline)
        edited = commonNew.filter { id in
            guard let a = run.definition.stage(id), let b = now.stage(id) else { return false }
            return a.json != b.json
        }
    }

    /// `stage 'migrate' added; 'build' removed (it stays in the record and is still rolled back)`.
    var summary: String {
        var parts: [String] = []
        func list(_ ids: [String]) -> String { ids.map { "'\($0)'" }.joined(separator: ", ") }
        if !added.isEmpty { parts.append("added \(list(added))") }
        if !removed.isEmpty { parts.append("removed \(list(removed)) (kept in the record: still rolled back if applied)") }
        if !moved.isEmpty { parts.append("reordered \(list(moved))") }
        if !edited.isEmpty { parts.append("changed \(list(edited))") }
        return parts.isEmpty ? "no stage added, removed, reordered or changed" : "stages " + parts.joined(separator: "; ")
    }
}
