import FleetKernels
import FleetLabels
import FleetShards
import FleetVocabulary
import Foundation

/// A validated ingest configuration, in the types of each stage.
///
/// Two ways in, one set of checks (`validate()`):
/// - the typed initializer, for library callers
///   (`IngestConfiguration(inputs:output:transform:…)`, no strings to spell);
/// - `init(options:)`, which parses `IngestOptions` (the `fleetprep ingest` flags and the JSON
///   config file) into those types and then runs the same initializer.
///
/// Building one checks every option before any work starts; an error names the option (by its
/// command-line flag) and why.
public struct IngestConfiguration: Sendable {
    /// The options with defaults filled in, as recorded in `index.json` and the fingerprint: as
    /// given for `init(options:)`, or the canonical spelling of the typed values.
    public private(set) var effective: IngestOptions
    public let inputs: [String]
    /// `--manifest`: a JSON Lines clip manifest.
    public let manifest: String?
    /// `--assume-fps`: the frame rate of raw streams without a frame-times log.
    public let assumeFPS: Double?
    public let outputDirectory: URL
    public internal(set) var transform: TransformConfig
    /// Samples of several tensor shapes allowed (`--mixed-shapes`).
    public let mixedShapes: Bool
    /// Cameras every group must have (the first group's count), nil with `--mixed-shapes`.
    public internal(set) var expectedCameras: Int?
    /// The first clip group's cameras (nil with `--mixed-shapes` or `--cameras`): a later group
    /// that has all of them and more (a 6-camera TeslaCam event after a 4-camera one) gives
    /// these, in this order.
    public internal(set) var datasetCameras: [CameraName]?
    public let labelOptions: LabelOptions
    /// Cameras to keep (in tensor order), nil for every camera of each group.
    public let cameras: [CameraName]?
    /// Label fields, in order (nil: every signal found).
    public let signals: [String]?
    public let stride: Int
    public let targetFPS: Double?
    public let jobs: Int
    public let decoderThreads: Int
    /// Bytes of sample tensors being made and written: bounds peak memory.
    public let inflightBytes: Int
    public let lenient: Bool
    public let format: ShardFormat
    public let digest: SegmentDigestKind
    public let target: MemoryTarget
    public let fill: Double
    public let alignment: Int
    public let maxPixels: Int
    public let maxFrames: Int
    public let worker: WorkerAssignment

    /// What an untrusted upload may bring (`--max-pixels`, `--max-frames`, `--max-sidecar-bytes`,
    /// `--max-signals`, `--follow-symlinks`).
    public struct UploadLimits: Sendable, Equatable {
        /// Largest width × height a clip may have.
        public var maxPixels: Int
        /// Most frames a camera video may have.
        public var maxFrames: Int
        /// Largest sidecar file (signals, annotations, clip.json), bytes.
        public var maxSidecarBytes: Int
        /// Most label columns one clip may bring (not applied when `signals` names them).
        public var maxSignals: Int
        /// Follow symlinks that lead outside the input root they were found under.
        public var followSymlinks: Bool

        public init(maxPixels: Int = 8192 * 8192, maxFrames: Int = 1_000_000, maxSidecarBytes: Int = 64 << 20,
                    maxSignals: Int = 1024, followSymlinks: Bool = false) {
            self.maxPixels = maxPixels
            self.maxFrames = maxFrames
            self.maxSidecarBytes = maxSidecarBytes
            self.maxSignals = maxSignals
            self.followSymlinks = followSymlinks
        }
    }

    /// The typed configuration: every value in its own type, byte counts as integers. The
    /// defaults are those of `fleetprep ingest`; the checks are the command line's (an error
    /// names the flag: `--stride`, `--target`, …).
    ///
    /// - Parameters:
    ///   - inputs: clip files, clip-group directories, or directories of them.
    ///   - manifest: a JSON Lines clip manifest, besides or instead of `inputs`.
    ///   - output: the dataset directory (`ingest` only; `SampleStream` writes nothing).
    ///   - transform: size, crop, filter, dtype, layout, normalization, colour overrides.
    ///   - stride, fps: keep every Nth master frame, or frames at about `fps` (not both).
    ///   - assumeFPS: frame rate of raw .h264/.hevc streams without a frame-times log.
    ///   - cameras, master, syncTolerance, missingCamera, maxGap, signals: cameras and labels.
    ///   - format, digest, target, fill, alignment: shards (`fill` nil: 1 for a byte count,
    ///     0.25 for a named accelerator memory).
    ///   - jobs, decoderThreads, inflightBytes: parallelism and memory (not in the fingerprint).
    ///   - lenient, mixedShapes: damaged frames skipped; several tensor shapes allowed.
    public init(inputs: [String] = [], manifest: String? = nil, output: URL = URL(fileURLWithPath: "shards"),
                transform: TransformConfig = TransformConfig(size: nil),
                stride: Int = 1, fps: Double? = nil, assumeFPS: Double? = nil,
                cameras: [CameraName]? = nil, master: CameraName? = nil, syncTolerance: Double? = nil,
                missingCamera: MissingCameraPolicy = .drop, maxGap: Double = LabelOptions.defaultMaxGap, signals: [String]? = nil,
                format: ShardFormat = .native, digest: SegmentDigestKind = .crc32c,
                target: MemoryTarget = .byteCount(512 << 20), fill: Double? = nil, alignment: Int = 4096,
                jobs: Int = ProcessInfo.processInfo.activeProcessorCount, decoderThreads: Int = 1,
                inflightBytes: Int = 256 << 20, lenient: Bool = false, mixedShapes: Bool = false,
                limits: UploadLimits = UploadLimits(), worker: WorkerAssignment = .single) throws {
        self.inputs = inputs
        self.manifest = manifest
        self.assumeFPS = assumeFPS
        outputDirectory = output.standardizedFileURL
        self.transform = transform
        self.stride = stride
        targetFPS = fps
        self.cameras = cameras
        self.signals = signals
        self.format = format
        self.digest = digest
        self.target = target
        self.fill = fill ?? ShardBudget.defaultFill(for: target)
        self.alignment = alignment
        self.jobs = jobs
        self.decoderThreads = decoderThreads
        self.inflightBytes = inflightBytes
        self.lenient = lenient
        self.mixedShapes = mixedShapes
        maxPixels = limits.maxPixels
        maxFrames = limits.maxFrames
        self.worker = worker
        labelOptions = Self.labelOptions(cameras: cameras, master: master, syncTolerance: syncTolerance, missingCamera: missingCamera,
                                         maxGap: maxGap, signals: signals, limits: limits)
        effective = IngestOptions()
        try validate(master: master, limits: limits)
        effective = canonicalOptions(master: master, limits: limits)
    }

    /// Parses `options` (the command line and config file; what is missing takes
    /// `IngestOptions.defaults`) into the typed configuration, and records them as given.
    public init(options given: IngestOptions, worker: WorkerAssignment = .single) throws {
        var o = given.filled(from: .defaults)
        // u8 tensors hold raw 0...255 values: their default normalization is `none`, not imagenet.
        if given.normalize == nil, o.dtype?.lowercased() == "u8" { o.normalize = "none" }
        let transform = try Self.parseTransform(o)
        let target: MemoryTarget
        do { target = try MemoryTarget(parsing: o.target ?? "") } catch { throw IngestError.badOption("--target", "\(error)") }
        let inflight: MemoryTarget
        do { inflight = try MemoryTarget(parsing: o.inflight ?? "") } catch {
            throw IngestError.badOption("--inflight", "expected a size such as 1GiB, got \"\(o.inflight ?? "")\"")
        }
        guard let out = o.out, !out.isEmpty else { throw IngestError.badOption("--out", "an output directory is required") }
        let d = UploadLimits()
        let limits = UploadLimits(maxPixels: o.maxPixels ?? d.maxPixels, maxFrames: o.maxFrames ?? d.maxFrames,
                                  maxSidecarBytes: o.maxSidecarBytes ?? d.maxSidecarBytes, maxSignals: o.maxSignals ?? d.maxSignals,
                                  followSymlinks: o.followSymlinks ?? false)
        try self.init(inputs: o.inputs ?? [], manifest: o.manifest, output: URL(fileURLWithPath: out), transform: transform,
                      stride: o.stride ?? 1, fps: o.fps, assumeFPS: o.assumeFps,
                      cameras: o.cameras, master: o.master, syncTolerance: o.syncTolerance,
                      missingCamera: try Self.choice(o.missingCamera, "--missing-camera", MissingCameraPolicy.init(rawValue:), MissingCameraPolicy.allCases.map(\.rawValue)),
                      maxGap: o.maxGap ?? LabelOptions.defaultMaxGap, signals: o.signals,
                      format: try Self.choice(o.format, "--format", ShardFormat.init(rawValue:), ShardFormat.allCases.map(\.rawValue)),
                      digest: try Self.choice(o.digest, "--digest", SegmentDigestKind.init(rawValue:), SegmentDigestKind.allCases.map(\.rawValue)),
                      target: target, fill: o.fill, alignment: o.alignment ?? 4096,
                      jobs: o.jobs ?? ProcessInfo.processInfo.activeProcessorCount, decoderThreads: o.decoderThreads ?? 1,
                      inflightBytes: Int(inflight.bytes), lenient: o.lenient ?? false, mixedShapes: o.mixedShapes ?? false,
                      limits: limits, worker: worker)
        o.fill = fill
        effective = o
    }

    /// The ranges every option is checked against before anything is written (docs/ingest.md,
    /// "Limits"). They bound what one run may ask of the machine, not what is sensible.
    public enum Limits {
        /// Output width or height, pixels (the kernels' limit).
        public static let maxSide = 16384
        public static let maxStride = 1_000_000
        public static let fps: ClosedRange<Double> = 0.001...1000
        public static let maxJobs = 1024
        public static let maxDecoderThreads = 64
        public static let inflight: ClosedRange<Int> = (1 << 20)...(1 << 40)
        /// Seconds, for --sync-tolerance and --max-gap.
        public static let maxSeconds = 86_400.0
        public static let maxSidecarBytes = 16 << 30
        public static let maxAlignment = 16 << 20
        /// Source pictures: 32768 × 32768.
        public static let maxPixels = 1 << 30
        public static let maxFrames = 100_000_000
        public static let maxSignals = 1_000_000
    }

    /// The shard budget in bytes.
    public var budget: ShardBudget { try! ShardBudget(target: target, fill: fill) }

    /// Whether `name` is safe inside keys and file names: letters, digits, `_` and `-`.
    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }

    static func choice<T>(_ value: String?, _ option: String, _ make: (String) -> T?, _ allowed: [String]) throws -> T {
        guard let value, let t = make(value.lowercased()) else {
            throw IngestError.badOption(option, "expected one of \(allowed.joined(separator: ", ")), got \"\(value ?? "")\"")
        }
        return t
    }

    private static func labelOptions(cameras: [CameraName]?, master: CameraName?, syncTolerance: Double?, missingCamera: MissingCameraPolicy,
                                     maxGap: Double, signals: [String]?, limits: UploadLimits) -> LabelOptions {
        var l = LabelOptions()
        if let master { l.master = master }
        if let cams = cameras {
            // Discovery must also recognise cameras with non-standard names.
            l.cameraNames = LabelOptions.standardCameras + cams.filter { !LabelOptions.standardCameras.contains($0) }
        }
        l.syncTolerance = syncTolerance
        l.missingCameraPolicy = missingCamera
        l.maxGap = maxGap
        l.maxSidecarBytes = limits.maxSidecarBytes
        // Named signals are the columns: the limit on what a clip brings is then not needed.
        l.maxSignals = signals == nil ? limits.maxSignals : nil
        l.followSymlinks = limits.followSymlinks
        return l
    }
}

// MARK: - The checks both ways in share

extension IngestConfiguration {
    /// Every range check of the configuration, for the typed initializer and the command line
    /// alike; an error names the command-line flag of the value.
    private func validate(master: CameraName?, limits: UploadLimits) throws {
        if let m = manifest, m.isEmpty { throw IngestError.badOption("--manifest", "give the path of a .jsonl clip manifest") }
        if let f = assumeFPS { try Self.within(f, "--assume-fps", Limits.fps, "frames per second") }
        guard !outputDirectory.path.isEmpty else { throw IngestError.badOption("--out", "an output directory is required") }
        // Inputs are read by their bytes (FilePathBytes); the output is written through Foundation,
        // whose paths are UTF-8: a name that is not would be created under other bytes.
        if FilePathBytes.hasEscapes(outputDirectory.path) {
            throw IngestError.badOption("--out", "\(Terminal.escape(outputDirectory.path)) is not valid UTF-8; give the output directory a UTF-8 path")
        }
        try Self.validate(transform)
        try Self.positive(stride, "--stride", max: Limits.maxStride)
        if let fps = targetFPS {
            try Self.within(fps, "--fps", Limits.fps, "frames per second")
            if stride != 1 { throw IngestError.badOption("--fps", "give either --stride or --fps, not both") }
        }
        try Self.positive(jobs, "--jobs", max: Limits.maxJobs)
        guard decoderThreads >= 0, decoderThreads <= Limits.maxDecoderThreads else {
            throw IngestError.badOption("--decoder-threads", "must be 0 (automatic) to \(Limits.maxDecoderThreads), got \(decoderThreads)")
        }
        guard Limits.inflight.contains(inflightBytes) else {
            throw IngestError.badOption("--inflight", "must be 1MiB to 1TiB, got \(inflightBytes) bytes")
        }
        try validateLabels(master: master)
        try Self.positive(limits.maxSidecarBytes, "--max-sidecar-bytes", max: Limits.maxSidecarBytes)
        try Self.positive(limits.maxSignals, "--max-signals", max: Limits.maxSignals)
        try validateShards()
        try Self.positive(maxPixels, "--max-pixels", max: Limits.maxPixels)
        try Self.positive(maxFrames, "--max-frames", max: Limits.maxFrames)
    }

    private static func validate(_ t: TransformConfig) throws {
        switch t.crop {
        case let .pixels(x, y, w, h)? where [x, y, w, h].contains(where: { $0 < 0 }):
            throw IngestError.badOption("--crop", "pixel values must not be negative (expected X,Y,W,H)")
        case let .fractions(x, y, w, h)? where [x, y, w, h].contains(where: { !($0.isFinite && $0 >= 0 && $0 <= 1) }):
            throw IngestError.badOption("--crop", "fractions must be in 0...1 (expected X,Y,W,H)")
        default: break
        }
        if t.outputWidth != nil || t.outputHeight != nil {
            guard let w = t.outputWidth, let h = t.outputHeight, (1...Limits.maxSide).contains(w), (1...Limits.maxSide).contains(h) else {
                throw IngestError.badOption("--size", "each side must be 1 to \(Limits.maxSide) pixels, got \(t.outputWidth.map(String.init) ?? "?")x\(t.outputHeight.map(String.init) ?? "?")")
            }
        }
        guard Normalization.presets.contains(where: { $0.value == t.normalization }) else {
            throw IngestError.badOption("--normalize", "expected imagenet, unit, symmetric or none")
        }
        if t.dtype == .u8 && t.normalization != .none {
            throw IngestError.badOption("--normalize", "--dtype u8 stores raw 0...255 values; use --normalize none (the default for u8) or a float dtype")
        }
    }

    private func validateLabels(master: CameraName?) throws {
        if let master, !Self.isSafeName(master.rawValue) {
            throw IngestError.badOption("--master", "\"\(master)\" is not a camera name (letters, digits, _ and - only)")
        }
        if let cams = cameras {
            guard !cams.isEmpty else { throw IngestError.badOption("--cameras", "list at least one camera") }
            for c in cams where !Self.isSafeName(c.rawValue) {
                throw IngestError.badOption("--cameras", "\"\(c)\" is not a camera name (letters, digits, _ and - only)")
            }
            guard Set(cams).count == cams.count else { throw IngestError.badOption("--cameras", "a camera is listed twice") }
            if master != nil, !cams.contains(labelOptions.master) {
                throw IngestError.badOption("--master", "\"\(labelOptions.master)\" is not among --cameras \(cams.joined(separator: ","))")
            }
        }
        if let tol = labelOptions.syncTolerance {
            guard tol.isFinite, tol > 0, tol <= Limits.maxSeconds else {
                throw IngestError.badOption("--sync-tolerance", "must be a positive number of seconds up to \(Limits.maxSeconds), got \(tol)")
            }
        }
        let gap = labelOptions.maxGap
        guard gap.isFinite, gap >= 0, gap <= Limits.maxSeconds else { throw IngestError.badOption("--max-gap", "must be 0 to \(Limits.maxSeconds) seconds") }
        if let names = signals {
            guard !names.isEmpty, Set(names).count == names.count else { throw IngestError.badOption("--signals", "list each signal once") }
        }
    }

    private func validateShards() throws {
        guard fill > 0, fill <= 1 else { throw IngestError.badOption("--fill", "must be in (0, 1], got \(fill)") }
        let budget: ShardBudget
        do { budget = try ShardBudget(target: target, fill: fill) } catch { throw IngestError.badOption("--target", "\(error)") }
        let a = alignment
        guard a >= 1, a & (a - 1) == 0, a <= Limits.maxAlignment else {
            throw IngestError.badOption("--alignment", "must be a power of two up to \(Limits.maxAlignment), got \(a)")
        }
        guard Int64(a) * 4 <= budget.bytes else {
            throw IngestError.badOption("--alignment", "\(a) must be at most a quarter of the shard budget")
        }
    }

    private static func positive(_ v: Int, _ name: String, max: Int) throws {
        guard v >= 1, v <= max else { throw IngestError.badOption(name, "must be a whole number from 1 to \(max), got \(v)") }
    }

    private static func within(_ v: Double, _ name: String, _ range: ClosedRange<Double>, _ what: String) throws {
        guard v.isFinite, range.contains(v) else { throw IngestError.badOption(name, "must be \(what) from \(range.lowerBound) to \(range.upperBound), got \(v)") }
    }
}

// MARK: - Strings ⇄ types

extension IngestConfiguration {
    /// The transform options (`--size`, `--crop`, `--filter`, `--dtype`, `--layout`,
    /// `--channels`, `--matrix`, `--range`, `--normalize`) parsed into a `TransformConfig`.
    static func parseTransform(_ o: IngestOptions) throws -> TransformConfig {
        var t = TransformConfig(size: nil)
        if let crop = o.crop {
            do { t.crop = try CropSpec(parsing: crop) } catch { throw IngestError.badOption("--crop", "\(error) (expected X,Y,W,H)") }
        }
        if let size = o.size {
            do {
                let s = try TransformConfig.parseSize(size)
                guard s.width <= Limits.maxSide, s.height <= Limits.maxSide else {
                    throw IngestError.badOption("--size", "each side must be 1 to \(Limits.maxSide) pixels, got \(size)")
                }
                t.size = .init(width: s.width, height: s.height)
            } catch let e as IngestError { throw e } catch { throw IngestError.badOption("--size", "\(error) (expected WxH such as 640x480)") }
        }
        t.filter = try choice(o.filter, "--filter", ResizeFilter.init(rawValue:), ["bilinear", "area"])
        t.dtype = try choice(o.dtype, "--dtype", ElementType.init(rawValue:), ElementType.allCases.map(\.rawValue))
        t.layout = try choice(o.layout, "--layout", TensorLayout.init(rawValue:), ["chw", "hwc"])
        t.channels = try choice(o.channels, "--channels", ChannelOrder.init(rawValue:), ["rgb", "bgr", "gray"])
        if let m = o.matrix { t.matrix = try choice(m, "--matrix", ColourMatrix.init(rawValue:), ["bt601", "bt709", "bt2020"]) }
        if let r = o.range { t.range = try choice(r, "--range", ColourRange.init(rawValue:), ["limited", "full"]) }
        let normalize = o.normalize ?? (t.dtype == .u8 ? "none" : "imagenet")
        do { t.normalization = try Normalization(preset: normalize) } catch {
            throw IngestError.badOption("--normalize", "expected imagenet, unit, symmetric or none, got \"\(normalize)\"")
        }
        return t
    }

    /// The typed values in the command line's spelling (what `index.json` and the fingerprint
    /// record): `fleetprep ingest` given these flags records the same options.
    private func canonicalOptions(master: CameraName?, limits: UploadLimits) -> IngestOptions {
        var o = IngestOptions()
        o.inputs = inputs.isEmpty ? nil : inputs
        o.out = outputDirectory.path
        o.manifest = manifest
        o.assumeFps = assumeFPS
        let t = transform
        o.size = t.size.map { "\($0.width)x\($0.height)" }
        o.crop = t.crop.map(Self.spelling)
        o.filter = t.filter.rawValue
        o.dtype = t.dtype.rawValue
        o.layout = t.layout.rawValue
        o.normalize = Normalization.presets.first { $0.value == t.normalization }?.name
        o.matrix = t.matrix?.rawValue
        o.range = t.range?.rawValue
        o.channels = t.channels.rawValue
        o.stride = stride
        o.fps = targetFPS
        o.jobs = jobs
        o.decoderThreads = decoderThreads
        o.inflight = MemoryTarget.spelling(bytes: Int64(inflightBytes))
        o.lenient = lenient
        o.mixedShapes = mixedShapes
        o.cameras = cameras
        o.master = master
        o.syncTolerance = labelOptions.syncTolerance
        o.missingCamera = labelOptions.missingCameraPolicy.rawValue
        o.maxGap = labelOptions.maxGap
        o.signals = signals
        o.format = format.rawValue
        o.digest = digest.rawValue
        o.target = target.name
        o.fill = fill
        o.alignment = alignment
        o.maxPixels = maxPixels
        o.maxFrames = maxFrames
        o.maxSidecarBytes = limits.maxSidecarBytes
        o.maxSignals = limits.maxSignals
        // Like the flag: recorded only when set.
        o.followSymlinks = limits.followSymlinks ? true : nil
        return o
    }

    /// `X,Y,W,H`: integers for pixels; fractions always with a decimal point (`0.25,0.0,0.5,1.0`).
    static func spelling(_ crop: CropSpec) -> String {
        switch crop {
        case let .pixels(x, y, w, h): return "\(x),\(y),\(w),\(h)"
        case let .fractions(x, y, w, h): return [x, y, w, h].map { "\($0)" }.joined(separator: ",")
        }
    }
}

extension TransformConfig {
    /// An output size in pixels.
    public struct Size: Sendable, Hashable {
        public var width: Int
        public var height: Int
        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
        }
    }

    /// The output size; nil keeps the (cropped) source size.
    public var size: Size? {
        get { outputWidth.flatMap { w in outputHeight.map { Size(width: w, height: $0) } } }
        set {
            outputWidth = newValue?.width
            outputHeight = newValue?.height
        }
    }

    /// The transform with `fleetprep ingest`'s defaults: f16, CHW, RGB, bilinear, ImageNet
    /// normalization (`none` for u8, whose tensors hold raw 0...255 values), the stream's
    /// colour matrix and range.
    public init(size: Size?, crop: CropSpec? = nil, filter: ResizeFilter = .bilinear, dtype: ElementType = .f16,
                layout: TensorLayout = .chw, normalize: Normalization? = nil, matrix: ColourMatrix? = nil,
                range: ColourRange? = nil, channels: ChannelOrder = .rgb) {
        self.init(crop: crop, outputWidth: size?.width, outputHeight: size?.height, filter: filter, matrix: matrix, range: range,
                  channels: channels, normalization: normalize ?? (dtype == .u8 ? .none : .imagenet), dtype: dtype, layout: layout)
    }
}

extension Normalization {
    /// The named presets, as `--normalize` spells them.
    static let presets: [(name: String, value: Normalization)] = [
        ("imagenet", .imagenet), ("unit", .unit), ("symmetric", .symmetric), ("none", .none),
    ]
}

extension MemoryTarget {
    /// A plain byte count (`.byteCount(512 << 20)` is `--target 512MiB`).
    public static func byteCount(_ count: Int64) -> MemoryTarget {
        MemoryTarget(name: spelling(bytes: count), bytes: count, source: "a byte count (not an accelerator profile)")
    }

    /// The named accelerator memories of `profiles` (`--target dojo-node`, …).
    public static var dojoNode: MemoryTarget { profile("dojo-node") }
    public static var dojoD1: MemoryTarget { profile("dojo-d1") }
    public static var dojoTile: MemoryTarget { profile("dojo-tile") }
    public static var dojoDIP: MemoryTarget { profile("dojo-dip") }
    public static var h100: MemoryTarget { profile("h100") }

    private static func profile(_ name: String) -> MemoryTarget { profiles.first { $0.name == name }! }

    /// `count` in the largest binary unit that divides it (`256MiB`, `3GiB`), else in bytes:
    /// a spelling `MemoryTarget(parsing:)` reads back to `count`.
    static func spelling(bytes count: Int64) -> String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where count > 0 && count % (Int64(1) << shift) == 0 {
            return "\(count >> shift)\(unit)"
        }
        return "\(count)"
    }
}
