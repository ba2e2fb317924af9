/// A demux-only index of a video stream, in presentation order: every frame's presentation
/// timestamp and which frames are key frames. Made by `VideoDecoder.scanFrames()`, used by
/// `VideoDecoder.seek(toFrame:in:)` and `seek(toTime:in:)` for exact seeking.
public struct FrameIndex: Sendable, Equatable {
    /// Presentation timestamps (stream time base) of every frame, ascending; frame `i` of a full
    /// decode has `pts[i]`.
    public var pts: [Int64]
    /// Indices into `pts` of the frames whose packets are key frames (`AV_PKT_FLAG_KEY`), ascending.
    public var keyFrames: [Int]
    /// The decode timestamp of each key frame's packet (parallel to `keyFrames`) where the scan
    /// recorded it: MP4 seeks by decode time, and with B-frames a key frame's dts is below its pts.
    /// Empty for an index built with `init(pts:keyFrames:)` (seeking then uses the pts).
    /// Not part of equality.
    var keyFrameDTS: [Int64] = []

    /// An index from known timestamps and key frames (e.g. one kept from an earlier scan).
    public init(pts: [Int64], keyFrames: [Int]) {
        self.pts = pts
        self.keyFrames = keyFrames
    }

    /// The key frame at or before frame `i`: the largest element of `keyFrames` that is `<= i`,
    /// or nil when there is none.
    public func keyFrame(atOrBefore i: Int) -> Int? {
        keyPosition(atOrBefore: i).map { keyFrames[$0] }
    }

    /// The position in `keyFrames` of the key frame at or before frame `i` (binary search).
    func keyPosition(atOrBefore i: Int) -> Int? {
        var lo = 0, hi = keyFrames.count   // first position whose key frame is > i
        while lo < hi {
            let mid = (lo + hi) / 2
            if keyFrames[mid] <= i { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? nil : lo - 1
    }

    /// The timestamp to hand `av_seek_frame` (with `AVSEEK_FLAG_BACKWARD`) to land at or before
    /// the key frame at position `k` of `keyFrames`: its dts when recorded, else its pts.
    func seekTimestamp(keyPosition k: Int) -> Int64 {
        k < keyFrameDTS.count ? keyFrameDTS[k] : pts[keyFrames[k]]
    }

    public static func == (a: FrameIndex, b: FrameIndex) -> Bool {
        a.pts == b.pts && a.keyFrames == b.keyFrames
    }
}
