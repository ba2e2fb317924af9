/// The bytes a shard format puts around a record's tensor, in file order: `head`, then the tensor,
/// then the tail. Built once per record, before its tensor exists: `ShardPacker` sizes the record
/// from it and `PlacedShard` writes it, so the two can never disagree about a record's length,
/// and a record's labels, annotations and metadata are encoded once.
///
/// - native: no head; tail = labels (f32 LE) + mask + annotation JSON + metadata JSON.
/// - wds: head = ustar header of `<key>.npy` + the .npy header; tail = zero padding to 512 bytes,
///   the ustar header of `<key>.json`, the JSON (padded with spaces to the length it has with a
///   10-digit CRC, so that its size is known before the tensor is; its `json_crc32c` covers the
///   member, padding included) and zero padding to 512. The JSON holds the .npy member's CRC, so
///   the tail is finished by `tail(npyCRC:)` once the tensor is there.
public struct RecordFraming: Sendable {
    public let key: String
    public let tensor: TensorSpec
    public let format: ShardFormat
    /// Label (and mask) values.
    public let labelCount: Int
    let annotationsBytes: Int
    let metadataBytes: Int
    let head: [UInt8]
    /// native: the whole tail. wds: the tail up to the JSON member.
    private let tailStart: [UInt8]
    /// wds: the JSON member before and after the digits of its `npy_crc32c`.
    private let jsonBefore: [UInt8]
    private let jsonAfter: [UInt8]
    /// Bytes after the tensor.
    public let tailCount: Int

    public var tensorBytes: Int { tensor.byteCount }
    public var length: Int { head.count + tensorBytes + tailCount }

    /// The framing of `r` in `format` (its tensor bytes are not read: only `r.tensor`'s size).
    public init(_ r: SampleRecord, format: ShardFormat, schema: LabelSchema) {
        key = r.key
        tensor = r.tensor
        self.format = format
        labelCount = r.labels.count
        let annotations = Array(r.annotationsText.utf8)
        annotationsBytes = annotations.count
        switch format {
        case .native:
            let metadata = Array(r.metadata.jsonText.utf8)
            metadataBytes = metadata.count
            head = []
            var t = [UInt8]()
            t.reserveCapacity(r.labels.count * 5 + annotationsBytes + metadata.count)
            for v in r.labels { withUnsafeBytes(of: v.bitPattern.littleEndian) { t += $0 } }
            t += r.mask
            t += annotations
            t += metadata
            tailStart = t
            (jsonBefore, jsonAfter) = ([], [])
            tailCount = t.count
        case .wds:
            metadataBytes = 0
            let npyHeader = WebDatasetShard.npyHeader(r.tensor)
            let npySize = npyHeader.count + r.tensor.byteCount
            head = WebDatasetShard.tarHeader(name: r.key + ".npy", size: npySize) + npyHeader
            (jsonBefore, jsonAfter) = WebDatasetShard.sampleJSON(r, schema: schema)
            // The longest CRC has 10 digits (UInt32.max).
            let json = jsonBefore.count + 10 + jsonAfter.count
            tailStart = [UInt8](repeating: 0, count: WebDatasetShard.padded(npySize) - npySize)
                + WebDatasetShard.tarHeader(name: r.key + ".json", size: json)
            tailCount = tailStart.count + WebDatasetShard.padded(json)
        }
    }

    /// The bytes after the tensor. For wds, `npyCRC` is the CRC-32C of the .npy member (header
    /// and tensor), recorded in the JSON member, whose own CRC is then sealed in.
    func tail(npyCRC: UInt32) -> [UInt8] {
        guard format == .wds else { return tailStart }
        var json = jsonBefore + Array(String(npyCRC).utf8) + jsonAfter
        json += [UInt8](repeating: 0x20, count: jsonBefore.count + 10 + jsonAfter.count - json.count)
        WebDatasetShard.sealJSON(&json)
        var t = tailStart
        t.reserveCapacity(tailCount)
        t += json
        t += [UInt8](repeating: 0, count: WebDatasetShard.padded(json.count) - json.count)
        return t
    }
}

extension RecordFraming {
    /// A stored annotation's bytes read back: nil for `null`, else the JSON object they hold.
    static func annotation(_ bytes: Slice<UnsafeRawBufferPointer>, file: String, record: String) throws(ShardError) -> Annotation? {
        if bytes.elementsEqual("null".utf8) { return nil }
        do throws(Annotation.ValidationError) { return try Annotation(validatingUTF8: bytes) } catch {
            throw ShardError(.notAShard, file: file, record: record, "the annotation is \(error.message): neither null nor a JSON object")
        }
    }
}
