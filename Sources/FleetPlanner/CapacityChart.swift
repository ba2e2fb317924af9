import Foundation

/// An SVG chart of ingest capacity versus budget, for a slide: what the accelerators consume
/// (demand, dashed) against what each supply limit allows (solid lines; NVDEC as the band from
/// the measured lower bound to the nominal rate), the achievable ingest (the lowest supply
/// limit, dotted black), and the binding limit at the chosen budget marked. With a scaling
/// curve, a second panel shows the measured points next to the fitted model that projects a host.
public enum CapacityChart {
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    public static func svg(inputs: PlannerInputs, budgets: [Double] = stride(from: 50e6, through: 1e9, by: 50e6).map { $0 }) throws -> String {
        var series: [ThroughputPlan.Constraint: [(Double, Double)]] = [:]
        var nvdecLow: [(Double, Double)] = []
        var achievable: [(Double, Double)] = []
        for b in budgets {
            var i = inputs
            i.set("budgetUSD", b, source: "chart")
            let p = try ThroughputPlan.make(i)
            for (c, v) in p.limits.all { series[c, default: []].append((b, v)) }
            if p.limits.nvdec != nil, p.nvdecMeasuredFramesPerSecond > 0 {
                nvdecLow.append((b, p.nvdecMeasuredFramesPerSecond))
            }
            achievable.append((b, p.ingestFramesPerSecond))
        }
        let chosen = try ThroughputPlan.make(inputs)
        // With --preprocess both, the CPU line is CPUs and NVDEC together.
        func name(_ c: ThroughputPlan.Constraint) -> String {
            c == .cpuPreprocessing && inputs.preprocessing == .both ? "host CPUs + NVDEC (nominal) decoding" : c.label
        }
        let all = (series.values.flatMap { $0.map(\.1) } + nvdecLow.map(\.1)).filter { $0 > 0 }
        let lo = floor(log10(all.min() ?? 1)), hi = ceil(log10(all.max() ?? 10))
        let hasPanel = inputs.scaling != nil
        let (W, H, L, R, T, B) = (960.0, 520.0, 100.0, 290.0, 56.0, 64.0)
        let totalH = hasPanel ? H + 330 : H
        func x(_ b: Double) -> Double { L + (b - budgets.first!) / (budgets.last! - budgets.first!) * (W - L - R) }
        func y(_ v: Double) -> Double { T + (hi - log10(max(v, 1e-9))) / max(hi - lo, 1) * (H - T - B) }
        func pts(_ p: [(Double, Double)]) -> String { p.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ") }
        let colours: [ThroughputPlan.Constraint: String] = [.compute: "#1f5fbf", .cpuPreprocessing: "#e8710a", .nvdec: "#188038",
                                                           .storageRead: "#9334e6", .hostToDevice: "#c5221f"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(totalH))\" font-family=\"sans-serif\" font-size=\"13\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(L))\" y=\"26\" font-size=\"17\" font-weight=\"bold\">What a training budget can ingest: \(esc(chosen.acceleratorKind)), \(esc(inputs.model)) model</text>\n"
        s += "<text x=\"\(Int(L))\" y=\"44\" fill=\"#555\">Frames per second each limit allows, by budget (log scale). Ingest runs at the lowest supply limit.</text>\n"
        for e in Int(lo)...Int(hi) {
            let yy = y(pow(10, Double(e)))
            s += "<line x1=\"\(L)\" y1=\"\(f(yy))\" x2=\"\(W - R)\" y2=\"\(f(yy))\" stroke=\"#e3e3e3\"/><text x=\"\(L - 8)\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(money(pow(10, Double(e)), dollars: false))</text>\n"
        }
        var b = budgets.first!
        while b <= budgets.last! + 1 {
            s += "<line x1=\"\(f(x(b)))\" y1=\"\(H - B)\" x2=\"\(f(x(b)))\" y2=\"\(H - B + 5)\" stroke=\"#333\"/><text x=\"\(f(x(b)))\" y=\"\(H - B + 20)\" text-anchor=\"middle\">\(money(b))</text>\n"
            b += budgets.count > 10 ? 150e6 : (budgets.last! - budgets.first!) / 4
        }
        s += "<line x1=\"\(L)\" y1=\"\(H - B)\" x2=\"\(W - R)\" y2=\"\(H - B)\" stroke=\"#333\"/><line x1=\"\(L)\" y1=\"\(T)\" x2=\"\(L)\" y2=\"\(H - B)\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(f((L + W - R) / 2))\" y=\"\(H - 16)\" text-anchor=\"middle\">budget (US dollars)</text>\n"
        s += "<text transform=\"translate(24,\(f((T + H - B) / 2))) rotate(-90)\" text-anchor=\"middle\">frames per second (log scale)</text>\n"
        // NVDEC: a band from the measured lower bound to the nominal rate.
        if let top = series[.nvdec], nvdecLow.count == top.count, !top.isEmpty {
            let band = pts(top) + " " + pts(nvdecLow.reversed())
            s += "<polygon points=\"\(band)\" fill=\"\(colours[.nvdec]!)\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
        }
        // Supply limits: solid. Demand: thick dashed.
        var legend: [(String, String, String)] = []   // (colour, dash, label)
        for c in ThroughputPlan.Constraint.allCases where c != .compute {
            guard let p = series[c] else { continue }
            s += "<polyline fill=\"none\" stroke=\"\(colours[c]!)\" stroke-width=\"2\" points=\"\(pts(p))\"/>\n"
            legend.append((colours[c]!, "", c == .nvdec && !nvdecLow.isEmpty ? "\(c.label), nominal (band: down to measured)" : name(c)))
        }
        if let p = series[.compute] {
            s += "<polyline fill=\"none\" stroke=\"\(colours[.compute]!)\" stroke-width=\"3\" stroke-dasharray=\"10 6\" points=\"\(pts(p))\"/>\n"
            legend.insert((colours[.compute]!, "10 6", "what the accelerators consume (demand)"), at: 0)
        }
        s += "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"2\" stroke-dasharray=\"2 4\" points=\"\(pts(achievable))\"/>\n"
        legend.append(("black", "2 4", "achievable ingest (lowest supply limit)"))
        // Legend on the right, clear of the lines.
        var ly = T + 10
        let lx = W - R + 16
        s += "<text x=\"\(f(lx))\" y=\"\(f(ly))\" font-weight=\"bold\">Limits</text>\n"
        for (colour, dash, label) in legend {
            ly += 24
            s += "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 28))\" y2=\"\(f(ly - 4))\" stroke=\"\(colour)\" stroke-width=\"\(dash == "10 6" ? 3 : 2)\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/>\n"
            s += wrapped(label, x: lx + 36, y: ly, width: 30, fill: "#222")
            if label.count > 30 { ly += 16 }
        }
        // The chosen budget: a dot, and its label in a box above the plot lines.
        let bx = x(min(max(chosen.budgetUSD, budgets.first!), budgets.last!)), by = y(chosen.ingestFramesPerSecond)
        s += "<line x1=\"\(f(bx))\" y1=\"\(T)\" x2=\"\(f(bx))\" y2=\"\(H - B)\" stroke=\"#999\" stroke-dasharray=\"3 3\"/>\n"
        s += "<circle cx=\"\(f(bx))\" cy=\"\(f(by))\" r=\"6\" fill=\"red\" stroke=\"white\" stroke-width=\"1.5\"/>\n"
        let note = "At \(money(chosen.budgetUSD)): \(money(chosen.ingestFramesPerSecond, dollars: false)) frames/s, limited by \(name(chosen.binding))"
        let boxW = Double(note.count) * 6.9 + 16
        let boxX = min(max(L + 4, bx - boxW / 2), W - R - boxW - 4)
        let boxY = by - 44 > T ? by - 44 : by + 16
        s += "<rect x=\"\(f(boxX))\" y=\"\(f(boxY))\" width=\"\(f(boxW))\" height=\"24\" rx=\"4\" fill=\"white\" stroke=\"red\"/>\n"
        s += "<text x=\"\(f(boxX + 8))\" y=\"\(f(boxY + 16))\" fill=\"#b00\">\(esc(note))</text>\n"
        if let model = inputs.scaling { s += scalingPanel(model, inputs: inputs, top: H + 10, width: W) }
        s += "</svg>\n"
        return s
    }

    static func wrapped(_ text: String, x: Double, y: Double, width: Int, fill: String) -> String {
        var lines: [String] = [], cur = ""
        for w in text.split(separator: " ") {
            if cur.count + w.count + 1 > width && !cur.isEmpty { lines.append(cur); cur = "" }
            cur += (cur.isEmpty ? "" : " ") + w
        }
        if !cur.isEmpty { lines.append(cur) }
        return lines.enumerated().map { "<text x=\"\(f(x))\" y=\"\(f(y + Double($0.offset) * 16))\" fill=\"\(fill)\">\(esc($0.element))</text>\n" }.joined()
    }

    /// Frames/s of one ingest process against --jobs: measured points and the fitted model, up to
    /// the cores of a host.
    static func scalingPanel(_ m: ScalingModel, inputs: PlannerInputs, top: Double, width W: Double) -> String {
        let hostCores = Int(inputs.numbers[inputs.system == .h100 ? "h100.hostCoresPerNode" : "dojo.hostCoresPerTile"]?.value ?? 112)
        let (L, R, H) = (100.0, 290.0, 250.0)
        let maxJobs = Double(max(hostCores, m.largestMeasuredJobs))
        let ys = m.points.map(\.framesPerSecond) + [m.framesPerSecond(jobs: Int(maxJobs))]
        let yMax = (ys.max() ?? 1) * 1.15
        func x(_ j: Double) -> Double { L + log2(j) / log2(maxJobs) * (W - L - R) }
        func y(_ v: Double) -> Double { top + 40 + (1 - v / yMax) * (H - 40) }
        var s = "<text x=\"\(Int(L))\" y=\"\(f(top + 14))\" font-size=\"15\" font-weight=\"bold\">How one host is projected: frames/s of one ingest process by --jobs (\(esc(m.workload)) workload)</text>\n"
        s += "<text x=\"\(Int(L))\" y=\"\(f(top + 32))\" fill=\"#555\">\(esc(String(format: "Dots: measured on %d cores. Line: Amdahl fit, serial fraction %.3f, fit error %.1f%% RMS; dashed past the measured range.", m.measuredCores, m.serialFraction, m.rmsRelativeError * 100)))</text>\n"
        for k in 0...4 {
            let v = yMax * Double(k) / 4, yy = y(v)
            s += "<line x1=\"\(L)\" y1=\"\(f(yy))\" x2=\"\(W - R)\" y2=\"\(f(yy))\" stroke=\"#e3e3e3\"/><text x=\"\(L - 8)\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(money(v, dollars: false))</text>\n"
        }
        var j = 1.0
        while j <= maxJobs {
            s += "<text x=\"\(f(x(j)))\" y=\"\(f(top + H + 18))\" text-anchor=\"middle\">\(Int(j))</text>\n"
            j *= 2
        }
        s += "<text x=\"\(f((L + W - R) / 2))\" y=\"\(f(top + H + 38))\" text-anchor=\"middle\">--jobs (cores given to one ingest process, log scale)</text>\n"
        s += "<text transform=\"translate(24,\(f(top + 40 + (H - 40) / 2))) rotate(-90)\" text-anchor=\"middle\">frames per second</text>\n"
        let split = Double(m.largestMeasuredJobs)
        func model(_ n: Double) -> Double { ScalingModel.amdahl(m.framesPerSecondAtOneJob, m.serialFraction, n) }
        let inRange = stride(from: 1.0, through: split, by: max(0.02, (split - 1) / 40)).map { "\(f(x($0))),\(f(y(model($0))))" }
        var beyond: [String] = []
        var k = split
        while k <= maxJobs { beyond.append("\(f(x(k))),\(f(y(model(k))))"); k *= 1.05 }
        beyond.append("\(f(x(maxJobs))),\(f(y(m.framesPerSecond(jobs: Int(maxJobs)))))")
        s += "<polyline fill=\"none\" stroke=\"#e8710a\" stroke-width=\"2.5\" points=\"\(inRange.joined(separator: " "))\"/>\n"
        s += "<polyline fill=\"none\" stroke=\"#e8710a\" stroke-width=\"2\" stroke-dasharray=\"6 5\" points=\"\(beyond.joined(separator: " "))\"/>\n"
        for p in m.points {
            s += "<circle cx=\"\(f(x(Double(p.jobs))))\" cy=\"\(f(y(p.framesPerSecond)))\" r=\"5\" fill=\"black\"/>\n"
        }
        let atHost = m.framesPerSecond(jobs: hostCores)
        s += "<text x=\"\(f(W - R + 16))\" y=\"\(f(top + 60))\">\(esc("--jobs \(hostCores): \(money(atHost, dollars: false)) frames/s"))</text>\n"
        s += "<text x=\"\(f(W - R + 16))\" y=\"\(f(top + 78))\" fill=\"#555\">(model, at \(esc(m.codec)) \(m.width)x\(m.height))</text>\n"
        return s
    }
}
