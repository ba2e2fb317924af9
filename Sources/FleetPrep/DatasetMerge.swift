import FleetShards
import Foundation

/// Joins the manifests that `--worker I/N` runs wrote (`index-wIIIofNNN.json`, in one or more
/// directories) into one `index.json`, and their `errors-w*.jsonl` into `errors.jsonl`.
public enum DatasetMerge {
    /// What a merge wrote: the joined manifest, and how many workers and error lines it joined.
    public struct Result: Sendable {
        public var manifest: DatasetManifest
        public var workers: Int
        public var errors: Int
    }

    /// - Parameters:
    ///   - directories: where the workers wrote (usually one shared `--out`).
    ///   - output: where `index.json` goes (default: the first directory); shard paths in it are
    ///     relative to it.
    public static func merge(_ directories: [URL], into output: URL? = nil) throws -> Result {
        guard let first = directories.first else { throw IngestError.badOption("DIR", "give at least one directory") }
        let out = output ?? first
        let fm = FileManager.default
        var parts: [(URL, DatasetManifest)] = []
        var errorLines = Data()
        for dir in directories {
            guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else {
                throw IngestError.output(path: dir.path, message: "cannot read the directory")
            }
            for name in names.sorted() where name.hasPrefix("index-w") && name.hasSuffix(".json") {
                do { parts.append((dir, try DatasetManifest.read(from: dir.appendingPathComponent(name)))) } catch {
                    throw IngestError.output(path: dir.appendingPathComponent(name).path, message: "\(error)")
                }
            }
            for name in names.sorted() where name.hasPrefix("errors-w") && name.hasSuffix(".jsonl") {
                if let d = fm.contents(atPath: dir.appendingPathComponent(name).path) { errorLines.append(d) }
            }
        }
        guard let base = parts.first?.1 else {
            throw IngestError.nothingToIngest("no worker manifests (index-wIIIofNNN.json) in \(directories.map(\.path).joined(separator: ", "))")
        }
        var shards: [ShardInfo] = []
        for (dir, m) in parts {
            guard m.shardFormat == base.shardFormat, m.schema == base.schema, m.transform == base.transform,
                  m.budgetBytes == base.budgetBytes else {
                throw IngestError.output(path: dir.path, message: "worker manifests disagree on format, label schema, budget or transform options; they come from different ingests")
            }
            for var s in m.shards {
                s.file = relativePath(dir.appendingPathComponent(s.file), from: out)
                shards.append(s)
            }
        }
        var sources: [JSONValue] = []
        for (_, m) in parts { if case .array(let a) = m.sources { sources += a } }
        let merged = DatasetManifest(format: base.shardFormat, target: base.target, fill: base.fill, budgetBytes: base.budgetBytes,
                                     shards: shards, schema: base.schema, tensor: base.tensor, transform: base.transform,
                                     sources: .array(sources))
        try fm.createDirectory(at: out, withIntermediateDirectories: true)
        let errorsURL = out.appendingPathComponent("errors.jsonl")
        if errorLines.isEmpty { try? fm.removeItem(at: errorsURL) } else { try AtomicFile.write(errorLines, to: errorsURL) }
        do { try merged.write(to: out) } catch { throw IngestError.output(path: out.path, message: "\(error)") }
        return Result(manifest: merged, workers: parts.count, errors: errorLines.split(separator: UInt8(ascii: "\n")).count)
    }

    static func relativePath(_ file: URL, from dir: URL) -> String {
        let f = file.standardizedFileURL.pathComponents, d = dir.standardizedFileURL.pathComponents
        var i = 0
        while i < f.count - 1 && i < d.count && f[i] == d[i] { i += 1 }
        return (Array(repeating: "..", count: d.count - i) + f[i...]).joined(separator: "/")
    }
}
