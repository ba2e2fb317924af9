/// Resamples one plane (Y, U or V) of a frame region to the output size: source rows are read
/// once into a small ring of float rows, filtered vertically, then horizontally. Raw sample values
/// (8- or 10-bit) are filtered; colour conversion happens after, at output resolution, which is
/// how libswscale orders it and much less work than converting every source pixel.
final class PlaneResampler {
    enum Sample { case u8, u16le, interleaved(Int) }   // interleaved(k): byte k of each pair (nv12)

    let plane: Int
    let sample: Sample
    let h: ResampleTaps
    let v: ResampleTaps
    private let xs: Int, xe: Int                 // source columns the horizontal taps read
    private let ringRows: Int
    private var ringIndex: [Int]
    private let ring: UnsafeMutablePointer<Float>
    private let vertical: UnsafeMutablePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let outWidth: Int

    init(plane: Int, sample: Sample, width: Int, height: Int, originX: Double, originY: Double, spanX: Double, spanY: Double,
         outWidth: Int, outHeight: Int, filter: ResizeFilter) {
        self.plane = plane
        self.sample = sample
        self.outWidth = outWidth
        h = ResampleTaps(length: width, origin: originX, span: spanX, output: outWidth, filter: filter)
        v = ResampleTaps(length: height, origin: originY, span: spanY, output: outHeight, filter: filter)
        xs = h.start.min() ?? 0
        xe = min(width, (h.start.max() ?? 0) + h.taps)
        ringRows = v.taps + 1
        ringIndex = Array(repeating: -1, count: ringRows)
        ring = .allocate(capacity: ringRows * max(1, xe - xs))
        vertical = .allocate(capacity: max(1, xe - xs))
        out = .allocate(capacity: outWidth)
    }

    deinit { ring.deallocate(); vertical.deallocate(); out.deallocate() }

    func reset() { for i in 0..<ringRows { ringIndex[i] = -1 } }

    /// Source row r (xs..<xe) as floats, cached.
    private func source(_ r: Int, _ base: UnsafeRawPointer, _ stride: Int) -> UnsafeMutablePointer<Float> {
        let slot = r % ringRows
        let n = xe - xs
        let dst = ring + slot * n
        if ringIndex[slot] == r { return dst }
        ringIndex[slot] = r
        let row = base + r * stride
        switch sample {
        case .u8:
            let p = row.assumingMemoryBound(to: UInt8.self) + xs
            for i in 0..<n { dst[i] = Float(p[i]) }
        case .u16le:
            let p = row.assumingMemoryBound(to: UInt16.self) + xs
            for i in 0..<n { dst[i] = Float(UInt16(littleEndian: p[i])) }
        case .interleaved(let k):
            let p = row.assumingMemoryBound(to: UInt8.self) + 2 * xs + k
            for i in 0..<n { dst[i] = Float(p[2 * i]) }
        }
        return dst
    }

    /// Output row y of this plane (raw sample values, filtered) in `out`.
    func row(_ y: Int, base: UnsafeRawPointer, stride: Int) {
        let n = xe - xs
        let t = v.taps
        let s = v.start[y]
        let vd = vertical
        // Vertical: accumulate the taps into `vertical`, first tap initializes.
        var first = true
        for k in 0..<t {
            let w = v.weight[y * t + k]
            if w == 0 { continue }
            let src = source(s + k, base, stride)
            if first {
                for i in 0..<n { vd[i] = w * src[i] }
                first = false
            } else {
                for i in 0..<n { vd[i] += w * src[i] }
            }
        }
        if first { for i in 0..<n { vd[i] = 0 } }
        // Horizontal.
        let ht = h.taps
        let o = out
        h.weight.withUnsafeBufferPointer { wp in
            h.start.withUnsafeBufferPointer { sp in
                let w = wp.baseAddress!
                let base = vd - xs
                switch ht {
                case 1:
                    for x in 0..<outWidth { o[x] = w[x] * base[sp[x]] }
                case 2:
                    for x in 0..<outWidth {
                        let b = base + sp[x], ww = w + 2 * x
                        o[x] = ww[0] * b[0] + ww[1] * b[1]
                    }
                case 4:
                    for x in 0..<outWidth {
                        let b = base + sp[x], ww = w + 4 * x
                        o[x] = (ww[0] * b[0] + ww[1] * b[1]) + (ww[2] * b[2] + ww[3] * b[3])
                    }
                default:
                    for x in 0..<outWidth {
                        let b = base + sp[x], ww = w + ht * x
                        var acc: Float = 0
                        for k in 0..<ht { acc += ww[k] * b[k] }
                        o[x] = acc
                    }
                }
            }
        }
    }
}
