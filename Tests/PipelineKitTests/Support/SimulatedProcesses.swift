import Foundation

@testable import PipelineEngine

/// A ``ProcessSpawner`` whose processes are simulated on the engine's (manual) clock: each script
/// is given a behaviour (output, exit code, how long it runs, whether it ignores SIGTERM, a side
/// effect at its end), and everything the engine did to it is recorded. Pipes are real, so the
/// engine's poll loop reads them exactly as it reads real processes.
final class SimulatedProcesses: ProcessSpawner, @unchecked Sendable {
    struct Behaviour {
        var lines: [String] = []
        var exitCode: Int32 = 0
        var durationMs = 0
        var ignoresTERM = false
        /// Runs when the process ends normally (write `$PIPELINE_OUTPUTS`, say).
        var atEnd: (() -> Void)?
    }

    struct Spawn {
        var pid: pid_t
        var script: String
        var environment: [String: String]
        var at: Int
        var endedAt: Int?
    }

    let clock: EngineClock
    private let behave: (String, [String: String]) -> Behaviour
    private let lock = NSLock()
    private(set) var spawns: [Spawn] = []
    private(set) var signals: [(pid: pid_t, signal: Int32, at: Int)] = []
    private var running: [pid_t: (write: Int32, endAt: Int, behaviour: Behaviour)] = [:]
    private var exited: [pid_t: Int32] = [:]
    private var nextPID: pid_t = 900_000

    init(clock: EngineClock, behave: @escaping (_ script: String, _ environment: [String: String]) -> Behaviour) {
        self.clock = clock
        self.behave = behave
    }

    func start(argv: [String], environment: [String], directory: String?) throws(EngineError) -> (pid: pid_t, output: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw EngineError("cannot create a pipe") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        var env: [String: String] = [:]
        for entry in environment {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let script = argv.last ?? ""
        let behaviour = behave(script, env)
        return lock.withLock {
            nextPID += 1
            spawns.append(Spawn(pid: nextPID, script: script, environment: env, at: clock.now()))
            running[nextPID] = (fds[1], clock.now() + behaviour.durationMs, behaviour)
            return (nextPID, fds[0])
        }
    }

    /// Ends a process: prints its lines, closes its end of the pipe, leaves its status to reap.
    private func finish(_ pid: pid_t, status: Int32, normally: Bool) {
        guard let process = running.removeValue(forKey: pid) else { return }
        if normally { process.behaviour.atEnd?() }
        var text = Array(process.behaviour.lines.map { $0 + "\n" }.joined().utf8)
        if normally, !text.isEmpty { _ = text.withUnsafeMutableBytes { write(process.write, $0.baseAddress, $0.count) } }
        close(process.write)
        exited[pid] = status
        if let i = spawns.firstIndex(where: { $0.pid == pid }) { spawns[i].endedAt = clock.now() }
    }

    func reap(_ pid: pid_t) -> Int32? { lock.withLock { exited.removeValue(forKey: pid) } }

    func signal(group pid: pid_t, _ signal: Int32) {
        lock.withLock {
            guard let process = running[pid] else { return }
            signals.append((pid, signal, clock.now()))
            if signal == SIGKILL || (signal == SIGTERM && !process.behaviour.ignoresTERM) {
                finish(pid, status: signal, normally: false)  // a wait status "killed by `signal`"
            }
        }
    }

    func groupAlive(_ pid: pid_t) -> Bool { lock.withLock { running[pid] != nil } }

    func nextChange() -> Int? { lock.withLock { running.values.map(\.endAt).min() } }

    func advance(to now: Int) {
        lock.withLock {
            for (pid, process) in running where process.endAt <= now {
                finish(pid, status: process.behaviour.exitCode << 8, normally: true)
            }
        }
    }

    /// The spawns whose environment says they are a try of `stage` in `phase` (`PIPELINE_PHASE`
    /// is set for undo steps only; a stage's own try has none).
    func spawns(of stage: String, phase: String? = nil) -> [Spawn] {
        lock.withLock { spawns.filter { $0.environment["PIPELINE_STAGE"] == stage && $0.environment["PIPELINE_PHASE"] == phase } }
    }
}

/// Collects what the engine says.
final class RecordedOutput: EngineOutput {
    var notes: [String] = []
    var lines: [(stage: String, line: String)] = []
    func stageLine(stage: String, line: String) { lines.append((stage, line)) }
    func note(_ text: String) { notes.append(text) }
    func promptApproval(stage: String, message: String) -> Bool { false }
    func attemptEnded(stage: String, attempt: Int, phase: String, status: String, logPath: String) {}
    func runEnded(_ state: RunState) {}
}
