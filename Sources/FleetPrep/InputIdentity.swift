import FleetLabels
import FleetShards
import Foundation

/// What a clip group's files were when a run used them: per file its size, modification time and
/// the CRC-32C of every byte. Journaled with each group's outcome, so that a resumed run can tell
/// whether the clips under its kept shards are still the ones it read (docs/ingest.md, "Resume
/// and crash safety").
///
/// A resume refuses (naming the file and what changed) when any file of a journaled group has
/// another size or other contents, or is gone: the shards already written hold its old samples.
/// A file whose size and modification time are unchanged is trusted without reading it again
/// (the rsync quick check); one whose time changed is read and compared by CRC, so a `touch`
/// alone, which changes no sample, resumes. The run's own scans read every file whole again and
/// compare the CRC too, so a same-size, same-time replacement still stops the run.
struct FileIdentity: Codable, Equatable, Sendable {
    var path: String
    var size: Int64
    /// Modification time, nanoseconds since 1970.
    var mtime: Int64
    var crc32c: UInt32

    /// The identity of `path` (read whole, in 1 MiB pieces), or nil when it is not a regular
    /// file that can be read. Never blocks on a FIFO: opened with `O_NONBLOCK`, checked by `fstat`.
    static func of(_ path: String, cancelled: () -> Bool = { false }) -> FileIdentity? {
        let fd = FilePathBytes.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)   // by its bytes
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var crc: UInt32 = 0
        var total: Int64 = 0
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let r = read(fd, buffer.baseAddress, chunk)
            if r < 0 { if errno == EINTR { continue }; return nil }
            if r == 0 { break }
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<r]), seed: crc)
            total += Int64(r)
            if cancelled() { return nil }
        }
        return FileIdentity(path: path, size: total, mtime: Self.mtime(st), crc32c: crc)
    }

    static func mtime(_ st: stat) -> Int64 {
        Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    /// Every file of a group that a run reads: its videos and sidecars, in a fixed order.
    static func files(of group: ClipGroup) -> [String] {
        var files = group.videos.flatMap(\.files)
        files += group.videos.compactMap(\.frameTimes)
        files += [group.signalsTable, group.annotations, group.manifest, group.event].compactMap { $0 }
        files += group.signalFiles
        files += group.signalArrays.flatMap { [$0.times, $0.values] }
        return files
    }

    /// The identities of the group's files (those that can be read).
    static func of(group: ClipGroup, cancelled: () -> Bool = { false }) -> [FileIdentity] {
        files(of: group).compactMap { of($0, cancelled: cancelled) }
    }

    /// How `recorded` differs from the file on disk now, in words, or nil when it is the same.
    /// `full`: compare the contents even when size and modification time are unchanged.
    static func change(since recorded: FileIdentity, full: Bool) -> String? {
        guard let st = FilePathBytes.stat(recorded.path) else { return "is gone" }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return "is no longer a regular file" }
        if Int64(st.st_size) != recorded.size {
            return "has changed size: \(recorded.size) bytes when the run began, \(st.st_size) bytes now"
        }
        if !full && mtime(st) == recorded.mtime { return nil }
        guard let now = of(recorded.path) else { return "can no longer be read" }
        if now.size != recorded.size { return "has changed size: \(recorded.size) bytes when the run began, \(now.size) bytes now" }
        if now.crc32c != recorded.crc32c {
            return "has other contents than when the run began (same size; CRC-32C \(hex(recorded.crc32c)) then, \(hex(now.crc32c)) now)"
        }
        return nil
    }

    /// Compares a group's files now with what a run recorded; throws the first change, naming the
    /// file. Files recorded then but not listed now, or listed now but not recorded, count too.
    static func check(group: ClipGroup, recorded: [FileIdentity], full: Bool, out: String) throws {
        let now = Set(files(of: group))
        for r in recorded {
            if !now.contains(r.path) {
                throw refusal(r.path, "is no longer part of its clip group", out: out)
            }
            if let why = change(since: r, full: full) { throw refusal(r.path, why, out: out) }
        }
        let then = Set(recorded.map(\.path))
        for p in files(of: group) where !then.contains(p) && FileIdentity.of(p) != nil {
            throw refusal(p, "is new in its clip group", out: out)
        }
    }

    static func refusal(_ path: String, _ why: String, out: String) -> IngestError {
        IngestError.output(path: out, message: "cannot resume: \(Terminal.escape(path)) \(why); the shards already written hold samples of the old file. Restore the file, or start again with --overwrite (or another --out)")
    }

    private static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
