import FleetKernels
import FleetLabels
import FleetShards
import Foundation

/// A validated ingest configuration: `IngestOptions` parsed into the types of each stage.
/// Building one checks every option before any work starts; an error names the option and why.
public struct IngestConfiguration: Sendable {
    /// The options as given, with defaults filled in (recorded in `index.json`).
    public let effective: IngestOptions
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
    public internal(set) var datasetCameras: [String]?
    public let labelOptions: LabelOptions
    /// Cameras to keep (in tensor order), nil for every camera of each group.
    public let cameras: [String]?
    public let stride: Int
    public let targetFPS: Double?
    public let jobs: Int
    public let decoderThreads: Int
    /// Bytes of samples that may wait for the writer (split among the clips in flight).
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

    /// Validates `options` (already filled with defaults where the caller wants them).
    public init(options given: IngestOptions, worker: WorkerAssignment = .single) throws {
        var o = given.filled(from: .defaults)
        // u8 tensors hold raw 0...255 values: their default normalization is `none`, not imagenet.
        if given.normalize == nil, o.dtype?.lowercased() == "u8" { o.normalize = "none" }
        self.worker = worker
        inputs = o.inputs ?? []
        manifest = o.manifest
        if let m = o.manifest, m.isEmpty { throw IngestError.badOption("--manifest", "give the path of a .jsonl clip manifest") }
        if let f = o.assumeFps, !(f.isFinite && Limits.fps.contains(f)) {
            throw IngestError.badOption("--assume-fps", "must be frames per second from \(Limits.fps.lowerBound) to \(Limits.fps.upperBound), got \(f)")
        }
        assumeFPS = o.assumeFps
        guard let out = o.out, !out.isEmpty else { throw IngestError.badOption("--out", "an output directory is required") }
        // Inputs are read by their bytes (FilePathBytes); the output is written through Foundation,
        // whose paths are UTF-8: a name that is not would be created under other bytes.
        if FilePathBytes.hasEscapes(out) {
            throw IngestError.badOption("--out", "\(Terminal.escape(out)) is not valid UTF-8; give the output directory a UTF-8 path")
        }
        outputDirectory = URL(fileURLWithPath: out).standardizedFileURL

        func positive(_ v: Int?, _ name: String, max: Int = Int.max) throws -> Int {
            guard let v, v >= 1, v <= max else {
                throw IngestError.badOption(name, "must be a whole number from 1 to \(max), got \(v.map(String.init) ?? "nothing")")
            }
            return v
        }
        func within(_ v: Double, _ name: String, _ range: ClosedRange<Double>, _ what: String) throws -> Double {
            guard v.isFinite, range.contains(v) else { throw IngestError.badOption(name, "must be \(what) from \(range.lowerBound) to \(range.upperBound), got \(v)") }
            return v
        }
        // Transform.
        var t = TransformConfig()
        if let crop = o.crop {
            do { t.crop = try CropSpec(parsing: crop) } catch { throw IngestError.badOption("--crop", "\(error) (expected X,Y,W,H)") }
        }
        if let size = o.size {
            do {
                let s = try TransformConfig.parseSize(size)
                guard s.width <= Limits.maxSide, s.height <= Limits.maxSide else {
                    throw IngestError.badOption("--size", "each side must be 1 to \(Limits.maxSide) pixels, got \(size)")
                }
                t.outputWidth = s.width
                t.outputHeight = s.height
            } catch let e as IngestError { throw e } catch { throw IngestError.badOption("--size", "\(error) (expected WxH such as 640x480)") }
        }
        t.filter = try Self.choice(o.filter, "--filter", ResizeFilter.init(rawValue:), ["bilinear", "area"])
        t.dtype = try Self.choice(o.dtype, "--dtype", ElementType.init(rawValue:), ElementType.allCases.map(\.rawValue))
        t.layout = try Self.choice(o.layout, "--layout", TensorLayout.init(rawValue:), ["chw", "hwc"])
        t.channels = try Self.choice(o.channels, "--channels", ChannelOrder.init(rawValue:), ["rgb", "bgr", "gray"])
        if let m = o.matrix { t.matrix = try Self.choice(m, "--matrix", ColourMatrix.init(rawValue:), ["bt601", "bt709", "bt2020"]) }
        if let r = o.range { t.range = try Self.choice(r, "--range", ColourRange.init(rawValue:), ["limited", "full"]) }
        // u8 tensors hold raw 0...255 values, so their default normalization is `none`.
        let normalize = o.normalize ?? (t.dtype == .u8 ? "none" : "imagenet")
        do { t.normalization = try Normalization(preset: normalize) } catch {
            throw IngestError.badOption("--normalize", "expected imagenet, unit, symmetric or none, got \"\(normalize)\"")
        }
        if t.dtype == .u8 && t.normalization != .none {
            throw IngestError.badOption("--normalize", "--dtype u8 stores raw 0...255 values; use --normalize none (the default for u8) or a float dtype")
        }
        transform = t

        // Sampling and decoding.
        stride = try positive(o.stride, "--stride", max: Limits.maxStride)
        if let fps = o.fps {
            _ = try within(fps, "--fps", Limits.fps, "frames per second")
            if o.stride != nil && o.stride != 1 && given.stride != nil {
                throw IngestError.badOption("--fps", "give either --stride or --fps, not both")
            }
        }
        targetFPS = o.fps
        jobs = try positive(o.jobs, "--jobs", max: Limits.maxJobs)
        guard let dt = o.decoderThreads, dt >= 0, dt <= Limits.maxDecoderThreads else {
            throw IngestError.badOption("--decoder-threads", "must be 0 (automatic) to \(Limits.maxDecoderThreads), got \(o.decoderThreads.map(String.init) ?? "nothing")")
        }
        decoderThreads = dt
        do {
            let t = try MemoryTarget(parsing: o.inflight ?? "1GiB")
            inflightBytes = Int(t.bytes)
        } catch { throw IngestError.badOption("--inflight", "expected a size such as 1GiB, got \"\(o.inflight ?? "")\"") }
        guard Limits.inflight.contains(inflightBytes) else {
            throw IngestError.badOption("--inflight", "must be 1MiB to 1TiB, got \(o.inflight ?? "")")
        }
        lenient = o.lenient ?? false
        mixedShapes = o.mixedShapes ?? false

        // Labels and cameras.
        var l = LabelOptions()
        if let master = o.master {
            guard Self.isSafeName(master) else { throw IngestError.badOption("--master", "\"\(master)\" is not a camera name (letters, digits, _ and - only)") }
            l.master = master
        }
        if let cams = o.cameras {
            guard !cams.isEmpty else { throw IngestError.badOption("--cameras", "list at least one camera") }
            for c in cams where !Self.isSafeName(c) {
                throw IngestError.badOption("--cameras", "\"\(c)\" is not a camera name (letters, digits, _ and - only)")
            }
            guard Set(cams).count == cams.count else { throw IngestError.badOption("--cameras", "a camera is listed twice") }
            if o.master != nil, !cams.contains(l.master) {
                throw IngestError.badOption("--master", "\"\(l.master)\" is not among --cameras \(cams.joined(separator: ","))")
            }
            // Discovery must also recognise cameras with non-standard names.
            l.cameraNames = LabelOptions.standardCameras + cams.filter { !LabelOptions.standardCameras.contains($0) }
        }
        cameras = o.cameras
        if let tol = o.syncTolerance {
            guard tol.isFinite, tol > 0, tol <= Limits.maxSeconds else { throw IngestError.badOption("--sync-tolerance", "must be a positive number of seconds up to \(Limits.maxSeconds), got \(tol)") }
            l.syncTolerance = tol
        }
        l.missingCameraPolicy = try Self.choice(o.missingCamera, "--missing-camera", MissingCameraPolicy.init(rawValue:), ["drop", "nearest", "fill"])
        guard let gap = o.maxGap, gap.isFinite, gap >= 0, gap <= Limits.maxSeconds else { throw IngestError.badOption("--max-gap", "must be 0 to \(Limits.maxSeconds) seconds") }
        l.maxGap = gap
        let sidecar = try positive(o.maxSidecarBytes, "--max-sidecar-bytes", max: Limits.maxSidecarBytes)
        l.maxSidecarBytes = sidecar
        if let names = o.signals {
            guard !names.isEmpty, Set(names).count == names.count else {
                throw IngestError.badOption("--signals", "list each signal once")
            }
        }
        // --signals names the columns: the limit on what a clip brings is then not needed.
        let maxSignals = try positive(o.maxSignals, "--max-signals", max: Limits.maxSignals)
        l.maxSignals = o.signals == nil ? maxSignals : nil
        l.followSymlinks = o.followSymlinks ?? false
        labelOptions = l

        // Shards.
        format = try Self.choice(o.format, "--format", ShardFormat.init(rawValue:), ["native", "wds"])
        digest = try Self.choice(o.digest, "--digest", SegmentDigestKind.init(rawValue:), ["crc32c", "sha256"])
        do { target = try MemoryTarget(parsing: o.target ?? "") } catch {
            throw IngestError.badOption("--target", "\(error)")
        }
        if o.fill == nil { o.fill = ShardBudget.defaultFill(for: target) }
        guard let fill = o.fill, fill > 0, fill <= 1 else { throw IngestError.badOption("--fill", "must be in (0, 1], got \(o.fill.map { "\($0)" } ?? "nothing")") }
        self.fill = fill
        do { _ = try ShardBudget(target: target, fill: fill) } catch { throw IngestError.badOption("--target", "\(error)") }
        guard let a = o.alignment, a >= 1, a & (a - 1) == 0, a <= Limits.maxAlignment else {
            throw IngestError.badOption("--alignment", "must be a power of two up to \(Limits.maxAlignment), got \(o.alignment.map(String.init) ?? "nothing")")
        }
        guard Int64(a) * 4 <= (try? ShardBudget(target: target, fill: fill).bytes) ?? 0 else {
            throw IngestError.badOption("--alignment", "\(a) must be at most a quarter of the shard budget")
        }
        alignment = a

        maxPixels = try positive(o.maxPixels, "--max-pixels", max: Limits.maxPixels)
        maxFrames = try positive(o.maxFrames, "--max-frames", max: Limits.maxFrames)
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

    private static func choice<T>(_ value: String?, _ option: String, _ make: (String) -> T?, _ allowed: [String]) throws -> T {
        guard let value, let t = make(value.lowercased()) else {
            throw IngestError.badOption(option, "expected one of \(allowed.joined(separator: ", ")), got \"\(value ?? "")\"")
        }
        return t
    }
}
