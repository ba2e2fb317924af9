import FleetPrep
import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// The typed library API (issue 26): an `IngestConfiguration` built without a single string
/// option ingests a clip that the ffmpeg CLI made, checked against ffprobe's frame count and
/// ffmpeg's own `-pix_fmt rgb24` decode; and the typed values record exactly what the
/// equivalent `fleetprep ingest` flags record (index.json options, journal fingerprint).
@Suite(.serialized, .enabled(if: TestPaths.which("ffmpeg") != nil && TestPaths.which("ffprobe") != nil,
                             "skipped: the ffmpeg CLI (which makes the clip and is the oracle) is not installed"))
struct TypedConfigurationTests {
    static let width = 96, height = 64, frames = 9

    /// 9 frames of testsrc2, FFV1 yuv444p (built into every ffmpeg: no optional encoder).
    static func makeClip(in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("clip.mkv").path
        let (s, _, err) = try TestPaths.run(TestPaths.which("ffmpeg")!, [
            "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=\(width)x\(height):r=10", "-frames:v", String(frames),
            "-c:v", "ffv1", "-pix_fmt", "yuv444p", path])
        #expect(s == 0, "ffmpeg could not make the clip: \(err)")
        return path
    }

    /// ffprobe's count of decoded frames.
    static func probedFrames(_ clip: String) throws -> Int {
        let (_, out, _) = try TestPaths.run(TestPaths.which("ffprobe")!, [
            "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames",
            "-of", "default=nw=1:nk=1", clip])
        return Int(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The oracle: every frame as `ffmpeg -pix_fmt rgb24`.
    static func rgb24(_ clip: String) throws -> [[UInt8]] {
        let (s, out, err) = try TestPaths.run(TestPaths.which("ffmpeg")!, [
            "-v", "error", "-i", clip, "-map", "0:v:0", "-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
        #expect(s == 0, "\(err)")
        let frame = width * height * 3, bytes = [UInt8](out)
        return stride(from: 0, to: bytes.count - frame + 1, by: frame).map { Array(bytes[$0..<($0 + frame)]) }
    }

    @Test func typedConfigurationIngestsLikeFFmpeg() throws {
        let dir = IngestCLITests.tempDir("typed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try Self.makeClip(in: dir)
        let out = dir.appendingPathComponent("out")
        let config = try IngestConfiguration(
            inputs: [clip], output: out,
            transform: TransformConfig(size: nil, dtype: .u8, layout: .hwc, normalize: Normalization.none, channels: .rgb),
            format: .native, digest: .sha256, target: .byteCount(4 << 20),
            jobs: 1, inflightBytes: 16 << 20)
        let summary = try IngestRun(configuration: config).run()
        #expect(summary.exitStatus == .ok, "\(summary.failures)")

        let want = try Self.rgb24(clip)
        let probed = try Self.probedFrames(clip)
        #expect(probed == Self.frames && want.count == probed, "ffprobe counts \(probed) frames, ffmpeg decodes \(want.count)")
        let ds = try ShardDataset(directory: out)
        #expect(ds.count == probed)
        var maxDiff = 0, seen = Set<Int>()
        for i in 0..<ds.count {
            let rec = try ds.record(at: i)
            #expect(rec.tensor.dtype == .u8)
            #expect(rec.tensor.shape == [1, Self.height, Self.width, 3])
            guard case .array(let idx)? = rec.metadata["frame_index"], case .number(let f)? = idx.first,
                  Int(f) >= 0, Int(f) < want.count else { Issue.record("\(rec.key): no frame_index"); continue }
            seen.insert(Int(f))
            let got = rec.tensorData, w = want[Int(f)]
            #expect(got.count == w.count)
            for k in 0..<min(got.count, w.count) { maxDiff = max(maxDiff, abs(Int(got[k]) - Int(w[k]))) }
        }
        #expect(seen.count == probed, "frames ingested: \(seen.sorted())")
        // The kernels' fixed-point YUV matrix against libswscale's (PixelFormatOracleTests' YUV tolerance).
        #expect(maxDiff <= 3, "max difference from ffmpeg's rgb24: \(maxDiff)")
    }

    /// The `begin` line's fingerprint in OUT/.fleetprep/journal.jsonl.
    static func fingerprint(_ out: URL) throws -> String? {
        let text = try String(contentsOf: out.appendingPathComponent(".fleetprep/journal.jsonl"), encoding: .utf8)
        guard let first = text.split(separator: "\n").first,
              let obj = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any] else { return nil }
        return obj["fingerprint"] as? String
    }

    @Test func typedValuesRecordWhatTheEquivalentFlagsRecord() throws {
        let dir = IngestCLITests.tempDir("typed-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try Self.makeClip(in: dir)
        let typedOut = dir.appendingPathComponent("typed"), cliOut = dir.appendingPathComponent("cli")
        let config = try IngestConfiguration(
            inputs: [clip], output: typedOut,
            transform: TransformConfig(size: .init(width: 48, height: 32), crop: .pixels(x: 8, y: 4, width: 80, height: 56),
                                       filter: .area, dtype: .f32, layout: .hwc, normalize: .unit,
                                       matrix: .bt709, range: .full, channels: .bgr),
            stride: 2, maxGap: 0.5,
            format: .wds, digest: .sha256, target: .byteCount(3 << 20), fill: 0.5, alignment: 512,
            jobs: 2, decoderThreads: 1, inflightBytes: 32 << 20,
            limits: .init(maxPixels: 1 << 20, maxFrames: 5000, maxSidecarBytes: 1 << 20, maxSignals: 64))
        #expect(try IngestRun(configuration: config).run().exitStatus == .ok)
        let r = try TestPaths.fleetprep([
            "ingest", clip, "--out", cliOut.path, "--quiet", "--size", "48x32", "--crop", "8,4,80,56", "--filter", "area",
            "--dtype", "f32", "--layout", "hwc", "--normalize", "unit", "--matrix", "bt709", "--range", "full", "--channels", "bgr",
            "--stride", "2", "--max-gap", "0.5", "--format", "wds", "--digest", "sha256", "--target", "3MiB", "--fill", "0.5",
            "--alignment", "512", "--jobs", "2", "--decoder-threads", "1", "--inflight", "32MiB",
            "--max-pixels", "1048576", "--max-frames", "5000", "--max-sidecar-bytes", "1048576", "--max-signals", "64"])
        #expect(r.status == 0, "\(r.stderr)")

        let typed = try DatasetManifest.read(from: typedOut), cli = try DatasetManifest.read(from: cliOut)
        guard case .object(var t) = typed.transform, case .object(var c) = cli.transform else {
            Issue.record("index.json transform is not an object"); return
        }
        #expect(t["out"] == .string(typedOut.path) && c["out"] == .string(cliOut.path))
        t["out"] = nil; c["out"] = nil
        #expect(t == c, "typed \(JSONValue.object(t).jsonText)\n  cli \(JSONValue.object(c).jsonText)")
        #expect(t["target"] == .string("3MiB") && t["inflight"] == .string("32MiB") && t["crop"] == .string("8,4,80,56"))
        let ft = try Self.fingerprint(typedOut), fc = try Self.fingerprint(cliOut)
        #expect(ft != nil && ft == fc, "fingerprints \(ft ?? "none") and \(fc ?? "none")")
        #expect(typed.shards.map(\.digest) == cli.shards.map(\.digest), "the same samples, byte for byte")
    }

    /// The typed initializer runs the command line's checks: an error names the flag.
    @Test func typedValuesAreRangeChecked() {
        let out = URL(fileURLWithPath: "/tmp/never-written")
        let cases: [(String, () throws -> IngestConfiguration)] = [
            ("--stride", { try IngestConfiguration(output: out, stride: 0) }),
            ("--jobs", { try IngestConfiguration(output: out, jobs: 100_000) }),
            ("--size", { try IngestConfiguration(output: out, transform: TransformConfig(size: .init(width: 100_000, height: 8))) }),
            ("--normalize", { try IngestConfiguration(output: out, transform: TransformConfig(size: nil, dtype: .u8, normalize: .imagenet)) }),
            ("--inflight", { try IngestConfiguration(output: out, inflightBytes: 1024) }),
            ("--alignment", { try IngestConfiguration(output: out, alignment: 3) }),
            ("--fill", { try IngestConfiguration(output: out, fill: 1.5) }),
            ("--fps", { try IngestConfiguration(output: out, stride: 2, fps: 5) }),
            ("--cameras", { try IngestConfiguration(output: out, cameras: ["main", "main"]) }),
            ("--max-frames", { try IngestConfiguration(output: out, limits: .init(maxFrames: 0)) }),
        ]
        for (flag, make) in cases {
            do {
                _ = try make()
                Issue.record("\(flag): accepted")
            } catch {
                #expect("\(error)".contains(flag), "\(flag): \(error)")
            }
        }
        // Defaults are the command line's: u8 alone takes normalization none.
        let u8 = try? IngestConfiguration(output: out, transform: TransformConfig(size: nil, dtype: .u8))
        #expect(u8?.transform.normalization == Normalization.none)
        #expect(u8?.effective.normalize == "none" && u8?.effective.target == "512MiB" && u8?.effective.inflight == "256MiB")
    }
}
