/// Exact float32 → float16 / bfloat16 conversions (round to nearest, ties to even), written as
/// integer bit manipulation: no call into the runtime's `Float16(x)` (a slow library call on
/// x86-64 unless F16C is enabled at build time, which a package's users cannot do for us).
///
/// The transform kernels never convert per pixel: normalized values of the 256 possible 8-bit
/// inputs are converted once into a lookup table per channel (`FrameTransformer`), so output
/// conversion costs a table load per element whatever the element type.
public enum HalfConversion {
    /// IEEE 754 binary16 bits of `x`: RNE, subnormals, overflow to ±inf, NaN kept (quiet).
    @inlinable
    public static func f16Bits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (b >> 16) & 0x8000)
        let exp = Int((b >> 23) & 0xFF)
        let mant = b & 0x7F_FFFF
        if exp == 0xFF {
            return mant == 0 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: mant >> 13)
        }
        let e = exp - 127 + 15
        if e >= 31 { return sign | 0x7C00 }
        if e <= 0 {
            if e < -10 { return sign }
            let m = mant | 0x80_0000
            let shift = UInt32(14 - e)
            let half = UInt32(1) << (shift - 1)
            let rem = m & ((UInt32(1) << shift) - 1)
            var r = m >> shift
            if rem > half || (rem == half && (r & 1) == 1) { r += 1 }
            return sign | UInt16(truncatingIfNeeded: r)
        }
        var r = UInt32(e) << 10 | (mant >> 13)
        let rem = mant & 0x1FFF
        if rem > 0x1000 || (rem == 0x1000 && (r & 1) == 1) { r += 1 }
        return sign | UInt16(truncatingIfNeeded: r)
    }

    /// bfloat16 bits of `x` (the top 16 bits of float32, rounded to nearest even; NaN stays NaN).
    @inlinable
    public static func bf16Bits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if (b & 0x7F80_0000) == 0x7F80_0000 && (b & 0x7F_FFFF) != 0 {
            return UInt16(truncatingIfNeeded: b >> 16) | 0x0040
        }
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// The float32 value of binary16 bits (exact).
    public static func float(fromF16 h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            let v = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
    }

    /// Converts a buffer of floats to binary16 bits.
    public static func f16Bits(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<UInt16>) {
        precondition(dst.count >= src.count)
        for i in 0..<src.count { dst[i] = f16Bits(src[i]) }
    }

    /// Converts a buffer of floats to bfloat16 bits.
    public static func bf16Bits(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<UInt16>) {
        precondition(dst.count >= src.count)
        for i in 0..<src.count { dst[i] = bf16Bits(src[i]) }
    }
}
