import FleetShards
import Foundation

/// Where a laid-out group's records go: one placement per kept sample, and the shards they span.
final class GroupLayout: Sendable {
    let plan: GroupPlan
    let placements: [ShardPlacement]
    var shards: ClosedRange<Int>? {
        guard let first = placements.first, let last = placements.last else { return nil }
        return first.shard...last.shard
    }

    init(plan: GroupPlan, placements: [ShardPlacement]) {
        self.plan = plan
        self.placements = placements
    }
}

/// The output side of an ingest: lays out every group's records in dataset order (`ShardPacker`),
/// takes records from any worker in any order and writes each in place (`PlacedShard`), and
/// completes a shard as soon as it is sealed (the layout has moved past it) and every group with
/// records in it has finished: failed groups' records are dropped, the shard is compacted,
/// indexed, digested, fsynced, renamed and journaled — on the worker that finished the last group.
///
/// A shard waits for whole groups, not just for its own records, so that a group that fails in
/// any of its units leaves no sample anywhere: the dataset depends only on the inputs and options.
final class ShardSink: EngineOutput, @unchecked Sendable {
    let pool = RecordBufferPool()
    var keepsSamples: Bool { false }

    struct Shard {
        var slots = 0
        var pendingGroups = 0
        var sealed = false
        var dropping = Set<Int>()
        var file: PlacedShard?
        /// Complete in an earlier run (journaled): nothing is written to it again.
        var done = false
        var finishing = false
    }

    let directory: URL
    let prefix: String
    private let format: ShardFormat
    private let schema: LabelSchema
    private let alignment: Int
    private let digest: SegmentDigestKind
    private var packer: ShardPacker
    private let lock = NSLock()
    private var shards: [Int: Shard] = [:]
    private var results: [Int: ShardInfo] = [:]
    private let onShardFinished: (Int, ShardInfo?) throws -> Void
    /// Samples per tensor shape of the groups that finished whole, with the first such group.
    private var shapeCounts: [[Int]: (firstGroup: Int, samples: Int)] = [:]
    private let onShardOpening: (Int, String) throws -> Void

    /// - Parameters:
    ///   - done: shards an earlier run completed (number → info, nil for one left empty).
    ///   - onShardOpening: called before a shard's file is created (number, file name); journals
    ///     the name, so that no file the run creates is unknown to the journal.
    ///   - onShardFinished: called on the finishing thread after a shard is in place (or found
    ///     empty); journals it.
    init(directory: URL, prefix: String, format: ShardFormat, schema: LabelSchema, budget: ShardBudget, alignment: Int,
         digest: SegmentDigestKind, done: [Int: ShardInfo?],
         onShardOpening: @escaping (Int, String) throws -> Void = { _, _ in },
         onShardFinished: @escaping (Int, ShardInfo?) throws -> Void) throws(ShardError) {
        self.directory = directory
        self.prefix = prefix
        self.format = format
        self.schema = schema
        self.alignment = alignment
        self.digest = digest
        packer = try ShardPacker(format: format, budget: budget, schema: schema, alignment: alignment)
        self.onShardFinished = onShardFinished
        self.onShardOpening = onShardOpening
        for (n, info) in done {
            shards[n] = Shard(sealed: true, done: true)
            if let info { results[n] = info }
        }
    }

    func shardName(_ n: Int) -> String {
        let s = String(n)
        return prefix + "-" + String(repeating: "0", count: max(0, 6 - s.count)) + s + "." + format.fileExtension
    }

    /// Places `plan`'s records after everything laid out before (call in group order). Returns
    /// the layout and the shards that became complete (sealed with nothing pending).
    func layOut(_ plan: GroupPlan) throws -> (GroupLayout, ready: [Int]) {
        try lock.withLock {
            // A group is placed whole or not at all: a record that fits no shard fails its group
            // (the layout of every other group is unchanged, so the dataset stays deterministic).
            var placements: [ShardPlacement] = []
            placements.reserveCapacity(plan.count)
            var trial = packer
            for k in 0..<plan.count { placements.append(try trial.place(plan.record(k))) }
            packer = trial
            let layout = GroupLayout(plan: plan, placements: placements)
            if let range = layout.shards {
                for n in range {
                    shards[n, default: Shard()].pendingGroups += 1
                }
                for p in placements where !(shards[p.shard]!.done) { shards[p.shard]!.slots = max(shards[p.shard]!.slots, p.slot + 1) }
            }
            return (layout, sealLocked(below: packer.shard))
        }
    }

    /// Seals every shard: the layout is complete. Returns the shards now complete.
    func sealAll() -> [Int] {
        lock.withLock {
            packer.seal()
            return sealLocked(below: packer.shard)
        }
    }

    /// Seals the shards before `limit` (the packer has moved past them).
    private func sealLocked(below limit: Int) -> [Int] {
        var ready: [Int] = []
        for n in shards.keys.sorted() where n < limit && !shards[n]!.sealed {
            shards[n]!.sealed = true
            if shards[n]!.pendingGroups == 0 { ready.append(n) }
        }
        return ready
    }

    /// True when record `k` of `layout` goes to a shard that is still to be written.
    func needs(_ layout: GroupLayout, _ k: Int) -> Bool {
        lock.withLock { !(shards[layout.placements[k].shard]?.done ?? false) }
    }

    /// Writes record `k` of `layout` in place (skipped when its shard is complete already).
    func write(_ layout: GroupLayout, _ k: Int, _ record: SampleRecord) throws {
        let p = layout.placements[k]
        let file: PlacedShard? = try lock.withLock { () throws -> PlacedShard? in
            guard !shards[p.shard]!.done else { return nil }
            if let f = shards[p.shard]!.file { return f }
            try onShardOpening(p.shard, shardName(p.shard))
            let f = try PlacedShard(directory: directory, name: shardName(p.shard), number: p.shard, format: format,
                                    schema: schema, alignment: alignment, digest: digest)
            shards[p.shard]!.file = f
            return f
        }
        try file?.write(record, at: p)
    }

    /// Writes the record of prepared sample `sample` of `layout` in place.
    func write(_ layout: GroupLayout, _ sample: PreparedSample) throws {
        let record = layout.plan.record(sample.position, tensorBytes: UnsafeRawBufferPointer(sample.buffer.bytes),
                                        tensorCRC32C: sample.tensorCRC32C)
        try write(layout, sample.position, record)
    }

    /// Records that group `number` is finished (its records dropped when `failed`). Returns the
    /// shards now complete.
    func groupFinished(_ number: Int, layout: GroupLayout?, failed: Bool) -> [Int] {
        guard let layout else { return [] }
        return lock.withLock {
            if !failed, !layout.placements.isEmpty {
                let shape = layout.plan.tensor.shape
                let seen = shapeCounts[shape]
                shapeCounts[shape] = (min(seen?.firstGroup ?? .max, layout.plan.number), (seen?.samples ?? 0) + layout.placements.count)
            }
            guard let range = layout.shards else { return [] }
            if failed {
                for p in layout.placements { shards[p.shard]!.dropping.insert(p.slot) }
            }
            var ready: [Int] = []
            for n in range {
                shards[n]!.pendingGroups -= 1
                if shards[n]!.pendingGroups == 0 && shards[n]!.sealed { ready.append(n) }
            }
            return ready
        }
    }

    /// Completes shards that `layOut`, `sealAll` or `groupFinished` reported ready.
    func finish(_ numbers: [Int]) throws {
        for n in numbers {
            let state: Shard? = lock.withLock {
                guard var s = shards[n], !s.done, !s.finishing else { return nil }
                s.finishing = true
                shards[n] = s
                return s
            }
            guard let state else { continue }
            var info: ShardInfo? = nil
            if let file = state.file {
                info = try file.finish(slots: state.slots, dropping: state.dropping)
            } else if state.slots > state.dropping.count {
                throw ShardError(.io, file: directory.appendingPathComponent(shardName(n)).path, "no record was written to it")
            }
            lock.withLock {
                shards[n]!.done = true
                shards[n]!.file = nil
                if let info { results[n] = info }
            }
            try onShardFinished(n, info)
        }
    }

    /// Removes the temporary files of shards not completed (cancellation, a fatal error).
    func abandonOpen() {
        let open = lock.withLock { shards.values.compactMap { $0.done ? nil : $0.file } }
        for f in open { f.abandon() }
    }

    /// Every completed shard (this run's and earlier runs'), in shard order.
    var completed: [ShardInfo] { lock.withLock { results.keys.sorted().map { results[$0]! } } }

    /// Every tensor shape among the dataset's samples with its count, in group order of first
    /// appearance (counted as groups finish, so no shard is read again).
    var shapes: [ShapeCount] {
        lock.withLock {
            shapeCounts.sorted { $0.value.firstGroup < $1.value.firstGroup }.map { ShapeCount(shape: $0.key, samples: $0.value.samples) }
        }
    }

    /// Shards laid out but not complete (should be none after a full run).
    var incomplete: [Int] { lock.withLock { shards.filter { !$0.value.done }.map(\.key).sorted() } }
}
