extension PlanRenderer {
    /// What the plan was rendered for — the environment, what it requires, the release and every
    /// input's value — as lines for every format (none for a file without them).
    package var contextLines: [String] {
        var lines: [String] = []
        if let environment = pipeline.environment {
            lines.append(
                "environment: \(environment.name) (of \(pipeline.environments.joined(separator: ", ")))"
                    + (environment.description.map { ": \($0)" } ?? ""))
            if !environment.requires.isEmpty {
                lines.append(
                    "requires: a succeeded run of release '\(pipeline.release ?? "")' in \(environment.requires.joined(separator: ", ")), not rolled back since"
                )
            }
        }
        if let release = pipeline.release { lines.append("release: \(release)") }
        if !pipeline.inputValues.isEmpty {
            lines.append("inputs: " + pipeline.inputValues.map { "\($0.name)=\($0.value)" }.joined(separator: ", "))
        }
        return lines
    }

    /// The same as JSON fields, always present (null or empty for a file without them).
    package func contextJSON(_ o: inout JSONObjectWriter) {
        if let environment = pipeline.environment {
            var e = JSONObjectWriter(indent: 2)
            e.field("name", environment.name)
            e.field("description", environment.description)
            e.field("requires", list: environment.requires)
            e.field("env", raw: "{" + environment.env.map { "\(JSON.quote($0.name)): \(JSON.quote($0.value.raw))" }.joined(separator: ", ") + "}")
            o.field("environment", raw: e.finish())
        } else {
            o.field("environment", raw: "null")
        }
        o.field("environments", list: pipeline.environments)
        o.field("release", pipeline.release)
        let inputs = pipeline.inputs.map { input in
            var i = JSONObjectWriter(indent: 3)
            i.field("name", input.name)
            i.field("type", input.type.rawValue)
            i.field("value", pipeline.inputValues.first { $0.name == input.name }?.value)
            i.field("default", input.defaultValue)
            i.field("required", raw: String(input.required))
            i.field("description", input.description)
            return i.finish()
        }
        o.field("inputs", raw: inputs.isEmpty ? "[]" : "[\n    " + inputs.joined(separator: ",\n    ") + "\n  ]")
    }
}
