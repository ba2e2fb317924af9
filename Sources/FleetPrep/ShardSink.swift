import FleetShards
import Foundation
import Synchronization

/// Where a laid-out group's records go: one placement per kept sample, the shards they span, and
/// each record's framing (everything but its tensor, encoded once, at layout).
final class GroupLayout: Sendable {
    let plan: GroupPlan
    let placements: [ShardPlacement]
    let framings: [RecordFraming]
    var shards: ClosedRange<Int>? {
        guard let first = placements.first, let last = placements.last else { return nil }
        return first.shard...last.shard
    }

    init(plan: GroupPlan, placements: [ShardPlacement] = [], framings: [RecordFraming] = []) {
        self.plan = plan
        self.placements = placements
        self.framings = framings
    }
}

/// Which shards can be completed: per shard, its slots, the groups with records in it that are
/// not finished, whether the layout has moved past it (sealed), the slots of failed groups, its
/// open file, and whether it is complete. A shard is ready when it is sealed and no group is
/// pending; `ShardSink` keeps one behind its lock.
struct ShardLedger {
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

    private(set) var shards: [Int: Shard] = [:]

    /// Starts with the shards an earlier run completed.
    init(done: some Sequence<Int>) {
        for n in done { shards[n] = Shard(sealed: true, done: true) }
    }

    func isDone(_ n: Int) -> Bool { shards[n]?.done ?? false }

    /// A group's records are placed: each shard they span waits for the group.
    mutating func laidOut(_ layout: GroupLayout) {
        guard let range = layout.shards else { return }
        for n in range { shards[n, default: Shard()].pendingGroups += 1 }
        for p in layout.placements where !(shards[p.shard]!.done) { shards[p.shard]!.slots = max(shards[p.shard]!.slots, p.slot + 1) }
    }

    /// Seals the shards before `limit` (the packer has moved past them). Returns those now ready.
    mutating func seal(below limit: Int) -> [Int] {
        var ready: [Int] = []
        for n in shards.keys.sorted() where n < limit && !shards[n]!.sealed {
            shards[n]!.sealed = true
            if shards[n]!.pendingGroups == 0 { ready.append(n) }
        }
        return ready
    }

    /// A group laid out in `layout` is finished (its slots dropped when `failed`). Returns the
    /// shards now ready.
    mutating func groupFinished(_ layout: GroupLayout, failed: Bool) -> [Int] {
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

    /// The open file of shard `n`, made with `open` the first time (nil: complete already).
    mutating func file(_ n: Int, open: () throws -> PlacedShard) throws -> PlacedShard? {
        guard !shards[n]!.done else { return nil }
        if let f = shards[n]!.file { return f }
        let f = try open()
        shards[n]!.file = f
        return f
    }

    /// Marks shard `n` as being completed; returns its state, or nil when it is complete or
    /// being completed already (by another worker).
    mutating func beginFinishing(_ n: Int) -> Shard? {
        guard var s = shards[n], !s.done, !s.finishing else { return nil }
        s.finishing = true
        shards[n] = s
        return s
    }

    mutating func finished(_ n: Int) {
        shards[n]!.done = true
        shards[n]!.file = nil
    }

    var openFiles: [PlacedShard] { shards.values.compactMap { $0.done ? nil : $0.file } }
    var incomplete: [Int] { shards.filter { !$0.value.done }.map(\.key).sorted() }
}

/// The output side of an ingest: lays out every group's records in dataset order (`ShardPacker`),
/// takes records from any worker in any order and writes each in place (`PlacedShard`), and
/// completes a shard as soon as it is sealed (the layout has moved past it) and every group with
/// records in it has finished (`ShardLedger`): failed groups' records are dropped, the shard is
/// compacted, indexed, digested, fsynced, renamed and journaled — on the worker that finished the
/// last group.
///
/// A shard waits for whole groups, not just for its own records, so that a group that fails in
/// any of its units leaves no sample anywhere: the dataset depends only on the inputs and options.
final class ShardSink: EngineOutput, Sendable {
    let pool = RecordBufferPool()
    var keepsSamples: Bool { false }

    let directory: URL
    let prefix: String
    private let format: ShardFormat
    private let schema: LabelSchema
    private let alignment: Int
    private let digest: SegmentDigestKind

    /// Everything that changes as groups are laid out and finished, under one lock.
    private struct State {
        var packer: ShardPacker
        var ledger: ShardLedger
        /// Completed shards (this run's and earlier runs'; nil info: left empty).
        var results: [Int: ShardInfo] = [:]
        /// Samples per tensor shape of the groups that finished whole, with the first such group.
        var shapeCounts: [[Int]: (firstGroup: Int, samples: Int)] = [:]
    }
    private let state: Mutex<State>
    private let onShardOpening: @Sendable (Int, String) throws -> Void
    private let onShardFinished: @Sendable (Int, ShardInfo?) throws -> Void

    /// - Parameters:
    ///   - done: shards an earlier run completed (number → info, nil for one left empty).
    ///   - onShardOpening: called before a shard's file is created (number, file name); journals
    ///     the name, so that no file the run creates is unknown to the journal.
    ///   - onShardFinished: called on the finishing thread after a shard is in place (or found
    ///     empty); journals it.
    init(directory: URL, prefix: String, format: ShardFormat, schema: LabelSchema, budget: ShardBudget, alignment: Int,
         digest: SegmentDigestKind, done: [Int: ShardInfo?],
         onShardOpening: @escaping @Sendable (Int, String) throws -> Void = { _, _ in },
         onShardFinished: @escaping @Sendable (Int, ShardInfo?) throws -> Void) throws(ShardError) {
        self.directory = directory
        self.prefix = prefix
        self.format = format
        self.schema = schema
        self.alignment = alignment
        self.digest = digest
        var initial = State(packer: try ShardPacker(format: format, budget: budget, schema: schema, alignment: alignment),
                            ledger: ShardLedger(done: done.keys))
        for (n, info) in done { if let info { initial.results[n] = info } }
        state = Mutex(initial)
        self.onShardFinished = onShardFinished
        self.onShardOpening = onShardOpening
    }

    func shardName(_ n: Int) -> String {
        DatasetNames.shard(prefix: prefix, number: n, format: format)
    }

    /// Places `plan`'s records after everything laid out before (call in group order). Returns
    /// the layout and the shards that became complete (sealed with nothing pending).
    func layOut(_ plan: GroupPlan) throws -> (GroupLayout, ready: [Int]) {
        try state.withLock { s throws -> (GroupLayout, ready: [Int]) in
            // A group is placed whole or not at all: a record that fits no shard fails its group
            // (the layout of every other group is unchanged, so the dataset stays deterministic).
            let framings = (0..<plan.count).map { RecordFraming(plan.record($0), format: format, schema: schema) }
            var placements: [ShardPlacement] = []
            placements.reserveCapacity(plan.count)
            var trial = s.packer
            for f in framings { placements.append(try trial.place(f)) }
            s.packer = trial
            let layout = GroupLayout(plan: plan, placements: placements, framings: framings)
            s.ledger.laidOut(layout)
            return (layout, s.ledger.seal(below: s.packer.shard))
        }
    }

    /// Seals every shard: the layout is complete. Returns the shards now complete.
    func sealAll() -> [Int] {
        state.withLock { s in
            s.packer.seal()
            return s.ledger.seal(below: s.packer.shard)
        }
    }

    /// True when record `k` of `layout` goes to a shard that is still to be written.
    func needs(_ layout: GroupLayout, _ k: Int) -> Bool {
        state.withLock { !$0.ledger.isDone(layout.placements[k].shard) }
    }

    /// Writes the record of prepared sample `sample` of `layout` in place (skipped when its shard
    /// is complete already).
    func write(_ layout: GroupLayout, _ sample: PreparedSample) throws {
        let k = sample.position
        let p = layout.placements[k]
        let file = try state.withLock { s throws -> PlacedShard? in
            try s.ledger.file(p.shard) {
                try onShardOpening(p.shard, shardName(p.shard))
                return try PlacedShard(directory: directory, name: shardName(p.shard), number: p.shard, format: format,
                                       schema: schema, alignment: alignment, digest: digest)
            }
        }
        try file?.write(layout.framings[k], tensorBytes: UnsafeRawBufferPointer(sample.buffer.bytes),
                        tensorCRC32C: sample.tensorCRC32C, at: p)
    }

    /// Records that group `number` is finished (its records dropped when `failed`). Returns the
    /// shards now complete.
    func groupFinished(_ number: Int, layout: GroupLayout?, failed: Bool) -> [Int] {
        guard let layout else { return [] }
        return state.withLock { s in
            if !failed, !layout.placements.isEmpty {
                let shape = layout.plan.tensor.shape
                let seen = s.shapeCounts[shape]
                s.shapeCounts[shape] = (min(seen?.firstGroup ?? .max, layout.plan.number), (seen?.samples ?? 0) + layout.placements.count)
            }
            return s.ledger.groupFinished(layout, failed: failed)
        }
    }

    /// Completes shards that `layOut`, `sealAll` or `groupFinished` reported ready.
    func finish(_ numbers: [Int]) throws {
        for n in numbers {
            guard let shard = state.withLock({ $0.ledger.beginFinishing(n) }) else { continue }
            var info: ShardInfo? = nil
            if let file = shard.file {
                info = try file.finish(slots: shard.slots, dropping: shard.dropping)
            } else if shard.slots > shard.dropping.count {
                throw ShardError(.io, file: directory.appendingPathComponent(shardName(n)).path, "no record was written to it")
            }
            state.withLock { s in
                s.ledger.finished(n)
                if let info { s.results[n] = info }
            }
            try onShardFinished(n, info)
        }
    }

    /// Removes the temporary files of shards not completed (cancellation, a fatal error).
    func abandonOpen() {
        for f in state.withLock({ $0.ledger.openFiles }) { f.abandon() }
    }

    /// Every completed shard (this run's and earlier runs'), in shard order.
    var completed: [ShardInfo] { state.withLock { s in s.results.keys.sorted().map { s.results[$0]! } } }

    /// Every tensor shape among the dataset's samples with its count, in group order of first
    /// appearance (counted as groups finish, so no shard is read again).
    var shapes: [ShapeCount] {
        state.withLock { s in
            s.shapeCounts.sorted { $0.value.firstGroup < $1.value.firstGroup }.map { ShapeCount(shape: $0.key, samples: $0.value.samples) }
        }
    }

    /// Shards laid out but not complete (should be none after a full run).
    var incomplete: [Int] { state.withLock { $0.ledger.incomplete } }
}
