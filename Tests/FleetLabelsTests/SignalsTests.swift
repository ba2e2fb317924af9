import Foundation
import Testing
@testable import FleetLabels

@Suite("Signals: parsing and alignment")
struct SignalsTests {
    @Test func parsesTableWithEmptyCells() throws {
        let csv = "\u{FEFF}t, speed ,gear\r\n0.0,1.5,3\r\n0.1,,3\n\n0.2,2.5,\n"
        let s = try SignalsCSV.parseTable(Array(csv.utf8), file: "x.csv")
        #expect(s.map(\.name) == ["speed", "gear"])
        #expect(s[0].times == [0.0, 0.2] && s[0].values == [1.5, 2.5])
        #expect(s[1].times == [0.0, 0.1] && s[1].values == [3, 3])
    }

    @Test func parsesOneSignalFile() throws {
        let s = try SignalsCSV.parseSingle(Array("t,value\n1,2\n2,4\n".utf8), name: "speed", file: "speed.csv")
        #expect(s.name == "speed" && s.times == [1, 2] && s.values == [2, 4])
    }

    @Test func continuousInterpolationAndGapMask() {
        // Samples at 1, 2, 2.1, 2.2, 3: the holes 1..2 and 2.2..3 are wider than 2 × 0.25 s.
        let times = [1.0, 2.0, 2.1, 2.2, 3.0]
        let values = [10.0, 20.0, 21.0, 22.0, 30.0]
        let frames = [0.5, 1.0, 1.5, 2.05, 2.2, 2.3, 2.6, 2.9, 3.0, 3.1]
        let (v, m) = SignalAligner.align(times: times, values: values, at: frames, kind: .continuous, maxGap: 0.25)
        #expect(m == [0, 1, 0, 1, 1, 0, 0, 0, 1, 0])
        #expect(v[1] == 10 && abs(v[3] - 20.5) < 1e-12 && v[4] == 22 && v[8] == 30)
        #expect(v[0] == 0 && v[2] == 0 && v[5] == 0 && v[9] == 0)   // masked = 0, never invented
        // With a larger gap the hole is bridged.
        let (v2, m2) = SignalAligner.align(times: times, values: values, at: [2.3, 2.75],
                                           kind: .continuous, maxGap: 0.8)
        #expect(m2 == [1, 1] && abs(v2[0] - 23) < 1e-12 && abs(v2[1] - 27.5) < 1e-12)
    }

    @Test func categoricalHoldsLastSample() {
        let times = [1.0, 1.2, 1.4, 2.0]
        let values = [4.0, 4.0, 5.0, 6.0]
        let frames = [0.9, 1.0, 1.1, 1.39, 1.5, 1.7, 2.0, 2.1]
        let (v, m) = SignalAligner.align(times: times, values: values, at: frames, kind: .categorical, maxGap: 0.25)
        #expect(m == [0, 1, 1, 1, 1, 0, 1, 0])
        #expect(v == [0, 4, 4, 4, 5, 0, 6, 0])
    }

    @Test func repeatedTimesAndUnsortedFrames() {
        let (v, m) = SignalAligner.align(times: [0, 1, 1, 2], values: [0, 5, 7, 9], at: [1.5, 1.0, 0.5],
                                         kind: .continuous, maxGap: 1)
        #expect(m == [1, 1, 1])
        #expect(v == [8, 7, 2.5])
    }

    /// The real comma2k19 CAN signals against numpy.interp (or the reference when numpy is
    /// missing), at every one of the 1200 frame times.
    @Test(.enabled(if: Fixtures.comma2k19 != nil, "skipped: ../shared/fixtures/comma2k19-can is not present"))
    func comma2k19MatchesOracle() throws {
        let dir = try #require(Fixtures.comma2k19)
        let frames = try readColumns(dir + "/frame_times.csv")[0]
        #expect(frames.count == 1200)
        var report: [String] = []
        for name in ["speed", "steering_angle"] {
            let path = "\(dir)/\(name).csv"
            let series = try SignalsCSV.loadSingle(path: path)
            #expect(series.name == name)
            let cols = try readColumns(path)
            #expect(series.times == cols[0] && series.values == cols[1])

            let (v, m) = SignalAligner.align(series, at: frames, kind: .continuous, maxGap: LabelOptions.defaultMaxGap)
            let numpy = numpyInterp(frames: dir + "/frame_times.csv", signal: path)
            if numpy == nil { print("numpy not available: comparing with the in-test reference only") }
            var maxErrRef = 0.0, maxErrNumpy = 0.0, masked = 0
            for (i, t) in frames.enumerated() {
                let ref = referenceInterp(t, cols[0], cols[1], maxGap: LabelOptions.defaultMaxGap)
                #expect((m[i] == 1) == (ref != nil), "frame \(i) mask")
                if t < cols[0][0] { #expect(m[i] == 0, "frame \(i) before the first sample must be masked") }
                guard m[i] == 1, let ref else { masked += 1; #expect(v[i] == 0); continue }
                maxErrRef = max(maxErrRef, abs(v[i] - ref))
                if let numpy { maxErrNumpy = max(maxErrNumpy, abs(v[i] - numpy[i])) }
            }
            #expect(maxErrRef <= 1e-9)
            #expect(maxErrNumpy <= 1e-9)
            #expect(m[0] == 0)                                // first frame precedes the first sample
            #expect(masked == frames.filter { $0 < cols[0][0] || $0 > cols[0].last! }.count)
            if let numpy { #expect(numpy.count == frames.count) }
            report.append("\(name): masked \(masked), max |err| vs reference \(maxErrRef), vs numpy \(numpy == nil ? "n/a" : "\(maxErrNumpy)")")
        }
        print("comma2k19 alignment: " + report.joined(separator: "; "))
    }
}
