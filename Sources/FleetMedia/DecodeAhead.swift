import Foundation
import Synchronization

/// Decodes ahead of its reader, on a thread of its own: up to `depth` frames wait, retained
/// (`RetainedFrame`, no pixel copy), while the reader transforms and writes the last one.
///
/// Why: with FFmpeg frame threads, new frames start decoding only when the thread that calls the
/// decoder sends the next packet. A reader that transforms each frame on that same thread leaves
/// the frame threads without work for as long as the transform takes; here the decoding thread
/// keeps them fed, and the reader's work fills the cores the decoder leaves idle (HEVC frame
/// threads wait for their reference frame's rows).
///
/// The reader sees exactly the sequence `nextFrame` gives, then the same end or error. Decoding
/// stops after `lastIndex` (a frame index as `FrameView.index` counts), so no more is decoded
/// than the reader asked for; nil decodes to the end of the stream.
///
/// Lifetime: `stop()` (also run by `deinit`) wakes the thread and waits for it; the decoder is
/// the caller's again afterwards (to seek or close). The decoder must not be used while a
/// `DecodeAhead` runs on it.
///
/// The decoding thread holds only the shared `Queue`, never this owner: dropping a `DecodeAhead`
/// runs `deinit`, which stops the thread, even while the thread waits for room in a full queue.
public final class DecodeAhead: Sendable {
    private let queue: Queue
    /// The decoding thread's name ("fp-ahead-N", N counting instances; at most 15 bytes), as
    /// /proc/self/task/*/comm shows it.
    public let threadName: String

    private static let instances = Mutex(0)

    public init(_ decoder: VideoDecoder, depth: Int = 3, lastIndex: Int? = nil) {
        let queue = Queue(depth: max(1, depth))
        self.queue = queue
        threadName = "fp-ahead-\(Self.instances.withLock { n in n = (n + 1) % 1000; return n })"
        let handle = DecoderHandle(decoder)
        let name = threadName
        let thread = Thread {
            Thread.current.name = name    // set from the thread itself, Foundation names the pthread
            queue.run(handle.decoder, lastIndex: lastIndex)
        }
        thread.start()
    }

    deinit { queue.stop() }

    /// The next frame; nil at the end of the stream (or after `lastIndex`). Rethrows the
    /// decoder's error once the frames decoded before it have been read.
    public func next() throws -> RetainedFrame? { try queue.next() }

    /// Stops decoding and waits for the thread; frames not yet read are released.
    public func stop() { queue.stop() }
}

/// What the reader and the decoding thread share. `@unchecked Sendable`: `condition` guards
/// `frames`, `ended`, `failure`, `stopping` and `joined`; `depth` and `finished` are immutable
/// (a semaphore, signalled once when the thread returns).
private final class Queue: @unchecked Sendable {
    private let condition = NSCondition()
    private let depth: Int
    private var frames: [RetainedFrame] = []
    private var ended = false
    private var failure: Error?
    private var stopping = false
    private var joined = false
    private let finished = DispatchSemaphore(value: 0)

    init(depth: Int) { self.depth = depth }

    func next() throws -> RetainedFrame? {
        condition.lock()
        defer { condition.unlock() }
        while frames.isEmpty && !ended && failure == nil { condition.wait() }
        if !frames.isEmpty {
            let f = frames.removeFirst()
            condition.broadcast()
            return f
        }
        if let failure { throw failure }
        return nil
    }

    func stop() {
        condition.lock()
        let wait = !joined
        joined = true
        stopping = true
        condition.broadcast()
        condition.unlock()
        if wait { finished.wait() }
        condition.lock()
        frames.removeAll()
        condition.unlock()
    }

    /// The decoding thread's loop: decodes while there is room, until the end, an error, the
    /// frame at `lastIndex`, or `stop`.
    func run(_ decoder: VideoDecoder, lastIndex: Int?) {
        defer { finished.signal() }
        while true {
            condition.lock()
            while frames.count >= depth && !stopping { condition.wait() }
            let stop = stopping
            condition.unlock()
            if stop { return }
            let result = Result { try decoder.nextFrame { decoder.retainCurrentFrame($0) } }
            condition.lock()
            defer { condition.broadcast(); condition.unlock() }
            switch result {
            case .success(.some(.some(let frame))):
                frames.append(frame)
                if let lastIndex, frame.view.index >= lastIndex { ended = true; return }
            case .success(.some(.none)):
                failure = MediaError(.limitExceeded, path: decoder.info.path, message: "out of memory keeping a decoded frame")
                return
            case .success(.none):
                ended = true
                return
            case .failure(let error):
                failure = error
                return
            }
        }
    }
}

/// The decoder, handed to the decoding thread (see `DecodeAhead`'s note).
private struct DecoderHandle: @unchecked Sendable {
    let decoder: VideoDecoder
    init(_ decoder: VideoDecoder) { self.decoder = decoder }
}
