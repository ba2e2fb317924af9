import Foundation
import Testing
import FleetMedia
import FleetTestSupport

/// Decoding every sample clip against the oracles recorded by SampleClips/make-clips.sh:
/// ffprobe's stream facts and frame timestamps, and the ffmpeg CLI's md5 of every decoded frame.
@Suite struct DecodeOracleTests {
    static let clips = TestPaths.allSampleClips()

    @Test func sampleClipsExist() {
        #expect(Self.clips.count >= 17, "expected the bundled sample clips, found \(Self.clips.count)")
    }

    @Test(arguments: clips)
    func factsMatchFFprobe(clip: String) throws {
        let oracle = try ProbeOracle(clip: clip)
        let v = oracle.videoStream
        let info = try VideoDecoder.probe(path: clip)
        #expect(info.path == clip)
        #expect(info.container == oracle.formatName)
        #expect(info.codec == v.codecName)
        #expect(info.streamIndex == v.index)
        #expect(info.streamCount == oracle.streamCount)
        #expect(info.width == v.width && info.height == v.height)
        #expect(info.pixelFormat.name == v.pixFmt)
        #expect(info.profile == v.profile)
        #expect("\(info.timeBase)" == v.timeBase)
        // ffprobe writes "0/0" for an unknown average rate; FleetMedia's unknown rate prints the same.
        #expect("\(info.frameRate)" == v.avgFrameRate)
        #expect(info.rotation == (v.rotation ?? 0))
        #expect(info.colorSpace.name == (v.colorSpace ?? "unknown"))
        #expect(info.colorRange.rawValue == (v.colorRange ?? "unknown"))
        #expect(info.bitDepth == (v.pixFmt?.contains("10") == true ? 10 : 8))
    }

    @Test(arguments: clips)
    func framesTimestampsAndPixelsMatchFFmpeg(clip: String) throws {
        let oracle = try ProbeOracle(clip: clip)
        let md5s = try frameMD5Oracle(clip: clip)
        let decoder = try VideoDecoder(path: clip)
        var n = 0
        try decoder.forEachFrame { frame in
            #expect(frame.index == n)
            if n < oracle.frames.count {
                let f = oracle.frames[n]
                #expect(frame.pts == f.pts, "frame \(n) pts")
                if let t = f.time { #expect(abs(frame.time - t) < 1e-6, "frame \(n) time \(frame.time) vs \(t)") }
            }
            if n < md5s.count {
                #expect(MD5.hex(frame.packedBytes()) == md5s[n], "frame \(n) pixels differ from ffmpeg's")
            }
            n += 1
        }
        #expect(n == oracle.frames.count)
        #expect(n == md5s.count)
    }

    @Test func timesIncreaseAndVFRGapsAreKept() throws {
        // vfr_160x120.mkv: every 4th frame (n % 4 == 1) is 12 ms late.
        let decoder = try VideoDecoder(path: TestPaths.sample("vfr_160x120.mkv"))
        var times: [Double] = []
        try decoder.forEachFrame { times.append($0.time) }
        #expect(times.count == 45)
        for (n, t) in times.enumerated() {
            let expected = Double(n) / 30 + (n % 4 == 1 ? 0.012 : 0)
            #expect(abs(t - expected) <= 0.001 + 1e-9, "frame \(n): \(t) vs \(expected)")  // 1 ms time base
        }
    }

    @Test func threadsDoNotChangePixels() throws {
        let clip = TestPaths.sample("hevc10_320x240.mkv")
        let md5s = try frameMD5Oracle(clip: clip)
        for threads in [1, 2, 4] {
            let decoder = try VideoDecoder(path: clip, options: DecoderOptions(threads: threads))
            var got: [String] = []
            try decoder.forEachFrame { got.append(MD5.hex($0.packedBytes())) }
            #expect(got == md5s, "threads=\(threads)")
        }
    }

    @Test func seekLandsOnTheFirstFrameAtOrAfterTheTarget() throws {
        let clip = TestPaths.sample("h264_1280x960.mp4")
        let oracle = try ProbeOracle(clip: clip)
        let md5s = try frameMD5Oracle(clip: clip)
        let decoder = try VideoDecoder(path: clip)
        for target in [2.0, 0.5, 3.3, 0.0] {
            try decoder.seek(to: target)
            let expected = oracle.frames.firstIndex { ($0.time ?? 0) >= target - 1e-9 }!
            let got = try decoder.nextFrame { ($0.index, $0.time, MD5.hex($0.packedBytes())) }
            #expect(got?.0 == expected, "seek \(target)")
            #expect(got.map { abs($0.1 - oracle.frames[expected].time!) < 1e-6 } == true)
            #expect(got?.2 == md5s[expected])
        }
        #expect(throws: MediaError.self) { try decoder.seek(to: -1) }
    }

    @Test func retainedFrameOutlivesTheNextDecode() throws {
        let clip = TestPaths.sample("event_0001/main.mp4")
        let md5s = try frameMD5Oracle(clip: clip)
        let decoder = try VideoDecoder(path: clip)
        let first = try decoder.nextFrame { decoder.retainCurrentFrame($0) }!!
        for _ in 0..<10 { _ = try decoder.nextFrame { _ in } }
        #expect(MD5.hex(first.view.packedBytes()) == md5s[0])
    }

    @Test func discardNonReferenceSkipsBFrames() throws {
        // h264_1280x960.mp4 has B-frames (-bf 2); x264 leaves them unreferenced by default.
        let clip = TestPaths.sample("h264_1280x960.mp4")
        let all = try VideoDecoder(path: clip).countFrames()
        let refs = try VideoDecoder(path: clip, options: DecoderOptions(discard: .nonReference)).countFrames()
        let keys = try VideoDecoder(path: clip, options: DecoderOptions(discard: .nonKey)).countFrames()
        #expect(all == 144)
        #expect(refs < all && refs > keys)
        #expect(keys == 4)
    }
}
