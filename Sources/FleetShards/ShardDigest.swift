import Crypto
import Foundation

/// What a shard digest is made of, per segment (`fleetprep ingest --digest`).
public enum SegmentDigestKind: String, Sendable, Codable, CaseIterable {
    /// Each segment's length (u64 LE) and CRC-32C (u32 LE): the CRC-32C the records carry anyway,
    /// so the digest costs nothing per byte. Catches damage, not deliberate tampering.
    case crc32c
    /// Each segment's SHA-256 (about 1 ms per 2 MB record on a core with SHA extensions).
    case sha256

    /// The scheme of the digests made of these segment entries.
    public var scheme: ContentDigest.Scheme { self == .crc32c ? .crc32cSegments : .sha256Segments }
}

/// Shard digests, as `index.json` records them: `SCHEME:HEX`.
///
/// - `crc32c-segments` and `sha256-segments` (what `fleetprep ingest` writes): SHA-256 of the
///   concatenated per-segment digests (`SegmentDigestKind`) of the shard's segments in file
///   order — native: the 64-byte header, each record (`offset..<offset+length`), the index; wds:
///   each sample's two tar members (headers, data and padding), then the end-of-archive blocks.
///   Every byte between segments must be zero. Each record's digest is computed by the thread
///   that writes it, so no pass re-reads a shard.
/// - `sha256`: SHA-256 of the whole file (manifests written before segments; the tests' sequential
///   writer).
public enum ShardDigest {

    /// One segment's entry in a `kind` digest.
    static func segment(_ kind: SegmentDigestKind, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        segment(kind, bytes, crc: kind == .crc32c ? CRC32C.checksum(bytes) : 0)
    }

    /// One segment's entry, given its CRC-32C when already known (ignored for sha256).
    static func segment(_ kind: SegmentDigestKind, _ bytes: UnsafeRawBufferPointer, crc: UInt32) -> [UInt8] {
        switch kind {
        case .sha256: return sha256(bytes)
        case .crc32c: return crcEntry(length: bytes.count, crc: crc)
        }
    }

    static func crcEntry(length: Int, crc: UInt32) -> [UInt8] {
        var w = ByteWriter()
        w.u64(UInt64(length))
        w.u32(crc)
        return w.bytes
    }

    static func segment(_ kind: SegmentDigestKind, _ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { segment(kind, $0) }
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
    static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    static func hex(_ d: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in d { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The digest of segments whose per-segment entries are `entries`, concatenated.
    static func segments(_ kind: SegmentDigestKind, _ entries: [UInt8]) -> ContentDigest { ContentDigest(scheme: kind.scheme, hex: hex(SHA256.hash(data: entries))) }

    /// SHA-256 (hex) and size of a whole file (the `sha256` scheme).
    static func sha256(of path: String) throws(ShardError) -> (String, Int64) {
        let m = try MappedFile(path: path)
        var h = SHA256()
        var off = 0
        while off < m.bytes.count {
            let n = min(8 << 20, m.bytes.count - off)
            h.update(bufferPointer: UnsafeRawBufferPointer(rebasing: m.bytes[off..<(off + n)]))
            off += n
        }
        return (hex(h.finalize()), Int64(m.bytes.count))
    }

    /// Recomputes the digest of `file` in the scheme of `expected` (a `ShardInfo.digest`); returns
    /// it and the file's size. Throws when the shard cannot be parsed or, for segments, when a
    /// byte between segments is not zero.
    public static func compute(like expected: ContentDigest, file: URL) throws(ShardError) -> (digest: ContentDigest, size: Int64) {
        guard let kind = SegmentDigestKind.allCases.first(where: { $0.scheme == expected.scheme }) else {
            let (hex, size) = try sha256(of: file.path)
            return (ContentDigest(scheme: .sha256, hex: hex), size)
        }
        let m = try MappedFile(path: file.path)
        let b = m.bytes
        var ranges: [Range<Int>] = []
        if b.count >= 8, Array(b[0..<8]) == NativeShard.magic {
            let reader = try NativeShardReader(file: m)
            let indexOffset = Int(m.u64(32)), indexLength = Int(m.u64(40))
            ranges.append(0..<NativeShard.headerSize)
            for e in reader.entries { ranges.append(Int(e.offset)..<Int(e.offset + e.length)) }
            ranges.append(indexOffset..<(indexOffset + indexLength))
            guard indexOffset + indexLength == b.count else {
                throw ShardError(.checksumMismatch, file: file.path, "\(b.count - indexOffset - indexLength) byte(s) after the index")
            }
        } else {
            let reader = try WebDatasetShardReader(file: m)
            // Inside the segments, the tar padding after each member and the end-of-archive
            // blocks must be zero too: a shard verified on its own has no digest to catch a flip
            // there.
            var zeros: [Range<Int>] = []
            for s in reader.samples {
                ranges.append((s.npy.lowerBound - WebDatasetShard.block)..<(s.json.lowerBound + WebDatasetShard.padded(s.json.count)))
                zeros.append(s.npy.upperBound..<(s.npy.lowerBound + WebDatasetShard.padded(s.npy.count)))
                zeros.append(s.json.upperBound..<(s.json.lowerBound + WebDatasetShard.padded(s.json.count)))
            }
            ranges.append((ranges.last?.upperBound ?? 0)..<b.count)
            zeros.append(ranges.last!)
            for z in zeros where z.upperBound <= b.count {
                if let bad = b[z].firstIndex(where: { $0 != 0 }) {
                    throw ShardError(.checksumMismatch, file: file.path, "non-zero tar padding or end-of-archive byte at offset \(bad)")
                }
            }
        }
        var digests: [UInt8] = []
        var end = 0
        for r in ranges {
            guard r.lowerBound >= end, r.upperBound <= b.count else {
                throw ShardError(.checksumMismatch, file: file.path, "segments overlap or run past the end at byte \(r.lowerBound)")
            }
            if let bad = b[end..<r.lowerBound].firstIndex(where: { $0 != 0 }) {
                throw ShardError(.checksumMismatch, file: file.path, "non-zero padding byte at offset \(bad)")
            }
            digests += segment(kind, UnsafeRawBufferPointer(rebasing: b[r]))
            end = r.upperBound
        }
        return (segments(kind, digests), Int64(b.count))
    }
}
