import Foundation
import Testing
@testable import FleetMedia
import FleetTestSupport

/// Frames are lent to a closure whose result must be `Sendable`, so `decoder.nextFrame { $0 }`
/// (a view escaping with dangling plane pointers) no longer compiles; a test cannot assert that
/// something does not compile, so these check that the intended uses still work, against the
/// ffmpeg CLI's framemd5 (recorded beside the sample clips) and hand-written names.
@Suite struct FrameLendingTests {
    @Test func copiesRetainedFramesAndConversionsLeaveTheClosure() throws {
        let clip = TestPaths.sample("rotated90_160x96.mp4")
        let md5s = try frameMD5Oracle(clip: clip)
        let decoder = try VideoDecoder(path: clip)
        // A copy of the pixels, a retained frame, and a converted frame's bytes.
        let bytes: [UInt8]? = try decoder.nextFrame { $0.packedBytes() }
        #expect(MD5.hex(try #require(bytes)) == md5s[0])
        let kept: RetainedFrame?? = try decoder.nextFrame { decoder.retainCurrentFrame($0) }
        let converter = PixelConverter(target: .yuv420p, flags: PixelConverter.nearestFlags)
        let converted: [UInt8]? = try decoder.nextFrame { frame in try converter.convert(frame) { $0.packedBytes() } }
        for _ in 0..<5 { _ = try decoder.nextFrame { _ in } }
        let retained = try #require(kept ?? nil)
        #expect(MD5.hex(retained.view.packedBytes()) == md5s[1])
        // yuv420p to yuv420p: the same bytes.
        #expect(MD5.hex(try #require(converted)) == md5s[2])
    }

    @Test func typedFormatsKeepFFmpegsNames() throws {
        let named: [(PixelFormat, String)] = [(.yuv420p, "yuv420p"), (.yuvj420p, "yuvj420p"), (.yuv422p, "yuv422p"),
                                              (.yuvj422p, "yuvj422p"), (.yuv444p, "yuv444p"), (.yuvj444p, "yuvj444p"),
                                              (.nv12, "nv12"), (.gray, "gray"), (.yuv420p10le, "yuv420p10le"),
                                              (.gbrp, "gbrp"), (.rgb24, "rgb24")]
        for (format, name) in named {
            #expect(format.name == name)
            #expect(PixelFormat(name: name) == format)
        }
        #expect(PixelFormat(name: "gray8") == .gray)
        // ClipInfo's JSON keeps the names (probe --json, discover, index.json compare them).
        let info = try VideoDecoder.probe(path: TestPaths.sample("hevc10_320x240.mkv"))
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(info)) as! [String: Any]
        let oracle = try ProbeOracle(clip: TestPaths.sample("hevc10_320x240.mkv")).videoStream
        #expect(json["pixelFormat"] as? String == oracle.pixFmt)
        #expect(json["colorSpace"] as? String == (oracle.colorSpace ?? "unknown"))
        #expect(json["colorRange"] as? String == (oracle.colorRange ?? "unknown"))
        #expect(try JSONDecoder().decode(ClipInfo.self, from: JSONEncoder().encode(info)) == info)
        let space = try JSONDecoder().decode(StreamColorSpace.self, from: Data(#""bt709""#.utf8))
        #expect(space.name == "bt709" && space.matrix == .bt709 && "\(space)" == "bt709")
        #expect(try JSONDecoder().decode(StreamColorRange.self, from: Data(#""pc""#.utf8)) == .pc)
    }
}
