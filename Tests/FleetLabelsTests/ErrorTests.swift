import Foundation
import Testing
@testable import FleetLabels

/// Every malformed-sidecar case fails its group with a LabelError naming the file and line.
@Suite("Malformed sidecars")
struct ErrorTests {
    func expectError(_ kind: LabelError.Kind, file: String, line: Int?, _ body: () throws -> Void,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = labelError(body) else {
            Issue.record("expected a \(kind) LabelError", sourceLocation: sourceLocation)
            return
        }
        #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
        #expect(e.file == file, "\(e)", sourceLocation: sourceLocation)
        #expect(e.line == line, "\(e)", sourceLocation: sourceLocation)
        let prefix = line.map { "\(file):\($0): " } ?? "\(file): "
        #expect(e.description.hasPrefix(prefix), "\(e)", sourceLocation: sourceLocation)
    }

    func group(_ d: TempDir) throws -> ClipGroup {
        d.write("ev/main.mp4", "")
        return try ClipGroupDiscovery().discover([d.path + "/ev"])[0]
    }

    @Test func badHeader() throws {
        let d = TempDir()
        let f = d.write("ev/signals.csv", "time,speed\n0,1\n")
        expectError(.badHeader, file: f, line: 1) { _ = try group(d).load() }
        let dup = d.write("dup.csv", "t,a,a\n")
        expectError(.badHeader, file: dup, line: 1) { _ = try SignalsCSV.loadTable(path: dup) }
        let empty = d.write("empty.csv", "")
        expectError(.badHeader, file: empty, line: 1) { _ = try SignalsCSV.loadTable(path: empty) }
        let three = d.write("ev/signals/speed.csv", "t,value,extra\n")
        expectError(.badHeader, file: three, line: 1) { _ = try SignalsCSV.loadSingle(path: three) }
    }

    @Test func nonNumericCell() throws {
        let d = TempDir()
        let f = d.write("ev/signals.csv", "t,speed,gear\n0.0,1,2\n0.1,fast,2\n")
        expectError(.nonNumeric, file: f, line: 3) { _ = try group(d).load() }
        let t = d.write("t.csv", "t,speed\n0.0,1\n\nabc,2\n")
        expectError(.nonNumeric, file: t, line: 4) { _ = try SignalsCSV.loadTable(path: t) }
        let inf = d.write("inf.csv", "t,speed\n0.0,inf\n")
        expectError(.nonNumeric, file: inf, line: 2) { _ = try SignalsCSV.loadTable(path: inf) }
    }

    @Test func wrongCellCount() throws {
        let d = TempDir()
        let f = d.write("s.csv", "t,speed,gear\n0.0,1,2\n0.1,2\n")
        expectError(.badRow, file: f, line: 3) { _ = try SignalsCSV.loadTable(path: f) }
    }

    @Test func timeGoingBackwards() throws {
        let d = TempDir()
        let f = d.write("ev/signals/speed.csv", "t,value\n0.0,1\n0.2,2\n0.2,2\n0.1,3\n")
        expectError(.timeBackwards, file: f, line: 5) { _ = try group(d).load() }
    }

    @Test func unknownCameraInClipJSON() throws {
        let d = TempDir()
        let f = d.write("ev/clip.json", """
            {
              "event_id": "e",
              "cameras": [
                "main",
                "roof"
              ]
            }
            """)
        expectError(.unknownCamera, file: f, line: 5) { _ = try group(d).load() }
        // master / offsets naming a camera outside "cameras".
        d.write("ev/clip.json", "{\"cameras\": [\"main\"],\n \"master\": \"main\",\n \"offsets\": {\"rear\": 0.1}}")
        expectError(.unknownCamera, file: f, line: 3) { _ = try group(d).load() }
        // A listed camera with no video.
        d.write("ev/clip.json", "{\"cameras\": [\"main\",\n\"rear\"]}")
        expectError(.missingVideo, file: f, line: 2) { _ = try group(d).load() }
    }

    @Test func invalidClipJSON() throws {
        let d = TempDir()
        let f = d.write("ev/clip.json", "{\n  \"event_id\": \"e\",\n  \"cameras\": [\"main\" \"rear\"]\n}\n")
        expectError(.invalidJSON, file: f, line: 3) { _ = try group(d).load() }
        d.write("ev/clip.json", "{\n  \"event_id\": \"e\",\n  \"offsets\": {\"main\": \"soon\"}\n}\n")
        expectError(.badValue, file: f, line: 3) { _ = try group(d).load() }
    }

    @Test func invalidJSONLine() throws {
        let d = TempDir()
        let f = d.write("ev/annotations.jsonl", "{\"frame\": 0}\n\n{\"frame\": 1, boxes: []}\n")
        expectError(.invalidJSON, file: f, line: 3) { _ = try group(d).load() }
        d.write("ev/annotations.jsonl", "{\"frame\": 0}\n[1, 2]\n")
        expectError(.invalidJSON, file: f, line: 2) { _ = try group(d).load() }
        d.write("ev/annotations.jsonl", "{\"frame\": 0}\n{\"boxes\": []}\n")
        expectError(.badValue, file: f, line: 2) { _ = try group(d).load() }
        d.write("ev/annotations.jsonl", "{\"frame\": 1.5}\n")
        expectError(.badValue, file: f, line: 1) { _ = try group(d).load() }
    }

    @Test func duplicateAnnotation() throws {
        let d = TempDir()
        let f = d.write("ev/annotations.jsonl", "{\"frame\": 0}\n{\"t\": 0.11}\n{\"frame\": 1}\n")
        let s = try group(d).load()
        expectError(.duplicateAnnotation, file: f, line: 3) {
            _ = try s.labels(frameTimes: ["main": [0, 0.1, 0.2]])
        }
    }

    @Test func sidecarTooLarge() throws {
        let d = TempDir()
        let f = d.write("ev/signals.csv", "t,speed\n" + String(repeating: "0.0,1\n", count: 100))
        var options = LabelOptions()
        options.maxSidecarBytes = 100
        expectError(.tooLarge, file: f, line: nil) { _ = try group(d).load(options: options) }
        #expect(try group(d).load().signals[0].times.count == 100)   // default limit: 64 MiB
        #expect(LabelOptions.defaultMaxSidecarBytes == 64 << 20)
    }

    @Test func duplicateCameraAndSignal() throws {
        let d = TempDir()
        d.write("ev/main.mkv", "")
        expectError(.duplicateCamera, file: d.path + "/ev/main.mp4", line: nil) { _ = try group(d).load() }
        let d2 = TempDir()
        d2.write("ev/signals.csv", "t,speed\n0,1\n")
        let f = d2.write("ev/signals/speed.csv", "t,value\n0,1\n")
        expectError(.duplicateSignal, file: f, line: 1) { _ = try group(d2).load() }
    }

    @Test func missingFrameTimes() throws {
        let d = TempDir()
        let s = try group(d).load()
        expectError(.badFrameTimes, file: d.path + "/ev/main.mp4", line: nil) { _ = try s.labels(frameTimes: [:]) }
    }
}
