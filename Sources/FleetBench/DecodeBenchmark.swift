import FleetMedia
import Foundation

/// Decode-speed measurements of this engine next to the ffmpeg CLI, taken in one run.
public enum DecodeBenchmark {
    /// Decodes `clip` `repeats` times with `threads` decoder threads, touching each frame's first
    /// luma byte (so that nothing is optimized away). Units: frames.
    public static func fleetprep(clip: String, threads: Int, repeats: Int) throws -> RunMeasurement {
        try RunMeasurement.of {
            var frames = 0
            var checksum = 0
            for _ in 0..<repeats {
                let d = try VideoDecoder(path: clip, options: DecoderOptions(threads: threads))
                try d.forEachFrame { f in
                    checksum &+= Int(f.plane(0).row(0)[0])
                    frames += 1
                }
            }
            blackHole(checksum)
            return Double(frames)
        }
    }

    /// `ffmpeg -threads N -stream_loop R-1 -i clip -map 0:v:0 -f null -`, decoding the clip R times.
    /// Units: frames (`framesPerPass × repeats`). Nil when ffmpeg is not installed or fails.
    public static func ffmpeg(clip: String, threads: Int, repeats: Int, framesPerPass: Int,
                              extraArguments: [String] = []) -> RunMeasurement? {
        guard let exe = findExecutable("ffmpeg") else { return nil }
        let args = ["-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "\(threads)",
                    "-stream_loop", "\(repeats - 1)", "-i", clip, "-map", "0:v:0"] + extraArguments + ["-f", "null", "-"]
        return RunMeasurement.ofProcess(exe, args, units: Double(framesPerPass * repeats))
    }
}

/// Keeps a value alive so the optimizer cannot drop the work that produced it.
@inline(never) public func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

/// The full path of an executable found on PATH, or nil.
public func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}
