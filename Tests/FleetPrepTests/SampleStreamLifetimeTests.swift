import FleetMedia
@testable import FleetPrep
import FleetTestSupport
import Foundation
import Testing

/// A consumer that leaves `for try await` early must not leave the pipeline behind: its threads,
/// decoders and buffers go away with the iterator (issue 17).
@Suite(.serialized, .enabled(if: FileManager.default.fileExists(atPath: "/proc/self/status"),
                             "skipped: thread count and RSS are read from /proc/self/status (Linux only)"))
struct SampleStreamLifetimeTests {
    /// A field of /proc/self/status ("Threads", "VmRSS" in kB).
    static func status(_ field: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? -1
        }
        return -1
    }

    static func config() throws -> IngestConfiguration {
        var options = IngestOptions()
        let clips = TestPaths.repoRoot.appendingPathComponent("SampleClips")
        options.inputs = ["mjpeg_176x144.avi", "mpeg4_176x144.mov", "vfr_160x120.mkv", "odd_321x241.mkv"]
            .map { clips.appendingPathComponent($0).path }
        options.size = "64x48"
        options.dtype = "u8"
        options.jobs = 2
        return try IngestConfiguration(options: options)
    }

    /// Waits up to 10 s for `done`.
    static func settle(_ done: () -> Bool) async throws {
        for _ in 0..<200 where !done() { try await Task.sleep(nanoseconds: 50_000_000) }
    }

    @Test func breakingOutOfTheLoopStopsThePipeline() async throws {
        let config = try Self.config()
        // One full warm-up run: lazily made runtime threads and pools count towards the baseline.
        var all = 0
        for try await _ in SampleStream(configuration: config) { all += 1 }
        #expect(all > 3)
        try await Self.settle { VideoDecoder.openCount == 0 }
        let threads0 = Self.status("Threads")
        let engines0 = IngestEngine.live.load(ordering: .relaxed), buffers0 = RecordBuffer.live.load(ordering: .relaxed)
        #expect(threads0 > 0)

        for _ in 0..<100 {
            var seen = 0
            for try await sample in SampleStream(configuration: config, buffered: 2) {
                #expect(sample.tensor.shape.last == 64)
                seen += 1
                if seen == 3 { break }
            }
            #expect(seen == 3)
        }
        // Other suites run beside this one in the same process: a few of their engines, buffers
        // and threads may be alive at either count, so each bound allows a little; a leak is
        // per abandoned stream (100 here).
        let engines = { IngestEngine.live.load(ordering: .relaxed) }, buffers = { RecordBuffer.live.load(ordering: .relaxed) }
        try await Self.settle {
            VideoDecoder.openCount == 0 && Self.status("Threads") <= threads0 + 2 && engines() <= engines0 + 2 && buffers() <= buffers0 + 16
        }
        #expect(VideoDecoder.openCount == 0, "decoders left open after 100 abandoned streams")
        let threads = Self.status("Threads")
        // Before the fix each abandoned stream kept its pipeline threads (3 here) blocked forever:
        // 300 threads; a few runtime threads may come and go.
        #expect(threads <= threads0 + 2, "threads: \(threads0) before, \(threads) after")
        // Each leaked run held its engine, decoders and sample buffers. (The process's RSS was
        // checked here once; the suites running beside this one move it by 100 MB.)
        #expect(engines() <= engines0 + 2, "engines: \(engines0) before, \(engines()) after")
        #expect(buffers() <= buffers0 + 16, "sample buffers: \(buffers0) before, \(buffers()) after")
    }
}
