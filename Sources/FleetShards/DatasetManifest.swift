import Crypto
import Foundation

/// A tensor shape and how many samples have it.
public struct ShapeCount: Sendable, Codable, Equatable {
    public var shape: [Int]
    public var samples: Int
    public init(shape: [Int], samples: Int) {
        self.shape = shape
        self.samples = samples
    }
}

/// `index.json`: the dataset's manifest, written last and atomically.
public struct DatasetManifest: Sendable, Codable, Equatable {
    public var format = "fleetprep-dataset"
    public var version = 1
    public var shardFormat: ShardFormat
    public var target: MemoryTarget
    public var fill: Double
    public var budgetBytes: Int64
    public var shards: [ShardInfo]
    public var schema: LabelSchema
    public var tensor: TensorSpec?
    /// Every tensor shape in the dataset with its sample count (one, unless ingested with
    /// `--mixed-shapes`); nil in manifests from before it existed.
    public var shapes: [ShapeCount]?
    /// The effective transform/ingest configuration (as the caller gives it).
    public var transform: JSONValue
    /// The source clips.
    public var sources: JSONValue
    public var samples: Int
    public var bytes: Int64
    /// `sha256:HEX` of this manifest's own canonical JSON without this field (written by
    /// `write`; nil in manifests from before it existed). `integrityProblems` checks it.
    public var digest: String?

    public init(format: ShardFormat, target: MemoryTarget, fill: Double, budgetBytes: Int64, shards: [ShardInfo],
                schema: LabelSchema, tensor: TensorSpec?, transform: JSONValue, sources: JSONValue) {
        shardFormat = format
        self.target = target
        self.fill = fill
        self.budgetBytes = budgetBytes
        self.shards = shards
        self.schema = schema
        self.tensor = tensor
        self.transform = transform
        self.sources = sources
        // Totals of claims (a crafted manifest's counts): saturating, never a trap.
        samples = shards.reduce(0) { let (v, o) = $0.addingReportingOverflow($1.samples); return o ? .max : v }
        bytes = shards.reduce(0) { let (v, o) = $0.addingReportingOverflow($1.bytes); return o ? .max : v }
    }

    /// The canonical JSON of a manifest: what `write` puts on disk.
    static func canonical(_ m: DatasetManifest) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try enc.encode(m)
    }

    /// The manifest with its `digest` computed.
    public func sealed() throws -> DatasetManifest {
        var m = self
        m.digest = nil
        m.digest = ContentDigest(scheme: .sha256, hex: ShardDigest.hex(SHA256.hash(data: try Self.canonical(m)))).description
        return m
    }

    /// Problems with a manifest file's own integrity: not in the canonical form `write` makes
    /// (any edited or damaged byte that still parses changes it), or a `digest` that does not
    /// match. Empty for a manifest exactly as written. Manifests without a digest (older
    /// versions) are only checked for canonical form.
    public static func integrityProblems(_ data: Data) -> [String] {
        guard let m = try? JSONDecoder().decode(DatasetManifest.self, from: data) else { return ["index.json is not a FleetPrep manifest"] }
        var problems: [String] = []
        if (try? canonical(m)) != data { problems.append("index.json is not byte for byte as written (edited or damaged)") }
        if let d = m.digest, (try? m.sealed().digest) != d { problems.append("index.json's digest does not match its contents") }
        return problems
    }

    /// The bytes `write` puts in the file: the canonical form, with its `digest`.
    public func encoded() throws -> Data { try Self.canonical(try sealed()) }

    /// Writes `directory/name` (with its `digest`) via a temporary file, fsync and rename.
    public func write(to directory: URL, name: String = "index.json") throws(ShardError) {
        let url = directory.appendingPathComponent(name)
        let data: Data
        do { data = try Self.canonical(try sealed()) } catch { throw ShardError(.io, file: url.path, "cannot encode: \(error)") }
        let tmp = directory.appendingPathComponent("." + name + ".tmp")
        let f = try RawFile(creating: tmp.path)
        try f.write([UInt8](data))
        try f.sync()
        f.close()
        guard rename(tmp.path, url.path) == 0 else {
            throw ShardError(.io, file: url.path, "rename failed: \(String(cString: strerror(errno)))")
        }
        syncDirectory(directory.path)
    }

    /// Reads `index.json` from a dataset directory (or a manifest file's path).
    public static func read(from url: URL) throws(ShardError) -> DatasetManifest {
        var isDir: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
            ? url.appendingPathComponent("index.json") : url
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ShardError(.io, file: file.path, "cannot read the manifest")
        }
        do { return try JSONDecoder().decode(DatasetManifest.self, from: data) } catch {
            throw ShardError(.notAShard, file: file.path, "not a FleetPrep manifest: \(error)")
        }
    }
}
