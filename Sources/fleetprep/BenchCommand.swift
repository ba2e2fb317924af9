import ArgumentParser
import FleetPrep
import Foundation

/// `fleetprep bench`: this engine's speed on the bundled 1280x960 clips, next to the ffmpeg CLI,
/// measured side by side in one run (alternating contenders, best of N rounds).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure decode speed on the bundled 1280x960 samples next to `ffmpeg -f null`."
    )

    @Option(help: "Clips to measure (default: the bundled 1280x960 H.264 and HEVC samples).")
    var clip: [String] = []

    @Option(help: "Decoder thread counts to measure.")
    var threads: [Int] = [1, 2]

    @Option(help: "Times each clip is decoded per measurement.")
    var repeats = 3

    @Option(help: "Alternating rounds; the best of each contender is reported.")
    var rounds = 3

    @Flag(help: "Print the results as JSON.")
    var json = false

    @Flag(help: "Only measure the transform kernel against memcpy.")
    var kernelsOnly = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard threads.allSatisfy({ $0 >= 0 }) else { throw ValidationError("--threads must be 0 or more") }
    }

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

    func run() throws {
        if kernelsOnly {
            for c in try KernelBenchmark.run(seconds: 2) {
                print(String(format: "%@: %.2f ms/frame, %.2f GB/s; memcpy %.2f GB/s; ratio %.2f", c.name, c.millisecondsPerFrame, c.kernelGBps, c.memcpyGBps, c.ratio))
            }
            return
        }
        let clips = clip.isEmpty ? SampleClipsLocator.benchmarkClips() : clip
        guard !clips.isEmpty else {
            throw ValidationError("no clips: pass --clip FILE, or run from the repository root (SampleClips/)")
        }
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
                if !json {
                    let r = rows.last!
                    print(String(format: "%-34@ %-5@ threads=%d  fleetprep %7.1f fps   ffmpeg -f null %@   ratio %@",
                                 (path as NSString).lastPathComponent, r.codec, t, r.fleetprepFramesPerSecond,
                                 r.ffmpegFramesPerSecond.map { String(format: "%7.1f fps", $0) } ?? "n/a",
                                 r.ratio.map { String(format: "%.2f", $0) } ?? "n/a"))
                }
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try enc.encode(rows), as: UTF8.self))
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
