import Foundation
import Testing
@testable import FleetLabels

@Suite("Clip groups: discovery, loading, labelling")
struct ClipGroupTests {
    @Test func discoversSampleClips() throws {
        let groups = try ClipGroupDiscovery().discover([Fixtures.sampleClips])
        // A directory's files come before its subdirectories: the top-level lone videos (sorted),
        // then event_0001.
        #expect(groups.last?.layout == .directory)
        let event = try #require(groups.first { $0.layout == .directory })
        #expect(event.name == "event_0001")
        #expect(Set(event.videos.map(\.camera)) == Set(Fixtures.cameras))
        #expect(event.signalsTable?.hasSuffix("event_0001/signals.csv") == true)
        #expect(event.annotations?.hasSuffix("event_0001/annotations.jsonl") == true)
        #expect(event.manifest?.hasSuffix("event_0001/clip.json") == true)
        let lone = groups.filter { $0.layout == .loneVideo }.map(\.name)
        #expect(lone == lone.sorted())
        #expect(lone.contains("h264_1280x960") && lone.contains("vfr_160x120"))
        #expect(groups.allSatisfy { $0.manifest == nil || $0.layout == .directory })   // *.probe.json is no sidecar
        // Deterministic and idempotent with overlapping inputs.
        let again = try ClipGroupDiscovery().discover([Fixtures.sampleClips, Fixtures.event])
        #expect(again == groups)
    }

    @Test func discoveryRules() throws {
        let d = TempDir()
        d.write("b_event/main.mp4", "")
        d.write("b_event/rear.MKV", "")
        d.write("b_event/notes.mp4", "")                    // not a camera name: ignored
        d.write("b_event/signals/speed.csv", "t,value\n0,1\n")
        d.write("b_event/signals/gear.csv", "t,value\n0,1\n")
        d.write("a_lone/drive.mov", "")
        d.write("a_lone/drive.signals.csv", "t,speed\n0,1\n")
        d.write("a_lone/drive.annotations.jsonl", "{\"frame\":0}\n")
        d.write("a_lone/drive.json", "{\"event_id\":\"d1\"}")
        d.write("a_lone/other.webm", "")
        d.write("a_lone/.hidden.mp4", "")
        d.write(".hidden_dir/main.mp4", "")
        d.write("a_lone/readme.txt", "")
        d.write("c/deeper/x/front.ts", "")
        let groups = try ClipGroupDiscovery().discover([d.path])
        #expect(groups.map(\.name) == ["drive", "other", "b_event", "front"])
        let drive = groups[0]
        #expect(drive.layout == .loneVideo)
        #expect(drive.signalsTable == d.path + "/a_lone/drive.signals.csv")
        #expect(drive.annotations == d.path + "/a_lone/drive.annotations.jsonl")
        #expect(drive.manifest == d.path + "/a_lone/drive.json")
        #expect(groups[1].signalsTable == nil && groups[1].manifest == nil)
        let event = groups[2]
        #expect(event.layout == .directory)
        #expect(event.videos.map(\.camera) == ["main", "rear"])
        #expect(event.ignored == [d.path + "/b_event/notes.mp4"])
        #expect(event.signalFiles == [d.path + "/b_event/signals/gear.csv", d.path + "/b_event/signals/speed.csv"])
        // Load: cameras in standard order, master main, one-signal files named by stem.
        let loaded = try event.load()
        #expect(loaded.cameraNames == ["main", "rear"] && loaded.master == "main")
        #expect(loaded.schema.names == ["gear", "speed"])
        let lone = try drive.load()
        #expect(lone.eventID == "d1" && lone.cameraNames == ["main"] && lone.schema.names == ["speed"])
        // A video given directly is a lone group even with a camera name.
        let direct = try ClipGroupDiscovery().discover([d.path + "/b_event/main.mp4"])
        #expect(direct.count == 1 && direct[0].layout == .loneVideo && direct[0].name == "main")
        // Missing input.
        let e = labelError { _ = try ClipGroupDiscovery().discover([d.path + "/nope"]) }
        #expect(e?.kind == .unreadable && e?.file == d.path + "/nope")
    }

    /// The whole flow on the 8-camera event, with ffprobe's recorded frame times standing in
    /// for the decoder's.
    @Test func labelsSampleEvent() throws {
        let groups = try ClipGroupDiscovery().discover([Fixtures.event])
        #expect(groups.count == 1)
        let sidecars = try groups[0].load()
        #expect(sidecars.eventID == "event_0001")
        #expect(sidecars.cameraNames == Fixtures.cameras && sidecars.master == "main")
        #expect(sidecars.schema == LabelSchema(fields: [
            LabelField(name: "speed", unit: "m/s", kind: .continuous),
            LabelField(name: "steering_angle", unit: "deg", kind: .continuous),
            LabelField(name: "gear", unit: "categorical", kind: .categorical),
        ]))
        var frameTimes: [CameraName: [Double]] = [:]
        for cam in Fixtures.cameras { frameTimes[cam] = try Fixtures.probeFrameTimes(cam) }
        let labels = try sidecars.labels(frameTimes: frameTimes)
        #expect(labels.count == 71 && labels.sync.dropped == 1)
        #expect(labels.values.count == 71 * 3 && labels.mask.count == 71 * 3)

        let table = try readColumns(Fixtures.event + "/signals.csv")   // t, speed, steer, gear
        for i in 0..<labels.count {
            let s = labels.samples[i]
            let t = s.masterTime
            let v = labels.values(ofSample: i), m = labels.mask(ofSample: i)
            if t < 0.1 {
                #expect(Array(m) == [0, 0, 0] && Array(v) == [0, 0, 0], "frame \(s.masterIndex) precedes the signals")
                continue
            }
            #expect(Array(m) == [1, 1, 1], "frame \(s.masterIndex) at \(t)")
            let speed = referenceInterp(t, table[0], table[1], maxGap: 0.25)!
            let steer = referenceInterp(t, table[0], table[2], maxGap: 0.25)!
            #expect(v[v.startIndex] == Float(speed) && v[v.startIndex + 1] == Float(steer))
            #expect(abs(Double(v[v.startIndex]) - (20 + 2 * sin(t))) < 2e-4)     // the generator's curve
            let lastGear = table[3][table[0].lastIndex { $0 <= t }!]
            #expect(v[v.startIndex + 2] == Float(lastGear))
            #expect(v[v.startIndex + 2] == (t < 1.0 ? 4 : 5) || abs(t - 1.0) < 0.03)
        }
        // Annotations every 9th frame, passed through compacted.
        for (i, s) in labels.samples.enumerated() {
            if s.masterIndex % 9 == 0 {
                let n = s.masterIndex
                #expect(labels.annotations[i]?.json == "{\"frame\":\(n),\"boxes\":[{\"label\":\"car\",\"xyxy\":[\(10 + n),20,\(60 + n),70]}]}")
            } else {
                #expect(labels.annotations[i] == nil)
            }
        }
        #expect(labels.unmatchedAnnotations == 0)
        // Codable round trip (the schema and labels travel with records).
        let data = try JSONEncoder().encode(labels)
        #expect(try JSONDecoder().decode(ClipLabels.self, from: data) == labels)
    }

    @Test func fixedSchemaAcrossClips() throws {
        var options = LabelOptions()
        options.schema = LabelSchema(fields: [LabelField(name: "gear", kind: .categorical),
                                              LabelField(name: "yaw_rate", unit: "rad/s")])
        let sidecars = try ClipGroupDiscovery(options: options).discover([Fixtures.event])[0].load(options: options)
        var frameTimes: [CameraName: [Double]] = [:]
        for cam in Fixtures.cameras { frameTimes[cam] = try Fixtures.probeFrameTimes(cam) }
        let labels = try sidecars.labels(frameTimes: frameTimes, options: options)
        #expect(labels.schema.width == 2)
        let last = labels.count - 1
        #expect(Array(labels.values(ofSample: last)) == [5, 0] && Array(labels.mask(ofSample: last)) == [1, 0])
    }

    @Test func timeKeyedAnnotationsAndOffsets() throws {
        let d = TempDir()
        d.write("ev/main.mp4", "")
        d.write("ev/rear.mp4", "")
        d.write("ev/clip.json", #"{"cameras": ["rear", "main"], "offsets": {"rear": 0.25}}"#)
        d.write("ev/annotations.jsonl", """
            {"t": 0.24, "lanes": [[0, 1], [2, 3]]}
            {"t": 0.5,   "note": "a b"}

            {"t": 9.0, "far": true}
            {"frame": 99}
            """)
        let g = try ClipGroupDiscovery().discover([d.path])[0]
        let s = try g.load()
        #expect(s.cameraNames == ["rear", "main"] && s.master == "main" && s.offsets == ["rear": 0.25])
        let main = (0..<10).map { Double($0) * 0.1 }
        let rear = main.map { $0 - 0.25 }               // rear starts its clock 0.25 s late
        let labels = try s.labels(frameTimes: ["main": main, "rear": rear])
        #expect(labels.count == 10 && labels.sync.dropped == 0)
        #expect(labels.samples[3].cameras[0]?.index == 3 && labels.samples[3].cameras[1]?.index == 3)
        #expect(labels.annotations[2]?.json == #"{"t":0.24,"lanes":[[0,1],[2,3]]}"#)
        #expect(labels.annotations[5]?.json == #"{"t":0.5,"note":"a b"}"#)
        #expect(labels.annotations.compactMap { $0 }.count == 2 && labels.unmatchedAnnotations == 2)
        #expect(labels.schema.width == 0 && labels.values.isEmpty)
    }
}
