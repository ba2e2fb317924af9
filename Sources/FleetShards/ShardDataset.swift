import Foundation

/// One sample read back from a shard. Its tensor stays in the shard's memory map (no copy):
/// `withTensorBytes` lends the bytes for the length of a closure. The view keeps the map alive,
/// so it may outlive the `ShardDataset` that returned it.
public struct RecordView {
    public var key: String
    public var tensor: TensorSpec
    /// The tensor's bytes inside `file`'s map; valid while `file` is alive (FleetShards only).
    var tensorBytes: UnsafeRawBufferPointer
    public var labels: [Float]
    public var mask: [UInt8]
    /// The sample's annotation as stored, byte for byte (nil where the record stores `null`).
    public var annotations: Annotation?
    public var metadata: JSONValue
    /// The checksum stored for this record (native: the whole record; wds: the .npy member).
    var storedCRC32C: UInt32?
    /// The bytes that checksum covers.
    var recordBytes: UnsafeRawBufferPointer
    /// The memory map the pointers above point into, retained by the view.
    let file: MappedFile

    /// Calls `body` with the tensor's bytes (no copy). Do not keep the pointer past `body`.
    public func withTensorBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(file) { try body(tensorBytes) }
    }

    /// The tensor's bytes, copied.
    public var tensorData: [UInt8] { withTensorBytes { Array($0) } }
}

/// A problem `verify()` found.
public struct VerifyProblem: Sendable, Equatable, CustomStringConvertible {
    public var shard: String
    public var record: String?
    public var message: String
    public var description: String { shard + (record.map { ": record \($0)" } ?? "") + ": " + message }
}

/// A dataset (a directory with `index.json`) or a single shard, read through memory maps:
/// count, random access, in-order or seeded-shuffle iteration, batches, checksum verification.
///
/// Iteration yields each record as a `Result`: a damaged record is an error in the sequence,
/// not a trap (`for r in dataset { let record = try r.get() }`).
public final class ShardDataset: Sequence {
    private enum Shard {
        case native(NativeShardReader)
        case wds(WebDatasetShardReader)
        var count: Int {
            switch self {
            case .native(let r): return r.entries.count
            case .wds(let r): return r.samples.count
            }
        }
    }

    public let manifest: DatasetManifest?
    public let shardFiles: [URL]
    private var shards: [Shard] = []
    private var starts: [Int] = []
    public private(set) var count = 0

    /// Opens a dataset directory through its `index.json`.
    public init(directory: URL) throws(ShardError) {
        let m = try DatasetManifest.read(from: directory)
        manifest = m
        shardFiles = m.shards.map { directory.appendingPathComponent($0.file) }
        for (i, url) in shardFiles.enumerated() {
            let s = try Self.open(url)
            guard s.count == m.shards[i].samples else {
                throw ShardError(.notAShard, file: url.path, "holds \(s.count) samples; index.json says \(m.shards[i].samples)")
            }
            append(s)
        }
    }

    /// Opens one shard file (native `.fps` or WebDataset `.tar`).
    public init(shardFile: URL) throws(ShardError) {
        manifest = nil
        shardFiles = [shardFile]
        append(try Self.open(shardFile))
    }

    private func append(_ s: Shard) {
        starts.append(count)
        shards.append(s)
        count += s.count
    }

    private static func open(_ url: URL) throws(ShardError) -> Shard {
        let f = try MappedFile(path: url.path)
        if f.bytes.count >= 8 && Array(f.bytes[0..<8]) == NativeShard.magic { return .native(try NativeShardReader(file: f)) }
        if f.bytes.count >= 512 && Array(f.bytes[257..<262]) == Array("ustar".utf8) { return .wds(try WebDatasetShardReader(file: f)) }
        if f.bytes.count < 512 && url.pathExtension == "tar" {
            throw ShardError(.truncated, file: url.path, "\(f.bytes.count) bytes is too short for a tar shard")
        }
        throw ShardError(.notAShard, file: url.path, "neither a FleetPrep shard nor a tar archive")
    }

    /// The label schema (from the manifest, or a native shard's index).
    public var schema: LabelSchema? {
        if let manifest { return manifest.schema }
        if case .native(let r)? = shards.first { return r.schema }
        return nil
    }

    private func locate(_ i: Int) -> (Int, Int) {
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= i { lo = mid } else { hi = mid - 1 }
        }
        return (lo, i - starts[lo])
    }

    /// Sample `i` (0 ..< count). Throws if the shard's bytes are damaged.
    public func record(at i: Int) throws(ShardError) -> RecordView {
        precondition(i >= 0 && i < count, "sample \(i) outside 0..<\(count)")
        let (s, j) = locate(i)
        switch shards[s] {
        case .native(let r): return try r.record(j)
        case .wds(let r): return try r.record(j)
        }
    }

    /// Sample `i`, as `record(at:)`: throws if the shard's bytes are damaged.
    public subscript(i: Int) -> RecordView {
        get throws(ShardError) { try record(at: i) }
    }

    /// Every sample in order; a damaged one is `.failure` and iteration goes on to the next.
    public func makeIterator() -> AnyIterator<Result<RecordView, ShardError>> {
        var i = 0
        return AnyIterator { [self] in
            guard i < count else { return nil }
            defer { i += 1 }
            do throws(ShardError) { return .success(try record(at: i)) } catch { return .failure(error) }
        }
    }

    /// A deterministic permutation of 0..<count (SplitMix64 seeded Fisher–Yates).
    public func shuffledIndices(seed: UInt64) -> [Int] {
        var order = Array(0..<count)
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        return order
    }

    /// Index batches of `size` (the last may be shorter), in order or in a seeded shuffle.
    public func batches(size: Int, seed: UInt64? = nil) -> [[Int]] {
        precondition(size >= 1)
        let order = seed.map { shuffledIndices(seed: $0) } ?? Array(0..<count)
        return stride(from: 0, to: order.count, by: size).map { Array(order[$0..<Swift.min($0 + size, order.count)]) }
    }

    /// Checks every record's CRC32C and (with a manifest) every shard's size and SHA-256.
    public func verify() -> [VerifyProblem] {
        var problems: [VerifyProblem] = []
        for (s, url) in shardFiles.enumerated() {
            let name = url.lastPathComponent
            if let m = manifest {
                let info = m.shards[s]
                do {
                    let (digest, size) = try ShardDigest.compute(like: info.digest, file: url)
                    if size != info.bytes { problems.append(.init(shard: name, message: "size \(size) differs from index.json (\(info.bytes))")) }
                    if digest != info.digest { problems.append(.init(shard: name, message: "digest differs from index.json")) }
                } catch { problems.append(.init(shard: name, message: error.description)) }
            }
            for j in 0..<shards[s].count {
                do {
                    let r = try record(at: starts[s] + j)
                    let crc = CRC32C.checksum(r.recordBytes)
                    if let stored = r.storedCRC32C, stored != crc {
                        problems.append(.init(shard: name, record: r.key, message: String(format: "CRC32C %08x, stored %08x", crc, stored)))
                    } else if r.storedCRC32C == nil {
                        problems.append(.init(shard: name, record: r.key, message: "no checksum stored"))
                    }
                } catch {
                    problems.append(.init(shard: name, record: error.record, message: error.message))
                }
            }
        }
        return problems
    }
}
