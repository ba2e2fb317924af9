import Foundation
import Testing
import FleetTestSupport

/// `fleetprep probe`, run as a built executable and compared with ffprobe's recorded facts.
@Suite struct ProbeCLITests {
    @Test func jsonLinesMatchFFprobeAndBadFilesDoNotStopTheOthers() throws {
        let good = ["SampleClips/odd_321x241.mkv", "SampleClips/audio_first_192x108.mp4", "SampleClips/hevc10_320x240.mkv"]
        let bad = ["Tests/Fixtures/empty.mp4", "Tests/Fixtures/audio_only.m4a", "Tests/Fixtures/missing.mp4"]
        let r = try TestPaths.fleetprep(["probe", "--json", "--count-frames", good[0], bad[0], good[1], bad[1], bad[2], good[2]])
        #expect(r.status == 1, "any failed file makes the exit status non-zero")
        let lines = r.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 6)
        for obj in lines {
            let path = obj["path"] as! String
            if good.contains(path) {
                let oracle = try ProbeOracle(clip: TestPaths.repoRoot.appendingPathComponent(path).path)
                let info = obj["info"] as! [String: Any]
                #expect(info["width"] as? Int == oracle.videoStream.width)
                #expect(info["height"] as? Int == oracle.videoStream.height)
                #expect(info["codec"] as? String == oracle.videoStream.codecName)
                #expect(info["pixelFormat"] as? String == oracle.videoStream.pixFmt)
                #expect(info["streamIndex"] as? Int == oracle.videoStream.index)
                #expect(obj["frames"] as? Int == oracle.frames.count)
                #expect(obj["error"] == nil)
            } else {
                #expect(bad.contains(path))
                let err = obj["error"] as! [String: Any]
                let expectedKind = ["Tests/Fixtures/empty.mp4": "not-media", "Tests/Fixtures/audio_only.m4a": "no-video-stream",
                                    "Tests/Fixtures/missing.mp4": "file-not-found"][path]
                #expect(err["kind"] as? String == expectedKind)
            }
        }
    }

    @Test func tableHasOneRowPerGoodFileAndErrorsOnStderr() throws {
        let r = try TestPaths.fleetprep(["probe", "SampleClips/h264_1280x960.mp4", "Tests/Fixtures/not_video.mp4"])
        #expect(r.status == 1)
        let rows = r.stdout.split(separator: "\n")
        #expect(rows.count == 2)
        #expect(rows[0].hasPrefix("FILE\t"))
        #expect(rows[1].hasPrefix("SampleClips/h264_1280x960.mp4\tmov,mp4,m4a,3gp,3g2,mj2\th264\tHigh\t1280x960\tyuv420p\t8\t"))
        #expect(r.stderr.contains("Tests/Fixtures/not_video.mp4: not-media:"))
        #expect(r.stderr.contains("moov atom not found"), "FFmpeg's own reason travels with the error")
    }

    @Test func allGoodExitsZero() throws {
        let r = try TestPaths.fleetprep(["probe", "SampleClips/mjpeg_176x144.avi"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("mjpeg_176x144.avi\tavi\tmjpeg\t"))
    }

    @Test func badOptionIsRejectedBeforeWork() throws {
        let r = try TestPaths.fleetprep(["probe", "--threads", "-3", "SampleClips/mjpeg_176x144.avi"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--threads"))
        #expect(r.stdout.isEmpty)
    }
}
