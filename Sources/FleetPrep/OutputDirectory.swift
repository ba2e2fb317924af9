import FleetShards
import Foundation
import Synchronization

/// The rules for touching an ingest's `--out` (docs/ingest.md, "The output directory"):
///
/// - A directory that holds files but no FleetPrep dataset (no manifest, no journal) is refused:
///   it is someone's data, not ours.
/// - Only files that this worker's own journal or manifest names are ever removed or replaced,
///   with `--overwrite` too. A file that has one of the names the run would write, but that the
///   dataset does not name, stops the run before anything is written.
/// - One process at a time per worker: `OUT/.fleetprep/lock[-wIIIofNNN]` is held with `flock`
///   for the whole run, and a second run fails at once, naming the holder's pid.
struct OutputDirectory {
    let url: URL
    /// Names this worker writes: its manifest and errors file (the shard names follow `prefix`).
    let manifestName: String
    let errorsName: String
    let prefix: String
    let shardExtension: String

    static let stateFolder = ".fleetprep"

    /// The directory's entries (throws when it cannot be listed).
    func entries() throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: url.path) } catch {
            throw IngestError.output(path: url.path, message: "cannot list the output directory: \(error.localizedDescription)")
        }
    }

    /// Refuses a directory that holds files and no FleetPrep dataset.
    func checkHoldsNothingElse(_ names: [String]) throws {
        let visible = names.filter { $0 != Self.stateFolder }.sorted()
        guard !visible.isEmpty, !holdsDataset(names) else { return }
        let shown = visible.prefix(3).joined(separator: ", ") + (visible.count > 3 ? ", …" : "")
        throw IngestError.output(path: url.path, message: "holds \(visible.count) file(s) (\(shown)) and no FleetPrep dataset (no index.json, no journal); ingest writes only into an empty or new directory or one of its own datasets: use another --out")
    }

    /// True when a manifest or a journal of any worker is there.
    func holdsDataset(_ names: [String]) -> Bool {
        let state = url.appendingPathComponent(Self.stateFolder)
        if let journals = try? FileManager.default.contentsOfDirectory(atPath: state.path),
           journals.contains(where: { $0.hasPrefix("journal") && $0.hasSuffix(".jsonl") }) { return true }
        return names.contains { $0.hasPrefix("index") && $0.hasSuffix(".json") && manifest(named: $0) != nil }
    }

    /// A manifest in the directory, if the file parses as one.
    func manifest(named name: String) -> DatasetManifest? {
        let file = url.appendingPathComponent(name)
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: file.path),
              attrs[.type] as? FileAttributeType == .typeRegular,
              let size = attrs[.size] as? NSNumber, size.intValue <= 256 << 20 else { return nil }
        return try? DatasetManifest.read(from: file)
    }

    /// Every file name this worker's journal or manifest names.
    func owned(journal: IngestJournal.Contents?, manifest: DatasetManifest?) -> Set<String> {
        var names = journal?.named ?? []
        for s in manifest?.shards ?? [] where !s.file.contains("/") && !s.file.hasPrefix(".") {
            names.insert(s.file)
            names.insert("." + s.file + ".tmp")
        }
        if journal != nil || manifest != nil {
            for n in [manifestName, errorsName] { names.insert(n); names.insert("." + n + ".tmp") }
        }
        return names
    }

    /// True for a name this worker may write: its shards (and their temporary names), manifest and
    /// errors file.
    func isOutputName(_ name: String) -> Bool {
        if [manifestName, errorsName].contains(where: { name == $0 || name == "." + $0 + ".tmp" }) { return true }
        var base = Substring(name)
        if base.hasPrefix("."), base.hasSuffix(".tmp") { base = base.dropFirst().dropLast(4) }
        return base.hasSuffix("." + shardExtension) && DatasetNames.isShard(String(base), prefix: prefix)
    }

    /// Refuses a file with one of the names the run writes that the dataset does not name.
    func checkNoForeignOutputs(_ names: [String], owned: Set<String>) throws {
        let foreign = names.filter { isOutputName($0) && !owned.contains($0) }.sorted()
        guard let first = foreign.first else { return }
        throw IngestError.output(path: url.path, message: "holds \(first)\(foreign.count > 1 ? " and \(foreign.count - 1) more" : ""), which this dataset's journal and manifest do not name; FleetPrep does not replace files it did not write: move it, or use another --out")
    }

    /// Removes `name` if the dataset names it (`owned`); anything else is left alone.
    func remove(_ name: String, owned: Set<String>) {
        guard owned.contains(name) else { return }
        try? FileManager.default.removeItem(at: url.appendingPathComponent(name))
    }
}

/// An exclusive `flock` on a file, held until `release()` (or the process ends). The holder's pid
/// is written into the file, so that a second run can name it.
final class OutputLock: Sendable {
    /// The lock file's descriptor (-1 once released).
    private let descriptor: Mutex<Int32>

    /// Takes the lock at `file`, or throws naming the pid that holds it.
    init(file: URL, directory: String) throws {
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw IngestError.output(path: directory, message: "cannot create the lock file \(file.path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let why = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, buf.count, 0)
            close(fd)
            let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            if why == EWOULDBLOCK {
                throw IngestError.output(path: directory, message: "is in use by another fleetprep ingest or merge (pid \(holder)); wait for it to finish, or use another --out")
            }
            throw IngestError.output(path: directory, message: "cannot lock \(file.path): \(String(cString: strerror(why)))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = Mutex(fd)
    }

    func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
