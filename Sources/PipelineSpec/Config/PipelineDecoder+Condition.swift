import PipelineYAML

extension PipelineDecoder {
    /// A stage's `if:`: parsed and checked now, so a mistake is a located validation error and never
    /// a surprise at run time. `inputs.*`, `environment.*` (and a stage file's `parameters.*`) are
    /// replaced by their values; `env.*` and `stages.ID.outputs.*` are checked like `${{ }}`
    /// references and read when the stage is ready.
    package mutating func decodeCondition(_ id: NodeID, label: String, stage: String) -> StageCondition? {
        let what = "'if' of \(label)"
        guard let text = reader.string(id, what) else { return nil }
        if text.mayHoldReference, let open = text.range(of: "${{") {
            reader.error(
                markInside(id, offset: text.distance(from: text.startIndex, to: open.lowerBound)),
                "\(what): write the expression without '${{ }}', e.g. if: inputs.mode == 'maintenance'")
            return nil
        }
        if text.trimmingSpaces().isEmpty {
            reader.error(reader[id].mark, "\(what) is empty; write an expression, e.g. if: environment.name == 'production'")
            return nil
        }
        // Names first (resolving them may report problems), then the parse over what they stand for.
        var resolved: [Int: ConditionParser.Resolved] = [:]
        var ok = true
        if case .success(let tokens) = ConditionParser.lex(text) {
            for (token, offset) in tokens {
                guard case .name(let name) = token, name != "true", name != "false" else { continue }
                if let value = resolveConditionName(name, at: markInside(id, offset: offset), what: what, stage: stage) {
                    resolved[offset] = value
                } else {
                    ok = false
                }
            }
        }
        let table = resolved
        let (expression, problems) = ConditionParser.parse(text) { _, offset in table[offset] }
        for problem in problems { reader.error(markInside(id, offset: problem.offset), "\(what): \(problem.message)") }
        guard ok, let expression else { return nil }
        return StageCondition(text: text, expression: expression, mark: reader[id].mark)
    }

    /// What a name of an expression stands for; nil (reported) when it names nothing.
    mutating func resolveConditionName(_ name: String, at mark: Mark, what: String, stage: String) -> ConditionParser.Resolved? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let alone = scope != nil && scope?.values == nil
        switch parts[0] {
        case "inputs" where parts.count == 2:
            if alone { return .reference(.unresolved(name)) }
            guard let input = inputs.first(where: { $0.name == parts[1] }), case .text(let value, _)? = statics["inputs." + parts[1]] else {
                let names = inputs.map(\.name)
                reader.error(
                    mark,
                    "\(what): '\(name)' names no declared input"
                        + (names.isEmpty ? "; declare it under the top-level 'inputs'" : Suggestion.didYouMean(parts[1], among: names)))
                return nil
            }
            switch input.type {
            case .boolean: return .value(.boolean(value == "true"))
            case .number: return .value(Double(value).map(ConditionValue.number) ?? .string(value))
            default: return .value(.string(value))
            }
        case "environment":
            if alone { return .reference(.unresolved(name)) }
            switch lookup(name, context: .anywhere) {
            case .success(.text(let value, let style)):
                if style == .plain, value == "true" || value == "false" { return .value(.boolean(value == "true")) }
                if style == .plain, let number = Double(value), number.isFinite { return .value(.number(number)) }
                return .value(.string(value))
            case .success(.node):
                reader.error(mark, "\(what): '\(name)' is a list or mapping; a condition compares single values")
                return nil
            case .failure(let problem):
                reader.error(mark, "\(what): \(Self.withoutBraces(problem.message))")
                return nil
            }
        case "parameters" where parts.count == 2 && scope != nil:
            guard checkParameter(parts[1], at: mark, what: what, inParameter: false) else { return nil }
            guard let value = scope?.values?[parts[1]] else { return .reference(.unresolved(name)) }
            guard value.references.isEmpty else {
                reader.error(
                    mark, "\(what): parameter '\(parts[1])' is '\(value.raw)', which reads '${{ }}'; a condition compares values known when the file is read")
                return nil
            }
            return .value(.string(value.raw))
        case "env" where parts.count == 2 && Self.isEnvName(parts[1]):
            references.append(PendingReference(reference: .env(parts[1]), mark: mark, stage: stage, origin: scope?.origin, inCondition: true))
            return .reference(.env(parts[1]))
        case "stages" where parts.count == 4 && parts[2] == "outputs" && !parts[1].isEmpty && !parts[3].isEmpty:
            let producer = scoped(parts[1])
            references.append(
                PendingReference(reference: .output(stage: producer, name: parts[3]), mark: mark, stage: stage, origin: scope?.origin, inCondition: true))
            return .reference(.output(stage: producer, name: parts[3]))
        case "secrets":
            reader.error(mark, "\(what): a condition cannot read secrets (whether a stage ran would tell something about the value)")
            return nil
        default:
            reader.error(
                mark,
                "\(what): unknown name '\(name)'; a condition reads inputs.NAME, environment.name, environment.env.NAME, environment.vars.NAME, env.NAME or stages.ID.outputs.NAME"
                    + (scope != nil ? " (and parameters.NAME in a stage file)" : ""))
            return nil
        }
    }

    /// A message about a `${{ name }}` reference, reworded for a condition, where names are written bare.
    package static func withoutBraces(_ message: String) -> String {
        message.replacingAll("'${{ ", with: "'").replacingAll(" }}'", with: "'")
    }
}
