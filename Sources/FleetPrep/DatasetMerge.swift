import FleetShards
import Foundation

/// Joins the manifests that `--worker I/N` runs wrote (`index-wIIIofNNN.json`, in one shared
/// directory or one directory per worker) into one `index.json`, and their `errors-w*.jsonl`
/// into `errors.jsonl`.
///
/// Merge rules (docs/ingest.md, "Merge rules"): every worker 0..<N of one N is there exactly
/// once (missing workers only with `allowPartial`); no two workers of different N; every
/// manifest comes from the same ingest (format, budget, label schema and transform options, not
/// counting the output path, `--jobs`, `--decoder-threads` and `--inflight`, which do not change
/// the samples); no sample key appears twice. Anything else is refused, naming what is wrong.
public enum DatasetMerge {
    /// What a merge wrote: the joined manifest, and how many workers and error lines it joined.
    public struct Result: Sendable {
        public var manifest: DatasetManifest
        /// Worker manifests merged.
        public var workers: Int
        /// The worker count N of the run.
        public var workerCount: Int
        /// Worker indices absent (only with `allowPartial`).
        public var missing: [Int]
        public var errors: Int
    }

    /// One worker's manifest, found in `directory`.
    struct Part {
        var directory: URL
        var name: String
        var worker: WorkerAssignment
        var manifest: DatasetManifest
        var path: String { directory.appendingPathComponent(name).path }
    }

    /// Transform keys that do not change the samples: they may differ between workers
    /// (`IngestOptionTable`'s run-only options).
    static let notIdentity: Set<String> = IngestOptionTable.mayDifferBetweenWorkers

    /// - Parameters:
    ///   - directories: where the workers wrote (one shared `--out`, or one directory per worker).
    ///   - output: where `index.json` goes (default: the first directory); shards in other
    ///     directories are hard-linked (else copied) into it, so that it is a whole dataset.
    ///   - allowPartial: merge even when workers are missing (their clips are not in the result).
    public static func merge(_ directories: [URL], into output: URL? = nil, allowPartial: Bool = false) throws -> Result {
        guard let first = directories.first else { throw IngestError.badOption("DIR", "give at least one directory") }
        let out = output ?? first
        // Manifests are read and the output written through Foundation, whose paths are UTF-8 (as
        // for ingest's --out): a directory whose path is not would be read or made under other bytes.
        for (option, dir) in [("--out", out)] + directories.map({ ("DIR", $0) }) where FilePathBytes.hasEscapes(dir.path) {
            throw IngestError.badOption(option, "\(Terminal.escape(dir.path)) is not valid UTF-8; give the directory a UTF-8 path")
        }
        // The same directory named twice (or through a symlink) counts once.
        var dirs: [URL] = []
        var seen = Set<String>()
        for d in directories where seen.insert(d.resolvingSymlinksInPath().standardizedFileURL.path).inserted { dirs.append(d) }
        let where_ = dirs.map(\.path).joined(separator: ", ")

        var (parts, errorLines) = try readParts(dirs)
        guard !parts.isEmpty else {
            throw IngestError.nothingToIngest("no worker manifests (index-wIIIofNNN.json) in \(where_)")
        }
        let (count, missing) = try checkWorkers(parts, where_: where_, allowPartial: allowPartial)
        parts.sort { $0.worker.index < $1.worker.index }
        try checkOneIngest(parts)
        try checkGroupKeys(parts)
        let (shards, placements) = try checkShards(parts)
        let merged = mergedManifest(parts, shards: shards, out: out)
        // Everything is staged, then renamed into place; a refusal or a failure leaves `out` as it
        // was (`MergeOutput`). A dataset directory holds its shards under plain names (verify and
        // the readers insist): shards of other directories are hard-linked into `out` (copied
        // across file systems).
        var items = placements.map { MergeOutput.Item(name: $0.1, content: .link($0.0)) }
        var remove: [String] = []
        if errorLines.isEmpty { remove.append("errors.jsonl") } else { items.append(.init(name: "errors.jsonl", content: .bytes(errorLines))) }
        items.append(.init(name: "index.json", content: .bytes(try merged.encoded())))
        try MergeOutput(url: out).write(items, remove: remove)
        return Result(manifest: merged, workers: parts.count, workerCount: count, missing: missing,
                      errors: errorLines.split(separator: UInt8(ascii: "\n")).count)
    }

    /// Every worker manifest in `dirs` (by name order) and their error lines, concatenated.
    private static func readParts(_ dirs: [URL]) throws -> ([Part], Data) {
        let fm = FileManager.default
        var parts: [Part] = []
        var errorLines = Data()
        for dir in dirs {
            guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else {
                throw IngestError.output(path: dir.path, message: "cannot read the directory")
            }
            for name in names.sorted() where name.hasPrefix("index-w") && name.hasSuffix(".json") {
                guard let worker = workerOf(manifestName: name) else {
                    throw IngestError.output(path: dir.appendingPathComponent(name).path,
                                             message: "not a worker manifest name (expected index-wIIIofNNN.json)")
                }
                let url = dir.appendingPathComponent(name)
                do { parts.append(Part(directory: dir, name: name, worker: worker, manifest: try DatasetManifest.read(from: url))) } catch {
                    throw IngestError.output(path: url.path, message: "\(error)")
                }
            }
            for name in names.sorted() where name.hasPrefix("errors-w") && name.hasSuffix(".jsonl") {
                if let d = fm.contents(atPath: dir.appendingPathComponent(name).path) { errorLines.append(d) }
            }
        }
        return (parts, errorLines)
    }

    /// One worker count N, each worker once, none missing (unless `allowPartial`). Returns N and
    /// the missing workers.
    private static func checkWorkers(_ parts: [Part], where_: String, allowPartial: Bool) throws -> (count: Int, missing: [Int]) {
        let byCount = Dictionary(grouping: parts, by: \.worker.count)
        if byCount.count > 1 {
            let sets = byCount.keys.sorted().map { n in
                "N=\(n): " + byCount[n]!.sorted { $0.worker.index < $1.worker.index }.map(\.path).joined(separator: ", ")
            }
            throw IngestError.output(path: where_, message: "worker manifests of different worker counts (\(sets.joined(separator: "; "))); they come from different runs: remove the stale run's files (its index-w*, errors-w*, shard-w* and .fleetprep/journal-w* files)")
        }
        let count = parts[0].worker.count
        let byIndex = Dictionary(grouping: parts, by: \.worker.index)
        for (i, ps) in byIndex.sorted(by: { $0.key < $1.key }) where ps.count > 1 {
            throw IngestError.output(path: where_, message: "worker \(i)/\(count) appears \(ps.count) times: \(ps.map(\.path).joined(separator: ", ")); keep one")
        }
        let missing = (0..<count).filter { byIndex[$0] == nil }
        if !missing.isEmpty && !allowPartial {
            let names = missing.map { "\($0)/\(count) (index\(WorkerAssignment.suffix(index: $0, count: count)).json)" }
            throw IngestError.output(path: where_, message: "missing \(missing.count) of \(count) workers: \(names.joined(separator: ", ")); a worker that failed, is still running or wrote elsewhere. Rerun it (same command, same --out), name its directory too, or pass --allow-partial to merge without its clips")
        }
        return (count, missing)
    }

    /// One ingest: the same format, budget, schema and sample-changing options as the first part.
    private static func checkOneIngest(_ parts: [Part]) throws {
        let base = parts[0]
        for p in parts.dropFirst() {
            var diffs: [String] = []
            if p.manifest.shardFormat != base.manifest.shardFormat { diffs.append("format") }
            if p.manifest.budgetBytes != base.manifest.budgetBytes { diffs.append("shard budget") }
            if p.manifest.schema != base.manifest.schema { diffs.append("label schema") }
            diffs += transformDifferences(base.manifest.transform, p.manifest.transform)
            if !diffs.isEmpty {
                throw IngestError.output(path: p.path, message: "worker \(p.worker) differs from worker \(base.worker) (\(base.path)) in \(diffs.joined(separator: "; ")); they come from different ingests")
            }
        }
    }

    /// No clip group (by the manifests' sources) in two workers.
    private static func checkGroupKeys(_ parts: [Part]) throws {
        var groupOwner: [String: Part] = [:]
        for p in parts {
            guard case .array(let srcs) = p.manifest.sources else { continue }
            for case .object(let o) in srcs {
                guard case .string(let key)? = o["key"] else { continue }
                if let other = groupOwner[key] {
                    throw IngestError.output(path: p.path, message: "clip group \"\(key)\" is in worker \(other.worker) (\(other.path)) and worker \(p.worker); the two workers overlap")
                }
                groupOwner[key] = p
            }
        }
    }

    /// Every part's shards, checked (a plain name, readable, the listed count, size and first and
    /// last keys; no sample key and no shard named twice). Returns them with their files.
    private static func checkShards(_ parts: [Part]) throws -> ([ShardInfo], [(URL, String)]) {
        var sampleOwner: [String: String] = [:]
        var placements: [(URL, String)] = []
        var shards: [ShardInfo] = []
        var shardOwner: [String: String] = [:]
        for p in parts {
            for s in p.manifest.shards {
                let (file, ds) = try checkShard(s, of: p)
                try checkKeys(of: ds, at: file, listed: s, by: p, owners: &sampleOwner)
                // Two manifests naming one shard file overlap (their keys were compared first, so
                // that a copied shard is reported by its samples).
                if let other = shardOwner[s.file] {
                    throw IngestError.output(path: p.path, message: "names shard \(s.file), which \(other) names too; the workers overlap")
                }
                shardOwner[s.file] = p.path
                shards.append(s)
                placements.append((file, s.file))
            }
        }
        return (shards, placements)
    }

    /// The file of shard `s` of part `p`, checked: a plain name that is not merge's own output,
    /// a readable shard with the listed sample count and size.
    private static func checkShard(_ s: ShardInfo, of p: Part) throws -> (URL, ShardDataset) {
        // A manifest names its shards by plain file names in its own directory: a name
        // with a "/" or "..", or a hidden one, could lead merge anywhere.
        guard isPlainName(s.file) else {
            throw IngestError.output(path: p.path, message: "names a shard \"\(Terminal.escape(s.file))\", which is not a plain file name (no \"/\", no \"..\", no leading \".\"); a worker manifest names the shards beside it")
        }
        guard s.file != "index.json", s.file != "errors.jsonl" else {
            throw IngestError.output(path: p.path, message: "names a shard \(s.file), the name of merge's own output")
        }
        let file = p.directory.appendingPathComponent(s.file)
        let ds: ShardDataset
        do { ds = try ShardDataset(shardFile: file) } catch {
            throw IngestError.output(path: file.path, message: "shard listed by \(p.path) cannot be read: \(error)")
        }
        guard ds.count == s.samples else {
            throw IngestError.output(path: file.path, message: "holds \(ds.count) samples; \(p.path) says \(s.samples)")
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber)?.int64Value
        guard size == s.bytes else {
            throw IngestError.output(path: file.path, message: "is \(size.map(String.init) ?? "?") bytes; \(p.path) says \(s.bytes)")
        }
        return (file, ds)
    }

    /// Reads every sample key of shard `ds` (at `file`): none seen before (`owners`), the first
    /// and last the ones `listed` names.
    private static func checkKeys(of ds: ShardDataset, at file: URL, listed s: ShardInfo, by p: Part,
                                  owners: inout [String: String]) throws {
        for i in 0..<ds.count {
            let key: String
            do { key = try ds.record(at: i).key } catch {
                throw IngestError.output(path: file.path, message: "sample \(i) cannot be read: \(error)")
            }
            if let other = owners[key] {
                throw IngestError.output(path: file.path, message: "duplicate sample key \"\(key)\" (also in \(other)); the workers overlap")
            }
            owners[key] = file.path
            if (i == 0 && key != s.firstKey) || (i == ds.count - 1 && key != s.lastKey) {
                throw IngestError.output(path: file.path, message: "sample \(i) is \"\(Terminal.excerpt(key, limit: 80))\"; \(p.path) lists the shard's keys as \"\(Terminal.excerpt(s.firstKey, limit: 80))\"…\"\(Terminal.excerpt(s.lastKey, limit: 80))\"")
            }
        }
    }

    /// The joined manifest: the first part's settings, every part's shards and sources, the
    /// tensor shapes' counts summed over the workers, and `out` as the output directory.
    private static func mergedManifest(_ parts: [Part], shards: [ShardInfo], out: URL) -> DatasetManifest {
        var sources: [JSONValue] = []
        for p in parts { if case .array(let a) = p.manifest.sources { sources += a } }
        let m = parts[0].manifest
        var transform = m.transform
        if case .object(var o) = transform { o["out"] = .string(out.path); transform = .object(o) }
        var merged = DatasetManifest(format: m.shardFormat, target: m.target, fill: m.fill, budgetBytes: m.budgetBytes,
                                     shards: shards, schema: m.schema, tensor: parts.lazy.compactMap(\.manifest.tensor).first,
                                     transform: transform, sources: .array(sources))
        if parts.contains(where: { $0.manifest.shapes != nil }) {
            var counts: [[Int]: Int] = [:]
            var order: [[Int]] = []
            for p in parts {
                for c in p.manifest.shapes ?? [] {
                    if counts[c.shape] == nil { order.append(c.shape) }
                    counts[c.shape, default: 0] += c.samples
                }
            }
            merged.shapes = order.map { ShapeCount(shape: $0, samples: counts[$0]!) }
        }
        return merged
    }

    /// A plain file name: not empty, no "/", no NUL, not hidden (so neither "." nor ".."), at most
    /// 255 bytes.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255 && !name.hasPrefix(".") && !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(0)
    }

    /// "index-w002of008.json" → 2/8; nil for any other name.
    static func workerOf(manifestName name: String) -> WorkerAssignment? {
        guard name.hasPrefix("index-w"), name.hasSuffix(".json") else { return nil }
        let core = name.dropFirst("index-w".count).dropLast(".json".count)
        let parts = core.components(separatedBy: "of")
        guard parts.count == 2, parts.allSatisfy({ $0.count >= 3 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let i = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        return try? WorkerAssignment(index: i, count: n)
    }

    /// The transform options (keys of the recorded configuration) in which `b` differs from `a`,
    /// as "name: A vs B", leaving out those that do not change the samples.
    static func transformDifferences(_ a: JSONValue, _ b: JSONValue) -> [String] {
        guard case .object(let x) = a, case .object(let y) = b else { return a == b ? [] : ["transform options"] }
        return Set(x.keys).union(y.keys).subtracting(notIdentity).sorted().compactMap { k in
            x[k] == y[k] ? nil : "\(k): \(show(x[k])) vs \(show(y[k]))"
        }
    }

    private static func show(_ v: JSONValue?) -> String {
        guard let v else { return "absent" }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}
