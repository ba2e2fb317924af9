import FleetLabels
import FleetShards
import Foundation

/// The clip groups of a run, found the same way by every worker: discovery over all inputs,
/// unique keys, one label schema for the whole dataset.
struct IngestInputs {
    /// Every group of the batch, in discovery order (before the worker split).
    var items: [IngestItem] = []
    /// Inputs that could not be searched (missing paths, unreadable directories).
    var failures: [ClipFailure] = []
    var schema = LabelSchema(fields: [])

    /// Throws `IngestError.interrupted` when the run is cancelled while the inputs are searched
    /// or their headers read.
    init(config: IngestConfiguration) throws {
        let discovery = ClipGroupDiscovery(options: config.labelOptions)
        let cancellation = config.labelOptions.cancellation
        var seen = Set<String>()
        var groups: [ClipGroup] = []
        /// Adds what one source (an input path, the manifest) found: its groups (each once), and
        /// one discover error per directory or manifest line that could not be used; a source that
        /// cannot be read at all is one error. The other sources go on.
        func add(_ source: String, _ find: () throws -> (groups: [ClipGroup], problems: [LabelError])) {
            do {
                let (found, problems) = try find()
                for g in found where seen.insert(g.path).inserted { groups.append(g) }
                for p in problems {
                    failures.append(ClipFailure(clip: "", path: p.file, stage: .discover, message: p.description))
                }
            } catch {
                var f = ClipFailure.from(error, clip: "", groupPath: source)
                f.stage = .discover
                failures.append(f)
            }
        }
        for input in config.inputs {
            if cancellation.isCancelled { throw Self.interrupted }
            add(input) {
                guard FilePathBytes.stat(input) != nil else {
                    throw ClipFailure(clip: "", path: input, stage: .discover, message: "no such file or directory")
                }
                var problems: [LabelError] = []
                let found = discovery.discover([input], problems: &problems)
                return (found, problems)
            }
        }
        if let manifest = config.manifest {
            add(manifest) { try GroupManifest.load(path: manifest, options: config.labelOptions) }
        }
        var used = Set<String>()
        for g in groups {
            let base = Self.sanitize(g.name)
            var key = base
            var n = 2
            while !used.insert(key).inserted { key = base + "_" + String(n); n += 1 }
            items.append(IngestItem(key: key, group: g))
        }
        if cancellation.isCancelled { throw Self.interrupted }
        do { schema = try Self.schema(for: groups, config: config) } catch is Cancelled { throw Self.interrupted }
    }

    static let interrupted = IngestError.interrupted(resumeHint: "nothing was written yet. Run the same command again to start.")

    /// A key safe in shard indexes, tar member names and file names (`DatasetNames.isKeyCharacter`),
    /// at most 80 characters. Anything else becomes `_`, so no clip name can make a path.
    static func sanitize(_ name: String) -> String {
        var out = ""
        for u in name.unicodeScalars.prefix(80) {
            let ok = u.isASCII && DatasetNames.isKeyCharacter(UInt8(u.value))
            out.unicodeScalars.append(ok ? u : "_")
        }
        return out.isEmpty ? "clip" : out
    }

    /// `--signals` in that order, or else every signal named in the signal files of the groups
    /// whose labels can load (by first appearance), with units and kinds from the groups' clip.json.
    ///
    /// Only clips whose sidecars pass the checks their load makes on headers add columns: a
    /// clip.json that does not load, a header that is malformed, names a column twice or more
    /// than `--max-signals` columns, or a signal both in signals.csv and in a signal file fails
    /// that clip (stage labels) and adds nothing. The schema is fixed before any clip is decoded
    /// (every worker computes the same one from the whole batch), so a clip that fails later, at
    /// decode, has its columns in the schema (masked in every record).
    static func schema(for groups: [ClipGroup], config: IngestConfiguration) throws -> LabelSchema {
        let options = config.labelOptions
        var names: [String] = []
        var known = Set<String>()
        var units: [String: String] = [:]
        var categorical = Set(options.categoricalSignals)
        let wanted = config.effective.signals
        for g in groups {
            try options.cancellation.check()
            var man: ClipManifest? = nil
            if let m = g.manifest {
                guard let loaded = try? ClipManifest.load(path: m, knownCameras: options.cameraNames, maxBytes: options.maxSidecarBytes) else { continue }
                man = loaded
            }
            // With --signals the columns are named: the groups' headers are not read at all.
            if wanted == nil {
                var columns: [String] = []
                do {
                    if let table = g.signalsTable {
                        columns = try SignalsCSV.header(path: table, maxBytes: options.maxSidecarBytes, maxSignals: options.maxSignals,
                                                        cancellation: options.cancellation)
                    }
                    if let max = options.maxSignals, columns.count + g.signalFiles.count + g.signalArrays.count > max { continue }
                    var inGroup = Set(columns)
                    var ok = true
                    for file in g.signalFiles {
                        _ = try SignalsCSV.header(path: file, maxBytes: options.maxSidecarBytes, expectedColumns: 2,
                                                  cancellation: options.cancellation)
                        let n = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
                        if !inGroup.insert(n).inserted { ok = false; break }
                        columns.append(n)
                    }
                    for a in g.signalArrays where ok {
                        if !inGroup.insert(a.name).inserted { ok = false }
                        columns.append(a.name)
                    }
                    guard ok else { continue }
                } catch let c as Cancelled {
                    throw c
                } catch {
                    continue   // the clip fails when loaded, naming the file and line
                }
                for n in columns where known.insert(n).inserted { names.append(n) }
            }
            if let man {
                for (k, v) in man.units where units[k] == nil { units[k] = v }
                categorical.formUnion(man.categorical)
            }
        }
        if let wanted { names = wanted }
        return LabelSchema(fields: names.map { n in
            let unit = units[n] ?? ""
            let cat = categorical.contains(n) || unit.lowercased() == "categorical"
            return LabelField(name: n, unit: unit, kind: cat ? .categorical : .continuous)
        })
    }
}
