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
        m.shards[0].file = try DatasetManifest.read(from: out.appendingPathComponent("index-w000of002.json")).shards[0].file
        try m.write(to: out, name: "index-w001of002.json")
        let dup = try H.fleetprep(["merge", out.path])
        #expect(dup.status == 2 && dup.stderr.contains("names too"), "\(dup.status) \(dup.stderr)")
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
}
