import ArgumentParser
import Glibc

// A reader that goes away (`| head`, a CI log shipper) must never stop a deploy: writes to a closed
// pipe fail with EPIPE, which the terminal writer ignores, and the run goes on to its end.
signal(SIGPIPE, SIG_IGN)

let arguments = Array(CommandLine.arguments.dropFirst())
if FastArguments.version(arguments) { exit(0) }
FastArguments.validate(arguments)?.run()

// Usage errors exit 2 like every other invalid input (argument-parser's default is 64).
do {
    var command = try PipelineCommand.parseAsRoot(RunnerArguments.expandingWaitLock(arguments))
    try command.run()
} catch {
    let code = PipelineCommand.exitCode(for: error)
    if code == .validationFailure {
        Terminal.err(PipelineCommand.fullMessage(for: error) + "\n")
        PipelineCommand.exit(withError: ExitCode(2))
    }
    PipelineCommand.exit(withError: error)
}
