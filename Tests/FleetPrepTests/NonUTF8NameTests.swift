import FleetLabels
import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Issue 25, item 6: names that are not UTF-8 (`caf\xe9.mp4`, a group directory `ev\xff`) are
/// ingested by their bytes (docs/ingest.md, "Untrusted input"). The clips are made here with the
/// ffmpeg CLI and renamed to their raw-byte names with rename(2); the frame counts come from
/// `ffprobe -count_frames` on the same files, the names' escaped forms are written out by hand.
@Suite(.serialized) struct NonUTF8NameTests {
    typealias H = HostileInputTests
    static let ffmpeg = TestPaths.which("ffmpeg")
    static let ffprobe = TestPaths.which("ffprobe")

    /// `dir` + "/" + `name` as C bytes (NUL-terminated).
    static func raw(_ dir: URL, _ name: [UInt8]) -> [UInt8] { Array(dir.path.utf8) + [0x2F] + name + [0] }

    static func withC<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        bytes.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    /// Moves `file` to the path `bytes` (raw, not NUL-terminated).
    static func move(_ file: URL, to bytes: [UInt8]) {
        let r = withC(Array(file.path.utf8) + [0]) { from in withC(bytes + [0]) { rename(from, $0) } }
        #expect(r == 0, "rename: \(String(cString: strerror(errno)))")
    }

    /// A `frames`-frame H.264 clip (10 fps) at `url`, made by the ffmpeg CLI.
    static func makeClip(_ url: URL, frames: Int, size: String) throws {
        let (s, _, e) = try TestPaths.run(ffmpeg!, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=\(size):r=10",
                                                    "-frames:v", String(frames), "-c:v", "libx264", "-pix_fmt", "yuv420p", url.path])
        #expect(s == 0, "\(e)")
    }

    /// `ffprobe -count_frames`: the frames of the file's video stream.
    static func countFrames(_ url: URL) throws -> Int {
        let (s, out, e) = try TestPaths.run(ffprobe!, ["-v", "error", "-count_frames", "-select_streams", "v:0",
                                                       "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", url.path])
        #expect(s == 0, "\(e)")
        return Int(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// A python with numpy, for the Python reader (`FLEETPREP_PYTHON`, else python3), or nil.
    static let python: String? = {
        guard let p = ProcessInfo.processInfo.environment["FLEETPREP_PYTHON"] ?? TestPaths.which("python3"),
              let r = try? TestPaths.run(p, ["-c", "import numpy"]), r.0 == 0 else { return nil }
        return p
    }()

    static func string(_ v: JSONValue?) -> String? { if case .string(let s)? = v { return s }; return nil }

    @Test(.enabled(if: ffmpeg != nil && ffprobe != nil, "needs the ffmpeg and ffprobe CLIs to make the clips and count their frames"))
    func clipsAndGroupsNamedByInvalidUTF8AreIngestedByTheirBytes() throws {
        let dir = H.temp("utf8-bytes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        let root = Array(input.path.utf8) + [0x2F]
        let cafe = root + Array("caf".utf8) + [0xE9], ev = root + Array("ev".utf8) + [0xFF]
        // A lone clip caf\xe9.mp4 with its signals sidecar caf\xe9.signals.csv.
        let lone = dir.appendingPathComponent("lone.mp4")
        try Self.makeClip(lone, frames: 12, size: "64x48")
        let loneFrames = try Self.countFrames(lone)
        // A constant signal every 0.1 s over 3 s: every frame has a value within the sync tolerance.
        let rows = { (v: String) in (0...30).map { "\(Double($0) / 10),\(v)\n" }.joined() }
        try H.write("t,speed\n" + rows("1.5"), dir.appendingPathComponent("lone.csv"))
        Self.move(lone, to: cafe + Array(".mp4".utf8))
        Self.move(dir.appendingPathComponent("lone.csv"), to: cafe + Array(".signals.csv".utf8))
        // A group directory ev\xff with main.mp4 and signals.csv.
        #expect(Self.withC(ev + [0]) { mkdir($0, 0o755) } == 0)
        let main = dir.appendingPathComponent("main.mp4")
        try Self.makeClip(main, frames: 7, size: "64x48")
        let groupFrames = try Self.countFrames(main)
        try H.write("t,yaw\n" + rows("-2"), dir.appendingPathComponent("signals.csv"))
        Self.move(main, to: ev + Array("/main.mp4".utf8))
        Self.move(dir.appendingPathComponent("signals.csv"), to: ev + Array("/signals.csv".utf8))
        // Two that fail (not media), one with a terminal escape in its name as well.
        let bad = dir.appendingPathComponent("bad")
        try H.write("not a video", bad)
        Self.move(bad, to: root + Array("bad".utf8) + [0xFE] + Array(".mp4".utf8))
        try H.write("not a video", bad)
        Self.move(bad, to: root + Array("t\u{1b}[2J".utf8) + [0xFF] + Array(".mp4".utf8))
        #expect(loneFrames == 12 && groupFrames == 7, "ffprobe: \(loneFrames), \(groupFrames)")

        let out = dir.appendingPathComponent("out")
        let args = ["ingest", input.path, "--out", out.path, "--quiet", "--size", "16x16", "--dtype", "u8", "--jobs", "1"]
        let r = try H.fleetprep(args)
        #expect(r.status == 1, "\(r.status) \(r.stderr)")
        // The two clips' samples: one per frame ffprobe counts, each with its sidecar's label.
        let ds = try ShardDataset(directory: out)
        let names = try #require(ds.schema?.names)
        #expect(names == ["speed", "yaw"], "\(names)")
        var bySource: [String: [RecordView]] = [:]
        for i in 0..<ds.count {
            let rec = try ds.record(at: i)
            guard case .object(let m) = rec.metadata, let source = Self.string(m["source"]) else { Issue.record("no source"); continue }
            bySource[source, default: []].append(rec)
        }
        let loneShown = input.path + "/caf\\xe9.mp4", groupShown = input.path + "/ev\\xff"
        #expect(Set(bySource.keys) == [loneShown, groupShown], "\(bySource.keys)")
        #expect(bySource[loneShown]?.count == loneFrames && bySource[groupShown]?.count == groupFrames,
                "\(bySource.mapValues(\.count)) vs ffprobe \(loneFrames), \(groupFrames)")
        for rec in bySource[loneShown] ?? [] { #expect(rec.labels[0] == 1.5 && rec.mask == [1, 0], "\(rec.labels) \(rec.mask)") }
        for rec in bySource[groupShown] ?? [] { #expect(rec.labels[1] == -2 && rec.mask == [0, 1], "\(rec.labels) \(rec.mask)") }
        // Keys are made from the names with everything but [A-Za-z0-9_-] as "_".
        #expect(Set(bySource[loneShown]?.map { String($0.key.dropLast(7)) } ?? []) == ["caf_"])
        #expect(Set(bySource[groupShown]?.map { String($0.key.dropLast(7)) } ?? []) == ["ev_"])

        // index.json: each source's path escaped, and its exact bytes in path_b64.
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("index.json"))) as! [String: Any]
        let sources = try #require(index["sources"] as? [[String: Any]])
        var b64: [String: [UInt8]] = [:]
        for s in sources {
            let path = try #require(s["path"] as? String)
            b64[path] = (s["path_b64"] as? String).flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) }
        }
        // Every group discovered is a source, the two that failed too.
        #expect(b64 == [loneShown: cafe + Array(".mp4".utf8), groupShown: ev,
                        input.path + "/bad\\xfe.mp4": root + Array("bad".utf8) + [0xFE] + Array(".mp4".utf8),
                        input.path + "/t\u{1b}[2J\\xff.mp4": root + Array("t\u{1b}[2J".utf8) + [0xFF] + Array(".mp4".utf8)], "\(sources)")

        // errors.jsonl and stderr: the failed names escaped, no control character printed.
        let errs = H.errors(out)
        let failed = Set(errs.compactMap { $0["path"] as? String })
        #expect(failed == [input.path + "/bad\\xfe.mp4", input.path + "/t\u{1b}[2J\\xff.mp4"], "\(errs)")
        #expect(r.stderr.contains(input.path + "/bad\\xfe.mp4") && r.stderr.contains(input.path + "/t\\e[2J\\xff.mp4"), "\(r.stderr)")
        let controls = r.stderr.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || $0.value >= 0x10FF80 }
        #expect(controls.isEmpty, "stderr holds \(controls.map(\.value))")
        #expect(!r.stderr.contains("not valid UTF-8") && !r.stderr.contains("no such file"), "\(r.stderr)")

        // The journal identified the files by their bytes: the same command resumes (nothing to
        // do), and a change to caf\xe9.mp4 stops it, naming the file.
        let again = try H.fleetprep(args)
        #expect(again.status == 1, "\(again.status) \(again.stderr)")
        let fd = Self.withC(cafe + Array(".mp4".utf8) + [0]) { open($0, O_WRONLY | O_APPEND) }
        #expect(fd >= 0)
        _ = write(fd, "x", 1)
        close(fd)
        let changed = try H.fleetprep(args)
        #expect(changed.status == 2, "\(changed.status) \(changed.stderr)")
        #expect(changed.stderr.contains("cannot resume: " + loneShown + " has changed size"), "\(changed.stderr)")
    }

    @Test(.enabled(if: ffmpeg != nil, "needs the ffmpeg CLI to make the clip"))
    func discoverListsTheNamesEscaped() throws {
        let dir = H.temp("utf8-discover")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        let clip = dir.appendingPathComponent("c.mp4")
        try Self.makeClip(clip, frames: 5, size: "32x32")
        Self.move(clip, to: Array(input.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".mp4".utf8))
        let shown = input.path + "/caf\\xe9.mp4"
        let text = try H.fleetprep(["discover", input.path])
        #expect(text.status == 0 && text.stdout.contains(shown) && text.stdout.contains("5 frames"), "\(text.status) \(text.stdout) \(text.stderr)")
        let json = try H.fleetprep(["discover", input.path, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let g = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(g?["path"] as? String == shown, "\(json.stdout)")
        // The file named on the command line by its bytes (the shell's printf makes \351 = 0xE9):
        // the arguments are read by their bytes too.
        let sh = try TestPaths.run("/bin/sh", ["-c", "exec \"$0\" discover --json \"$(printf '%s/caf\\351.mp4' \"$1\")\"",
                                               TestPaths.fleetprepExecutable, input.path])
        #expect(sh.0 == 0, "\(sh.2)")
        let one = try JSONSerialization.jsonObject(with: sh.1) as? [String: Any]
        #expect(one?["path"] as? String == shown, "\(String(decoding: sh.1, as: UTF8.self)) \(sh.2)")
        // An output directory that is not UTF-8 is refused (it would be made under other bytes).
        let refused = try TestPaths.run("/bin/sh", ["-c", "exec \"$0\" ingest \"$1\" --out \"$(printf '%s/out\\377' \"$2\")\"",
                                                    TestPaths.fleetprepExecutable, input.path, dir.path])
        #expect(refused.0 == 2 && refused.2.contains("out\\xff is not valid UTF-8"), "\(refused.0) \(refused.2)")
        // So is merge's (before it reads or writes anything), and a worker directory that is not.
        let merge = try TestPaths.run("/bin/sh", ["-c", "exec \"$0\" merge \"$1\" --out \"$(printf '%s/out\\377' \"$1\")\"",
                                                  TestPaths.fleetprepExecutable, dir.path])
        #expect(merge.0 == 2 && merge.2.contains("--out") && merge.2.contains("out\\xff is not valid UTF-8"), "\(merge.0) \(merge.2)")
        let worker = try TestPaths.run("/bin/sh", ["-c", "exec \"$0\" merge \"$(printf '%s/w\\377' \"$1\")\" --out \"$1/merged\"",
                                                   TestPaths.fleetprepExecutable, dir.path])
        #expect(worker.0 == 2 && worker.2.contains("w\\xff is not valid UTF-8"), "\(worker.0) \(worker.2)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("merged").path))
    }

    @Test(.enabled(if: ffmpeg != nil && ffprobe != nil && python != nil, "needs ffmpeg, ffprobe and a python with numpy (FLEETPREP_PYTHON) for the Python reader"))
    func thePythonReaderReadsADatasetWithSuchNames() throws {
        let dir = H.temp("utf8-python")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        let clip = dir.appendingPathComponent("c.mp4")
        try Self.makeClip(clip, frames: 6, size: "32x32")
        let frames = try Self.countFrames(clip)
        let raw = Array(input.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".mp4".utf8)
        Self.move(clip, to: raw)
        let out = dir.appendingPathComponent("out")
        let r = try H.fleetprep(["ingest", input.path, "--out", out.path, "--quiet", "--size", "16x16"])
        #expect(r.status == 0, "\(r.stderr)")
        let script = """
        import base64, json, sys
        sys.path.insert(0, sys.argv[2])
        import fleetprep
        ds = fleetprep.open(sys.argv[1])
        src = json.load(open(sys.argv[1] + "/index.json"))["sources"]
        print(json.dumps({"n": len(ds), "problems": ds.verify(), "sources": sorted({ds[i].metadata["source"] for i in range(len(ds))}),
                          "b64": [list(base64.b64decode(s["path_b64"])) for s in src if "path_b64" in s]}))
        """
        let (s, o, e) = try TestPaths.run(Self.python!, ["-c", script, out.path, TestPaths.repoRoot.appendingPathComponent("python").path])
        try #require(s == 0, "python reader: \(e)")
        let got = try JSONSerialization.jsonObject(with: o) as! [String: Any]
        #expect(got["n"] as? Int == frames, "\(got) vs ffprobe \(frames)")
        #expect((got["problems"] as? [String]) == [], "\(got)")
        #expect((got["sources"] as? [String]) == [input.path + "/caf\\xe9.mp4"], "\(got)")
        #expect((got["b64"] as? [[Int]]) == [raw.map(Int.init)], "\(got)")
    }
}
