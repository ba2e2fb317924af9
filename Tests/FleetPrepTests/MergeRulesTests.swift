import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// `fleetprep merge` rules (issue 15 item 3, issue 18): refuses missing workers, mixed worker
/// counts, duplicates and workers of another ingest, naming what is wrong; `--allow-partial`
/// only when given; per-node directories merge. The oracle is a plain single-process
/// `fleetprep ingest` of the same clips (samples compared by key: tensor bytes, labels, mask,
/// annotations).
@Suite(.serialized, .enabled(if: TestPaths.which("ffmpeg") != nil, "skipped: the ffmpeg CLI (which makes the test clips) is not installed"))
struct MergeRulesTests {
    /// Five small generated clips, different patterns and lengths (one clip group each), made once.
    static let clips: URL = {
        let dir = IngestCLITests.tempDir("merge-clips")
        let sources = ["testsrc=s=160x120:r=10:d=2", "testsrc2=s=160x120:r=10:d=1", "smptebars=s=160x120:r=10:d=2",
                       "mandelbrot=s=160x120:r=10", "rgbtestsrc=s=160x120:r=10:d=1"]
        for (i, src) in sources.enumerated() {
            let out = dir.appendingPathComponent("cam\(i).mp4").path
            let r = try? TestPaths.run(TestPaths.which("ffmpeg")!, ["-v", "error", "-y", "-f", "lavfi", "-i", src, "-t", "2",
                                                                    "-c:v", "libx264", "-pix_fmt", "yuv420p", out])
            precondition(r?.0 == 0, "ffmpeg failed for \(src): \(r?.2 ?? "not run")")
        }
        return dir
    }()

    static let args = ["--size", "32x24", "--target", "64KiB", "--quiet", "--jobs", "1"]

    /// A single-process ingest of the clips (the oracle), made once.
    static let reference: [String: [UInt8]] = {
        let out = IngestCLITests.tempDir("merge-ref")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try! TestPaths.fleetprep(["ingest", clips.path] + args + ["--out", out.path])
        precondition(r.status == 0, r.stderr)
        return try! IngestCLITests.contents(out)
    }()

    /// Runs worker `i/n` into `out` (extra options appended).
    @discardableResult
    static func worker(_ i: Int, of n: Int, into out: URL, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try TestPaths.fleetprep(["ingest", clips.path] + args + extra + ["--out", out.path, "--worker", "\(i)/\(n)"])
        #expect(r.status == 0, "worker \(i)/\(n): \(r.stderr)")
        return r
    }

    static func expectSameSamples(_ dir: URL, _ what: String) throws {
        let got = try IngestCLITests.contents(dir)
        #expect(reference.count >= 50, "reference has \(reference.count) samples")
        #expect(got.keys.sorted() == reference.keys.sorted(), "\(what): keys differ")
        for (k, v) in reference where got[k] != v { Issue.record("\(what): sample \(k) differs") }
    }

    @Test func sharedOutMergesToTheSingleProcessResult() throws {
        let out = IngestCLITests.tempDir("merge-shared")
        defer { try? FileManager.default.removeItem(at: out) }
        for i in 0..<3 { try Self.worker(i, of: 3, into: out) }
        let m = try TestPaths.fleetprep(["merge", out.path])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.stdout.contains("merged 3 of 3"), "\(m.stdout)")
        try Self.expectSameSamples(out, "shared --out")
        let v = try TestPaths.fleetprep(["verify", out.path])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
    }

    @Test func perNodeDirectoriesMergeIntoAnotherDirectory() throws {
        let root = IngestCLITests.tempDir("merge-nodes")
        defer { try? FileManager.default.removeItem(at: root) }
        let dirs = (0..<3).map { root.appendingPathComponent("node\($0)") }
        for i in 0..<3 { try Self.worker(i, of: 3, into: dirs[i]) }
        let out = root.appendingPathComponent("merged")
        // Given in another order than the workers' indices: the result does not depend on it.
        let m = try TestPaths.fleetprep(["merge", dirs[2].path, dirs[0].path, dirs[1].path, "--out", out.path])
        #expect(m.status == 0, "\(m.stderr)")
        try Self.expectSameSamples(out, "per-node directories")
        let index = try DatasetManifest.read(from: out)
        // The merged directory is a whole dataset: the shards are linked into it under their names.
        #expect(index.shards.allSatisfy { !$0.file.contains("/") && FileManager.default.fileExists(atPath: out.appendingPathComponent($0.file).path) },
                "\(index.shards.map(\.file))")
        #expect(index.shards.map(\.file) == index.shards.map(\.file).sorted(), "shards in worker order")
        let v = try TestPaths.fleetprep(["verify", out.path])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
    }

    @Test func aMissingWorkerIsRefusedUnlessPartialIsAllowed() throws {
        let out = IngestCLITests.tempDir("merge-missing")
        defer { try? FileManager.default.removeItem(at: out) }
        for i in 0..<3 { try Self.worker(i, of: 3, into: out) }
        // Worker 1's clips, from its own manifest (before it goes).
        let w1 = try DatasetManifest.read(from: out.appendingPathComponent("index-w001of003.json"))
        let w1Groups = Set(w1.sources.arrayKeys)
        #expect(!w1Groups.isEmpty)
        try FileManager.default.removeItem(at: out.appendingPathComponent("index-w001of003.json"))
        let m = try TestPaths.fleetprep(["merge", out.path])
        #expect(m.status == 2)
        #expect(m.stderr.contains("missing 1 of 3 workers: 1/3"), "\(m.stderr)")
        #expect(m.stderr.contains("--allow-partial"), "\(m.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("index.json").path), "nothing written on refusal")

        let p = try TestPaths.fleetprep(["merge", out.path, "--allow-partial"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stderr.contains("workers 1/3 missing"), "\(p.stderr)")
        // The reference less worker 1's clip groups (sample keys are GROUP-NNNNNN).
        let got = try IngestCLITests.contents(out)
        let expected = Self.reference.keys.filter { !w1Groups.contains(String($0.dropLast(7))) }.sorted()
        #expect(got.keys.sorted() == expected)
        #expect(expected.count < Self.reference.count)
    }

    @Test func aStaleRunWithAnotherWorkerCountIsRefused() throws {
        let out = IngestCLITests.tempDir("merge-mixed")
        defer { try? FileManager.default.removeItem(at: out) }
        for i in 0..<3 { try Self.worker(i, of: 3, into: out) }
        try Self.worker(0, of: 2, into: out)   // the stale run of issue 15
        for extra in [[], ["--allow-partial"]] {
            let m = try TestPaths.fleetprep(["merge", out.path] + extra)
            #expect(m.status == 2, "\(extra)")
            #expect(m.stderr.contains("different worker counts"), "\(m.stderr)")
            #expect(m.stderr.contains("N=2: ") && m.stderr.contains("index-w000of002.json") && m.stderr.contains("N=3: "), "\(m.stderr)")
        }
    }

    @Test func theSameWorkerTwiceIsRefused() throws {
        let root = IngestCLITests.tempDir("merge-twice")
        defer { try? FileManager.default.removeItem(at: root) }
        let dirs = (0..<4).map { root.appendingPathComponent("node\($0)") }
        for i in 0..<3 { try Self.worker(i, of: 3, into: dirs[i]) }
        try Self.worker(1, of: 3, into: dirs[3])     // worker 1 run again elsewhere
        let m = try TestPaths.fleetprep(["merge"] + dirs.map(\.path) + ["--out", root.appendingPathComponent("m").path])
        #expect(m.status == 2)
        #expect(m.stderr.contains("worker 1/3 appears 2 times"), "\(m.stderr)")
        #expect(m.stderr.contains("node1/index-w001of003.json") && m.stderr.contains("node3/index-w001of003.json"), "\(m.stderr)")
        // The same directory named twice is one directory, not a duplicate.
        let same = try TestPaths.fleetprep(["merge", dirs[0].path, dirs[1].path, dirs[2].path, dirs[0].path + "/",
                                            "--out", root.appendingPathComponent("m2").path])
        #expect(same.status == 0, "\(same.stderr)")
    }

    @Test func duplicateKeysAreRefused() throws {
        let root = IngestCLITests.tempDir("merge-dupkeys")
        defer { try? FileManager.default.removeItem(at: root) }
        let dirs = (0..<3).map { root.appendingPathComponent("node\($0)") }
        for i in 0..<3 { try Self.worker(i, of: 3, into: dirs[i]) }
        // Node 2 holds a copy of worker 1's shards under worker 2's manifest name (e.g. a copy
        // job that went wrong): its clip groups, and so its sample keys, are worker 1's.
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: dirs[2].path) where name.hasPrefix("index") || name.hasPrefix("shard") {
            try fm.removeItem(at: dirs[2].appendingPathComponent(name))
        }
        for name in try fm.contentsOfDirectory(atPath: dirs[1].path) where name.hasPrefix("shard") {
            try fm.copyItem(at: dirs[1].appendingPathComponent(name), to: dirs[2].appendingPathComponent(name))
        }
        let w1 = dirs[1].appendingPathComponent("index-w001of003.json"), w2 = dirs[2].appendingPathComponent("index-w002of003.json")
        try fm.copyItem(at: w1, to: w2)
        let merged = root.appendingPathComponent("m").path
        let m = try TestPaths.fleetprep(["merge"] + dirs.map(\.path) + ["--out", merged])
        #expect(m.status == 2)
        #expect(m.stderr.contains("is in worker 1/3") && m.stderr.contains("and worker 2/3"), "\(m.stderr)")
        // Without the sources list, the sample keys in the shards themselves still give it away.
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: w2)) as! [String: Any]
        obj["sources"] = [Any]()
        try JSONSerialization.data(withJSONObject: obj).write(to: w2)
        let k = try TestPaths.fleetprep(["merge"] + dirs.map(\.path) + ["--out", merged, "--allow-partial"])
        #expect(k.status == 2)
        #expect(k.stderr.contains("duplicate sample key"), "\(k.stderr)")
    }

    @Test func workersOfAnotherIngestAreRefusedNamingTheOption() throws {
        let root = IngestCLITests.tempDir("merge-options")
        defer { try? FileManager.default.removeItem(at: root) }
        let dirs = (0..<3).map { root.appendingPathComponent("node\($0)") }
        try Self.worker(0, of: 3, into: dirs[0])
        try Self.worker(1, of: 3, into: dirs[1], ["--jobs", "2"])     // --jobs does not change the samples
        // --size does; the later --size wins over the one in args.
        let r = try TestPaths.fleetprep(["ingest", Self.clips.path] + Self.args + ["--size", "16x12", "--out", dirs[2].path, "--worker", "2/3"])
        #expect(r.status == 0, "\(r.stderr)")
        let m = try TestPaths.fleetprep(["merge"] + dirs.map(\.path) + ["--out", root.appendingPathComponent("m").path])
        #expect(m.status == 2)
        #expect(m.stderr.contains("worker 2/3 differs from worker 0/3"), "\(m.stderr)")
        #expect(m.stderr.contains("size: \"32x24\" vs \"16x12\""), "\(m.stderr)")
        #expect(!m.stderr.contains("jobs:") && !m.stderr.contains("out:"), "\(m.stderr)")
    }

    @Test func aWorkerWithAnEmptyShareSucceedsAndCounts() throws {
        // 7 workers for 5 clip groups: workers 5 and 6 get nothing, exit 0, and write a manifest.
        let out = IngestCLITests.tempDir("merge-empty")
        defer { try? FileManager.default.removeItem(at: out) }
        for i in 0..<7 { try Self.worker(i, of: 7, into: out) }
        let empty = try DatasetManifest.read(from: out.appendingPathComponent("index-w006of007.json"))
        #expect(empty.shards.isEmpty && empty.samples == 0)
        let m = try TestPaths.fleetprep(["merge", out.path])
        #expect(m.status == 0, "\(m.stderr)")
        try Self.expectSameSamples(out, "7 workers over 5 groups")
    }
}

extension JSONValue {
    /// The "key" of each object in an array (a manifest's sources).
    var arrayKeys: [String] {
        guard case .array(let a) = self else { return [] }
        return a.compactMap { if case .object(let o) = $0, case .string(let k)? = o["key"] { return k }; return nil }
    }
}
