import CTensorStore

/// The rows of one plane's crop window in the frame (or in a pre-decimated scratch plane):
/// `row(r)` is the first sample of window row `r`.
struct PlaneRows {
    let base: UnsafeRawPointer
    let stride: Int
    /// Bytes between 8-bit samples (2 for one half of nv12's interleaved UV plane).
    let step: Int
    /// Byte offset of the plane's first sample in each sample pair (nv12's V: 1).
    let offset: Int
    let window: (x: Int, y: Int, w: Int, h: Int)
    /// 16-bit samples.
    let wide: Bool

    @inline(__always) func row(_ r: Int32) -> UnsafeRawPointer {
        base + (window.y + Int(r)) * stride + (wide ? 2 * window.x : window.x * step + offset)
    }
}

// Row kernels: the vertical and horizontal filter passes of one output row.
extension FrameTransformer {
    /// Vertical then horizontal filter of one plane for output row `row`, into `dst` (outputWidth
    /// samples in 1/64 of an 8-bit level). The vertical pass works in 1/128 levels.
    func filterPlane(_ base: UnsafeRawPointer, stride: Int, step: Int, offset: Int,
                     window: (x: Int, y: Int, w: Int, h: Int), h: Taps, v: Taps, row: Int,
                     into dst: UnsafeMutablePointer<Int16>) {
        let w = window.w
        let vDst = vRow
        let taps = v.count
        let idx = v.index + row * taps, wt = v.weight + row * taps
        let wide = sourceFormat.bitDepth > 8
        let rows = PlaneRows(base: base, stride: stride, step: step, offset: offset, window: window, wide: wide)
        if taps == 1 && h.isIdentity && !portableOnly {
            // Both passes at once: ((s << up) + 1) >> 1, which is s << 6 for 8-bit samples (no
            // wrap), the sample in 1/64 levels.
            copyRow(rows.row(idx[0]), wide: wide, step: step, count: w, into: dst)
            return
        } else if taps == 1 {
            shiftRow(rows.row(idx[0]), wide: wide, step: step, count: w, into: vDst)
        } else if avx2Rows, !wide, step == 1, w >= 32, taps <= 64 {
            // 8-bit samples, any taps: AVX2 `pmaddwd` over tap pairs (the whole row; exactly the
            // Int32 sums below, which the Int16 path equals when it applies).
            for t in 0..<taps { rowPointers[t] = rows.row(idx[t]) }
            _ = fleet_vertical_u8(UnsafeRawPointer(rowPointers).assumingMemoryBound(to: UnsafePointer<UInt8>?.self),
                                  wt, Int32(taps), w, 7, vDst)
        } else if !wide, step == 1, let w16 = v.weight16.map({ $0 + row * taps }), taps <= 4 {
            verticalInt16(rows, idx, w16, taps: taps, count: w, into: vDst)
        } else {
            verticalInt32(rows, idx, wt, taps: taps, count: w, into: vDst)
        }
        if h.isIdentity {
            for i in 0..<w { dst[i] = (vDst[i] &+ 1) &>> 1 }
            return
        }
        horizontal(h, vDst, w, dst)
    }

    /// One tap and no horizontal filter: the samples in 1/64 levels.
    @inline(__always)
    private func copyRow(_ p: UnsafeRawPointer, wide: Bool, step: Int, count w: Int, into dst: UnsafeMutablePointer<Int16>) {
        if wide {
            let s = p.assumingMemoryBound(to: UInt16.self)
            for i in 0..<w { dst[i] = ((Int16(truncatingIfNeeded: s[i]) &<< 5) &+ 1) &>> 1 }
        } else if step == 1 {
            let s = p.assumingMemoryBound(to: UInt8.self)
            for i in 0..<w { dst[i] = Int16(s[i]) &<< 6 }
        } else {
            let s = p.assumingMemoryBound(to: UInt8.self)
            for i in 0..<w { dst[i] = Int16(s[2 * i]) &<< 6 }
        }
    }

    /// One tap: the samples in 1/128 levels.
    @inline(__always)
    private func shiftRow(_ p: UnsafeRawPointer, wide: Bool, step: Int, count w: Int, into vDst: UnsafeMutablePointer<Int16>) {
        if wide {
            let s = p.assumingMemoryBound(to: UInt16.self)
            for i in 0..<w { vDst[i] = Int16(truncatingIfNeeded: s[i]) &<< 5 }
        } else if step == 1 {
            let s = p.assumingMemoryBound(to: UInt8.self)
            for i in 0..<w { vDst[i] = Int16(s[i]) &<< 7 }
        } else {
            let s = p.assumingMemoryBound(to: UInt8.self)
            for i in 0..<w { vDst[i] = Int16(s[2 * i]) &<< 7 }
        }
    }

    /// 8-bit samples with 2...4 weights that are multiples of 1/128: exact in Int16.
    @inline(__always)
    private func verticalInt16(_ rows: PlaneRows, _ idx: UnsafeMutablePointer<Int32>, _ w16: UnsafeMutablePointer<Int16>,
                               taps: Int, count w: Int, into vDst: UnsafeMutablePointer<Int16>) {
        let s0 = rows.row(idx[0]).assumingMemoryBound(to: UInt8.self)
        let s1 = rows.row(idx[1]).assumingMemoryBound(to: UInt8.self)
        let k0 = w16[0], k1 = w16[1]
        if taps == 2 {
            for i in 0..<w { vDst[i] = Int16(s0[i]) &* k0 &+ Int16(s1[i]) &* k1 }
            return
        }
        let s2 = rows.row(idx[2]).assumingMemoryBound(to: UInt8.self)
        let k2 = w16[2]
        if taps == 3 {
            for i in 0..<w { vDst[i] = Int16(s0[i]) &* k0 &+ Int16(s1[i]) &* k1 &+ Int16(s2[i]) &* k2 }
            return
        }
        let s3 = rows.row(idx[3]).assumingMemoryBound(to: UInt8.self)
        let k3 = w16[3]
        for i in 0..<w {
            vDst[i] = (Int16(s0[i]) &* k0 &+ Int16(s1[i]) &* k1) &+ (Int16(s2[i]) &* k2 &+ Int16(s3[i]) &* k3)
        }
    }

    /// Any taps: SSE2 `pmaddwd` over tap pairs on x86-64, then (elsewhere: everything) Int32
    /// accumulation one tap at a time.
    @inline(__always)
    private func verticalInt32(_ rows: PlaneRows, _ idx: UnsafeMutablePointer<Int32>, _ wt: UnsafeMutablePointer<Int32>,
                               taps: Int, count w: Int, into vDst: UnsafeMutablePointer<Int16>) {
        let down = Int32(rows.wide ? 9 : 7)                 // 2^14 weights * sample -> 1/128 level
        var i0 = 0
        #if arch(x86_64) && canImport(_Builtin_intrinsics)
        if !portableOnly {
            for t in 0..<taps { rowPointers[t] = rows.row(idx[t]) }
            let kind: SSE2Rows.Samples = rows.wide ? .u16 : (rows.step == 1 ? .u8 : .u8Step2)
            let readable = rows.wide ? 2 * w : (rows.step == 1 ? w : 2 * w - rows.offset)
            i0 = SSE2Rows.vertical(kind, rows: rowPointers, weights: wt, taps: taps, count: w,
                                   readableBytes: readable, down: down, dst: vDst)
        }
        #endif
        guard i0 < w else { return }
        let a = acc
        for t in 0..<taps {
            let p = rows.row(idx[t])
            let k = wt[t]
            if t == 0 {
                accumulate(p, wide: rows.wide, step: rows.step, from: i0, count: w, weight: k, into: a, first: true)
            } else if k != 0 {
                accumulate(p, wide: rows.wide, step: rows.step, from: i0, count: w, weight: k, into: a, first: false)
            }
        }
        let half = Int32(1) &<< (down - 1)
        for i in i0..<w { vDst[i] = Int16(truncatingIfNeeded: (a[i] &+ half) &>> down) }
    }

    /// `a[i] (+)= k * sample[i]` for i in `i0 ..< w`.
    @inline(__always)
    private func accumulate(_ p: UnsafeRawPointer, wide: Bool, step: Int, from i0: Int, count w: Int, weight k: Int32,
                            into a: UnsafeMutablePointer<Int32>, first: Bool) {
        if first {
            if wide {
                let s = p.assumingMemoryBound(to: UInt16.self)
                for i in i0..<w { a[i] = k &* Int32(s[i]) }
            } else if step == 1 {
                let s = p.assumingMemoryBound(to: UInt8.self)
                for i in i0..<w { a[i] = k &* Int32(s[i]) }
            } else {
                let s = p.assumingMemoryBound(to: UInt8.self)
                for i in i0..<w { a[i] = k &* Int32(s[2 * i]) }
            }
        } else if wide {
            let s = p.assumingMemoryBound(to: UInt16.self)
            for i in i0..<w { a[i] &+= k &* Int32(s[i]) }
        } else if step == 1 {
            let s = p.assumingMemoryBound(to: UInt8.self)
            for i in i0..<w { a[i] &+= k &* Int32(s[i]) }
        } else {
            let s = p.assumingMemoryBound(to: UInt8.self)
            for i in i0..<w { a[i] &+= k &* Int32(s[2 * i]) }
        }
    }

    /// Horizontal filter of one row of `w` samples (1/128 levels) into `outputWidth` samples
    /// (1/64 levels). The regular-run paths use `mulhi` with Q15 weights: (v * w15) >> 16 = 1/64 levels.
    func horizontal(_ h: Taps, _ src: UnsafeMutablePointer<Int16>, _ w: Int, _ dst: UnsafeMutablePointer<Int16>) {
        let n = outputWidth
        var j = 0
        #if arch(x86_64) && canImport(_Builtin_intrinsics)
        if !portableOnly, h.decimate2 == nil, h.upsample2 == nil, let g = h.generic {
            // Any other ratio: SSE2 dot products over each output's contiguous taps.
            if avx2Rows, let pw = h.pairedWeights { j = fleet_horizontal_i16(src, g.pos, pw, Int32(g.chunks), n, dst) }
            j = SSE2Rows.horizontal(src: src, pos: g.pos, weights: g.weights, chunks: g.chunks, from: j, count: n, dst: dst)
        }
        #endif
        if let d = h.decimate2 { j = decimate2(h, d, src, w, dst, from: j) }
        if let u = h.upsample2, j == 0 { j = upsample2(h, u, src, w, dst) }
        while j < n { Self.scalarOutput(h, src, dst, j); j += 1 }
    }

    /// Output `j` from its taps, one at a time.
    @inline(__always)
    private static func scalarOutput(_ h: Taps, _ src: UnsafeMutablePointer<Int16>, _ dst: UnsafeMutablePointer<Int16>, _ j: Int) {
        let ht = h.count, hidx = h.index, hw = h.weight, b = ht * j
        var s: Int32 = 1 << 14
        for t in 0..<ht { s &+= hw[b + t] &* Int32(src[Int(hidx[b + t])]) }
        dst[j] = Int16(truncatingIfNeeded: s &>> 15)
    }

    /// 2:1 decimation over the regular run: AVX2 and SSE2 rows on x86-64, then plain per-output
    /// loops for what is left (and everywhere on other CPUs). Returns the next output to compute.
    @inline(__always)
    private func decimate2(_ h: Taps, _ d: (offset: Int, weights: [Int32], regular: Range<Int>),
                           _ src: UnsafeMutablePointer<Int16>, _ w: Int, _ dst: UnsafeMutablePointer<Int16>,
                           from start: Int) -> Int {
        let ht = h.count
        var j = start
        let o = d.offset
        let q = h.decimateQ15
        var lo = d.regular.lowerBound, hi = d.regular.upperBound
        while lo < hi && 2 * lo + o < 0 { lo += 1 }
        while hi > lo && 2 * (hi - 1) + o + ht - 1 >= w { hi -= 1 }
        while j < lo { Self.scalarOutput(h, src, dst, j); j += 1 }
        let q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3]
        let s0 = src + o
        #if arch(x86_64) && canImport(_Builtin_intrinsics)
        if !portableOnly {
            if avx2Rows {
                lo = withUnsafeBytes(of: q) { qp in
                    fleet_decimate2_q15(Int32(ht), s0, w - o, qp.baseAddress!.assumingMemoryBound(to: Int16.self), lo, hi, dst)
                }
            }
            j = SSE2Rows.decimate2(taps: ht, src: s0, readable: w - o, q: q, range: lo..<hi, dst: dst)
            lo = j
        }
        #endif
        switch ht {
        case 2:
            for k in lo..<hi { dst[k] = mulhi(s0[2 * k], q0) &+ mulhi(s0[2 * k + 1], q1) }
        case 3:
            for k in lo..<hi { dst[k] = mulhi(s0[2 * k], q0) &+ mulhi(s0[2 * k + 1], q1) &+ mulhi(s0[2 * k + 2], q2) }
        default:
            for k in lo..<hi {
                dst[k] = (mulhi(s0[2 * k], q0) &+ mulhi(s0[2 * k + 1], q1)) &+ (mulhi(s0[2 * k + 2], q2) &+ mulhi(s0[2 * k + 3], q3))
            }
        }
        return hi
    }

    /// 1:2 interpolation over the regular run (explicit SIMD: 8 input positions -> 16 interleaved
    /// outputs, 14-bit weights in Int32). Returns the next output to compute.
    @inline(__always)
    private func upsample2(_ h: Taps, _ u: (offsets: (Int, Int), weights: ([Int32], [Int32]), regular: Range<Int>),
                           _ src: UnsafeMutablePointer<Int16>, _ w: Int, _ dst: UnsafeMutablePointer<Int16>) -> Int {
        let raw = UnsafeRawPointer(src)
        var j = 0
        let (o0, o1) = u.offsets
        var lo = u.regular.lowerBound, hi = u.regular.upperBound
        while lo < hi && lo + min(o0, o1) < 0 { lo += 1 }
        while hi > lo && (hi - 1) + max(o0, o1) + 1 >= w { hi -= 1 }
        while j < 2 * lo { Self.scalarOutput(h, src, dst, j); j += 1 }
        let wts = u.weights
        let a0 = SIMD8<Int32>(repeating: wts.0[0]), a1 = SIMD8<Int32>(repeating: wts.0[1])
        let b0 = SIMD8<Int32>(repeating: wts.1[0]), b1 = SIMD8<Int32>(repeating: wts.1[1])
        let half = SIMD8<Int32>(repeating: 1 << 14)
        @inline(__always) func load(_ i: Int) -> SIMD8<Int32> { widen(raw.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Int16>.self)) }
        var i = lo
        while i + 8 <= hi {
            let e = (half &+ a0 &* load(i + o0) &+ a1 &* load(i + o0 + 1)) &>> 15
            let o = (half &+ b0 &* load(i + o1) &+ b1 &* load(i + o1 + 1)) &>> 15
            // Interleave without shuffles: each 32-bit lane holds (even, odd) little-endian.
            let v = (e & 0xFFFF) | (o &<< 16)
            UnsafeMutableRawPointer(dst + 2 * i).storeBytes(of: v.littleEndianLanes, as: SIMD8<Int32>.self)
            i += 8
        }
        return 2 * i
    }
}

/// High half of the 32-bit product, (a * b) >> 16, rounded down. (Kept in plain loops that LLVM
/// vectorizes; on baseline SSE2 it mostly emits emulated 32-bit multiplies, pmulhw in places.)
@inline(__always) func mulhi(_ a: Int16, _ b: Int16) -> Int16 {
    Int16(truncatingIfNeeded: UInt32(bitPattern: Int32(a) &* Int32(b)) &>> 16)
}

extension SIMD8<Int32> {
    /// Lanes in little-endian byte order (a no-op on little-endian hosts).
    @inline(__always) fileprivate var littleEndianLanes: SIMD8<Int32> {
        #if _endian(little)
        return self
        #else
        var r = self
        for i in 0..<8 { r[i] = Int32(bitPattern: (UInt32(bitPattern: r[i]) &>> 16) | (UInt32(bitPattern: r[i]) &<< 16)) }
        return r
        #endif
    }
}

/// Int16 -> Int32 lanes (spelled out: the generic SIMD conversion initializers are not always
/// specialized and inlined).
@inline(__always) func widen(_ v: SIMD8<Int16>) -> SIMD8<Int32> {
    SIMD8(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]))
}
