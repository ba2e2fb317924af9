@testable import FleetPrep
import FleetTestSupport
import Foundation
import Testing

/// Each ingest option is declared once, in `IngestOptionTable` (issue 26): docs/ingest.md's
/// option table is that table, every `fleetprep ingest` flag and every config key is in it with
/// the table's help, and the fingerprint's and merge's exclusions are the table's run-only
/// options.
@Suite struct IngestOptionTableTests {
    @Test func docsOptionTableIsTheCodesTable() throws {
        let docs = try String(contentsOf: TestPaths.repoRoot.appendingPathComponent("docs/ingest.md"), encoding: .utf8)
        guard let begin = docs.range(of: "<!-- option-table: generated from IngestOptionTable.markdown -->\n"),
              let end = docs.range(of: "\n<!-- /option-table -->", range: begin.upperBound..<docs.endIndex) else {
            Issue.record("docs/ingest.md has no option table markers"); return
        }
        let documented = docs[begin.upperBound..<end.lowerBound].split(separator: "\n").map(String.init)
        let code = IngestOptionTable.markdown.split(separator: "\n").map(String.init)
        #expect(documented.count == code.count, "docs/ingest.md has \(documented.count) option rows, the code \(code.count)")
        for (d, c) in zip(documented, code) where d != c { Issue.record("docs/ingest.md:\n  \(d)\ncode:\n  \(c)") }
        // The table names every config key once, and each flag once.
        let keys = IngestOptionTable.all.compactMap(\.key)
        #expect(Set(keys).count == keys.count && Set(IngestOptionTable.all.map(\.flag)).count == IngestOptionTable.all.count)
        #expect(Set(keys) == Set(IngestOptions.configKeys), "config keys \(IngestOptions.configKeys) vs the table's \(keys)")
    }

    /// `fleetprep ingest`'s own description of its arguments (ArgumentParser's
    /// `--experimental-dump-help`): every flag is a table row and takes the row's help line.
    @Test func everyCLIFlagIsInTheTableWithItsHelp() throws {
        let r = try TestPaths.fleetprep(["ingest", "--experimental-dump-help"])
        #expect(r.status == 0, "\(r.stderr)")
        guard let dump = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
              let command = dump["command"] as? [String: Any], let arguments = command["arguments"] as? [[String: Any]] else {
            Issue.record("no argument dump: \(r.stdout.prefix(400))"); return
        }
        var flags: [String] = []
        for a in arguments {
            let names = (a["names"] as? [[String: Any]]) ?? []
            let long = names.first { $0["kind"] as? String == "long" }?["name"] as? String
            let flag = (a["kind"] as? String) == "positional" ? "INPUT" : long.map { "--" + $0 }
            guard let flag, flag != "--help", flag != "--version" else { continue }
            flags.append(flag)
            guard let row = IngestOptionTable.all.first(where: { $0.flag == flag }) else {
                Issue.record("\(flag) is a fleetprep ingest flag but not in IngestOptionTable"); continue
            }
            #expect(a["abstract"] as? String == row.helpLine, "\(flag): help \(a["abstract"] ?? "none")")
        }
        #expect(Set(flags) == Set(IngestOptionTable.all.map(\.flag)),
                "in the table, not the CLI: \(Set(IngestOptionTable.all.map(\.flag)).subtracting(flags).sorted())")
        // A config file with every key of the table loads; one more key is refused, by name.
        let dir = IngestCLITests.tempDir("config-keys")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("c.json")
        try Data("{\"sizes\": \"8x8\"}".utf8).write(to: file)
        #expect(throws: IngestError.self) { try IngestOptions.load(configFile: file.path) }
        try Data("{\"size\": \"8x8\", \"followSymlinks\": true}".utf8).write(to: file)
        let loaded = try IngestOptions.load(configFile: file.path)
        #expect(loaded.size == "8x8" && loaded.followSymlinks == true)
    }

    /// The typed initializer's defaults are the table's (as the command line records them).
    @Test func typedDefaultsAreTheTablesDefaults() throws {
        let out = URL(fileURLWithPath: "/tmp/defaults-never-written")
        var o = IngestOptions()
        o.out = out.path
        let typed = try IngestConfiguration(output: out).effective
        let parsed = try IngestConfiguration(options: o).effective
        #expect(typed == parsed, "typed \(typed)\nparsed \(parsed)")
        // The table's defaults, written out by hand (docs/ingest.md).
        #expect(parsed.dtype == "f16" && parsed.layout == "chw" && parsed.normalize == "imagenet" && parsed.inflight == "256MiB")
        #expect(parsed.target == "512MiB" && parsed.fill == 1 && parsed.alignment == 4096 && parsed.maxSignals == 1024)
        #expect(parsed.jobs == ProcessInfo.processInfo.activeProcessorCount && parsed.followSymlinks == nil && parsed.master == nil)
    }

    /// Run-only options leave the fingerprint alone and may differ between workers; sample
    /// options change it.
    @Test func fingerprintAndMergeExclusionsAreTheTables() throws {
        func fingerprint(_ change: (inout IngestOptions) -> Void) throws -> String {
            var o = IngestOptions()
            o.out = "/tmp/fp-never-written"
            o.inputs = ["a.mp4"]
            change(&o)
            return IngestRun.fingerprint(try IngestConfiguration(options: o), items: [], schema: LabelSchema(fields: []))
        }
        let base = try fingerprint { _ in }
        let runOnly: [(String, (inout IngestOptions) -> Void)] = [
            ("out", { $0.out = "/tmp/elsewhere" }), ("jobs", { $0.jobs = 3 }), ("decoderThreads", { $0.decoderThreads = 4 }),
            ("inflight", { $0.inflight = "64MiB" }), ("inputs", { $0.inputs = ["b.mp4"] }), ("manifest", { $0.manifest = "m.jsonl" }),
        ]
        for (name, change) in runOnly { #expect(try fingerprint(change) == base, "\(name) changed the fingerprint") }
        let samples: [(String, (inout IngestOptions) -> Void)] = [
            ("stride", { $0.stride = 2 }), ("dtype", { $0.dtype = "f32" }), ("target", { $0.target = "1GiB" }),
            ("lenient", { $0.lenient = true }), ("size", { $0.size = "64x48" }), ("maxFrames", { $0.maxFrames = 10 }),
        ]
        for (name, change) in samples { #expect(try fingerprint(change) != base, "\(name) did not change the fingerprint") }
        #expect(IngestOptionTable.notInFingerprint == ["out", "jobs", "decoderThreads", "inflight", "inputs", "manifest"])
        #expect(DatasetMerge.notIdentity == ["out", "jobs", "decoderThreads", "inflight"])
    }
}
