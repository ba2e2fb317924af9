import Foundation
import Synchronization

/// A reusable, page-aligned byte buffer holding one sample's tensor while it travels from the
/// transform kernels to the shard writer. Buffers come from a `RecordBufferPool` and go back to
/// it when the writer is done, so the hot path allocates nothing per sample.
///
/// `@unchecked Sendable` without a lock: a buffer has one owner at a time (the pool's free list,
/// under its lock; then the worker that fills it; then the output it is handed to, which writes
/// it and gives it back), so `count` and the bytes are never touched by two threads at once.
final class RecordBuffer: @unchecked Sendable {
    let capacity: Int
    /// Bytes of the current sample (≤ capacity).
    var count = 0
    private let base: UnsafeMutableRawPointer

    /// Buffers alive in this process (a test checks that an abandoned stream's buffers go).
    static let live = Atomic<Int>(0)

    init(capacity: Int) {
        Self.live.add(1, ordering: .relaxed)
        self.capacity = max(capacity, 1)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 4096)
    }

    deinit {
        base.deallocate()
        Self.live.subtract(1, ordering: .relaxed)
    }

    /// The current sample's bytes, writable.
    var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }

    /// `count` bytes starting at `offset` of the current sample.
    func slice(offset: Int, count n: Int) -> UnsafeMutableRawBufferPointer {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "slice \(offset)+\(n) outside \(count) bytes")
        return UnsafeMutableRawBufferPointer(start: base + offset, count: n)
    }
}

/// A free list of `RecordBuffer`s. How many exist at once is bounded by the engine (`--inflight`,
/// through `InflightGate`, plus one per worker), not by the pool: the pool only recycles them.
final class RecordBufferPool: Sendable {
    private let free = Mutex<[RecordBuffer]>([])

    /// A buffer of at least `bytes` capacity with `count == bytes`.
    func take(bytes: Int) -> RecordBuffer {
        let reused = free.withLock { free -> RecordBuffer? in
            guard let i = free.lastIndex(where: { $0.capacity >= bytes }) else { return nil }
            return free.remove(at: i)
        }
        let b = reused ?? RecordBuffer(capacity: bytes)
        b.count = bytes
        return b
    }

    /// Returns a buffer for reuse; keeps at most `limit` idle buffers.
    func give(_ b: RecordBuffer, limit: Int = 4096) {
        free.withLock { free in if free.count < limit { free.append(b) } }
    }
}
