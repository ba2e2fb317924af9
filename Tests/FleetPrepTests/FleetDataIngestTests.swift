import FleetShards
import Foundation
import Testing
import FleetTestSupport

/// Real fleet data in, end to end through the CLI: comma2k19 segments (raw HEVC + numpy frame
/// times + CAN arrays), TeslaCam events, clip manifests, raw streams with frame-times logs, and
/// `discover`. Inputs are built in the test from ../shared/fixtures and the ffmpeg CLI; oracles are
/// numpy (labels), ffprobe (frame counts) and ffmpeg's rgb24 conversion (pixels).
@Suite(.serialized) struct FleetDataIngestTests {
    static let ffmpeg = TestPaths.which("ffmpeg")
    static let ffprobe = TestPaths.which("ffprobe")
    static let python = ProcessInfo.processInfo.environment["FLEETPREP_PYTHON"] ?? TestPaths.which("python3")
    static let can = TestPaths.sharedFixtures.map { $0.appendingPathComponent("comma2k19-can") }
    static let dashcam = TestPaths.sharedFixtures.map { $0.appendingPathComponent("dashcam/solidWhiteRight.mp4").path }

    static func sh(_ exe: String, _ args: [String]) throws {
        let (s, _, e) = try TestPaths.run(exe, args)
        #expect(s == 0, "\(exe) \(args.joined(separator: " ")): \(e)")
    }

    static func encode(_ path: String, size: String = "96x64", rate: Int = 10, frames: Int, codec: String = "libx264",
                       extra: [String] = []) throws {
        try sh(Self.ffmpeg!, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=\(rate)", "-frames:v", String(frames),
                         "-c:v", codec, "-pix_fmt", "yuv420p"] + extra + [path])
    }

    static func records(_ dir: URL) throws -> [RecordView] {
        let ds = try ShardDataset(directory: dir)
        return try (0..<ds.count).map { try ds.record(at: $0) }
    }

    static func number(_ v: JSONValue?) -> Double? { if case .number(let n)? = v { return n }; return nil }
    static func strings(_ v: JSONValue?) -> [String] {
        guard case .array(let a)? = v else { return [] }
        return a.compactMap { if case .string(let s) = $0 { return s }; return nil }
    }

    // MARK: - comma2k19

    /// A comma2k19 segment built from the real fixture: the 1200 logged frame times and CAN
    /// arrays (numpy files without extensions, as the dataset ships them) beside a raw HEVC
    /// stream of 1200 frames. Labels must equal numpy's interp of the CAN arrays at the logged
    /// frame times; masks are false before the first CAN sample.
    @Test(.enabled(if: can != nil && ffmpeg != nil && python != nil, "needs ../shared/fixtures/comma2k19-can, ffmpeg and python3 with numpy"))
    func comma2k19SegmentLabelsEqualNumpyInterp() throws {
        let root = IngestCLITests.tempDir("c2k")
        defer { try? FileManager.default.removeItem(at: root) }
        let seg = root.appendingPathComponent("Chunk_1/b0c9d2329ad1606b|2018-07-27--06-03-57/40")
        let fm = FileManager.default
        let copies = ["global_pose/frame_times": "global_pose_frame_times.npy",
                      "processed_log/CAN/speed/t": "processed_log_CAN_speed_t.npy",
                      "processed_log/CAN/speed/value": "processed_log_CAN_speed_value.npy",
                      "processed_log/CAN/steering_angle/t": "processed_log_CAN_steering_angle_t.npy",
                      "processed_log/CAN/steering_angle/value": "processed_log_CAN_steering_angle_value.npy"]
        for (to, from) in copies {
            let dst = seg.appendingPathComponent(to)
            try fm.createDirectory(at: dst.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.copyItem(at: Self.can!.appendingPathComponent(from), to: dst)
        }
        try Self.encode(seg.appendingPathComponent("video.hevc").path, size: "64x48", rate: 20, frames: 1200, codec: "libx265",
                        extra: ["-x265-params", "log-level=error", "-f", "hevc"])
        let out = root.appendingPathComponent("out")
        let r = try TestPaths.fleetprep(["ingest", root.path, "--out", out.path, "--dtype", "u8", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let recs = try Self.records(out)
        #expect(recs.count == 1200)

        // numpy: interp at every logged frame time, and the mask rule (inside the CAN span and
        // within --max-gap 0.25 s of a CAN sample on each side).
        let script = """
        import json, sys, numpy as np
        d = sys.argv[1]
        ft = np.load(d + '/global_pose/frame_times')
        out = {'t': ft.tolist()}
        for s in ['speed', 'steering_angle']:
            t = np.load(d + '/processed_log/CAN/%s/t' % s); v = np.load(d + '/processed_log/CAN/%s/value' % s).reshape(-1)
            j = np.searchsorted(t, ft, side='right') - 1
            lo = np.clip(j, 0, len(t) - 1); hi = np.clip(j + 1, 0, len(t) - 1)
            inside = (ft >= t[0]) & (ft <= t[-1])
            exact = inside & (t[lo] == ft)
            near = inside & ((ft - t[lo]) <= 0.25) & ((t[hi] - ft) <= 0.25)
            out[s] = {'v': np.interp(ft, t, v).tolist(), 'm': (exact | near).tolist(), 'first': float(t[0])}
        print(json.dumps(out))
        """
        let (s, o, e) = try TestPaths.run(Self.python!, ["-c", script, seg.path])
        try #require(s == 0, "numpy oracle: \(e)")
        let oracle = try JSONSerialization.jsonObject(with: o) as! [String: Any]
        let times = oracle["t"] as! [Double]
        var checked = 0
        for (i, rec) in recs.enumerated() {
            #expect(abs(Self.number(rec.metadata["time"])! - times[i]) < 1e-9, "sample \(i) time is the logged frame time")
            for (k, name) in ["speed", "steering_angle"].enumerated() {
                let sig = oracle[name] as! [String: Any]
                let valid = (sig["m"] as! [Bool])[i]
                #expect(rec.mask[k] == (valid ? 1 : 0), "sample \(i) \(name) mask")
                if times[i] < sig["first"] as! Double { #expect(rec.mask[k] == 0, "before the first CAN sample") }
                if valid {
                    let want = Float((sig["v"] as! [Double])[i])
                    #expect(abs(rec.labels[k] - want) <= 1e-6 * max(1, abs(want)), "sample \(i) \(name): \(rec.labels[k]) vs numpy \(want)")
                    checked += 1
                }
            }
        }
        #expect(checked > 2000)
        #expect(recs[0].mask == [0, 0], "the first frame precedes the first CAN sample")

        // discover shows the same segment without decoding: layout, frames (ffprobe's count), signals.
        let d = try TestPaths.fleetprep(["discover", "--json", root.path])
        #expect(d.status == 0, "\(d.stderr)")
        let g = try JSONSerialization.jsonObject(with: Data(d.stdout.split(separator: "\n")[0].utf8)) as! [String: Any]
        #expect(g["layout"] as? String == "comma2k19")
        let cam = (g["cameras"] as! [[String: Any]])[0]
        #expect(cam["frames"] as? Int == 1200 && cam["frameTimes"] as? String == "log")
        #expect((g["signals"] as! [[String: Any]]).map { $0["name"] as! String } == ["speed", "steering_angle"])
    }

    // MARK: - TeslaCam

    /// Two events off a TeslaCam drive: SavedClips/ev1 with 3 minute segments × 4 cameras and one
    /// camera-minute missing, SentryClips/ev2 with 2 segments × 6 cameras and a gap between them.
    @Test(.enabled(if: ffmpeg != nil && ffprobe != nil, "needs the ffmpeg and ffprobe CLIs"))
    func teslaCamEventsIngestWithMinutesJoined() throws {
        let root = IngestCLITests.tempDir("tesla")
        defer { try? FileManager.default.removeItem(at: root) }
        let ev1 = root.appendingPathComponent("TeslaCam/SavedClips/2026-11-30_10-06-12")
        let ev2 = root.appendingPathComponent("TeslaCam/SentryClips/2026-11-30_11-00-00")
        for d in [ev1, ev2] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        for m in ["04", "05", "06"] {
            for c in ["front", "back", "left_repeater", "right_repeater"] where !(m == "05" && c == "left_repeater") {
                try Self.encode(ev1.appendingPathComponent("2026-11-30_10-\(m)-00-\(c).mp4").path, frames: 20)
            }
        }
        try Data("{\"reason\":\"user_interaction_honk\",\"city\":\"Palo Alto\"}".utf8).write(to: ev1.appendingPathComponent("event.json"))
        for m in ["00", "02"] {
            for c in ["front", "back", "left_repeater", "right_repeater", "left_pillar", "right_pillar"] {
                try Self.encode(ev2.appendingPathComponent("2026-11-30_11-\(m)-00-\(c).mp4").path, frames: 20)
            }
        }
        let out = root.appendingPathComponent("out")
        // Nothing but --out (and a small dtype): the 6-camera event gives the first event's 4 cameras.
        let r = try TestPaths.fleetprep(["ingest", root.appendingPathComponent("TeslaCam").path, "--out", out.path, "--dtype", "u8", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let recs = try Self.records(out)
        // ev1: 60 master ticks, 20 dropped in minute 05 (no left_repeater) → 40; ev2: 40.
        let ev1Recs = recs.filter { $0.key.hasPrefix("2026-11-30_10-06-12") }
        let ev2Recs = recs.filter { $0.key.hasPrefix("2026-11-30_11-00-00") }
        #expect(ev1Recs.count == 40 && ev2Recs.count == 40)
        #expect(Self.strings(recs[0].metadata["cameras"]) == ["main", "left_repeater", "right_repeater", "rear"])
        #expect(Self.strings(ev2Recs[0].metadata["cameras"]) == ["main", "left_repeater", "right_repeater", "rear"])
        #expect(recs[0].metadata["event"]?["reason"] == .string("user_interaction_honk"))
        // Frame time = the segment's start from its name + pts (10 fps): minute 04 then 06.
        let start04 = 1_796_033_040.0   // 2026-11-30 10:04:00 as UTC seconds (date -u -d ... +%s)
        let t1 = ev1Recs.map { Self.number($0.metadata["time"])! }
        #expect(t1.prefix(20).enumerated().allSatisfy { abs($1 - (start04 + Double($0) * 0.1)) < 1e-6 })
        #expect(t1.suffix(20).enumerated().allSatisfy { abs($1 - (start04 + 120 + Double($0) * 0.1)) < 1e-6 })
        // Pixels: sample 25 of ev1 is frame 5 of the minute-06 front file (ffmpeg's rgb24 of that file).
        let front06 = try IngestCLITests.ffmpegRGB(ev1.appendingPathComponent("2026-11-30_10-06-00-front.mp4").path, width: 96, height: 64, scale: false)
        let per = 96 * 64 * 3
        // CHW u8 default layout: compare as HWC after transposing the master camera's planes.
        let (p, _) = ev1Recs[25].withTensorBytes { raw -> (Double, Int) in
            var hwc = [UInt8](repeating: 0, count: per)
            for c in 0..<3 { for i in 0..<(96 * 64) { hwc[i * 3 + c] = raw[c * 96 * 64 + i] } }
            return hwc.withUnsafeBytes { IngestCLITests.psnr($0, front06[5]) }
        }
        #expect(p >= 40, "PSNR \(p)")

        // discover: both events, TeslaCam names mapped, frame counts as ffprobe counts them, the gap shown.
        // (By default discover shows what ingest takes: ev2's 4 cameras of the dataset; with
        // --mixed-shapes every camera found.)
        let plain = try TestPaths.fleetprep(["discover", "--json", root.path])
        #expect(plain.status == 0, "\(plain.stderr)")
        let taken = plain.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect((taken[1]["cameras"] as! [[String: Any]]).map { $0["camera"] as! String } == ["main", "left_repeater", "right_repeater", "rear"])
        let d = try TestPaths.fleetprep(["discover", "--json", "--mixed-shapes", root.path])
        #expect(d.status == 0, "\(d.stderr)")
        let groups = d.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(groups.map { $0["layout"] as! String } == ["teslacam", "teslacam"])
        let cams2 = groups[1]["cameras"] as! [[String: Any]]
        #expect(cams2.count == 6)
        #expect(cams2[0]["sourceName"] as? String == "front" && cams2.last?["camera"] as? String == "rear")
        let (_, counted, _) = try TestPaths.run(Self.ffprobe!, ["-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
                                                                "stream=nb_read_packets", "-of", "csv=p=0",
                                                                ev2.appendingPathComponent("2026-11-30_11-00-00-front.mp4").path])
        let perFile = Int(String(decoding: counted, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(cams2[0]["frames"] as? Int == 2 * perFile)
        #expect((cams2[0]["gaps"] as! [[Double]]).count == 1)
    }

    // MARK: - Real dashcam through every new path

    /// The real dashcam clip as a TeslaCam-named file, as a raw .h264 stream with a frame-times
    /// log, and in a manifest (with two bad lines, which fail alone).
    @Test(.enabled(if: dashcam != nil && ffmpeg != nil && ffprobe != nil, "needs ../shared/fixtures/dashcam and the ffmpeg CLIs"))
    func dashcamAsTeslaCamRawStreamAndManifest() throws {
        let root = IngestCLITests.tempDir("dash")
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        let tesla = root.appendingPathComponent("tesla")
        try fm.createDirectory(at: tesla, withIntermediateDirectories: true)
        // A copy in the temporary tree (a symlink out of the input root is not followed by default).
        try fm.copyItem(atPath: Self.dashcam!, toPath: tesla.appendingPathComponent("2026-11-30_10-04-00-front.mp4").path)
        let raw = root.appendingPathComponent("raw/dash.h264")
        try fm.createDirectory(at: raw.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Self.sh(Self.ffmpeg!, ["-v", "error", "-i", Self.dashcam!, "-map", "0:1", "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", raw.path])
        // The frame-times log: ffprobe's frame times of the mp4, on a clock 1000 s later.
        let (_, pts, _) = try TestPaths.run(Self.ffprobe!, ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time",
                                                        "-of", "csv=p=0", Self.dashcam!])
        // (csv output puts side data after a comma, and a blank line after such frames.)
        let times = String(decoding: pts, as: UTF8.self).split(separator: "\n").compactMap { line in
            line.split(separator: ",").first.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.map { 1000 + $0 }
        }
        #expect(times.count == 221)
        try Data(("t\n" + times.map { String($0) }.joined(separator: "\n") + "\n").utf8)
            .write(to: raw.deletingLastPathComponent().appendingPathComponent("dash.frame_times.csv"))
        let manifest = root.appendingPathComponent("sel.jsonl")
        try Data("""
        {"id": "dash-manifest", "cameras": {"main": "\(Self.dashcam!)"}}
        {"id": "bad-key", "cameras": {"main": "raw/dash.h264"}, "colour": "red"}
        {not json
        {"id": "dash-raw", "cameras": {"main": "raw/dash.h264"}, "frame_times": {"main": "raw/dash.frame_times.csv"}}

        """.utf8).write(to: manifest)

        let oracle = try IngestCLITests.ffmpegRGB(Self.dashcam!, width: 160, height: 90, scale: true)
        #expect(oracle.count == 221)
        func check(_ out: URL, count: Int, time: (Int) -> Double?, _ what: String) throws {
            let recs = try Self.records(out)
            #expect(recs.count == count, "\(what)")
            for rec in recs {
                guard let f = Self.number(rec.metadata["master_index"]).map(Int.init) else { continue }
                if let t = time(f) { #expect(abs(Self.number(rec.metadata["time"])! - t) < 1e-6, "\(what) frame \(f) time") }
                let (p, _) = rec.withTensorBytes { IngestCLITests.psnr($0, oracle[f]) }
                #expect(p >= 35, "\(what) frame \(f): PSNR \(p)")
            }
        }
        let common = ["--size", "160x90", "--dtype", "u8", "--layout", "hwc", "--stride", "20", "--quiet"]
        let o1 = root.appendingPathComponent("o1"), o2 = root.appendingPathComponent("o2"), o3 = root.appendingPathComponent("o3")
        var r = try TestPaths.fleetprep(["ingest", tesla.path, "--out", o1.path] + common)
        #expect(r.status == 0, "\(r.stderr)")
        try check(o1, count: 12, time: { 1_796_033_040 + times[$0] - 1000 }, "TeslaCam-named")
        r = try TestPaths.fleetprep(["ingest", raw.path, "--out", o2.path] + common)
        #expect(r.status == 0, "\(r.stderr)")
        try check(o2, count: 12, time: { times[$0] }, "raw .h264 with a frame-times log")
        r = try TestPaths.fleetprep(["ingest", "--manifest", manifest.path, "--out", o3.path] + common)
        #expect(r.status == 1, "two bad lines fail alone: \(r.stderr)")
        try check(o3, count: 24, time: { _ in nil }, "manifest")
        let raws = try Self.records(o3).filter { $0.key.hasPrefix("dash-raw") }
        #expect(raws.count == 12 && raws.allSatisfy { abs(Self.number($0.metadata["time"])! - times[Int(Self.number($0.metadata["master_index"])!)]) < 1e-6 })
        let errors = try String(contentsOf: o3.appendingPathComponent("errors.jsonl"), encoding: .utf8)
        #expect(errors.contains("sel.jsonl:2: badValue: unknown key"), "\(errors)")
        #expect(errors.contains("sel.jsonl:3: invalidJSON"), "\(errors)")
    }

    // MARK: - Frame-time rules

    @Test(.enabled(if: ffmpeg != nil, "needs the ffmpeg CLI"))
    func rawStreamFrameTimesRules() throws {
        let root = IngestCLITests.tempDir("raw-rules")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("in/a.hevc").path, b = root.appendingPathComponent("in/b.h264").path
        try FileManager.default.createDirectory(at: root.appendingPathComponent("in"), withIntermediateDirectories: true)
        try Self.encode(a, rate: 20, frames: 30, codec: "libx265", extra: ["-x265-params", "log-level=error", "-f", "hevc"])
        try Self.encode(b, rate: 20, frames: 30, extra: ["-bf", "2", "-f", "h264"])
        // a: a log of the wrong length; b: no log at all.
        try Data("t\n1\n2\n3\n".utf8).write(to: URL(fileURLWithPath: root.appendingPathComponent("in/a.frame_times.csv").path))
        var r = try TestPaths.fleetprep(["ingest", root.appendingPathComponent("in").path, "--out", root.appendingPathComponent("o1").path,
                                         "--dtype", "u8", "--quiet"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("the frame-times log has 3 time(s) but") && r.stderr.contains("has 30 frame(s)"), "\(r.stderr)")
        #expect(r.stderr.contains("carries no timestamps") && r.stderr.contains("--assume-fps"), "\(r.stderr)")
        // --assume-fps gives b frame i at i / F, and is recorded in index.json.
        try FileManager.default.removeItem(atPath: root.appendingPathComponent("in/a.frame_times.csv").path)
        r = try TestPaths.fleetprep(["ingest", b, "--out", root.appendingPathComponent("o2").path, "--dtype", "u8", "--quiet", "--assume-fps", "8"])
        #expect(r.status == 0, "\(r.stderr)")
        let recs = try Self.records(root.appendingPathComponent("o2"))
        #expect(recs.count == 30)
        #expect(recs.enumerated().allSatisfy { abs(Self.number($1.metadata["time"])! - Double($0) / 8) < 1e-9 })
        let index = try String(contentsOf: root.appendingPathComponent("o2/index.json"), encoding: .utf8)
        #expect(index.contains("\"assumeFps\""), "index.json records --assume-fps")
        // discover's exit status follows ingest's: one stream fails (no log, no --assume-fps) → 1.
        let d = try TestPaths.fleetprep(["discover", root.appendingPathComponent("in").path])
        #expect(d.status == 1 || d.status == 2, "\(d.stdout)")
        #expect(d.stdout.contains("would fail"), "\(d.stdout)")
    }

    /// discover applies ingest's one-shape rule: it reports the group ingest would fail for its
    /// camera count, and its exit status is ingest's.
    @Test func discoverPredictsTheShapeRule() throws {
        let inputs = [TestPaths.sample("event_0001"), TestPaths.sample("h264_1280x960.mp4")]
        let d = try TestPaths.fleetprep(["discover", "--json"] + inputs)
        let out = IngestCLITests.tempDir("discover-shape")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try TestPaths.fleetprep(["ingest"] + inputs + ["--out", out.path, "--size", "32x24", "--dtype", "u8", "--quiet"])
        #expect(d.status == r.status && r.status == 1, "discover \(d.status), ingest \(r.status): \(r.stderr)")
        let groups = d.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(groups.map { $0["error"] == nil } == [true, false])
        let m = try TestPaths.fleetprep(["discover", "--mixed-shapes"] + inputs)
        #expect(m.status == 0, "\(m.stdout)")
    }
}
