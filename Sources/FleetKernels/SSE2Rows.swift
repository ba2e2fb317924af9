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

    /// YUV rows (1/64 levels) -> three 8-bit rows from pixel `start`, for `count` rounded up to 8
    /// pixels: the rows must have that many readable/writable elements (FrameTransformer's rows
    /// hold `rowCap`).
    static func colour(from start: Int = 0, count n: Int, y yr: UnsafePointer<Int16>, u ur: UnsafePointer<Int16>, v vr: UnsafePointer<Int16>,
                       r: UnsafeMutablePointer<UInt8>, g: UnsafeMutablePointer<UInt8>, b: UnsafeMutablePointer<UInt8>,
                       cy: Int16, yOffset: Int16, crv: Int16, cgu: Int16, cgv: Int16, cbu: Int16) {
        let kY = splat(cy), kYo = splat(yOffset), kCrv = splat(crv), kCgu = splat(cgu), kCgv = splat(cgv), kCbu = splat(cbu)
        let mid = splat(128 * 64), four = splat(4), five = splat(5)
        var i = start
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

    /// Source samples of one plane row for `vertical`: 8-bit (`step` 1, or 2 for one half of
    /// NV12's interleaved UV plane) or 16-bit words holding 10-bit samples.
    enum Samples { case u8, u8Step2, u16 }

    /// Generic vertical filter: `dst[i] = (sum over t of weight[t] * row_t[i] + half) >> down`
    /// for `i` in 0..<`count`, 16 (8 for 16-bit) samples at a time with `pmaddwd` (two taps per
    /// instruction, Int32 sums kept in registers across all taps); returns where it stopped (the
    /// caller finishes the rest with the portable loop). `rows[t]` points at row t's first sample
    /// (for `u8Step2`, at the byte of the wanted half); blocks run only while every byte they load
    /// lies below `readableBytes` from each row pointer. Exact: the 14-bit weights and the samples
    /// fit Int16, their sums fit Int32 as in the portable loop, and the result (at most 32736)
    /// fits Int16, so the saturating pack is the portable loop's truncation.
    static func vertical(_ kind: Samples, rows: UnsafePointer<UnsafeRawPointer>, weights: UnsafePointer<Int32>, taps: Int,
                         count: Int, readableBytes: Int, down: Int32, dst: UnsafeMutablePointer<Int16>) -> Int {
        let zero = _mm_setzero_si128()
        let lowBytes = _mm_set1_epi16(0x00FF)
        let half = _mm_set1_epi32(1 &<< (down - 1))
        let pairs = (taps + 1) / 2
        // Pairs of taps as (w0 | w1 << 16); an odd last tap pairs with weight 0 on the same row.
        @inline(__always) func pairWeight(_ p: Int) -> __m128i {
            let w0 = weights[2 * p], w1 = 2 * p + 1 < taps ? weights[2 * p + 1] : 0
            return _mm_set1_epi32((w1 &<< 16) | (w0 & 0xFFFF))
        }
        @inline(__always) func row(_ t: Int) -> UnsafeRawPointer { rows[min(t, taps - 1)] }
        @inline(__always) func loadRaw(_ p: UnsafeRawPointer) -> __m128i {
            unsafeBitCast(p.loadUnaligned(as: SIMD16<UInt8>.self), to: __m128i.self)
        }
        @inline(__always) func finish(_ lo: __m128i, _ hi: __m128i) -> __m128i {
            _mm_packs_epi32(_mm_srai_epi32(_mm_add_epi32(lo, half), down), _mm_srai_epi32(_mm_add_epi32(hi, half), down))
        }
        @inline(__always) func store(_ v: __m128i, _ i: Int) {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: unsafeBitCast(v, to: SIMD8<Int16>.self), as: SIMD8<Int16>.self)
        }
        var i = 0
        switch kind {
        case .u8:
            while i + 16 <= count && i + 16 <= readableBytes {
                var a0 = zero, a1 = zero, a2 = zero, a3 = zero
                for p in 0..<pairs {
                    let k = pairWeight(p)
                    let x = loadRaw(row(2 * p) + i), y = loadRaw(row(2 * p + 1) + i)
                    let xl = _mm_unpacklo_epi8(x, zero), xh = _mm_unpackhi_epi8(x, zero)
                    let yl = _mm_unpacklo_epi8(y, zero), yh = _mm_unpackhi_epi8(y, zero)
                    a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(xl, yl), k))
                    a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(xl, yl), k))
                    a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi16(xh, yh), k))
                    a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi16(xh, yh), k))
                }
                store(finish(a0, a1), i)
                store(finish(a2, a3), i + 8)
                i += 16
            }
        case .u8Step2, .u16:
            // 8 samples from 16 bytes: even bytes (masked) or 16-bit words.
            let mask = kind == .u8Step2
            while i + 8 <= count && 2 * i + 16 <= readableBytes {
                var a0 = zero, a1 = zero
                for p in 0..<pairs {
                    let k = pairWeight(p)
                    var x = loadRaw(row(2 * p) + 2 * i), y = loadRaw(row(2 * p + 1) + 2 * i)
                    if mask { x = _mm_and_si128(x, lowBytes); y = _mm_and_si128(y, lowBytes) }
                    a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(x, y), k))
                    a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(x, y), k))
                }
                store(finish(a0, a1), i)
                i += 8
            }
        }
        return i
    }

    /// Generic horizontal filter: `dst[j] = (1 << 14 + sum over c < chunks*8 of w[j*chunks*8 + c]
    /// * src[pos[j] + c]) >> 15` for j in 0..<`count`, 4 outputs at a time (`pmaddwd` over each
    /// output's contiguous taps, then a 4x4 transpose-add); returns where it stopped. Reads
    /// src[pos[j] ..< pos[j] + 8 * chunks]: the caller's row must be that long (zero weights cover
    /// what lies past the real taps). Exact for the same reasons as `vertical` (the result is at
    /// most 16368).
    static func horizontal(src: UnsafePointer<Int16>, pos: UnsafePointer<Int32>, weights: UnsafePointer<Int16>,
                           chunks: Int, from start: Int = 0, count: Int, dst: UnsafeMutablePointer<Int16>) -> Int {
        let round = _mm_set1_epi32(1 << 14)
        let stride = 8 * chunks
        @inline(__always) func dot(_ j: Int) -> __m128i {
            let s = src + Int(pos[j]), w = weights + j * stride
            var a = _mm_madd_epi16(load(s), load(w))
            var c = 1
            while c < chunks { a = _mm_add_epi32(a, _mm_madd_epi16(load(s + 8 * c), load(w + 8 * c))); c += 1 }
            return a
        }
        var j = start
        while j + 4 <= count {
            let r0 = dot(j), r1 = dot(j + 1), r2 = dot(j + 2), r3 = dot(j + 3)
            let s01 = _mm_add_epi32(_mm_unpacklo_epi32(r0, r1), _mm_unpackhi_epi32(r0, r1))
            let s23 = _mm_add_epi32(_mm_unpacklo_epi32(r2, r3), _mm_unpackhi_epi32(r2, r3))
            let sum = _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23))
            let v = _mm_srai_epi32(_mm_add_epi32(sum, round), 15)
            let packed = _mm_packs_epi32(v, v)
            UnsafeMutableRawPointer(dst + j).storeBytes(of: unsafeBitCast(packed, to: SIMD2<UInt64>.self)[0], as: UInt64.self)
            j += 4
        }
        return j
    }

    /// 2x2 box decimation of an 8-bit plane: `dst[k] = (a[2k] + a[2k+1] + b[2k] + b[2k+1] + 2) >> 2`
    /// for k in 0..<`count`, 16 outputs at a time while the 32 bytes each block reads from rows `a`
    /// and `b` stay below `readable`; returns where it stopped.
    static func decimateBox2(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, readable: Int, from start: Int = 0, count: Int,
                             dst: UnsafeMutablePointer<UInt8>) -> Int {
        let lowBytes = _mm_set1_epi16(0x00FF), two = _mm_set1_epi16(2)
        @inline(__always) func loadRaw(_ p: UnsafePointer<UInt8>) -> __m128i {
            unsafeBitCast(UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self), to: __m128i.self)
        }
        // Pair sums of 16 bytes as 8 UInt16 lanes (at most 510).
        @inline(__always) func pairs(_ x: __m128i) -> __m128i { _mm_add_epi16(_mm_and_si128(x, lowBytes), _mm_srli_epi16(x, 8)) }
        var k = start
        while k + 16 <= count && 2 * k + 32 <= readable {
            let lo = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(pairs(loadRaw(a + 2 * k)), pairs(loadRaw(b + 2 * k))), two), 2)
            let hi = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(pairs(loadRaw(a + 2 * k + 16)), pairs(loadRaw(b + 2 * k + 16))), two), 2)
            UnsafeMutableRawPointer(dst + k).storeBytes(of: unsafeBitCast(_mm_packus_epi16(lo, hi), to: SIMD16<UInt8>.self),
                                                        as: SIMD16<UInt8>.self)
            k += 16
        }
        return k
    }
}
#endif
