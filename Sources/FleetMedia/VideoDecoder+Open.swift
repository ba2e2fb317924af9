import CFFmpeg
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// FFmpeg objects owned together while a decoder is being opened; `release()` frees them.
struct Owned {
    var format: UnsafeMutablePointer<AVFormatContext>?
    var codec: UnsafeMutablePointer<AVCodecContext>?
    var packet: UnsafeMutablePointer<AVPacket>?
    var frame: UnsafeMutablePointer<AVFrame>?

    init(format: UnsafeMutablePointer<AVFormatContext>?) { self.format = format }

    mutating func release() {
        if frame != nil { av_frame_free(&frame) }
        if packet != nil { av_packet_free(&packet) }
        if codec != nil { avcodec_free_context(&codec) }
        if format != nil { avformat_close_input(&format) }
    }
}

extension VideoDecoder {
    /// Opens `path` only far enough to report its facts.
    public static func probe(path: String) throws -> ClipInfo {
        try VideoDecoder(path: path).info
    }

    /// Classifies a path before FFmpeg sees it: missing, unreadable, directory, empty.
    static func checkFile(_ path: String) throws {
        var st = stat()
        if Self.statPath(path, &st) != 0 {
            let e = errno
            if e == ENOENT || e == ENOTDIR {
                throw MediaError(.fileNotFound, path: path, message: "no such file")
            }
            throw MediaError(.unreadable, path: path, message: String(cString: strerror(e)))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw MediaError(.unreadable, path: path, message: "is a directory, not a clip file")
        }
        // FIFOs, devices and sockets can block a reader forever: only regular files are clips.
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw MediaError(.unreadable, path: path, message: "is not a regular file (a FIFO, device or socket)")
        }
        if Self.accessPath(path, R_OK) != 0 {
            throw MediaError(.unreadable, path: path, message: String(cString: strerror(errno)))
        }
        if st.st_size == 0 {
            throw MediaError(.notMedia, path: path, message: "empty file (0 bytes)")
        }
    }

    /// Settings every demuxer of a clip gets right after `avformat_open_input` (the decoder's, a
    /// reopened one, a scan's own), so that they all report the same packet timestamps.
    ///
    /// `AVFMT_FLAG_GENPTS`: where a packet has no presentation timestamp but a decode timestamp
    /// (MPEG-PS, MPEG-TS, some AVI and FLV), libavformat fills it in from the decode timestamps
    /// of the packets that follow (for a stream without reordering, pts = dts; the last packet:
    /// its dts plus its duration), as `ffmpeg -fflags +genpts` does. Packets that have a pts are
    /// unchanged; packets with neither stay without (raw elementary streams).
    static func configureDemuxer(_ fmt: UnsafeMutablePointer<AVFormatContext>) {
        fmt.pointee.flags |= AVFMT_FLAG_GENPTS
    }

    /// Makes the stream a first open of this file found (`known`) the decoder's stream in `fmt`,
    /// a demuxer that has only read the header (no `avformat_find_stream_info`).
    ///
    /// Some demuxers (FLV, MPEG-PS: `AVFMTCTX_NOHEADER`) create their streams as the streams'
    /// first packets arrive, so a header read alone has none: those learn their streams as a
    /// first open does (`findStreamInfo`, which buffers the packets it reads for decoding).
    /// - Throws: `.corruptData` when the stream is not there or has another codec.
    static func adoptStream(_ known: StreamParameters, in fmt: UnsafeMutablePointer<AVFormatContext>,
                            path: String, maxPixels: Int, findStreamInfo: (UnsafeMutablePointer<AVFormatContext>, Int) -> Int32) throws {
        if Int(known.streamIndex) >= Int(fmt.pointee.nb_streams), fmt.pointee.ctx_flags & AVFMTCTX_NOHEADER != 0 {
            let code = findStreamInfo(fmt, maxPixels)
            if code < 0 {
                throw MediaError(.corruptData, path: path,
                                 message: ffmpegMessage(code, context: "cannot read stream information"), ffmpegCode: code)
            }
        }
        guard Int(known.streamIndex) < Int(fmt.pointee.nb_streams),
              let target = fmt.pointee.streams[Int(known.streamIndex)]?.pointee.codecpar,
              target.pointee.codec_id == known.codecID,
              avcodec_parameters_copy(target, known.parameters) >= 0 else {
            throw MediaError(.corruptData, path: path, message: "the file changed since it was scanned (stream \(known.streamIndex) differs)")
        }
    }

    static func openError(path: String, code: Int32) -> MediaError {
        let kind: MediaError.Kind
        switch code {
        case fp_averror(ENOENT): kind = .fileNotFound
        case fp_averror(EACCES), fp_averror(EPERM), fp_averror(EISDIR), fp_averror(EIO): kind = .unreadable
        default: kind = .notMedia
        }
        let what = kind == .notMedia ? "not a media file FFmpeg can read" : "cannot open"
        return MediaError(kind, path: path, message: ffmpegMessage(code, context: what), ffmpegCode: code)
    }

    /// FFmpeg's choice of video stream, skipping attached pictures (cover art); -1 when there is none.
    static func bestVideoStream(_ fmt: UnsafeMutablePointer<AVFormatContext>) -> Int32 {
        let best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        if best >= 0, fmt.pointee.streams[Int(best)]!.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 {
            return best
        }
        for i in 0..<Int(fmt.pointee.nb_streams) {
            let st = fmt.pointee.streams[i]!
            if st.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO,
               st.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 {
                return Int32(i)
            }
        }
        return -1
    }

    static func makeInfo(path: String, format fmt: UnsafeMutablePointer<AVFormatContext>,
                         stream st: UnsafeMutablePointer<AVStream>, index: Int32) -> ClipInfo {
        let par = st.pointee.codecpar!.pointee
        let pixfmt = PixelFormat(rawValue: par.format)
        let tb = Rational(st.pointee.time_base.num, st.pointee.time_base.den)
        var rate = Rational(st.pointee.avg_frame_rate.num, st.pointee.avg_frame_rate.den)
        if !rate.isKnown { rate = Rational(st.pointee.r_frame_rate.num, st.pointee.r_frame_rate.den) }
        let nopts = fp_nopts_value()
        var duration: Double? = nil
        if st.pointee.duration != nopts && st.pointee.duration > 0 {
            duration = tb.seconds(st.pointee.duration)
        } else if fmt.pointee.duration != nopts && fmt.pointee.duration > 0 {
            duration = Double(fmt.pointee.duration) / Double(AV_TIME_BASE)
        }
        let start = st.pointee.start_time == nopts ? 0 : tb.seconds(st.pointee.start_time)
        let profile = String(optionalCString: avcodec_profile_name(par.codec_id, par.profile))
        return ClipInfo(
            path: path,
            container: String(optionalCString: fmt.pointee.iformat.pointee.name) ?? "unknown",
            codec: String(optionalCString: avcodec_get_name(par.codec_id)) ?? "unknown",
            profile: profile,
            width: Int(par.width), height: Int(par.height),
            pixelFormat: pixfmt,
            bitDepth: pixfmt.bitDepth,
            colorSpace: StreamColorSpace(par.color_space),
            matrix: StreamColorMatrix(par.color_space),
            colorRange: StreamColorRange(par.color_range),
            frameRate: rate, timeBase: tb,
            duration: duration, startTime: start,
            rotation: fp_stream_rotation(st),
            streamIndex: Int(index), streamCount: Int(fmt.pointee.nb_streams),
            frameCountHint: st.pointee.nb_frames > 0 ? Int(st.pointee.nb_frames) : nil)
    }
}

/// A decoded frame kept beyond the decoder's next call: a counted reference to the decoder's
/// buffers (no pixel copy). The planes stay valid for the lifetime of this object.
///
/// `@unchecked Sendable` without a lock: nothing in it changes after `init` (the pixels are
/// read-only, FFmpeg counts the buffer references atomically, and only `deinit` frees the clone),
/// so it can be handed to another thread, and returned from `nextFrame`'s closure.
public final class RetainedFrame: @unchecked Sendable {
    private var frame: UnsafeMutablePointer<AVFrame>?
    /// The frame's timing and planes; valid while this object lives.
    public let view: FrameView

    init(frame: UnsafeMutablePointer<AVFrame>, view: FrameView) {
        // av_frame_clone references the same buffers, so the view's plane pointers stay valid
        // for as long as this clone holds its references.
        self.frame = frame
        self.view = view
    }

    deinit { av_frame_free(&frame) }
}
