/// An error from opening, probing or decoding a clip. Every error names the file and carries
/// FFmpeg's own message where FFmpeg produced one.
public struct MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a stable value that callers can switch over.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The path does not exist.
        case fileNotFound = "file-not-found"
        /// The path exists but cannot be read (permissions, a directory, an I/O error).
        case unreadable = "unreadable"
        /// The file is empty, or FFmpeg recognizes no container in it.
        case notMedia = "not-media"
        /// The container holds no video stream.
        case noVideoStream = "no-video-stream"
        /// No decoder for the video codec is available in this FFmpeg build.
        case decoderMissing = "decoder-missing"
        /// Data inside the clip could not be demuxed or decoded.
        case corruptData = "corrupt-data"
        /// The clip ends before the data its index promises.
        case truncated = "truncated"
        /// A limit (maximum frame size, frame count) was exceeded.
        case limitExceeded = "limit-exceeded"
        /// A caller-supplied option is invalid (e.g. a negative seek time).
        case invalidArgument = "invalid-argument"
    }

    /// What went wrong.
    public let kind: Kind
    /// The file the error is about.
    public let path: String
    /// A human-readable description, including FFmpeg's message when there is one.
    public let message: String
    /// FFmpeg's return code, when the error came from an FFmpeg call.
    public let ffmpegCode: Int32?

    public init(_ kind: Kind, path: String, message: String, ffmpegCode: Int32? = nil) {
        self.kind = kind
        self.path = path
        self.message = message
        self.ffmpegCode = ffmpegCode
    }

    public var description: String { "\(path): \(kind.rawValue): \(message)" }
}
