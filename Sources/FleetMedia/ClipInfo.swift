import CFFmpeg

/// Facts about a clip and its chosen video stream, as FFmpeg reports them.
public struct ClipInfo: Sendable, Codable, Equatable {
    /// The file the facts describe.
    public var path: String
    /// Container short name(s) as FFmpeg's demuxer reports them, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    public var container: String
    /// Codec short name, e.g. "h264", "hevc".
    public var codec: String
    /// Codec profile name, e.g. "High", "Main 10"; nil when FFmpeg reports none.
    public var profile: String?
    /// Coded picture size in pixels (before any rotation is applied).
    public var width: Int
    public var height: Int
    /// The stream's pixel format; encoded (and printed) as FFmpeg's name, e.g. "yuv420p".
    public var pixelFormat: PixelFormat
    /// Bits per component of the pixel format (8, 10, ...).
    public var bitDepth: Int
    /// Colour space as the stream declares it; encoded (and printed) as FFmpeg's name ("bt709",
    /// "bt470bg", "smpte170m", "unknown", ...).
    public var colorSpace: StreamColorSpace
    /// The same matrix as a closed set (from FFmpeg's `AVColorSpace`, not from the name).
    public var matrix: StreamColorMatrix
    /// Sample range as the stream declares it: `tv` (limited), `pc` (full) or `unknown`
    /// (encoded and printed as those names).
    public var colorRange: StreamColorRange
    /// Average frame rate of the stream; 0/0 or 0/1 when unknown.
    public var frameRate: Rational
    /// The stream's time base: pts units in seconds.
    public var timeBase: Rational
    /// Duration in seconds (stream duration when known, else the container's); nil when unknown.
    public var duration: Double?
    /// Start time of the stream in seconds (the first pts); 0 when unknown.
    public var startTime: Double
    /// Display rotation in degrees, counter-clockwise, from the display matrix (0, 90, -90, 180...).
    public var rotation: Double
    /// Index of the chosen video stream in the container.
    public var streamIndex: Int
    /// Number of streams in the container.
    public var streamCount: Int
    /// Frame count from the container's header (nb_frames); nil when the container does not say.
    public var frameCountHint: Int?

    /// True for a raw H.264/HEVC elementary stream (Annex B, FFmpeg's `h264`/`hevc` demuxers):
    /// its packets carry no timestamps at all. Frames are then numbered in output order and
    /// their times must come from elsewhere (a frame-times log, or an assumed rate).
    public var isElementaryStream: Bool { Self.elementaryDemuxers.contains(container) }

    /// The demuxers of containerless video streams.
    public static let elementaryDemuxers: Set<String> = ["h264", "hevc"]
}

/// The YUV→RGB matrix a stream declares, from FFmpeg's `AVColorSpace`.
public enum StreamColorMatrix: String, Sendable, Codable, Equatable {
    /// BT.709 (`AVCOL_SPC_BT709`).
    case bt709
    /// BT.601: `AVCOL_SPC_BT470BG` or `AVCOL_SPC_SMPTE170M` (the same coefficients).
    case bt601
    /// BT.2020 non-constant luminance (`AVCOL_SPC_BT2020_NCL`).
    case bt2020ncl
    /// No matrix declared (`AVCOL_SPC_UNSPECIFIED`, reserved values).
    case unspecified
    /// Any other matrix (BT.2020 constant luminance, SMPTE 240M, FCC, YCgCo, ICtCp, RGB, ...):
    /// `colorSpace` names it.
    case unsupported

    init(_ space: AVColorSpace) {
        switch space {
        case AVCOL_SPC_BT709: self = .bt709
        case AVCOL_SPC_BT470BG, AVCOL_SPC_SMPTE170M: self = .bt601
        case AVCOL_SPC_BT2020_NCL: self = .bt2020ncl
        case AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_RESERVED: self = .unspecified
        default: self = .unsupported
        }
    }
}

/// The colour space (`AVColorSpace`) a stream declares. `matrix` is the closed set the kernels
/// convert; this keeps the declared value itself, whose FFmpeg name (`name`, `description`, the
/// Codable form) is what probe and discover print.
public struct StreamColorSpace: Sendable, Hashable, Codable, CustomStringConvertible {
    /// FFmpeg's `AVColorSpace` value (values FFmpeg has no name for become unspecified).
    public let rawValue: Int32

    init(_ space: AVColorSpace) {
        rawValue = av_color_space_name(space) == nil ? Int32(AVCOL_SPC_UNSPECIFIED.rawValue) : Int32(space.rawValue)
    }

    /// FFmpeg's name: "bt709", "bt470bg", "smpte170m", "bt2020nc", "gbr", "unknown", ...
    public var name: String { String(optionalCString: av_color_space_name(AVColorSpace(UInt32(bitPattern: rawValue)))) ?? "unknown" }
    /// The matrix as the closed set the kernels know.
    public var matrix: StreamColorMatrix { StreamColorMatrix(AVColorSpace(UInt32(bitPattern: rawValue))) }
    public var description: String { name }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        let v = av_color_space_from_name(text)
        guard v >= 0 else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "FFmpeg knows no colour space \"\(text)\"")
        }
        rawValue = v
    }
}

/// The sample range (`AVColorRange`) a stream declares, by FFmpeg's names.
public enum StreamColorRange: String, Sendable, Codable, CustomStringConvertible {
    /// Not declared (`AVCOL_RANGE_UNSPECIFIED`, or a value FFmpeg has no name for).
    case unknown
    /// Limited ("MPEG") range (`AVCOL_RANGE_MPEG`).
    case tv
    /// Full ("JPEG") range (`AVCOL_RANGE_JPEG`).
    case pc

    init(_ range: AVColorRange) {
        switch range {
        case AVCOL_RANGE_MPEG: self = .tv
        case AVCOL_RANGE_JPEG: self = .pc
        default: self = .unknown
        }
    }

    public var description: String { rawValue }
}
