import Foundation
@testable import FleetLabels

/// Test locations and helpers (FleetLabelsTests depends on FleetLabels only).
enum Fixtures {
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    static let event = repoRoot.appendingPathComponent("SampleClips/event_0001").path
    static let sampleClips = repoRoot.appendingPathComponent("SampleClips").path

    /// `../shared/fixtures/comma2k19-can` beside the checkout, or nil.
    static let comma2k19: String? = {
        let p = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/comma2k19-can").path
        return FileManager.default.fileExists(atPath: p + "/speed.csv") ? p : nil
    }()

    /// Frame times recorded by ffprobe beside a sample video (`<camera>.probe.json`).
    static func probeFrameTimes(_ camera: CameraName, in dir: String = event) throws -> [Double] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(camera).probe.json"))
        let root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let frames = root["frames"] as! [[String: Any]]
        return frames.map { f in
            let s = (f["pts_time"] as? String) ?? (f["best_effort_timestamp_time"] as! String)
            return Double(s)!
        }
    }

    static let cameras = LabelOptions.standardCameras
}

/// A fresh temporary directory, removed when the value is released.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "fleetlabels-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ relative: String, _ text: String) -> String {
        let p = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    func mkdir(_ relative: String) {
        try! FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
    }
}

/// Reads a two-column `t,value` CSV or one-column `t` CSV with a plain line split (independent
/// of FleetLabels' parser).
func readColumns(_ path: String) throws -> [[Double]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var cols: [[Double]] = []
    for (i, line) in text.split(separator: "\n").enumerated() where i > 0 {
        let cells = line.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces))! }
        if cols.isEmpty { cols = Array(repeating: [], count: cells.count) }
        for (k, c) in cells.enumerated() { cols[k].append(c) }
    }
    return cols
}

/// Straightforward reference for numpy.interp-style interpolation with the gap rule: binary
/// search per point (not the merge the library uses).
func referenceInterp(_ x: Double, _ xp: [Double], _ fp: [Double], maxGap: Double) -> Double? {
    guard let first = xp.first, let last = xp.last, x >= first, x <= last else { return nil }
    var lo = 0, hi = xp.count - 1                      // largest j with xp[j] <= x
    while lo < hi {
        let mid = (lo + hi + 1) / 2
        if xp[mid] <= x { lo = mid } else { hi = mid - 1 }
    }
    let j = lo
    if xp[j] == x { return fp[j] }
    guard x - xp[j] <= maxGap, xp[j + 1] - x <= maxGap else { return nil }
    return (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]) * (x - xp[j]) + fp[j]
}

/// numpy.interp via python3, or nil when python3/numpy are missing.
func numpyInterp(frames: String, signal: String) -> [Double]? {
    let script = """
    import sys, numpy as np
    f = np.loadtxt(sys.argv[1], delimiter=',', skiprows=1, ndmin=1)
    s = np.loadtxt(sys.argv[2], delimiter=',', skiprows=1, ndmin=2)
    for v in np.interp(f, s[:, 0], s[:, 1]): print(repr(float(v)))
    """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script, frames, signal]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { Double($0) }
}

/// Asserts that `body` throws a LabelError and returns it.
func labelError(_ body: () throws -> Void) -> LabelError? {
    do { try body() } catch let e as LabelError { return e } catch { return nil }
    return nil
}
