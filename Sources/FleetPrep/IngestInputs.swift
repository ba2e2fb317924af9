import FleetLabels
import Foundation

/// The clip groups of a run, found the same way by every worker: discovery over all inputs,
/// unique keys, one label schema for the whole dataset.
struct IngestInputs {
    /// Every group of the batch, in discovery order (before the worker split).
    var items: [IngestItem] = []
    /// Inputs that could not be searched (missing paths, unreadable directories).
    var failures: [ClipFailure] = []
    var schema = LabelSchema(fields: [])

    init(config: IngestConfiguration) {
        let discovery = ClipGroupDiscovery(options: config.labelOptions)
        var seen = Set<String>()
        var groups: [ClipGroup] = []
        for input in config.inputs {
            do {
                guard FileManager.default.fileExists(atPath: input) else {
                    throw ClipFailure(clip: "", path: input, stage: .discover, message: "no such file or directory", samplesKept: 0)
                }
                var problems: [LabelError] = []
                for g in discovery.discover([input], problems: &problems) where seen.insert(g.path).inserted { groups.append(g) }
                // Each input or directory that cannot be searched is one error; the rest goes on.
                for p in problems {
                    failures.append(ClipFailure(clip: "", path: p.file, stage: .discover, message: p.description, samplesKept: 0))
                }
            } catch {
                var f = ClipFailure.from(error, clip: "", groupPath: input, samplesKept: 0)
                f.stage = .discover
                failures.append(f)
            }
        }
        if let manifest = config.manifest {
            do {
                let (found, problems) = try GroupManifest.load(path: manifest, options: config.labelOptions)
                for g in found where seen.insert(g.path).inserted { groups.append(g) }
                // A bad line is one error; the other lines still make groups.
                for p in problems {
                    failures.append(ClipFailure(clip: "", path: p.file, stage: .discover, message: p.description, samplesKept: 0))
                }
            } catch {
                var f = ClipFailure.from(error, clip: "", groupPath: manifest, samplesKept: 0)
                f.stage = .discover
                failures.append(f)
            }
        }
        var used = Set<String>()
        for g in groups {
            let base = Self.sanitize(g.name)
            var key = base
            var n = 2
            while !used.insert(key).inserted { key = base + "_" + String(n); n += 1 }
            items.append(IngestItem(key: key, group: g))
        }
        schema = Self.schema(for: groups, config: config)
    }

    /// A key safe in shard indexes, tar member names and file names: `[A-Za-z0-9_-]`, at most
    /// 80 characters. Anything else becomes `_`, so no clip name can make a path.
    static func sanitize(_ name: String) -> String {
        var out = ""
        for u in name.unicodeScalars.prefix(80) {
            let ok = (u >= "0" && u <= "9") || (u >= "A" && u <= "Z") || (u >= "a" && u <= "z") || u == "_" || u == "-"
            out.unicodeScalars.append(ok ? u : "_")
        }
        return out.isEmpty ? "clip" : out
    }

    /// `--signals` in that order, or else every signal named in any group's signal files (by
    /// first appearance), with units and kinds from the groups' clip.json.
    static func schema(for groups: [ClipGroup], config: IngestConfiguration) -> LabelSchema {
        var names: [String] = []
        var known = Set<String>()
        var units: [String: String] = [:]
        var categorical = Set(config.labelOptions.categoricalSignals)
        for g in groups {
            if let m = g.manifest,
               let man = try? ClipManifest.load(path: m, knownCameras: config.labelOptions.cameraNames,
                                                maxBytes: config.labelOptions.maxSidecarBytes) {
                for (k, v) in man.units where units[k] == nil { units[k] = v }
                categorical.formUnion(man.categorical)
            }
            // A header that cannot be read leaves the schema alone; the clip fails when loaded.
            if let table = g.signalsTable,
               let columns = try? SignalsCSV.columns(path: table, maxBytes: config.labelOptions.maxSidecarBytes) {
                for n in columns where !n.isEmpty && known.insert(n).inserted { names.append(n) }
            }
            for file in g.signalFiles {
                let n = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
                if known.insert(n).inserted { names.append(n) }
            }
            for a in g.signalArrays where known.insert(a.name).inserted { names.append(a.name) }
        }
        if let wanted = config.effective.signals { names = wanted }
        return LabelSchema(fields: names.map { n in
            let unit = units[n] ?? ""
            let cat = categorical.contains(n) || unit.lowercased() == "categorical"
            return LabelField(name: n, unit: unit, kind: cat ? .categorical : .continuous)
        })
    }
}
