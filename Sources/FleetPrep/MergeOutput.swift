import FleetShards
import FleetLabels
import Foundation

/// How `fleetprep merge` writes into its `--out` (docs/ingest.md, "Merge rules"): the same rule as
/// ingest's output directory, and all or nothing.
///
/// - `--out` is new, empty, or holds a FleetPrep dataset; anything else is refused.
/// - The directory's lock (`.fleetprep/lock`, the one a single-process ingest takes) is held for
///   the whole merge: a second merge, or an ingest, into the same directory fails at once.
/// - Merge replaces or removes only files its own journal (`.fleetprep/journal-merge.jsonl`)
///   names: the names of an earlier merge into the same directory. Any other file with a name it
///   would write (`index.json`, `errors.jsonl`, a shard's name, their temporary names) stops it
///   before anything is written. A shard that already is the file it would link (the workers'
///   shared `--out`) is left as it is.
/// - Every file is staged under a temporary name first; only when every one is there are they
///   renamed into place, shards first and `index.json` last. When anything fails, what was staged
///   is removed and files it replaced are put back, so a failed merge leaves `--out` as it was.
struct MergeOutput {
    let url: URL
    static let journalName = "journal-merge.jsonl"

    /// One file to put into `url`: a shard to link (or copy) from `source`, or bytes to write.
    enum Content { case link(URL), bytes(Data) }
    struct Item { var name: String; var content: Content }

    private var state: URL { url.appendingPathComponent(OutputDirectory.stateFolder) }
    private var journal: URL { state.appendingPathComponent(Self.journalName) }

    static func staged(_ name: String) -> String { "." + name + ".merge.tmp" }
    static func backup(_ name: String) -> String { "." + name + ".merge.old" }

    /// Names an earlier merge into this directory wrote (its journal), with their temporary names.
    private func owned() -> Set<String> {
        guard let data = FileManager.default.contents(atPath: journal.path) else { return [] }
        var names = Set<String>()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let f = o["file"] as? String, DatasetMerge.isPlainName(f) else { continue }
            names.insert(f)
        }
        for n in Array(names) { names.insert(Self.staged(n)); names.insert(Self.backup(n)) }
        return names
    }

    private static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    private static func sameFile(_ a: URL, _ b: URL) -> Bool {
        var x = stat(), y = stat()
        return stat(a.path, &x) == 0 && stat(b.path, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    /// Writes `items` into the directory, and removes `remove` (names of an earlier merge that this
    /// one does not write), all or nothing.
    func write(_ items: [Item], remove: [String]) throws {
        let fm = FileManager.default
        let out = url.path
        var createdDirs: [URL] = []   // deepest last
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out, isDirectory: &isDir) {
            guard isDir.boolValue else { throw IngestError.output(path: out, message: "is not a directory") }
        } else {
            var missing: [URL] = []
            var u = url
            while !fm.fileExists(atPath: u.path), u.path != "/" { missing.append(u); u.deleteLastPathComponent() }
            do { try fm.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw IngestError.output(path: out, message: "cannot create the output directory: \(error.localizedDescription)")
            }
            createdDirs = missing.reversed()
        }
        // Refusals first, before anything (the lock file included) is touched; again under the lock.
        if createdDirs.isEmpty { _ = try check(items, remove: remove) }
        let stateExisted = fm.fileExists(atPath: state.path)
        let lockFile = state.appendingPathComponent("lock")
        let lockBefore = fm.contents(atPath: lockFile.path)
        let journalBefore = fm.contents(atPath: journal.path)
        func undoSetup() {
            if let lockBefore { try? lockBefore.write(to: lockFile) } else { unlink(lockFile.path) }
            if let journalBefore { try? AtomicFile.write(journalBefore, to: journal) } else { unlink(journal.path) }
            unlink(state.appendingPathComponent("." + Self.journalName + ".tmp").path)
            if !stateExisted { rmdir(state.path) }
            for d in createdDirs.reversed() { rmdir(d.path) }
        }
        let lock: OutputLock
        do { lock = try OutputLock(file: lockFile, directory: out) } catch { undoSetup(); throw error }
        defer { lock.release() }
        do {
            try writeLocked(items, remove: remove)
        } catch {
            lock.release()
            undoSetup()
            throw error
        }
    }

    /// Throws the first refusal; returns the names an earlier merge wrote and which of `remove`
    /// are there to remove.
    private func check(_ items: [Item], remove: [String]) throws -> (owned: Set<String>, removals: [String]) {
        let dir = OutputDirectory(url: url, manifestName: "index.json", errorsName: "errors.jsonl", prefix: "shard", shardExtension: "fps")
        let entries = try dir.entries()
        // Ingest's rule: a directory that holds files but no FleetPrep dataset is someone's data.
        let visible = entries.filter { $0 != OutputDirectory.stateFolder }
        if !visible.isEmpty && !dir.holdsDataset(entries) {
            let shown = visible.sorted().prefix(3).joined(separator: ", ") + (visible.count > 3 ? ", …" : "")
            throw IngestError.output(path: url.path, message: "holds \(visible.count) file(s) (\(Terminal.escape(shown))) and no FleetPrep dataset (no index*.json, no journal); merge writes only into an empty or new directory or a FleetPrep dataset: use another --out")
        }
        let owned = owned()
        // Everything that would be written or removed must be ours, or already the very file.
        var foreign: [String] = []
        for item in items {
            let dst = url.appendingPathComponent(item.name)
            if case .link(let src) = item.content, Self.sameFile(src, dst) { continue }
            for n in [item.name, Self.staged(item.name), Self.backup(item.name)] where Self.exists(url.appendingPathComponent(n).path) && !owned.contains(n) {
                foreign.append(n)
            }
        }
        if let first = foreign.sorted().first {
            throw IngestError.output(path: url.path, message: "holds \(Terminal.escape(first))\(foreign.count > 1 ? " and \(foreign.count - 1) more" : ""), which no earlier merge into this directory wrote (its journal, .fleetprep/\(Self.journalName), does not name it); FleetPrep does not replace files it did not write: move it, or use another --out")
        }
        let removals = remove.filter { owned.contains($0) && Self.exists(url.appendingPathComponent($0).path) }
        return (owned, removals)
    }

    private func writeLocked(_ items: [Item], remove: [String]) throws {
        let (owned, removals) = try check(items, remove: remove)
        try writeJournal(naming: items, owned: owned)
        let staged = try stage(items)
        try commit(staged)
        for n in removals { unlink(url.appendingPathComponent(n).path) }
    }

    /// The journal names every file first (with what earlier merges named), then files appear.
    private func writeJournal(naming items: [Item], owned: Set<String>) throws {
        var names = owned.filter { !$0.hasPrefix(".") }
        for item in items { names.insert(item.name) }
        var text = Data()
        for n in names.sorted() {
            text.append(try JSONSerialization.data(withJSONObject: ["file": n], options: [.sortedKeys]))
            text.append(UInt8(ascii: "\n"))
        }
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try AtomicFile.write(text, to: journal)
    }

    /// Puts every item under its temporary name (a link or copy of a shard, written bytes,
    /// fsynced), skipping shards that already are the file they would be. On a failure what was
    /// staged is removed.
    private func stage(_ items: [Item]) throws -> [(Item, URL)] {
        var staged: [(Item, URL)] = []
        for item in items {
            let dst = url.appendingPathComponent(item.name)
            if case .link(let src) = item.content, Self.sameFile(src, dst) { continue }
            let tmp = url.appendingPathComponent(Self.staged(item.name))
            unlink(tmp.path)
            unlink(url.appendingPathComponent(Self.backup(item.name)).path)
            staged.append((item, tmp))
            do { try put(item.content, at: tmp, for: dst) } catch {
                for (_, tmp) in staged { unlink(tmp.path) }
                throw error
            }
        }
        return staged
    }

    /// Writes one staged file: `content` at `tmp` (to become `dst`).
    private func put(_ content: Content, at tmp: URL, for dst: URL) throws {
        switch content {
        case .link(let src):
            if link(src.path, tmp.path) != 0 {
                do { try FileManager.default.copyItem(at: src, to: tmp) } catch {
                    throw IngestError.output(path: dst.path, message: "cannot link or copy \(src.path) here: \(error.localizedDescription)")
                }
                try IngestJournal.fsync(tmp)
            }
        case .bytes(let data):
            do { try data.write(to: tmp) } catch {
                throw IngestError.output(path: dst.path, message: "cannot write: \(error.localizedDescription)")
            }
            try IngestJournal.fsync(tmp)
        }
    }

    /// Renames every staged file into place, keeping a link to each file replaced, so that a
    /// failure can put everything back (and remove what was staged).
    private func commit(_ staged: [(Item, URL)]) throws {
        var done: [(dst: URL, backup: URL?)] = []
        func rollBack() {
            for (dst, backup) in done.reversed() {
                if let backup { rename(backup.path, dst.path) } else { unlink(dst.path) }
            }
            for (_, tmp) in staged { unlink(tmp.path) }
        }
        for (item, tmp) in staged {
            let dst = url.appendingPathComponent(item.name)
            var backup: URL? = nil
            if Self.exists(dst.path) {
                let b = url.appendingPathComponent(Self.backup(item.name))
                guard link(dst.path, b.path) == 0 else {
                    let why = String(cString: strerror(errno))
                    rollBack()
                    throw IngestError.output(path: dst.path, message: "cannot keep the file being replaced: \(why)")
                }
                backup = b
            }
            guard rename(tmp.path, dst.path) == 0 else {
                let why = String(cString: strerror(errno))
                if let backup { unlink(backup.path) }
                rollBack()
                throw IngestError.output(path: dst.path, message: "rename failed: \(why)")
            }
            done.append((dst, backup))
        }
        for (_, backup) in done { if let backup { unlink(backup.path) } }
    }
}
