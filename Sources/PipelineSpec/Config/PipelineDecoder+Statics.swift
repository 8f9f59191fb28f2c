import PipelineYAML

/// What a static reference (`${{ inputs.* }}`, `${{ environment.* }}`) stands for: text with the
/// style it is read with (a string input is quoted, so `true` stays a string; a number is plain),
/// or a whole node (a list or mapping of an environment's `vars`).
package enum StaticValue {
    case text(String, ScalarStyle)
    case node(NodeID)
}

/// The `--env` and `--input` choices of one load.
package struct StaticChoice {
    /// The environment chosen with `--env`.
    package var environment: String?
    /// `--input NAME=VALUE`, in the order given.
    package var inputs: [(name: String, value: String)]
}

extension PipelineDecoder {
    /// The names of the environments a document declares, in the order written (no checks).
    package static func environmentNames(_ document: YAMLDocument) -> [String] {
        let root = document.root
        guard document[root].kind == .mapping,
            let section = document.entries(of: root).first(where: { document[$0.key].value == PipelineKey.environments.rawValue })?.value,
            document[section].kind == .mapping
        else { return [] }
        return document.entries(of: section).map { document[$0.key].value }
    }

    /// Reads `inputs` and `environments`, takes the chosen environment and the input values, and
    /// substitutes every static reference in the rest of the document, so typed fields read the
    /// values and their errors stay located at the scalar that used them.
    /// - Returns: false when the choice itself is wrong (then nothing else is read).
    package mutating func resolveStatics(_ top: Fields<PipelineKey>) -> Bool {
        inputs = top[.inputs].map { decodeInputs($0) } ?? []
        var environmentNode: NodeID?
        if let section = top[.environments] {
            guard let declared = decodeEnvironmentNames(section) else { return false }
            environments = declared.map(\.name)
            guard let chosen = choice.environment else {
                reader.error(
                    top.mark(of: .environments)!,
                    "this file declares environments \(quoted(environments)): choose one with --env NAME")
                return false
            }
            guard let found = declared.first(where: { $0.name == chosen }) else {
                reader.error(
                    top.mark(of: .environments)!,
                    "--env '\(chosen)': no environment '\(chosen)' is declared; declared: \(quoted(environments))"
                        + Suggestion.didYouMean(chosen, among: environments))
                return false
            }
            environmentNode = found.node
            statics["environment.name"] = .text(chosen, .doubleQuoted)
        } else if let chosen = choice.environment {
            reader.error(top.mark, "--env '\(chosen)': this file declares no 'environments'")
            return false
        }
        environmentFields = environmentNode.flatMap { reader.fields($0, "environment '\(choice.environment!)'", EnvironmentKey.self) }
        guard resolveInputs(top, environment: environmentFields) else { return false }

        // The environment first (it may read inputs), then what it declares is known to the rest.
        if let fields = environmentFields {
            for entry in fields.entries where entry.key != .inputs { substitute(entry.value, context: .environments) }
            collectEnvironmentValues(fields)
        }
        for (keyID, valueID) in reader.document.entries(of: reader.document.root) {
            guard let key = PipelineKey(rawValue: reader[keyID].value) else { continue }
            switch key {
            case .version, .name, .inputs, .environments: continue
            case .release: substitute(valueID, context: .release)
            default: substitute(valueID, context: .anywhere)
            }
        }
        return true
    }

    /// Where a static reference is written: `environment.*` is not available everywhere.
    package enum StaticContext {
        case anywhere, release, environments
    }

    // MARK: - Declarations

    package mutating func decodeInputs(_ id: NodeID) -> [PipelineInput] {
        guard reader[id].kind == .mapping else {
            reader.mismatch(id, "'inputs'", expected: "a mapping of NAME: {type, default, required, description}")
            return []
        }
        var result: [PipelineInput] = []
        for (keyID, valueID) in reader.document.entries(of: id) {
            let name = reader[keyID].value
            let mark = reader[keyID].mark
            if !Self.isInputName(name) {
                reader.error(mark, "input name '\(name)' must match [A-Za-z_][A-Za-z0-9_-]*")
                continue
            }
            let label = "input '\(name)'"
            guard let fields = reader.fields(valueID, label, InputKey.self) else { continue }
            var input = PipelineInput(name: name, description: nil, type: .string, defaultValue: nil, required: false, mark: mark)
            input.description = fields[.description].flatMap { reader.string($0, "'description' of \(label)") }
            if let t = fields[.type], let text = reader.string(t, "'type' of \(label)") {
                let names = PipelineInput.ValueType.allCases.map(\.rawValue)
                if let type = PipelineInput.ValueType(rawValue: text) {
                    input.type = type
                } else {
                    reader.error(
                        reader[t].mark,
                        "unknown type '\(text)' of \(label); expected one of: \(names.joined(separator: ", "))" + Suggestion.didYouMean(text, among: names))
                }
            }
            if let r = fields[.required], let value = reader.bool(r, "'required' of \(label)") { input.required = value }
            if let d = fields[.default], let value = reader.string(d, "'default' of \(label)") {
                if let problem = input.type.problem(value) {
                    reader.error(reader[d].mark, "'default' of \(label) (\(input.type.rawValue)): \(problem)")
                } else if value.contains("${{") {
                    reader.error(reader[d].mark, "'default' of \(label) cannot hold '${{ … }}'; an input's value is used as written")
                } else {
                    input.defaultValue = value
                }
                if input.required {
                    reader.error(fields.mark(of: .required)!, "\(label) has a 'default', so it is never missing; drop 'required: true'")
                }
            } else if !input.required, input.type != .string, fields[.default] == nil {
                reader.error(mark, "\(label) of type \(input.type.rawValue) needs a 'default' or 'required: true'")
            }
            result.append(input)
        }
        return result
    }

    /// The declared environments (each a mapping); nil when the section cannot be read at all.
    package mutating func decodeEnvironmentNames(_ id: NodeID) -> [(name: String, node: NodeID)]? {
        guard reader[id].kind == .mapping else {
            reader.mismatch(id, "'environments'", expected: "a mapping of NAME: {description, env, vars, inputs, gate, requires}")
            return nil
        }
        var result: [(name: String, node: NodeID)] = []
        for (keyID, valueID) in reader.document.entries(of: id) {
            let name = reader[keyID].value
            if !Self.isStageID(name) {
                reader.error(reader[keyID].mark, "environment name '\(name)' must match [a-z0-9][a-z0-9_-]* and be at most 63 characters")
                return nil
            }
            result.append((name, valueID))
        }
        if result.isEmpty {
            reader.error(reader[id].mark, "'environments' is empty; declare at least one, or remove the key")
            return nil
        }
        return result
    }

    /// Every input's value: `--input`, else the environment's `inputs`, else the default.
    mutating func resolveInputs(_ top: Fields<PipelineKey>, environment: Fields<EnvironmentKey>?) -> Bool {
        let names = inputs.map(\.name)
        let anchor = top.mark(of: .inputs) ?? top.mark
        var values: [String: String] = [:]
        var ok = true
        if let e = environment?[.inputs] {
            let what = "'inputs' of environment '\(choice.environment!)'"
            if reader[e].kind != .mapping {
                reader.mismatch(e, what, expected: "a mapping of INPUT: value")
            } else {
                for (keyID, valueID) in reader.document.entries(of: e) {
                    let name = reader[keyID].value
                    guard let input = inputs.first(where: { $0.name == name }) else {
                        reader.error(reader[keyID].mark, "\(what) sets '\(name)', which is not a declared input" + Suggestion.didYouMean(name, among: names))
                        continue
                    }
                    guard let value = reader.string(valueID, "'\(name)' in \(what)") else { continue }
                    if let problem = input.type.problem(value) {
                        reader.error(reader[valueID].mark, "'\(name)' in \(what) (\(input.type.rawValue)): \(problem)")
                    } else if value.contains("${{") {
                        reader.error(reader[valueID].mark, "'\(name)' in \(what) cannot hold '${{ … }}'; an input's value is used as written")
                    } else {
                        values[name] = value
                    }
                }
            }
        }
        var given = Set<String>()
        for (name, value) in choice.inputs {
            guard let input = inputs.first(where: { $0.name == name }) else {
                reader.error(
                    anchor,
                    "--input '\(name)': no input '\(name)' is declared"
                        + (names.isEmpty ? " (this file declares no 'inputs')" : "; declared: \(quoted(names))") + Suggestion.didYouMean(name, among: names))
                ok = false
                continue
            }
            if !given.insert(name).inserted {
                reader.error(input.mark, "--input '\(name)' is given twice")
                ok = false
            } else if let problem = input.type.problem(value) {
                reader.error(input.mark, "--input \(name)=\(value): input '\(name)' is a \(input.type.rawValue); \(problem)")
                ok = false
            } else if value.contains("${{") {
                reader.error(input.mark, "--input '\(name)': a value cannot hold '${{ … }}'; it is used as written")
                ok = false
            } else {
                values[name] = value
            }
        }
        for input in inputs {
            if values[input.name] == nil, let value = input.defaultValue { values[input.name] = value }
            if values[input.name] == nil, input.required {
                reader.error(
                    input.mark,
                    "input '\(input.name)' is required: give it with --input \(input.name)=VALUE"
                        + (environments.isEmpty ? "" : " or in the environment's 'inputs'"))
                ok = false
            }
            let value = values[input.name] ?? ""
            inputValues.append((input.name, value))
            statics["inputs." + input.name] = .text(value, input.type == .string ? .doubleQuoted : .plain)
        }
        return ok
    }

    /// What `${{ environment.env.X }}` and `${{ environment.vars.X }}` stand for.
    mutating func collectEnvironmentValues(_ fields: Fields<EnvironmentKey>) {
        let name = choice.environment!
        if let e = fields[.env] {
            environmentEnv = decodeEnv(e, what: "'env' of environment '\(name)'", stage: nil)
            for entry in environmentEnv { statics["environment.env." + entry.name] = .text(entry.value.raw, .doubleQuoted) }
        }
        if let v = fields[.vars] {
            guard reader[v].kind == .mapping else {
                reader.mismatch(v, "'vars' of environment '\(name)'", expected: "a mapping of NAME: value")
                return
            }
            for (keyID, valueID) in reader.document.entries(of: v) {
                let key = reader[keyID]
                guard Self.isInputName(key.value) else {
                    reader.error(key.mark, "var name '\(key.value)' of environment '\(name)' must match [A-Za-z_][A-Za-z0-9_-]*")
                    continue
                }
                let node = reader[valueID]
                statics["environment.vars." + key.value] = node.kind == .scalar ? .text(node.value, node.style) : .node(valueID)
            }
        }
    }

    // MARK: - Substitution

    package mutating func substitute(_ id: NodeID, context: StaticContext) {
        // No scalar of the file holds `${{`: there is nothing to substitute anywhere in it.
        guard reader.document.mayHoldReferences else { return }
        let node = reader[id]
        switch node.kind {
        case .mapping:
            let entries = reader.document.entries(of: id)
            // A stage's `if:` reads inputs and the environment by name, never through `${{ }}` (see PipelineDecoder+Condition).
            let isStage = entries.contains {
                let key = reader[$0.key].value
                return key == StageKey.id.rawValue || key == IncludeKey.include.rawValue
            }
            for (key, value) in entries where !(isStage && reader[key].value == StageKey.if.rawValue) { substitute(value, context: context) }
        case .sequence:
            for item in reader.document.items(of: id) { substitute(item, context: context) }
        case .scalar:
            if node.value.mayHoldReference, node.value.contains("${{") { substituteScalar(id, context: context) }
        }
    }

    mutating func substituteScalar(_ id: NodeID, context: StaticContext) {
        let node = reader[id]
        let text = node.value
        let trimmed = text.trimmingSpaces()
        var out = ""
        var references = 0
        var resolved: StaticValue?
        var failed = false
        var rest = text[...]
        while let open = rest.range(of: "${{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                rest = rest[open.lowerBound...]
                break
            }
            let expression = rest[open.upperBound..<close.lowerBound].trimmingSpaces()
            let offset = text.distance(from: text.startIndex, to: open.lowerBound)
            let head = expression.prefix { $0 != "." }
            guard head == "inputs" || head == "environment" else {
                out += rest[open.lowerBound..<close.upperBound]
                rest = rest[close.upperBound...]
                continue
            }
            references += 1
            switch lookup(expression, context: context) {
            case .success(let value):
                resolved = value
                switch value {
                case .text(let v, _): out += v
                case .node:
                    let whole = trimmed.hasPrefix("${{") && trimmed.range(of: "}}")?.upperBound == trimmed.endIndex
                    if !whole {
                        reader.error(
                            markInside(id, offset: offset), "'${{ \(expression) }}' is a list or mapping: it can only be a whole value, not part of a text")
                        failed = true
                    }
                }
            case .failure(let problem):
                // A stage file checked alone knows no inputs or environment: the value is checked where it is included.
                if scope?.values != nil || scope == nil { reader.error(markInside(id, offset: offset), problem.message) }
                failed = true
            }
            rest = rest[close.upperBound...]
        }
        out += rest
        guard references > 0 else { return }
        if failed {
            reader.silenced.insert(node.mark)
            reader.document.setScalar(id, value: "", style: .doubleQuoted)
            return
        }
        reader.substituted[node.mark] = trimmed
        let whole = references == 1 && trimmed.hasPrefix("${{") && trimmed.range(of: "}}")?.upperBound == trimmed.endIndex
        switch (whole, resolved) {
        case (true, .node(let source)?): reader.document.replace(id, with: source)
        case (true, .text(let value, let style)?): reader.document.setScalar(id, value: value, style: style)
        default: reader.document.setScalar(id, value: out, style: node.style)
        }
    }

    package struct StaticProblem: Error { var message: String }

    mutating func lookup(_ expression: String, context: StaticContext) -> Result<StaticValue, StaticProblem> {
        let parts = expression.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts[0] == "inputs" {
            guard parts.count == 2, !parts[1].isEmpty else { return .failure(.init(message: "'\(expression)' is not a reference; write 'inputs.NAME'")) }
            if let value = statics["inputs." + parts[1]] { return .success(value) }
            let names = inputs.map(\.name)
            return .failure(
                .init(
                    message: "'${{ inputs.\(parts[1]) }}' names no declared input"
                        + (names.isEmpty ? "; declare it under the top-level 'inputs'" : Suggestion.didYouMean(parts[1], among: names))))
        }
        switch context {
        case .environments:
            return .failure(.init(message: "'${{ \(expression) }}' cannot be read inside 'environments'; write the value itself"))
        case .release:
            return .failure(
                .init(message: "'release' cannot read '\(expression)': a release must be named the same in every environment it is promoted through"))
        case .anywhere:
            break
        }
        guard let environment = choice.environment, !environments.isEmpty else {
            return .failure(.init(message: "'${{ \(expression) }}' reads the environment, but this file declares no 'environments'"))
        }
        switch (parts.count, parts.count > 1 ? parts[1] : "") {
        case (2, "name"):
            return .success(statics["environment.name"]!)
        case (3, "env"), (3, "vars"):
            let kind = parts[1]
            if let value = statics["environment.\(kind)." + parts[2]] { return .success(value) }
            let prefix = "environment.\(kind)."
            let known = statics.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
            return .failure(
                .init(
                    message: "environment '\(environment)' declares no '\(parts[2])' in its '\(kind)'"
                        + Suggestion.didYouMean(parts[2], among: known)))
        default:
            let close = parts.count == 2 ? Suggestion.closest(parts[1], among: ["name"]).map { "; did you mean 'environment.\($0)'?" } ?? "" : ""
            return .failure(
                .init(message: "'\(expression)' is not a reference; use 'environment.name', 'environment.env.NAME' or 'environment.vars.NAME'" + close))
        }
    }

    func quoted(_ names: [String]) -> String {
        names.sorted().map { "'\($0)'" }.joined(separator: ", ")
    }

    package static func isInputName(_ s: String) -> Bool {
        guard let first = s.utf8.first, !(first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")), first != UInt8(ascii: "-") else { return false }
        return s.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
                || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }
}
