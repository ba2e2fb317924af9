// Row kernels written with SSE2 intrinsics, which every x86-64 CPU has, so they need no build
// flags in this package or in packages that depend on it. They do the same Int16 arithmetic as
// the portable loops in FrameTransformer: `_mm_mulhi_epi16` is exactly `mulhi`, `_mm_add_epi16`
// and `_mm_sub_epi16` wrap like `&+` and `&-`, and `_mm_packus_epi16` clamps to 0...255 like
// `byte`. So the two paths give identical bytes (TransformerTests checks this).
//
// Why intrinsics: on baseline x86-64, LLVM vectorizes the portable `mulhi` loops with emulated
// 32-bit multiplies (pmuludq and shuffles, 4 lanes), not pmulhw (8 lanes, one instruction).
#if arch(x86_64) && canImport(_Builtin_intrinsics)
import _Builtin_intrinsics.intel

enum SSE2Rows {
    @inline(__always) private static func load(_ p: UnsafePointer<Int16>) -> __m128i {
        unsafeBitCast(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Int16>.self), to: __m128i.self)
    }

    @inline(__always) private static func splat(_ x: Int16) -> __m128i { _mm_set1_epi16(x) }

    /// Stores the low 8 bytes of `v`.
    @inline(__always) private static func store8(_ v: __m128i, _ p: UnsafeMutablePointer<UInt8>) {
        UnsafeMutableRawPointer(p).storeBytes(of: unsafeBitCast(v, to: SIMD2<UInt64>.self)[0], as: UInt64.self)
    }

    /// `byte(x)`: (x >> 3) clamped to 0...255, 8 lanes into the low 8 bytes.
    @inline(__always) private static func bytes(_ x: __m128i) -> __m128i {
        let s = _mm_srai_epi16(x, 3)
        return _mm_packus_epi16(s, s)
    }

    /// YUV rows (1/64 levels) -> three 8-bit rows, for `count` rounded up to 8 pixels: the rows
    /// must have that many readable/writable elements (FrameTransformer's rows hold `rowCap`).
    static func colour(count n: Int, y yr: UnsafePointer<Int16>, u ur: UnsafePointer<Int16>, v vr: UnsafePointer<Int16>,
                       r: UnsafeMutablePointer<UInt8>, g: UnsafeMutablePointer<UInt8>, b: UnsafeMutablePointer<UInt8>,
                       cy: Int16, yOffset: Int16, crv: Int16, cgu: Int16, cgv: Int16, cbu: Int16) {
        let kY = splat(cy), kYo = splat(yOffset), kCrv = splat(crv), kCgu = splat(cgu), kCgv = splat(cgv), kCbu = splat(cbu)
        let mid = splat(128 * 64), four = splat(4), five = splat(5)
        var i = 0
        while i < n {
            let l = _mm_mulhi_epi16(_mm_sub_epi16(load(yr + i), kYo), kY)
            let u = _mm_sub_epi16(load(ur + i), mid), v = _mm_sub_epi16(load(vr + i), mid)
            let rr = _mm_add_epi16(_mm_add_epi16(l, _mm_mulhi_epi16(v, kCrv)), five)
            let gg = _mm_add_epi16(_mm_sub_epi16(_mm_sub_epi16(l, _mm_mulhi_epi16(u, kCgu)), _mm_mulhi_epi16(v, kCgv)), four)
            let bb = _mm_add_epi16(_mm_add_epi16(l, _mm_mulhi_epi16(u, kCbu)), five)
            store8(bytes(rr), r + i)
            store8(bytes(gg), g + i)
            store8(bytes(bb), b + i)
            i += 8
        }
    }

    /// Range-expanded luma only (gray output), same rounding-up rule as `colour`.
    static func gray(count n: Int, y yr: UnsafePointer<Int16>, into g: UnsafeMutablePointer<UInt8>, cy: Int16, yOffset: Int16) {
        let kY = splat(cy), kYo = splat(yOffset), four = splat(4)
        var i = 0
        while i < n {
            store8(bytes(_mm_add_epi16(_mm_mulhi_epi16(_mm_sub_epi16(load(yr + i), kYo), kY), four)), g + i)
            i += 8
        }
    }

    /// Even and odd Int16 lanes of the 16 samples at `p`, each as 8 lanes.
    @inline(__always) private static func deinterleave(_ p: UnsafePointer<Int16>) -> (even: __m128i, odd: __m128i) {
        let a = load(p), b = load(p + 8)
        let even = _mm_packs_epi32(_mm_srai_epi32(_mm_slli_epi32(a, 16), 16), _mm_srai_epi32(_mm_slli_epi32(b, 16), 16))
        let odd = _mm_packs_epi32(_mm_srai_epi32(a, 16), _mm_srai_epi32(b, 16))
        return (even, odd)
    }

    /// 2:1 decimation: `dst[k] = sum over t < taps of mulhi(src[2k + t], q[t])` for k in `range`,
    /// 8 outputs at a time; returns where it stopped (the caller finishes the rest). Reads
    /// src[2k ..< 2k + 18] for each block, so it only runs blocks that stay below `readable`.
    static func decimate2(taps: Int, src: UnsafePointer<Int16>, readable: Int, q: SIMD4<Int16>,
                          range: Range<Int>, dst: UnsafeMutablePointer<Int16>) -> Int {
        let q0 = splat(q[0]), q1 = splat(q[1]), q2 = splat(q[2]), q3 = splat(q[3])
        var k = range.lowerBound
        while k + 8 <= range.upperBound && 2 * k + 18 <= readable {
            let p = src + 2 * k
            let (e0, o0) = deinterleave(p)
            var s = _mm_add_epi16(_mm_mulhi_epi16(e0, q0), _mm_mulhi_epi16(o0, q1))
            if taps > 2 {
                let (e1, o1) = deinterleave(p + 2)
                s = _mm_add_epi16(s, _mm_mulhi_epi16(e1, q2))
                if taps > 3 { s = _mm_add_epi16(s, _mm_mulhi_epi16(o1, q3)) }
            }
            UnsafeMutableRawPointer(dst + k).storeBytes(of: unsafeBitCast(s, to: SIMD8<Int16>.self), as: SIMD8<Int16>.self)
            k += 8
        }
        return k
    }
}
#endif
