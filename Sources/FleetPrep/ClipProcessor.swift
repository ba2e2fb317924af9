import FleetKernels
import FleetLabels
import FleetMedia
import FleetShards
import Foundation

/// One sample ready for the shard writer: the cameras' tensors in a pooled buffer, the label
/// vector, mask, annotation and where it came from.
struct PreparedSample: @unchecked Sendable {
    var key: String
    var tensor: TensorSpec
    var buffer: RecordBuffer
    var labels: [Float]
    var mask: [UInt8]
    var annotations: String
    var metadata: JSONValue
    /// Frames decoded for this sample (for progress).
    var framesDecoded: Int
    /// CRC-32C of the tensor bytes, computed on the worker thread (the writer reuses it).
    var tensorCRC32C: UInt32
    /// Master frame time on the clip clock, seconds.
    var time: Double
    /// Per-camera frame times (nil for a camera that is absent).
    var cameraTimes: [Double?]
}

/// Where a clip failed, for `errors.jsonl`.
public enum FailureStage: String, Sendable, Codable {
    case discover, labels, open, decode, limits, transform, sync
}

/// A clip (group) that could not be ingested, or not completely.
public struct ClipFailure: Error, Sendable, Codable, Equatable, CustomStringConvertible {
    /// The group's key in the dataset.
    public var clip: String
    /// The file (or directory) at fault.
    public var path: String
    public var stage: FailureStage
    public var message: String
    /// Samples of this clip written before the failure (decoding errors part-way).
    public var samplesKept: Int

    public var description: String { "\(path): \(stage.rawValue): \(message)" }

    /// Classifies an error thrown while processing a clip.
    static func from(_ error: Error, clip: String, groupPath: String, samplesKept: Int) -> ClipFailure {
        switch error {
        case let e as ClipFailure:
            var f = e
            f.samplesKept = samplesKept
            return f
        case let e as LabelError:
            return ClipFailure(clip: clip, path: e.file, stage: .labels, message: e.description, samplesKept: samplesKept)
        case let e as MediaError:
            let stage: FailureStage
            switch e.kind {
            case .corruptData, .truncated: stage = .decode
            case .limitExceeded: stage = .limits
            default: stage = .open
            }
            return ClipFailure(clip: clip, path: e.path, stage: stage, message: e.message, samplesKept: samplesKept)
        case let e as KernelError:
            let option = [KernelError.Kind.invalidCrop: "--crop: ", .invalidSize: "--size: "][e.kind] ?? ""
            return ClipFailure(clip: clip, path: groupPath, stage: .transform, message: option + e.description, samplesKept: samplesKept)
        default:
            return ClipFailure(clip: clip, path: groupPath, stage: .decode, message: "\(error)", samplesKept: samplesKept)
        }
    }
}

/// A clip group to ingest, with its place in the run.
struct IngestItem: Sendable {
    /// Key prefix: the sanitized event name, made unique across the whole input set.
    var key: String
    var group: ClipGroup
}

/// Turns one clip group into samples: scan timestamps (demux only) → sync cameras and align
/// labels → tell each decoder which frames are needed → decode the cameras in lockstep →
/// transform each frame straight into the sample's tensor buffer.
struct ClipProcessor {
    let config: IngestConfiguration
    let schema: FleetLabels.LabelSchema
    let pool: RecordBufferPool

    /// Produces the group's samples in order, skipping the first `skip` (already written by an
    /// earlier, interrupted run). `emit` returns false when the run is cancelled.
    func process(_ item: IngestItem, skip: Int, emit: (PreparedSample) -> Bool) throws {
        var options = config.labelOptions
        options.schema = schema
        var sidecars = try item.group.load(options: options)
        if let wanted = config.cameras {
            var picked: [ClipGroup.Video] = []
            for name in wanted {
                guard let v = sidecars.cameras.first(where: { $0.camera == name }) else {
                    throw ClipFailure(clip: item.key, path: item.group.path, stage: .labels,
                                      message: "camera \"\(name)\" (from --cameras) has no video in this group", samplesKept: 0)
                }
                picked.append(v)
            }
            sidecars.cameras = picked
            if !wanted.contains(sidecars.master) {
                sidecars.master = wanted.contains(config.labelOptions.master) ? config.labelOptions.master : wanted[0]
            }
        }
        let cams = sidecars.cameras

        // Open every camera and read its frame timestamps without decoding.
        let decoderOptions = DecoderOptions(threads: config.decoderThreads, lenient: config.lenient,
                                            maxPixels: config.maxPixels, maxFrames: config.maxFrames)
        var decoders: [VideoDecoder] = []
        var stamps: [[Int64]] = []
        var times: [String: [Double]] = [:]
        for cam in cams {
            let d = try VideoDecoder(path: cam.path, options: decoderOptions)
            let s = try d.scanTimestamps()
            guard !s.isEmpty else {
                throw ClipFailure(clip: item.key, path: cam.path, stage: .decode, message: "the video stream has no frames", samplesKept: 0)
            }
            try Self.checkCoverage(d.info, stamps: s, lenient: config.lenient)
            decoders.append(d)
            stamps.append(s)
            times[cam.camera] = s.map { d.info.timeBase.seconds($0) }
        }
        defer { for d in decoders { d.close() } }

        let labels = try sidecars.labels(frameTimes: times, options: options)
        let masterSlot = cams.firstIndex { $0.camera == sidecars.master } ?? 0
        let stride = effectiveStride(masterInfo: decoders[masterSlot].info)
        var kept = labels.samples.indices.filter { labels.samples[$0].masterIndex % stride == 0 }
        if skip > 0 { kept = Array(kept.dropFirst(skip)) }
        guard !kept.isEmpty else { return }

        // Which frames each camera must deliver; the decoders skip the rest.
        var useCount: [[Int: Int]] = Array(repeating: [:], count: cams.count)
        for s in kept {
            for (c, ref) in labels.samples[s].cameras.enumerated() {
                if let ref { useCount[c][ref.index, default: 0] += 1 }
            }
        }
        for c in cams.indices {
            let wanted = Set(useCount[c].keys.map { stamps[c][$0] })
            decoders[c].select(timestamps: wanted, allTimestamps: stamps[c])
        }

        // Transformers are made from the first frame of each camera (its real format).
        var transformers: [FrameTransformer?] = Array(repeating: nil, count: cams.count)
        var bridges = Array(repeating: FrameSourceBridge(), count: cams.count)
        var held: [(index: Int, frame: RetainedFrame)?] = Array(repeating: nil, count: cams.count)
        var shape: [Int]? = nil
        var perCamera = 0

        func transformer(for c: Int, frame: FrameView, format: SourcePixelFormat, fullRange: Bool) throws -> FrameTransformer {
            if let t = transformers[c] { return t }
            let info = decoders[c].info
            let t = try FrameTransformer(config: config.transform, sourceWidth: frame.width, sourceHeight: frame.height,
                                         sourceFormat: format,
                                         streamMatrix: FrameSourceBridge.matrix(colorSpace: info.colorSpace),
                                         streamRange: FrameSourceBridge.range(colorRange: info.colorRange, fullRangeFormat: fullRange))
            if let shape, shape != t.outputShape {
                throw ClipFailure(clip: item.key, path: cams[c].path, stage: .transform,
                                  message: "camera \(cams[c].camera) gives a \(t.outputShape) tensor, camera \(cams[0].camera) \(shape); pass --size WxH to make them equal",
                                  samplesKept: 0)
            }
            shape = t.outputShape
            perCamera = t.outputByteCount
            transformers[c] = t
            return t
        }

        for s in kept {
            let sample = labels.samples[s]
            var decodedHere = 0
            var buffer: RecordBuffer? = nil
            var cameraMask = [UInt8](repeating: 1, count: cams.count)
            var cameraTimes = [Double?](repeating: nil, count: cams.count)
            var cameraFrames = [Int?](repeating: nil, count: cams.count)
            // Cameras whose frame is absent are filled after the others set the tensor size.
            for c in cams.indices {
                guard let ref = sample.cameras[c] else { cameraMask[c] = 0; continue }
                cameraTimes[c] = ref.time
                cameraFrames[c] = ref.index
                let write: (FrameView) throws -> Void = { frame in
                    try bridges[c].withImage(frame, path: cams[c].path) { image, format, full in
                        let t = try transformer(for: c, frame: frame, format: format, fullRange: full)
                        if buffer == nil { buffer = pool.take(bytes: perCamera * cams.count) }
                        try t.transform(image, into: buffer!.slice(offset: c * perCamera, count: perCamera))
                    }
                }
                if let h = held[c], h.index == ref.index {
                    try write(h.frame.view)
                } else {
                    held[c] = nil
                    var found = false
                    while !found {
                        let got: Bool? = try decoders[c].nextFrame { frame in
                            guard frame.index >= ref.index else { return false }
                            guard frame.index == ref.index else {
                                throw ClipFailure(clip: item.key, path: cams[c].path, stage: .decode,
                                                  message: "frame \(ref.index) was not delivered (next was \(frame.index))", samplesKept: 0)
                            }
                            try write(frame)
                            useCount[c][ref.index, default: 1] -= 1
                            if useCount[c][ref.index, default: 0] > 0, let r = decoders[c].retainCurrentFrame(frame) {
                                held[c] = (ref.index, r)
                            }
                            return true
                        }
                        guard let got else {
                            throw ClipFailure(clip: item.key, path: cams[c].path, stage: .decode,
                                              message: "the video ended before frame \(ref.index)", samplesKept: 0)
                        }
                        if got { found = true; decodedHere += 1 }
                    }
                }
            }
            guard let buf = buffer else {
                throw ClipFailure(clip: item.key, path: item.group.path, stage: .sync, message: "sample at \(sample.masterTime) s has no camera frame", samplesKept: 0)
            }
            for c in cams.indices where cameraMask[c] == 0 {
                let slice = buf.slice(offset: c * perCamera, count: perCamera)
                slice.initializeMemory(as: UInt8.self, repeating: 0)
            }
            let shapeAll = [cams.count] + (shape ?? [])
            let tensor = TensorSpec(name: "frames", dtype: TensorDType(rawValue: config.transform.dtype.rawValue) ?? .f32,
                                    shape: shapeAll, layout: config.transform.layout == .chw ? "NCHW" : "NHWC")
            let key = item.key + "-" + Self.pad(sample.masterIndex)
            let metadata: JSONValue = .object([
                "clip": .string(labels.eventID),
                "source": .string(item.group.path),
                "cameras": .array(cams.map { .string($0.camera) }),
                "camera_mask": .array(cameraMask.map { .number(Double($0)) }),
                "frame_index": .array(cameraFrames.map { $0.map { .number(Double($0)) } ?? .null }),
                "frame_time": .array(cameraTimes.map { $0.map { .number($0) } ?? .null }),
                "master": .string(sidecars.master),
                "master_index": .number(Double(sample.masterIndex)),
                "time": .number(sample.masterTime),
            ])
            let prepared = PreparedSample(
                key: key, tensor: tensor, buffer: buf,
                labels: Array(labels.values(ofSample: s)), mask: Array(labels.mask(ofSample: s)),
                annotations: labels.annotations[s] ?? "null", metadata: metadata,
                framesDecoded: decodedHere, tensorCRC32C: CRC32C.checksum(UnsafeRawBufferPointer(buf.bytes)),
                time: sample.masterTime, cameraTimes: cameraTimes)
            guard emit(prepared) else { return }
        }
        // Read every camera to its end, so that damage after the last needed frame (a cut-off
        // file, a demuxer error) still fails the clip. Unselected frames are not delivered.
        for d in decoders {
            while try d.nextFrame({ _ in }) != nil {}
        }
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
    func effectiveStride(masterInfo: ClipInfo) -> Int {
        guard let fps = config.targetFPS else { return config.stride }
        let rate = masterInfo.frameRate.doubleValue
        guard rate.isFinite, rate > 0 else { return 1 }
        return max(1, Int((rate / fps).rounded()))
    }

    static func pad(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 6 ? s : String(repeating: "0", count: 6 - s.count) + s
    }
}
