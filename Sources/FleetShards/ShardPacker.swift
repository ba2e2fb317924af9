import Foundation

/// Where a record goes: shard number, its position (slot) in that shard, byte offset and length.
public struct ShardPlacement: Sendable, Equatable {
    public let shard: Int
    public let slot: Int
    public let offset: Int64
    public let length: Int64
}

/// The layout plan of a dataset: places records, in dataset order, into shards of at most
/// `budget.bytes`, before any record is written. The rule is the sequential writer's: a record
/// goes into the open shard unless the shard would then exceed the budget (counting its index at
/// the longest CRC), in which case the shard is sealed and the next one opened.
///
/// Because placement depends only on each record's size (its tensor shape and encoded labels,
/// annotations and metadata), every record's shard and offset are fixed up front, and
/// `PlacedShard` can take the records from any thread in any order.
public struct ShardPacker: Sendable {
    public let format: ShardFormat
    public let budget: ShardBudget
    public let schema: LabelSchema
    public let alignment: Int
    /// The shard records are being placed into.
    public private(set) var shard: Int
    /// Records placed into `shard` so far.
    public private(set) var slots = 0
    private var cursor: Int64
    private var indexBytes: Int
    private let emptyIndexBytes: Int

    public init(format: ShardFormat, budget: ShardBudget, schema: LabelSchema, alignment: Int = 4096,
                firstShard: Int = 0) throws(ShardError) {
        guard alignment >= 1, alignment & (alignment - 1) == 0 else {
            throw ShardError(.invalidArgument, "alignment must be a power of two, got \(alignment)")
        }
        self.format = format
        self.budget = budget
        self.schema = schema
        self.alignment = alignment
        shard = firstShard
        let empty = (try? NativeShard.encoder().encode(NativeShard.Index(schema: schema, records: []))) ?? Data()
        emptyIndexBytes = empty.count
        indexBytes = emptyIndexBytes
        cursor = Self.start(format)
    }

    private static func start(_ f: ShardFormat) -> Int64 { f == .native ? Int64(NativeShard.headerSize) : 0 }

    /// Places the next record (its tensor bytes are not needed: only `tensor`'s size).
    /// - Throws: `.invalidArgument` for a bad key or label count, `.recordTooLarge` when the
    ///   record alone exceeds the budget.
    public mutating func place(_ r: SampleRecord) throws(ShardError) -> ShardPlacement {
        guard SampleRecord.isValidKey(r.key) else {
            throw ShardError(.invalidArgument, record: r.key, DatasetNames.keyRule)
        }
        guard r.labels.count == schema.width, r.mask.count == schema.width else {
            throw ShardError(.invalidArgument, record: r.key, "labels/mask have \(r.labels.count)/\(r.mask.count) values; the schema has \(schema.width)")
        }
        return try place(RecordFraming(r, format: format, schema: schema))
    }

    /// Places the next record, framed by `framing` (in this packer's format and schema).
    public mutating func place(_ f: RecordFraming) throws(ShardError) -> ShardPlacement {
        guard SampleRecord.isValidKey(f.key) else {
            throw ShardError(.invalidArgument, record: f.key, DatasetNames.keyRule)
        }
        guard f.format == format else { throw ShardError(.invalidArgument, record: f.key, "framed as \(f.format), not \(format)") }
        guard f.labelCount == schema.width else {
            throw ShardError(.invalidArgument, record: f.key, "has \(f.labelCount) label values; the schema has \(schema.width)")
        }
        let length = Int64(f.length)
        var fit = fitting(f, length: length)
        if fit.size > budget.bytes && slots > 0 {
            seal()
            fit = fitting(f, length: length)
        }
        guard fit.size <= budget.bytes else {
            throw ShardError(.recordTooLarge, record: f.key,
                             "needs \(fit.size) bytes in a shard (\(f.tensorBytes) of tensor) but the budget is \(budget.bytes) bytes (\(budget.target.name) × \(budget.fill))")
        }
        let p = ShardPlacement(shard: shard, slot: slots, offset: fit.offset, length: length)
        cursor = fit.offset + length
        indexBytes += fit.entryBytes + (slots == 0 ? 0 : 1)
        slots += 1
        return p
    }

    /// Closes the open shard: the next record starts a new one (no-op when it is empty).
    public mutating func seal() {
        guard slots > 0 else { return }
        shard += 1
        slots = 0
        cursor = Self.start(format)
        indexBytes = emptyIndexBytes
    }

    /// Offset, index-entry bytes and the shard's size if record `f` were appended to the open shard.
    private func fitting(_ f: RecordFraming, length: Int64) -> (offset: Int64, entryBytes: Int, size: Int64) {
        switch format {
        case .native:
            let offset = alignUp(cursor, Int64(alignment))
            let e = NativeShard.Entry(key: f.key, offset: offset, length: length, crc32c: UInt32.max, tensor: f.tensor,
                                      tensorBytes: f.tensorBytes, labels: f.labelCount,
                                      annotationsBytes: f.annotationsBytes, metadataBytes: f.metadataBytes)
            let eBytes = NativeShard.entryBytes(e)
            return (offset, eBytes, offset + length + Int64(indexBytes + eBytes + 1))
        case .wds:
            return (cursor, 0, cursor + length + Int64(2 * WebDatasetShard.block))
        }
    }
}
