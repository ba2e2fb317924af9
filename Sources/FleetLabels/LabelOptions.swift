@_exported import FleetVocabulary
import Foundation

/// Configuration for discovery, sidecar loading, sync and label packing. One value per ingest
/// job; part of the job's configuration (output depends only on inputs and this).
public struct LabelOptions: Sendable, Hashable, Codable {
    /// 64 MiB: a sidecar larger than this is refused (`tooLarge`) rather than read.
    public static let defaultMaxSidecarBytes = 64 << 20
    /// 0.25 s: a frame further than this from the samples it would be computed from is masked.
    public static let defaultMaxGap = 0.25
    /// The camera names of a multi-camera event, in their default sample order.
    public static let standardCameras: [CameraName] = ["main", "narrow", "wide", "left_pillar", "right_pillar",
                                         "left_repeater", "right_repeater", "rear"]
    /// Video file extensions discovery recognizes (compared case-insensitively).
    public static let standardVideoExtensions = ["mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts",
                                                 "m2ts", "mpg", "mpeg", "flv", "3gp", "wmv", "ogv",
                                                 "h264", "264", "hevc", "h265", "265"]
    /// Raw H.264/HEVC elementary streams: clips without timestamps (frame times from a log).
    public static let elementaryStreamExtensions = ["h264", "264", "hevc", "h265", "265"]

    public var maxGap: Double = LabelOptions.defaultMaxGap
    public var maxSidecarBytes: Int = LabelOptions.defaultMaxSidecarBytes
    /// Known camera names: a video whose stem is one of these makes its directory a
    /// multi-camera group; clip.json may name no other camera.
    public var cameraNames: [CameraName] = LabelOptions.standardCameras
    public var videoExtensions: [String] = LabelOptions.standardVideoExtensions
    /// Master camera when clip.json does not name one (falls back to the group's first camera
    /// when the group has no camera of this name).
    public var master: CameraName = "main"
    /// Sync tolerance in seconds; nil = half the master's nominal frame period.
    public var syncTolerance: Double? = nil
    public var missingCameraPolicy: MissingCameraPolicy = .drop
    /// Signals treated as categorical in addition to those clip.json declares.
    public var categoricalSignals: [String] = []
    /// A fixed output schema for every clip of the job (so that all records have the same
    /// width). nil = each clip's own schema (its signals in file order).
    public var schema: LabelSchema? = nil
    /// Most label columns one clip may bring (signals.csv columns plus signal files), nil for no
    /// limit. A clip over it fails (`tooManySignals`) before its rows are read. Not applied when
    /// the schema is given (`--signals`).
    public var maxSignals: Int? = LabelOptions.defaultMaxSignals
    public static let defaultMaxSignals = 1024
    /// Follow symlinks whose target lies outside the input root they were found under
    /// (default: such a link is a `discover` error and is not followed).
    public var followSymlinks = false
    /// Set when the run is cancelled: parsing and discovery stop at the next check (not coded,
    /// not part of equality).
    public var cancellation = CancellationFlag()

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case maxGap, maxSidecarBytes, cameraNames, videoExtensions, master, syncTolerance, missingCameraPolicy
        case categoricalSignals, schema, maxSignals, followSymlinks
    }

    func isVideo(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        let ext = name[name.index(after: dot)...].lowercased()
        return videoExtensions.contains { $0.lowercased() == ext }
    }
}

