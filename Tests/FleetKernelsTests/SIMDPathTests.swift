import FleetTestSupport
import Foundation
import Testing
@testable import FleetKernels

/// The SSE2 row kernels (x86-64) must give exactly the bytes of the portable loops, which the
/// oracle tests check against ffmpeg. Random noise frames reach every corner of the colour
/// conversion (out-of-gamut YUV that clamps to 0 or 255), and the sizes include 2:1 decimation
/// runs, odd widths and crops.
@Suite struct SIMDPathTests {
    struct Case: CustomStringConvertible, Sendable {
        var format: SourcePixelFormat
        var width: Int, height: Int
        var config: TransformConfig
        var description: String {
            "\(format.rawValue) \(width)x\(height) -> \(config.outputWidth ?? width)x\(config.outputHeight ?? height) \(config.filter) \(config.channels) \(config.dtype)"
        }
    }

    static let cases: [Case] = {
        func c(_ f: SourcePixelFormat, _ w: Int, _ h: Int, _ ow: Int?, _ oh: Int?, _ filter: ResizeFilter = .bilinear,
               crop: CropSpec? = nil, channels: ChannelOrder = .rgb, dtype: ElementType = .f16,
               n: Normalization = .imagenet) -> Case {
            Case(format: f, width: w, height: h,
                 config: TransformConfig(crop: crop, outputWidth: ow, outputHeight: oh, filter: filter,
                                         channels: channels, normalization: dtype == .u8 ? .none : n, dtype: dtype))
        }
        return [
            c(.yuv420p, 320, 240, 160, 120),
            c(.yuv420p, 320, 240, 160, 120, .area),
            c(.yuv420p, 330, 250, 165, 125, dtype: .u8),
            c(.yuv420p, 320, 240, nil, nil, dtype: .f32),
            c(.yuvj420p, 256, 144, 128, 72, channels: .bgr),
            c(.nv12, 320, 240, 160, 120, dtype: .bf16),
            c(.yuv422p, 322, 180, 161, 90, .area),
            c(.yuv444p, 300, 200, 150, 100),
            c(.yuv444p, 200, 100, 400, 200),
            c(.gray, 320, 240, 160, 120, channels: .gray),
            c(.yuv420p, 320, 240, 160, 120, channels: .gray, dtype: .u8),
            c(.yuv420p10le, 320, 240, 160, 120),
            c(.yuv420p, 640, 480, 208, 160, crop: .pixels(x: 17, y: 9, width: 417, height: 320)),
            c(.yuv420p, 641, 479, 213, 117, .area),
            // Large downscales: luma pre-decimated 2:1 (SSE2 box), then the generic SSE2 vertical
            // and horizontal taps (chroma straight through them); 320x240 ends in the 2:1 path.
            c(.yuv420p, 1280, 960, 224, 224, dtype: .u8),
            c(.yuv420p, 1280, 960, 224, 224, .area, dtype: .u8),
            c(.yuv420p, 1280, 960, 320, 240),
            // Two luma levels and one chroma level, NV12 (chroma decimated from interleaved UV,
            // generic vertical on step-2 samples), odd sizes.
            c(.nv12, 1281, 963, 150, 110, dtype: .bf16),
            // 10-bit: 16-bit samples through the box and the generic vertical filter.
            c(.yuv420p10le, 642, 482, 100, 75),
            // Odd crop origin and size, both planes decimated (4:4:4).
            c(.yuv444p, 1000, 700, 120, 90, crop: .pixels(x: 13, y: 7, width: 977, height: 661)),
            // Generic taps without pre-decimation (3:1 vertical, 9:1 horizontal... min ratio 3).
            c(.yuv422p, 901, 601, 100, 200, .area, channels: .bgr, dtype: .f32),
            c(.gray, 1280, 960, 160, 120, channels: .gray, dtype: .u8),
            // Planar RGB: three full-resolution planes, pre-decimated together; gray output.
            c(.gbrp, 320, 240, 160, 120, channels: .bgr),
            c(.gbrp, 1000, 700, 120, 90, .area, crop: .pixels(x: 13, y: 7, width: 977, height: 661), dtype: .u8),
            c(.gbrp, 1280, 960, 224, 224, channels: .gray, dtype: .u8),
        ]
    }()

    /// Tightly packed noise frame of `format` (10-bit samples stay within 0...1023).
    static func noise(_ format: SourcePixelFormat, _ w: Int, _ h: Int, seed: UInt64) -> Data {
        var rng = SplitMix64(seed: seed)
        func next() -> UInt64 { rng.next() }
        let cw = format.chromaShiftX == 1 ? (w + 1) / 2 : w
        let ch = format.chromaShiftY == 1 ? (h + 1) / 2 : h
        let samples = w * h + (format == .gray ? 0 : 2 * cw * ch)
        if format == .yuv420p10le {
            var d = Data(count: 2 * samples)
            d.withUnsafeMutableBytes { b in
                for i in 0..<samples { b.storeBytes(of: UInt16(next() % 1024).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            }
            return d
        }
        return Data((0..<samples).map { _ in UInt8(truncatingIfNeeded: next()) })
    }

    @Test(arguments: cases)
    func sameBytesAsPortableLoops(_ c: Case) throws {
        let simd = try FrameTransformer(config: c.config, sourceWidth: c.width, sourceHeight: c.height,
                                        sourceFormat: c.format, streamMatrix: .bt709, streamRange: .limited)
        let portable = try FrameTransformer(config: c.config, sourceWidth: c.width, sourceHeight: c.height,
                                            sourceFormat: c.format, streamMatrix: .bt709, streamRange: .limited)
        portable.portableOnly = true
        for seed: UInt64 in [1, 2] {
            let raw = Self.noise(c.format, c.width, c.height, seed: seed)
            let a = try run(simd, raw, c.format, c.width, c.height)
            let b = try run(portable, raw, c.format, c.width, c.height)
            let firstDiff = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(firstDiff == nil, "\(c): first differing byte \(firstDiff ?? -1) of \(a.count)")
        }
    }

    /// Which planes the large-downscale path pre-decimates, and how often: while the plane's
    /// smaller ratio stays >= 2 after halving.
    @Test func preDecimationLevels() throws {
        func levels(_ f: SourcePixelFormat, _ w: Int, _ h: Int, _ ow: Int, _ oh: Int, channels: ChannelOrder = .rgb,
                    crop: CropSpec? = nil) throws -> (Int, Int) {
            let t = try FrameTransformer(config: TransformConfig(crop: crop, outputWidth: ow, outputHeight: oh, channels: channels),
                                         sourceWidth: w, sourceHeight: h, sourceFormat: f, streamMatrix: .bt601, streamRange: .limited)
            return t.preDecimationLevels
        }
        #expect(try levels(.yuv420p, 1280, 960, 224, 224) == (1, 0))
        #expect(try levels(.yuv420p, 1280, 960, 320, 240) == (1, 0))
        #expect(try levels(.yuv420p, 1280, 960, 640, 480) == (0, 0))
        #expect(try levels(.yuv420p, 1280, 960, 330, 240) == (0, 0))
        #expect(try levels(.yuv420p, 1280, 960, 160, 120) == (2, 1))
        #expect(try levels(.yuv444p, 1280, 960, 224, 224) == (1, 1))
        #expect(try levels(.yuv420p, 1280, 960, 1280, 120) == (0, 0))
        #expect(try levels(.yuv420p, 1280, 960, 160, 120, crop: .pixels(x: 0, y: 0, width: 640, height: 480)) == (1, 0))
        #expect(try levels(.gray, 1280, 960, 160, 120, channels: .gray) == (2, 0))
    }

    /// Hand-computed: a gray frame of constant 2x2 blocks shrunk 4:1 with the area filter is
    /// decimated exactly (no rounding), then averaged 2:1, so each output is the mean of its 4x4
    /// source block.
    @Test func preDecimatedAreaIsBlockMean() throws {
        let (w, h) = (16, 8)
        var src = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w { src[y * w + x] = UInt8((x / 2) * 20 + (y / 2) * 8 + ((x / 2 + y / 2) % 2) * 4) } }
        let t = try FrameTransformer(config: TransformConfig(outputWidth: 4, outputHeight: 2, filter: .area, channels: .gray,
                                                             normalization: .none, dtype: .u8),
                                     sourceWidth: w, sourceHeight: h, sourceFormat: .gray, streamMatrix: .bt601, streamRange: .full)
        #expect(t.preDecimationLevels == (1, 0))
        let out = try run(t, Data(src), .gray, w, h)
        for oy in 0..<2 {
            for ox in 0..<4 {
                var sum = 0
                for y in (4 * oy)..<(4 * oy + 4) { for x in (4 * ox)..<(4 * ox + 4) { sum += Int(src[y * w + x]) } }
                #expect(sum % 16 == 0)
                #expect(Int(out[oy * 4 + ox]) == sum / 16, "(\(ox), \(oy))")
            }
        }
    }

    /// The presets' float16/bfloat16 rows go through the AVX2 store (after its bit-for-bit check
    /// against the tables) on CPUs that have it; this keeps that fast path from silently falling
    /// back. `sameBytesAsPortableLoops` checks its bytes.
    @Test(.enabled(if: FrameTransformer.vectorStoreAvailable, "skipped: this CPU lacks AVX2/F16C/FMA, so there is no vector store to check"),
          arguments: ["imagenet", "unit", "symmetric", "none"])
    func presetsUseVectorStore(_ preset: String) throws {
        for dtype in [ElementType.f16, .bf16, .f32] {
            let t = try FrameTransformer(config: TransformConfig(normalization: try Normalization(preset: preset), dtype: dtype),
                                         sourceWidth: 64, sourceHeight: 48, sourceFormat: .yuv420p,
                                         streamMatrix: .bt601, streamRange: .limited)
            let verified = t.affineStore.filter { $0 != nil }.count
            print("vector store \(preset) \(dtype): \(verified)/3 channels")
            if dtype != .f32 { #expect(verified == 3, "\(preset) \(dtype)") }
        }
    }
}
