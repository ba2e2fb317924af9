import FleetPrep
import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Seeded crafted worker manifests and shard names given to `DatasetMerge` in process (issue 25,
/// Fuzz): no input may crash merge, lead it to touch a file outside the directories it was
/// given, or leave a half-written `--out`. The oracles are the merge rules (docs/ingest.md):
/// - a refused merge leaves `--out` byte for byte as it was;
/// - a merge that succeeds names only plain file names, each a regular file in `--out`, and its
///   dataset holds every listed sample exactly once, readable;
/// - the sentinel directory beside the workers, which crafted names point into, never changes.
@Suite(.serialized) struct MergeFuzzTests {
    /// Rounds in all; about 50 ms each in a debug build (the test stays well under 30 s: CI's fuzz budget is about 2 minutes in all).
    static let rounds = 160

    static let names: [String] = [
        "../outside/evil.fps", "../../outside/secret", "/etc/passwd", "a/b.fps", "", ".", "..", ".hidden.fps",
        "index.json", "errors.jsonl", ".index.json.merge.tmp", String(repeating: "x", count: 300) + ".fps",
        "shard\u{0}.fps", "shard-\u{1b}[2J.fps", "sh\u{e9}rd.fps", "index-w000of002.json", "journal-merge.jsonl",
    ]
    static let manifestNames = ["index-w1of2.json", "index-w000of000.json", "index-w-01of002.json", "index-w999999999of999999999.json",
                                "index-w002of002.json", "index-w000of001.json", "index-w00aof002.json"]

    static func snapshot(_ dir: URL) -> [String: Data] { UntrustedRound3Tests.snapshot(dir) }

    @Test func craftedManifestsNeverEscapeOrHalfWrite() throws {
        let root = HostileInputTests.temp("mergefuzz")
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        let nodes = [root.appendingPathComponent("n0"), root.appendingPathComponent("n1")]
        try UntrustedRound3Tests.workers(nodes)
        let outside = root.appendingPathComponent("outside")
        try fm.createDirectory(at: outside, withIntermediateDirectories: true)
        let m0 = nodes[0].appendingPathComponent("index-w000of002.json"), m1 = nodes[1].appendingPathComponent("index-w001of002.json")
        let pristine = [try Data(contentsOf: m0), try Data(contentsOf: m1)]
        let firstShard = try DatasetManifest.read(from: m0).shards[0].file
        try fm.copyItem(at: nodes[0].appendingPathComponent(firstShard), to: outside.appendingPathComponent("evil.fps"))
        try HostileInputTests.write("secret", outside.appendingPathComponent("secret"))
        let outsideBefore = Self.snapshot(outside)
        let outs = [root.appendingPathComponent("fresh"), root.appendingPathComponent("kept"), nodes[0]]

        var rng = SplitMix64(seed: 25)
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        var succeeded = 0, refused = 0
        for round in 0..<Self.rounds {
            // Start from the pristine manifests (and only them) in both directories.
            for (n, dir) in nodes.enumerated() {
                for name in try fm.contentsOfDirectory(atPath: dir.path) where name.hasPrefix("index-w") { try fm.removeItem(at: dir.appendingPathComponent(name)) }
                try pristine[n].write(to: n == 0 ? m0 : m1)
            }
            let target = Int(rng.next() % 2)
            let url = target == 0 ? m0 : m1
            var m = try DatasetManifest.read(from: url)
            var raw: Data? = nil
            switch rng.next() % 8 {
            case 0, 1:   // a crafted shard name (its digest recomputed: a well-formed manifest)
                if !m.shards.isEmpty { m.shards[Int(rng.next() % UInt64(m.shards.count))].file = pick(Self.names) }
            case 2:      // the other worker's shard name, or the same shard twice
                let other = try DatasetManifest.read(from: target == 0 ? m1 : m0)
                if !m.shards.isEmpty, let s = (rng.next() % 2 == 0 ? other.shards : m.shards).first { m.shards.append(s) }
            case 3:      // counts and sizes as claims
                if !m.shards.isEmpty {
                    let k = Int(rng.next() % UInt64(m.shards.count))
                    switch rng.next() % 4 {
                    case 0: m.shards[k].samples = [0, -1, Int.max, m.shards[k].samples + 1][Int(rng.next() % 4)]
                    case 1: m.shards[k].bytes = [0, -1, Int64.max, m.shards[k].bytes - 1][Int(rng.next() % 4)]
                    case 2: m.shards[k].firstKey = "forged"
                    default: m.shards.remove(at: k)
                    }
                }
            case 4:      // sources: duplicated or emptied
                if case .array(let a) = m.sources { m.sources = .array(rng.next() % 2 == 0 ? a + a : []) }
            case 5:      // the manifest under a crafted name
                try fm.removeItem(at: url)
                try m.write(to: url.deletingLastPathComponent(), name: pick(Self.manifestNames))
                m.shards = []   // (already written)
            default:     // raw bytes mutated (no digest recomputed)
                raw = DatasetFuzzMutation.mutate(target == 0 ? pristine[0] : pristine[1], &rng)
            }
            if let raw { try raw.write(to: url) } else if fm.fileExists(atPath: url.path) { try m.write(to: url.deletingLastPathComponent(), name: url.lastPathComponent) }

            let out = pick(outs)
            let before = Self.snapshot(out)
            do {
                let r = try DatasetMerge.merge(nodes, into: out, allowPartial: rng.next() % 2 == 0)
                succeeded += 1
                for s in r.manifest.shards {
                    #expect(!s.file.isEmpty && !s.file.contains("/") && !s.file.hasPrefix(".") && !s.file.contains("\u{0}"), "round \(round): merged a shard named \"\(s.file)\"")
                    var st = stat()
                    #expect(lstat(out.appendingPathComponent(s.file).path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG, "round \(round): \(s.file)")
                }
                let ds = try ShardDataset(directory: out)
                var keys = Set<String>()
                for i in 0..<ds.count { #expect(keys.insert(try ds.record(at: i).key).inserted, "round \(round): a key twice") }
                #expect(ds.count == r.manifest.samples, "round \(round)")
            } catch {
                refused += 1
                #expect(Self.snapshot(out) == before, "round \(round): a refused merge changed \(out.lastPathComponent): \(error)")
            }
            #expect(Self.snapshot(outside) == outsideBefore, "round \(round): merge touched the directory beside the workers")
        }
        #expect(succeeded > 0 && refused > 0, "succeeded \(succeeded), refused \(refused)")
    }
}

/// The byte mutations of DatasetFuzzTests (FleetShardsTests), for manifests here.
enum DatasetFuzzMutation {
    static func mutate(_ d: Data, _ rng: inout SplitMix64) -> Data {
        var b = [UInt8](d)
        switch rng.next() % 4 {
        case 0: for _ in 0..<(1 + Int(rng.next() % 3)) { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 << (rng.next() % 8)) }
        case 1:
            let at = Int(rng.next() % UInt64(max(1, b.count - 8)))
            for k in 0..<min(8, b.count - at) where b[at + k] >= 0x30 && b[at + k] <= 0x39 { b[at + k] = 0x39 }
        case 2: b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
        default: b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
        }
        return Data(b)
    }
}
