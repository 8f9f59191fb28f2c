import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

/// `pipeline lock status|release`: the leases of a shared state store.
struct Lock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Show or force-release the lease of a pipeline in a --state postgres:// database.",
        subcommands: [LockStatus.self, LockRelease.self])

    /// Runs `body`; an ``EngineError`` is printed as one line and exits 2.
    static func orExit<T>(_ body: () throws(EngineError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            Terminal.err("error: \(error.message)\n")
            throw ExitCode(2)
        }
    }

    /// The shared store the arguments name (a local lock is an flock that dies with its holder).
    static func store(_ state: StateArguments, _ stateDir: String) throws -> PostgresStateStore {
        guard let url = try state.url() else {
            throw ValidationError("lock status and release need --state postgres://… (a local lock is released when its holder exits)")
        }
        return try orExit { () throws(EngineError) in try PostgresStateStore(url: url, localRoot: stateDir, leaseTTLms: 30_000) }
    }
}

struct LockStatus: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show who holds each pipeline's lease (or one's).")

    @OptionGroup var state: StateArguments

    @Option(help: "Where this machine keeps logs and outputs.")
    var stateDir = ".pipeline"

    @Option(help: "Only this pipeline: NAME shows the leases of all its environments, NAME@ENV one of them.")
    var pipeline: String?

    func run() throws {
        let store = try Lock.store(state, stateDir)
        let leases = try Lock.orExit { () throws(EngineError) in
            try store.leases().filter { lease in pipeline.map { lease.pipeline == $0 || lease.pipeline.hasPrefix($0 + "@") } ?? true }
        }
        if leases.isEmpty { Terminal.out(pipeline.map { "no lease of '\($0)'\n" } ?? "no leases\n") }
        for lease in leases {
            Terminal.out(
                "\(lease.pipeline): \(lease.expired ? "free (expired \(lease.expires))" : "held until \(lease.expires)") by run \(lease.run) "
                    + "on \(lease.host) (pid \(lease.pid), user \(lease.user)), epoch \(lease.epoch), since \(lease.acquired)\n")
        }
    }
}

struct LockRelease: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "End a live lease by force: its holder fences itself (exit 5) at its next renewal or journal append.")

    @OptionGroup var state: StateArguments

    @Option(help: "Where this machine keeps logs and outputs.")
    var stateDir = ".pipeline"

    @Option(help: "The pipeline whose lease to release (NAME@ENV for one environment of a file with environments).")
    var pipeline: String

    @Option(help: "Why (recorded with who released it).")
    var reason: String

    func run() throws {
        let store = try Lock.store(state, stateDir)
        let user = ProcessInfo.processInfo.environment["USER"] ?? String(getuid())
        let by = "\(user)@\(ProcessInfo.processInfo.hostName)"
        let lease = try Lock.orExit { () throws(EngineError) in try store.release(pipeline: pipeline, reason: reason, by: by) }
        Terminal.out("released the lease of '\(pipeline)' held by run \(lease.run) on \(lease.host) (epoch \(lease.epoch)); recorded with the reason\n")
    }
}
