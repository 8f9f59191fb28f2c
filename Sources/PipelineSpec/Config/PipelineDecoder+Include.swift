import PipelineYAML

/// The settings a stage takes from its pipeline unless it sets its own (`defaults`).
package struct StageDefaults {
    package var timeout: TimeSpan
    package var retry: RetryPolicy
    package var shell: [String]
}

/// How the stages of a stage file are read: the prefix of their ids and the parameters' values.
package struct StageFileScope {
    /// Prepended with `-` to every stage id the file writes, in ids, `needs` and output references.
    package var prefix: String?
    /// The parameters the file declares, in order.
    package var declared: [String]
    /// Their values, by name; nil when the file is checked alone (`parameters.*` stays unresolved).
    package var values: [String: Template]?
    /// Where its stages come from; nil when the file is checked alone (it is the file itself).
    package var origin: StageOrigin?
}

extension PipelineDecoder {
    /// The `kind` key of a stage file's top level (`kind: stages`), nil for any other file.
    package static func stageFileMarker(_ document: YAMLDocument) -> NodeID? {
        guard document[document.root].kind == .mapping else { return nil }
        for (key, value) in document.entries(of: document.root) where document.scalar(key, is: StageFileKey.kind.rawValue) {
            return document.scalar(value, is: "stages") ? key : nil
        }
        return nil
    }

    /// A list of stages and `include` entries, in order; a stage without `needs` needs the one
    /// listed before it (after an include: the included file's last stage).
    package mutating func decodeStageList(_ items: ArraySlice<NodeID>, previous: String?, defaults: StageDefaults) -> [Stage] {
        var stages: [Stage] = []
        stages.reserveCapacity(items.count)
        HugePages.advise(capacityOf: &stages)
        var previous = previous
        for item in items {
            if reader[item].kind == .mapping, isIncludeEntry(item) {
                let included = decodeInclude(item, previous: previous, defaults: defaults)
                stages += included
                previous = included.last?.id ?? previous
            } else if decodeStage(item, previous: previous, timeout: defaults.timeout, retry: defaults.retry, shell: defaults.shell, into: &stages) {
                previous = stages[stages.count - 1].id
            }
        }
        guard scope != nil else { return stages }
        // A stage file is self-contained: its stages need each other only (the include entry's
        // `needs` connect it to the pipeline), so it reads the same wherever it is included.
        let ids = Set(stages.map(\.id))
        for i in stages.indices where stages[i].origin == scope?.origin && stages[i].needsWritten {
            var kept: [(String, Mark)] = []
            for (need, mark) in zip(stages[i].needs, stages[i].needMarks) {
                if ids.contains(need) {
                    kept.append((need, mark))
                } else {
                    let written = scope?.prefix.map { String(need.dropFirst($0.count + 1)) } ?? need
                    reader.error(
                        mark,
                        "stage '\(stages[i].id)' needs '\(written)', which is not a stage of this file; a stage file's stages need only each other (give the 'include' entry 'needs' instead)"
                            + Suggestion.didYouMean(need, among: stages.map(\.id)))
                }
            }
            stages[i].needs = kept.map(\.0)
            stages[i].needMarks = kept.map(\.1)
        }
        return stages
    }

    /// Whether a mapping item of `stages` has the key `include`. Keys are told apart by their
    /// length first (few are 7 bytes long), without a call per key.
    private func isIncludeEntry(_ item: NodeID) -> Bool {
        let length = IncludeKey.include.rawValue.utf8.count
        for (key, _) in reader.document.entries(of: item) where reader[key].byteCount == length {
            if reader.scalar(key, is: IncludeKey.include.rawValue) { return true }
        }
        return false
    }

    /// Expands `- include: PATH` (with `prefix`, `with`, `needs`): reads the stage file, checks it
    /// as strictly as the pipeline file, and returns its stages with their final ids.
    package mutating func decodeInclude(_ item: NodeID, previous: String?, defaults: StageDefaults) -> [Stage] {
        guard let fields = reader.fields(item, "an 'include' entry", IncludeKey.self), let pathID = fields[.include],
            let written = reader.string(pathID, "'include'")
        else { return [] }
        let what = "the include of '\(written)'"
        let pathMark = reader[pathID].mark
        if written.isEmpty || written.hasPrefix("/") {
            reader.error(pathMark, "'include' must be a path relative to this file, found '\(written)'")
            return []
        }
        var prefix = scope?.prefix
        if let p = fields[.prefix], let value = reader.string(p, "'prefix' of \(what)") {
            if Self.isStageID(value) {
                prefix = scoped(value)
            } else {
                reader.error(reader[p].mark, "'prefix' of \(what) must match [a-z0-9][a-z0-9_-]*, found '\(value)'")
            }
        }
        var entryNeeds: [(String, Mark)] = previous.map { [($0, fields.mark)] } ?? []
        var needsWritten = false
        if let n = fields[.needs], let items = reader.strings(n, "'needs' of \(what)") {
            entryNeeds = items.map { (scoped($0.0), $0.1) }
            needsWritten = true
            var seen = Set<String>()
            for (need, mark) in items where !seen.insert(need).inserted {
                reader.error(mark, "\(what) lists '\(need)' twice in 'needs'")
            }
        }
        guard let reading = includeReading else {
            reader.error(pathMark, "'include' cannot be used here")
            return []
        }
        reading.expansions += 1
        if reading.expansions > FormatLimits.maxIncludes {
            if reading.expansions == FormatLimits.maxIncludes + 1 {
                reader.error(
                    pathMark,
                    "more than \(FormatLimits.maxIncludes) 'include' entries are expanded for this pipeline; the limit bounds the work a file can ask for")
            }
            return []
        }
        let path = IncludeReading.resolve(written, from: reader.path)
        if let start = chain.firstIndex(of: path) {
            reader.error(pathMark, "include cycle: \((chain[start...] + [path]).joined(separator: " -> "))")
            return []
        }
        if chain.count >= FormatLimits.maxIncludeDepth {
            reader.error(pathMark, "includes nest deeper than \(FormatLimits.maxIncludeDepth) files: \((chain + [path]).joined(separator: " -> "))")
            return []
        }
        let site = IncludeSite(path: reader.path, mark: fields.mark)
        let includedFrom = [site] + reader.includedFrom
        let document: YAMLReader.Result
        switch reading.load(path) {
        case .unreadable(let message):
            reader.error(pathMark, "cannot include '\(written)'" + (path == written ? "" : " (\(path))") + ": \(message)")
            return []
        case .invalid(let problem):
            reader.diagnostics.append(Diagnostic(.error, path: path, mark: problem.mark, message: problem.message, includedFrom: includedFrom))
            return []
        case .document(let result):
            document = result
        }
        var sub = PipelineDecoder(document: document.document, path: path, includedFrom: includedFrom, choice: choice)
        sub.includeReading = reading
        sub.chain = chain + [path]
        sub.secretsDeclared = secretsDeclared
        for duplicate in document.duplicates { sub.reader.error(duplicate.mark, duplicate.message) }
        let origin = StageOrigin(path: path, includedFrom: includedFrom)
        // `${{ inputs.* }}` and `${{ environment.* }}` read the including pipeline's, as in its own file.
        sub.inputs = inputs
        sub.environments = environments
        sub.statics = statics
        sub.scope = StageFileScope(prefix: prefix, declared: [], values: [:], origin: origin)
        sub.substitute(sub.reader.document.root, context: .anywhere)
        let declared = sub.decodeParameters()
        // The values: what `with` gives (read here, in the including file), else the default.
        var values: [String: Template] = [:]
        var given: [String: Template] = [:]
        var named = Set<String>()
        if let w = fields[.with] {
            if reader[w].kind == .mapping {
                for (keyID, valueID) in reader.document.entries(of: w) {
                    let name = reader.value(keyID)
                    named.insert(name)
                    guard declared.contains(where: { $0.name == name }) else {
                        let names = declared.map(\.name)
                        reader.error(
                            reader[keyID].mark,
                            "'\(written)' declares no parameter '\(name)'"
                                + (names.isEmpty ? "; it declares none" : Suggestion.didYouMean(name, among: names)))
                        continue
                    }
                    guard reader[valueID].kind == .scalar else {
                        reader.mismatch(valueID, "parameter '\(name)' of \(what)", expected: "a scalar value")
                        continue
                    }
                    if let value = template(valueID, "parameter '\(name)' of \(what)", stage: nil, inParameter: true) { given[name] = value }
                }
            } else {
                reader.mismatch(w, "'with' of \(what)", expected: "a mapping of parameter: value")
            }
        }
        var missing = false
        for parameter in declared {
            if let value = given[parameter.name] ?? parameter.default {
                values[parameter.name] = value
            } else if !named.contains(parameter.name) {
                reader.error(fields.mark, "\(what) does not give parameter '\(parameter.name)', which has no default; set it in 'with'")
                missing = true
            }
        }
        sub.scope = StageFileScope(prefix: prefix, declared: declared.map(\.name), values: missing ? nil : values, origin: origin)
        var stages = sub.decodeStageFileBody(defaults: defaults)
        reader.diagnostics += sub.reader.diagnostics
        references += sub.references
        includes += sub.includes
        for i in stages.indices where stages[i].needs.isEmpty {
            stages[i].needs = entryNeeds.map(\.0)
            stages[i].needMarks = entryNeeds.map(\.1)
            stages[i].needsWritten = false
        }
        includes.append(
            IncludeRecord(
                path: path, site: site, includedFrom: reader.includedFrom, prefix: prefix,
                parameters: declared.compactMap { p in values[p.name].map { (p.name, $0.raw) } },
                needs: needsWritten ? entryNeeds : [], stages: stages.map(\.id)))
        return stages
    }

    /// The parameters a stage file declares (`parameters: NAME: {description, default}`), with their
    /// defaults; read before its stages, since the include's values are checked against them.
    package mutating func decodeParameters() -> [(name: String, default: Template?)] {
        let root = reader.document.root
        guard reader[root].kind == .mapping,
            let entry = reader.document.entries(of: root).first(where: { reader.scalar($0.key, is: StageFileKey.parameters.rawValue) })
        else { return [] }
        guard reader[entry.value].kind == .mapping else {
            reader.mismatch(entry.value, "'parameters'", expected: "a mapping of NAME: {description, default}")
            return []
        }
        var out: [(name: String, default: Template?)] = []
        for (keyID, valueID) in reader.document.entries(of: entry.value) {
            let name = reader.value(keyID)
            guard Self.isEnvName(name) else {
                reader.error(reader[keyID].mark, "parameter '\(name)' must match [A-Za-z_][A-Za-z0-9_]*")
                continue
            }
            var value: Template?
            if reader.isNull(valueID) {
                // `NAME:` alone: required, no description.
            } else if let fields = reader.fields(valueID, "parameter '\(name)'", ParameterKey.self) {
                _ = fields[.description].flatMap { reader.string($0, "'description' of parameter '\(name)'") }
                if let d = fields[.default] {
                    value = template(d, "'default' of parameter '\(name)'", stage: nil, inParameter: true)
                    if value == nil { continue }
                }
            }
            out.append((name, value))
        }
        return out
    }

    /// The top level of a stage file: `version: 1`, `kind: stages`, `stages`, and optionally
    /// `description` and `parameters` (read by ``decodeParameters()``).
    package mutating func decodeStageFileBody(defaults: StageDefaults) -> [Stage] {
        let root = reader.document.root
        guard reader[root].kind == .mapping else {
            reader.error(reader[root].mark, "a stage file must be a mapping with 'version', 'kind: stages' and 'stages', found \(reader.describe(root))")
            return []
        }
        guard let top = reader.fields(root, "the stage file", StageFileKey.self) else { return [] }
        reader.require(top, [.version, .kind, .stages], in: "the stage file")
        if let id = top[.version], !(reader[id].style == .plain && reader.scalar(id, is: "1")) {
            let written = reader.value(id)
            reader.error(reader[id].mark, "unsupported version '\(written.isEmpty ? reader.describe(id) : written)'; supported versions: 1")
        }
        if let id = top[.kind], !reader.scalar(id, is: "stages") {
            reader.error(reader[id].mark, "'kind' of a stage file must be 'stages', found '\(reader.value(id))'")
        }
        _ = top[.description].flatMap { reader.string($0, "'description'") }
        guard let id = top[.stages], let items = reader.list(id, "'stages'") else { return [] }
        if items.isEmpty { reader.error(reader[id].mark, "'stages' is empty; a stage file needs at least one stage") }
        return decodeStageList(items, previous: nil, defaults: defaults)
    }

    /// A stage file checked alone (`pipeline validate stages.yml`): its parameters stay unresolved,
    /// and the pipeline's defaults are the built-in ones.
    package mutating func decodeStageFileAlone() -> Pipeline {
        // Alone, no input or environment is known: values that read them are left to the including pipeline.
        scope = StageFileScope(prefix: nil, declared: [], values: nil, origin: nil)
        substitute(reader.document.root, context: .anywhere)
        let declared = decodeParameters()
        scope = StageFileScope(prefix: nil, declared: declared.map(\.name), values: nil, origin: nil)
        let defaults = StageDefaults(timeout: Self.defaultTimeout, retry: .none, shell: Self.defaultShell)
        let stages = decodeStageFileBody(defaults: defaults)
        return Pipeline(
            version: 1, name: "", description: nil, env: [], secrets: [], shell: Self.defaultShell, stages: stages, path: reader.path,
            includes: includes)
    }

    // MARK: - Names inside a stage file

    /// A stage id as written in this file, with the file's prefix.
    package func scoped(_ id: String) -> String {
        guard let prefix = scope?.prefix else { return id }
        return prefix + "-" + id
    }

    /// A reference as written in this file: an output of one of its stages gets the prefix.
    package func scoped(_ reference: Reference) -> Reference {
        if case .output(let stage, let name) = reference { return .output(stage: scoped(stage), name: name) }
        return reference
    }

    /// Whether `parameters.NAME` may be read here; reports why not.
    mutating func checkParameter(_ name: String, at mark: Mark, what: String, inParameter: Bool) -> Bool {
        guard let scope else {
            reader.error(mark, "\(what): '${{ parameters.\(name) }}' is read only in a stage file ('kind: stages') that a pipeline includes")
            return false
        }
        if inParameter {
            reader.error(mark, "\(what): a parameter's value cannot read another parameter")
            return false
        }
        guard scope.declared.contains(name) else {
            let hint = Suggestion.didYouMean(name, among: scope.declared)
            reader.error(mark, "\(what): '${{ parameters.\(name) }}' names no parameter of this file" + (hint.isEmpty ? "; declare it in 'parameters'" : hint))
            return false
        }
        return true
    }

    /// The template with this file's parameters replaced by their values and its output references
    /// prefixed; the text as written when nothing changes.
    mutating func scopedTemplate(_ parsed: Template, _ id: NodeID, what: @autoclosure () -> String) -> Template? {
        guard let scope, parsed.parts.contains(where: { if case .reference = $0 { return true } else { return false } }) else { return parsed }
        var parts: [Template.Part] = []
        var changed = false
        for part in parsed.parts {
            switch part {
            case .reference(.parameter(let name)):
                guard let value = scope.values?[name] else {
                    parts.append(part)
                    continue
                }
                parts += value.parts
                changed = true
            case .reference(let reference):
                let renamed = scoped(reference)
                changed = changed || renamed != reference
                parts.append(.reference(renamed))
            case .literal:
                parts.append(part)
            }
        }
        guard changed else { return parsed }
        let raw = parts.map { part -> String in
            switch part {
            case .literal(let text): return text
            case .reference(let reference): return "${{ \(reference) }}"
            }
        }.joined()
        let reparsed = Template.parse(raw)
        guard reparsed.1.isEmpty, reparsed.0.references == parts.compactMap({ if case .reference(let r) = $0 { return r } else { return nil } }) else {
            // A value ending in `$` before text starting with `{{`, say: the engine would read another reference.
            reader.error(reader[id].mark, "\(what()): with its parameters replaced it reads '\(raw)', which holds a '${{' that was not written as a reference")
            return nil
        }
        return Template(parts: reparsed.0.parts, raw: raw)
    }
}
