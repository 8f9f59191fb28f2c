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
