import Foundation
import Testing
@testable import FleetLabels

@Suite("Camera sync")
struct SyncTests {
    func eventTimes() throws -> [[Double]] {
        try Fixtures.cameras.map { try Fixtures.probeFrameTimes($0) }
    }

    /// The 8-camera SampleClips event; `rear` lacks frame 40, so tick 40 has no rear frame
    /// within half a period and is dropped.
    @Test func eightCamerasDropPolicy() throws {
        let times = try eventTimes()
        #expect(times[0].count == 72 && times[7].count == 71)
        let (samples, report) = try CameraSync.sync(cameras: Fixtures.cameras, frameTimes: times, master: "main")
        let period = 1.0 / 36
        #expect(abs(report.masterPeriod - period) < 1e-5)
        #expect(abs(report.tolerance - period / 2) < 1e-5)
        #expect(report.ticks == 72 && report.kept == 71 && report.dropped == 1 && report.filled == 0)
        #expect(report.missed["rear"] == 1 && report.missed["main"] == 0 && report.missed["narrow"] == 0)
        #expect(!samples.contains { $0.masterIndex == 40 })
        for s in samples {
            #expect(s.masterTime == times[0][s.masterIndex])
            #expect(s.cameras.count == 8)
            for (c, ref) in s.cameras.enumerated() {
                guard let ref else { Issue.record("sample \(s.masterIndex) lacks \(Fixtures.cameras[c])"); continue }
                #expect(ref.withinTolerance)
                #expect(abs(ref.time - s.masterTime) <= report.tolerance)
                #expect(ref.time == times[c][ref.index])
            }
            // Rear frame indices shift by one after the dropped frame.
            let rear = s.cameras[7]!.index
            #expect(rear == (s.masterIndex < 40 ? s.masterIndex : s.masterIndex - 1))
        }
        #expect(report.maxDelta.values.allSatisfy { $0 < 1e-6 })
    }

    @Test func nearestAndFillPolicies() throws {
        let times = try eventTimes()
        let (near, r1) = try CameraSync.sync(cameras: Fixtures.cameras, frameTimes: times, master: "main", policy: .nearest)
        #expect(r1.kept == 72 && r1.dropped == 0 && r1.filled == 1)
        let s40 = near[40].cameras[7]!
        #expect(!s40.withinTolerance && (s40.index == 39 || s40.index == 40))
        let (fill, r2) = try CameraSync.sync(cameras: Fixtures.cameras, frameTimes: times, master: "main", policy: .fill)
        #expect(r2.kept == 72 && r2.filled == 1)
        #expect(fill[40].cameras[7] == nil && fill[40].cameras[0]?.index == 40)
        #expect(fill.filter { $0.cameras.contains { $0 == nil } }.count == 1)
    }

    @Test func offsetsShiftCameraClock() throws {
        // Camera b's clock runs 0.5 s late: with offset -0.5 it lines up; without, every tick misses.
        let a = (0..<10).map { Double($0) * 0.1 }
        let b = a.map { $0 + 0.5 + 0.01 }
        let (s, r) = try CameraSync.sync(cameras: ["main", "rear"], frameTimes: [a, b], master: "main",
                                         offsets: ["rear": -0.5])
        #expect(r.kept == 10 && r.dropped == 0)
        #expect(s.allSatisfy { abs($0.cameras[1]!.clipTime - $0.masterTime - 0.01) < 1e-9 })
        let (_, r0) = try CameraSync.sync(cameras: ["main", "rear"], frameTimes: [a, b], master: "main")
        #expect(r0.kept == 5 && r0.dropped == 5)   // b covers only 0.51...1.41
        let (_, rt) = try CameraSync.sync(cameras: ["main", "rear"], frameTimes: [a, b], master: "main",
                                          offsets: ["rear": -0.5], tolerance: 0.005)
        #expect(rt.kept == 0 && rt.dropped == 10)
    }

    @Test func unsortedFrameTimesAreAnError() {
        let e = labelError {
            _ = try CameraSync.sync(cameras: ["main", "rear"], frameTimes: [[0, 1], [0, 2, 1]], master: "main",
                                    files: ["a/main.mp4", "a/rear.mp4"])
        }
        #expect(e?.kind == .badFrameTimes && e?.file == "a/rear.mp4")
    }
}
