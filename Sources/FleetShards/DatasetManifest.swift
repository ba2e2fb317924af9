import Foundation

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
    /// The effective transform/ingest configuration (as the caller gives it).
    public var transform: JSONValue
    /// The source clips.
    public var sources: JSONValue
    public var samples: Int
    public var bytes: Int64

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
        samples = shards.reduce(0) { $0 + $1.samples }
        bytes = shards.reduce(0) { $0 + $1.bytes }
    }

    /// Writes `directory/name` via a temporary file, fsync and rename.
    public func write(to directory: URL, name: String = "index.json") throws(ShardError) {
        let url = directory.appendingPathComponent(name)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data: Data
        do { data = try enc.encode(self) } catch { throw ShardError(.io, file: url.path, "cannot encode: \(error)") }
        let tmp = directory.appendingPathComponent("." + name + ".tmp")
        let f = try RawFile(creating: tmp.path)
        try f.write([UInt8](data))
        try f.sync()
        f.close()
        guard rename(tmp.path, url.path) == 0 else {
            throw ShardError(.io, file: url.path, "rename failed: \(String(cString: strerror(errno)))")
        }
        DatasetWriter.syncDirectory(directory.path)
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
