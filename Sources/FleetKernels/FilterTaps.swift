/// Per-output-sample filter taps of one separable resize direction, in 14-bit fixed point.
///
/// Output sample `j` is `sum over t of weight[j*count+t] * input[index[j*count+t]]`, with indices
/// relative to the crop window's first plane sample and weights summing to exactly 1 << 14.
struct FilterTaps {
    static let one: Int32 = 1 << 14
    /// Taps per output sample (padded with zero weights).
    var count: Int
    var index: [Int32]
    var weight: [Int32]
    /// True when every output sample is the input sample at the same position (no filtering).
    var isIdentity: Bool

    /// Builds taps mapping a crop window of the plane to `outSize` samples.
    /// - Parameters:
    ///   - cropStart, cropSize: the crop window in luma pixels.
    ///   - shift: the plane's subsampling shift in this direction (0 luma / 4:4:4, 1 for halved chroma).
    ///   - planeLo, planeHi: first and last plane sample of the crop window (edges clamp here).
    /// Sample `k` of the plane covers [k, k+1) in plane coordinates, and plane coordinate = luma
    /// coordinate >> shift (centred chroma siting).
    /// With `nearest`, output sample `j` takes the single plane sample that holds luma sample
    /// `cropStart + j` (`(cropStart + j) >> shift`): chroma replication, as libswscale's same-size
    /// converters (the ffmpeg CLI's and PyAV's default `rgb24` conversion) do.
    init(outSize: Int, cropStart: Int, cropSize: Int, shift: Int, planeLo: Int, planeHi: Int, filter: ResizeFilter,
         nearest: Bool = false) {
        let sub = Double(1 << shift)
        let ratio = Double(cropSize) / Double(outSize) / sub     // plane samples per output sample
        var lists: [[(Int, Double)]] = []
        lists.reserveCapacity(outSize)
        for j in 0..<outSize {
            let p = (Double(cropStart) + (Double(j) + 0.5) * Double(cropSize) / Double(outSize)) / sub
            var taps: [(Int, Double)] = []
            if nearest {
                taps.append(((cropStart + j * cropSize / outSize) >> shift, 1))
            } else if filter == .area && ratio > 1 {
                let a = p - ratio / 2, b = p + ratio / 2
                var k = Int((a).rounded(.down))
                while Double(k) < b {
                    let overlap = min(b, Double(k + 1)) - max(a, Double(k))
                    if overlap > 1e-9 { taps.append((k, overlap)) }
                    k += 1
                }
            } else {
                let s = max(ratio, 1)
                var k = Int((p - s - 0.5).rounded(.down))
                while Double(k) + 0.5 < p + s {
                    let w = 1 - abs(Double(k) + 0.5 - p) / s
                    if w > 1e-9 { taps.append((k, w)) }
                    k += 1
                }
            }
            // Clamp to the crop window, merging taps that land on the same edge sample.
            var merged: [(Int, Double)] = []
            for (k, w) in taps {
                let c = min(max(k, planeLo), planeHi) - planeLo
                if let last = merged.last, last.0 == c { merged[merged.count - 1].1 += w } else { merged.append((c, w)) }
            }
            lists.append(merged)
        }
        let count = max(1, lists.map(\.count).max() ?? 1)
        var index = [Int32](repeating: 0, count: outSize * count)
        var weight = [Int32](repeating: 0, count: outSize * count)
        var identity = count == 1
        for (j, taps) in lists.enumerated() {
            let total = taps.reduce(0) { $0 + $1.1 }
            var q = taps.map { Int32(($0.1 / total * Double(FilterTaps.one)).rounded()) }
            let sum = q.reduce(0, +)
            if let m = q.indices.max(by: { q[$0] < q[$1] }) { q[m] += FilterTaps.one - sum }
            for t in 0..<count {
                let src = t < taps.count ? t : 0
                index[j * count + t] = Int32(taps[src].0)
                weight[j * count + t] = t < taps.count ? q[t] : 0
            }
            if taps[0].0 != j || q[0] != FilterTaps.one { identity = false }
        }
        self.count = count
        self.index = index
        self.weight = weight
        self.isIdentity = identity
    }
}
