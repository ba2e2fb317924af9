import FleetKernels
import Foundation

/// The fused transform kernel's speed next to `memcpy` of the same output bytes, measured
/// alternately in one run on a synthetic 1280x960 yuv420p frame.
public enum KernelBenchmark {
    /// One measured kernel configuration: its output size and speed next to memcpy.
    public struct Case: Sendable, Codable {
        public var name: String
        public var outputBytes: Int
        public var millisecondsPerFrame: Double
        /// Output bytes per second of the kernel.
        public var kernelGBps: Double
        /// memcpy of the same number of bytes.
        public var memcpyGBps: Double
        public var ratio: Double { memcpyGBps > 0 ? kernelGBps / memcpyGBps : 0 }
    }

    /// Measures 1280x960 → 640x480 bilinear ImageNet float16 CHW, the large downscales to
    /// 224x224 u8 (HWC and CHW, no normalization) and 320x240 ImageNet float16 CHW, and
    /// 1280x960 → float16 CHW without resize, each for about `seconds`.
    public static func run(seconds: Double = 1) throws -> [Case] {
        let (w, h) = (1280, 960)
        // A frame with structure (gradients + a checkerboard) so no branch is trivially predictable.
        var y = [UInt8](repeating: 0, count: w * h), u = [UInt8](repeating: 0, count: w * h / 4), v = u
        for r in 0..<h { for c in 0..<w { y[r * w + c] = UInt8(truncatingIfNeeded: (r + c) / 9 + ((r / 16 + c / 16) % 2) * 40) } }
        for i in 0..<u.count { u[i] = UInt8(truncatingIfNeeded: 90 + i % 77); v[i] = UInt8(truncatingIfNeeded: 160 - i % 51) }
        let configs: [(String, TransformConfig)] = [
            ("1280x960 yuv420p → 640x480 bilinear imagenet f16 CHW",
             TransformConfig(outputWidth: 640, outputHeight: 480, normalization: .imagenet, dtype: .f16, layout: .chw)),
            ("1280x960 yuv420p → 224x224 bilinear u8 HWC",
             TransformConfig(outputWidth: 224, outputHeight: 224, normalization: .none, dtype: .u8, layout: .hwc)),
            ("1280x960 yuv420p → 224x224 bilinear u8 CHW",
             TransformConfig(outputWidth: 224, outputHeight: 224, normalization: .none, dtype: .u8, layout: .chw)),
            ("1280x960 yuv420p → 320x240 bilinear imagenet f16 CHW",
             TransformConfig(outputWidth: 320, outputHeight: 240, normalization: .imagenet, dtype: .f16, layout: .chw)),
            ("1280x960 yuv420p → 1280x960 imagenet f16 CHW",
             TransformConfig(normalization: .imagenet, dtype: .f16, layout: .chw)),
        ]
        var out: [Case] = []
        for (name, cfg) in configs {
            let t = try FrameTransformer(config: cfg, sourceWidth: w, sourceHeight: h, sourceFormat: .yuv420p,
                                         streamMatrix: .bt601, streamRange: .limited)
            let n = t.outputByteCount
            let dst = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 64)
            let src = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 64)
            src.initializeMemory(as: UInt8.self, repeating: 7)
            defer { dst.deallocate(); src.deallocate() }
            var bestKernel = Double.infinity, bestCopy = Double.infinity
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
            try y.withUnsafeBytes { yp in try u.withUnsafeBytes { up in try v.withUnsafeBytes { vp in
                let img = SourceImage(format: .yuv420p, width: w, height: h, plane0: yp.baseAddress!, stride0: w,
                                      plane1: up.baseAddress!, stride1: w / 2, plane2: vp.baseAddress!, stride2: w / 2)
                repeat {
                    // Alternate: a kernel pass, then the same bytes through memcpy.
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try t.transform(img, into: dst)
                    let t1 = DispatchTime.now().uptimeNanoseconds
                    memcpy(dst.baseAddress!, src.baseAddress!, n)
                    let t2 = DispatchTime.now().uptimeNanoseconds
                    blackHole(dst[n / 2])
                    bestKernel = min(bestKernel, Double(t1 - t0) / 1e9)
                    bestCopy = min(bestCopy, Double(t2 - t1) / 1e9)
                } while DispatchTime.now().uptimeNanoseconds < deadline
            } } }
            out.append(Case(name: name, outputBytes: n, millisecondsPerFrame: bestKernel * 1e3,
                            kernelGBps: Double(n) / bestKernel / 1e9, memcpyGBps: Double(n) / bestCopy / 1e9))
        }
        return out
    }
}
