/// Precomputed 1-D resampling weights: output sample `i` is Σₖ weight[i·taps + k] ·
/// input[start[i] + k]. Both filters widen with the shrink factor (antialiasing), with sample
/// centres aligned as libswscale and PIL align them: `src = (dst + 0.5) · scale − 0.5`.
struct ResampleTaps {
    let taps: Int
    let start: [Int]
    let weight: [Float]

    init(input: Int, output: Int, filter: ResizeFilter) {
        self.init(length: input, origin: 0, span: Double(input), output: output, filter: filter)
    }

    /// Taps reading a plane of `length` samples, where output sample i covers
    /// [origin + i·span/output, origin + (i+1)·span/output) in plane coordinates.
    init(length input: Int, origin: Double, span: Double, output: Int, filter: ResizeFilter) {
        let scale = span / Double(output)
        let lowEdge = max(0, Int(origin.rounded(.down)))
        let highEdge = min(input - 1, max(lowEdge, Int((origin + span).rounded(.up)) - 1))
        var lists: [(Int, [Double])] = []
        lists.reserveCapacity(output)
        for i in 0..<output {
            var ws: [Double] = []
            var first = 0
            switch filter {
            case .bilinear:
                let radius = max(1.0, scale)
                let center = origin + (Double(i) + 0.5) * scale - 0.5
                first = Int((center - radius).rounded(.up))
                let last = Int((center + radius).rounded(.down))
                for j in first...last { ws.append(max(0, 1 - abs(Double(j) - center) / radius)) }
            case .area:
                let lo = origin + Double(i) * scale, hi = origin + Double(i + 1) * scale
                first = Int(lo.rounded(.down))
                let last = max(first, Int(hi.rounded(.up)) - 1)
                for j in first...last { ws.append(max(0, min(hi, Double(j + 1)) - max(lo, Double(j)))) }
            }
            // Clamp taps that fall outside the region onto its edge pixels (crop, then resize:
            // pixels outside the crop do not bleed in).
            var merged: [Double] = []
            var mFirst = Int.max
            var byIndex: [Int: Double] = [:]
            for (k, w) in ws.enumerated() where w > 0 {
                let j = min(max(first + k, lowEdge), highEdge)
                byIndex[j, default: 0] += w
                mFirst = min(mFirst, j)
            }
            if byIndex.isEmpty { byIndex[min(max(Int(origin + (Double(i) + 0.5) * scale), 0), input - 1)] = 1; mFirst = byIndex.keys.first! }
            let mLast = byIndex.keys.max()!
            let total = byIndex.values.reduce(0, +)
            for j in mFirst...mLast { merged.append((byIndex[j] ?? 0) / total) }
            lists.append((mFirst, merged))
        }
        let t = lists.map { $0.1.count }.max() ?? 1
        var start = [Int](), weight = [Float]()
        for (s, ws) in lists {
            // Keep every window inside the input so that all `taps` reads are valid.
            let s2 = max(0, min(s, input - t))
            start.append(s2)
            var row = [Float](repeating: 0, count: t)
            for (k, w) in ws.enumerated() { row[s - s2 + k] = Float(w) }
            weight += row
        }
        taps = t
        self.start = start
        self.weight = weight
    }
}
