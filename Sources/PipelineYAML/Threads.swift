#if canImport(Glibc)
    internal import Glibc
#endif

/// Threads on POSIX threads directly (the libraries link only the Swift runtime and
/// FoundationEssentials, not Foundation's `Thread`): the reader's parse thread, the decoder's
/// second half of a large stage list, the engine's native tasks.
package enum Threads {
    /// A started thread, to join.
    package struct Handle {
        fileprivate let thread: pthread_t
    }

    /// A started thread's body, carried across `pthread_create`.
    private final class Start {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread with a stack of `stackSize` bytes and returns it to join, or
    /// runs `body` on this thread (and returns nil) when the system has no thread to give.
    @discardableResult
    package static func start(stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) -> Handle? {
        if let thread = startIfPossible(stackSize: stackSize, body) { return thread }
        body()
        return nil
    }

    /// Starts `body` on a new thread and returns it to join; nil (and `body` not run) when the
    /// system has no thread to give.
    package static func startIfPossible(stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) -> Handle? {
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
            return nil
        }
        return Handle(thread: thread)
    }

    /// Waits for a thread that ``start(stackSize:_:)`` returned.
    package static func join(_ handle: Handle?) {
        if let handle { pthread_join(handle.thread, nil) }
    }

    /// Starts `body` on a thread that nobody joins (a native task reports through its pipe).
    package static func detach(stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) {
        if let handle = start(stackSize: stackSize, body) { pthread_detach(handle.thread) }
    }

    /// Runs every body on its own thread and returns when all have ended.
    package static func all(_ bodies: [@Sendable () -> Void]) {
        let threads = bodies.map { start($0) }
        for thread in threads { join(thread) }
    }

    /// How many processors are online (1 when the system does not say).
    package static let processors = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}
