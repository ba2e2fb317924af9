import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Seeded mutations of a whole dataset — index.json, a native shard, a WebDataset tar — checked
/// with `DatasetVerifier`, in process: no mutation may crash or hang the reader, and every
/// mutation that changes a byte must be reported (every byte of a dataset is covered by
/// index.json's digest, a shard digest, or the zero-padding rule).
@Suite struct DatasetFuzzTests {
    /// Mutations per file kind (3 kinds); the whole test stays well under a minute.
    static let rounds = 700

    enum Mutation: CaseIterable { case flip, byte, count, truncate, extend }

    static func mutate(_ d: Data, _ rng: inout Rng) -> Data {
        var b = [UInt8](d)
        switch Mutation.allCases[Int(rng.next() % 5)] {
        case .flip:
            for _ in 0..<(1 + Int(rng.next() % 3)) { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 << (rng.next() % 8)) }
        case .byte:
            b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
        case .count:
            // A count-like field made huge: 4 or 8 bytes of 0xFF (or ASCII 9s in text).
            let at = Int(rng.next() % UInt64(max(1, b.count - 8)))
            let fill: UInt8 = b[at] >= 0x30 && b[at] <= 0x39 ? 0x39 : 0xFF
            for k in 0..<min(rng.next() % 2 == 0 ? 4 : 8, b.count - at) { b[at + k] = fill }
        case .truncate:
            b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
        case .extend:
            b += [UInt8](repeating: UInt8(truncatingIfNeeded: rng.next()), count: 1 + Int(rng.next() % 600))
        }
        return Data(b)
    }

    /// Runs alone in a child process (`IsolatedTest`), so that the peak RSS it checks is its own.
    @Test func everyMutationIsReportedAndNoneCrashes() throws {
        guard IsolatedTest.inChild else {
            let child = try IsolatedTest.runAlone("DatasetFuzzTests/everyMutationIsReportedAndNoneCrashes")
            #expect(child.passed, "the fuzz failed in its own process (exit \(child.status)):\n\(child.log.suffix(4000))")
            return
        }
        for format in [ShardFormat.native, .wds] { try fuzz(format) }
        if let rss = testPeakResidentBytes() { #expect(rss < 1 << 30, "peak RSS \(rss) bytes") }
    }

    func fuzz(_ format: ShardFormat) throws {
        let dir = scratch("dsfuzz")
        defer { try? FileManager.default.removeItem(at: dir) }
        let shards = try write(makeSamples(9, seed: 11), to: dir, format: format, budget: 8 * 1024)
        #expect(shards.count >= 2)
        #expect(DatasetVerifier.verify(directory: dir).problems.isEmpty)
        let files = ["index.json", shards[0].file]
        var rng = Rng(state: format == .native ? 1 : 2)
        var missed: [String] = []
        for file in files {
            let url = dir.appendingPathComponent(file)
            let original = try Data(contentsOf: url)
            for round in 0..<Self.rounds {
                let d = Self.mutate(original, &rng)
                guard d != original else { continue }
                try d.write(to: url)
                let report = DatasetVerifier.verify(directory: dir)
                if report.problems.isEmpty { missed.append("\(file) round \(round)") }
                // The reader itself must also fail cleanly or read every record.
                if let ds = try? ShardDataset(directory: dir) { for i in 0..<ds.count { _ = try? ds.record(at: i) } }
            }
            try original.write(to: url)
            // The shard alone (no index.json to compare with).
            if file != "index.json" {
                for _ in 0..<(Self.rounds / 2) {
                    let d = Self.mutate(original, &rng)
                    guard d != original else { continue }
                    try d.write(to: url)
                    _ = DatasetVerifier.verify(shard: url)
                }
                try original.write(to: url)
            }
        }
        #expect(missed.isEmpty, "\(format): \(missed.count) mutation(s) not reported, e.g. \(missed.prefix(5))")
        #expect(DatasetVerifier.verify(directory: dir).problems.isEmpty)
    }
}
