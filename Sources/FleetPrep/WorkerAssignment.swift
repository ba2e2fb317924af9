import FleetShards

/// Which share of the clips this process ingests when a batch is split over N workers.
///
/// Clips are sorted by path and worker `index` takes every clip whose position `p` satisfies
/// `p % count == index`: a deterministic split that needs no coordination, so N independent
/// processes (a Slurm array, a Kubernetes Indexed Job, an AWS Batch array) together ingest every
/// clip exactly once. Each worker writes shards under its own prefix; `fleetprep merge` joins
/// the workers' manifests.
public struct WorkerAssignment: Sendable, Hashable, Codable, CustomStringConvertible {
    /// This worker's index, 0 ..< count.
    public let index: Int
    /// Number of workers.
    public let count: Int

    /// The whole batch in one process.
    public static let single = WorkerAssignment(uncheckedIndex: 0, count: 1)

    /// Most workers one batch may be split over (a Kubernetes Indexed Job allows 100,000
    /// completions; a larger count is a typo, and would name 100,000s of empty manifests).
    public static let maxCount = 100_000

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= Self.maxCount else {
            throw IngestError.badOption("--worker", "the worker count must be from 1 to \(Self.maxCount), got \(count)")
        }
        guard index >= 0 && index < count else {
            throw IngestError.badOption("--worker", "the worker index must be in 0..<\(count), got \(index)")
        }
        self.index = index
        self.count = count
    }

    private init(uncheckedIndex: Int, count: Int) { self.index = uncheckedIndex; self.count = count }

    /// Parses "I/N" (e.g. "2/8").
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw IngestError.badOption("--worker", "expected I/N such as 0/4, got \"\(text)\"")
        }
        try self.init(index: i, count: n)
    }

    /// The assignment the environment gives, if any: Slurm job arrays (`SLURM_ARRAY_TASK_ID`,
    /// `SLURM_ARRAY_TASK_COUNT`, offset by `SLURM_ARRAY_TASK_MIN`), Kubernetes Indexed Jobs
    /// (`JOB_COMPLETION_INDEX`, with the count from `workerCount` since Kubernetes does not export
    /// it), or AWS Batch array jobs (`AWS_BATCH_JOB_ARRAY_INDEX`, count from `workerCount` or
    /// `AWS_BATCH_JOB_ARRAY_SIZE`).
    public static func fromEnvironment(_ env: [String: String], workerCount: Int?) throws -> WorkerAssignment? {
        func int(_ key: String) throws -> Int? {
            guard let v = env[key] else { return nil }
            guard let i = Int(v) else { throw IngestError.badOption(key, "expected an integer, got \"\(v)\"") }
            return i
        }
        if let id = try int("SLURM_ARRAY_TASK_ID") {
            guard let n = try workerCount ?? int("SLURM_ARRAY_TASK_COUNT") else {
                throw IngestError.badOption("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT is not set; pass --workers N")
            }
            let base = try int("SLURM_ARRAY_TASK_MIN") ?? 0
            return try WorkerAssignment(index: id - base, count: n)
        }
        if let id = try int("JOB_COMPLETION_INDEX") {
            guard let n = workerCount else {
                throw IngestError.badOption("JOB_COMPLETION_INDEX", "Kubernetes does not export the completion count; pass --workers N")
            }
            return try WorkerAssignment(index: id, count: n)
        }
        if let id = try int("AWS_BATCH_JOB_ARRAY_INDEX") {
            guard let n = try workerCount ?? int("AWS_BATCH_JOB_ARRAY_SIZE") else {
                throw IngestError.badOption("AWS_BATCH_JOB_ARRAY_INDEX", "the array size is unknown; pass --workers N")
            }
            return try WorkerAssignment(index: id, count: n)
        }
        return nil
    }

    /// This worker's share of `items` (already in a deterministic order).
    public func share<T>(of items: [T]) -> [T] {
        items.enumerated().filter { $0.offset % count == index }.map(\.element)
    }

    /// What this worker adds to the names of its files: "" alone, or "-w002of008".
    public var suffix: String { count == 1 ? "" : Self.suffix(index: index, count: count) }

    /// "-wIIIofNNN" for worker `index` of `count`.
    static func suffix(index: Int, count: Int) -> String {
        "-w" + DatasetNames.padded(index, width: 3) + "of" + DatasetNames.padded(count, width: 3)
    }

    /// The shard-name prefix for this worker: "shard" alone, or "shard-w002of008".
    public func shardPrefix(base: String = "shard") -> String { base + suffix }

    public var description: String { "\(index)/\(count)" }
}
