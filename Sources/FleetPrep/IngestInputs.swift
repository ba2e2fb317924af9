import FleetLabels
import Foundation

/// The clip groups of a run, found the same way by every worker: discovery over all inputs,
/// unique keys, one label schema for the whole dataset.
struct IngestInputs {
    /// Every group of the batch, in discovery order (before the worker split).
    var items: [IngestItem] = []
    /// Inputs that could not be searched (missing paths, unreadable directories).
    var failures: [ClipFailure] = []
    var schema = FleetLabels.LabelSchema(fields: [])

    init(config: IngestConfiguration) {
        let discovery = ClipGroupDiscovery(options: config.labelOptions)
        var seen = Set<String>()
        var groups: [ClipGroup] = []
        for input in config.inputs {
            do {
                guard FileManager.default.fileExists(atPath: input) else {
                    throw ClipFailure(clip: "", path: input, stage: .discover, message: "no such file or directory", samplesKept: 0)
                }
                for g in try discovery.discover([input]) where seen.insert(g.path).inserted { groups.append(g) }
            } catch {
                var f = ClipFailure.from(error, clip: "", groupPath: input, samplesKept: 0)
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
    static func schema(for groups: [ClipGroup], config: IngestConfiguration) -> FleetLabels.LabelSchema {
        var names: [String] = []
        var units: [String: String] = [:]
        var categorical = Set(config.labelOptions.categoricalSignals)
        for g in groups {
            if let m = g.manifest,
               let man = try? ClipManifest.load(path: m, knownCameras: config.labelOptions.cameraNames,
                                                maxBytes: config.labelOptions.maxSidecarBytes) {
                for (k, v) in man.units where units[k] == nil { units[k] = v }
                categorical.formUnion(man.categorical)
            }
            if let table = g.signalsTable, let header = firstLine(of: table) {
                for col in header.split(separator: ",").dropFirst() {
                    let n = col.trimmingCharacters(in: .whitespaces)
                    if !n.isEmpty && !names.contains(n) { names.append(n) }
                }
            }
            for file in g.signalFiles {
                let n = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
                if !names.contains(n) { names.append(n) }
            }
        }
        if let wanted = config.effective.signals { names = wanted }
        return FleetLabels.LabelSchema(fields: names.map { n in
            let unit = units[n] ?? ""
            let cat = categorical.contains(n) || unit.lowercased() == "categorical"
            return LabelField(name: n, unit: unit, kind: cat ? .categorical : .continuous)
        })
    }

    private static func firstLine(of path: String) -> String? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        guard let data = try? h.read(upToCount: 64 * 1024) else { return nil }
        let line = data.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        return String(decoding: line, as: UTF8.self)
    }
}
