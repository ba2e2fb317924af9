import FleetKernels
import FleetLabels
import FleetMedia
import FleetShards
import Foundation

/// One camera of a work unit: a decoder told which frames the unit needs and seeked (exactly) to
/// the first of them, the transformer made from the first real frame, and the last frame kept
/// while later samples of the unit still use it (a slower camera). A camera of several files
/// (TeslaCam minutes) moves to the next file's decoder when the unit's frames reach it.
final class CameraStream {
    private let plan: GroupPlan
    private let camera: Int
    private let config: IngestConfiguration
    private let track: CameraTrack
    private let options: DecoderOptions
    /// The open file: its part number and decoder.
    private var current: (part: Int, decoder: VideoDecoder)?
    /// Frames decoded ahead on a thread of their own (`DecodeAhead`), when `decodeAhead` > 0.
    private var ahead: DecodeAhead?
    private let decodeAhead: Int
    private var transformer: FrameTransformer?
    private var bridge = FrameSourceBridge()
    private var held: (index: Int, frame: RetainedFrame)?
    /// Uses left per needed frame index (camera numbering), in this unit.
    private var uses: [Int: Int]
    private let lastNeeded: Int
    private(set) var framesDecoded = 0

    var path: String { current.map { track.parts[$0.part].path } ?? plan.cameras[camera].path }

    /// Opens camera `camera` of `plan` for the samples `range` (kept positions), its decoders
    /// with `threads` FFmpeg threads.
    init(plan: GroupPlan, camera: Int, range: Range<Int>, config: IngestConfiguration, threads: Int, decodeAhead: Int = 0) throws {
        self.plan = plan
        self.decodeAhead = decodeAhead
        self.camera = camera
        self.config = config
        track = plan.tracks[camera]
        var o = config.decoderOptions
        o.threads = threads
        options = o
        var uses: [Int: Int] = [:]
        for k in range {
            if let ref = plan.labels.samples[plan.kept[k]].cameras[camera] { uses[ref.index, default: 0] += 1 }
        }
        self.uses = uses
        lastNeeded = uses.keys.max() ?? -1
        if let first = uses.keys.min() { try open(track.part(containing: first), at: first) }
    }

    deinit { closeCurrent() }

    private func closeCurrent() {
        ahead?.stop()
        ahead = nil
        current?.decoder.close()
        current = nil
    }

    /// Opens part `p`, selects the unit's frames in it and seeks to `index` (camera numbering).
    private func open(_ p: Int, at index: Int) throws {
        closeCurrent()
        let part = track.parts[p]
        let decoder = try VideoDecoder(path: part.path, options: options, reusing: part.parameters)
        let all = part.frames.pts
        let neededHere = uses.keys.filter { part.first..<(part.first + all.count) ~= $0 }
        let local = Set(neededHere.map { all[$0 - part.first] })
        decoder.select(timestamps: local, allTimestamps: all)
        if let kf = part.frames.keyFrame(atOrBefore: index - part.first), kf > 0 {
            try decoder.seek(toFrame: index - part.first, in: part.frames)
        }
        current = (p, decoder)
        if decodeAhead > 0 {
            // Up to the unit's last needed frame in this file; to the end when that is the
            // camera's last frame (`finish` reads on to the end of the stream).
            let toEnd = lastNeeded == track.count - 1 && neededHere.contains(lastNeeded)
            let last = toEnd ? nil : neededHere.max().map { $0 - part.first }
            ahead = DecodeAhead(decoder, depth: decodeAhead, lastIndex: last)
        }
    }

    /// Transforms frame `index` of this camera into `out` (decoding forward to it).
    func write(frame index: Int, into out: UnsafeMutableRawBufferPointer) throws {
        defer {
            uses[index, default: 1] -= 1
            if uses[index, default: 0] <= 0 { uses[index] = nil; if held?.index == index { held = nil } }
        }
        if let h = held, h.index == index {
            try transform(h.frame.view, into: out)
            return
        }
        held = nil
        let p = track.part(containing: index)
        if current?.part != p { try open(p, at: index) }
        guard let (_, decoder) = current else { return }
        let local = index - track.parts[p].first
        while true {
            let got: Bool?
            if let ahead {
                got = try ahead.next().map { frame in try take(frame.view, local: local, index: index, into: out) { frame } }
            } else {
                got = try decoder.nextFrame { frame in
                    try take(frame, local: local, index: index, into: out) { decoder.retainCurrentFrame(frame) }
                }
            }
            guard let got else {
                throw ClipFailure(clip: plan.item.key, path: path, stage: .decode,
                                  message: "the video ended before frame \(local)")
            }
            framesDecoded += 1
            if got { return }
        }
    }

    /// After the unit's last sample: when its last needed frame is the camera's last frame, reads
    /// the stream to its end, so that damage there (a demuxer error at the end of a cut-off file)
    /// still fails the clip. Nothing is decoded past a needed frame otherwise.
    func finish() throws {
        guard lastNeeded == track.count - 1, let (_, decoder) = current else { return }
        if let ahead {
            while try ahead.next() != nil {}
        } else {
            while try decoder.nextFrame({ _ in }) != nil {}
        }
    }

    /// Frame `frame` of the open file, which holds needed frame `index` at `local`: false when it
    /// comes before it (not selected for this unit), transformed into `out` when it is it.
    private func take(_ frame: FrameView, local: Int, index: Int, into out: UnsafeMutableRawBufferPointer,
                      retain: () -> RetainedFrame?) throws -> Bool {
        guard frame.index >= local else { return false }
        guard frame.index == local else {
            throw ClipFailure(clip: plan.item.key, path: path, stage: .decode,
                              message: "frame \(local) was not delivered (next was \(frame.index))")
        }
        try transform(frame, into: out)
        if (uses[index] ?? 0) > 1, let r = retain() { held = (index, r) }
        return true
    }

    private func transform(_ frame: FrameView, into out: UnsafeMutableRawBufferPointer) throws {
        try bridge.withImage(frame, path: path) { image, format, full in
            if transformer == nil {
                let info = track.parts[current?.part ?? 0].info
                // RGB sources have no matrix to apply (an RGB stream declares "gbr", which the
                // YUV kernels do not know): the kernel ignores it, so it cannot fail the clip.
                guard let matrix = format.isRGB ? ColourMatrix.bt601 : config.transform.matrix ?? FrameSourceBridge.matrix(info.matrix) else {
                    throw ClipFailure(clip: plan.item.key, path: path, stage: .transform,
                                      message: "unsupported colour matrix \(info.colorSpace); pass --matrix bt601, bt709 or bt2020 to convert it as one of those")
                }
                let t = try FrameTransformer(config: config.transform, sourceWidth: frame.width, sourceHeight: frame.height,
                                             sourceFormat: format,
                                             streamMatrix: matrix,
                                             streamRange: FrameSourceBridge.range(colorRange: info.colorRange, fullRangeFormat: full))
                guard t.outputShape == plan.cameraShape else {
                    throw ClipFailure(clip: plan.item.key, path: path, stage: .transform,
                                      message: "frames are \(frame.width)x\(frame.height), which gives a \(t.outputShape) tensor; the stream header (\(info.width)x\(info.height)) gave \(plan.cameraShape)")
                }
                transformer = t
            }
            try transformer!.transform(image, into: out)
        }
    }
}

/// Produces the samples of one work unit (a range of a group's kept samples): decodes each
/// camera forward from its seek point and transforms every needed frame straight into the
/// sample's tensor buffer, then hands each finished sample to `emit` with its position in the
/// group. The tensor's CRC-32C is computed here, while its bytes are in this thread's cache.
struct SampleProducer {
    let config: IngestConfiguration
    let pool: RecordBufferPool
    let gate: InflightGate
    /// True: a sample's buffer goes back to the pool when `emit` returns (the shard sink has
    /// written it); false: `emit` keeps it (a `StreamSample` gives it back when released).
    let recycles: Bool

    /// Runs the unit on `cores` cores (see `UnitThreads`); returns the frames decoded. `emit`
    /// returns false to stop (cancellation).
    @discardableResult
    func run(_ plan: GroupPlan, range: Range<Int>, cores: Int = 1, emit: (PreparedSample) throws -> Bool) throws -> Int {
        guard !range.isEmpty else { return 0 }
        let split = UnitThreads(cameras: plan.cameras.count, cores: cores, base: config.decoderThreads)
        let streams = try plan.cameras.indices.map {
            try CameraStream(plan: plan, camera: $0, range: range, config: config, threads: split.decoderThreads,
                             decodeAhead: split.lanes == 1 && split.decoderThreads > 1 ? 3 : 0)
        }
        if split.lanes > 1 { return try runLanes(plan, range: range, streams: streams, lanes: split.lanes, emit: emit) }
        let per = plan.cameraBytes
        let total = per * plan.cameras.count
        var decodedBefore = 0
        for k in range {
            let sample = plan.labels.samples[plan.kept[k]]
            gate.acquire(total)
            let buffer = pool.take(bytes: total)
            var emitted = false
            defer {
                gate.release(total)
                if recycles || !emitted { pool.give(buffer) }
            }
            for (c, ref) in sample.cameras.enumerated() {
                let slice = buffer.slice(offset: c * per, count: per)
                if let ref {
                    try streams[c].write(frame: ref.index, into: slice)
                } else {
                    slice.initializeMemory(as: UInt8.self, repeating: 0)
                }
            }
            let decoded = streams.reduce(0) { $0 + $1.framesDecoded }
            emitted = true
            guard try emit(prepared(k, buffer, framesDecoded: decoded - decodedBefore)) else { return decoded }
            decodedBefore = decoded
        }
        for s in streams { try s.finish() }
        return streams.reduce(0) { $0 + $1.framesDecoded }
    }

    /// The unit's cameras on `lanes` threads (`CameraLanes`): buffers are published up to
    /// `window` samples ahead of the one being emitted, as far as `--inflight` allows without
    /// waiting (the unit never waits for bytes its own samples hold).
    private func runLanes(_ plan: GroupPlan, range: Range<Int>, streams: [CameraStream], lanes: Int,
                          window: Int = 4, emit: (PreparedSample) throws -> Bool) throws -> Int {
        let total = plan.cameraBytes * plan.cameras.count
        let work = CameraLanes(streams: streams, lanes: lanes, plan: plan, range: range)
        var published = range.lowerBound
        var stopped = false
        func stop() {
            guard !stopped else { return }
            stopped = true
            for b in work.stop() { gate.release(total); pool.give(b) }
        }
        defer { stop() }
        var frames = 0
        for k in range {
            while published < min(k + window, range.upperBound) {
                if published == k { gate.acquire(total) } else if !gate.tryAcquire(total) { break }
                work.publish(published, pool.take(bytes: total))
                published += 1
            }
            let (buffer, decoded) = try work.fill(k)
            frames += decoded
            defer {
                gate.release(total)
                if recycles { pool.give(buffer) }
            }
            guard try emit(prepared(k, buffer, framesDecoded: decoded)) else { return frames }
        }
        stop()
        for s in streams { try s.finish() }
        return streams.reduce(0) { $0 + $1.framesDecoded }
    }

    /// Sample `k` with its tensor's CRC-32C, computed while its bytes are in this thread's cache.
    private func prepared(_ k: Int, _ buffer: RecordBuffer, framesDecoded: Int) -> PreparedSample {
        PreparedSample(position: k, buffer: buffer, tensorCRC32C: CRC32C.checksum(UnsafeRawBufferPointer(buffer.bytes)),
                       framesDecoded: framesDecoded)
    }
}

/// Bounds the bytes of sample tensors in flight (`--inflight`): a producer takes a sample's bytes
/// before filling its buffer and gives them back once the sample is written (or consumed). One
/// sample always fits, so a sample larger than the limit still goes through, alone.
///
/// `@unchecked Sendable`: `condition` (an NSCondition: producers wait on it for bytes) guards
/// `used`; `limit` is immutable.
final class InflightGate: @unchecked Sendable {
    private let limit: Int
    private var used = 0
    private let condition = NSCondition()

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire(_ n: Int) {
        condition.lock()
        while used > 0 && used + n > limit { condition.wait() }
        used += n
        condition.unlock()
    }

    /// Takes `n` bytes if they fit now; never waits.
    func tryAcquire(_ n: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard used == 0 || used + n <= limit else { return false }
        used += n
        return true
    }

    func release(_ n: Int) {
        condition.lock()
        used -= n
        condition.broadcast()
        condition.unlock()
    }
}
