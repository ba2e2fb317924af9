import CTensorStore

/// Reusable per-worker transformer: validates the configuration and precomputes filter taps,
/// colour coefficients, normalization lookup tables and scratch rows at init, then transforms
/// frames with no heap allocation.
///
/// One output row at a time, in one pass over the source rows it needs:
/// 1. vertical filter of each plane's crop window (Int16/Int32 fixed point, 1/128 of an 8-bit level),
/// 2. horizontal filter to the output width, 1/64 of a level (chroma goes straight to full output
///    resolution, like swscale's `full_chroma_int`),
/// 3. YUV -> RGB (or range-expanded luma) to 8-bit, Int16 fixed point,
/// 4. normalization + dtype conversion through a per-channel 256-entry table (exact: each table
///    entry is `HalfConversion`/`Float` of `Normalization.value`), written in CHW or HWC order.
///
/// Not thread-safe: use one per worker.
public final class FrameTransformer {
    public let outputWidth: Int
    public let outputHeight: Int
    /// 3 for RGB/BGR, 1 for gray.
    public let channels: Int
    /// The configuration this transformer was built from.
    public let config: TransformConfig
    /// Matrix and range actually used (override or stream). An RGB source (`gbrp`) has no matrix
    /// to apply: these are then BT.601 (the weights of its gray output) and full, whatever the
    /// configuration or the stream say.
    public let matrix: ColourMatrix
    public let range: ColourRange
    /// The crop rectangle in source pixels.
    public let cropRect: (x: Int, y: Int, width: Int, height: Int)

    let sourceWidth: Int
    let sourceHeight: Int
    let sourceFormat: SourcePixelFormat

    /// [C, H, W] for CHW, [H, W, C] for HWC.
    public var outputShape: [Int] {
        config.layout == .chw ? [channels, outputHeight, outputWidth] : [outputHeight, outputWidth, channels]
    }

    /// Bytes `transform` writes.
    public var outputByteCount: Int { channels * outputHeight * outputWidth * config.dtype.byteWidth }

    // Taps: luma and chroma, horizontal and vertical.
    let lumaH: Taps, lumaV: Taps, chromaH: Taps?, chromaV: Taps?
    /// Crop windows in plane samples (what `transform` reads from the frame).
    let lumaWindow: (x: Int, y: Int, w: Int, h: Int)
    let chromaWindow: (x: Int, y: Int, w: Int, h: Int)
    /// Large downscales: the crop windows box-filtered 2:1 in both directions `levels` times into
    /// scratch planes first; the taps above then map those planes to the output (nil: the taps
    /// read the frame's planes directly).
    let lumaDecimation: PreDecimation?, chromaDecimation: PreDecimation?
    /// Decimation levels of luma and chroma (0: none). For tests and the docs' figures.
    var preDecimationLevels: (luma: Int, chroma: Int) { (lumaDecimation?.levels ?? 0, chromaDecimation?.levels ?? 0) }
    /// YUV -> RGB coefficients of `matrix` and `range`.
    let colour: ColourCoefficients
    // Scratch rows.
    let acc: UnsafeMutablePointer<Int32>       // vertical accumulator, max window width
    let vRow: UnsafeMutablePointer<Int16>      // vertical result, max window width
    /// Row pointers of the vertical taps of one output row (SSE2 and AVX2 vertical filters).
    let rowPointers: UnsafeMutablePointer<UnsafeRawPointer>
    let planeRows: UnsafeMutablePointer<Int16> // 3 rows of outputWidth: Y, U, V (1/64 levels)
    let rgbRows: UnsafeMutablePointer<UInt8>   // 3 rows of rowCap, in output channel order
    let rowCap: Int                            // outputWidth rounded up to 8 (SIMD tails)
    /// Per output channel 256-entry tables, and the affine stores that reproduce them.
    private let tables: NormalizationTables
    var lut16: UnsafeMutablePointer<UInt16> { tables.lut16 }
    var lut32: UnsafeMutablePointer<Float> { tables.lut32 }
    /// Per output channel: `(a, b)` when `fmaf(x, a, b)` stored by CTensorStore reproduces that
    /// channel's table for all 256 inputs bit for bit; nil where the table must be used.
    var affineStore: [(a: Float, b: Float)?] { tables.affineStore }

    /// Whether this CPU runs CTensorStore's AVX2/F16C/FMA stores.
    static let vectorStoreAvailable = fleet_tensor_store_available() != 0
    /// Whether this CPU runs CTensorStore's AVX2 row kernels (`fleet_resample_rows.h`).
    static let rowKernelsAvailable = fleet_rows_avx2_available() != 0
    /// Tests set this to run the portable loops instead of the SSE2 row kernels and the AVX2
    /// stores and row kernels (same bytes).
    var portableOnly = false {
        didSet { avx2Rows = !portableOnly && !sse2Only && Self.rowKernelsAvailable }
    }
    /// Tests set this to run the SSE2 row kernels where the AVX2 ones would run (same bytes).
    var sse2Only = false {
        didSet { avx2Rows = !portableOnly && !sse2Only && Self.rowKernelsAvailable }
    }
    /// Use the AVX2 row kernels (then the SSE2 rows, then the portable loops, finish each row).
    private(set) var avx2Rows = FrameTransformer.rowKernelsAvailable

    /// Validates `config` against the source and precomputes everything; throws `.invalidCrop`,
    /// `.invalidSize` or `.invalidOption`.
    public convenience init(config: TransformConfig, sourceWidth: Int, sourceHeight: Int, sourceFormat: SourcePixelFormat,
                            streamMatrix: ColourMatrix, streamRange: ColourRange) throws(KernelError) {
        try self.init(config: config, sourceWidth: sourceWidth, sourceHeight: sourceHeight, sourceFormat: sourceFormat,
                      streamMatrix: streamMatrix, streamRange: streamRange, preDecimation: true)
    }

    /// Planes are box-filtered 2:1 first while the plane's smaller downscale ratio stays at least
    /// this after halving (`TransformPlan.minRatioAfterDecimation`).
    static var minRatioAfterDecimation: Double { TransformPlan.minRatioAfterDecimation }

    /// `preDecimation: false` resamples large downscales directly from the frame (the reference
    /// the pre-decimated path is compared with in tests).
    init(config: TransformConfig, sourceWidth: Int, sourceHeight: Int, sourceFormat: SourcePixelFormat,
         streamMatrix: ColourMatrix, streamRange: ColourRange, preDecimation: Bool) throws(KernelError) {
        let plan = try TransformPlan(config: config, sourceWidth: sourceWidth, sourceHeight: sourceHeight,
                                     sourceFormat: sourceFormat, streamMatrix: streamMatrix, streamRange: streamRange,
                                     preDecimation: preDecimation)
        self.config = config
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.sourceFormat = sourceFormat
        (cropRect, outputWidth, outputHeight, channels) = (plan.cropRect, plan.outputWidth, plan.outputHeight, plan.channels)
        (matrix, range) = (plan.matrix, plan.range)
        (lumaWindow, chromaWindow) = (plan.lumaWindow, plan.chromaWindow)
        (lumaH, lumaV, chromaH, chromaV) = (plan.lumaH, plan.lumaV, plan.chromaH, plan.chromaV)
        (lumaDecimation, chromaDecimation) = (plan.lumaDecimation, plan.chromaDecimation)
        colour = ColourCoefficients(matrix: plan.matrix, range: plan.range, bitDepth: sourceFormat.bitDepth)

        // Scratch.
        let maxW = max(plan.cropRect.width, plan.chromaWindow.w)
        acc = .allocate(capacity: maxW)
        // The SSE2 horizontal filter reads up to `paddedEnd` (zero weights past the real taps).
        let vCap = max(maxW, plan.lumaH.paddedEnd, plan.chromaH?.paddedEnd ?? 0)
        vRow = .allocate(capacity: vCap)
        vRow.initialize(repeating: 0, count: vCap)
        let maxTaps = max(plan.lumaV.count, plan.chromaV?.count ?? 1)
        rowPointers = .allocate(capacity: maxTaps)
        rowPointers.initialize(repeating: UnsafeRawPointer(vRow), count: maxTaps)
        rowCap = (plan.outputWidth + 7) / 8 * 8
        planeRows = .allocate(capacity: 3 * rowCap)
        planeRows.initialize(repeating: 128 * 64, count: 3 * rowCap)   // neutral chroma for gray sources
        rgbRows = .allocate(capacity: 3 * rowCap)
        rgbRows.initialize(repeating: 0, count: 3 * rowCap)
        tables = NormalizationTables(config: config)
    }

    deinit {
        acc.deallocate()
        vRow.deallocate()
        rowPointers.deallocate()
        planeRows.deallocate()
        rgbRows.deallocate()
        tables.deallocate()
    }

    /// Transforms one frame into `output` (at least `outputByteCount` bytes; any alignment).
    /// Throws `.unsupportedFormat` when the image does not match the format/size given at init
    /// or lacks a plane, `.bufferTooSmall` when `output` is short. Allocates nothing.
    public func transform(_ image: SourceImage, into output: UnsafeMutableRawBufferPointer) throws(KernelError) {
        guard image.format == sourceFormat, image.width == sourceWidth, image.height == sourceHeight else {
            throw KernelError(.unsupportedFormat,
                "frame is \(image.format.rawValue) \(image.width)x\(image.height), transformer was built for \(sourceFormat.rawValue) \(sourceWidth)x\(sourceHeight)")
        }
        guard output.count >= outputByteCount, let out = output.baseAddress else {
            throw KernelError(.bufferTooSmall, "output buffer has \(output.count) bytes, needs \(outputByteCount)")
        }
        let needsChroma = chromaH != nil
        if needsChroma {
            guard image.plane1 != nil, sourceFormat == .nv12 || image.plane2 != nil else {
                throw KernelError(.unsupportedFormat, "\(sourceFormat.rawValue) frame lacks its chroma plane(s)")
            }
        }
        let yRow = planeRows, uRow = planeRows + rowCap, vRowOut = planeRows + 2 * rowCap
        let (luma, chroma) = decimateWindows(image)
        for y in 0..<outputHeight {
            filterPlane(luma.base, stride: luma.stride, step: 1, offset: 0, window: luma.window,
                        h: lumaH, v: lumaV, row: y, into: yRow)
            if let chromaH, let chromaV, let c = chroma {
                filterPlane(c.u, stride: c.stride, step: 1, offset: 0, window: c.window, h: chromaH, v: chromaV, row: y, into: uRow)
                filterPlane(c.v, stride: c.stride, step: 1, offset: 0, window: c.window, h: chromaH, v: chromaV, row: y, into: vRowOut)
            } else if let chromaH, let chromaV, let p1 = image.plane1 {
                if sourceFormat == .nv12 {
                    filterPlane(p1, stride: image.stride1, step: 2, offset: 0, window: chromaWindow,
                                h: chromaH, v: chromaV, row: y, into: uRow)
                    filterPlane(p1, stride: image.stride1, step: 2, offset: 1, window: chromaWindow,
                                h: chromaH, v: chromaV, row: y, into: vRowOut)
                } else if let p2 = image.plane2 {
                    filterPlane(p1, stride: image.stride1, step: 1, offset: 0, window: chromaWindow,
                                h: chromaH, v: chromaV, row: y, into: uRow)
                    filterPlane(p2, stride: image.stride2, step: 1, offset: 0, window: chromaWindow,
                                h: chromaH, v: chromaV, row: y, into: vRowOut)
                }
            }
            convertColour(yRow, uRow, vRowOut)
            writeRow(y, out)
        }
    }

    /// Large downscales: the crop windows box-filtered 2:1 (repeatedly) into scratch planes, and
    /// where the row passes then read luma (the frame's plane when it is not decimated) and
    /// chroma (nil: the frame's planes).
    private func decimateWindows(_ image: SourceImage)
        -> (luma: (base: UnsafeRawPointer, stride: Int, window: (x: Int, y: Int, w: Int, h: Int)),
            chroma: (u: UnsafeRawPointer, v: UnsafeRawPointer, stride: Int, window: (x: Int, y: Int, w: Int, h: Int))?) {
        let bps = sourceFormat.bitDepth > 8 ? 2 : 1
        var luma = (base: image.plane0, stride: image.stride0, window: lumaWindow)
        if let d = lumaDecimation {
            let w = lumaWindow
            d.run(plane: 0, image.plane0 + w.y * image.stride0 + w.x * bps, stride: image.stride0, step: 1, portable: portableOnly, avx2: avx2Rows)
            luma = (d.output(0), d.stride, (0, 0, d.width, d.height))
        }
        guard let d = chromaDecimation, let p1 = image.plane1 else { return (luma, nil) }
        let w = chromaWindow
        if sourceFormat == .nv12 {
            let o = p1 + w.y * image.stride1 + 2 * w.x
            d.run(plane: 0, o, stride: image.stride1, step: 2, portable: portableOnly, avx2: avx2Rows)
            d.run(plane: 1, o + 1, stride: image.stride1, step: 2, portable: portableOnly, avx2: avx2Rows)
        } else if let p2 = image.plane2 {
            d.run(plane: 0, p1 + w.y * image.stride1 + w.x * bps, stride: image.stride1, step: 1, portable: portableOnly, avx2: avx2Rows)
            d.run(plane: 1, p2 + w.y * image.stride2 + w.x * bps, stride: image.stride2, step: 1, portable: portableOnly, avx2: avx2Rows)
        }
        return (luma, (d.output(0), d.output(1), d.stride, (0, 0, d.width, d.height)))
    }
}
