import Foundation

/// An SVG chart of ingest capacity versus budget: one line per constraint (frames/s, log scale),
/// the achievable minimum drawn thick, and the binding constraint at the chosen budget marked.
public enum CapacityChart {
    public static func svg(inputs: PlannerInputs, budgets: [Double] = stride(from: 50e6, through: 1e9, by: 50e6).map { $0 }) throws -> String {
        var series: [String: [(Double, Double)]] = [:]
        var minimum: [(Double, Double, String)] = []
        for b in budgets {
            var i = inputs
            i.set("budgetUSD", b, source: "chart")
            let p = try ThroughputPlan.make(i)
            for (k, v) in p.limits { series[k, default: []].append((b, v)) }
            minimum.append((b, p.ingestFramesPerSecond, p.binding.rawValue))
        }
        let chosen = try ThroughputPlan.make(inputs)
        let all = series.values.flatMap { $0.map(\.1) }.filter { $0 > 0 }
        let lo = floor(log10(all.min() ?? 1)), hi = ceil(log10(all.max() ?? 10))
        let (W, H, L, R, T, B) = (800.0, 480.0, 90.0, 200.0, 40.0, 60.0)
        func x(_ b: Double) -> Double { L + (b - budgets.first!) / (budgets.last! - budgets.first!) * (W - L - R) }
        func y(_ v: Double) -> Double { T + (hi - log10(max(v, 1e-9))) / max(hi - lo, 1) * (H - T - B) }
        let colours = ["compute": "#1f77b4", "cpu-preprocessing": "#ff7f0e", "nvdec": "#2ca02c", "storage-read": "#9467bd", "shard-bytes-to-accelerator": "#8c564b"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(L))\" y=\"24\" font-size=\"15\">Ingest capacity vs budget (\(chosen.acceleratorKind)), frames/s, log scale</text>\n"
        for e in Int(lo)...Int(hi) {
            let yy = y(pow(10, Double(e)))
            s += "<line x1=\"\(L)\" y1=\"\(yy)\" x2=\"\(W - R)\" y2=\"\(yy)\" stroke=\"#ddd\"/><text x=\"\(L - 8)\" y=\"\(yy + 4)\" text-anchor=\"end\">1e\(e)</text>\n"
        }
        for b in stride(from: budgets.first!, through: budgets.last!, by: 150e6) {
            s += "<text x=\"\(x(b))\" y=\"\(H - B + 18)\" text-anchor=\"middle\">$\(Int(b / 1e6))M</text>\n"
        }
        s += "<text x=\"\((L + W - R) / 2)\" y=\"\(H - 12)\" text-anchor=\"middle\">budget</text>\n"
        for (k, pts) in series.sorted(by: { $0.key < $1.key }) {
            let path = pts.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colours[k] ?? "#333")\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
            if let last = pts.last { s += "<text x=\"\(W - R + 6)\" y=\"\(y(last.1) + 4)\" fill=\"\(colours[k] ?? "#333")\">\(k)</text>\n" }
        }
        s += "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"3.5\" stroke-opacity=\"0.35\" points=\"\(minimum.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " "))\"/>\n"
        let bx = x(min(max(chosen.budgetUSD, budgets.first!), budgets.last!)), by = y(chosen.ingestFramesPerSecond)
        s += "<circle cx=\"\(bx)\" cy=\"\(by)\" r=\"6\" fill=\"red\"/>\n"
        s += "<text x=\"\(bx + 10)\" y=\"\(by - 10)\" fill=\"red\">binding: \(chosen.binding.rawValue) (\(String(format: "%.3g", chosen.ingestFramesPerSecond)) frames/s at $\(Int(chosen.budgetUSD / 1e6))M)</text>\n"
        s += "</svg>\n"
        return s
    }
}
