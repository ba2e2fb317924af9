import Foundation
import Testing
@testable import FleetKernels

/// Runs `t` on a tightly packed raw frame and returns the output bytes.
func run(_ t: FrameTransformer, _ raw: Data, _ format: SourcePixelFormat, _ w: Int, _ h: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0xAA, count: t.outputByteCount)
    try withSourceImage(raw, format: format, width: w, height: h) { image in
        try out.withUnsafeMutableBytes { try t.transform(image, into: $0) }
    }
    return out
}

func floats(_ bytes: [UInt8]) -> [Float] {
    bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

func halves(_ bytes: [UInt8]) -> [UInt16] {
    bytes.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
}

/// A 16x16 full-range yuv444p frame whose luma runs through all 256 values and whose chroma is
/// neutral, so every output colour equals the luma value exactly.
let rampFrame: Data = {
    var d = Data((0..<256).map { UInt8($0) })
    d.append(Data(repeating: 128, count: 512))
    return d
}()

func rampTransformer(_ n: Normalization, _ dtype: ElementType, _ channels: ChannelOrder = .rgb,
                     _ layout: TensorLayout = .chw) throws -> FrameTransformer {
    try FrameTransformer(config: TransformConfig(channels: channels, normalization: n, dtype: dtype, layout: layout),
                         sourceWidth: 16, sourceHeight: 16, sourceFormat: .yuv444p,
                         streamMatrix: .bt601, streamRange: .full)
}

@Suite struct NormalizationTests {
    /// Hand-computed values of each preset at a few pixel values, through the whole transform.
    @Test(arguments: [
        ("imagenet", 0, [-2.1179039, -2.0357143, -1.8044444]),
        ("imagenet", 255, [2.2489083, 2.4285715, 2.64]),
        ("imagenet", 128, [0.0740645, 0.2051821, 0.4264924]),
        ("unit", 0, [0, 0, 0]), ("unit", 51, [0.2, 0.2, 0.2]), ("unit", 255, [1, 1, 1]),
        ("symmetric", 0, [-1, -1, -1]), ("symmetric", 51, [-0.6, -0.6, -0.6]), ("symmetric", 255, [1, 1, 1]),
        ("none", 0, [0, 0, 0]), ("none", 200, [200, 200, 200]), ("none", 255, [255, 255, 255]),
        ("255:0.5:0.25", 255, [2, 2, 2]), ("1:10,20,30:2,4,5", 100, [45, 20, 14]),
    ] as [(String, Int, [Float])])
    func presetValues(_ preset: String, _ pixel: Int, _ expected: [Float]) throws {
        let n = try Normalization(preset: preset)
        let t = try rampTransformer(n, .f32)
        let out = floats(try run(t, rampFrame, .yuv444p, 16, 16))
        for c in 0..<3 {
            let got = out[c * 256 + pixel]
            #expect(abs(got - expected[c]) <= 1e-5 * max(1, abs(expected[c])), "\(preset) x=\(pixel) c=\(c): \(got)")
        }
    }

    /// f16 and bf16 output = exact RNE conversion of the Float normalized value, for all 256 inputs.
    @Test(arguments: ["imagenet", "unit", "symmetric", "none"])
    func halfOutputsAreExact(_ preset: String) throws {
        let n = try Normalization(preset: preset)
        let f32 = floats(try run(rampTransformer(n, .f32), rampFrame, .yuv444p, 16, 16))
        let f16 = halves(try run(rampTransformer(n, .f16), rampFrame, .yuv444p, 16, 16))
        let bf16 = halves(try run(rampTransformer(n, .bf16), rampFrame, .yuv444p, 16, 16))
        #expect(f16 == f32.map { Float16($0).bitPattern })
        #expect(bf16 == f32.map(referenceBF16))
    }

    @Test func presetsAndParsing() throws {
        #expect(Normalization.imagenet.mean == [0.485, 0.456, 0.406])
        #expect(Normalization.imagenet.std == [0.229, 0.224, 0.225])
        #expect(Normalization.unit == Normalization(scale: 255, mean: [0], std: [1]))
        #expect(Normalization.symmetric == Normalization(scale: 127.5, mean: [1], std: [1]))
        #expect(try Normalization(preset: "ImageNet") == .imagenet)
        #expect(try Normalization(preset: "255:0.5,0.4,0.3:0.2,0.2,0.2").mean == [0.5, 0.4, 0.3])
        for bad in ["", "bogus", "255:0.5", "0:0:1", "255:0:0", "255:1,2:1", "x:0:1"] {
            #expect(throws: KernelError.self, "\(bad)") { try Normalization(preset: bad) }
        }
    }

    @Test func u8RequiresRawValues() throws {
        #expect(throws: KernelError.self) { try rampTransformer(.unit, .u8) }
        let out = try run(rampTransformer(.none, .u8), rampFrame, .yuv444p, 16, 16)
        #expect(Array(out[0..<256]) == (0..<256).map { UInt8($0) })
    }
}

@Suite struct LayoutTests {
    func fixture(_ name: String) throws -> OracleCase {
        try #require(Fixtures.cases.first { $0.name == name })
    }

    func transform(_ c: OracleCase, channels: ChannelOrder, n: Normalization, dtype: ElementType,
                   layout: TensorLayout) throws -> (FrameTransformer, [UInt8]) {
        let format = SourcePixelFormat(rawValue: c.format)!
        let t = try FrameTransformer(
            config: TransformConfig(crop: try c.crop.map { try CropSpec(parsing: $0) }, outputWidth: c.outWidth,
                                    outputHeight: c.outHeight, filter: ResizeFilter(rawValue: c.filter)!,
                                    channels: channels, normalization: n, dtype: dtype, layout: layout),
            sourceWidth: c.width, sourceHeight: c.height, sourceFormat: format,
            streamMatrix: ColourMatrix(rawValue: c.matrix)!, streamRange: ColourRange(rawValue: c.range)!)
        return (t, try run(t, try Fixtures.data(c.source), format, c.width, c.height))
    }

    /// CHW and HWC hold the same values, for every dtype.
    @Test(arguments: ElementType.allCases)
    func chwEqualsHWC(_ dtype: ElementType) throws {
        let c = try fixture("big_bilinear")
        let n: Normalization = dtype == .u8 ? .none : .imagenet
        let (t1, chw) = try transform(c, channels: .rgb, n: n, dtype: dtype, layout: .chw)
        let (t2, hwc) = try transform(c, channels: .rgb, n: n, dtype: dtype, layout: .hwc)
        #expect(t1.outputShape == [3, c.outHeight, c.outWidth])
        #expect(t2.outputShape == [c.outHeight, c.outWidth, 3])
        let bw = dtype.byteWidth, hw = c.outWidth * c.outHeight
        var same = true
        for p in 0..<hw {
            for ch in 0..<3 where chw[(ch * hw + p) * bw..<(ch * hw + p + 1) * bw] != hwc[(p * 3 + ch) * bw..<(p * 3 + ch + 1) * bw] {
                same = false
            }
        }
        #expect(same)
    }

    /// BGR is RGB with channels swapped; normalization statistics follow their colour.
    @Test(arguments: [Normalization.none, .imagenet])
    func bgrSwapsChannels(_ n: Normalization) throws {
        let c = try fixture("main420_bt709")
        let dtype: ElementType = n == .none ? .u8 : .f32
        let (_, rgb) = try transform(c, channels: .rgb, n: n, dtype: dtype, layout: .chw)
        let (_, bgr) = try transform(c, channels: .bgr, n: n, dtype: dtype, layout: .chw)
        let plane = c.outWidth * c.outHeight * dtype.byteWidth
        #expect(bgr[0..<plane] == rgb[2 * plane..<3 * plane])
        #expect(bgr[plane..<2 * plane] == rgb[plane..<2 * plane])
        #expect(bgr[2 * plane..<3 * plane] == rgb[0..<plane])
        if n == .none { // against ffmpeg's rgb24, reordered
            let oracle = [UInt8](try Fixtures.data("\(c.name).oracle.raw"))
            let (_, bgrHWC) = try transform(c, channels: .bgr, n: n, dtype: .u8, layout: .hwc)
            var swapped = oracle
            for p in 0..<(oracle.count / 3) { swapped.swapAt(3 * p, 3 * p + 2) }
            #expect(psnr(bgrHWC, swapped).psnr >= 40)
        }
    }

    /// Gray output is one channel of range-expanded luma, and normalizes with the first statistic.
    @Test func grayOutput() throws {
        let c = try fixture("main420_gray")
        let (t, u8) = try transform(c, channels: .gray, n: .none, dtype: .u8, layout: .chw)
        #expect(t.channels == 1 && t.outputShape == [1, 120, 160])
        #expect(u8 == [UInt8](try Fixtures.data("main420_gray.oracle.raw")))
        let (_, f32) = try transform(c, channels: .gray, n: .imagenet, dtype: .f32, layout: .hwc)
        // ImageNet's first statistic by hand, in Double: (x / 255 − 0.485) / 0.229.
        let expected = u8.map { (Double($0) / 255 - 0.485) / 0.229 }
        #expect(zip(floats(f32), expected).allSatisfy { abs(Double($0) - $1) <= 1e-5 * max(1, abs($1)) })
        // Limited-range luma 16 -> 0 and 235 -> 255.
        var frame = Data([16, 235, 16, 235]); frame.append(Data([128, 128]))
        let t2 = try FrameTransformer(config: TransformConfig(channels: .gray, normalization: .none, dtype: .u8),
                                      sourceWidth: 2, sourceHeight: 2, sourceFormat: .yuv420p,
                                      streamMatrix: .bt709, streamRange: .limited)
        #expect(try run(t2, frame, .yuv420p, 2, 2) == [0, 255, 0, 255])
    }

    /// Fraction crops select the same pixels as the equivalent pixel crop.
    @Test func fractionCropMatchesPixelCrop() throws {
        let raw = try Fixtures.data("main420.src.raw")
        func out(_ crop: CropSpec) throws -> [UInt8] {
            let t = try FrameTransformer(config: TransformConfig(crop: crop, outputWidth: 40, outputHeight: 30),
                                         sourceWidth: 160, sourceHeight: 120, sourceFormat: .yuv420p,
                                         streamMatrix: .bt601, streamRange: .limited)
            return try run(t, raw, .yuv420p, 160, 120)
        }
        let a = try out(CropSpec(parsing: "0.25,0.5,0.5,0.25"))
        let b = try out(.pixels(x: 40, y: 60, width: 80, height: 30))
        #expect(a == b)
    }

    /// The same transformer gives identical output frame after frame.
    @Test func repeatableAcrossFrames() throws {
        let c = try fixture("hevc10_area_160x120")
        let format = SourcePixelFormat(rawValue: c.format)!
        let t = try FrameTransformer(config: TransformConfig(outputWidth: 100, outputHeight: 70, filter: .area,
                                                             normalization: .imagenet, dtype: .bf16),
                                     sourceWidth: c.width, sourceHeight: c.height, sourceFormat: format,
                                     streamMatrix: .bt709, streamRange: .limited)
        let raw = try Fixtures.data(c.source)
        let first = try run(t, raw, format, c.width, c.height)
        for _ in 0..<3 { #expect(try run(t, raw, format, c.width, c.height) == first) }
    }

    /// The matrix and range really matter: the other matrix / range is far from ffmpeg's output.
    @Test func wrongMatrixOrRangeIsDetected() throws {
        for (name, matrix, range) in [("main420_bt601", ColourMatrix.bt709, ColourRange.limited),
                                      ("main420_bt709", .bt601, .limited),
                                      ("mainj420_bt601_full", .bt601, .limited),
                                      ("yuv444p_bt709_full", .bt709, .limited)] {
            let c = try fixture(name)
            let format = SourcePixelFormat(rawValue: c.format)!
            let t = try FrameTransformer(config: TransformConfig(matrix: matrix, range: range, normalization: .none,
                                                                 dtype: .u8, layout: .hwc),
                                         sourceWidth: c.width, sourceHeight: c.height, sourceFormat: format,
                                         streamMatrix: .bt601, streamRange: .full)
            let p = psnr(try run(t, try Fixtures.data(c.source), format, c.width, c.height),
                         [UInt8](try Fixtures.data("\(c.name).oracle.raw"))).psnr
            #expect(p < 35, "\(name) with \(matrix)/\(range): \(p) dB")
        }
    }
}

@Suite struct ConfigTests {
    func make(_ config: TransformConfig, _ w: Int = 160, _ h: Int = 120, _ f: SourcePixelFormat = .yuv420p) throws(KernelError) -> FrameTransformer {
        try FrameTransformer(config: config, sourceWidth: w, sourceHeight: h, sourceFormat: f,
                             streamMatrix: .bt601, streamRange: .limited)
    }

    func kind(_ body: () throws -> Void) -> KernelError.Kind? {
        do { try body(); return nil } catch { return (error as? KernelError)?.kind }
    }

    @Test func defaults() throws {
        let c = TransformConfig()
        #expect(c.crop == nil && c.outputWidth == nil && c.filter == .bilinear && c.channels == .rgb)
        #expect(c.normalization == .unit && c.dtype == .f16 && c.layout == .chw)
        let t = try make(c)
        #expect(t.outputShape == [3, 120, 160] && t.outputByteCount == 3 * 120 * 160 * 2)
        #expect(t.matrix == .bt601 && t.range == .limited)
        let j = try make(c, 160, 120, .yuvj420p)
        #expect(j.range == .full)   // yuvj420p is full range whatever the stream says
        #expect(try make(TransformConfig(matrix: .bt709, range: .full)).matrix == .bt709)
    }

    @Test func cropParsing() throws {
        #expect(try CropSpec(parsing: "10,20,30,40") == .pixels(x: 10, y: 20, width: 30, height: 40))
        #expect(try CropSpec(parsing: "0.1, 0.2, 0.5, 0.5") == .fractions(x: 0.1, y: 0.2, width: 0.5, height: 0.5))
        #expect(try CropSpec(parsing: "0,0,1.0,1") == .fractions(x: 0, y: 0, width: 1, height: 1))
        for bad in ["", "1,2,3", "1,2,3,4,5", "a,0,1,1", "-1,0,10,10", "0,0,1.5,1", "0.1,0.1,-0.5,0.5"] {
            #expect(kind { _ = try CropSpec(parsing: bad) } == .invalidCrop, "\(bad)")
        }
    }

    /// Crops outside the frame fail at init, before any frame is touched.
    @Test func cropOutsideFrameIsAnError() {
        for crop in [CropSpec.pixels(x: 100, y: 0, width: 61, height: 10), .pixels(x: 0, y: 119, width: 10, height: 2),
                     .pixels(x: 0, y: 0, width: 0, height: 10), .pixels(x: -2, y: 0, width: 10, height: 10),
                     .fractions(x: 0.6, y: 0, width: 0.5, height: 1), .fractions(x: 0, y: 0, width: 0.001, height: 1)] {
            #expect(kind { _ = try make(TransformConfig(crop: crop)) } == .invalidCrop, "\(crop)")
        }
        #expect(kind { _ = try make(TransformConfig(crop: .pixels(x: 0, y: 0, width: 160, height: 120))) } == nil)
        let e = KernelError(.invalidCrop, "x")
        #expect(e.description == "invalidCrop: x")
    }

    @Test func sizeParsingAndValidation() throws {
        #expect(try TransformConfig.parseSize("640x480") == (640, 480))
        #expect(try TransformConfig.parseSize("64X48") == (64, 48))
        for bad in ["640", "640x", "x480", "0x10", "10x-1", "axb", "1x2x3"] {
            #expect(kind { _ = try TransformConfig.parseSize(bad) } == .invalidSize, "\(bad)")
        }
        #expect(kind { _ = try make(TransformConfig(outputWidth: 0)) } == .invalidSize)
        #expect(kind { _ = try make(TransformConfig(), 0, 10) } == .invalidSize)
    }

    @Test func transformErrors() throws {
        let t = try make(TransformConfig(outputWidth: 8, outputHeight: 6))
        let raw = try Fixtures.data("main420.src.raw")
        var short = [UInt8](repeating: 0, count: t.outputByteCount - 1)
        withSourceImage(raw, format: .yuv420p, width: 160, height: 120) { image in
            #expect(kind { try short.withUnsafeMutableBytes { b in try t.transform(image, into: b) } } == .bufferTooSmall)
        }
        var out = [UInt8](repeating: 0, count: t.outputByteCount)
        withSourceImage(raw, format: .yuv444p, width: 160, height: 40) { image in
            #expect(kind { try out.withUnsafeMutableBytes { b in try t.transform(image, into: b) } } == .unsupportedFormat)
        }
        raw.withUnsafeBytes { buf in
            let noChroma = SourceImage(format: .yuv420p, width: 160, height: 120, plane0: buf.baseAddress!, stride0: 160)
            #expect(kind { try out.withUnsafeMutableBytes { b in try t.transform(noChroma, into: b) } } == .unsupportedFormat)
        }
    }
}

@Suite struct StrideTests {
    /// FFmpeg frames have padded linesizes: the same frame with padded planes gives identical output.
    @Test(arguments: ["main420_bilinear_96x72", "nv12_bilinear_112x84", "odd422_area_crop", "hevc10_area_160x120", "gray_area_80x60"])
    func paddedStridesGiveSameOutput(_ name: String) throws {
        let c = try #require(Fixtures.cases.first { $0.name == name })
        let format = SourcePixelFormat(rawValue: c.format)!
        let t = try FrameTransformer(
            config: TransformConfig(crop: try c.crop.map { try CropSpec(parsing: $0) }, outputWidth: c.outWidth,
                                    outputHeight: c.outHeight, filter: ResizeFilter(rawValue: c.filter)!,
                                    normalization: .symmetric, dtype: .f32, layout: .hwc),
            sourceWidth: c.width, sourceHeight: c.height, sourceFormat: format,
            streamMatrix: ColourMatrix(rawValue: c.matrix)!, streamRange: ColourRange(rawValue: c.range)!)
        let raw = [UInt8](try Fixtures.data(c.source))
        let packed = try run(t, Data(raw), format, c.width, c.height)

        // Re-lay the planes with 37 bytes of junk after every row.
        let bps = format == .yuv420p10le ? 2 : 1
        let cw = format.chromaShiftX == 1 ? (c.width + 1) / 2 : c.width
        let ch = format.chromaShiftY == 1 ? (c.height + 1) / 2 : c.height
        var planes: [(rowBytes: Int, rows: Int)] = [(c.width * bps, c.height)]
        switch format {
        case .gray: break
        case .nv12: planes.append((2 * cw, ch))
        default: planes += [(cw * bps, ch), (cw * bps, ch)]
        }
        var buffers: [[UInt8]] = []
        var offset = 0
        for p in planes {
            var b: [UInt8] = []
            for r in 0..<p.rows {
                b += raw[(offset + r * p.rowBytes)..<(offset + (r + 1) * p.rowBytes)]
                b += [UInt8](repeating: 0xEE, count: 37)
            }
            offset += p.rows * p.rowBytes
            buffers.append(b)
        }
        var out = [UInt8](repeating: 0, count: t.outputByteCount)
        let pointers = buffers.map { b -> UnsafeMutableRawPointer in
            let m = UnsafeMutableRawPointer.allocate(byteCount: b.count, alignment: 16)
            m.copyMemory(from: b, byteCount: b.count)
            return m
        }
        defer { pointers.forEach { $0.deallocate() } }
        let image = SourceImage(format: format, width: c.width, height: c.height,
                                plane0: pointers[0], stride0: planes[0].rowBytes + 37,
                                plane1: pointers.count > 1 ? UnsafeRawPointer(pointers[1]) : nil,
                                stride1: planes.count > 1 ? planes[1].rowBytes + 37 : 0,
                                plane2: pointers.count > 2 ? UnsafeRawPointer(pointers[2]) : nil,
                                stride2: planes.count > 2 ? planes[2].rowBytes + 37 : 0)
        try out.withUnsafeMutableBytes { try t.transform(image, into: $0) }
        #expect(out == packed)
    }
}

@Suite struct RandomizedTests {
    /// Expected 8-bit RGB of one YUV sample, by the textbook formula in Double.
    static func rgb(_ y: Double, _ u: Double, _ v: Double, _ m: ColourMatrix, _ r: ColourRange, tenBit: Bool) -> [Double] {
        let (kr, kb) = m == .bt601 ? (0.299, 0.114) : (0.2126, 0.0722)
        let kg = 1 - kr - kb
        let d = tenBit ? 4.0 : 1.0
        let (yy, cb, cr): (Double, Double, Double) = r == .limited
            ? ((y / d - 16) * 255 / 219, (u / d - 128) * 255 / 224, (v / d - 128) * 255 / 224)
            : (y * (tenBit ? 255 / 1023 : 1), (u - 128 * d) * (tenBit ? 255 / 1023 : 1), (v - 128 * d) * (tenBit ? 255 / 1023 : 1))
        return [yy + 2 * (1 - kr) * cr, yy - 2 * kb * (1 - kb) / kg * cb - 2 * kr * (1 - kr) / kg * cr, yy + 2 * (1 - kb) * cb]
            .map { min(max($0, 0), 255) }
    }

    /// Many random formats, sizes (odd included), crops (odd offsets included), output sizes
    /// (shrink and enlarge, down to 1x1), filters and padded strides on constant-colour frames:
    /// every output pixel must equal the colour conversion of that one colour (filter weights sum
    /// to 1, edges clamp inside the crop window), and nothing reads outside the planes.
    @Test func constantFramesStayConstant() throws {
        var rng: UInt64 = 0xC0FFEE
        func next(_ n: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(n))
        }
        for iteration in 0..<300 {
            let format = SourcePixelFormat.allCases[next(SourcePixelFormat.allCases.count)]
            let w = 1 + next(70), h = 1 + next(50)
            let cw = 1 + next(w), ch = 1 + next(h)
            let cx = next(w - cw + 1), cy = next(h - ch + 1)
            let ow = 1 + next(90), oh = 1 + next(60)
            let filter: ResizeFilter = next(2) == 0 ? .bilinear : .area
            let matrix: ColourMatrix = next(2) == 0 ? .bt601 : .bt709
            let range: ColourRange = format == .yuvj420p ? .full : (next(2) == 0 ? .limited : .full)
            let channels: ChannelOrder = [.rgb, .bgr, .gray][next(3)]
            let tenBit = format == .yuv420p10le
            let maxV = tenBit ? 1023 : 255
            let yv = next(maxV + 1), uv = format == .gray ? 128 * (tenBit ? 4 : 1) : next(maxV + 1), vv = format == .gray ? 128 : next(maxV + 1)
            let bps = tenBit ? 2 : 1
            let pad = next(9)
            let cwid = format.chromaShiftX == 1 ? (w + 1) / 2 : w, chei = format.chromaShiftY == 1 ? (h + 1) / 2 : h
            func plane(_ rowSamples: Int, _ rows: Int, _ values: [Int]) -> (UnsafeMutableRawPointer, Int) {
                let stride = rowSamples * bps + pad
                let p = UnsafeMutableRawPointer.allocate(byteCount: stride * rows, alignment: 1)
                for r in 0..<rows {
                    for s in 0..<rowSamples {
                        let v = values[s % values.count]
                        if tenBit { p.storeBytes(of: UInt16(v), toByteOffset: r * stride + 2 * s, as: UInt16.self) }
                        else { p.storeBytes(of: UInt8(v), toByteOffset: r * stride + s, as: UInt8.self) }
                    }
                    for b in 0..<pad { p.storeBytes(of: 0xEE, toByteOffset: r * stride + rowSamples * bps + b, as: UInt8.self) }
                }
                return (p, stride)
            }
            let p0 = plane(w, h, [yv])
            var planes = [p0]
            switch format {
            case .gray: break
            case .nv12: planes.append(plane(2 * cwid, chei, [uv, vv]))
            default: planes += [plane(cwid, chei, [uv]), plane(cwid, chei, [vv])]
            }
            defer { planes.forEach { $0.0.deallocate() } }
            let image = SourceImage(format: format, width: w, height: h, plane0: planes[0].0, stride0: planes[0].1,
                                    plane1: planes.count > 1 ? UnsafeRawPointer(planes[1].0) : nil,
                                    stride1: planes.count > 1 ? planes[1].1 : 0,
                                    plane2: planes.count > 2 ? UnsafeRawPointer(planes[2].0) : nil,
                                    stride2: planes.count > 2 ? planes[2].1 : 0)
            let t = try FrameTransformer(
                config: TransformConfig(crop: .pixels(x: cx, y: cy, width: cw, height: ch), outputWidth: ow, outputHeight: oh,
                                        filter: filter, matrix: matrix, range: range, channels: channels,
                                        normalization: .none, dtype: .u8, layout: .hwc),
                sourceWidth: w, sourceHeight: h, sourceFormat: format, streamMatrix: .bt601, streamRange: .limited)
            var out = [UInt8](repeating: 0, count: t.outputByteCount + 16)
            try out.withUnsafeMutableBytes { try t.transform(image, into: $0) }
            #expect(out[t.outputByteCount...].allSatisfy { $0 == 0 }, "wrote past the output")
            let c = t.channels
            let first = Array(out[0..<c])
            var constant = true
            for p in 0..<(ow * oh) where Array(out[(p * c)..<(p * c + c)]) != first { constant = false }
            // gbrp: planes G, B, R; no matrix or range; gray is BT.601 luma at full range.
            let rgbSource = format == .gbrp
            let want = rgbSource ? [Double(vv), Double(yv), Double(uv)]
                                 : Self.rgb(Double(yv), Double(uv), Double(vv), matrix, range, tenBit: tenBit)
            let expected: [Double] = switch channels {
            case .rgb: want
            case .bgr: want.reversed()
            case .gray: rgbSource ? [0.299 * Double(vv) + 0.587 * Double(yv) + 0.114 * Double(uv)]
                : [range == .limited ? min(max((Double(yv) / (tenBit ? 4 : 1) - 16) * 255 / 219, 0), 255)
                                     : Double(yv) * (tenBit ? 255 / 1023 : 1)]
            }
            let close = zip(first, expected).allSatisfy { abs(Double($0) - $1) <= 1.5 }
            #expect(constant && close,
                    "#\(iteration) \(format) \(w)x\(h) crop \(cw)x\(ch)@\(cx),\(cy) -> \(ow)x\(oh) \(filter) \(channels) \(matrix) \(range) yuv=\(yv),\(uv),\(vv): got \(first) want \(expected) constant=\(constant)")
        }
    }
}
