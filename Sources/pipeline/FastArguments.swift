import Glibc
import PipelineSpec

/// The one command line that skips argument-parser: `pipeline validate FILE…` with nothing but
/// file names. argument-parser's parse of it costs more than `pipeline` itself spends checking a
/// 100-stage file: its reflection checks every protocol conformance of the binary (issue 15,
/// benchmarks/RESULTS.md). Anything else (an option, `--`, `-` or an empty name, a help request,
/// any other command) goes to argument-parser, and the job is the one `Validate.run` builds with
/// every option at its default, so both paths print the same (tests compare them).
enum FastArguments {
    /// The job for `arguments` (without the program name), or nil when argument-parser must read them.
    static func validate(_ arguments: [String]) -> ValidateJob? {
        guard arguments.count >= 2, arguments[0] == "validate",
            arguments.dropFirst().allSatisfy({ !$0.isEmpty && !$0.hasPrefix("-") })
        else { return nil }
        if let log = getenv("PIPELINE_TEST_FAST_ARGUMENTS_LOG") {
            let fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            if fd >= 0 {
                _ = write(fd, "validate\n", 9)
                close(fd)
            }
        }
        return ValidateJob(files: Array(arguments.dropFirst()), options: PipelineLoader.Options(acceptStageFile: true), format: .text, color: .auto)
    }
}
