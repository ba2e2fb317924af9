import CTensorStore

/// Per output channel 256-entry tables of the normalized value of each 8-bit level, in the
/// output dtype (`lut16`: float16/bfloat16 bits, `lut32`: Float), and the affine stores that
/// reproduce them. Owned by one `FrameTransformer`; `deallocate()` frees them.
struct NormalizationTables {
    let lut16: UnsafeMutablePointer<UInt16>
    let lut32: UnsafeMutablePointer<Float>
    /// Per output channel: `(a, b)` when `fmaf(x, a, b)` stored by CTensorStore reproduces that
    /// channel's table for all 256 inputs bit for bit (checked on CPUs with AVX2/F16C/FMA); nil
    /// where the table must be used.
    let affineStore: [(a: Float, b: Float)?]

    /// Tables for `config`: output channel k shows colour order[k].
    init(config: TransformConfig) {
        let order: [Int] = switch config.channels { case .rgb: [0, 1, 2]; case .bgr: [2, 1, 0]; case .gray: [0] }
        lut16 = .allocate(capacity: 3 * 256)
        lut32 = .allocate(capacity: 3 * 256)
        for (k, colour) in order.enumerated() {
            for i in 0..<256 {
                let v = config.normalization.value(Float(i), colour: colour)
                lut32[k * 256 + i] = v
                lut16[k * 256 + i] = config.dtype == .bf16 ? HalfConversion.bf16Bits(v) : HalfConversion.f16Bits(v)
            }
        }
        affineStore = Self.verifiedAffineStores(config: config, order: order, lut16: lut16, lut32: lut32)
    }

    func deallocate() {
        lut16.deallocate()
        lut32.deallocate()
    }

    /// For each output channel, the first `(a, b)` near `1 / (scale * std)` and `-mean / std` whose
    /// AVX2 store gives exactly the table's bits for every input 0...255 (float16/bfloat16 bits, or
    /// the Float bits for f32); nil when none does, for u8, or without AVX2/F16C/FMA.
    private static func verifiedAffineStores(config: TransformConfig, order: [Int], lut16: UnsafeMutablePointer<UInt16>,
                                             lut32: UnsafeMutablePointer<Float>) -> [(a: Float, b: Float)?] {
        guard config.dtype != .u8, FrameTransformer.vectorStoreAvailable else { return order.map { _ in nil } }
        let n = config.normalization
        let ramp = (0...255).map { UInt8($0) }
        var out = [UInt32](repeating: 0, count: 256)
        return order.enumerated().map { k, colour -> (a: Float, b: Float)? in
            let scale = Double(n.scale), mean = Double(n.mean[colour % n.mean.count]), std = Double(n.std[colour % n.std.count])
            let a0 = Float(1 / (scale * std)), b0 = Float(-mean / std)
            for a in [a0, a0.nextDown, a0.nextUp] {
                for b in [b0, b0.nextDown, b0.nextUp] {
                    let same = out.withUnsafeMutableBytes { o -> Bool in
                        ramp.withUnsafeBufferPointer { r in
                            switch config.dtype {
                            case .f16: fleet_store_affine_f16(r.baseAddress, 256, a, b, o.baseAddress)
                            case .bf16: fleet_store_affine_bf16(r.baseAddress, 256, a, b, o.baseAddress)
                            default: fleet_store_affine_f32(r.baseAddress, 256, a, b, o.baseAddress)
                            }
                        }
                        if config.dtype == .f32 {
                            let f = o.bindMemory(to: Float.self)
                            return (0..<256).allSatisfy { f[$0].bitPattern == lut32[k * 256 + $0].bitPattern }
                        }
                        let h = o.bindMemory(to: UInt16.self)
                        return (0..<256).allSatisfy { h[$0] == lut16[k * 256 + $0] }
                    }
                    if same { return (a, b) }
                }
            }
            return nil
        }
    }
}

extension FrameTransformer {
    /// Normalizes + converts the 8-bit rows of output row `y` into the tensor.
    func writeRow(_ y: Int, _ out: UnsafeMutableRawPointer) {
        if config.layout == .chw {
            writePlanarRow(y, out)
        } else if channels == 3 {
            writeInterleavedRGBRow(y, out)
        } else {
            writeInterleavedRow(y, out)
        }
    }

    /// CHW: each channel's row is contiguous (the affine vector store where it is exact, else the tables).
    private func writePlanarRow(_ y: Int, _ out: UnsafeMutableRawPointer) {
        let n = outputWidth, c = channels
        let dtype = config.dtype
        let bw = dtype.byteWidth
        for k in 0..<c {
            let src = rgbRows + k * rowCap
            let dst = out + ((k * outputHeight + y) * n) * bw
            if !portableOnly, let (a, b) = affineStore[k] {   // never set for u8
                switch dtype {
                case .f16: fleet_store_affine_f16(src, n, a, b, dst)
                case .bf16: fleet_store_affine_bf16(src, n, a, b, dst)
                default: fleet_store_affine_f32(src, n, a, b, dst)
                }
                continue
            }
            switch dtype {
            case .u8:
                dst.copyMemory(from: src, byteCount: n)
            case .f16, .bf16:
                let lut = lut16 + k * 256
                var i = 0
                // 8 at a time: one 8-byte load of indices, two 8-byte stores of results.
                while i + 8 <= n {
                    let x = UInt64(littleEndian: UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self))
                    @inline(__always) func e(_ s: UInt64) -> UInt64 { UInt64(lut[Int((x &>> s) & 0xFF)]) }
                    let lo = e(0) | e(8) &<< 16 | e(16) &<< 32 | e(24) &<< 48
                    let hi = e(32) | e(40) &<< 16 | e(48) &<< 32 | e(56) &<< 48
                    dst.storeBytes(of: lo.littleEndian, toByteOffset: 2 * i, as: UInt64.self)
                    dst.storeBytes(of: hi.littleEndian, toByteOffset: 2 * i + 8, as: UInt64.self)
                    i += 8
                }
                while i < n { dst.storeBytes(of: lut[Int(src[i])], toByteOffset: 2 * i, as: UInt16.self); i += 1 }
            case .f32:
                let lut = lut32 + k * 256
                for i in 0..<n { dst.storeBytes(of: lut[Int(src[i])], toByteOffset: 4 * i, as: Float.self) }
            }
        }
    }

    /// Interleaved RGB: one pass per pixel, three adjacent stores.
    private func writeInterleavedRGBRow(_ y: Int, _ out: UnsafeMutableRawPointer) {
        let n = outputWidth
        let dtype = config.dtype
        let bw = dtype.byteWidth
        let dst = out + (y * n * 3) * bw
        let r = rgbRows, g = rgbRows + rowCap, b = rgbRows + 2 * rowCap
        switch dtype {
        case .u8:
            let i0 = avx2Rows ? fleet_interleave3_u8(r, g, b, n, dst.assumingMemoryBound(to: UInt8.self)) : 0
            for i in i0..<n {
                dst.storeBytes(of: r[i], toByteOffset: 3 * i, as: UInt8.self)
                dst.storeBytes(of: g[i], toByteOffset: 3 * i + 1, as: UInt8.self)
                dst.storeBytes(of: b[i], toByteOffset: 3 * i + 2, as: UInt8.self)
            }
        case .f16, .bf16:
            let l0 = lut16, l1 = lut16 + 256, l2 = lut16 + 512
            for i in 0..<n {
                dst.storeBytes(of: l0[Int(r[i])], toByteOffset: 6 * i, as: UInt16.self)
                dst.storeBytes(of: l1[Int(g[i])], toByteOffset: 6 * i + 2, as: UInt16.self)
                dst.storeBytes(of: l2[Int(b[i])], toByteOffset: 6 * i + 4, as: UInt16.self)
            }
        case .f32:
            let l0 = lut32, l1 = lut32 + 256, l2 = lut32 + 512
            for i in 0..<n {
                dst.storeBytes(of: l0[Int(r[i])], toByteOffset: 12 * i, as: Float.self)
                dst.storeBytes(of: l1[Int(g[i])], toByteOffset: 12 * i + 4, as: Float.self)
                dst.storeBytes(of: l2[Int(b[i])], toByteOffset: 12 * i + 8, as: Float.self)
            }
        }
    }

    /// Interleaved, any channel count (gray HWC).
    private func writeInterleavedRow(_ y: Int, _ out: UnsafeMutableRawPointer) {
        let n = outputWidth, c = channels
        let dtype = config.dtype
        let bw = dtype.byteWidth
        let dst = out + (y * n * c) * bw
        for k in 0..<c {
            let src = rgbRows + k * rowCap
            switch dtype {
            case .u8:
                for i in 0..<n { dst.storeBytes(of: src[i], toByteOffset: i * c + k, as: UInt8.self) }
            case .f16, .bf16:
                let lut = lut16 + k * 256
                for i in 0..<n { dst.storeBytes(of: lut[Int(src[i])], toByteOffset: 2 * (i * c + k), as: UInt16.self) }
            case .f32:
                let lut = lut32 + k * 256
                for i in 0..<n { dst.storeBytes(of: lut[Int(src[i])], toByteOffset: 4 * (i * c + k), as: Float.self) }
            }
        }
    }
}
