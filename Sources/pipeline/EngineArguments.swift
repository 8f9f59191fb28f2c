import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

extension EngineOptions.WindowPolicy: ExpressibleByArgument {}

extension EngineOptions.FailurePolicy: ExpressibleByArgument {}

extension EngineOptions.PausePolicy: ExpressibleByArgument {}

/// `--output`: how a run reports on stdout.
enum OutputFormat: String, CaseIterable, ExpressibleByArgument { case text, json }

/// Options of the commands that deploy (`run`, `resume`): the runner's, and the deploy's own.
struct EngineArguments: ParsableArguments {
    @OptionGroup var runner: RunnerArguments

    @Option(help: "How many stages may run at once (default: the number of cores).")
    var maxParallel: Int?

    @Option(name: .customLong("approve"), help: "Pre-approve the approval gate of this stage (repeatable).")
    var approve: [String] = []

    @Flag(help: "Approve every approval gate.")
    var yes = false

    @Option(help: "Outside a deploy window: 'fail' (stop with exit 4) or 'wait' until it opens.")
    var window: EngineOptions.WindowPolicy = .fail

    @Option(help: "When a stage fails, stages still running: 'wait' for them, or 'stop' them.")
    var onFailure: EngineOptions.FailurePolicy = .wait

    @Option(
        help:
            "When a canary or watch pauses for a person: 'wait' for 'pipeline promote' or 'pipeline abort', or 'stop' the run (exit 4; continue with resume or promote). Default: wait at a terminal, else stop."
    )
    var pause: EngineOptions.PausePolicy?

    func options() throws -> EngineOptions {
        var options = try runner.options()
        if let maxParallel, maxParallel < 1 { throw ValidationError("--max-parallel: '\(maxParallel)' must be at least 1") }
        options.maxParallel = maxParallel ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        options.approved = Set(approve)
        options.approveAll = yes
        options.window = window
        options.onFailure = onFailure
        options.pause = pause ?? (isatty(0) == 1 && options.environment["CI"] == nil ? .wait : .stop)
        return options
    }
}

/// Options of every command that runs scripts (`run`, `resume`, `rollback`): where state is, the
/// lock, and how processes are stopped.
struct RunnerArguments: ParsableArguments {
    @Option(help: "Where runs are recorded (with --state: this machine's logs and outputs).")
    var stateDir = ".pipeline"

    @OptionGroup var state: StateArguments

    @Option(help: "With --state postgres://…: how long the lease lasts unless renewed (renewed every third of it).")
    var leaseTTL = "30s"

    @Option(help: "'json': the journal's events on stdout, one JSON object per line, as they are recorded (human text goes to stderr).")
    var output: OutputFormat = .text

    @Option(help: "When the run ends, write a JUnit XML report of it to this file (one testcase per stage, verify URL and analysed metric).")
    var junit: String?

    @Option(help: "Colour: 'auto' (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it), 'always' or 'never'.")
    var color: ColorChoice = .auto

    /// What the engine prints through.
    func terminal(_ options: EngineOptions) -> TerminalOutput {
        TerminalOutput(environment: options.environment, json: output == .json, junit: junit, color: color)
    }

    @Flag(
        help: ArgumentHelp(
            "Wait in line for another run on the same pipeline to finish instead of failing; --wait-lock=TIMEOUT (or --wait-lock TIMEOUT) gives up after TIMEOUT (e.g. 10m) with exit 2.",
            valueName: "TIMEOUT"))
    var waitLock = false

    @Option(help: .hidden)
    var waitLockTimeout: String?

    /// `--wait-lock=10m` and `--wait-lock 10m` as `--wait-lock --wait-lock-timeout 10m`: a flag
    /// with an optional value, which argument-parser has no spelling for.
    /// `--diff-base` given without a REF: never a git ref (a ref cannot contain `:`).
    static let mergeBase = ":merge-base"

    static func expandingWaitLock(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--" {
                out += [argument] + rest
                break
            }
            if argument == "--diff-base", rest.first.map({ $0.hasPrefix("-") }) ?? true {
                out += ["--diff-base", Self.mergeBase]  // no REF: the merge base with origin/HEAD
            } else if argument.hasPrefix("--wait-lock=") {
                out += ["--wait-lock", "--wait-lock-timeout", String(argument.dropFirst("--wait-lock=".count))]
            } else if argument == "--wait-lock", let next = rest.first, TimeSpan(parsing: next) != nil {
                out += ["--wait-lock", "--wait-lock-timeout", next]
                rest = rest.dropFirst()
            } else {
                out.append(argument)
            }
        }
        return out
    }

    @Option(help: "Grace between SIGTERM and SIGKILL when stopping a stage (e.g. 5s).")
    var killGrace = "5s"

    func options() throws -> EngineOptions {
        var options = EngineOptions()
        let env = ProcessInfo.processInfo.environment
        options.stateDirectory = stateDir
        options.stateURL = try state.url()
        guard let ttl = TimeSpan(parsing: leaseTTL), ttl.milliseconds >= 1000 else {
            throw ValidationError("--lease-ttl: '\(leaseTTL)' is not a duration of at least 1s, like '30s'")
        }
        options.leaseTTLms = ttl.milliseconds
        if let waitLockTimeout {
            guard let timeout = TimeSpan(parsing: waitLockTimeout) else {
                throw ValidationError("--wait-lock: '\(waitLockTimeout)' is not a duration like '10m'")
            }
            options.lockWait = LockWait(timeoutMs: timeout.milliseconds)
        } else if waitLock {
            options.lockWait = LockWait()
        }
        guard let grace = TimeSpan(parsing: killGrace) else { throw ValidationError("--kill-grace: '\(killGrace)' is not a duration like '5s'") }
        options.killGraceMs = grace.milliseconds
        options.workingDirectory = FileManager.default.currentDirectoryPath
        options.environment = env
        // Test hooks: skip idle waits, and pretend the wall clock reads a given time. A value that
        // is set but not understood is refused rather than silently ignored.
        switch env["PIPELINE_TEST_CLOCK"] ?? "" {
        case "": break
        case "virtual": options.virtualClock = true
        case let other: throw ValidationError("PIPELINE_TEST_CLOCK: '\(other)' is not 'virtual' (unset it for the real clock)")
        }
        if let now = env["PIPELINE_TEST_NOW_MS"], !now.isEmpty {
            guard let ms = Int(now), ms >= 0 else { throw ValidationError("PIPELINE_TEST_NOW_MS: '\(now)' is not a time in milliseconds since 1970") }
            options.wallStart = ms
        }
        if let crash = env["PIPELINE_TEST_CRASH_AT"], !crash.isEmpty,
            Int(crash.hasSuffix("-half") ? String(crash.dropLast(5)) : crash).map({ $0 >= 1 }) != true
        {
            throw ValidationError("PIPELINE_TEST_CRASH_AT: '\(crash)' is not a journal append number like 3 or 3-half")
        }
        return options
    }
}
