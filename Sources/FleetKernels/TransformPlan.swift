/// What one transformer reads and how it resamples: the validated crop and output size, the
/// matrix and range in use, each plane's crop window, its filter taps, and the pre-decimation of
/// large downscales. Built once by `FrameTransformer.init`; immutable.
struct TransformPlan {
    typealias Window = (x: Int, y: Int, w: Int, h: Int)

    let cropRect: (x: Int, y: Int, width: Int, height: Int)
    let outputWidth: Int
    let outputHeight: Int
    /// 3 for RGB/BGR, 1 for gray.
    let channels: Int
    let matrix: ColourMatrix
    let range: ColourRange
    /// Crop windows in plane samples (what `transform` reads from the frame).
    let lumaWindow: Window
    let chromaWindow: Window
    // Taps: luma and chroma, horizontal and vertical (chroma nil: the output needs no chroma).
    let lumaH: Taps, lumaV: Taps, chromaH: Taps?, chromaV: Taps?
    /// Large downscales: the crop windows box-filtered 2:1 in both directions `levels` times into
    /// scratch planes first; the taps above then map those planes to the output (nil: the taps
    /// read the frame's planes directly).
    let lumaDecimation: PreDecimation?, chromaDecimation: PreDecimation?

    /// Planes are box-filtered 2:1 first while the plane's smaller downscale ratio stays at least
    /// this after halving (so the resample that follows still shrinks at least 2:1 and its tent or
    /// box dominates the 2x2 box): 1280x960 -> 224x224 or 320x240 halves luma once, chroma not.
    static let minRatioAfterDecimation = 2.0

    /// Validates `config` against the source; throws `.invalidCrop`, `.invalidSize` or `.invalidOption`.
    init(config: TransformConfig, sourceWidth: Int, sourceHeight: Int, sourceFormat: SourcePixelFormat,
         streamMatrix: ColourMatrix, streamRange: ColourRange, preDecimation: Bool) throws(KernelError) {
        guard sourceWidth > 0, sourceHeight > 0 else {
            throw KernelError(.invalidSize, "source size \(sourceWidth)x\(sourceHeight) is empty")
        }
        let rect = try (config.crop ?? .pixels(x: 0, y: 0, width: sourceWidth, height: sourceHeight))
            .rectangle(inWidth: sourceWidth, height: sourceHeight)
        let ow = config.outputWidth ?? rect.width, oh = config.outputHeight ?? rect.height
        guard ow > 0, oh > 0, ow <= 16384, oh <= 16384 else {
            throw KernelError(.invalidSize, "output size \(ow)x\(oh) must be 1...16384 in each direction")
        }
        try config.normalization.validate()
        if config.dtype == .u8 && config.normalization != .none {
            throw KernelError(.invalidOption, "u8 output takes raw 0...255 values: use normalization 'none' (or a float dtype)")
        }
        cropRect = rect
        outputWidth = ow
        outputHeight = oh
        channels = config.channels == .gray ? 1 : 3
        matrix = sourceFormat.isRGB ? .bt601 : config.matrix ?? streamMatrix
        range = sourceFormat.isRGB ? .full : config.range ?? (sourceFormat == .yuvj420p ? .full : streamRange)

        // With pre-decimation by 2^L, the taps read a scratch plane whose sample k covers plane
        // samples [planeLo + k * 2^L, planeLo + (k + 1) * 2^L) of the crop window, i.e. plane
        // coordinate (luma coordinate - planeLo << shift) >> (shift + L).
        lumaWindow = (rect.x, rect.y, rect.width, rect.height)
        (lumaH, lumaV, lumaDecimation) = Self.lumaResampling(
            rect: rect, ow: ow, oh: oh, levels: preDecimation ? Self.levels(rect, ow, oh, 0, 0) : 0,
            wide: sourceFormat.bitDepth > 8, filter: config.filter)
        let sx = sourceFormat.chromaShiftX, sy = sourceFormat.chromaShiftY
        let cx0 = rect.x >> sx, cx1 = (rect.x + rect.width - 1) >> sx
        let cy0 = rect.y >> sy, cy1 = (rect.y + rect.height - 1) >> sy
        chromaWindow = (cx0, cy0, cx1 - cx0 + 1, cy1 - cy0 + 1)
        // RGB sources need all three planes, for gray output too.
        if sourceFormat.hasChroma && (config.channels != .gray || sourceFormat.isRGB) {
            (chromaH, chromaV, chromaDecimation) = Self.chromaResampling(
                rect: rect, window: chromaWindow, ow: ow, oh: oh, shift: (sx, sy), preDecimation: preDecimation,
                wide: sourceFormat.bitDepth > 8, filter: config.filter)
        } else {
            (chromaH, chromaV, chromaDecimation) = (nil, nil, nil)
        }
    }

    /// Decimation levels of a plane subsampled by `shiftX`, `shiftY`: halvings that keep its
    /// smaller downscale ratio at least `minRatioAfterDecimation`.
    private static func levels(_ rect: (x: Int, y: Int, width: Int, height: Int), _ ow: Int, _ oh: Int,
                               _ shiftX: Int, _ shiftY: Int) -> Int {
        let r = min(Double(rect.width) / Double(ow) / Double(1 << shiftX), Double(rect.height) / Double(oh) / Double(1 << shiftY))
        var l = 0
        while r / Double(2 << l) >= minRatioAfterDecimation { l += 1 }
        return l
    }

    private static func lumaResampling(rect: (x: Int, y: Int, width: Int, height: Int), ow: Int, oh: Int, levels: Int,
                                       wide: Bool, filter: ResizeFilter) -> (Taps, Taps, PreDecimation?) {
        guard levels > 0 else {
            return (Taps(FilterTaps(outSize: ow, cropStart: rect.x, cropSize: rect.width, shift: 0,
                                    planeLo: rect.x, planeHi: rect.x + rect.width - 1, filter: filter)),
                    Taps(FilterTaps(outSize: oh, cropStart: rect.y, cropSize: rect.height, shift: 0,
                                    planeLo: rect.y, planeHi: rect.y + rect.height - 1, filter: filter)),
                    nil)
        }
        let d = PreDecimation(levels: levels, width: rect.width, height: rect.height, wide: wide, planes: 1)
        return (Taps(FilterTaps(outSize: ow, cropStart: 0, cropSize: rect.width, shift: levels,
                                planeLo: 0, planeHi: d.width - 1, filter: filter)),
                Taps(FilterTaps(outSize: oh, cropStart: 0, cropSize: rect.height, shift: levels,
                                planeLo: 0, planeHi: d.height - 1, filter: filter)),
                d)
    }

    /// Without a resize, subsampled chroma is replicated (nearest sample) as libswscale's
    /// same-size converters do, so output matches `ffmpeg -pix_fmt rgb24` and PyAV's
    /// `to_ndarray(format="rgb24")`; with a resize it is filtered with centred siting.
    private static func chromaResampling(rect: (x: Int, y: Int, width: Int, height: Int), window: Window, ow: Int, oh: Int,
                                         shift: (x: Int, y: Int), preDecimation: Bool, wide: Bool,
                                         filter: ResizeFilter) -> (Taps, Taps, PreDecimation?) {
        let (sx, sy) = shift
        let sameSize = ow == rect.width && oh == rect.height
        let chromaLevels = sameSize || !preDecimation ? 0 : levels(rect, ow, oh, sx, sy)
        guard chromaLevels > 0 else {
            return (Taps(FilterTaps(outSize: ow, cropStart: rect.x, cropSize: rect.width, shift: sx,
                                    planeLo: window.x, planeHi: window.x + window.w - 1, filter: filter, nearest: sameSize)),
                    Taps(FilterTaps(outSize: oh, cropStart: rect.y, cropSize: rect.height, shift: sy,
                                    planeLo: window.y, planeHi: window.y + window.h - 1, filter: filter, nearest: sameSize)),
                    nil)
        }
        let d = PreDecimation(levels: chromaLevels, width: window.w, height: window.h, wide: wide, planes: 2)
        return (Taps(FilterTaps(outSize: ow, cropStart: rect.x - (window.x << sx), cropSize: rect.width, shift: sx + chromaLevels,
                                planeLo: 0, planeHi: d.width - 1, filter: filter)),
                Taps(FilterTaps(outSize: oh, cropStart: rect.y - (window.y << sy), cropSize: rect.height, shift: sy + chromaLevels,
                                planeLo: 0, planeHi: d.height - 1, filter: filter)),
                d)
    }
}
