import Foundation


/// Resamples a signal at frame times, with a validity mask instead of invented values.
///
/// With `t` a frame time, `a` the last sample at or before `t` and `b` the first sample after:
/// * before the first sample or after the last one: mask 0 (both kinds);
/// * a sample exactly at `t`: its value (the last such row when times repeat), mask 1;
/// * continuous: `a + (b - a) * (t - a.t) / (b.t - a.t)` (the numpy.interp formula), mask 1
///   only when both `t - a.t <= maxGap` and `b.t - t <= maxGap`: a frame in a hole of the
///   signal is never bridged from samples further than `maxGap` away;
/// * categorical: `a`'s value, mask 1 only when `t - a.t <= maxGap` (a stale value is not held).
/// Masked entries have value 0.
///
/// Frames and samples are both sorted, so this is one merge pass: O(frames + samples).
public enum SignalAligner {
    public static func align(_ series: SignalSeries, at frameTimes: [Double], kind: SignalKind,
                             maxGap: Double) -> (values: [Double], mask: [UInt8]) {
        align(times: series.times, values: series.values, at: frameTimes, kind: kind, maxGap: maxGap)
    }

    public static func align(times: [Double], values: [Double], at frameTimes: [Double], kind: SignalKind,
                             maxGap: Double) -> (values: [Double], mask: [UInt8]) {
        precondition(times.count == values.count, "times and values differ in length")
        var outValues = [Double](repeating: 0, count: frameTimes.count)
        var outMask = [UInt8](repeating: 0, count: frameTimes.count)
        let n = times.count
        guard n > 0, !frameTimes.isEmpty else { return (outValues, outMask) }

        // Visit frames in time order; frame times from a decoder already are, so the
        // permutation is only built when needed.
        var sorted = true
        for k in 1..<frameTimes.count where frameTimes[k] < frameTimes[k - 1] { sorted = false; break }
        let order: [Int]? = sorted ? nil : frameTimes.indices.sorted { frameTimes[$0] < frameTimes[$1] }

        let first = times[0], last = times[n - 1]
        var j = -1                                 // last sample index with times[j] <= t
        for step in 0..<frameTimes.count {
            let f = order?[step] ?? step
            let t = frameTimes[f]
            guard t.isFinite else { continue }
            while j + 1 < n, times[j + 1] <= t { j += 1 }
            guard j >= 0, t <= last, t >= first else { continue }
            let t0 = times[j]
            if t0 == t {
                outValues[f] = values[j]
                outMask[f] = 1
                continue
            }
            // Here t0 < t < last, so j + 1 < n and times[j + 1] > t.
            switch kind {
            case .continuous:
                let t1 = times[j + 1]
                guard t - t0 <= maxGap, t1 - t <= maxGap else { continue }
                let slope = (values[j + 1] - values[j]) / (t1 - t0)
                outValues[f] = slope * (t - t0) + values[j]
                outMask[f] = 1
            case .categorical:
                guard t - t0 <= maxGap else { continue }
                outValues[f] = values[j]
                outMask[f] = 1
            }
        }
        return (outValues, outMask)
    }
}
