import FleetTestSupport
import Foundation
import Testing
@testable import FleetLabels

/// Numpy arrays, frame-times logs, and the fleet layouts' discovery (comma2k19 segments, TeslaCam
/// events, clip manifests), with hand-built files and hand-computed expectations.
@Suite("Fleet layouts: numpy, frame-times logs, comma2k19, TeslaCam, manifests")
struct FleetLayoutTests {
    /// A `.npy` v1 file written by hand (the format's spec: magic, version, little-endian header
    /// length, a padded dict, then the data).
    static func npy(descr: String, shape: String, data: [UInt8]) -> [UInt8] {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let n = header.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8) + data
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func be<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    @Test func numpyTypesShapesAndByteOrders() throws {
        let f8 = [1.5, -2.25, 1e9].flatMap { Self.le($0.bitPattern) }
        #expect(try NumpyArray.parse(Self.npy(descr: "<f8", shape: "(3,)", data: f8), file: "a").values == [1.5, -2.25, 1e9])
        let f4 = [Float(0.5), 3].flatMap { Self.le($0.bitPattern) }
        #expect(try NumpyArray.parse(Self.npy(descr: "<f4", shape: "(2, 1)", data: f4), file: "a").values == [0.5, 3])
        let i2 = [Int16(-300), 7].flatMap { Self.be(UInt16(bitPattern: $0)) }
        #expect(try NumpyArray.parse(Self.npy(descr: ">i2", shape: "(2,)", data: i2), file: "a").values == [-300, 7])
        #expect(try NumpyArray.parse(Self.npy(descr: "|u1", shape: "(3,)", data: [0, 200, 255]), file: "a").values == [0, 200, 255])
        #expect(try NumpyArray.parse(Self.npy(descr: "<i8", shape: "(0,)", data: []), file: "a").values == [])
    }

    @Test func numpyHeaderClaimsAreCheckedBeforeAllocating() {
        // 10^12 doubles claimed, 16 bytes present: refused by the size check, nothing allocated.
        let huge = Self.npy(descr: "<f8", shape: "(1000000000000,)", data: [UInt8](repeating: 0, count: 16))
        #expect(throws: LabelError.self) { try NumpyArray.parse(huge, file: "huge") }
        let overflow = Self.npy(descr: "<f8", shape: "(9223372036854775807,)", data: [])
        #expect(throws: LabelError.self) { try NumpyArray.parse(overflow, file: "overflow") }
        for bad in [Self.npy(descr: "<c16", shape: "(1,)", data: [UInt8](repeating: 0, count: 16)),   // complex
                    Self.npy(descr: "<f8", shape: "(2, 3)", data: [UInt8](repeating: 0, count: 48)),  // 2-D
                    Self.npy(descr: "|O", shape: "(1,)", data: [0]),                                   // objects
                    Array(Self.npy(descr: "<f8", shape: "(1,)", data: []).prefix(9)),                   // cut header
                    Array("not numpy".utf8)] {
            #expect(throws: LabelError.self) { try NumpyArray.parse(bad, file: "bad") }
        }
    }

    @Test func frameTimesLogsCSVAndNumpy() throws {
        let d = TempDir()
        let csv = d.write("a.frame_times.csv", "t\n10.0\n10.05\n10.1\n")
        #expect(try FrameTimesLog.load(path: csv) == [10.0, 10.05, 10.1])
        let bare = d.write("b.csv", "1\n2\n3.5\n")
        #expect(try FrameTimesLog.load(path: bare) == [1, 2, 3.5])
        let npy = d.path + "/frame_times"   // comma2k19 ships numpy files without an extension
        try Data(Self.npy(descr: "<f8", shape: "(2,)", data: [4.0, 4.5].flatMap { Self.le($0.bitPattern) })).write(to: URL(fileURLWithPath: npy))
        #expect(try FrameTimesLog.load(path: npy) == [4.0, 4.5])
        // Times must be finite and increasing.
        let back = d.write("c.csv", "t\n1\n2\n2\n")
        #expect(throws: LabelError.self) { try FrameTimesLog.load(path: back) }
        let nan = d.write("e.csv", "t\n1\nnan\n")
        #expect(throws: LabelError.self) { try FrameTimesLog.load(path: nan) }
    }

    @Test func teslaCamNames() {
        let p = TeslaCam.parse("2026-11-30_10-04-00-front.mp4")
        // 2026-11-30 is day 20,787 since 1970-01-01 (Python: date(2026,11,30).toordinal() - date(1970,1,1).toordinal()).
        let expected: Double = 20_787 * 86_400 + 10 * 3600 + 4 * 60
        #expect(p?.start == expected)
        #expect(p?.camera == "main")
        #expect(TeslaCam.parse("2026-11-30_10-04-00-back.mp4")?.camera == "rear")
        #expect(TeslaCam.parse("2026-11-30_10-04-00-left_pillar.mp4")?.camera == "left_pillar")
        #expect(TeslaCam.parse("2026-11-30_10-04-00-sideways.mp4") == nil)
        #expect(TeslaCam.parse("2026-13-30_10-04-00-front.mp4") == nil)
        #expect(TeslaCam.parse("front.mp4") == nil)
    }

    @Test func teslaCamEventsGroupCamerasAndMinutes() throws {
        let d = TempDir()
        for m in ["04", "05"] {
            for c in ["front", "back", "left_repeater", "right_repeater"] { d.write("SavedClips/ev1/2026-11-30_10-\(m)-00-\(c).mp4", "") }
        }
        d.write("SavedClips/ev1/event.json", "{\"reason\": \"honk\"}")
        d.write("SavedClips/ev1/thumb.png", "")
        d.write("RecentClips/2026-11-30_11-00-00-front.mp4", "")
        d.write("RecentClips/2026-11-30_11-00-00-left_pillar.mp4", "")
        let groups = try ClipGroupDiscovery().discover([d.path])
        #expect(groups.map(\.layout) == [.teslacam, .teslacam])
        let recent = groups[0], saved = groups[1]
        #expect(recent.name == "RecentClips")
        #expect(recent.videos.map(\.camera) == ["main", "left_pillar"])
        #expect(saved.videos.map(\.camera) == ["main", "left_repeater", "right_repeater", "rear"])
        #expect(saved.videos[0].sourceName == "front" && saved.videos[3].sourceName == "back")
        #expect(saved.videos[0].segments?.map { ($0.path as NSString).lastPathComponent } == ["2026-11-30_10-04-00-front.mp4", "2026-11-30_10-05-00-front.mp4"])
        #expect(saved.videos[0].segments.map { $0[1].start - $0[0].start } == 60)
        #expect(saved.event?.hasSuffix("ev1/event.json") == true)
        let loaded = try saved.load()
        #expect(loaded.cameraNames == ["main", "left_repeater", "right_repeater", "rear"])
        #expect(loaded.master == "main")
        #expect(loaded.event == "{\"reason\":\"honk\"}")
    }

    @Test func comma2k19SegmentsInRouteAndSegmentOrder() throws {
        let d = TempDir()
        let t = Self.npy(descr: "<f8", shape: "(3,)", data: [1.0, 2.0, 3.0].flatMap { Self.le($0.bitPattern) })
        let v = Self.npy(descr: "<f8", shape: "(3, 1)", data: [10.0, 20.0, 30.0].flatMap { Self.le($0.bitPattern) })
        for seg in ["2", "10", "1"] {
            let s = "Chunk_1/routeA/\(seg)"
            d.write("\(s)/video.hevc", "")
            d.mkdir("\(s)/global_pose")
            try Data(t).write(to: URL(fileURLWithPath: d.path + "/\(s)/global_pose/frame_times"))
            for sig in ["speed", "steering_angle"] {
                d.mkdir("\(s)/processed_log/CAN/\(sig)")
                try Data(t).write(to: URL(fileURLWithPath: d.path + "/\(s)/processed_log/CAN/\(sig)/t"))
                try Data(v).write(to: URL(fileURLWithPath: d.path + "/\(s)/processed_log/CAN/\(sig)/value"))
            }
        }
        let groups = try ClipGroupDiscovery().discover([d.path])
        #expect(groups.map(\.name) == ["routeA_1", "routeA_2", "routeA_10"])
        let g = groups[0]
        #expect(g.layout == .comma2k19)
        #expect(g.videos.count == 1 && g.videos[0].camera == "main")
        #expect(g.videos[0].frameTimes?.hasSuffix("1/global_pose/frame_times") == true)
        #expect(g.signalArrays.map(\.name) == ["speed", "steering_angle"])
        let loaded = try g.load()
        #expect(loaded.signals.map(\.name) == ["speed", "steering_angle"])
        #expect(loaded.signals[0].times == [1, 2, 3] && loaded.signals[0].values == [10, 20, 30])
    }

    @Test func manifestLinesAreGroupsAndBadLinesAreProblems() throws {
        let d = TempDir()
        let m = d.write("sel/clips.jsonl", """
        {"id": "evt-1", "cameras": {"rear": "a/b.mp4", "main": "/abs/front.mp4"}, "offsets": {"rear": 0.004}, "frame_times": {"main": "t.csv"}, "signals": "can.csv"}
        # a comment
        {"id": "evt-2", "cameras": {"main": "x.mp4"}, "colour": "red"}
        not json
        {"id": "evt-1", "cameras": {"main": "y.mp4"}}
        {"id": "evt-3", "cameras": {}}
        {"id": "evt-4", "cameras": {"main": "z.h264"}}

        """)
        let (groups, problems) = try GroupManifest.load(path: m, options: LabelOptions())
        #expect(groups.map(\.name) == ["evt-1", "evt-4"])
        let g = groups[0]
        #expect(g.layout == .manifest)
        #expect(g.videos.map(\.camera) == ["main", "rear"])
        #expect(g.videos.map(\.path) == ["/abs/front.mp4", d.path + "/sel/a/b.mp4"])
        #expect(g.videos[0].frameTimes == d.path + "/sel/t.csv")
        #expect(g.offsets == ["rear": 0.004])
        #expect(g.signalsTable == d.path + "/sel/can.csv")
        #expect(problems.map(\.line) == [3, 4, 5, 6])
        #expect(problems[0].description.contains("unknown key \"colour\""))
        #expect(problems[2].description.contains("earlier line"))
    }

    /// Seeded mutations of the new input kinds — numpy arrays, frame-times logs, manifest lines,
    /// TeslaCam names: a `LabelError` (or a per-line problem) is fine, a crash or another error is not.
    @Test func fuzzedNumpyLogsManifestsAndNamesFailCleanly() throws {
        var rng = SplitMix64(seed: 2025)
        let good = Self.npy(descr: "<f8", shape: "(4,)", data: [1.0, 2.0, 3.0, 4.0].flatMap { Self.le($0.bitPattern) })
        var parsed = 0
        for _ in 0..<1500 {
            var b = good
            switch rng.next() % 3 {
            case 0: for _ in 0..<(1 + Int(rng.next() % 4)) { b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1: b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
            default: b.insert(contentsOf: Array("(99999999999999999999,)".utf8), at: 30 + Int(rng.next() % 20))
            }
            do {
                let a = try NumpyArray.parse(b, file: "fuzz.npy")
                #expect(a.values.count == a.shape[0])
                parsed += 1
            } catch is LabelError {}
        }
        #expect(parsed > 0 && parsed < 1500)
        let d = TempDir()
        let lines = ["{\"id\": \"a\", \"cameras\": {\"main\": \"x.mp4\"}, \"offsets\": {\"main\": 0.5}}",
                     "{\"id\": \"b\", \"cameras\": {\"main\": \"y.mp4\", \"rear\": \"z.mp4\"}, \"frame_times\": {\"rear\": \"t.csv\"}}"]
        for round in 0..<500 {
            var text = Array(lines.joined(separator: "\n").utf8)
            for _ in 0..<(1 + Int(rng.next() % 3)) { text[Int(rng.next() % UInt64(text.count))] = UInt8(truncatingIfNeeded: rng.next() % 128) }
            let m = d.write("m\(round % 4).jsonl", String(decoding: text, as: UTF8.self))
            let (groups, problems) = try GroupManifest.load(path: m, options: LabelOptions())
            #expect(groups.count + problems.count >= 1)
            let csv = d.write("t\(round % 4).csv", String(decoding: text, as: UTF8.self))
            do { _ = try FrameTimesLog.load(path: csv) } catch is LabelError {}
            var name = Array("2026-11-30_10-04-00-front.mp4".utf8)
            name[Int(rng.next() % UInt64(name.count))] = UInt8(truncatingIfNeeded: rng.next() % 128)
            if let p = TeslaCam.parse(String(decoding: name, as: UTF8.self)) { #expect(p.start.isFinite) }
        }
    }
}

