import ArgumentParser
import FleetShards
import Foundation

/// `fleetprep inspect SHARD_OR_DIR`: what a dataset or shard holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a dataset's (or one shard's) shards, samples, schema, sizes and budget fill."
    )

    @Argument(help: "A dataset directory (with index.json) or a shard file.")
    var path: String

    @Flag(help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        var path: String
        var format: String?
        var target: String?
        var budgetBytes: Int64?
        var samples: Int
        var shards: [Shard]
        var schema: LabelSchema?
        var tensor: TensorSpec?
        /// Every distinct tensor (dtype, shape, layout) with its sample count, most frequent first.
        var shapes: [ShapeCount]
        struct Shard: Encodable { var file: String; var samples: Int; var bytes: Int64; var fill: Double? }
        struct ShapeCount: Encodable { var dtype: String; var shape: [Int]; var layout: String; var count: Int }
    }

    /// Every tensor shape in the dataset with its count (reads each record's index entry only).
    static func shapes(_ ds: ShardDataset) -> [Report.ShapeCount] {
        var counts: [String: Report.ShapeCount] = [:]
        var order: [String] = []
        for i in 0..<ds.count {
            guard let t = try? ds.record(at: i).tensor else { continue }
            let k = "\(t.dtype.rawValue) \(t.shape) \(t.layoutName)"
            if counts[k] == nil { order.append(k); counts[k] = .init(dtype: t.dtype.rawValue, shape: t.shape, layout: t.layoutName, count: 0) }
            counts[k]!.count += 1
        }
        return order.map { counts[$0]! }.sorted { $0.count > $1.count }
    }

    private func makeReport(url: URL, isDirectory: Bool) throws(ShardError) -> Report {
        if isDirectory {
            let ds = try ShardDataset(directory: url)
            let m = ds.manifest!
            return Report(path: path, format: m.shardFormat.rawValue, target: m.target.name, budgetBytes: m.budgetBytes,
                          samples: ds.count,
                          shards: m.shards.map { .init(file: $0.file, samples: $0.samples, bytes: $0.bytes, fill: Double($0.bytes) / Double(m.budgetBytes)) },
                          schema: m.schema, tensor: ds.count > 0 ? try ds.record(at: 0).tensor : nil, shapes: Self.shapes(ds))
        }
        let ds = try ShardDataset(shardFile: url)
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int64) ?? 0
        return Report(path: path, format: url.pathExtension == "tar" ? "wds" : "native", samples: ds.count,
                      shards: [.init(file: url.lastPathComponent, samples: ds.count, bytes: size, fill: nil)],
                      schema: ds.schema, tensor: ds.count > 0 ? try ds.record(at: 0).tensor : nil, shapes: Self.shapes(ds))
    }

    func run() throws {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            Out.error("fleetprep inspect: \(path): no such file or directory")
            throw ExitCode(2)
        }
        let report: Report
        do { report = try makeReport(url: url, isDirectory: isDir.boolValue) } catch {
            Out.error("fleetprep inspect: \(error)")
            throw ExitCode(2)
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
            return
        }
        Out.line("\(report.path): \(report.format ?? "?") dataset, \(report.samples) samples in \(report.shards.count) shard(s)")
        if let t = report.target, let b = report.budgetBytes { Out.line("memory target: \(t), shard budget \(b) bytes") }
        if let t = report.tensor, report.shapes.count <= 1 { Out.line("tensor: \(t.name) \(t.dtype.rawValue) \(t.shape) \(t.layoutName)") }
        if report.shapes.count > 1 {
            Out.line("tensor shapes (\(report.shapes.count); batches cannot stack across them):")
            for s in report.shapes { Out.line("  \(s.dtype) \(s.shape) \(s.layout): \(s.count) samples") }
        }
        if let s = report.schema { Out.line("labels: " + zip(s.names, s.units).map { $0.1.isEmpty ? $0.0 : "\($0.0) [\($0.1)]" }.joined(separator: ", ")) }
        print("SHARD\tSAMPLES\tBYTES\tFILL")
        for s in report.shards {
            Out.line("\(s.file)\t\(s.samples)\t\(s.bytes)\t\(s.fill.map { String(format: "%.1f%%", $0 * 100) } ?? "-")")
        }
    }
}

/// `fleetprep verify DIR|SHARD`: `DatasetVerifier`'s checks, one line per problem.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check index.json, every shard's digest, layout and index, and every record's CRC-32C; exit 1 naming each problem.",
        discussion: "A dataset directory is checked against its index.json (whose own digest and form are checked too); a single shard file is checked on its own: header, zero padding, record and .json CRCs."
    )

    @Argument(help: "A dataset directory (with index.json) or a shard file.")
    var path: String

    func run() throws {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            Out.error("fleetprep verify: \(path): no such file or directory")
            throw ExitCode(2)
        }
        let report = isDir.boolValue ? DatasetVerifier.verify(directory: url) : DatasetVerifier.verify(shard: url)
        let (problems, count) = (report.problems, report.samples)
        if problems.isEmpty {
            print("ok: \(count) samples verified")
        } else {
            for p in problems { Out.line("BAD \(p)") }
            throw ExitCode(1)
        }
    }
}

/// `fleetprep dump SHARD_OR_DIR`: every sample as one JSON line, as the Swift reader sees it (the
/// oracle the Python package's tests compare against).
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print every sample (key, tensor spec and CRC-32C, labels, mask, annotations, metadata) as JSON lines."
    )

    @Argument(help: "A dataset directory (with index.json) or a shard file.")
    var path: String

    @Flag(help: "Also print every tensor's bytes as hex (large).")
    var hex = false

    struct Line: Encodable {
        var index: Int
        var key: String
        var tensor: TensorSpec
        var tensorCRC32C: UInt32
        var tensorHex: String?
        var labels: [Float]
        var mask: [UInt8]
        var annotations: JSONValue
        var metadata: JSONValue
    }

    func run() throws {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            Out.error("fleetprep dump: \(path): no such file or directory")
            throw ExitCode(2)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            let ds = isDir.boolValue ? try ShardDataset(directory: url) : try ShardDataset(shardFile: url)
            for i in 0..<ds.count {
                let r = try ds.record(at: i)
                let (crc, hexText) = r.withTensorBytes { bytes in
                    (CRC32C.checksum(bytes), hex ? bytes.map { String(format: "%02x", $0) }.joined() : nil)
                }
                let line = Line(index: i, key: r.key, tensor: r.tensor, tensorCRC32C: crc, tensorHex: hexText,
                                labels: r.labels, mask: r.mask, annotations: r.annotations?.value ?? .null,
                                metadata: r.metadata)
                print(String(decoding: try enc.encode(line), as: UTF8.self))
            }
        } catch let error as ShardError {
            Out.error("fleetprep dump: \(error)")
            throw ExitCode(2)
        }
    }
}
