import Synchronization

/// A flag that a signal handler (SIGINT/SIGTERM) sets and long loops check: parsing a sidecar,
/// walking an input tree. Shared by every copy of the options it is in; equal to every other
/// flag (it is not part of what options mean).
public final class CancellationFlag: Sendable, Hashable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Throws `Cancelled` once the flag is set.
    public func check() throws(Cancelled) { if isCancelled { throw Cancelled() } }

    public static func == (a: CancellationFlag, b: CancellationFlag) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}

/// Work stopped because the run was cancelled.
public struct Cancelled: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "cancelled" }
}
