import ArgumentParser
import Foundation
import PipelineEngine
import PipelineSpec

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List recorded runs, newest first.")

    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

    @OptionGroup var state: StateArguments

    @Flag(help: "Print a JSON array of {run, pipeline, status, started, ended} (null status: journal unreadable).")
    var json = false

    func run() throws {
        let store = try CheckedStore.open(stateDir, state)
        if json {
            let rows: [JSONValue] = store.runsNewestFirst().map(\.id).map { id in
                let state = try? store.load(id)
                return .object([
                    ("run", .string(id)), ("pipeline", state.map { .string($0.pipeline) } ?? .null),
                    ("status", state.map { .string($0.status.rawValue) } ?? .null),
                    ("started", state.map { .string($0.started) } ?? .null),
                    ("ended", state?.ended.map(JSONValue.string) ?? .null),
                ])
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
