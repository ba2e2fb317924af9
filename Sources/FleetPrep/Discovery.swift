import FleetLabels
import FleetMedia
import FleetShards
import Foundation

/// What `fleetprep discover` (and `ingest --dry-run`) reports of one clip group: what ingest
/// would take from it, found by reading headers and packets only (nothing is decoded).
public struct DiscoveredGroup: Sendable, Codable {
    public struct Camera: Sendable, Codable {
        public var camera: CameraName
        /// The layout's own name for the camera (TeslaCam `front`), when it differs.
        public var sourceName: String?
        public var files: [String]
        public var codec: String?
        public var width: Int?
        public var height: Int?
        public var pixelFormat: String?
        public var frames: Int?
        /// Where frame times come from: `pts`, `segments` (name time + pts), `log` or `assumed-fps`.
        public var frameTimes: String
        public var frameTimesLog: String?
        /// First and last frame time, seconds on the group clock.
        public var start: Double?
        public var end: Double?
        /// This camera's start and end minus the master's, seconds.
        public var skew: Double?
        public var endSkew: Double?
        /// Holes in the camera's frames longer than 1.5 frame periods: `[after_time, seconds]`.
        public var gaps: [[Double]]
    }
    public struct Signal: Sendable, Codable {
        public var name: String
        public var file: String
        public var samples: Int
        public var start: Double?
        public var end: Double?
    }
    public var key: String
    public var name: String
    public var layout: String
    public var path: String
    public var master: CameraName?
    public var cameras: [Camera]
    public var signals: [Signal]
    /// Samples the group would give (before `--stride`/`--fps`) and ticks dropped by the sync.
    public var samples: Int?
    public var dropped: Int?
    /// Why ingest would fail the group, if it would.
    public var error: ClipFailure?
}

/// The groups of a run as discover reports them, with the exit status ingest would have.
public struct DiscoveryResult: Sendable {
    public var groups: [DiscoveredGroup]
    /// Inputs or manifest lines that could not be used.
    public var failures: [ClipFailure]
    public var exitStatus: IngestExitStatus {
        let ok = groups.filter { $0.error == nil }.count
        if ok == 0 { return .nothingUsable }
        return ok == groups.count && failures.isEmpty ? .ok : .someFailed
    }
}

/// Lists what ingest would do with `config`'s inputs, calling `each` as every group is looked at
/// (for a report that streams). Honours the worker split.
public enum GroupDiscoveryReport {
    public static func run(_ config: IngestConfiguration, each: (DiscoveredGroup) -> Void = { _ in }) throws -> DiscoveryResult {
        let inputs = try IngestInputs(config: config)
        var out: [DiscoveredGroup] = []
        // Ingest's one-shape rule (unless --mixed-shapes or --cameras): the batch's first usable
        // group fixes the cameras; a group with more gives those, one lacking any fails.
        var datasetCameras: [CameraName]? = nil
        if !config.mixedShapes, config.cameras == nil {
            for item in inputs.items {
                let g = describe(item, config: config, schema: inputs.schema)
                if g.error == nil { datasetCameras = g.cameras.map(\.camera); break }
            }
        }
        for item in config.worker.share(of: inputs.items) {
            var g = describe(item, config: config, schema: inputs.schema)
            if let d = datasetCameras, g.error == nil {
                let names = g.cameras.map(\.camera)
                if names.count > d.count, d.allSatisfy(names.contains) {
                    g.cameras = d.compactMap { c in g.cameras.first { $0.camera == c } }
                } else if names.count != d.count {
                    g.error = ClipFailure(clip: item.key, path: item.group.path, stage: .sync,
                                          message: "has \(names.count) camera(s) (\(names.joined(separator: ","))) where the dataset's first clip group has \(d.count); every sample has one tensor shape: pick the same cameras everywhere with --cameras, or allow several shapes with --mixed-shapes")
                }
            }
            each(g)
            out.append(g)
        }
        return DiscoveryResult(groups: out, failures: inputs.failures)
    }

    static func describe(_ item: IngestItem, config: IngestConfiguration, schema: LabelSchema) -> DiscoveredGroup {
        let group = item.group
        var d = DiscoveredGroup(key: item.key, name: group.name, layout: group.layout.rawValue, path: group.path, master: nil,
                                cameras: group.videos.map {
                                    .init(camera: $0.camera, sourceName: $0.sourceName, files: $0.files, frameTimes: "pts",
                                          frameTimesLog: $0.frameTimes, gaps: [])
                                }, signals: [])
        do {
            var options = config.labelOptions
            options.schema = schema
            let sidecars = try group.load(options: options)
            d.master = sidecars.master
            d.signals = sidecars.signals.map {
                .init(name: $0.name, file: $0.file, samples: $0.times.count, start: $0.times.first, end: $0.times.last)
            }
            var cameras: [DiscoveredGroup.Camera] = []
            var times: [CameraName: [Double]] = [:]
            for cam in sidecars.cameras {
                var c = DiscoveredGroup.Camera(camera: cam.camera, sourceName: cam.sourceName, files: cam.files,
                                               frameTimes: "pts", frameTimesLog: cam.frameTimes, gaps: [])
                let track = try CameraTrack.scan(cam, config: config, clip: item.key)
                let info = track.parts[0].info
                c.codec = info.codec
                c.width = info.width
                c.height = info.height
                c.pixelFormat = info.pixelFormat.name
                c.frames = track.count
                c.frameTimes = cam.frameTimes != nil ? "log" : !track.seekable ? "assumed-fps" : cam.segments != nil ? "segments" : "pts"
                cameras.append(c)
                let t = try track.frameTimes(cam, config: config, clip: item.key)
                times[cam.camera] = t
                let i = cameras.count - 1
                cameras[i].start = t.first
                cameras[i].end = t.last
                let period = CameraSync.nominalPeriod(t)
                if period > 0 {
                    for k in t.indices.dropFirst() where t[k] - t[k - 1] > 1.5 * period {
                        cameras[i].gaps.append([t[k - 1], t[k] - t[k - 1]])
                    }
                }
            }
            if let m = cameras.first(where: { $0.camera == sidecars.master }), let ms = m.start, let me = m.end {
                for i in cameras.indices {
                    cameras[i].skew = cameras[i].start.map { $0 + (sidecars.offsets[cameras[i].camera] ?? 0) - ms }
                    cameras[i].endSkew = cameras[i].end.map { $0 + (sidecars.offsets[cameras[i].camera] ?? 0) - me }
                }
            }
            d.cameras = cameras
            let labels = try sidecars.labels(frameTimes: times, options: options)
            d.samples = labels.samples.count
            d.dropped = labels.sync.dropped
            if labels.samples.isEmpty {
                d.error = ClipFailure(clip: item.key, path: group.path, stage: .sync,
                                      message: "no sample has every camera within the sync tolerance")
            }
        } catch {
            d.error = ClipFailure.from(error, clip: item.key, groupPath: group.path)
        }
        return d
    }

    /// Human-readable lines for one group.
    public static func describe(_ g: DiscoveredGroup) -> String {
        func s(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "?" }
        var lines = ["\(g.key)  [\(g.layout)]  \(g.path)"]
        for c in g.cameras {
            let name = c.sourceName.map { "\(c.camera) (\($0))" } ?? c.camera.rawValue
            let files = c.files.count == 1 ? c.files[0] : "\(c.files.count) files: \(c.files[0]) …"
            var line = "  \(name): \(files)"
            if let codec = c.codec {
                line += "  \(codec) \(c.width ?? 0)x\(c.height ?? 0) \(c.pixelFormat ?? ""), \(c.frames ?? 0) frames, \(s(c.start))–\(s(c.end)) s (\(c.frameTimes))"
            }
            if let k = c.skew, c.camera != g.master { line += String(format: ", skew %+.3f s", k) }
            if !c.gaps.isEmpty { line += ", \(c.gaps.count) gap(s): " + c.gaps.prefix(3).map { String(format: "%.1f s after %.3f", $0[1], $0[0]) }.joined(separator: "; ") }
            lines.append(line)
        }
        if !g.signals.isEmpty {
            lines.append("  signals: " + g.signals.map { "\($0.name) (\($0.samples))" }.joined(separator: ", "))
        }
        if let n = g.samples { lines.append("  samples: \(n)" + ((g.dropped ?? 0) > 0 ? ", \(g.dropped!) tick(s) dropped by sync" : "")) }
        if let e = g.error { lines.append("  would fail: \(e.stage.rawValue): \(e.message)") }
        return lines.joined(separator: "\n")
    }
}
