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
    /// Number of planes in memory.
    public var planeCount: Int { Int(av_pix_fmt_count_planes(av)) }
    /// log2 of the horizontal / vertical chroma subsampling (1 and 1 for 4:2:0).
    public var chromaShift: (x: Int, y: Int) {
        guard let d = descriptor else { return (0, 0) }
        return (Int(d.pointee.log2_chroma_w), Int(d.pointee.log2_chroma_h))
    }

    /// Bytes of pixel data in one row of plane `plane` for a frame `width` pixels wide.
    public func rowBytes(plane: Int, width: Int) -> Int {
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
        let isChroma = (plane == 1 || plane == 2) && (d.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB)) == 0
        if !isChroma { return height }
        let shift = Int(d.pointee.log2_chroma_h)
        return -((-height) >> shift)
    }

    public var description: String { name }
}
