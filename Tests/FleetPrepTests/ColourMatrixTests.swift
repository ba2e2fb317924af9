import FleetMedia
import FleetPrep
import FleetTestSupport
import Foundation
import Testing

/// The matrix a stream declares reaches the kernels as a closed enum (issue 17): BT.2020
/// non-constant luminance is converted as BT.2020 (oracle: the ffmpeg CLI's own BT.2020
/// conversion of the same frame), and a matrix the kernels do not have fails the clip by name
/// instead of being converted as BT.601.
@Suite(.serialized, .enabled(if: TestPaths.which("ffmpeg") != nil, "skipped: the ffmpeg CLI (which makes the clips and is the oracle) is not installed"))
struct ColourMatrixTests {
    static func ffmpeg(_ args: [String]) throws -> Data {
        let (status, out, err) = try TestPaths.run(TestPaths.which("ffmpeg")!, ["-v", "error", "-y"] + args)
        #expect(status == 0, "ffmpeg \(args): \(err)")
        return out
    }

    /// A 160x120 H.264 clip whose stream declares `colorspace`.
    static func clip(_ dir: URL, _ colorspace: String) throws -> String {
        let path = dir.appendingPathComponent("\(colorspace).mp4").path
        _ = try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=0.3", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                        "-colorspace", colorspace, "-color_range", "tv", path])
        return path
    }

    /// ffmpeg's rgb24 of the first frame with the given matrix (same size, nearest chroma, as the
    /// kernels do without a resize).
    static func oracle(_ clip: String, matrix: String) throws -> [UInt8] {
        [UInt8](try ffmpeg(["-i", clip, "-frames:v", "1", "-vf",
                            "scale=flags=neighbor+accurate_rnd+full_chroma_int:in_color_matrix=\(matrix):in_range=tv,format=rgb24",
                            "-f", "rawvideo", "-"]))
    }

    /// Streams `clip` as raw u8 HWC at its own size: the first sample's bytes, the sample count
    /// and the failures.
    static func stream(_ clip: String) async throws -> (first: [UInt8]?, count: Int, failures: [ClipFailure]) {
        var o = IngestOptions()
        o.inputs = [clip]
        o.dtype = "u8"; o.normalize = "none"; o.layout = "hwc"
        o.jobs = 1
        let stream = SampleStream(configuration: try IngestConfiguration(options: o))
        var first: [UInt8]? = nil, count = 0
        for try await s in stream {
            if first == nil { first = s.tensorBytes }
            count += 1
        }
        return (first, count, stream.failures)
    }

    /// Makes a clip declaring `colorspace`, checks that FleetMedia reads it as `matrix`, streams
    /// it and hands the clip and the run to `body`.
    static func withTaggedClip(_ colorspace: String, matrix: StreamColorMatrix,
                               _ body: (String, (first: [UInt8]?, count: Int, failures: [ClipFailure])) throws -> Void) async throws {
        let dir = IngestCLITests.tempDir(colorspace)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try Self.clip(dir, colorspace)
        #expect(try VideoDecoder.probe(path: clip).matrix == matrix)
        try body(clip, try await Self.stream(clip))
    }

    @Test func bt2020StreamIsConvertedAsBT2020() async throws {
        try await Self.withTaggedClip("bt2020nc", matrix: .bt2020ncl) { clip, run in
            #expect(run.failures.isEmpty, "\(run.failures)")
            let got = try #require(run.first)
            let bt2020 = try Self.oracle(clip, matrix: "bt2020"), bt601 = try Self.oracle(clip, matrix: "bt601")
            let (p2020, m2020) = got.withUnsafeBytes { IngestCLITests.psnr($0, bt2020) }
            let (p601, _) = got.withUnsafeBytes { IngestCLITests.psnr($0, bt601) }
            #expect(p2020 >= 40, "against ffmpeg's BT.2020: PSNR \(p2020) dB, max error \(m2020)")
            #expect(p601 < p2020 - 5, "BT.601 would match as well (\(p601) dB): the clip does not tell the matrices apart")
        }
    }

    @Test func unsupportedMatrixFailsTheClipByName() async throws {
        try await Self.withTaggedClip("smpte240m", matrix: .unsupported) { _, run in
            #expect(run.count == 0)
            #expect(run.failures.count == 1)
            #expect(run.failures.first?.message.contains("unsupported colour matrix smpte240m") == true, "\(run.failures)")
        }
    }
}
