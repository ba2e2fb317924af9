import FleetPlanner
import Foundation
import Testing

/// The planner's scaling model (Amdahl fit to `fleetprep bench --json` curves), checked against
/// numbers worked by hand from Amdahl's law: fps(N) = fps1 / (s + (1 - s) / N).
@Suite struct ScalingModelTests {
    func close(_ a: Double, _ b: Double, _ what: String, tol: Double = 1e-3) {
        #expect(abs(a / b - 1) < tol, "\(what): \(a) vs \(b)")
    }

    /// s = 0.2, fps1 = 100: 100, 166.67, 250 at 1, 2, 4 jobs; a flat 250 at 8 jobs measured on a
    /// 4-core machine (jobs sharing cores), which the fit must leave out.
    func report(cores: Int = 4) -> EngineSpeedReport {
        var c = EngineSpeedReport.ScalingCurve(workload: "camera-groups", description: "2 groups", codec: "h264", width: 1280, height: 960,
                                               sourceFramesPerSecond: 30, files: 16, frames: 1440, ingestArguments: ["--size", "320x240"],
                                               baseline: "ffmpeg")
        c.points = [.init(jobs: 1, fleetprepFramesPerSecond: 100), .init(jobs: 2, fleetprepFramesPerSecond: 100 / 0.6),
                    .init(jobs: 4, fleetprepFramesPerSecond: 250), .init(jobs: 8, fleetprepFramesPerSecond: 250)]
        return EngineSpeedReport(machine: .init(cpuModel: "test CPU", cores: cores, os: "Linux"), measurements: [], scaling: [c])
    }

    @Test func amdahlFitRecoversTheSerialFraction() throws {
        let m = try ScalingModel.from(report: report())
        #expect(m.points.map(\.jobs) == [1, 2, 4], "points above the machine's cores are left out")
        close(m.serialFraction, 0.2, "serial fraction", tol: 5e-3)
        close(m.framesPerSecondAtOneJob, 100, "fps at 1 job")
        #expect(m.rmsRelativeError < 1e-3)
        // 100 / (0.2 + 0.8/112) = 482.76; the ceiling is 100 / 0.2 = 500.
        close(m.framesPerSecond(jobs: 112), 482.76, "112 jobs")
        close(m.ceiling, 500, "ceiling")
        #expect(m.summary.contains("Amdahl") && m.summary.contains("0.200"))
    }

    @Test func linearAndFlatCurvesFitTheirEnds() throws {
        let linear = try ScalingModel.fit([.init(jobs: 1, framesPerSecond: 50), .init(jobs: 2, framesPerSecond: 100), .init(jobs: 4, framesPerSecond: 200)],
                                          workload: "w", measuredCores: 4, machine: "m", width: 1280, height: 960, codec: "h264", ingestArguments: [])
        #expect(linear.serialFraction < 1e-3)
        let flat = try ScalingModel.fit([.init(jobs: 1, framesPerSecond: 190), .init(jobs: 2, framesPerSecond: 190), .init(jobs: 16, framesPerSecond: 190)],
                                        workload: "w", measuredCores: 16, machine: "m", width: 1280, height: 960, codec: "h264", ingestArguments: [])
        close(flat.serialFraction, 1, "no scaling at all")
        close(flat.framesPerSecond(jobs: 112), 190, "flat stays flat")
    }

    @Test func planProjectsHostsFromTheCurve() throws {
        var i = PlannerInputs.defaults()
        i.scaling = try ScalingModel.from(report: report())
        let p = try ThroughputPlan.make(i)
        // 1,250 DGX hosts × fps(112) = 1,250 × 482.76 (curve and workload are both 1280x960 H.264).
        close(p.cpuPreprocessFramesPerSecond, 1250 * 100 / (0.2 + 0.8 / 112), "CPU frames/s from the curve", tol: 5e-3)
        #expect(p.cpuProjection.contains("extrapolated past the largest measured --jobs 4"))
        // Extra 128-core nodes: (compute − CPU) / fps(128) = (1.582e8 − 6.03e5) / 484.85.
        let need = (p.computeFramesPerSecond - p.cpuPreprocessFramesPerSecond) / (100 / (0.2 + 0.8 / 128))
        #expect(abs(Double(p.extraPreprocessingNodes) - need.rounded(.up)) <= 1)
        // Sixteen processes of --jobs 7 per host instead: 1,250 × 16 × fps(7).
        i.processesPerNode = 16
        close(try ThroughputPlan.make(i).cpuPreprocessFramesPerSecond, 1250 * 16 * 100 / (0.2 + 0.8 / 7), "16 processes per host", tol: 5e-3)
    }

    @Test func nvdecShowsNominalAndMeasured() throws {
        let p = try ThroughputPlan.make(PlannerInputs.defaults())
        // Measured: 10,000 GPUs × 1,128 frames/s at 1280x960 (the workload's size).
        close(p.nvdecMeasuredFramesPerSecond, 10_000 * 1128, "measured NVDEC")
        close(p.nvdecFramesPerSecond, 10_000 * 7 * 714 * 1.6875, "nominal NVDEC")
        #expect(p.table.contains("measured lower bound – nominal"))
        #expect(p.notes.contains { $0.contains("7.5× lower") })
    }

    @Test func moneyIsReadable() {
        #expect(money(5e8) == "$500M")
        #expect(money(1.2e9) == "$1.2B")
        #expect(money(50_000) == "$50k")
        #expect(money(1.128e7, dollars: false) == "11.3M")
        #expect(!PlannerInputs.defaults().numbers.isEmpty)
        #expect((try? ThroughputPlan.make(PlannerInputs.defaults()).table.contains("$500M")) == true)
    }
}
