/// Turns frames of one size and format into tensors: crop → YUV→RGB → resize → normalize →
/// element type and layout, written straight into a caller's buffer.
///
/// All tables (resampling weights, colour coefficients, one 256-entry output table per channel
/// that holds the normalized value already converted to the output element type) and scratch
/// rows are made at `init`; `transform` allocates nothing. Work is done row by row so that the
/// intermediate rows stay in cache: one pass over the source, one write of the output.
///
/// A transformer is not thread-safe (it owns scratch rows); make one per worker.
public final class FrameTransformer {
    public let outputWidth: Int
    public let outputHeight: Int
    public let channels: Int
    public let config: TransformConfig
    public let sourceWidth: Int
    public let sourceHeight: Int
    public let sourceFormat: SourcePixelFormat
    /// The matrix and range used (the override, or the stream's).
    public let matrix: ColourMatrix
    public let range: ColourRange

    private let crop: (x: Int, y: Int, width: Int, height: Int)
    private let resize: Bool
    // Colour: Yf = (Y − yOff)·yMul, Cf = (C − cOff)·cMul; R = Yf + crv·V, G = Yf − cgu·U − cgv·V, B = Yf + cbu·U.
    private let yOff: Float, yMul: Float, cOff: Float, cMul: Float
    private let crv: Float, cgu: Float, cgv: Float, cbu: Float
    // Scratch.
    private let ring: UnsafeMutablePointer<Float>      // ringRows × 3 planes × crop.width
    private let ringRows: Int
    private var ringIndex: [Int]                       // source row held in each ring slot
    private let uRow: UnsafeMutablePointer<Float>
    private let vRow: UnsafeMutablePointer<Float>
    private let outRow: UnsafeMutablePointer<UInt8>    // 3 × outputWidth
    private let lut: UnsafeMutablePointer<UInt32>      // 3 × 256 output bit patterns
    private let elementBytes: Int
    // Resize path: each plane resampled to the output size before colour conversion.
    private var resY: PlaneResampler?
    private var resU: PlaneResampler?
    private var resV: PlaneResampler?

    public init(config: TransformConfig, sourceWidth: Int, sourceHeight: Int, sourceFormat: SourcePixelFormat,
                streamMatrix: ColourMatrix, streamRange: ColourRange) throws(KernelError) {
        guard sourceWidth >= 1, sourceHeight >= 1 else { throw KernelError(.invalidSize, "source size \(sourceWidth)x\(sourceHeight) is empty") }
        self.config = config
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.sourceFormat = sourceFormat
        crop = try (config.crop ?? .pixels(x: 0, y: 0, width: sourceWidth, height: sourceHeight)).rectangle(width: sourceWidth, height: sourceHeight)
        if (config.outputWidth == nil) != (config.outputHeight == nil) {
            throw KernelError(.invalidSize, "give both output width and height")
        }
        outputWidth = config.outputWidth ?? crop.width
        outputHeight = config.outputHeight ?? crop.height
        guard outputWidth >= 1, outputHeight >= 1, outputWidth <= 16384, outputHeight <= 16384 else {
            throw KernelError(.invalidSize, "output size \(outputWidth)x\(outputHeight) must be 1…16384 each")
        }
        channels = config.channels == .gray ? 1 : 3
        let n = config.normalization
        guard n.scale.isFinite, n.scale != 0, !n.mean.isEmpty, n.mean.count == n.std.count,
              n.std.allSatisfy({ $0 != 0 && $0.isFinite }), n.mean.allSatisfy(\.isFinite) else {
            throw KernelError(.invalidOption, "normalization needs a non-zero scale and finite mean/std (std ≠ 0) per channel")
        }
        matrix = config.matrix ?? streamMatrix
        range = config.range ?? (sourceFormat == .yuvj420p ? .full : streamRange)

        let tenBit = sourceFormat == .yuv420p10le
        let maxV: Float = tenBit ? 1023 : 255
        let k: Float = tenBit ? 4 : 1
        if range == .limited {
            yOff = 16 * k; yMul = 255 / (219 * k); cOff = 128 * k; cMul = 255 / (224 * k)
        } else {
            yOff = 0; yMul = 255 / maxV; cOff = 128 * k; cMul = 255 / maxV
        }
        let (kr, kb) = matrix.coefficients
        let kg = 1 - kr - kb
        crv = 2 * (1 - kr)
        cbu = 2 * (1 - kb)
        cgu = 2 * kb * (1 - kb) / kg
        cgv = 2 * kr * (1 - kr) / kg

        resize = outputWidth != crop.width || outputHeight != crop.height
        if resize {
            let sample: PlaneResampler.Sample = sourceFormat == .yuv420p10le ? .u16le : .u8
            resY = PlaneResampler(plane: 0, sample: sample, width: sourceWidth, height: sourceHeight,
                                  originX: Double(crop.x), originY: Double(crop.y), spanX: Double(crop.width), spanY: Double(crop.height),
                                  outWidth: outputWidth, outHeight: outputHeight, filter: config.filter)
            if sourceFormat != .gray && config.channels != .gray {
                let (sx, sy) = sourceFormat.chromaShift
                let cw = -((-sourceWidth) >> sx), ch = -((-sourceHeight) >> sy)
                let fx = Double(1 << sx), fy = Double(1 << sy)
                let (cr, ow, oh, filt) = (crop, outputWidth, outputHeight, config.filter)
                let make = { (plane: Int, smp: PlaneResampler.Sample) -> PlaneResampler in
                    PlaneResampler(plane: plane, sample: smp, width: cw, height: ch,
                                   originX: Double(cr.x) / fx, originY: Double(cr.y) / fy,
                                   spanX: Double(cr.width) / fx, spanY: Double(cr.height) / fy,
                                   outWidth: ow, outHeight: oh, filter: filt)
                }
                if sourceFormat == .nv12 {
                    resU = make(1, .interleaved(0)); resV = make(1, .interleaved(1))
                } else {
                    resU = make(1, sample); resV = make(2, sample)
                }
            }
        }
        ringRows = 2
        ring = .allocate(capacity: ringRows * 3 * crop.width)
        ringIndex = Array(repeating: -1, count: ringRows)
        uRow = .allocate(capacity: crop.width)
        vRow = .allocate(capacity: crop.width)
        outRow = .allocate(capacity: 3 * outputWidth)
        elementBytes = config.dtype.byteWidth
        lut = .allocate(capacity: 3 * 256)
        let order: [Int] = config.channels == .bgr ? [2, 1, 0] : [0, 1, 2]
        for c in 0..<3 {
            // Table for output channel c, whose values come from source channel order[c].
            let statChannel = config.channels == .gray ? 0 : order[c]
            for v in 0..<256 {
                let x = n.apply(Float(v), channel: statChannel)
                let bits: UInt32
                switch config.dtype {
                case .u8: bits = UInt32(max(0, min(255, x.rounded(.toNearestOrEven))))
                case .f16: bits = UInt32(HalfConversion.f16Bits(x))
                case .bf16: bits = UInt32(HalfConversion.bf16Bits(x))
                case .f32: bits = x.bitPattern
                }
                lut[c * 256 + v] = bits
            }
        }
    }

    deinit {
        ring.deallocate(); uRow.deallocate(); vRow.deallocate()
        outRow.deallocate(); lut.deallocate()
    }

    /// `[C, H, W]` (chw) or `[H, W, C]` (hwc).
    public var outputShape: [Int] {
        config.layout == .chw ? [channels, outputHeight, outputWidth] : [outputHeight, outputWidth, channels]
    }

    /// Bytes `transform` writes.
    public var outputByteCount: Int { channels * outputHeight * outputWidth * elementBytes }

    /// Transforms one frame into `output` (at least `outputByteCount` bytes).
    public func transform(_ image: SourceImage, into output: UnsafeMutableRawBufferPointer) throws(KernelError) {
        guard image.format == sourceFormat, image.width == sourceWidth, image.height == sourceHeight else {
            throw KernelError(.unsupportedFormat, "frame is \(image.width)x\(image.height) \(image.format.rawValue); this transformer was made for \(sourceWidth)x\(sourceHeight) \(sourceFormat.rawValue)")
        }
        guard output.count >= outputByteCount, let out = output.baseAddress else {
            throw KernelError(.bufferTooSmall, "output buffer has \(output.count) bytes; \(outputByteCount) needed")
        }
        if image.format != .gray && image.format != .nv12 && (image.planes.1 == nil || image.planes.2 == nil) {
            throw KernelError(.unsupportedFormat, "\(image.format.rawValue) frame lacks its chroma planes")
        }
        if image.format == .nv12 && image.planes.1 == nil {
            throw KernelError(.unsupportedFormat, "nv12 frame lacks its UV plane")
        }
        for i in 0..<ringRows { ringIndex[i] = -1 }
        resY?.reset(); resU?.reset(); resV?.reset()
        let cw = crop.width
        for y in 0..<outputHeight {
            if let resY {
                resY.row(y, base: image.planes.0, stride: image.strides.0)
                let Y = resY.out
                let R = outRow, G = outRow + outputWidth, B = outRow + 2 * outputWidth
                let (yOff, yMul, cOff, cMul) = (self.yOff, self.yMul, self.cOff, self.cMul)
                if let resU, let resV {
                    resU.row(y, base: image.planes.1!, stride: image.strides.1)
                    resV.row(y, base: resU.plane == resV.plane ? image.planes.1! : image.planes.2!,
                             stride: resU.plane == resV.plane ? image.strides.1 : image.strides.2)
                    let U = resU.out, V = resV.out
                    let (crv, cgu, cgv, cbu) = (self.crv, self.cgu, self.cgv, self.cbu)
                    for x in 0..<outputWidth {
                        let yv = (Y[x] - yOff) * yMul, u = (U[x] - cOff) * cMul, v = (V[x] - cOff) * cMul
                        R[x] = Self.toByte(yv + crv * v)
                        G[x] = Self.toByte(yv - cgu * u - cgv * v)
                        B[x] = Self.toByte(yv + cbu * u)
                    }
                } else {
                    for x in 0..<outputWidth {
                        let b = Self.toByte((Y[x] - yOff) * yMul)
                        R[x] = b; G[x] = b; B[x] = b
                    }
                }
            } else {
                let row = rgbRow(y, image)
                for i in 0..<(3 * cw) { outRow[i] = Self.toByte(row[i]) }
            }
            store(row: y, into: out)
        }
    }

    @inline(__always)
    private static func toByte(_ v: Float) -> UInt8 {
        // Clamp, then truncate v + 0.5 (cvttss2si): no call to floorf, which baseline x86-64
        // (without SSE4.1's roundps) cannot inline.
        let c = v < 0 ? 0 : (v > 255 ? 255 : v)
        return UInt8(truncatingIfNeeded: Int32(c + 0.5))
    }

    /// Source row `r` of the crop, as three float planes (R, G, B; or luma ×3 for gray output),
    /// converted once and kept in the ring while the vertical filter needs it.
    private func rgbRow(_ r: Int, _ img: SourceImage) -> UnsafeMutablePointer<Float> {
        let slot = r % ringRows
        let cw = crop.width
        let dst = ring + slot * 3 * cw
        if ringIndex[slot] == r { return dst }
        ringIndex[slot] = r
        let sy = crop.y + r
        let x0 = crop.x
        let R = dst, G = dst + cw, B = dst + 2 * cw
        let (yOff, yMul, cOff, cMul) = (self.yOff, self.yMul, self.cOff, self.cMul)
        // Luma into R (temporarily).
        if sourceFormat == .yuv420p10le {
            let row = (img.planes.0 + sy * img.strides.0).assumingMemoryBound(to: UInt16.self) + x0
            for i in 0..<cw { R[i] = (Float(UInt16(littleEndian: row[i])) - yOff) * yMul }
        } else {
            let row = (img.planes.0 + sy * img.strides.0).assumingMemoryBound(to: UInt8.self) + x0
            for i in 0..<cw { R[i] = (Float(row[i]) - yOff) * yMul }
        }
        if sourceFormat == .gray || config.channels == .gray {
            for i in 0..<cw { G[i] = R[i]; B[i] = R[i] }
            return dst
        }
        // Chroma (nearest sample, as libswscale's unscaled converters do), expanded to crop width.
        let (sx, syShift) = sourceFormat.chromaShift
        let cy = sy >> syShift
        switch sourceFormat {
        case .nv12:
            let row = (img.planes.1! + cy * img.strides.1).assumingMemoryBound(to: UInt8.self)
            for i in 0..<cw {
                let cx = (x0 + i) >> sx
                uRow[i] = (Float(row[2 * cx]) - cOff) * cMul
                vRow[i] = (Float(row[2 * cx + 1]) - cOff) * cMul
            }
        case .yuv420p10le:
            let ur = (img.planes.1! + cy * img.strides.1).assumingMemoryBound(to: UInt16.self)
            let vr = (img.planes.2! + cy * img.strides.2).assumingMemoryBound(to: UInt16.self)
            for i in 0..<cw {
                let cx = (x0 + i) >> sx
                uRow[i] = (Float(UInt16(littleEndian: ur[cx])) - cOff) * cMul
                vRow[i] = (Float(UInt16(littleEndian: vr[cx])) - cOff) * cMul
            }
        default:
            let ur = (img.planes.1! + cy * img.strides.1).assumingMemoryBound(to: UInt8.self)
            let vr = (img.planes.2! + cy * img.strides.2).assumingMemoryBound(to: UInt8.self)
            if sx == 0 {
                for i in 0..<cw {
                    uRow[i] = (Float(ur[x0 + i]) - cOff) * cMul
                    vRow[i] = (Float(vr[x0 + i]) - cOff) * cMul
                }
            } else {
                for i in 0..<cw {
                    let cx = (x0 + i) >> sx
                    uRow[i] = (Float(ur[cx]) - cOff) * cMul
                    vRow[i] = (Float(vr[cx]) - cOff) * cMul
                }
            }
        }
        let (crv, cgu, cgv, cbu) = (self.crv, self.cgu, self.cgv, self.cbu)
        let U = uRow, V = vRow
        for i in 0..<cw {
            let yv = R[i], u = U[i], v = V[i]
            G[i] = yv - cgu * u - cgv * v
            B[i] = yv + cbu * u
            R[i] = yv + crv * v
        }
        return dst
    }

    /// Writes output row `y` (outRow, 8-bit per channel) through the per-channel tables.
    private func store(row y: Int, into out: UnsafeMutableRawPointer) {
        let w = outputWidth, h = outputHeight, ch = channels
        let lut = self.lut
        // Channel c of the output takes source plane srcPlane[c] (BGR swaps; gray uses R=luma).
        let swap = config.channels == .bgr
        for c in 0..<ch {
            let plane = outRow + (swap ? 2 - c : c) * w
            let table = lut + c * 256
            switch (config.layout, elementBytes) {
            case (.chw, 1):
                let dst = out.assumingMemoryBound(to: UInt8.self) + (c * h + y) * w
                for x in 0..<w { dst[x] = UInt8(truncatingIfNeeded: table[Int(plane[x])]) }
            case (.chw, 2):
                let dst = out.assumingMemoryBound(to: UInt16.self) + (c * h + y) * w
                for x in 0..<w { dst[x] = UInt16(truncatingIfNeeded: table[Int(plane[x])]).littleEndian }
            case (.chw, _):
                let dst = out.assumingMemoryBound(to: UInt32.self) + (c * h + y) * w
                for x in 0..<w { dst[x] = table[Int(plane[x])].littleEndian }
            case (.hwc, 1):
                let dst = out.assumingMemoryBound(to: UInt8.self) + y * w * ch + c
                for x in 0..<w { dst[x * ch] = UInt8(truncatingIfNeeded: table[Int(plane[x])]) }
            case (.hwc, 2):
                let dst = out.assumingMemoryBound(to: UInt16.self) + y * w * ch + c
                for x in 0..<w { dst[x * ch] = UInt16(truncatingIfNeeded: table[Int(plane[x])]).littleEndian }
            case (.hwc, _):
                let dst = out.assumingMemoryBound(to: UInt32.self) + y * w * ch + c
                for x in 0..<w { dst[x * ch] = table[Int(plane[x])].littleEndian }
            }
        }
    }
}
