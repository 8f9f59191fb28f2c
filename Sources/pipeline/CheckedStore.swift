import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

/// Opens a state dir for reading, refusing an unsafe one with a one-line error and exit 2.
enum CheckedStore {
    static func open(_ root: String, _ state: StateArguments) throws -> any StateStore {
        let url = try state.url()
        do {
            return try StateStores.open(url ?? root, localRoot: root)
        } catch {
            Terminal.err("error: \(error.message)\n")
            throw ExitCode(2)
        }
    }
}
