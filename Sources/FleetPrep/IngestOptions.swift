import Foundation
import FleetShards

/// The settings of an ingest run as users write them: the `fleetprep ingest` options, or the
/// keys of a JSON config file (`--config FILE`), with the same names and value syntax
/// (`"size": "640x480"`, `"dtype": "f16"`, `"cameras": ["main", "rear"]`).
///
/// Every field is optional; `nil` means "not given here". Command-line values override the
/// config file's; what is still missing takes the defaults in `IngestOptions.defaults`. The
/// effective options (everything filled in) are recorded in the dataset's `index.json`.
public struct IngestOptions: Codable, Sendable, Equatable {
    /// Clip files, clip-group directories, or directories of them (searched recursively).
    public var inputs: [String]?
    /// Output directory.
    public var out: String?
    /// A clip manifest (JSON Lines, one clip group per line), besides or instead of `inputs`.
    public var manifest: String?
    /// Frame rate assumed for raw H.264/HEVC streams that have no frame-times log (never a
    /// silent default: without it such a stream fails its clip).
    public var assumeFps: Double?

    // Transform (see `TransformConfig`).
    /// Output size `WxH`; absent: the (cropped) source size.
    public var size: String?
    /// Crop `X,Y,W,H` in pixels, or in fractions of the frame when any value has a decimal point.
    public var crop: String?
    /// `bilinear` or `area`.
    public var filter: String?
    /// `u8`, `f16`, `bf16` or `f32`.
    public var dtype: String?
    /// `chw` or `hwc`.
    public var layout: String?
    /// `imagenet`, `unit`, `symmetric` or `none`.
    public var normalize: String?
    /// Colour matrix override: `bt601`, `bt709` or `bt2020` (default: from the stream; BT.601 when
    /// it declares none, as the ffmpeg CLI does). RGB sources (rgb24, bgr0, gbrp, pal8, ...)
    /// ignore it: they have no YUV matrix.
    public var matrix: String?
    /// Colour range override: `limited` or `full` (default: from the stream). RGB sources ignore
    /// it (full range).
    public var range: String?
    /// `rgb`, `bgr` or `gray`.
    public var channels: String?

    // Sampling and decoding.
    /// Keep every Nth master-camera frame.
    public var stride: Int?
    /// Keep frames at about this rate (sets the stride from the master camera's frame rate).
    public var fps: Double?
    /// Parallel clip groups.
    public var jobs: Int?
    /// FFmpeg decoder threads per camera (1 keeps all parallelism at the clip level).
    public var decoderThreads: Int?
    /// Memory for samples waiting to be written, bytes (`512MiB`, …): how far the workers on
    /// later clips may run ahead of the writer. Bounds peak memory whatever the number of clips.
    public var inflight: String?
    /// Keep the frames of a damaged clip that decode and skip the damaged ones (default: a
    /// damaged clip fails at the damage).
    public var lenient: Bool?
    /// Allow samples of several tensor shapes in one dataset (default: one shape — clips are
    /// resized to the first clip group's size, and a group with another camera count fails).
    public var mixedShapes: Bool?

    // Labels and cameras (see `LabelOptions`).
    /// Cameras to take from each group, in tensor order (default: every camera found).
    public var cameras: [CameraName]?
    /// Master camera whose frames are the sample ticks.
    public var master: CameraName?
    /// Camera sync tolerance in seconds (default: half the master's frame period).
    public var syncTolerance: Double?
    /// `drop`, `nearest` or `fill`: a tick with a camera missing or out of tolerance.
    public var missingCamera: String?
    /// Largest gap (s) from a frame to a signal sample before the value is masked.
    public var maxGap: Double?
    /// Label vector fields, in order (default: every signal found in the inputs).
    public var signals: [String]?

    // Shards.
    /// `native` or `wds`.
    public var format: String?
    /// What shard digests are made of: `crc32c` (default: the records' CRC-32Cs, free) or
    /// `sha256` (every byte through SHA-256, tamper-evident).
    public var digest: String?
    /// A memory profile (`dojo-node`, `dojo-d1`, `dojo-tile`, `dojo-dip`, `h100`) or a byte count (`512MiB`).
    public var target: String?
    /// Share of the target's memory one shard may take, 0 < fill ≤ 1 (default: 1 for a byte
    /// count, 0.25 for a named accelerator memory).
    public var fill: Double?
    /// Record alignment in native shards, bytes (a power of two).
    public var alignment: Int?

    // Limits for untrusted uploads.
    /// Largest width × height a clip may have.
    public var maxPixels: Int?
    /// Most frames a camera video may have.
    public var maxFrames: Int?
    /// Largest sidecar file (signals, annotations, clip.json), bytes.
    public var maxSidecarBytes: Int?
    /// Most label columns one clip may bring (not applied with `signals`).
    public var maxSignals: Int?
    /// Follow symlinks that lead outside the input root they were found under.
    public var followSymlinks: Bool?

    public init() {}

    /// The defaults applied to whatever neither the command line nor the config file sets
    /// (`IngestOptionTable`'s defaults; `jobs`: the number of cores).
    public static var defaults: IngestOptions { IngestOptionTable.defaults }

    /// The keys a JSON config file may have (each an `IngestOptionTable` entry).
    public static var configKeys: [String] { CodingKeys.allKeys }

    /// `self` as a JSON object without the fields `keys` names (for the fingerprint).
    func json(removing keys: Set<String>) -> JSONValue {
        guard let data = try? JSONEncoder().encode(self), case .object(var o)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            return .null
        }
        for k in keys { o[k] = nil }
        return .object(o)
    }

    /// `self`, with every field that is nil here taken from `base`.
    public func filled(from base: IngestOptions) -> IngestOptions {
        var o = self
        o.inputs = inputs ?? base.inputs
        o.out = out ?? base.out
        o.manifest = manifest ?? base.manifest
        o.assumeFps = assumeFps ?? base.assumeFps
        o.size = size ?? base.size
        o.crop = crop ?? base.crop
        o.filter = filter ?? base.filter
        o.dtype = dtype ?? base.dtype
        o.layout = layout ?? base.layout
        o.normalize = normalize ?? base.normalize
        o.matrix = matrix ?? base.matrix
        o.range = range ?? base.range
        o.channels = channels ?? base.channels
        o.stride = stride ?? base.stride
        o.fps = fps ?? base.fps
        o.jobs = jobs ?? base.jobs
        o.decoderThreads = decoderThreads ?? base.decoderThreads
        o.inflight = inflight ?? base.inflight
        o.lenient = lenient ?? base.lenient
        o.mixedShapes = mixedShapes ?? base.mixedShapes
        o.cameras = cameras ?? base.cameras
        o.master = master ?? base.master
        o.syncTolerance = syncTolerance ?? base.syncTolerance
        o.missingCamera = missingCamera ?? base.missingCamera
        o.maxGap = maxGap ?? base.maxGap
        o.signals = signals ?? base.signals
        o.format = format ?? base.format
        o.digest = digest ?? base.digest
        o.target = target ?? base.target
        o.fill = fill ?? base.fill
        o.alignment = alignment ?? base.alignment
        o.maxPixels = maxPixels ?? base.maxPixels
        o.maxFrames = maxFrames ?? base.maxFrames
        o.maxSidecarBytes = maxSidecarBytes ?? base.maxSidecarBytes
        o.maxSignals = maxSignals ?? base.maxSignals
        o.followSymlinks = followSymlinks ?? base.followSymlinks
        return o
    }

    /// The options of a JSON config file. Unknown keys are an error (a typo must not be ignored).
    public static func load(configFile path: String) throws -> IngestOptions {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IngestError.badOption("--config", "cannot read \(path)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw IngestError.badOption("--config", "\(path) is not a JSON object")
        }
        let known = Set(IngestOptionTable.all.compactMap(\.key))
        for key in object.keys.sorted() where !known.contains(key) {
            throw IngestError.badOption("--config", "\(path): unknown key \"\(key)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
        do {
            return try JSONDecoder().decode(IngestOptions.self, from: data)
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw IngestError.badOption("--config", "\(path): \"\(key)\" must be \(type)")
        } catch {
            throw IngestError.badOption("--config", "\(path): \(error)")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inputs, out, manifest, assumeFps, size, crop, filter, dtype, layout, normalize, matrix, range, channels
        case stride, fps, jobs, decoderThreads, inflight, lenient, mixedShapes
        case cameras, master, syncTolerance, missingCamera, maxGap, signals
        case format, digest, target, fill, alignment
        case maxPixels, maxFrames, maxSidecarBytes, maxSignals, followSymlinks

        static var allKeys: [String] { allCases.map(\.rawValue) }
    }
}


/// One `fleetprep ingest` option, declared once: its command-line flag, JSON config key,
/// default, range, help text and whether it is part of the dataset's identity. The flags' help
/// (`IngestCommand`), `IngestOptions.defaults`, the config file's keys, the fingerprint's and the
/// merge's exclusions, and the option table of docs/ingest.md all come from `IngestOptionTable`.
public struct IngestOption: Sendable, Equatable {
    /// What an option does to the dataset.
    public enum Role: String, Sendable {
        /// Changes the samples: in the fingerprint, and workers of one run must agree on it.
        case samples
        /// Which clips: in the fingerprint through the clip groups themselves (their keys and
        /// paths), and workers of one run must agree on it.
        case inputs
        /// How the run goes, not what it makes (output path, threads, memory): neither.
        case run
        /// A command-line flag of this invocation only: not in config files or `index.json`.
        case commandLine
    }

    /// The `IngestOptions` field and JSON config key (nil for command-line-only flags).
    public let key: String?
    /// `--flag`, or `INPUT` for the positional inputs.
    public let flag: String
    /// The value syntax (`WxH`, `N`, `SECONDS`, `native|wds`, …); "" for a flag without a value.
    public let value: String
    /// The default as JSON text (what `IngestOptions.defaults` holds); nil when the option has no
    /// fixed default (`defaultText` says what happens).
    public let defaultJSON: String?
    /// The default in words, as the docs and the help show it ("" for none).
    public let defaultText: String
    /// The accepted range, as the docs show it ("" when any value of the syntax is accepted);
    /// `IngestConfiguration.Limits` holds the numbers the checks use.
    public let range: String
    public let role: Role
    public let help: String

    /// The help line of the flag: `help`, then the default and range.
    public var helpLine: String {
        var extra: [String] = []
        if !defaultText.isEmpty { extra.append("default: \(defaultText)") }
        if !range.isEmpty { extra.append("range: \(range)") }
        return extra.isEmpty ? help : "\(help) (\(extra.joined(separator: "; ")))"
    }
}

/// Every `fleetprep ingest` option, in the order of `fleetprep ingest --help`.
public enum IngestOptionTable {
    typealias L = IngestConfiguration.Limits

    public static let all: [IngestOption] = transform + sampling + labels + shards + limits + commandLine

    static func o(_ key: String?, _ flag: String? = nil, _ value: String, _ defaultJSON: String?, _ defaultText: String,
                  _ range: String = "", _ role: IngestOption.Role = .samples, _ help: String) -> IngestOption {
        IngestOption(key: key, flag: flag ?? "--" + kebab(key!), value: value, defaultJSON: defaultJSON, defaultText: defaultText,
                     range: range, role: role, help: help)
    }

    static let fps = "\(L.fps.lowerBound)–\(grouped(Int(L.fps.upperBound)))"

    static let transform: [IngestOption] = [
        o("inputs", "INPUT", "INPUT", nil, "this checkout's SampleClips (a binary built in a checkout only)", "", .inputs,
          "Clip files, clip-group directories (one video per camera plus signals.csv, annotations.jsonl, clip.json), or directories of them, searched recursively."),
        o("out", nil, "DIR", "\"shards\"", "shards", "", .run, "Output directory."),
        o("manifest", nil, "FILE", nil, "", "", .inputs,
          "Clip manifest, JSON Lines: one clip group per line ({\"id\", \"cameras\": {camera: path}, \"signals\", \"annotations\", \"offsets\", \"frame_times\"}); paths relative to the manifest."),
        o("assumeFps", nil, "FPS", nil, "none: such a stream fails its clip", fps, .samples,
          "Frame rate of raw .h264/.hevc streams that have no frame-times log (recorded in index.json)."),
        o("size", nil, "WxH", nil, "the cropped source size", "1–\(grouped(L.maxSide)) per side", .samples, "Output size."),
        o("crop", nil, "X,Y,W,H", nil, "the whole frame", "", .samples, "Crop in pixels, or in fractions of the frame (0.25,0,0.5,1)."),
        o("filter", nil, "bilinear|area", "\"bilinear\"", "bilinear", "", .samples, "Resize filter."),
        o("dtype", nil, "u8|f16|bf16|f32", "\"f16\"", "f16", "", .samples, "Element type."),
        o("layout", nil, "chw|hwc", "\"chw\"", "chw", "", .samples, "Tensor layout."),
        o("normalize", nil, "imagenet|unit|symmetric|none", "\"imagenet\"", "imagenet; none for u8", "", .samples,
          "Normalization (u8 allows only none)."),
        o("matrix", nil, "bt601|bt709|bt2020", nil, "from the stream; bt601 when it declares none, as ffmpeg does", "", .samples,
          "Colour matrix override. RGB sources ignore it: they have no matrix."),
        o("range", nil, "limited|full", nil, "from the stream", "", .samples, "Colour range override. RGB sources ignore it: they are full range."),
        o("channels", nil, "rgb|bgr|gray", "\"rgb\"", "rgb", "", .samples, "Channels."),
    ]

    static let sampling: [IngestOption] = [
        o("stride", nil, "N", "1", "1", "1–\(grouped(L.maxStride))", .samples, "Keep every Nth frame of the master camera."),
        o("fps", nil, "FPS", nil, "every frame (--stride)", fps, .samples, "Keep frames at about this rate (instead of --stride)."),
        o("jobs", nil, "N", nil, "the number of cores", "1–\(grouped(L.maxJobs))", .run,
          "Worker threads; long clips and camera groups are split into work units at key frames so every thread has work."),
        o("decoderThreads", nil, "N", "1", "1", "0–\(L.maxDecoderThreads); 0 = automatic", .run, "Decoder threads per camera."),
        o("inflight", nil, "BYTES", "\"256MiB\"", "256MiB",
          "\(MemoryTarget.spelling(bytes: Int64(L.inflight.lowerBound)))–\(MemoryTarget.spelling(bytes: Int64(L.inflight.upperBound)))", .run,
          "Memory for sample tensors being made and written: bounds peak memory."),
        o("lenient", nil, "", "false", "off", "", .samples, "Skip damaged frames instead of failing the clip at the damage."),
        o("mixedShapes", nil, "", "false", "off: one shape", "", .samples,
          "Allow several tensor shapes in one dataset (without it clips are resized to the first clip group's size and a group with another camera count fails)."),
    ]

    static let labels: [IngestOption] = [
        o("cameras", nil, "A,B,…", nil, "every camera found", "", .samples, "Cameras to use, in tensor order."),
        o("master", nil, "CAMERA", nil, "main", "", .samples, "Master camera whose frames are the sample ticks."),
        o("syncTolerance", nil, "SECONDS", nil, "half the master frame period", "over 0, up to \(grouped(Int(L.maxSeconds))) s", .samples,
          "Camera sync tolerance."),
        o("missingCamera", nil, "drop|nearest|fill", "\"drop\"", "drop", "", .samples, "What a tick with a camera missing does."),
        o("maxGap", nil, "SECONDS", "0.25", "0.25", "0–\(grouped(Int(L.maxSeconds))) s", .samples,
          "Largest gap between a frame and a signal sample before the value is masked."),
        o("signals", nil, "A,B,…", nil, "every signal found", "", .samples, "Label fields, in order."),
    ]

    static let shards: [IngestOption] = [
        o("format", nil, "native|wds", "\"native\"", "native", "", .samples, "Shard format: native or wds (WebDataset tar)."),
        o("digest", nil, "crc32c|sha256", "\"crc32c\"", "crc32c", "", .samples,
          "Shard digests from each record's crc32c (free) or its sha256 (tamper-evident, ~1 ms per 2 MB record)."),
        o("target", nil, "NAME|BYTES", "\"512MiB\"", "512MiB", "", .samples,
          "Memory target: \(MemoryTarget.profiles.map(\.name).joined(separator: ", ")), or bytes such as 512MiB."),
        o("fill", nil, "F", nil, "1 for a byte count, 0.25 for a named memory", "over 0, up to 1", .samples,
          "Share of the target's memory a shard may fill."),
        o("alignment", nil, "BYTES", "4096", "4096", "a power of two ≤ \(MemoryTarget.spelling(bytes: Int64(L.maxAlignment))) and ≤ ¼ of the shard budget",
          .samples, "Record alignment in native shards."),
    ]

    static let limits: [IngestOption] = [
        o("maxPixels", nil, "N", "\(8192 * 8192)", grouped(8192 * 8192), "1–\(grouped(L.maxPixels))", .samples, "Largest width×height a clip may have."),
        o("maxFrames", nil, "N", "1000000", grouped(1_000_000), "1–\(grouped(L.maxFrames))", .samples, "Most frames a camera video may have."),
        o("maxSidecarBytes", nil, "BYTES", "\(64 << 20)", grouped(64 << 20), "1–\(MemoryTarget.spelling(bytes: Int64(L.maxSidecarBytes)))", .samples,
          "Largest sidecar file (signals, annotations, clip.json), bytes."),
        o("maxSignals", nil, "N", "1024", "1024", "1–\(grouped(L.maxSignals))", .samples,
          "Most label columns one clip may bring (not applied with --signals)."),
        o("followSymlinks", nil, "", nil, "off: a discover error", "", .samples,
          "Follow symlinks whose target lies outside the input they were found under."),
    ]

    static let commandLine: [IngestOption] = [
        o(nil, "--config", "FILE", nil, "", "", .commandLine, "JSON file with any of these options (command-line values win)."),
        o(nil, "--dry-run", "", nil, "", "", .commandLine, "Print the clip groups that would be ingested (as `fleetprep discover`) and stop."),
        o(nil, "--worker", "I/N", nil, "from Slurm, Kubernetes or AWS Batch array variables", "N 1–\(grouped(WorkerAssignment.maxCount)), I in 0..<N",
          .commandLine, "This process's share of the batch."),
        o(nil, "--workers", "N", nil, "", "", .commandLine, "Worker count for Kubernetes Indexed Jobs / AWS Batch when the environment does not give it."),
        o(nil, "--overwrite", "", nil, "", "", .commandLine, "Replace a dataset already in --out instead of resuming it."),
        o(nil, "--quiet", "", nil, "", "", .commandLine, "No progress output."),
        o(nil, "--json", "", nil, "", "", .commandLine, "Print the summary as JSON on stdout."),
    ]

    /// The option whose config key or flag is `name`.
    public static subscript(_ name: String) -> IngestOption {
        guard let o = all.first(where: { $0.key == name || $0.flag == name }) else { preconditionFailure("no ingest option \(name)") }
        return o
    }

    /// `--flag`'s help line (for `IngestCommand`).
    public static func help(_ name: String) -> String { self[name].helpLine }

    /// Config keys that are not part of the dataset's identity: left out of the fingerprint.
    public static var notInFingerprint: Set<String> { Set(all.filter { $0.role == .run || $0.role == .inputs }.compactMap(\.key)) }

    /// Config keys that may differ between the workers of one run (`merge`).
    public static var mayDifferBetweenWorkers: Set<String> { Set(all.filter { $0.role == .run }.compactMap(\.key)) }

    /// The defaults, from the table.
    static var defaults: IngestOptions {
        let fields = all.compactMap { o in o.defaultJSON.map { "\"\(o.key!)\": \($0)" } }
        var d = try! JSONDecoder().decode(IngestOptions.self, from: Data(("{" + fields.joined(separator: ", ") + "}").utf8))
        d.jobs = ProcessInfo.processInfo.activeProcessorCount
        return d
    }

    /// docs/ingest.md's option table.
    public static var markdown: String {
        var lines = ["| option | config key | value | default | range | in fingerprint |", "|---|---|---|---|---|---|"]
        for o in all {
            let fp = o.role == .samples ? "yes" : o.role == .inputs ? "by its clips" : "no"
            lines.append("| `\(o.flag)` | \(o.key.map { "`\($0)`" } ?? "") | \(o.value.isEmpty ? "" : "`\(o.value.replacingOccurrences(of: "|", with: "\\|"))`") | \(o.defaultText) | \(o.range) | \(fp) |")
        }
        return lines.joined(separator: "\n")
    }

    static func kebab(_ key: String) -> String {
        key.reduce(into: "") { s, c in if c.isUppercase { s += "-" + c.lowercased() } else { s.append(c) } }
    }

    static func grouped(_ n: Int) -> String {
        let s = String(n)
        guard s.count > 4 else { return s }
        return s.reversed().enumerated().reduce(into: "") { r, e in if e.offset > 0 && e.offset % 3 == 0 { r.append(",") }; r.append(e.element) }
            .reversed().map(String.init).joined()
    }
}
