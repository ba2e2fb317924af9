import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// The Kubernetes Indexed Job (docs/scale-out/k8s-indexed-job.yaml) without a cluster: the
/// manifest's exact ingest command line, run once per completion index with
/// JOB_COMPLETION_INDEX set as Kubernetes sets it, then the merge Job's command. Only the
/// volume paths (/data/clips, /data/shards) are replaced. The oracle is one plain
/// `fleetprep ingest` with the same options.
@Suite(.serialized, .enabled(if: TestPaths.which("ffmpeg") != nil, "skipped: the ffmpeg CLI (which makes the test clips) is not installed"))
struct KubernetesIndexedJobTests {
    static let manifest = TestPaths.repoRoot.appendingPathComponent("docs/scale-out/k8s-indexed-job.yaml")

    /// The `command:` arrays of the manifest's containers, in order, and `completions`.
    static func parse() throws -> (commands: [[String]], completions: Int) {
        let text = try String(contentsOf: manifest, encoding: .utf8)
        var commands: [[String]] = []
        var rest = Substring(text)
        while let r = rest.range(of: "command: [") {
            let from = rest.index(before: r.upperBound)
            guard let close = rest[from...].firstIndex(of: "]") else { break }
            let json = rest[from...close].replacingOccurrences(of: "\n", with: " ")
            commands.append(try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String])
            rest = rest[rest.index(after: close)...]
        }
        let completions = text.split(separator: "\n").compactMap { line -> Int? in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.hasPrefix("completions:") ? Int(t.dropFirst("completions:".count).trimmingCharacters(in: .whitespaces)) : nil
        }
        #expect(completions.count == 1)
        return (commands, completions.first ?? 0)
    }

    @Test func indexedJobCommandPerIndexThenMergeEqualsOneProcess() throws {
        let (commands, completions) = try Self.parse()
        #expect(commands.count == 2, "ingest and merge containers: \(commands)")
        #expect(completions >= 2)
        guard commands.count == 2, commands[0].first == "fleetprep", commands[1].first == "fleetprep" else { return }
        let root = IngestCLITests.tempDir("k8s")
        defer { try? FileManager.default.removeItem(at: root) }
        let clips = MergeRulesTests.clips.path, shards = root.appendingPathComponent("shards").path
        func local(_ args: [String]) -> [String] {
            args.dropFirst().map { $0.replacingOccurrences(of: "/data/clips", with: clips).replacingOccurrences(of: "/data/shards", with: shards) }
        }
        let ingest = local(commands[0])
        // --workers must be the Job's completion count (Kubernetes does not export it).
        let wi = ingest.firstIndex(of: "--workers")
        #expect(wi.map { ingest[$0 + 1] } == "\(completions)", "--workers in \(ingest) vs completions: \(completions)")

        // One process per index, four at a time (pods run in parallel).
        var queue = Array(0..<completions)
        while !queue.isEmpty {
            let batch = queue.prefix(4)
            queue.removeFirst(batch.count)
            var procs: [(Int, Process)] = []
            for i in batch {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: TestPaths.fleetprepExecutable)
                p.arguments = ingest + ["--quiet"]
                p.environment = ProcessInfo.processInfo.environment.merging(["JOB_COMPLETION_INDEX": "\(i)"]) { $1 }
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                procs.append((i, p))
            }
            for (i, p) in procs { p.waitUntilExit(); #expect(p.terminationStatus == 0, "index \(i) exited \(p.terminationStatus)") }
        }
        let m = try TestPaths.run(TestPaths.fleetprepExecutable, local(commands[1]))
        #expect(m.0 == 0, "merge: \(m.2)")

        // The oracle: the same options in one process (no worker split).
        var single = ingest
        if let wi { single.removeSubrange(wi...(wi + 1)) }
        let one = root.appendingPathComponent("one").path
        single[single.firstIndex(of: shards)!] = one
        let r = try TestPaths.fleetprep(single + ["--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let a = try IngestCLITests.contents(URL(fileURLWithPath: one)), b = try IngestCLITests.contents(URL(fileURLWithPath: shards))
        #expect(a.count >= 50)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (k, v) in a where b[k] != v { Issue.record("sample \(k) differs") }
    }
}
