import Foundation
import Testing
import FleetMedia
import FleetTestSupport

/// The real dashcam fixture in ../shared/fixtures/dashcam (present in CI and here; skipped elsewhere).
@Suite struct RealFootageTests {
    static let clip: String? = TestPaths.sharedFixtures.map { $0.appendingPathComponent("dashcam/solidWhiteRight.mp4").path }

    @Test(.enabled(if: clip != nil, "../shared/fixtures/dashcam is not present"))
    func dashcamFactsAndFrames() throws {
        let clip = Self.clip!
        let info = try VideoDecoder.probe(path: clip)
        // Facts from the fixture's README: stream 0 audio, stream 1 video, H.264 High, 960x540, 25 fps.
        #expect(info.streamIndex == 1)
        #expect(info.streamCount == 2)
        #expect(info.codec == "h264")
        #expect(info.profile == "High")
        #expect(info.width == 960 && info.height == 540)
        #expect(info.pixelFormat.name == "yuv420p")
        #expect(info.frameRate == Rational(25, 1))
        #expect(info.frameCountHint == 221)

        let decoder = try VideoDecoder(path: clip)
        var md5s: [String] = []
        var times: [Double] = []
        try decoder.forEachFrame { f in
            md5s.append(MD5.hex(f.packedBytes()))
            times.append(f.time)
        }
        #expect(md5s.count == 221)
        for (i, t) in times.enumerated() {
            #expect(abs(t - (info.startTime + Double(i) / 25)) < 1e-9, "frame \(i) at \(t)")
        }

        // The ffmpeg CLI as the oracle for every frame's pixels, when it is installed (CI installs it).
        guard let ffmpeg = TestPaths.which("ffmpeg") else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "CI must have the ffmpeg CLI")
            return
        }
        let (status, out, err) = try TestPaths.run(ffmpeg, ["-hide_banner", "-loglevel", "error", "-i", clip,
                                                           "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framemd5", "-"])
        #expect(status == 0, "\(err)")
        #expect(parseFrameMD5(String(decoding: out, as: UTF8.self)) == md5s)
    }
}

/// Opening, decoding and closing must free every FFmpeg object.
@Suite struct ResourceTests {
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/statm")))
    func thousandOpenDecodeCloseCyclesDoNotGrow() throws {
        let clip = TestPaths.sample("event_0001/main.mp4")
        func cycle() throws {
            let d = try VideoDecoder(path: clip)
            for _ in 0..<3 { _ = try d.nextFrame { $0.plane(0).row(0)[0] } }
            d.close()
            // And an error path: opening a bad file must not leak either.
            _ = try? VideoDecoder(path: TestPaths.bad("not_video.mp4"))
        }
        for _ in 0..<100 { try cycle() }   // warm-up: allocator pools, thread stacks
        // RSS is process-wide and other suites run concurrently, so measure rounds of 200 cycles
        // until one stays under the bound (4 KiB a cycle = 800 KiB a round), up to 20 rounds: a
        // leak grows every round, another test's allocations stop once that test ends (CI once
        // saw every one of three longer rounds overlap the ingest suites).
        var growth = Int.max, rounds = 0
        while rounds < 20 && growth >= 200 * 4096 {
            let before = Self.residentBytes()
            for _ in 0..<200 { try cycle() }
            growth = min(growth, Self.residentBytes() - before)
            rounds += 1
        }
        print("RSS growth over 200 open/decode/close cycles (least of \(rounds) rounds): \(growth / 1024) KiB")
        #expect(growth < 200 * 4096, "RSS grew by \(growth) bytes in each of \(rounds) rounds of 200 cycles")
    }
}
