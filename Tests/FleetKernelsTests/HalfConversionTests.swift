import FleetKernels
import Testing

/// float16 / bfloat16 conversions against hand-computed bit patterns and the runtime's exact
/// (slow) `Float16(x)`.
@Suite struct HalfConversionTests {
    @Test func f16HandComputedPatterns() {
        let cases: [(Float, UInt16)] = [
            (1.0, 0x3C00), (-2.0, 0xC000), (0.5, 0x3800), (65504, 0x7BFF),
            (65519.99, 0x7BFF),                       // below the rounding midpoint: max finite
            (65520, 0x7C00),                          // midpoint ties to even → overflow to +inf
            (1e9, 0x7C00), (-1e9, 0xFC00),
            (.infinity, 0x7C00), (-.infinity, 0xFC00),
            (0, 0x0000), (-0.0, 0x8000),
            (Float(sign: .plus, exponent: -14, significand: 1), 0x0400),       // smallest normal
            (Float(sign: .plus, exponent: -24, significand: 1), 0x0001),       // smallest subnormal
            (Float(sign: .plus, exponent: -25, significand: 1), 0x0000),       // tie → even (0)
            (Float(sign: .plus, exponent: -25, significand: 1.5), 0x0001),     // above the tie
            (Float(sign: .plus, exponent: -24, significand: 1.5), 0x0002),     // 1.5 ulp tie → even (2)
            (1 + Float(sign: .plus, exponent: -11, significand: 1), 0x3C00),   // tie → even
            (1 + Float(sign: .plus, exponent: -11, significand: 3), 0x3C02),   // tie → even (up)
            (1 + Float(sign: .plus, exponent: -11, significand: 1.01), 0x3C01),     // just above the tie
        ]
        for (x, bits) in cases {
            #expect(HalfConversion.f16Bits(x) == bits, "\(x): got \(String(HalfConversion.f16Bits(x), radix: 16)), want \(String(bits, radix: 16))")
        }
        let nan = HalfConversion.f16Bits(.nan)
        #expect(nan & 0x7C00 == 0x7C00 && nan & 0x3FF != 0, "NaN stays NaN")
    }

    @Test func bf16HandComputedPatterns() {
        let cases: [(Float, UInt16)] = [
            (1.0, 0x3F80), (-1.0, 0xBF80), (0, 0), (-0.0, 0x8000), (.infinity, 0x7F80), (-.infinity, 0xFF80),
            (1 + Float(sign: .plus, exponent: -8, significand: 1), 0x3F80),    // tie → even
            (1 + Float(sign: .plus, exponent: -8, significand: 3), 0x3F82),    // tie → even (up)
            (.greatestFiniteMagnitude, 0x7F80),                                // rounds to inf
            (Float(bitPattern: 0x0000_0001), 0x0000),                           // tiny subnormal
            (Float(bitPattern: 0x0001_8000), 0x0002),                           // subnormal tie → even (up)
        ]
        for (x, bits) in cases {
            #expect(HalfConversion.bf16Bits(x) == bits, "\(x): got \(String(HalfConversion.bf16Bits(x), radix: 16))")
        }
        let nan = HalfConversion.bf16Bits(.nan)
        #expect(nan & 0x7F80 == 0x7F80 && nan & 0x7F != 0)
    }

    @Test func f16MatchesRuntimeConversionEverywhere() {
        // Every float16 value, the midpoints between neighbours and a walk over float32 bit space.
        var mismatches = 0
        var checked = 0
        func check(_ x: Float) {
            checked += 1
            let want = Float16(x).bitPattern
            let got = HalfConversion.f16Bits(x)
            if x.isNaN { if got & 0x7C00 != 0x7C00 || got & 0x3FF == 0 { mismatches += 1 }; return }
            if got != want { mismatches += 1 }
        }
        for h in 0...UInt16.max {
            let f = Float(Float16(bitPattern: h))
            check(f)
            check(f.nextUp)
            check(f.nextDown)
            if h & 0x7C00 != 0x7C00 {
                let next = Float(Float16(bitPattern: h &+ 1))
                if next.isFinite { check((f + next) / 2) }
            }
        }
        var b: UInt32 = 0
        while b < UInt32.max - 7919 { check(Float(bitPattern: b)); b += 7919 }
        #expect(mismatches == 0, "\(mismatches) of \(checked) differ from Float16(x)")
        // And back: float(fromF16:) is exact for every pattern.
        for h in 0...UInt16.max where h & 0x7C00 != 0x7C00 || h & 0x3FF == 0 {
            #expect(HalfConversion.float(fromF16: h).bitPattern == Float(Float16(bitPattern: h)).bitPattern)
        }
    }
}
