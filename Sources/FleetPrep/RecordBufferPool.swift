import Foundation

/// A reusable, page-aligned byte buffer holding one sample's tensor while it travels from the
/// transform kernels to the shard writer. Buffers come from a `RecordBufferPool` and go back to
/// it when the writer is done, so the hot path allocates nothing per sample.
final class RecordBuffer: @unchecked Sendable {
    let capacity: Int
    /// Bytes of the current sample (≤ capacity).
    var count = 0
    private let base: UnsafeMutableRawPointer

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 4096)
    }

    deinit { base.deallocate() }

    /// The current sample's bytes, writable.
    var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }

    /// `count` bytes starting at `offset` of the current sample.
    func slice(offset: Int, count n: Int) -> UnsafeMutableRawBufferPointer {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "slice \(offset)+\(n) outside \(count) bytes")
        return UnsafeMutableRawBufferPointer(start: base + offset, count: n)
    }
}

/// A free list of `RecordBuffer`s. How many exist at once is bounded by the pipeline (window ×
/// queue capacity + workers), not by the pool: the pool only recycles them.
final class RecordBufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [RecordBuffer] = []
    private(set) var created = 0

    /// A buffer of at least `bytes` capacity with `count == bytes`.
    func take(bytes: Int) -> RecordBuffer {
        lock.lock()
        if let i = free.lastIndex(where: { $0.capacity >= bytes }) {
            let b = free.remove(at: i)
            lock.unlock()
            b.count = bytes
            return b
        }
        created += 1
        lock.unlock()
        let b = RecordBuffer(capacity: bytes)
        b.count = bytes
        return b
    }

    /// Returns a buffer for reuse; keeps at most `limit` idle buffers.
    func give(_ b: RecordBuffer, limit: Int = 4096) {
        lock.lock()
        if free.count < limit { free.append(b) }
        lock.unlock()
    }
}
