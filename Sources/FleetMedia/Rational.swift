/// An exact rational number, as FFmpeg keeps time bases and frame rates.
public struct Rational: Sendable, Hashable, CustomStringConvertible {
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

extension Rational: Codable {
    /// Encoded as FFmpeg writes it: "num/den" (e.g. "30000/1001").
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        let parts = text.split(separator: "/")
        guard parts.count == 2, let n = Int32(parts[0]), let d = Int32(parts[1]) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected \"num/den\", got \"\(text)\"")
        }
        self.init(n, d)
    }
}
