import Foundation

/// A clip group with its sidecars read and validated: everything needed, besides the decoded
/// frame times, to produce the group's samples.
public struct ClipSidecars: Sendable, Hashable, Codable {
    public var group: ClipGroup
    /// clip.json `event_id`, else the group's name.
    public var eventID: String
    /// The group's cameras in sample order (clip.json `cameras`, else `LabelOptions.cameraNames`
    /// order), each with its video.
    public var cameras: [ClipGroup.Video]
    public var master: CameraName
    /// Per-camera offsets in seconds (clip time = decoded time + offset).
    public var offsets: [CameraName: Double]
    public var manifest: ClipManifest
    /// signals.csv columns in header order, then per-signal files in name order.
    public var signals: [SignalSeries]
    public var annotations: Annotations?
    /// The output schema: `LabelOptions.schema` if set, else this clip's signals.
    public var schema: LabelSchema
    /// TeslaCam `event.json` as compact JSON (sorted keys), when the group has one.
    public var event: String? = nil

    public var cameraNames: [CameraName] { cameras.map(\.camera) }
}

/// The labelled samples of one clip group.
///
/// `values` and `mask` are row-major, `samples.count × schema.width`: sample i's vector is
/// `values[i*width ..< (i+1)*width]`. A masked entry (0) has value 0.
public struct ClipLabels: Sendable, Hashable, Codable {
    public var eventID: String
    public var schema: LabelSchema
    public var samples: [SyncedSample]
    public var values: [Float]
    public var mask: [UInt8]
    /// Per sample: the annotation object (its compact JSON as written), or nil.
    public var annotations: [Annotation?]
    public var sync: SyncReport
    /// Annotation lines that matched no kept sample (out of range, no frame near `t`, or on a
    /// dropped tick).
    public var unmatchedAnnotations: Int

    public var count: Int { samples.count }
    public func values(ofSample i: Int) -> ArraySlice<Float> {
        values[(i * schema.width)..<((i + 1) * schema.width)]
    }
    public func mask(ofSample i: Int) -> ArraySlice<UInt8> {
        mask[(i * schema.width)..<((i + 1) * schema.width)]
    }
}

extension ClipGroup {
    /// Reads and validates the group's sidecars (clip.json, signals, annotations). Errors name
    /// the file and line; they concern this group only.
    public func load(options: LabelOptions = LabelOptions()) throws -> ClipSidecars {
        let limit = options.maxSidecarBytes
        var manifest = ClipManifest()
        if let path = self.manifest {
            manifest = try ClipManifest.load(path: path, knownCameras: options.cameraNames, maxBytes: limit)
        }

        // Cameras and master.
        var cameras: [ClipGroup.Video]
        var master: CameraName
        switch layout {
        case .loneVideo:
            if let list = manifest.cameras, list.count > 1 {
                throw LabelError(.badValue, file: self.manifest ?? path,
                                 line: ClipManifest.lineOfKey("cameras", in: (try? SidecarIO.read(self.manifest ?? path, limit: limit)) ?? []),
                                 "a lone video has one camera; \"cameras\" lists \(list.count)")
            }
            let name = manifest.master ?? manifest.cameras?.first ?? options.master
            var video = videos.first ?? .init(camera: name, path: path)
            video.camera = name
            cameras = [video]
            master = name
        case .comma2k19, .teslacam, .manifest:
            // The layout's adapter ordered the cameras; clip.json is not part of these layouts.
            cameras = videos
            guard !cameras.isEmpty else {
                throw LabelError(.missingVideo, file: path, "group has no camera video")
            }
            master = cameras.contains(where: { $0.camera == options.master }) ? options.master : cameras[0].camera
        case .directory:
            var byCamera: [CameraName: String] = [:]
            for v in videos {
                if let other = byCamera[v.camera] {
                    throw LabelError(.duplicateCamera, file: v.path, "camera \"\(v.camera)\" also has \(other)")
                }
                byCamera[v.camera] = v.path
            }
            if let listed = manifest.cameras {
                cameras = []
                for name in listed {
                    guard let p = byCamera[name] else {
                        let bytes = (try? SidecarIO.read(self.manifest!, limit: limit)) ?? []
                        throw LabelError(.missingVideo, file: self.manifest!,
                                         line: ClipManifest.lineOfString(name.rawValue, afterKey: "cameras", in: bytes),
                                         "camera \"\(name)\" has no video in \(path)")
                    }
                    cameras.append(.init(camera: name, path: p))
                }
            } else {
                cameras = options.cameraNames.compactMap { n in byCamera[n].map { .init(camera: n, path: $0) } }
            }
            guard !cameras.isEmpty else {
                throw LabelError(.missingVideo, file: self.manifest ?? path, "group has no camera video")
            }
            if let m = manifest.master {
                master = m
            } else if cameras.contains(where: { $0.camera == options.master }) {
                master = options.master
            } else {
                master = cameras[0].camera
            }
        }

        // Signals.
        // The limit on label columns (nil when the schema is named: `--signals`).
        let maxSignals = options.maxSignals
        if let maxSignals, signalFiles.count > maxSignals {
            throw LabelError(.tooManySignals, file: signalFiles[0],
                             "\(signalFiles.count) signal files; the limit is \(maxSignals) label columns (--max-signals, or name the wanted ones with --signals)")
        }
        let cancel = options.cancellation
        var signals: [SignalSeries] = []
        if let table = signalsTable {
            signals = try SignalsCSV.loadTable(path: table, maxBytes: limit, maxSignals: maxSignals, cancellation: cancel)
        }
        if let maxSignals, signals.count + signalFiles.count > maxSignals {
            throw LabelError(.tooManySignals, file: signalsTable ?? path,
                             "\(signals.count) signals.csv columns and \(signalFiles.count) signal files; the limit is \(maxSignals) label columns (--max-signals, or name the wanted ones with --signals)")
        }
        var byName: [String: Int] = [:]
        for (i, s) in signals.enumerated() { byName[s.name] = i }
        for file in signalFiles {
            try cancel.check()
            let s = try SignalsCSV.loadSingle(path: file, maxBytes: limit, cancellation: cancel)
            if let other = byName[s.name] {
                throw LabelError(.duplicateSignal, file: file, line: 1, "signal \"\(Terminal.excerpt(s.name))\" is also in \(signals[other].file)")
            }
            byName[s.name] = signals.count
            signals.append(s)
        }

        for a in signalArrays {
            let s = try SignalArrayFiles.load(a, maxBytes: limit)
            if let other = signals.first(where: { $0.name == s.name }) {
                throw LabelError(.duplicateSignal, file: a.values, "signal \"\(s.name)\" is also in \(other.file)")
            }
            signals.append(s)
        }

        let annotations = try self.annotations.map { try Annotations.load(path: $0, maxBytes: limit) }
        var eventJSON: String? = nil
        if let e = event {
            let bytes = try SidecarIO.read(e, limit: limit)
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]),
                  let compact = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed]) else {
                throw LabelError(.invalidJSON, file: e, "event.json is not valid JSON")
            }
            eventJSON = String(decoding: compact, as: UTF8.self)
        }

        let categoricalNames = Set(manifest.categorical).union(options.categoricalSignals)
        let schema = options.schema ?? LabelSchema(fields: signals.map { s in
            let unit = manifest.units[s.name] ?? ""
            let categorical = categoricalNames.contains(s.name)
                || unit.lowercased() == "categorical"
            return LabelField(name: s.name, unit: unit, kind: categorical ? .categorical : .continuous)
        })

        var sidecars = ClipSidecars(group: self, eventID: manifest.eventID ?? name, cameras: cameras, master: master,
                                    offsets: manifest.offsets.merging(offsets) { a, _ in a }, manifest: manifest, signals: signals,
                                    annotations: annotations, schema: schema)
        sidecars.event = eventJSON
        return sidecars
    }
}

extension ClipSidecars {
    /// Synchronizes the cameras and packs one label vector, mask and annotation per sample.
    ///
    /// - Parameter frameTimes: decoded frame times (pts × time_base, seconds) per camera name,
    ///   for every camera in `cameras`, in decode order.
    public func labels(frameTimes: [CameraName: [Double]], options: LabelOptions = LabelOptions()) throws -> ClipLabels {
        var lists: [[Double]] = []
        for cam in cameras {
            guard let t = frameTimes[cam.camera] else {
                throw LabelError(.badFrameTimes, file: cam.path, "no frame times given for camera \(cam.camera)")
            }
            lists.append(t)
        }
        let (samples, report) = try CameraSync.sync(
            cameras: cameraNames, frameTimes: lists, master: master, offsets: offsets,
            tolerance: options.syncTolerance, policy: options.missingCameraPolicy, files: cameras.map(\.path))

        // Labels at every master frame (clip clock), then gathered for the kept samples.
        let masterOffset = offsets[master] ?? 0
        let masterTimes = (frameTimes[master] ?? []).map { $0 + masterOffset }
        let width = schema.width
        var values = [Float](repeating: 0, count: samples.count * width)
        var mask = [UInt8](repeating: 0, count: samples.count * width)
        // By name through a dictionary: a wide schema costs linear time, not schema × signals.
        var byName: [String: Int] = [:]
        for (i, s) in signals.enumerated() where byName[s.name] == nil { byName[s.name] = i }
        for (k, field) in schema.fields.enumerated() {
            if k & 0xFF == 0 { try options.cancellation.check() }
            guard let i = byName[field.name] else { continue }  // absent: masked
            let series = signals[i]
            let (v, m) = SignalAligner.align(series, at: masterTimes, kind: field.kind, maxGap: options.maxGap)
            for (i, s) in samples.enumerated() {
                values[i * width + k] = Float(v[s.masterIndex])
                mask[i * width + k] = m[s.masterIndex]
            }
        }

        var perSample = [Annotation?](repeating: nil, count: samples.count)
        var unmatched = 0
        if let annotations {
            let (perFrame, _) = try annotations.match(frameTimes: masterTimes, period: report.masterPeriod)
            var used = 0
            for (i, s) in samples.enumerated() where perFrame[s.masterIndex] != nil {
                perSample[i] = perFrame[s.masterIndex]
                used += 1
            }
            unmatched = annotations.records.count - used
        }
        return ClipLabels(eventID: eventID, schema: schema, samples: samples, values: values, mask: mask,
                          annotations: perSample, sync: report, unmatchedAnnotations: unmatched)
    }
}
