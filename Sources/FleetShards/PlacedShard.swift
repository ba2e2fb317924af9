import Crypto
import Foundation
import Synchronization

/// One shard whose records were placed by a `ShardPacker`, written by any number of threads in any
/// order: each `write` puts one record's bytes at its planned offset (`pwrite`) and keeps its index
/// entry, CRC-32C and segment digest, computed by the writing thread while the bytes are in its cache.
///
/// `finish` then removes the records of failed clips (moving the later ones down, aligned, the same
/// way every time), writes the index and header, computes the shard digest from the per-record
/// digests (no pass re-reads the shard), fsyncs and renames the temporary file into place.
/// Until then the shard lives under a temporary name (`.NAME.tmp`), so no reader sees part of it.
public final class PlacedShard: Sendable {
    public let number: Int
    public let name: String
    public let format: ShardFormat
    public let schema: LabelSchema
    public let alignment: Int
    public let digest: SegmentDigestKind
    let temp: URL
    let final: URL
    private let fd: Int32
    /// Written records by slot (nil: not written yet), and how many. About 250 bytes a record: a
    /// shard's index lives here until `finish`, the one thing that grows with records per shard.
    private let records = Mutex<(slots: [Written?], written: Int)>(([], 0))

    struct Written: Sendable {
        var entry: NativeShard.Entry
        /// The segment's digest entry (12 bytes for crc32c, 32 for sha256), inline.
        var digest: SegmentEntry
    }

    /// Up to 32 bytes without a heap allocation.
    struct SegmentEntry: Sendable {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var count: UInt8 = 0

        init(_ bytes: [UInt8]) {
            precondition(bytes.count <= 32)
            count = UInt8(bytes.count)
            withUnsafeMutableBytes(of: &words) { w in for (i, b) in bytes.enumerated() { w[i] = b } }
        }

        func append(to out: inout [UInt8]) {
            withUnsafeBytes(of: words) { out += $0.prefix(Int(count)) }
        }
    }

    /// Creates the shard's temporary file in `directory` (replacing one a killed run left).
    public init(directory: URL, name: String, number: Int, format: ShardFormat, schema: LabelSchema,
                alignment: Int, digest: SegmentDigestKind = .crc32c) throws(ShardError) {
        self.digest = digest
        self.number = number
        self.name = name
        self.format = format
        self.schema = schema
        self.alignment = alignment
        final = directory.appendingPathComponent(name)
        temp = directory.appendingPathComponent("." + name + ".tmp")
        fd = open(temp.path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ShardError(.io, file: temp.path, "cannot create: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Records written so far.
    public var count: Int { records.withLock { $0.written } }

    /// Writes `r` with the tensor bytes `tensorBytes` at `p` (from `ShardPacker.place` for this
    /// record). See `write(_:tensorBytes:tensorCRC32C:at:)`.
    public func write(_ r: SampleRecord, tensorBytes: UnsafeRawBufferPointer, tensorCRC32C: UInt32? = nil,
                      at p: ShardPlacement) throws(ShardError) {
        try write(RecordFraming(r, format: format, schema: schema), tensorBytes: tensorBytes, tensorCRC32C: tensorCRC32C, at: p)
    }

    /// Writes the record framed by `framing` with the tensor bytes `tensor` at `p` (from
    /// `ShardPacker.place(framing)`). The bytes are read during the call only. `tensorCRC32C`:
    /// `CRC32C.checksum(tensor)` when the caller has it (computed on a worker thread while the
    /// bytes were in its cache); nil computes it here. A wrong value makes `verify` report the
    /// record as damaged. Safe from several threads.
    public func write(_ framing: RecordFraming, tensorBytes tensor: UnsafeRawBufferPointer, tensorCRC32C crc32c: UInt32? = nil,
                      at p: ShardPlacement) throws(ShardError) {
        let key = framing.key
        guard p.shard == number else { throw ShardError(.invalidArgument, record: key, "placed in shard \(p.shard), not \(number)") }
        guard framing.format == format else { throw ShardError(.invalidArgument, record: key, "framed as \(framing.format), not \(format)") }
        guard framing.tensorBytes == tensor.count else {
            throw ShardError(.invalidArgument, record: key, "tensor \(framing.tensor.shape) \(framing.tensor.dtype) needs \(framing.tensorBytes) bytes, got \(tensor.count)")
        }
        guard Int64(framing.length) == p.length else {
            throw ShardError(.invalidArgument, record: key, "is \(framing.length) bytes; the layout plan placed \(p.length)")
        }
        // The tensor is read once for its CRC (by the producer, while it was in cache, or here);
        // the CRCs over the headers around it are combined with it, not computed over it again.
        let tensorCRC = crc32c ?? CRC32C.checksum(tensor)
        let tail: [UInt8]
        let crc: UInt32
        switch format {
        case .native:
            tail = framing.tail(npyCRC: 0)
            crc = CRC32C.checksum(tail, seed: tensorCRC)
        case .wds:
            let npyCRC = CRC32C.combine(CRC32C.checksum(WebDatasetShard.npyHeader(framing.tensor)), tensorCRC, lengthB: tensor.count)
            tail = framing.tail(npyCRC: npyCRC)
            crc = npyCRC
        }
        let segment = Self.segment(digest, format: format, head: framing.head, tensor: tensor, tensorCRC: tensorCRC,
                                   tail: tail, recordCRC: crc, length: framing.length)
        let tensorAt = p.offset + Int64(framing.head.count)
        try pwriteAll(framing.head, at: p.offset)
        try pwriteAll(tensor, at: tensorAt)
        try pwriteAll(tail, at: tensorAt + Int64(tensor.count))
        let entry = NativeShard.Entry(key: key, offset: p.offset, length: p.length, crc32c: crc, tensor: framing.tensor,
                                      tensorBytes: tensor.count, labels: framing.labelCount,
                                      annotationsBytes: framing.annotationsBytes, metadataBytes: framing.metadataBytes)
        let w = Written(entry: entry, digest: SegmentEntry(segment))
        records.withLock { r in
            if r.slots.count <= p.slot { r.slots += [Written?](repeating: nil, count: max(p.slot + 1 - r.slots.count, r.slots.count)) }
            if r.slots[p.slot] == nil { r.written += 1 }
            r.slots[p.slot] = w
        }
    }

    /// A record's segment digest entry, while its bytes are in this thread's cache.
    private static func segment(_ digest: SegmentDigestKind, format: ShardFormat, head: [UInt8], tensor: UnsafeRawBufferPointer,
                                tensorCRC: UInt32, tail: [UInt8], recordCRC: UInt32, length: Int) -> [UInt8] {
        switch (digest, format) {
        case (.crc32c, .native):
            return ShardDigest.crcEntry(length: length, crc: recordCRC)   // the record CRC covers exactly its bytes
        case (.crc32c, .wds):
            let c = CRC32C.combine(CRC32C.checksum(head), tensorCRC, lengthB: tensor.count)
            return ShardDigest.crcEntry(length: length, crc: CRC32C.checksum(tail, seed: c))
        case (.sha256, _):
            var h = SHA256()
            head.withUnsafeBytes { h.update(bufferPointer: $0) }
            h.update(bufferPointer: tensor)
            tail.withUnsafeBytes { h.update(bufferPointer: $0) }
            return Array(h.finalize())
        }
    }

    /// Completes the shard: drops the slots in `dropping` (records of failed clips, written or
    /// not), checks every other slot of `0..<slots` was written, compacts, writes the index and
    /// header, fsyncs and renames it into place. Returns nil (and removes the file) when no
    /// record is left.
    public func finish(slots: Int, dropping: Set<Int>) throws(ShardError) -> ShardInfo? {
        let all = records.withLock { r -> [Written?] in defer { r.slots = [] }; return r.slots }
        var kept: [Written] = []
        kept.reserveCapacity(max(0, slots - dropping.count))
        for s in 0..<slots where !dropping.contains(s) {
            guard s < all.count, let w = all[s] else {
                throw ShardError(.io, file: final.path, "record \(s) of \(slots) was never written")
            }
            kept.append(w)
        }
        guard !kept.isEmpty else { abandon(); return nil }
        // Compaction: lay the kept records out again from the start, as the packer would have.
        var cursor: Int64 = format == .native ? Int64(NativeShard.headerSize) : 0
        var moved = false
        var digests: [UInt8] = []
        for i in kept.indices {
            let old = kept[i].entry.offset
            let new = format == .native ? alignUp(cursor, Int64(alignment)) : cursor
            if new != old {
                try zero(from: cursor, to: new)
                try move(from: old, to: new, count: kept[i].entry.length)
                kept[i].entry.offset = new
                moved = true
            } else if moved {
                try zero(from: cursor, to: new)
            }
            cursor = new + kept[i].entry.length
            kept[i].digest.append(to: &digests)
        }
        let end: Int64
        switch format {
        case .native:
            let index: [UInt8]
            do { index = try NativeShard.indexBytes(schema: schema, entries: kept.lazy.map(\.entry)) } catch {
                throw ShardError(.io, file: temp.path, "cannot encode the index: \(error)")
            }
            let header = NativeShard.header(count: kept.count, alignment: alignment, indexOffset: cursor, index: index)
            try pwriteAll(header, at: 0)
            try pwriteAll(index, at: cursor)
            digests = ShardDigest.segment(digest, header) + digests + ShardDigest.segment(digest, index)
            end = cursor + Int64(index.count)
        case .wds:
            let trailer = [UInt8](repeating: 0, count: 2 * WebDatasetShard.block)
            try pwriteAll(trailer, at: cursor)
            digests += ShardDigest.segment(digest, trailer)
            end = cursor + Int64(trailer.count)
        }
        guard ftruncate(fd, off_t(end)) == 0 else { throw ShardError(.io, file: temp.path, "truncate failed: \(String(cString: strerror(errno)))") }
        guard fsync(fd) == 0 else { throw ShardError(.io, file: temp.path, "fsync failed: \(String(cString: strerror(errno)))") }
        guard rename(temp.path, final.path) == 0 else {
            throw ShardError(.io, file: final.path, "rename failed: \(String(cString: strerror(errno)))")
        }
        syncDirectory(final.deletingLastPathComponent().path)
        return ShardInfo(file: name, samples: kept.count, bytes: end, digest: ShardDigest.segments(digest, digests),
                         firstKey: kept.first!.entry.key, lastKey: kept.last!.entry.key)
    }

    /// Removes the temporary file (the shard is not completed).
    public func abandon() { try? FileManager.default.removeItem(at: temp) }

    private func pwriteAll(_ b: UnsafeRawBufferPointer, at offset: Int64) throws(ShardError) {
        guard var p = b.baseAddress else { return }
        var n = b.count, at = offset
        while n > 0 {
            let w = pwrite(fd, p, n, off_t(at))
            if w < 0 {
                if errno == EINTR { continue }
                throw ShardError(.io, file: temp.path, "write failed: \(String(cString: strerror(errno)))")
            }
            p += w; n -= w; at += Int64(w)
        }
    }

    private func pwriteAll(_ bytes: [UInt8], at offset: Int64) throws(ShardError) {
        var failure: ShardError? = nil
        bytes.withUnsafeBytes { b in
            do throws(ShardError) { try pwriteAll(b, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    private func zero(from: Int64, to: Int64) throws(ShardError) {
        guard to > from else { return }
        try pwriteAll([UInt8](repeating: 0, count: Int(to - from)), at: from)
    }

    /// Moves `count` bytes from `from` down to `to` (< from), front to back in chunks (safe for
    /// overlapping ranges moving down).
    private func move(from: Int64, to: Int64, count: Int64) throws(ShardError) {
        let chunk = 1 << 20
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buf.deallocate() }
        var done: Int64 = 0
        while done < count {
            let n = Int(min(Int64(chunk), count - done))
            let r = pread(fd, buf.baseAddress, n, off_t(from + done))
            guard r == n else { throw ShardError(.io, file: temp.path, "read failed while compacting: \(String(cString: strerror(errno)))") }
            try pwriteAll(UnsafeRawBufferPointer(rebasing: buf[0..<n]), at: to + done)
            done += Int64(n)
        }
    }
}
