import PipelineYAML

/// Renders the plan of a validated pipeline: the stages in execution waves with their gates,
/// retries, timeouts and rollback hooks, for terminals, pull requests, diagrams and tools.
public struct PlanRenderer: Sendable {
    /// Output formats of `pipeline plan`.
    public enum Format: String, CaseIterable, Sendable {
        case text, markdown, mermaid, dot, json
    }

    /// What to render.
    public let loaded: LoadedPipeline

    /// Creates a renderer for a validated pipeline.
    public init(_ loaded: LoadedPipeline) { self.loaded = loaded }

    package var pipeline: Pipeline { loaded.pipeline }
    package var graph: StageGraph { loaded.graph }

    /// Renders in a format. Text and Markdown show control characters from the file escaped
    /// (``TerminalText``); JSON escapes them its own way.
    public func render(_ format: Format) -> String {
        switch format {
        case .text: return TerminalText.escaped(text(), keepingNewlines: true)
        case .markdown: return TerminalText.escaped(markdown(), keepingNewlines: true)
        case .mermaid: return mermaid()
        case .dot: return dot()
        case .json: return json()
        }
    }

    // MARK: text

    package func text() -> String {
        let stages = pipeline.stages
        var out = "pipeline '\(pipeline.name)' (\(pipeline.path)): \(count(stages.count, "stage")) in \(count(graph.waveCount, "wave"))\n"
        if let description = pipeline.description { out += description + "\n" }
        if !pipeline.secrets.isEmpty { out += "secrets (masked in all output): \(pipeline.secrets.joined(separator: ", "))\n" }
        for line in contextLines { out += line + "\n" }
        let width = stages.map(\.id.count).max() ?? 0
        let conditions = ConditionPlan(pipeline, graph: graph)
        if !conditions.skipped.isEmpty {
            out += "skipped here: \(graph.order.map { stages[$0].id }.filter { conditions.skipped[$0] != nil }.joined(separator: ", "))\n"
        }
        for (w, wave) in graph.waves.enumerated() {
            out += "\nwave \(w + 1)" + (wave.count > 1 ? " (\(wave.count) stages in parallel)" : "") + "\n"
            for node in wave {
                let stage = stages[node]
                let summary = StageSummary(stage: stage)
                let pad = String(repeating: " ", count: width - stage.id.count)
                let needs = stage.needs.isEmpty ? "nothing" : stage.needs.joined(separator: ", ")
                out += "  \(stage.id)\(pad)  \(stage.kind.rawValue)  needs \(needs)\n"
                let indent = "  " + String(repeating: " ", count: width) + "    "
                if let name = stage.name { out += indent + "name:     \(name)\n" }
                if let origin = stage.origin { out += indent + "from:     \(origin.summary)\n" }
                if let condition = conditions.line(for: stage) { out += indent + (stage.condition == nil ? "skipped:  " : "if:       ") + condition + "\n" }
                if let gates = summary.gates { out += indent + "gate:     \(gates)\n" }
                if let action = summary.action { out += indent + "run:      \(action)\n" }
                if let details = summary.details { out += indent + "does:     \(details)\n" }
                out += indent + "timeout:  \(stage.timeout) per attempt; retry: \(summary.retry)\n"
                out += indent + "rollback: \(summary.rollback ?? "none")\n"
                if !stage.outputs.isEmpty { out += indent + "outputs:  \(stage.outputs.joined(separator: ", "))\n" }
            }
        }
        out += "\non failure: completed stages are rolled back in reverse order of completion"
        if let stop = stages.last(where: { !$0.reversible }) {
            out += ", never past '\(stop.id)' (not reversible)"
        }
        out += "\n"
        if !loaded.warnings.isEmpty {
            out += "\n\(count(loaded.warnings.count, "warning")):\n"
            for warning in loaded.warnings { out += "  \(warning.headline)\n" }
        }
        return out
    }

    // MARK: markdown

    package func markdown() -> String {
        typealias MD = MarkdownText
        let stages = pipeline.stages
        var out = "### Deploy plan: \(MD.code(pipeline.name))\n\n"
        if let description = pipeline.description { out += MD.text(description, block: true) + "\n\n" }
        out += "\(count(stages.count, "stage")) in \(count(graph.waveCount, "wave")), from \(MD.code(pipeline.path))."
        if !pipeline.secrets.isEmpty { out += " Secrets (masked): " + pipeline.secrets.map { MD.code($0) }.joined(separator: ", ") + "." }
        if !contextLines.isEmpty { out += "\n\n" + contextLines.map { "- " + MD.text($0, block: true) }.joined(separator: "\n") }
        out += "\n\n```mermaid\n" + mermaid() + "```\n\n"
        out += "| wave | stage | kind | needs | gate | timeout | retry | rollback |\n"
        out += "|---:|---|---|---|---|---|---|---|\n"
        let waveOf = graph.waveOf
        for node in graph.order {
            let stage = stages[node]
            let summary = StageSummary(stage: stage)
            let needs = stage.needs.isEmpty ? "—" : stage.needs.map { MD.code($0, inTable: true) }.joined(separator: ", ")
            let undoable: Set<StageKind> = [.backend, .frontend, .migrate]
            let rollback =
                summary.rollback.map { MD.code($0, inTable: true) }
                ?? (!stage.reversible ? "**irreversible**" : undoable.contains(stage.kind) ? "**none**" : "—")
            let gates = markdownGates(stage, summary) ?? "—"
            out +=
                "| \(waveOf[node] + 1) | \(MD.code(stage.id, inTable: true))\(stage.name.map { " " + MD.text($0) } ?? "") | \(stage.kind.rawValue) | \(needs) | \(gates) | \(stage.timeout) | \(summary.retry) | \(rollback) |\n"
        }
        out += "\n**What each stage runs**, every script in full (values the file fixes are filled in):\n"
        for node in graph.order {
            let stage = stages[node]
            let summary = StageSummary(stage: stage)
            let scripts = Self.scripts(of: stage)
            var head = "\(scripts.count) script\(scripts.count == 1 ? "" : "s")"
            if let details = summary.details { head += "; " + TerminalText.escaped(resolvedStatically(details)) }
            out += "\n<details><summary><code>\(stage.id)</code> (\(stage.kind.rawValue)): \(Self.html(head))</summary>\n\n"
            if let origin = stage.origin { out += "From \(MD.code(origin.summary)).\n\n" }
            if !stage.env.isEmpty {
                out += "Environment: " + stage.env.map { MD.code("\($0.name)=\(resolvedStatically($0.value.raw))") }.joined(separator: ", ") + "\n\n"
            }
            for (label, source) in scripts {
                out += "\(MD.text(label)):\n\n" + MD.fenced(source) + "\n"
            }
            out += "</details>\n"
        }
        if ConditionPlan.matters(pipeline) {
            let conditions = ConditionPlan(pipeline, graph: graph)
            out += "\n**Conditions:**\n\n"
            for node in graph.order {
                let stage = stages[node]
                guard let line = conditions.line(for: stage) else { continue }
                out += "- \(MD.code(stage.id)): " + (stage.condition == nil ? "skipped: \(MD.text(line))" : "if \(MD.code(line))") + "\n"
            }
        }
        out += "\nOn failure, completed stages are rolled back in reverse order of completion"
        if let stop = stages.last(where: { !$0.reversible }) { out += ", never past \(MD.code(stop.id)) (not reversible)" }
        out += ".\n"
        if !loaded.warnings.isEmpty {
            out += "\n**\(count(loaded.warnings.count, "warning")):**\n\n"
            for warning in loaded.warnings {
                out += "- ⚠️ line \(warning.mark.line): \(MD.text(warning.message))" + (warning.code.map { " (\(MD.code($0)))" } ?? "") + "\n"
            }
        }
        return out
    }

    /// Every script a stage can run, labelled, in the order they run: the attempt's own (backup,
    /// run, apply, smoke tests), its gate check, then what undoes it (traffic back to 0 %,
    /// rollback, restore).
    static func scripts(of stage: Stage) -> [(String, String)] {
        var out: [(String, String)] = []
        if let check = stage.gate?.check { out.append(("gate check", check.source)) }
        for action in Action.plan(for: stage) {
            if case .script(let source, let label, _) = action { out.append((label, source)) }
        }
        switch stage.spec {
        case .canary(let spec): out.append(("traffic (each step's percentage, and 0 on rollback)", spec.traffic.source))
        default: break
        }
        if let rollback = stage.rollback { out.append(("rollback", rollback.source)) }
        if case .migrate(let spec) = stage.spec, let restore = spec.restore { out.append(("restore (from the backup)", restore.source)) }
        return out
    }

    /// `${{ env.NAME }}` filled in where the file fixes NAME's value (a plain value, no reference).
    func resolvedStatically(_ text: String) -> String {
        guard text.contains("${{") else { return text }
        var out = text
        for entry in pipeline.env where entry.value.references.isEmpty {
            for spelling in ["${{ env.\(entry.name) }}", "${{env.\(entry.name)}}"] { out = out.replacingAll(spelling, with: entry.value.raw) }
        }
        return out
    }

    /// Text for HTML (a `<summary>`): `&`, `<`, `>` and quotes as entities.
    static func html(_ text: String) -> String {
        text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;").replacingAll("\"", with: "&quot;")
    }

    /// The gates of a stage for a table cell, with the approval message and the check script in
    /// code spans (exact: GitHub's autolinks would break a backslash-escaped URL in plain text).
    private func markdownGates(_ stage: Stage, _ summary: StageSummary) -> String? {
        guard let gate = stage.gate else { return nil }
        var parts: [String] = []
        if let approval = gate.approval {
            parts.append(approval.message.map { "approval \(MarkdownText.code($0.raw, inTable: true))" } ?? "approval")
        }
        if let window = gate.window { parts.append("window \(MarkdownText.text(window.summary))") }
        if let check = gate.check { parts.append("check \(MarkdownText.code(summary.firstLine(check.source), inTable: true))") }
        if let wait = gate.wait { parts.append("wait \(wait)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    // MARK: mermaid

    package func mermaid() -> String {
        var out = "flowchart TD\n"
        for line in contextLines { out += "  %% " + line.replacingAll("\n", with: " ") + "\n" }
        let conditions = ConditionPlan(pipeline, graph: graph)
        for (i, stage) in pipeline.stages.enumerated() {
            var label = "\(stage.id)<br/><small>\(stage.kind.rawValue)</small>"
            if let name = stage.name { label += "<br/>" + Self.html(TerminalText.escaped(name)) }
            if stage.gate?.approval != nil { label += "<br/>🔒 approval" }
            if stage.gate?.window != nil { label += "<br/>🕑 window" }
            if let condition = stage.condition { label += "<br/>if " + condition.text.replacingAll("<", with: "&lt;") }
            if conditions.skipped[stage.id] != nil { label += "<br/>⏭ skipped" }
            let quoted = label.replacingAll("\"", with: "#quot;")
            out += stage.reversible ? "  n\(i)[\"\(quoted)\"]\n" : "  n\(i)[[\"\(quoted)\"]]\n"
        }
        for (i, needs) in graph.needs.enumerated() {
            for need in needs { out += "  n\(need) --> n\(i)\n" }
        }
        let skipped = pipeline.stages.indices.filter { conditions.skipped[pipeline.stages[$0].id] != nil }
        if !skipped.isEmpty {
            out += "  classDef skipped stroke-dasharray: 5 5,opacity:0.6\n"
            out += "  class \(skipped.map { "n\($0)" }.joined(separator: ",")) skipped\n"
        }
        return out
    }

    // MARK: dot

    package func dot() -> String {
        var out = "digraph \(dotQuote(pipeline.name)) {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
        if !contextLines.isEmpty {
            let label = contextLines.map { String(dotQuote($0).dropFirst().dropLast()) }.joined(separator: "\\l")
            out += "  label=\"\(label)\\l\";\n  labelloc=t;\n"
        }
        for (w, wave) in graph.waves.enumerated() {
            out += "  subgraph wave_\(w + 1) { rank=same;"
            for node in wave { out += " \(dotQuote(pipeline.stages[node].id));" }
            out += " }\n"
        }
        let conditions = ConditionPlan(pipeline, graph: graph)
        for stage in pipeline.stages {
            var label = "\(stage.id)\\n\(stage.kind.rawValue)"
            if let name = stage.name { label += "\\n" + TerminalText.escaped(name).replacingAll("\\", with: "\\\\") }
            if stage.gate?.approval != nil { label += "\\napproval" }
            if stage.gate?.window != nil { label += "\\nwindow" }
            if let condition = stage.condition { label += "\\nif " + condition.text.replacingAll("\\", with: "\\\\") }
            var shape = stage.reversible ? "" : ", peripheries=2"
            if conditions.skipped[stage.id] != nil { shape += ", style=\"rounded,dashed\"" }
            out += "  \(dotQuote(stage.id)) [label=\"\(label.replacingAll("\"", with: "\\\""))\"\(shape)];\n"
        }
        for (i, needs) in graph.needs.enumerated() {
            for need in needs { out += "  \(dotQuote(pipeline.stages[need].id)) -> \(dotQuote(pipeline.stages[i].id));\n" }
        }
        return out + "}\n"
    }

    private func dotQuote(_ s: String) -> String {
        "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }

    private func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
