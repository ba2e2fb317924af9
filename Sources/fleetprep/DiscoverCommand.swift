import ArgumentParser
import FleetLabels
import FleetPrep
import Foundation

/// `fleetprep discover`: the clip groups ingest would take, without decoding anything.
struct DiscoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "List the clip groups ingest would take from INPUT (and --manifest): layout, cameras, files, codec, size, frames, time span, signals, skew and gaps.",
        discussion: """
        Reads container headers and packets only; nothing is decoded. Same inputs and options as \
        ingest (also `ingest --dry-run`). Exit status as ingest's: 0 every group usable, 1 some \
        would fail, 2 none would ingest.
        """
    )

    @Argument(help: "Clip files or directories.")
    var inputs: [String] = []
    @Option(help: "Clip manifest (JSON Lines).")
    var manifest: String?
    @Option(parsing: .unconditional, help: "Frame rate of raw .h264/.hevc streams that have no frame-times log.")
    var assumeFps: Double?
    @Option(help: "Cameras to use, comma-separated.")
    var cameras: String?
    @Option(help: "Master camera (default main).")
    var master: String?
    @Option(parsing: .unconditional, help: "Camera sync tolerance in seconds.")
    var syncTolerance: Double?
    @Flag(help: "As ingest's --mixed-shapes: groups with other camera counts are not reported as failing.")
    var mixedShapes = false
    @Option(help: "JSON config file, as for ingest.")
    var config: String?
    @Flag(help: "One JSON object per group per line on stdout.")
    var json = false

    func run() throws {
        var o = IngestOptions()
        if let config { o = try IngestOptions.load(configFile: config) }
        if !inputs.isEmpty { o.inputs = inputs }
        o.manifest = manifest ?? o.manifest
        o.assumeFps = assumeFps ?? o.assumeFps
        o.cameras = cameras.map(IngestCommand.cameraList) ?? o.cameras
        o.master = master.map { CameraName($0) } ?? o.master
        o.syncTolerance = syncTolerance ?? o.syncTolerance
        if mixedShapes { o.mixedShapes = true }
        guard !(o.inputs ?? []).isEmpty || o.manifest != nil else {
            FileHandle.standardError.write(Data("fleetprep discover: give INPUT paths or --manifest\n".utf8))
            throw ExitCode(IngestExitStatus.nothingUsable.rawValue)
        }
        try Self.report(options: o, worker: .single, json: json)
    }

    /// Prints the report of what ingest would do with `options`; throws ingest's exit status.
    static func report(options o: IngestOptions, worker: WorkerAssignment, json: Bool) throws {
        let config: IngestConfiguration
        do { config = try IngestConfiguration(options: o, worker: worker) } catch let e as IngestError {
            FileHandle.standardError.write(Data("fleetprep discover: \(e)\n".utf8))
            throw ExitCode(IngestExitStatus.nothingUsable.rawValue)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let result = try GroupDiscoveryReport.run(config) { g in
            if json {
                // Names whose bytes are not UTF-8 written \xNN, as in errors.jsonl and index.json.
                var g = g
                g.path = FilePathBytes.display(g.path)
                for i in g.cameras.indices {
                    g.cameras[i].files = g.cameras[i].files.map(FilePathBytes.display)
                    g.cameras[i].frameTimesLog = g.cameras[i].frameTimesLog.map(FilePathBytes.display)
                }
                if let data = try? enc.encode(g) { print(String(decoding: data, as: UTF8.self)) }
            } else {
                Out.lines(GroupDiscoveryReport.describe(g).components(separatedBy: "\n"))
            }
        }
        for f in result.failures {
            Out.error("unusable: \(f.description)")
        }
        if !json {
            let bad = result.groups.filter { $0.error != nil }.count
            print("groups: \(result.groups.count - bad) would ingest, \(bad) would fail; \(result.failures.count) unusable input(s); samples: \(result.groups.compactMap(\.samples).reduce(0, +)) before --stride/--fps")
        }
        if result.exitStatus != .ok { throw ExitCode(result.exitStatus.rawValue) }
    }
}
