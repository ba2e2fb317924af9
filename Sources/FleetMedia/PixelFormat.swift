import CFFmpeg

/// An FFmpeg pixel format (AVPixelFormat) with the facts kernels need about its planes.
public struct PixelFormat: Sendable, Hashable, CustomStringConvertible {
    /// FFmpeg's AVPixelFormat value. Stable only within one FFmpeg major version: persist `name`.
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Looks a format up by FFmpeg's name ("yuv420p", "nv12", ...); nil when FFmpeg knows no such name.
    public init?(name: String) {
        let v = av_get_pix_fmt(name)
        guard v.rawValue >= 0 else { return nil }
        self.rawValue = v.rawValue
    }

    var av: AVPixelFormat { AVPixelFormat(rawValue: rawValue) }
    private var descriptor: UnsafePointer<AVPixFmtDescriptor>? { av_pix_fmt_desc_get(av) }

    /// FFmpeg's name for the format, e.g. "yuv420p10le".
    public var name: String { String(optionalCString: av_get_pix_fmt_name(av)) ?? "none" }
    /// Bits per component of the first component (8 for yuv420p, 10 for yuv420p10le).
    public var bitDepth: Int { descriptor.map { Int($0.pointee.comp.0.depth) } ?? 0 }
    /// Number of planes in memory. A palette format (`pal8`) counts its palette as the last
    /// plane: FFmpeg keeps it in `data[1]` (256 entries of 4 bytes), and libswscale reads it there.
    public var planeCount: Int { Int(av_pix_fmt_count_planes(av)) + (hasPalette ? 1 : 0) }
    /// Whether the frame carries a palette in `data[1]` (`pal8`).
    public var hasPalette: Bool { descriptor.map { $0.pointee.flags & UInt64(AV_PIX_FMT_FLAG_PAL) != 0 } ?? false }
    /// Whether the samples are R, G, B (packed, planar `gbr*`, or palette entries) rather than
    /// Y, U, V or gray: there is no YUV matrix or range to apply to them.
    public var isRGB: Bool {
        descriptor.map { $0.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL) != 0 } ?? false
    }
    /// Whether the format is luma only (gray, or gray with alpha: `gray10le`, `ya8`, `monob`, ...).
    public var isGray: Bool {
        guard let d = descriptor, !isRGB else { return false }
        return d.pointee.nb_components <= 2 && d.pointee.flags & UInt64(AV_PIX_FMT_FLAG_HWACCEL) == 0
    }
    /// Bytes of a palette plane: 256 entries of 4 bytes (AVPALETTE_SIZE).
    static let paletteBytes = 1024
    /// log2 of the horizontal / vertical chroma subsampling (1 and 1 for 4:2:0).
    public var chromaShift: (x: Int, y: Int) {
        guard let d = descriptor else { return (0, 0) }
        return (Int(d.pointee.log2_chroma_w), Int(d.pointee.log2_chroma_h))
    }

    /// Bytes of pixel data in one row of plane `plane` for a frame `width` pixels wide.
    public func rowBytes(plane: Int, width: Int) -> Int {
        if hasPalette && plane == 1 { return Self.paletteBytes }
        var sizes: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &sizes) { raw in
            av_image_fill_linesizes(raw.baseAddress!.assumingMemoryBound(to: Int32.self), av, Int32(width))
        }
        guard ok >= 0 else { return 0 }
        return withUnsafeBytes(of: sizes) { raw in Int(raw.load(fromByteOffset: plane * 4, as: Int32.self)) }
    }

    /// Rows in plane `plane` for a frame `height` pixels tall (chroma planes are rounded up).
    public func rows(plane: Int, height: Int) -> Int {
        guard let d = descriptor else { return 0 }
        if hasPalette && plane == 1 { return 1 }
        let isChroma = (plane == 1 || plane == 2) && (d.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB)) == 0
        if !isChroma { return height }
        let shift = Int(d.pointee.log2_chroma_h)
        return -((-height) >> shift)
    }

    public var description: String { name }
}

extension PixelFormat {
    // The formats other modules name (FleetPrep's bridge to the kernels, the benchmarks): typed
    // values, so that no format crosses a module boundary as a string.
    public static let yuv420p = PixelFormat(rawValue: AV_PIX_FMT_YUV420P.rawValue)
    public static let yuvj420p = PixelFormat(rawValue: AV_PIX_FMT_YUVJ420P.rawValue)
    public static let yuv422p = PixelFormat(rawValue: AV_PIX_FMT_YUV422P.rawValue)
    public static let yuvj422p = PixelFormat(rawValue: AV_PIX_FMT_YUVJ422P.rawValue)
    public static let yuv444p = PixelFormat(rawValue: AV_PIX_FMT_YUV444P.rawValue)
    public static let yuvj444p = PixelFormat(rawValue: AV_PIX_FMT_YUVJ444P.rawValue)
    public static let nv12 = PixelFormat(rawValue: AV_PIX_FMT_NV12.rawValue)
    /// 8-bit luma ("gray", alias "gray8").
    public static let gray = PixelFormat(rawValue: AV_PIX_FMT_GRAY8.rawValue)
    public static let yuv420p10le = PixelFormat(rawValue: AV_PIX_FMT_YUV420P10LE.rawValue)
    public static let gbrp = PixelFormat(rawValue: AV_PIX_FMT_GBRP.rawValue)
    public static let rgb24 = PixelFormat(rawValue: AV_PIX_FMT_RGB24.rawValue)
}

/// Encoded as FFmpeg's name ("yuv420p"): `rawValue` is stable only within one FFmpeg major version.
extension PixelFormat: Codable {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        if text == "none" { self.init(rawValue: AV_PIX_FMT_NONE.rawValue); return }
        guard let f = PixelFormat(name: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "FFmpeg knows no pixel format \"\(text)\"")
        }
        self = f
    }
}
