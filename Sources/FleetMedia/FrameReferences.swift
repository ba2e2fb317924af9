import CFFmpeg

/// The picture `avcodec_receive_frame` put in the decoder's frame: the reference is dropped
/// (`av_frame_unref`) when this goes out of scope, on every path (skip, error, throw), unless
/// `keep()` hands it on. The frame object itself (`av_frame_alloc`) belongs to the decoder.
/// (torchcodec's `AutoAVPacket`/`ReferenceAVPacket` pattern.)
struct FrameReference: ~Copyable {
    let frame: UnsafeMutablePointer<AVFrame>

    init(_ frame: UnsafeMutablePointer<AVFrame>) { self.frame = frame }

    /// Runs `body` on the frame while this reference is borrowed, so that the picture stays
    /// referenced until `body` returns or throws (a noncopyable value may otherwise end at its
    /// last use).
    borrowing func with<R>(_ body: (UnsafeMutablePointer<AVFrame>) throws -> R) rethrows -> R { try body(frame) }

    /// Leaves the picture in the frame for delivery: `nextFrame` takes a new `FrameReference`
    /// for the time its closure runs.
    consuming func keep() { discard self }

    deinit { av_frame_unref(frame) }
}

/// The packet `av_read_frame` filled: unreferenced (`av_packet_unref`) when this goes out of
/// scope, on every path.
struct PacketReference: ~Copyable {
    let packet: UnsafeMutablePointer<AVPacket>

    init(_ packet: UnsafeMutablePointer<AVPacket>) { self.packet = packet }

    /// Runs `body` on the packet while this reference is borrowed.
    borrowing func with<R>(_ body: (UnsafeMutablePointer<AVPacket>) throws -> R) rethrows -> R { try body(packet) }

    deinit { av_packet_unref(packet) }
}
