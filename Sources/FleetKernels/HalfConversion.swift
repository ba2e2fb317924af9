/// Float32 -> binary16 / bfloat16 bit patterns, round-to-nearest-even, without `Float16(x)`.
///
/// On baseline x86-64 (no F16C) `Float16(x)` is a scalar library call per value; these functions
/// use only integer and Float32 arithmetic, so the SIMD versions vectorize. Both are exact:
/// ties go to even, results below the smallest normal become subnormals (or ±0), values that
/// round past the largest finite value become ±infinity, ±infinity stays, -0 keeps its sign, and
/// NaN stays a quiet NaN with the top payload bits kept (as compiler-rt's `__truncsfhf2`).
public enum HalfConversion {
    /// binary16 bits of `x`, round-to-nearest-even.
    public static func f16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let a = bits & 0x7FFF_FFFF
        if a > 0x7F80_0000 {                       // NaN: quiet, keep payload top bits
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (a & 0x003F_FFFF) >> 13)
        }
        if a >= 0x477F_F000 { return sign | 0x7C00 }  // rounds to >= 65520 -> inf (and inf)
        if a >= 0x3880_0000 {                      // normal half: rebias exponent, round mantissa
            let r = (a &- 0x3800_0000 &+ 0x0FFF &+ ((a >> 13) & 1)) >> 13
            return sign | UInt16(truncatingIfNeeded: r)
        }
        // Subnormal or zero: adding 0.5 puts the half-subnormal step (2^-24) at the float's
        // last mantissa bit, so the Float addition itself rounds to nearest even.
        let f = Float(bitPattern: a) + 0.5
        return sign | UInt16(truncatingIfNeeded: f.bitPattern &- 0x3F00_0000)
    }

    /// bfloat16 bits of `x`, round-to-nearest-even (NaN stays a quiet NaN).
    public static func bf16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// binary16 bits of 8 floats at once (branch-free; vectorizes).
    public static func f16Bits(_ x: SIMD8<Float>) -> SIMD8<UInt16> {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        let sign = (bits &>> 16) & 0x8000
        let a = bits & 0x7FFF_FFFF
        let normal = (a &- 0x3800_0000 &+ 0x0FFF &+ ((a &>> 13) & 1)) &>> 13
        let subF = unsafeBitCast(a, to: SIMD8<Float>.self) + SIMD8<Float>(repeating: 0.5)
        let sub = unsafeBitCast(subF, to: SIMD8<UInt32>.self) &- 0x3F00_0000
        var r = sub
        r.replace(with: normal, where: a .>= 0x3880_0000)
        r.replace(with: SIMD8<UInt32>(repeating: 0x7C00), where: a .>= 0x477F_F000)
        let nan = 0x7E00 | ((a & 0x003F_FFFF) &>> 13)
        r.replace(with: nan, where: a .> 0x7F80_0000)
        return SIMD8<UInt16>(truncatingIfNeeded: r | sign)
    }

    /// bfloat16 bits of 8 floats at once (branch-free; vectorizes).
    public static func bf16Bits(_ x: SIMD8<Float>) -> SIMD8<UInt16> {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        var r = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
        r.replace(with: (bits &>> 16) | 0x0040, where: (bits & 0x7FFF_FFFF) .> 0x7F80_0000)
        return SIMD8<UInt16>(truncatingIfNeeded: r)
    }

    /// Converts `source` to binary16 bits in `destination` (which must be at least as long).
    public static func convertToF16(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(destination.count >= source.count, "destination too short")
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        convertF16(s, d, source.count)
    }

    /// Converts `source` to bfloat16 bits in `destination` (which must be at least as long).
    public static func convertToBF16(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(destination.count >= source.count, "destination too short")
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        var i = 0
        let n = source.count
        while i + 8 <= n {
            let v = UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: bf16Bits(v), as: SIMD8<UInt16>.self)
            i += 8
        }
        while i < n { d[i] = bf16Bits(s[i]); i += 1 }
    }

    static func convertF16(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<UInt16>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: f16Bits(v), as: SIMD8<UInt16>.self)
            i += 8
        }
        while i < n { d[i] = f16Bits(s[i]); i += 1 }
    }
}
