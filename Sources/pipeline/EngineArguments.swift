import ArgumentParser
import Foundation
import PipelineEngine
import PipelineSpec

extension EngineOptions.WindowPolicy: ExpressibleByArgument {}

extension EngineOptions.FailurePolicy: ExpressibleByArgument {}

/// Options shared by the commands that run scripts.
struct EngineArguments: ParsableArguments {
    @Option(help: "Where runs are recorded (with --state: this machine's logs and outputs).")
    var stateDir = ".pipeline"

    @OptionGroup var state: StateArguments

    @Option(help: "With --state postgres://…: how long the lease lasts unless renewed (renewed every third of it).")
    var leaseTTL = "30s"

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

    @Flag(help: "Wait for another run on the same pipeline to finish instead of failing.")
    var waitLock = false

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
        if let maxParallel, maxParallel < 1 { throw ValidationError("--max-parallel: '\(maxParallel)' must be at least 1") }
        options.maxParallel = maxParallel ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        options.approved = Set(approve)
        options.approveAll = yes
        options.window = window
        options.onFailure = onFailure
        options.waitForLock = waitLock
        guard let grace = TimeSpan(parsing: killGrace) else { throw ValidationError("--kill-grace: '\(killGrace)' is not a duration like '5s'") }
        options.killGraceMs = grace.milliseconds
        options.workingDirectory = FileManager.default.currentDirectoryPath
        options.environment = env
        // Test hooks: skip idle waits, and pretend the wall clock reads a given time.
        options.virtualClock = env["PIPELINE_TEST_CLOCK"] == "virtual"
        options.wallStart = env["PIPELINE_TEST_NOW_MS"].flatMap(Int.init)
        return options
    }
}
