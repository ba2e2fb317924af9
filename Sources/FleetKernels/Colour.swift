import CTensorStore

/// YUV -> RGB coefficients of one matrix and range: coefficient * 8192 applied with `mulhi` to
/// 1/64-level samples gives 1/8 levels (all < 4, so * 8192 fits Int16).
struct ColourCoefficients {
    let cy: Int16, yOffset: Int16, crv: Int16, cgu: Int16, cgv: Int16, cbu: Int16

    init(matrix: ColourMatrix, range: ColourRange, bitDepth: Int) {
        let (kr, kb): (Double, Double)
        switch matrix {
        case .bt601: (kr, kb) = (0.299, 0.114)
        case .bt709: (kr, kb) = (0.2126, 0.0722)
        case .bt2020: (kr, kb) = (0.2627, 0.0593)
        }
        let kg = 1 - kr - kb
        var ys: Double, cs: Double, yo: Double
        switch range {
        case .limited: ys = 255.0 / 219.0; cs = 255.0 / 224.0; yo = 16
        case .full: ys = 1; cs = 1; yo = 0
        }
        if bitDepth == 10 && range == .full { ys *= 1020.0 / 1023.0; cs *= 1020.0 / 1023.0 }
        let f = 8192.0
        cy = Int16((ys * f).rounded())
        yOffset = Int16(yo * 64)
        crv = Int16((2 * (1 - kr) * cs * f).rounded())
        cbu = Int16((2 * (1 - kb) * cs * f).rounded())
        cgu = Int16((2 * kb * (1 - kb) / kg * cs * f).rounded())
        cgv = Int16((2 * kr * (1 - kr) / kg * cs * f).rounded())
    }
}

extension FrameTransformer {
    /// YUV rows (1/64 levels) -> 8-bit rows in output channel order (or one gray row), rounded
    /// and clamped to 0...255. SSE2 rows on x86-64 (`SSE2Rows.colour`); elsewhere scalar Int16
    /// loops for LLVM to vectorize (the reference the SSE2 rows are tested against).
    func convertColour(_ yr: UnsafeMutablePointer<Int16>, _ ur: UnsafeMutablePointer<Int16>,
                               _ vr: UnsafeMutablePointer<Int16>) {
        let n = outputWidth
        let cy = colour.cy, yo = colour.yOffset, crv = colour.crv, cgu = colour.cgu, cgv = colour.cgv, cbu = colour.cbu
        let mid: Int16 = 128 * 64
        // mulhi rounds down (-1/16 level on average per product): R and B lose about 1/8 level
        // (bias 4 for rounding + 1), G's two subtracted products cancel l's loss (bias 4).
        @inline(__always) func byte(_ x: Int16) -> UInt8 { UInt8(truncatingIfNeeded: min(max(x &>> 3, 0), 255)) }
        if sourceFormat.isRGB {
            convertRGB(g: yr, b: ur, r: vr)
            return
        }
        if channels == 1 {
            let g = rgbRows
            #if arch(x86_64) && canImport(_Builtin_intrinsics)
            if !portableOnly { SSE2Rows.gray(count: n, y: yr, into: g, cy: cy, yOffset: yo); return }
            #endif
            for i in 0..<n { g[i] = byte(mulhi(yr[i] &- yo, cy) &+ 4) }
            return
        }
        let (r, g, b) = colourRows
        #if arch(x86_64) && canImport(_Builtin_intrinsics)
        if !portableOnly {
            // AVX2 16 pixels at a time, then SSE2 runs to rowCap (a multiple of 8): the rows hold
            // that many elements.
            let i0 = avx2Rows ? fleet_colour_yuv(n, yr, ur, vr, r, g, b, cy, yo, crv, cgu, cgv, cbu) : 0
            SSE2Rows.colour(from: i0, count: n, y: yr, u: ur, v: vr, r: r, g: g, b: b,
                            cy: cy, yOffset: yo, crv: crv, cgu: cgu, cgv: cgv, cbu: cbu)
            return
        }
        #endif
        for i in 0..<n {
            let l = mulhi(yr[i] &- yo, cy)
            let u = ur[i] &- mid, v = vr[i] &- mid
            r[i] = byte(l &+ mulhi(v, crv) &+ 5)
            g[i] = byte(l &- mulhi(u, cgu) &- mulhi(v, cgv) &+ 4)
            b[i] = byte(l &+ mulhi(u, cbu) &+ 5)
        }
    }

    /// The output rows of red, green and blue (`--channels bgr` swaps red and blue).
    var colourRows: (r: UnsafeMutablePointer<UInt8>, g: UnsafeMutablePointer<UInt8>, b: UnsafeMutablePointer<UInt8>) {
        let bgr = config.channels == .bgr
        return (bgr ? rgbRows + 2 * rowCap : rgbRows, rgbRows + rowCap, bgr ? rgbRows : rgbRows + 2 * rowCap)
    }

    /// RGB sources (`gbrp`, planes G, B, R in 1/64 levels): no matrix, each colour rounded to
    /// 8 bits (exact without a resize); gray output is BT.601 luma `0.299 R + 0.587 G + 0.114 B`
    /// at full range (16-bit weights summing to 65536).
    func convertRGB(g gr: UnsafeMutablePointer<Int16>, b br: UnsafeMutablePointer<Int16>,
                            r rr: UnsafeMutablePointer<Int16>) {
        let n = outputWidth
        @inline(__always) func byte(_ x: Int32) -> UInt8 { UInt8(truncatingIfNeeded: min(max(x, 0), 255)) }
        if channels == 1 {
            let out = rgbRows
            for i in 0..<n {
                let y = 19595 &* Int32(rr[i]) &+ 38470 &* Int32(gr[i]) &+ 7471 &* Int32(br[i])
                out[i] = byte((y &+ (1 << 21)) &>> 22)
            }
            return
        }
        let (r, g, b) = colourRows
        for i in 0..<n {
            r[i] = byte((Int32(rr[i]) &+ 32) &>> 6)
            g[i] = byte((Int32(gr[i]) &+ 32) &>> 6)
            b[i] = byte((Int32(br[i]) &+ 32) &>> 6)
        }
    }

}
