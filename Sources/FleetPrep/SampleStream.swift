import FleetShards
import Foundation
import Synchronization

/// One training sample delivered online by `SampleStream`: every camera's tensor in one
/// buffer (`[camera, …]`), the label vector and mask, and timestamps.
public final class StreamSample: Sendable {
    /// `<clip>-<master frame index>`, as in shards.
    public let key: String
    /// dtype, shape `[camera, C, H, W]` or `[camera, H, W, C]`, layout.
    public let tensor: TensorSpec
    public let labels: [Float]
    /// 1 where `labels[i]` is valid.
    public let mask: [UInt8]
    /// The sample's annotation (its JSON object as written in annotations.jsonl), nil when none.
    public let annotations: Annotation?
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
/// The stream runs the ingest engine itself (`IngestEngine` with a stream output instead of the
/// shard sink): the same discovery, one-shape rule, plans, work units and failed-clip rule, so its
/// samples are exactly those `ingest` would write, in shard order. A clip group's samples reach the
/// consumer once the whole group has been decoded and can no longer fail; a group that fails
/// delivers none, as in shards. At most `buffered` samples wait for the consumer; decoded samples
/// of later groups wait within `--inflight` bytes (plus the group being delivered). Each iterator
/// runs the engine once. Clips that fail are listed in `failures` afterwards.
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
final class FailureLog: Sendable {
    private let items = Mutex<[ClipFailure]>([])
    var list: [ClipFailure] { items.withLock { $0 } }
    func reset() { items.withLock { $0 = [] } }
    func append(_ f: [ClipFailure]) { items.withLock { $0 += f } }
}

/// Backpressure between the engine and the stream's consumer: at most `capacity` samples yielded
/// and not yet taken. The engine's threads hold this and the continuation, never the iterator, so
/// a consumer that goes away releases the stream and `terminate()` runs.
///
/// `@unchecked Sendable`: `lock` (an NSCondition: the engine's threads wait on it while the
/// consumer is behind) guards `waiting`, `terminated`, `engine` and `output`; the rest is
/// immutable (the continuation and the failure log are safe from any thread).
final class StreamChannel: @unchecked Sendable {
    private let lock = NSCondition()
    private var waiting = 0
    private var terminated = false
    private var engine: IngestEngine?
    private var output: StreamOutput?
    private let capacity: Int
    private let continuation: AsyncThrowingStream<StreamSample, Error>.Continuation
    private let failures: FailureLog

    init(capacity: Int, continuation: AsyncThrowingStream<StreamSample, Error>.Continuation, failures: FailureLog) {
        self.capacity = capacity
        self.continuation = continuation
        self.failures = failures
    }

    /// The consumer went away (or the stream finished): stop the engine.
    func terminate() {
        lock.lock()
        terminated = true
        let (e, o) = (engine, output)
        lock.broadcast()
        lock.unlock()
        e?.cancel()
        o?.stop()
    }

    func consumed() {
        lock.lock(); waiting -= 1; lock.broadcast(); lock.unlock()
    }

    /// Runs the ingest engine over `cfg`'s inputs with the stream as its output: the same
    /// discovery, shape rule, plans, work units and failed-group rule as `ingest`.
    func produce(_ cfg: IngestConfiguration) throws {
        failures.reset()
        let inputs = try IngestInputs(config: cfg)
        let items = cfg.worker.share(of: inputs.items)
        failures.append(inputs.failures)
        let plan = IngestPlan(config: cfg, inputs: inputs, items: items)
        let output = StreamOutput(budget: cfg.inflightBytes) { [self] in send($0) }
        let engine = IngestEngine(plan: plan, sink: output, progress: ProgressReporter(style: .quiet), resume: .init(), journal: nil)
        output.onConsumerGone = { [weak engine] in engine?.cancel() }   // the engine holds the output
        lock.lock()
        let stop = terminated
        (self.engine, self.output) = (engine, output)
        lock.unlock()
        if stop { return }
        defer { lock.lock(); (self.engine, self.output) = (nil, nil); lock.unlock() }
        do {
            try engine.run()
        } catch IngestError.interrupted {
            if isTerminated { return }   // the consumer left: the stream just ends
            throw IngestError.interrupted(resumeHint: "the stream was stopped")
        }
        failures.append(engine.outcomes.keys.sorted().compactMap { g in
            if case .failed(let f)? = engine.outcomes[g] { return f }
            return nil
        })
    }

    private var isTerminated: Bool { lock.lock(); defer { lock.unlock() }; return terminated }

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
