/* SPDX-License-Identifier: MIT */
/*
 * One logger for every part of xlmig.  Messages go to stderr (or to a
 * callback, e.g. syslog in the daemon), lower case, failure first:
 *
 *     #define LOG_PREFIX "codec: "
 *     LOG(ERROR, "bad record at offset %llu", off);
 *     LOGE(ERROR, "cannot open '%s'", path);      appends strerror(errno)
 *
 * The level is checked before any argument is evaluated.
 */
#ifndef XLMIG_COMMON_LOG_H
#define XLMIG_COMMON_LOG_H

#include <errno.h>

enum log_level {
    LVL_ERROR = 0,
    LVL_WARN = 1,
    LVL_INFO = 2,
    LVL_DEBUG = 3,
};

/* Messages at or below this level are printed (default LVL_WARN). */
extern enum log_level log_threshold;

/*
 * Where messages go: NULL (the default) means stderr, one line each.
 * The callback receives the whole formatted line without a newline.
 */
typedef void log_sink_fn(enum log_level lvl, const char *line, void *opaque);
void log_set_sink(log_sink_fn *fn, void *opaque);

/* Prefix every stderr line with a timestamp and the pid (xl -T). */
void log_set_timestamps(int on);

void log_msg(enum log_level lvl, int errnoval, const char *prefix,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

#define LOG_IF_(lvl, e, fmt, ...)                                \
    do {                                                         \
        if ((lvl) <= log_threshold)                              \
            log_msg((lvl), (e), LOG_PREFIX, fmt, ##__VA_ARGS__); \
    } while (0)
#define LOG(l, fmt, ...)      LOG_IF_(LVL_##l, 0, fmt, ##__VA_ARGS__)
#define LOGE(l, fmt, ...)     LOG_IF_(LVL_##l, errno, fmt, ##__VA_ARGS__)
/* Log with an explicit errno value (e.g. a negative rc: pass -rc). */
#define LOGEV(l, e, fmt, ...) LOG_IF_(LVL_##l, (e), fmt, ##__VA_ARGS__)

#endif
