/// The bytes a shard format puts around a record's tensor, in file order: `head`, then the tensor,
/// then `tail`. `ShardPacker` sizes records from it and `PlacedShard` writes them, so the two can
/// never disagree about a record's length.
///
/// - native: no head; tail = labels (f32 LE) + mask + annotation JSON + metadata JSON.
/// - wds: head = ustar header of `<key>.npy` + the .npy header; tail = zero padding to 512 bytes,
///   the ustar header of `<key>.json`, the JSON (padded with spaces to the length it has with a
///   10-digit CRC, so that its size is known before the tensor is; its `json_crc32c` covers the
///   member, padding included) and zero padding to 512.
struct RecordFraming {
    var head: [UInt8]
    var tail: [UInt8]
    var tensorBytes: Int
    var length: Int { head.count + tensorBytes + tail.count }

    /// Framing of `r` in `format`. For wds, `npyCRC` is the CRC-32C of the .npy member (header and
    /// tensor); nil sizes the record with the longest CRC (what the layout plan uses).
    init(_ r: SampleRecord, format: ShardFormat, schema: LabelSchema, npyCRC: UInt32? = nil) {
        tensorBytes = r.tensor.byteCount
        switch format {
        case .native:
            head = []
            var t = [UInt8]()
            t.reserveCapacity(r.labels.count * 5 + r.annotations.utf8.count + 256)
            for v in r.labels { withUnsafeBytes(of: v.bitPattern.littleEndian) { t += $0 } }
            t += r.mask
            t += Array(r.annotations.utf8)
            t += Array(r.metadata.jsonText.utf8)
            tail = t
        case .wds:
            let npyHeader = WebDatasetShard.npyHeader(r.tensor)
            let npySize = npyHeader.count + tensorBytes
            head = WebDatasetShard.tarHeader(name: r.key + ".npy", size: npySize) + npyHeader
            let longest = WebDatasetShard.sampleJSON(r, schema: schema, npyCRC: UInt32.max).count
            var json = WebDatasetShard.sampleJSON(r, schema: schema, npyCRC: npyCRC ?? UInt32.max)
            json += [UInt8](repeating: 0x20, count: longest - json.count)
            if npyCRC != nil { WebDatasetShard.sealJSON(&json) }
            var t = [UInt8](repeating: 0, count: WebDatasetShard.padded(npySize) - npySize)
            t += WebDatasetShard.tarHeader(name: r.key + ".json", size: json.count)
            t += json
            t += [UInt8](repeating: 0, count: WebDatasetShard.padded(json.count) - json.count)
            tail = t
        }
    }
}
