/// Checked conversions of header values (durations, frame periods, time bases): `Int(x)` traps
/// on NaN, infinity and values out of range, and a clip's header is untrusted input.
enum HeaderValue {
    /// `x` rounded as `rule` says, when it is finite and fits an `Int64`; nil otherwise.
    static func int64(_ x: Double, rounding rule: FloatingPointRoundingRule = .toNearestOrAwayFromZero) -> Int64? {
        let r = x.rounded(rule)
        // 2^63 is exactly representable; every finite Double below it converts.
        guard r.isFinite, r >= -9_223_372_036_854_775_808.0, r < 9_223_372_036_854_775_808.0 else { return nil }
        return Int64(r)
    }

    /// `x` rounded to the nearest integer and clamped to `range` (NaN: the range's lower bound).
    static func clamped(_ x: Double, to range: ClosedRange<Int>) -> Int {
        guard !x.isNaN else { return range.lowerBound }
        let r = x.rounded()
        if r <= Double(range.lowerBound) { return range.lowerBound }
        if r >= Double(range.upperBound) { return range.upperBound }
        return Int(r)
    }
}
