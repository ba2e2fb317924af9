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
    /// FFmpeg's pixel format name, e.g. "yuv420p", "yuv420p10le".
    public var pixelFormat: String
    /// Bits per component of the pixel format (8, 10, ...).
    public var bitDepth: Int
    /// Colour matrix name ("bt709", "bt470bg", "smpte170m", "unknown", ...).
    public var colorSpace: String
    /// The same matrix as a closed set (from FFmpeg's `AVColorSpace`, not from the name).
    public var matrix: StreamColorMatrix
    /// "tv" (limited), "pc" (full) or "unknown".
    public var colorRange: String
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
