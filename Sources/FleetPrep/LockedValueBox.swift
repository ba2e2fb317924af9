import Synchronization

/// A value bound to the lock that guards it, shared by reference (in the manner of swift-nio's
/// `NIOLockedValueBox`): the value is reached only inside `withLock`, so no code can touch it
/// without holding the lock. For state that must outlive a struct's copies or be shared between
/// objects; a class's own state keeps a `Mutex` directly.
final class LockedValueBox<Value>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: sending Value) { mutex = Mutex(value) }

    func withLock<R, E: Error>(_ body: (inout sending Value) throws(E) -> sending R) throws(E) -> sending R {
        try mutex.withLock(body)
    }
}
