/// What changed between two versions of a pipeline, for a reviewer: stages added, removed and
/// changed (matched by id), and for a changed stage each field that differs — its scripts as a
/// line diff, its gates, needs, condition, timeout, retry, environment and kind-specific work —
/// plus the pipeline-wide settings (env, secrets, environments, release).
public struct PlanDiff: Sendable {
    /// One field that differs; a script's change carries its line diff.
    public struct FieldChange: Sendable {
        public var field: String
        public var old: String?
        public var new: String?
        /// Scripts: `-`/`+`/` ` prefixed lines.
        public var lines: [String]?
    }

    public enum Change: Sendable {
        case added(id: String, kind: String)
        case removed(id: String, kind: String)
        case changed(id: String, kind: String, fields: [FieldChange])
    }

    public var name: String
    public var changes: [Change]
    /// Pipeline-wide fields that differ.
    public var settings: [FieldChange]

    public var isEmpty: Bool { changes.isEmpty && settings.isEmpty }

    public init(old: Pipeline, new: Pipeline) {
        name = new.name
        var changes: [Change] = []
        let oldIDs = Set(old.stages.map(\.id))
        let newIDs = Set(new.stages.map(\.id))
        for stage in old.stages where !newIDs.contains(stage.id) { changes.append(.removed(id: stage.id, kind: stage.kind.rawValue)) }
        for stage in new.stages {
            guard oldIDs.contains(stage.id), let before = old.stages.first(where: { $0.id == stage.id }) else {
                changes.append(.added(id: stage.id, kind: stage.kind.rawValue))
                continue
            }
            let fields = Self.compare(Self.fields(before), Self.fields(stage))
            if !fields.isEmpty { changes.append(.changed(id: stage.id, kind: stage.kind.rawValue, fields: fields)) }
        }
        let oldOrder = old.stages.map(\.id).filter(newIDs.contains)
        let newOrder = new.stages.map(\.id).filter(oldIDs.contains)
        var settings = Self.compare(Self.settings(old), Self.settings(new))
        if oldOrder != newOrder {
            settings.append(FieldChange(field: "stage order", old: oldOrder.joined(separator: ", "), new: newOrder.joined(separator: ", "), lines: nil))
        }
        self.changes = changes
        self.settings = settings
    }

    /// A stage as named fields; scripts are marked by a `script:` prefix.
    static func fields(_ stage: Stage) -> [(String, String)] {
        var out: [(String, String)] = [("kind", stage.kind.rawValue), ("needs", stage.needs.joined(separator: ", "))]
        if let condition = stage.condition { out.append(("if", condition.text)) }
        if let gate = stage.gate {
            if let approval = gate.approval { out.append(("approval", approval.message?.raw ?? "required")) }
            if let window = gate.window { out.append(("window", window.summary)) }
            if let wait = gate.wait { out.append(("wait", wait.description)) }
        }
        out.append(("timeout", stage.timeout.description))
        let summary = StageSummary(stage: stage)
        out.append(("retry", summary.retry))
        if let details = summary.details { out.append(("does", details)) }
        for entry in stage.env { out.append(("env \(entry.name)", entry.value.raw)) }
        out.append(("reversible", String(stage.reversible)))
        for (label, source) in PlanRenderer.scripts(of: stage) { out.append(("script:" + label, source)) }
        return out
    }

    static func settings(_ pipeline: Pipeline) -> [(String, String)] {
        var out: [(String, String)] = []
        for entry in pipeline.env { out.append(("env \(entry.name)", entry.value.raw)) }
        out.append(("secrets", pipeline.secrets.joined(separator: ", ")))
        out.append(("environments", pipeline.environments.joined(separator: ", ")))
        if let release = pipeline.release { out.append(("release", release)) }
        return out
    }

    static func compare(_ old: [(String, String)], _ new: [(String, String)]) -> [FieldChange] {
        var out: [FieldChange] = []
        let before = Dictionary(old, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new, uniquingKeysWith: { a, _ in a })
        var names = old.map(\.0)
        for (name, _) in new where before[name] == nil { names.append(name) }
        for name in names where before[name] != after[name] {
            if name.hasPrefix("script:") {
                out.append(
                    FieldChange(
                        field: String(name.dropFirst("script:".count)), old: before[name], new: after[name],
                        lines: lineDiff(before[name] ?? "", after[name] ?? "")))
            } else {
                out.append(FieldChange(field: name, old: before[name], new: after[name], lines: nil))
            }
        }
        return out
    }

    /// A line diff (the standard library's `difference(from:)`, a Myers diff), each line prefixed
    /// `-`, `+` or ` `; a changed line shows its old form first.
    static func lineDiff(_ old: String, _ new: String) -> [String] {
        func lines(_ text: String) -> [String] {
            let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
            return text.isEmpty ? [] : body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        let a = lines(old)
        let b = lines(new)
        var removed = Set<Int>()
        var inserted = Set<Int>()
        for change in b.difference(from: a) {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, removed.contains(i) {
                out.append("-" + a[i])
                i += 1
            } else if j < b.count, inserted.contains(j) {
                out.append("+" + b[j])
                j += 1
            } else {
                // Kept on both sides, in the same order.
                out.append(" " + (i < a.count ? a[i] : b[j]))
                i += 1
                j += 1
            }
        }
        return out
    }

    static func value(_ text: String?) -> String { text.map { $0.isEmpty ? "(none)" : TerminalText.escaped($0) } ?? "(none)" }

    /// `2 stages changed, 1 added, 1 removed` (or `no changes`).
    public var headline: String {
        var counts: [(Int, String)] = [(0, "changed"), (0, "added"), (0, "removed")]
        for change in changes {
            switch change {
            case .changed: counts[0].0 += 1
            case .added: counts[1].0 += 1
            case .removed: counts[2].0 += 1
            }
        }
        var parts = counts.filter { $0.0 > 0 }.map { "\($0.0) stage\($0.0 == 1 ? "" : "s") \($0.1)" }
        if !settings.isEmpty { parts.append("\(settings.count) setting\(settings.count == 1 ? "" : "s") changed") }
        return parts.isEmpty ? "no changes" : parts.joined(separator: ", ")
    }

    /// For a terminal; coloured when `color`.
    public func text(color: Bool) -> String {
        func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        var out = "plan changes of '\(name)': \(headline)\n"
        for setting in settings {
            out += paint("~ \(setting.field): \(Self.value(setting.old)) -> \(Self.value(setting.new))", "33") + "\n"
        }
        for change in changes {
            switch change {
            case .added(let id, let kind): out += paint("+ \(id) (\(kind)): added", "32") + "\n"
            case .removed(let id, let kind): out += paint("- \(id) (\(kind)): removed", "31") + "\n"
            case .changed(let id, let kind, let fields):
                out += paint("~ \(id) (\(kind)): \(fields.map(\.field).joined(separator: ", ")) changed", "33") + "\n"
                for field in fields {
                    if let lines = field.lines {
                        out += "    \(field.field):\n"
                        for line in lines where !line.hasPrefix(" ") || lines.count <= 12 {
                            let shown = "      " + TerminalText.escaped(line)
                            out += (line.hasPrefix("+") ? paint(shown, "32") : line.hasPrefix("-") ? paint(shown, "31") : shown) + "\n"
                        }
                    } else {
                        out += "    \(field.field): \(Self.value(field.old)) -> \(Self.value(field.new))\n"
                    }
                }
            }
        }
        return out
    }

    /// For a pull-request comment: a list, and each changed script as a `diff` block.
    public func markdown() -> String {
        typealias MD = MarkdownText
        var out = "### Plan changes: \(MD.code(name))\n\n\(headline).\n\n"
        for setting in settings {
            out += "- ~ \(MD.text(setting.field)): \(MD.code(Self.value(setting.old))) → \(MD.code(Self.value(setting.new)))\n"
        }
        for change in changes {
            switch change {
            case .added(let id, let kind): out += "- ➕ \(MD.code(id)) (\(kind)): added\n"
            case .removed(let id, let kind): out += "- ➖ \(MD.code(id)) (\(kind)): removed\n"
            case .changed(let id, let kind, let fields):
                out += "- ✏️ \(MD.code(id)) (\(kind)): " + fields.map { MD.text($0.field) }.joined(separator: ", ") + " changed\n"
                for field in fields where field.lines == nil {
                    out += "  - \(MD.text(field.field)): \(MD.code(Self.value(field.old))) → \(MD.code(Self.value(field.new)))\n"
                }
            }
        }
        for change in changes {
            guard case .changed(let id, _, let fields) = change else { continue }
            for field in fields {
                guard let lines = field.lines else { continue }
                out += "\n<details><summary><code>\(id)</code>: \(PlanRenderer.html(field.field))</summary>\n\n"
                out += MD.fenced(lines.joined(separator: "\n"), language: "diff") + "\n</details>\n"
            }
        }
        return out
    }
}
