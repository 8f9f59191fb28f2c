internal import CSystem
import Glibc
import Synchronization

/// Makes a journal file durable on a thread of its own, so the engine keeps reaping children,
/// reading their output and preparing the next spawns while an `fdatasync` is in flight.
///
/// The engine writes every batch itself (in order, on its own thread) and then asks for it to be
/// made durable by its number (``request(_:)``); the flusher syncs everything written up to the
/// newest number it was asked for, then says so on ``completionFD`` (an eventfd the engine polls).
/// Batches asked for while a sync is in flight share the next one (group commit). Nothing is
/// acted on before ``durable`` reaches its number: the write-ahead rule holds as with a sync on the
/// engine's thread.
final class JournalFlusher: Sendable {
    private struct Shared {
        /// The newest batch number asked for.
        var requested = 0
        /// Every batch up to this number is durable.
        var durable = 0
        /// The errno of a failed `fdatasync` (the journal can no longer be trusted).
        var failure: Int32 = 0
        var stopping = false
    }

    private let fd: Int32
    private let shared = Mutex(Shared())
    /// Test hooks: ``DurabilityProbe``.
    private let probe: DurabilityProbe
    /// Wakes the flusher (blocking reads on its side).
    private let wakeFD: Int32
    /// Readable when ``durable`` moved (non-blocking; the engine polls it).
    let completionFD: Int32

    /// - Parameter fd: the journal, opened for appending (owned by the caller, open until ``stop(_:)`` returns).
    init?(fd: Int32, probe: DurabilityProbe) {
        let wake = ps_eventfd(0)
        let done = ps_eventfd(1)
        guard wake >= 0, done >= 0 else {
            if wake >= 0 { close(wake) }
            if done >= 0 { close(done) }
            return nil
        }
        self.fd = fd
        self.probe = probe
        wakeFD = wake
        completionFD = done
    }

    deinit {
        close(wakeFD)
        close(completionFD)
    }

    /// Starts the thread (every signal blocked there: they belong to the engine's signalfd).
    /// - Returns: the thread, to ``stop(_:)`` with; nil when it could not be created.
    func start() -> pthread_t? {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = ps_thread_start_unsignalled(
            &thread,
            { context in
                let flusher = Unmanaged<JournalFlusher>.fromOpaque(context!).takeRetainedValue()
                flusher.run()
                return nil
            }, context)
        guard rc == 0 else {
            Unmanaged<JournalFlusher>.fromOpaque(context).release()
            return nil
        }
        return thread
    }

    /// Lets the thread finish what it was asked for, then joins it.
    func stop(_ thread: pthread_t) {
        shared.withLock { $0.stopping = true }
        wake()
        pthread_join(thread, nil)
    }

    /// Asks for every batch up to `number` (already written) to be made durable.
    func request(_ number: Int) {
        shared.withLock { $0.requested = max($0.requested, number) }
        wake()
    }

    /// Records that the caller made every batch up to `number` durable itself.
    func madeDurable(_ number: Int) {
        shared.withLock { $0.durable = max($0.durable, number) }
    }

    /// Every batch up to this number is durable.
    /// - Throws: ``EngineError`` (exit 3) once a sync failed.
    func durable() throws(EngineError) -> Int {
        let (durable, failure) = shared.withLock { ($0.durable, $0.failure) }
        if failure != 0 { throw EngineError("cannot sync the journal: \(String(cString: strerror(failure)))", exitCode: 3) }
        return durable
    }

    /// Clears ``completionFD`` after the engine saw it readable.
    func acknowledge() {
        var count: UInt64 = 0
        _ = read(completionFD, &count, 8)
    }

    private func wake() {
        var one: UInt64 = 1
        while write(wakeFD, &one, 8) < 0, errno == EINTR {}
    }

    private func run() {
        while true {
            var count: UInt64 = 0
            if read(wakeFD, &count, 8) < 0, errno == EINTR { continue }
            let (target, durable, stopping) = shared.withLock { ($0.requested, $0.durable, $0.stopping) }
            if target > durable {
                probe.delay()
                // Everything written before this call is covered, batches the engine wrote since it was asked included.
                let size = probe.size(fd)
                var rc = fdatasync(fd)
                while rc != 0, errno == EINTR { rc = fdatasync(fd) }
                let failure = rc == 0 ? 0 : errno
                if failure == 0 { probe.synced(size) }
                shared.withLock {
                    if failure == 0 { $0.durable = max($0.durable, target) } else { $0.failure = failure }
                }
                var one: UInt64 = 1
                while write(completionFD, &one, 8) < 0, errno == EINTR {}
            }
            if stopping { return }
        }
    }
}

/// Test hooks that make the background sync observable: `PIPELINE_TEST_SYNC_DELAY_MS` holds each
/// background sync back (widening the window in which a script could wrongly start), and
/// `PIPELINE_TEST_DURABLE_LOG=FILE` appends, after every sync, how many bytes of the journal it
/// covered, so a script can check its start was durable before it ran.
struct DurabilityProbe: Sendable {
    let delayMs: Int
    let logFD: Int32

    /// The hooks the environment asks for (none: no cost beyond two comparisons per sync).
    static func fromEnvironment() -> DurabilityProbe {
        let delay = getenv("PIPELINE_TEST_SYNC_DELAY_MS").flatMap { Int(String(cString: $0)) } ?? 0
        let log = getenv("PIPELINE_TEST_DURABLE_LOG").map { open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) } ?? -1
        return DurabilityProbe(delayMs: max(0, delay), logFD: log)
    }

    func delay() {
        if delayMs > 0 { usleep(useconds_t(delayMs * 1000)) }
    }

    /// The journal's size when a sync starts (what it covers); 0 without the log.
    func size(_ fd: Int32) -> Int {
        guard logFD >= 0 else { return 0 }
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    func synced(_ size: Int) {
        guard logFD >= 0 else { return }
        _ = Posix.writeAll(logFD, "\(size)\n")
    }
}
