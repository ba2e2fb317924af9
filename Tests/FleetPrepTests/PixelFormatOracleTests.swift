import FleetMedia
import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Every pixel format FFmpeg 5.1's decoders output for the codecs and containers we claim
/// (issue 22, item 6) goes through the real ingest path — the built `fleetprep ingest`, run as a
/// child process so that a crash is a failed test, not a dead test run — at u8 HWC, no resize,
/// normalize none, and every pixel of every frame is compared with the ffmpeg CLI's own
/// `ffmpeg -i CLIP -pix_fmt rgb24 -f rawvideo -` (the oracle; never our own output).
///
/// Each clip is made here with the ffmpeg CLI (10 frames of `testsrc2`, 160x120); a case whose
/// encoder this ffmpeg lacks is reported as skipped by name. Each case first checks (with
/// ffprobe) that the decoder really outputs the pixel format it is there for.
///
/// Tolerances (max abs difference in 8-bit levels): RGB sources (packed, planar, palette) 0 —
/// libswscale converts them to rgb24 exactly as the CLI does and the kernels only reorder them;
/// YUV and gray sources 3 (the kernels' fixed-point matrix against libswscale's, and chroma
/// siting at 4:2:0).
@Suite(.serialized, .enabled(if: TestPaths.which("ffmpeg") != nil && TestPaths.which("ffprobe") != nil,
                             "skipped: the ffmpeg CLI (which makes the clips and is the oracle) is not installed"))
struct PixelFormatOracleTests {
    struct Case: CustomStringConvertible, Sendable {
        /// The pixel format the decoder outputs (ffprobe's `pix_fmt`), the point of the case.
        var decoded: String
        var encoder: String
        /// `-pix_fmt` given to the encoder.
        var input: String
        var container: String
        var extra: [String] = []
        var rgb: Bool { ["pal8", "rgb24", "bgr24", "bgr0", "gbrp", "gbrp10le", "rgba", "rgb48be", "rgb555le", "bgra"].contains(decoded) }
        var tolerance: Int { rgb ? 0 : 3 }
        /// Formats for which `-pix_fmt rgb24` runs libswscale's generic scaler, which filters
        /// subsampled chroma (vertically, and for nv12 horizontally too) where its same-size
        /// converters — and the kernels at 1:1 — replicate it: up to ~120 levels apart at
        /// testsrc2's sharp colour edges. These are held to ffmpeg's conversion with replicated
        /// chroma (`scale=flags=neighbor+accurate_rnd+full_chroma_int`) within `tolerance`, and
        /// to `-pix_fmt rgb24` by PSNR (>= 30 dB).
        var nearestChromaOracle: Bool { ["nv12", "yuv420p10le", "yuv422p10le"].contains(decoded) }
        var description: String { "\(decoded) (\(encoder) in .\(container))" }
    }

    static let width = 160, height = 120, frames = 10

    static let cases: [Case] = [
        Case(decoded: "yuv420p", encoder: "libx264", input: "yuv420p", container: "mp4"),
        Case(decoded: "yuv422p", encoder: "libx264", input: "yuv422p", container: "mkv"),
        Case(decoded: "yuv444p", encoder: "libx264", input: "yuv444p", container: "mkv"),
        Case(decoded: "yuv420p10le", encoder: "libx265", input: "yuv420p10le", container: "mkv", extra: ["-x265-params", "log-level=error"]),
        Case(decoded: "yuv422p10le", encoder: "libx264", input: "yuv422p10le", container: "mkv"),
        Case(decoded: "yuv444p10le", encoder: "libx265", input: "yuv444p10le", container: "mkv", extra: ["-x265-params", "log-level=error"]),
        Case(decoded: "yuvj420p", encoder: "mjpeg", input: "yuvj420p", container: "avi"),
        Case(decoded: "nv12", encoder: "rawvideo", input: "nv12", container: "avi"),
        Case(decoded: "gray", encoder: "ffv1", input: "gray", container: "mkv"),
        Case(decoded: "gray", encoder: "png", input: "gray", container: "mkv"),
        Case(decoded: "gray10le", encoder: "ffv1", input: "gray10le", container: "mkv"),
        Case(decoded: "pal8", encoder: "png", input: "pal8", container: "mkv"),
        Case(decoded: "pal8", encoder: "png", input: "pal8", container: "mov"),
        Case(decoded: "pal8", encoder: "bmp", input: "pal8", container: "avi"),
        Case(decoded: "pal8", encoder: "rawvideo", input: "pal8", container: "avi"),
        Case(decoded: "rgb24", encoder: "png", input: "rgb24", container: "mkv"),
        Case(decoded: "bgr24", encoder: "bmp", input: "bgr24", container: "avi"),
        Case(decoded: "rgb555le", encoder: "bmp", input: "rgb555le", container: "avi"),
        Case(decoded: "rgba", encoder: "png", input: "rgba", container: "mkv"),
        Case(decoded: "rgb48be", encoder: "png", input: "rgb48be", container: "mkv"),
        Case(decoded: "bgr0", encoder: "ffv1", input: "bgr0", container: "mkv"),
        Case(decoded: "gbrp", encoder: "utvideo", input: "gbrp", container: "mkv"),
        Case(decoded: "gbrp", encoder: "libx265", input: "gbrp", container: "mkv", extra: ["-x265-params", "log-level=error:lossless=1"]),
        Case(decoded: "gbrp10le", encoder: "ffv1", input: "gbrp10le", container: "mkv"),
        // Containers without pts on every packet, and FLV (streams created as packets arrive).
        Case(decoded: "yuv420p", encoder: "mpeg2video", input: "yuv420p", container: "mpg"),
        Case(decoded: "yuv420p", encoder: "flv", input: "yuv420p", container: "flv"),
    ]

    static func tool(_ name: String, _ args: [String]) throws -> (Int32, Data, String) {
        try TestPaths.run(TestPaths.which(name)!, args)
    }

    static let encoders: String = {
        (try? tool("ffmpeg", ["-hide_banner", "-encoders"])).map { String(decoding: $0.1, as: UTF8.self) } ?? ""
    }()

    static func hasEncoder(_ name: String) -> Bool {
        encoders.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == name }
    }

    /// Makes the case's clip in `dir` (nil when the encoder is missing).
    static func makeClip(_ c: Case, in dir: URL, name: String = "clip") throws -> String? {
        guard hasEncoder(c.encoder) else { return nil }
        let path = dir.appendingPathComponent("\(name).\(c.container)").path
        let (s, _, err) = try tool("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=\(width)x\(height):r=10",
                                              "-frames:v", String(frames), "-c:v", c.encoder, "-pix_fmt", c.input] + c.extra + [path])
        #expect(s == 0, "\(c): ffmpeg could not make the clip: \(err)")
        return path
    }

    /// ffprobe's pixel format of the clip's video stream.
    static func probedFormat(_ clip: String) throws -> String {
        let (_, out, _) = try tool("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=pix_fmt",
                                               "-of", "default=nw=1:nk=1", clip])
        return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The oracle: every frame as the ffmpeg CLI's rgb24 (`-pix_fmt rgb24`, or with
    /// `nearestChroma` its conversion with replicated chroma).
    static func oracle(_ clip: String, nearestChroma: Bool = false) throws -> [[UInt8]] {
        let conversion = nearestChroma ? ["-vf", "scale=flags=neighbor+accurate_rnd+full_chroma_int,format=rgb24"] : ["-pix_fmt", "rgb24"]
        let (s, out, err) = try tool("ffmpeg", ["-v", "error", "-i", clip, "-map", "0:v:0", "-fps_mode", "passthrough"]
                                     + conversion + ["-f", "rawvideo", "-"])
        #expect(s == 0, "\(err)")
        let frame = width * height * 3
        let bytes = [UInt8](out)
        return stride(from: 0, to: bytes.count - frame + 1, by: frame).map { Array(bytes[$0..<($0 + frame)]) }
    }

    struct Ingested {
        var status: Int32
        var stderr: String
        /// Tensor bytes and time of each sample, by frame index.
        var frames: [Int: (bytes: [UInt8], time: Double)] = [:]
        var errors: [[String: Any]] = []
    }

    /// `fleetprep ingest CLIP` at u8 HWC, no resize, normalize none (plus `extra`).
    static func ingest(_ clip: String, _ extra: [String] = []) throws -> Ingested {
        let out = IngestCLITests.tempDir("pixfmt")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try TestPaths.fleetprep(["ingest", clip, "--out", out.path, "--dtype", "u8", "--normalize", "none",
                                         "--layout", "hwc", "--format", "native", "--quiet", "--jobs", "1"] + extra)
        var got = Ingested(status: r.status, stderr: r.stderr)
        got.errors = HostileInputTests.errors(out)
        guard r.status == 0 || FileManager.default.fileExists(atPath: out.appendingPathComponent("index.json").path),
              let ds = try? ShardDataset(directory: out) else { return got }
        for i in 0..<ds.count {
            let rec = try ds.record(at: i)
            guard case .object(let meta) = rec.metadata, case .array(let idx)? = meta["frame_index"],
                  case .number(let f)? = idx.first, case .number(let t)? = meta["time"] else {
                Issue.record("metadata of \(rec.key) lacks frame_index/time"); continue
            }
            got.frames[Int(f)] = (rec.withTensorBytes { [UInt8]($0) }, t)
        }
        return got
    }

    /// Largest absolute difference and PSNR (dB, peak 255) of every frame against `want`.
    static func compare(_ c: Case, _ run: Ingested, _ want: [[UInt8]]) -> (maxDiff: Int, psnr: Double) {
        var m = 0, se = 0.0, n = 0
        for (i, w) in want.enumerated() {
            guard let got = run.frames[i]?.bytes else { continue }
            guard got.count == w.count else { Issue.record("\(c): frame \(i) has \(got.count) bytes, want \(w.count)"); continue }
            for k in w.indices {
                let d = Int(got[k]) - Int(w[k])
                m = max(m, abs(d)); se += Double(d * d)
            }
            n += w.count
        }
        return (m, se == 0 ? .infinity : 10 * log10(255 * 255 * Double(n) / se))
    }

    /// Ingests the clip and compares every frame with the oracle; returns the max difference.
    @discardableResult
    static func check(_ c: Case, clip: String, _ extra: [String] = []) throws -> Int? {
        let run = try ingest(clip, extra)
        #expect(run.status == 0, "\(c) \(extra): fleetprep ingest exited \(run.status) (139 = segfault): \(run.stderr) \(run.errors)")
        #expect(run.errors.isEmpty, "\(c) \(extra): \(run.errors)")
        let want = try oracle(clip)
        #expect(want.count == frames, "\(c): ffmpeg decoded \(want.count) frames")
        #expect(run.frames.count == want.count, "\(c) \(extra): ingest wrote \(run.frames.count) frames, ffmpeg decodes \(want.count)")
        let plain = compare(c, run, want)
        var line = "pixel format oracle: \(c) \(extra.joined(separator: " ")): -pix_fmt rgb24 max difference \(plain.maxDiff), PSNR \(plain.psnr) dB"
        defer { print(line + " over \(run.frames.count) frames") }
        if c.nearestChromaOracle {
            let nearest = compare(c, run, try oracle(clip, nearestChroma: true))
            line += "; replicated-chroma oracle max difference \(nearest.maxDiff), PSNR \(nearest.psnr) dB"
            #expect(nearest.maxDiff <= c.tolerance, "\(c) \(extra): max difference from ffmpeg's replicated-chroma rgb24 is \(nearest.maxDiff) (tolerance \(c.tolerance))")
            #expect(plain.psnr >= 30, "\(c) \(extra): PSNR against ffmpeg's -pix_fmt rgb24 is \(plain.psnr) dB")
            return nearest.maxDiff
        }
        #expect(plain.maxDiff <= c.tolerance, "\(c) \(extra): max difference from ffmpeg's rgb24 is \(plain.maxDiff) (tolerance \(c.tolerance))")
        return plain.maxDiff
    }

    @Test(arguments: cases)
    func decodesLikeFFmpegRGB24(_ c: Case) throws {
        let dir = IngestCLITests.tempDir("pixfmt-clip")
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let clip = try Self.makeClip(c, in: dir) else {
            print("skipped: \(c): this ffmpeg has no \(c.encoder) encoder")
            return
        }
        #expect(try Self.probedFormat(clip) == c.decoded, "\(c): the clip does not decode to \(c.decoded)")
        try Self.check(c, clip: clip)
    }

    /// RGB sources ignore the YUV matrix and range options: `--matrix bt601` / `bt709` (and
    /// `--range limited`) change nothing (issue 22: FFV1 bgr0 came out 19 and 52 levels off).
    @Test(arguments: cases.filter { ["bgr0", "rgb24", "gbrp", "pal8"].contains($0.decoded) && $0.container != "mov" })
    func rgbSourcesIgnoreTheMatrixOptions(_ c: Case) throws {
        let dir = IngestCLITests.tempDir("pixfmt-rgb")
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let clip = try Self.makeClip(c, in: dir) else {
            print("skipped: \(c): this ffmpeg has no \(c.encoder) encoder")
            return
        }
        for extra in [["--matrix", "bt601"], ["--matrix", "bt709"], ["--matrix", "bt2020", "--range", "limited"]] {
            try Self.check(c, clip: clip, extra)
        }
    }

    /// Frame times where packets lack pts (MPEG-PS: here the last packet has none; with B-frames
    /// several do): ingest's sample times are ffprobe's frame times with `-fflags +genpts` — the
    /// same as plain ffprobe's best-effort timestamps where it has one (it reports none for the
    /// last frame).
    @Test(arguments: [("mpg", [String]()), ("mpeg", ["-bf", "2"]), ("mpg", ["-bf", "2", "-g", "6"])])
    func mpegPSFrameTimesMatchFFprobe(_ ext: String, _ encoderArgs: [String]) throws {
        let dir = IngestCLITests.tempDir("pixfmt-ps")
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = Case(decoded: "yuv420p", encoder: "mpeg2video", input: "yuv420p", container: ext, extra: encoderArgs)
        guard let clip = try Self.makeClip(c, in: dir) else {
            print("skipped: this ffmpeg has no mpeg2video encoder")
            return
        }
        try Self.check(c, clip: clip)
        let run = try Self.ingest(clip)
        func times(_ args: [String]) throws -> [Double?] {
            let (_, out, _) = try Self.tool("ffprobe", ["-v", "error"] + args + ["-select_streams", "v:0", "-show_entries",
                                                        "frame=best_effort_timestamp_time", "-of", "csv=p=0", clip])
            return String(decoding: out, as: UTF8.self).split(separator: "\n")
                .map { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", "))) }
        }
        let genpts = try times(["-fflags", "+genpts"]), plain = try times([])
        #expect(genpts.count == Self.frames && genpts.allSatisfy { $0 != nil }, "ffprobe +genpts: \(genpts)")
        #expect(run.frames.count == Self.frames)
        for i in 0..<min(genpts.count, Self.frames) {
            guard let got = run.frames[i]?.time, let want = genpts[i] else { continue }
            #expect(abs(got - want) < 1e-6, "frame \(i): ingest time \(got), ffprobe +genpts \(want)")
            if i < plain.count, let p = plain[i] { #expect(abs(got - p) < 1e-6, "frame \(i): ingest time \(got), ffprobe \(p)") }
        }
    }
}
