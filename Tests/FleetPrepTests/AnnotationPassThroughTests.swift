import FleetPrep
import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// An annotations.jsonl line reaches the shard record (and the stream's sample) byte for byte as
/// written, compacted (docs/clip-groups.md), through `Annotation?`; camera names given as
/// `CameraName` pick and order the cameras (issue 26).
@Suite struct AnnotationPassThroughTests {
    /// Keys out of order, `1.50e0`, spaces inside a string and around tokens; the second is keyed
    /// by time (frame 5 of the 36 fps clip is at 5/36 s).
    static let lines = [
        #"{ "z" : 1.50e0, "frame": 0, "boxes" : [ { "xyxy" : [ 1, 2.0, 3e1, 4 ] , "label" : "car  1" } ] }"#,
        #"{"t": 0.13889 ,"B":{"b":true,"a":null},"A":-0}"#,
    ]
    static let compact = [
        #"{"z":1.50e0,"frame":0,"boxes":[{"xyxy":[1,2.0,3e1,4],"label":"car  1"}]}"#,
        #"{"t":0.13889,"B":{"b":true,"a":null},"A":-0}"#,
    ]

    /// A group of two SampleClips event cameras with the lines above.
    static func group(in dir: URL) throws -> URL {
        let ev = dir.appendingPathComponent("ev")
        try FileManager.default.createDirectory(at: ev, withIntermediateDirectories: true)
        for cam in ["main", "rear"] {
            try FileManager.default.copyItem(atPath: TestPaths.sample("event_0001/\(cam).mp4"), toPath: ev.appendingPathComponent("\(cam).mp4").path)
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: ev.appendingPathComponent("annotations.jsonl"))
        return ev
    }

    @Test(arguments: [ShardFormat.native, .wds])
    func annotationLinesReachRecordsAsWritten(format: ShardFormat) throws {
        let dir = IngestCLITests.tempDir("annotations")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ev = try Self.group(in: dir)
        let out = dir.appendingPathComponent("out")
        let cameras: [CameraName] = ["rear", "main"]
        let config = try IngestConfiguration(inputs: [ev.path], output: out, transform: TransformConfig(size: .init(width: 32, height: 24)),
                                             cameras: cameras, master: "main", format: format, jobs: 1, inflightBytes: 16 << 20)
        let summary = try IngestRun(configuration: config).run()
        #expect(summary.exitStatus == .ok, "\(summary.failures)")
        let ds = try ShardDataset(directory: out)
        #expect(ds.count > 10)
        var seen: [Int: String] = [:]
        for r in ds {
            let rec = try r.get()
            #expect(rec.metadata["cameras"] == .array([.string("rear"), .string("main")]) && rec.metadata["master"] == .string("main"))
            guard case .number(let n)? = rec.metadata["master_index"] else { Issue.record("no master_index"); continue }
            if let a = rec.annotations { seen[Int(n)] = a.json }
        }
        #expect(seen == [0: Self.compact[0], 5: Self.compact[1]])
    }

    @Test func streamSamplesCarryTheAnnotation() async throws {
        let dir = IngestCLITests.tempDir("annotations-stream")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ev = try Self.group(in: dir)
        let config = try IngestConfiguration(inputs: [ev.path], transform: TransformConfig(size: .init(width: 32, height: 24)),
                                             cameras: ["main"], jobs: 1, inflightBytes: 16 << 20)
        var seen: [String: String] = [:]
        for try await s in SampleStream(configuration: config) {
            if let a = s.annotations { seen[s.key] = a.json }
        }
        #expect(seen == ["ev-000000": Self.compact[0], "ev-000005": Self.compact[1]])
    }
}
