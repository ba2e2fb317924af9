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
    /// Whether the decoding loop still runs; kept by whoever wants to check that dropping the
    /// owner ended it (it does not keep the owner alive).
    public let loop: Loop

    /// The decoding loop's state, apart from its owner.
    public final class Loop: Sendable {
        private let running = Mutex(true)
        /// False once the decoding thread's loop has returned (the end, an error, or `stop`).
        public var isRunning: Bool { running.withLock { $0 } }
        func ended() { running.withLock { $0 = false } }
    }

    public init(_ decoder: VideoDecoder, depth: Int = 3, lastIndex: Int? = nil) {
        let queue = Queue(depth: max(1, depth))
        let loop = Loop()
        self.queue = queue
        self.loop = loop
        let handle = DecoderHandle(decoder)
        let thread = Thread {
            queue.run(handle.decoder, lastIndex: lastIndex, loop: loop)
        }
        thread.name = "fleetprep-decode-ahead"
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
    func run(_ decoder: VideoDecoder, lastIndex: Int?, loop: DecodeAhead.Loop) {
        defer {
            loop.ended()
            finished.signal()    // after `ended`: `stop` returns with the loop seen as over
        }
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
