import Foundation
import Testing
@testable import FleetMedia
import FleetTestSupport

/// Demux-only frame index (pts + key frames) and exact seeking, checked against ffprobe's recorded
/// frames (pts, key_frame) and the ffmpeg CLI's framemd5 of a full decode.
@Suite struct SeekTests {
    static let seekClips = ["h264_1280x960.mp4", "hevc_1280x960.mp4", "event_0001/rear.mp4", "vfr_160x120.mkv"]

    /// The oracle's view of a clip: frame pts, key frames and md5s, in presentation order.
    struct Oracle {
        let pts: [Int64]
        let keyFrames: [Int]
        let times: [Double]
        let md5s: [String]
        init(_ clip: String) throws {
            let probe = try ProbeOracle(clip: clip)
            pts = probe.frames.map { $0.pts! }
            keyFrames = probe.frames.indices.filter { probe.frames[$0].keyFrame }
            // Exact times from ffprobe's pts and time base (its *_time fields are rounded to 1 µs).
            let tb = probe.videoStream.timeBase.split(separator: "/").map { Double($0)! }
            times = pts.map { Double($0) * tb[0] / tb[1] }
            md5s = try frameMD5Oracle(clip: clip)
        }
    }

    /// Decodes up to `count` frames and checks each is the next one after `start` in the oracle
    /// (pixels of the first `md5Count` only: the test-only MD5 is slow in debug builds).
    func expectFrames(_ decoder: VideoDecoder, from start: Int, count: Int, _ oracle: Oracle, _ what: String,
                      md5Count: Int = .max, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let end = min(start + count, oracle.pts.count)
        for i in start..<end {
            let hash = i - start < md5Count
            let got = try decoder.nextFrame { ($0.index, $0.pts, hash ? MD5.hex($0.packedBytes()) : nil) }
            #expect(got?.0 == i, "\(what): frame index", sourceLocation: sourceLocation)
            #expect(got?.1 == oracle.pts[i], "\(what): frame \(i) pts", sourceLocation: sourceLocation)
            if hash { #expect(got?.2 == oracle.md5s[i], "\(what): frame \(i) pixels", sourceLocation: sourceLocation) }
        }
        if end == oracle.pts.count {
            #expect(try decoder.nextFrame { _ in } == nil, "\(what): no frame after the last", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: TestPaths.allSampleClips())
    func scannedFramesEqualFFprobesFramesAndKeyFrames(clip: String) throws {
        let oracle = try Oracle(clip)
        let decoder = try VideoDecoder(path: clip)
        let index = try decoder.scanFrames()
        #expect(index.pts == oracle.pts)
        #expect(index.keyFrames == oracle.keyFrames)
        #expect(try decoder.scanTimestamps() == index.pts)
        // A fresh decoder scans through its own demuxer (one open file for scan and decode) and is
        // then back at frame 0: a full decode afterwards gives every frame of the ffmpeg oracle.
        try expectFrames(decoder, from: 0, count: oracle.pts.count, oracle, "\(clip) after an in-place scan", md5Count: 12)
    }

    @Test func keyFrameAtOrBefore() {
        let index = FrameIndex(pts: Array(0..<10), keyFrames: [2, 5, 9])
        #expect(index.keyFrame(atOrBefore: 0) == nil)
        #expect(index.keyFrame(atOrBefore: 1) == nil)
        #expect(index.keyFrame(atOrBefore: 2) == 2)
        #expect(index.keyFrame(atOrBefore: 4) == 2)
        #expect(index.keyFrame(atOrBefore: 5) == 5)
        #expect(index.keyFrame(atOrBefore: 8) == 5)
        #expect(index.keyFrame(atOrBefore: 9) == 9)
        #expect(index.keyFrame(atOrBefore: 100) == 9)
        #expect(FrameIndex(pts: [], keyFrames: []).keyFrame(atOrBefore: 3) == nil)
    }

    /// Frame 0, key frames and their neighbours, a middle frame and the last frame, in an order that
    /// seeks forward and backward, each followed by a few frames decoded forward.
    @Test(arguments: seekClips)
    func seekToFrameDeliversExactlyThatFrame(name: String) throws {
        let clip = TestPaths.sample(name)
        let oracle = try Oracle(clip)
        let n = oracle.pts.count
        var targets = [n / 2, 0]
        for k in oracle.keyFrames.reversed() {
            targets += [k, k + 1, k - 1].filter { $0 >= 0 && $0 < n }
        }
        targets += [n - 1, 1, n - 2, 0]
        let decoder = try VideoDecoder(path: clip)
        let index = try decoder.scanFrames()
        for target in targets {
            try decoder.seek(toFrame: target, in: index)
            try expectFrames(decoder, from: target, count: 4, oracle, "\(name) seek to frame \(target)")
        }
    }

    @Test(arguments: seekClips)
    func seekBackAfterDecodingForward(name: String) throws {
        let clip = TestPaths.sample(name)
        let oracle = try Oracle(clip)
        let decoder = try VideoDecoder(path: clip)
        let index = try decoder.scanFrames()
        try expectFrames(decoder, from: 0, count: 40, oracle, "\(name) first 40", md5Count: 2)
        let back = [oracle.keyFrames.last! + 1, 3, 0]
        for target in back {
            try decoder.seek(toFrame: target, in: index)
            try expectFrames(decoder, from: target, count: 6, oracle, "\(name) back to \(target)")
        }
        // After a seek, decoding to the end delivers every remaining frame without a (false)
        // truncation error.
        try decoder.seek(toFrame: 5, in: index)
        try expectFrames(decoder, from: 5, count: oracle.pts.count, oracle, "\(name) from 5 to the end", md5Count: 3)
    }

    @Test(arguments: seekClips)
    func seekToTimeLandsOnTheFirstFrameAtOrAfterIt(name: String) throws {
        let clip = TestPaths.sample(name)
        let oracle = try Oracle(clip)
        let n = oracle.pts.count
        let decoder = try VideoDecoder(path: clip)
        let index = try decoder.scanFrames()
        for i in [n - 1, 1, n / 2, oracle.keyFrames.last!, oracle.keyFrames.last! + 2].filter({ $0 > 0 && $0 < n }) {
            let between = (oracle.times[i - 1] + oracle.times[i]) / 2
            try decoder.seek(toTime: between, in: index)
            try expectFrames(decoder, from: i, count: 3, oracle, "\(name) seek to \(between) s")
            try decoder.seek(toTime: oracle.times[i], in: index)
            try expectFrames(decoder, from: i, count: 1, oracle, "\(name) seek to frame \(i)'s time")
        }
        try decoder.seek(toTime: -5, in: index)
        try expectFrames(decoder, from: 0, count: 2, oracle, "\(name) seek before the start")
    }

    @Test(arguments: seekClips)
    func seekWithSelectionDeliversOnlySelectedFramesFromTheTarget(name: String) throws {
        let step = 3
        let clip = TestPaths.sample(name)
        let oracle = try Oracle(clip)
        let decoder = try VideoDecoder(path: clip)
        let index = try decoder.scanFrames()
        let wanted = Array(stride(from: 0, to: index.pts.count, by: step))
        decoder.select(timestamps: Set(wanted.map { index.pts[$0] }), allTimestamps: index.pts)
        for target in [index.pts.count / 2 + 1, oracle.keyFrames.last!, 1] {
            try decoder.seek(toFrame: target, in: index)
            var got: [Int] = []
            try decoder.forEachFrame { f in
                got.append(f.index)
                #expect(f.pts == oracle.pts[f.index])
                if got.count <= 3 {
                    #expect(MD5.hex(f.packedBytes()) == oracle.md5s[f.index], "\(name) frame \(f.index)")
                }
            }
            #expect(got == wanted.filter { $0 >= target }, "\(name) from \(target)")
        }
    }

    @Test func badTargetsAreInvalidArguments() throws {
        let decoder = try VideoDecoder(path: TestPaths.sample("vfr_160x120.mkv"))
        let index = try decoder.scanFrames()
        for bad in [-1, index.pts.count, index.pts.count + 7, Int.min] {
            #expect { try decoder.seek(toFrame: bad, in: index) } throws: { ($0 as? MediaError)?.kind == .invalidArgument }
        }
        for bad in [Double.nan, .infinity, 1000] {
            #expect { try decoder.seek(toTime: bad, in: index) } throws: { ($0 as? MediaError)?.kind == .invalidArgument }
        }
        #expect { try decoder.seek(toFrame: 0, in: FrameIndex(pts: [], keyFrames: [])) } throws: {
            ($0 as? MediaError)?.kind == .invalidArgument
        }
        decoder.close()
        #expect { try decoder.seek(toFrame: 0, in: index) } throws: { ($0 as? MediaError)?.kind == .invalidArgument }
    }

    /// When the demuxer lands after the target (here: an index whose recorded key-frame seek
    /// positions all point past the end), the decoder falls back to the previous key frame and
    /// finally reopens the clip, and still delivers the exact frame.
    @Test(arguments: ["h264_1280x960.mp4", "vfr_160x120.mkv"])
    func overshootingSeeksFallBackToAnEarlierStart(name: String) throws {
        let clip = TestPaths.sample(name)
        let oracle = try Oracle(clip)
        let decoder = try VideoDecoder(path: clip)
        var index = try decoder.scanFrames()
        let beyond = index.pts.last! + 1_000_000
        // Every key frame's seek position is past the end: both seeks overshoot, then the reopen.
        index.keyFrameDTS = index.keyFrames.map { _ in beyond }
        let middleOfSecondGOP = oracle.keyFrames.count > 1 ? oracle.keyFrames[1] + 4 : 4
        for target in [oracle.pts.count - 3, 2, middleOfSecondGOP, oracle.keyFrames.last! + 1] {
            try decoder.seek(toFrame: target, in: index)
            try expectFrames(decoder, from: target, count: 3, oracle, "\(name) bogus seek to \(target)")
        }
        // Only one key frame's position is wrong (past the end): the previous key frame is enough.
        var oneWrong = try decoder.scanFrames()
        if oneWrong.keyFrames.count >= 3 {
            let k = oneWrong.keyFrames.count - 2
            oneWrong.keyFrameDTS[k] = beyond
            let target = oneWrong.keyFrames[k] + 1
            try decoder.seek(toFrame: target, in: oneWrong)
            try expectFrames(decoder, from: target, count: 3, oracle, "\(name) key \(k) wrong, seek to \(target)")
        }
        // An index built without decode timestamps seeks by pts.
        let plain = FrameIndex(pts: index.pts, keyFrames: index.keyFrames)
        #expect(plain == index)
        for target in [oracle.pts.count - 1, oracle.keyFrames.last!, 0] {
            try decoder.seek(toFrame: target, in: plain)
            try expectFrames(decoder, from: target, count: 2, oracle, "\(name) pts-only seek to \(target)")
        }
    }

    /// A seek to a key frame starts decoding at that key frame, not a GOP early: libx264 with
    /// B-frames in MP4 writes an edit list, which puts a key frame's recorded dts just below its
    /// index entry (seeking by that dts used to land on the previous key frame).
    @Test(.enabled(if: TestPaths.which("ffmpeg") != nil, "skipped: the ffmpeg CLI (which makes the clip) is not installed"))
    func seekToAKeyFrameDecodesFromThatKeyFrame() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seek-gop-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("gop.mp4").path
        let (status, _, err) = try TestPaths.run(TestPaths.which("ffmpeg")!, ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4",
                                                                            "-c:v", "libx264", "-g", "30", "-bf", "3", "-pix_fmt", "yuv420p", clip])
        #expect(status == 0, "\(err)")
        let (_, md5Text, _) = try TestPaths.run(TestPaths.which("ffmpeg")!, ["-v", "error", "-i", clip, "-f", "framemd5", "-"])
        let md5s = parseFrameMD5(String(decoding: md5Text, as: UTF8.self))
        #expect(md5s.count == 120)
        for k in [30, 60, 90] {
            let d = try VideoDecoder(path: clip, options: DecoderOptions(threads: 1))
            let index = try d.scanFrames()
            #expect(index.keyFrames.contains(k), "key frames \(index.keyFrames)")
            try d.seek(toFrame: k, in: index)
            for i in k..<(k + 5) {
                let got = try d.nextFrame { f in (f.index, MD5.hex(f.packedBytes())) }
                #expect(got?.0 == i && got?.1 == md5s[i], "frame \(i) after seeking to key frame \(k)")
            }
            // Five frames out of a decoder with up to 3 B-frames of delay: a handful of packets,
            // where landing a GOP early would take 35 or more.
            #expect(d.packetsDecoded <= 12, "seek to key frame \(k) decoded \(d.packetsDecoded) packets for 5 frames")
        }
    }
}
