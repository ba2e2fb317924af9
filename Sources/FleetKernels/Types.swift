@_exported import FleetVocabulary
// FleetKernels: crop, resize, colour conversion, normalization and dtype conversion of decoded
// frames into training tensors. Standard library only (no Foundation, no FFmpeg).

/// Pixel layout of a decoded frame's planes (FFmpeg `AVPixelFormat` names).
public enum SourcePixelFormat: String, Sendable, CaseIterable {
    /// Planar Y, U, V; chroma halved in both directions; 8-bit.
    case yuv420p
    /// As `yuv420p`, full ("JPEG") range by definition.
    case yuvj420p
    /// Y plane, then one interleaved UV plane; chroma halved in both directions; 8-bit.
    case nv12
    /// Planar Y, U, V; chroma halved horizontally; 8-bit.
    case yuv422p
    /// Planar Y, U, V; full-resolution chroma; 8-bit.
    case yuv444p
    /// Luma only; 8-bit.
    case gray
    /// As `yuv420p` with 10-bit samples in little-endian 16-bit words.
    case yuv420p10le
    /// Planar RGB in FFmpeg's plane order: plane0 = G, plane1 = B, plane2 = R; full resolution,
    /// 8-bit, full range. No YUV matrix or range applies: the configuration's and the stream's
    /// `matrix` and `range` are ignored (gray output is BT.601 luma of R, G, B, at full range).
    case gbrp

    /// Horizontal chroma subsampling shift (0 or 1).
    var chromaShiftX: Int { switch self { case .yuv444p, .gray, .gbrp: 0; default: 1 } }
    /// Vertical chroma subsampling shift (0 or 1).
    var chromaShiftY: Int { switch self { case .yuv420p, .yuvj420p, .nv12, .yuv420p10le: 1; default: 0 } }
    /// Bits per sample.
    var bitDepth: Int { self == .yuv420p10le ? 10 : 8 }
    /// Whether the frame has chroma planes (for `gbrp`: the B and R planes).
    var hasChroma: Bool { self != .gray }
    /// Whether the planes hold R, G, B rather than Y, U, V (no matrix or range to apply).
    public var isRGB: Bool { self == .gbrp }
}

/// YUV -> RGB matrix.
public enum ColourMatrix: String, Sendable, Codable {
    /// ITU-R BT.601 (SD): Kr = 0.299, Kb = 0.114.
    case bt601
    /// ITU-R BT.709 (HD): Kr = 0.2126, Kb = 0.0722.
    case bt709
    /// ITU-R BT.2020 non-constant luminance (UHD, HDR): Kr = 0.2627, Kb = 0.0593.
    case bt2020
}

/// Sample range of the source.
public enum ColourRange: String, Sendable, Codable {
    /// "TV"/MPEG range: luma 16...235, chroma 16...240 (times 4 for 10-bit).
    case limited
    /// "PC"/JPEG range: 0...255 (0...1023 for 10-bit).
    case full
}

/// Non-owning view of one frame's planes (FFmpeg frame data pointers + linesizes). No allocation.
///
/// Plane layout per format: `plane0` is luma; `plane1`/`plane2` are U/V (planar formats), or
/// `plane1` alone is interleaved UV (`nv12`); `gray` uses `plane0` only; `gbrp` has G, B, R in
/// `plane0`, `plane1`, `plane2`. Strides are in bytes.
/// The memory must stay valid while `FrameTransformer.transform` runs.
public struct SourceImage {
    public var format: SourcePixelFormat
    public var width: Int
    public var height: Int
    public var plane0: UnsafeRawPointer
    public var stride0: Int
    public var plane1: UnsafeRawPointer?
    public var stride1: Int
    public var plane2: UnsafeRawPointer?
    public var stride2: Int

    /// Wraps existing planes; nothing is copied.
    public init(format: SourcePixelFormat, width: Int, height: Int,
                plane0: UnsafeRawPointer, stride0: Int, plane1: UnsafeRawPointer? = nil, stride1: Int = 0,
                plane2: UnsafeRawPointer? = nil, stride2: Int = 0) {
        self.format = format
        self.width = width
        self.height = height
        self.plane0 = plane0
        self.stride0 = stride0
        self.plane1 = plane1
        self.stride1 = stride1
        self.plane2 = plane2
        self.stride2 = stride2
    }
}

/// Error from configuring or running a transform. `description` is meant for users.
public struct KernelError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable {
        case invalidCrop, invalidSize, unsupportedFormat, invalidOption, bufferTooSmall
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// Region of the source frame to keep, before resizing.
public enum CropSpec: Sendable, Codable, Equatable {
    /// Pixel rectangle: origin (x, y) from the top-left, and size.
    case pixels(x: Int, y: Int, width: Int, height: Int)
    /// Rectangle as fractions (0...1) of the frame's width and height.
    case fractions(x: Double, y: Double, width: Double, height: Double)

    /// Parses "X,Y,W,H": all integers -> `.pixels`; any value containing '.' -> `.fractions`
    /// (each 0...1). Spaces around values are allowed.
    public init(parsing text: String) throws(KernelError) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            String(part.filter { $0 != " " })
        }
        guard parts.count == 4 else {
            throw KernelError(.invalidCrop, "crop '\(text)' must be X,Y,W,H (four comma-separated values)")
        }
        if parts.contains(where: { $0.contains(".") }) {
            var v: [Double] = []
            for p in parts {
                guard let d = Double(p), d.isFinite, d >= 0, d <= 1 else {
                    throw KernelError(.invalidCrop, "crop '\(text)': '\(p)' is not a fraction in 0...1")
                }
                v.append(d)
            }
            self = .fractions(x: v[0], y: v[1], width: v[2], height: v[3])
        } else {
            var v: [Int] = []
            for p in parts {
                guard let i = Int(p), i >= 0 else {
                    throw KernelError(.invalidCrop, "crop '\(text)': '\(p)' is not a non-negative integer")
                }
                v.append(i)
            }
            self = .pixels(x: v[0], y: v[1], width: v[2], height: v[3])
        }
    }

    /// The pixel rectangle in a `width` x `height` frame; throws `.invalidCrop` unless it is
    /// non-empty and lies inside the frame. Fraction edges are rounded to the nearest pixel.
    public func rectangle(inWidth width: Int, height: Int) throws(KernelError) -> (x: Int, y: Int, width: Int, height: Int) {
        let r: (x: Int, y: Int, width: Int, height: Int)
        switch self {
        case let .pixels(x, y, w, h):
            r = (x, y, w, h)
        case let .fractions(fx, fy, fw, fh):
            guard [fx, fy, fw, fh].allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) else {
                throw KernelError(.invalidCrop, "crop fractions must lie in 0...1, got \(fx),\(fy),\(fw),\(fh)")
            }
            let x0 = Int((fx * Double(width)).rounded()), y0 = Int((fy * Double(height)).rounded())
            let x1 = Int(((fx + fw) * Double(width)).rounded()), y1 = Int(((fy + fh) * Double(height)).rounded())
            r = (x0, y0, x1 - x0, y1 - y0)
        }
        guard r.width > 0, r.height > 0 else {
            throw KernelError(.invalidCrop, "crop \(r.width)x\(r.height) is empty")
        }
        guard r.x >= 0, r.y >= 0, r.x + r.width <= width, r.y + r.height <= height else {
            throw KernelError(.invalidCrop,
                "crop \(r.width)x\(r.height) at (\(r.x),\(r.y)) lies outside the \(width)x\(height) frame")
        }
        return r
    }
}

/// Resampling filter used when the output size differs from the crop size.
public enum ResizeFilter: String, Sendable, Codable {
    /// Linear interpolation; when shrinking, a tent filter widened by the scale factor
    /// (antialiased, like FFmpeg swscale's `bilinear`).
    case bilinear
    /// Box filter: each output pixel averages the source area it covers (swscale's `area`).
    case area
}

// `TensorLayout` (the output tensor's memory layout) is in FleetVocabulary.

/// Output channels.
public enum ChannelOrder: String, Sendable, Codable {
    /// Three channels R, G, B.
    case rgb
    /// Three channels B, G, R.
    case bgr
    /// One channel: luma expanded to full range (0...255 before normalization).
    case gray
}

/// Per-channel normalization `(x / scale - mean[c]) / std[c]` of 0...255 pixel values, in Float.
///
/// `mean` and `std` hold 1 value (all channels) or 3 values in R, G, B order; with BGR output the
/// values follow their colour, and gray output uses the first value.
public struct Normalization: Sendable, Codable, Equatable {
    public var scale: Float
    public var mean: [Float]
    public var std: [Float]

    public init(scale: Float, mean: [Float], std: [Float]) {
        self.scale = scale
        self.mean = mean
        self.std = std
    }

    /// torchvision ImageNet statistics on [0, 1] values.
    public static let imagenet = Normalization(scale: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    /// [0, 1]: x / 255.
    public static let unit = Normalization(scale: 255, mean: [0], std: [1])
    /// [-1, 1]: x / 127.5 - 1.
    public static let symmetric = Normalization(scale: 127.5, mean: [1], std: [1])
    /// Raw 0...255 values (the only choice allowed for `u8` output).
    public static let none = Normalization(scale: 1, mean: [0], std: [1])

    /// A preset by name: "imagenet", "unit", "symmetric", "none"; or custom
    /// "SCALE:MEANS:STDS" with 1 or 3 comma-separated means and stds, e.g. "255:0.5:0.5".
    public init(preset: String) throws(KernelError) {
        switch preset.lowercased() {
        case "imagenet": self = .imagenet
        case "unit": self = .unit
        case "symmetric": self = .symmetric
        case "none": self = .none
        default:
            let parts = preset.split(separator: ":", omittingEmptySubsequences: false)
            func floats(_ s: Substring) -> [Float]? {
                var out: [Float] = []
                for item in s.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let f = Float(String(item)) else { return nil }
                    out.append(f)
                }
                return out
            }
            guard parts.count == 3, let scale = Float(String(parts[0])), let mean = floats(parts[1]),
                  let std = floats(parts[2]) else {
                throw KernelError(.invalidOption,
                    "normalization '\(preset)' is not imagenet, unit, symmetric, none or SCALE:MEANS:STDS")
            }
            self.init(scale: scale, mean: mean, std: std)
            try validate()
        }
    }

    /// Throws `.invalidOption` unless scale and stds are finite and non-zero and mean/std have 1 or 3 values.
    public func validate() throws(KernelError) {
        guard scale.isFinite, scale != 0 else {
            throw KernelError(.invalidOption, "normalization scale must be finite and non-zero")
        }
        guard mean.count == 1 || mean.count == 3, std.count == 1 || std.count == 3 else {
            throw KernelError(.invalidOption, "normalization needs 1 or 3 means and stds, got \(mean.count) and \(std.count)")
        }
        guard mean.allSatisfy({ $0.isFinite }), std.allSatisfy({ $0.isFinite && $0 != 0 }) else {
            throw KernelError(.invalidOption, "normalization means must be finite, stds finite and non-zero")
        }
    }

    /// The normalized value of pixel value `x` (0...255) in colour `c` (0 R, 1 G, 2 B), in Float:
    /// `(x / scale - mean[c]) / std[c]`.
    public func value(_ x: Float, colour c: Int) -> Float {
        (x / scale - mean[c % mean.count]) / std[c % std.count]
    }
}

/// Everything that defines one frame -> tensor transform.
///
/// Defaults: no crop, no resize (output = crop size), bilinear, matrix and range from the stream,
/// RGB, `.unit` normalization ([0, 1]), `f16`, CHW.
public struct TransformConfig: Sendable, Codable, Equatable {
    /// Region to keep; nil = whole frame.
    public var crop: CropSpec?
    /// Output width; nil = crop width.
    public var outputWidth: Int?
    /// Output height; nil = crop height.
    public var outputHeight: Int?
    public var filter: ResizeFilter
    /// YUV matrix override; nil = from the stream. Ignored for RGB sources (`gbrp`).
    public var matrix: ColourMatrix?
    /// Range override; nil = from the stream (always full for `yuvj420p`). Ignored for RGB
    /// sources (`gbrp`), which are full range.
    public var range: ColourRange?
    public var channels: ChannelOrder
    public var normalization: Normalization
    public var dtype: ElementType
    public var layout: TensorLayout

    public init(crop: CropSpec? = nil, outputWidth: Int? = nil, outputHeight: Int? = nil,
                filter: ResizeFilter = .bilinear, matrix: ColourMatrix? = nil, range: ColourRange? = nil,
                channels: ChannelOrder = .rgb, normalization: Normalization = .unit,
                dtype: ElementType = .f16, layout: TensorLayout = .chw) {
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

    /// Parses "WxH" (e.g. "640x480"), both positive.
    public static func parseSize(_ s: String) throws(KernelError) -> (width: Int, height: Int) {
        let parts = s.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(String(parts[0])), let h = Int(String(parts[1])), w > 0, h > 0 else {
            throw KernelError(.invalidSize, "size '\(s)' must be WxH with positive integers, e.g. 640x480")
        }
        return (w, h)
    }
}
