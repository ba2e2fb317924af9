import Foundation

extension EngineSpeedReport {
    /// How one workload's throughput grows with `fleetprep ingest --jobs N`, measured next to the
    /// ffmpeg CLI decoding the same files on as many cores (decode only, output discarded), in one
    /// run, contenders alternating, best of the bench's rounds.
    public struct ScalingCurve: Codable, Sendable {
        /// Short name: "many-clips", "long-clip" or "camera-groups".
        public var workload: String
        /// What the workload is, in words (files, length, resolution, codec, ingest options).
        public var description: String
        /// Source video: codec, width, height, frames per second.
        public var codec: String
        public var width: Int
        public var height: Int
        public var sourceFramesPerSecond: Double
        /// Video files in the workload, and frames decoded per pass over all of them.
        public var files: Int
        public var frames: Int
        /// Options given to `fleetprep ingest` besides the inputs, `--out` and `--jobs`.
        public var ingestArguments: [String]
        /// The ffmpeg baseline at N cores, in words (e.g. "N concurrent `ffmpeg -threads 1 -f null`
        /// processes over the files" or "`ffmpeg -threads N -f null`").
        public var baseline: String
        public var points: [ScalingPoint]

        public init(workload: String, description: String, codec: String, width: Int, height: Int,
                    sourceFramesPerSecond: Double, files: Int, frames: Int, ingestArguments: [String],
                    baseline: String, points: [ScalingPoint] = []) {
            self.workload = workload; self.description = description; self.codec = codec
            self.width = width; self.height = height; self.sourceFramesPerSecond = sourceFramesPerSecond
            self.files = files; self.frames = frames; self.ingestArguments = ingestArguments
            self.baseline = baseline; self.points = points
        }

        /// The point measured at `jobs`, if any.
        public func point(jobs: Int) -> ScalingPoint? { points.first { $0.jobs == jobs } }

        /// fleetprep frames/s at `jobs` over frames/s at `--jobs 1` (nil when either is missing).
        public func speedup(jobs: Int) -> Double? {
            guard let a = point(jobs: 1)?.fleetprepFramesPerSecond, a > 0,
                  let b = point(jobs: jobs)?.fleetprepFramesPerSecond else { return nil }
            return b / a
        }
    }

    /// One jobs value of a scaling curve.
    public struct ScalingPoint: Codable, Sendable {
        /// `fleetprep ingest --jobs N`, and the cores the ffmpeg baseline used.
        public var jobs: Int
        /// Frames decoded per wall-clock second by `fleetprep ingest` (its `framesDecoded`).
        public var fleetprepFramesPerSecond: Double
        public var fleetprepCPUSeconds: Double?
        /// Frames decoded per wall-clock second by the ffmpeg baseline (nil when ffmpeg failed or
        /// is not installed).
        public var ffmpegFramesPerSecond: Double?
        public var ffmpegCPUSeconds: Double?
        /// Frames per second of ffmpeg decoding and writing every decoded frame raw to the
        /// benchmark's scratch directory, on the same cores: the cost of putting bytes in the page
        /// cache, with no transform (nil where the workload does not measure it).
        public var ffmpegWriteFramesPerSecond: Double?

        public init(jobs: Int, fleetprepFramesPerSecond: Double, fleetprepCPUSeconds: Double? = nil,
                    ffmpegFramesPerSecond: Double? = nil, ffmpegCPUSeconds: Double? = nil,
                    ffmpegWriteFramesPerSecond: Double? = nil) {
            self.jobs = jobs; self.fleetprepFramesPerSecond = fleetprepFramesPerSecond
            self.fleetprepCPUSeconds = fleetprepCPUSeconds; self.ffmpegFramesPerSecond = ffmpegFramesPerSecond
            self.ffmpegCPUSeconds = ffmpegCPUSeconds; self.ffmpegWriteFramesPerSecond = ffmpegWriteFramesPerSecond
        }

        /// fleetprep frames/s over ffmpeg frames/s.
        public var ratio: Double? { ffmpegFramesPerSecond.flatMap { $0 > 0 ? fleetprepFramesPerSecond / $0 : nil } }
        /// fleetprep frames/s over ffmpeg's decode-and-write frames/s.
        public var writeRatio: Double? { ffmpegWriteFramesPerSecond.flatMap { $0 > 0 ? fleetprepFramesPerSecond / $0 : nil } }
    }

    /// Peak resident memory of `fleetprep ingest` at a few clip counts (it should not grow with them).
    public struct PeakMemoryCheck: Codable, Sendable {
        /// The clips, in words (size, length, codec), and the ingest options used.
        public var description: String
        public var ingestArguments: [String]
        public var runs: [Run]

        /// One ingest run of the scaling check: clips, samples and peak resident memory.
        public struct Run: Codable, Sendable {
            public var clips: Int
            public var peakResidentBytes: Int?
            public var samples: Int
            public init(clips: Int, peakResidentBytes: Int?, samples: Int) {
                self.clips = clips; self.peakResidentBytes = peakResidentBytes; self.samples = samples
            }
        }

        public init(description: String, ingestArguments: [String], runs: [Run] = []) {
            self.description = description; self.ingestArguments = ingestArguments; self.runs = runs
        }

        /// Peak RSS at the most clips over peak RSS at the fewest.
        public var ratio: Double? {
            let sorted = runs.sorted { $0.clips < $1.clips }
            guard let a = sorted.first?.peakResidentBytes, let b = sorted.last?.peakResidentBytes, a > 0, sorted.count > 1 else { return nil }
            return Double(b) / Double(a)
        }
    }
}
