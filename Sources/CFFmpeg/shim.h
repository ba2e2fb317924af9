// CFFmpeg shim: the FFmpeg headers FleetMedia needs, plus static inline wrappers for the
// function-like macros and compound literals that Swift cannot import
// (AVERROR(e), AVERROR_EOF, AV_NOPTS_VALUE, AV_TIME_BASE_Q, av_err2str), and for the calls
// whose form differs between FFmpeg versions (gated on the libraries' version macros; built and
// tested with Debian's 5.1). Nothing here holds state: the log capture, which does, is a real C
// file in the CFFmpegLog target.
#ifndef FLEETPREP_CFFMPEG_SHIM_H
#define FLEETPREP_CFFMPEG_SHIM_H

#include <errno.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libavutil/log.h>

/// AVERROR(e): a POSIX errno as an FFmpeg error code.
static inline int fp_averror(int e) { return AVERROR(e); }
/// AVERROR_EOF: end of file / stream drained.
static inline int fp_averror_eof(void) { return AVERROR_EOF; }
/// AVERROR(EAGAIN): the codec needs more input (or output must be read first).
static inline int fp_averror_eagain(void) { return AVERROR(EAGAIN); }
/// AVERROR_INVALIDDATA: invalid data found when processing input.
static inline int fp_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
/// AVERROR_DECODER_NOT_FOUND.
static inline int fp_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
/// AVERROR_STREAM_NOT_FOUND.
static inline int fp_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
/// AV_NOPTS_VALUE: "no timestamp".
static inline int64_t fp_nopts_value(void) { return AV_NOPTS_VALUE; }
/// AV_TIME_BASE_Q: the microsecond time base used by AVFormatContext.duration.
static inline AVRational fp_time_base_q(void) { AVRational q = { 1, AV_TIME_BASE }; return q; }

/// Writes FFmpeg's message for `errnum` into `buf` (what av_err2str does, without the compound literal).
static inline void fp_strerror(int errnum, char *buf, size_t size) {
    if (av_strerror(errnum, buf, size) < 0) {
        snprintf(buf, size, "unknown FFmpeg error %d", errnum);
    }
}

/// Rotation in degrees (counter-clockwise, as ffprobe reports it) from a stream's display
/// matrix side data, or 0 when there is none.
static inline double fp_stream_rotation(const AVStream *st) {
    size_t size = 0;
    const uint8_t *m = NULL;
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100)
    /* FFmpeg 6.1+: stream side data moved to codecpar (av_stream_get_side_data is gone in 7). */
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                         st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (sd) { m = sd->data; size = sd->size; }
#else
    m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
#endif
    if (!m || size < 9 * sizeof(int32_t)) return 0.0;
    double r = av_display_rotation_get((const int32_t *)m);
    if (r != r) return 0.0; /* NaN */
    return r;
}

/// Whether a decoded frame is a key frame (AVFrame.key_frame before FFmpeg 6.1, a flag after).
static inline int fp_frame_is_key(const AVFrame *f) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 29, 100)
    return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return f->key_frame != 0;
#endif
}

/// Plane i of a frame's data / linesize arrays (they import into Swift as 8-tuples).
static inline uint8_t *fp_frame_data(const AVFrame *f, int i) { return f->data[i]; }
static inline int fp_frame_linesize(const AVFrame *f, int i) { return f->linesize[i]; }

#endif
