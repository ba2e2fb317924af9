import Foundation
import Testing
@testable import FleetMedia
import FleetTestSupport

/// Raw H.264/HEVC elementary streams (Annex B, no container, no timestamps), made from the
/// sample clips with `ffmpeg -c copy -bsf:v *_mp4toannexb`: scan, full decode, selection
/// (`skip_frame`) and exact seeking, each against the ffmpeg CLI's framemd5 of the same raw file.
@Suite struct ElementaryStreamTests {
    static let ffmpeg = TestPaths.which("ffmpeg")

    /// (sample clip, raw extension, bitstream filter); the HEVC clip has one key frame per 2 s,
    /// the H.264 clip B-frames (so decode order differs from output order).
    static let streams = [("h264_1280x960.mp4", "h264", "h264_mp4toannexb"), ("hevc_1280x960.mp4", "hevc", "hevc_mp4toannexb")]

    struct Raw {
        let path: String
        let md5s: [String]
    }

    static func make(_ clip: String, _ ext: String, _ bsf: String) throws -> Raw {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-es-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("stream.\(ext)").path
        let (s, _, e) = try TestPaths.run(ffmpeg!, ["-v", "error", "-i", TestPaths.sample(clip), "-map", "0:v:0", "-c", "copy",
                                                    "-bsf:v", bsf, "-f", ext == "h264" ? "h264" : "hevc", path])
        #expect(s == 0, "\(e)")
        let (s2, out, e2) = try TestPaths.run(ffmpeg!, ["-v", "error", "-i", path, "-f", "framemd5", "-"])
        #expect(s2 == 0, "\(e2)")
        return Raw(path: path, md5s: parseFrameMD5(String(decoding: out, as: UTF8.self)))
    }

    @Test(.enabled(if: ffmpeg != nil, "the ffmpeg CLI is not installed"), arguments: streams)
    func scanAndFullDecodeEqualFFmpeg(clip: String, ext: String, bsf: String) throws {
        let raw = try Self.make(clip, ext, bsf)
        defer { try? FileManager.default.removeItem(atPath: (raw.path as NSString).deletingLastPathComponent) }
        let decoder = try VideoDecoder(path: raw.path)
        #expect(decoder.info.isElementaryStream)
        let index = try decoder.scanFrames()
        // Frames are numbered in output order: the scan counts one per access unit.
        #expect(index.pts == (0..<Int64(raw.md5s.count)).map { $0 })
        #expect(index.keyFrames.first == 0)
        var got: [(Int, String)] = []
        var times: [Double] = []
        try decoder.forEachFrame { f in
            got.append((f.index, MD5.hex(f.packedBytes())))
            times.append(f.time)
        }
        #expect(got.map(\.0) == Array(0..<raw.md5s.count))
        #expect(got.map(\.1) == raw.md5s)
        // No timestamps: frame i is at i / (the stream's nominal rate).
        let period = 1 / decoder.info.frameRate.doubleValue
        for (i, t) in times.enumerated() { #expect(abs(t - Double(i) * period) < 1e-9) }
    }

    @Test(.enabled(if: ffmpeg != nil, "the ffmpeg CLI is not installed"), arguments: streams)
    func selectionAndSeekDeliverExactFrames(clip: String, ext: String, bsf: String) throws {
        let raw = try Self.make(clip, ext, bsf)
        defer { try? FileManager.default.removeItem(atPath: (raw.path as NSString).deletingLastPathComponent) }
        let n = raw.md5s.count
        // Every 3rd frame: the rest may be skipped (skip_frame) where nothing references them.
        let decoder = try VideoDecoder(path: raw.path)
        let index = try decoder.scanFrames()
        let wanted = Set(stride(from: 0, to: n, by: 3).map { Int64($0) })
        decoder.select(timestamps: wanted, allTimestamps: index.pts)
        var got: [(Int, String)] = []
        try decoder.forEachFrame { got.append(($0.index, MD5.hex($0.packedBytes()))) }
        #expect(got.map(\.0) == stride(from: 0, to: n, by: 3).map { $0 })
        #expect(got.map(\.1) == got.map { raw.md5s[$0.0] })

        // Exact seeks, forward and back (an elementary stream starts over and decodes up to the frame).
        let seeker = try VideoDecoder(path: raw.path)
        let frames = try seeker.scanFrames()
        for target in [n / 2, 1, n - 1, 0, n / 3] {
            try seeker.seek(toFrame: target, in: frames)
            let f = try seeker.nextFrame { ($0.index, MD5.hex($0.packedBytes())) }
            #expect(f?.0 == target, "seek to \(target)")
            #expect(f?.1 == raw.md5s[target], "seek to \(target): pixels")
        }
    }
}
