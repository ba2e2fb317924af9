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

    /// The presets' float16/bfloat16 rows go through the AVX2 store (after its bit-for-bit check
    /// against the tables) on CPUs that have it; this keeps that fast path from silently falling
    /// back. `sameBytesAsPortableLoops` checks its bytes.
    @Test(arguments: ["imagenet", "unit", "symmetric", "none"])
    func presetsUseVectorStore(_ preset: String) throws {
        guard FrameTransformer.vectorStoreAvailable else { return }
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
