import Glibc
import Synchronization

/// A lock around state that native tasks' threads share with the engine: Synchronization's
/// `Mutex`, in a class so one lock can be kept and captured by several owners.
final class Lock: Sendable {
    private let mutex = Mutex(())

    /// Runs `body` holding the lock.
    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try mutex.withLock { _ throws(E) -> T in try body() }
    }
}

/// Threads for native work (checks, analyses), on POSIX threads directly: the engine links only
/// the Swift runtime and FoundationEssentials, not Foundation's `Thread`.
enum Threads {
    /// A started thread's body, carried across `pthread_create`.
    private final class Start {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread with a stack of `stackSize` bytes and returns it to join, or
    /// runs `body` on this thread (and returns nil) when the system has no thread to give.
    @discardableResult
    static func start(stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) -> pthread_t? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        let start = Unmanaged.passRetained(Start(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, &attributes,
            { argument in
                let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
                start.body()
                return nil
            }, start)
        guard created == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            body()
            return nil
        }
        return thread
    }

    /// Starts `body` on a thread that nobody joins (a native task reports through its pipe).
    static func detach(stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) {
        if let thread = start(stackSize: stackSize, body) { pthread_detach(thread) }
    }

    /// Runs every body on its own thread and returns when all have ended.
    static func all(_ bodies: [@Sendable () -> Void]) {
        let threads = bodies.map { start($0) }
        for case let thread? in threads { pthread_join(thread, nil) }
    }
}
