/// One plane of a decoded frame: rows of pixel data in memory the decoder owns.
///
/// `stride` is the distance in bytes from one row to the next; it can exceed `rowBytes` (padding)
/// and can be negative (bottom-up images). Index rows with `row(_:)`, never by `width`.
public struct PlaneView {
    /// Address of row 0.
    public let base: UnsafeRawPointer
    /// Bytes from the start of one row to the start of the next (may be negative).
    public let stride: Int
    /// Bytes of pixel data in each row (no padding).
    public let rowBytes: Int
    /// Number of rows.
    public let rows: Int

    /// The pixel bytes of row `y` (0 ..< rows).
    @inlinable
    public func row(_ y: Int) -> UnsafeRawBufferPointer {
        precondition(y >= 0 && y < rows, "row \(y) outside 0..<\(rows)")
        return UnsafeRawBufferPointer(start: base + y * stride, count: rowBytes)
    }
}

/// A decoded video frame, borrowed from the decoder.
///
/// The planes point into buffers the decoder owns and reuses: a `FrameView` is valid only inside
/// the closure that receives it (`VideoDecoder.nextFrame(_:)`, `forEachFrame(_:)`), which cannot
/// return it (its result must be `Sendable`; a view is not). Copy what you
/// need to keep, or call `VideoDecoder.retainCurrentFrame()` for a reference-counted handle.
public struct FrameView {
    /// Ordinal of the frame in presentation order, from 0 at the start of the clip. After a seek the
    /// index is estimated from the time and the stream's average frame rate.
    public let index: Int
    /// The presentation timestamp in `timeBase` units, or nil when FFmpeg had none for this frame.
    public let pts: Int64?
    /// The stream's time base.
    public let timeBase: Rational
    /// Presentation time in seconds: `pts * timeBase` (same clock as ffprobe's `pts_time`). Frames
    /// without pts get the previous frame's time plus one frame period, so times never go backwards.
    public let time: Double
    /// Picture size in pixels.
    public let width: Int
    public let height: Int
    /// The frame's pixel format.
    public let pixelFormat: PixelFormat
    /// True for key frames (I/IDR).
    public let isKeyFrame: Bool
    @usableFromInline let planes: (PlaneView?, PlaneView?, PlaneView?, PlaneView?)

    init(index: Int, pts: Int64?, timeBase: Rational, time: Double, width: Int, height: Int,
         pixelFormat: PixelFormat, isKeyFrame: Bool,
         planes: (PlaneView?, PlaneView?, PlaneView?, PlaneView?)) {
        self.index = index
        self.pts = pts
        self.timeBase = timeBase
        self.time = time
        self.width = width
        self.height = height
        self.pixelFormat = pixelFormat
        self.isKeyFrame = isKeyFrame
        self.planes = planes
    }

    /// Number of planes in memory (3 for yuv420p, 2 for nv12, 1 for gray).
    public var planeCount: Int {
        planes.3 != nil ? 4 : planes.2 != nil ? 3 : planes.1 != nil ? 2 : planes.0 != nil ? 1 : 0
    }

    /// Plane `i` (0 ..< planeCount).
    @inlinable
    public func plane(_ i: Int) -> PlaneView {
        let p: PlaneView?
        switch i {
        case 0: p = planes.0
        case 1: p = planes.1
        case 2: p = planes.2
        case 3: p = planes.3
        default: p = nil
        }
        guard let p else { preconditionFailure("plane \(i) outside 0..<\(planeCount)") }
        return p
    }

    /// Copies the picture into one tightly packed buffer, planes one after another with no row
    /// padding: the layout of FFmpeg's `-f rawvideo` output (and of `framemd5`'s hashed bytes).
    public func packedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((0..<planeCount).reduce(0) { $0 + plane($1).rowBytes * plane($1).rows })
        for i in 0..<planeCount {
            let p = plane(i)
            for y in 0..<p.rows { out.append(contentsOf: p.row(y)) }
        }
        return out
    }
}

// Views point into buffers the decoder (or a `PixelConverter`) reuses: they are not `Sendable`,
// and `nextFrame`/`convert` only return `Sendable` results, so a view cannot leave the closure
// that lends it through the result. (`~Escapable` would also forbid storing it in a captured
// variable, but needs the experimental `Lifetimes` feature on this toolchain.)
@available(*, unavailable, message: "a FrameView is valid only inside the closure that receives it")
extension FrameView: Sendable {}
@available(*, unavailable, message: "a PlaneView is valid only inside the closure that receives its frame")
extension PlaneView: Sendable {}
