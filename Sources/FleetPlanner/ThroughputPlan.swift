import Foundation

/// What a budget buys and how much fleet video it can ingest. Every rate is per second; units
/// are in the names.
public struct ThroughputPlan: Sendable, Codable {
    /// The resource that limits the plan's throughput.
    public enum Constraint: String, Sendable, Codable, CaseIterable {
        case compute, cpuPreprocessing = "cpu-preprocessing", nvdec, storageRead = "storage-read", hostToDevice = "shard-bytes-to-accelerator"
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
    public var nvdecFramesPerSecond: Double
    public var storageLimitedFramesPerSecond: Double
    public var linkLimitedFramesPerSecond: Double
    /// Frames/s each constraint allows.
    public var limits: [String: Double]
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
        switch inp.system {
        case .h100:
            units = Int((budget / n("h100.costPerGPUUSD")).rounded(.down))
            nodes = Int((Double(units) / n("h100.gpusPerNode")).rounded(.up))
            hostCores = nodes * Int(n("h100.hostCoresPerNode"))
            peakFLOPS = Double(units) * n("h100.bf16DenseTFLOPS") * 1e12
            linkBytes = Double(units) * n("h100.hostToDeviceGBps") * 1e9
            powerW = Double(units) * n("h100.powerW")
            let pixelScale = (1920 * 1080) / (w * h)
            nvdec = Double(units) * n("h100.nvdecPerGPU") * n("h100.nvdecFramesPerSecond1080pH264") * pixelScale
        case .dojo:
            units = Int((budget / n("dojo.costPerTileUSD")).rounded(.down))
            nodes = units
            hostCores = units * Int(n("dojo.hostCoresPerTile"))
            peakFLOPS = Double(units) * n("dojo.tileBF16PFLOPS") * 1e15
            linkBytes = Double(units) * n("dojo.hostToTileGBps") * 1e9
            powerW = Double(units) * n("dojo.tilePowerKW") * 1e3
            nvdec = 0
            if inp.numbers["dojo.costPerTileUSD"]?.source.hasPrefix("placeholder") == true {
                notes.append("No official Dojo price exists: the cost per tile ($\(Int(n("dojo.costPerTileUSD")))) is a placeholder; set --dojo-tile-cost.")
            }
            notes.append(String(format: "%.2f ExaPODs (%d tiles of %.0f per ExaPOD).", Double(units) / (n("dojo.tilesPerExaPOD")), units, n("dojo.tilesPerExaPOD")))
        }
        guard missing.isEmpty else { throw PlannerError("missing inputs: \(missing.joined(separator: ", "))") }
        guard units >= 1 else { throw PlannerError("the budget buys no accelerator") }
        let useful = peakFLOPS * mfu
        let samples = useful / flopsPerSample
        let computeFrames = samples * framesPerSample
        let cpuFrames = Double(hostCores) * perCore
        let storageFrames = n("storageReadGBps") * 1e9 / compressedBytesPerFrame
        let linkFrames = linkBytes / tensorBytesPerFrame

        var limits: [Constraint: Double] = [.compute: computeFrames, .storageRead: storageFrames, .hostToDevice: linkFrames]
        switch inp.preprocessing {
        case .cpu: limits[.cpuPreprocessing] = cpuFrames
        case .nvdec:
            guard inp.system == .h100 else { throw PlannerError("NVDEC preprocessing needs --system h100") }
            limits[.nvdec] = nvdec
        case .both: limits[.cpuPreprocessing] = cpuFrames + nvdec
        }
        let binding = limits.min { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue < $1.key.rawValue) }!
        let ingest = binding.value
        let coresNeeded = computeFrames / perCore
        let extraNodes = max(0, Int(((coresNeeded - Double(hostCores)) / n("preprocessingNodeCores")).rounded(.up)))
        let tensorBytesPerSecond = ingest * tensorBytesPerFrame
        let videoFrames = ingest / sampled          // frames of video covered
        let carSecondsPerDay = videoFrames * 86400 / (fps * cams)
        let seconds = n("amortizationYears") * 365 * 86400
        let costPerSecond = budget / seconds + powerW * (n("facilityPowerOverhead")) / 1000 * (n("electricityUSDPerKWh")) / 3600
        return ThroughputPlan(
            system: inp.system.rawValue, budgetUSD: budget, accelerators: units, acceleratorKind: inp.system == .h100 ? "H100 SXM" : "Dojo training tile",
            nodes: nodes, hostCores: hostCores, usefulFLOPS: useful, samplesPerSecond: samples,
            computeFramesPerSecond: computeFrames, cpuPreprocessFramesPerSecond: cpuFrames, nvdecFramesPerSecond: nvdec,
            storageLimitedFramesPerSecond: storageFrames, linkLimitedFramesPerSecond: linkFrames,
            limits: Dictionary(uniqueKeysWithValues: limits.map { ($0.key.rawValue, $0.value) }), binding: binding.key,
            ingestFramesPerSecond: ingest, coresNeededForCompute: coresNeeded, extraPreprocessingNodes: extraNodes,
            storageReadBytesPerSecond: videoFrames * compressedBytesPerFrame, tensorBytesPerSecond: tensorBytesPerSecond,
            shardsPerHour: tensorBytesPerSecond * 3600 / (n("shardTargetBytes")),
            carHoursPerDay: carSecondsPerDay / 3600, clipsPerDay: carSecondsPerDay / (n("workload.clipSeconds")),
            usdPerMillionFrames: costPerSecond / ingest * 1e6, notes: notes)
    }

    /// A table for people.
    public var table: String {
        func e(_ v: Double) -> String { v >= 1e4 ? String(format: "%.3g", v) : String(format: "%.1f", v) }
        var rows: [(String, String)] = [
            ("system", "\(acceleratorKind) x \(accelerators) for $\(e(budgetUSD))"),
            ("nodes / host cores", "\(nodes) / \(hostCores)"),
            ("useful compute", "\(e(usefulFLOPS)) FLOP/s"),
            ("samples/s the accelerators consume", e(samplesPerSecond)),
            ("frames/s the accelerators consume", e(computeFramesPerSecond)),
            ("frames/s host CPUs preprocess (this engine)", e(cpuPreprocessFramesPerSecond)),
            ("frames/s NVDEC decodes", e(nvdecFramesPerSecond)),
            ("frames/s storage read allows", e(storageLimitedFramesPerSecond)),
            ("frames/s host→accelerator links allow", e(linkLimitedFramesPerSecond)),
            ("binding constraint", binding.rawValue),
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
