import FleetBench
import FleetPlanner
import FleetPrep
import Foundation

/// The scaling curve of `fleetprep bench`: `fleetprep ingest --jobs N` (a child process) against
/// the ffmpeg CLI decoding the same files on N cores, for N = 1, 2, 4, … up to `--max-jobs`, on
/// three generated workloads (the shapes of ../shared/device/scaling.sh), plus a peak-RSS check
/// against the number of clips.
struct ScalingBenchmark {
    struct Settings {
        var scratch: URL
        var maxJobs: Int
        var rounds: Int
        /// Many-clips workload: this many single-camera clips …
        var clips: Int
        /// … of this many seconds (also the length of each camera in the groups).
        var clipSeconds: Int
        /// Long-clip workload: one clip of this many seconds.
        var longSeconds: Int
        /// Camera-groups workload: this many 8-camera group directories.
        var groups: Int
        /// Workloads to run (many-clips, long-clip, camera-groups); empty: all.
        var only: Set<String>
        /// Keep the generated clips in the scratch directory for the next run (reused when present).
        var keepWorkloads: Bool
        /// `h264` (key frame every second) or `hevc` (one key frame per clip: the fleet upload
        /// case that cannot be split at key frames; every clip is the long clip, linked).
        var codec: String = "h264"
    }

    /// Source video of every workload: 1280x960, 30 fps, key frame every 30 frames, H.264 High.
    static let width = 1280, height = 960, rate = 30

    /// One measured workload.
    struct Workload {
        var name: String
        var description: String
        /// What `fleetprep ingest` gets as inputs (a directory or files).
        var inputs: [String]
        /// The video files, for the ffmpeg baseline.
        var files: [String]
        var frames: Int
        var ingestArguments: [String]
        /// True: N concurrent `ffmpeg -threads 1` over the files; false: one `ffmpeg -threads N`.
        var processPerFile: Bool
        /// Also time ffmpeg writing the decoded frames raw (yuv420p) to the scratch directory:
        /// for the long clip, 1280x960 yuv420p is 1,843,200 bytes a frame, as many as fleetprep
        /// writes (a 3x480x640 f16 tensor), so the two write the same bytes and ffmpeg transforms
        /// nothing.
        var writeBaseline = false
    }

    let settings: Settings
    let ffmpeg: String
    let say: (String) -> Void

    init?(settings: Settings, say: @escaping (String) -> Void) {
        guard let ffmpeg = findExecutable("ffmpeg") else { return nil }
        self.settings = settings
        self.ffmpeg = ffmpeg
        self.say = say
    }

    /// 1, 2, 4, … below `maxJobs`, then `maxJobs`.
    static func jobsValues(max: Int) -> [Int] {
        var js = [1]
        var j = 2
        while j < max { js.append(j); j *= 2 }
        if max > 1 { js.append(max) }
        return js
    }

    // MARK: workloads

    /// The directory the generated clips go to: named by their parameters, so that a kept one is
    /// reused by a run with the same sizes.
    var workloadDirectory: URL {
        settings.scratch.appendingPathComponent("fleetprep-bench-scaling-\(settings.codec)-c\(settings.clips)x\(settings.clipSeconds)s-l\(settings.longSeconds)s-g\(settings.groups)")
    }

    static let cameras = ["main", "narrow", "wide", "left_pillar", "right_pillar", "left_repeater", "right_repeater", "rear"]

    /// Encodes the source clip(s) with the ffmpeg CLI and lays out the three workloads:
    /// `long.mp4` (the long clip), `clips/clipNNN.mp4` and `groups/event_NN/<camera>.mp4`. The
    /// short clips are distinct `clipSeconds` segments of one noisy encode, cut at key frames
    /// (stream copy, timestamps restarting at 0), hard-linked (else copied) as often as needed.
    func makeWorkloads() throws -> [Workload] {
        let fm = FileManager.default
        let dir = workloadDirectory
        let done = dir.appendingPathComponent(".complete")
        let t0 = DispatchTime.now().uptimeNanoseconds
        let reused = fm.fileExists(atPath: done.path)
        if !reused {
            try? fm.removeItem(at: dir)
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            let hevc = settings.codec == "hevc"
            let sourceSeconds = hevc ? settings.longSeconds : max(settings.longSeconds, settings.clipSeconds)
            let source = dir.appendingPathComponent("source.mp4").path
            // Temporal + uniform noise, so that the decoder does realistic work (about 5 Mbit/s,
            // like a 1280x960 car camera).
            let encoder = hevc
                ? ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=100000:min-keyint=100000:scenecut=0", "-tag:v", "hvc1"]
                : ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "\(Self.rate)", "-keyint_min", "\(Self.rate)", "-sc_threshold", "0"]
            try ffmpegOrThrow(["-f", "lavfi", "-i", "testsrc2=size=\(Self.width)x\(Self.height):rate=\(Self.rate):duration=\(sourceSeconds)",
                               "-vf", "noise=alls=12:allf=t+u"] + encoder + ["-pix_fmt", "yuv420p", "-an", source])
            let long = dir.appendingPathComponent("long.mp4").path
            if sourceSeconds == settings.longSeconds {
                try fm.moveItem(atPath: source, toPath: long)
            } else {
                try ffmpegOrThrow(["-i", source, "-map", "0:v", "-c", "copy", "-t", "\(settings.longSeconds)", long])
            }
            var whole: [String] = [long]
            if !hevc {
                let segments = dir.appendingPathComponent("segments")
                try fm.createDirectory(at: segments, withIntermediateDirectories: true)
                try ffmpegOrThrow(["-i", fm.fileExists(atPath: source) ? source : long, "-map", "0:v", "-c", "copy", "-f", "segment",
                                   "-segment_time", "\(settings.clipSeconds)", "-reset_timestamps", "1",
                                   segments.appendingPathComponent("seg%03d.mp4").path])
                // Whole segments only (the last one may be short).
                let segs = try fm.contentsOfDirectory(atPath: segments.path).filter { $0.hasSuffix(".mp4") }.sorted()
                    .map { segments.appendingPathComponent($0).path }
                let counts = segs.map { Self.frameCount($0) ?? 0 }
                let full = settings.clipSeconds * Self.rate
                whole = zip(segs, counts).filter { $0.1 >= full }.map { $0.0 }
                if whole.isEmpty { whole = zip(segs, counts).filter { $0.1 > 0 }.max { $0.1 < $1.1 }.map { [$0.0] } ?? [] }
            }
            guard !whole.isEmpty else { throw BenchError("scaling: could not cut \(settings.clipSeconds) s segments from \(source)") }
            func place(_ from: String, _ to: URL) throws {
                try fm.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
                if link(from, to.path) != 0 { try fm.copyItem(atPath: from, toPath: to.path) }
            }
            for i in 0..<settings.clips {
                try place(whole[i % whole.count], dir.appendingPathComponent(String(format: "clips/clip%03d.mp4", i)))
            }
            for g in 0..<settings.groups {
                for cam in Self.cameras {
                    // All cameras of a group from one segment: stream-copied segments after the
                    // first start 2 frames late (B-frame delay without an edit list), and the
                    // cameras of a group must share their clock or camera sync drops ticks.
                    try place(whole[g % whole.count], dir.appendingPathComponent(String(format: "groups/event_%02d/%@.mp4", g + 1, cam)))
                }
            }
            try? fm.removeItem(atPath: source)
            _ = fm.createFile(atPath: done.path, contents: Data())
        }
        let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        func files(_ sub: String) -> [String] {
            let root = dir.appendingPathComponent(sub)
            let e = fm.enumerator(atPath: root.path)
            var out: [String] = []
            while let p = e?.nextObject() as? String {
                if p.hasSuffix(".mp4") { out.append(root.appendingPathComponent(p).path) }
            }
            return out.sorted()
        }
        func frames(_ fs: [String]) -> Int {
            var cache: [String: Int] = [:]   // by inode: the copies are links of a few segments
            return fs.reduce(0) { sum, f in
                let a = try? fm.attributesOfItem(atPath: f)
                let key = (a?[.systemFileNumber]).map { "\($0)" } ?? f
                if cache[key] == nil { cache[key] = Self.frameCount(f) ?? 0 }
                return sum + cache[key]!
            }
        }
        let long = dir.appendingPathComponent("long.mp4").path
        let clips = files("clips"), groups = files("groups")
        let hevc = settings.codec == "hevc"
        let video = "\(Self.width)x\(Self.height) \(Self.rate) fps " + (hevc ? "HEVC, one key frame" : "H.264")
        let clipSeconds = hevc ? settings.longSeconds : settings.clipSeconds
        var all: [Workload] = [
            Workload(name: "many-clips",
                     description: "\(clips.count) single-camera clips × \(clipSeconds) s, \(video) → --size 224x224 --dtype u8 --normalize none",
                     inputs: [dir.appendingPathComponent("clips").path], files: clips, frames: frames(clips),
                     ingestArguments: ["--size", "224x224", "--dtype", "u8", "--normalize", "none"], processPerFile: true),
            Workload(name: "long-clip",
                     description: "1 clip × \(settings.longSeconds) s, \(video)" + (hevc ? "" : ", key frame every \(Self.rate) frames") + " → --size 640x480 --dtype f16",
                     inputs: [long], files: [long], frames: frames([long]),
                     ingestArguments: ["--size", "640x480", "--dtype", "f16"], processPerFile: false, writeBaseline: true),
            Workload(name: "camera-groups",
                     description: "\(settings.groups) groups × 8 cameras × \(clipSeconds) s, \(video) → --size 320x240 --dtype f16",
                     inputs: [dir.appendingPathComponent("groups").path], files: groups, frames: frames(groups),
                     ingestArguments: ["--size", "320x240", "--dtype", "f16"], processPerFile: true),
        ]
        if !settings.only.isEmpty { all = all.filter { settings.only.contains($0.name) } }
        say(String(format: "workloads in %@ (%@ in %.1f s)", dir.path,
                   reused ? "reused" : "generated with the ffmpeg CLI", secs))
        return all
    }

    /// Video frames of `path` (packets of its first video stream, by ffprobe; else decoded).
    static func frameCount(_ path: String) -> Int? {
        if let ffprobe = findExecutable("ffprobe") {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ffprobe)
            p.arguments = ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets",
                           "-of", "csv=p=0", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            if (try? p.run()) != nil {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                if p.terminationStatus == 0,
                   let n = Int(String(decoding: data, as: UTF8.self).split(separator: ",").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") {
                    return n
                }
            }
        }
        return try? VideoDecoder(path: path).countFrames()
    }

    private func ffmpegOrThrow(_ args: [String]) throws {
        let err = settings.scratch.appendingPathComponent("fleetprep-bench-ffmpeg-\(getpid()).stderr").path
        defer { try? FileManager.default.removeItem(atPath: err) }
        guard let r = ChildProcess.run(ffmpeg, ["-hide_banner", "-nostdin", "-v", "error", "-y"] + args, stderrFile: err), r.status == 0 else {
            let tail = (FileManager.default.contents(atPath: err)).map { String(decoding: $0.suffix(400), as: UTF8.self) } ?? ""
            throw BenchError("scaling: ffmpeg \(args.joined(separator: " ")) failed: \(tail)")
        }
    }

    // MARK: measurements

    /// The ffmpeg decode-only baseline on `jobs` cores: frames per second and CPU seconds.
    func baseline(_ w: Workload, jobs: Int) -> (fps: Double, cpu: Double)? {
        timeFFmpeg(w, jobs: jobs, what: "baseline") { _ in ["-f", "null", "-"] }
    }

    /// ffmpeg decoding `w`'s one file on `jobs` threads and writing every frame raw (yuv420p) to
    /// the scratch directory: frames per second (see `Workload.writeBaseline`).
    func writeBaseline(_ w: Workload, jobs: Int) -> Double? {
        timeFFmpeg(w, jobs: jobs, what: "write baseline") { tmp in
            ["-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", tmp.appendingPathComponent("frames.yuv").path]
        }?.fps
    }

    /// Runs ffmpeg over `w`'s files on `jobs` cores, decoding the first video stream into the
    /// output `output` gives for a scratch directory (removed afterwards); frames per second and
    /// CPU seconds.
    private func timeFFmpeg(_ w: Workload, jobs: Int, what: String, output: (URL) -> [String]) -> (fps: Double, cpu: Double)? {
        let tmp = settings.scratch.appendingPathComponent("fleetprep-bench-baseline-\(getpid())")
        try? FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let exe = ffmpeg, out = output(tmp)
        let threads = w.processPerFile ? 1 : jobs
        let r = ChildProcess.runQueue(w.files, slots: w.processPerFile ? jobs : 1, stderrDirectory: tmp) { file in
            (exe, ["-hide_banner", "-nostdin", "-v", "error", "-threads", "\(threads)", "-i", file, "-map", "0:v:0"] + out)
        }
        switch r {
        case .success(let m): return (Double(w.frames) / m.wall, m.cpu)
        case .failure(let f): say("  ffmpeg \(what) failed: \(f.message)"); return nil
        }
    }

    func baselineDescription(_ w: Workload) -> String {
        w.processPerFile
            ? "N concurrent `ffmpeg -threads 1 -i FILE -f null -` processes over the \(w.files.count) files (a work queue over N slots)"
            : "`ffmpeg -threads N -i FILE -f null -`"
    }

    /// Measures every workload at every jobs value; prints as it goes.
    func run() throws -> [EngineSpeedReport.ScalingCurve] {
        let jobs = Self.jobsValues(max: settings.maxJobs)
        say("== scaling: fleetprep ingest --jobs N vs ffmpeg decode-only on N cores, N = \(jobs.map(String.init).joined(separator: ", ")) (\(ProcessInfo.processInfo.activeProcessorCount) cores here); frames decoded per second, best of \(settings.rounds) alternating rounds")
        defer { if !settings.keepWorkloads { try? FileManager.default.removeItem(at: workloadDirectory) } }
        let workloads = try makeWorkloads()
        var curves: [EngineSpeedReport.ScalingCurve] = []
        for w in workloads {
            say("-- \(w.name): \(w.description) (\(w.frames) frames); ffmpeg: \(baselineDescription(w))")
            var curve = EngineSpeedReport.ScalingCurve(
                workload: w.name, description: w.description, codec: settings.codec, width: Self.width, height: Self.height,
                sourceFramesPerSecond: Double(Self.rate), files: w.files.count, frames: w.frames,
                ingestArguments: w.ingestArguments, baseline: baselineDescription(w))
            for j in jobs {
                var best: IngestBenchmark.Run? = nil
                var bestFF: (fps: Double, cpu: Double)? = nil
                var bestWrite: Double? = nil
                var failure: String? = nil
                for _ in 0..<settings.rounds {
                    do {
                        let r = try IngestBenchmark.ingest(w.inputs, w.ingestArguments + ["--jobs", "\(j)"], root: settings.scratch)
                        if r.clipsFailed > 0 || r.frames == 0 {
                            failure = "\(r.clipsFailed) clip(s) failed, \(r.frames) frames decoded (exit \(r.exitStatus))"
                        }
                        if best == nil || r.fps > best!.fps { best = r }
                    } catch {
                        failure = "fleetprep ingest failed: \(error)"
                    }
                    if let f = baseline(w, jobs: j), bestFF == nil || f.fps > bestFF!.fps { bestFF = f }
                    if w.writeBaseline, let f = writeBaseline(w, jobs: j), f > (bestWrite ?? 0) { bestWrite = f }
                }
                if let failure { say("  jobs \(j): \(failure)") }
                guard let best else { continue }
                if best.frames != w.frames {
                    say("  note: fleetprep decoded \(best.frames) frames, the files hold \(w.frames)")
                }
                let p = EngineSpeedReport.ScalingPoint(jobs: j, fleetprepFramesPerSecond: best.fps, fleetprepCPUSeconds: best.cpu,
                                                      ffmpegFramesPerSecond: bestFF?.fps, ffmpegCPUSeconds: bestFF?.cpu,
                                                      ffmpegWriteFramesPerSecond: bestWrite)
                curve.points.append(p)
                let ffSpeedup: Double? = {
                    guard let a = curve.point(jobs: 1)?.ffmpegFramesPerSecond, a > 0, let b = p.ffmpegFramesPerSecond else { return nil }
                    return b / a
                }()
                say(String(format: "jobs %2d: fleetprep %7.1f fps (%5.1f CPU s)   ffmpeg %@   ratio %@   vs jobs 1: fleetprep %@, ffmpeg %@",
                           j, p.fleetprepFramesPerSecond, best.cpu,
                           p.ffmpegFramesPerSecond.map { String(format: "%7.1f fps (%5.1f CPU s)", $0, bestFF!.cpu) } ?? "n/a",
                           p.ratio.map { String(format: "%.2f", $0) } ?? "n/a",
                           curve.speedup(jobs: j).map { String(format: "%.2fx", $0) } ?? "n/a",
                           ffSpeedup.map { String(format: "%.2fx", $0) } ?? "n/a"))
                if let wf = p.ffmpegWriteFramesPerSecond, let r = p.writeRatio {
                    say(String(format: "         ffmpeg decode + raw write of the same bytes %7.1f fps (%.2f of its decode-only)   ratio %.2f",
                               wf, p.ffmpegFramesPerSecond.map { wf / $0 } ?? .nan, r))
                }
            }
            if let s2 = curve.speedup(jobs: 2) {
                let f2: String = {
                    guard let a = curve.point(jobs: 1)?.ffmpegFramesPerSecond, let b = curve.point(jobs: 2)?.ffmpegFramesPerSecond, a > 0 else { return "n/a" }
                    return String(format: "%.2fx", b / a)
                }()
                say(String(format: "%@ --jobs 2 / --jobs 1: fleetprep %.2fx, ffmpeg (2 cores / 1) %@", w.name, s2, f2))
            }
            curves.append(curve)
        }
        if let top = jobs.last, top > 1 {
            say("== scaling summary, jobs \(top) / jobs 1 (ffmpeg \(top) cores / 1) and fleetprep/ffmpeg at jobs \(top):")
            for c in curves {
                let ff: String = {
                    guard let a = c.point(jobs: 1)?.ffmpegFramesPerSecond, let b = c.point(jobs: top)?.ffmpegFramesPerSecond, a > 0 else { return "n/a" }
                    return String(format: "%.2fx", b / a)
                }()
                say(String(format: "%@ fleetprep %@ (ffmpeg %@), ratio at jobs %d %@", c.workload.padding(toLength: 14, withPad: " ", startingAt: 0),
                           c.speedup(jobs: top).map { String(format: "%.2fx", $0) } ?? "n/a", ff, top,
                           c.point(jobs: top)?.ratio.map { String(format: "%.2f", $0) } ?? "n/a")
                    + (c.point(jobs: top)?.writeRatio.map { String(format: " (%.2f of ffmpeg decoding and writing the same bytes)", $0) } ?? ""))
            }
        }
        return curves
    }

    // MARK: peak memory

    /// Ingests `counts` copies (links) of one tiny clip (160x120, 1 s) at the default shard size
    /// and reports the peak RSS of each run: it should not grow with the number of clips.
    func peakMemory(counts: [Int], jobs: Int) throws -> EngineSpeedReport.PeakMemoryCheck {
        let fm = FileManager.default
        let dir = settings.scratch.appendingPathComponent("fleetprep-bench-rss-\(UUID().uuidString.prefix(6))")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        let tiny = dir.appendingPathComponent("tiny.mp4").path
        try ffmpegOrThrow(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=1", "-vf", "noise=alls=12:allf=t+u",
                           "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "30", "-pix_fmt", "yuv420p", "-an", tiny])
        // u8 keeps the output of 400 clips at ~0.7 GB of scratch; the shard size is the default.
        let args = ["--size", "160x120", "--dtype", "u8", "--normalize", "none", "--jobs", "\(jobs)"]
        var check = EngineSpeedReport.PeakMemoryCheck(
            description: "N links of one 160x120 1 s 30 fps H.264 clip, each its own clip group, default shard size (no --target)",
            ingestArguments: args)
        say("== peak RSS: fleetprep ingest of N tiny clips (160x120, 1 s, 30 fps H.264) \(args.joined(separator: " ")), default shard size")
        for n in counts.sorted() {
            let sub = dir.appendingPathComponent("n\(n)")
            try fm.createDirectory(at: sub, withIntermediateDirectories: true)
            for i in 0..<n {
                let to = sub.appendingPathComponent(String(format: "tiny%04d.mp4", i)).path
                if link(tiny, to) != 0 { try fm.copyItem(atPath: tiny, toPath: to) }
            }
            let run = Result { try IngestBenchmark.ingest([sub.path], args, root: settings.scratch) }
            try? fm.removeItem(at: sub)
            guard case .success(let r) = run else {
                if case .failure(let e) = run { say("\(n) clips: \(e)") }
                continue
            }
            check.runs.append(.init(clips: n, peakResidentBytes: r.peakRSS, samples: r.samples))
            say(String(format: "%4d clips: peak RSS %@ (%d samples, %.1f s%@)", n,
                       r.peakRSS.map { String(format: "%.1f MiB", Double($0) / 1048576) } ?? "n/a", r.samples, r.wall,
                       r.clipsFailed > 0 ? ", \(r.clipsFailed) clips failed" : ""))
        }
        if let ratio = check.ratio, let a = check.runs.first, let b = check.runs.last {
            say(String(format: "peak RSS %d clips / %d clips: %.2f", b.clips, a.clips, ratio))
        }
        return check
    }
}
