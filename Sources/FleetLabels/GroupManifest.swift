import Foundation

/// A clip manifest (`fleetprep ingest --manifest FILE.jsonl`): one clip group per line, so that a
/// data team's query result can be ingested without building a directory tree.
///
///     {"id": "evt-42", "cameras": {"main": "a/front.mp4", "rear": "/data/b.mp4"},
///      "signals": "evt-42/can.csv", "annotations": "evt-42/boxes.jsonl",
///      "offsets": {"rear": 0.004}, "frame_times": {"main": "a/front.frame_times.npy"}}
///
/// Paths are relative to the manifest's directory. `id` and `cameras` are required; `signals`
/// is a signals table (`.csv`), a directory of per-signal CSV files, or a directory of
/// `<name>/{t,value}` numpy arrays. Blank lines and lines starting with `#` are skipped. A line
/// that cannot be used (bad JSON, an unknown key, a wrong type, a repeated id) is one problem
/// naming its line number; the other lines still make groups.
public enum GroupManifest {
    public static let keys: Set<String> = ["id", "cameras", "signals", "annotations", "offsets", "frame_times"]

    /// The groups of the manifest at `path`, in line order, and one problem per unusable line.
    /// Throws only when the manifest itself cannot be read.
    public static func load(path: String, options: LabelOptions) throws -> (groups: [ClipGroup], problems: [LabelError]) {
        let bytes = try SidecarIO.read(path, limit: options.maxSidecarBytes)
        let base = (path as NSString).deletingLastPathComponent
        var groups: [ClipGroup] = []
        var problems: [LabelError] = []
        var ids = Set<String>()
        SidecarIO.forEachLine(bytes) { line, range in
            let r = SidecarIO.trim(bytes, range)
            guard !r.isEmpty, bytes[r.lowerBound] != UInt8(ascii: "#") else { return }
            do {
                let g = try group(Array(bytes[r]), line: line, manifest: path, base: base, options: options)
                guard ids.insert(g.name).inserted else {
                    throw LabelError(.badValue, file: path, line: line, "id \(SidecarIO.excerpt(g.name)) is used by an earlier line")
                }
                groups.append(g)
            } catch let e as LabelError {
                problems.append(e)
            } catch {
                problems.append(LabelError(.badValue, file: path, line: line, "\(error)"))
            }
        }
        return (groups, problems)
    }

    static func group(_ bytes: [UInt8], line: Int, manifest: String, base: String, options: LabelOptions) throws -> ClipGroup {
        func bad(_ what: String) -> LabelError { LabelError(.badValue, file: manifest, line: line, what) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)), let dict = object as? [String: Any] else {
            throw LabelError(.invalidJSON, file: manifest, line: line, "not a JSON object")
        }
        for k in dict.keys.sorted() where !keys.contains(k) {
            throw bad("unknown key \(SidecarIO.excerpt(k)) (known: \(keys.sorted().joined(separator: ", ")))")
        }
        guard let id = dict["id"] as? String, !id.isEmpty else { throw bad("\"id\" must be a non-empty string") }
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") || base.isEmpty ? p : (base as NSString).appendingPathComponent(p)
        }
        func paths(_ key: String) throws -> [CameraName: String] {
            guard let v = dict[key] else { return [:] }
            guard let d = v as? [String: Any] else { throw bad("\"\(key)\" must be an object of camera: path") }
            var out: [CameraName: String] = [:]
            for (camera, p) in d {
                guard isCameraName(camera) else { throw bad("\"\(key)\": \(SidecarIO.excerpt(camera)) is not a camera name (letters, digits, _ and - only)") }
                guard let s = p as? String, !s.isEmpty else { throw bad("\"\(key)\".\(camera) must be a path") }
                out[CameraName(camera)] = resolve(s)
            }
            return out
        }
        let cameras = try paths("cameras")
        guard !cameras.isEmpty else { throw bad("\"cameras\" must name at least one camera: {\"main\": \"path.mp4\"}") }
        let logs = try paths("frame_times")
        for c in logs.keys.sorted() where cameras[c] == nil { throw bad("\"frame_times\" names camera \(c), which \"cameras\" does not") }
        var offsets: [CameraName: Double] = [:]
        if let v = dict["offsets"] {
            guard let d = v as? [String: Any] else { throw bad("\"offsets\" must be an object of camera: seconds") }
            for (c, o) in d {
                guard cameras[CameraName(c)] != nil else { throw bad("\"offsets\" names camera \(SidecarIO.excerpt(c)), which \"cameras\" does not") }
                guard let x = jsonNumber(o), x.isFinite, abs(x) <= 86_400 else { throw bad("\"offsets\".\(c) must be a number of seconds") }
                offsets[CameraName(c)] = x
            }
        }
        // Known camera names in their standard order, then the others in byte order.
        let order = options.cameraNames.filter { cameras[$0] != nil }
            + cameras.keys.filter { !options.cameraNames.contains($0) }.sorted { Array($0.rawValue.utf8).lexicographicallyPrecedes(Array($1.rawValue.utf8)) }
        var g = ClipGroup(name: id, path: manifest + "#" + id, layout: .manifest,
                          videos: order.map { ClipGroup.Video(camera: $0, path: cameras[$0]!, frameTimes: logs[$0]) },
                          signalsTable: nil, signalFiles: [], annotations: nil, manifest: nil, ignored: [])
        g.offsets = offsets
        if let v = dict["annotations"] {
            guard let s = v as? String, !s.isEmpty else { throw bad("\"annotations\" must be a path") }
            g.annotations = resolve(s)
        }
        if let v = dict["signals"] {
            guard let s = v as? String, !s.isEmpty else { throw bad("\"signals\" must be a path") }
            let p = resolve(s)
            // By their bytes (FilePathBytes), like discovery: names that are not UTF-8 are listed.
            if let st = FilePathBytes.stat(p), (st.st_mode & S_IFMT) == S_IFDIR {
                let names = ((try? FilePathBytes.names(inDirectory: p)) ?? [])
                    .filter { !$0.hasPrefix(".") }.sorted { FilePathBytes.bytes($0).lexicographicallyPrecedes(FilePathBytes.bytes($1)) }
                for n in names {
                    let full = (p as NSString).appendingPathComponent(n)
                    let t = (full as NSString).appendingPathComponent("t"), value = (full as NSString).appendingPathComponent("value")
                    if FilePathBytes.stat(t) != nil, FilePathBytes.stat(value) != nil {
                        g.signalArrays.append(.init(name: n, times: t, values: value))
                    } else if n.lowercased().hasSuffix(".csv") {
                        g.signalFiles.append(full)
                    }
                }
            } else {
                g.signalsTable = p   // a missing file fails the group when it is loaded
            }
        }
        return g
    }

    static func isCameraName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }
}
