/// Options for opening and decoding a clip.
public struct DecoderOptions: Sendable, Hashable {
    /// Which frames the decoder may skip instead of decoding (FFmpeg's `skip_frame`).
    public enum Discard: String, Sendable, Hashable, Codable {
        /// Decode every frame.
        case none
        /// Skip frames no other frame references (typically B-frames): for sampled ingest.
        case nonReference = "nonref"
        /// Decode key frames only.
        case nonKey = "nonkey"
    }

    /// Decoder threads; 0 lets FFmpeg choose (one per core). Frame and slice threading are enabled.
    public var threads: Int = 0
    /// When false (the default) corrupt data ends decoding with a `.corruptData` / `.truncated`
    /// error after the frames decoded so far. When true, undecodable packets are skipped and counted
    /// in `VideoDecoder.droppedFrames`, and a truncated file simply ends (a header whose duration
    /// promises an impossible frame count still fails the clip).
    public var lenient: Bool = false
    /// Frames the decoder may skip.
    public var discard: Discard = .none
    /// Largest picture (width × height) accepted; larger streams fail with `.limitExceeded` before
    /// any frame is decoded. Default 8192×8192, enough for any camera; guards against hostile headers.
    public var maxPixels: Int = 8192 * 8192
    /// Largest number of frames decoded from one clip; nil for no limit. Exceeding it throws `.limitExceeded`.
    public var maxFrames: Int? = nil
    /// Index of the stream to decode; nil picks FFmpeg's best video stream.
    public var streamIndex: Int? = nil

    public init(threads: Int = 0, lenient: Bool = false, discard: Discard = .none,
                maxPixels: Int = 8192 * 8192, maxFrames: Int? = nil, streamIndex: Int? = nil) {
        self.threads = threads
        self.lenient = lenient
        self.discard = discard
        self.maxPixels = maxPixels
        self.maxFrames = maxFrames
        self.streamIndex = streamIndex
    }
}
