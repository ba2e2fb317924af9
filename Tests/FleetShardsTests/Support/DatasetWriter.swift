@testable import FleetShards
import Foundation

// The sequential shard writer: one thread appends records to one open shard at a time. Ingest
// writes with `ShardPacker` + `PlacedShard`; this writer is kept for the tests only, as an
// independently written oracle those must agree with byte for byte (PlacedShardTests) and as a
// quick way to make datasets for the reader tests.

protocol ShardFileWriter: AnyObject {
    var count: Int { get }
    func sizeIfAppended(_ r: SampleRecord) -> Int64
    func append(_ r: SampleRecord, tensorBytes: UnsafeRawBufferPointer, tensorCRC32C: UInt32?) throws(ShardError)
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
        DatasetNames.shard(prefix: prefix, number: index, format: format)
    }

    /// Appends a sample, closing the open shard first if the sample would push it over budget.
    /// `tensorBytes` are read during the call only; `tensorCRC32C` as in `PlacedShard.write`.
    public func append(_ record: SampleRecord, tensorBytes: UnsafeRawBufferPointer, tensorCRC32C: UInt32? = nil) throws(ShardError) {
        if let e = pendingError() { throw e }
        guard SampleRecord.isValidKey(record.key) else {
            throw ShardError(.invalidArgument, record: record.key, DatasetNames.keyRule)
        }
        guard record.tensor.byteCount == tensorBytes.count else {
            throw ShardError(.invalidArgument, record: record.key, "tensor \(record.tensor.shape) \(record.tensor.dtype) needs \(record.tensor.byteCount) bytes, got \(tensorBytes.count)")
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
                             "needs \(size) bytes in a shard (\(tensorBytes.count) of tensor) but the budget is \(budget.bytes) bytes (\(budget.target.name) × \(budget.fill))")
        }
        try c.writer.append(record, tensorBytes: tensorBytes, tensorCRC32C: tensorCRC32C)
        current!.last = record.key
        if c.writer.count == 1 { current!.first = record.key }
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
            let (digest, size) = try ShardDigest.sha256(of: temp.path)
            guard rename(temp.path, final.path) == 0 else {
                throw ShardError(.io, file: final.path, "rename failed: \(String(cString: strerror(errno)))")
            }
            syncDirectory(directory.path)
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
}

/// A closure handed to the finishing queue (see `DatasetWriter.closeCurrent`).
private struct UncheckedJob: @unchecked Sendable {
    let run: () -> Void
}

/// Writes one native shard (to a temporary path; `DatasetWriter` renames it).
final class NativeShardWriter: ShardFileWriter {
    private let file: RawFile
    private let alignment: Int64
    private let schema: LabelSchema
    private var entries: [NativeShard.Entry] = []
    private var indexBytes: Int

    init(path: String, alignment: Int, schema: LabelSchema) throws(ShardError) {
        file = try RawFile(creating: path)
        self.alignment = Int64(alignment)
        self.schema = schema
        let empty = (try? NativeShard.encoder().encode(NativeShard.Index(schema: schema, records: []))) ?? Data()
        indexBytes = empty.count
        try file.write([UInt8](repeating: 0, count: NativeShard.headerSize))
    }

    var count: Int { entries.count }

    private func parts(_ r: SampleRecord) -> (labels: [UInt8], annotations: [UInt8], metadata: [UInt8]) {
        var lb = [UInt8]()
        lb.reserveCapacity(r.labels.count * 5)
        for v in r.labels { withUnsafeBytes(of: v.bitPattern.littleEndian) { lb += $0 } }
        lb += r.mask
        return (lb, Array((r.annotations?.json ?? "null").utf8), Array(r.metadata.jsonText.utf8))
    }

    private func entry(_ r: SampleRecord, at offset: Int64, parts p: (labels: [UInt8], annotations: [UInt8], metadata: [UInt8]), crc: UInt32) -> NativeShard.Entry {
        NativeShard.Entry(key: r.key, offset: offset,
                          length: Int64(r.tensor.byteCount + p.labels.count + p.annotations.count + p.metadata.count),
                          crc32c: crc, tensor: r.tensor, tensorBytes: r.tensor.byteCount, labels: r.labels.count,
                          annotationsBytes: p.annotations.count, metadataBytes: p.metadata.count)
    }

    /// The encoded parts of the record last sized, so that `append` after `sizeIfAppended` (the
    /// writer's usual pair of calls) encodes its labels and metadata once.
    private var sized: (key: String, at: Int64, parts: (labels: [UInt8], annotations: [UInt8], metadata: [UInt8]), size: Int64)?

    func sizeIfAppended(_ r: SampleRecord) -> Int64 {
        let offset = alignUp(max(file.offset, Int64(NativeShard.headerSize)), alignment)
        if let s = sized, s.key == r.key, s.at == file.offset { return s.size }
        let p = parts(r)
        let e = entry(r, at: offset, parts: p, crc: UInt32.max)
        let eBytes = NativeShard.entryBytes(e)
        let size = offset + e.length + Int64(indexBytes + eBytes + 1)
        sized = (r.key, file.offset, p, size)
        return size
    }

    func append(_ r: SampleRecord, tensorBytes: UnsafeRawBufferPointer, tensorCRC32C: UInt32?) throws(ShardError) {
        let p: (labels: [UInt8], annotations: [UInt8], metadata: [UInt8])
        if let s = sized, s.key == r.key, s.at == file.offset { p = s.parts } else { p = parts(r) }
        sized = nil
        try file.pad(to: alignment)
        let offset = file.offset
        var crc = tensorCRC32C ?? CRC32C.checksum(tensorBytes)
        crc = CRC32C.checksum(p.labels, seed: crc)
        crc = CRC32C.checksum(p.annotations, seed: crc)
        crc = CRC32C.checksum(p.metadata, seed: crc)
        try file.write(tensorBytes)
        try file.write(p.labels)
        try file.write(p.annotations)
        try file.write(p.metadata)
        let e = entry(r, at: offset, parts: p, crc: crc)
        indexBytes += NativeShard.entryBytes(e) + (entries.isEmpty ? 0 : 1)
        entries.append(e)
    }

    func finish() throws(ShardError) {
        let index: Data
        do { index = Data(try NativeShard.indexBytes(schema: schema, entries: entries)) } catch {
            throw ShardError(.io, file: file.path, "cannot encode the index: \(error)")
        }
        let indexOffset = file.offset
        let ib = [UInt8](index)
        try file.write(ib)
        try file.pwrite(NativeShard.header(count: entries.count, alignment: Int(alignment), indexOffset: indexOffset, index: ib), at: 0)
        try file.sync()
        file.close()
    }

    func abandon() { file.close() }
}

/// Writes one WebDataset tar shard.
final class WebDatasetShardWriter: ShardFileWriter {
    private let file: RawFile
    private let schema: LabelSchema
    private(set) var count = 0

    init(path: String, schema: LabelSchema) throws(ShardError) {
        file = try RawFile(creating: path)
        self.schema = schema
    }

    func sizeIfAppended(_ r: SampleRecord) -> Int64 {
        let npy = WebDatasetShard.npyHeader(r.tensor).count + r.tensor.byteCount
        let json = WebDatasetShard.sampleJSON(r, schema: schema, npyCRC: 0).count + 10
        return file.offset + Int64(2 * WebDatasetShard.block + WebDatasetShard.padded(npy) + WebDatasetShard.padded(json) + 2 * WebDatasetShard.block)
    }

    func append(_ r: SampleRecord, tensorBytes: UnsafeRawBufferPointer, tensorCRC32C: UInt32?) throws(ShardError) {
        let header = WebDatasetShard.npyHeader(r.tensor)
        var crc = CRC32C.checksum(header)
        crc = CRC32C.checksum(tensorBytes, seed: crc)
        let npySize = header.count + tensorBytes.count
        try file.write(WebDatasetShard.tarHeader(name: r.key + ".npy", size: npySize))
        try file.write(header)
        try file.write(tensorBytes)
        try file.pad(to: Int64(WebDatasetShard.block))
        var json = WebDatasetShard.sampleJSON(r, schema: schema, npyCRC: crc)
        WebDatasetShard.sealJSON(&json)
        try file.write(WebDatasetShard.tarHeader(name: r.key + ".json", size: json.count))
        try file.write(json)
        try file.pad(to: Int64(WebDatasetShard.block))
        count += 1
    }

    func finish() throws(ShardError) {
        try file.write([UInt8](repeating: 0, count: 2 * WebDatasetShard.block))
        try file.sync()
        file.close()
    }

    func abandon() { file.close() }
}
