import Crypto
import Foundation

/// Shard formats.
public enum ShardFormat: String, Sendable, Codable, CaseIterable {
    /// FleetPrep's aligned, indexed, checksummed format (docs/shard-format.md), extension `.fps`.
    case native
    /// WebDataset: a tar of `<key>.npy` + `<key>.json` per sample, extension `.tar`.
    case wds

    public var fileExtension: String { self == .native ? NativeShard.fileExtension : WebDatasetShard.fileExtension }
}

/// A finished shard.
public struct ShardInfo: Sendable, Codable, Equatable {
    /// File name, relative to the dataset directory.
    public var file: String
    public var samples: Int
    public var bytes: Int64
    /// `SCHEME:HEX` in index.json (see `ShardDigest`): `sha256-segments:…` or
    /// `crc32c-segments:…` from ingest, `sha256:…` (the whole file) from `DatasetWriter`.
    public var digest: ContentDigest
    public var firstKey: String
    public var lastKey: String

    public init(file: String, samples: Int, bytes: Int64, digest: ContentDigest, firstKey: String, lastKey: String) {
        self.file = file
        self.samples = samples
        self.bytes = bytes
        self.digest = digest
        self.firstKey = firstKey
        self.lastKey = lastKey
    }

    enum CodingKeys: String, CodingKey { case file, samples, bytes, digest, sha256, firstKey, lastKey }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        file = try c.decode(String.self, forKey: .file)
        samples = try c.decode(Int.self, forKey: .samples)
        bytes = try c.decode(Int64.self, forKey: .bytes)
        firstKey = try c.decode(String.self, forKey: .firstKey)
        lastKey = try c.decode(String.self, forKey: .lastKey)
        // Manifests from before segment digests carry a plain "sha256" of the whole file.
        if let d = try c.decodeIfPresent(ContentDigest.self, forKey: .digest) { digest = d }
        else {
            let hex = try c.decode(String.self, forKey: .sha256)
            guard let d = ContentDigest(parsing: ContentDigest.Scheme.sha256.rawValue + ":" + hex) else {
                throw DecodingError.dataCorruptedError(forKey: .sha256, in: c, debugDescription: "\"\(hex)\" is not a SHA-256")
            }
            digest = d
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(samples, forKey: .samples)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(digest, forKey: .digest)
        try c.encode(firstKey, forKey: .firstKey)
        try c.encode(lastKey, forKey: .lastKey)
    }
}

protocol ShardFileWriter: AnyObject {
    var count: Int { get }
    var bytesWritten: Int64 { get }
    /// Drops the records after the first `count`, whose data ended at `offset`.
    func truncate(toCount count: Int, offset: Int64) throws(ShardError)
    func sizeIfAppended(_ r: SampleRecord) -> Int64
    func append(_ r: SampleRecord) throws(ShardError)
    func finish() throws(ShardError)
    func abandon()
}

/// Writes samples into a sequence of shards, each at most `budget.bytes`: a shard is written
/// under a temporary name (`.NAME.tmp`), fsynced and renamed, so a reader never sees part of
/// one. Shards are named `PREFIX-NNNNNN.EXT`, numbered from `startShardIndex`.
public final class DatasetWriter {
    public let directory: URL
    public let format: ShardFormat
    public let budget: ShardBudget
    public let schema: LabelSchema
    public let prefix: String
    public let alignment: Int
    private let onShardFinished: (ShardInfo) throws -> Void
    private let onShardClosed: () -> Void
    private var nextIndex: Int
    private var current: (writer: ShardFileWriter, temp: URL, final: URL, first: String, last: String)?
    /// Shards finished (checksummed and renamed); guarded by `lock` when finishing in the background.
    private var finished: [ShardInfo] = []
    /// Checksums and renames closed shards off the appending thread, in order (nil: inline).
    private let finisher: DispatchQueue?
    private let lock = NSLock()
    private var backgroundError: ShardError?

    /// - Parameters:
    ///   - startShardIndex: number of the first shard (a resumed run continues the numbering).
    ///   - finishInBackground: when true, a closed shard's SHA-256, rename and `onShardFinished`
    ///     run on a serial background queue (in shard order) while `append` goes on with the next
    ///     shard; an error there is thrown by the next `append`, `finish` or `waitForFinishing`.
    ///   - onShardClosed: called on the appending thread when a shard is closed (its last
    ///     sample written), before it is checksummed; with `finishInBackground`, the matching
    ///     `onShardFinished` call comes later, on the background queue.
    ///   - onShardFinished: called after each shard is renamed into place.
    public init(directory: URL, format: ShardFormat, budget: ShardBudget, schema: LabelSchema, prefix: String = "shard",
                startShardIndex: Int = 0, alignment: Int = 4096, finishInBackground: Bool = false,
                onShardClosed: @escaping () -> Void = {},
                onShardFinished: @escaping (ShardInfo) throws -> Void = { _ in }) throws(ShardError) {
        guard alignment >= 1, alignment & (alignment - 1) == 0 else {
            throw ShardError(.invalidArgument, "alignment must be a power of two, got \(alignment)")
        }
        guard SampleRecord.isValidKey(prefix) else { throw ShardError(.invalidArgument, "shard prefix \"\(prefix)\" must be [A-Za-z0-9_-]") }
        self.directory = directory
        self.format = format
        self.budget = budget
        self.schema = schema
        self.prefix = prefix
        self.alignment = alignment
        self.onShardFinished = onShardFinished
        self.onShardClosed = onShardClosed
        finisher = finishInBackground ? DispatchQueue(label: "fleetprep.shard-finisher") : nil
        nextIndex = startShardIndex
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ShardError(.io, file: directory.path, "cannot create the directory: \(error.localizedDescription)")
        }
        // Temporary files of an earlier, killed writer with this prefix.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where name.hasPrefix("." + prefix + "-") && name.hasSuffix(".tmp") {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// Name of shard `index`.
    public func shardName(_ index: Int) -> String {
        let n = String(index)
        return prefix + "-" + String(repeating: "0", count: max(0, 6 - n.count)) + n + "." + format.fileExtension
    }

    /// Appends a sample, closing the open shard first if the sample would push it over budget.
    public func append(_ record: SampleRecord) throws(ShardError) {
        if let e = pendingError() { throw e }
        guard SampleRecord.isValidKey(record.key) else {
            throw ShardError(.invalidArgument, record: record.key, "keys must be 1-96 characters of [A-Za-z0-9_-]")
        }
        guard record.tensor.byteCount == record.tensorBytes.count else {
            throw ShardError(.invalidArgument, record: record.key, "tensor \(record.tensor.shape) \(record.tensor.dtype) needs \(record.tensor.byteCount) bytes, got \(record.tensorBytes.count)")
        }
        guard record.labels.count == schema.width, record.mask.count == schema.width else {
            throw ShardError(.invalidArgument, record: record.key, "labels/mask have \(record.labels.count)/\(record.mask.count) values; the schema has \(schema.width)")
        }
        // Sized once per shard it is offered to (sizing encodes the record's index entry).
        var sized = current.map { $0.writer.sizeIfAppended(record) }
        if let c = current, c.writer.count > 0, let s = sized, s > budget.bytes {
            try closeCurrent()
        }
        if current == nil {
            try openNext()
            sized = current!.writer.sizeIfAppended(record)
        }
        let c = current!
        let size = sized!
        if size > budget.bytes {
            throw ShardError(.recordTooLarge, record: record.key,
                             "needs \(size) bytes in a shard (\(record.tensorBytes.count) of tensor) but the budget is \(budget.bytes) bytes (\(budget.target.name) × \(budget.fill))")
        }
        try c.writer.append(record)
        current!.last = record.key
        if c.writer.count == 1 { current!.first = record.key }
    }

    /// A point in the sample stream that `rollback(to:)` can return to.
    public struct Mark: Sendable, Equatable {
        let shardIndex: Int
        let count: Int
        let offset: Int64
    }

    /// The current position: the open shard and how much of it is written.
    public func mark() -> Mark {
        guard let c = current else { return Mark(shardIndex: nextIndex, count: 0, offset: 0) }
        return Mark(shardIndex: nextIndex - 1, count: c.writer.count, offset: c.writer.bytesWritten)
    }

    /// Removes the samples appended since `mark`, if they are all still in the open shard (none
    /// was finished since). Returns false, changing nothing, when a shard was finished since.
    public func rollback(to mark: Mark) throws(ShardError) -> Bool {
        guard let c = current else { return mark.shardIndex == nextIndex && mark.count == 0 }
        if mark.shardIndex == nextIndex - 1 {
            try c.writer.truncate(toCount: mark.count, offset: mark.offset)
            if mark.count == 0 { current!.first = ""; current!.last = "" }
            return true
        }
        if mark.shardIndex == nextIndex && mark.count == 0 && c.writer.count == 0 { return true }
        // The mark was taken before the open shard started (a shard boundary came after it):
        // the samples in this shard can go, but those in the finished shard stay.
        return false
    }

    /// Closes the open shard (if it holds samples) and returns every shard this writer finished.
    @discardableResult
    public func finish() throws(ShardError) -> [ShardInfo] {
        if let c = current {
            if c.writer.count > 0 { try closeCurrent() } else { abandon() }
        }
        try waitForFinishing()
        return lock.withLock { finished }
    }

    /// Waits until every closed shard is checksummed and renamed (immediate unless
    /// `finishInBackground`); throws the first error that happened there.
    public func waitForFinishing() throws(ShardError) {
        finisher?.sync {}
        if let e = pendingError() { throw e }
    }

    private func pendingError() -> ShardError? { lock.withLock { backgroundError } }

    /// Drops the open shard (its temporary file is removed); finished shards stay.
    public func abandon() {
        finisher?.sync {}   // shards already closed are complete: let them land
        if let c = current {
            c.writer.abandon()
            try? FileManager.default.removeItem(at: c.temp)
            current = nil
        }
    }

    private func openNext() throws(ShardError) {
        let name = shardName(nextIndex)
        let final = directory.appendingPathComponent(name)
        let temp = directory.appendingPathComponent("." + name + ".tmp")
        let w: ShardFileWriter
        switch format {
        case .native: w = try NativeShardWriter(path: temp.path, alignment: alignment, schema: schema)
        case .wds: w = try WebDatasetShardWriter(path: temp.path, schema: schema)
        }
        current = (w, temp, final, "", "")
        nextIndex += 1
    }

    private func closeCurrent() throws(ShardError) {
        guard let c = current else { return }
        try c.writer.finish()
        current = nil
        onShardClosed()
        let (temp, final, samples, first, last) = (c.temp, c.final, c.writer.count, c.first, c.last)
        let directory = self.directory
        let finishShard = { [self] () throws(ShardError) in
            let (digest, size) = try Self.sha256(of: temp.path)
            guard rename(temp.path, final.path) == 0 else {
                throw ShardError(.io, file: final.path, "rename failed: \(String(cString: strerror(errno)))")
            }
            Self.syncDirectory(directory.path)
            let info = ShardInfo(file: final.lastPathComponent, samples: samples, bytes: size, digest: ContentDigest(scheme: .sha256, hex: digest),
                                 firstKey: first, lastKey: last)
            lock.withLock { finished.append(info) }
            do { try onShardFinished(info) } catch {
                throw ShardError(.io, file: final.path, "after the shard was written: \(error)")
            }
        }
        guard let finisher else {
            return try finishShard()
        }
        // The queue is serial and `finished`/`backgroundError` are guarded by `lock`; the closure
        // holds only this writer and values, so handing it to the queue is safe.
        let job = UncheckedJob { [self] in
            guard pendingError() == nil else { try? FileManager.default.removeItem(at: temp); return }
            do { try finishShard() } catch {
                let e = error as? ShardError ?? ShardError(.io, file: final.path, "\(error)")
                lock.withLock { if backgroundError == nil { backgroundError = e } }
            }
        }
        finisher.async { job.run() }
    }

    /// SHA-256 (hex) and size of a file.
    public static func sha256(of path: String) throws(ShardError) -> (String, Int64) {
        let m = try MappedFile(path: path)
        var h = SHA256()
        var off = 0
        while off < m.bytes.count {
            let n = min(8 << 20, m.bytes.count - off)
            h.update(bufferPointer: UnsafeRawBufferPointer(rebasing: m.bytes[off..<(off + n)]))
            off += n
        }
        let hex = h.finalize().map { String(format: "%02x", $0) }.joined()
        return (hex, Int64(m.bytes.count))
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// A closure handed to the finishing queue (see `DatasetWriter.closeCurrent`).
private struct UncheckedJob: @unchecked Sendable {
    let run: () -> Void
}
