import Foundation
import Testing
import FleetMedia
import FleetTestSupport

/// Demux-only timestamp scans and decoding a selection of frames (sampled ingest).
@Suite struct SelectionTests {
    @Test(arguments: TestPaths.allSampleClips())
    func scannedTimestampsEqualFFprobesFrameTimestamps(clip: String) throws {
        let oracle = try ProbeOracle(clip: clip)
        let decoder = try VideoDecoder(path: clip)
        #expect(try decoder.scanTimestamps() == oracle.frames.map { $0.pts! })
    }

    @Test(arguments: ["h264_1280x960.mp4", "hevc_1280x960.mp4", "event_0001/rear.mp4", "vfr_160x120.mkv"], [3, 4])
    func selectedFramesAreExactlyTheWantedOnes(name: String, step: Int) throws {
        let clip = TestPaths.sample(name)
        let md5s = try frameMD5Oracle(clip: clip)
        let decoder = try VideoDecoder(path: clip)
        let all = try decoder.scanTimestamps()
        let wanted = Array(stride(from: 0, to: all.count, by: step))
        decoder.select(timestamps: Set(wanted.map { all[$0] }), allTimestamps: all)
        var got: [Int] = []
        try decoder.forEachFrame { f in
            got.append(f.index)
            #expect(f.pts == all[f.index])
            #expect(MD5.hex(f.packedBytes()) == md5s[f.index], "\(name) frame \(f.index)")
        }
        #expect(got == wanted)
    }
}
