import FleetKernels
import FleetMedia

/// Hands a decoded frame to the transform kernels: the formats the kernels read go straight
/// through (no copy); anything else is converted by libswscale first:
/// - RGB formats (packed, planar `gbr*`, palette `pal8`) to `rgb24`, with the ffmpeg CLI's own
///   flags, so that the bytes are `ffmpeg -pix_fmt rgb24`'s; then to the kernels' planar `gbrp`
///   (a lossless reordering). No YUV matrix or range touches them.
/// - gray formats (`gray10le`, `ya8`, ...) to 8-bit `gray`, full range (libswscale's reading).
/// - everything else to `yuv444p` with chroma replicated (nearest sample), whose matrix and range
///   are then the stream's (or the options').
struct FrameSourceBridge {
    /// Kernel format and whether the format itself implies full range (the `yuvj*` formats).
    static func kernelFormat(of format: PixelFormat) -> (SourcePixelFormat, fullRange: Bool)? {
        switch format {
        case .yuvj422p: return (.yuv422p, true)
        case .yuvj444p: return (.yuv444p, true)
        case .yuvj420p: return (.yuvj420p, true)
        case .yuv420p: return (.yuv420p, false)
        case .nv12: return (.nv12, false)
        case .yuv422p: return (.yuv422p, false)
        case .yuv444p: return (.yuv444p, false)
        case .gray: return (.gray, false)
        case .yuv420p10le: return (.yuv420p10le, false)
        case .gbrp: return (.gbrp, false)
        default: return nil
        }
    }

    /// The kernel matrix for the one a stream declares (`ClipInfo.matrix`), nil when the kernels
    /// have none for it (the caller fails the clip: "unsupported colour matrix").
    ///
    /// A stream that declares no matrix is converted with BT.601, whatever its size: that is
    /// what the ffmpeg CLI does (libswscale's default, `SWS_CS_DEFAULT`), and the ffmpeg oracle
    /// tests compare against it. (Players such as mpv guess BT.709 for HD instead.) `--matrix`
    /// overrides the stream's matrix, declared or not.
    static func matrix(_ declared: StreamColorMatrix) -> ColourMatrix? {
        switch declared {
        case .bt709: return .bt709
        case .bt601, .unspecified: return .bt601
        case .bt2020ncl: return .bt2020
        case .unsupported: return nil
        }
    }

    /// The range a stream declares (`ClipInfo.colorRange`): `pc` (JPEG) is full, else limited.
    static func range(colorRange: StreamColorRange, fullRangeFormat: Bool) -> ColourRange {
        (fullRangeFormat || colorRange == .pc) ? .full : .limited
    }

    private var converter: PixelConverter?
    private var toRGB24: PixelConverter?
    private var toGBRP: PixelConverter?
    private var toGray: PixelConverter?

    /// Calls `body` with the frame as a kernel `SourceImage`, its kernel format and range hint.
    mutating func withImage<R: Sendable>(_ frame: FrameView, path: String,
                               _ body: (SourceImage, SourcePixelFormat, Bool) throws -> R) throws -> R {
        if let (format, full) = Self.kernelFormat(of: frame.pixelFormat) {
            return try body(Self.image(frame, format), format, full)
        }
        if frame.pixelFormat.isRGB {
            if toGBRP == nil { toGBRP = PixelConverter(target: .gbrp, flags: PixelConverter.ffmpegCLIFlags) }
            let gbrp = toGBRP!
            func planar(_ f: FrameView) throws -> R {
                try gbrp.convert(f, path: path) { converted in try body(Self.image(converted, .gbrp), .gbrp, true) }
            }
            if frame.pixelFormat == .rgb24 { return try planar(frame) }
            if toRGB24 == nil { toRGB24 = PixelConverter(target: .rgb24, flags: PixelConverter.ffmpegCLIFlags) }
            return try toRGB24!.convert(frame, path: path) { try planar($0) }
        }
        if frame.pixelFormat.isGray {
            // libswscale treats gray as full range (as the ffmpeg CLI's rgb24 of it): the 8-bit
            // gray it makes is full range too.
            if toGray == nil { toGray = PixelConverter(target: .gray, flags: PixelConverter.nearestFlags) }
            return try toGray!.convert(frame, path: path) { converted in try body(Self.image(converted, .gray), .gray, true) }
        }
        // Nearest chroma (replicated), as the kernels do at 1:1 and as libswscale's same-size
        // converters do: its bilinear 4:2:2 -> 4:4:4 upsampling is up to 119 levels off
        // `ffmpeg -pix_fmt rgb24` at sharp colour edges (yuv422p10le).
        if converter == nil { converter = PixelConverter(flags: PixelConverter.nearestFlags) }
        return try converter!.convert(frame, path: path) { converted in
            try body(Self.image(converted, .yuv444p), .yuv444p, false)
        }
    }

    private static func image(_ f: FrameView, _ format: SourcePixelFormat) -> SourceImage {
        let n = f.planeCount
        let p0 = f.plane(0)
        let p1 = n > 1 ? f.plane(1) : nil
        let p2 = n > 2 ? f.plane(2) : nil
        return SourceImage(format: format, width: f.width, height: f.height,
                           plane0: p0.base, stride0: p0.stride,
                           plane1: p1?.base, stride1: p1?.stride ?? 0,
                           plane2: p2?.base, stride2: p2?.stride ?? 0)
    }
}
