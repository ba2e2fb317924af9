import FleetShards
import Foundation
import Testing

/// The FleetVocabulary types that carry annotations and camera names between modules (issue 26),
/// against hand-written cases.
@Suite struct VocabularyTypeTests {
    /// A line with its keys out of order, a number spelled `1.50e0`, spaces inside and outside
    /// strings; compacted by hand.
    static let written = #"{ "z" : 1.50e0, "frame": 0,"a" : [ 1 , 2.0, -0.0 ], "s":"x  y\"}", "n" : { "b" : true , "a" : null } }"#
    static let compact = #"{"z":1.50e0,"frame":0,"a":[1,2.0,-0.0],"s":"x  y\"}","n":{"b":true,"a":null}}"#

    @Test func annotationKeepsTheTextAsWrittenAndParsesOnDemand() throws {
        let a = try Annotation(validating: Self.written)
        #expect(a.json == Self.compact)
        #expect(a.description == Self.compact)
        #expect(try Annotation(validatingUTF8: Array(Self.written.utf8)) == a)
        #expect(a.value == .object([
            "z": .number(1.5), "frame": .number(0),
            "a": .array([.number(1), .number(2), .number(0)]),
            "s": .string("x  y\"}"),
            "n": .object(["b": .bool(true), "a": .null]),
        ]))
        #expect(a.value["s"] == .string("x  y\"}"))
        // Equal texts are equal annotations; the same object spelled otherwise is another one.
        #expect(try Annotation(validating: #"{"a":1}"#) == Annotation(validating: "{ \"a\" :\n1 }"))
        #expect(try Annotation(validating: #"{"a":1}"#) != Annotation(validating: #"{"a":1.0}"#))
    }

    @Test(arguments: [
        ("", Annotation.ValidationError.Kind.invalidJSON),
        ("{", .invalidJSON),
        (#"{"a":}"#, .invalidJSON),
        (#"{"a":1 2}"#, .invalidJSON),          // compacting would make it {"a":12}
        (#"{"a":1}x"#, .invalidJSON),
        (#"{"a":1}{"b":2}"#, .invalidJSON),
        ("{'a':1}", .invalidJSON),
        ("[1,2]", .notAnObject),
        (#""x""#, .notAnObject),
        ("null", .notAnObject),
        ("3", .notAnObject),
    ])
    func annotationRefusesWhatIsNotOneObject(text: String, kind: Annotation.ValidationError.Kind) {
        let error = #expect(throws: Annotation.ValidationError.self, "\(text)") { try Annotation(validating: text) }
        #expect(error?.kind == kind, "\(text)")
    }

    @Test func annotationCodesAsItsTextInAString() throws {
        let a = try Annotation(validating: #"{"b": 1.50e0, "a": 2}"#)
        let data = try JSONEncoder().encode([a])
        #expect(String(decoding: data, as: UTF8.self) == #"["{\"b\":1.50e0,\"a\":2}"]"#)
        #expect(try JSONDecoder().decode([Annotation].self, from: data) == [a])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Annotation].self, from: Data(#"["[1]"]"#.utf8)) }
    }

    @Test(arguments: [ShardFormat.native, .wds])
    func annotationsLeaveAShardAsWritten(format: ShardFormat) throws {
        let dir = scratch("ann")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Annotation(validating: Self.written)
        let spec = TensorSpec(name: "frames", dtype: .u8, shape: [1, 2, 2, 3], layout: .hwc)
        let samples = [
            Sample(key: "c-000000", tensor: spec, bytes: [UInt8](repeating: 7, count: 12), labels: [1, 2, 3], mask: [1, 1, 1], annotations: a),
            Sample(key: "c-000001", tensor: spec, bytes: [UInt8](repeating: 9, count: 12), labels: [1, 2, 3], mask: [1, 0, 1], annotations: nil),
        ]
        let shards = try write(samples, to: dir, format: format, budget: 1 << 20)
        let ds = try ShardDataset(directory: dir)
        #expect(ds.count == 2)
        #expect(try ds[0].annotations?.json == Self.compact)
        #expect(try ds[1].annotations == nil)
        #expect(ds.verify().isEmpty)
        // The file holds the text itself, and `null` for the sample without one.
        let bytes = try Data(contentsOf: dir.appendingPathComponent(shards[0].file))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(Self.compact))
        if format == .wds {
            #expect(text.contains(#"{"annotations":null,"#))
        }
    }

    @Test func cameraNamesCodeAsPlainStrings() throws {
        let names: [CameraName] = ["main", "left_repeater", CameraName("rear")]
        #expect(names.map(\.rawValue) == ["main", "left_repeater", "rear"])
        #expect(names.sorted() == ["left_repeater", "main", "rear"])
        #expect(names.joined(separator: ",") == "main,left_repeater,rear")
        #expect("\(names[1])" == "left_repeater" && "\(names)" == #"["main", "left_repeater", "rear"]"#)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        #expect(String(decoding: try enc.encode(names), as: UTF8.self) == #"["main","left_repeater","rear"]"#)
        let offsets: [CameraName: Double] = ["rear": 0.5, "main": -0.25]
        #expect(String(decoding: try enc.encode(offsets), as: UTF8.self) == #"{"main":-0.25,"rear":0.5}"#)
        #expect(try JSONDecoder().decode([CameraName: Double].self, from: Data(#"{"wide":2}"#.utf8)) == ["wide": 2])
        #expect(try JSONDecoder().decode(CameraName.self, from: Data(#""narrow""#.utf8)) == "narrow")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CameraName.self, from: Data("3".utf8)) }
    }
}
