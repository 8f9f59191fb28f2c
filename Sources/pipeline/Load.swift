import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineSpec

/// Loading shared by the commands: invalid input is printed as diagnostics and exits 2.
enum Load {
    /// - Parameter preflight: also run what `run` checks before it starts (the migration lint), so a
    ///   file that `validate` rejects is never shown as a plan.
    static func pipeline(
        _ file: String, bytes: [UInt8]? = nil, choice: ChoiceArguments, strict: Bool = false, preflight: Bool = false
    ) throws -> LoadedPipeline {
        let loaded: LoadedPipeline
        let options = try choice.options(strict: strict)
        do throws(DiagnosticError) {
            if let bytes {
                loaded = try PipelineLoader.load(bytes: bytes, path: file, options: options)
            } else {
                loaded = try PipelineLoader.load(path: file, options: options)
            }
        } catch {
            let text = DiagnosticRenderer(sources: sources(of: error.diagnostics)).render(error.diagnostics, format: .text)
            Terminal.err(DiagnosticColors.paint(text, ColorChoice.auto.enabled(fd: 2)))
            throw ExitCode(2)
        }
        guard preflight else { return loaded }
        let findings = MigrationLinter.preflight(loaded.pipeline)
        guard findings.contains(where: { $0.severity == .error }) else { return loaded }
        Terminal.err(DiagnosticRenderer(sources: sources(of: findings, known: loaded.sources)).render(findings, format: .text))
        throw ExitCode(2)
    }

    /// The bytes of each file the diagnostics name (the pipeline file, included stage files,
    /// migration files), for the excerpt under each one; `known` ones are not read again.
    static func sources(of diagnostics: [Diagnostic], known: [String: [UInt8]] = [:]) -> [String: [UInt8]] {
        var sources = known
        for path in Set(diagnostics.map(\.path)) where sources[path] == nil {
            sources[path] = PipelineLoader.source(of: path, limit: 16 << 20)
        }
        return sources
    }
}
