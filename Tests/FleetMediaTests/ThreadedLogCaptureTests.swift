import FleetMedia
import FleetTestSupport
import Foundation
import Testing

/// FFmpeg logs a decoding error on the frame thread that decoded the picture, not on the thread
/// that called the decoder: the error's message must still carry FFmpeg's words (issue 17).
/// Oracle: the lines the ffmpeg CLI logs for the same damaged file with 4 threads.
@Suite(.enabled(if: TestPaths.which("ffmpeg") != nil, "skipped: the ffmpeg CLI (which makes the clip and is the oracle) is not installed"))
struct ThreadedLogCaptureTests {
    @Test func corruptClipDecodedOnFourThreadsReportsFFmpegsLine() throws {
        let ffmpeg = TestPaths.which("ffmpeg")!
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetprep-logcapture-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clean = dir.appendingPathComponent("clean.h264").path, bad = dir.appendingPathComponent("bad.h264").path
        let made = try TestPaths.run(ffmpeg, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2",
                                             "-c:v", "libx264", "-g", "50", "-bf", "0", "-pix_fmt", "yuv420p", "-f", "h264", clean])
        #expect(made.0 == 0, "\(made.2)")
        // Flip 40 bytes in the last two thirds (the stream headers and first frames stay intact).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clean)))
        var rng = SplitMix64(seed: 7)
        for _ in 0..<40 { bytes[bytes.count / 3 + Int(rng.next() % UInt64(bytes.count - bytes.count / 3))] ^= 0x55 }
        try Data(bytes).write(to: URL(fileURLWithPath: bad))

        // ffmpeg's own error lines, without the "[h264 @ 0x…] " prefix.
        let oracle = try TestPaths.run(ffmpeg, ["-hide_banner", "-threads", "4", "-v", "error", "-i", bad, "-f", "null", "-"])
        let lines = Set(oracle.2.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("[h264 @"), let close = line.firstIndex(of: "]") else { return nil }
            return String(line[line.index(close, offsetBy: 2)...])
        })
        #expect(!lines.isEmpty, "ffmpeg reported no decoding error: \(oracle.2)")

        let decoder = try VideoDecoder(path: bad, options: DecoderOptions(threads: 4))
        do {
            try decoder.forEachFrame { _ in }
            Issue.record("the damaged clip decoded without an error")
        } catch let e as MediaError {
            #expect(e.kind == .corruptData || e.kind == .truncated, "\(e)")
            #expect(lines.contains { e.message.contains($0) }, "\(e.message)\nffmpeg said: \(lines.sorted())")
        }
        decoder.close()
    }
}
