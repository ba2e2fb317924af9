import Foundation

/// The one error type of FleetLabels. Every case names the file it came from and, where the
/// cause sits on one line, that line (1-based). A malformed sidecar fails its clip group only.
public struct LabelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, in a word that scripts can match.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Missing/empty header, first column not `t`, empty or duplicate column name.
        case badHeader
        /// A cell (time or value) that is not a finite number.
        case nonNumeric
        /// A row with a different number of cells than the header.
        case badRow
        /// A time earlier than the previous row's time (equal times are allowed).
        case timeBackwards
        /// clip.json names a camera outside the known camera names or the group's cameras.
        case unknownCamera
        /// Two videos for one camera (`main.mp4` and `main.mkv`), or a camera listed twice.
        case duplicateCamera
        /// clip.json lists a camera with no video in the group.
        case missingVideo
        /// A line of annotations.jsonl or clip.json that is not valid JSON (or not an object).
        case invalidJSON
        /// A JSON value of the wrong type or a required key missing (`frame`/`t` in annotations,
        /// `offsets` not numbers, ...).
        case badValue
        /// Two annotation lines that land on the same frame.
        case duplicateAnnotation
        /// A sidecar larger than `LabelOptions.maxSidecarBytes`.
        case tooLarge
        /// The file could not be read (or a directory could not be listed).
        case unreadable
        /// Frame times handed in by the caller are unusable (unsorted, non-finite, missing camera).
        case badFrameTimes
        /// The same signal name appears in two sources (signals.csv and signals/NAME.csv).
        case duplicateSignal
        /// More label columns than `LabelOptions.maxSignals` (`--max-signals`).
        case tooManySignals
        /// A symlink whose target is outside the input root it was found under (without
        /// `--follow-symlinks`), or a directory nested deeper than discovery searches.
        case outsideInput
    }

    public let kind: Kind
    /// The file (path as given to / found by FleetLabels), or for caller-supplied frame times
    /// the video's path.
    public let file: String
    /// 1-based line, or nil when the cause is the whole file (too large, unreadable, ...).
    public let line: Int?
    public let message: String

    public init(_ kind: Kind, file: String, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.message = message
    }

    /// `path:line: kind: message` (the `:line` part only when there is a line).
    public var description: String {
        if let line { return "\(file):\(line): \(kind.rawValue): \(message)" }
        return "\(file): \(kind.rawValue): \(message)"
    }
}
