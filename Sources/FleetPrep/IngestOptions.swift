import Foundation

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
    public var cameras: [String]?
    /// Master camera whose frames are the sample ticks.
    public var master: String?
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

    /// The defaults applied to whatever neither the command line nor the config file sets.
    public static var defaults: IngestOptions {
        var o = IngestOptions()
        o.out = "shards"
        o.filter = "bilinear"
        o.dtype = "f16"
        o.layout = "chw"
        o.normalize = "imagenet"
        o.channels = "rgb"
        o.stride = 1
        o.jobs = ProcessInfo.processInfo.activeProcessorCount
        o.decoderThreads = 1
        o.inflight = "256MiB"
        o.lenient = false
        o.mixedShapes = false
        o.missingCamera = "drop"
        o.maxGap = 0.25
        o.format = "native"
        o.digest = "crc32c"
        o.target = "512MiB"
        o.alignment = 4096
        o.maxPixels = 8192 * 8192
        o.maxFrames = 1_000_000
        o.maxSidecarBytes = 64 << 20
        o.maxSignals = 1024
        return o
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
        let known = Set(Self.CodingKeys.allKeys)
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
