// FFmpeg log capture (CFFmpegLog): FFmpeg's av_log callback, compiled once in
// fleet_ffmpeg_log.c, so that its state (the installed flag, the print level, the chained host
// callback, each thread's last line) exists once per process.
//
// Return codes carry only a generic text ("Invalid data found when processing input"); the
// specific reason ("moov atom not found") goes to av_log. fp_install_log_capture() replaces the
// default stderr logger with one that keeps the last error-level line:
//  - per decoder: a message logged for an AVCodecContext or AVFormatContext whose `opaque` is an
//    fp_log_sink goes to that sink, whatever thread logs it (FFmpeg copies `opaque` into each
//    frame thread's context);
//  - otherwise per thread (opening a file logs on the calling thread).
// FFmpeg has no getter for the callback it had, so a host with its own callback hands it over
// with fp_set_chained_log_callback: every message is forwarded to it as well.
#ifndef FLEET_FFMPEG_LOG_H
#define FLEET_FFMPEG_LOG_H

#include <stdarg.h>
#include <stddef.h>

/// One decoder's last error line, written by whichever thread FFmpeg logs on.
typedef struct fp_log_sink fp_log_sink;

/// The type av_log_set_callback takes.
typedef void (*fp_av_log_callback)(void *, int, const char *, va_list);

fp_log_sink *fp_log_sink_new(void);
void fp_log_sink_free(fp_log_sink *s);
void fp_log_sink_clear(fp_log_sink *s);
/// Copies the sink's last line into buf ("" when none).
void fp_log_sink_copy(fp_log_sink *s, char *buf, size_t size);

/// Installs the capturing logger. Messages at or below `print_level` still go to stderr
/// (AV_LOG_QUIET prints none).
void fp_install_log_capture(int print_level);
/// A host's own callback, called with every message before the capture looks at it (NULL: none).
void fp_set_chained_log_callback(fp_av_log_callback cb);
/// Clears the calling thread's last captured line.
void fp_clear_last_log(void);
/// Copies the calling thread's last captured error line into buf ("" when none).
void fp_copy_last_log(char *buf, size_t size);

#endif
