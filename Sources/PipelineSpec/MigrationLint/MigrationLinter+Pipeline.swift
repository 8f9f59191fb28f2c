import FoundationEssentials
import Glibc
import PipelineYAML

extension MigrationLinter {
    /// The migration lint every command applies before anything runs: `validate` reports it,
    /// and `run`, `resume` and `run --dry-run` refuse to start while it finds anything. Lints
    /// the files of every `migrate` stage that declares `lint.paths` (globs relative to the
    /// pipeline file's directory), with the stage's `lint.allow`.
    /// - Parameters:
    ///   - pipeline: the validated pipeline; its `path` is the file as the user named it.
    ///   - workingDirectory: where relative paths start (the process's current directory).
    /// - Returns: error diagnostics: each finding in its migration file (code: the rule id,
    ///   message ending in the stage), each bad suppression comment likewise, and each
    ///   unreadable or unmatched path at the stage's `lint` key in the pipeline file.
    ///   Empty when nothing stops the run.
    public static func preflight(_ pipeline: Pipeline, workingDirectory: String = FileManager.default.currentDirectoryPath) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        // Looked at in place, by index: a `Stage` copied out of the array is 312 bytes read (and a
        // retain of each field) for each of thousands of stages, most of them not migrations.
        for index in pipeline.stages.indices {
            guard case .migrate(let spec) = pipeline.stages[index].spec, !spec.lintPaths.isEmpty else { continue }
            let stage = pipeline.stages[index]
            // Relative to the file the stage is written in (an included stage file's own directory).
            let file = pipeline.file(of: stage)
            let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : ""
            let paths = spec.lintPaths.map { $0.hasPrefix("/") || directory.isEmpty ? $0 : directory + "/" + $0 }
            let allow = Set(spec.lintAllow.compactMap(MigrationRule.init(rawValue:)))
            let result = lint(paths: paths, allow: allow, base: workingDirectory)
            diagnostics += result.findings.map { finding in
                var diagnostic = finding.diagnostic
                diagnostic.message += " (stage '\(stage.id)')"
                return diagnostic
            }
            for error in result.errors {
                if error.mark.line == 0 {
                    diagnostics.append(
                        Diagnostic(
                            .error, path: file, mark: stage.mark(of: "lint"),
                            message: "stage '\(stage.id)': lint: \(error.path): \(error.message)", includedFrom: stage.origin?.includedFrom ?? []))
                } else {
                    var located = error
                    located.message += " (stage '\(stage.id)')"
                    diagnostics.append(located)
                }
            }
        }
        return diagnostics
    }
}
