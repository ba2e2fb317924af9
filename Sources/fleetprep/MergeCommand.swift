import ArgumentParser
import FleetPrep
import Foundation

/// `fleetprep merge DIR...`: one index.json over the shards of `--worker I/N` runs.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the manifests of --worker I/N ingests into one index.json.",
        discussion: "Refuses missing workers, workers of different runs (another N, other options) and duplicate keys, naming what is wrong. The rules: docs/ingest.md, \"Merge rules\"."
    )

    @Argument(help: "Directories the workers wrote: the one shared --out, or one directory per worker.")
    var directories: [String]

    @Option(help: "Where index.json goes (default: the first directory).")
    var out: String?

    @Flag(help: "Merge even when some workers' manifests are missing (their clips are left out).")
    var allowPartial = false

    func run() throws {
        do {
            let r = try DatasetMerge.merge(directories.map { URL(fileURLWithPath: $0) }, into: out.map { URL(fileURLWithPath: $0) },
                                           allowPartial: allowPartial)
            if !r.missing.isEmpty {
                FileHandle.standardError.write(Data("fleetprep merge: warning: --allow-partial: workers \(r.missing.map { "\($0)/\(r.workerCount)" }.joined(separator: ", ")) missing; their clips are not in the dataset\n".utf8))
            }
            Out.line("merged \(r.workers) of \(r.workerCount) worker manifest(s): \(r.manifest.samples) samples in \(r.manifest.shards.count) shards\(r.errors > 0 ? ", \(r.errors) failed clip(s) in errors.jsonl" : "")")
        } catch let e as IngestError {
            Out.error("fleetprep merge: \(e)")
            throw ExitCode(2)
        }
    }
}
