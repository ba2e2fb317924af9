import ArgumentParser
import FleetPrep
import Foundation

/// `fleetprep merge DIR...`: one index.json over the shards of `--worker I/N` runs.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the manifests of --worker I/N ingests into one index.json."
    )

    @Argument(help: "Directories the workers wrote (usually the one shared --out).")
    var directories: [String]

    @Option(help: "Where index.json goes (default: the first directory).")
    var out: String?

    func run() throws {
        do {
            let r = try DatasetMerge.merge(directories.map { URL(fileURLWithPath: $0) }, into: out.map { URL(fileURLWithPath: $0) })
            print("merged \(r.workers) worker manifest(s): \(r.manifest.samples) samples in \(r.manifest.shards.count) shards\(r.errors > 0 ? ", \(r.errors) failed clip(s) in errors.jsonl" : "")")
        } catch let e as IngestError {
            FileHandle.standardError.write(Data("fleetprep merge: \(e)\n".utf8))
            throw ExitCode(2)
        }
    }
}
