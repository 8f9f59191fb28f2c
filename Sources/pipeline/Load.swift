import ArgumentParser
import PipelineSpec

/// Loading shared by the commands: invalid input is printed as diagnostics and exits 2.
enum Load {
    static func pipeline(_ file: String, strict: Bool = false) throws -> LoadedPipeline {
        do {
            return try PipelineLoader.load(path: file, options: .init(strict: strict))
        } catch {
            let renderer = DiagnosticRenderer(sources: [file: PipelineLoader.source(of: file) ?? []])
            Terminal.err(renderer.render(error.diagnostics, format: .text))
            throw ExitCode(2)
        }
    }
}
