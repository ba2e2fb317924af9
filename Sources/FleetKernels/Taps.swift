/// `FilterTaps` copied into raw memory allocated once (no bounds checks in the hot loops), plus
/// what the fast paths need (tap planning: which row kernel a direction can use). Owned by one
/// `FrameTransformer`; freed with it.
final class Taps {
    let count: Int
    let isIdentity: Bool
    let index: UnsafeMutablePointer<Int32>
    let weight: UnsafeMutablePointer<Int32>
    /// Weights / 128 when every weight is a multiple of 128 (then 8-bit samples filter in Int16).
    let weight16: UnsafeMutablePointer<Int16>?
    /// Regular 2:1 decimation: output j reads input 2j + offset + t with the same weights for
    /// j in `regular`.
    let decimate2: (offset: Int, weights: [Int32], regular: Range<Int>)?
    /// `decimate2` weights in Q15 (2 x the 14-bit weight, at most 32767), padded with zeros to 4.
    let decimateQ15: SIMD4<Int16>

    /// Regular 1:2 interpolation: outputs 2i and 2i+1 read inputs i + offsets.0/1 + t with the
    /// phase weights, for i in `regular`.
    let upsample2: (offsets: (Int, Int), weights: ([Int32], [Int32]), regular: Range<Int>)?

    /// Any ratio, for `SSE2Rows.horizontal`: output j is the dot product of the `8 * chunks`
    /// samples from `pos[j]` (its first tap) with `weights[j * 8 * chunks ..< (j + 1) * 8 * chunks]`
    /// (the taps' weights at their offsets, zeros elsewhere). Nil for 1-tap (and identity) taps,
    /// or if some output's taps did not fit that span (they are contiguous by construction).
    let generic: (pos: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Int16>, chunks: Int)?
    /// One past the last input sample `generic` reads (0 without it): the row must be that long.
    let paddedEnd: Int
    /// `generic`'s weights of the first `n / 8 * 8` outputs in the order of CTensorStore's AVX2
    /// `fleet_horizontal_i16` (outputs j and j + 4 side by side).
    let pairedWeights: UnsafeMutablePointer<Int16>?

    init(_ t: FilterTaps) {
        count = t.count
        isIdentity = t.isIdentity
        index = .allocate(capacity: t.index.count)
        index.initialize(from: t.index, count: t.index.count)
        weight = .allocate(capacity: t.weight.count)
        weight.initialize(from: t.weight, count: t.weight.count)
        if t.weight.allSatisfy({ $0 % 128 == 0 }) {
            let w16 = UnsafeMutablePointer<Int16>.allocate(capacity: t.weight.count)
            w16.initialize(from: t.weight.map { Int16($0 / 128) }, count: t.weight.count)
            weight16 = w16
        } else {
            weight16 = nil
        }
        let best = Self.regularDecimation(t)
        decimate2 = best
        func q15(_ w: Int32) -> Int16 { Int16(min(2 * w, 32767)) }
        var dw = SIMD4<Int16>(repeating: 0)
        for (k, x) in (best?.weights ?? []).enumerated() { dw[k] = q15(x) }
        decimateQ15 = dw
        upsample2 = Self.regularUpsampling(t)
        let (gen, end) = Self.contiguousSpans(t)
        generic = gen
        paddedEnd = end
        pairedWeights = gen.map { Self.pairForAVX2($0, outputs: t.index.count / max(t.count, 1)) }
    }

    deinit {
        index.deallocate()
        weight.deallocate()
        weight16?.deallocate()
        generic?.pos.deallocate()
        generic?.weights.deallocate()
        pairedWeights?.deallocate()
    }

    /// The longest run of outputs that follow one 2:1 pattern (at least 16 of them), or nil.
    private static func regularDecimation(_ t: FilterTaps) -> (offset: Int, weights: [Int32], regular: Range<Int>)? {
        let n = t.index.count / max(t.count, 1), c = t.count
        guard c <= 4 && n >= 24 else { return nil }
        let mid = n / 2
        let offset = Int(t.index[mid * c]) - 2 * mid
        let w = Array(t.weight[(mid * c)..<(mid * c + c)])
        func regular(_ j: Int) -> Bool {
            for k in 0..<c where Int(t.index[j * c + k]) != 2 * j + offset + k || t.weight[j * c + k] != w[k] { return false }
            return true
        }
        guard regular(mid) else { return nil }
        var lo = mid, hi = mid + 1
        while lo > 0 && regular(lo - 1) { lo -= 1 }
        while hi < n && regular(hi) { hi += 1 }
        return hi - lo >= 16 ? (offset, w, lo..<hi) : nil
    }

    /// 1:2 interpolation: output 2i + p reads input i + offset_p + k with phase weights; the
    /// longest regular run of input positions (at least 16), or nil.
    private static func regularUpsampling(_ t: FilterTaps) -> (offsets: (Int, Int), weights: ([Int32], [Int32]), regular: Range<Int>)? {
        let n = t.index.count / max(t.count, 1), c = t.count
        guard c <= 2 && n >= 48 else { return nil }
        let mid = (n / 4) * 2
        let o0 = Int(t.index[mid * c]) - mid / 2, o1 = Int(t.index[(mid + 1) * c]) - mid / 2
        let w0 = Array(t.weight[(mid * c)..<(mid * c + c)]), w1 = Array(t.weight[((mid + 1) * c)..<((mid + 1) * c + c)])
        func regular(_ i: Int) -> Bool {   // outputs 2i and 2i+1
            for k in 0..<c {
                if Int(t.index[2 * i * c + k]) != i + o0 + k || t.weight[2 * i * c + k] != w0[k] { return false }
                if Int(t.index[(2 * i + 1) * c + k]) != i + o1 + k || t.weight[(2 * i + 1) * c + k] != w1[k] { return false }
            }
            return true
        }
        let m = mid / 2
        guard regular(m) else { return nil }
        var lo = m, hi = m + 1
        while lo > 0 && regular(lo - 1) { lo -= 1 }
        while hi < n / 2 && regular(hi) { hi += 1 }
        return hi - lo >= 16 ? ((o0, o1), (w0 + [0], w1 + [0]), lo..<hi) : nil
    }

    /// Generic: each output's taps as one contiguous span from its lowest index, and one past the
    /// last sample the spans read (nil and 0 when some taps do not fit or a weight is negative).
    private static func contiguousSpans(_ t: FilterTaps)
        -> ((pos: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Int16>, chunks: Int)?, Int) {
        let n = t.index.count / max(t.count, 1), c = t.count
        guard c > 1 && !t.isIdentity && n > 0 else { return (nil, 0) }
        let chunks = (c + 7) / 8, span = 8 * chunks
        var pos = [Int32](repeating: 0, count: n)
        var ws = [Int32](repeating: 0, count: n * span)
        var end = 0
        var fits = true
        for j in 0..<n where fits {
            let lo = t.index[(j * c)..<(j * c + c)].min()!
            pos[j] = lo
            for k in 0..<c {
                let off = Int(t.index[j * c + k] - lo)
                if off >= span || t.weight[j * c + k] < 0 { fits = false; break }
                ws[j * span + off] += t.weight[j * c + k]
            }
            end = max(end, Int(lo) + span)
        }
        guard fits && ws.allSatisfy({ $0 <= Int32(Int16.max) }) else { return (nil, 0) }
        let p = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        p.initialize(from: pos, count: n)
        let w = UnsafeMutablePointer<Int16>.allocate(capacity: n * span)
        w.initialize(from: ws.map { Int16($0) }, count: n * span)
        return ((p, w, chunks), end)
    }

    /// `g`'s weights of the first `n / 8 * 8` outputs reordered for `fleet_horizontal_i16`.
    private static func pairForAVX2(_ g: (pos: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Int16>, chunks: Int),
                                    outputs n: Int) -> UnsafeMutablePointer<Int16> {
        let span = 8 * g.chunks, blocks = n / 8
        let p = UnsafeMutablePointer<Int16>.allocate(capacity: max(1, blocks * 8 * span))
        var q = 0
        for b in 0..<blocks {
            for o in 0..<4 {
                for c in 0..<g.chunks {
                    for (j, lane) in [(8 * b + o, 0), (8 * b + o + 4, 8)] {
                        for e in 0..<8 { p[q + lane + e] = g.weights[j * span + 8 * c + e] }
                    }
                    q += 16
                }
            }
        }
        return p
    }
}
