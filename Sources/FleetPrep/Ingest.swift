import FleetKernels
import FleetLabels
import FleetShards
import Foundation
import Synchronization

/// Exit statuses of `fleetprep ingest` (also `IngestSummary.exitStatus`).
public enum IngestExitStatus: Int32, Sendable, Codable {
    /// Every clip was ingested.
    case ok = 0
    /// The dataset was written, but some clips failed (listed in errors.jsonl).
    case someFailed = 1
    /// Nothing usable: bad options, an unusable output directory, no clips, or every clip failed.
    case nothingUsable = 2
    /// Interrupted (Ctrl-C / SIGTERM); the same command resumes.
    case interrupted = 130
}

/// What an ingest run did.
public struct IngestSummary: Sendable, Codable {
    public var outputDirectory: String
    public var worker: String
    public var clipsTotal = 0
    public var clipsOK = 0
    public var clipsFailed = 0
    public var samples = 0
    public var shards = 0
    public var bytes: Int64 = 0
    public var framesDecoded = 0
    /// Work units this run decoded (clips, or pieces of long clips split at key frames).
    public var workUnits = 0
    public var wallSeconds = 0.0
    public var framesPerSecond = 0.0
    /// True when this run continued an interrupted one.
    public var resumed = false
    /// The manifest written (`index.json`, or the worker's `index-wIIIofNNN.json`).
    public var manifest: String?
    public var errorsFile: String?
    public var failures: [ClipFailure] = []
    public var exitStatus: IngestExitStatus = .ok
    /// Peak resident memory of this process, bytes (Linux VmHWM).
    public var peakResidentBytes: Int?
}

/// The batch ingest pipeline: clip groups → scan → layout plan → work units (decode, transform,
/// labels) → records written in place → shards completed, journaled and renamed.
///
/// Work runs on `jobs` threads with no ordered consumer (`IngestEngine`): every record's shard
/// and offset are fixed by the layout plan before decoding, so workers write in any order and the
/// dataset is the same whatever `jobs` is. Long clips and camera groups are split into units at
/// key frames. Sample buffers in flight are bounded by `--inflight`.
public final class IngestRun: Sendable {
    public let configuration: IngestConfiguration
    private let progress: ProgressReporter
    private let overwrite: Bool
    /// The running engine (once there is one) and whether `cancel()` was called.
    private let control = Mutex<(engine: IngestEngine?, cancelled: Bool)>((nil, false))

    public init(configuration: IngestConfiguration, progress: ProgressReporter = ProgressReporter(style: .quiet),
                overwrite: Bool = false) {
        self.configuration = configuration
        self.progress = progress
        self.overwrite = overwrite
    }

    /// Stops the run at the next sample; `run()` then throws `IngestError.interrupted`. What was
    /// in complete shards stays; the same configuration resumes from there.
    public func cancel() {
        let e = control.withLock { c in c.cancelled = true; return c.engine }
        // Reaches discovery, header and sidecar parsing, and label alignment as well.
        configuration.labelOptions.cancellation.cancel()
        e?.cancel()
    }

    private var interruptedBeforeWork: IngestError {
        IngestError.interrupted(resumeHint: "complete shards are kept. Run the same command again to resume.")
    }

    /// File names of this worker's outputs.
    private var suffix: String { configuration.worker.suffix }
    var manifestName: String { "index\(suffix).json" }
    var errorsName: String { "errors\(suffix).jsonl" }

    /// Runs the ingest (or resumes it). Throws `IngestError` for problems with the run as a
    /// whole; per-clip problems are in the summary and errors.jsonl.
    ///
    /// Three steps: open the output directory and its journal (`openOutput`: what an earlier run
    /// left), run the engine over the clip groups, then write errors, manifest and the journal's
    /// end mark (`writeResults`).
    public func run() throws -> IngestSummary {
        let cfg = configuration
        let start = DispatchTime.now().uptimeNanoseconds
        let inputs = try IngestInputs(config: cfg)
        let items = cfg.worker.share(of: inputs.items)
        guard !inputs.items.isEmpty || !inputs.failures.isEmpty else {
            throw IngestError.nothingToIngest("no clips found in \(cfg.inputs.joined(separator: ", "))")
        }
        let output: OpenOutput
        switch try openOutput(items: items, schema: inputs.schema) {
        case .complete(let point):
            return try completedSummary(point: point, items: items, discoveryFailures: inputs.failures, start: start)
        case .open(let o):
            output = o
        }
        defer { output.journal.close(); output.lock.release() }
        let sink = try makeSink(output, schema: inputs.schema)
        if cfg.labelOptions.cancellation.isCancelled { throw interruptedBeforeWork }
        let plan = IngestPlan(config: cfg, inputs: inputs, items: items)
        let engine = try runEngine(plan, sink: sink, output: output)

        var summary = IngestSummary(outputDirectory: cfg.outputDirectory.path, worker: cfg.worker.description)
        summary.resumed = output.resumed
        summary.workUnits = engine.unitCount
        summary.framesDecoded = progress.snapshot.framesDecoded
        summary.clipsTotal = items.count
        var failures = inputs.failures
        for g in items.indices {
            switch engine.outcomes[g] {
            case .ok?, .skipped?: summary.clipsOK += 1
            case .failed(let f)?: failures.append(f); summary.clipsFailed += 1
            case nil: summary.clipsFailed += 1
            }
        }
        try writeResults(into: &summary, items: items, failures: failures, shards: sink.completed, schema: inputs.schema,
                         tensor: plan.tensor, shapes: sink.shapes, journal: output.journal)
        summary.wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        summary.framesPerSecond = summary.wallSeconds > 0 ? Double(summary.framesDecoded) / summary.wallSeconds : 0
        summary.peakResidentBytes = FleetPrep.peakResidentBytes()
        return summary
    }

    /// The shards' writer, resuming after what `output`'s journal kept; it journals each shard's
    /// name before creating it and each shard once it is in place.
    private func makeSink(_ output: OpenOutput, schema: LabelSchema) throws -> ShardSink {
        let cfg = configuration
        let resume = output.resume
        progress.update { c in
            c.shardsWritten = resume.shards.values.compactMap { $0 }.count
            c.bytesWritten = resume.shards.values.reduce(0) { $0 + ($1?.bytes ?? 0) }
        }
        let journal = output.journal
        do {
            return try ShardSink(directory: cfg.outputDirectory, prefix: cfg.worker.shardPrefix(), format: cfg.format,
                                 schema: schema, budget: cfg.budget, alignment: cfg.alignment, digest: cfg.digest,
                                 done: resume.shards,
                                 onShardOpening: { n, name in try journal.append(.init(kind: "open", shardIndex: n, file: name)) }) { [progress] n, info in
                try journal.append(.init(kind: "shard", shard: info, shardIndex: n))
                if let info { progress.update { $0.shardsWritten += 1; $0.bytesWritten += info.bytes } }
            }
        } catch {
            throw IngestError.output(path: cfg.outputDirectory.path, message: "\(error)")
        }
    }

    /// Runs the engine over `plan` into `sink` (stoppable by `cancel()` from here on) and checks
    /// that every shard laid out was completed.
    private func runEngine(_ plan: IngestPlan, sink: ShardSink, output: OpenOutput) throws -> IngestEngine {
        progress.update { $0.clipsTotal = plan.items.count }
        let engine = IngestEngine(plan: plan, sink: sink, progress: progress, resume: output.resume, journal: output.journal)
        if configuration.labelOptions.cancellation.isCancelled { throw interruptedBeforeWork }
        let stopNow = control.withLock { c in c.engine = engine; return c.cancelled }
        if stopNow { engine.cancel() }
        try engine.run()
        guard sink.incomplete.isEmpty else {
            throw IngestError.output(path: configuration.outputDirectory.path, message: "shards \(sink.incomplete) were laid out but not completed")
        }
        progress.finish()
        return engine
    }

    /// The output directory, opened for this run: its journal (started afresh with what is
    /// kept), what an earlier run of the same configuration completed, and the lock held until
    /// the run ends.
    struct OpenOutput {
        var journal: IngestJournal
        var resume: IngestJournal.ResumePoint
        var resumed: Bool
        var lock: OutputLock
    }

    enum OutputState {
        /// The journal says this exact run is already complete, and its shards are all there.
        case complete(IngestJournal.ResumePoint)
        case open(OpenOutput)
    }

    var outputDirectory: OutputDirectory {
        OutputDirectory(url: configuration.outputDirectory, manifestName: manifestName, errorsName: errorsName,
                        prefix: configuration.worker.shardPrefix(), shardExtension: configuration.format.fileExtension)
    }

    /// Creates or checks the output directory (`OutputDirectory`'s rules), takes the worker's
    /// lock, reads the journal, keeps the journaled shards whose files are there whole, removes
    /// the files of the journal's unfinished shards, and starts the journal.
    private func openOutput(items: [IngestItem], schema: LabelSchema) throws -> OutputState {
        let cfg = configuration
        let out = cfg.outputDirectory
        let fm = FileManager.default
        let dir = outputDirectory
        do { try fm.createDirectory(at: out, withIntermediateDirectories: true) } catch {
            throw IngestError.output(path: out.path, message: "cannot create the output directory: \(error.localizedDescription)")
        }
        guard fm.isWritableFile(atPath: out.path) else { throw IngestError.output(path: out.path, message: "is not writable") }
        try dir.checkHoldsNothingElse(try dir.entries())
        let lock = try OutputLock(file: out.appendingPathComponent(OutputDirectory.stateFolder).appendingPathComponent("lock\(suffix)"),
                                  directory: out.path)
        var journal = IngestJournal(directory: out, worker: cfg.worker)
        let fingerprint = Self.fingerprint(cfg, items: items, schema: schema)
        var contents = journal.load()
        var manifest = dir.manifest(named: manifestName)
        var owned = dir.owned(journal: contents, manifest: manifest)
        // A file with a name this run writes that the dataset does not name stops it before
        // anything is removed.
        try dir.checkNoForeignOutputs(try dir.entries(), owned: owned)
        // A run with other options that completed no shard (say, every clip failed on a bad
        // --size) left nothing worth keeping: its own files give way without --overwrite.
        let worthless = contents.map { $0.fingerprint != fingerprint && $0.point.shards.values.allSatisfy { $0 == nil } } ?? false
        if overwrite || (worthless && manifest == nil) {
            // Only what this worker's journal and manifest name goes.
            for name in owned.sorted() { dir.remove(name, owned: owned) }
            try? fm.removeItem(at: journal.url)
            contents = nil
            manifest = nil
            owned = []
        }
        if let contents, contents.fingerprint != fingerprint {
            throw IngestError.output(path: out.path, message: "holds an ingest made with other inputs or options; use another --out, or --overwrite to replace it")
        }
        if contents == nil, manifest != nil {
            throw IngestError.output(path: out.path, message: "already holds a dataset (\(manifestName)) made by another run; use another --out, or --overwrite to replace it")
        }
        var resume = contents?.point ?? IngestJournal.ResumePoint()
        // The clips under the kept shards must be the files the journal recorded: a changed clip
        // refuses the resume, naming the file (docs/ingest.md, "Resume and crash safety").
        for (g, entry) in resume.groups.sorted(by: { $0.key < $1.key }) where g < items.count {
            if let files = entry.files { try FileIdentity.check(group: items[g].group, recorded: files, full: false, out: out.path) }
        }
        // Journaled shards count only while their files are there, whole. A complete run's shards
        // are checked by size (re-running a finished command stays cheap); an unfinished run's
        // also by digest, since it is about to build on them.
        let damaged = damagedShards(resume, checkDigest: !resume.complete)
        if resume.complete && damaged.isEmpty { return .complete(resume) }
        for n in damaged { resume.shards[n] = nil }
        resume.complete = false
        let keep = Set(resume.shards.values.compactMap { $0?.file })
        for name in owned.sorted() where dir.isOutputName(name) && name != manifestName && name != errorsName && !keep.contains(name) {
            dir.remove(name, owned: owned)
        }
        try journal.start(fingerprint: fingerprint, groups: items.count, keeping: resume)
        return .open(OpenOutput(journal: journal, resume: resume, resumed: contents != nil && !resume.isEmpty, lock: lock))
    }

    /// Journaled shards whose file is missing, has another size, or (with `checkDigest`) another
    /// digest.
    private func damagedShards(_ point: IngestJournal.ResumePoint, checkDigest: Bool) -> [Int] {
        let out = configuration.outputDirectory
        var bad: [Int] = []
        for (n, info) in point.shards {
            guard let info else { continue }
            let url = out.appendingPathComponent(info.file)
            let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
            guard attrs?[.type] as? FileAttributeType == .typeRegular,
                  (attrs?[.size] as? NSNumber)?.int64Value == info.bytes else { bad.append(n); continue }
            if checkDigest, (try? ShardDigest.compute(like: info.digest, file: url))?.digest != info.digest { bad.append(n) }
        }
        return bad.sorted()
    }

    /// Errors (errors.jsonl), then the manifest (last), then the journal's end mark; fills the
    /// summary's sample, shard and exit fields.
    private func writeResults(into summary: inout IngestSummary, items: [IngestItem], failures: [ClipFailure],
                              shards: [ShardInfo], schema: LabelSchema, tensor: TensorSpec?, shapes: [ShapeCount],
                              journal: IngestJournal) throws {
        let cfg = configuration
        let out = cfg.outputDirectory
        summary.failures = failures
        summary.samples = shards.reduce(0) { let (v, o) = $0.addingReportingOverflow($1.samples); return o ? .max : v }
        summary.shards = shards.count
        summary.bytes = shards.reduce(0) { let (v, o) = $0.addingReportingOverflow($1.bytes); return o ? .max : v }
        try writeErrors(failures, to: out)
        summary.errorsFile = failures.isEmpty ? nil : out.appendingPathComponent(errorsName).path
        // A worker writes its manifest even with no shards (an empty share, or every clip
        // failed), so that `merge` can tell a finished worker from a missing one.
        if !shards.isEmpty || cfg.worker.count > 1 {
            var manifest = DatasetManifest(format: cfg.format, target: cfg.target, fill: cfg.fill, budgetBytes: cfg.budget.bytes,
                                           shards: shards, schema: schema,
                                           tensor: tensor, transform: Self.transformJSON(cfg),
                                           sources: .array(items.map(Self.sourceJSON)))
            manifest.shapes = shapes
            do { try manifest.write(to: out, name: manifestName) } catch {
                throw IngestError.output(path: out.appendingPathComponent(manifestName).path, message: "\(error)")
            }
            summary.manifest = out.appendingPathComponent(manifestName).path
        }
        try journal.append(.init(kind: "end"))
        summary.exitStatus = Self.exitStatus(samples: summary.samples, failed: !failures.isEmpty, emptyShare: items.isEmpty && cfg.worker.count > 1)
    }

    // MARK: - Helpers

    private func completedSummary(point: IngestJournal.ResumePoint, items: [IngestItem], discoveryFailures: [ClipFailure],
                                  start: UInt64) throws -> IngestSummary {
        var s = IngestSummary(outputDirectory: configuration.outputDirectory.path, worker: configuration.worker.description)
        s.clipsTotal = items.count
        let failed = point.groups.keys.sorted().compactMap { point.groups[$0]?.failure }
        let shards = point.shards.values.compactMap { $0 }
        s.clipsFailed = failed.count
        s.clipsOK = s.clipsTotal - s.clipsFailed
        s.failures = discoveryFailures + failed
        s.samples = shards.reduce(0) { let (v, o) = $0.addingReportingOverflow($1.samples); return o ? .max : v }
        s.shards = shards.count
        s.bytes = shards.reduce(0) { let (v, o) = $0.addingReportingOverflow($1.bytes); return o ? .max : v }
        s.manifest = configuration.outputDirectory.appendingPathComponent(manifestName).path
        s.errorsFile = s.failures.isEmpty ? nil : configuration.outputDirectory.appendingPathComponent(errorsName).path
        s.wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        s.exitStatus = Self.exitStatus(samples: s.samples, failed: !s.failures.isEmpty, emptyShare: items.isEmpty && configuration.worker.count > 1)
        return s
    }

    /// A worker whose share of the batch is empty (more workers than clip groups) did its part:
    /// exit 0, so that a scheduler's `afterok` dependency and retry policy see a success.
    static func exitStatus(samples: Int, failed: Bool, emptyShare: Bool) -> IngestExitStatus {
        if samples == 0 && !(emptyShare && !failed) { return .nothingUsable }
        return failed ? .someFailed : .ok
    }

    /// errors.jsonl: one JSON object per failed clip (path, clip, stage, message, and
    /// samplesKept, always 0).
    private func writeErrors(_ failures: [ClipFailure], to dir: URL) throws {
        let url = dir.appendingPathComponent(errorsName)
        if failures.isEmpty {
            try? FileManager.default.removeItem(at: url)
            return
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for f in failures {
            data.append(try enc.encode(f))
            data.append(UInt8(ascii: "\n"))
        }
        do { try AtomicFile.write(data, to: url) } catch {
            throw IngestError.output(path: url.path, message: "\(error)")
        }
    }

    /// The configuration fingerprint: everything that changes the output (not the options
    /// `IngestOptionTable` marks as run-only, such as jobs, decoder threads or the output path;
    /// the inputs and manifest count through their clip groups, `items`).
    static func fingerprint(_ cfg: IngestConfiguration, items: [IngestItem], schema: LabelSchema) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var bytes = (try? enc.encode(cfg.effective.json(removing: IngestOptionTable.notInFingerprint))) ?? Data()
        bytes.append(contentsOf: Array(cfg.worker.description.utf8))
        for item in items { bytes.append(contentsOf: Array((item.key + "\u{0}" + item.group.path + "\n").utf8)) }
        bytes.append(contentsOf: Array(schema.names.joined(separator: ",").utf8))
        // The layout plan's rules (records placed up front, failed groups compacted out; v3: wds
        // .json members carry json_crc32c; v4: group lines record their files' identities).
        bytes.append(contentsOf: Array("layout-v4".utf8))
        return fnv1a64(bytes)
    }

    /// A clip group in index.json's `sources`: its key, path and layout; for TeslaCam the camera
    /// names it was given (`front` → `main`); the frame-times log of each camera that has one.
    /// A path whose bytes are not UTF-8 is written `\xNN` there (`FilePathBytes.display`), and
    /// `path_b64` holds its exact bytes (base64); only such a source has `path_b64`.
    static func sourceJSON(_ item: IngestItem) -> JSONValue {
        var o: [String: JSONValue] = ["key": .string(item.key), "path": .string(FilePathBytes.display(item.group.path))]
        if FilePathBytes.hasEscapes(item.group.path) {
            o["path_b64"] = .string(Data(FilePathBytes.bytes(item.group.path)).base64EncodedString())
        }
        guard item.group.layout != .directory && item.group.layout != .loneVideo || item.group.videos.contains(where: { $0.frameTimes != nil }) else {
            return .object(o)
        }
        o["layout"] = .string(item.group.layout.rawValue)
        var names: [String: JSONValue] = [:], logs: [String: JSONValue] = [:]
        for v in item.group.videos {
            if let s = v.sourceName { names[s] = .string(v.camera.rawValue) }
            if let f = v.frameTimes { logs[v.camera.isEmpty ? "main" : v.camera.rawValue] = .string(FilePathBytes.display(f)) }
        }
        if !names.isEmpty { o["camera_names"] = .object(names) }
        if !logs.isEmpty { o["frame_times"] = .object(logs) }
        return .object(o)
    }

    /// The effective options plus the normalization they resolve to, `{"scale", "mean", "std"}`:
    /// a pixel value x (0...255) of colour c became `(x / scale - mean[c]) / std[c]`.
    static func transformJSON(_ cfg: IngestConfiguration) -> JSONValue {
        guard case .object(var o) = json(cfg.effective) else { return json(cfg.effective) }
        let n = cfg.transform.normalization
        let num = { (f: Float) in JSONValue.number(Double("\(f)") ?? Double(f)) }
        o["normalization"] = .object(["scale": num(n.scale), "mean": .array(n.mean.map(num)), "std": .array(n.std.map(num))])
        return .object(o)
    }

    /// Any Encodable as a `JSONValue` (for the manifest's transform configuration).
    static func json<T: Encodable>(_ value: T) -> JSONValue {
        guard let data = try? JSONEncoder().encode(value),
              let v = try? JSONDecoder().decode(JSONValue.self, from: data) else { return .null }
        return v
    }
}

/// Write-to-temporary, fsync, rename: readers see the old file or the new one, never a part.
enum AtomicFile {
    static func write(_ data: Data, to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".tmp")
        try data.write(to: tmp)
        try IngestJournal.fsync(tmp)
        if rename(tmp.path, url.path) != 0 {
            throw IngestError.output(path: url.path, message: String(cString: strerror(errno)))
        }
    }
}
