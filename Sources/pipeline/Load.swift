import ArgumentParser
import PipelineSpec

/// Loading shared by the commands: invalid input is printed as diagnostics and exits 2.
enum Load {
    /// - Parameter preflight: also run what `run` checks before it starts (the migration lint), so a
    ///   file that `validate` rejects is never shown as a plan.
    static func pipeline(_ file: String, choice: ChoiceArguments, strict: Bool = false, preflight: Bool = false) throws -> LoadedPipeline {
        let loaded: LoadedPipeline
        let options = try choice.options(strict: strict)
        do {
            loaded = try PipelineLoader.load(path: file, options: options)
        } catch {
            let renderer = DiagnosticRenderer(sources: [file: PipelineLoader.source(of: file) ?? []])
            Terminal.err(renderer.render(error.diagnostics, format: .text))
            throw ExitCode(2)
        }
        guard preflight else { return loaded }
        let findings = MigrationLinter.preflight(loaded.pipeline)
        guard findings.contains(where: { $0.severity == .error }) else { return loaded }
        var sources: [String: [UInt8]] = [file: loaded.source]
        for path in Set(findings.map(\.path)) where sources[path] == nil { sources[path] = PipelineLoader.source(of: path, limit: 16 << 20) }
        Terminal.err(DiagnosticRenderer(sources: sources).render(findings, format: .text))
        throw ExitCode(2)
    }
}
