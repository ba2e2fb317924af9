import FleetShards
import Foundation

/// One training sample delivered online by `SampleStream`: every camera's tensor in one
/// buffer (`[camera, …]`), the label vector and mask, and timestamps.
public final class StreamSample: @unchecked Sendable {
    /// `<clip>-<master frame index>`, as in shards.
    public let key: String
    /// dtype, shape `[camera, C, H, W]` or `[camera, H, W, C]`, layout.
    public let tensor: TensorSpec
    public let labels: [Float]
    /// 1 where `labels[i]` is valid.
    public let mask: [UInt8]
    /// The sample's annotation JSON ("null" when none).
    public let annotations: String
    /// Master frame time on the clip clock, seconds.
    public let time: Double
    /// Each camera's frame time (nil: camera absent, blank image).
    public let cameraTimes: [Double?]
    /// Source clip, cameras, frame indices (as stored beside shard records).
    public let metadata: JSONValue

    private let buffer: RecordBuffer
    private let pool: RecordBufferPool

    init(_ s: PreparedSample, plan: GroupPlan, pool: RecordBufferPool) {
        let r = plan.record(s.position)
        let synced = plan.labels.samples[plan.kept[s.position]]
        key = r.key
        tensor = r.tensor
        labels = r.labels
        mask = r.mask
        annotations = r.annotations
        time = synced.masterTime
        cameraTimes = synced.cameras.map { $0?.time }
        metadata = r.metadata
        buffer = s.buffer
        self.pool = pool
    }

    deinit { pool.give(buffer) }

    /// Calls `body` with the tensor's bytes (no copy). Do not keep the pointer past `body`.
    public func withTensorBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(buffer.bytes))
    }

    /// The tensor's bytes, copied.
    public var tensorBytes: [UInt8] { withTensorBytes { Array($0) } }
}

/// The ingest pipeline as an `AsyncSequence` of samples, for training code that wants data
/// online without writing shards:
///
/// ```swift
/// let config = try IngestConfiguration(options: options)
/// for try await sample in SampleStream(configuration: config) {
///     sample.withTensorBytes { bytes in /* copy to the accelerator */ }
/// }
/// ```
///
/// Samples come in the same order as in shards; at most a few are buffered (the producer waits
/// for the consumer). Clips that fail are skipped and listed in `failures` afterwards.
public struct SampleStream: AsyncSequence, Sendable {
    public typealias Element = StreamSample
    public let configuration: IngestConfiguration
    private let state: StreamState

    public init(configuration: IngestConfiguration, buffered: Int = 4) {
        self.configuration = configuration
        state = StreamState(capacity: Swift.max(1, buffered))
    }

    /// Clips that failed so far.
    public var failures: [ClipFailure] { state.failureList }

    public func makeAsyncIterator() -> Iterator {
        state.startOnce(configuration)
        return Iterator(state: state)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let state: StreamState
        public mutating func next() async throws -> StreamSample? { try await state.next() }
    }
}

/// A bounded channel between the pipeline's thread (blocking sends) and an async consumer.
final class StreamState: @unchecked Sendable {
    private let lock = NSCondition()
    private var items: [StreamSample] = []
    private var waiting: CheckedContinuation<StreamSample?, Error>?
    private var finished = false
    private var error: Error?
    private var started = false
    private var failures: [ClipFailure] = []
    private let capacity: Int
    private var run: OrderedPipeline<StreamSample>?

    init(capacity: Int) { self.capacity = capacity }

    deinit { run?.cancel() }

    var failureList: [ClipFailure] { lock.lock(); defer { lock.unlock() }; return failures }

    func startOnce(_ cfg: IngestConfiguration) {
        lock.lock()
        if started { lock.unlock(); return }
        started = true
        lock.unlock()
        Thread.detachNewThread { [self] in
            do {
                try produce(cfg)
                finish(nil)
            } catch {
                finish(error)
            }
        }
    }

    private func produce(_ cfg: IngestConfiguration) throws {
        let inputs = IngestInputs(config: cfg)
        let items = cfg.worker.share(of: inputs.items)
        lock.lock(); failures += inputs.failures; lock.unlock()
        let pool = RecordBufferPool()
        // Memory is bounded by the ordered queues below (the consumer's pace), not by a gate.
        let producer = SampleProducer(config: cfg, pool: pool, gate: InflightGate(limit: .max), recycles: false)
        let pipe = OrderedPipeline<StreamSample>(count: items.count, jobs: cfg.jobs, window: cfg.jobs + 1, queueCapacity: 100_000,
                                                 queueBytes: cfg.inflightBytes / (cfg.jobs + 1), weight: { $0.tensor.byteCount })
        lock.lock(); run = pipe; lock.unlock()
        try pipe.run(produce: { i, emit in
            let plan = try GroupPlan.scan(items[i], number: i, config: cfg, schema: inputs.schema)
            try producer.run(plan, range: 0..<plan.count) { emit(StreamSample($0, plan: plan, pool: pool)) }
        }, consume: { i, event in
            switch event {
            case .output(let s): return send(s)
            case .failed(let e):
                lock.lock()
                failures.append(ClipFailure.from(e, clip: items[i].key, groupPath: items[i].group.path, samplesKept: 0))
                lock.unlock()
                return true
            case .finished: return true
            }
        })
    }

    /// Blocks while the buffer is full; false when the consumer went away.
    private func send(_ s: StreamSample) -> Bool {
        lock.lock()
        if let c = waiting {
            waiting = nil
            lock.unlock()
            c.resume(returning: s)
            return true
        }
        while items.count >= capacity && !finished { lock.wait() }
        if finished { lock.unlock(); return false }
        items.append(s)
        lock.unlock()
        return true
    }

    private func finish(_ e: Error?) {
        lock.lock()
        finished = true
        if error == nil { error = e }
        let c = waiting
        waiting = nil
        lock.broadcast()
        lock.unlock()
        if let c {
            if let e { c.resume(throwing: e) } else { c.resume(returning: nil) }
        }
    }

    func next() async throws -> StreamSample? {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<StreamSample?, Error>) in
            lock.lock()
            if !items.isEmpty {
                let s = items.removeFirst()
                lock.broadcast()
                lock.unlock()
                c.resume(returning: s)
            } else if finished {
                let e = error
                error = nil
                lock.unlock()
                if let e { c.resume(throwing: e) } else { c.resume(returning: nil) }
            } else {
                waiting = c
                lock.unlock()
            }
        }
    }
}
