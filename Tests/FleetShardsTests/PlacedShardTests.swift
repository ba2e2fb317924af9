@testable import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Records placed up front (`ShardPacker`) and written in any order from several threads
/// (`PlacedShard`) make the same native files as the sequential `DatasetWriter` (whose output
/// the Python interop tests read with numpy); failed records are compacted out exactly; the
/// segment digest is the documented one, recomputed here with coreutils' `sha256sum`.
@Suite struct PlacedShardTests {
    static func record(_ s: Sample) -> SampleRecord {
        SampleRecord(key: s.key, tensor: s.tensor, labels: s.labels, mask: s.mask,
                     annotations: s.annotations, metadata: .object(["source": .string("test"), "i": .number(1)]))
    }

    /// Places `samples`, writes them from 4 threads in a shuffled order, finishes every shard
    /// (dropping `drop`, by key). Returns the shards.
    static func writePlaced(_ samples: [Sample], to dir: URL, format: ShardFormat, budget: Int64,
                            drop: Set<String> = [], digest: SegmentDigestKind = .crc32c) throws -> [ShardInfo] {
        let b = try ShardBudget(target: MemoryTarget(parsing: "\(budget)"), fill: 1)
        var packer = try ShardPacker(format: format, budget: b, schema: schema)
        var placements: [ShardPlacement] = []
        for s in samples { placements.append(try packer.place(record(s))) }
        let count = (placements.last?.shard ?? -1) + 1
        var files: [PlacedShard] = []
        for n in 0..<count {
            files.append(try PlacedShard(directory: dir, name: String(format: "shard-%06d.%@", n, format.fileExtension),
                                         number: n, format: format, schema: schema, alignment: 4096, digest: digest))
        }
        var order = Array(samples.indices)
        var g = SplitMix64(seed: 99)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        let errors = LockedBox<[String]>([])
        let (order2, placements2, files2) = (order, placements, files)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in stride(from: t, to: order2.count, by: 4) {
                let s = samples[order2[i]], p = placements2[order2[i]]
                do { try s.bytes.withUnsafeBytes { try files2[p.shard].write(record(s), tensorBytes: $0, at: p) } } catch {
                    errors.mutate { $0.append("\(error)") }
                }
            }
        }
        #expect(errors.get().isEmpty)
        var out: [ShardInfo] = []
        for n in 0..<count {
            let mine = samples.indices.filter { placements[$0].shard == n }
            let dropping = Set(mine.filter { drop.contains(samples[$0].key) }.map { placements[$0].slot })
            if let info = try files[n].finish(slots: mine.count, dropping: dropping) { out.append(info) }
        }
        try DatasetManifest(format: format, target: b.target, fill: 1, budgetBytes: b.bytes, shards: out, schema: schema,
                            tensor: nil, transform: .null, sources: .null).write(to: dir)
        return out
    }

    @Test func anyOrderFromFourThreadsMakesTheSequentialWritersFiles() throws {
        let samples = makeSamples(60, seed: 7)
        let seq = scratch("seq"), placed = scratch("placed")
        defer { try? FileManager.default.removeItem(at: seq); try? FileManager.default.removeItem(at: placed) }
        let a = try write(samples, to: seq, format: .native, budget: 16 * 1024)
        let b = try Self.writePlaced(samples, to: placed, format: .native, budget: 16 * 1024)
        #expect(a.count > 3)
        #expect(b.map(\.file) == a.map(\.file))
        #expect(b.map(\.samples) == a.map(\.samples))
        #expect(b.map(\.bytes) == a.map(\.bytes))
        for s in a {
            #expect(try Data(contentsOf: placed.appendingPathComponent(s.file)) == Data(contentsOf: seq.appendingPathComponent(s.file)), "\(s.file)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: placed.path).filter { $0.hasSuffix(".tmp") }.isEmpty)
        #expect(try ShardDataset(directory: placed).verify().isEmpty)
    }

    @Test func droppedRecordsAreCompactedOutExactly() throws {
        let samples = makeSamples(30, seed: 5)
        let drop: Set<String> = [samples[0].key, samples[7].key, samples[8].key, samples[29].key]
        let kept = samples.filter { !drop.contains($0.key) }
        let seq = scratch("seqk"), placed = scratch("placedk")
        defer { try? FileManager.default.removeItem(at: seq); try? FileManager.default.removeItem(at: placed) }
        // One large shard: the compacted file must be what the sequential writer makes of the rest.
        let a = try write(kept, to: seq, format: .native, budget: 1 << 20)
        let b = try Self.writePlaced(samples, to: placed, format: .native, budget: 1 << 20, drop: drop)
        #expect(a.count == 1 && b.count == 1)
        #expect(try Data(contentsOf: placed.appendingPathComponent(b[0].file)) == Data(contentsOf: seq.appendingPathComponent(a[0].file)))
        #expect(try ShardDataset(directory: placed).verify().isEmpty)
    }

    @Test(.enabled(if: TestPaths.which("tar") != nil, "skipped: tar (the oracle for member order) is not installed"),
          arguments: [0, 3])
    func webDatasetShardsReadBackAndListInOrderWithTar(dropEvery: Int) throws {
        let samples = makeSamples(40, seed: 3)
        let drop = Set(samples.indices.filter { dropEvery > 0 && $0 % dropEvery == 1 }.map { samples[$0].key })
        let dir = scratch("placedwds")
        defer { try? FileManager.default.removeItem(at: dir) }
        let shards = try Self.writePlaced(samples, to: dir, format: .wds, budget: 24 * 1024, drop: drop)
        #expect(shards.count > 2)
        let kept = samples.filter { !drop.contains($0.key) }
        let ds = try ShardDataset(directory: dir)
        #expect(ds.count == kept.count)
        for (i, s) in kept.enumerated() {
            let r = try ds.record(at: i)
            #expect(r.key == s.key)
            #expect(r.tensorData == s.bytes)
            #expect(r.labels == s.labels && r.mask == s.mask)
        }
        #expect(ds.verify().isEmpty)
        let tar = TestPaths.which("tar")!
        var listed: [String] = []
        for s in shards {
            let (status, out, _) = try TestPaths.run(tar, ["-tf", dir.appendingPathComponent(s.file).path])
            #expect(status == 0)
            listed += String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        #expect(listed == kept.flatMap { [$0.key + ".npy", $0.key + ".json"] })
    }

    /// CRC-32C (Castagnoli), bit by bit: an oracle independent of the table/SSE4.2 code.
    static func crc32c(_ d: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in d {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0x82F6_3B78 : 0) }
        }
        return ~c
    }

    /// Both segment digests recomputed from docs/shard-format.md: the SHA-256 (`sha256sum`) of the
    /// concatenated per-segment entries — each segment's SHA-256, or its length (u64 LE) and
    /// CRC-32C (u32 LE) — over the header, each record and the index.
    @Test(.enabled(if: TestPaths.which("sha256sum") != nil, "skipped: sha256sum (the digest oracle) is not installed"),
          arguments: [SegmentDigestKind.sha256, .crc32c])
    func segmentDigestIsTheDocumentedOne(kind: SegmentDigestKind) throws {
        let tool = TestPaths.which("sha256sum")!
        let samples = makeSamples(12, seed: 9)
        let dir = scratch("digest")
        defer { try? FileManager.default.removeItem(at: dir) }
        let shards = try Self.writePlaced(samples, to: dir, format: .native, budget: 1 << 20, drop: [samples[4].key], digest: kind)
        let file = try Data(contentsOf: dir.appendingPathComponent(shards[0].file))
        func u64(_ at: Int) -> Int { file[at..<(at + 8)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) } }
        let indexOffset = u64(32), indexLength = u64(40)
        let index = try JSONSerialization.jsonObject(with: file[indexOffset..<(indexOffset + indexLength)]) as! [String: Any]
        var segments: [Range<Int>] = [0..<64]
        for e in index["records"] as! [[String: Any]] {
            let o = e["offset"] as! Int, l = e["length"] as! Int
            segments.append(o..<(o + l))
        }
        segments.append(indexOffset..<(indexOffset + indexLength))
        func sha(_ d: Data) throws -> Data {
            let tmp = dir.appendingPathComponent("seg")
            try d.write(to: tmp)
            let (_, out, _) = try TestPaths.run(tool, [tmp.path])
            let hex = Array(String(decoding: out, as: UTF8.self).prefix(64).utf8)
            return Data(stride(from: 0, to: 64, by: 2).map { UInt8(String(decoding: hex[$0..<($0 + 2)], as: UTF8.self), radix: 16)! })
        }
        func le(_ v: UInt64, _ n: Int) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }) }
        var all = Data()
        for r in segments {
            switch kind {
            case .sha256: all += try sha(file[r])
            case .crc32c: all += le(UInt64(r.count), 8) + le(UInt64(Self.crc32c(file[r])), 4)
            }
        }
        let expected = kind.rawValue + "-segments:" + (try sha(all)).map { String(format: "%02x", $0) }.joined()
        #expect(shards[0].digest.description == expected)
        // Damage anywhere is caught: a record byte, and a padding byte between records.
        var bad = file
        bad[segments[1].lowerBound + 5] ^= 1
        let gap = segments[1].upperBound + 1
        #expect(gap < segments[2].lowerBound)
        try bad.write(to: dir.appendingPathComponent(shards[0].file))
        #expect(try ShardDataset(directory: dir).verify().isEmpty == false)
        bad = file
        bad[gap] = 7
        try bad.write(to: dir.appendingPathComponent(shards[0].file))
        #expect(try ShardDataset(directory: dir).verify().contains { $0.message.contains("padding") })
    }
}

/// The index JSON written directly is byte for byte what Foundation's JSONEncoder (sorted keys,
/// unescaped slashes) makes of the same entries, including names that need escaping.
@Suite struct IndexEncodingTests {
    @Test func directIndexEqualsJSONEncoder() throws {
        var g = SplitMix64(seed: 4)
        let names = ["frames", "a\"b\\c/d", "tab\there\nnl", "\u{1}ctl", "ünï", ""]
        var entries: [NativeShard.Entry] = []
        for i in 0..<200 {
            let spec = TensorSpec(name: names[i % names.count], dtype: ElementType.allCases[i % 4],
                                  shape: (0..<(i % 5)).map { _ in Int(g.next() % 5000) }, layout: [TensorLayout.chw, .hwc, nil][i % 3])
            entries.append(.init(key: "k-\(i)", offset: Int64(g.next() % (1 << 40)), length: Int64(g.next() % (1 << 30)),
                                 crc32c: UInt32(truncatingIfNeeded: g.next()), tensor: spec, tensorBytes: Int(g.next() % 100_000),
                                 labels: i % 7, annotationsBytes: Int(g.next() % 999), metadataBytes: Int(g.next() % 9999)))
        }
        let viaEncoder = [UInt8](try NativeShard.encoder().encode(NativeShard.Index(schema: schema, records: entries)))
        #expect(try NativeShard.indexBytes(schema: schema, entries: entries) == viaEncoder)
        for e in entries { #expect(NativeShard.entryBytes(e) == (try NativeShard.encoder().encode(e)).count) }
    }
}
