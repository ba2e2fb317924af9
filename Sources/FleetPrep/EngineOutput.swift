import FleetShards
import Foundation

/// Where `IngestEngine`'s samples go: the shards of an ingest (`ShardSink`) or the consumer of an
/// online `SampleStream` (`StreamOutput`). Both get the same plans, units and failure rule; they
/// differ only in what they do with a finished sample and a finished group.
protocol EngineOutput: AnyObject, Sendable {
    /// The sample buffers' pool.
    var pool: RecordBufferPool { get }
    /// True: the output keeps each sample's buffer after `write` (a stream hands it to the
    /// consumer); false: the buffer goes back to the pool when `write` returns.
    var keepsSamples: Bool { get }
    /// Places a scanned group (called in group order). Returns its layout and the shards that
    /// can be completed now.
    func layOut(_ plan: GroupPlan) throws -> (GroupLayout, ready: [Int])
    /// After the last group's layout: the shards that can be completed now.
    func sealAll() -> [Int]
    /// False when sample `k` of `layout` is not needed (its shard was completed by an earlier run).
    func needs(_ layout: GroupLayout, _ k: Int) -> Bool
    func write(_ layout: GroupLayout, _ sample: PreparedSample) throws
    /// Group `number` is finished (`layout` nil: it failed before its layout); `failed` drops its
    /// samples. Returns the shards now complete.
    func groupFinished(_ number: Int, layout: GroupLayout?, failed: Bool) -> [Int]
    /// Completes what `layOut`, `sealAll` or `groupFinished` reported ready (outside the engine's lock).
    func finish(_ ready: [Int]) throws
    /// The run stopped (an error, cancellation): drop what is unfinished.
    func abandonOpen()
}

/// The output of an online stream: samples are held per group and delivered in group order, each
/// group once it is finished and has not failed — the rule of the shards, where a failed group
/// leaves no sample. So a training loop gets exactly the samples `ingest` writes, in the same order.
///
/// Memory: samples of groups after the oldest unfinished one wait only while the held bytes are
/// within `budget` (`--inflight`); the oldest group is never held back (its units are queued first,
/// so it always completes), so the bound is `budget` plus one group.
///
/// `@unchecked Sendable`: `lock` (an NSCondition: writers of later groups wait on it for the held
/// bytes to fall) guards `groups`, `layouts`, `head`, `heldBytes`, `delivering` and `stopped`;
/// `deliver` and `budget` are immutable, and `onConsumerGone` is set once before the engine runs.
final class StreamOutput: EngineOutput, @unchecked Sendable {
    let pool = RecordBufferPool()
    var keepsSamples: Bool { true }

    private struct Group {
        var samples: [Int: StreamSample] = [:]
        var finished = false
        var failed = false
    }

    /// Guards everything below.
    private let lock = NSCondition()
    private var groups: [Int: Group] = [:]
    private var layouts: [Int: GroupLayout] = [:]
    /// The next group to deliver.
    private var head = 0
    private var heldBytes = 0
    private var delivering = false
    private var stopped = false
    private let budget: Int
    /// Hands one sample to the consumer (waiting for it); false once the consumer went away.
    private let deliver: @Sendable (StreamSample) -> Bool
    /// Called when the consumer went away, to stop the engine.
    var onConsumerGone: (@Sendable () -> Void)?

    init(budget: Int, deliver: @escaping @Sendable (StreamSample) -> Bool) {
        self.budget = max(1, budget)
        self.deliver = deliver
    }

    func layOut(_ plan: GroupPlan) throws -> (GroupLayout, ready: [Int]) {
        (GroupLayout(plan: plan), [])
    }

    func sealAll() -> [Int] { [] }

    func needs(_ layout: GroupLayout, _ k: Int) -> Bool { true }

    func write(_ layout: GroupLayout, _ sample: PreparedSample) throws {
        let g = layout.plan.number
        let s = StreamSample(sample, plan: layout.plan, pool: pool)
        let n = s.tensor.byteCount
        lock.lock()
        defer { lock.unlock() }
        while g != head && heldBytes > 0 && heldBytes + n > budget && !stopped { lock.wait() }
        if stopped { return }
        groups[g, default: Group()].samples[sample.position] = s
        heldBytes += n
    }

    func groupFinished(_ number: Int, layout: GroupLayout?, failed: Bool) -> [Int] {
        lock.lock()
        var group = groups[number] ?? Group()
        group.finished = true
        group.failed = failed
        if failed {
            heldBytes -= group.samples.values.reduce(0) { $0 + $1.tensor.byteCount }
            group.samples = [:]
        }
        groups[number] = group
        layouts[number] = layout
        lock.broadcast()
        lock.unlock()
        return [number]
    }

    /// Delivers every finished group at the head, in order, on this thread (one thread at a time).
    func finish(_ ready: [Int]) throws {
        lock.lock()
        if delivering || stopped { lock.unlock(); return }
        delivering = true
        while let group = groups[head], group.finished {
            groups[head] = nil
            layouts[head] = nil
            head += 1
            lock.broadcast()
            lock.unlock()
            var gone = false
            for k in group.samples.keys.sorted() {
                guard let s = group.samples[k] else { continue }
                lock.lock(); heldBytes -= s.tensor.byteCount; lock.broadcast(); lock.unlock()
                if !gone, !deliver(s) { gone = true }
            }
            lock.lock()
            if gone { stopped = true; lock.broadcast(); break }
        }
        delivering = false
        let stop = stopped
        lock.unlock()
        if stop { onConsumerGone?() }
    }

    func abandonOpen() { stop() }

    /// Wakes and releases every waiting writer; held samples go back to the pool.
    func stop() {
        lock.lock()
        stopped = true
        groups = [:]
        layouts = [:]
        heldBytes = 0
        lock.broadcast()
        lock.unlock()
    }
}
