import ArgumentParser
import Foundation
import PipelineEngine
import PipelineSpec

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a run's state (default: the latest run).")

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

    @OptionGroup var state: StateArguments

    @Option(help: "Without RUN: the latest run of this pipeline.")
    var pipeline: String?

    @Flag(help: "Print the documented JSON shape (schemas/journal.schema.json, 'state').")
    var json = false

    func run() throws {
        let state: RunState
        let store = try CheckedStore.open(stateDir, self.state)
        do {
            let latest = store.runsNewestFirst().first { pipeline == nil || $0.pipeline == pipeline }
            guard let id = try runID.map(RunID.checked) ?? latest?.id else {
                throw EngineError("no runs\(pipeline.map { " of pipeline '\($0)'" } ?? "") recorded in '\(store.location)'")
            }
            state = try store.load(id)
        } catch let error as EngineError {
            Terminal.err("error: \(error.message)\n")
            throw ExitCode(2)
        }
        // With --state URL: the pipeline's lease, whoever holds it now.
        let lease = (store as? PostgresStateStore).flatMap { try? $0.leases(pipeline: state.pipeline).first }
        if json {
            guard let lease, case .object(var fields) = state.json else {
                Terminal.out(state.json.pretty)
                return
            }
            fields.append(("lease", lease.json))
            Terminal.out(JSONValue.object(fields).pretty)
            return
        }
        var text = "run \(state.run) of '\(state.pipeline)': \(state.status.rawValue)\n"
        text += "file \(state.file), started \(state.started)" + (state.ended.map { ", ended \($0)" } ?? "") + "\n"
        if let waiting = state.waiting { text += "waiting (\(waiting.reason)): \(waiting.message)\n" }
        if let lease {
            text +=
                "lease of '\(state.pipeline)': run \(lease.run) on \(lease.host) (pid \(lease.pid), user \(lease.user)), epoch \(lease.epoch), since \(lease.acquired), "
                + (lease.expired ? "expired \(lease.expires)\n" : "expires \(lease.expires)\n")
        }
        if state.status == .abandoned {
            text +=
                "abandoned: its engine (pid \(state.pid)) is gone without recording an end; continue it with 'pipeline resume \(state.run)' or undo it with 'pipeline rollback \(state.run)'\n"
        }
        let width = state.stages.map(\.id.count).max() ?? 5
        for stage in state.stages {
            let pad = String(repeating: " ", count: width - stage.id.count)
            var line = "  \(stage.id)\(pad)  \(stage.status.rawValue)"
            if !stage.attempts.isEmpty { line += ", \(stage.attempts.count) attempt\(stage.attempts.count == 1 ? "" : "s")" }
            if let last = stage.attempts.last, let outcome = last.outcome?.rawValue, outcome != "succeeded" {
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
