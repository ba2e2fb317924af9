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
    }
    /// A video found for a camera name.
    public struct Video: Sendable, Hashable, Codable {
        public var camera: String
        public var path: String
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
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw LabelError(.unreadable, file: path, "no such file or directory")
            }
            let inside = InputContainment(input: path, isDirectory: isDir.boolValue, options: options)
            if isDir.boolValue {
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

    private func listing(_ dir: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir)
                .filter { !$0.hasPrefix(".") }
                .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        } catch {
            throw LabelError(.unreadable, file: dir, "cannot list directory: \(error.localizedDescription)")
        }
    }

    private static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }

    private func join(_ dir: String, _ name: String) -> String {
        dir.isEmpty ? name : (dir.hasSuffix("/") ? dir + name : dir + "/" + name)
    }

    private func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
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
        let isGroup = files.contains("clip.json") || videos.contains { options.cameraNames.contains(stem($0)) }
        var sidecarDirs = Set<String>()
        if isGroup {
            var g = ClipGroup(name: (Self.canonical(dir) as NSString).lastPathComponent, path: dir,
                              layout: .directory, videos: [], signalsTable: nil, signalFiles: [],
                              annotations: nil, manifest: nil, ignored: [])
            for v in videos {
                if options.cameraNames.contains(stem(v)) {
                    seen.insert(Self.canonical(join(dir, v)))
                    g.videos.append(.init(camera: stem(v), path: join(dir, v)))
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
        for s in subdirs where !sidecarDirs.contains(s) {
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
        return ClipGroup(name: stem, path: video, layout: .loneVideo,
                         videos: [.init(camera: "", path: video)],   // camera named on load
                         signalsTable: sidecar(".signals.csv"), signalFiles: signalFiles,
                         annotations: sidecar(".annotations.jsonl"), manifest: sidecar(".json"), ignored: [])
    }
}
