import CFFmpeg

/// Converts decoded frames of any pixel format into one target format with libswscale, for the
/// formats the Swift transform kernels do not read directly (e.g. `rgb24`, `pal8`, `yuv410p`,
/// `yuv422p10le`). The hot formats (yuv420p, nv12, yuv420p10le, ...) never come here.
///
/// Every plane of the source goes to libswscale, the palette of a `pal8` frame (its last plane,
/// FFmpeg's `data[1]`) included: without it libswscale reads a NULL palette.
///
/// The converter owns one output frame, allocated on first use and reused while the input size
/// and format stay the same; a converted view is valid only inside the closure that receives it.
public final class PixelConverter {
    /// The format frames are converted into.
    public let target: PixelFormat
    private var sws: OpaquePointer? = nil
    private var output: UnsafeMutablePointer<AVFrame>? = nil
    private var key: (width: Int, height: Int, format: Int32) = (0, 0, -1)
    private let flags: Int32

    /// The libswscale flags of a conversion that keeps the most (chroma at full resolution,
    /// accurate rounding).
    public static let accurateFlags = Int32(SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT)
    /// Nearest sample (chroma replicated at the same size), accurate rounding.
    public static let nearestFlags = Int32(SWS_POINT | SWS_ACCURATE_RND)
    /// The flags of the ffmpeg CLI's own automatic conversions (`-pix_fmt`, its default
    /// `sws_flags`): the same-size RGB converters then give exactly the CLI's bytes.
    public static let ffmpegCLIFlags = Int32(SWS_BICUBIC)

    /// - Parameters:
    ///   - target: the output pixel format (default `yuv444p`: no chroma is lost).
    ///   - flags: libswscale flags (default `accurateFlags`).
    public init(target: PixelFormat = PixelFormat(name: "yuv444p")!, flags: Int32 = PixelConverter.accurateFlags) {
        self.target = target
        self.flags = flags
    }

    deinit {
        sws_freeContext(sws)
        av_frame_free(&output)
    }

    /// Converts `frame` (same size, `target` format) and passes the result to `body`.
    ///
    /// The converted `FrameView` is valid only inside `body` (the converter reuses its frame): as
    /// with `VideoDecoder.nextFrame(_:)`, the result must be `Sendable`, which a view is not.
    /// - Throws: `MediaError(.decoderMissing)` when libswscale cannot convert this format,
    ///   `.limitExceeded` when memory for the output frame cannot be allocated.
    public func convert<R: Sendable>(_ frame: FrameView, path: String = "", _ body: (FrameView) throws -> R) throws -> R {
        let w = frame.width, h = frame.height
        if key != (w, h, frame.pixelFormat.rawValue) || output == nil {
            try prepare(width: w, height: h, from: frame.pixelFormat, path: path)
        }
        guard let sws, let out = output else {
            throw MediaError(.decoderMissing, path: path, message: "cannot convert \(frame.pixelFormat.name) to \(target.name)")
        }
        guard frame.planeCount >= frame.pixelFormat.planeCount else {
            throw MediaError(.corruptData, path: path,
                             message: "a \(frame.pixelFormat.name) frame lacks plane \(frame.planeCount)\(frame.pixelFormat.hasPalette ? " (its palette)" : "")")
        }
        var srcData: (UnsafePointer<UInt8>?, UnsafePointer<UInt8>?, UnsafePointer<UInt8>?, UnsafePointer<UInt8>?) = (nil, nil, nil, nil)
        var srcStride: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
        let n = frame.planeCount
        if n > 0 { srcData.0 = frame.plane(0).base.assumingMemoryBound(to: UInt8.self); srcStride.0 = Int32(frame.plane(0).stride) }
        if n > 1 { srcData.1 = frame.plane(1).base.assumingMemoryBound(to: UInt8.self); srcStride.1 = Int32(frame.plane(1).stride) }
        if n > 2 { srcData.2 = frame.plane(2).base.assumingMemoryBound(to: UInt8.self); srcStride.2 = Int32(frame.plane(2).stride) }
        if n > 3 { srcData.3 = frame.plane(3).base.assumingMemoryBound(to: UInt8.self); srcStride.3 = Int32(frame.plane(3).stride) }
        let rows = withUnsafePointer(to: &srcData) { dp in
            withUnsafePointer(to: &srcStride) { sp in
                withUnsafeMutablePointer(to: &out.pointee.data) { odp in
                    withUnsafeMutablePointer(to: &out.pointee.linesize) { osp in
                        sws_scale(sws,
                                  UnsafeRawPointer(dp).assumingMemoryBound(to: UnsafePointer<UInt8>?.self),
                                  UnsafeRawPointer(sp).assumingMemoryBound(to: Int32.self),
                                  0, Int32(h),
                                  UnsafeMutableRawPointer(odp).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self),
                                  UnsafeMutableRawPointer(osp).assumingMemoryBound(to: Int32.self))
                    }
                }
            }
        }
        guard rows > 0 else {
            throw MediaError(.corruptData, path: path, message: ffmpegMessage(rows, context: "libswscale could not convert \(frame.pixelFormat.name) to \(target.name)"))
        }
        return try body(view(of: out, like: frame))
    }

    private func prepare(width w: Int, height h: Int, from src: PixelFormat, path: String) throws {
        sws = sws_getCachedContext(sws, Int32(w), Int32(h), src.av, Int32(w), Int32(h), target.av,
                                   flags, nil, nil, nil)
        guard sws != nil else {
            throw MediaError(.decoderMissing, path: path, message: "libswscale cannot convert \(src.name) to \(target.name)")
        }
        av_frame_free(&output)
        output = av_frame_alloc()
        guard let out = output else { throw MediaError(.limitExceeded, path: path, message: "out of memory allocating a frame") }
        out.pointee.width = Int32(w)
        out.pointee.height = Int32(h)
        out.pointee.format = target.rawValue
        let code = av_frame_get_buffer(out, 0)
        guard code >= 0 else {
            av_frame_free(&output)
            throw MediaError(.limitExceeded, path: path, message: ffmpegMessage(code, context: "cannot allocate a \(w)x\(h) \(target.name) frame"))
        }
        key = (w, h, src.rawValue)
    }

    private func view(of f: UnsafeMutablePointer<AVFrame>, like src: FrameView) -> FrameView {
        var planes: (PlaneView?, PlaneView?, PlaneView?, PlaneView?) = (nil, nil, nil, nil)
        for i in 0..<target.planeCount {
            guard let base = fp_frame_data(f, Int32(i)) else { continue }
            let p = PlaneView(base: UnsafeRawPointer(base), stride: Int(fp_frame_linesize(f, Int32(i))),
                              rowBytes: target.rowBytes(plane: i, width: src.width),
                              rows: target.rows(plane: i, height: src.height))
            switch i {
            case 0: planes.0 = p
            case 1: planes.1 = p
            case 2: planes.2 = p
            default: planes.3 = p
            }
        }
        return FrameView(index: src.index, pts: src.pts, timeBase: src.timeBase, time: src.time,
                         width: src.width, height: src.height, pixelFormat: target,
                         isKeyFrame: src.isKeyFrame, planes: planes)
    }
}
