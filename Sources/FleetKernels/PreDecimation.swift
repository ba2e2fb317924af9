import CTensorStore

/// Scratch planes for the large-downscale path: a crop window box-filtered 2:1 in both directions
/// `levels` times (each output sample is the rounded mean of a 2x2 block; a last odd column or
/// row pairs with itself). Allocated at init; `run` fills them per frame.
final class PreDecimation {
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
