import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Untrusted uploads and hostile options (issue "Untrusted fleet uploads"): each case builds its
/// own small file, runs the built `fleetprep`, and checks what happened to the batch and to the
/// files around it. The expected outcomes come from the rules in docs/ingest.md, not from the code.
@Suite(.serialized) struct HostileInputTests {
    static let clip = TestPaths.sample("audio_first_192x108.mp4")
    static let clip2 = TestPaths.sample("rotated90_160x96.mp4")
    static let hasFFmpeg = TestPaths.which("ffmpeg") != nil

    struct Run { var status: Int32; var stdout: String; var stderr: String; var timedOut: Bool }

    /// Runs `fleetprep` with a deadline: a hang is a failure, not a stuck test run.
    static func fleetprep(_ args: [String], timeout: Double = 60, cwd: URL? = nil, asUser uid: Int? = nil) throws -> Run {
        let p = Process()
        if let uid {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", TestPaths.fleetprepExecutable] + args
        } else {
            p.executableURL = URL(fileURLWithPath: TestPaths.fleetprepExecutable)
            p.arguments = args
        }
        p.currentDirectoryURL = cwd ?? TestPaths.repoRoot
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("fp-out-\(UUID().uuidString)")
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("fp-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        p.standardInput = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        var timedOut = false
        if done.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(p.processIdentifier, SIGKILL)
            done.wait()
        }
        return Run(status: p.terminationStatus,
                   stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "", timedOut: timedOut)
    }

    static func temp(_ name: String) -> URL { IngestCLITests.tempDir("hostile-" + name) }

    static func write(_ text: String, _ url: URL) throws { try Data(text.utf8).write(to: url) }

    /// A clip-group directory `parent/name` with the small clip as its main camera.
    static func group(_ parent: URL, _ name: String) throws -> URL {
        let g = parent.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: g, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: clip, toPath: g.appendingPathComponent("main.mp4").path)
        return g
    }

    static func errors(_ out: URL) -> [[String: Any]] {
        guard let text = try? String(contentsOf: out.appendingPathComponent("errors.jsonl"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func keys(_ out: URL) throws -> [String] {
        let ds = try ShardDataset(directory: out)
        return try (0..<ds.count).map { try ds.record(at: $0).key }
    }

    // MARK: - Data safety

    @Test func directoryWithOtherFilesIsRefusedAndNothingIsDeleted() throws {
        let dir = Self.temp("foreign")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.write("x", dir.appendingPathComponent("shard-000001.txt"))
        try Self.write("x", dir.appendingPathComponent("errors.jsonl"))
        try Self.write("x", dir.appendingPathComponent("shard-000000.fps"))
        let r = try Self.fleetprep(["ingest", Self.clip, "--out", dir.path, "--quiet"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no FleetPrep dataset"), "\(r.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(left == ["errors.jsonl", "shard-000000.fps", "shard-000001.txt"])
        for name in left { #expect(try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8) == "x") }
        // --overwrite does not make them ours either.
        let o = try Self.fleetprep(["ingest", Self.clip, "--out", dir.path, "--quiet", "--overwrite"])
        #expect(o.status == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == left)
    }

    @Test func overwriteRemovesOnlyWhatTheDatasetNames() throws {
        let dir = Self.temp("overwrite")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try Self.fleetprep(["ingest", Self.clip, Self.clip2, "--out", dir.path, "--quiet", "--size", "32x24", "--target", "64KiB"])
        #expect(first.status == 0, "\(first.stderr)")
        // A user's files in the dataset directory, one with a shard-like name.
        try Self.write("mine", dir.appendingPathComponent("shard-000099.txt"))
        try Self.write("mine", dir.appendingPathComponent("notes.md"))
        let again = try Self.fleetprep(["ingest", Self.clip, "--out", dir.path, "--quiet", "--size", "16x16", "--overwrite"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOf: dir.appendingPathComponent("shard-000099.txt"), encoding: .utf8) == "mine")
        #expect(try String(contentsOf: dir.appendingPathComponent("notes.md"), encoding: .utf8) == "mine")
        // The new dataset is whole and the old shards are gone.
        let shards = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".fps") }
        #expect(shards == (try DatasetManifest.read(from: dir)).shards.map(\.file))
        // A file with exactly a name the run would write, which the dataset does not name: refused
        // before anything is removed, --overwrite or not.
        let other = Self.temp("collide")
        defer { try? FileManager.default.removeItem(at: other) }
        #expect(try Self.fleetprep(["ingest", Self.clip, "--out", other.path, "--quiet", "--size", "16x16"]).status == 0)
        #expect((try DatasetManifest.read(from: other)).shards.map(\.file) == ["shard-000000.fps"])
        try Self.write("mine", other.appendingPathComponent("shard-000001.fps"))
        let c = try Self.fleetprep(["ingest", Self.clip, Self.clip2, "--out", other.path, "--quiet", "--size", "32x24",
                                    "--target", "64KiB", "--overwrite"])
        #expect(c.status == 2)
        #expect(c.stderr.contains("shard-000001.fps"), "\(c.stderr)")
        #expect(try String(contentsOf: other.appendingPathComponent("shard-000001.fps"), encoding: .utf8) == "mine")
        #expect(FileManager.default.fileExists(atPath: other.appendingPathComponent("shard-000000.fps").path))
        #expect(try Self.fleetprep(["verify", other.path]).status == 0)
    }

    @Test func secondRunOnALockedOutputFailsNamingTheHolder() throws {
        let dir = Self.temp("lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".fleetprep"), withIntermediateDirectories: true)
        // Hold the lock as another ingest would.
        let fd = open(dir.appendingPathComponent(".fleetprep/lock").path, O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let pid = Array("424242\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        let r = try Self.fleetprep(["ingest", Self.clip, "--out", dir.path, "--quiet"], timeout: 30)
        #expect(!r.timedOut)
        #expect(r.status == 2)
        #expect(r.stderr.contains("pid 424242"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".fleetprep/journal.jsonl").path))
        flock(fd, LOCK_UN)
        #expect(try Self.fleetprep(["ingest", Self.clip, "--out", dir.path, "--quiet"]).status == 0)
    }

    @Test func verifyChecksIndexJSONAndEveryShardsOwnIndex() throws {
        let dir = Self.temp("indexjson")
        defer { try? FileManager.default.removeItem(at: dir) }
        let group = try Self.group(dir, "in/g")
        try Self.write("t,speed,steer\n0,1,5\n1,2,6\n2,3,7\n", group.appendingPathComponent("signals.csv"))
        let out = dir.appendingPathComponent("out")
        #expect(try Self.fleetprep(["ingest", group.path, "--out", out.path, "--quiet", "--size", "16x16"]).status == 0)
        let url = out.appendingPathComponent("index.json")
        let original = try Data(contentsOf: url)
        #expect(try Self.fleetprep(["verify", out.path]).status == 0)
        // Schema names reversed, written in the same canonical form with the old digest.
        var m = try JSONDecoder().decode(DatasetManifest.self, from: original)
        #expect(m.schema.names == ["speed", "steer"])
        m.schema = LabelSchema(names: m.schema.names.reversed(), units: m.schema.units, kinds: m.schema.kinds)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try enc.encode(m).write(to: url)
        let r = try Self.fleetprep(["verify", out.path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("digest") && r.stdout.contains("schema"), "\(r.stdout)")
        // Every single-bit flip of index.json that still parses is reported (sampled).
        var rng = SplitMix64(seed: 15)
        var missed: [Int] = []
        for _ in 0..<22 {
            var b = [UInt8](original)
            let i = Int(rng.next() % UInt64(b.count))
            b[i] ^= UInt8(1 << (rng.next() % 8))
            try Data(b).write(to: url)
            if try Self.fleetprep(["verify", out.path]).status == 0 { missed.append(i) }
        }
        #expect(missed.isEmpty, "flips at \(missed) were not reported")
        try original.write(to: url)
    }

    @Test func resumeRedoesMissingOrDamagedShards() throws {
        let dir = Self.temp("resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["ingest", Self.clip, Self.clip2, "--out", dir.path, "--quiet", "--size", "32x24", "--target", "64KiB"]
        #expect(try Self.fleetprep(args).status == 0)
        let m = try DatasetManifest.read(from: dir)
        #expect(m.shards.count >= 3)
        var bytes: [String: Data] = [:]
        for s in m.shards { bytes[s.file] = try Data(contentsOf: dir.appendingPathComponent(s.file)) }
        // Deleted after a complete run.
        try FileManager.default.removeItem(at: dir.appendingPathComponent(m.shards[1].file))
        #expect(try Self.fleetprep(args).status == 0)
        // Damaged (same size) in an unfinished run: the journal's end line is cut.
        var b = bytes[m.shards[2].file]!
        b[b.count / 2] ^= 0x40
        try b.write(to: dir.appendingPathComponent(m.shards[2].file))
        let journal = dir.appendingPathComponent(".fleetprep/journal.jsonl")
        var lines = try String(contentsOf: journal, encoding: .utf8).split(separator: "\n")
        #expect(lines.last?.contains("\"end\"") == true)
        lines.removeLast()
        try Self.write(lines.joined(separator: "\n") + "\n", journal)
        #expect(try Self.fleetprep(args).status == 0)
        for s in m.shards { #expect(try Data(contentsOf: dir.appendingPathComponent(s.file)) == bytes[s.file], "\(s.file)") }
        #expect(try Self.fleetprep(["verify", dir.path]).status == 0)
    }

    // MARK: - One file must not stop or crash the batch

    @Test func headerFrameCountIsAClaim() throws {
        let dir = Self.temp("stts")
        defer { try? FileManager.default.removeItem(at: dir) }
        var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.clip)))
        func find(_ tag: String, from start: Int) -> Int {
            let t = Array(tag.utf8)
            return (start..<(b.count - 4)).first { Array(b[$0..<($0 + 4)]) == t }!
        }
        // The video track's stts: the first after its "vide" handler.
        let at = find("stts", from: find("vide", from: 0))
        // The first entry's sample count: 2^32 - 1.
        for k in 0..<4 { b[at + 12 + k] = 0xFF }
        let bad = dir.appendingPathComponent("b.mp4")
        try Data(b).write(to: bad)
        let out = dir.appendingPathComponent("out")
        let r = try Self.fleetprep(["ingest", Self.clip, bad.path, Self.clip2, "--out", out.path, "--quiet", "--size", "16x16"])
        #expect(r.status == 0 || r.status == 1, "\(r.status) \(r.stderr)")
        let keys = try Self.keys(out)
        #expect(keys.contains { $0.hasPrefix("audio_first") } && keys.contains { $0.hasPrefix("rotated90") })
    }

    @Test(.enabled(if: hasFFmpeg, "needs the ffmpeg CLI to make MPEG-TS clips"))
    func oversizedAndResizingStreamsFailTheirClipOnly() throws {
        let dir = Self.temp("pixels")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ffmpeg = TestPaths.which("ffmpeg")!
        func ts(_ size: String, offset: Int, _ name: String) throws -> URL {
            let url = dir.appendingPathComponent(name)
            let (s, _, e) = try TestPaths.run(ffmpeg, ["-v", "error", "-f", "lavfi", "-i", "testsrc=s=\(size):r=10:d=1", "-c:v", "libx264",
                                                       "-output_ts_offset", String(offset), "-f", "mpegts", url.path])
            #expect(s == 0, "\(e)")
            return url
        }
        let small = try ts("160x120", offset: 0, "small.ts"), large = try ts("1280x960", offset: 3, "large.ts")
        let mixed = dir.appendingPathComponent("mixed.ts")
        try (try Data(contentsOf: small) + Data(contentsOf: large)).write(to: mixed)
        // MPEG-TS has no picture size in its header: the limit must hold while decoding.
        let out = dir.appendingPathComponent("out")
        let r = try Self.fleetprep(["ingest", large.path, Self.clip, "--out", out.path, "--quiet", "--size", "16x16", "--max-pixels", "100000"])
        #expect(r.status == 1, "\(r.stderr)")
        let message1 = (Self.errors(out).first?["message"] as? String) ?? ""
        #expect(message1.contains("exceeds the limit of 100000 pixels"), "\(Self.errors(out))")
        #expect(try Self.keys(out).allSatisfy { $0.hasPrefix("audio_first") })
        // A stream that switches from 160x120 to 1280x960 part-way is refused as a whole clip.
        let out2 = dir.appendingPathComponent("out2")
        let m = try Self.fleetprep(["ingest", mixed.path, Self.clip, "--out", out2.path, "--quiet", "--size", "16x16"])
        #expect(m.status == 1, "\(m.stderr)")
        let message2 = (Self.errors(out2).first?["message"] as? String) ?? ""
        #expect(message2.contains("changed mid-stream"), "\(Self.errors(out2))")
        #expect(try Self.keys(out2).allSatisfy { $0.hasPrefix("audio_first") })
    }

    @Test func fifosNeverHangTheBatch() throws {
        let dir = Self.temp("fifo")
        defer { try? FileManager.default.removeItem(at: dir) }
        let lone = dir.appendingPathComponent("lone")
        try FileManager.default.createDirectory(at: lone, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.clip, toPath: lone.appendingPathComponent("a.mp4").path)
        #expect(mkfifo(lone.appendingPathComponent("cam.mp4").path, 0o644) == 0)
        var inputs = [lone.path]
        for sidecar in ["signals.csv", "clip.json", "annotations.jsonl"] {
            let g = try Self.group(dir, "g-" + sidecar.replacingOccurrences(of: ".", with: "_"))
            #expect(mkfifo(g.appendingPathComponent(sidecar).path, 0o644) == 0)
            inputs.append(g.path)
        }
        let out = dir.appendingPathComponent("out")
        let r = try Self.fleetprep(["ingest"] + inputs + ["--out", out.path, "--quiet", "--size", "16x16"], timeout: 60)
        #expect(!r.timedOut, "ingest hung on a FIFO")
        #expect(r.status == 1, "\(r.stderr)")
        let errs = Self.errors(out)
        #expect(errs.count == 4, "\(errs)")
        #expect(errs.allSatisfy { (($0["message"] as? String) ?? "").contains("not a regular file") }, "\(errs)")
        #expect(try Self.keys(out).count > 0)
    }

    @Test func sigtermStopsARunAndTheSameCommandResumes() throws {
        let dir = Self.temp("sigterm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestPaths.fleetprepExecutable)
        p.arguments = ["ingest", TestPaths.sample("h264_1280x960.mp4"), TestPaths.sample("hevc_1280x960.mp4"), "--out", dir.path,
                       "--quiet", "--jobs", "1", "--size", "640x480", "--dtype", "f32"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        usleep(700_000)
        kill(p.processIdentifier, SIGTERM)
        if done.wait(timeout: .now() + 30) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            Issue.record("SIGTERM did not stop the run within 30 s")
            done.wait()
        }
        #expect(p.terminationStatus == 130 || p.terminationStatus == 0)
        let again = try Self.fleetprep(p.arguments!)
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func oversizedRecordFailsItsClipOnly() throws {
        let dir = Self.temp("bigrecord")
        defer { try? FileManager.default.removeItem(at: dir) }
        let g = try Self.group(dir, "g")
        try Self.write("{\"frame\":0,\"s\":\"" + String(repeating: "A", count: 300_000) + "\"}\n", g.appendingPathComponent("annotations.jsonl"))
        let out = dir.appendingPathComponent("out")
        let r = try Self.fleetprep(["ingest", Self.clip, g.path, Self.clip2, "--out", out.path, "--quiet", "--size", "16x16", "--target", "128KiB"])
        #expect(r.status == 1, "\(r.stderr)")
        let keys = try Self.keys(out)
        #expect(keys.contains { $0.hasPrefix("audio_first") } && keys.contains { $0.hasPrefix("rotated90") })
        #expect(!keys.contains { $0.hasPrefix("g-") })
        #expect(Self.errors(out).first?["stage"] as? String == "limits")
    }

    @Test(.enabled(if: getuid() != 0 || FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                   "as root, needs setpriv (util-linux) to drop privileges so that a mode-000 directory is unreadable"))
    func unreadableSubdirectoryIsOneError() throws {
        // The test runs the executable as nobody when it is root: root reads any directory.
        let dir = URL(fileURLWithPath: "/tmp/fleetprep-hostile-perm-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("t/l"), withIntermediateDirectories: true)
        defer { chmod(dir.appendingPathComponent("t/l").path, 0o755); try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(atPath: Self.clip, toPath: dir.appendingPathComponent("t/a.mp4").path)
        try FileManager.default.copyItem(atPath: Self.clip2, toPath: dir.appendingPathComponent("t/l/b.mp4").path)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("out"), withIntermediateDirectories: true)
        chmod(dir.path, 0o755); chmod(dir.appendingPathComponent("t").path, 0o755)
        chmod(dir.appendingPathComponent("t/a.mp4").path, 0o644)
        chmod(dir.appendingPathComponent("out").path, 0o777)
        chmod(dir.appendingPathComponent("t/l").path, 0o000)
        let exe = URL(fileURLWithPath: TestPaths.fleetprepExecutable)
        // nobody must be able to reach the executable; a copy in /tmp can always be run.
        let copy = dir.appendingPathComponent("fleetprep")
        try FileManager.default.copyItem(at: exe, to: copy)
        chmod(copy.path, 0o755)
        let p = Process()
        p.currentDirectoryURL = dir
        let args = ["ingest", "t", "--out", "out/o", "--quiet", "--size", "16x16"]
        if getuid() == 0 {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", copy.path] + args
        } else {
            p.executableURL = copy
            p.arguments = args
        }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        let errs = Self.errors(dir.appendingPathComponent("out/o"))
        #expect(errs.count == 1 && (errs.first?["stage"] as? String) == "discover" && (errs.first?["path"] as? String) == "t/l", "\(errs)")
        #expect(try Self.keys(dir.appendingPathComponent("out/o")).allSatisfy { $0.hasPrefix("a") })
    }

    // MARK: - Options and values

    @Test func badOptionsExit2NamingTheOptionAndWriteNothing() throws {
        let cases: [([String], String)] = [
            (["--fps", "1e-18"], "--fps"), (["--fps", "1e300"], "--fps"), (["--size", "100000x100000"], "--size"),
            (["--decoder-threads", "100000"], "--decoder-threads"), (["--jobs", "100000"], "--jobs"), (["--jobs", "-1"], "--jobs"),
            (["--stride", "0"], "--stride"), (["--max-gap", "-3"], "--max-gap"), (["--alignment", "1073741824"], "--alignment"),
            (["--inflight", "1KiB"], "--inflight"), (["--max-pixels", "-5"], "--max-pixels"), (["--dtype", "u8", "--normalize", "imagenet"], "--normalize"),
        ]
        for (args, option) in cases {
            let dir = Self.temp("opt")
            defer { try? FileManager.default.removeItem(at: dir) }
            let out = dir.appendingPathComponent("out")
            let r = try Self.fleetprep(["ingest", Self.clip, "--out", out.path, "--quiet"] + args)
            #expect(r.status == 2, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(option), "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(args) wrote into --out")
        }
        // u8 alone defaults to --normalize none.
        let dir = Self.temp("u8")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Self.fleetprep(["ingest", Self.clip, "--out", dir.appendingPathComponent("o").path, "--quiet", "--dtype", "u8"]).status == 0)
    }

    @Test func aRunThatKeptNothingDoesNotPoisonItsOutput() throws {
        let dir = Self.temp("poison")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Every record too large for the shard budget: the run keeps nothing.
        let bad = try Self.fleetprep(["ingest", Self.clip, "--out", dir.path, "--quiet", "--size", "2000x2000", "--dtype", "f32", "--target", "1MiB"])
        #expect(bad.status == 2)
        let good = try Self.fleetprep(["ingest", Self.clip, "--out", dir.path, "--quiet", "--size", "16x16"])
        #expect(good.status == 0, "\(good.stderr)")
    }

    @Test func signalsHeaderAndFloat32Range() throws {
        let dir = Self.temp("signals")
        defer { try? FileManager.default.removeItem(at: dir) }
        // 20,000 columns: a header well over 64 KiB.
        let wide = try Self.group(dir, "wide")
        let names = (0..<20_000).map { "signal_number_\($0)" }
        let row = (0..<20_000).map { _ in "1" }.joined(separator: ",")
        try Self.write("t," + names.joined(separator: ",") + "\n0," + row + "\n9," + row + "\n", wide.appendingPathComponent("signals.csv"))
        // 1e39 does not fit float32.
        let huge = try Self.group(dir, "huge")
        try Self.write("t,signal_number_0\n0,1e39\n9,1\n", huge.appendingPathComponent("signals.csv"))
        let out = dir.appendingPathComponent("out")
        // Over the default limit of 1,024 label columns (issue 25): raised for this test.
        let r = try Self.fleetprep(["ingest", wide.path, huge.path, "--out", out.path, "--quiet", "--size", "8x8", "--dtype", "u8",
                                    "--max-signals", "20000"])
        #expect(r.status == 1, "\(r.stderr)")
        let m = try DatasetManifest.read(from: out)
        #expect(m.schema.names.count == 20_000)
        #expect(m.schema.names.last == "signal_number_19999")
        let errs = Self.errors(out)
        #expect(errs.count == 1 && ((errs.first?["message"] as? String) ?? "").contains("float32"), "\(errs)")
    }

    @Test func runLevelFailureExits2() throws {
        let dir = Self.temp("runlevel")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The journal's temporary name is taken by a directory: the journal cannot be written.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".fleetprep/journal.jsonl.tmp"), withIntermediateDirectories: true)
        let r = try Self.fleetprep(["ingest", Self.clip, "--out", dir.path, "--quiet"])
        #expect(r.status == 2, "\(r.status) \(r.stderr)")
    }

    @Test func damagedShardsNeverCrashInspectOrVerify() throws {
        let dir = Self.temp("damaged")
        defer { try? FileManager.default.removeItem(at: dir) }
        for format in ["wds", "native"] {
            let out = dir.appendingPathComponent(format)
            #expect(try Self.fleetprep(["ingest", Self.clip, "--out", out.path, "--quiet", "--size", "16x16", "--format", format]).status == 0)
            let shard = try DatasetManifest.read(from: out).shards[0].file
            var b = [UInt8](try Data(contentsOf: out.appendingPathComponent(shard)))
            if format == "wds" {
                // The first .npy header's magic.
                let at = (0..<(b.count - 6)).first { b[$0] == 0x93 && Array(b[($0 + 1)..<($0 + 6)]) == Array("NUMPY".utf8) }!
                b[at + 1] = UInt8(ascii: "X")
            } else {
                // A crafted index offset near Int64.max.
                for k in 0..<8 { b[32 + k] = k == 7 ? 0x7F : 0xFF }
            }
            let bad = dir.appendingPathComponent("bad-" + shard)
            try Data(b).write(to: bad)
            let i = try Self.fleetprep(["inspect", bad.path])
            #expect(i.status == 2, "inspect \(format): \(i.status) \(i.stderr)")
            let v = try Self.fleetprep(["verify", bad.path])
            #expect(v.status == 1, "verify \(format): \(v.status) \(v.stdout)")
        }
    }
}
