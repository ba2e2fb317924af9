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
        struct Shard: Encodable { var file: String; var samples: Int; var bytes: Int64; var fill: Double? }
    }

    private func makeReport(url: URL, isDirectory: Bool) throws(ShardError) -> Report {
        if isDirectory {
            let ds = try ShardDataset(directory: url)
            let m = ds.manifest!
            return Report(path: path, format: m.shardFormat.rawValue, target: m.target.name, budgetBytes: m.budgetBytes,
                          samples: ds.count,
                          shards: m.shards.map { .init(file: $0.file, samples: $0.samples, bytes: $0.bytes, fill: Double($0.bytes) / Double(m.budgetBytes)) },
                          schema: m.schema, tensor: ds.count > 0 ? ds[0].tensor : nil)
        }
        let ds = try ShardDataset(shardFile: url)
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int64) ?? 0
        return Report(path: path, format: url.pathExtension == "tar" ? "wds" : "native", samples: ds.count,
                      shards: [.init(file: url.lastPathComponent, samples: ds.count, bytes: size, fill: nil)],
                      schema: ds.schema, tensor: ds.count > 0 ? ds[0].tensor : nil)
    }

    func run() throws {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            FileHandle.standardError.write(Data("fleetprep inspect: \(path): no such file or directory\n".utf8))
            throw ExitCode(2)
        }
        let report: Report
        do { report = try makeReport(url: url, isDirectory: isDir.boolValue) } catch {
            FileHandle.standardError.write(Data("fleetprep inspect: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
            return
        }
        print("\(report.path): \(report.format ?? "?") dataset, \(report.samples) samples in \(report.shards.count) shard(s)")
        if let t = report.target, let b = report.budgetBytes { print("memory target: \(t), shard budget \(b) bytes") }
        if let t = report.tensor { print("tensor: \(t.name) \(t.dtype.rawValue) \(t.shape) \(t.layout)") }
        if let s = report.schema { print("labels: " + zip(s.names, s.units).map { $0.1.isEmpty ? $0.0 : "\($0.0) [\($0.1)]" }.joined(separator: ", ")) }
        print("SHARD\tSAMPLES\tBYTES\tFILL")
        for s in report.shards {
            print("\(s.file)\t\(s.samples)\t\(s.bytes)\t\(s.fill.map { String(format: "%.1f%%", $0 * 100) } ?? "-")")
        }
    }
}

/// `fleetprep verify DIR`: every record checksum and every shard's SHA-256.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every record's CRC32C and every shard's SHA-256; exit 1 naming each bad shard and record."
    )

    @Argument(help: "A dataset directory (with index.json) or a shard file.")
    var path: String

    func run() throws {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            FileHandle.standardError.write(Data("fleetprep verify: \(path): no such file or directory\n".utf8))
            throw ExitCode(2)
        }
        var problems: [String] = []
        var count = 0
        if isDir.boolValue {
            // Open shards one by one so that one unreadable shard is named and the rest still checked.
            let manifest: DatasetManifest
            do { manifest = try DatasetManifest.read(from: url) } catch {
                FileHandle.standardError.write(Data("fleetprep verify: \(error)\n".utf8))
                throw ExitCode(2)
            }
            for s in manifest.shards {
                let file = url.appendingPathComponent(s.file)
                do {
                    let ds = try ShardDataset(shardFile: file)
                    count += ds.count
                    if ds.count != s.samples { problems.append("\(s.file): holds \(ds.count) samples; index.json says \(s.samples)") }
                    problems += ds.verify().map(\.description)
                    let (digest, size) = try ShardDigest.compute(like: s.digest, file: file)
                    if size != s.bytes { problems.append("\(s.file): size \(size) differs from index.json (\(s.bytes))") }
                    if digest != s.digest { problems.append("\(s.file): digest differs from index.json") }
                } catch {
                    problems.append("\(s.file): \(error.message)" + (error.record.map { " (record \($0))" } ?? ""))
                }
            }
        } else {
            do {
                let ds = try ShardDataset(shardFile: url)
                count = ds.count
                problems = ds.verify().map(\.description)
            } catch {
                problems.append("\(url.lastPathComponent): \(error.message)")
            }
        }
        if problems.isEmpty {
            print("ok: \(count) samples verified")
        } else {
            for p in problems { print("BAD \(p)") }
            throw ExitCode(1)
        }
    }
}
