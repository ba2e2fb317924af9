import Foundation

/// WebDataset shards: POSIX ustar archives where each sample is `<key>.npy` (the tensor in
/// numpy's .npy v1.0 format) followed by `<key>.json` (labels, mask, annotations, metadata and
/// the CRC32C of the .npy member). Member headers carry mtime 0 and uid/gid 0, so the same
/// samples give the same bytes.
enum WebDatasetShard {
    static let fileExtension = "tar"
    static let block = 512

    /// The .npy v1.0 header for `spec` (magic, version, length, dict padded to 64 bytes).
    static func npyHeader(_ spec: TensorSpec) -> [UInt8] {
        let shape = spec.shape.count == 1 ? "(\(spec.shape[0]),)" : "(" + spec.shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(spec.dtype.numpyDescr)', 'fortran_order': False, 'shape': \(shape), }"
        let total = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let n = UInt16(dict.utf8.count)
        out += [UInt8(n & 0xFF), UInt8(n >> 8)]
        out += Array(dict.utf8)
        return out
    }

    /// Parses a .npy header: (descr, shape, data offset).
    static func parseNpy(_ b: UnsafeRawBufferPointer) -> (descr: String, shape: [Int], dataOffset: Int)? {
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else { return nil }
        let major = b[6]
        var hlen: Int, start: Int
        if major == 1 { hlen = Int(b[8]) | Int(b[9]) << 8; start = 10 }
        else {
            guard b.count >= 12 else { return nil }
            hlen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
        }
        guard start + hlen <= b.count else { return nil }
        let text = String(decoding: b[start..<(start + hlen)], as: UTF8.self)
        guard let d = text.range(of: "'descr': '"), let dEnd = text[d.upperBound...].firstIndex(of: "'"),
              let s = text.range(of: "'shape': ("), let sEnd = text[s.upperBound...].firstIndex(of: ")") else { return nil }
        guard !text.contains("'fortran_order': True") else { return nil }
        let descr = String(text[d.upperBound..<dEnd])
        let dims = text[s.upperBound..<sEnd].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return (descr, dims, start + hlen)
    }

    static func dtype(numpy descr: String, stored: String?) -> ElementType? {
        if stored == "bf16" && descr == "<u2" { return .bf16 }
        return ElementType.allCases.first { $0.numpyDescr == descr && $0 != .bf16 }
    }

    /// A ustar header for a regular file.
    static func tarHeader(name: String, size: Int) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: block)
        func put(_ s: String, _ at: Int, _ len: Int) {
            let u = Array(s.utf8)
            for i in 0..<min(u.count, len) { h[at + i] = u[i] }
        }
        func octal(_ v: Int, _ at: Int, _ len: Int) {
            let s = String(v, radix: 8)
            put(String(repeating: "0", count: max(0, len - 1 - s.count)) + s, at, len - 1)
        }
        put(name, 0, 100)
        octal(0o644, 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        octal(size, 124, 12)
        octal(0, 136, 12)
        for i in 148..<156 { h[i] = 0x20 }
        h[156] = UInt8(ascii: "0")
        put("ustar", 257, 6)
        put("00", 263, 2)
        let sum = h.reduce(0) { $0 + Int($1) }
        let s = String(sum, radix: 8)
        put(String(repeating: "0", count: max(0, 6 - s.count)) + s, 148, 6)
        h[154] = 0
        h[155] = 0x20
        return h
    }

    static func padded(_ n: Int) -> Int { (n + block - 1) / block * block }

    static let jsonCRCField = Array("\"json_crc32c\":\"".utf8)
    static let jsonCRCPlaceholder = "00000000"

    /// Where the 8 hex digits of the top-level `json_crc32c` field lie in a .json member, if it has
    /// one. The member is read as JSON (`TopLevelJSON`), not searched for a byte pattern: the key
    /// may be written with spaces around its colon, and the same key inside a nested value (an
    /// annotation) is not the field. nil when the member has no such top-level key.
    /// Throws when the member is not a JSON object, names the key twice, or its value is not 8
    /// hex digits.
    static func jsonCRCField(_ json: UnsafeRawBufferPointer) throws(ShardError) -> Range<Int>? {
        guard let fields = TopLevelJSON.stringValues(json, key: "json_crc32c") else {
            throw ShardError(.notAShard, file: nil, "the .json member is not a JSON object")
        }
        guard let r = fields.first else { return nil }
        guard fields.count == 1 else { throw ShardError(.notAShard, file: nil, "the .json member names json_crc32c \(fields.count) times") }
        guard r.count == 8, json[r].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }) else {
            throw ShardError(.checksumMismatch, file: nil, "the .json member's json_crc32c is not 8 hex digits")
        }
        return r
    }

    /// The top-level `annotations` of a .json member, byte for byte as written (nil when it is
    /// `null` or absent). Throws when it is neither `null` nor one JSON object.
    static func annotation(_ json: UnsafeRawBufferPointer, file: String, record: String) throws(ShardError) -> Annotation? {
        guard let r = TopLevelJSON.valueRanges(json, key: "annotations")?.first else { return nil }
        return try RecordFraming.annotation(json[r], file: file, record: record)
    }

    /// `jsonCRCField`, or nil for a member that is not JSON or whose field is malformed (writers
    /// only: they made the member).
    static func jsonCRCRange(_ json: UnsafeRawBufferPointer) -> Range<Int>? {
        (try? jsonCRCField(json)) ?? nil
    }

    /// The CRC-32C that `json_crc32c` holds: of the whole member, padding included, with the
    /// field's 8 digits read as "00000000".
    static func jsonCRC(_ json: UnsafeRawBufferPointer, field: Range<Int>) -> UInt32 {
        var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: json[..<field.lowerBound]))
        crc = Array(jsonCRCPlaceholder.utf8).withUnsafeBytes { CRC32C.checksum($0, seed: crc) }
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: json[field.upperBound...]), seed: crc)
    }

    /// Fills in the `json_crc32c` field of a finished .json member (its padding included), so that
    /// a damaged label, mask or metadata byte is caught even in a shard read alone.
    static func sealJSON(_ json: inout [UInt8]) {
        json.withUnsafeMutableBytes { b in
            guard let r = jsonCRCRange(UnsafeRawBufferPointer(b)) else { return }
            let hex = Array(String(format: "%08x", jsonCRC(UnsafeRawBufferPointer(b), field: r)).utf8)
            for k in 0..<8 { b[r.lowerBound + k] = hex[k] }
        }
    }

    /// The .json member of a sample (its `json_crc32c` still "00000000": see `sealJSON`), before
    /// and after the decimal digits of its `npy_crc32c`, which the tensor's CRC gives.
    static func sampleJSON(_ r: SampleRecord, schema: LabelSchema) -> (before: [UInt8], after: [UInt8]) {
        let labels = r.labels.map { v -> String in
            guard v.isFinite else { return "null" }
            return JSONValue.number(Double(v)).jsonText
        }.joined(separator: ",")
        let tensor = (try? NativeShard.encoder().encode(r.tensor)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        let names = JSONValue.array(schema.names.map { .string($0) }).jsonText
        let before = "{\"annotations\":\(r.annotationsText),\"json_crc32c\":\"\(jsonCRCPlaceholder)\",\"key\":\(JSONValue.string(r.key).jsonText),\"label_names\":\(names),\"labels\":[\(labels)],\"mask\":[\(r.mask.map(String.init).joined(separator: ","))],\"metadata\":\(r.metadata.jsonText),\"npy_crc32c\":"
        return (Array(before.utf8), Array(",\"tensor\":\(tensor)}".utf8))
    }

    /// The whole .json member of a sample with `npyCRC` (its `json_crc32c` still "00000000").
    static func sampleJSON(_ r: SampleRecord, schema: LabelSchema, npyCRC: UInt32) -> [UInt8] {
        let (before, after) = sampleJSON(r, schema: schema)
        return before + Array(String(npyCRC).utf8) + after
    }
}

/// Reads a WebDataset tar shard written by `PlacedShard` (or any tar of .npy + .json pairs with
/// the same keys).
struct WebDatasetShardReader {
    struct Sample {
        var key: String
        var npy: Range<Int>
        var json: Range<Int>
    }
    let file: MappedFile
    let samples: [Sample]

    init(file: MappedFile) throws(ShardError) {
        self.file = file
        let b = file.bytes
        var pos = 0
        var pending: [String: (npy: Range<Int>?, json: Range<Int>?)] = [:]
        var order: [String] = []
        var sawEnd = false
        while pos + WebDatasetShard.block <= b.count {
            let h = UnsafeRawBufferPointer(rebasing: b[pos..<(pos + WebDatasetShard.block)])
            if h.allSatisfy({ $0 == 0 }) { sawEnd = true; break }
            let nameBytes = h[0..<100].prefix { $0 != 0 }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let sizeText = String(decoding: h[124..<136].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            guard Array(h[257..<262]) == Array("ustar".utf8), let size = Int(sizeText, radix: 8), size >= 0 else {
                throw ShardError(.notAShard, file: file.path, "no tar header at byte \(pos)")
            }
            let stored = h[148..<156].prefix { $0 != 0 && $0 != 0x20 }
            var sum = 0
            for i in 0..<WebDatasetShard.block { sum += (i >= 148 && i < 156) ? 0x20 : Int(h[i]) }
            guard Int(String(decoding: stored, as: UTF8.self), radix: 8) == sum else {
                throw ShardError(.checksumMismatch, file: file.path, record: name, "tar header checksum does not match")
            }
            let data = pos + WebDatasetShard.block
            guard data + size <= b.count else {
                throw ShardError(.truncated, file: file.path, record: name, "member of \(size) bytes runs past the end of the file")
            }
            if h[156] == UInt8(ascii: "0") || h[156] == 0 {
                guard let dot = name.firstIndex(of: ".") else {
                    throw ShardError(.notAShard, file: file.path, record: name, "member name has no extension")
                }
                let key = String(name[..<dot]), ext = String(name[name.index(after: dot)...])
                if pending[key] == nil { order.append(key); pending[key] = (nil, nil) }
                if ext == "npy" { pending[key]!.npy = data..<(data + size) }
                else if ext == "json" { pending[key]!.json = data..<(data + size) }
            }
            pos = data + WebDatasetShard.padded(size)
        }
        guard sawEnd else { throw ShardError(.truncated, file: file.path, "the archive has no end-of-archive blocks") }
        var out: [Sample] = []
        for k in order {
            guard let n = pending[k]!.npy, let j = pending[k]!.json else {
                throw ShardError(.notAShard, file: file.path, record: k, "sample lacks its .npy or .json member")
            }
            out.append(Sample(key: k, npy: n, json: j))
        }
        samples = out
    }

    func record(_ i: Int) throws(ShardError) -> RecordView {
        let s = samples[i]
        let b = file.bytes
        let npy = UnsafeRawBufferPointer(rebasing: b[s.npy])
        let meta = (try? JSONValue(parsing: String(decoding: b[s.json], as: UTF8.self))) ?? .null
        guard let (descr, shape, off) = WebDatasetShard.parseNpy(npy) else {
            throw ShardError(.notAShard, file: file.path, record: s.key, "the .npy header is not valid")
        }
        var storedDType: String? = nil
        var tensor = TensorSpec(name: "frames", dtype: .u8, shape: shape, layout: nil)
        if case .object(let t)? = meta["tensor"] {
            if case .string(let d)? = t["dtype"] { storedDType = d }
            if case .string(let l)? = t["layout"] {
                guard let layout = TensorSpec.layout(named: l) else {
                    throw ShardError(.notAShard, file: file.path, record: s.key, "tensor layout \"\(l)\" is not NCHW or NHWC")
                }
                tensor.layout = layout
            }
            if case .string(let n)? = t["name"] { tensor.name = n }
        }
        guard let dt = WebDatasetShard.dtype(numpy: descr, stored: storedDType) else {
            throw ShardError(.notAShard, file: file.path, record: s.key, "unsupported numpy dtype \(descr)")
        }
        tensor.dtype = dt
        guard tensor.byteCount != Int.max, off + tensor.byteCount == npy.count else {
            throw ShardError(.notAShard, file: file.path, record: s.key, "the .npy data size does not match its shape")
        }
        var labels: [Float] = [], mask: [UInt8] = []
        if case .array(let a)? = meta["labels"] {
            labels = a.map { if case .number(let n) = $0 { return Float(n) } else { return .nan } }
        }
        if case .array(let a)? = meta["mask"] {
            mask = a.map { if case .number(let n) = $0, let v = UInt8(exactly: n) { return v } else { return 0 } }
        }
        var crc: UInt32? = nil
        if case .number(let n)? = meta["npy_crc32c"] { crc = UInt32(exactly: n) }
        let json = UnsafeRawBufferPointer(rebasing: b[s.json])
        let crcField: Range<Int>?
        do { crcField = try WebDatasetShard.jsonCRCField(json) } catch {
            throw ShardError(error.kind, file: file.path, record: s.key, error.message)
        }
        if let field = crcField {
            let stored = UInt32(String(decoding: json[field], as: UTF8.self), radix: 16)
            guard stored == WebDatasetShard.jsonCRC(json, field: field) else {
                throw ShardError(.checksumMismatch, file: file.path, record: s.key, "the .json member's CRC-32C does not match (labels, mask or metadata damaged)")
            }
        }
        let annotations = try WebDatasetShard.annotation(json, file: file.path, record: s.key)
        return RecordView(key: s.key, tensor: tensor, tensorBytes: UnsafeRawBufferPointer(rebasing: npy[off...]),
                          labels: labels, mask: mask, annotations: annotations,
                          metadata: meta["metadata"] ?? .null, storedCRC32C: crc, recordBytes: npy, file: file)
    }
}
