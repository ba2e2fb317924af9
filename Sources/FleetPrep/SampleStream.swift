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
/// Samples come in the same order as in shards; at most `buffered` are waiting for the consumer
/// (the pipeline's threads wait for it). Each iterator runs the pipeline once. Clips that fail
/// are skipped and listed in `failures` afterwards.
///
/// Leaving the loop early (`break`, a thrown error, a cancelled task) ends the run: the iterator's
/// `AsyncThrowingStream` calls its `onTermination`, which cancels the pipeline; its threads stop at
/// their next sample, close their decoders and exit.
public struct SampleStream: AsyncSequence, Sendable {
    /// Each element is one sample, in shard order.
    public typealias Element = StreamSample
    public let configuration: IngestConfiguration
    private let buffered: Int
    private let failureLog = FailureLog()

    public init(configuration: IngestConfiguration, buffered: Int = 4) {
        self.configuration = configuration
        self.buffered = Swift.max(1, buffered)
    }

    /// Clips that failed so far, in the latest run.
    public var failures: [ClipFailure] { failureLog.list }

    public func makeAsyncIterator() -> Iterator {
        let (stream, continuation) = AsyncThrowingStream<StreamSample, Error>.makeStream(bufferingPolicy: .unbounded)
        let channel = StreamChannel(capacity: buffered, continuation: continuation, failures: failureLog)
        continuation.onTermination = { _ in channel.terminate() }
        let cfg = configuration
        Thread.detachNewThread {
            do {
                try channel.produce(cfg)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return Iterator(base: stream.makeAsyncIterator(), channel: channel)
    }

    /// Delivers the samples; each one taken lets the pipeline make one more.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<StreamSample, Error>.AsyncIterator
        let channel: StreamChannel
        public mutating func next() async throws -> StreamSample? {
            let s = try await base.next()
            if s != nil { channel.consumed() }
            return s
        }
    }
}

/// The failures of a stream's latest run, shared by its copies.
final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ClipFailure] = []
    var list: [ClipFailure] { lock.lock(); defer { lock.unlock() }; return items }
    func reset() { lock.lock(); items = []; lock.unlock() }
    func append(_ f: [ClipFailure]) { lock.lock(); items += f; lock.unlock() }
}

/// Backpressure between the pipeline's thread and the stream's consumer: at most `capacity`
/// samples yielded and not yet taken. The pipeline's thread holds this and the continuation, never
/// the iterator, so a consumer that goes away releases the stream and `terminate()` runs.
final class StreamChannel: @unchecked Sendable {
    private let lock = NSCondition()
    private var waiting = 0
    private var terminated = false
    private var run: OrderedPipeline<StreamSample>?
    private let capacity: Int
    private let continuation: AsyncThrowingStream<StreamSample, Error>.Continuation
    private let failures: FailureLog

    init(capacity: Int, continuation: AsyncThrowingStream<StreamSample, Error>.Continuation, failures: FailureLog) {
        self.capacity = capacity
        self.continuation = continuation
        self.failures = failures
    }

    /// The consumer went away (or the stream finished): stop the pipeline.
    func terminate() {
        lock.lock()
        terminated = true
        let r = run
        lock.broadcast()
        lock.unlock()
        r?.cancel()
    }

    func consumed() {
        lock.lock(); waiting -= 1; lock.broadcast(); lock.unlock()
    }

    func produce(_ cfg: IngestConfiguration) throws {
        failures.reset()
        let inputs = try IngestInputs(config: cfg)
        let items = cfg.worker.share(of: inputs.items)
        failures.append(inputs.failures)
        let pool = RecordBufferPool()
        // Memory is bounded by the ordered queues below (the consumer's pace), not by a gate.
        let producer = SampleProducer(config: cfg, pool: pool, gate: InflightGate(limit: .max), recycles: false)
        let pipe = OrderedPipeline<StreamSample>(count: items.count, jobs: cfg.jobs, window: cfg.jobs + 1, queueCapacity: 100_000,
                                                 queueBytes: cfg.inflightBytes / (cfg.jobs + 1), weight: { $0.tensor.byteCount })
        lock.lock()
        let stop = terminated
        run = pipe
        lock.unlock()
        if stop { return }
        try pipe.run(produce: { i, emit in
            let plan = try GroupPlan.scan(items[i], number: i, config: cfg, schema: inputs.schema)
            try producer.run(plan, range: 0..<plan.count) { emit(StreamSample($0, plan: plan, pool: pool)) }
        }, consume: { i, event in
            switch event {
            case .output(let s): return send(s)
            case .failed(let e):
                failures.append([ClipFailure.from(e, clip: items[i].key, groupPath: items[i].group.path, samplesKept: 0)])
                return true
            case .finished: return true
            }
        })
        lock.lock(); run = nil; lock.unlock()
    }

    /// Waits while `capacity` samples are waiting for the consumer; false once it went away.
    private func send(_ s: StreamSample) -> Bool {
        lock.lock()
        while waiting >= capacity && !terminated { lock.wait() }
        if terminated { lock.unlock(); return false }
        waiting += 1
        lock.unlock()
        if case .terminated = continuation.yield(s) { return false }
        return true
    }
}
