/// An error in a transform request: bad crop or size, unsupported format, bad option, short buffer.
/// Raised when a `FrameTransformer` is made (before any pixel work) or by `transform`.
public struct KernelError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case invalidCrop = "invalid-crop"
        case invalidSize = "invalid-size"
        case unsupportedFormat = "unsupported-format"
        case invalidOption = "invalid-option"
        case bufferTooSmall = "buffer-too-small"
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Pixel formats the kernels read directly (FFmpeg's names).
public enum SourcePixelFormat: String, Sendable, CaseIterable {
    /// 8-bit 4:2:0 planar (Y, U, V).
    case yuv420p
    /// 8-bit 4:2:0 planar, full range (JPEG).
    case yuvj420p
    /// 8-bit 4:2:0, Y plane + interleaved UV plane.
    case nv12
    /// 8-bit 4:2:2 planar.
    case yuv422p
    /// 8-bit 4:4:4 planar.
    case yuv444p
    /// 8-bit luma only.
    case gray
    /// 10-bit 4:2:0 planar, each sample a little-endian 16-bit word.
    case yuv420p10le

    var chromaShift: (x: Int, y: Int) {
        switch self {
        case .yuv420p, .yuvj420p, .nv12, .yuv420p10le: return (1, 1)
        case .yuv422p: return (1, 0)
        case .yuv444p, .gray: return (0, 0)
        }
    }
}

/// YUV→RGB matrix.
public enum ColourMatrix: String, Sendable, Codable {
    case bt601, bt709

    /// (Kr, Kb).
    var coefficients: (Float, Float) { self == .bt709 ? (0.2126, 0.0722) : (0.299, 0.114) }
}

/// Video ("limited", Y 16–235) or full (0–255) range.
public enum ColourRange: String, Sendable, Codable { case limited, full }

/// A non-owning view of one frame's planes (FFmpeg data pointers and linesizes).
public struct SourceImage {
    public var format: SourcePixelFormat
    public var width: Int
    public var height: Int
    var planes: (UnsafeRawPointer, UnsafeRawPointer?, UnsafeRawPointer?)
    var strides: (Int, Int, Int)

    public init(format: SourcePixelFormat, width: Int, height: Int,
                plane0: UnsafeRawPointer, stride0: Int, plane1: UnsafeRawPointer? = nil, stride1: Int = 0,
                plane2: UnsafeRawPointer? = nil, stride2: Int = 0) {
        self.format = format
        self.width = width
        self.height = height
        planes = (plane0, plane1, plane2)
        strides = (stride0, stride1, stride2)
    }
}

/// A crop rectangle in pixels or in fractions of the frame.
public enum CropSpec: Sendable, Codable, Equatable {
    case pixels(x: Int, y: Int, width: Int, height: Int)
    case fractions(x: Double, y: Double, width: Double, height: Double)

    /// Parses "X,Y,W,H": pixels when all four are integers, fractions of the frame when any has
    /// a decimal point (each in 0…1).
    public init(parsing text: String) throws(KernelError) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0.filter { $0 != " " }) }
        guard parts.count == 4 else { throw KernelError(.invalidCrop, "crop \"\(text)\" must have four values X,Y,W,H") }
        if parts.contains(where: { $0.contains(".") }) {
            let v = parts.compactMap { Double($0) }
            guard v.count == 4, v.allSatisfy({ $0 >= 0 && $0 <= 1 }), v[2] > 0, v[3] > 0 else {
                throw KernelError(.invalidCrop, "crop \"\(text)\": fractions must be numbers in 0…1 with W, H > 0")
            }
            self = .fractions(x: v[0], y: v[1], width: v[2], height: v[3])
        } else {
            let v = parts.compactMap { Int($0) }
            guard v.count == 4, v[0] >= 0, v[1] >= 0, v[2] > 0, v[3] > 0 else {
                throw KernelError(.invalidCrop, "crop \"\(text)\": expected whole numbers X,Y ≥ 0 and W,H > 0")
            }
            self = .pixels(x: v[0], y: v[1], width: v[2], height: v[3])
        }
    }

    /// The rectangle in pixels for a `width`×`height` frame; throws if it does not lie inside.
    public func rectangle(width: Int, height: Int) throws(KernelError) -> (x: Int, y: Int, width: Int, height: Int) {
        let r: (Int, Int, Int, Int)
        switch self {
        case let .pixels(x, y, w, h): r = (x, y, w, h)
        case let .fractions(x, y, w, h):
            r = (Int((x * Double(width)).rounded()), Int((y * Double(height)).rounded()),
                 Int((w * Double(width)).rounded()), Int((h * Double(height)).rounded()))
        }
        guard r.2 >= 1, r.3 >= 1, r.0 >= 0, r.1 >= 0, r.0 + r.2 <= width, r.1 + r.3 <= height else {
            throw KernelError(.invalidCrop, "crop \(r.2)x\(r.3) at (\(r.0),\(r.1)) does not lie inside the \(width)x\(height) frame")
        }
        return r
    }
}

/// Resize filter. Both are antialiased when shrinking (their support grows with the scale
/// factor, as libswscale's and PIL's do).
public enum ResizeFilter: String, Sendable, Codable {
    /// Triangle (tent) filter.
    case bilinear
    /// Box filter: each output pixel is the area-weighted mean of the source pixels it covers.
    case area
}

/// Output element type.
public enum ElementType: String, Sendable, Codable, CaseIterable {
    case u8, f16, bf16, f32
    public var byteWidth: Int {
        switch self {
        case .u8: return 1
        case .f16, .bf16: return 2
        case .f32: return 4
        }
    }
}

/// Output layout: channels first or last.
public enum TensorLayout: String, Sendable, Codable { case chw, hwc }

/// Output channels.
public enum ChannelOrder: String, Sendable, Codable { case rgb, bgr, gray }

/// Per-channel normalization `(x / scale − mean) / std`, x in 0…255.
public struct Normalization: Sendable, Codable, Equatable {
    public var scale: Float
    public var mean: [Float]
    public var std: [Float]

    public init(scale: Float, mean: [Float], std: [Float]) {
        self.scale = scale
        self.mean = mean
        self.std = std
    }

    /// ImageNet statistics on [0, 1] pixels.
    public static let imagenet = Normalization(scale: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    /// [0, 1].
    public static let unit = Normalization(scale: 255, mean: [0, 0, 0], std: [1, 1, 1])
    /// [−1, 1].
    public static let symmetric = Normalization(scale: 127.5, mean: [1, 1, 1], std: [1, 1, 1])
    /// The raw 0…255 values.
    public static let none = Normalization(scale: 1, mean: [0, 0, 0], std: [1, 1, 1])

    /// `imagenet`, `unit`, `symmetric` or `none`.
    public init(preset: String) throws(KernelError) {
        switch preset.lowercased() {
        case "imagenet": self = .imagenet
        case "unit": self = .unit
        case "symmetric": self = .symmetric
        case "none": self = .none
        default: throw KernelError(.invalidOption, "unknown normalization \"\(preset)\" (imagenet, unit, symmetric, none)")
        }
    }

    /// The normalized value of `x` in channel `c` (gray uses channel 0's statistics).
    public func apply(_ x: Float, channel c: Int) -> Float {
        let m = mean.isEmpty ? 0 : mean[min(c, mean.count - 1)]
        let s = std.isEmpty ? 1 : std[min(c, std.count - 1)]
        return (x / scale - m) / s
    }
}

/// What to make of a frame.
public struct TransformConfig: Sendable, Codable, Equatable {
    public var crop: CropSpec?
    /// Output size; nil keeps the crop's size.
    public var outputWidth: Int?
    public var outputHeight: Int?
    public var filter: ResizeFilter
    /// nil: the stream's.
    public var matrix: ColourMatrix?
    /// nil: the stream's.
    public var range: ColourRange?
    public var channels: ChannelOrder
    public var normalization: Normalization
    public var dtype: ElementType
    public var layout: TensorLayout

    /// Defaults: no crop or resize, bilinear, colour from the stream, RGB, ImageNet
    /// normalization, float16, CHW.
    public init(crop: CropSpec? = nil, outputWidth: Int? = nil, outputHeight: Int? = nil, filter: ResizeFilter = .bilinear,
                matrix: ColourMatrix? = nil, range: ColourRange? = nil, channels: ChannelOrder = .rgb,
                normalization: Normalization = .imagenet, dtype: ElementType = .f16, layout: TensorLayout = .chw) {
        self.crop = crop
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
        self.filter = filter
        self.matrix = matrix
        self.range = range
        self.channels = channels
        self.normalization = normalization
        self.dtype = dtype
        self.layout = layout
    }

    /// Parses "WxH" (each 1…16384).
    public static func parseSize(_ s: String) throws(KernelError) -> (width: Int, height: Int) {
        let p = s.lowercased().split(separator: "x")
        guard p.count == 2, let w = Int(p[0]), let h = Int(p[1]), w >= 1, h >= 1, w <= 16384, h <= 16384 else {
            throw KernelError(.invalidSize, "size \"\(s)\" must be WxH with 1 ≤ W, H ≤ 16384")
        }
        return (w, h)
    }
}
