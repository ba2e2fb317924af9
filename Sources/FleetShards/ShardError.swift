/// An error of the shard layer: writing, reading or verifying shards and manifests. It names the
/// file and, where there is one, the record.
public struct ShardError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in a word that scripts can match.
    public enum Kind: String, Sendable, Codable {
        /// A memory target, fill fraction, key, alignment or tensor description is not valid.
        case invalidArgument = "invalid-argument"
        /// One record is larger than the shard budget.
        case recordTooLarge = "record-too-large"
        /// The file is not a shard / manifest of this format (bad magic, bad header).
        case notAShard = "not-a-shard"
        /// The file ends before the data its header promises.
        case truncated
        /// A checksum (CRC32C of a record, SHA-256 of a shard) does not match.
        case checksumMismatch = "checksum-mismatch"
        /// The file system said no (missing file, permission, full disk).
        case io
    }

    public var kind: Kind
    public var file: String?
    public var record: String?
    public var message: String

    public init(_ kind: Kind, file: String? = nil, record: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.record = record
        self.message = message
    }

    public var description: String {
        var s = ""
        if let file { s += file + ": " }
        if let record { s += "record \(record): " }
        return s + message
    }
}
