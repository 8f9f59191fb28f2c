import PipelineSpec
internal import CSystem
import FoundationEssentials
import Glibc
import Dispatch

/// Work of a stage kind that is not a plain script (probes, canary analysis, health checks), run on
/// its own thread so the engine's loop never blocks. It reports through a pipe the loop polls:
/// lines to show, journal events to record, and finally its verdict.
final class NativeTask: @unchecked Sendable {
    /// What the task concluded.
    struct Verdict: Sendable {
        var ok: Bool
        var message: String
        /// It paused for a person and no one could be waited for: the run stops (exit 4).
        var paused = false
    }

    /// An operator's request, handed over by the engine (``deliver(_:)``).
    enum Control: Sendable, Equatable {
        case promote(by: String)
        case abort(by: String)
    }

    /// What the task hands to the engine.
    enum Report: Sendable {
        case line(String)
        case event(JournalEvent)
        /// An event the task waits on until the engine made it durable (``recordDurably(_:)``).
        case durable(JournalEvent, DispatchSemaphore)
    }

    let readFD: Int32
    private let writeFD: Int32
    private let lock = Lock()
    private var reports: [Report] = []
    private var verdict: Verdict?
    private var cancelled = false
    private var childPID: pid_t = 0
    private var inbox: [Control] = []
    private var pausedMs = 0
    let clock: EngineClock
    let startedAt: Int
    /// The stage's time limit, moved on by the time spent paused for a person.
    var deadline: Int? {
        get { baseDeadline.map { $0 + lock.withLock { pausedMs } } }
        set { baseDeadline = newValue }
    }
    private var baseDeadline: Int?
    var timedOut = false

    init(clock: EngineClock) {
        var fds: [Int32] = [0, 0]
        _ = ps_pipe_cloexec(&fds)
        readFD = fds[0]
        writeFD = fds[1]
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        self.clock = clock
        startedAt = clock.now()
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// Starts `body` on a new thread; its return value is the verdict.
    func start(_ body: @escaping @Sendable (NativeTask) -> Verdict) {
        Threads.detach(stackSize: 1 << 20) { [self] in
            let result = body(self)
            finish(result)
        }
    }

    private func poke() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    // MARK: called on the task's thread

    func say(_ line: String) {
        lock.withLock { reports.append(.line(line)) }
        poke()
    }

    /// When something happens now (`at`, `at_ms` on the engine clock); the journal's own `time`
    /// is when it was made durable.
    var stamp: JournalEvent.NativeStamp { .init(at: clock.timestamp(), atMs: clock.now()) }

    /// Queues a journal event (made with ``stamp``).
    func record(_ event: JournalEvent) {
        lock.withLock { reports.append(.event(event)) }
        poke()
    }

    var isCancelled: Bool { lock.withLock { cancelled } }

    /// Queues a journal event and waits until the engine has made it durable (write-ahead: what it
    /// says must be in the journal before the task acts on it); gives up when cancelled.
    func recordDurably(_ event: JournalEvent) {
        let done = DispatchSemaphore(value: 0)
        lock.withLock { reports.append(.durable(event, done)) }
        poke()
        while done.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            if isCancelled { return }
        }
    }

    /// The oldest operator request not yet taken.
    func takeControl() -> Control? {
        lock.withLock { inbox.isEmpty ? nil : inbox.removeFirst() }
    }

    /// Whether an operator request waits to be taken.
    var hasControl: Bool { lock.withLock { !inbox.isEmpty } }

    /// Sleeps like ``sleep(ms:)`` but wakes early when an operator request arrives.
    func sleepUntilControl(ms: Int) -> Bool {
        if clock.isVirtual { return sleep(ms: ms) }
        let end = clock.now() + ms
        while clock.now() < end {
            if hasControl { return !isCancelled }
            guard sleep(ms: min(100, max(1, end - clock.now()))) else { return false }
        }
        return !isCancelled
    }

    /// Time spent waiting for a person does not count against the stage's `timeout`.
    func addPaused(ms: Int) { lock.withLock { pausedMs += ms } }

    private func finish(_ result: Verdict) {
        lock.withLock { verdict = result }
        poke()
    }

    /// Sleeps on the engine's clock (instantly on a virtual one); returns false if cancelled meanwhile.
    func sleep(ms: Int) -> Bool {
        if clock.isVirtual {
            clock.skip(ms)
            return !isCancelled
        }
        let end = clock.now() + ms
        while clock.now() < end {
            if isCancelled { return false }
            usleep(useconds_t(min(50, max(1, end - clock.now())) * 1000))
        }
        return !isCancelled
    }

    /// Runs a script to completion as a child in its own process group; output lines go to `onLine`.
    /// - Returns: the exit code, or nil when it was killed (timeout or cancel) or could not start.
    func runScript(
        _ argv: [String], environment: [String], directory: String, timeoutMs: Int, masker: SecretMasker? = nil,
        onLine: (String) -> Void
    ) -> Int? {
        let child: ChildProcess
        do {
            child = try ChildProcess(argv: argv, environment: environment, directory: directory, now: clock.now())
        } catch {
            onLine("cannot start: \(error.message)")
            return nil
        }
        lock.withLock { childPID = child.pid }
        let end = EngineClock.monotonicMs() + timeoutMs
        var killed = false
        var status: Int32 = 0
        while true {
            if child.eof {
                usleep(20_000)
            } else {
                var pfd = pollfd(fd: child.fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&pfd, 1, 50)
                for line in child.readLines(masker: masker) { onLine(line) }
            }
            let reaped = Posix.reap(child.pid)
            if case .exited(let code) = reaped { status = code }
            if case .running = reaped {
            } else {
                // The script is done. What is left of its group goes with it; a process it
                // detached (setsid) may keep the pipe open, so read what is there and stop.
                if child.groupAlive { child.signalGroup(SIGKILL) }
                // Each call takes a bounded amount: read on until the end, until nothing is there
                // now, or for the output grace at most (a detached process writing without pause
                // must not hold the verdict, nor an interrupt, for ever).
                let drainEnd = EngineClock.monotonicMs() + EngineDefaults.outputGraceMs
                while true {
                    let lines = child.readLines(masker: masker)
                    for line in lines { onLine(line) }
                    if child.eof || lines.isEmpty || isCancelled || EngineClock.monotonicMs() >= drainEnd { break }
                }
                child.closeOutput()
                break
            }
            if !killed, isCancelled || EngineClock.monotonicMs() >= end {
                killed = true
                child.signalGroup(SIGKILL)
            }
        }
        child.exitStatus = status
        lock.withLock { childPID = 0 }
        return killed ? nil : child.exitCode
    }

    // MARK: called on the engine's thread

    /// Asks the task to stop; kills the process group of a script it is running.
    func cancel() {
        let pid: pid_t = lock.withLock {
            cancelled = true
            return childPID
        }
        if pid > 0 { kill(-pid, SIGKILL) }
    }

    /// Hands an operator's request to the task.
    func deliver(_ control: Control) { lock.withLock { inbox.append(control) } }

    /// Takes what the task reported since the last call, and its verdict once it has one.
    func collect() -> ([Report], Verdict?) {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buffer, buffer.count) > 0 {}
        return lock.withLock {
            let taken = reports
            reports.removeAll()
            return (taken, verdict)
        }
    }
}
