import Foundation
import Testing
@testable import FleetKernels

/// Where CTensorStore's AVX2 row kernels run (the default on CPUs that have AVX2), the SSE2 rows
/// they replace must still give the portable loops' bytes for CPUs without AVX2; and a
/// transformer with HWC output (AVX2 byte interleave) must match the portable one too.
@Suite struct RowKernelPathTests {
    @Test(arguments: SIMDPathTests.cases)
    func sse2RowsGiveSameBytesAsPortableLoops(_ c: SIMDPathTests.Case) throws {
        let sse2 = try FrameTransformer(config: c.config, sourceWidth: c.width, sourceHeight: c.height,
                                        sourceFormat: c.format, streamMatrix: .bt709, streamRange: .limited)
        sse2.sse2Only = true
        let portable = try FrameTransformer(config: c.config, sourceWidth: c.width, sourceHeight: c.height,
                                            sourceFormat: c.format, streamMatrix: .bt709, streamRange: .limited)
        portable.portableOnly = true
        let raw = SIMDPathTests.noise(c.format, c.width, c.height, seed: 3)
        let a = try run(sse2, raw, c.format, c.width, c.height)
        let b = try run(portable, raw, c.format, c.width, c.height)
        let firstDiff = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDiff == nil, "\(c): first differing byte \(firstDiff ?? -1) of \(a.count)")
    }

    @Test(arguments: [(1280, 960, 224, 224), (641, 479, 213, 117), (320, 240, 15, 9), (64, 48, 33, 17)])
    func hwcMatchesPortable(_ size: (Int, Int, Int, Int)) throws {
        let (w, h, ow, oh) = size
        for dtype: ElementType in [.u8, .f16] {
            let cfg = TransformConfig(outputWidth: ow, outputHeight: oh, normalization: dtype == .u8 ? .none : .imagenet,
                                      dtype: dtype, layout: .hwc)
            let fast = try FrameTransformer(config: cfg, sourceWidth: w, sourceHeight: h, sourceFormat: .yuv420p,
                                            streamMatrix: .bt601, streamRange: .limited)
            let portable = try FrameTransformer(config: cfg, sourceWidth: w, sourceHeight: h, sourceFormat: .yuv420p,
                                                streamMatrix: .bt601, streamRange: .limited)
            portable.portableOnly = true
            let raw = SIMDPathTests.noise(.yuv420p, w, h, seed: 4)
            #expect(try run(fast, raw, .yuv420p, w, h) == run(portable, raw, .yuv420p, w, h), "\(size) \(dtype)")
        }
    }
}
