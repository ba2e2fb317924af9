import Foundation

/// A number with the public source it comes from.
public struct Sourced: Sendable, Codable, Equatable {
    public var value: Double
    public var source: String
    public init(_ value: Double, _ source: String) { self.value = value; self.source = source }
}

/// An error in planner inputs (a missing key, a number out of range, a bad file).
public struct PlannerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Everything the planner needs, read from `PlannerDefaults.json` or an edited copy of it.
/// Units are in the names.
public struct PlannerInputs: Sendable {
    /// The training system planned for.
    public enum System: String, Sendable, Codable, CaseIterable { case h100, dojo }
    /// Where the plan decodes and transforms frames: host CPU cores or the GPUs' NVDEC engines.
    public enum Preprocessing: String, Sendable, Codable, CaseIterable {
        /// This engine on the hosts' CPU cores.
        case cpu
        /// The GPUs' NVDEC engines (H100 only).
        case nvdec
        /// Both together.
        case both
    }

    public var system: System = .h100
    public var preprocessing: Preprocessing = .cpu
    public var model = "resnet50"
    /// Every input number by its dotted key ("h100.bf16DenseTFLOPS").
    public var numbers: [String: Sourced]
    public var codec: String
    /// The engine's measured scaling with --jobs (from `fleetprep bench --json`); nil: linear
    /// per core.
    public var scaling: ScalingModel?
    /// Ingest processes per host when projecting with `scaling` (each runs --jobs cores/processes).
    public var processesPerNode = 1

    /// The defaults (`PlannerDefaults.json`).
    public static func defaults() -> PlannerInputs { try! PlannerInputs(json: Data(PlannerDefaults.json.utf8)) }

    /// Reads an inputs file in the defaults' format; keys it lacks keep their defaults.
    public init(json: Data, over base: PlannerInputs? = nil) throws {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw PlannerError("planner inputs are not a JSON object")
        }
        var numbers = base?.numbers ?? [:]
        var codec = base?.codec ?? "h264"
        func walk(_ obj: [String: Any], _ prefix: String) throws {
            for (k, v) in obj {
                let key = prefix.isEmpty ? k : prefix + "." + k
                guard let d = v as? [String: Any] else { throw PlannerError("\(key): expected an object") }
                if let value = d["value"] {
                    guard let source = d["source"] as? String, !source.isEmpty else { throw PlannerError("\(key): every input needs a \"source\"") }
                    if let n = value as? NSNumber {
                        numbers[key] = Sourced(n.doubleValue, source)
                    } else if let s = value as? String, key == "workload.codec" {
                        codec = s
                    } else {
                        throw PlannerError("\(key): \"value\" must be a number")
                    }
                } else {
                    try walk(d, key)
                }
            }
        }
        try walk(root, "")
        self.numbers = numbers
        self.codec = codec
    }

    /// The number at `key`; throws if absent.
    public func number(_ key: String) throws -> Double {
        guard let v = numbers[key]?.value else { throw PlannerError("missing input \(key)") }
        return v
    }

    public mutating func set(_ key: String, _ value: Double, source: String = "command line") {
        numbers[key] = Sourced(value, source)
    }

    /// Engine speed from a `fleetprep bench --json` report: the best frames per core-second for
    /// the workload's codec (the `ingest` stage if measured, else `decode`), scaled by pixel count
    /// to 1280x960 (decode cost grows about linearly with pixels).
    public mutating func useEngineSpeed(from report: EngineSpeedReport) throws {
        for codec in ["h264", "hevc"] {
            let ms = report.measurements.filter { $0.codec == codec }
            let pick = ms.filter { $0.stage == "ingest" }.isEmpty ? ms.filter { $0.stage == "decode" } : ms.filter { $0.stage == "ingest" }
            guard let best = pick.max(by: { $0.framesPerCoreSecond < $1.framesPerCoreSecond }) else { continue }
            let scaled = best.framesPerCoreSecond * Double(best.width * best.height) / (1280 * 960)
            set("engine.\(codec)FramesPerCoreSecond1280x960", scaled,
                source: "fleetprep bench --json on \(report.machine.cpuModel) (\(best.stage), \(best.width)x\(best.height), \(best.threads) thread(s))")
        }
    }
}

/// What `fleetprep bench --json` prints and the planner reads: this machine's measured speed.
public struct EngineSpeedReport: Codable, Sendable {
    /// The machine the report was measured on.
    public struct Machine: Codable, Sendable {
        public var cpuModel: String
        public var cores: Int
        public var os: String
        public init(cpuModel: String, cores: Int, os: String) { self.cpuModel = cpuModel; self.cores = cores; self.os = os }
    }
    /// One measured speed: codec, picture size, stage and threads, in frames per second.
    public struct Measurement: Codable, Sendable {
        public var codec: String
        public var width: Int
        public var height: Int
        /// "decode", "transform" or "ingest" (decode + transform + shard writing).
        public var stage: String
        public var threads: Int
        public var framesPerSecond: Double
        public var cpuSeconds: Double?
        /// Frames per CPU-core-second.
        public var framesPerCoreSecond: Double
        public var outputBytesPerSecond: Double?
        /// The same work by `ffmpeg -f null`, frames per second, when measured side by side.
        public var ffmpegFramesPerSecond: Double?
        public init(codec: String, width: Int, height: Int, stage: String, threads: Int, framesPerSecond: Double,
                    cpuSeconds: Double?, framesPerCoreSecond: Double, outputBytesPerSecond: Double? = nil,
                    ffmpegFramesPerSecond: Double? = nil) {
            self.codec = codec; self.width = width; self.height = height; self.stage = stage; self.threads = threads
            self.framesPerSecond = framesPerSecond; self.cpuSeconds = cpuSeconds; self.framesPerCoreSecond = framesPerCoreSecond
            self.outputBytesPerSecond = outputBytesPerSecond; self.ffmpegFramesPerSecond = ffmpegFramesPerSecond
        }
    }
    public var tool = "fleetprep bench"
    public var machine: Machine
    public var measurements: [Measurement]
    /// Frames/s against `--jobs`, per workload, next to ffmpeg at equal cores (the bench's scaling
    /// curve; absent in reports of older versions or when not measured). See EngineScaling.swift.
    public var scaling: [ScalingCurve]?
    /// Peak resident memory of `fleetprep ingest` against the number of clips (absent when skipped).
    public var peakMemory: PeakMemoryCheck?
    public init(machine: Machine, measurements: [Measurement], scaling: [ScalingCurve]? = nil, peakMemory: PeakMemoryCheck? = nil) {
        self.machine = machine; self.measurements = measurements; self.scaling = scaling; self.peakMemory = peakMemory
    }
}
