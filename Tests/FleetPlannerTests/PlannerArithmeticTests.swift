import FleetPlanner
import Foundation
import Testing

/// The planner's arithmetic against cases computed by hand (numbers written out below).
@Suite struct PlannerArithmeticTests {
    func close(_ a: Double, _ b: Double, _ what: String, rel: Double = 1e-9) {
        #expect(abs(a - b) <= rel * max(abs(a), abs(b)), "\(what): \(a) vs \(b)")
    }

    @Test func fiveHundredMillionDollarsOfH100() throws {
        let p = try ThroughputPlan.make(PlannerInputs.defaults())
        // $500M / $50k = 10,000 GPUs in 1,250 nodes of 8, with 112 host cores each.
        #expect(p.accelerators == 10_000)
        #expect(p.nodes == 1_250 && p.hostCores == 140_000)
        // 10,000 × 989e12 × 0.4 = 3.956e18 FLOP/s; / 25e9 FLOP per frame = 1.5824e8 frames/s.
        close(p.usefulFLOPS, 3.956e18, "useful FLOP/s")
        close(p.computeFramesPerSecond, 1.5824e8, "compute frames/s")
        // CPU: 140,000 cores × 380 frames/core-s = 5.32e7 frames/s → the binding constraint.
        close(p.cpuPreprocessFramesPerSecond, 5.32e7, "CPU frames/s")
        #expect(p.binding == .cpuPreprocessing)
        close(p.ingestFramesPerSecond, 5.32e7, "ingest frames/s")
        // NVDEC: 10,000 × 7 × 714 fps at 1080p, × (1920·1080)/(1280·960) = 1.6875 → 8.434e7.
        close(p.nvdecFramesPerSecond, 10_000 * 7 * 714 * 1.6875, "NVDEC frames/s")
        // Storage: 2 TB/s / (4 Mbit/s / 8 / 36 fps = 13,888.9 B per frame) = 1.44e8 frames/s.
        close(p.storageLimitedFramesPerSecond, 2000e9 / (4e6 / 8 / 36), "storage frames/s")
        // Links: 10,000 × 64 GB/s / (3×640×480×2 = 1,843,200 B) = 3.4722e8 frames/s.
        close(p.linkLimitedFramesPerSecond, 640e12 / 1_843_200, "link frames/s")
        // Cores to feed compute: 1.5824e8 / 380 = 416,421; extra nodes ceil((416,421 − 140,000)/128) = 2,160.
        close(p.coresNeededForCompute, 1.5824e8 / 380, "cores needed")
        #expect(p.extraPreprocessingNodes == 2_160)
        // Fleet video: 5.32e7 × 86,400 / (36 × 8) = 1.596e10 car-seconds/day = 4.4333e6 car-hours, 2.66e8 clips.
        close(p.carHoursPerDay, 5.32e7 * 86_400 / 288 / 3600, "car-hours/day")
        close(p.clipsPerDay, 5.32e7 * 86_400 / 288 / 60, "clips/day")
        // Shards: 5.32e7 × 1,843,200 B × 3600 / 20e9 B per shard.
        close(p.shardsPerHour, 5.32e7 * 1_843_200 * 3600 / 20e9, "shards/hour")
        // Cost: $500M over 4 years + 7 MW × 1.5 × $0.08/kWh, per frame.
        let capexPerSecond: Double = 500e6 / (4.0 * 365 * 86_400)
        let powerPerSecond: Double = 10_000.0 * 700 * 1.5 / 1000 * 0.08 / 3600
        let perSecond = capexPerSecond + powerPerSecond
        close(p.usdPerMillionFrames, perSecond / 5.32e7 * 1e6, "$/Mframes")
    }

    @Test func nvdecAndBothSources() throws {
        var i = PlannerInputs.defaults()
        i.preprocessing = .nvdec
        let nv = try ThroughputPlan.make(i)
        #expect(nv.binding == .nvdec)
        close(nv.ingestFramesPerSecond, 10_000 * 7 * 714 * 1.6875, "NVDEC ingest")
        i.preprocessing = .both
        let both = try ThroughputPlan.make(i)
        // CPU + NVDEC = 5.32e7 + 8.4336e7 = 1.3766e8 < storage 1.44e8 < compute 1.58e8.
        #expect(both.binding == .cpuPreprocessing)
        close(both.ingestFramesPerSecond, 5.32e7 + 10_000 * 7 * 714 * 1.6875, "CPU+NVDEC ingest")
    }

    /// The typed limits: the constraints each preprocessing uses, and `--json`'s object of them
    /// keyed by the constraint names (the hand-computed values of the $500M case).
    @Test func typedLimitsAndTheirJSON() throws {
        var i = PlannerInputs.defaults()
        let cpu = try ThroughputPlan.make(i)
        close(cpu.limits.cpuPreprocessing ?? 0, 5.32e7, "CPU limit")
        close(cpu.limits.compute, 1.5824e8, "compute limit")
        #expect(cpu.limits.nvdec == nil)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let json = try JSONSerialization.jsonObject(with: try enc.encode(cpu)) as! [String: Any]
        let limits = json["limits"] as! [String: Double]
        #expect(limits.keys.sorted() == ["compute", "cpu-preprocessing", "host-to-accelerator-link", "storage-read"])
        close(limits["storage-read"] ?? 0, 2000e9 / (4e6 / 8 / 36), "storage limit in JSON")
        i.preprocessing = .nvdec
        let nv = try ThroughputPlan.make(i)
        #expect(nv.limits.cpuPreprocessing == nil && nv.limits.all.map(\.constraint) == [.compute, .nvdec, .storageRead, .hostToDevice])
        let back = try JSONDecoder().decode(ThroughputPlan.self, from: try enc.encode(nv))
        #expect(back.limits == nv.limits)
    }

    @Test func dojoCase() throws {
        var i = PlannerInputs.defaults()
        i.system = .dojo
        i.set("dojo.costPerTileUSD", 4_000_000)
        let p = try ThroughputPlan.make(i)
        // $500M / $4M = 125 tiles; 125 × 9e15 × 0.4 = 4.5e17 FLOP/s → 1.8e7 frames/s (ResNet-50 size).
        #expect(p.accelerators == 125)
        close(p.usefulFLOPS, 4.5e17, "Dojo useful FLOP/s")
        close(p.computeFramesPerSecond, 1.8e7, "Dojo compute frames/s")
        // Hosts: 125 × 112 cores × 380 = 5.32e6 frames/s: CPU preprocessing binds.
        close(p.cpuPreprocessFramesPerSecond, 5.32e6, "Dojo CPU frames/s")
        #expect(p.binding == .cpuPreprocessing)
        #expect(p.notes.contains { $0.contains("1.04 ExaPODs") })
        #expect(!p.notes.contains { $0.contains("placeholder") }, "a user-set tile cost is not flagged")
        // Default tile cost is a placeholder and the output says so.
        var d = PlannerInputs.defaults()
        d.system = .dojo
        #expect(try ThroughputPlan.make(d).notes.contains { $0.contains("No official Dojo price exists") })
    }

    @Test func bevModelIsComputeBound() throws {
        var i = PlannerInputs.defaults()
        i.model = "bev"
        let p = try ThroughputPlan.make(i)
        // 3.956e18 / 1.5e12 = 2.6373e6 samples/s × 8 frames = 2.1099e7 frames/s < CPU 5.32e7.
        close(p.samplesPerSecond, 3.956e18 / 1.5e12, "BEV samples/s")
        close(p.computeFramesPerSecond, 3.956e18 / 1.5e12 * 8, "BEV frames/s")
        #expect(p.binding == .compute)
        #expect(p.extraPreprocessingNodes == 0)
    }

    @Test func everyDefaultHasASource() throws {
        let root = try JSONSerialization.jsonObject(with: Data(PlannerDefaults.json.utf8)) as! [String: Any]
        var count = 0
        func walk(_ o: [String: Any], _ path: String) {
            for (k, v) in o {
                let d = v as! [String: Any]
                if d["value"] != nil {
                    count += 1
                    #expect(((d["source"] as? String) ?? "").count > 10, "\(path)\(k) has no source")
                } else { walk(d, path + k + ".") }
            }
        }
        walk(root, "")
        #expect(count > 40)
    }

    @Test func benchReportSetsEngineSpeed() throws {
        var i = PlannerInputs.defaults()
        let report = EngineSpeedReport(machine: .init(cpuModel: "test CPU", cores: 2, os: "Linux"), measurements: [
            .init(codec: "h264", width: 1280, height: 960, stage: "decode", threads: 1, framesPerSecond: 387, cpuSeconds: 1, framesPerCoreSecond: 387),
            .init(codec: "h264", width: 640, height: 480, stage: "ingest", threads: 1, framesPerSecond: 400, cpuSeconds: 1, framesPerCoreSecond: 400),
        ])
        try i.useEngineSpeed(from: report)
        // The ingest stage wins; 400 frames/core-s at 640x480 is 100 at 1280x960 (pixel scaling).
        close(try i.number("engine.h264FramesPerCoreSecond1280x960"), 100, "scaled engine speed")
        close(try ThroughputPlan.make(i).cpuPreprocessFramesPerSecond, 140_000 * 100, "CPU frames/s from bench")
    }

    @Test func chartMarksTheBindingConstraint() throws {
        let svg = try CapacityChart.svg(inputs: PlannerInputs.defaults())
        #expect(svg.hasPrefix("<svg") && svg.contains("limited by host CPUs decoding + resizing"))
        #expect(svg.contains("accelerators consume") && svg.contains("storage read bandwidth"))
        #expect(svg.contains("frames per second (log scale)") && svg.contains("$500M") && !svg.contains("e+0"))
    }

    @Test func badInputsAreErrors() {
        var i = PlannerInputs.defaults()
        i.set("mfu", 1.5)
        #expect(throws: PlannerError.self) { try ThroughputPlan.make(i) }
        var j = PlannerInputs.defaults()
        j.set("budgetUSD", 10)
        #expect(throws: PlannerError.self) { try ThroughputPlan.make(j) }
        #expect(throws: PlannerError.self) { try PlannerInputs(json: Data(#"{"mfu": {"value": 0.5}}"#.utf8)) }
    }
}
