import Foundation
import Testing
import FleetMedia
import FleetTestSupport

/// Every failure is a typed `MediaError` whose kind says what went wrong and whose text names the file.
@Suite struct ErrorTests {
    func expectError(_ kind: MediaError.Kind, _ path: String, options: DecoderOptions = DecoderOptions(),
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let d = try VideoDecoder(path: path, options: options)
            _ = try d.countFrames()
            Issue.record("expected \(kind) for \(path)", sourceLocation: sourceLocation)
        } catch let e as MediaError {
            #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
            #expect(e.path == path, sourceLocation: sourceLocation)
            #expect("\(e)".contains(path), sourceLocation: sourceLocation)
            #expect(!e.message.isEmpty, sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func missingFile() { expectError(.fileNotFound, TestPaths.bad("does-not-exist.mp4")) }
    @Test func missingDirectoryInPath() { expectError(.fileNotFound, TestPaths.bad("nope/clip.mp4")) }
    @Test func directoryIsNotAClip() { expectError(.unreadable, TestPaths.badFixtures.path) }
    @Test func emptyFile() { expectError(.notMedia, TestPaths.bad("empty.mp4")) }
    @Test func textFileIsNotMedia() { expectError(.notMedia, TestPaths.bad("not_video.mp4")) }
    @Test func audioOnlyHasNoVideoStream() { expectError(.noVideoStream, TestPaths.bad("audio_only.m4a")) }
    @Test func unknownCodecHasNoDecoder() { expectError(.decoderMissing, TestPaths.bad("unknown_codec.avi")) }

    /// Root reads anything, so as root the file is read by a child dropped to uid 65534, which
    /// needs setpriv and the built fleetprep.
    static let canDenyARead = getuid() != 0
        || (TestPaths.which("setpriv") != nil && FileManager.default.isExecutableFile(atPath: TestPaths.fleetprepExecutable))

    @Test(.enabled(if: ErrorTests.canDenyARead, "skipped: running as root without setpriv (util-linux) or a built fleetprep, so no read can be denied"))
    func unreadableFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fleetprep-unreadable-\(getpid()).mp4")
        try Data([1, 2, 3]).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        chmod(url.path, 0)
        if getuid() != 0 {
            expectError(.unreadable, url.path)
            return
        }
        // root reads anything, so permission bits prove nothing in this process (CI runs as
        // root): the CLI reads the file in a child process that dropped to uid/gid 65534.
        let setpriv = try #require(TestPaths.which("setpriv"))
        let (status, _, err) = try TestPaths.run(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                           TestPaths.fleetprepExecutable, "probe", url.path])
        #expect(status == 1, "\(err)")
        #expect(err.contains("\(url.path): unreadable: Permission denied"), "\(err)")
    }

    @Test func limitsStopHostileSizes() {
        expectError(.limitExceeded, TestPaths.sample("h264_1280x960.mp4"), options: DecoderOptions(maxPixels: 640 * 480))
        expectError(.limitExceeded, TestPaths.sample("h264_1280x960.mp4"), options: DecoderOptions(maxFrames: 10))
    }

    @Test func truncatedClipYieldsFramesBeforeTheDamageThenAnError() throws {
        let path = TestPaths.bad("truncated.mp4")
        // ffprobe -count_frames on the same file, recorded by make-clips.sh.
        let ffprobeCount = Int(try String(contentsOfFile: TestPaths.bad("truncated.frames"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines))!
        let decoder = try VideoDecoder(path: path)
        #expect(decoder.info.frameCountHint == 50)
        var frames = 0
        do {
            try decoder.forEachFrame { _ in frames += 1 }
            Issue.record("a truncated clip must end with an error")
        } catch let e as MediaError {
            #expect(e.kind == .truncated, "\(e)")
            #expect("\(e)".contains(path))
        }
        #expect(frames == ffprobeCount)
        #expect(frames > 0 && frames < 50)

        // Lenient: the same frames, no error, the damage counted.
        let lenient = try VideoDecoder(path: path, options: DecoderOptions(lenient: true))
        #expect(try lenient.countFrames() == ffprobeCount)
        #expect(lenient.droppedFrames >= 1)
    }

    @Test func corruptPacketsAreReportedOrCountedNeverCrash() throws {
        let path = TestPaths.bad("corrupt_packets.mkv")
        var strictFrames = 0
        do {
            let decoder = try VideoDecoder(path: path)
            try decoder.forEachFrame { _ in strictFrames += 1 }
            Issue.record("garbage packets must raise an error in strict mode")
        } catch let e as MediaError {
            #expect(e.kind == .corruptData || e.kind == .truncated, "\(e)")
            #expect("\(e)".contains(path))
        }
        let lenient = try VideoDecoder(path: path, options: DecoderOptions(lenient: true))
        let n = try lenient.countFrames()
        #expect(n >= strictFrames)
        #expect(lenient.droppedFrames > 0)
    }

    @Test func errorsCarryFFmpegsOwnMessage() {
        do {
            _ = try VideoDecoder(path: TestPaths.bad("not_video.mp4"))
        } catch let e as MediaError {
            #expect(e.message.contains("Invalid data found when processing input"), "\(e)")
            #expect(e.ffmpegCode != nil)
        } catch { Issue.record("\(error)") }
    }
}
