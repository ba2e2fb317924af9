import CFFmpeg
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Demuxes and decodes the video stream of one clip, frame by frame in presentation order.
///
/// A decoder owns its FFmpeg objects and frees them in `close()` or `deinit`, whichever comes
/// first. It is not thread-safe: use one decoder from one task at a time.
///
/// ```swift
/// let decoder = try VideoDecoder(path: "SampleClips/h264_1280x960.mp4")
/// try decoder.forEachFrame { frame in
///     print(frame.index, frame.time, frame.plane(0).row(0)[0])
/// }
/// ```
public final class VideoDecoder {
    /// Facts about the clip and its chosen video stream.
    public let info: ClipInfo
    /// The options the decoder was opened with.
    public let options: DecoderOptions
    /// Frames lost to damage and skipped (lenient mode only): packets the decoder rejected and
    /// frames it could only produce with errors (missing references, concealment).
    public private(set) var droppedFrames = 0
    /// Frames delivered so far (since opening; seeking does not reset it).
    public private(set) var framesDelivered = 0
    /// Packets handed to the decoder so far (since opening): with `framesDelivered`, how much
    /// decoding a selection or a seek cost.
    public private(set) var packetsDecoded = 0

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    /// FFmpeg's last error line for this decoder's demuxer and codec (frame threads included);
    /// they outlive the contexts that point at them.
    private let demuxLog = LogSink()
    private let decodeLog = LogSink()
    private let stream: Int32
    private let timeBase: Rational
    private let framePeriod: Double
    private var baseDiscard: AVDiscard { Self.discardLevel(options.discard) }
    private var sentFlush = false
    private var finished = false
    private var nextIndex = 0
    private var lastTime: Double?
    private var seekTargetPTS: Int64?
    private var indexFromTime = false
    private var everSeeked = false
    /// After an exact seek, until the first frame comes out of the decoder: the target frame's
    /// pts, and where to seek next if the demuxer landed after it (nil: reopen the demuxer).
    private var landing: (target: Int64, fallbacks: [Int64?])?
    /// Presentation timestamps to deliver (nil: all), and each timestamp's index in the clip.
    var selection: Set<Int64>?
    var ptsIndex: [Int64: Int]?
    /// Elementary streams (no timestamps): the output-order number the next frame gets, which
    /// stands in for its pts everywhere (selection, seek target, `FrameView.pts`).
    private var untimedNext: Int64 = 0

    /// Opens `path`, picks its video stream and opens a decoder for it.
    /// - Throws: `MediaError` naming the file: `.fileNotFound`, `.unreadable`, `.notMedia`,
    ///   `.noVideoStream`, `.decoderMissing`, `.corruptData` or `.limitExceeded`.
    public convenience init(path: String, options: DecoderOptions = DecoderOptions()) throws {
        try self.init(path: path, options: options, reusing: nil)
    }

    /// Opens `path` again with the stream facts an earlier decoder of the same file found
    /// (`streamParameters()`), skipping `avformat_find_stream_info` — which decodes frames to
    /// learn them — so that opening a file for each work unit costs a demuxer header read. The
    /// file must be the one `parameters` came from (its stream must have the same codec).
    public convenience init(path: String, options: DecoderOptions = DecoderOptions(), reusing parameters: StreamParameters) throws {
        try self.init(path: path, options: options, reusing: Optional(parameters))
    }

    private init(path: String, options: DecoderOptions, reusing known: StreamParameters?) throws {
        FFmpegRuntime.ensure()
        self.options = options
        try Self.checkFile(path)
        ffmpegClearLastLog()

        var fmt: UnsafeMutablePointer<AVFormatContext>? = nil
        let openCode = Self.openInput(&fmt, path)
        guard openCode >= 0, let fmt else {
            throw Self.openError(path: path, code: openCode)
        }
        // From here on every early exit must free what was allocated: own it in a local guard.
        var owned = Owned(format: fmt)
        defer { owned.release() }
        fmt.pointee.opaque = demuxLog.opaque
        Self.configureDemuxer(fmt)
        try Self.learnStreams(fmt, path: path, options: options, known: known)
        let streamIndex = try Self.chooseStream(fmt, path: path, options: options, known: known)
        let st = fmt.pointee.streams[Int(streamIndex)]!
        try Self.checkPictureSize(st.pointee.codecpar!, stream: streamIndex, path: path, maxPixels: options.maxPixels)
        try Self.openCodec(for: st, path: path, options: options, log: decodeLog, into: &owned)
        // Other streams' packets need not be read into memory by the demuxer at all.
        for i in 0..<Int(fmt.pointee.nb_streams) where i != Int(streamIndex) {
            fmt.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
        guard let pkt = av_packet_alloc(), let frm = av_frame_alloc() else {
            throw MediaError(.limitExceeded, path: path, message: "out of memory allocating packet/frame")
        }
        owned.packet = pkt
        owned.frame = frm

        let info = Self.makeInfo(path: path, format: fmt, stream: st, index: streamIndex)
        self.info = info
        self.stream = streamIndex
        self.timeBase = info.timeBase
        self.framePeriod = info.frameRate.isKnown ? 1 / info.frameRate.doubleValue : 0
        (self.format, self.codec, self.packet, self.frame) = (owned.format, owned.codec, owned.packet, owned.frame)
        owned = Owned(format: nil)  // ownership moved to self
        OpenDecoders.shared.add(1)
    }

    /// Gives the demuxer its streams' facts: those of an earlier open (`known`), or
    /// `avformat_find_stream_info`'s. The container header's picture size, when it has one, is
    /// checked first; the decoders `avformat_find_stream_info` opens get `max_pixels`, so that an
    /// oversized picture is refused before it is allocated.
    private static func learnStreams(_ fmt: UnsafeMutablePointer<AVFormatContext>, path: String, options: DecoderOptions,
                                     known: StreamParameters?) throws {
        if let known {
            try adoptStream(known, in: fmt, path: path, maxPixels: options.maxPixels, findStreamInfo: findStreamInfo)
            return
        }
        for i in 0..<Int(fmt.pointee.nb_streams) {
            guard let par = fmt.pointee.streams[i]?.pointee.codecpar, par.pointee.codec_type == AVMEDIA_TYPE_VIDEO else { continue }
            let w = Int(par.pointee.width), h = Int(par.pointee.height)
            if w > 0, h > 0, w.multipliedReportingOverflow(by: h).partialValue > options.maxPixels || w > maxSide || h > maxSide {
                throw MediaError(.limitExceeded, path: path, message: "picture \(w)x\(h) exceeds the limit of \(options.maxPixels) pixels")
            }
        }
        let infoCode = findStreamInfo(fmt, maxPixels: options.maxPixels)
        if infoCode < 0 {
            throw MediaError(.corruptData, path: path,
                             message: ffmpegMessage(infoCode, context: "cannot read stream information"),
                             ffmpegCode: infoCode)
        }
    }

    /// The video stream to decode: the known one, the one `options` asks for, or FFmpeg's best.
    private static func chooseStream(_ fmt: UnsafeMutablePointer<AVFormatContext>, path: String, options: DecoderOptions,
                                     known: StreamParameters?) throws -> Int32 {
        if let known { return known.streamIndex }
        if let wanted = options.streamIndex {
            guard wanted >= 0, wanted < Int(fmt.pointee.nb_streams),
                  fmt.pointee.streams[wanted]!.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO else {
                throw MediaError(.noVideoStream, path: path, message: "stream \(wanted) is not a video stream")
            }
            return Int32(wanted)
        }
        let best = bestVideoStream(fmt)
        guard best >= 0 else {
            throw MediaError(.noVideoStream, path: path,
                             message: "no video stream among \(fmt.pointee.nb_streams) stream(s)",
                             ffmpegCode: fp_averror_stream_not_found())
        }
        return best
    }

    /// Refuses a stream without a picture size, or one above the pixel limits.
    private static func checkPictureSize(_ par: UnsafeMutablePointer<AVCodecParameters>, stream: Int32, path: String,
                                         maxPixels: Int) throws {
        let width = Int(par.pointee.width), height = Int(par.pointee.height)
        if width <= 0 || height <= 0 {
            throw MediaError(.corruptData, path: path, message: "video stream \(stream) has no picture size (\(width)x\(height))")
        }
        if width.multipliedReportingOverflow(by: height).partialValue > maxPixels || width > maxSide || height > maxSide {
            throw MediaError(.limitExceeded, path: path,
                             message: "picture \(width)x\(height) exceeds the limit of \(maxPixels) pixels")
        }
    }

    /// Allocates and opens the decoder of stream `st` into `owned.codec` (owned from allocation
    /// on, so that a failure frees it).
    private static func openCodec(for st: UnsafeMutablePointer<AVStream>, path: String, options: DecoderOptions,
                                  log: LogSink, into owned: inout Owned) throws {
        let par = st.pointee.codecpar!
        guard let decoderCodec = avcodec_find_decoder(par.pointee.codec_id) else {
            let name = String(optionalCString: avcodec_get_name(par.pointee.codec_id)) ?? "unknown"
            throw MediaError(.decoderMissing, path: path, message: "no decoder for codec \(name) in this FFmpeg build",
                             ffmpegCode: fp_averror_decoder_not_found())
        }
        guard let ctx = avcodec_alloc_context3(decoderCodec) else {
            throw MediaError(.decoderMissing, path: path, message: "cannot allocate a decoder context")
        }
        owned.codec = ctx
        ctx.pointee.opaque = log.opaque  // copied into each frame thread's context
        var code = avcodec_parameters_to_context(ctx, par)
        if code < 0 {
            throw MediaError(.corruptData, path: path, message: ffmpegMessage(code, context: "bad codec parameters"), ffmpegCode: code)
        }
        ctx.pointee.pkt_timebase = st.pointee.time_base
        // FFmpeg refuses frames above this before allocating them (a stream can change size).
        ctx.pointee.max_pixels = Int64(options.maxPixels)
        ctx.pointee.thread_count = Int32(max(0, options.threads))
        ctx.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
        ctx.pointee.skip_frame = discardLevel(options.discard)
        code = avcodec_open2(ctx, decoderCodec, nil)
        if code < 0 {
            throw MediaError(.decoderMissing, path: path, message: ffmpegMessage(code, context: "cannot open decoder"), ffmpegCode: code)
        }
    }

    /// FFmpeg's discard level for `discard`.
    private static func discardLevel(_ discard: DecoderOptions.Discard) -> AVDiscard {
        switch discard {
        case .none: return AVDISCARD_DEFAULT
        case .nonReference: return AVDISCARD_NONREF
        case .nonKey: return AVDISCARD_NONKEY
        }
    }

    deinit { close() }

    /// Largest width or height accepted, whatever `maxPixels` is (FFmpeg's own limit is 16384).
    static let maxSide = 32768

    /// `avformat_find_stream_info` with `max_pixels` set on the decoders it opens.
    private static func findStreamInfo(_ fmt: UnsafeMutablePointer<AVFormatContext>, maxPixels: Int) -> Int32 {
        let n = Int(fmt.pointee.nb_streams)
        let dicts = UnsafeMutablePointer<OpaquePointer?>.allocate(capacity: max(n, 1))
        dicts.initialize(repeating: nil, count: max(n, 1))
        defer {
            for i in 0..<max(n, 1) { av_dict_free(&dicts[i]) }
            dicts.deallocate()
        }
        for i in 0..<n { av_dict_set(&dicts[i], "max_pixels", String(maxPixels), 0) }
        return avformat_find_stream_info(fmt, dicts)
    }

    /// Decoders opened and not yet closed, in this process: a leak check for code that embeds
    /// the library (a stream left early must close its decoders).
    public static var openCount: Int { OpenDecoders.shared.value }

    /// The facts about this decoder's stream that opening the file again for the same stream can
    /// reuse (`init(path:options:reusing:)`): a copy of its codec parameters.
    public func streamParameters() throws -> StreamParameters {
        guard let format, let par = format.pointee.streams[Int(stream)]?.pointee.codecpar,
              let copy = avcodec_parameters_alloc() else {
            throw MediaError(.invalidArgument, path: info.path, message: "decoder is closed")
        }
        guard avcodec_parameters_copy(copy, par) >= 0 else {
            var c: UnsafeMutablePointer<AVCodecParameters>? = copy
            avcodec_parameters_free(&c)
            throw MediaError(.limitExceeded, path: info.path, message: "out of memory copying codec parameters")
        }
        return StreamParameters(parameters: copy, streamIndex: stream)
    }

    /// Frees every FFmpeg object the decoder holds. Further calls to `nextFrame` return nil.
    public func close() {
        if format != nil { OpenDecoders.shared.add(-1) }
        var o = Owned(format: format)
        (o.codec, o.packet, o.frame) = (codec, packet, frame)
        o.release()
        (format, codec, packet, frame) = (nil, nil, nil, nil)
        finished = true
    }

    /// Decodes the next frame and passes it to `body`. Returns `body`'s result, or nil at the end.
    ///
    /// The `FrameView` is valid only inside `body`. The result must be `Sendable`, which a
    /// `FrameView`, a `PlaneView`, a row's `UnsafeRawBufferPointer` and anything holding one are
    /// not: `nextFrame { $0 }` does not compile, so the view cannot outlive the frame through the
    /// result. Return what you computed or copied (`packedBytes()`), or a `RetainedFrame`
    /// (`retainCurrentFrame(_:)`) to keep the picture.
    /// - Throws: `MediaError` (`.corruptData`, `.truncated`, `.limitExceeded`) after the frames that
    ///   could be decoded, or whatever `body` throws.
    public func nextFrame<R: Sendable>(_ body: (FrameView) throws -> R) throws -> R? {
        guard try receiveFrame(), let frame else { return nil }
        let current = FrameReference(frame)   // unreferenced once `body` returns or throws
        return try current.with { try body(makeView($0)) }
    }

    /// Decodes every remaining frame, passing each to `body`. Returns the number of frames.
    @discardableResult
    public func forEachFrame(_ body: (FrameView) throws -> Void) throws -> Int {
        var n = 0
        while try nextFrame(body) != nil { n += 1 }
        return n
    }

    /// Decodes the rest of the clip without looking at the pictures; returns the frame count.
    public func countFrames() throws -> Int { try forEachFrame { _ in } }

    /// Seeks so that the next frame delivered is the first whose presentation time is at or after
    /// `seconds` (on the stream's clock, as `FrameView.time`). Decodes from the preceding key frame.
    public func seek(to seconds: Double) throws {
        guard seconds.isFinite, seconds >= 0 else {
            throw MediaError(.invalidArgument, path: info.path, message: "cannot seek to \(seconds) s")
        }
        guard let format, let codec else {
            throw MediaError(.invalidArgument, path: info.path, message: "decoder is closed")
        }
        let tb = timeBase
        guard let target = HeaderValue.int64(seconds * Double(tb.denominator) / Double(tb.numerator), rounding: .up) else {
            throw MediaError(.invalidArgument, path: info.path,
                             message: "cannot seek to \(seconds) s: not a timestamp in the stream's time base \(tb)")
        }
        let code = av_seek_frame(format, stream, target, AVSEEK_FLAG_BACKWARD)
        if code < 0 {
            throw MediaError(.corruptData, path: info.path, message: ffmpegMessage(code, context: "cannot seek to \(seconds) s", sink: demuxLog), ffmpegCode: code)
        }
        resetAfterSeek(codec)
        seekTargetPTS = target
        indexFromTime = true
        landing = nil
    }

    /// Exact seek: afterwards the next frame `nextFrame` delivers is frame `index` of `frames` (as
    /// made by `scanFrames()` for this clip) — or, when a selection is set with
    /// `select(timestamps:allTimestamps:)`, the first selected frame at or after `index` — with
    /// `FrameView.index == index`, `pts == frames.pts[index]` and the same pixels as a full decode.
    ///
    /// The demuxer is moved to the key frame at or before `index` and the frames from there up to
    /// the target are decoded but not delivered (and never count as damage). If the demuxer lands
    /// after the target, the decoder seeks again to the key frame before, and at last reopens the
    /// clip and decodes from its start. Frame indices come from `frames.pts` (they become this
    /// decoder's timestamp-to-index map unless a selection already set one).
    /// - Throws: `.invalidArgument` when `index` is outside `frames.pts` or the decoder is closed;
    ///   `.corruptData` or an open error when the demuxer cannot be moved or reopened.
    public func seek(toFrame index: Int, in frames: FrameIndex) throws {
        guard frames.pts.indices.contains(index) else {
            throw MediaError(.invalidArgument, path: info.path,
                             message: "cannot seek to frame \(index): the index has \(frames.pts.count) frame(s)")
        }
        guard let codec, format != nil else {
            throw MediaError(.invalidArgument, path: info.path, message: "decoder is closed")
        }
        if ptsIndex == nil {
            ptsIndex = Dictionary(frames.pts.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        }
        if info.isElementaryStream {
            // No timestamps to seek by: start over and decode up to the frame (numbered in output
            // order from the start, as the scan numbered them).
            do { try reopenDemuxer() } catch { finished = true; throw error }
            resetAfterSeek(codec)
            untimedNext = 0
            landing = nil
            seekTargetPTS = frames.pts[index]
            indexFromTime = false
            return
        }
        // Where to seek: the key frame at or before the target, then the one before it, then the
        // start of the clip (nil: reopen). Landing early only costs decoding.
        // The key frame's pts comes first: MP4 searches its index by decode time, and an edit list
        // can put the key frame's recorded dts just below its index entry, so seeking to the dts
        // lands a whole GOP early; its pts is above its own dts and below the next key frame's.
        var plan: [Int64?] = []
        if let k = frames.keyPosition(atOrBefore: index) {
            let pts = frames.pts[frames.keyFrames[k]], dts = frames.seekTimestamp(keyPosition: k)
            plan.append(pts)
            if dts != pts { plan.append(dts) }
            if k > 0 { plan.append(frames.seekTimestamp(keyPosition: k - 1)) }
        }
        plan.append(nil)
        landing = (frames.pts[index], plan)
        do {
            try seekDemuxer()
        } catch {
            landing = nil
            finished = true
            throw error
        }
        resetAfterSeek(codec)
        seekTargetPTS = frames.pts[index]
        indexFromTime = false
    }

    /// Runs `scan` on this decoder's own demuxer when the decoder is fresh (nothing decoded, no
    /// seek), then seeks exactly back to frame 0 of the index it returns, so that decoding starts
    /// where it would have; nil (nothing run) when the decoder is already in use or closed.
    func scanInPlace(_ scan: (UnsafeMutablePointer<AVFormatContext>) throws -> FrameIndex) throws -> FrameIndex? {
        guard let format, codec != nil, framesDelivered == 0, packetsDecoded == 0, !everSeeked, !sentFlush,
              selection == nil else { return nil }
        let index = try scan(format)
        if index.pts.isEmpty {
            finished = true
            return index
        }
        try seek(toFrame: 0, in: index)
        // Decoding from frame 0 is a whole-clip decode again (the shortfall check applies).
        everSeeked = false
        return index
    }

    /// Exact seek to the first frame whose presentation time (`FrameView.time`:
    /// `pts * timeBase`, in seconds) is at or after `seconds`; see `seek(toFrame:in:)`.
    /// - Throws: `.invalidArgument` when `seconds` is not finite or no frame starts at or after it.
    public func seek(toTime seconds: Double, in frames: FrameIndex) throws {
        guard seconds.isFinite,
              let index = frames.pts.firstIndex(where: { timeBase.seconds($0) >= seconds }) else {
            throw MediaError(.invalidArgument, path: info.path,
                             message: "cannot seek to \(seconds) s: no frame at or after it among \(frames.pts.count)")
        }
        try seek(toFrame: index, in: frames)
    }

    /// Moves the demuxer to the first place left in `landing`'s plan that works, dropping it
    /// from the plan; the last resort reopens the clip.
    private func seekDemuxer() throws {
        guard var plan = landing?.fallbacks, !plan.isEmpty else { return }
        while let next = plan.first {
            plan.removeFirst()
            landing?.fallbacks = plan
            guard let ts = next else { break }
            if let format, av_seek_frame(format, stream, ts, AVSEEK_FLAG_BACKWARD) >= 0 { return }
        }
        try reopenDemuxer()
    }

    /// Replaces the demuxer with a freshly opened one, positioned at the start of the clip.
    private func reopenDemuxer() throws {
        ffmpegClearLastLog()
        var fmt: UnsafeMutablePointer<AVFormatContext>? = nil
        var code = Self.openInput(&fmt, info.path)
        guard code >= 0, let fresh = fmt else { throw Self.openError(path: info.path, code: code) }
        Self.configureDemuxer(fresh)
        code = Self.findStreamInfo(fresh, maxPixels: options.maxPixels)
        guard code >= 0, Int(stream) < Int(fresh.pointee.nb_streams) else {
            avformat_close_input(&fmt)
            throw MediaError(.corruptData, path: info.path,
                             message: ffmpegMessage(code, context: "cannot reopen to seek to the start"), ffmpegCode: code)
        }
        for i in 0..<Int(fresh.pointee.nb_streams) where i != Int(stream) {
            fresh.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
        fresh.pointee.opaque = demuxLog.opaque
        avformat_close_input(&format)
        format = fresh
    }

    /// Decoder state after the demuxer moved: nothing buffered, nothing pending, not at the end.
    private func resetAfterSeek(_ codec: UnsafeMutablePointer<AVCodecContext>) {
        avcodec_flush_buffers(codec)
        ffmpegClearLastLog(decodeLog)
        sentFlush = false
        finished = false
        pendingError = nil
        lastTime = nil
        everSeeked = true
    }

    /// A reference-counted handle to the frame `nextFrame` is currently showing, valid after the
    /// closure returns. The pixel data are shared with the decoder's buffer pool, not copied.
    /// Call from inside `nextFrame`'s closure.
    public func retainCurrentFrame(_ view: FrameView) -> RetainedFrame? {
        guard let frame, let copy = av_frame_clone(frame) else { return nil }
        return RetainedFrame(frame: copy, view: view)
    }

    // MARK: - Decoding loop

    /// Fills `self.frame` with the next frame to deliver; false at the end of the stream.
    private func receiveFrame() throws -> Bool {
        // Not `format`: a seek that has to start over reopens the demuxer inside this loop.
        guard !finished, format != nil, let codec, let packet, let frame else { return false }
        while true {
            let r = avcodec_receive_frame(codec, frame)
            if r >= 0 {
                let received = FrameReference(frame)
                if try received.with({ try admit($0, codec) }) {
                    received.keep()
                    return true
                }
                continue   // `received` ends here: the skipped frame is unreferenced
            }
            if r == fp_averror_eof() {
                if landing?.fallbacks.isEmpty == false {
                    // No frame at all after an exact seek: the demuxer landed past the end.
                    try seekDemuxer()
                    resetAfterSeek(codec)
                    continue
                }
                return try endOfStream()
            }
            if r != fp_averror_eagain() {
                // A decoding error surfaced on output (frame threading reports them here).
                if options.lenient { droppedFrames += 1; continue }
                failAfterDraining(damageError(r, context: "cannot decode frame after \(framesDelivered) frame(s)"), codec)
                continue
            }
            if sentFlush { return try endOfStream() }
            guard try feed(codec, packet) else { return false }
        }
    }

    /// What becomes of a frame the decoder produced: true when it is to be delivered; false when
    /// it is skipped (`receiveFrame` unreferences it) —
    /// the seek landed after its target, the frame is outside the selection or before a seek
    /// target, or it is damaged in lenient mode. Throws for damage (strict), a size change and
    /// the frame limit.
    private func admit(_ frame: UnsafeMutablePointer<AVFrame>, _ codec: UnsafeMutablePointer<AVCodecContext>) throws -> Bool {
        if info.isElementaryStream {
            frame.pointee.best_effort_timestamp = untimedNext
            untimedNext += 1
        }
        let pts = frame.pointee.best_effort_timestamp
        if let target = landing?.target {
            // First frame after an exact seek: the demuxer must not have landed after the target.
            if pts != fp_nopts_value() && pts > target, landing?.fallbacks.isEmpty == false {
                try seekDemuxer()
                resetAfterSeek(codec)
                return false
            }
            landing = nil
        }
        guard isWanted(pts) else { return false }
        // Only frames that will be delivered count as damage: frames decoded on the way to a
        // seek target or outside the selection (e.g. open-GOP leading frames) do not.
        if isDamaged(frame) {
            if options.lenient { droppedFrames += 1; return false }
            // Strict: the frames before the damage were delivered; stop here.
            finished = true
            throw damageError(nil, context: "frame \(framesDelivered) is damaged (decode error flags \(frame.pointee.decode_error_flags))")
        }
        try checkLimits(frame)
        return true
    }

    /// Whether a frame with presentation timestamp `pts` is to be delivered: in the selection,
    /// and not before a seek target (the first frame at or after it clears the target).
    private func isWanted(_ pts: Int64) -> Bool {
        if let selection, !selection.contains(pts) { return false }
        if let target = seekTargetPTS {
            if pts != fp_nopts_value() && pts < target { return false }
            seekTargetPTS = nil
        }
        return true
    }

    /// Throws (and stops decoding) when a frame to deliver changed the picture size or passes
    /// `options.maxFrames`.
    private func checkLimits(_ frame: UnsafeMutablePointer<AVFrame>) throws {
        if Int(frame.pointee.width) != info.width || Int(frame.pointee.height) != info.height {
            // A stream that changes size mid-clip: refused, not rescaled (docs/ingest.md).
            finished = true
            throw MediaError(.corruptData, path: info.path,
                             message: "picture size changed mid-stream from \(info.width)x\(info.height) to \(frame.pointee.width)x\(frame.pointee.height) at frame \(framesDelivered); clips must keep one size")
        }
        if let limit = options.maxFrames, framesDelivered >= limit {
            finished = true
            throw MediaError(.limitExceeded, path: info.path, message: "clip has more than \(limit) frames")
        }
    }

    /// Reads the next packet of the stream and sends it to the decoder (or, at the end of the
    /// file or on a read error, the flush); false when the demuxer is gone.
    private func feed(_ codec: UnsafeMutablePointer<AVCodecContext>, _ packet: UnsafeMutablePointer<AVPacket>) throws -> Bool {
        guard let format else { return false }
        ffmpegClearLastLog(demuxLog)
        let readCode = av_read_frame(format, packet)
        if readCode == fp_averror_eof() {
            // The demuxer may stop early on a damaged container without an error code, only
            // logging why (e.g. Matroska's "Element ... exceeds containing master element").
            if !options.lenient, ffmpegLastLogLine(demuxLog) != nil {
                pendingError = damageError(nil, context: "demuxing stopped after \(framesDelivered) decoded frame(s)")
            }
            avcodec_send_packet(codec, nil)
            sentFlush = true
            return true
        }
        if readCode < 0 {
            if options.lenient {
                droppedFrames += 1
                avcodec_send_packet(codec, nil)
                sentFlush = true
                return true
            }
            failAfterDraining(damageError(readCode, context: "cannot read packet after \(framesDelivered) decoded frame(s)"), codec)
            return true
        }
        let read = PacketReference(packet)   // unreferenced on every path out
        read.with { send($0, codec) }
        return true
    }

    /// Sends a packet just read to the decoder, if it belongs to the stream.
    private func send(_ packet: UnsafeMutablePointer<AVPacket>, _ codec: UnsafeMutablePointer<AVCodecContext>) {
        guard packet.pointee.stream_index == stream else { return }
        setSkipLevel(codec, forPacketAt: packet.pointee.pts)
        packetsDecoded += 1
        let sendCode = avcodec_send_packet(codec, packet)
        if sendCode < 0 && sendCode != fp_averror_eagain() {
            if options.lenient { droppedFrames += 1; return }
            failAfterDraining(damageError(sendCode, context: "cannot decode packet after \(framesDelivered) frame(s)"), codec)
        }
    }

    /// Frames outside the selection or before a seek target are not delivered: lets the decoder
    /// skip the packet at `pts` if no other frame references it.
    private func setSkipLevel(_ codec: UnsafeMutablePointer<AVCodecContext>, forPacketAt pts: Int64) {
        guard selection != nil || seekTargetPTS != nil || codec.pointee.skip_frame != baseDiscard else { return }
        let early = seekTargetPTS.map { pts != fp_nopts_value() && pts < $0 } ?? false
        // An elementary stream's packets carry no pts: every one may be wanted.
        let wanted = info.isElementaryStream || (!early && (selection?.contains(pts) ?? true))
        codec.pointee.skip_frame = wanted || baseDiscard.rawValue > AVDISCARD_NONREF.rawValue
            ? baseDiscard : AVDISCARD_NONREF
    }

    /// An error found while reading, raised once the frames already in the decoder are delivered.
    private var pendingError: MediaError?

    private func endOfStream() throws -> Bool {
        finished = true
        landing = nil
        if let e = pendingError { pendingError = nil; throw e }
        if let e = shortfallError() {
            guard options.lenient else { throw e }
            droppedFrames += try missingFrameEstimate()
        }
        return false
    }

    /// Frames the header promises that never came: from nb_frames when the container has it,
    /// else from the declared duration and the frame rate.
    /// - Throws: `.corruptData` when the declared duration and frame rate promise more than
    ///   `maxDeclaredFrames` frames (or a count no integer holds): a header that cannot be right.
    private func missingFrameEstimate() throws -> Int {
        if let hint = info.frameCountHint, hint > framesDelivered + droppedFrames {
            return hint - framesDelivered - droppedFrames
        }
        guard let duration = info.duration, framePeriod > 0, let last = lastTime else { return 0 }
        return try Self.framesMissing(after: last, start: info.startTime, duration: duration, framePeriod: framePeriod,
                                      path: info.path)
    }

    /// The most frames a header's duration and frame rate may promise (2^31: over two years at
    /// 30 frames per second); more is taken for a damaged or crafted header.
    static let maxDeclaredFrames = 1 << 31

    /// Frames between the last one delivered (at `last` seconds) and the declared end,
    /// `start + duration`, at one per `framePeriod` (0 when the last frame is at or past it).
    static func framesMissing(after last: Double, start: Double, duration: Double, framePeriod: Double,
                              path: String) throws -> Int {
        let span = (start + duration - last) / framePeriod
        guard let n = HeaderValue.int64(span), n <= Int64(maxDeclaredFrames) else {
            throw MediaError(.corruptData, path: path,
                             message: "the header's duration \(duration) s at a frame period of \(framePeriod) s promises \(span) frames, more than the \(maxDeclaredFrames) a clip may have")
        }
        return max(0, Int(n) - 1)
    }

    /// Strict mode, whole-clip decodes only: a clip whose frames stop well before the duration its
    /// header declares has lost data even when no FFmpeg call failed.
    private func shortfallError() -> MediaError? {
        guard options.discard == .none, selection == nil, !indexFromTime, seekTargetPTS == nil, !everSeeked,
              let duration = info.duration, duration > 1, let last = lastTime else { return nil }
        let covered = last + framePeriod - info.startTime
        guard covered < duration * 0.9 - 0.1 else { return nil }
        return MediaError(.truncated, path: info.path,
                          message: "frames end at \(covered) s but the header declares \(duration) s (\(framesDelivered) frame(s) decoded)")
    }

    /// Strict mode: remember `error`, stop reading, and let the decoder hand out the frames it
    /// already holds (they precede the damage); the error is thrown once they are delivered.
    private func failAfterDraining(_ error: MediaError, _ codec: UnsafeMutablePointer<AVCodecContext>) {
        if pendingError == nil { pendingError = error }
        if !sentFlush {
            avcodec_send_packet(codec, nil)
            sentFlush = true
        }
    }

    /// True when the decoder could only produce the frame with errors.
    private func isDamaged(_ f: UnsafeMutablePointer<AVFrame>) -> Bool {
        f.pointee.decode_error_flags != 0 || (f.pointee.flags & AV_FRAME_FLAG_CORRUPT) != 0
    }

    /// A `.truncated` error when the file ended early (the demuxer is at end of file or reported a
    /// partial file), else `.corruptData`; the message carries FFmpeg's own words.
    private func damageError(_ code: Int32?, context: String) -> MediaError {
        let log = ffmpegLastLogLine(decodeLog) ?? ffmpegLastLogLine(demuxLog) ?? ""
        let atEnd = format.map(isAtEndOfFile) ?? false
        let truncated = atEnd || log.contains("partial file")
        var message = "\(context)\(code.map { ": " + ffmpegErrorString($0) } ?? "")"
        if !log.isEmpty, !message.contains(log) { message += " (\(log))" }
        if truncated { message = "file ends early: " + message }
        return MediaError(truncated ? .truncated : .corruptData, path: info.path, message: message, ffmpegCode: code)
    }

    private func isAtEndOfFile(_ fmt: UnsafeMutablePointer<AVFormatContext>) -> Bool {
        guard let pb = fmt.pointee.pb else { return false }
        let size = avio_size(pb)
        return size > 0 && (avio_feof(pb) != 0 || avio_tell(pb) >= size)
    }

    private func makeView(_ f: UnsafeMutablePointer<AVFrame>) -> FrameView {
        let rawPTS = f.pointee.best_effort_timestamp
        let pts: Int64? = rawPTS == fp_nopts_value() ? nil : rawPTS
        var time: Double
        if let pts, info.isElementaryStream {
            time = Double(pts) * framePeriod
        } else if let pts {
            time = timeBase.seconds(pts)
        } else if let last = lastTime {
            time = last + framePeriod
        } else {
            time = info.startTime
        }
        if let last = lastTime, time < last, pts == nil { time = last }
        lastTime = time

        let index: Int
        if let pts, let known = ptsIndex?[pts] {
            index = known
            nextIndex = known + 1
            indexFromTime = false
        } else if indexFromTime, framePeriod > 0 {
            // An estimate from header values: clamped, never trapping on a huge or NaN quotient.
            index = HeaderValue.clamped((time - info.startTime) / framePeriod, to: 0...Int.max - 1)
            nextIndex = index + 1
            indexFromTime = false
        } else {
            index = nextIndex
            nextIndex += 1
        }
        framesDelivered += 1

        let pixfmt = PixelFormat(rawValue: f.pointee.format)
        let w = Int(f.pointee.width), h = Int(f.pointee.height)
        func plane(_ i: Int32) -> PlaneView? {
            guard Int(i) < pixfmt.planeCount, let base = fp_frame_data(f, i) else { return nil }
            return PlaneView(base: UnsafeRawPointer(base), stride: Int(fp_frame_linesize(f, i)),
                             rowBytes: pixfmt.rowBytes(plane: Int(i), width: w), rows: pixfmt.rows(plane: Int(i), height: h))
        }
        let isKey = fp_frame_is_key(f) != 0
        return FrameView(index: index, pts: pts, timeBase: timeBase, time: time, width: w, height: h,
                         pixelFormat: pixfmt, isKeyFrame: isKey, planes: (plane(0), plane(1), plane(2), plane(3)))
    }
}

/// A copy of one stream's codec parameters (`AVCodecParameters`), owned and freed with it.
/// Immutable after creation, so it can be shared by decoders on several threads, each of which
/// copies it into its own demuxer's stream.
///
/// `@unchecked Sendable` without a lock: nothing writes the parameters after `init` (readers
/// only copy from them with `avcodec_parameters_copy`), so there is no state for a lock to guard.
public final class StreamParameters: @unchecked Sendable {
    let parameters: UnsafeMutablePointer<AVCodecParameters>
    let streamIndex: Int32
    var codecID: AVCodecID { parameters.pointee.codec_id }

    init(parameters: UnsafeMutablePointer<AVCodecParameters>, streamIndex: Int32) {
        self.parameters = parameters
        self.streamIndex = streamIndex
    }

    deinit {
        var p: UnsafeMutablePointer<AVCodecParameters>? = parameters
        avcodec_parameters_free(&p)
    }
}
