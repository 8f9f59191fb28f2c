import Glibc
import PipelineSpec

/// The two command lines that skip argument-parser: `pipeline --version` alone, and
/// `pipeline validate FILE…` with nothing but file names. argument-parser's parse of it costs more than `pipeline` itself spends checking a
/// 100-stage file: its reflection checks every protocol conformance of the binary (issue 15,
/// benchmarks/RESULTS.md). Anything else (an option, `--`, `-` or an empty name, a help request,
/// any other command) goes to argument-parser, and the job is the one `Validate.run` builds with
/// every option at its default, so both paths print the same (tests compare them).
enum FastArguments {
    /// Whether `arguments` are exactly `--version`; then prints what argument-parser prints for
    /// it, the version and a newline (argument-parser's parse of this one flag is 7.5M of the
    /// 8M instructions the command took: it reflects over every command's arguments first).
    static func version(_ arguments: [String]) -> Bool {
        guard arguments == ["--version"] else { return false }
        log("version")
        Terminal.out(PipelineVersion.current + "\n")
        return true
    }

    /// The job for `arguments` (without the program name), or nil when argument-parser must read them.
    static func validate(_ arguments: [String]) -> ValidateJob? {
        guard arguments.count >= 2, arguments[0] == "validate",
            arguments.dropFirst().allSatisfy({ !$0.isEmpty && !$0.hasPrefix("-") })
        else { return nil }
        log("validate")
        return ValidateJob(files: Array(arguments.dropFirst()), options: PipelineLoader.Options(acceptStageFile: true), format: .text, color: .auto)
    }

    /// Tests see which fast path a command took in the file `PIPELINE_TEST_FAST_ARGUMENTS_LOG` names.
    private static func log(_ path: String) {
        guard let log = getenv("PIPELINE_TEST_FAST_ARGUMENTS_LOG") else { return }
        let fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let line = path + "\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
}
