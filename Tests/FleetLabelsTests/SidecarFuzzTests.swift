import FleetTestSupport
import Foundation
import Testing
@testable import FleetLabels

/// Seeded mutations of sidecars (signals.csv, a one-signal file, annotations.jsonl, clip.json)
/// parsed in process (issue 25, Fuzz). The oracles are the untrusted-input rules: no mutation
/// crashes a parser; every refusal is a `LabelError` whose message quotes the file only as a short
/// excerpt (bounded length, no control characters, none of a long secret line); a table that
/// parses has as many series as its header names, each with ordered, finite times.
@Suite struct SidecarFuzzTests {
    static let rounds = 1500

    /// A line that must never be copied into a message whole.
    static let secret = "root:x:0:0:root:/root:/bin/bash-SECRET-LINE"

    static let seeds: [(kind: String, text: String)] = [
        ("table", "t,speed,steer,gear\n0,1.5,0.1,1\n0.5,2,,1\n1,2.5,0.3,2\n"),
        ("single", "t,value\n0,1\n1,2\n2,4\n"),
        ("annotations", "{\"frame\":0,\"boxes\":[1,2,3]}\n{\"t\":0.5,\"note\":\"x\"}\n"),
        ("manifest", "{\"event_id\":\"e1\",\"cameras\":[\"main\",\"rear\"],\"master\":\"main\",\"offsets\":{\"rear\":0.01},\"units\":{\"speed\":\"m/s\"},\"categorical\":[\"gear\"]}"),
    ]

    static func mutate(_ s: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = s
        switch rng.next() % 7 {
        case 0: if !b.isEmpty { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 << (rng.next() % 8)) }
        case 1: if !b.isEmpty { b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next()) }
        case 2: b = Array(b.prefix(Int(rng.next() % UInt64(b.count + 1))))
        case 3:   // the secret line (or control bytes) spliced in, as a linked or crafted file would
            let at = Int(rng.next() % UInt64(b.count + 1))
            let piece: [UInt8] = rng.next() % 2 == 0 ? Array(secret.utf8) : [0x1B, 0x5D, 0x30, 0x3B, 0x07, 0x1B, 0x5B, 0x32, 0x4A]
            b.insert(contentsOf: piece, at: at)
        case 4:   // a field duplicated many times (wide headers, long rows)
            let n = 1 + Int(rng.next() % 2000)
            b += Array(String(repeating: ",x\(rng.next() % 10)", count: n).utf8)
        case 5:   // huge or odd numbers
            let at = Int(rng.next() % UInt64(b.count + 1))
            b.insert(contentsOf: Array(["1e400", "-1e39", "nan", "inf", "0x1p3", "99999999999999999999"][Int(rng.next() % 6)].utf8), at: at)
        default:  // lines repeated or reversed (times going backwards, duplicate annotations)
            var lines = b.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
            if lines.count > 2 { lines.swapAt(1, lines.count - 2) }
            if let l = lines.last { lines.append(l) }
            b = Array(lines.joined(separator: [0x0A]))
        }
        return b
    }

    @Test func mutatedSidecarsFailCleanlyAndQuoteLittle() {
        var rng = SplitMix64(seed: 25)
        var refused = 0, parsed = 0
        for round in 0..<Self.rounds {
            let seed = Self.seeds[round % Self.seeds.count]
            var bytes = Array(seed.text.utf8)
            for _ in 0..<(1 + Int(rng.next() % 3)) { bytes = Self.mutate(bytes, &rng) }
            do {
                switch seed.kind {
                case "table":
                    let t = try SignalsCSV.parseTable(bytes, file: "s.csv", expectedColumns: nil, maxSignals: 1024)
                    for s in t {
                        #expect(s.times.count == s.values.count)
                        #expect(zip(s.times, s.times.dropFirst()).allSatisfy { $0 <= $1 } && s.times.allSatisfy(\.isFinite), "round \(round)")
                        #expect(s.values.allSatisfy { $0.isFinite && abs($0) <= Double(Float.greatestFiniteMagnitude) }, "round \(round)")
                    }
                    #expect(t.count <= 1024)
                case "single": _ = try SignalsCSV.parseSingle(bytes, name: "v", file: "v.csv")
                case "annotations": _ = try Annotations.parse(bytes, file: "a.jsonl")
                default: _ = try ClipManifest.parse(bytes, file: "clip.json", knownCameras: LabelOptions.standardCameras)
                }
                parsed += 1
            } catch let e as LabelError {
                refused += 1
                let text = e.description
                #expect(!text.contains(Self.secret) && !text.contains("/bin/bash-SECRET"), "round \(round): \(text)")
                #expect(!text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "round \(round): control characters in \(text.debugDescription)")
                #expect(text.count < 400, "round \(round): a \(text.count)-character message")
            } catch {
                Issue.record("round \(round): \(seed.kind) threw \(type(of: error)): \(error)")
            }
        }
        #expect(refused > 0 && parsed > 0, "refused \(refused), parsed \(parsed)")
    }
}
