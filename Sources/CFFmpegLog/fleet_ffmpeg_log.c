// FFmpeg log capture: see include/fleet_ffmpeg_log.h.
#include "fleet_ffmpeg_log.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct fp_log_sink {
    pthread_mutex_t lock;
    char line[512];
};

static _Thread_local char last_line[512];
static _Atomic int print_level = AV_LOG_QUIET;
static _Atomic(fp_av_log_callback) chained_callback = NULL;

fp_log_sink *fp_log_sink_new(void) {
    fp_log_sink *s = (fp_log_sink *)calloc(1, sizeof *s);
    if (s) pthread_mutex_init(&s->lock, NULL);
    return s;
}

void fp_log_sink_free(fp_log_sink *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void fp_log_sink_clear(fp_log_sink *s) {
    pthread_mutex_lock(&s->lock);
    s->line[0] = 0;
    pthread_mutex_unlock(&s->lock);
}

void fp_log_sink_copy(fp_log_sink *s, char *buf, size_t size) {
    if (size == 0) return;
    pthread_mutex_lock(&s->lock);
    strncpy(buf, s->line, size - 1);
    pthread_mutex_unlock(&s->lock);
    buf[size - 1] = 0;
}

/* The sink a logging context carries in `opaque`, or NULL: only codec and format contexts are
 * looked at (their AVClass identifies them; other classes' `opaque` may mean something else). */
static fp_log_sink *sink_of(void *avcl) {
    if (!avcl) return NULL;
    const AVClass *cls = *(const AVClass **)avcl;
    if (!cls) return NULL;
    if (cls == avcodec_get_class()) return (fp_log_sink *)((AVCodecContext *)avcl)->opaque;
    if (cls == avformat_get_class()) return (fp_log_sink *)((AVFormatContext *)avcl)->opaque;
    return NULL;
}

static void log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    fp_av_log_callback chained = atomic_load(&chained_callback);
    if (chained) {
        va_list copy;
        va_copy(copy, vl);
        chained(avcl, level, fmt, copy);
        va_end(copy);
    }
    if (level <= atomic_load(&print_level)) {
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
    fp_log_sink *sink = sink_of(avcl);
    if (sink) {
        pthread_mutex_lock(&sink->lock);
        memcpy(sink->line, line, n + 1);
        pthread_mutex_unlock(&sink->lock);
    } else {
        memcpy(last_line, line, n + 1);
    }
}

void fp_install_log_capture(int level) {
    atomic_store(&print_level, level);
    av_log_set_callback(log_callback);
}

void fp_set_chained_log_callback(fp_av_log_callback cb) { atomic_store(&chained_callback, cb); }

void fp_clear_last_log(void) { last_line[0] = 0; }

void fp_copy_last_log(char *buf, size_t size) {
    if (size == 0) return;
    strncpy(buf, last_line, size - 1);
    buf[size - 1] = 0;
}
