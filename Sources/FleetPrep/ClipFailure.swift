import FleetKernels
import FleetLabels
import FleetMedia
import FleetShards
import Foundation

/// One sample's pixels, transformed: kept sample `position` of its group, the cameras' tensors
/// in a pooled buffer, and the tensor's CRC-32C. Everything else in its record comes from the
/// group's plan (`GroupPlan.record`).
struct PreparedSample: Sendable {
    var position: Int
    var buffer: RecordBuffer
    var tensorCRC32C: UInt32
    /// Frames decoded for this sample (for progress).
    var framesDecoded: Int
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
    public var description: String { "\(path): \(stage.rawValue): \(message)" }

    public init(clip: String, path: String, stage: FailureStage, message: String) {
        self.clip = clip
        self.path = path
        self.stage = stage
        self.message = message
    }

    // errors.jsonl and the journal keep their `samplesKept` field, always 0: a failed group
    // leaves no sample in the dataset (docs/ingest.md). It is written for readers of the format
    // and ignored when read.
    enum CodingKeys: String, CodingKey { case clip, path, stage, message, samplesKept }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clip = try c.decode(String.self, forKey: .clip)
        path = try c.decode(String.self, forKey: .path)
        stage = try c.decode(FailureStage.self, forKey: .stage)
        message = try c.decode(String.self, forKey: .message)
    }

    /// As errors.jsonl, `--json` and the journal hold it: a file name's bytes that are not UTF-8
    /// written `\xNN` (`FilePathBytes.display`), in `path` and `message` alike. A failure is
    /// reported, never opened again, so this form need not lead back to the file.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clip, forKey: .clip)
        try c.encode(FilePathBytes.display(path), forKey: .path)
        try c.encode(stage, forKey: .stage)
        try c.encode(FilePathBytes.display(message), forKey: .message)
        try c.encode(0, forKey: .samplesKept)
    }

    /// Classifies an error thrown while processing a clip.
    static func from(_ error: Error, clip: String, groupPath: String) -> ClipFailure {
        switch error {
        case let e as ClipFailure:
            return e
        case let e as LabelError:
            return ClipFailure(clip: clip, path: e.file, stage: .labels, message: e.description)
        case let e as MediaError:
            let stage: FailureStage
            switch e.kind {
            case .corruptData, .truncated: stage = .decode
            case .limitExceeded: stage = .limits
            default: stage = .open
            }
            return ClipFailure(clip: clip, path: e.path, stage: stage, message: e.message)
        case let e as ShardError where e.kind == .recordTooLarge:
            return ClipFailure(clip: clip, path: groupPath, stage: .limits, message: e.description)
        case let e as KernelError:
            let option = [KernelError.Kind.invalidCrop: "--crop: ", .invalidSize: "--size: "][e.kind] ?? ""
            return ClipFailure(clip: clip, path: groupPath, stage: .transform, message: option + e.description)
        default:
            return ClipFailure(clip: clip, path: groupPath, stage: .decode, message: "\(error)")
        }
    }
}

/// A clip group to ingest, with its place in the run.
struct IngestItem: Sendable {
    /// Key prefix: the sanitized event name, made unique across the whole input set.
    var key: String
    var group: ClipGroup
}
