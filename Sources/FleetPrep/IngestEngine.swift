import FleetLabels
import FleetShards
import Foundation
import Synchronization

/// Runs an ingest's work on `jobs` threads with no ordered consumer:
///
/// 1. **scan** tasks (any order, a bounded number of groups ahead): `GroupPlan.scan`;
/// 2. **layout**, in group order, as soon as the scans before a group are in (`ShardSink.layOut`):
///    every record's shard and offset is fixed here, then the group is split into work units at
///    key frames (`GroupPlan.units`);
/// 3. **unit** tasks (any order, oldest first): seek, decode, transform, and write each record in
///    place (`SampleProducer` → `ShardSink.write`);
/// 4. when a group's last unit ends, its outcome is journaled and the shards it kept open are
///    completed by that worker (`ShardSink.finish`).
///
/// No worker ever waits for another clip's samples to be written; memory is bounded by
/// `--inflight` (sample buffers) plus the plans of at most `lookahead` groups.
///
/// `state` (an NSCondition: workers wait on it for tasks) guards every `var` below it: the task
/// queue (`nextScan`, `scansRunning`, `active`, `units`, `unitHead`, `running`, `unitsRunning`), `order`, `groups`,
/// `cancelled` and `fatal`. Everything else is immutable after `init`, or Sendable and locked on
/// its own (the output, the producer, progress, the journal).
final class IngestEngine: @unchecked Sendable {
    enum Outcome: Sendable { case ok, failed(ClipFailure), skipped }

    private let items: [IngestItem]
    private let config: IngestConfiguration
    private let schema: LabelSchema
    private let sink: any EngineOutput
    private let producer: SampleProducer
    private let progress: ProgressReporter
    private let resume: IngestJournal.ResumePoint
    /// nil for an online stream: nothing is journaled, no file identities are taken.
    private let journal: IngestJournal?
    private let lookahead: Int
    /// The plan of group 0, already scanned (to fix the dataset's shape): not scanned again.
    private let prescanned: GroupPlan?

    private let state = NSCondition()
    private var nextScan = 0
    private var scansRunning = 0
    /// Scanned groups waiting for their turn at layout.
    private var order = LayoutOrder()
    private var active = 0
    /// Work units waiting, oldest first (taken ones are removed, so that finished groups' plans
    /// are released at once).
    private var units: [(layout: GroupLayout, range: Range<Int>)?] = []
    private var unitHead = 0
    /// Which groups are finished, and how.
    private var groups = GroupLedger()
    private var cancelled = false
    private var fatal: Error?

    /// Every group's outcome (after `run`).
    var outcomes: [Int: Outcome] { state.lock(); defer { state.unlock() }; return groups.outcomes }
    /// Work units made (for the summary).
    var unitCount: Int { state.lock(); defer { state.unlock() }; return groups.unitCount }

    /// Engines alive in this process (a test checks that an abandoned stream's engine goes).
    static let live = Atomic<Int>(0)

    deinit { Self.live.subtract(1, ordering: .relaxed) }

    init(plan: IngestPlan, sink: any EngineOutput, progress: ProgressReporter, resume: IngestJournal.ResumePoint,
         journal: IngestJournal?) {
        Self.live.add(1, ordering: .relaxed)
        prescanned = plan.firstGroup
        items = plan.items
        config = plan.config
        schema = plan.schema
        self.sink = sink
        self.progress = progress
        self.resume = resume
        self.journal = journal
        // An output that keeps samples (a stream) bounds its own memory: a gate here could hold
        // the bytes the oldest group needs while later groups wait for it.
        producer = SampleProducer(config: config, pool: sink.pool, gate: InflightGate(limit: sink.keepsSamples ? .max : config.inflightBytes),
                                  recycles: !sink.keepsSamples)
        lookahead = max(4, 2 * config.jobs)
    }

    func cancel() {
        state.lock(); cancelled = true; state.broadcast(); state.unlock()
    }

    private var isCancelled: Bool { state.lock(); defer { state.unlock() }; return cancelled || fatal != nil }

    /// Runs every group; throws the first fatal (output) error, or `IngestError.interrupted`.
    func run() throws {
        let threads = DispatchGroup()
        for _ in 0..<max(1, config.jobs) {
            threads.enter()
            Thread.detachNewThread { [self] in
                defer { threads.leave() }
                work()
            }
        }
        threads.wait()
        state.lock()
        let (f, c) = (fatal, cancelled)
        state.unlock()
        if let f {
            sink.abandonOpen()
            throw f
        }
        if c {
            sink.abandonOpen()
            throw IngestError.interrupted(resumeHint: "complete shards are kept. Run the same command again to resume.")
        }
    }

    private enum Task { case scan(Int), unit(GroupLayout, Range<Int>, cores: Int) }
    /// Workers running a task now, and of those the ones running a unit.
    private var running = 0
    private var unitsRunning = 0

    private func work() {
        while let task = nextTask() {
            switch task {
            case .scan(let g): scan(g)
            case .unit(let layout, let range, let cores):
                runUnit(layout, range, cores: cores)
                state.lock(); unitsRunning -= 1; state.unlock()
            }
            state.lock(); running -= 1; state.unlock()
        }
    }

    private func nextTask() -> Task? {
        state.lock(); defer { state.unlock() }
        while true {
            if cancelled || fatal != nil { return nil }
            if unitHead < units.count, let u = units[unitHead] {
                units[unitHead] = nil
                unitHead += 1
                if unitHead > 256 { units.removeFirst(unitHead); unitHead = 0 }
                let cores = unitCores()
                running += 1
                unitsRunning += 1
                return .unit(u.layout, u.range, cores: cores)
            }
            if nextScan < items.count && active < lookahead {
                let g = nextScan
                nextScan += 1
                scansRunning += 1
                active += 1
                running += 1
                return .scan(g)
            }
            if nextScan >= items.count && scansRunning == 0 && unitHead >= units.count { return nil }
            state.wait()
        }
    }

    /// The cores for a unit starting now (call with `state` locked): its own, plus the ones no
    /// other unit or scan is running on and no queued task is waiting for (the scan that queued
    /// this unit no longer counts: it ends right after). A unit that cannot be split (one key
    /// frame, an elementary stream) at the end of a batch then decodes on every idle core
    /// instead of one; `UnitThreads` says how (camera lanes, or FFmpeg frame threads).
    private func unitCores() -> Int {
        let queued = (units.count - unitHead) + (nextScan < items.count && active < lookahead ? items.count - nextScan : 0)
        return max(1, config.jobs - unitsRunning - scansRunning - queued)
    }

    private func fail(_ error: Error) {
        state.lock()
        if fatal == nil { fatal = Self.fatal(error, out: config.outputDirectory.path) }
        state.broadcast()
        state.unlock()
    }

    static func fatal(_ error: Error, out: String) -> Error {
        switch error {
        case let e as IngestError: return e
        case let e as ShardError: return IngestError.output(path: e.file ?? out, message: e.description)
        default: return IngestError.output(path: out, message: "\(error)")
        }
    }

    // MARK: - Scan and layout

    /// Scans group `g`, then lays out every group whose turn has come (layout goes in group
    /// order) and queues their units; completes shards the layout sealed with nothing pending.
    private func scan(_ g: Int) {
        let result = scanResult(g)
        // A scan cut short by cancellation is no outcome: nothing of it is journaled.
        if isCancelled {
            state.lock(); scansRunning -= 1; active -= 1; state.broadcast(); state.unlock()
            return
        }
        let files = identities(of: g)
        let planned = (try? result.get())?.count ?? 0
        progress.update { $0.groupsScanned += 1; $0.samplesPlanned += planned }
        let finishedNow: [(GroupLayout?, Int, Outcome)], ready: [Int]
        do { (finishedNow, ready) = try layOutInOrder(g, result, files: files) } catch {
            fail(error)
            return
        }
        do {
            try sink.finish(ready)
            for (layout, n, outcome) in finishedNow { try groupDone(n, layout: layout, outcome: outcome) }
        } catch { fail(error) }
    }

    /// Group `g`'s plan, or what failed it. A group that failed in an earlier run is still
    /// scanned and laid out, so that the plan (every later record's place) is the one that run
    /// made; its records are dropped.
    private func scanResult(_ g: Int) -> Result<GroupPlan, ClipFailure> {
        if g == 0, let p = prescanned { return .success(p) }
        do { return .success(try GroupPlan.scan(items[g], number: g, config: config, schema: schema)) } catch {
            return .failure(ClipFailure.from(error, clip: items[g].key, groupPath: items[g].group.path))
        }
    }

    /// The group's files, read whole once more (from the page cache the scan filled): a resume
    /// compares them with what this run used (`FileIdentity`); a change stops the run.
    private func identities(of g: Int) -> [FileIdentity] {
        let files = journal == nil ? [] : FileIdentity.of(group: items[g].group)
        if let recorded = resume.groups[g]?.files, recorded != files {
            do { try FileIdentity.check(group: items[g].group, recorded: recorded, full: true, out: config.outputDirectory.path) } catch {
                fail(error)
            }
        }
        return files
    }

    /// Records group `g`'s scan, lays out every group whose turn has come and queues their units.
    /// Returns the groups finished already (see `queueUnits`) and the shards now ready. Throws a
    /// fatal (output) error.
    private func layOutInOrder(_ g: Int, _ result: Result<GroupPlan, ClipFailure>, files: [FileIdentity]) throws
        -> ([(GroupLayout?, Int, Outcome)], ready: [Int]) {
        state.lock()
        defer { state.broadcast(); state.unlock() }
        scansRunning -= 1
        order.scanned(g, result)
        groups.scanned(g, files: files)
        var laidOut: [(Int, Result<GroupLayout, ClipFailure>)] = []
        var ready: [Int] = []
        while let (n, r) = order.next() {
            let (layout, shardsReady) = try layOut(n, r)
            ready += shardsReady
            laidOut.append((n, layout))
        }
        if order.nextNumber == items.count && !laidOut.isEmpty { ready += sink.sealAll() }
        return (queueUnits(laidOut), ready)
    }

    /// Places one scanned group's records (call in group order, with `state` locked).
    private func layOut(_ n: Int, _ r: Result<GroupPlan, ClipFailure>) throws -> (Result<GroupLayout, ClipFailure>, ready: [Int]) {
        switch r {
        case .failure(let f):
            return (.failure(f), [])
        case .success(let plan):
            do {
                let (layout, ready) = try sink.layOut(plan)
                return (.success(layout), ready)
            } catch let e as ShardError where e.kind == .recordTooLarge {
                // One clip's oversized record fails that clip, not the batch.
                return (.failure(ClipFailure.from(e, clip: items[n].key, groupPath: items[n].group.path)), [])
            }
        }
    }

    /// Splits laid-out groups into work units and queues the units (call with `state` locked).
    /// Returns the groups that are finished already: failed at their scan, failed in an earlier
    /// run, empty, or with every record in shards an earlier run completed.
    private func queueUnits(_ laidOut: [(Int, Result<GroupLayout, ClipFailure>)]) -> [(GroupLayout?, Int, Outcome)] {
        var finishedNow: [(GroupLayout?, Int, Outcome)] = []
        for (n, r) in laidOut {
            switch r {
            case .failure(let f):
                finishedNow.append((nil, n, .failed(f)))
            case .success(let layout):
                if let e = resume.groups[n], e.status == "failed", let f = e.failure {
                    finishedNow.append((layout, n, .failed(f)))
                    continue
                }
                let todo = layout.plan.units(parts: unitsFor(groupsLeft: items.count - n)).filter { range in range.contains { sink.needs(layout, $0) } }
                if todo.isEmpty {
                    finishedNow.append((layout, n, layout.plan.count == 0 ? .ok : .skipped))
                } else {
                    groups.queued(n, units: todo.count)
                    for range in todo { units.append((layout, range)) }
                }
            }
        }
        return finishedNow
    }

    // MARK: - Units

    /// How many units to split a group into when `groupsLeft` groups (itself included) remain:
    /// none while there are at least as many groups as workers (a unit costs a decoder start-up
    /// per camera, about 10% of a 3-second clip), then enough that the last groups give every
    /// worker a share. (Finer splits measured worse: the last short units leave workers idle
    /// behind a worker still on a whole group.)
    private func unitsFor(groupsLeft: Int) -> Int {
        let jobs = config.jobs
        guard jobs > 1, groupsLeft < jobs else { return 1 }
        return (jobs + groupsLeft - 1) / max(1, groupsLeft)
    }

    private func runUnit(_ layout: GroupLayout, _ range: Range<Int>, cores: Int) {
        let plan = layout.plan
        var failure: ClipFailure? = nil
        do {
            // A unit after one that failed has nothing to add: the group's records all go.
            if !supersededByFailure(plan.number, range) {
                try producer.run(plan, range: range, cores: cores) { p in
                    if sink.needs(layout, p.position) { try sink.write(layout, p) }
                    progress.update { $0.framesDecoded += p.framesDecoded; $0.samplesWritten += 1 }
                    return !isCancelled && !supersededByFailure(plan.number, range)
                }
            }
        } catch let e as ShardError {
            fail(e)
        } catch let e as IngestError {
            fail(e)
        } catch {
            failure = ClipFailure.from(error, clip: plan.item.key, groupPath: plan.item.group.path)
        }
        state.lock()
        let outcome = groups.unitEnded(plan.number, start: range.lowerBound, failure: failure)
        let stop = cancelled || fatal != nil
        state.unlock()
        guard let outcome, !stop else { return }
        do { try groupDone(plan.number, layout: layout, outcome: outcome) } catch { fail(error) }
    }

    /// True when a unit of group `g` that starts before `range` has failed.
    private func supersededByFailure(_ g: Int, _ range: Range<Int>) -> Bool {
        state.lock(); defer { state.unlock() }
        return groups.failedBefore(g, start: range.lowerBound)
    }

    /// A group is finished: journal it, drop its records if it failed, complete its shards.
    private func groupDone(_ g: Int, layout: GroupLayout?, outcome: Outcome) throws {
        state.lock()
        let files = groups.takeFiles(g)
        state.unlock()
        switch outcome {
        case .ok:
            try journal?.append(.init(kind: "group", group: g, status: "ok", samples: layout?.plan.count, files: files))
            progress.update { $0.clipsDone += 1 }
        case .failed(let f):
            if resume.groups[g]?.status != "failed" {
                try journal?.append(.init(kind: "group", group: g, status: "failed", samples: 0, failure: f, files: files))
            }
            progress.update { $0.clipsFailed += 1 }
        case .skipped:
            progress.update { $0.clipsDone += 1 }
        }
        var failed = false
        if case .failed = outcome { failed = true }
        let ready = sink.groupFinished(g, layout: layout, failed: failed)
        state.lock()
        groups.finished(g, outcome)
        active -= 1
        state.broadcast()
        state.unlock()
        try sink.finish(ready)
    }
}

/// Scanned groups waiting for their turn at layout, which goes in group order: a group is laid
/// out once every group before it is (so every record's place is the same whatever the order
/// the scans end in).
struct LayoutOrder {
    private var waiting: [Int: Result<GroupPlan, ClipFailure>] = [:]
    /// The group to lay out next.
    private(set) var nextNumber = 0

    mutating func scanned(_ g: Int, _ result: Result<GroupPlan, ClipFailure>) { waiting[g] = result }

    /// The next group in order, when it is scanned.
    mutating func next() -> (Int, Result<GroupPlan, ClipFailure>)? {
        guard let r = waiting.removeValue(forKey: nextNumber) else { return nil }
        nextNumber += 1
        return (nextNumber - 1, r)
    }
}

/// Which groups are finished and how: the units still running per group, each group's earliest
/// failure (by first sample, so that the error reported does not depend on which unit failed
/// first in time), the outcomes, and each scanned group's files until it is journaled.
struct GroupLedger {
    private var remaining: [Int: Int] = [:]
    private var failure: [Int: (start: Int, failure: ClipFailure)] = [:]
    private var files: [Int: [FileIdentity]] = [:]
    private(set) var outcomes: [Int: IngestEngine.Outcome] = [:]
    /// Work units queued (for the summary).
    private(set) var unitCount = 0

    /// Group `g` was scanned with these files.
    mutating func scanned(_ g: Int, files f: [FileIdentity]) { files[g] = f }

    /// Group `g`'s `units` work units are queued.
    mutating func queued(_ g: Int, units: Int) {
        remaining[g] = units
        unitCount += units
    }

    /// A unit of group `g` starting at sample `start` ended, with `failure` if it failed. Returns
    /// the group's outcome when that was its last unit.
    mutating func unitEnded(_ g: Int, start: Int, failure f: ClipFailure?) -> IngestEngine.Outcome? {
        if let f, (failure[g]?.start ?? .max) > start { failure[g] = (start, f) }
        remaining[g, default: 1] -= 1
        guard remaining[g] == 0 else { return nil }
        let outcome: IngestEngine.Outcome = failure[g].map { .failed($0.failure) } ?? .ok
        remaining[g] = nil
        failure[g] = nil
        return outcome
    }

    /// True when a unit of group `g` that starts before `start` has failed.
    func failedBefore(_ g: Int, start: Int) -> Bool { (failure[g]?.start ?? .max) < start }

    /// The files group `g` was scanned with, once (for its journal line).
    mutating func takeFiles(_ g: Int) -> [FileIdentity]? { files.removeValue(forKey: g) }

    mutating func finished(_ g: Int, _ outcome: IngestEngine.Outcome) { outcomes[g] = outcome }
}
