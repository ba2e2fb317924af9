import CFFmpeg

extension VideoDecoder {
    /// The presentation timestamps (in `info.timeBase` units) of every frame of the video stream,
    /// in presentation order, read by demuxing only — no decoding. Frame `i` of a full decode has
    /// timestamp `result[i]`. Throws `.corruptData` when a packet carries no timestamp (then the
    /// only way to learn frame times is to decode).
    ///
    /// The scan opens its own demuxer, so it does not disturb this decoder's position.
    public func scanTimestamps() throws -> [Int64] {
        ffmpegClearLastLog()
        var fmt: UnsafeMutablePointer<AVFormatContext>? = nil
        let code = avformat_open_input(&fmt, info.path, nil, nil)
        guard code >= 0, fmt != nil else { throw Self.openError(path: info.path, code: code) }
        defer { avformat_close_input(&fmt) }
        for i in 0..<Int(fmt!.pointee.nb_streams) where i != info.streamIndex {
            fmt!.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let pkt = packet else {
            throw MediaError(.limitExceeded, path: info.path, message: "out of memory allocating a packet")
        }
        var stamps: [Int64] = []
        if let hint = info.frameCountHint { stamps.reserveCapacity(hint) }
        let nopts = fp_nopts_value()
        while true {
            let r = av_read_frame(fmt, pkt)
            if r == fp_averror_eof() { break }
            if r < 0 {
                if options.lenient { break }
                throw MediaError(.corruptData, path: info.path,
                                 message: ffmpegMessage(r, context: "cannot read packet \(stamps.count) while scanning timestamps"),
                                 ffmpegCode: r)
            }
            defer { av_packet_unref(pkt) }
            guard Int(pkt.pointee.stream_index) == info.streamIndex,
                  pkt.pointee.flags & AV_PKT_FLAG_DISCARD == 0 else { continue }
            guard pkt.pointee.pts != nopts else {
                throw MediaError(.corruptData, path: info.path,
                                 message: "packet \(stamps.count) has no presentation timestamp; decode to learn frame times")
            }
            stamps.append(pkt.pointee.pts)
            if let limit = options.maxFrames, stamps.count > limit {
                throw MediaError(.limitExceeded, path: info.path, message: "clip has more than \(limit) frames")
            }
        }
        stamps.sort()
        return stamps
    }

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
