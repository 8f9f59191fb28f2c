import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a run's state (default: the latest run).")

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

    @OptionGroup var state: StateArguments

    @Option(help: "Without RUN: the latest run of this pipeline.")
    var pipeline: String?

    @Flag(help: "Print the documented JSON shape (schemas/journal.schema.json, 'state').")
    var json = false

    @Option(name: .customLong("env"), help: ArgumentHelp("Without RUN: the latest run in this environment.", valueName: "NAME"))
    var environmentName: String?

    @Flag(help: "Refresh every second while the run is running; end with its final state.")
    var watch = false

    @Option(help: "Colour: 'auto' (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it), 'always' or 'never'.")
    var color: ColorChoice = .auto

    func run() throws {
        let store = try CheckedStore.open(stateDir, self.state)
        let id = try Lock.orExit { () throws(EngineError) in
            let latest = store.runsNewestFirst().first {
                (pipeline == nil || $0.pipeline == pipeline) && (environmentName == nil || $0.environment == environmentName)
            }
            guard let id = try runID.map(RunID.checked) ?? latest?.id else {
                throw EngineError(
                    "no runs\(pipeline.map { " of pipeline '\($0)'" } ?? "")\(environmentName.map { " in environment '\($0)'" } ?? "") recorded in '\(store.location)'"
                )
            }
            return id
        }
        let environment = ProcessInfo.processInfo.environment
        let colored = color.enabled(fd: 1, environment: environment)
        let clear = watch && isatty(1) == 1
        var last = ""
        while true {
            let state = try Lock.orExit { () throws(EngineError) in try store.load(id) }
            // With --state URL: the pipeline's lease (per environment), whoever holds it now.
            let lease = (store as? PostgresStateStore).flatMap { try? $0.leases(pipeline: state.lockScope).first }
            let text =
                json
                ? Self.json(state, lease: lease) : Self.text(state, lease: lease, color: colored, now: EngineClock(virtual: false, wallStart: nil).timestamp())
            if text != last || !watch {
                Terminal.out((clear ? "\u{1B}[H\u{1B}[2J" : (last.isEmpty ? "" : "\n")) + text)
                last = text
            }
            guard watch, state.status == .running else { return }
            usleep(1_000_000)
        }
    }

    static func json(_ state: RunState, lease: PostgresStateStore.LeaseInfo?) -> String {
        guard let lease, case .object(var fields) = state.json else { return state.json.pretty }
        fields.append(("lease", lease.json))
        return JSONValue.object(fields).pretty
    }

    static func paint(_ text: String, _ status: String, _ color: Bool) -> String {
        guard color else { return text }
        switch status {
        case "succeeded", "rolled_back": return "\u{1B}[32m\(text)\u{1B}[0m"
        case "failed", "rollback_failed": return "\u{1B}[31;1m\(text)\u{1B}[0m"
        case "running": return "\u{1B}[36m\(text)\u{1B}[0m"
        default: return "\u{1B}[33m\(text)\u{1B}[0m"
        }
    }

    /// The human view: the run, its lease, each stage with its time, why it failed, where the log
    /// is, and what to run next.
    static func text(_ state: RunState, lease: PostgresStateStore.LeaseInfo?, color: Bool, now: String) -> String {
        let elapsed =
            state.elapsedMs(now: now).map { state.ended == nil ? " (for \(HumanDuration.text($0)) so far)" : " (took \(HumanDuration.text($0)))" } ?? ""
        let place = state.environment.map { " in '\($0)'" } ?? ""
        var text = "run \(state.run) of '\(state.pipeline)'\(place): \(paint(state.status.rawValue, state.status.rawValue, color))\(elapsed)\n"
        text += "file \(state.file), started \(state.started)" + (state.ended.map { ", ended \($0)" } ?? "") + "\n"
        if let release = state.release { text += "release \(release)\n" }
        if !state.inputs.isEmpty { text += "inputs: " + state.inputs.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") + "\n" }
        if let reason = state.requiresSkipped { text += "requires skipped (--skip-requires): \(reason)\n" }
        if let waiting = state.waiting { text += "waiting (\(waiting.reason)): \(waiting.message)\n" }
        if let lease {
            text +=
                "lease of '\(state.lockScope)': run \(lease.run) on \(lease.host) (pid \(lease.pid), user \(lease.user)), epoch \(lease.epoch), since \(lease.acquired), "
                + (lease.expired ? "expired \(lease.expires)\n" : "expires \(lease.expires)\n")
        }
        if state.status == .abandoned {
            text += "abandoned: its engine (pid \(state.pid)) is gone without recording an end\n"
        }
        if let failed = state.failedStage.flatMap(state.stage), let reason = state.failureReason(failed) {
            text += "failed: stage '\(failed.id)': \(reason)" + (failed.attempts.last.map { "; log: \($0.log)" } ?? "") + "\n"
        }
        let width = state.stages.map(\.id.count).max() ?? 5
        let statusWidth = state.stages.map(\.status.rawValue.count).max() ?? 7
        for stage in state.stages {
            let pad = String(repeating: " ", count: width - stage.id.count)
            let status = stage.status.rawValue
            var line = "  \(stage.id)\(pad)  \(paint(status, status, color))\(String(repeating: " ", count: statusWidth - status.count))"
            if !stage.attempts.isEmpty {
                line += "  \(HumanDuration.text(RunState.durationMs(stage))), \(stage.attempts.count) attempt\(stage.attempts.count == 1 ? "" : "s")"
            }
            if let last = stage.attempts.last, let outcome = last.outcome?.rawValue, outcome != "succeeded" {
                line += " (last: \(outcome)\(last.exitCode.map { ", exit \($0)" } ?? "")\(last.signal.map { ", \($0)" } ?? ""))"
            }
            if let reason = stage.skipReason { line += " (\(reason))" }
            if let rollback = stage.rollback { line += "; rollback: \(rollback.status.rawValue)" }
            while line.hasSuffix(" ") { line.removeLast() }
            text += line + "\n"
        }
        if let note = state.rollbackNote { text += "note: \(note)\n" }
        if !state.remaining.isEmpty { text += "still applied, for a human to undo: \(state.remaining.joined(separator: ", "))\n" }
        for step in state.nextSteps { text += "next: \(step)\n" }
        return text
    }
}
