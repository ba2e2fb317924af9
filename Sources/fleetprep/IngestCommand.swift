import ArgumentParser
import FleetLabels
import FleetPrep
import Foundation

/// `fleetprep ingest`: clip files and clip-group directories → sharded training data.
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Decode, transform, label and shard clips (default: the bundled SampleClips into ./shards).",
        discussion: """
        INPUT is a clip file, a clip-group directory (one video per camera plus signals.csv, \
        annotations.jsonl, clip.json), or a directory of them, searched recursively.

        Exit status: 0 every clip ingested; 1 the dataset was written but some clips failed \
        (see OUT/errors.jsonl); 2 nothing usable: bad options, unusable or locked output directory, no \
        clips, every clip failed, or the run itself failed (output not writable); 130 interrupted (run the same command again to resume).
        """
    )

    @Argument(help: IngestCommand.help("INPUT"))
    var inputs: [String] = []

    @Option(name: .long, help: IngestCommand.help("--out"))
    var out: String?

    @Option(help: IngestCommand.help("--config"))
    var config: String?
    @Option(help: IngestCommand.help("--manifest"))
    var manifest: String?
    @Option(parsing: .unconditional, help: IngestCommand.help("--assume-fps"))
    var assumeFps: Double?
    @Flag(help: IngestCommand.help("--dry-run"))
    var dryRun = false

    @Option(help: IngestCommand.help("--size"))
    var size: String?
    @Option(help: IngestCommand.help("--crop"))
    var crop: String?
    @Option(help: IngestCommand.help("--filter"))
    var filter: String?
    @Option(help: IngestCommand.help("--dtype"))
    var dtype: String?
    @Option(help: IngestCommand.help("--layout"))
    var layout: String?
    @Option(help: IngestCommand.help("--normalize"))
    var normalize: String?
    @Option(help: IngestCommand.help("--matrix"))
    var matrix: String?
    @Option(help: IngestCommand.help("--range"))
    var range: String?
    @Option(help: IngestCommand.help("--channels"))
    var channels: String?

    @Option(parsing: .unconditional, help: IngestCommand.help("--stride"))
    var stride: Int?
    @Option(parsing: .unconditional, help: IngestCommand.help("--fps"))
    var fps: Double?
    @Option(parsing: .unconditional, help: IngestCommand.help("--jobs"))
    var jobs: Int?
    @Option(parsing: .unconditional, help: IngestCommand.help("--decoder-threads"))
    var decoderThreads: Int?
    @Option(help: IngestCommand.help("--inflight"))
    var inflight: String?
    @Flag(help: IngestCommand.help("--lenient"))
    var lenient = false
    @Flag(help: IngestCommand.help("--mixed-shapes"))
    var mixedShapes = false

    @Option(help: IngestCommand.help("--cameras"))
    var cameras: String?
    @Option(help: IngestCommand.help("--master"))
    var master: String?
    @Option(parsing: .unconditional, help: IngestCommand.help("--sync-tolerance"))
    var syncTolerance: Double?
    @Option(help: IngestCommand.help("--missing-camera"))
    var missingCamera: String?
    @Option(parsing: .unconditional, help: IngestCommand.help("--max-gap"))
    var maxGap: Double?
    @Option(help: IngestCommand.help("--signals"))
    var signals: String?

    @Option(help: IngestCommand.help("--format"))
    var format: String?
    @Option(help: IngestCommand.help("--digest"))
    var digest: String?
    @Option(help: IngestCommand.help("--target"))
    var target: String?
    @Option(parsing: .unconditional, help: IngestCommand.help("--fill"))
    var fill: Double?
    @Option(parsing: .unconditional, help: IngestCommand.help("--alignment"))
    var alignment: Int?

    @Option(parsing: .unconditional, help: IngestCommand.help("--max-pixels"))
    var maxPixels: Int?
    @Option(parsing: .unconditional, help: IngestCommand.help("--max-frames"))
    var maxFrames: Int?
    @Option(parsing: .unconditional, help: IngestCommand.help("--max-sidecar-bytes"))
    var maxSidecarBytes: Int?
    @Option(parsing: .unconditional, help: IngestCommand.help("--max-signals"))
    var maxSignals: Int?
    @Flag(help: IngestCommand.help("--follow-symlinks"))
    var followSymlinks = false

    @Option(help: IngestCommand.help("--worker"))
    var worker: String?
    @Option(parsing: .unconditional, help: IngestCommand.help("--workers"))
    var workers: Int?

    @Flag(help: IngestCommand.help("--overwrite"))
    var overwrite = false
    @Flag(help: IngestCommand.help("--quiet"))
    var quiet = false
    @Flag(help: IngestCommand.help("--json"))
    var json = false

    /// A flag's help, default, range and value name, from `IngestOptionTable` (docs/ingest.md
    /// shows the same table).
    static func help(_ flag: String) -> ArgumentHelp {
        let o = IngestOptionTable[flag]
        return ArgumentHelp(o.helpLine, valueName: o.value.isEmpty || o.flag == "INPUT" ? nil : o.value)
    }

    /// `--cameras A,B,…` as camera names (spaces around each trimmed; `IngestConfiguration`
    /// checks the names).
    static func cameraList(_ flag: String) -> [CameraName] {
        flag.split(separator: ",").map { CameraName(String($0).trimmingCharacters(in: .whitespaces)) }
    }

    func options() throws -> IngestOptions {
        var o = IngestOptions()
        if let config { o = try IngestOptions.load(configFile: config) }
        var c = IngestOptions()
        c.inputs = inputs.isEmpty ? nil : inputs
        c.out = out
        c.manifest = manifest
        c.assumeFps = assumeFps
        c.size = size; c.crop = crop; c.filter = filter; c.dtype = dtype; c.layout = layout
        c.normalize = normalize; c.matrix = matrix; c.range = range; c.channels = channels
        c.stride = stride; c.fps = fps; c.jobs = jobs; c.decoderThreads = decoderThreads; c.inflight = inflight
        c.lenient = lenient ? true : nil
        c.mixedShapes = mixedShapes ? true : nil
        c.cameras = cameras.map(Self.cameraList)
        c.master = master.map { CameraName($0) }; c.syncTolerance = syncTolerance; c.missingCamera = missingCamera; c.maxGap = maxGap
        c.signals = signals.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        c.format = format; c.digest = digest; c.target = target; c.fill = fill; c.alignment = alignment
        c.maxPixels = maxPixels; c.maxFrames = maxFrames; c.maxSidecarBytes = maxSidecarBytes
        c.maxSignals = maxSignals
        c.followSymlinks = followSymlinks ? true : nil
        var merged = c.filled(from: o)
        if (merged.inputs == nil || merged.inputs!.isEmpty) && merged.manifest == nil {
            guard let samples = BundledSamples.directory() else {
                throw IngestError.badOption("INPUT", "no input given (only a fleetprep built in a FleetPrep checkout defaults to its SampleClips)")
            }
            FileHandle.standardError.write(Data("fleetprep ingest: no INPUT given: ingesting the demo clips of the checkout this binary was built in, \(samples)\n".utf8))
            merged.inputs = [samples]
        }
        return merged
    }

    func run() throws {
        let assignment: WorkerAssignment
        let config: IngestConfiguration
        do {
            if let worker { assignment = try WorkerAssignment(parsing: worker) }
            else { assignment = try WorkerAssignment.fromEnvironment(ProcessInfo.processInfo.environment, workerCount: workers) ?? .single }
            config = try IngestConfiguration(options: try options(), worker: assignment)
        } catch let e as IngestError {
            Out.error("fleetprep ingest: \(e)")
            throw ExitCode(IngestExitStatus.nothingUsable.rawValue)
        }

        if dryRun {
            try DiscoverCommand.report(options: config.effective, worker: assignment, json: json)
            return
        }
        let progress = ProgressReporter(style: .automatic(quiet: quiet || json))
        let run = IngestRun(configuration: config, progress: progress, overwrite: overwrite)
        let signals = SignalTrap { run.cancel() }
        defer { signals.release() }

        let summary: IngestSummary
        do {
            summary = try run.run()
        } catch let e as IngestError {
            progress.finish()
            Out.error("fleetprep ingest: \(e)")
            if case .interrupted = e { throw ExitCode(IngestExitStatus.interrupted.rawValue) }
            throw ExitCode(IngestExitStatus.nothingUsable.rawValue)
        } catch {
            // Any other failure of the run as a whole (the journal or a shard cannot be written)
            // is status 2, never 1 ("dataset written, some clips failed").
            progress.finish()
            Out.error("fleetprep ingest: \(error)")
            throw ExitCode(IngestExitStatus.nothingUsable.rawValue)
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try enc.encode(summary), as: UTF8.self))
            // The summary is the output a caller reads: one that did not reach stdout (a full disk,
            // /dev/full, a closed pipe) is a failure of the run, not a success.
            guard Out.flushed() else {
                Out.error("fleetprep ingest: cannot write the summary to stdout: \(String(cString: strerror(errno)))")
                throw ExitCode(IngestExitStatus.nothingUsable.rawValue)
            }
        } else {
            for f in summary.failures {
                Out.error("failed: \(f.description)")
            }
            if !quiet {
                Out.lines(Self.describe(summary).components(separatedBy: "\n"))
                guard Out.flushed() else { throw ExitCode(IngestExitStatus.nothingUsable.rawValue) }
            }
        }
        if summary.exitStatus != .ok { throw ExitCode(summary.exitStatus.rawValue) }
    }

    static func describe(_ s: IngestSummary) -> String {
        var lines: [String] = []
        // Inputs that were not clips at all (a missing path) failed before any clip was counted.
        let notFound = s.failures.count - s.clipsFailed
        if s.clipsTotal == 0 && notFound > 0 {
            lines.append("clips: none found (\(notFound) input(s) failed, listed above)")
        } else {
            lines.append(String(format: "clips: %d ok, %d failed of %d%@", s.clipsOK, s.clipsFailed, s.clipsTotal, s.resumed ? " (resumed)" : "")
                         + (notFound > 0 ? " (and \(notFound) unusable input(s), listed above)" : ""))
        }
        lines.append(String(format: "samples: %d in %d shard(s), %.1f MB", s.samples, s.shards, Double(s.bytes) / 1e6))
        lines.append(String(format: "frames decoded: %d in %.2f s (%.1f frames/s, %d work units)", s.framesDecoded, s.wallSeconds, s.framesPerSecond, s.workUnits))
        if let m = s.manifest { lines.append("manifest: \(Terminal.escape(m))") }
        if let e = s.errorsFile { lines.append("errors: \(Terminal.escape(e))") }
        return lines.joined(separator: "\n")
    }
}

/// The SampleClips folder of the checkout the executable was built in: the executable must lie in
/// a `.build*` folder (`.build/<triple>/<config>/fleetprep`) whose parent holds Package.swift and
/// SampleClips/make-clips.sh. An installed binary (anywhere else) gets nil: no demo default.
enum BundledSamples {
    static func directory() -> String? {
        let fm = FileManager.default
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<5 {
            if dir.lastPathComponent.hasPrefix(".build") {
                let root = dir.deletingLastPathComponent()
                let samples = root.appendingPathComponent("SampleClips")
                guard fm.fileExists(atPath: root.appendingPathComponent("Package.swift").path),
                      fm.fileExists(atPath: samples.appendingPathComponent("make-clips.sh").path) else { return nil }
                return samples.path
            }
            dir.deleteLastPathComponent()
        }
        return nil
    }
}

/// SIGINT/SIGTERM → a callback (once), instead of killing the process mid-shard.
///
/// `@unchecked Sendable` without a lock: `sources` is set in `init` and only read after (by
/// `release`), and dispatch sources may be cancelled from any thread.
final class SignalTrap: @unchecked Sendable {
    private let sources: [DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                FileHandle.standardError.write(Data("\nfleetprep: stopping after the current samples; run the same command again to resume\n".utf8))
                handler()
            }
            s.resume()
            sources.append(s)
        }
        self.sources = sources
    }

    func release() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
