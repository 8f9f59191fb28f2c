import ArgumentParser
import Foundation
import PipelineEngine
import PipelineSpec

extension EngineOptions.WindowPolicy: ExpressibleByArgument {}
extension EngineOptions.FailurePolicy: ExpressibleByArgument {}

/// Options shared by the commands that run scripts.
struct EngineArguments: ParsableArguments {
    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

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
        options.maxParallel = max(1, maxParallel ?? ProcessInfo.processInfo.activeProcessorCount)
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

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline: stages as real processes, with gates, retries, timeouts and reverse-order rollback on failure.",
        discussion: """
        Exit status: 0 succeeded; 1 failed and rolled back cleanly; 2 invalid input, usage or lock held; \
        3 rollback failed or incomplete (a human must act); 4 stopped at a gate; 130 interrupted.
        """)

    @Argument(help: "The pipeline file.")
    var file: String

    @OptionGroup var engine: EngineArguments

    @Flag(help: "Print exactly what would run, in order, with gates and rollbacks; run nothing.")
    var dryRun = false

    func run() throws {
        let loaded = try Load.pipeline(file)
        for warning in loaded.warnings { Terminal.err(warning.headline + "\n") }
        // Migration safety lint: nothing runs while a migrate stage's files have findings.
        let findings = MigrationLinter.preflight(loaded.pipeline)
        if !findings.isEmpty {
            var sources: [String: [UInt8]] = [file: loaded.source]
            for path in Set(findings.map(\.path)) where sources[path] == nil { sources[path] = PipelineLoader.source(of: path, limit: 16 << 20) }
            Terminal.err(DiagnosticRenderer(sources: sources).render(findings, format: .text))
            Terminal.err("migration lint: \(findings.count) problem\(findings.count == 1 ? "" : "s"); nothing was run (allow a rule with 'lint: { allow: [rule-id] }' or a '-- pipeline: allow rule-id' comment)\n")
            throw ExitCode(2)
        }
        if dryRun {
            Terminal.out(PlanRenderer(loaded).dryRun())
            return
        }
        let options = try engine.options()
        let code = Engine.run(loaded, options: options, output: TerminalOutput(environment: options.environment))
        if code != 0 { throw ExitCode(code) }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue an interrupted or waiting run; succeeded stages are not run again.")

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @OptionGroup var engine: EngineArguments

    @Flag(help: "Resume even if the pipeline file changed since the run started.")
    var force = false

    @Option(help: "Run again a non-idempotent stage that was running when the engine stopped (repeatable).")
    var rerun: [String] = []

    @Option(help: "Treat a stage that was running when the engine stopped as done (repeatable).")
    var assumeDone: [String] = []

    @Option(help: "Without RUN: the latest run of this pipeline (needed when the state dir holds several pipelines).")
    var pipeline: String?

    func run() throws {
        var options = try engine.options()
        options.force = force
        options.rerun = Set(rerun)
        options.assumeDone = Set(assumeDone)
        let code = Engine.resume(runID: runID, pipeline: pipeline, options: options, output: TerminalOutput(environment: options.environment))
        if code != 0 { throw ExitCode(code) }
    }
}

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Undo a finished run's applied stages in reverse order of completion, from its journal alone.")

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @OptionGroup var engine: EngineArguments

    @Option(help: "Without RUN: the latest run of this pipeline (needed when the state dir holds several pipelines).")
    var pipeline: String?

    func run() throws {
        let options = try engine.options()
        let code = Engine.rollback(runID: runID, pipeline: pipeline, options: options, output: TerminalOutput(environment: options.environment))
        if code != 0 { throw ExitCode(code) }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a run's state (default: the latest run).")

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

    @Flag(help: "Print the documented JSON shape (schemas/journal.schema.json, 'state').")
    var json = false

    func run() throws {
        let state: RunState
        do {
            let store = try StateStores.open(stateDir)
            guard let id = try runID.map(RunID.checked) ?? store.runsNewestFirst().first?.id else { throw EngineError("no runs recorded in '\(stateDir)'") }
            state = try store.load(id)
        } catch let error as EngineError {
            Terminal.err("error: \(error.message)\n")
            throw ExitCode(2)
        }
        if json {
            Terminal.out(state.json.pretty)
            return
        }
        var text = "run \(state.run) of '\(state.pipeline)': \(state.status.rawValue)\n"
        text += "file \(state.file), started \(state.started)" + (state.ended.map { ", ended \($0)" } ?? "") + "\n"
        if let waiting = state.waiting { text += "waiting (\(waiting.reason)): \(waiting.message)\n" }
        if state.status == .abandoned {
            text += "abandoned: its engine (pid \(state.pid)) is gone without recording an end; continue it with 'pipeline resume \(state.run)' or undo it with 'pipeline rollback \(state.run)'\n"
        }
        let width = state.stages.map(\.id.count).max() ?? 5
        for stage in state.stages {
            let pad = String(repeating: " ", count: width - stage.id.count)
            var line = "  \(stage.id)\(pad)  \(stage.status.rawValue)"
            if !stage.attempts.isEmpty { line += ", \(stage.attempts.count) attempt\(stage.attempts.count == 1 ? "" : "s")" }
            if let last = stage.attempts.last, let outcome = last.outcome, outcome != "succeeded" {
                line += " (last: \(outcome)\(last.exitCode.map { ", exit \($0)" } ?? "")\(last.signal.map { ", \($0)" } ?? ""))"
            }
            if let rollback = stage.rollback { line += "; rollback: \(rollback.status)" }
            text += line + "\n"
        }
        if let note = state.rollbackNote { text += "note: \(note)\n" }
        if !state.remaining.isEmpty { text += "still applied, for a human to undo: \(state.remaining.joined(separator: ", "))\n" }
        Terminal.out(text)
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List recorded runs, newest first.")

    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

    @Flag(help: "Print a JSON array of {run, pipeline, status, started, ended} (null status: journal unreadable).")
    var json = false

    func run() throws {
        let store = try CheckedStore.open(stateDir)
        if json {
            let rows: [JSONValue] = store.runsNewestFirst().map(\.id).map { id in
                let state = try? store.load(id)
                return .object([("run", .string(id)), ("pipeline", state.map { .string($0.pipeline) } ?? .null),
                                ("status", state.map { .string($0.status.rawValue) } ?? .null),
                                ("started", state.map { .string($0.started) } ?? .null),
                                ("ended", state?.ended.map(JSONValue.string) ?? .null)])
            }
            Terminal.out(JSONValue.array(rows).pretty)
            return
        }
        for id in store.runsNewestFirst().map(\.id) {
            if let state = try? store.load(id) {
                Terminal.out("\(id)  \(state.pipeline)  \(state.status.rawValue)  \(state.started)\n")
            } else {
                Terminal.out("\(id)  (journal unreadable)\n")
            }
        }
    }
}

/// Opens a state dir for reading, refusing an unsafe one with a one-line error and exit 2.
enum CheckedStore {
    static func open(_ root: String) throws -> any StateStore {
        do {
            return try StateStores.open(root)
        } catch {
            Terminal.err("error: \(error.message)\n")
            throw ExitCode(2)
        }
    }
}
