import FleetKernels
import Testing

/// Normalization, element types, layouts and channel order on frames whose RGB value is known
/// by hand (full-range 4:4:4 with neutral chroma: R = G = B = Y).
@Suite struct NormalizationLayoutTests {
    /// A 4×2 yuv444p full-range frame: luma values 0, 10, …, U = V = 128.
    static func withFrame<R>(_ body: (SourceImage) throws -> R) rethrows -> R {
        let y: [UInt8] = [0, 10, 20, 30, 40, 50, 60, 255]
        let uv = [UInt8](repeating: 128, count: 8)
        return try y.withUnsafeBytes { yp in
            try uv.withUnsafeBytes { cp in
                try body(SourceImage(format: .yuv444p, width: 4, height: 2, plane0: yp.baseAddress!, stride0: 4,
                                     plane1: cp.baseAddress!, stride1: 4, plane2: cp.baseAddress!, stride2: 4))
            }
        }
    }

    static func run(_ cfg: TransformConfig) throws -> [UInt8] {
        let t = try FrameTransformer(config: cfg, sourceWidth: 4, sourceHeight: 2, sourceFormat: .yuv444p, streamMatrix: .bt601, streamRange: .full)
        var out = [UInt8](repeating: 0xEE, count: t.outputByteCount)
        try withFrame { img in try out.withUnsafeMutableBytes { try t.transform(img, into: $0) } }
        return out
    }

    static func floats(_ b: [UInt8]) -> [Float] {
        stride(from: 0, to: b.count, by: 4).map { Float(bitPattern: UInt32(b[$0]) | UInt32(b[$0 + 1]) << 8 | UInt32(b[$0 + 2]) << 16 | UInt32(b[$0 + 3]) << 24) }
    }

    @Test func presetsMatchHandComputedValues() throws {
        let pixels: [Float] = [0, 10, 20, 30, 40, 50, 60, 255]
        let presets: [(String, (Float, Int) -> Float)] = [
            ("imagenet", { x, c in (x / 255 - [0.485, 0.456, 0.406][c]) / [0.229, 0.224, 0.225][c] }),
            ("unit", { x, _ in x / 255 }),
            ("symmetric", { x, _ in x / 127.5 - 1 }),
            ("none", { x, _ in x }),
        ]
        for (name, f) in presets {
            let out = Self.floats(try Self.run(TransformConfig(normalization: try Normalization(preset: name), dtype: .f32, layout: .chw)))
            #expect(out.count == 3 * 8)
            for c in 0..<3 {
                for (i, x) in pixels.enumerated() {
                    #expect(abs(out[c * 8 + i] - f(x, c)) < 1e-5, "\(name) channel \(c) pixel \(x): \(out[c * 8 + i]) vs \(f(x, c))")
                }
            }
        }
        // (128/255 − 0.485)/0.229 = 0.0740640…, by hand.
        #expect(abs(Normalization.imagenet.value(128, colour: 0) - 0.074064) < 1e-5)
    }

    @Test func layoutsOrderAndTypesAgree() throws {
        let chw = try Self.run(TransformConfig(normalization: .none, dtype: .u8, layout: .chw))
        let hwc = try Self.run(TransformConfig(normalization: .none, dtype: .u8, layout: .hwc))
        for c in 0..<3 { for p in 0..<8 { #expect(chw[c * 8 + p] == hwc[p * 3 + c]) } }
        #expect(Array(chw[0..<8]) == [0, 10, 20, 30, 40, 50, 60, 255])
        // BGR: channel 0 holds blue, with blue's statistics.
        let rgb = Self.floats(try Self.run(TransformConfig(channels: .rgb, normalization: .imagenet, dtype: .f32)))
        let bgr = Self.floats(try Self.run(TransformConfig(channels: .bgr, normalization: .imagenet, dtype: .f32)))
        for p in 0..<8 { #expect(bgr[p] == rgb[16 + p] && bgr[16 + p] == rgb[p]) }
        // float16 / bfloat16 outputs are the exact conversions of the float32 values.
        let f32 = Self.floats(try Self.run(TransformConfig(normalization: .imagenet, dtype: .f32)))
        let f16 = try Self.run(TransformConfig(normalization: .imagenet, dtype: .f16))
        let bf16 = try Self.run(TransformConfig(normalization: .imagenet, dtype: .bf16))
        for i in 0..<f32.count {
            #expect(UInt16(f16[2 * i]) | UInt16(f16[2 * i + 1]) << 8 == HalfConversion.f16Bits(f32[i]))
            #expect(UInt16(bf16[2 * i]) | UInt16(bf16[2 * i + 1]) << 8 == HalfConversion.bf16Bits(f32[i]))
        }
        // Gray output: one channel.
        #expect(try Self.run(TransformConfig(channels: .gray, normalization: .none, dtype: .u8)) == [0, 10, 20, 30, 40, 50, 60, 255])
    }

    @Test func badRequestsFailBeforeWork() throws {
        #expect(throws: KernelError.self) {
            try FrameTransformer(config: TransformConfig(crop: .pixels(x: 100, y: 0, width: 100, height: 10)), sourceWidth: 160, sourceHeight: 120,
                                 sourceFormat: .yuv420p, streamMatrix: .bt601, streamRange: .limited)
        }
        #expect(throws: KernelError.self) { try CropSpec(parsing: "1,2,3") }
        #expect(throws: KernelError.self) { try CropSpec(parsing: "0.5,0,0.7,1.2") }
        #expect(try CropSpec(parsing: "0.25,0,0.5,1").rectangle(inWidth: 160, height: 120) == (40, 0, 80, 120))
        #expect(throws: KernelError.self) { try TransformConfig.parseSize("640by480") }
        let t = try FrameTransformer(config: TransformConfig(), sourceWidth: 4, sourceHeight: 2, sourceFormat: .yuv444p, streamMatrix: .bt601, streamRange: .full)
        var small = [UInt8](repeating: 0, count: 10)
        #expect(throws: KernelError.self) { try Self.withFrame { img in try small.withUnsafeMutableBytes { try t.transform(img, into: $0) } } }
    }
}
