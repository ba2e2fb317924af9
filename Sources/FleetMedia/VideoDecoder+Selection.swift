import CFFmpeg

extension VideoDecoder {
    /// The presentation timestamps (in `info.timeBase` units) of every frame of the video stream,
    /// in presentation order, read by demuxing only — no decoding. Frame `i` of a full decode has
    /// timestamp `result[i]`. Throws `.corruptData` when a packet carries no timestamp (then the
    /// only way to learn frame times is to decode).
    ///
    /// The scan opens its own demuxer, so it does not disturb this decoder's position.
    /// Same as `scanFrames().pts`.
    public func scanTimestamps() throws -> [Int64] {
        try scanFrames().pts
    }

    /// One demux pass over the video stream (no decoding) that records every frame's presentation
    /// timestamp and which frames are key frames: the index that `seek(toFrame:in:)` and
    /// `seek(toTime:in:)` need. It honours `options.maxFrames` (`.limitExceeded`) and, in lenient
    /// mode, stops quietly at the first unreadable packet.
    ///
    /// A decoder that has not decoded or sought yet scans through its own demuxer and then seeks
    /// exactly back to frame 0 (as torchcodec does: one format context for scan and decode, so the
    /// file is opened once). A decoder already in use scans through a demuxer of its own, so its
    /// position is not disturbed.
    /// - Throws: `.corruptData` when a packet cannot be read (strict mode) or carries no timestamp.
    public func scanFrames() throws -> FrameIndex {
        ffmpegClearLastLog()
        if let index = try scanInPlace({ try scanPackets($0) }) { return index }
        var fmt: UnsafeMutablePointer<AVFormatContext>? = nil
        let code = Self.openInput(&fmt, info.path)
        guard code >= 0, fmt != nil else { throw Self.openError(path: info.path, code: code) }
        defer { avformat_close_input(&fmt) }
        Self.configureDemuxer(fmt!)
        for i in 0..<Int(fmt!.pointee.nb_streams) where i != info.streamIndex {
            fmt!.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
        return try scanPackets(fmt!)
    }

    /// Reads every packet of the video stream from `fmt` (no decoding) into a frame index.
    func scanPackets(_ fmt: UnsafeMutablePointer<AVFormatContext>) throws -> FrameIndex {
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let pkt = packet else {
            throw MediaError(.limitExceeded, path: info.path, message: "out of memory allocating a packet")
        }
        // (pts, dts, key) of every packet, in decode order.
        var packets: [(pts: Int64, dts: Int64, key: Bool)] = []
        // The header's frame count is a claim: it only sizes a first reservation, capped, and the
        // array grows as packets really arrive (up to maxFrames).
        if let hint = info.frameCountHint { packets.reserveCapacity(min(hint, options.maxFrames ?? Self.reserveCap, Self.reserveCap)) }
        let nopts = fp_nopts_value()
        while true {
            let r = av_read_frame(fmt, pkt)
            if r == fp_averror_eof() { break }
            if r < 0 {
                if options.lenient { break }
                throw MediaError(.corruptData, path: info.path,
                                 message: ffmpegMessage(r, context: "cannot read packet \(packets.count) while scanning timestamps"),
                                 ffmpegCode: r)
            }
            defer { av_packet_unref(pkt) }
            guard Int(pkt.pointee.stream_index) == info.streamIndex,
                  pkt.pointee.flags & AV_PKT_FLAG_DISCARD == 0 else { continue }
            if info.isElementaryStream {
                // No timestamps in the stream: one packet (access unit) per frame, numbered.
                let n = Int64(packets.count)
                packets.append((n, n, pkt.pointee.flags & AV_PKT_FLAG_KEY != 0))
                if let limit = options.maxFrames, packets.count > limit {
                    throw MediaError(.limitExceeded, path: info.path, message: "clip has more than \(limit) frames")
                }
                continue
            }
            guard pkt.pointee.pts != nopts else {
                throw MediaError(.corruptData, path: info.path,
                                 message: "packet \(packets.count) has no presentation timestamp; decode to learn frame times")
            }
            packets.append((pkt.pointee.pts, pkt.pointee.dts, pkt.pointee.flags & AV_PKT_FLAG_KEY != 0))
            if let limit = options.maxFrames, packets.count > limit {
                throw MediaError(.limitExceeded, path: info.path, message: "clip has more than \(limit) frames")
            }
        }
        packets.sort { $0.pts < $1.pts }
        var index = FrameIndex(pts: packets.map(\.pts), keyFrames: [])
        for (i, p) in packets.enumerated() where p.key {
            index.keyFrames.append(i)
            index.keyFrameDTS.append(p.dts == nopts ? p.pts : p.dts)
        }
        return index
    }

    /// Most entries reserved up front from a count in a file header (they grow past it as needed).
    static let reserveCap = 1 << 16

    /// Restricts decoding to the frames whose presentation timestamps are in `timestamps`
    /// (as returned by `scanTimestamps()`); nil decodes every frame again.
    ///
    /// Frames outside the selection are not delivered, and the decoder is told to skip decoding
    /// them where no other frame references them (FFmpeg's `skip_frame = AVDISCARD_NONREF` for
    /// those packets), so that sampled ingest runs faster than a full decode. Delivered frames keep
    /// their index in the full clip (their position in `allTimestamps`).
    public func select(timestamps: Set<Int64>?, allTimestamps: [Int64]) {
        if let timestamps {
            selection = timestamps
            var index: [Int64: Int] = [:]
            index.reserveCapacity(allTimestamps.count)
            for (i, t) in allTimestamps.enumerated() { index[t] = i }
            ptsIndex = index
        } else {
            selection = nil
            ptsIndex = nil
        }
    }
}
