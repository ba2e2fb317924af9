import ArgumentParser
import FleetBench
import FleetKernels
import FleetPlanner
import FleetPrep
import Foundation

/// `fleetprep bench`: this engine's speed on the bundled 1280x960 clips, next to the ffmpeg CLI,
/// measured side by side in one run (alternating contenders, best of N rounds).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure decode, kernel and ingest speed on the bundled 1280x960 samples, and ingest scaling with --jobs on generated workloads, next to ffmpeg, in one run (--json: the report `fleetprep plan --bench` reads)."
    )

    @Option(help: "Clips to measure (default: the bundled 1280x960 H.264 and HEVC samples).")
    var clip: [String] = []

    @Option(help: "Decoder thread counts to measure.")
    var threads: [Int] = [1, 2]

    @Option(help: "Times each clip is decoded per measurement.")
    var repeats = 3

    @Option(help: "Alternating rounds; the best of each contender is reported.")
    var rounds = 2

    @Flag(help: "Print the results as JSON.")
    var json = false

    @Flag(help: "Only measure the transform kernel against memcpy.")
    var kernelsOnly = false

    struct Row: Encodable {
        var clip: String
        var codec: String
        var width: Int
        var height: Int
        var threads: Int
        var fleetprepFramesPerSecond: Double
        var ffmpegFramesPerSecond: Double?
        var ratio: Double?
        var fleetprepCPUSeconds: Double
        var ffmpegCPUSeconds: Double?
    }

    @Option(help: "Copies of each clip in the end-to-end ingest batch.")
    var batchCopies = 4

    @Flag(help: "Skip the end-to-end ingest section on the bundled samples (the scaling curve and peak-RSS check have their own flags).")
    var skipIngest = false

    @Option(help: "Where ingest benchmark output goes (default /dev/shm, a RAM disk, when present).")
    var scratch: String?

    @Flag(help: "Only measure the scaling curve (and the peak-RSS check unless --skip-rss).")
    var scalingOnly = false

    @Flag(help: "Skip the scaling curve (the peak-RSS check still runs unless --skip-rss).")
    var skipScaling = false

    @Option(help: "Largest --jobs of the scaling curve, measured at 1, 2, 4, … and this (default: the number of cores).")
    var maxJobs: Int?

    @Option(help: "Scaling, many-clips workload: single-camera 1280x960 clips.")
    var scalingClips = 16

    @Option(help: "Scaling: seconds of each clip of the many-clips and camera-groups workloads.")
    var scalingClipSeconds = 3

    @Option(help: "Scaling, long-clip workload: its length in seconds.")
    var scalingLongSeconds = 12

    @Option(help: "Scaling, camera-groups workload: 8-camera group directories.")
    var scalingGroups = 2

    @Option(help: "Scaling workload to run: many-clips, long-clip or camera-groups (repeatable; default all three).")
    var workload: [String] = []

    @Option(help: "Codec of the scaling workloads: h264 (a key frame every second) or hevc (one key frame per clip, as fleet uploads come; each clip is --scaling-long-seconds long).")
    var scalingCodec = "h264"

    @Flag(help: "Keep the generated scaling clips in the scratch directory; a later run with the same sizes reuses them.")
    var keepWorkloads = false

    @Flag(help: "Skip the peak-RSS check (tiny clips ingested at each --rss-clips count).")
    var skipRss = false

    @Option(help: "Clip counts of the peak-RSS check.")
    var rssClips: [Int] = [100, 400]

    static let workloadNames = ["many-clips", "long-clip", "camera-groups"]

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard threads.allSatisfy({ $0 >= 0 }) else { throw ValidationError("--threads must be 0 or more") }
        if let maxJobs, maxJobs < 1 { throw ValidationError("--max-jobs must be at least 1") }
        guard scalingClips >= 1, scalingGroups >= 1 else { throw ValidationError("--scaling-clips and --scaling-groups must be at least 1") }
        guard scalingClipSeconds >= 1, scalingLongSeconds >= 1 else { throw ValidationError("--scaling-clip-seconds and --scaling-long-seconds must be at least 1") }
        guard rssClips.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--rss-clips must be at least 1") }
        for w in workload where !Self.workloadNames.contains(w) {
            throw ValidationError("--workload \(w): expected one of \(Self.workloadNames.joined(separator: ", "))")
        }
        guard ["h264", "hevc"].contains(scalingCodec) else { throw ValidationError("--scaling-codec: expected h264 or hevc") }
        guard !(scalingOnly && skipScaling) else { throw ValidationError("--scaling-only and --skip-scaling exclude each other") }
    }

    func say(_ line: String) { if !json { print(line) } }

    var scratchRoot: URL {
        URL(fileURLWithPath: scratch ?? (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()))
    }

    func run() throws {
        if kernelsOnly {
            for c in try KernelBenchmark.run(seconds: 2) {
                print(String(format: "%@: %.2f ms/frame, %.2f GB/s; memcpy %.2f GB/s; ratio %.2f", c.name, c.millisecondsPerFrame, c.kernelGBps, c.memcpyGBps, c.ratio))
            }
            return
        }
        var report = EngineSpeedReport(machine: IngestBenchmark.machine(), measurements: [])
        if !scalingOnly { try engineSections(&report) }
        if !skipScaling || !skipRss {
            let settings = ScalingBenchmark.Settings(
                scratch: scratchRoot, maxJobs: maxJobs ?? ProcessInfo.processInfo.activeProcessorCount, rounds: rounds,
                clips: scalingClips, clipSeconds: scalingClipSeconds, longSeconds: scalingLongSeconds, groups: scalingGroups,
                only: Set(workload), keepWorkloads: keepWorkloads, codec: scalingCodec)
            if let bench = ScalingBenchmark(settings: settings, say: { say($0) }) {
                if !skipScaling { report.scaling = try bench.run() }
                if !skipRss { report.peakMemory = try bench.peakMemory(counts: rssClips, jobs: settings.maxJobs) }
            } else {
                say("== scaling and peak RSS: skipped, no ffmpeg CLI on PATH (bash scripts/bootstrap.sh installs it)")
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        }
    }

    /// Decode, kernel and end-to-end ingest on the bundled samples (or --clip).
    func engineSections(_ report: inout EngineSpeedReport) throws {
        let clips = clip.isEmpty ? SampleClipsLocator.benchmarkClips() : clip
        guard !clips.isEmpty else {
            throw ValidationError("no clips: pass --clip FILE, or run from the repository root (SampleClips/)")
        }
        say("== decode: fleetprep vs ffmpeg -f null (best of \(rounds) alternating rounds, \(repeats) passes each)")
        var rows: [Row] = []
        for path in clips {
            let info = try VideoDecoder.probe(path: path)
            let framesPerPass = try VideoDecoder(path: path).countFrames()
            for t in threads {
                var ours: RunMeasurement? = nil, theirs: RunMeasurement? = nil
                for _ in 0..<rounds {
                    let a = try DecodeBenchmark.fleetprep(clip: path, threads: t, repeats: repeats)
                    if ours == nil || a.perSecond > ours!.perSecond { ours = a }
                    if let b = DecodeBenchmark.ffmpeg(clip: path, threads: t, repeats: repeats, framesPerPass: framesPerPass),
                       theirs == nil || b.perSecond > theirs!.perSecond { theirs = b }
                }
                rows.append(Row(clip: path, codec: info.codec, width: info.width, height: info.height, threads: t,
                                fleetprepFramesPerSecond: ours!.perSecond, ffmpegFramesPerSecond: theirs?.perSecond,
                                ratio: theirs.map { ours!.perSecond / $0.perSecond },
                                fleetprepCPUSeconds: ours!.cpuSeconds, ffmpegCPUSeconds: theirs?.cpuSeconds))
                let r = rows.last!
                report.measurements.append(.init(codec: info.codec, width: info.width, height: info.height, stage: "decode", threads: t,
                                                 framesPerSecond: r.fleetprepFramesPerSecond, cpuSeconds: r.fleetprepCPUSeconds,
                                                 framesPerCoreSecond: ours!.perCPUSecond, ffmpegFramesPerSecond: r.ffmpegFramesPerSecond))
                say(String(format: "%-22@ %-5@ threads=%d  fleetprep %7.1f fps   ffmpeg -f null %@   ratio %@",
                           (path as NSString).lastPathComponent, r.codec, t, r.fleetprepFramesPerSecond,
                           r.ffmpegFramesPerSecond.map { String(format: "%7.1f fps", $0) } ?? "n/a",
                           r.ratio.map { String(format: "%.2f", $0) } ?? "n/a"))
            }
        }

        say("== transform kernel vs memcpy of the same output bytes (alternating, best of each)")
        for c in try KernelBenchmark.run(seconds: 1) {
            say(String(format: "%@: %.2f ms/frame, %.2f GB/s; memcpy %.2f GB/s; kernel/memcpy %.3f", c.name, c.millisecondsPerFrame, c.kernelGBps, c.memcpyGBps, c.ratio))
        }
        say("== decode only vs decode + transform to 640x480 ImageNet float16 CHW (1 thread)")
        for path in clips {
            let info = try VideoDecoder.probe(path: path)
            guard info.pixelFormat == .yuv420p else { continue }
            let (dec, both, cpu, frames) = try IngestBenchmark.decodeVersusTransform(path)
            report.measurements.append(.init(codec: info.codec, width: info.width, height: info.height, stage: "transform", threads: 1,
                                             framesPerSecond: both, cpuSeconds: cpu, framesPerCoreSecond: cpu > 0 ? Double(frames) / cpu : both,
                                             outputBytesPerSecond: both * 640 * 480 * 3 * 2))
            say(String(format: "%-22@ decode %7.1f fps   decode+transform %7.1f fps   transform adds %.0f%% to decode time",
                       (path as NSString).lastPathComponent, dec, both, (dec / both - 1) * 100))
        }
        say("== decode only vs decode + transform to 224x224 u8 HWC, no normalization (1 thread; a large downscale)")
        for path in clips {
            guard try VideoDecoder.probe(path: path).pixelFormat == .yuv420p else { continue }
            let cfg = TransformConfig(outputWidth: 224, outputHeight: 224, normalization: .none, dtype: .u8, layout: .hwc)
            let (dec, both, _, _) = try IngestBenchmark.decodeVersusTransform(path, config: cfg)
            say(String(format: "%-22@ decode %7.1f fps (%.2f ms/frame)   decode+transform %7.1f fps (%.2f ms/frame)   transform adds %.0f%% to decode time",
                       (path as NSString).lastPathComponent, dec, 1e3 / dec, both, 1e3 / both, (dec / both - 1) * 100))
        }

        if !skipIngest {
            let root = scratchRoot
            let common = ["--size", "640x480", "--dtype", "f16", "--layout", "chw", "--normalize", "imagenet", "--target", "256MiB", "--decoder-threads", "1"]
            // A batch: `batchCopies` copies of each clip (distinct files, so none is skipped as a
            // duplicate), so that start-up is amortized and two jobs have clips to share.
            let batch = root.appendingPathComponent("bench-batch-\(UUID().uuidString.prefix(6))")
            try FileManager.default.createDirectory(at: batch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: batch) }
            var batchClips: [String] = []
            for k in 0..<max(1, batchCopies) {
                for c in clips {
                    let u = URL(fileURLWithPath: c)
                    let copy = batch.appendingPathComponent("\(u.deletingPathExtension().lastPathComponent)-\(k).\(u.pathExtension)")
                    try FileManager.default.copyItem(atPath: c, toPath: copy.path)
                    batchClips.append(copy.path)
                }
            }
            say("== ingest end to end (\(batchClips.count) clips: \(max(1, batchCopies)) copies of each → 640x480 f16 CHW native shards in \(root.path)) vs ffmpeg -f null on the same files, same threads; best of \(rounds) alternating rounds")
            var perJobs: [Int: Double] = [:]
            for jobs in [1, 2] {
                var best: IngestBenchmark.Run? = nil
                var bestFF: (wall: Double, cpu: Double, frames: Int)? = nil
                for _ in 0..<max(1, rounds) {
                    let ing = try IngestBenchmark.ingest([batch.path], common + ["--jobs", "\(jobs)"], root: root)
                    if best == nil || ing.fps > best!.fps { best = ing }
                    if let ff = IngestBenchmark.ffmpeg(batchClips, threads: jobs), bestFF == nil || ff.wall < bestFF!.wall { bestFF = ff }
                }
                let ing = best!
                perJobs[jobs] = ing.fps
                say(String(format: "jobs %d: fleetprep ingest %7.1f frames/s (%.2f CPU s)   ffmpeg -threads %d -f null %@   ratio %@",
                           jobs, ing.fps, ing.cpu, jobs, bestFF.map { String(format: "%7.1f frames/s", Double($0.frames) / $0.wall) } ?? "n/a",
                           bestFF.map { String(format: "%.2f", ing.fps / (Double($0.frames) / $0.wall)) } ?? "n/a"))
            }
            if let a = perJobs[1], let b = perJobs[2] { say(String(format: "jobs 2 / jobs 1: %.2fx", b / a)) }
            for path in clips {
                let info = try VideoDecoder.probe(path: path)
                let ing = try IngestBenchmark.ingest([path], common + ["--jobs", "1"], root: root)
                report.measurements.append(.init(codec: info.codec, width: info.width, height: info.height, stage: "ingest", threads: 1,
                                                 framesPerSecond: ing.fps, cpuSeconds: ing.cpu,
                                                 framesPerCoreSecond: ing.cpu > 0 ? Double(ing.frames) / ing.cpu : ing.fps,
                                                 outputBytesPerSecond: ing.fps * 640 * 480 * 3 * 2))
            }
            let strided = try IngestBenchmark.ingest([batch.path], common + ["--jobs", "1", "--stride", "3"], root: root)
            let covered = Double(strided.samples * 3) / strided.wall
            let ff1 = IngestBenchmark.ffmpeg(batchClips, threads: 1)
            say(String(format: "--stride 3, jobs 1: %.1f frames of video covered/s (%d samples in %.2f s) vs full decode-only %@",
                       covered, strided.samples, strided.wall, ff1.map { String(format: "%.1f frames/s", Double($0.frames) / $0.wall) } ?? "n/a"))
            let disk = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".bench-scratch")
            try? FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: disk) }
            let onDisk = try IngestBenchmark.ingest(clips, common + ["--jobs", "2"], root: disk)
            say(String(format: "on disk (%@), jobs 2, the %d clips once: %.1f frames/s", disk.path, clips.count, onDisk.fps))
            // Peak memory against the number of clips: the scaling section's check (--rss-clips).
        }
    }
}

/// Finds the bundled sample clips from the current directory or the executable's location.
enum SampleClipsLocator {
    static func directory() -> URL? {
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 { candidates.append(exe); exe.deleteLastPathComponent() }
        for c in candidates {
            let d = c.appendingPathComponent("SampleClips")
            if FileManager.default.fileExists(atPath: d.appendingPathComponent("h264_1280x960.mp4").path) { return d }
        }
        return nil
    }

    static func benchmarkClips() -> [String] {
        guard let d = directory() else { return [] }
        return ["h264_1280x960.mp4", "hevc_1280x960.mp4"].map { d.appendingPathComponent($0).path }
    }
}
