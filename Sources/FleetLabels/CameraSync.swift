import Foundation

/// What happens to a master tick where some camera has no frame within the tolerance.
public enum MissingCameraPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Drop the whole sample (default): every kept sample has every camera within tolerance.
    case drop
    /// Keep the sample and use that camera's nearest frame anyway (its `withinTolerance` is
    /// false); a camera with no frames at all is nil.
    case nearest
    /// Keep the sample with that camera absent (nil): the writer stores a blank image and a
    /// camera-mask bit of 0.
    case fill
}

/// One camera's frame chosen for a sample.
public struct CameraFrameRef: Sendable, Hashable, Codable {
    /// Frame index in that camera's decode (presentation) order, 0-based.
    public var index: Int
    /// The frame's time as decoded (pts × time_base, the camera's own clock), seconds.
    public var time: Double
    /// `time + offset` of that camera: the clip clock.
    public var clipTime: Double
    /// |clipTime − master tick| ≤ tolerance.
    public var withinTolerance: Bool
}

/// One synchronized sample: a master tick and a frame (or nil) per camera.
public struct SyncedSample: Sendable, Hashable, Codable {
    /// Master frame index (0-based, decode order).
    public var masterIndex: Int
    /// Master frame time on the clip clock (decoded time + master offset), seconds.
    public var masterTime: Double
    /// One entry per camera, in `SyncReport.cameras` order (the master included).
    public var cameras: [CameraFrameRef?]
}

/// Counts from one sync, for logs and manifests.
public struct SyncReport: Sendable, Hashable, Codable {
    public var cameras: [CameraName]
    public var master: CameraName
    public var policy: MissingCameraPolicy
    /// Seconds; a camera frame further than this from the tick is out of tolerance.
    public var tolerance: Double
    /// The master's nominal frame period (median frame interval), seconds; 0 with < 2 frames.
    public var masterPeriod: Double
    /// Master frames (ticks) seen.
    public var ticks: Int
    /// Samples produced.
    public var kept: Int
    /// Ticks dropped (policy `drop`).
    public var dropped: Int
    /// Samples kept with at least one camera missing or out of tolerance (`nearest`/`fill`).
    public var filled: Int
    /// Per camera: ticks where that camera had no frame within tolerance.
    public var missed: [CameraName: Int]
    /// Per camera: the largest |clipTime − tick| among frames within tolerance.
    public var maxDelta: [CameraName: Double]
}

/// Synchronizes cameras on the master camera's ticks.
///
/// Each master frame is a tick at its clip time. For every other camera the frame whose clip
/// time (decoded time + offset) is nearest the tick is chosen (ties: the earlier frame); it is
/// within tolerance when |Δ| ≤ tolerance (default: half the master's nominal frame period).
/// A tick with a camera out of tolerance is handled per `MissingCameraPolicy` and counted.
/// Frame times per camera must be finite and non-decreasing; all cameras are walked in one
/// merge pass: O(total frames).
public enum CameraSync {
    /// - Parameters:
    ///   - cameras: camera names, in sample order.
    ///   - frameTimes: decoded frame times per camera (same order as `cameras`), seconds.
    ///   - files: a name per camera used in errors (e.g. the video path); defaults to the camera.
    public static func sync(cameras: [CameraName], frameTimes: [[Double]], master: CameraName,
                            offsets: [CameraName: Double] = [:], tolerance: Double? = nil,
                            policy: MissingCameraPolicy = .drop,
                            files: [String]? = nil) throws -> (samples: [SyncedSample], report: SyncReport) {
        precondition(cameras.count == frameTimes.count, "one frame-time list per camera")
        let files = files ?? cameras.map(\.rawValue)
        guard let m = cameras.firstIndex(of: master) else {
            throw LabelError(.unknownCamera, file: files.first ?? master.rawValue, "master camera \"\(master)\" is not among \(cameras)")
        }
        for (c, times) in frameTimes.enumerated() {
            for (i, t) in times.enumerated() {
                guard t.isFinite else {
                    throw LabelError(.badFrameTimes, file: files[c], "frame \(i) of camera \(cameras[c]) has time \(t)")
                }
                if i > 0, t < times[i - 1] {
                    throw LabelError(.badFrameTimes, file: files[c],
                                     "frame \(i) of camera \(cameras[c]) at \(t) s is earlier than frame \(i - 1) at \(times[i - 1]) s")
                }
            }
        }
        let masterTimes = frameTimes[m]
        let period = nominalPeriod(masterTimes)
        let tol = tolerance ?? period / 2
        let off = cameras.map { offsets[$0] ?? 0 }

        var samples: [SyncedSample] = []
        samples.reserveCapacity(masterTimes.count)
        var cursor = [Int](repeating: 0, count: cameras.count)    // last frame with clip time <= tick
        var missed = [Int](repeating: 0, count: cameras.count)
        var maxDelta = [Double](repeating: 0, count: cameras.count)
        var dropped = 0, filled = 0
        var refs = [CameraFrameRef?](repeating: nil, count: cameras.count)

        for (mi, mt) in masterTimes.enumerated() {
            let tick = mt + off[m]
            var anyMissing = false
            for c in cameras.indices {
                if c == m {
                    refs[c] = CameraFrameRef(index: mi, time: mt, clipTime: tick, withinTolerance: true)
                    continue
                }
                let times = frameTimes[c]
                guard !times.isEmpty else { refs[c] = nil; missed[c] += 1; anyMissing = true; continue }
                var k = cursor[c]
                while k + 1 < times.count, times[k + 1] + off[c] <= tick { k += 1 }
                cursor[c] = k
                var best = k
                if k + 1 < times.count, abs(times[k + 1] + off[c] - tick) < abs(times[k] + off[c] - tick) { best = k + 1 }
                let clipTime = times[best] + off[c]
                let delta = abs(clipTime - tick)
                let ok = delta <= tol
                if ok {
                    maxDelta[c] = max(maxDelta[c], delta)
                } else {
                    missed[c] += 1
                    anyMissing = true
                }
                refs[c] = CameraFrameRef(index: best, time: times[best], clipTime: clipTime, withinTolerance: ok)
            }
            if anyMissing {
                switch policy {
                case .drop:
                    dropped += 1
                    continue
                case .nearest:
                    filled += 1
                case .fill:
                    filled += 1
                    for c in cameras.indices where refs[c]?.withinTolerance == false { refs[c] = nil }
                }
            }
            samples.append(SyncedSample(masterIndex: mi, masterTime: tick, cameras: refs))
        }
        let report = SyncReport(
            cameras: cameras, master: master, policy: policy, tolerance: tol, masterPeriod: period,
            ticks: masterTimes.count, kept: samples.count, dropped: dropped, filled: filled,
            missed: Dictionary(uniqueKeysWithValues: zip(cameras, missed)),
            maxDelta: Dictionary(uniqueKeysWithValues: zip(cameras, maxDelta)))
        return (samples, report)
    }

    /// Median of the positive intervals between consecutive times (robust to one dropped or
    /// duplicated frame); 0 when there are fewer than two distinct times.
    public static func nominalPeriod(_ times: [Double]) -> Double {
        var d: [Double] = []
        d.reserveCapacity(max(0, times.count - 1))
        for i in times.indices.dropFirst() where times[i] > times[i - 1] { d.append(times[i] - times[i - 1]) }
        guard !d.isEmpty else { return 0 }
        d.sort()
        return d.count % 2 == 1 ? d[d.count / 2] : (d[d.count / 2 - 1] + d[d.count / 2]) / 2
    }
}
