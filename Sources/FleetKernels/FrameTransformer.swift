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
    private let lumaH: Taps, lumaV: Taps, chromaH: Taps?, chromaV: Taps?
    /// Crop windows in plane samples (what `transform` reads from the frame).
    private let lumaWindow: (x: Int, y: Int, w: Int, h: Int)
    private let chromaWindow: (x: Int, y: Int, w: Int, h: Int)
    /// Large downscales: the crop windows box-filtered 2:1 in both directions `levels` times into
    /// scratch planes first; the taps above then map those planes to the output (nil: the taps
    /// read the frame's planes directly).
    private let lumaDecimation: PreDecimation?, chromaDecimation: PreDecimation?
    /// Decimation levels of luma and chroma (0: none). For tests and the docs' figures.
    var preDecimationLevels: (luma: Int, chroma: Int) { (lumaDecimation?.levels ?? 0, chromaDecimation?.levels ?? 0) }
    /// Row pointers of the vertical taps of one output row (SSE2 vertical filter).
    private let rowPointers: UnsafeMutablePointer<UnsafeRawPointer>
    // Colour: coefficient * 8192 applied with `mulhi` to 1/64-level samples gives 1/8 levels.
    private let cy: Int16, yOffset: Int16, crv: Int16, cgu: Int16, cgv: Int16, cbu: Int16
    // Scratch rows.
    private let acc: UnsafeMutablePointer<Int32>       // vertical accumulator, max window width
    private let vRow: UnsafeMutablePointer<Int16>      // vertical result, max window width
    private let planeRows: UnsafeMutablePointer<Int16> // 3 rows of outputWidth: Y, U, V (1/64 levels)
    private let rgbRows: UnsafeMutablePointer<UInt8>   // 3 rows of rowCap, in output channel order
    private let rowCap: Int                            // outputWidth rounded up to 8 (SIMD tails)
    // Per output channel 256-entry tables.
    private let lut16: UnsafeMutablePointer<UInt16>
    private let lut32: UnsafeMutablePointer<Float>
    /// Per output channel: `(a, b)` when `fmaf(x, a, b)` stored by CTensorStore reproduces that
    /// channel's table for all 256 inputs bit for bit (checked at init on CPUs with AVX2/F16C/FMA);
    /// nil where the table must be used.
    let affineStore: [(a: Float, b: Float)?]
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
    private var avx2Rows = FrameTransformer.rowKernelsAvailable

    /// Validates `config` against the source and precomputes everything; throws `.invalidCrop`,
    /// `.invalidSize` or `.invalidOption`.
    public convenience init(config: TransformConfig, sourceWidth: Int, sourceHeight: Int, sourceFormat: SourcePixelFormat,
                            streamMatrix: ColourMatrix, streamRange: ColourRange) throws(KernelError) {
        try self.init(config: config, sourceWidth: sourceWidth, sourceHeight: sourceHeight, sourceFormat: sourceFormat,
                      streamMatrix: streamMatrix, streamRange: streamRange, preDecimation: true)
    }

    /// Planes are box-filtered 2:1 first while the plane's smaller downscale ratio stays at least
    /// this after halving (so the resample that follows still shrinks at least 2:1 and its tent or
    /// box dominates the 2x2 box): 1280x960 -> 224x224 or 320x240 halves luma once, chroma not.
    static let minRatioAfterDecimation = 2.0

    /// `preDecimation: false` resamples large downscales directly from the frame (the reference
    /// the pre-decimated path is compared with in tests).
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
        self.config = config
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.sourceFormat = sourceFormat
        self.cropRect = rect
        self.outputWidth = ow
        self.outputHeight = oh
        self.channels = config.channels == .gray ? 1 : 3
        let matrix = sourceFormat.isRGB ? .bt601 : config.matrix ?? streamMatrix
        let range = sourceFormat.isRGB ? .full : config.range ?? (sourceFormat == .yuvj420p ? .full : streamRange)
        self.matrix = matrix
        self.range = range

        // Filter taps. With pre-decimation by 2^L, the taps read a scratch plane whose sample k
        // covers plane samples [planeLo + k * 2^L, planeLo + (k + 1) * 2^L) of the crop window,
        // i.e. plane coordinate (luma coordinate - planeLo << shift) >> (shift + L).
        let wide = sourceFormat.bitDepth > 8
        func levels(_ shiftX: Int, _ shiftY: Int) -> Int {
            guard preDecimation else { return 0 }
            let r = min(Double(rect.width) / Double(ow) / Double(1 << shiftX), Double(rect.height) / Double(oh) / Double(1 << shiftY))
            var l = 0
            while r / Double(2 << l) >= Self.minRatioAfterDecimation { l += 1 }
            return l
        }
        lumaWindow = (rect.x, rect.y, rect.width, rect.height)
        let lumaLevels = levels(0, 0)
        if lumaLevels > 0 {
            let d = PreDecimation(levels: lumaLevels, width: rect.width, height: rect.height, wide: wide, planes: 1)
            lumaDecimation = d
            lumaH = Taps(FilterTaps(outSize: ow, cropStart: 0, cropSize: rect.width, shift: lumaLevels,
                                    planeLo: 0, planeHi: d.width - 1, filter: config.filter))
            lumaV = Taps(FilterTaps(outSize: oh, cropStart: 0, cropSize: rect.height, shift: lumaLevels,
                                    planeLo: 0, planeHi: d.height - 1, filter: config.filter))
        } else {
            lumaDecimation = nil
            lumaH = Taps(FilterTaps(outSize: ow, cropStart: rect.x, cropSize: rect.width, shift: 0,
                                    planeLo: rect.x, planeHi: rect.x + rect.width - 1, filter: config.filter))
            lumaV = Taps(FilterTaps(outSize: oh, cropStart: rect.y, cropSize: rect.height, shift: 0,
                                    planeLo: rect.y, planeHi: rect.y + rect.height - 1, filter: config.filter))
        }
        let sx = sourceFormat.chromaShiftX, sy = sourceFormat.chromaShiftY
        let cx0 = rect.x >> sx, cx1 = (rect.x + rect.width - 1) >> sx
        let cy0 = rect.y >> sy, cy1 = (rect.y + rect.height - 1) >> sy
        chromaWindow = (cx0, cy0, cx1 - cx0 + 1, cy1 - cy0 + 1)
        // RGB sources need all three planes, for gray output too.
        if sourceFormat.hasChroma && (config.channels != .gray || sourceFormat.isRGB) {
            // Without a resize, subsampled chroma is replicated (nearest sample) as libswscale's
            // same-size converters do, so output matches `ffmpeg -pix_fmt rgb24` and PyAV's
            // `to_ndarray(format="rgb24")`; with a resize it is filtered with centred siting.
            let sameSize = ow == rect.width && oh == rect.height
            let chromaLevels = sameSize ? 0 : levels(sx, sy)
            if chromaLevels > 0 {
                let d = PreDecimation(levels: chromaLevels, width: chromaWindow.w, height: chromaWindow.h, wide: wide, planes: 2)
                chromaDecimation = d
                chromaH = Taps(FilterTaps(outSize: ow, cropStart: rect.x - (cx0 << sx), cropSize: rect.width, shift: sx + chromaLevels,
                                          planeLo: 0, planeHi: d.width - 1, filter: config.filter))
                chromaV = Taps(FilterTaps(outSize: oh, cropStart: rect.y - (cy0 << sy), cropSize: rect.height, shift: sy + chromaLevels,
                                          planeLo: 0, planeHi: d.height - 1, filter: config.filter))
            } else {
                chromaDecimation = nil
                chromaH = Taps(FilterTaps(outSize: ow, cropStart: rect.x, cropSize: rect.width, shift: sx,
                                          planeLo: cx0, planeHi: cx1, filter: config.filter, nearest: sameSize))
                chromaV = Taps(FilterTaps(outSize: oh, cropStart: rect.y, cropSize: rect.height, shift: sy,
                                          planeLo: cy0, planeHi: cy1, filter: config.filter, nearest: sameSize))
            }
        } else {
            chromaDecimation = nil
            chromaH = nil
            chromaV = nil
        }

        // Colour coefficients (all < 4, so * 8192 fits Int16).
        let (kr, kb): (Double, Double)
        switch matrix {
        case .bt601: (kr, kb) = (0.299, 0.114)
        case .bt709: (kr, kb) = (0.2126, 0.0722)
        case .bt2020: (kr, kb) = (0.2627, 0.0593)
        }
        let kg = 1 - kr - kb
        var ys: Double, cs: Double, yo: Double
        switch range {
        case .limited: ys = 255.0 / 219.0; cs = 255.0 / 224.0; yo = 16
        case .full: ys = 1; cs = 1; yo = 0
        }
        if sourceFormat.bitDepth == 10 && range == .full { ys *= 1020.0 / 1023.0; cs *= 1020.0 / 1023.0 }
        let f = 8192.0
        cy = Int16((ys * f).rounded())
        yOffset = Int16(yo * 64)
        crv = Int16((2 * (1 - kr) * cs * f).rounded())
        cbu = Int16((2 * (1 - kb) * cs * f).rounded())
        cgu = Int16((2 * kb * (1 - kb) / kg * cs * f).rounded())
        cgv = Int16((2 * kr * (1 - kr) / kg * cs * f).rounded())

        // Scratch.
        let maxW = max(rect.width, chromaWindow.w)
        acc = .allocate(capacity: maxW)
        // The SSE2 horizontal filter reads up to `paddedEnd` (zero weights past the real taps).
        let vCap = max(maxW, lumaH.paddedEnd, chromaH?.paddedEnd ?? 0)
        vRow = .allocate(capacity: vCap)
        vRow.initialize(repeating: 0, count: vCap)
        let maxTaps = max(lumaV.count, chromaV?.count ?? 1)
        rowPointers = .allocate(capacity: maxTaps)
        rowPointers.initialize(repeating: UnsafeRawPointer(vRow), count: maxTaps)
        rowCap = (ow + 7) / 8 * 8
        planeRows = .allocate(capacity: 3 * rowCap)
        planeRows.initialize(repeating: 128 * 64, count: 3 * rowCap)   // neutral chroma for gray sources
        rgbRows = .allocate(capacity: 3 * rowCap)
        rgbRows.initialize(repeating: 0, count: 3 * rowCap)

        // Tables: output channel k shows colour order[k].
        let order: [Int] = switch config.channels { case .rgb: [0, 1, 2]; case .bgr: [2, 1, 0]; case .gray: [0] }
        lut16 = .allocate(capacity: 3 * 256)
        lut32 = .allocate(capacity: 3 * 256)
        for (k, colour) in order.enumerated() {
            for i in 0..<256 {
                let v = config.normalization.value(Float(i), colour: colour)
                lut32[k * 256 + i] = v
                lut16[k * 256 + i] = config.dtype == .bf16 ? HalfConversion.bf16Bits(v) : HalfConversion.f16Bits(v)
            }
        }
        affineStore = Self.verifiedAffineStores(config: config, order: order, lut16: lut16, lut32: lut32)
    }

    /// For each output channel, the first `(a, b)` near `1 / (scale * std)` and `-mean / std` whose
    /// AVX2 store gives exactly the table's bits for every input 0...255 (float16/bfloat16 bits, or
    /// the Float bits for f32); nil when none does, for u8, or without AVX2/F16C/FMA.
    private static func verifiedAffineStores(config: TransformConfig, order: [Int], lut16: UnsafeMutablePointer<UInt16>,
                                             lut32: UnsafeMutablePointer<Float>) -> [(a: Float, b: Float)?] {
        guard config.dtype != .u8, vectorStoreAvailable else { return order.map { _ in nil } }
        let n = config.normalization
        let ramp = (0...255).map { UInt8($0) }
        var out = [UInt32](repeating: 0, count: 256)
        return order.enumerated().map { k, colour -> (a: Float, b: Float)? in
            let scale = Double(n.scale), mean = Double(n.mean[colour % n.mean.count]), std = Double(n.std[colour % n.std.count])
            let a0 = Float(1 / (scale * std)), b0 = Float(-mean / std)
            for a in [a0, a0.nextDown, a0.nextUp] {
                for b in [b0, b0.nextDown, b0.nextUp] {
                    let same = out.withUnsafeMutableBytes { o -> Bool in
                        ramp.withUnsafeBufferPointer { r in
                            switch config.dtype {
                            case .f16: fleet_store_affine_f16(r.baseAddress, 256, a, b, o.baseAddress)
                            case .bf16: fleet_store_affine_bf16(r.baseAddress, 256, a, b, o.baseAddress)
                            default: fleet_store_affine_f32(r.baseAddress, 256, a, b, o.baseAddress)
                            }
                        }
                        if config.dtype == .f32 {
                            let f = o.bindMemory(to: Float.self)
                            return (0..<256).allSatisfy { f[$0].bitPattern == lut32[k * 256 + $0].bitPattern }
                        }
                        let h = o.bindMemory(to: UInt16.self)
                        return (0..<256).allSatisfy { h[$0] == lut16[k * 256 + $0] }
                    }
                    if same { return (a, b) }
                }
            }
            return nil
        }
    }

    deinit {
        acc.deallocate()
        vRow.deallocate()
        rowPointers.deallocate()
        planeRows.deallocate()
        rgbRows.deallocate()
        lut16.deallocate()
        lut32.deallocate()
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
        let bps = sourceFormat.bitDepth > 8 ? 2 : 1
        // Large downscales: box-filter the crop windows 2:1 (repeatedly) into scratch planes first.
        var luma = (base: image.plane0, stride: image.stride0, window: lumaWindow)
        if let d = lumaDecimation {
            let w = lumaWindow
            d.run(plane: 0, image.plane0 + w.y * image.stride0 + w.x * bps, stride: image.stride0, step: 1, portable: portableOnly, avx2: avx2Rows)
            luma = (d.output(0), d.stride, (0, 0, d.width, d.height))
        }
        var chroma: (u: UnsafeRawPointer, v: UnsafeRawPointer, stride: Int, window: (x: Int, y: Int, w: Int, h: Int))? = nil
        if let d = chromaDecimation, let p1 = image.plane1 {
            let w = chromaWindow
            if sourceFormat == .nv12 {
                let o = p1 + w.y * image.stride1 + 2 * w.x
                d.run(plane: 0, o, stride: image.stride1, step: 2, portable: portableOnly, avx2: avx2Rows)
                d.run(plane: 1, o + 1, stride: image.stride1, step: 2, portable: portableOnly, avx2: avx2Rows)
            } else if let p2 = image.plane2 {
                d.run(plane: 0, p1 + w.y * image.stride1 + w.x * bps, stride: image.stride1, step: 1, portable: portableOnly, avx2: avx2Rows)
                d.run(plane: 1, p2 + w.y * image.stride2 + w.x * bps, stride: image.stride2, step: 1, portable: portableOnly, avx2: avx2Rows)
            }
            chroma = (d.output(0), d.output(1), d.stride, (0, 0, d.width, d.height))
        }
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

    // MARK: - Passes

    /// Vertical then horizontal filter of one plane for output row `row`, into `dst` (outputWidth
    /// samples in 1/64 of an 8-bit level). The vertical pass works in 1/128 levels.
    private func filterPlane(_ base: UnsafeRawPointer, stride: Int, step: Int, offset: Int,
                             window: (x: Int, y: Int, w: Int, h: Int), h: Taps, v: Taps, row: Int,
                             into dst: UnsafeMutablePointer<Int16>) {
        let w = window.w
        let vDst = vRow
        let taps = v.count
        let idx = v.index + row * taps, wt = v.weight + row * taps
        let wide = sourceFormat.bitDepth > 8
        let up = Int16(wide ? 5 : 7)                        // sample -> 1/128 level
        let down = Int32(wide ? 9 : 7)                      // 2^14 weights * sample -> 1/128 level
        let wx = window.x, wy = window.y
        @inline(__always) func rowBase(_ r: Int32) -> UnsafeRawPointer {
            base + (wy + Int(r)) * stride + (wide ? 2 * wx : wx * step + offset)
        }
        if taps == 1 && h.isIdentity && !portableOnly {
            // Both passes at once: ((s << up) + 1) >> 1, which is s << 6 for 8-bit samples (no
            // wrap), the sample in 1/64 levels.
            let p = rowBase(idx[0])
            if wide {
                let s = p.assumingMemoryBound(to: UInt16.self)
                for i in 0..<w { dst[i] = ((Int16(truncatingIfNeeded: s[i]) &<< up) &+ 1) &>> 1 }
            } else if step == 1 {
                let s = p.assumingMemoryBound(to: UInt8.self)
                for i in 0..<w { dst[i] = Int16(s[i]) &<< 6 }
            } else {
                let s = p.assumingMemoryBound(to: UInt8.self)
                for i in 0..<w { dst[i] = Int16(s[2 * i]) &<< 6 }
            }
            return
        } else if taps == 1 {
            let p = rowBase(idx[0])
            if wide {
                let s = p.assumingMemoryBound(to: UInt16.self)
                for i in 0..<w { vDst[i] = Int16(truncatingIfNeeded: s[i]) &<< up }
            } else if step == 1 {
                let s = p.assumingMemoryBound(to: UInt8.self)
                for i in 0..<w { vDst[i] = Int16(s[i]) &<< 7 }
            } else {
                let s = p.assumingMemoryBound(to: UInt8.self)
                for i in 0..<w { vDst[i] = Int16(s[2 * i]) &<< 7 }
            }
        } else if avx2Rows, !wide, step == 1, w >= 32, taps <= 64 {
            // 8-bit samples, any taps: AVX2 `pmaddwd` over tap pairs (the whole row; exactly the
            // Int32 sums below, which the Int16 path equals when it applies).
            for t in 0..<taps { rowPointers[t] = rowBase(idx[t]) }
            _ = fleet_vertical_u8(UnsafeRawPointer(rowPointers).assumingMemoryBound(to: UnsafePointer<UInt8>?.self),
                                  wt, Int32(taps), w, down, vDst)
        } else if !wide, step == 1, let w16 = v.weight16.map({ $0 + row * taps }), taps <= 4 {
            // 8-bit samples with weights that are multiples of 1/128: exact in Int16.
            let s0 = rowBase(idx[0]).assumingMemoryBound(to: UInt8.self)
            let s1 = rowBase(idx[1]).assumingMemoryBound(to: UInt8.self)
            let k0 = w16[0], k1 = w16[1]
            if taps == 2 {
                for i in 0..<w { vDst[i] = Int16(s0[i]) &* k0 &+ Int16(s1[i]) &* k1 }
            } else {
                let s2 = rowBase(idx[2]).assumingMemoryBound(to: UInt8.self)
                let k2 = w16[2]
                if taps == 3 {
                    for i in 0..<w { vDst[i] = Int16(s0[i]) &* k0 &+ Int16(s1[i]) &* k1 &+ Int16(s2[i]) &* k2 }
                } else {
                    let s3 = rowBase(idx[3]).assumingMemoryBound(to: UInt8.self)
                    let k3 = w16[3]
                    for i in 0..<w {
                        vDst[i] = (Int16(s0[i]) &* k0 &+ Int16(s1[i]) &* k1) &+ (Int16(s2[i]) &* k2 &+ Int16(s3[i]) &* k3)
                    }
                }
            }
        } else {
            // Any taps: SSE2 `pmaddwd` over tap pairs on x86-64, then (elsewhere: everything)
            // Int32 accumulation one tap at a time.
            var i0 = 0
            #if arch(x86_64) && canImport(_Builtin_intrinsics)
            if !portableOnly {
                for t in 0..<taps { rowPointers[t] = rowBase(idx[t]) }
                let kind: SSE2Rows.Samples = wide ? .u16 : (step == 1 ? .u8 : .u8Step2)
                let readable = wide ? 2 * w : (step == 1 ? w : 2 * w - offset)
                i0 = SSE2Rows.vertical(kind, rows: rowPointers, weights: wt, taps: taps, count: w,
                                       readableBytes: readable, down: down, dst: vDst)
            }
            #endif
            if i0 < w {
                let a = acc
                for t in 0..<taps {
                    let p = rowBase(idx[t])
                    let k = wt[t]
                    if t == 0 {
                        if wide {
                            let s = p.assumingMemoryBound(to: UInt16.self)
                            for i in i0..<w { a[i] = k &* Int32(s[i]) }
                        } else if step == 1 {
                            let s = p.assumingMemoryBound(to: UInt8.self)
                            for i in i0..<w { a[i] = k &* Int32(s[i]) }
                        } else {
                            let s = p.assumingMemoryBound(to: UInt8.self)
                            for i in i0..<w { a[i] = k &* Int32(s[2 * i]) }
                        }
                    } else if k != 0 {
                        if wide {
                            let s = p.assumingMemoryBound(to: UInt16.self)
                            for i in i0..<w { a[i] &+= k &* Int32(s[i]) }
                        } else if step == 1 {
                            let s = p.assumingMemoryBound(to: UInt8.self)
                            for i in i0..<w { a[i] &+= k &* Int32(s[i]) }
                        } else {
                            let s = p.assumingMemoryBound(to: UInt8.self)
                            for i in i0..<w { a[i] &+= k &* Int32(s[2 * i]) }
                        }
                    }
                }
                let half = Int32(1) &<< (down - 1)
                for i in i0..<w { vDst[i] = Int16(truncatingIfNeeded: (a[i] &+ half) &>> down) }
            }
        }
        if h.isIdentity {
            for i in 0..<w { dst[i] = (vDst[i] &+ 1) &>> 1 }
            return
        }
        horizontal(h, vDst, w, dst)
    }

    /// Horizontal filter of one row of `w` samples (1/128 levels) into `outputWidth` samples
    /// (1/64 levels). The regular-run paths use `mulhi` with Q15 weights: (v * w15) >> 16 = 1/64 levels.
    private func horizontal(_ h: Taps, _ src: UnsafeMutablePointer<Int16>, _ w: Int, _ dst: UnsafeMutablePointer<Int16>) {
        let ht = h.count, hidx = h.index, hw = h.weight
        let n = outputWidth
        @inline(__always) func scalar(_ j: Int) {
            let b = ht * j
            var s: Int32 = 1 << 14
            for t in 0..<ht { s &+= hw[b + t] &* Int32(src[Int(hidx[b + t])]) }
            dst[j] = Int16(truncatingIfNeeded: s &>> 15)
        }
        let raw = UnsafeRawPointer(src)
        var j = 0
        #if arch(x86_64) && canImport(_Builtin_intrinsics)
        if !portableOnly, h.decimate2 == nil, h.upsample2 == nil, let g = h.generic {
            // Any other ratio: SSE2 dot products over each output's contiguous taps.
            if avx2Rows, let pw = h.pairedWeights { j = fleet_horizontal_i16(src, g.pos, pw, Int32(g.chunks), n, dst) }
            j = SSE2Rows.horizontal(src: src, pos: g.pos, weights: g.weights, chunks: g.chunks, from: j, count: n, dst: dst)
        }
        #endif
        if let d = h.decimate2 {
            // 2:1 decimation over the regular run: SSE2 rows on x86-64, then plain per-output
            // loops for what is left (and everywhere on other CPUs).
            let o = d.offset
            let q = h.decimateQ15
            var lo = d.regular.lowerBound, hi = d.regular.upperBound
            while lo < hi && 2 * lo + o < 0 { lo += 1 }
            while hi > lo && 2 * (hi - 1) + o + ht - 1 >= w { hi -= 1 }
            while j < lo { scalar(j); j += 1 }
            let q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3]
            let s0 = src + o
            #if arch(x86_64) && canImport(_Builtin_intrinsics)
            if !portableOnly {
                if avx2Rows {
                    lo = withUnsafeBytes(of: q) { qp in
                        fleet_decimate2_q15(Int32(ht), s0, w - o, qp.baseAddress!.assumingMemoryBound(to: Int16.self), lo, hi, dst)
                    }
                }
                j = SSE2Rows.decimate2(taps: ht, src: s0, readable: w - o, q: q, range: lo..<hi, dst: dst)
                lo = j
            }
            #endif
            switch ht {
            case 2:
                for k in lo..<hi { dst[k] = mulhi(s0[2 * k], q0) &+ mulhi(s0[2 * k + 1], q1) }
            case 3:
                for k in lo..<hi { dst[k] = mulhi(s0[2 * k], q0) &+ mulhi(s0[2 * k + 1], q1) &+ mulhi(s0[2 * k + 2], q2) }
            default:
                for k in lo..<hi {
                    dst[k] = (mulhi(s0[2 * k], q0) &+ mulhi(s0[2 * k + 1], q1)) &+ (mulhi(s0[2 * k + 2], q2) &+ mulhi(s0[2 * k + 3], q3))
                }
            }
            j = hi
        }
        if let u = h.upsample2, j == 0 {
            // 1:2 interpolation over the regular run.
            let (o0, o1) = u.offsets
            var lo = u.regular.lowerBound, hi = u.regular.upperBound
            while lo < hi && lo + min(o0, o1) < 0 { lo += 1 }
            while hi > lo && (hi - 1) + max(o0, o1) + 1 >= w { hi -= 1 }
            while j < 2 * lo { scalar(j); j += 1 }
            // Explicit SIMD: 8 input positions -> 16 interleaved outputs (14-bit weights, Int32).
            let w = u.weights
            let a0 = SIMD8<Int32>(repeating: w.0[0]), a1 = SIMD8<Int32>(repeating: w.0[1])
            let b0 = SIMD8<Int32>(repeating: w.1[0]), b1 = SIMD8<Int32>(repeating: w.1[1])
            let half = SIMD8<Int32>(repeating: 1 << 14)
            @inline(__always) func load(_ i: Int) -> SIMD8<Int32> { widen(raw.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Int16>.self)) }
            var i = lo
            while i + 8 <= hi {
                let e = (half &+ a0 &* load(i + o0) &+ a1 &* load(i + o0 + 1)) &>> 15
                let o = (half &+ b0 &* load(i + o1) &+ b1 &* load(i + o1 + 1)) &>> 15
                // Interleave without shuffles: each 32-bit lane holds (even, odd) little-endian.
                let v = (e & 0xFFFF) | (o &<< 16)
                UnsafeMutableRawPointer(dst + 2 * i).storeBytes(of: v.littleEndianLanes, as: SIMD8<Int32>.self)
                i += 8
            }
            j = 2 * i
            hi = i
        }
        while j < n { scalar(j); j += 1 }
    }

    /// YUV rows (1/64 levels) -> 8-bit rows in output channel order (or one gray row), rounded
    /// and clamped to 0...255. SSE2 rows on x86-64 (`SSE2Rows.colour`); elsewhere scalar Int16
    /// loops for LLVM to vectorize (the reference the SSE2 rows are tested against).
    private func convertColour(_ yr: UnsafeMutablePointer<Int16>, _ ur: UnsafeMutablePointer<Int16>,
                               _ vr: UnsafeMutablePointer<Int16>) {
        let n = outputWidth
        let cy = cy, yo = yOffset, crv = crv, cgu = cgu, cgv = cgv, cbu = cbu
        let mid: Int16 = 128 * 64
        // mulhi rounds down (-1/16 level on average per product): R and B lose about 1/8 level
        // (bias 4 for rounding + 1), G's two subtracted products cancel l's loss (bias 4).
        @inline(__always) func byte(_ x: Int16) -> UInt8 { UInt8(truncatingIfNeeded: min(max(x &>> 3, 0), 255)) }
        if sourceFormat.isRGB {
            convertRGB(g: yr, b: ur, r: vr)
            return
        }
        if channels == 1 {
            let g = rgbRows
            #if arch(x86_64) && canImport(_Builtin_intrinsics)
            if !portableOnly { SSE2Rows.gray(count: n, y: yr, into: g, cy: cy, yOffset: yo); return }
            #endif
            for i in 0..<n { g[i] = byte(mulhi(yr[i] &- yo, cy) &+ 4) }
            return
        }
        let (r, g, b) = colourRows
        #if arch(x86_64) && canImport(_Builtin_intrinsics)
        if !portableOnly {
            // AVX2 16 pixels at a time, then SSE2 runs to rowCap (a multiple of 8): the rows hold
            // that many elements.
            let i0 = avx2Rows ? fleet_colour_yuv(n, yr, ur, vr, r, g, b, cy, yo, crv, cgu, cgv, cbu) : 0
            SSE2Rows.colour(from: i0, count: n, y: yr, u: ur, v: vr, r: r, g: g, b: b,
                            cy: cy, yOffset: yo, crv: crv, cgu: cgu, cgv: cgv, cbu: cbu)
            return
        }
        #endif
        for i in 0..<n {
            let l = mulhi(yr[i] &- yo, cy)
            let u = ur[i] &- mid, v = vr[i] &- mid
            r[i] = byte(l &+ mulhi(v, crv) &+ 5)
            g[i] = byte(l &- mulhi(u, cgu) &- mulhi(v, cgv) &+ 4)
            b[i] = byte(l &+ mulhi(u, cbu) &+ 5)
        }
    }

    /// The output rows of red, green and blue (`--channels bgr` swaps red and blue).
    private var colourRows: (r: UnsafeMutablePointer<UInt8>, g: UnsafeMutablePointer<UInt8>, b: UnsafeMutablePointer<UInt8>) {
        let bgr = config.channels == .bgr
        return (bgr ? rgbRows + 2 * rowCap : rgbRows, rgbRows + rowCap, bgr ? rgbRows : rgbRows + 2 * rowCap)
    }

    /// RGB sources (`gbrp`, planes G, B, R in 1/64 levels): no matrix, each colour rounded to
    /// 8 bits (exact without a resize); gray output is BT.601 luma `0.299 R + 0.587 G + 0.114 B`
    /// at full range (16-bit weights summing to 65536).
    private func convertRGB(g gr: UnsafeMutablePointer<Int16>, b br: UnsafeMutablePointer<Int16>,
                            r rr: UnsafeMutablePointer<Int16>) {
        let n = outputWidth
        @inline(__always) func byte(_ x: Int32) -> UInt8 { UInt8(truncatingIfNeeded: min(max(x, 0), 255)) }
        if channels == 1 {
            let out = rgbRows
            for i in 0..<n {
                let y = 19595 &* Int32(rr[i]) &+ 38470 &* Int32(gr[i]) &+ 7471 &* Int32(br[i])
                out[i] = byte((y &+ (1 << 21)) &>> 22)
            }
            return
        }
        let (r, g, b) = colourRows
        for i in 0..<n {
            r[i] = byte((Int32(rr[i]) &+ 32) &>> 6)
            g[i] = byte((Int32(gr[i]) &+ 32) &>> 6)
            b[i] = byte((Int32(br[i]) &+ 32) &>> 6)
        }
    }

    /// Normalizes + converts the 8-bit rows of output row `y` into the tensor.
    private func writeRow(_ y: Int, _ out: UnsafeMutableRawPointer) {
        let n = outputWidth, c = channels
        let dtype = config.dtype
        let bw = dtype.byteWidth
        if config.layout == .chw {
            for k in 0..<c {
                let src = rgbRows + k * rowCap
                let dst = out + ((k * outputHeight + y) * n) * bw
                if !portableOnly, let (a, b) = affineStore[k] {   // never set for u8
                    switch dtype {
                    case .f16: fleet_store_affine_f16(src, n, a, b, dst)
                    case .bf16: fleet_store_affine_bf16(src, n, a, b, dst)
                    default: fleet_store_affine_f32(src, n, a, b, dst)
                    }
                    continue
                }
                switch dtype {
                case .u8:
                    dst.copyMemory(from: src, byteCount: n)
                case .f16, .bf16:
                    let lut = lut16 + k * 256
                    var i = 0
                    // 8 at a time: one 8-byte load of indices, two 8-byte stores of results.
                    while i + 8 <= n {
                        let x = UInt64(littleEndian: UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self))
                        @inline(__always) func e(_ s: UInt64) -> UInt64 { UInt64(lut[Int((x &>> s) & 0xFF)]) }
                        let lo = e(0) | e(8) &<< 16 | e(16) &<< 32 | e(24) &<< 48
                        let hi = e(32) | e(40) &<< 16 | e(48) &<< 32 | e(56) &<< 48
                        dst.storeBytes(of: lo.littleEndian, toByteOffset: 2 * i, as: UInt64.self)
                        dst.storeBytes(of: hi.littleEndian, toByteOffset: 2 * i + 8, as: UInt64.self)
                        i += 8
                    }
                    while i < n { dst.storeBytes(of: lut[Int(src[i])], toByteOffset: 2 * i, as: UInt16.self); i += 1 }
                case .f32:
                    let lut = lut32 + k * 256
                    for i in 0..<n { dst.storeBytes(of: lut[Int(src[i])], toByteOffset: 4 * i, as: Float.self) }
                }
            }
        } else if c == 3 {
            // Interleaved RGB: one pass per pixel, three adjacent stores.
            let dst = out + (y * n * 3) * bw
            let r = rgbRows, g = rgbRows + rowCap, b = rgbRows + 2 * rowCap
            switch dtype {
            case .u8:
                let i0 = avx2Rows ? fleet_interleave3_u8(r, g, b, n, dst.assumingMemoryBound(to: UInt8.self)) : 0
                for i in i0..<n {
                    dst.storeBytes(of: r[i], toByteOffset: 3 * i, as: UInt8.self)
                    dst.storeBytes(of: g[i], toByteOffset: 3 * i + 1, as: UInt8.self)
                    dst.storeBytes(of: b[i], toByteOffset: 3 * i + 2, as: UInt8.self)
                }
            case .f16, .bf16:
                let l0 = lut16, l1 = lut16 + 256, l2 = lut16 + 512
                for i in 0..<n {
                    dst.storeBytes(of: l0[Int(r[i])], toByteOffset: 6 * i, as: UInt16.self)
                    dst.storeBytes(of: l1[Int(g[i])], toByteOffset: 6 * i + 2, as: UInt16.self)
                    dst.storeBytes(of: l2[Int(b[i])], toByteOffset: 6 * i + 4, as: UInt16.self)
                }
            case .f32:
                let l0 = lut32, l1 = lut32 + 256, l2 = lut32 + 512
                for i in 0..<n {
                    dst.storeBytes(of: l0[Int(r[i])], toByteOffset: 12 * i, as: Float.self)
                    dst.storeBytes(of: l1[Int(g[i])], toByteOffset: 12 * i + 4, as: Float.self)
                    dst.storeBytes(of: l2[Int(b[i])], toByteOffset: 12 * i + 8, as: Float.self)
                }
            }
        } else {
            let dst = out + (y * n * c) * bw
            for k in 0..<c {
                let src = rgbRows + k * rowCap
                switch dtype {
                case .u8:
                    for i in 0..<n { dst.storeBytes(of: src[i], toByteOffset: i * c + k, as: UInt8.self) }
                case .f16, .bf16:
                    let lut = lut16 + k * 256
                    for i in 0..<n { dst.storeBytes(of: lut[Int(src[i])], toByteOffset: 2 * (i * c + k), as: UInt16.self) }
                case .f32:
                    let lut = lut32 + k * 256
                    for i in 0..<n { dst.storeBytes(of: lut[Int(src[i])], toByteOffset: 4 * (i * c + k), as: Float.self) }
                }
            }
        }
    }
}

/// High half of the 32-bit product, (a * b) >> 16, rounded down. (Kept in plain loops that LLVM
/// vectorizes; on baseline SSE2 it mostly emits emulated 32-bit multiplies, pmulhw in places.)
@inline(__always) private func mulhi(_ a: Int16, _ b: Int16) -> Int16 {
    Int16(truncatingIfNeeded: UInt32(bitPattern: Int32(a) &* Int32(b)) &>> 16)
}

extension SIMD8<Int32> {
    /// Lanes in little-endian byte order (a no-op on little-endian hosts).
    @inline(__always) fileprivate var littleEndianLanes: SIMD8<Int32> {
        #if _endian(little)
        return self
        #else
        var r = self
        for i in 0..<8 { r[i] = Int32(bitPattern: (UInt32(bitPattern: r[i]) &>> 16) | (UInt32(bitPattern: r[i]) &<< 16)) }
        return r
        #endif
    }
}

/// Int16 -> Int32 lanes (spelled out: the generic SIMD conversion initializers are not always
/// specialized and inlined).
@inline(__always) private func widen(_ v: SIMD8<Int16>) -> SIMD8<Int32> {
    SIMD8(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]))
}

/// `FilterTaps` copied into raw memory allocated once (no bounds checks in the hot loops), plus
/// what the fast paths need. Owned by one `FrameTransformer`; freed with it.
private final class Taps {
    let count: Int
    let isIdentity: Bool
    let index: UnsafeMutablePointer<Int32>
    let weight: UnsafeMutablePointer<Int32>
    /// Weights / 128 when every weight is a multiple of 128 (then 8-bit samples filter in Int16).
    let weight16: UnsafeMutablePointer<Int16>?
    /// Regular 2:1 decimation: output j reads input 2j + offset + t with the same weights for
    /// j in `regular`.
    let decimate2: (offset: Int, weights: [Int32], regular: Range<Int>)?
    /// `decimate2` weights in Q15 (2 x the 14-bit weight, at most 32767), padded with zeros to 4.
    let decimateQ15: SIMD4<Int16>

    /// Regular 1:2 interpolation: outputs 2i and 2i+1 read inputs i + offsets.0/1 + t with the
    /// phase weights, for i in `regular`.
    let upsample2: (offsets: (Int, Int), weights: ([Int32], [Int32]), regular: Range<Int>)?

    /// Any ratio, for `SSE2Rows.horizontal`: output j is the dot product of the `8 * chunks`
    /// samples from `pos[j]` (its first tap) with `weights[j * 8 * chunks ..< (j + 1) * 8 * chunks]`
    /// (the taps' weights at their offsets, zeros elsewhere). Nil for 1-tap (and identity) taps,
    /// or if some output's taps did not fit that span (they are contiguous by construction).
    let generic: (pos: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Int16>, chunks: Int)?
    /// One past the last input sample `generic` reads (0 without it): the row must be that long.
    let paddedEnd: Int
    /// `generic`'s weights of the first `n / 8 * 8` outputs in the order of CTensorStore's AVX2
    /// `fleet_horizontal_i16` (outputs j and j + 4 side by side).
    let pairedWeights: UnsafeMutablePointer<Int16>?

    init(_ t: FilterTaps) {
        count = t.count
        isIdentity = t.isIdentity
        index = .allocate(capacity: t.index.count)
        index.initialize(from: t.index, count: t.index.count)
        weight = .allocate(capacity: t.weight.count)
        weight.initialize(from: t.weight, count: t.weight.count)
        if t.weight.allSatisfy({ $0 % 128 == 0 }) {
            let w16 = UnsafeMutablePointer<Int16>.allocate(capacity: t.weight.count)
            w16.initialize(from: t.weight.map { Int16($0 / 128) }, count: t.weight.count)
            weight16 = w16
        } else {
            weight16 = nil
        }
        // Find the longest run of outputs that follow one 2:1 pattern.
        let n = t.index.count / max(t.count, 1), c = t.count
        var best: (offset: Int, weights: [Int32], regular: Range<Int>)? = nil
        if c <= 4 && n >= 24 {
            let mid = n / 2
            let offset = Int(t.index[mid * c]) - 2 * mid
            let w = Array(t.weight[(mid * c)..<(mid * c + c)])
            func regular(_ j: Int) -> Bool {
                for k in 0..<c where Int(t.index[j * c + k]) != 2 * j + offset + k || t.weight[j * c + k] != w[k] { return false }
                return true
            }
            if regular(mid) {
                var lo = mid, hi = mid + 1
                while lo > 0 && regular(lo - 1) { lo -= 1 }
                while hi < n && regular(hi) { hi += 1 }
                if hi - lo >= 16 { best = (offset, w, lo..<hi) }
            }
        }
        decimate2 = best
        func q15(_ w: Int32) -> Int16 { Int16(min(2 * w, 32767)) }
        var dw = SIMD4<Int16>(repeating: 0)
        for (k, x) in (best?.weights ?? []).enumerated() { dw[k] = q15(x) }
        decimateQ15 = dw
        // 1:2 interpolation: output 2i + p reads input i + offset_p + k with phase weights.
        var up: (offsets: (Int, Int), weights: ([Int32], [Int32]), regular: Range<Int>)? = nil
        if c <= 2 && n >= 48 {
            let mid = (n / 4) * 2
            let o0 = Int(t.index[mid * c]) - mid / 2, o1 = Int(t.index[(mid + 1) * c]) - mid / 2
            let w0 = Array(t.weight[(mid * c)..<(mid * c + c)]), w1 = Array(t.weight[((mid + 1) * c)..<((mid + 1) * c + c)])
            func regular(_ i: Int) -> Bool {   // outputs 2i and 2i+1
                for k in 0..<c {
                    if Int(t.index[2 * i * c + k]) != i + o0 + k || t.weight[2 * i * c + k] != w0[k] { return false }
                    if Int(t.index[(2 * i + 1) * c + k]) != i + o1 + k || t.weight[(2 * i + 1) * c + k] != w1[k] { return false }
                }
                return true
            }
            let m = mid / 2
            if regular(m) {
                var lo = m, hi = m + 1
                while lo > 0 && regular(lo - 1) { lo -= 1 }
                while hi < n / 2 && regular(hi) { hi += 1 }
                if hi - lo >= 16 { up = ((o0, o1), (w0 + [0], w1 + [0]), lo..<hi) }
            }
        }
        upsample2 = up
        // Generic: each output's taps as one contiguous span from its lowest index.
        var gen: (pos: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Int16>, chunks: Int)? = nil
        var end = 0
        if c > 1 && !t.isIdentity && n > 0 {
            let chunks = (c + 7) / 8, span = 8 * chunks
            var pos = [Int32](repeating: 0, count: n)
            var ws = [Int32](repeating: 0, count: n * span)
            var fits = true
            for j in 0..<n where fits {
                let lo = t.index[(j * c)..<(j * c + c)].min()!
                pos[j] = lo
                for k in 0..<c {
                    let off = Int(t.index[j * c + k] - lo)
                    if off >= span || t.weight[j * c + k] < 0 { fits = false; break }
                    ws[j * span + off] += t.weight[j * c + k]
                }
                end = max(end, Int(lo) + span)
            }
            if fits && ws.allSatisfy({ $0 <= Int32(Int16.max) }) {
                let p = UnsafeMutablePointer<Int32>.allocate(capacity: n)
                p.initialize(from: pos, count: n)
                let w = UnsafeMutablePointer<Int16>.allocate(capacity: n * span)
                w.initialize(from: ws.map { Int16($0) }, count: n * span)
                gen = (p, w, chunks)
            } else {
                end = 0
            }
        }
        generic = gen
        paddedEnd = end
        if let g = gen {
            let span = 8 * g.chunks, blocks = n / 8
            let p = UnsafeMutablePointer<Int16>.allocate(capacity: max(1, blocks * 8 * span))
            var q = 0
            for b in 0..<blocks {
                for o in 0..<4 {
                    for c in 0..<g.chunks {
                        for (j, lane) in [(8 * b + o, 0), (8 * b + o + 4, 8)] {
                            for e in 0..<8 { p[q + lane + e] = g.weights[j * span + 8 * c + e] }
                        }
                        q += 16
                    }
                }
            }
            pairedWeights = p
        } else {
            pairedWeights = nil
        }
    }

    deinit {
        index.deallocate()
        weight.deallocate()
        weight16?.deallocate()
        generic?.pos.deallocate()
        generic?.weights.deallocate()
        pairedWeights?.deallocate()
    }
}

/// Scratch planes for the large-downscale path: a crop window box-filtered 2:1 in both directions
/// `levels` times (each output sample is the rounded mean of a 2x2 block; a last odd column or
/// row pairs with itself). Allocated at init; `run` fills them per frame.
private final class PreDecimation {
    let levels: Int
    let wide: Bool
    /// Size of the last level in samples, and its row stride in bytes.
    let width: Int, height: Int, stride: Int
    /// Sizes of the source window (index 0) and of each level.
    private let sizes: [(w: Int, h: Int)]
    /// [plane][level - 1].
    private let buffers: [[UnsafeMutableRawPointer]]

    init(levels: Int, width: Int, height: Int, wide: Bool, planes: Int) {
        self.levels = levels
        self.wide = wide
        var sz = [(w: width, h: height)]
        for _ in 0..<levels { sz.append(((sz.last!.w + 1) / 2, (sz.last!.h + 1) / 2)) }
        sizes = sz
        let bps = wide ? 2 : 1
        buffers = (0..<planes).map { _ in
            sz.dropFirst().map { s in
                let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, s.w * s.h * bps), alignment: 64)
                p.initializeMemory(as: UInt8.self, repeating: 0, count: max(1, s.w * s.h * bps))
                return p
            }
        }
        self.width = sz.last!.w
        self.height = sz.last!.h
        self.stride = sz.last!.w * bps
    }

    deinit { for plane in buffers { for b in plane { b.deallocate() } } }

    func output(_ plane: Int) -> UnsafeRawPointer { UnsafeRawPointer(buffers[plane][levels - 1]) }

    /// Decimates the window at `src` (its first sample; `step` bytes between 8-bit samples) into
    /// plane `plane`'s scratch levels.
    func run(plane: Int, _ src: UnsafeRawPointer, stride: Int, step: Int, portable: Bool, avx2: Bool) {
        let bps = wide ? 2 : 1
        var from = src, fromStride = stride, fromStep = step
        for l in 1...levels {
            let to = buffers[plane][l - 1]
            Self.box2(from, stride: fromStride, step: fromStep, w: sizes[l - 1].w, h: sizes[l - 1].h, wide: wide,
                      into: to, dstStride: sizes[l].w * bps, portable: portable, avx2: avx2)
            from = UnsafeRawPointer(to)
            fromStride = sizes[l].w * bps
            fromStep = 1
        }
    }

    /// One 2:1 level: `dst[r][k]` = (a[2k] + a[2k+1] + b[2k] + b[2k+1] + 2) >> 2 with rows
    /// a = 2r, b = 2r + 1 (both clamped to the window). AVX2 (where available), then SSE2, for
    /// 8-bit samples with `step` 1.
    static func box2(_ src: UnsafeRawPointer, stride: Int, step: Int, w: Int, h: Int, wide: Bool,
                     into dst: UnsafeMutableRawPointer, dstStride: Int, portable: Bool, avx2: Bool) {
        let pairs = w / 2, dh = (h + 1) / 2
        for r in 0..<dh {
            let a = src + 2 * r * stride, b = src + min(2 * r + 1, h - 1) * stride
            let d = dst + r * dstStride
            if wide {
                let a16 = a.assumingMemoryBound(to: UInt16.self), b16 = b.assumingMemoryBound(to: UInt16.self)
                let d16 = d.assumingMemoryBound(to: UInt16.self)
                @inline(__always) func px(_ i: Int, _ j: Int) -> UInt32 {
                    UInt32(a16[i]) &+ UInt32(a16[j]) &+ UInt32(b16[i]) &+ UInt32(b16[j])
                }
                for k in 0..<pairs { d16[k] = UInt16(truncatingIfNeeded: (px(2 * k, 2 * k + 1) &+ 2) &>> 2) }
                if w & 1 == 1 { d16[pairs] = UInt16(truncatingIfNeeded: (px(w - 1, w - 1) &+ 2) &>> 2) }
            } else {
                let a8 = a.assumingMemoryBound(to: UInt8.self), b8 = b.assumingMemoryBound(to: UInt8.self)
                let d8 = d.assumingMemoryBound(to: UInt8.self)
                @inline(__always) func px(_ i: Int, _ j: Int) -> UInt16 {
                    UInt16(a8[i * step]) &+ UInt16(a8[j * step]) &+ UInt16(b8[i * step]) &+ UInt16(b8[j * step])
                }
                var k = 0
                #if arch(x86_64) && canImport(_Builtin_intrinsics)
                if !portable && step == 1 {
                    if avx2 { k = fleet_box2_u8(a8, b8, w, pairs, d8) }
                    k = SSE2Rows.decimateBox2(a8, b8, readable: w, from: k, count: pairs, dst: d8)
                }
                #endif
                while k < pairs { d8[k] = UInt8(truncatingIfNeeded: (px(2 * k, 2 * k + 1) &+ 2) &>> 2); k += 1 }
                if w & 1 == 1 { d8[pairs] = UInt8(truncatingIfNeeded: (px(w - 1, w - 1) &+ 2) &>> 2) }
            }
        }
    }
}
