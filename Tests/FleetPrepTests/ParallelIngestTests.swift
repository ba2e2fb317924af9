import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// The parallel ingest engine: work split inside a clip at key frames gives the same bytes as one
/// sequential decode (exact seeking), and a clip that fails part-way leaves no sample anywhere.
/// Clips are made here with the ffmpeg CLI.
@Suite(.serialized, .enabled(if: TestPaths.which("ffmpeg") != nil, "skipped: the ffmpeg CLI (which makes the test clips) is not installed"))
struct ParallelIngestTests {
    static func ffmpeg(_ args: [String]) throws {
        let (status, _, err) = try TestPaths.run(TestPaths.which("ffmpeg")!, ["-v", "error", "-y"] + args)
        #expect(status == 0, "ffmpeg \(args): \(err)")
    }

    /// 150 frames of H.264 with B-frames and a key frame every 25 frames.
    static func longClip(_ dir: URL) throws -> String {
        let path = dir.appendingPathComponent("long.mp4").path
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=5", "-vf", "noise=alls=20:allf=t",
                    "-c:v", "libx264", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p", path])
        return path
    }

    static func summary(_ stdout: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as! [String: Any]
    }

    @Test func unitsSplitAtKeyFramesGiveTheSequentialBytes() throws {
        let dir = IngestCLITests.tempDir("split")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try Self.longClip(dir)
        var results: [[String: Data]] = []
        for (jobs, step) in [(1, 1), (3, 1), (1, 2), (3, 2)] {
            let out = dir.appendingPathComponent("out-\(jobs)-\(step)")
            let r = try TestPaths.fleetprep(["ingest", clip, "--out", out.path, "--size", "96x72", "--target", "200KiB",
                                             "--jobs", "\(jobs)", "--stride", "\(step)", "--quiet", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let s = try Self.summary(r.stdout)
            // --jobs 3 splits the clip (150 frames, key frames every 25) into 3 units that seek to
            // key frames; --jobs 1 decodes it whole.
            let units = s["workUnits"] as? Int ?? 0
            #expect(units == (jobs == 1 ? 1 : 3), "jobs \(jobs): \(s)")
            #expect(s["samples"] as? Int == 150 / step)
            results.append(try IngestCLITests.shardFiles(out))
            #expect(try TestPaths.fleetprep(["verify", out.path]).status == 0)
        }
        #expect(results[0].count > 3)
        #expect(results[1] == results[0], "--jobs 3 (three units) differs from --jobs 1")
        #expect(results[3] == results[2], "--jobs 3 --stride 2 differs from --jobs 1 --stride 2")
    }

    @Test func aClipThatFailsPartWayLeavesNoSample() throws {
        let dir = IngestCLITests.tempDir("partfail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let good1 = dir.appendingPathComponent("a_good.mp4").path, good2 = dir.appendingPathComponent("c_good.mp4").path
        let bad = dir.appendingPathComponent("b_bad.mp4").path
        for (p, src) in [(good1, "testsrc"), (good2, "testsrc2"), (bad, "smptebars")] {
            try Self.ffmpeg(["-f", "lavfi", "-i", "\(src)=s=160x120:r=10:d=6", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", p])
        }
        // Damage packet data two thirds in: the index (moov) still lists every packet, so the scan
        // and the first samples succeed, then decoding fails.
        var data = try Data(contentsOf: URL(fileURLWithPath: bad))
        let at = data.count * 2 / 3
        for i in at..<(at + 400) { data[i] = 0xFF }
        try data.write(to: URL(fileURLWithPath: bad))

        let both = dir.appendingPathComponent("both"), three = dir.appendingPathComponent("three")
        let common = ["--size", "64x48", "--target", "64KiB", "--quiet", "--jobs", "2"]
        let r2 = try TestPaths.fleetprep(["ingest", good1, good2, "--out", both.path] + common)
        #expect(r2.status == 0, "\(r2.stderr)")
        let r3 = try TestPaths.fleetprep(["ingest", good1, bad, good2, "--out", three.path, "--json"] + common)
        #expect(r3.status == 1, "documented 'some clips failed' status; \(r3.stderr)")
        let errors = try String(contentsOf: three.appendingPathComponent("errors.jsonl"), encoding: .utf8)
        #expect(errors.contains("b_bad.mp4") && errors.contains("\"stage\":\"decode\""), "\(errors)")
        // Exactly the good clips' samples, byte for byte; no sample of the bad clip anywhere.
        let a = try IngestCLITests.contents(both), b = try IngestCLITests.contents(three)
        #expect(a.count == 120)
        #expect(b.keys.sorted() == a.keys.sorted())
        for (k, v) in a { #expect(b[k] == v, "sample \(k)") }
        #expect(try TestPaths.fleetprep(["verify", three.path]).status == 0)

        // A crash after the failed clip and one shard were journaled: resuming lays the failed
        // clip out again (without decoding it), so every later record lands where it did, and
        // the dataset is byte-identical.
        let crashed = dir.appendingPathComponent("crashed")
        try FileManager.default.copyItem(at: three, to: crashed)
        let journal = crashed.appendingPathComponent(".fleetprep/journal.jsonl")
        let lines = try String(contentsOf: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        let firstShard = lines.firstIndex { $0.contains("\"kind\":\"shard\"") }!
        let kept = lines.enumerated().filter { $0.offset <= firstShard || $0.element.contains("\"kind\":\"group\"") }.map(\.element)
        #expect(kept.contains { $0.contains("\"status\":\"failed\"") }, "the failed clip is journaled: \(kept)")
        try (kept.joined(separator: "\n") + "\n").write(to: journal, atomically: true, encoding: .utf8)
        let keptShard = try JSONSerialization.jsonObject(with: Data(lines[firstShard].utf8)) as! [String: Any]
        let keptFile = (keptShard["shard"] as? [String: Any])?["file"] as? String
        for name in try FileManager.default.contentsOfDirectory(atPath: crashed.path)
        where (name.hasPrefix("shard-") && name != keptFile) || name == "index.json" {
            try FileManager.default.removeItem(at: crashed.appendingPathComponent(name))
        }
        let resumed = try TestPaths.fleetprep(["ingest", good1, bad, good2, "--out", crashed.path] + common)
        #expect(resumed.status == 1, "\(resumed.stderr)")
        #expect(try IngestCLITests.shardFiles(crashed) == IngestCLITests.shardFiles(three), "resumed shards differ")
        #expect(try DatasetManifest.read(from: crashed).shards == DatasetManifest.read(from: three).shards)
    }

    /// A 4-camera group whose clips have one key frame each is one work unit; with `--jobs 2` its
    /// cameras decode on two lanes (`CameraLanes`). The bytes equal `--jobs 1`'s (one thread,
    /// camera by camera), and a camera that fails part-way on the second lane fails the group
    /// as it does on one thread: same error, no sample kept.
    @Test func cameraLanesGiveTheSequentialBytes() throws {
        let dir = IngestCLITests.tempDir("lanes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let event = dir.appendingPathComponent("ev")
        try FileManager.default.createDirectory(at: event, withIntermediateDirectories: true)
        for (camera, src) in [("main", "testsrc2"), ("narrow", "testsrc"), ("left_repeater", "smptebars"), ("rear", "rgbtestsrc")] {
            try Self.ffmpeg(["-f", "lavfi", "-i", "\(src)=s=160x120:r=20:d=3", "-vf", "noise=alls=10:allf=t", "-c:v", "libx264",
                             "-g", "1000", "-bf", "2", "-pix_fmt", "yuv420p", event.appendingPathComponent("\(camera).mp4").path])
        }
        let common = ["--size", "64x48", "--dtype", "f16", "--target", "400KiB", "--quiet", "--json"]
        var shards: [[String: Data]] = []
        for jobs in [1, 2] {
            let out = dir.appendingPathComponent("out-\(jobs)")
            let r = try TestPaths.fleetprep(["ingest", event.path, "--out", out.path, "--jobs", "\(jobs)"] + common)
            #expect(r.status == 0, "\(r.stderr)")
            let s = try Self.summary(r.stdout)
            #expect(s["workUnits"] as? Int == 1, "one key frame per camera: one unit; \(s)")
            #expect(s["samples"] as? Int == 60)
            shards.append(try IngestCLITests.shardFiles(out))
        }
        #expect(shards[0].count > 2)
        #expect(shards[1] == shards[0], "--jobs 2 (camera lanes) differs from --jobs 1")

        // Damage `narrow` (camera 1: lane 1 of 2) two thirds in; an intact copy of the event
        // ingests beside it.
        let intact = dir.appendingPathComponent("intact")
        try FileManager.default.copyItem(at: event, to: intact)
        let bad = event.appendingPathComponent("narrow.mp4")
        var data = try Data(contentsOf: bad)
        let at = data.count * 2 / 3
        for i in at..<(at + 300) { data[i] = 0xFF }
        try data.write(to: bad)
        var errors: [String] = []
        for jobs in [1, 2] {
            let out = dir.appendingPathComponent("bad-\(jobs)")
            // Alone (its unit gets both cores: lanes), then beside the intact copy.
            let alone = try TestPaths.fleetprep(["ingest", event.path, "--out", out.path + "-alone", "--jobs", "\(jobs)"] + common)
            #expect(alone.status == 2, "every clip failed: \(alone.stderr)")
            let r = try TestPaths.fleetprep(["ingest", event.path, intact.path, "--out", out.path, "--jobs", "\(jobs)"] + common)
            #expect(r.status == 1, "the damaged group fails, the intact one ingests: \(r.stderr)")
            let s = try Self.summary(r.stdout)
            #expect(s["samples"] as? Int == 60, "only the intact group's samples are kept: \(s)")
            let e = try String(contentsOf: out.appendingPathComponent("errors.jsonl"), encoding: .utf8)
            #expect(try String(contentsOf: URL(fileURLWithPath: out.path + "-alone/errors.jsonl"), encoding: .utf8) == e)
            #expect(e.contains("narrow.mp4") && e.contains("\"stage\":\"decode\""), "\(e)")
            errors.append(e)
        }
        #expect(errors[0] == errors[1], "lanes report the failure one thread reports")
    }

    /// A one-camera clip with one key frame is one work unit; with `--jobs 2` it gets both cores,
    /// and its frames are decoded ahead on a thread of their own (`DecodeAhead`) while the unit's
    /// thread transforms and writes. The bytes equal `--jobs 1`'s (no thread ahead), with every
    /// frame and with every 3rd, and a clip cut off part-way fails with the same error. (Damage
    /// that FFmpeg conceals is flagged by timing when it decodes with frame threads, as on
    /// `--jobs 2` here: docs/ingest.md, "Damage and frame threads".)
    @Test func decodeAheadGivesTheSequentialBytes() throws {
        let dir = IngestCLITests.tempDir("ahead")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("one.mp4")
        try Self.ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=3", "-vf", "noise=alls=20:allf=t", "-c:v", "libx264",
                         "-g", "1000", "-bf", "2", "-pix_fmt", "yuv420p", "-movflags", "+faststart", clip.path])
        let common = ["--size", "96x72", "--dtype", "f16", "--target", "400KiB", "--quiet", "--json"]
        for stride in [1, 3] {
            var shards: [[String: Data]] = []
            for jobs in [1, 2] {
                let out = dir.appendingPathComponent("out-\(jobs)-\(stride)")
                let r = try TestPaths.fleetprep(["ingest", clip.path, "--out", out.path, "--jobs", "\(jobs)", "--stride", "\(stride)"] + common)
                #expect(r.status == 0, "\(r.stderr)")
                let s = try Self.summary(r.stdout)
                #expect(s["workUnits"] as? Int == 1, "one key frame: one unit; \(s)")
                #expect(s["samples"] as? Int == 90 / stride)
                shards.append(try IngestCLITests.shardFiles(out))
            }
            #expect(shards[0].count > 1)
            #expect(shards[1] == shards[0], "--jobs 2 (decode ahead) differs from --jobs 1, stride \(stride)")
        }
        // The index (moov) comes first (+faststart), so the file still opens; a third of the
        // media data is gone.
        let data = try Data(contentsOf: clip)
        let bad = dir.appendingPathComponent("bad.mp4")
        try data.prefix(data.count * 2 / 3).write(to: bad)
        var errors: [String] = []
        for jobs in [1, 2] {
            let out = dir.appendingPathComponent("bad-\(jobs)")
            let r = try TestPaths.fleetprep(["ingest", bad.path, "--out", out.path, "--jobs", "\(jobs)"] + common)
            #expect(r.status == 2, "the only clip failed: \(r.stderr)")
            let e = try String(contentsOf: out.appendingPathComponent("errors.jsonl"), encoding: .utf8)
            #expect(e.contains("bad.mp4") && e.contains("\"stage\":\"decode\""), "\(e)")
            errors.append(e)
        }
        #expect(errors[0] == errors[1], "decoding ahead reports the failure one thread reports")
        #expect(errors[0].contains("packets end at"), "the scan sees the missing third: \(errors[0])")
    }

    /// Both digest kinds in both formats verify, and name their scheme in index.json; `--dtype u8`
    /// alone means raw values (`--normalize none`), not an error.
    @Test func digestKindsAndFormatsVerify() throws {
        let dir = IngestCLITests.tempDir("digest")
        defer { try? FileManager.default.removeItem(at: dir) }
        for format in ["native", "wds"] {
            for digest in ["crc32c", "sha256"] {
                let out = dir.appendingPathComponent("\(format)-\(digest)")
                let r = try TestPaths.fleetprep(["ingest", "SampleClips/event_0001", "SampleClips/mjpeg_176x144.avi", "--out", out.path,
                                                 "--size", "64x48", "--dtype", "u8", "--format", format, "--digest", digest,
                                                 "--target", "256KiB", "--jobs", "2", "--quiet", "--mixed-shapes"])
                #expect(r.status == 0, "\(format) \(digest): \(r.stderr)")
                let m = try DatasetManifest.read(from: out)
                #expect(m.shards.count > 1)
                #expect(m.shards.allSatisfy { $0.digest.description.hasPrefix(digest + "-segments:") })
                let v = try TestPaths.fleetprep(["verify", out.path])
                #expect(v.status == 0, "\(format) \(digest): \(v.stdout)")
            }
        }
    }
}
