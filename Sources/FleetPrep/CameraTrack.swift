import FleetLabels
import FleetMedia
import Foundation

/// One camera of a group after its scan: its files in order (one, or a TeslaCam camera's
/// minutes), each with its stream facts, codec parameters and frame index. Frames are numbered
/// across the files: frame `parts[p].first + i` is frame `i` of file `p`.
struct CameraTrack: Sendable {
    struct Part: Sendable {
        let path: String
        let info: ClipInfo
        /// Codec parameters from the scan: units open the file again without
        /// `avformat_find_stream_info`, which decodes frames.
        let parameters: StreamParameters
        let frames: FrameIndex
        /// The camera's number of the file's first frame.
        let first: Int
        /// Seconds on the group clock at the file's pts 0 (a TeslaCam minute's start), nil for a
        /// file whose own timestamps are the clock.
        let start: Double?
    }

    let parts: [Part]

    var count: Int { parts.last.map { $0.first + $0.frames.pts.count } ?? 0 }

    /// Whether units may seek in this camera (elementary streams have no timestamps to seek by).
    var seekable: Bool { !parts.contains { $0.info.isElementaryStream } }

    /// Key frames in the camera's numbering.
    var keyFrames: [Int] { parts.flatMap { p in p.frames.keyFrames.map { $0 + p.first } } }

    /// The part holding camera frame `index`.
    func part(containing index: Int) -> Int {
        var lo = 0, hi = parts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if parts[mid].first <= index { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Scans every file of `camera` (demux only).
    static func scan(_ camera: ClipGroup.Video, config: IngestConfiguration, clip: String) throws -> CameraTrack {
        var parts: [Part] = []
        let files = camera.segments ?? [ClipGroup.Segment(path: camera.path, start: .nan)]
        var first = 0
        for f in files {
            let d = try VideoDecoder(path: f.path, options: config.decoderOptions)
            defer { d.close() }
            let index = try d.scanFrames()
            guard !index.pts.isEmpty else {
                throw ClipFailure(clip: clip, path: f.path, stage: .decode, message: "the video stream has no frames")
            }
            try GroupPlan.checkCoverage(d.info, stamps: index.pts, lenient: config.lenient)
            if let p = parts.first, p.info.width != d.info.width || p.info.height != d.info.height {
                throw ClipFailure(clip: clip, path: f.path, stage: .decode,
                                  message: "this segment is \(d.info.width)x\(d.info.height) where \(p.path) is \(p.info.width)x\(p.info.height); the segments of one camera must keep one size")
            }
            parts.append(Part(path: f.path, info: d.info, parameters: try d.streamParameters(), frames: index,
                              first: first, start: f.start.isNaN ? nil : f.start))
            first += index.pts.count
        }
        return CameraTrack(parts: parts)
    }

    /// Each frame's time in seconds, in the camera's numbering, from the first source that
    /// applies: the camera's frame-times log; for an elementary stream, `--assume-fps`; for
    /// segments, each segment's start plus the frame's pts; else the container's pts.
    func frameTimes(_ camera: ClipGroup.Video, config: IngestConfiguration, clip: String) throws -> [Double] {
        if let log = camera.frameTimes {
            let times = try FrameTimesLog.load(path: log, maxBytes: config.labelOptions.maxSidecarBytes)
            guard times.count == count else {
                throw ClipFailure(clip: clip, path: log, stage: .labels,
                                  message: "the frame-times log has \(times.count) time(s) but \(camera.path) has \(count) frame(s)")
            }
            return times
        }
        if !seekable {
            guard let fps = config.assumeFPS else {
                throw ClipFailure(clip: clip, path: camera.path, stage: .labels,
                                  message: "a raw \(parts[0].info.codec) stream carries no timestamps: put a frame-times log beside it (\(Self.logNames(camera.path))) or pass --assume-fps F")
            }
            return (0..<count).map { Double($0) / fps }
        }
        var out: [Double] = []
        out.reserveCapacity(count)
        for p in parts {
            let base = p.start ?? 0
            for t in p.frames.pts { out.append(base + p.info.timeBase.seconds(t)) }
        }
        return out
    }

    /// The sidecar names a lone stream's frame-times log may have.
    static func logNames(_ path: String) -> String {
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return "\(stem).frame_times.csv or \(stem).frame_times.npy"
    }
}
