// CFFmpeg shim: the FFmpeg 5.1 headers FleetMedia needs, plus static inline wrappers for the
// function-like macros and compound literals that Swift cannot import
// (AVERROR(e), AVERROR_EOF, AV_NOPTS_VALUE, AV_TIME_BASE_Q, av_err2str).
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
    const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (!m || size < 9 * sizeof(int32_t)) return 0.0;
    double r = av_display_rotation_get((const int32_t *)m);
    if (r != r) return 0.0; /* NaN */
    return r;
}

/// Plane i of a frame's data / linesize arrays (they import into Swift as 8-tuples).
static inline uint8_t *fp_frame_data(const AVFrame *f, int i) { return f->data[i]; }
static inline int fp_frame_linesize(const AVFrame *f, int i) { return f->linesize[i]; }


/* ---- Capturing FFmpeg's own log messages -------------------------------------------------
 * Return codes carry only a generic text ("Invalid data found when processing input"); the
 * specific reason ("moov atom not found") goes to av_log. fp_install_log_capture() replaces the
 * default stderr logger with one that keeps the last error-level line, so that errors can carry
 * FFmpeg's own words without FFmpeg printing over the CLI's output:
 *  - per decoder: a message logged for an AVCodecContext or AVFormatContext whose `opaque` is an
 *    fp_log_sink goes to that sink, whatever thread logs it (frame threads log on their own
 *    threads; FFmpeg copies `opaque` into each thread's context);
 *  - otherwise per thread (opening a file logs on the calling thread).
 * FFmpeg has no getter for the callback it had, so a host with its own callback hands it over
 * with fp_set_chained_log_callback: every message is forwarded to it as well.
 * av_log is variadic (unavailable in Swift), hence this C callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <pthread.h>

/// One decoder's last error line, written by whichever thread FFmpeg logs on.
typedef struct fp_log_sink {
    pthread_mutex_t lock;
    char line[512];
} fp_log_sink;

static inline fp_log_sink *fp_log_sink_new(void) {
    fp_log_sink *s = (fp_log_sink *)calloc(1, sizeof *s);
    if (s) pthread_mutex_init(&s->lock, NULL);
    return s;
}
static inline void fp_log_sink_free(fp_log_sink *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}
static inline void fp_log_sink_clear(fp_log_sink *s) {
    pthread_mutex_lock(&s->lock); s->line[0] = 0; pthread_mutex_unlock(&s->lock);
}
/// Copies the sink's last line into buf ("" when none).
static inline void fp_log_sink_copy(fp_log_sink *s, char *buf, size_t size) {
    if (size == 0) return;
    pthread_mutex_lock(&s->lock);
    strncpy(buf, s->line, size - 1);
    pthread_mutex_unlock(&s->lock);
    buf[size - 1] = 0;
}
/// The sink a logging context carries in `opaque`, or NULL: only codec and format contexts are
/// looked at (their AVClass identifies them; other classes' `opaque` may mean something else).
static inline fp_log_sink *fp_log_sink_of(void *avcl) {
    if (!avcl) return NULL;
    const AVClass *cls = *(const AVClass **)avcl;
    if (!cls) return NULL;
    if (cls == avcodec_get_class()) return (fp_log_sink *)((AVCodecContext *)avcl)->opaque;
    if (cls == avformat_get_class()) return (fp_log_sink *)((AVFormatContext *)avcl)->opaque;
    return NULL;
}

typedef void (*fp_av_log_callback)(void *, int, const char *, va_list);

/* Function-local statics: Swift's importer emits these inline functions (and their statics)
 * into the object of each Swift file that calls them, so FleetMedia calls the functions below
 * that touch them (fp_install_log_capture, fp_set_chained_log_callback, fp_clear_last_log,
 * fp_copy_last_log) from FFmpegSupport.swift alone. */
static inline char *fp_last_log_line(void) { static _Thread_local char line[512]; return line; }
static inline int *fp_log_print_level(void) { static int level = AV_LOG_QUIET; return &level; }
static inline fp_av_log_callback *fp_chained_log_callback(void) { static fp_av_log_callback cb = NULL; return &cb; }

static void fp_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    fp_av_log_callback chained = *fp_chained_log_callback();
    if (chained) {
        va_list copy;
        va_copy(copy, vl);
        chained(avcl, level, fmt, copy);
        va_end(copy);
    }
    if (level <= *fp_log_print_level()) {
        va_list copy;
        va_copy(copy, vl);
        av_log_default_callback(avcl, level, fmt, copy);
        va_end(copy);
    }
    if (level > AV_LOG_ERROR) return;
    char line[512];
    int print_prefix = 0; /* no "[class @ 0xADDRESS]" prefix: messages stay reproducible */
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n == 0) return;
    fp_log_sink *sink = fp_log_sink_of(avcl);
    if (sink) {
        pthread_mutex_lock(&sink->lock);
        memcpy(sink->line, line, n + 1);
        pthread_mutex_unlock(&sink->lock);
    } else {
        memcpy(fp_last_log_line(), line, n + 1);
    }
}

/// Installs the capturing logger. Messages at or below `print_level` still go to stderr
/// (AV_LOG_QUIET prints none).
static inline void fp_install_log_capture(int print_level) {
    *fp_log_print_level() = print_level;
    av_log_set_callback(fp_log_callback);
}
/// A host's own callback, called with every message before the capture looks at it (NULL: none).
static inline void fp_set_chained_log_callback(fp_av_log_callback cb) { *fp_chained_log_callback() = cb; }
/// Clears the calling thread's last captured line.
static inline void fp_clear_last_log(void) { fp_last_log_line()[0] = 0; }
/// Copies the calling thread's last captured error line into buf ("" when none).
static inline void fp_copy_last_log(char *buf, size_t size) {
    if (size == 0) return;
    strncpy(buf, fp_last_log_line(), size - 1);
    buf[size - 1] = 0;
}

#endif
