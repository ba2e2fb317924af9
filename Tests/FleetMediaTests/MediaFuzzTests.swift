import FleetMedia
import FleetTestSupport
import Foundation
import Testing

/// Seeded mutations of small MP4 and MKV clips, opened, scanned and decoded in process: FleetPrep
/// errors are fine; a crash, a hang or an allocation beyond the limits is not. Counts in the
/// container headers (stts, stsz, EBML sizes) are among the mutated bytes.
@Suite struct MediaFuzzTests {
    static let clips = ["audio_first_192x108.mp4", "rotated90_160x96.mp4", "hevc10_320x240.mkv", "odd_321x241.mkv"]
    /// Mutations per clip; about 2,000 in all, well under a minute in release builds.
    static let rounds = 500

    /// Runs alone in a child process (`IsolatedTest`), so that the peak RSS it checks is its own.
    @Test func mutatedClipsNeverCrashHangOrOverAllocate() throws {
        guard IsolatedTest.inChild else {
            let child = try IsolatedTest.runAlone("MediaFuzzTests/mutatedClipsNeverCrashHangOrOverAllocate")
            #expect(child.passed, "the fuzz failed in its own process (exit \(child.status)):\n\(child.log.suffix(4000))")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetmedia-fuzz-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A hang cannot be interrupted in process: a watchdog fails the run loudly instead.
        let finished = LockedBox(false)
        let watchdog = Thread {
            let deadline = Date().addingTimeInterval(240)
            while Date() < deadline { if finished.get() { return }; Thread.sleep(forTimeInterval: 0.5) }
            if !finished.get() { fatalError("MediaFuzzTests: a mutated clip hung the decoder for 240 s") }
        }
        watchdog.start()
        defer { finished.set(true) }
        let options = DecoderOptions(threads: 1, lenient: false, maxPixels: 1 << 22, maxFrames: 2_000)
        var rng = SplitMix64(seed: 14)
        var opened = 0, decodedFrames = 0
        for name in Self.clips {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestPaths.sample(name))))
            let url = dir.appendingPathComponent("m-" + name)
            for _ in 0..<Self.rounds {
                var b = original
                let kind = rng.next() % 4
                // Most header boxes and EBML elements sit in the first few KiB.
                let span = UInt64(kind == 0 ? min(b.count, 4096) : b.count)
                switch kind {
                case 0, 1:
                    for _ in 0..<(1 + Int(rng.next() % 4)) { b[Int(rng.next() % span)] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                case 2:
                    let at = Int(rng.next() % UInt64(b.count - 4))
                    for k in 0..<4 { b[at + k] = 0xFF }
                default:
                    b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
                }
                try Data(b).write(to: url)
                guard let d = try? VideoDecoder(path: url.path, options: options) else { continue }
                opened += 1
                _ = try? d.scanFrames()
                do {
                    var n = 0
                    while n < 60, try d.nextFrame({ _ in true }) != nil { n += 1 }
                    decodedFrames += n
                } catch {}
            }
        }
        #expect(opened > Self.rounds / 2, "most mutations should still open (the fuzz reaches the decoder)")
        #expect(decodedFrames > 0)
        if let rss = testPeakResidentBytes() { #expect(rss < 1 << 30, "peak RSS \(rss) bytes") }
    }

    /// Raw H.264 and HEVC elementary streams (no container: the demuxers parse Annex B start
    /// codes, and frames are numbered in output order) made from two small sample clips with the
    /// ffmpeg CLI, mutated the same way: errors are fine, crashes and hangs are not.
    @Test(.enabled(if: TestPaths.which("ffmpeg") != nil, "needs the ffmpeg CLI to make the raw streams"))
    func mutatedElementaryStreamsNeverCrashOrHang() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetmedia-fuzz-es-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let finished = LockedBox(false)
        let watchdog = Thread {
            let deadline = Date().addingTimeInterval(180)
            while Date() < deadline { if finished.get() { return }; Thread.sleep(forTimeInterval: 0.5) }
            if !finished.get() { fatalError("MediaFuzzTests: a mutated elementary stream hung the decoder for 180 s") }
        }
        watchdog.start()
        defer { finished.set(true) }
        let options = DecoderOptions(threads: 1, lenient: false, maxPixels: 1 << 22, maxFrames: 2_000)
        var rng = SplitMix64(seed: 22)
        var opened = 0
        for (clip, ext, bsf) in [("rotated90_160x96.mp4", "h264", "h264_mp4toannexb"), ("hevc10_320x240.mkv", "hevc", "hevc_mp4toannexb")] {
            let raw = dir.appendingPathComponent("src.\(ext)").path
            let (s, _, e) = try TestPaths.run(TestPaths.which("ffmpeg")!, ["-v", "error", "-y", "-i", TestPaths.sample(clip), "-map", "0:v:0",
                                                                         "-c", "copy", "-bsf:v", bsf, "-f", ext, raw])
            try #require(s == 0, "\(e)")
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
            let url = dir.appendingPathComponent("m." + ext)
            for _ in 0..<250 {
                var b = original
                switch rng.next() % 3 {
                case 0: for _ in 0..<(1 + Int(rng.next() % 8)) { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                case 1: let at = Int(rng.next() % UInt64(b.count - 4)); for k in 0..<4 { b[at + k] = 0xFF }
                default: b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
                }
                try Data(b).write(to: url)
                guard let d = try? VideoDecoder(path: url.path, options: options) else { continue }
                opened += 1
                let index = try? d.scanFrames()
                if let index, index.pts.count > 3 { try? d.seek(toFrame: index.pts.count / 2, in: index) }
                var n = 0
                while n < 30, (try? d.nextFrame({ _ in true })) ?? nil != nil { n += 1 }
            }
        }
        #expect(opened > 250, "most mutations should still open (the fuzz reaches the decoder)")
    }
}
