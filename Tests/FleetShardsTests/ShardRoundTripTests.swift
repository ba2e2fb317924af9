import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Deterministic pseudo-random bytes (SplitMix64) so that Python can regenerate nothing: it
/// compares against .npy files the test writes with an independent writer (numpy itself reads them).
struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
        var g = SplitMix64(seed: state)
        defer { state = g.state }
        return g.next()
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    mutating func float() -> Float { Float(next() % 2_000_001) / 1000 - 1000 }
}

struct Sample {
    var key: String
    var tensor: TensorSpec
    var bytes: [UInt8]
    var labels: [Float]
    var mask: [UInt8]
    var annotations: Annotation?
}

func scratch(_ name: String) -> URL {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
    let url = base.appendingPathComponent("fleetshards-\(name)-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

let schema = LabelSchema(names: ["speed", "steering_angle", "gear"], units: ["m/s", "deg", ""], kinds: [.continuous, .continuous, .categorical])

func makeSamples(_ n: Int, seed: UInt64) -> [Sample] {
    var rng = Rng(state: seed)
    var out: [Sample] = []
    for i in 0..<n {
        let dtype = ElementType.allCases[i % 4]
        let layout: TensorLayout = i % 2 == 0 ? .chw : .hwc
        let shape = layout == .chw ? [1 + i % 3, 3, 7 + i % 5, 9] : [1 + i % 3, 7 + i % 5, 9, 3]
        let spec = TensorSpec(name: "frames", dtype: dtype, shape: shape, layout: layout)
        var bytes = rng.bytes(spec.byteCount)
        if dtype == .f32 || dtype == .f16 {
            // Keep floats finite so that numpy comparisons are exact and NaN-free.
            for j in stride(from: dtype.byteWidth - 1, to: bytes.count, by: dtype.byteWidth) { bytes[j] &= 0x3F }
        }
        let labels = (0..<3).map { _ in rng.float() }
        let mask = (0..<3).map { _ in UInt8(rng.next() % 2) }
        let ann = i % 3 == 0 ? nil : try! Annotation(validating: "{\"boxes\":[[\(i),2,3,4]],\"label\":\"car \(i)\"}")
        out.append(Sample(key: "clip_\(i / 10)-\(String(format: "%06d", i))", tensor: spec, bytes: bytes, labels: labels, mask: mask, annotations: ann))
    }
    return out
}

func write(_ samples: [Sample], to dir: URL, format: ShardFormat, budget: Int64) throws -> [ShardInfo] {
    let b = try ShardBudget(target: MemoryTarget(parsing: "\(budget)"), fill: 1)
    let w = try DatasetWriter(directory: dir, format: format, budget: b, schema: schema)
    for s in samples {
        try s.bytes.withUnsafeBytes { raw in
            try w.append(SampleRecord(key: s.key, tensor: s.tensor, labels: s.labels, mask: s.mask,
                                      annotations: s.annotations, metadata: .object(["source": .string("test"), "i": .number(1)])),
                         tensorBytes: raw)
        }
    }
    let shards = try w.finish()
    try DatasetManifest(format: format, target: b.target, fill: 1, budgetBytes: b.bytes, shards: shards, schema: schema,
                        tensor: nil, transform: .null, sources: .null).write(to: dir)
    return shards
}

@Suite struct ShardRoundTripTests {
    @Test(arguments: [ShardFormat.native, .wds])
    func everyDtypeAndLayoutReadsBackBitExactly(format: ShardFormat) throws {
        let dir = scratch("rt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let samples = makeSamples(60, seed: 7)
        let shards = try write(samples, to: dir, format: format, budget: 16 * 1024)
        #expect(shards.count > 3, "small budget makes several shards")
        let ds = try ShardDataset(directory: dir)
        #expect(ds.count == samples.count)
        for (i, s) in samples.enumerated() {
            let r = try ds[i]
            #expect(r.key == s.key)
            #expect(r.tensor.dtype == s.tensor.dtype && r.tensor.shape == s.tensor.shape && r.tensor.layout == s.tensor.layout)
            #expect(r.tensorData == s.bytes)
            #expect(r.labels.map(\.bitPattern) == s.labels.map(\.bitPattern))
            #expect(r.mask == s.mask)
            #expect(r.annotations == s.annotations)
        }
        #expect(ds.verify().isEmpty)
        for s in shards { #expect(s.bytes <= 16 * 1024) }
        // Seeded shuffle: a permutation, the same for the same seed.
        let p = ds.shuffledIndices(seed: 42)
        #expect(p.sorted() == Array(0..<samples.count) && p == ds.shuffledIndices(seed: 42) && p != Array(0..<samples.count))
        #expect(ds.batches(size: 16).map(\.count) == [16, 16, 16, 12])
    }

    @Test func recordLargerThanBudgetNamesRecordAndSizes() throws {
        let dir = scratch("big")
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try DatasetWriter(directory: dir, format: .native, budget: ShardBudget(target: MemoryTarget(parsing: "8KiB"), fill: 1), schema: schema)
        let bytes = [UInt8](repeating: 1, count: 10000)
        let error = #expect(throws: ShardError.self) {
            try bytes.withUnsafeBytes {
                try w.append(SampleRecord(key: "huge-000001", tensor: TensorSpec(name: "frames", dtype: .u8, shape: [10000], layout: nil),
                                          labels: [0, 0, 0], mask: [0, 0, 0], annotations: nil, metadata: .null),
                             tensorBytes: $0)
            }
        }
        #expect(error?.kind == .recordTooLarge)
        #expect(error?.description.contains("huge-000001") == true && error?.description.contains("8192") == true)
        w.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "no shard and no temporary file left")
    }

    @Test func badKeysAreRejected() throws {
        let dir = scratch("keys")
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try DatasetWriter(directory: dir, format: .wds, budget: ShardBudget(target: MemoryTarget(parsing: "1MiB"), fill: 1), schema: schema)
        for key in ["../evil", "a.b", "", "x/y", String(repeating: "k", count: 97)] {
            #expect(throws: ShardError.self, "\(key)") {
                try [UInt8(0)].withUnsafeBytes {
                    try w.append(SampleRecord(key: key, tensor: TensorSpec(name: "f", dtype: .u8, shape: [1], layout: nil),
                                              labels: [0, 0, 0], mask: [0, 0, 0], annotations: nil, metadata: .null),
                                 tensorBytes: $0)
                }
            }
        }
        w.abandon()
    }

    @Test func memoryTargetsParse() throws {
        #expect(try MemoryTarget(parsing: "h100").bytes == 80_000_000_000)
        #expect(try MemoryTarget(parsing: "dojo-tile").bytes == 11_000_000_000)
        #expect(try MemoryTarget(parsing: "dojo-d1").bytes == 442_500_000)
        #expect(try MemoryTarget(parsing: "512MiB").bytes == 512 << 20)
        #expect(try MemoryTarget(parsing: "64MB").bytes == 64_000_000)
        #expect(try MemoryTarget(parsing: "1000000").bytes == 1_000_000)
        for p in MemoryTarget.profiles { #expect(!p.source.isEmpty) }
        #expect(throws: ShardError.self) { try MemoryTarget(parsing: "lots") }
        #expect(throws: ShardError.self) { try ShardBudget(target: MemoryTarget(parsing: "h100"), fill: 1.5) }
        #expect(try ShardBudget(target: MemoryTarget(parsing: "h100"), fill: 0.25).bytes == 20_000_000_000)
    }

    /// The textbook bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78, init and final XOR
    /// 0xFFFFFFFF): an oracle that shares no table or instruction with `CRC32C`. `seed` is a
    /// previous CRC to continue from.
    static func bitwiseCRC32C(_ bytes: some Sequence<UInt8>, seed: UInt32 = 0) -> UInt32 {
        var crc = ~seed
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    /// Published check values: "123456789" (the CRC catalogue's check value) and the iSCSI test
    /// patterns of RFC 3720 B.4 (32 bytes of 0x00, of 0xFF, ascending, descending).
    static let publishedVectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([], 0),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
    ]

    @Test func crc32cKnownVector() {
        for (bytes, value) in Self.publishedVectors {
            #expect(CRC32C.checksum(bytes) == value, "\(bytes.count) bytes")
            #expect(bytes.withUnsafeBytes { CRC32C.softwareChecksum($0) } == value)
            #expect(Self.bitwiseCRC32C(bytes) == value, "the oracle itself")
        }
        // Chaining through `seed` continues the CRC: "12345" then "6789".
        #expect(CRC32C.checksum(Array("6789".utf8), seed: CRC32C.checksum(Array("12345".utf8))) == 0xE306_9283)
        // Every length and alignment (the hardware path where the CPU has SSE4.2, the table path
        // anyway) against the bitwise oracle. Lengths from 3 x 4096 up take the three-stream path
        // (streams combined with shift tables).
        var rng = Rng(state: 5)
        let data = rng.bytes(40_000)
        data.withUnsafeBytes { all in
            for start in 0..<9 {
                for len in [0, 1, 7, 8, 31, 32, 33, 100, 4000, 12_287, 12_288, 12_289, 24_576 + 77, 36_864 + 8] {
                    let b = UnsafeRawBufferPointer(rebasing: all[start..<(start + len)])
                    let oracle = Self.bitwiseCRC32C(b), seeded = Self.bitwiseCRC32C(b, seed: 0x1234)
                    #expect(CRC32C.checksum(b) == oracle)
                    #expect(CRC32C.softwareChecksum(b) == oracle)
                    #expect(CRC32C.checksum(b, seed: 0x1234) == seeded)
                    #expect(CRC32C.softwareChecksum(b, seed: 0x1234) == seeded)
                }
            }
        }
    }

    /// combine(crc(A), crc(B), |B|) is the CRC of A‖B computed over the bytes (software path).
    @Test func crc32cCombineEqualsTheCRCOfTheConcatenation() {
        var rng = Rng(state: 8)
        let data = rng.bytes(70_000)
        data.withUnsafeBytes { all in
            for (a, b) in [(0, 0), (0, 5), (5, 0), (1, 1), (13, 4096), (700, 12_289), (64, 69_000), (30_000, 40_000)] {
                let whole = CRC32C.softwareChecksum(UnsafeRawBufferPointer(rebasing: all[0..<(a + b)]))
                let crcA = CRC32C.softwareChecksum(UnsafeRawBufferPointer(rebasing: all[0..<a]))
                let crcB = CRC32C.softwareChecksum(UnsafeRawBufferPointer(rebasing: all[a..<(a + b)]))
                #expect(CRC32C.combine(crcA, crcB, lengthB: b) == whole, "|A| \(a), |B| \(b)")
            }
        }
    }

    @Test func packingFillsShardsToTheBudget() throws {
        let dir = scratch("pack")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Realistic records: 8 cameras × 3×120×160 float16 ≈ 0.9 MB each, 64 MiB budget.
        let spec = TensorSpec(name: "frames", dtype: .f16, shape: [8, 3, 120, 160], layout: .chw)
        let bytes = [UInt8](repeating: 0x3C, count: spec.byteCount)
        let budget = try ShardBudget(target: MemoryTarget(parsing: "64MiB"), fill: 1)
        for format in ShardFormat.allCases {
            let w = try DatasetWriter(directory: dir, format: format, budget: budget, schema: schema, prefix: "p-\(format.rawValue)")
            for i in 0..<200 {
                try bytes.withUnsafeBytes {
                    try w.append(SampleRecord(key: "k-\(i)", tensor: spec, labels: [1, 2, 3], mask: [1, 1, 1],
                                              annotations: nil, metadata: .object(["i": .number(Double(i))])),
                                 tensorBytes: $0)
                }
            }
            let shards = try w.finish()
            let fills = shards.dropLast().map { Double($0.bytes) / Double(budget.bytes) }
            print("packing \(format.rawValue): \(shards.count) shards, fill of full shards min \(String(format: "%.2f%%", (fills.min() ?? 0) * 100))")
            #expect(shards.count >= 3)
            for f in fills { #expect(f >= 0.98) }
            for s in shards { #expect(s.bytes <= budget.bytes) }
        }
    }

    @Test func flippedBytesAndTruncationAreCaughtNeverCrash() throws {
        let dir = scratch("fuzz")
        defer { try? FileManager.default.removeItem(at: dir) }
        let samples = makeSamples(12, seed: 3)
        for format in ShardFormat.allCases {
            let sub = dir.appendingPathComponent(format.rawValue)
            let shards = try write(samples, to: sub, format: format, budget: 1 << 20)
            let file = sub.appendingPathComponent(shards[0].file)
            let original = try Data(contentsOf: file)
            // Flip one byte inside record 5's tensor: verify names that record.
            let ds0 = try ShardDataset(directory: sub)
            let target = try ds0[5]
            var rng = Rng(state: 99)
            var damaged = original
            let key = target.key
            // Locate the record's tensor bytes in the file by content search (first 16 bytes).
            let needle = Data(samples[5].bytes.prefix(16))
            let at = damaged.range(of: needle)!.lowerBound + 3
            damaged[at] ^= 0x5A
            try damaged.write(to: file)
            let problems = try ShardDataset(directory: sub).verify()
            #expect(problems.contains { $0.record == key }, "\(format): \(problems)")
            let v = try TestPaths.fleetprep(["verify", sub.path])
            #expect(v.status == 1 && v.stdout.contains(key), "\(format) verify CLI: \(v.stdout)")
            // Where each record's tensor lies in the file, found by content (the bytes are random).
            let tensorRanges = samples.map { (key: $0.key, range: original.range(of: Data($0.bytes))!) }
            // Fuzz: random truncations and byte flips must throw or verify-fail, never crash, and
            // every record whose tensor bytes changed must be named by verify.
            var checkedFlips = 0
            for round in 0..<1500 {
                var d = original
                if round % 2 == 0 {
                    d = d.prefix(Int(rng.next() % UInt64(d.count)))
                } else {
                    for _ in 0..<(1 + Int(rng.next() % 4)) { d[Int(rng.next() % UInt64(d.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                }
                try d.write(to: file)
                guard let ds = try? ShardDataset(shardFile: file) else { continue }  // reported by throwing
                let problems = ds.verify()
                for i in 0..<ds.count { _ = try? ds.record(at: i) }
                guard round % 2 == 1 else { continue }
                for t in tensorRanges where d[t.range] != original[t.range] {
                    checkedFlips += 1
                    #expect(problems.contains { $0.record == t.key }, "\(format) round \(round): \(t.key) changed but verify said \(problems)")
                }
            }
            #expect(checkedFlips > 100, "\(format): only \(checkedFlips) flips landed in tensors")
            try original.write(to: file)
            // Truncation is a clear error naming the file.
            try original.prefix(original.count / 2).write(to: file)
            let error = #expect(throws: ShardError.self) { _ = try ShardDataset(shardFile: file) }
            #expect(error?.kind == .truncated || error?.kind == .notAShard, "\(String(describing: error))")
            #expect(error?.description.contains(file.lastPathComponent) == true)
        }
    }
}

/// Shards finished on the background queue are the same files, in the same order, with the same
/// checksums as shards finished inline; the checksums agree with `sha256sum`.
@Suite struct BackgroundFinishingTests {
    func writeAll(_ samples: [Sample], to dir: URL, background: Bool, precomputedCRC: Bool) throws -> (shards: [ShardInfo], events: [String]) {
        let b = try ShardBudget(target: MemoryTarget(parsing: "\(12 * 1024)"), fill: 1)
        let events = LockedBox<[String]>([])
        let w = try DatasetWriter(directory: dir, format: .native, budget: b, schema: schema, finishInBackground: background,
                                  onShardClosed: { events.mutate { $0.append("closed") } },
                                  onShardFinished: { info in events.mutate { $0.append("finished \(info.file)") } })
        for s in samples {
            try s.bytes.withUnsafeBytes { raw in
                try w.append(SampleRecord(key: s.key, tensor: s.tensor, labels: s.labels, mask: s.mask,
                                          annotations: s.annotations, metadata: .null),
                             tensorBytes: raw, tensorCRC32C: precomputedCRC ? CRC32C.softwareChecksum(raw) : nil)
            }
        }
        return (try w.finish(), events.get())
    }

    @Test func backgroundFinishingMatchesInlineAndSha256sum() throws {
        let samples = makeSamples(50, seed: 11)
        let inlineDir = scratch("inline"), bgDir = scratch("bg")
        defer { try? FileManager.default.removeItem(at: inlineDir); try? FileManager.default.removeItem(at: bgDir) }
        let inline = try writeAll(samples, to: inlineDir, background: false, precomputedCRC: false)
        let bg = try writeAll(samples, to: bgDir, background: true, precomputedCRC: true)
        #expect(inline.shards.count > 3)
        #expect(bg.shards.map(\.file) == inline.shards.map(\.file))
        #expect(bg.shards.map(\.digest) == inline.shards.map(\.digest))
        #expect(bg.shards.map(\.samples) == inline.shards.map(\.samples))
        // Every close is followed (eventually, in order) by its finish.
        #expect(bg.events.filter { $0 == "closed" }.count == bg.shards.count)
        #expect(bg.events.filter { $0 != "closed" } == bg.shards.map { "finished \($0.file)" })
        for s in bg.shards {
            #expect(try Data(contentsOf: bgDir.appendingPathComponent(s.file)) == Data(contentsOf: inlineDir.appendingPathComponent(s.file)))
        }
        // No temporary file is left, and the checksums are those of the files.
        #expect(try FileManager.default.contentsOfDirectory(atPath: bgDir.path).filter { $0.hasSuffix(".tmp") }.isEmpty)
        if let tool = TestPaths.which("sha256sum") {
            for s in bg.shards {
                let (status, out, _) = try TestPaths.run(tool, [bgDir.appendingPathComponent(s.file).path])
                #expect(status == 0)
                #expect("sha256:" + String(decoding: out, as: UTF8.self).prefix(64) == s.digest.description)
            }
        }
    }

    @Test func backgroundErrorIsThrownByFinish() throws {
        let samples = makeSamples(20, seed: 3)
        let dir = scratch("bgerr")
        defer { try? FileManager.default.removeItem(at: dir) }
        struct JournalFull: Error {}
        let b = try ShardBudget(target: MemoryTarget(parsing: "\(12 * 1024)"), fill: 1)
        let w = try DatasetWriter(directory: dir, format: .native, budget: b, schema: schema, finishInBackground: true,
                                  onShardFinished: { _ in throw JournalFull() })
        var caught: ShardError? = nil
        do {
            for s in samples {
                try s.bytes.withUnsafeBytes { raw in
                    try w.append(SampleRecord(key: s.key, tensor: s.tensor, labels: s.labels, mask: s.mask,
                                              annotations: s.annotations, metadata: .null),
                                 tensorBytes: raw)
                }
            }
            _ = try w.finish()
        } catch { caught = error as? ShardError }
        #expect(caught?.description.contains("after the shard was written") == true, "\(String(describing: caught))")
    }
}
