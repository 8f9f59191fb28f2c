import PipelineYAML

/// Renders diagnostics for people (with the source line and a caret), machines (JSON) or
/// GitHub Actions (workflow-command annotations).
public struct DiagnosticRenderer: Sendable {
    /// The output formats `validate --format` accepts.
    public enum Format: String, CaseIterable, Sendable {
        case text, json, github
    }

    /// Source text of each file, by path, for the excerpt under each diagnostic.
    public var sources: [String: [UInt8]]

    /// Creates a renderer.
    /// - Parameter sources: the bytes of each file, by the path used in diagnostics.
    public init(sources: [String: [UInt8]] = [:]) { self.sources = sources }

    /// Renders a list of diagnostics in a format.
    public func render(_ diagnostics: [Diagnostic], format: Format) -> String {
        switch format {
        case .text: return diagnostics.map(text).joined()
        case .github: return diagnostics.map(github).joined()
        case .json: return json(diagnostics)
        }
    }

    /// The headline, the source line, and a caret under the column. Control characters in the
    /// message and the source line are shown escaped (``TerminalText``); the caret still points
    /// at the same character.
    public func text(_ diagnostic: Diagnostic) -> String {
        var out = diagnostic.headline + "\n"
        if let line = sourceLine(diagnostic.path, diagnostic.mark.line) {
            let shown = line.count > 200 ? String(line.prefix(200)) + "…" : line
            out += TerminalText.escaped(shown) + "\n"
            let column = max(1, min(diagnostic.mark.column, shown.count + 1))
            let padding = shown.prefix(column - 1).map { c in
                c == "\t" ? "\t" : String(repeating: " ", count: TerminalText.escaped(String(c)).count)
            }.joined()
            out += padding + "^\n"
        }
        return out
    }

    /// `::error file=…,line=…,col=…::message`, with control characters escaped (``TerminalText``):
    /// the runner's log viewer interprets ANSI sequences.
    public func github(_ diagnostic: Diagnostic) -> String {
        let kind = diagnostic.severity == .error ? "error" : "warning"
        let title = diagnostic.code.map { ",title=\(escapeProperty($0))" } ?? ""
        let path = TerminalText.escaped(diagnostic.path), message = TerminalText.escaped(diagnostic.messageWithInclusion)
        let location = diagnostic.mark.line == 0 ? "" : ",line=\(diagnostic.mark.line),col=\(diagnostic.mark.column)"
        return "::\(kind) file=\(escapeProperty(path))\(location)\(title)::\(escapeData(message))\n"
    }

    /// A JSON document: `{"diagnostics":[{"severity","file","line","column","message","code","included_from"}], "errors": N, "warnings": N}`;
    /// `included_from` (innermost first, each `{"file","line","column"}`) only for a problem in an included stage file.
    public func json(_ diagnostics: [Diagnostic]) -> String {
        var out = "{\n  \"diagnostics\": ["
        for (index, d) in diagnostics.enumerated() {
            out += index == 0 ? "\n" : ",\n"
            out += "    {\"severity\": \(JSON.quote(d.severity.rawValue)), \"file\": \(JSON.quote(d.path)), "
            out += "\"line\": \(d.mark.line), \"column\": \(d.mark.column), \"message\": \(JSON.quote(d.message))"
            if let code = d.code { out += ", \"code\": \(JSON.quote(code))" }
            if !d.includedFrom.isEmpty {
                let sites = d.includedFrom.map { "{\"file\": \(JSON.quote($0.path)), \"line\": \($0.mark.line), \"column\": \($0.mark.column)}" }
                out += ", \"included_from\": [\(sites.joined(separator: ", "))]"
            }
            out += "}"
        }
        out += diagnostics.isEmpty ? "],\n" : "\n  ],\n"
        let errors = diagnostics.filter { $0.severity == .error }.count
        out += "  \"errors\": \(errors),\n  \"warnings\": \(diagnostics.count - errors)\n}\n"
        return out
    }

    private func sourceLine(_ path: String, _ line: Int) -> String? {
        guard let bytes = sources[path], line >= 1 else { return nil }
        var current = 1
        var start = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                if current == line { break }
                current += 1
                start = index + 1
            }
            index += 1
        }
        guard current == line, start <= bytes.count else { return nil }
        var end = index
        if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    private func escapeData(_ s: String) -> String { WorkflowCommand.escapeData(s) }

    private func escapeProperty(_ s: String) -> String { WorkflowCommand.escapeProperty(s) }
}

extension String {
    /// Replaces every occurrence of a substring (no Foundation needed).
    package func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
