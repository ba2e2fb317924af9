import FleetPlanner
import Foundation
import Testing

/// The `fleetprep bench --json` report's scaling curve and peak-RSS check: optional, so reports
/// written before they existed still load, and they survive a JSON round trip.
@Suite struct EngineScalingReportTests {
    @Test func reportWithoutScalingStillDecodes() throws {
        let old = #"{"tool":"fleetprep bench","machine":{"cpuModel":"x","cores":2,"os":"Linux"},"measurements":[]}"#
        let r = try JSONDecoder().decode(EngineSpeedReport.self, from: Data(old.utf8))
        #expect(r.scaling == nil && r.peakMemory == nil)
    }

    @Test func scalingCurveRoundTripsAndGivesSpeedups() throws {
        var curve = EngineSpeedReport.ScalingCurve(
            workload: "many-clips", description: "16 clips", codec: "h264", width: 1280, height: 960,
            sourceFramesPerSecond: 30, files: 16, frames: 1440, ingestArguments: ["--size", "224x224"], baseline: "ffmpeg")
        curve.points = [.init(jobs: 1, fleetprepFramesPerSecond: 200, ffmpegFramesPerSecond: 250),
                        .init(jobs: 2, fleetprepFramesPerSecond: 380, ffmpegFramesPerSecond: 475)]
        var report = EngineSpeedReport(machine: .init(cpuModel: "x", cores: 2, os: "Linux"), measurements: [], scaling: [curve])
        report.peakMemory = .init(description: "tiny", ingestArguments: [], runs: [
            .init(clips: 400, peakResidentBytes: 210, samples: 12000), .init(clips: 100, peakResidentBytes: 200, samples: 3000)])
        let back = try JSONDecoder().decode(EngineSpeedReport.self, from: JSONEncoder().encode(report))
        let c = try #require(back.scaling?.first)
        #expect(c.workload == "many-clips" && c.points.count == 2)
        #expect(abs((c.speedup(jobs: 2) ?? 0) - 1.9) < 1e-12)
        #expect(abs((c.point(jobs: 1)?.ratio ?? 0) - 0.8) < 1e-12)
        #expect(c.speedup(jobs: 4) == nil)
        #expect(abs((back.peakMemory?.ratio ?? 0) - 1.05) < 1e-12)
    }
}
