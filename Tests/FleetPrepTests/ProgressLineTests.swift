import Foundation
import Testing
@testable import FleetPrep

/// The CLI's progress line as a new user meets it (issue 17): it fits the terminal, its ETA
/// comes from samples (frames) rather than clips, and plain lines report only progress.
@Suite struct ProgressLineTests {
    static func busy() -> IngestCounters {
        var c = IngestCounters()
        c.clipsTotal = 1234; c.clipsDone = 567; c.clipsFailed = 89
        c.groupsScanned = 700; c.samplesPlanned = 123_456
        c.framesDecoded = 9_876_543; c.samplesWritten = 98_765; c.shardsWritten = 321; c.bytesWritten = 98_765_432_100
        return c
    }

    @Test(arguments: [40, 80, 120, 200])
    func barFitsTheTerminal(_ width: Int) throws {
        let sink = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/null"))
        let p = ProgressReporter(style: .bar, output: sink, width: width)
        p.update { $0 = Self.busy() }
        let line = p.render(DispatchTime.now().uptimeNanoseconds, width: width)
        #expect(line.count <= width - 1, "\(line.count) columns: \(line)")
        #expect(line.hasPrefix(width >= 200 ? "[" : "clips 656/1234"), "\(line)")
        #expect(line.contains("clips 656/1234 (89 failed)"))
        if width >= 80 { #expect(line.contains("ETA "), "\(line)") }
    }

    /// Hand-computed: 2 of 4 groups scanned with 100 samples → 200 expected; 50 written in 10 s
    /// (5 per second) → 150 left → 30 s. Clips done does not enter (one 8-camera clip still
    /// running is most of the work).
    @Test func etaComesFromSamples() {
        var c = IngestCounters()
        c.clipsTotal = 4; c.clipsDone = 3; c.groupsScanned = 2; c.samplesPlanned = 100; c.samplesWritten = 50
        let p = ProgressReporter(style: .quiet)
        #expect(p.eta(c, seconds: 10) == 30)
        c.samplesWritten = 0
        #expect(p.eta(c, seconds: 10) == nil)
    }

    @Test func plainLinesOnlyWithProgress() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fleetprep-progress-\(getpid()).txt")
        _ = FileManager.default.createFile(atPath: path.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: path) }
        let out = try FileHandle(forWritingTo: path)
        let p = ProgressReporter(style: .lines(interval: 0), output: out)
        p.update { $0.clipsTotal = 3 }            // nothing done yet: no line of zeros
        p.update { $0.framesDecoded = 10 }        // progress: a line
        p.update { $0.shardsWritten = 0 }         // no change: no line
        p.update { $0.samplesWritten = 5 }        // progress: a line
        try out.close()
        let lines = try String(contentsOf: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.hasPrefix("clips 0/3") == true, "\(lines)")
    }
}
