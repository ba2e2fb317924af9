import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// `fleetprep ingest` end to end, run as the built executable; shards read back through the
/// Swift reader and compared with independent oracles (the ffmpeg CLI's own RGB conversion,
/// labels interpolated by hand from signals.csv, frame counts from ffprobe).
@Suite(.serialized) struct IngestCLITests {
    static func tempDir(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fleetprep-\(name)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// ffmpeg's rgb24 conversion of every frame of `clip`, scaled to w×h (nil: no scaling).
    static func ffmpegRGB(_ clip: String, width: Int, height: Int, scale: Bool) throws -> [[UInt8]] {
        guard let ffmpeg = TestPaths.which("ffmpeg") else { throw CocoaError(.executableNotLoadable) }
        var vf = "format=rgb24"
        if scale { vf = "scale=\(width):\(height):flags=bilinear+accurate_rnd+full_chroma_int," + vf }
        let (status, out, err) = try TestPaths.run(ffmpeg, ["-v", "error", "-i", clip, "-map", "0:v:0", "-fps_mode", "passthrough", "-vf", vf,
                                                            "-f", "rawvideo", "-"])
        #expect(status == 0, "\(err)")
        let frame = width * height * 3
        let bytes = [UInt8](out)
        return stride(from: 0, to: bytes.count - frame + 1, by: frame).map { Array(bytes[$0..<($0 + frame)]) }
    }

    static func psnr(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> (psnr: Double, maxErr: Int) {
        precondition(a.count == b.count)
        var se = 0.0
        var m = 0
        for i in 0..<b.count {
            let d = Int(a[i]) - Int(b[i])
            se += Double(d * d)
            m = max(m, abs(d))
        }
        let mse = se / Double(b.count)
        return (mse == 0 ? 99 : 10 * log10(255 * 255 / mse), m)
    }

    /// Linear interpolation of a column of signals.csv at `t` (the label oracle), nil before the
    /// first sample.
    static func interpolate(_ rows: [[Double]], column: Int, at t: Double) -> Double? {
        guard let first = rows.first, t >= first[0] else { return nil }
        for k in 1..<rows.count where rows[k][0] >= t {
            let (t0, t1) = (rows[k - 1][0], rows[k][0])
            let (v0, v1) = (rows[k - 1][column], rows[k][column])
            return t1 == t0 ? v1 : v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        }
        return rows.last![column]
    }

    @Test func eventGroupAndH264ClipMatchFFmpegAndLabelOracles() throws {
        let out = Self.tempDir("e2e")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try TestPaths.fleetprep(["ingest", "SampleClips/event_0001", "SampleClips/h264_1280x960.mp4",
                                         "--out", out.path, "--size", "160x120", "--dtype", "u8", "--normalize", "none",
                                         "--layout", "hwc", "--format", "native", "--target", "4MiB", "--quiet", "--jobs", "2",
                                         "--mixed-shapes"])
        #expect(r.status == 0, "\(r.stderr)")
        let ds = try ShardDataset(directory: out)
        // Clip facts: the event has 72 master frames, the rear camera drops frame 40 → 71
        // samples; the 1280x960 clip has 144 frames (ffprobe).
        let h264Frames = try ProbeOracle(clip: TestPaths.sample("h264_1280x960.mp4")).frames.count
        #expect(ds.count == 71 + h264Frames)

        let cams = ["main", "narrow", "wide", "left_pillar", "right_pillar", "left_repeater", "right_repeater", "rear"]
        var oracle: [String: [[UInt8]]] = [:]
        for c in cams { oracle[c] = try Self.ffmpegRGB(TestPaths.sample("event_0001/\(c).mp4"), width: 160, height: 120, scale: false) }
        oracle["h264"] = try Self.ffmpegRGB(TestPaths.sample("h264_1280x960.mp4"), width: 160, height: 120, scale: true)

        let csv = try String(contentsOfFile: TestPaths.sample("event_0001/signals.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map { Double($0)! } }

        var worstNoResize = 99.0, worstResize = 99.0, worstErr = 0
        for i in 0..<ds.count {
            let rec = try ds[i]
            guard case .object(let meta) = rec.metadata, case .array(let frames)? = meta["frame_index"],
                  case .string(let clip)? = meta["clip"], case .number(let time)? = meta["time"] else {
                Issue.record("metadata of \(rec.key) lacks clip/frame_index/time"); continue
            }
            let per = 160 * 120 * 3
            if clip == "event_0001" {
                #expect(rec.tensor.shape == [8, 120, 160, 3])
                for (c, cam) in cams.enumerated() {
                    guard case .number(let f) = frames[c] else { Issue.record("camera \(cam) missing in \(rec.key)"); continue }
                    let (p, m) = rec.withTensorBytes { Self.psnr(UnsafeRawBufferPointer(rebasing: $0[(c * per)..<((c + 1) * per)]), oracle[cam]![Int(f)]) }
                    worstNoResize = min(worstNoResize, p); worstErr = max(worstErr, m)
                    #expect(p >= 40, "\(rec.key) camera \(cam): PSNR \(p)")
                }
                // Labels: speed and steering interpolated, gear held; masked before t = 0.1.
                let names = ["speed", "steering_angle", "gear"]
                for (k, _) in names.enumerated() {
                    if let v = Self.interpolate(rows, column: k + 1, at: time) {
                        #expect(rec.mask[k] == 1, "\(rec.key) field \(k) should be valid at \(time)")
                        let expected = k == 2 ? rows.last { $0[0] <= time }![3] : v
                        #expect(abs(Double(rec.labels[k]) - expected) < 1e-4, "\(rec.key) field \(k): \(rec.labels[k]) vs \(expected)")
                    } else {
                        #expect(rec.mask[k] == 0, "\(rec.key) field \(k) before the first signal sample must be masked")
                    }
                }
            } else {
                #expect(rec.tensor.shape == [1, 120, 160, 3])
                guard case .number(let f) = frames[0] else { Issue.record("no frame in \(rec.key)"); continue }
                let (p, m) = rec.withTensorBytes { Self.psnr(UnsafeRawBufferPointer(rebasing: $0[0..<per]), oracle["h264"]![Int(f)]) }
                worstResize = min(worstResize, p); worstErr = max(worstErr, m)
                #expect(p >= 35, "\(rec.key): PSNR \(p)")
                #expect(rec.mask.allSatisfy { $0 == 0 }, "a clip without signals has every label masked")
            }
        }
        print("ingest e2e: worst PSNR \(worstNoResize) dB without resize, \(worstResize) dB with resize, max abs error \(worstErr)")

        // Shard counts follow from the budget: every shard but the last holds the same number of
        // 8-camera or 1-camera records, and none exceeds 4 MiB.
        let manifest = try DatasetManifest.read(from: out)
        #expect(manifest.shards.reduce(0) { $0 + $1.samples } == ds.count)
        for s in manifest.shards { #expect(s.bytes <= 4 << 20, "\(s.file) is \(s.bytes) bytes") }
        let per = 160 * 120 * 3
        #expect(manifest.shards.count >= Int((Double(71 * 8 * per + h264Frames * per) / Double(4 << 20)).rounded(.up)))
    }

    /// A clip whose container declares a 90° display rotation: the tensor is the coded picture
    /// (not rotated) and the rotation is recorded per camera (oracle: ffprobe).
    @Test(.enabled(if: TestPaths.which("ffprobe") != nil, "needs ffprobe for the display-rotation oracle"))
    func displayRotationIsRecordedNotApplied() throws {
        let clip = TestPaths.sample("rotated90_160x96.mp4")
        let (status, out, err) = try TestPaths.run(TestPaths.which("ffprobe")!, ["-v", "error", "-select_streams", "v:0",
            "-show_entries", "stream=width,height:stream_side_data=rotation", "-of", "json", clip])
        #expect(status == 0, "\(err)")
        let probe = try JSONSerialization.jsonObject(with: out) as! [String: Any]
        let stream = (probe["streams"] as! [[String: Any]])[0]
        let rotation = ((stream["side_data_list"] as? [[String: Any]])?.first?["rotation"] as? NSNumber)?.doubleValue
        #expect(rotation != nil && rotation != 0, "the sample clip declares a rotation")
        let w = (stream["width"] as! NSNumber).intValue, h = (stream["height"] as! NSNumber).intValue
        let dir = Self.tempDir("rotation")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try TestPaths.fleetprep(["ingest", clip, "--out", dir.path, "--quiet", "--dtype", "u8"])
        #expect(r.status == 0, "\(r.stderr)")
        let rec = try ShardDataset(directory: dir).record(at: 0)
        #expect(rec.tensor.shape == [1, 3, h, w])
        guard case .object(let meta) = rec.metadata, case .array(let geometry)? = meta["geometry"],
              case .object(let g)? = geometry.first, case .number(let recorded)? = g["rotation"] else {
            Issue.record("metadata has no geometry rotation: \(rec.metadata)"); return
        }
        #expect(recorded == rotation)
    }

    @Test func badClipsAreSkippedAndRecorded() throws {
        let out = Self.tempDir("bad")
        defer { try? FileManager.default.removeItem(at: out) }
        let bad = ["Tests/Fixtures/truncated.mp4", "Tests/Fixtures/empty.mp4", "Tests/Fixtures/not_video.mp4",
                   "Tests/Fixtures/audio_only.m4a", "Tests/Fixtures/corrupt_packets.mkv", "Tests/Fixtures/unknown_codec.avi",
                   "Tests/Fixtures/no_such_clip.mp4"]
        let good = ["SampleClips/odd_321x241.mkv", "SampleClips/mjpeg_176x144.avi", "SampleClips/hevc10_320x240.mkv"]
        let r = try TestPaths.fleetprep(["ingest", good[0], bad[0], bad[1], good[1], bad[2], bad[3], bad[4], bad[5], bad[6], good[2],
                                         "--out", out.path, "--size", "64x48", "--quiet", "--json"])
        #expect(r.status == 1, "documented 'some clips failed' status; stderr: \(r.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(summary["clipsOK"] as? Int == 3)
        let errors = try String(contentsOf: out.appendingPathComponent("errors.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let byPath = Dictionary(errors.map { (($0["path"] as! String), $0) }, uniquingKeysWith: { a, _ in a })
        for b in bad {
            let hit = byPath.first { $0.key.hasSuffix(b) }
            #expect(hit != nil, "\(b) missing from errors.jsonl: \(errors)")
            #expect(((hit?.value["message"] as? String) ?? "").isEmpty == false)
        }
        let ds = try ShardDataset(directory: out)
        var clips = Set<String>()
        for i in 0..<ds.count {
            if case .object(let m) = try ds[i].metadata, case .string(let c)? = m["clip"] { clips.insert(c) }
        }
        #expect(clips == ["odd_321x241", "mjpeg_176x144", "hevc10_320x240"])
        // Frame counts from ffprobe: every frame of every good clip is a sample.
        let expected = try good.reduce(0) { $0 + (try ProbeOracle(clip: TestPaths.repoRoot.appendingPathComponent($1).path).frames.count) }
        #expect(ds.count == expected)
    }

    @Test func badOptionsFailBeforeAnyWork() throws {
        let out = Self.tempDir("opts")
        defer { try? FileManager.default.removeItem(at: out) }
        for (args, option) in [(["--size", "64by48"], "--size"), (["--dtype", "f64"], "--dtype"), (["--fill", "1.5"], "--fill"),
                               (["--target", "lots"], "--target"), (["--crop", "0,0,9999,10"], "--crop"), (["--jobs", "0"], "--jobs"),
                               (["--dtype", "u8", "--normalize", "imagenet"], "--normalize")] {
            let r = try TestPaths.fleetprep(["ingest", "SampleClips/mjpeg_176x144.avi", "--out", out.path, "--quiet"] + args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(option), "\(args): \(r.stderr)")
            // Options checked up front write nothing; a crop that fits no clip fails each clip
            // (its bounds depend on the frame size), which errors.jsonl records.
            let files = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
            #expect(files.filter { !$0.hasPrefix(".") && $0 != "errors.jsonl" }.isEmpty, "\(args) wrote \(files)")
        }
    }

    /// Reads every record's key and bytes (tensor, labels, mask, annotations) of a dataset.
    static func contents(_ dir: URL) throws -> [String: [UInt8]] {
        let ds = try ShardDataset(directory: dir)
        var out: [String: [UInt8]] = [:]
        for i in 0..<ds.count {
            let r = try ds[i]
            var bytes = r.tensorData
            r.labels.withUnsafeBytes { bytes += $0 }
            bytes += r.mask
            bytes += Array((r.annotations?.json ?? "null").utf8)
            out[r.key] = bytes
        }
        return out
    }

    static func shardFiles(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasPrefix("shard") {
            out[name] = try Data(contentsOf: dir.appendingPathComponent(name))
        }
        return out
    }

    static let killArgs = ["SampleClips/event_0001", "SampleClips/h264_1280x960.mp4", "SampleClips/hevc_1280x960.mp4",
                           "SampleClips/odd_321x241.mkv", "--size", "160x120", "--target", "3MiB", "--jobs", "2", "--quiet",
                           "--mixed-shapes"]

    @Test func sigkillAtSeveralPointsThenResumeIsByteIdentical() throws {
        let ref = Self.tempDir("ref")
        defer { try? FileManager.default.removeItem(at: ref) }
        let r0 = try TestPaths.fleetprep(["ingest"] + Self.killArgs + ["--out", ref.path])
        #expect(r0.status == 0, "\(r0.stderr)")
        let reference = try Self.shardFiles(ref)
        let refIndex = try DatasetManifest.read(from: ref)
        #expect(reference.count > 3)

        for delay in [0.15, 0.5, 1.0, 1.6] {
            let out = Self.tempDir("kill")
            defer { try? FileManager.default.removeItem(at: out) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: TestPaths.fleetprepExecutable)
            p.arguments = ["ingest"] + Self.killArgs + ["--out", out.path]
            p.currentDirectoryURL = TestPaths.repoRoot
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            // What a reader can see after the kill: only complete shards (each verifies).
            for (name, _) in try Self.shardFiles(out) {
                #expect(throws: Never.self, "\(name) after SIGKILL at \(delay) s") { _ = try ShardDataset(shardFile: out.appendingPathComponent(name)) }
            }
            let r = try TestPaths.fleetprep(["ingest"] + Self.killArgs + ["--out", out.path])
            #expect(r.status == 0, "resume after SIGKILL at \(delay) s: \(r.stderr)")
            let resumed = try Self.shardFiles(out)
            #expect(resumed.keys.sorted() == reference.keys.sorted(), "shard names after SIGKILL at \(delay) s")
            for (name, data) in reference { #expect(resumed[name] == data, "\(name) differs after SIGKILL at \(delay) s") }
            // index.json lists the same shards (it also records --out, which differs here).
            let index = try DatasetManifest.read(from: out)
            #expect(index.shards == refIndex.shards, "index.json after SIGKILL at \(delay) s")
        }
    }

    @Test func threeWorkersPlusMergeEqualOneProcess() throws {
        let one = Self.tempDir("one"), many = Self.tempDir("many")
        defer { try? FileManager.default.removeItem(at: one); try? FileManager.default.removeItem(at: many) }
        let args = ["SampleClips", "--size", "64x48", "--target", "1MiB", "--format", "wds", "--quiet", "--jobs", "1", "--mixed-shapes"]
        let r1 = try TestPaths.fleetprep(["ingest"] + args + ["--out", one.path])
        #expect(r1.status == 0, "\(r1.stderr)")
        // Three separate processes, as a Slurm array would start them.
        var procs: [Process] = []
        for i in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: TestPaths.fleetprepExecutable)
            p.arguments = ["ingest"] + args + ["--out", many.path]
            p.environment = ProcessInfo.processInfo.environment.merging(["SLURM_ARRAY_TASK_ID": "\(i)", "SLURM_ARRAY_TASK_COUNT": "3"]) { $1 }
            p.currentDirectoryURL = TestPaths.repoRoot
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            procs.append(p)
        }
        for p in procs { p.waitUntilExit(); #expect(p.terminationStatus == 0) }
        let m = try TestPaths.fleetprep(["merge", many.path])
        #expect(m.status == 0, "\(m.stderr)")
        let a = try Self.contents(one), b = try Self.contents(many)
        #expect(a.count > 100)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (k, v) in a { #expect(b[k] == v, "sample \(k) differs") }
        let v = try TestPaths.fleetprep(["verify", many.path])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
    }
}
