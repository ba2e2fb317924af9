/// An exact rational number, as FFmpeg keeps time bases and frame rates.
public struct Rational: Sendable, Hashable, Codable, CustomStringConvertible {
    public var numerator: Int32
    public var denominator: Int32

    public init(_ numerator: Int32, _ denominator: Int32) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// The value as a Double, or 0 when the denominator is 0 (FFmpeg's "unknown").
    public var doubleValue: Double {
        denominator == 0 ? 0 : Double(numerator) / Double(denominator)
    }

    /// True when the value is known (non-zero numerator and denominator).
    public var isKnown: Bool { numerator != 0 && denominator != 0 }

    /// Converts a timestamp in units of this time base to seconds: `ts * num / den`.
    public func seconds(_ timestamp: Int64) -> Double {
        guard denominator != 0 else { return 0 }
        // Double(ts) is exact below 2^53; one rounding for the product, one for the quotient.
        return Double(timestamp) * Double(numerator) / Double(denominator)
    }

    public var description: String { "\(numerator)/\(denominator)" }
}
