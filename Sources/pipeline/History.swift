import ArgumentParser
import Foundation
import PipelineEngine
import PipelineSpec

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List recorded runs, newest first.")

    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

    @OptionGroup var state: StateArguments

    @Flag(help: "Print a JSON array of {run, pipeline, environment, release, status, started, ended} (null status: journal unreadable).")
    var json = false

    func run() throws {
        let store = try CheckedStore.open(stateDir, state)
        if json {
            let rows: [JSONValue] = store.runsNewestFirst().map(\.id).map { id in
                let state = try? store.load(id)
                return .object([
                    ("run", .string(id)), ("pipeline", state.map { .string($0.pipeline) } ?? .null),
                    ("environment", state?.environment.map(JSONValue.string) ?? .null), ("release", state?.release.map(JSONValue.string) ?? .null),
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
                let place = state.environment.map { "  env \($0)" } ?? ""
                let release = state.release.map { "  release \($0)" } ?? ""
                Terminal.out("\(id)  \(state.pipeline)\(place)  \(state.status.rawValue)  \(state.started)\(release)\n")
            } else {
                Terminal.out("\(id)  (journal unreadable)\n")
            }
        }
    }
}
