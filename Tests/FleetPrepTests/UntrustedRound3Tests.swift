import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Issue 25 ("Untrusted input, round 3"): resume after a clip changed, merge as careful as
/// ingest, linear sidecar parsing with a column limit, symlinks that stay inside their input,
/// printable names. Each case builds its own input and checks the result against the rules in
/// docs/ingest.md ("Untrusted input", "Merge rules", "Resume and crash safety"), never against
/// the code's own output: byte equality with an uninterrupted run, files left exactly as they were,
/// schemas and error lists written out by hand.
@Suite(.serialized) struct UntrustedRound3Tests {
    typealias H = HostileInputTests
    static let clip = H.clip
    static let clip2 = H.clip2

    /// Every file under `dir` (hidden ones and .fleetprep too) with its bytes.
    static func snapshot(_ dir: URL) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let e = FileManager.default.enumerator(atPath: dir.path) else { return out }
        while let rel = e.nextObject() as? String {
            let p = dir.appendingPathComponent(rel).path
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir) {
                out[rel] = isDir.boolValue ? Data("<dir>".utf8) : (FileManager.default.contents(atPath: p) ?? Data("<unreadable>".utf8))
            }
        }
        return out
    }

    // MARK: - 1. Resume after a clip's contents changed

    /// A run of two clips (one copied into `dir/in`, so that the test can change it) into
    /// `dir/out`, made to look interrupted after its second complete shard: the journal cut after
    /// that shard's line, and the files a run would not have made by then removed. Returns the
    /// arguments, the uninterrupted run's shards (by name) and the kept shards' names.
    static func interruptedRun(_ dir: URL) throws -> (args: [String], reference: [String: Data], kept: [String], clip: URL) {
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        let a = input.appendingPathComponent("a.mp4")
        try FileManager.default.copyItem(atPath: clip, toPath: a.path)
        let out = dir.appendingPathComponent("out")
        let args = ["ingest", a.path, clip2, "--out", out.path, "--quiet", "--jobs", "1", "--size", "32x24", "--target", "64KiB"]
        let full = try H.fleetprep(args)
        #expect(full.status == 0, "\(full.stderr)")
        let m = try DatasetManifest.read(from: out)
        #expect(m.shards.count >= 4, "\(m.shards.count) shards")
        var reference: [String: Data] = [:]
        for s in m.shards { reference[s.file] = try Data(contentsOf: out.appendingPathComponent(s.file)) }
        // Cut the journal after its second complete shard.
        let journal = out.appendingPathComponent(".fleetprep/journal.jsonl")
        var kept: [String] = []
        var named = Set<String>()
        var lines: [Substring] = []
        for line in try String(contentsOf: journal, encoding: .utf8).split(separator: "\n") {
            lines.append(line)
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let f = o["file"] as? String { named.insert(f) }
            if o["kind"] as? String == "shard", let s = o["shard"] as? [String: Any], let f = s["file"] as? String {
                kept.append(f)
                if kept.count == 2 { break }
            }
        }
        #expect(kept.count == 2)
        try H.write(lines.joined(separator: "\n") + "\n", journal)
        for name in try FileManager.default.contentsOfDirectory(atPath: out.path)
        where name == "index.json" || name == "errors.jsonl" || (name.hasSuffix(".fps") && !named.contains(name)) {
            try FileManager.default.removeItem(at: out.appendingPathComponent(name))
        }
        return (args, reference, kept, a)
    }

    /// Sets `url`'s modification time.
    static func setMTime(_ url: URL, _ t: timespec) {
        var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2 /* UTIME_OMIT */), t]
        _ = utimensat(AT_FDCWD, url.path, &times, 0)
    }

    static func mtime(_ url: URL) -> timespec {
        var st = stat()
        _ = stat(url.path, &st)
        return st.st_mtim
    }

    @Test func resumeRefusesAClipReplacedBySameSizedDifferentBytes() throws {
        let dir = H.temp("r3-changed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (args, _, kept, a) = try Self.interruptedRun(dir)
        let out = dir.appendingPathComponent("out")
        let keptBytes = try kept.map { try Data(contentsOf: out.appendingPathComponent($0)) }
        let journalBefore = try Data(contentsOf: out.appendingPathComponent(".fleetprep/journal.jsonl"))
        // Another video of the same size: the same file with bytes in the middle of its media
        // data changed (a different picture; size, frame count and timestamps unchanged).
        var b = [UInt8](try Data(contentsOf: a))
        let original = Self.mtime(a)
        for k in stride(from: b.count / 2, to: b.count / 2 + 64, by: 1) { b[k] ^= 0x5A }
        try Data(b).write(to: a)
        // (1) A new modification time: refused before anything is done; the journal and the kept
        // shards are as they were.
        let r = try H.fleetprep(args)
        #expect(r.status == 2, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains(a.path) && r.stderr.contains("other contents"), "\(r.stderr)")
        #expect(try Data(contentsOf: out.appendingPathComponent(".fleetprep/journal.jsonl")) == journalBefore)
        for (name, bytes) in zip(kept, keptBytes) { #expect(try Data(contentsOf: out.appendingPathComponent(name)) == bytes) }
        // (2) The old modification time put back (as `cp -p` or a restore would): the size and
        // time look unchanged, and the run's own scan, which reads the file, refuses it.
        Self.setMTime(a, original)
        let r2 = try H.fleetprep(args)
        #expect(r2.status == 2, "\(r2.status) \(r2.stderr)")
        #expect(r2.stderr.contains(a.path) && r2.stderr.contains("other contents"), "\(r2.stderr)")
        for (name, bytes) in zip(kept, keptBytes) { #expect(try Data(contentsOf: out.appendingPathComponent(name)) == bytes) }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("index.json").path))
    }

    @Test func resumeRefusesAClipReplacedByAnotherLength() throws {
        let dir = H.temp("r3-shorter")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (args, _, _, a) = try Self.interruptedRun(dir)
        // A video with other frames (and another size) in its place.
        try FileManager.default.removeItem(at: a)
        try FileManager.default.copyItem(atPath: TestPaths.sample("vfr_160x120.mkv"), toPath: a.path)
        let r = try H.fleetprep(args)
        #expect(r.status == 2, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains(a.path) && r.stderr.contains("changed size"), "\(r.stderr)")
        // Deleted: refused too.
        try FileManager.default.removeItem(at: a)
        let g = try H.fleetprep(args)
        #expect(g.status == 2 && (g.stderr.contains("is gone") || g.stderr.contains("other inputs")), "\(g.status) \(g.stderr)")
    }

    @Test func resumeAfterATouchGivesTheUninterruptedDataset() throws {
        let dir = H.temp("r3-touch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (args, reference, _, a) = try Self.interruptedRun(dir)
        // Same bytes, a new modification time: nothing any sample depends on changed.
        Self.setMTime(a, timespec(tv_sec: time(nil) + 3600, tv_nsec: 0))
        let r = try H.fleetprep(args)
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        let out = dir.appendingPathComponent("out")
        let m = try DatasetManifest.read(from: out)
        #expect(Set(m.shards.map(\.file)) == Set(reference.keys))
        for (name, bytes) in reference { #expect(try Data(contentsOf: out.appendingPathComponent(name)) == bytes, "\(name)") }
    }

    // MARK: - 2, 3. Merge

    /// Two workers of the sample clips into `dirs` (one directory each, or one shared).
    static func workers(_ dirs: [URL]) throws {
        for (i, d) in dirs.enumerated() {
            let r = try H.fleetprep(["ingest", clip, clip2, TestPaths.sample("vfr_160x120.mkv"), "--out", d.path, "--quiet", "--size", "16x16",
                                     "--target", "64KiB", "--jobs", "1", "--worker", "\(i % 2)/2"])
            #expect(r.status == 0, "\(r.stderr)")
        }
    }

    @Test func mergeNeverReplacesFilesItDidNotWrite() throws {
        let root = H.temp("r3-merge-foreign")
        defer { try? FileManager.default.removeItem(at: root) }
        let nodes = [root.appendingPathComponent("n0"), root.appendingPathComponent("n1")]
        try Self.workers(nodes)
        // The user's files with merge's names, in a directory with no dataset.
        let mine = root.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
        let shardName = try DatasetManifest.read(from: nodes[1].appendingPathComponent("index-w001of002.json")).shards[0].file
        for n in ["index.json", "errors.jsonl", shardName] { try H.write("mine", mine.appendingPathComponent(n)) }
        let before = Self.snapshot(mine)
        let r = try H.fleetprep(["merge", nodes[0].path, nodes[1].path, "--out", mine.path])
        #expect(r.status == 2, "\(r.status) \(r.stderr)")
        #expect(Self.snapshot(mine) == before, "merge changed a directory it refused")
        // Another finished dataset: its index.json is not merge's to replace.
        let other = root.appendingPathComponent("other")
        #expect(try H.fleetprep(["ingest", Self.clip, "--out", other.path, "--quiet", "--size", "16x16"]).status == 0)
        let otherBefore = Self.snapshot(other)
        let o = try H.fleetprep(["merge", nodes[0].path, nodes[1].path, "--out", other.path])
        #expect(o.status == 2, "\(o.status) \(o.stderr)")
        #expect(o.stderr.contains("index.json"), "\(o.stderr)")
        #expect(Self.snapshot(other) == otherBefore)
        // Its own earlier output is merge's: merging again into the same directory works, and the
        // user's file beside it stays.
        let merged = root.appendingPathComponent("merged")
        #expect(try H.fleetprep(["merge", nodes[0].path, nodes[1].path, "--out", merged.path]).status == 0)
        try H.write("mine", merged.appendingPathComponent("notes.md"))
        let again = try H.fleetprep(["merge", nodes[0].path, nodes[1].path, "--out", merged.path])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOf: merged.appendingPathComponent("notes.md"), encoding: .utf8) == "mine")
        #expect(try H.fleetprep(["verify", merged.path]).status == 0)
    }

    @Test func aSecondMergeIntoALockedDirectoryFailsAtOnce() throws {
        let root = H.temp("r3-merge-lock")
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("shared")
        try Self.workers([out, out])
        let before = Self.snapshot(out)
        // Hold the directory's lock as a running merge (or single-process ingest) would.
        let fd = open(out.appendingPathComponent(".fleetprep/lock").path, O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        _ = Array("515151\n".utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        let r = try H.fleetprep(["merge", out.path], timeout: 30)
        #expect(r.status == 2 && r.stderr.contains("pid 515151"), "\(r.status) \(r.stderr)")
        var after = Self.snapshot(out)
        after[".fleetprep/lock"] = before[".fleetprep/lock"]   // the lock file is the test's own
        #expect(after == before)
        flock(fd, LOCK_UN)
        #expect(try H.fleetprep(["merge", out.path]).status == 0)
    }

    @Test func mergeRefusesShardNamesThatAreNotPlainFileNames() throws {
        let root = H.temp("r3-merge-names")
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("a/b/shared")
        try Self.workers([out, out])
        let outside = root.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let manifestURL = out.appendingPathComponent("index-w001of002.json")
        let original = try DatasetManifest.read(from: manifestURL)
        // A real shard's bytes outside, so that reading it would succeed.
        try FileManager.default.copyItem(at: out.appendingPathComponent(original.shards[0].file), to: outside.appendingPathComponent("evil.fps"))
        for bad in ["../../../outside/evil.fps", "/" + outside.appendingPathComponent("evil.fps").path, "..", ".hidden.fps", "sub/x.fps", "index.json"] {
            var m = original
            m.shards[0].file = bad
            try m.write(to: out, name: "index-w001of002.json")   // digest recomputed: a well-formed manifest
            #expect(DatasetManifest.integrityProblems(try Data(contentsOf: manifestURL)).isEmpty)
            let before = Self.snapshot(out)
            let r = try H.fleetprep(["merge", out.path])
            #expect(r.status == 2, "\(bad): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("plain file name") || r.stderr.contains("merge's own output"), "\(bad): \(r.stderr)")
            #expect(Self.snapshot(out) == before, "\(bad): merge wrote into --out")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == ["evil.fps"])
        // Two workers naming the same shard overlap.
        var m = original
        let other = try DatasetManifest.read(from: out.appendingPathComponent("index-w000of002.json")).shards[0]
        m.shards[0] = other
        try m.write(to: out, name: "index-w001of002.json")
        let dup = try H.fleetprep(["merge", out.path])
        #expect(dup.status == 2 && dup.stderr.contains("overlap") && dup.stderr.contains(other.file), "\(dup.status) \(dup.stderr)")
    }

    static let shmIsAnotherFileSystem: Bool = {
        var a = stat(), b = stat()
        return stat("/dev/shm", &a) == 0 && stat(FileManager.default.temporaryDirectory.path, &b) == 0 && a.st_dev != b.st_dev
            && access("/dev/shm", W_OK) == 0
    }()

    @Test(.enabled(if: shmIsAnotherFileSystem, "needs /dev/shm on another file system than the temporary directory (so that merge must copy)"))
    func aMergeThatFailsWhileCopyingLeavesOutAsItWas() throws {
        let root = H.temp("r3-merge-fail")
        let shm = URL(fileURLWithPath: "/dev/shm/fleetprep-r3-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: shm) }
        // Worker 0 beside --out (its shards are linked), worker 1 on another file system (copied).
        let nodes = [root.appendingPathComponent("n0"), shm.appendingPathComponent("n1")]
        try Self.workers(nodes)
        for (label, out) in [("new", root.appendingPathComponent("new/out")), ("empty", root.appendingPathComponent("empty")),
                             ("merged before", root.appendingPathComponent("earlier"))] {
            if label == "empty" { try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true) }
            if label == "merged before" {
                #expect(try H.fleetprep(["merge", nodes[0].path, nodes[1].path, "--out", out.path]).status == 0)
                // Damage one copied shard so that the next merge replaces it.
                let name = try DatasetManifest.read(from: nodes[1].appendingPathComponent("index-w001of002.json")).shards[0].file
                try H.write("old", out.appendingPathComponent(name))
            }
            let before = Self.snapshot(out)
            // Files larger than 8 KiB cannot be written (RLIMIT_FSIZE; SIGXFSZ ignored, so write
            // fails with EFBIG): every copy fails, after worker 0's links are staged.
            let (status, _, stderr) = try TestPaths.run("/bin/sh", ["-c", "ulimit -f 16; trap '' XFSZ; exec \"$0\" \"$@\"",
                                                                      TestPaths.fleetprepExecutable, "merge", nodes[0].path, nodes[1].path, "--out", out.path])
            #expect(status == 2, "\(label): \(status) \(stderr)")
            #expect(stderr.contains("cannot link or copy"), "\(label): \(stderr)")
            #expect(Self.snapshot(out) == before, "\(label): --out changed: \(Set(Self.snapshot(out).keys).symmetricDifference(before.keys))")
            if label == "new" { #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("new").path)) }
        }
    }

    // MARK: - 4. signals.csv: linear header, --max-signals, schema, cancellation

    /// A group `parent/name` with the small clip and a signals.csv of `columns` named columns.
    static func wideGroup(_ parent: URL, _ name: String, columns: Int, prefix: String = "s") throws -> URL {
        let g = try H.group(parent, name)
        let names = (0..<columns).map { "\(prefix)\($0)" }.joined(separator: ",")
        let row = [String](repeating: "1", count: columns).joined(separator: ",")
        try H.write("t," + names + "\n0," + row + "\n9," + row + "\n", g.appendingPathComponent("signals.csv"))
        return g
    }

    @Test func wideHeadersCostLinearTime() throws {
        let dir = H.temp("r3-wide")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The oracle is the growth: 4× the columns must cost about 4× the time, not 16×. Every
        // column is named (a config file's "signals"), so the run takes them all, whatever the
        // limit on what a clip may bring.
        var seconds: [Double] = []
        for columns in [12_500, 50_000] {
            let g = try Self.wideGroup(dir, "g\(columns)", columns: columns)
            let out = dir.appendingPathComponent("out\(columns)")
            let config = dir.appendingPathComponent("config\(columns).json")
            try JSONSerialization.data(withJSONObject: ["signals": (0..<columns).map { "s\($0)" }]).write(to: config)
            let start = Date()
            let r = try H.fleetprep(["ingest", g.path, "--out", out.path, "--quiet", "--size", "8x8", "--dtype", "u8", "--stride", "1000",
                                     "--config", config.path], timeout: 300)
            seconds.append(Date().timeIntervalSince(start))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try DatasetManifest.read(from: out).schema.names.count == columns)
        }
        #expect(seconds[1] < 8 * max(seconds[0], 0.25), "12,500 columns: \(seconds[0]) s, 50,000: \(seconds[1]) s (quadratic growth)")
        #expect(seconds[1] < 60, "50,000 columns took \(seconds[1]) s")
    }

    @Test func aClipOverTheSignalLimitFailsAloneAndAddsNoColumns() throws {
        let dir = H.temp("r3-maxsignals")
        defer { try? FileManager.default.removeItem(at: dir) }
        let wide = try Self.wideGroup(dir, "wide", columns: 200_000, prefix: "w")
        let a = try H.group(dir, "a")
        try H.write("t,speed,steer\n0,1,2\n9,3,4\n", a.appendingPathComponent("signals.csv"))
        let b = try H.group(dir, "b")
        try H.write("t,speed,brake\n0,1,0\n9,3,1\n", b.appendingPathComponent("signals.csv"))
        // A malformed header (a column twice): that clip fails and adds nothing either.
        let bad = try H.group(dir, "bad")
        try H.write("t,gear,gear\n0,1,1\n", bad.appendingPathComponent("signals.csv"))
        let out = dir.appendingPathComponent("out")
        let start = Date()
        let r = try H.fleetprep(["ingest", a.path, wide.path, bad.path, b.path, "--out", out.path, "--quiet", "--size", "8x8", "--dtype", "u8"], timeout: 120)
        let took = Date().timeIntervalSince(start)
        #expect(r.status == 1, "\(r.status) \(r.stderr)")
        #expect(took < 30, "a 3-clip batch with one 200,000-column header took \(took) s")
        let m = try DatasetManifest.read(from: out)
        #expect(m.schema.names == ["speed", "steer", "brake"])
        let errs = H.errors(out)
        #expect(errs.count == 2, "\(errs)")
        let wideErr = errs.first { ($0["path"] as? String)?.hasSuffix("wide/signals.csv") == true }
        let wideMessage = (wideErr?["message"] as? String) ?? ""
        #expect(wideMessage.contains("200000 signal columns; the limit is 1024"), "\(errs)")
        #expect(wideErr?["stage"] as? String == "labels")
        // Every record carries 3 labels, not 200,003.
        let ds = try ShardDataset(directory: out)
        #expect(ds.count > 0)
        for i in 0..<ds.count { #expect(try ds.record(at: i).labels.count == 3) }
        // --signals names the columns: no limit then.
        let named = dir.appendingPathComponent("named")
        let n = try H.fleetprep(["ingest", wide.path, "--out", named.path, "--quiet", "--size", "8x8", "--dtype", "u8", "--stride", "1000",
                                 "--signals", "w7,w199999"], timeout: 120)
        #expect(n.status == 0, "\(n.stderr)")
        #expect(try DatasetManifest.read(from: named).schema.names == ["w7", "w199999"])
        // The limit is an option, range-checked.
        let o = try H.fleetprep(["ingest", a.path, "--out", dir.appendingPathComponent("o").path, "--quiet", "--max-signals", "0"])
        #expect(o.status == 2 && o.stderr.contains("--max-signals"), "\(o.stderr)")
    }

    @Test func sigtermReachesTheSidecarParserWithinOneSecond() throws {
        let dir = H.temp("r3-sigterm")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Three groups with 24 MB signals tables: seconds of parsing each.
        var inputs: [String] = []
        var table = "t,a,b,c,d,e,f,g,h\n"
        table.reserveCapacity(25 << 20)
        for i in 0..<1_200_000 { table += "\(Double(i) * 0.001),1,2,3,4,5,6,7,8\n" }
        for k in 0..<3 {
            let g = try H.group(dir, "g\(k)")
            try H.write(table, g.appendingPathComponent("signals.csv"))
            inputs.append(g.path)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestPaths.fleetprepExecutable)
        p.arguments = ["ingest"] + inputs + ["--out", dir.appendingPathComponent("out").path, "--quiet", "--jobs", "1", "--size", "8x8",
                                             "--signals", "a", "--max-sidecar-bytes", "100000000"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        usleep(800_000)
        let sent = Date()
        kill(p.processIdentifier, SIGTERM)
        if done.wait(timeout: .now() + 30) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            done.wait()
        }
        let took = Date().timeIntervalSince(sent)
        #expect(p.terminationStatus == 130, "exit \(p.terminationStatus)")
        #expect(took < 1.0, "SIGTERM took effect after \(took) s")
    }

    // MARK: - 5. Symlinks stay inside their input

    @Test func symlinksOutsideTheInputAreNotFollowedUnlessAsked() throws {
        let dir = H.temp("r3-symlinks")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        let upload = dir.appendingPathComponent("up/in")
        try fm.createDirectory(at: upload, withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent("secret"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: Self.clip2, toPath: dir.appendingPathComponent("secret/private.mp4").path)
        try fm.copyItem(atPath: Self.clip2, toPath: dir.appendingPathComponent("up/sibling.mp4").path)
        try fm.copyItem(atPath: Self.clip, toPath: upload.appendingPathComponent("a.mp4").path)
        let passwd = dir.appendingPathComponent("passwd")
        try H.write("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n", passwd)
        try fm.createSymbolicLink(atPath: upload.appendingPathComponent("link").path, withDestinationPath: "../../secret")
        try fm.createSymbolicLink(atPath: upload.appendingPathComponent("loop").path, withDestinationPath: "..")
        try fm.createSymbolicLink(atPath: upload.appendingPathComponent("a.signals.csv").path, withDestinationPath: passwd.path)
        // A link that stays inside is followed as before.
        try fm.createDirectory(at: upload.appendingPathComponent("real"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestPaths.sample("vfr_160x120.mkv"), toPath: upload.appendingPathComponent("real/v.mkv").path)
        try fm.createSymbolicLink(atPath: upload.appendingPathComponent("alias").path, withDestinationPath: "real")
        let out = dir.appendingPathComponent("out")
        let r = try H.fleetprep(["ingest", upload.path, "--out", out.path, "--size", "16x16"])
        #expect(r.status == 1, "\(r.status) \(r.stderr)")
        let keys = try H.keys(out)
        #expect(Set(keys.map { String($0.dropLast(7)) }) == ["a", "v"], "\(Set(keys))")
        let errs = H.errors(out)
        let discover = errs.filter { $0["stage"] as? String == "discover" }.compactMap { $0["path"] as? String }.sorted()
        #expect(discover == ["a.signals.csv", "link", "loop"].map { upload.appendingPathComponent($0).path }, "\(errs)")
        let errorsText = try String(contentsOf: out.appendingPathComponent("errors.jsonl"), encoding: .utf8)
        #expect(!r.stderr.contains("root:x") && !errorsText.contains("root:x"))
        // --follow-symlinks: the links are followed; the sidecar fails, quoting at most a short
        // escaped excerpt of the file it leads to.
        let out2 = dir.appendingPathComponent("out2")
        let f = try H.fleetprep(["ingest", upload.path, "--out", out2.path, "--size", "16x16", "--follow-symlinks"])
        #expect(f.status == 1, "\(f.status) \(f.stderr)")
        let keys2 = Set(try H.keys(out2).map { String($0.dropLast(7)) })
        #expect(keys2.isSuperset(of: ["private", "sibling", "v"]) && !keys2.contains("a"), "\(keys2)")
        let text = try String(contentsOf: out2.appendingPathComponent("errors.jsonl"), encoding: .utf8)
        #expect(!text.contains("/bin/bash") && !f.stderr.contains("/bin/bash") && !text.contains("daemon"), "\(text)")
    }

    // MARK: - 6. Names

    @Test func namesWithTerminalEscapesArePrintedEscaped() throws {
        let dir = H.temp("r3-escapes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        // One clip that ingests and one that fails (not media), both with escapes in their names.
        try FileManager.default.copyItem(atPath: Self.clip, toPath: input.appendingPathComponent("ok\u{1b}]0;owned\u{07}.mp4").path)
        try H.write("not a video", input.appendingPathComponent("bad\u{1b}[2J\u{1b}[31m.mp4"))
        let out = dir.appendingPathComponent("out")
        for args in [["ingest", input.path, "--out", out.path, "--size", "16x16"], ["inspect", out.path], ["verify", out.path]] {
            let r = try H.fleetprep(args)
            #expect(r.status != 0 || args[0] != "ingest", "\(args[0]): \(r.status)")
            for (stream, text) in [("stdout", r.stdout), ("stderr", r.stderr)] {
                let controls = text.unicodeScalars.filter { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }
                #expect(controls.isEmpty, "\(args[0]) \(stream) holds control characters: \(controls.map { $0.value })")
            }
            if args[0] == "ingest" { #expect(r.stderr.contains("bad\\e[2J"), "\(r.stderr)") }
        }
    }

    /// Issue 25 asked for names to round-trip as bytes: such a clip was first reported as one
    /// `discover` error ("rename it"); it is now ingested by its bytes (docs/ingest.md, "Names
    /// that are not UTF-8"), so the oracle changed from that error to the clip's samples.
    @Test func aNameThatIsNotUTF8IsIngestedByItsBytes() throws {
        let dir = H.temp("r3-utf8")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.clip2, toPath: input.appendingPathComponent("good.mp4").path)
        // "clip\xff\xfe.mp4", made with the raw bytes (Foundation's paths are UTF-8).
        let bytes = Data(try Data(contentsOf: URL(fileURLWithPath: Self.clip)))
        let path = Array(input.path.utf8) + Array("/clip".utf8) + [0xFF, 0xFE] + Array(".mp4".utf8) + [0]
        let fd = path.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) } }
        #expect(fd >= 0)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let out = dir.appendingPathComponent("out")
        let r = try H.fleetprep(["ingest", input.path, "--out", out.path, "--quiet", "--size", "16x16"])
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        #expect(H.errors(out).isEmpty, "\(H.errors(out))")
        // Both clips, each with as many samples as the same clip ingested under a UTF-8 name.
        let ref = dir.appendingPathComponent("ref")
        #expect(try H.fleetprep(["ingest", Self.clip, "--out", ref.path, "--quiet", "--size", "16x16"]).status == 0)
        let keys = try H.keys(out)
        #expect(keys.filter { $0.hasPrefix("clip__-") }.count == (try H.keys(ref)).count && keys.contains { $0.hasPrefix("good") }, "\(keys)")
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("index.json"))) as! [String: Any]
        let paths = ((index["sources"] as? [[String: Any]]) ?? []).compactMap { $0["path"] as? String }
        #expect(paths.contains(input.path + "/clip\\xff\\xfe.mp4"), "\(paths)")
    }

    @Test func aClipNestedTooDeepIsReportedNotSkipped() throws {
        let dir = H.temp("r3-deep")
        defer { try? FileManager.default.removeItem(at: dir) }
        var deep = dir.appendingPathComponent("in")
        for _ in 0..<600 { deep.appendPathComponent("d") }
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        // Foundation's copy gives up on paths this long; cp does not.
        let cp = try TestPaths.run("/bin/cp", [Self.clip, deep.appendingPathComponent("x.mp4").path])
        #expect(cp.0 == 0, "\(cp.2)")
        try FileManager.default.copyItem(atPath: Self.clip2, toPath: dir.appendingPathComponent("in/top.mp4").path)
        let out = dir.appendingPathComponent("out")
        let r = try H.fleetprep(["ingest", dir.appendingPathComponent("in").path, "--out", out.path, "--quiet", "--size", "16x16"])
        #expect(r.status == 1, "\(r.status) \(r.stderr)")
        let errs = H.errors(out)
        let message = errs.first.flatMap { $0["message"] as? String } ?? ""
        #expect(errs.count == 1 && errs[0]["stage"] as? String == "discover" && message.contains("nested more than"), "\(errs)")
        #expect(try H.keys(out).allSatisfy { $0.hasPrefix("top") })
    }

    // MARK: - 7. Verify: wds padding, end of archive, the .json member read as JSON

    /// The tar members of a wds shard, read here from the ustar headers (name, data range).
    static func tarMembers(_ b: [UInt8]) -> [(name: String, data: Range<Int>)] {
        var out: [(String, Range<Int>)] = []
        var pos = 0
        while pos + 512 <= b.count, b[pos..<(pos + 512)].contains(where: { $0 != 0 }) {
            let name = String(decoding: b[pos..<(pos + 100)].prefix { $0 != 0 }, as: UTF8.self)
            let size = Int(String(decoding: b[(pos + 124)..<(pos + 136)].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self), radix: 8)!
            out.append((name, (pos + 512)..<(pos + 512 + size)))
            pos += 512 + (size + 511) / 512 * 512
        }
        return out
    }

    @Test func verifyOfOneWdsShardChecksPaddingEndOfArchiveAndTheJSONField() throws {
        let dir = H.temp("r3-wds")
        defer { try? FileManager.default.removeItem(at: dir) }
        let g = try H.group(dir, "g")
        try H.write("t,speed\n0,1\n9,1\n", g.appendingPathComponent("signals.csv"))
        let out = dir.appendingPathComponent("out")
        #expect(try H.fleetprep(["ingest", g.path, "--out", out.path, "--quiet", "--size", "16x16", "--dtype", "u8", "--format", "wds"]).status == 0)
        let name = try DatasetManifest.read(from: out).shards[0].file
        let url = out.appendingPathComponent(name)
        let original = [UInt8](try Data(contentsOf: url))
        #expect(try H.fleetprep(["verify", url.path]).status == 0)
        let members = Self.tarMembers(original)
        let npy = members.first { $0.name.hasSuffix(".npy") }!, json = members.first { $0.name.hasSuffix(".json") }!
        let lastEnd = (members.last!.data.upperBound + 511) / 512 * 512
        #expect(npy.data.upperBound % 512 != 0 && json.data.upperBound % 512 != 0, "the test needs padding after both members")
        // One flipped bit in the .npy member's tar padding, the .json member's, and the end of
        // the archive: each makes the shard fail on its own, and the dataset too.
        for (what, at) in [("npy padding", npy.data.upperBound + 3), ("json padding", json.data.upperBound + 1), ("end of archive", lastEnd + 700)] {
            var b = original
            b[at] ^= 0x10
            try Data(b).write(to: url)
            #expect(try H.fleetprep(["verify", url.path]).status == 1, "verify SHARD passed a flip in the \(what)")
            #expect(try H.fleetprep(["verify", out.path]).status == 1, "verify DIR passed a flip in the \(what)")
        }
        // The .json member rewritten with a space after json_crc32c's colon (still valid JSON,
        // one byte longer: the tar header's size and checksum are rewritten to match, and the
        // member still ends inside the same 512-byte block) and a label changed: the CRC must
        // still be checked.
        var b = original
        let text = String(decoding: b[json.data], as: UTF8.self)
        #expect(text.contains("\"json_crc32c\":\"") && text.contains("\"labels\":[1]"), "\(text)")
        let edited = text.replacingOccurrences(of: "\"json_crc32c\":\"", with: "\"json_crc32c\": \"")
            .replacingOccurrences(of: "\"labels\":[1]", with: "\"labels\":[7]")
        #expect(edited.utf8.count == json.data.count + 1 && json.data.count % 512 != 0)
        #expect((try? JSONSerialization.jsonObject(with: Data(edited.utf8))) != nil)
        b.replaceSubrange(json.data.lowerBound..<(json.data.upperBound + 1), with: Array(edited.utf8))
        let h = json.data.lowerBound - 512
        let size = Array(String(format: "%011o", edited.utf8.count).utf8) + [0]
        b.replaceSubrange((h + 124)..<(h + 136), with: size)
        for k in 148..<156 { b[h + k] = 0x20 }
        let sum = b[h..<(h + 512)].reduce(0) { $0 + Int($1) }
        b.replaceSubrange((h + 148)..<(h + 156), with: Array(String(format: "%06o", sum).utf8) + [0, 0x20])
        try Data(b).write(to: url)
        #expect(Self.tarMembers(b).count == members.count)
        #expect(try H.fleetprep(["verify", url.path]).status == 1, "verify SHARD passed a changed label behind \"json_crc32c\": \"")
        #expect(try H.fleetprep(["verify", out.path]).status == 1)
        try Data(original).write(to: url)
        #expect(try H.fleetprep(["verify", out.path]).status == 0)
    }

    // MARK: - 8. Smaller

    @Test func planOptionsAreRangeChecked() throws {
        for args in [["--budget", "1e308"], ["--flops-per-sample", "0"], ["--budget", "-5"], ["--mfu", "-0.5"], ["--fps", "1e300"],
                     ["--resolution", "1e308x2"], ["--processes-per-node", "-3"]] {
            let r = try H.fleetprep(["plan"] + args)
            #expect(r.status == 2, "\(args): exit \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(args[0]), "\(args): \(r.stderr)")
        }
        // An inputs file is checked by the arithmetic: a count that does not fit is an error.
        let dir = H.temp("r3-plan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("inputs.json")
        try H.write("{\"budgetUSD\": {\"value\": 1e300, \"source\": \"test\"}}", file)
        let r = try H.fleetprep(["plan", "--inputs", file.path])
        #expect(r.status == 2, "exit \(r.status) \(r.stderr)")
        #expect(try H.fleetprep(["plan", "--budget", "1000000"]).status == 0)
    }

    @Test func aSummaryThatCannotBeWrittenFailsTheRun() throws {
        let dir = H.temp("r3-devfull")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestPaths.fleetprepExecutable)
        p.arguments = ["ingest", Self.clip, "--out", dir.appendingPathComponent("out").path, "--size", "16x16", "--json"]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 2, "ingest --json > /dev/full exited \(p.terminationStatus)")
    }

    @Test func workerCountsAreBounded() throws {
        let dir = H.temp("r3-workers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        let r = try H.fleetprep(["ingest", Self.clip, "--out", out.path, "--quiet", "--worker", "1/99999999"])
        #expect(r.status == 2 && r.stderr.contains("--worker"), "\(r.status) \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
