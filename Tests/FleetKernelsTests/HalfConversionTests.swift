import Testing
@testable import FleetKernels

/// Independent bfloat16 reference: picks the nearer of the two bfloat16 neighbours in Double,
/// ties to the even one.
func referenceBF16(_ x: Float) -> UInt16 {
    if x.isNaN { return 0x7FC0 | UInt16(x.sign == .minus ? 0x8000 : 0) }
    let bits = x.bitPattern
    let lo = bits & 0xFFFF_0000                      // truncated toward zero
    let hi = lo &+ 0x0001_0000                       // next away from zero (may be inf)
    let dLo = abs(Double(x) - Double(Float(bitPattern: lo)))
    let hiValue = Float(bitPattern: hi)
    // Round-to-nearest past the largest finite value: the "next" value is 2^128.
    let dHi = hiValue.isInfinite ? abs(Double(x).magnitude - 0x1p128) : abs(Double(x) - Double(hiValue))
    if dLo < dHi { return UInt16(lo >> 16) }
    if dHi < dLo { return UInt16(hi >> 16) }
    return (lo >> 16) & 1 == 0 ? UInt16(lo >> 16) : UInt16(hi >> 16)
}

func f16SIMD(_ x: Float) -> UInt16 { HalfConversion.f16Bits(SIMD8<Float>(repeating: x))[3] }
func bf16SIMD(_ x: Float) -> UInt16 { HalfConversion.bf16Bits(SIMD8<Float>(repeating: x))[5] }

@Suite struct HalfConversionTests {
    /// Hand-computed binary16 bit patterns: exact values, ties to even, subnormals, overflow, specials.
    @Test(arguments: [
        (Float(0), UInt16(0x0000)), (-0.0, 0x8000), (1, 0x3C00), (-2, 0xC000), (0.5, 0x3800),
        (65504, 0x7BFF),                          // largest finite
        (65519.996, 0x7BFF),                      // just below the tie with 65536 -> stays finite
        (65520, 0x7C00),                          // tie between 65504 (odd) and 2^16 -> inf
        (1e6, 0x7C00), (-1e6, 0xFC00), (.infinity, 0x7C00), (-.infinity, 0xFC00),
        (0x1p-14, 0x0400),                        // smallest normal
        (0x1p-24, 0x0001),                        // smallest subnormal
        (0x1p-25, 0x0000),                        // tie between 0 and 2^-24 -> 0 (even)
        (0x1.8p-24, 0x0002),                      // tie between 1 and 2 ulps -> 2 (even)
        (0x1.4p-24, 0x0001), (0x1.Cp-24, 0x0002),
        (-0x1p-24, 0x8001), (0x1p-26, 0x0000), (-0x1p-30, 0x8000),
        (0x1.FF8p-15, 0x03FF),                    // largest subnormal, 1023 * 2^-24
        (0x1.FFCp-15, 0x0400),                    // tie between largest subnormal (odd) and min normal
        (0x1.FF4p-15, 0x03FE),                    // 1022.5 * 2^-24: tie -> 1022 (even)
        (0x1.FFp-15, 0x03FE),
        (1.00048828125, 0x3C00),                  // 1 + 2^-11: tie -> 1 (even)
        (1.00146484375, 0x3C02),                  // 1 + 3*2^-11: tie -> 1 + 2^-9 (even)
        (1.0009765625, 0x3C01),                   // 1 + 2^-10 exact
        (0.1, 0x2E66), (1.0 / 3.0, 0x3555), (-2.117904, 0xC03C), (3.14159265, 0x4248),
    ] as [(Float, UInt16)])
    func f16HandComputed(_ x: Float, _ bits: UInt16) {
        #expect(HalfConversion.f16Bits(x) == bits, "\(x)")
        #expect(f16SIMD(x) == bits, "SIMD \(x)")
    }

    @Test func f16NaNStaysQuietNaN() {
        for x in [Float.nan, -Float.nan, Float.signalingNaN, Float(nan: 0x1234, signaling: false), Float(bitPattern: 0x7F80_0001)] {
            let h = HalfConversion.f16Bits(x)
            #expect(h & 0x7C00 == 0x7C00 && h & 0x0200 != 0, "\(x.bitPattern)")
            #expect(h & 0x8000 == UInt16((x.bitPattern >> 16) & 0x8000))
            #expect(f16SIMD(x) == h)
            #expect(Float16(bitPattern: h).isNaN)
        }
        #expect(HalfConversion.f16Bits(.nan) == 0x7E00)
    }

    /// Against the standard library's `Float16(x)` (slow on x86 without F16C, fine as an oracle):
    /// every binary16 value, its float neighbours, every midpoint between consecutive binary16
    /// values and its neighbours, plus a million pseudo-random float bit patterns.
    @Test func f16MatchesStandardLibrary() {
        var mismatches = 0, checked = 0
        func check(_ x: Float) {
            checked += 1
            let want = Float16(x).bitPattern
            let got = HalfConversion.f16Bits(x)
            if x.isNaN {
                if !Float16(bitPattern: got).isNaN { mismatches += 1 }
            } else if got != want || f16SIMD(x) != want {
                mismatches += 1
                if mismatches < 5 { Issue.record("x=\(x) bits=\(String(x.bitPattern, radix: 16)) got \(got) want \(want)") }
            }
        }
        for h in 0...UInt16.max {
            let v = Float16(bitPattern: h)
            guard v.isFinite else { continue }
            let f = Float(v)
            check(f); check(f.nextUp); check(f.nextDown)
            let next = Float(Float16(bitPattern: h &+ 1))
            if next.isFinite {
                let mid = Float((Double(f) + Double(next)) / 2)   // exact: 12 significant bits
                check(mid); check(mid.nextUp); check(mid.nextDown)
            }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<1_000_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            check(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32)))
        }
        #expect(mismatches == 0, "\(mismatches) of \(checked) differ from Float16(x)")
    }

    @Test(arguments: [
        (Float(0), UInt16(0x0000)), (-0.0, 0x8000), (1, 0x3F80), (-1, 0xBF80), (2, 0x4000),
        (1.00390625, 0x3F80),                     // 1 + 2^-8: tie -> 1 (even)
        (1.01171875, 0x3F82),                     // 1 + 3*2^-8: tie -> 1 + 2^-6 (even)
        (1.0078125, 0x3F81),                      // exact
        (.infinity, 0x7F80), (-.infinity, 0xFF80),
        (.greatestFiniteMagnitude, 0x7F80),       // rounds past the largest bf16 -> inf
        (Float(bitPattern: 0x7F7F_7FFF), 0x7F7F), // just below the tie -> largest finite
        (Float(bitPattern: 0x0000_8000), 0x0000), // subnormal tie -> 0 (even)
        (Float(bitPattern: 0x0001_8000), 0x0002), // subnormal tie -> even
        (Float(bitPattern: 0x0000_8001), 0x0001),
        (0.1, 0x3DCD), (3.14159265, 0x4049), (-2.117904, 0xC008),
    ] as [(Float, UInt16)])
    func bf16HandComputed(_ x: Float, _ bits: UInt16) {
        #expect(HalfConversion.bf16Bits(x) == bits, "\(x)")
        #expect(bf16SIMD(x) == bits, "SIMD \(x)")
        #expect(referenceBF16(x) == bits, "reference \(x)")
    }

    @Test func bf16NaNAndReference() {
        #expect(HalfConversion.bf16Bits(.nan) == 0x7FC0)
        #expect(HalfConversion.bf16Bits(Float(bitPattern: 0x7F80_0001)) & 0x7FC0 == 0x7FC0)   // signalling -> quiet
        #expect(HalfConversion.bf16Bits(-Float.nan) == 0xFFC0)
        var state: UInt64 = 12345, mismatches = 0
        for i in 0..<1_000_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var bits = UInt32(truncatingIfNeeded: state >> 32)
            if i % 4 == 0 { bits = (bits & 0xFFFF_0000) | 0x8000 }   // many exact ties
            let x = Float(bitPattern: bits)
            if x.isNaN { continue }
            let want = referenceBF16(x)
            if HalfConversion.bf16Bits(x) != want || bf16SIMD(x) != want { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func bufferConversions() {
        let src: [Float] = (0..<37).map { Float($0) * 0.37 - 5 } + [.infinity, -0.0, 65520, 0x1p-25]
        var f16 = [UInt16](repeating: 0, count: src.count), bf16 = f16
        src.withUnsafeBufferPointer { s in
            f16.withUnsafeMutableBufferPointer { HalfConversion.convertToF16(s, into: $0) }
            bf16.withUnsafeMutableBufferPointer { HalfConversion.convertToBF16(s, into: $0) }
        }
        #expect(f16 == src.map { Float16($0).bitPattern })
        #expect(bf16 == src.map(referenceBF16))
    }
}
