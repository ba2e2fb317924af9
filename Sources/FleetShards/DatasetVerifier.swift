import Foundation

/// What `fleetprep verify` checks, for a dataset directory or a single shard.
///
/// - A dataset: index.json's own integrity (canonical bytes and digest), then for every shard it
///   lists: the file's size and digest, the shard's own index against index.json (sample count,
///   schema, first and last key), the layout (header, zero padding, nothing after the index) and
///   every record's CRC-32C; and the totals.
/// - A single shard (no index.json to compare with): the header, the layout and zero padding,
///   every record's CRC-32C and, in WebDataset shards, every .json member's CRC-32C.
public enum DatasetVerifier {
    public struct Report: Sendable {
        public var samples = 0
        public var problems: [String] = []
    }

    /// Checks a dataset directory through its index.json.
    public static func verify(directory url: URL) -> Report {
        var report = Report()
        let manifestURL = url.appendingPathComponent("index.json")
        guard let data = FileManager.default.contents(atPath: manifestURL.path) else {
            report.problems.append("index.json: cannot be read")
            return report
        }
        report.problems += DatasetManifest.integrityProblems(data)
        let manifest: DatasetManifest
        do { manifest = try JSONDecoder().decode(DatasetManifest.self, from: data) } catch {
            report.problems.append("index.json: not a FleetPrep manifest: \(error)")
            return report
        }
        if manifest.samples != manifest.shards.reduce(0, { let (v, o) = $0.addingReportingOverflow($1.samples); return o ? .max : v }) {
            report.problems.append("index.json: samples \(manifest.samples) is not the sum over its shards")
        }
        if manifest.bytes != manifest.shards.reduce(0, { let (v, o) = $0.addingReportingOverflow($1.bytes); return o ? .max : v }) {
            report.problems.append("index.json: bytes \(manifest.bytes) is not the sum over its shards")
        }
        var files = Set<String>()
        for s in manifest.shards {
            guard !s.file.contains("/"), !s.file.hasPrefix("."), files.insert(s.file).inserted else {
                report.problems.append("index.json: shard name \"\(s.file)\" is not a plain, unique file name")
                continue
            }
            let file = url.appendingPathComponent(s.file)
            var p: [String] = []
            do {
                let (digest, size) = try ShardDigest.compute(like: s.digest, file: file)
                if size != s.bytes { p.append("size \(size) differs from index.json (\(s.bytes))") }
                if digest != s.digest { p.append("digest differs from index.json") }
                let ds = try ShardDataset(shardFile: file)
                report.samples += ds.count
                if ds.count != s.samples { p.append("holds \(ds.count) samples; index.json says \(s.samples)") }
                if let schema = ds.schema, schema != manifest.schema { p.append("its label schema differs from index.json's") }
                if ds.count > 0 {
                    let first = try ds.record(at: 0).key, last = try ds.record(at: ds.count - 1).key
                    if first != s.firstKey || last != s.lastKey {
                        p.append("keys \(first)…\(last) differ from index.json (\(s.firstKey)…\(s.lastKey))")
                    }
                }
                p += ds.verify().map(\.description)
            } catch {
                p.append(error.message + (error.record.map { " (record \($0))" } ?? ""))
            }
            report.problems += p.map { $0.hasPrefix(s.file) ? $0 : "\(s.file): \($0)" }
        }
        return report
    }

    /// Checks one shard file on its own.
    public static func verify(shard url: URL) -> Report {
        var report = Report()
        let name = url.lastPathComponent
        do {
            // The layout: header fields, segments in order, zero padding, nothing after the index.
            _ = try ShardDigest.compute(like: ContentDigest(scheme: SegmentDigestKind.crc32c.scheme, hex: ""), file: url)
            let ds = try ShardDataset(shardFile: url)
            report.samples = ds.count
            report.problems += ds.verify().map(\.description)
        } catch {
            report.problems.append("\(name): \(error.message)" + (error.record.map { " (record \($0))" } ?? ""))
        }
        return report
    }
}
