import Foundation

/// The native shard format ("FLEETSHD", version 1); docs/shard-format.md is its specification.
///
/// ```
/// offset 0   header, 64 bytes, little-endian:
///            magic "FLEETSHD" | u32 version=1 | u32 header size=64 | u64 record count |
///            u64 alignment | u64 index offset | u64 index length | u32 index CRC32C |
///            u32 flags=0 | 8 zero bytes
/// then       records, each starting at a multiple of `alignment` (zero padding between):
///            tensor bytes | labels (f32 × L) | mask (u8 × L) | annotation JSON | metadata JSON
/// then       the index: UTF-8 JSON {"format","version","schema","records":[…]} whose entries give
///            each record's key, offset, length, CRC32C and the sizes of its parts
/// ```
enum NativeShard {
    static let magic = Array("FLEETSHD".utf8)
    static let version: UInt32 = 1
    static let headerSize = 64
    static let fileExtension = "fps"

    /// One record's index entry.
    struct Entry: Codable, Equatable {
        var key: String
        var offset: Int64
        var length: Int64
        var crc32c: UInt32
        var tensor: TensorSpec
        var tensorBytes: Int
        var labels: Int
        var annotationsBytes: Int
        var metadataBytes: Int

        enum CodingKeys: String, CodingKey {
            case key, offset, length, crc32c, tensor
            case tensorBytes = "tensor_bytes", labels
            case annotationsBytes = "annotations_bytes", metadataBytes = "metadata_bytes"
        }
    }

    struct Index: Codable {
        var format = "fleetprep-shard"
        var version = 1
        var schema: LabelSchema
        var records: [Entry]
    }

    /// The 64-byte header of a shard of `count` records whose index is `index` at `indexOffset`.
    static func header(count: Int, alignment: Int, indexOffset: Int64, index: [UInt8]) -> [UInt8] {
        var h = ByteWriter()
        h.bytes += magic
        h.u32(version)
        h.u32(UInt32(headerSize))
        h.u64(UInt64(count))
        h.u64(UInt64(alignment))
        h.u64(UInt64(indexOffset))
        h.u64(UInt64(index.count))
        h.u32(CRC32C.checksum(index))
        h.u32(0)
        h.u64(0)
        return h.bytes
    }

    /// The index's JSON, byte for byte what `encoder()` makes of `Index(schema:records:)`, written
    /// directly: a large shard's index then costs its own bytes, not JSONEncoder's intermediate
    /// tree (which made peak memory grow with the number of records per shard).
    static func indexBytes(schema: LabelSchema, entries: some Collection<Entry>) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(64 + entries.count * 256)
        out += Array("{\"format\":\"fleetprep-shard\",\"records\":[".utf8)
        for (i, e) in entries.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            append(e, to: &out)
        }
        out += Array("],\"schema\":".utf8)
        out += try encoder().encode(schema)
        out += Array(",\"version\":1}".utf8)
        return out
    }

    /// Bytes of `e` in the index.
    static func entryBytes(_ e: Entry) -> Int {
        var out = [UInt8]()
        out.reserveCapacity(256)
        append(e, to: &out)
        return out.count
    }

    /// One index entry as JSON (sorted keys, no spaces), as JSONEncoder writes it.
    static func append(_ e: Entry, to out: inout [UInt8]) {
        func key(_ k: String) { out.append(UInt8(ascii: "\"")); out += k.utf8; out += [UInt8(ascii: "\""), UInt8(ascii: ":")] }
        func int<I: BinaryInteger>(_ v: I) { out += String(v).utf8 }
        func comma() { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "{"))
        key("annotations_bytes"); int(e.annotationsBytes); comma()
        key("crc32c"); int(e.crc32c); comma()
        key("key"); string(e.key, to: &out); comma()
        key("labels"); int(e.labels); comma()
        key("length"); int(e.length); comma()
        key("metadata_bytes"); int(e.metadataBytes); comma()
        key("offset"); int(e.offset); comma()
        key("tensor"); out.append(UInt8(ascii: "{"))
        key("dtype"); string(e.tensor.dtype.rawValue, to: &out); comma()
        key("layout"); string(e.tensor.layoutName, to: &out); comma()
        key("name"); string(e.tensor.name, to: &out); comma()
        key("shape"); out.append(UInt8(ascii: "["))
        for (i, d) in e.tensor.shape.enumerated() { if i > 0 { comma() }; int(d) }
        out += [UInt8(ascii: "]"), UInt8(ascii: "}")]; comma()
        key("tensor_bytes"); int(e.tensorBytes)
        out.append(UInt8(ascii: "}"))
    }

    /// A JSON string as JSONEncoder writes it with `.withoutEscapingSlashes`.
    static func string(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

/// Reads a native shard from a memory map.
struct NativeShardReader {
    let file: MappedFile
    let schema: LabelSchema
    let entries: [NativeShard.Entry]

    init(file: MappedFile) throws(ShardError) {
        self.file = file
        let path = file.path
        guard file.bytes.count >= NativeShard.headerSize else {
            throw ShardError(.truncated, file: path, "\(file.bytes.count) bytes is shorter than the 64-byte header")
        }
        guard Array(file.bytes[0..<8]) == NativeShard.magic else { throw ShardError(.notAShard, file: path, "no FLEETSHD magic") }
        let version = file.u32(8)
        guard version == NativeShard.version else { throw ShardError(.notAShard, file: path, "unsupported version \(version)") }
        let count = file.u64(16), indexOffset = file.u64(32), indexLength = file.u64(40), indexCRC = file.u32(48)
        let alignment = file.u64(24)
        // Every header field is checked: the header is not covered by the index's checksum.
        guard file.u32(12) == UInt32(NativeShard.headerSize), file.u32(52) == 0, file.u64(56) == 0 else {
            throw ShardError(.notAShard, file: path, "the header's size, flags or reserved bytes are not those of version 1")
        }
        guard alignment >= 1, alignment <= 1 << 30, alignment & (alignment - 1) == 0 else {
            throw ShardError(.notAShard, file: path, "the header's alignment \(alignment) is not a power of two")
        }
        guard count <= UInt64(file.bytes.count) else {
            throw ShardError(.notAShard, file: path, "the header claims \(count) records in \(file.bytes.count) bytes")
        }
        guard indexOffset >= UInt64(NativeShard.headerSize), indexOffset <= UInt64(file.bytes.count),
              indexLength <= UInt64(file.bytes.count) - indexOffset, indexLength > 0 else {
            throw ShardError(.truncated, file: path, "the index (\(indexOffset)+\(indexLength)) lies beyond the end of the file (\(file.bytes.count) bytes)")
        }
        let ib = UnsafeRawBufferPointer(rebasing: file.bytes[Int(indexOffset)..<Int(indexOffset + indexLength)])
        guard CRC32C.checksum(ib) == indexCRC else {
            throw ShardError(.checksumMismatch, file: path, "the index checksum does not match")
        }
        let index: NativeShard.Index
        do { index = try JSONDecoder().decode(NativeShard.Index.self, from: Data(ib)) } catch {
            throw ShardError(.notAShard, file: path, "the index is not valid: \(error)")
        }
        guard index.records.count == Int(count) else {
            throw ShardError(.notAShard, file: path, "the header says \(count) records, the index lists \(index.records.count)")
        }
        for e in index.records {
            guard e.tensorBytes >= 0, e.labels >= 0, e.labels < 1 << 20, e.annotationsBytes >= 0, e.metadataBytes >= 0,
                  e.tensorBytes < Int.max / 4, e.annotationsBytes < Int.max / 4, e.metadataBytes < Int.max / 4 else {
                throw ShardError(.notAShard, file: path, record: e.key, "the index entry has impossible sizes")
            }
            let parts = e.tensorBytes + e.labels * 5 + e.annotationsBytes + e.metadataBytes
            guard e.offset >= Int64(NativeShard.headerSize), e.offset <= Int64(indexOffset), e.length >= 0,
                  e.length <= Int64(indexOffset) - e.offset, UInt64(e.offset) % alignment == 0,
                  Int64(parts) == e.length, e.tensorBytes == e.tensor.byteCount, e.tensor.shape.allSatisfy({ $0 >= 0 }) else {
                throw ShardError(.notAShard, file: path, record: e.key, "the index entry is inconsistent with the file")
            }
        }
        schema = index.schema
        entries = index.records
    }

    func record(_ i: Int) throws(ShardError) -> RecordView {
        let e = entries[i]
        let base = Int(e.offset)
        let t = UnsafeRawBufferPointer(rebasing: file.bytes[base..<(base + e.tensorBytes)])
        var p = base + e.tensorBytes
        var labels = [Float](repeating: 0, count: e.labels)
        for k in 0..<e.labels { labels[k] = Float(bitPattern: file.u32(p + 4 * k)) }
        p += 4 * e.labels
        let mask = Array(file.bytes[p..<(p + e.labels)])
        p += e.labels
        let ann = try RecordFraming.annotation(file.bytes[p..<(p + e.annotationsBytes)], file: file.path, record: e.key)
        p += e.annotationsBytes
        let metaText = String(decoding: file.bytes[p..<(p + e.metadataBytes)], as: UTF8.self)
        return RecordView(key: e.key, tensor: e.tensor, tensorBytes: t, labels: labels, mask: mask, annotations: ann,
                          metadata: (try? JSONValue(parsing: metaText)) ?? .null, storedCRC32C: e.crc32c,
                          recordBytes: UnsafeRawBufferPointer(rebasing: file.bytes[base..<(base + Int(e.length))]), file: file)
    }
}
