import FleetShards
import Foundation

/// The crash-safe record of an ingest run: `OUT/.fleetprep/journal[-wIIIofNNN].jsonl`.
///
/// One JSON object per line, each flushed to disk (fsync) before the run goes on:
/// - `begin`: the configuration fingerprint and the number of clip groups of this worker;
/// - `group`: a clip group whose units have all run (ok, or failed with the error), with the
///   size, modification time and CRC-32C of each of its files as the scan read them;
/// - `open`: a shard file about to be created (`file`), written before its temporary file exists,
///   so that every file the run creates is named by the journal before it is on disk;
/// - `shard`: a shard that is complete and renamed into place (`shard` is absent when every
///   record planned for it belonged to failed groups, so no file was written);
/// - `end`: the manifest is written; the run is complete.
///
/// Shards complete in any order, so resuming keeps the *set* of journaled shards whose files are
/// still there with the journaled size, and the failed groups (their records stay out). The layout
/// plan is computed again from the inputs — it depends only on them and the options — so every
/// other shard is written again, identically, by the units whose groups have records in it.
/// Files that an `open` line names but no `shard` line keeps are removed first; files the journal
/// does not name are never touched (`OutputDirectory`).
struct IngestJournal: Sendable {
    struct Entry: Codable {
        var kind: String
        var fingerprint: String?
        var groups: Int?
        var group: Int?
        var status: String?
        var samples: Int?
        var failure: ClipFailure?
        var shard: ShardInfo?
        var shardIndex: Int?
        /// `open`: the shard file's name.
        var file: String?
        /// `group`: what the group's files were when this run scanned them (`FileIdentity`), so
        /// that a resume notices a clip whose contents changed under its kept shards.
        var files: [FileIdentity]?
    }

    /// Everything a journal file holds, whatever configuration made it.
    struct Contents {
        var fingerprint: String
        var point: ResumePoint
        /// Every file the journal names: shards opened or completed, and their temporary names.
        var named: Set<String>
    }

    /// What an earlier run left.
    struct ResumePoint {
        /// Complete shards by number (nil info: planned, but left empty by failed groups).
        var shards: [Int: ShardInfo?] = [:]
        /// Group outcomes by group number.
        var groups: [Int: Entry] = [:]
        var complete = false
        var isEmpty: Bool { shards.isEmpty && groups.isEmpty }

        var lines: [Entry] {
            groups.keys.sorted().map { groups[$0]! }
                + shards.keys.sorted().map { Entry(kind: "shard", shard: shards[$0]!, shardIndex: $0) }
        }
    }

    let url: URL
    /// The journal file once `start` opened it, under the lock every append takes.
    private var file: LockedValueBox<FileHandle>?

    init(directory: URL, worker: WorkerAssignment) {
        let name = "journal\(worker.suffix).jsonl"
        url = directory.appendingPathComponent(".fleetprep").appendingPathComponent(name)
    }

    /// Largest journal read (a journal holds a line per group and per shard: far below this).
    static let maxBytes = 256 << 20

    /// Reads the journal if there is one (nil when there is none, or when it does not start
    /// with a `begin` line), whatever configuration wrote it.
    func load() -> Contents? {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber,
              size.intValue <= Self.maxBytes,
              let data = FileManager.default.contents(atPath: url.path), !data.isEmpty else { return nil }
        var entries: [Entry] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            // A line cut by a crash is not complete JSON: it and anything after it are ignored.
            guard let e = try? JSONDecoder().decode(Entry.self, from: Data(line)) else { break }
            entries.append(e)
        }
        guard let begin = entries.first, begin.kind == "begin", let fingerprint = begin.fingerprint else { return nil }
        var point = ResumePoint()
        var named = Set<String>()
        func name(_ file: String) {
            // Only plain names inside the directory: a journal never points elsewhere.
            guard !file.isEmpty, !file.contains("/"), file != ".", file != ".." else { return }
            named.insert(file)
            named.insert("." + file + ".tmp")
        }
        for e in entries {
            switch e.kind {
            case "open": if let f = e.file { name(f) }
            case "shard":
                if let n = e.shardIndex { point.shards[n] = e.shard }
                if let f = e.shard?.file { name(f) }
            case "group": if let g = e.group { point.groups[g] = e }
            case "end": point.complete = true
            default: break
            }
        }
        return Contents(fingerprint: fingerprint, point: point, named: named)
    }

    /// Starts the journal afresh with what is kept from `point` (nil: a new run).
    mutating func start(fingerprint: String, groups: Int, keeping point: ResumePoint?) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var lines: [Entry] = [Entry(kind: "begin", fingerprint: fingerprint, groups: groups)]
        if let point { lines += point.lines }
        var text = Data()
        for e in lines { text.append(try Self.encode(e)) }
        let tmp = url.appendingPathExtension("tmp")
        try text.write(to: tmp)
        try Self.fsync(tmp)
        guard rename(tmp.path, url.path) == 0 else {
            throw IngestError.output(path: url.path, message: "cannot write the journal: \(String(cString: strerror(errno)))")
        }
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        file = LockedValueBox(handle)
    }

    /// Appends one entry as a line and syncs it. Safe from several threads (any worker finishes
    /// groups and shards): lines never interleave.
    func append(_ e: Entry) throws {
        guard let file else { return }
        let line = try Self.encode(e)
        try file.withLock { handle in
            try handle.write(contentsOf: line)
            try handle.synchronize()
        }
    }

    func close() { file?.withLock { try? $0.close() } }

    private static func encode(_ e: Entry) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var d = try enc.encode(e)
        d.append(UInt8(ascii: "\n"))
        return d
    }

    static func fsync(_ url: URL) throws {
        let h = try FileHandle(forWritingTo: url)
        try h.synchronize()
        try h.close()
    }
}

/// FNV-1a 64-bit of `bytes` as 16 hex digits: a fingerprint, not a security hash.
func fnv1a64(_ bytes: some Sequence<UInt8>) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    let s = String(h, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
