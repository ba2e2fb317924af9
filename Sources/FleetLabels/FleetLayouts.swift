import Foundation

/// The layouts fleets and public AV datasets ship, recognised by discovery beside the project's
/// own (docs/clip-groups.md, "Fleet layouts"). Each turns what one directory holds into a
/// `ClipGroup`; detection is by file names only (nothing is opened).

/// TeslaCam file names: `YYYY-MM-DD_HH-MM-SS-<camera>.mp4`, one file per camera and minute.
public enum TeslaCam {
    /// TeslaCam camera names → FleetPrep camera names (recorded in docs and in index.json).
    public static let cameraNames: [(tesla: String, camera: CameraName)] = [
        ("front", "main"), ("back", "rear"),
        ("left_repeater", "left_repeater"), ("right_repeater", "right_repeater"),
        ("left_pillar", "left_pillar"), ("right_pillar", "right_pillar"),
    ]

    /// The start time (the name's wall-clock time read as UTC, seconds since 1970) and the
    /// TeslaCam camera of a file name, or nil when the name is not a TeslaCam name.
    public static func parse(_ name: String) -> (start: Double, tesla: String, camera: CameraName)? {
        let u = Array(name.utf8)
        // 2026-11-30_10-04-00-front.mp4: 19 characters of time, '-', camera, ".mp4".
        guard u.count > 24, name.lowercased().hasSuffix(".mp4") else { return nil }
        func digits(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r { guard u[i] >= 0x30, u[i] <= 0x39 else { return nil }; v = v * 10 + Int(u[i] - 0x30) }
            return v
        }
        let seps: [(Int, UInt8)] = [(4, 0x2D), (7, 0x2D), (10, 0x5F), (13, 0x2D), (16, 0x2D), (19, 0x2D)]
        guard seps.allSatisfy({ u[$0.0] == $0.1 }),
              let y = digits(0..<4), let mo = digits(5..<7), let d = digits(8..<10),
              let h = digits(11..<13), let mi = digits(14..<16), let s = digits(17..<19),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        let cam = String(decoding: u[20..<(u.count - 4)], as: UTF8.self)
        guard let mapped = cameraNames.first(where: { $0.tesla == cam }) else { return nil }
        let seconds = Double(daysFromCivil(y, mo, d)) * 86_400 + Double(h * 3600 + mi * 60 + s)
        return (seconds, cam, mapped.camera)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The event group of a directory's TeslaCam files (`names` are file names in `dir`), or nil
    /// when it holds none. Cameras come in `order` (FleetPrep names), each with its minute
    /// files in time order.
    static func group(dir: String, name: String, names: [String], order: [CameraName],
                      join: (String, String) -> String) -> ClipGroup? {
        var byCamera: [CameraName: [(start: Double, path: String, tesla: String)]] = [:]
        var others: [String] = []
        for n in names {
            if let p = parse(n) {
                byCamera[p.camera, default: []].append((p.start, join(dir, n), p.tesla))
            } else {
                others.append(n)
            }
        }
        guard !byCamera.isEmpty else { return nil }
        let known = order + byCamera.keys.filter { !order.contains($0) }.sorted()
        var videos: [ClipGroup.Video] = []
        for camera in known {
            guard let segs = byCamera[camera]?.sorted(by: { $0.start < $1.start }) else { continue }
            videos.append(ClipGroup.Video(camera: camera, path: segs[0].path,
                                          segments: segs.map { ClipGroup.Segment(path: $0.path, start: $0.start) },
                                          sourceName: segs[0].tesla == camera.rawValue ? nil : segs[0].tesla))
        }
        var g = ClipGroup(name: name, path: dir, layout: .teslacam, videos: videos, signalsTable: nil, signalFiles: [],
                          annotations: nil, manifest: nil, ignored: [])
        if others.contains("event.json") { g.event = join(dir, "event.json") }
        g.ignored = others.filter { $0 != "event.json" }.map { join(dir, $0) }
        return g
    }
}

/// comma2k19 / openpilot segments.
public enum Comma2k19 {
    /// The segment's video: comma2k19 ships `video.hevc`, openpilot records `fcamera.hevc`.
    public static let videoNames = ["video.hevc", "fcamera.hevc"]

    /// Whether a directory holding `files` and `subdirs` is a segment: a segment video beside
    /// `global_pose/` or `processed_log/`.
    static func isSegment(files: [String], subdirs: [String]) -> Bool {
        videoNames.contains { files.contains($0) } && (subdirs.contains("global_pose") || subdirs.contains("processed_log"))
    }

    /// The one-camera group of a segment directory. Its frame times are
    /// `global_pose/frame_times`; its signals every `processed_log/CAN/<name>/` that holds `t` and
    /// `value`, in byte order of name.
    static func group(dir: String, files: [String], camera: CameraName,
                      list: (String) throws -> [String], isFile: (String) -> Bool,
                      join: (String, String) -> String) throws -> ClipGroup {
        let video = videoNames.first { files.contains($0) }!
        let times = join(join(dir, "global_pose"), "frame_times")
        var v = ClipGroup.Video(camera: camera, path: join(dir, video))
        if isFile(times) { v.frameTimes = times }
        let can = join(join(dir, "processed_log"), "CAN")
        var arrays: [ClipGroup.SignalArrays] = []
        if let names = try? list(can) {
            for n in names {
                let t = join(join(can, n), "t"), value = join(join(can, n), "value")
                if isFile(t), isFile(value) { arrays.append(.init(name: n, times: t, values: value)) }
            }
        }
        // Chunk_N/<route>/<segment>: the group is named route_segment.
        let url = URL(fileURLWithPath: dir).standardizedFileURL
        let segment = url.lastPathComponent, route = url.deletingLastPathComponent().lastPathComponent
        let name = route.isEmpty || route == "/" ? segment : route + "_" + segment
        var g = ClipGroup(name: name, path: dir, layout: .comma2k19, videos: [v], signalsTable: nil, signalFiles: [],
                          annotations: nil, manifest: nil, ignored: [])
        g.signalArrays = arrays
        return g
    }
}

/// Frame-times sidecars beside raw streams and camera videos.
enum FrameTimesSidecar {
    static let suffixes = [".frame_times.csv", ".frame_times.npy"]

    /// `<stem>.frame_times.csv|.npy` among `entries`, else (in a group directory) the shared
    /// `frame_times.csv|.npy`.
    static func find(stem: String, entries: [String], shared: Bool) -> String? {
        for s in suffixes where entries.contains(stem + s) { return stem + s }
        if shared { for n in ["frame_times.csv", "frame_times.npy"] where entries.contains(n) { return n } }
        return nil
    }
}

extension ClipGroupDiscovery {
    /// Subdirectory names in visiting order: byte order, except that a directory whose
    /// subdirectories are all decimal numbers (openpilot segments `0`, `1`, … `10`) visits them
    /// in numeric order.
    static func visitingOrder(_ names: [String]) -> [String] {
        let numeric = !names.isEmpty && names.allSatisfy { !$0.isEmpty && $0.utf8.count <= 18 && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        return numeric ? names.sorted { Int($0)! < Int($1)! || (Int($0)! == Int($1)! && $0 < $1) } : names
    }
}
