import Foundation
import Testing
import FleetMedia
import FleetTestSupport

/// `DecodeAhead` decodes on a thread of its own: its reader must see the frames `nextFrame`
/// gives, in order, checked against the ffmpeg CLI's framemd5 recorded beside the sample clips.
@Suite struct DecodeAheadTests {
    static let clips = ["h264_1280x960.mp4", "hevc10_320x240.mkv"]

    @Test(arguments: clips)
    func everyFrameInOrderThenTheEnd(clip name: String) throws {
        let clip = TestPaths.sample(name)
        let md5s = try frameMD5Oracle(clip: clip)
        let decoder = try VideoDecoder(path: clip, options: DecoderOptions(threads: 4))
        let ahead = DecodeAhead(decoder, depth: 3)
        var got: [String] = []
        var indices: [Int] = []
        while let frame = try ahead.next() {
            got.append(MD5.hex(frame.view.packedBytes()))
            indices.append(frame.view.index)
        }
        #expect(got == md5s)
        #expect(indices == Array(0..<md5s.count))
        #expect(try ahead.next() == nil)
    }

    @Test func stopsAfterTheLastIndexAndHandsTheDecoderBack() throws {
        let clip = TestPaths.sample("h264_1280x960.mp4")
        let md5s = try frameMD5Oracle(clip: clip)
        let decoder = try VideoDecoder(path: clip, options: DecoderOptions(threads: 2))
        let frames = try decoder.scanFrames()
        let ahead = DecodeAhead(decoder, depth: 2, lastIndex: 9)
        var n = 0
        while let frame = try ahead.next() { #expect(MD5.hex(frame.view.packedBytes()) == md5s[n]); n += 1 }
        #expect(n == 10)
        ahead.stop()
        // Stopped mid-stream, the decoder is the caller's again: an exact seek back still lands.
        let again = DecodeAhead(decoder, depth: 4)
        _ = try again.next()
        again.stop()
        try decoder.seek(toFrame: 100, in: frames)
        let bytes: [UInt8]? = try decoder.nextFrame { $0.packedBytes() }
        #expect(MD5.hex(try #require(bytes)) == md5s[100])
    }

    /// A file damaged part-way (64 KiB of its media data zeroed): the reader gets the frames
    /// decoded before the damage, then the same error that `nextFrame` gives on that file. One
    /// FFmpeg thread: with frame threads, where FFmpeg reports damage depends on their timing
    /// (docs/ingest.md, "Damage and frame threads"), on either path.
    @Test func aDamagedFileEndsAsNextFrameEnds() throws {
        let clip = TestPaths.sample("h264_1280x960.mp4")
        let md5s = try frameMD5Oracle(clip: clip)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: clip))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("decode-ahead-\(UUID().uuidString.prefix(8)).mp4")
        var damaged = [UInt8](bytes)
        for i in (damaged.count / 2)..<(damaged.count / 2 + 65536) { damaged[i] = 0 }
        try Data(damaged).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        func read(_ next: () throws -> String?) -> (md5s: [String], error: String?) {
            var out: [String] = []
            do { while let m = try next() { out.append(m) } } catch { return (out, "\(error)") }
            return (out, nil)
        }
        guard let plain = try? VideoDecoder(path: cut.path, options: DecoderOptions(threads: 1)),
              let other = try? VideoDecoder(path: cut.path, options: DecoderOptions(threads: 1)) else {
            Issue.record("the damaged file no longer opens"); return
        }
        let direct = read { try plain.nextFrame { MD5.hex($0.packedBytes()) } }
        let ahead = DecodeAhead(other, depth: 3)
        let viaAhead = read { try ahead.next().map { MD5.hex($0.view.packedBytes()) } }
        #expect(viaAhead.md5s == direct.md5s)
        #expect(viaAhead.error == direct.error)
        #expect(direct.error != nil, "zeroed media data fails the decode")
        #expect(!direct.md5s.isEmpty && direct.md5s == Array(md5s.prefix(direct.md5s.count)))
    }

    /// Dropping a `DecodeAhead` whose queue is full stops its decoding loop (the thread does not
    /// keep its owner alive): the loop is over by the time the drop returns.
    @Test func droppingItStopsTheThread() throws {
        let clip = TestPaths.sample("h264_1280x960.mp4")
        let md5s = try frameMD5Oracle(clip: clip)
        let decoder = try VideoDecoder(path: clip, options: DecoderOptions(threads: 2))
        var ahead: DecodeAhead? = DecodeAhead(decoder, depth: 3)
        let loop = try #require(ahead?.loop)
        #expect(MD5.hex(try #require(try ahead?.next()).view.packedBytes()) == md5s[0])
        Thread.sleep(forTimeInterval: 0.2)    // the queue fills; the thread waits for room
        #expect(loop.isRunning, "154 frames, 4 taken: the loop waits for room, it has not ended")
        ahead = nil
        #expect(!loop.isRunning)
        // The decoder is the caller's again: it goes on after the frames the thread took.
        let next: Int? = try decoder.nextFrame { $0.index }
        #expect((next ?? 0) > 1)
    }
}
