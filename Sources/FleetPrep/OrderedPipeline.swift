import Foundation

/// Runs a producer over items 0..<count on `jobs` threads and hands every item's outputs to one
/// consumer in item order, with bounded memory:
///
/// - each item's outputs pass through a queue of at most `queueCapacity` elements, or at most
///   `queueBytes` bytes as `weight` counts them (at least one element always fits): a producer
///   that gets ahead blocks (backpressure);
/// - producers work only on items within `window` of the one being consumed, so at most
///   `window × queueCapacity` outputs are ever in flight, however many items there are.
///
/// The consumer sees exactly the sequence a single thread would produce, whatever `jobs` is,
/// which keeps output deterministic. A producer error ends that item's sequence with the error
/// (delivered to the consumer in order); the other items go on.
final class OrderedPipeline<Output>: @unchecked Sendable {
    enum Event {
        case output(Output)
        case failed(Error)
        case finished
    }

    private final class Slot: @unchecked Sendable {
        let condition = NSCondition()
        var queue: [Event] = []
        var head = 0
        var closed = false
        var bytes = 0
    }

    private let count: Int
    private let jobs: Int
    private let window: Int
    private let queueCapacity: Int
    private let queueBytes: Int
    private let weight: (Output) -> Int
    private let state = NSCondition()
    private var nextItem = 0
    private var consuming = 0
    private var cancelled = false
    private var slots: [Int: Slot] = [:]

    init(count: Int, jobs: Int, window: Int? = nil, queueCapacity: Int = 4,
         queueBytes: Int = .max, weight: @escaping (Output) -> Int = { _ in 0 }) {
        self.count = count
        self.jobs = max(1, jobs)
        self.window = max(window ?? (self.jobs + 1), self.jobs)
        self.queueCapacity = max(1, queueCapacity)
        self.queueBytes = queueBytes
        self.weight = weight
    }

    /// Stops producers at their next output; the consumer's loop ends.
    func cancel() {
        state.lock(); cancelled = true; state.broadcast(); state.unlock()
        for slot in allSlots() {
            slot.condition.lock(); slot.condition.broadcast(); slot.condition.unlock()
        }
    }

    private func allSlots() -> [Slot] { state.lock(); defer { state.unlock() }; return Array(slots.values) }

    private func slot(_ i: Int) -> Slot {
        state.lock(); defer { state.unlock() }
        if let s = slots[i] { return s }
        let s = Slot()
        slots[i] = s
        return s
    }

    /// Runs the pipeline. `produce(i, emit)` makes item i's outputs, calling `emit` for each
    /// (emit returns false when the run was cancelled: stop then). `consume(i, event)` gets every
    /// item's events in order, on the calling thread; returning false cancels the run.
    func run(produce: @escaping @Sendable (Int, (Output) -> Bool) throws -> Void,
             consume: (Int, Event) throws -> Bool) throws {
        let group = DispatchGroup()
        for _ in 0..<min(jobs, count) {
            group.enter()
            Thread.detachNewThread { [self] in
                defer { group.leave() }
                while let i = claimItem() {
                    let s = slot(i)
                    do {
                        try produce(i) { output in self.push(.output(output), to: s) }
                        _ = push(.finished, to: s)
                    } catch {
                        _ = push(.failed(error), to: s)
                    }
                }
            }
        }
        defer {
            cancel()
            group.wait()
        }
        for i in 0..<count {
            let s = slot(i)
            var done = false
            while !done {
                guard let event = pop(from: s) else { return }  // cancelled
                switch event {
                case .output: break
                case .failed, .finished: done = true
                }
                if try !consume(i, event) { return }
            }
            state.lock()
            slots[i] = nil
            consuming = i + 1
            state.broadcast()
            state.unlock()
        }
    }

    private func claimItem() -> Int? {
        state.lock(); defer { state.unlock() }
        while !cancelled && nextItem < count && nextItem >= consuming + window { state.wait() }
        guard !cancelled, nextItem < count else { return nil }
        defer { nextItem += 1 }
        return nextItem
    }

    private func push(_ event: Event, to s: Slot) -> Bool {
        s.condition.lock(); defer { s.condition.unlock() }
        var w = 0
        if case .output(let o) = event {
            w = weight(o)
            while s.queue.count - s.head > 0 && (s.queue.count - s.head >= queueCapacity || s.bytes + w > queueBytes)
                    && !isCancelled() { s.condition.wait() }
        }
        if isCancelled() { return false }
        s.bytes += w
        s.queue.append(event)
        s.condition.broadcast()
        return true
    }

    private func pop(from s: Slot) -> Event? {
        s.condition.lock(); defer { s.condition.unlock() }
        while s.head == s.queue.count && !isCancelled() { s.condition.wait() }
        if s.head == s.queue.count { return nil }
        let e = s.queue[s.head]
        if case .output(let o) = e { s.bytes -= weight(o) }
        s.head += 1
        if s.head > 64 { s.queue.removeFirst(s.head); s.head = 0 }
        s.condition.broadcast()
        return e
    }

    private func isCancelled() -> Bool { state.lock(); defer { state.unlock() }; return cancelled }
}
