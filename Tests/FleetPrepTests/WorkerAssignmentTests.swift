import Testing
@testable import FleetPrep

@Suite struct WorkerAssignmentTests {
    @Test func parsesAndSplitsDeterministically() throws {
        let w = try WorkerAssignment(parsing: "1/3")
        #expect(w.index == 1 && w.count == 3)
        // Hand-computed: positions 1, 4, 7 of 0...8.
        #expect(w.share(of: Array(0...8)) == [1, 4, 7])
        #expect(w.shardPrefix() == "shard-w001of003")
        #expect(WorkerAssignment.single.shardPrefix() == "shard")
        // Every item lands in exactly one worker's share.
        let all = try (0..<3).flatMap { try WorkerAssignment(index: $0, count: 3).share(of: Array(0..<10)) }
        #expect(all.sorted() == Array(0..<10))
    }

    @Test func rejectsBadValuesNamingTheOption() {
        for text in ["3/3", "-1/2", "a/b", "1", "0/0"] {
            #expect(throws: IngestError.self) { try WorkerAssignment(parsing: text) }
        }
        do { _ = try WorkerAssignment(parsing: "5/2") } catch let e as IngestError {
            #expect("\(e)".hasPrefix("--worker:"))
        } catch { Issue.record("\(error)") }
    }

    @Test func readsSchedulerEnvironments() throws {
        #expect(try WorkerAssignment.fromEnvironment(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"], workerCount: nil)
                == WorkerAssignment(index: 3, count: 4))
        #expect(try WorkerAssignment.fromEnvironment(["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4",
                                                      "SLURM_ARRAY_TASK_COUNT": "2"], workerCount: nil)
                == WorkerAssignment(index: 1, count: 2))
        #expect(try WorkerAssignment.fromEnvironment(["JOB_COMPLETION_INDEX": "2"], workerCount: 5) == WorkerAssignment(index: 2, count: 5))
        #expect(try WorkerAssignment.fromEnvironment(["AWS_BATCH_JOB_ARRAY_INDEX": "0", "AWS_BATCH_JOB_ARRAY_SIZE": "2"], workerCount: nil)
                == WorkerAssignment(index: 0, count: 2))
        #expect(try WorkerAssignment.fromEnvironment([:], workerCount: nil) == nil)
        #expect(throws: IngestError.self) { try WorkerAssignment.fromEnvironment(["JOB_COMPLETION_INDEX": "2"], workerCount: nil) }
    }
}

/// How a work unit spends its cores (`UnitThreads`), hand-computed from the rule in its doc.
@Suite struct UnitThreadsTests {
    @Test func rule() {
        // One core, or FFmpeg's own choice: one lane, the flag's threads.
        #expect(UnitThreads(cameras: 8, cores: 1, base: 1) == UnitThreads(lanes: 1, decoderThreads: 1))
        #expect(UnitThreads(cameras: 8, cores: 4, base: 0) == UnitThreads(lanes: 1, decoderThreads: 0))
        // Several cameras: a lane per core (at most one per camera), the rest as frame threads.
        #expect(UnitThreads(cameras: 8, cores: 2, base: 1) == UnitThreads(lanes: 2, decoderThreads: 1))
        #expect(UnitThreads(cameras: 2, cores: 6, base: 1) == UnitThreads(lanes: 2, decoderThreads: 3))
        #expect(UnitThreads(cameras: 3, cores: 16, base: 2) == UnitThreads(lanes: 3, decoderThreads: 5))
        // One camera: two frame threads per core; a larger --decoder-threads wins.
        #expect(UnitThreads(cameras: 1, cores: 2, base: 1) == UnitThreads(lanes: 1, decoderThreads: 4))
        #expect(UnitThreads(cameras: 1, cores: 2, base: 8) == UnitThreads(lanes: 1, decoderThreads: 8))
    }
}
