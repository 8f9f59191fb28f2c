import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

/// `--state URL` (or `PIPELINE_STATE`): where runs are shared across machines.
struct StateArguments: ParsableArguments {
    @Option(
        name: .customLong("state"),
        help: ArgumentHelp(
            "A postgres:// or postgresql:// URL: runs, leases and journals live in that database (env PIPELINE_STATE).",
            valueName: "URL"))
    var stateURL: String?

    /// The database URL, or nil for the local state dir; a path given here is the state dir itself.
    func url() throws -> String? {
        let value = stateURL ?? ProcessInfo.processInfo.environment["PIPELINE_STATE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let value else { return nil }
        guard StateStores.isDatabase(value) else {
            throw ValidationError("--state: expected a postgres:// or postgresql:// URL (a local directory is --state-dir)")
        }
        return value
    }
}
