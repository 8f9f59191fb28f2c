import PipelineYAML

extension MigrationLinter {
    /// Lints the migration files of every `migrate` stage that declares `lint.paths` (globs relative
    /// to the pipeline file), with the stage's `lint.allow`: what `pipeline run` checks before anything runs.
    /// - Parameters:
    ///   - pipeline: the validated pipeline.
    ///   - file: the pipeline file's path as the user wrote it; finding paths are relative to the same directory.
    ///   - workingDirectory: where relative paths start.
    /// - Returns: the findings as error diagnostics (code: the rule id), then unreadable or unmatched paths.
    public static func check(_ pipeline: Pipeline, file: String, workingDirectory: String) -> [Diagnostic] {
        let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : ""
        var diagnostics: [Diagnostic] = []
        for stage in pipeline.stages {
            guard case .migrate(let spec) = stage.spec, !spec.lintPaths.isEmpty else { continue }
            let paths = spec.lintPaths.map { $0.hasPrefix("/") || directory.isEmpty ? $0 : directory + "/" + $0 }
            let allow = Set(spec.lintAllow.compactMap(MigrationRule.init(rawValue:)))
            let result = lint(paths: paths, allow: allow, base: workingDirectory)
            diagnostics += result.findings.map { finding in
                var diagnostic = finding.diagnostic
                diagnostic.message += " (stage '\(stage.id)')"
                return diagnostic
            }
            diagnostics += result.errors.map { Diagnostic(.error, path: file, mark: stage.mark(of: "lint"),
                                                         message: "stage '\(stage.id)': lint: \($0.replacingOccurrences(of: ": error: ", with: ": "))") }
        }
        return diagnostics
    }
}
