import Foundation

/// A recorded event found on disk: its videos and sidecar files. Discovery only lists files;
/// reading and validating them is `load(options:)`, so one bad group does not stop discovery.
public struct ClipGroup: Sendable, Hashable, Codable {
    /// How the group's files are laid out on disk.
    public enum Layout: String, Sendable, Hashable, Codable {
        /// A directory holding camera-named videos (`main.mp4`, `rear.mkv`, ...).
        case directory
        /// One video file with sidecars of the same stem (`foo.mp4`, `foo.signals.csv`, ...).
        case loneVideo
        /// A comma2k19 / openpilot segment: `video.hevc` (or `fcamera.hevc`),
        /// `global_pose/frame_times`, `processed_log/CAN/<signal>/{t,value}`.
        case comma2k19
        /// A TeslaCam event: `YYYY-MM-DD_HH-MM-SS-<camera>.mp4` minute files in one directory.
        case teslacam
        /// One line of a clip manifest (`ingest --manifest FILE.jsonl`).
        case manifest
    }
    /// A video found for a camera name.
    public struct Video: Sendable, Hashable, Codable {
        public var camera: CameraName
        /// The camera's file (its first segment's, when it has several).
        public var path: String
        /// Consecutive files of one continuous stream (TeslaCam minutes), in time order, each with
        /// the time its first frame's pts counts from, on the group's clock (seconds). nil: one
        /// file whose frame times are its own.
        public var segments: [Segment]? = nil
        /// A log of this camera's frame times (one per frame, seconds), which replaces the
        /// container's timestamps and puts the camera on the log's clock.
        public var frameTimes: String? = nil
        /// The name the layout gave this camera (TeslaCam `front`), when it differs.
        public var sourceName: String? = nil

        public init(camera: CameraName, path: String, segments: [Segment]? = nil, frameTimes: String? = nil, sourceName: String? = nil) {
            self.camera = camera
            self.path = path
            self.segments = segments
            self.frameTimes = frameTimes
            self.sourceName = sourceName
        }

        /// Every file of the camera, in order.
        public var files: [String] { segments?.map(\.path) ?? [path] }
    }
    /// One file of a segmented camera stream.
    public struct Segment: Sendable, Hashable, Codable {
        public var path: String
        /// Seconds on the group clock at the file's pts 0.
        public var start: Double
        public init(path: String, start: Double) { self.path = path; self.start = start }
    }
    /// A signal stored as two numpy arrays of equal length: times (seconds) and values.
    public struct SignalArrays: Sendable, Hashable, Codable {
        public var name: String
        public var times: String
        public var values: String
        public init(name: String, times: String, values: String) { self.name = name; self.times = times; self.values = values }
    }

    /// Directory name, or the lone video's stem (clip.json `event_id` replaces it on load).
    public var name: String
    /// The directory, or the lone video's path.
    public var path: String
    public var layout: Layout
    /// Camera-named videos found (several for one camera is an error on load).
    public var videos: [Video]
    /// `signals.csv` / `<stem>.signals.csv`.
    public var signalsTable: String?
    /// `signals/*.csv` / `<stem>.signals/*.csv`, sorted: one file per signal named by its stem.
    public var signalFiles: [String]
    /// `annotations.jsonl` / `<stem>.annotations.jsonl`.
    public var annotations: String?
    /// `clip.json` / `<stem>.json`.
    public var manifest: String?
    /// Videos in a group directory that are not named after a camera (not used).
    public var ignored: [String]
    /// Signals as numpy array pairs (comma2k19 `processed_log/CAN/<name>/{t,value}`), in name order.
    public var signalArrays: [SignalArrays] = []
    /// TeslaCam `event.json`, recorded in each sample's metadata.
    public var event: String? = nil
    /// Per-camera offsets in seconds given by the layout (a manifest line's `offsets`).
    public var offsets: [CameraName: Double] = [:]
}

/// Finds clip groups under input paths. The rules (also in docs/clip-groups.md):
///
/// 1. An input that is a video file is a lone-video group, whatever its name.
/// 2. A directory is a multi-camera group when it holds a video whose stem is a known camera
///    name (`LabelOptions.cameraNames`) or a `clip.json`. Its sidecars are `signals.csv`,
///    `signals/<name>.csv`, `annotations.jsonl`, `clip.json`; other videos in it are listed in
///    `ignored`.
/// 3. In any other directory every video file is a lone-video group, with sidecars
///    `<stem>.signals.csv`, `<stem>.signals/<name>.csv`, `<stem>.annotations.jsonl`,
///    `<stem>.json` (stem = file name without its last extension).
/// 4. Subdirectories are searched recursively (also below a group directory).
/// 5. Names starting with `.` are skipped; entries are visited in byte order of their names,
///    so the result is deterministic; a directory reached twice (symlinks, overlapping inputs)
///    is listed once.
public struct ClipGroupDiscovery: Sendable {
    public var options: LabelOptions

    public init(options: LabelOptions = LabelOptions()) { self.options = options }

    /// Groups under `paths`, in input order, each input's groups in sorted order. Throws the first
    /// problem found (a missing input, an unreadable directory); `discover(_:problems:)` goes on.
    public func discover(_ paths: [String]) throws -> [ClipGroup] {
        var problems: [LabelError] = []
        let groups = discover(paths, problems: &problems)
        if let first = problems.first { throw first }
        return groups
    }

    /// Groups under `paths`, in input order; every input or directory that cannot be searched is
    /// added to `problems` and the search goes on with the rest.
    public func discover(_ paths: [String], problems: inout [LabelError]) -> [ClipGroup] {
        var out: [ClipGroup] = []
        var seen = Set<String>()
        for path in paths {
            do { try discover(path, into: &out, seen: &seen, problems: &problems) } catch let e as LabelError {
                problems.append(e)
            } catch is Cancelled {
                return out
            } catch {
                problems.append(LabelError(.unreadable, file: path, "\(error)"))
            }
        }
        return out
    }

    private func discover(_ path: String, into out: inout [ClipGroup], seen: inout Set<String>, problems: inout [LabelError]) throws {
            guard let st = FilePathBytes.stat(path) else {
                throw LabelError(.unreadable, file: path, "no such file or directory")
            }
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            let inside = InputContainment(input: path, isDirectory: isDir, options: options)
            if isDir {
                try walk(path, into: &out, seen: &seen, problems: &problems, inside: inside)
            } else {
                let name = (path as NSString).lastPathComponent
                guard options.isVideo(name) else {
                    throw LabelError(.unreadable, file: path,
                                     "not a video file (extensions: \(options.videoExtensions.joined(separator: ", ")))")
                }
                let key = Self.canonical(path)
                if seen.insert(key).inserted {
                    let dir = (path as NSString).deletingLastPathComponent
                    let entries = inside.filter(try listing(dir.isEmpty ? "." : dir), in: dir, problems: &problems)
                    out.append(inside.contain(try lone(video: path, dir: dir, entries: entries), problems: &problems))
                }
            }
    }

    /// The visible names in `dir`, read by their bytes (`FilePathBytes`: a name that is not
    /// UTF-8 is listed, not decoded lossily), in byte order.
    private func listing(_ dir: String) throws -> [String] {
        do {
            return try FilePathBytes.names(inDirectory: dir)
                .filter { !$0.hasPrefix(".") }
                .map { (name: $0, bytes: FilePathBytes.bytes($0)) }
                .sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
                .map(\.name)
        } catch {
            throw LabelError(.unreadable, file: dir, "cannot list directory: \(error)")
        }
    }

    /// `path` with its symlinks resolved (by its bytes), or standardized when it does not resolve.
    private static func canonical(_ path: String) -> String {
        FilePathBytes.realpath(path) ?? URL(fileURLWithPath: path).standardizedFileURL.path
    }

    private func join(_ dir: String, _ name: String) -> String {
        dir.isEmpty ? name : (dir.hasSuffix("/") ? dir + name : dir + "/" + name)
    }

    /// Exists and is not a directory (symlinks followed).
    private func isRegularFile(_ path: String) -> Bool {
        guard let st = FilePathBytes.stat(path) else { return false }
        return (st.st_mode & S_IFMT) != S_IFDIR
    }

    private func isDirectory(_ path: String) -> Bool {
        guard let st = FilePathBytes.stat(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    private func csvFiles(in dir: String) throws -> [String] {
        try listing(dir).filter { $0.lowercased().hasSuffix(".csv") }.map { join(dir, $0) }
            .filter { !isDirectory($0) }
    }

    private func walk(_ dir: String, into out: inout [ClipGroup], seen: inout Set<String>, problems: inout [LabelError],
                      inside: InputContainment) throws {
        try inside.checkDepth(dir)
        guard seen.insert(Self.canonical(dir)).inserted else { return }
        let entries = inside.filter(try listing(dir), in: dir, problems: &problems)
        var files: [String] = [], subdirs: [String] = []
        for e in entries {
            if isDirectory(join(dir, e)) { subdirs.append(e) } else { files.append(e) }
        }
        let videos = files.filter { options.isVideo($0) }
        let stem = { (name: String) in (name as NSString).deletingPathExtension }
        let camera = { (name: String) in CameraName(stem(name)) }
        let isGroup = files.contains("clip.json") || videos.contains { options.cameraNames.contains(camera($0)) }
        var sidecarDirs = Set<String>()
        let dirName = (Self.canonical(dir) as NSString).lastPathComponent
        if !isGroup, Comma2k19.isSegment(files: files, subdirs: subdirs) {
            // A comma2k19 / openpilot segment: one camera, its logs below; nothing else to search.
            let g = try Comma2k19.group(dir: dir, files: files, camera: options.master,
                                        list: { try listing($0) }, isFile: { isRegularFile($0) }, join: join)
            seen.insert(Self.canonical(g.videos[0].path))
            out.append(g)
            return
        }
        if !isGroup, let g = TeslaCam.group(dir: dir, name: dirName, names: videos + files.filter { $0 == "event.json" },
                                           order: options.cameraNames, join: join) {
            for v in g.videos { for f in v.files { seen.insert(Self.canonical(f)) } }
            out.append(g)
        } else if isGroup {
            var g = ClipGroup(name: (Self.canonical(dir) as NSString).lastPathComponent, path: dir,
                              layout: .directory, videos: [], signalsTable: nil, signalFiles: [],
                              annotations: nil, manifest: nil, ignored: [])
            for v in videos {
                if options.cameraNames.contains(camera(v)) {
                    seen.insert(Self.canonical(join(dir, v)))
                    let log = FrameTimesSidecar.find(stem: stem(v), entries: files, shared: true)
                    g.videos.append(.init(camera: camera(v), path: join(dir, v), frameTimes: log.map { join(dir, $0) }))
                } else {
                    g.ignored.append(join(dir, v))
                }
            }
            if files.contains("signals.csv") { g.signalsTable = join(dir, "signals.csv") }
            if subdirs.contains("signals") {
                g.signalFiles = try csvFiles(in: join(dir, "signals"))
                sidecarDirs.insert("signals")
            }
            if files.contains("annotations.jsonl") { g.annotations = join(dir, "annotations.jsonl") }
            if files.contains("clip.json") { g.manifest = join(dir, "clip.json") }
            out.append(inside.contain(g, problems: &problems))
        } else {
            for v in videos where seen.insert(Self.canonical(join(dir, v))).inserted {
                let g = try lone(video: join(dir, v), dir: dir, entries: entries)
                out.append(inside.contain(g, problems: &problems))
                sidecarDirs.insert(stem(v) + ".signals")
            }
        }
        // One unreadable subdirectory is one problem; its siblings are still searched.
        for s in Self.visitingOrder(subdirs) where !sidecarDirs.contains(s) {
            do { try walk(join(dir, s), into: &out, seen: &seen, problems: &problems, inside: inside) } catch let e as LabelError {
                problems.append(e)
            }
        }
    }

    private func lone(video: String, dir: String, entries: [String]) throws -> ClipGroup {
        let file = (video as NSString).lastPathComponent
        let stem = (file as NSString).deletingPathExtension
        let d = dir
        func sidecar(_ suffix: String) -> String? {
            let name = stem + suffix
            return entries.contains(name) && !isDirectory(join(d, name)) ? join(d, name) : nil
        }
        var signalFiles: [String] = []
        let signalsDir = join(d, stem + ".signals")
        if entries.contains(stem + ".signals"), isDirectory(signalsDir) {
            signalFiles = try csvFiles(in: signalsDir)
        }
        let log = FrameTimesSidecar.find(stem: stem, entries: entries, shared: false)
        return ClipGroup(name: stem, path: video, layout: .loneVideo,
                         videos: [.init(camera: "", path: video, frameTimes: log.map { join(d, $0) })],   // camera named on load
                         signalsTable: sidecar(".signals.csv"), signalFiles: signalFiles,
                         annotations: sidecar(".annotations.jsonl"), manifest: sidecar(".json"), ignored: [])
    }
}
