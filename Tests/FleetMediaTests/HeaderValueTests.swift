import Foundation
import Testing
@testable import FleetMedia
import FleetTestSupport

/// Header values (durations, frame periods, time bases) are untrusted: converting them to
/// integers must fail the clip with a clear error (or clamp, where the value is an estimate),
/// never trap. Expected values are hand-computed.
@Suite struct HeaderValueTests {
    @Test func checkedConversionRefusesWhatNoInt64Holds() {
        #expect(HeaderValue.int64(1.5) == 2)            // rounds half away from zero, as `rounded()`
        #expect(HeaderValue.int64(-1.5) == -2)
        #expect(HeaderValue.int64(0.2, rounding: .up) == 1)
        #expect(HeaderValue.int64(-9_223_372_036_854_775_808.0) == Int64.min)
        #expect(HeaderValue.int64(9_223_372_036_854_775_808.0) == nil)   // 2^63
        #expect(HeaderValue.int64(.infinity) == nil)
        #expect(HeaderValue.int64(-.infinity) == nil)
        #expect(HeaderValue.int64(.nan) == nil)
        #expect(HeaderValue.int64(1e300) == nil)
        #expect(HeaderValue.clamped(1e300, to: 0...100) == 100)
        #expect(HeaderValue.clamped(-1e300, to: 0...100) == 0)
        #expect(HeaderValue.clamped(.nan, to: 0...100) == 0)
        #expect(HeaderValue.clamped(41.5, to: 0...100) == 42)
        #expect(HeaderValue.clamped(.infinity, to: 0...(Int.max - 1)) == Int.max - 1)
    }

    @Test func missingFramesFromTheDeclaredDuration() throws {
        // 30 fps, last frame delivered is frame 29 (at 29/30 s), the header says 2 s: frames
        // 30...59 never came, 30 of them.
        #expect(try VideoDecoder.framesMissing(after: 29.0 / 30, start: 0, duration: 2, framePeriod: 1.0 / 30, path: "x") == 30)
        // Frames up to the end: none missing.
        #expect(try VideoDecoder.framesMissing(after: 59.0 / 30, start: 0, duration: 2, framePeriod: 1.0 / 30, path: "x") == 0)
        for duration in [Double.infinity, .nan, 1e300, 1e12] {
            #expect(throws: MediaError.self, "duration \(duration)") {
                try VideoDecoder.framesMissing(after: 0, start: 0, duration: duration, framePeriod: 1.0 / 30, path: "x")
            }
        }
    }

    /// A Matroska clip whose Segment Duration (an 8-byte float) is patched from 1 s to 10^12 s:
    /// lenient decoding used to add ~3 * 10^13 "dropped" frames; it now fails the clip with a
    /// `.corruptData` error that names the duration. Strict decoding reports the shortfall.
    @Test(.enabled(if: TestPaths.which("ffmpeg") != nil, "skipped: the ffmpeg CLI (which makes the clip) is not installed"))
    func absurdDeclaredDurationFailsTheClip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetmedia-duration-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("clip.mkv").path
        let (status, _, err) = try TestPaths.run(TestPaths.which("ffmpeg")!, ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=96x64:r=30:d=1",
                                                                              "-c:v", "mpeg4", "-y", clip])
        try #require(status == 0, "ffmpeg: \(err)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clip)))
        // Duration element: ID 0x4489, size 8 (0x88), big-endian IEEE double (milliseconds here).
        let at = try #require((0..<(bytes.count - 11)).first { bytes[$0] == 0x44 && bytes[$0 + 1] == 0x89 && bytes[$0 + 2] == 0x88 })
        let old = (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[at + 3 + $1]) }
        try #require(Double(bitPattern: old) == 1000, "the clip's Duration is 1000 ms")
        let patched = (1e15 as Double).bitPattern
        for k in 0..<8 { bytes[at + 3 + k] = UInt8(truncatingIfNeeded: patched >> (56 - 8 * UInt64(k))) }
        try Data(bytes).write(to: URL(fileURLWithPath: clip))

        let lenient = try VideoDecoder(path: clip, options: DecoderOptions(threads: 1, lenient: true))
        #expect(lenient.info.duration == 1e12)
        var frames = 0
        let error = #expect(throws: MediaError.self) { try lenient.forEachFrame { _ in frames += 1 } }
        #expect(frames == 30)
        #expect(error?.kind == .corruptData)
        #expect(error?.message.contains("duration 1000000000000.0 s") == true, "\(error?.message ?? "")")

        let strict = try VideoDecoder(path: clip, options: DecoderOptions(threads: 1))
        let shortfall = #expect(throws: MediaError.self) { try strict.countFrames() }
        #expect(shortfall?.kind == .truncated)
    }

    /// A seek far past any timestamp the time base can express is refused, not trapped on.
    @Test func seekBeyondTheTimeBaseIsRefused() throws {
        let decoder = try VideoDecoder(path: TestPaths.sample("rotated90_160x96.mp4"))
        let error = #expect(throws: MediaError.self) { try decoder.seek(to: 1e300) }
        #expect(error?.kind == .invalidArgument)
        // The decoder still works from where it was.
        try decoder.seek(to: 0)
        #expect(try decoder.nextFrame { $0.index } == 0)
    }
}
