import FleetKernels
import FleetLabels
import FleetMedia
import FleetShards
import Foundation

/// One clip group after its scan: cameras, each camera's frame index (timestamps and key frames,
/// demuxed without decoding), the synchronized and labelled samples that are kept, and the
/// tensor they make. Everything a sample's record holds except its pixels is known here, so the
/// layout plan can place the group's records before anything is decoded, and the group can be
/// split into work units at key frames. Immutable once made; units share it read-only.
final class GroupPlan: Sendable {
    /// Position of the group in this worker's input list.
    let number: Int
    let item: IngestItem
    let cameras: [ClipGroup.Video]
    let master: CameraName
    let masterSlot: Int
    /// Each camera's files as scanned (one, or a TeslaCam camera's minutes).
    let tracks: [CameraTrack]
    /// Each camera's first file's stream facts.
    var infos: [ClipInfo] { tracks.map { $0.parts[0].info } }
    let labels: ClipLabels
    /// TeslaCam `event.json`, recorded in each sample's metadata.
    let event: JSONValue?
    /// Indices into `labels.samples` of the samples kept (after `--stride`/`--fps`), in order.
    let kept: [Int]
    /// Each camera's tensor shape (CHW or HWC) and bytes.
    let cameraShape: [Int]
    let cameraBytes: Int
    let tensor: TensorSpec
    /// Per camera: source picture size, crop (source pixels) and tensor size, recorded in each
    /// sample's metadata so that boxes in source pixels can be mapped to tensor pixels.
    let geometry: JSONValue

    var count: Int { kept.count }

    private init(number: Int, item: IngestItem, cameras: [ClipGroup.Video], master: CameraName, tracks: [CameraTrack],
                 labels: ClipLabels, event: JSONValue?, kept: [Int], cameraShape: [Int], cameraBytes: Int,
                 tensor: TensorSpec, geometry: JSONValue) {
        self.geometry = geometry
        self.number = number
        self.item = item
        self.cameras = cameras
        self.master = master
        masterSlot = cameras.firstIndex { $0.camera == master } ?? 0
        self.tracks = tracks
        self.event = event
        self.labels = labels
        self.kept = kept
        self.cameraShape = cameraShape
        self.cameraBytes = cameraBytes
        self.tensor = tensor
    }

    /// Reads the group's sidecars, scans every camera (demux only) and syncs the cameras and
    /// labels. Throws what fails the group (labels, open, limits, truncation, transform options).
    static func scan(_ item: IngestItem, number: Int, config: IngestConfiguration, schema: LabelSchema) throws -> GroupPlan {
        var options = config.labelOptions
        options.schema = schema
        var sidecars = try item.group.load(options: options)
        let names = Set(sidecars.cameras.map(\.camera))
        let implied = config.cameras == nil ? config.datasetCameras.flatMap { d in
            d.count < names.count && d.allSatisfy(names.contains) ? d : nil } : nil
        if let wanted = config.cameras ?? implied {
            var picked: [ClipGroup.Video] = []
            for name in wanted {
                guard let v = sidecars.cameras.first(where: { $0.camera == name }) else {
                    throw ClipFailure(clip: item.key, path: item.group.path, stage: .labels,
                                      message: "camera \"\(name)\" (from --cameras) has no video in this group")
                }
                picked.append(v)
            }
            sidecars.cameras = picked
            if !wanted.contains(sidecars.master) {
                sidecars.master = wanted.contains(config.labelOptions.master) ? config.labelOptions.master : wanted[0]
            }
        }
        let cams = sidecars.cameras
        if let n = config.expectedCameras, cams.count != n {
            throw ClipFailure(clip: item.key, path: item.group.path, stage: .sync,
                              message: "has \(cams.count) camera(s) (\(cams.map(\.camera).joined(separator: ","))) where the dataset's first clip group has \(n); every sample has one tensor shape: pick the same cameras everywhere with --cameras, or allow several shapes with --mixed-shapes")
        }
        let (tracks, times, shape, geometry) = try scanCameras(cams, item: item, config: config)
        let labels = try sidecars.labels(frameTimes: times, options: options)
        let masterSlot = cams.firstIndex { $0.camera == sidecars.master } ?? 0
        let stride = Self.stride(config: config, masterInfo: tracks[masterSlot].parts[0].info)
        let kept = labels.samples.indices.filter { labels.samples[$0].masterIndex % stride == 0 }
        let cameraShape = shape ?? []
        let cameraBytes = cameraShape.reduce(config.transform.dtype.byteWidth, *)
        let tensor = TensorSpec(name: "frames", dtype: config.transform.dtype,
                                shape: [cams.count] + cameraShape, layout: config.transform.layout)
        let event = try sidecars.event.map { try JSONValue(parsing: $0) }
        return GroupPlan(number: number, item: item, cameras: cams, master: sidecars.master, tracks: tracks,
                         labels: labels, event: event, kept: kept, cameraShape: cameraShape, cameraBytes: cameraBytes, tensor: tensor,
                         geometry: .array(geometry))
    }

    /// Scans each camera (demux only): its track, frame times, and the tensor shape and geometry
    /// its stream's picture size gives. Throws when two cameras give different shapes.
    private static func scanCameras(_ cams: [ClipGroup.Video], item: IngestItem, config: IngestConfiguration) throws
        -> (tracks: [CameraTrack], times: [CameraName: [Double]], shape: [Int]?, geometry: [JSONValue]) {
        var tracks: [CameraTrack] = []
        var times: [CameraName: [Double]] = [:]
        var shape: [Int]? = nil
        var geometry: [JSONValue] = []
        for cam in cams {
            let track = try CameraTrack.scan(cam, config: config, clip: item.key)
            let info = track.parts[0].info
            times[cam.camera] = try track.frameTimes(cam, config: config, clip: item.key)
            // The tensor shape follows from the stream's picture size and the options; a frame of
            // another size later fails the group.
            let t = try FrameTransformer(config: config.transform, sourceWidth: info.width, sourceHeight: info.height,
                                         sourceFormat: .yuv444p, streamMatrix: .bt601, streamRange: .limited)
            if let shape, shape != t.outputShape {
                throw ClipFailure(clip: item.key, path: cam.path, stage: .transform,
                                  message: "camera \(cam.camera) gives a \(t.outputShape) tensor, camera \(cams[0].camera) \(shape); pass --size WxH to make them equal")
            }
            shape = t.outputShape
            let c = t.cropRect
            geometry.append(.object(["source": .array([.number(Double(info.width)), .number(Double(info.height))]),
                                     "crop": .array([c.x, c.y, c.width, c.height].map { .number(Double($0)) }),
                                     "size": .array([.number(Double(t.outputWidth)), .number(Double(t.outputHeight))]),
                                     // The container's display rotation: recorded, not applied (docs/shard-format.md).
                                     "rotation": .number(info.rotation)]))
            tracks.append(track)
        }
        return (tracks, times, shape, geometry)
    }

    /// Strict mode: packets that stop well short of the duration the header declares mean the
    /// file lost data (a cut-off upload) even when no FFmpeg call failed. Checked on the demuxed
    /// timestamps, before any sample is made.
    static func checkCoverage(_ info: ClipInfo, stamps: [Int64], lenient: Bool) throws {
        guard !lenient, let duration = info.duration, duration > 1, let last = stamps.last else { return }
        let rate = info.frameRate.doubleValue
        let period = rate > 0 ? 1 / rate : 0
        let covered = info.timeBase.seconds(last) + period - info.startTime
        if covered < duration * 0.9 - 0.1 {
            throw MediaError(.truncated, path: info.path,
                             message: "packets end at \(covered) s but the header declares \(duration) s (\(stamps.count) frame(s))")
        }
    }

    /// `--stride`, or the stride that brings the master camera's frame rate closest to `--fps`.
    static func stride(config: IngestConfiguration, masterInfo: ClipInfo) -> Int {
        guard let fps = config.targetFPS else { return config.stride }
        let rate = masterInfo.frameRate.doubleValue
        guard rate.isFinite, rate > 0 else { return 1 }
        // The file's rate is a claim too: the stride stays in --stride's range.
        return max(1, Int(min(Double(IngestConfiguration.Limits.maxStride), (rate / fps).rounded())))
    }

    /// The record of kept sample `k`, without its tensor bytes (which its unit makes): what the
    /// layout frames (`RecordFraming`) and a stream's sample carries.
    func record(_ k: Int) -> SampleRecord {
        let s = kept[k]
        let sample = labels.samples[s]
        let refs = sample.cameras
        var fields: [String: JSONValue] = [
            "clip": .string(labels.eventID),
            "source": .string(FilePathBytes.display(item.group.path)),   // as index.json's sources' path
            "cameras": .array(cameras.map { .string($0.camera.rawValue) }),
            "camera_mask": .array(refs.map { .number($0 == nil ? 0 : 1) }),
            "frame_index": .array(refs.map { $0.map { .number(Double($0.index)) } ?? .null }),
            "frame_time": .array(refs.map { $0.map { .number($0.time) } ?? .null }),
            "geometry": geometry,
            "master": .string(master.rawValue),
            "master_index": .number(Double(sample.masterIndex)),
            "time": .number(sample.masterTime),
        ]
        if let event { fields["event"] = event }
        let metadata: JSONValue = .object(fields)
        return SampleRecord(key: item.key + "-" + DatasetNames.padded(sample.masterIndex), tensor: tensor,
                            labels: Array(labels.values(ofSample: s)), mask: Array(labels.mask(ofSample: s)),
                            annotations: labels.annotations[s], metadata: metadata)
    }

    /// Splits the kept samples into at most `parts` ranges that start at key frames of the master
    /// camera (so a unit's decoders seek to where its first frame needs no earlier picture), each
    /// spanning at least `minimum` master frames (a unit costs an open and a seek, which lands on
    /// a key frame, so nothing is decoded twice). Any split gives
    /// the same samples.
    func units(parts: Int, minimum: Int = 24) -> [Range<Int>] {
        guard let first = kept.first, let last = kept.last else { return [0..<kept.count] }
        let index = { (p: Int) in self.labels.samples[self.kept[p]].masterIndex }
        let span = labels.samples[last].masterIndex - labels.samples[first].masterIndex + 1
        let n = min(parts, span / max(1, minimum), kept.count)
        // An elementary stream has no timestamps to seek by: it is decoded from its start, in one unit.
        guard n > 1, tracks.allSatisfy(\.seekable) else { return [0..<kept.count] }
        // Candidate cuts: the first kept sample at or after each master key frame.
        var cuts: [Int] = []
        var p = 0
        for kf in tracks[masterSlot].keyFrames where kf > 0 {
            while p < kept.count && index(p) < kf { p += 1 }
            if p > 0 && p < kept.count && cuts.last != p { cuts.append(p) }
        }
        // The cut nearest each ideal boundary (in master frames), keeping units at least half
        // the minimum long.
        var chosen: [Int] = []
        for i in 1..<n {
            let ideal = index(0) + i * span / n
            guard let best = cuts.min(by: { abs(index($0) - ideal) < abs(index($1) - ideal) }) else { break }
            let previous = chosen.last.map(index) ?? index(0)
            if index(best) - previous >= minimum / 2 && index(kept.count - 1) - index(best) >= minimum / 2 { chosen.append(best) }
        }
        var out: [Range<Int>] = []
        var start = 0
        for c in chosen { out.append(start..<c); start = c }
        out.append(start..<kept.count)
        return out
    }
}

extension IngestConfiguration {
    var decoderOptions: DecoderOptions {
        DecoderOptions(threads: decoderThreads, lenient: lenient, maxPixels: maxPixels, maxFrames: maxFrames)
    }
}
