import Foundation

/// What a budget buys and how much fleet video it can ingest. Every rate is per second; units
/// are in the names.
public struct ThroughputPlan: Sendable, Codable {
    /// The resource that limits the plan's throughput.
    public enum Constraint: String, Sendable, Codable, CaseIterable {
        case compute, cpuPreprocessing = "cpu-preprocessing", nvdec, storageRead = "storage-read", hostToDevice = "host-to-accelerator-link"

        /// The constraint in a planner's words.
        public var label: String {
            switch self {
            case .compute: return "accelerator compute (demand)"
            case .cpuPreprocessing: return "host CPUs decoding + resizing"
            case .nvdec: return "GPU video decoders (NVDEC)"
            case .storageRead: return "storage read bandwidth"
            case .hostToDevice: return "host-to-accelerator links"
            }
        }
    }

    public var system: String
    public var budgetUSD: Double
    public var accelerators: Int
    public var acceleratorKind: String
    public var nodes: Int
    public var hostCores: Int
    public var usefulFLOPS: Double
    public var samplesPerSecond: Double
    /// Frames/s the accelerators can consume (compute bound).
    public var computeFramesPerSecond: Double
    public var cpuPreprocessFramesPerSecond: Double
    /// How the CPU line was projected: linear per core, or a fitted scaling curve (and its fit).
    public var cpuProjection: String
    /// NVDEC frames/s from the nominal per-NVDEC rate (what the plan uses) …
    public var nvdecFramesPerSecond: Double
    /// … and from the measured H200 rate through ffmpeg (a lower bound); the two bound a range.
    public var nvdecMeasuredFramesPerSecond: Double
    public var storageLimitedFramesPerSecond: Double
    public var linkLimitedFramesPerSecond: Double
    /// Frames/s each constraint allows.
    public var limits: Limits
    public var binding: Constraint
    public var ingestFramesPerSecond: Double
    public var coresNeededForCompute: Double
    public var extraPreprocessingNodes: Int
    public var storageReadBytesPerSecond: Double
    public var tensorBytesPerSecond: Double
    public var shardsPerHour: Double
    public var carHoursPerDay: Double
    public var clipsPerDay: Double
    public var usdPerMillionFrames: Double
    public var notes: [String]

    /// Computes the plan. The formulas are in docs/planner.md.
    public static func make(_ inp: PlannerInputs) throws -> ThroughputPlan {
        /// A count from the arithmetic, refused (not trapped on) when it is not a finite number a
        /// plan can hold: inputs far outside any real system (a budget of 1e308 USD).
        func whole(_ x: Double, _ what: String) throws -> Int {
            guard x.isFinite, abs(x) < 9.0e15 else {
                throw PlannerError("\(what) comes to \(x), out of range: check the budget and the costs and rates given")
            }
            return Int(x)
        }
        var missing: [String] = []
        func n(_ key: String) -> Double {
            if let v = inp.numbers[key]?.value { return v }
            missing.append(key)
            return .nan
        }
        let required = ["budgetUSD", "mfu", "amortizationYears", "electricityUSDPerKWh", "facilityPowerOverhead", "storageReadGBps",
                        "preprocessingNodeCores", "shardTargetBytes"]
            + ["camerasPerCar", "framesPerSecond", "width", "height", "bitrateMbpsPerCamera", "clipSeconds", "outputChannels",
               "outputWidth", "outputHeight", "outputBytesPerElement", "sampledFraction"].map { "workload." + $0 }
            + (inp.system == .h100
               ? ["costPerGPUUSD", "bf16DenseTFLOPS", "nvdecPerGPU", "nvdecFramesPerSecond1080pH264", "powerW", "gpusPerNode", "hostCoresPerNode", "hostToDeviceGBps"].map { "h100." + $0 }
               : ["costPerTileUSD", "tileBF16PFLOPS", "tilePowerKW", "tilesPerExaPOD", "hostCoresPerTile", "hostToTileGBps"].map { "dojo." + $0 })
        let absent = required.filter { inp.numbers[$0] == nil }
        guard absent.isEmpty else { throw PlannerError("missing inputs: \(absent.joined(separator: ", "))") }
        for k in ["h100.costPerGPUUSD", "dojo.costPerTileUSD", "h100.gpusPerNode", "workload.framesPerSecond", "workload.width", "workload.height",
                  "workload.camerasPerCar", "workload.clipSeconds", "workload.sampledFraction", "workload.bitrateMbpsPerCamera", "shardTargetBytes",
                  "preprocessingNodeCores", "engine.h264FramesPerCoreSecond1280x960", "engine.hevcFramesPerCoreSecond1280x960"]
        where (inp.numbers[k]?.value ?? 1) <= 0 {
            throw PlannerError("\(k) must be positive")
        }
        for (k, v) in inp.numbers where !v.value.isFinite || (v.value < 0) {
            throw PlannerError("\(k) must be a finite number ≥ 0, got \(v.value)")
        }
        let budget = n("budgetUSD")
        guard budget > 0 else { throw PlannerError("budgetUSD must be positive") }
        let mfu = n("mfu")
        guard mfu > 0 && mfu <= 1 else { throw PlannerError("mfu must be in (0, 1]") }
        guard let flopsKey = Optional("models.\(inp.model).trainingFLOPsPerSample"), inp.numbers[flopsKey] != nil else {
            throw PlannerError("unknown model \"\(inp.model)\" (presets: resnet50, bev, or give --flops-per-sample)")
        }
        let flopsPerSample = n(flopsKey)
        let framesPerSample = n("models.\(inp.model).framesPerSample")
        let w = n("workload.width"), h = n("workload.height")
        let fps = n("workload.framesPerSecond"), cams = n("workload.camerasPerCar")
        let sampled = n("workload.sampledFraction")
        let tensorBytesPerFrame = n("workload.outputChannels") * n("workload.outputWidth") * n("workload.outputHeight") * n("workload.outputBytesPerElement")
        let compressedBytesPerFrame = n("workload.bitrateMbpsPerCamera") * 1e6 / 8 / fps
        let codecKey = inp.codec.lowercased().contains("hevc") || inp.codec.lowercased().contains("265") ? "hevc" : "h264"
        let perCore = n("engine.\(codecKey)FramesPerCoreSecond1280x960") * (1280 * 960) / (w * h)

        var notes: [String] = []
        var units: Int, nodes: Int, hostCores: Int, peakFLOPS: Double, linkBytes: Double, powerW: Double, nvdec: Double
        var nvdecMeasured = 0.0
        var hosts: Int, coresPerHost: Int
        switch inp.system {
        case .h100:
            units = try whole((budget / n("h100.costPerGPUUSD")).rounded(.down), "accelerators bought")
            nodes = try whole((Double(units) / n("h100.gpusPerNode")).rounded(.up), "nodes")
            hostCores = try whole(Double(nodes) * n("h100.hostCoresPerNode").rounded(.down), "host cores")
            peakFLOPS = Double(units) * n("h100.bf16DenseTFLOPS") * 1e12
            linkBytes = Double(units) * n("h100.hostToDeviceGBps") * 1e9
            powerW = Double(units) * n("h100.powerW")
            let pixelScale = (1920 * 1080) / (w * h)
            nvdec = Double(units) * n("h100.nvdecPerGPU") * n("h100.nvdecFramesPerSecond1080pH264") * pixelScale
            let measuredKey = codecKey == "hevc" ? "h100.nvdecMeasuredFramesPerSecondPerGPU1280x960HEVC" : "h100.nvdecMeasuredFramesPerSecondPerGPU1280x960H264"
            nvdecMeasured = Double(units) * (inp.numbers[measuredKey]?.value ?? .nan) * (1280 * 960) / (w * h)
            hosts = nodes
            coresPerHost = try whole(n("h100.hostCoresPerNode"), "h100.hostCoresPerNode")
        case .dojo:
            units = try whole((budget / n("dojo.costPerTileUSD")).rounded(.down), "tiles bought")
            nodes = units
            hostCores = try whole(Double(units) * n("dojo.hostCoresPerTile").rounded(.down), "host cores")
            hosts = units
            coresPerHost = try whole(n("dojo.hostCoresPerTile"), "dojo.hostCoresPerTile")
            peakFLOPS = Double(units) * n("dojo.tileBF16PFLOPS") * 1e15
            linkBytes = Double(units) * n("dojo.hostToTileGBps") * 1e9
            powerW = Double(units) * n("dojo.tilePowerKW") * 1e3
            nvdec = 0
            if inp.numbers["dojo.costPerTileUSD"]?.source.hasPrefix("placeholder") == true {
                notes.append("No official Dojo price exists: the cost per tile ($\(String(format: "%.0f", n("dojo.costPerTileUSD")))) is a placeholder; set --dojo-tile-cost.")
            }
            notes.append(String(format: "%.2f ExaPODs (%d tiles of %.0f per ExaPOD).", Double(units) / (n("dojo.tilesPerExaPOD")), units, n("dojo.tilesPerExaPOD")))
        }
        if inp.system == .h100 && nvdecMeasured.isFinite && nvdecMeasured > 0 {
            notes.append(String(format: "NVDEC: %@ frames/s nominal (%.0f frames/s per NVDEC at 1080p H.264, the nominal input; docs/planner.md gives its source) down to %@ measured (H200 through ffmpeg, a lower bound: short clips, one process per stream, context creation included). The plan uses the nominal figure, the rate NVDEC sustains on long streams; the measured one is %.1f× lower, so an NVDEC-bound plan is uncertain by that much until measured on long clips.",
                                money(nvdec, dollars: false), n("h100.nvdecFramesPerSecond1080pH264"), money(nvdecMeasured, dollars: false), nvdec / nvdecMeasured))
        } else {
            nvdecMeasured = inp.system == .h100 ? nvdec : 0
        }
        guard missing.isEmpty else { throw PlannerError("missing inputs: \(missing.joined(separator: ", "))") }
        guard units >= 1 else { throw PlannerError("the budget buys no accelerator") }
        let useful = peakFLOPS * mfu
        let samples = useful / flopsPerSample
        let computeFrames = samples * framesPerSample
        // Frames/s one host of `cores` cores preprocesses: linear per core without a scaling
        // curve; with one, processes-per-node processes of --jobs cores/processes each, by the
        // fitted model, scaled from the curve's source size and codec to the workload's.
        let perHost: (Int) -> Double
        let cpuProjection: String
        if let model = inp.scaling {
            let k = max(1, inp.processesPerNode)
            let curveCodec = model.codec.lowercased().contains("hevc") ? "hevc" : "h264"
            let codecScale = curveCodec == codecKey ? 1 : n("engine.\(codecKey)FramesPerCoreSecond1280x960") / n("engine.\(curveCodec)FramesPerCoreSecond1280x960")
            let scale = Double(model.width * model.height) / (w * h) * codecScale
            perHost = { cores in Double(k) * model.framesPerSecond(jobs: max(1, cores / k)) * scale }
            let beyond = coresPerHost / k > model.largestMeasuredJobs
            cpuProjection = String(format: "%d process(es) of --jobs %d per %d-core host: %.0f frames/s per host (%@). ",
                                   k, max(1, coresPerHost / k), coresPerHost, perHost(coresPerHost),
                                   beyond ? "extrapolated past the largest measured --jobs \(model.largestMeasuredJobs) by the model" : "within the measured range")
                + model.summary
                + (scale != 1 ? String(format: "; scaled ×%.3g to %.0fx%.0f %@", scale, w, h, codecKey) : "")
        } else {
            perHost = { cores in Double(cores) * perCore }
            cpuProjection = String(format: "linear: %.0f frames/s per core × cores (no scaling curve given; `--bench FILE` with a scaling section fits one)", perCore)
        }
        let cpuFrames = Double(hosts) * perHost(coresPerHost)
        let storageFrames = n("storageReadGBps") * 1e9 / compressedBytesPerFrame
        let linkFrames = linkBytes / tensorBytesPerFrame

        var limits = Limits(compute: computeFrames, storageRead: storageFrames, hostToDevice: linkFrames)
        switch inp.preprocessing {
        case .cpu: limits.cpuPreprocessing = cpuFrames
        case .nvdec:
            guard inp.system == .h100 else { throw PlannerError("NVDEC preprocessing needs --system h100") }
            limits.nvdec = nvdec
        case .both: limits.cpuPreprocessing = cpuFrames + nvdec
        }
        let binding = limits.binding
        let ingest = binding.framesPerSecond
        let prepCores = try whole(n("preprocessingNodeCores"), "preprocessingNodeCores")
        let perPrepNode = perHost(prepCores)
        let coresNeeded = computeFrames / (perPrepNode / Double(prepCores))
        let extraNodes = max(0, try whole(((computeFrames - cpuFrames) / perPrepNode).rounded(.up), "extra preprocessing nodes"))
        let tensorBytesPerSecond = ingest * tensorBytesPerFrame
        let videoFrames = ingest / sampled          // frames of video covered
        let carSecondsPerDay = videoFrames * 86400 / (fps * cams)
        let seconds = n("amortizationYears") * 365 * 86400
        let costPerSecond = budget / seconds + powerW * (n("facilityPowerOverhead")) / 1000 * (n("electricityUSDPerKWh")) / 3600
        return ThroughputPlan(
            system: inp.system.rawValue, budgetUSD: budget, accelerators: units, acceleratorKind: inp.system == .h100 ? "H100 SXM" : "Dojo training tile",
            nodes: nodes, hostCores: hostCores, usefulFLOPS: useful, samplesPerSecond: samples,
            computeFramesPerSecond: computeFrames, cpuPreprocessFramesPerSecond: cpuFrames, cpuProjection: cpuProjection,
            nvdecFramesPerSecond: nvdec, nvdecMeasuredFramesPerSecond: nvdecMeasured,
            storageLimitedFramesPerSecond: storageFrames, linkLimitedFramesPerSecond: linkFrames,
            limits: limits, binding: binding.constraint,
            ingestFramesPerSecond: ingest, coresNeededForCompute: coresNeeded, extraPreprocessingNodes: extraNodes,
            storageReadBytesPerSecond: videoFrames * compressedBytesPerFrame, tensorBytesPerSecond: tensorBytesPerSecond,
            shardsPerHour: tensorBytesPerSecond * 3600 / (n("shardTargetBytes")),
            carHoursPerDay: carSecondsPerDay / 3600, clipsPerDay: carSecondsPerDay / (n("workload.clipSeconds")),
            usdPerMillionFrames: costPerSecond / ingest * 1e6, notes: notes)
    }

    /// A table for people.
    public var table: String {
        func e(_ v: Double) -> String { v >= 1e4 ? String(format: "%.3g", v) : String(format: "%.1f", v) }
        let nvdecText = nvdecMeasuredFramesPerSecond > 0 && nvdecMeasuredFramesPerSecond != nvdecFramesPerSecond
            ? "\(e(nvdecMeasuredFramesPerSecond)) – \(e(nvdecFramesPerSecond)) (measured lower bound – nominal; the plan uses nominal)"
            : e(nvdecFramesPerSecond)
        var rows: [(String, String)] = [
            ("system", "\(acceleratorKind) x \(accelerators) for \(money(budgetUSD))"),
            ("nodes / host cores", "\(nodes) / \(hostCores)"),
            ("useful compute", "\(e(usefulFLOPS)) FLOP/s"),
            ("samples/s the accelerators consume", e(samplesPerSecond)),
            ("frames/s the accelerators consume (demand)", e(computeFramesPerSecond)),
            ("frames/s host CPUs decode + resize (this engine)", e(cpuPreprocessFramesPerSecond)),
            ("  CPU projection", cpuProjection),
            ("frames/s GPU video decoders (NVDEC)", nvdecText),
            ("frames/s storage read allows", e(storageLimitedFramesPerSecond)),
            ("frames/s host→accelerator links allow", e(linkLimitedFramesPerSecond)),
            ("binding constraint", binding.label),
            ("ingest frames/s", e(ingestFramesPerSecond)),
            ("CPU cores to keep compute fed", e(coresNeededForCompute)),
            ("extra preprocessing nodes", "\(extraPreprocessingNodes)"),
            ("storage read", "\(e(storageReadBytesPerSecond / 1e9)) GB/s"),
            ("tensor bytes into accelerators", "\(e(tensorBytesPerSecond / 1e9)) GB/s"),
            ("shards per hour", e(shardsPerHour)),
            ("fleet video per day", "\(e(carHoursPerDay)) car-hours, \(e(clipsPerDay)) clips"),
            ("cost per million frames", String(format: "$%.4f", usdPerMillionFrames)),
        ]
        rows += notes.map { ("note", $0) }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }
}

/// Money and large counts for people: $500M, $1.2B, $50k; without dollars: 8.4M, 1.1e+07 → 11M.
public func money(_ v: Double, dollars: Bool = true) -> String {
    let sign = dollars ? "$" : ""
    let a = abs(v)
    let (d, unit): (Double, String) = a >= 1e12 ? (1e12, "T") : a >= 1e9 ? (1e9, "B") : a >= 1e6 ? (1e6, "M") : a >= 1e3 ? (1e3, "k") : (1, "")
    let x = v / d
    let digits = abs(x) >= 100 || x == x.rounded() ? "%.0f" : abs(x) >= 10 ? "%.1f" : "%.2f"
    var t = String(format: digits, x)
    if t.contains(".") { while t.hasSuffix("0") { t.removeLast() }; if t.hasSuffix(".") { t.removeLast() } }
    return sign + t + unit
}

extension ThroughputPlan {
    /// Frames/s each constraint allows. `cpuPreprocessing` and `nvdec` are there only for the
    /// preprocessing the plan uses (`nvdec` with `--preprocess nvdec`; CPUs and NVDEC together
    /// are `cpuPreprocessing` with `--preprocess both`). JSON: an object keyed by
    /// `Constraint.rawValue`, absent constraints left out.
    public struct Limits: Sendable, Codable, Equatable {
        public var compute: Double
        public var cpuPreprocessing: Double?
        public var nvdec: Double?
        public var storageRead: Double
        public var hostToDevice: Double

        public init(compute: Double, cpuPreprocessing: Double? = nil, nvdec: Double? = nil, storageRead: Double, hostToDevice: Double) {
            self.compute = compute
            self.cpuPreprocessing = cpuPreprocessing
            self.nvdec = nvdec
            self.storageRead = storageRead
            self.hostToDevice = hostToDevice
        }

        /// The frames/s `constraint` allows; nil when the plan does not use it.
        public subscript(_ constraint: Constraint) -> Double? {
            switch constraint {
            case .compute: compute
            case .cpuPreprocessing: cpuPreprocessing
            case .nvdec: nvdec
            case .storageRead: storageRead
            case .hostToDevice: hostToDevice
            }
        }

        /// The constraints the plan uses, with their frames/s, in `Constraint.allCases` order.
        public var all: [(constraint: Constraint, framesPerSecond: Double)] {
            Constraint.allCases.compactMap { c in self[c].map { (c, $0) } }
        }

        /// The tightest constraint (ties: the smaller raw value, as before the typed limits).
        public var binding: (constraint: Constraint, framesPerSecond: Double) {
            all.min { $0.framesPerSecond < $1.framesPerSecond || ($0.framesPerSecond == $1.framesPerSecond && $0.constraint.rawValue < $1.constraint.rawValue) }!
        }

        private enum CodingKeys: String, CodingKey {
            case compute, cpuPreprocessing = "cpu-preprocessing", nvdec, storageRead = "storage-read", hostToDevice = "host-to-accelerator-link"
        }
    }
}
