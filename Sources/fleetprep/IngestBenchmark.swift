import FleetBench
import FleetKernels
import FleetPlanner
import FleetPrep
import Foundation

/// End-to-end measurements for `fleetprep bench`: this executable's own `ingest` run as a child
/// process (so its CPU time and peak memory are its own), next to `ffmpeg -f null` decoding the
/// same clips with the same number of threads, in one run.
enum IngestBenchmark {
    struct Run {
        var wall: Double
        var cpu: Double
        var frames: Int
        var samples: Int
        var peakRSS: Int?
        /// Clips the run could not ingest, and its exit status.
        var clipsFailed = 0
        var exitStatus: Int32 = 0
        var fps: Double { Double(frames) / wall }
    }

    static var executable: String { URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path }

    /// Runs `fleetprep ingest` with `args` into a fresh directory under `root`.
    static func ingest(_ clips: [String], _ args: [String], root: URL) throws -> Run {
        let out = root.appendingPathComponent("bench-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["ingest"] + clips + ["--out", out.path, "--json", "--quiet"] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        // stderr into a file, for the error message when the run fails.
        let errURL = root.appendingPathComponent("bench-\(UUID().uuidString.prefix(8)).stderr")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer { try? errHandle.close() }
        p.standardError = errHandle
        let cpu0 = RunMeasurement.cpuSeconds(children: true)
        let t0 = DispatchTime.now().uptimeNanoseconds
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let summary: IngestSummary
        do {
            summary = try JSONDecoder().decode(IngestSummary.self, from: data)
        } catch {
            let tail = FileManager.default.contents(atPath: errURL.path).map { String(decoding: $0.suffix(400), as: UTF8.self) } ?? ""
            throw BenchError("fleetprep ingest exited with \(p.terminationStatus) without a JSON summary: "
                             + (tail.isEmpty ? "\(error)" : tail.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return Run(wall: wall, cpu: RunMeasurement.cpuSeconds(children: true) - cpu0, frames: summary.framesDecoded,
                   samples: summary.samples, peakRSS: summary.peakResidentBytes, clipsFailed: summary.clipsFailed,
                   exitStatus: p.terminationStatus)
    }

    /// ffmpeg decoding each clip once with `threads`, one after the other.
    static func ffmpeg(_ clips: [String], threads: Int) -> (wall: Double, cpu: Double, frames: Int)? {
        var wall = 0.0, cpu = 0.0, frames = 0
        for c in clips {
            guard let n = try? VideoDecoder(path: c).countFrames(),
                  let m = DecodeBenchmark.ffmpeg(clip: c, threads: threads, repeats: 1, framesPerPass: n) else { return nil }
            wall += m.wallSeconds; cpu += m.cpuSeconds; frames += n
        }
        return (wall, cpu, frames)
    }

    /// Decode-only vs decode + transform (1280x960 → 640x480 bilinear ImageNet float16 CHW) in
    /// this process, one decoder thread. Returns (decode fps, decode+transform fps, cpu s of the latter, frames).
    /// Decode-only and decode + transform frames/s of `clip` on one thread (best of `rounds`),
    /// transforming to `config` (default 640x480 ImageNet float16 CHW).
    static func decodeVersusTransform(_ clip: String, rounds: Int = 3,
                                      config: TransformConfig = TransformConfig(outputWidth: 640, outputHeight: 480, normalization: .imagenet, dtype: .f16, layout: .chw))
        throws -> (Double, Double, Double, Int) {
        var bestDecode = 0.0, bestBoth = 0.0, cpuBoth = 0.0, frames = 0
        for _ in 0..<rounds {
            let d = try DecodeBenchmark.fleetprep(clip: clip, threads: 1, repeats: 1)
            bestDecode = max(bestDecode, d.perSecond)
            let info = try VideoDecoder.probe(path: clip)
            let t = try FrameTransformer(config: config, sourceWidth: info.width, sourceHeight: info.height, sourceFormat: .yuv420p,
                                         streamMatrix: .bt601, streamRange: .limited)
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: t.outputByteCount, alignment: 64)
            defer { out.deallocate() }
            let m = try RunMeasurement.of {
                let dec = try VideoDecoder(path: clip, options: DecoderOptions(threads: 1))
                var n = 0
                try dec.forEachFrame { f in
                    let img = SourceImage(format: .yuv420p, width: f.width, height: f.height,
                                          plane0: f.plane(0).base, stride0: f.plane(0).stride,
                                          plane1: f.plane(1).base, stride1: f.plane(1).stride,
                                          plane2: f.plane(2).base, stride2: f.plane(2).stride)
                    try t.transform(img, into: out)
                    n += 1
                }
                blackHole(out[0])
                return Double(n)
            }
            if m.perSecond > bestBoth { bestBoth = m.perSecond; cpuBoth = m.cpuSeconds; frames = Int(m.units) }
        }
        return (bestDecode, bestBoth, cpuBoth, frames)
    }

    static func machine() -> EngineSpeedReport.Machine {
        var model = "unknown CPU"
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let v = line.split(separator: ":", maxSplits: 1).last {
            model = v.trimmingCharacters(in: .whitespaces)
        }
        return .init(cpuModel: model, cores: ProcessInfo.processInfo.activeProcessorCount,
                     os: ProcessInfo.processInfo.operatingSystemVersionString)
    }
}

/// A benchmark step that could not be measured.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
