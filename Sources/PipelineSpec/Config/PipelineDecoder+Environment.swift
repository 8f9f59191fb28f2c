import PipelineYAML

extension PipelineDecoder {
    /// `release:` once inputs are substituted: fixed when the run starts, the same in every environment.
    package mutating func decodeRelease(_ id: NodeID) -> String? {
        guard let text = reader.string(id, "'release'") else { return nil }
        if text.mayHoldReference, text.contains("${{") {
            reader.error(
                reader[id].mark,
                "'release' can read only '${{ inputs.NAME }}': it names what is deployed, fixed when the run starts (pass a git sha with --input)")
            return nil
        }
        if text.trimmingSpaces().isEmpty {
            if !reader.silenced.contains(reader[id].mark) {
                reader.error(reader[id].mark, "'release' is empty; it must name what is deployed (e.g. '${{ inputs.version }}' with --input version=…)")
            }
            return nil
        }
        return text
    }

    /// The chosen environment's description, `requires` and `gate` (added to every stage that
    /// needs no other, so nothing in the environment starts before it passes).
    package mutating func decodeEnvironment(_ id: NodeID, name: String, into pipeline: inout Pipeline, releaseMark: Mark?) -> PipelineEnvironment {
        let label = "environment '\(name)'"
        var environment = PipelineEnvironment(name: name, description: nil, requires: [], env: environmentEnv, mark: reader[id].mark)
        guard let fields = environmentFields else { return environment }
        environment.mark = fields.mark
        environment.description = fields[.description].flatMap { reader.string($0, "'description' of \(label)") }
        if let r = fields[.requires], let items = reader.strings(r, "'requires' of \(label)") {
            var seen = Set<String>()
            for (other, mark) in items {
                if other == name {
                    reader.error(mark, "\(label) cannot require itself")
                } else if !environments.contains(other) {
                    reader.error(mark, "\(label) requires unknown environment '\(other)'" + Suggestion.didYouMean(other, among: environments))
                } else if !seen.insert(other).inserted {
                    reader.error(mark, "\(label) lists '\(other)' twice in 'requires'")
                } else {
                    environment.requires.append(other)
                }
            }
            if !environment.requires.isEmpty, pipeline.release == nil, releaseMark == nil {
                reader.error(
                    fields.mark(of: .requires)!,
                    "\(label) requires runs of the same release in \(quoted(environment.requires)), but the file declares no top-level 'release' (e.g. release: ${{ inputs.version }})"
                )
            }
            if let cycle = requiresCycle(from: name) {
                reader.error(fields.mark(of: .requires)!, "cycle in 'requires': \(cycle.joined(separator: " -> ")); no environment of it could ever start")
            }
        }
        if let g = fields[.gate] {
            let roots = pipeline.stages.indices.filter { pipeline.stages[$0].needs.isEmpty }
            if let gate = decodeGate(g, label: label, stage: roots.first.map { pipeline.stages[$0].id } ?? "") {
                for i in roots {
                    var merged = pipeline.stages[i].gate ?? Gate(approval: nil, window: nil, check: nil, wait: nil)
                    merged.approval = merged.approval ?? gate.approval
                    merged.window = merged.window ?? gate.window
                    merged.check = merged.check ?? gate.check
                    merged.wait = merged.wait ?? gate.wait
                    pipeline.stages[i].gate = merged
                    if pipeline.stages[i].keyMarks["gate"] == nil { pipeline.stages[i].keyMarks["gate"] = fields.mark(of: .gate) }
                }
            }
        }
        return environment
    }

    /// The path back to `start` through the environments' `requires`, read as written, if any.
    func requiresCycle(from start: String) -> [String]? {
        let document = original
        guard let section = document.entries(of: document.root).first(where: { document[$0.key].value == PipelineKey.environments.rawValue })?.value,
            document[section].kind == .mapping
        else { return nil }
        var edges: [String: [String]] = [:]
        for (keyID, valueID) in document.entries(of: section) where document[valueID].kind == .mapping {
            guard let r = document.entries(of: valueID).first(where: { document[$0.key].value == EnvironmentKey.requires.rawValue })?.value,
                document[r].kind == .sequence
            else { continue }
            edges[document[keyID].value] = document.items(of: r).map { document[$0].value }
        }
        var path = [start]
        var visited = Set<String>()
        func walk(_ node: String) -> [String]? {
            for next in edges[node] ?? [] where next != node {
                if next == start { return path + [start] }
                guard visited.insert(next).inserted else { continue }
                path.append(next)
                if let found = walk(next) { return found }
                path.removeLast()
            }
            return nil
        }
        return walk(start)
    }
}
