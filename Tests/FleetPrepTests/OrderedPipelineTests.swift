import Foundation
import Testing
@testable import FleetPrep

@Suite struct OrderedPipelineTests {
    struct Boom: Error, Equatable { let item: Int }

    /// Item i emits i*10 ..< i*10 + (i % 5) values; every 7th item fails after two outputs.
    static func expected(_ n: Int) -> [String] {
        (0..<n).flatMap { i -> [String] in
            let k = i % 7 == 3 ? min(2, i % 5) : i % 5
            return (0..<k).map { "\(i):\(i * 10 + $0)" } + [i % 7 == 3 ? "\(i):failed" : "\(i):done"]
        }
    }

    @Test(arguments: [1, 2, 4, 8])
    func consumerSeesSingleThreadedOrderAndMemoryStaysBounded(jobs: Int) throws {
        let n = 60
        let inFlight = LockedCounter()
        let pipeline = OrderedPipeline<Int>(count: n, jobs: jobs, queueCapacity: 2)
        var seen: [String] = []
        try pipeline.run(produce: { i, emit in
            for v in 0..<(i % 5) {
                if i % 7 == 3 && v == 2 { throw Boom(item: i) }
                usleep(UInt32((i * 7919 + v * 104729) % 400))
                inFlight.add(1)
                guard emit(i * 10 + v) else { return }
            }
            if i % 7 == 3 { throw Boom(item: i) }
        }, consume: { i, event in
            switch event {
            case .output(let v): inFlight.add(-1); seen.append("\(i):\(v)")
            case .failed(let e): #expect(e as? Boom == Boom(item: i)); seen.append("\(i):failed")
            case .finished: seen.append("\(i):done")
            }
            return true
        })
        #expect(seen == Self.expected(n))
        // window (jobs + 1) items × queueCapacity (2) outputs, plus one being handed over per producer.
        #expect(inFlight.max <= (jobs + 1) * 2 + jobs, "max in flight \(inFlight.max)")
    }

    @Test func consumerCanStopTheRun() throws {
        let pipeline = OrderedPipeline<Int>(count: 1000, jobs: 3)
        var consumed = 0
        try pipeline.run(produce: { i, emit in _ = emit(i) }, consume: { _, event in
            if case .output = event { consumed += 1 }
            return consumed < 10
        })
        #expect(consumed == 10)
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private(set) var max = 0
    func add(_ d: Int) { lock.lock(); value += d; if value > max { max = value }; lock.unlock() }
}
