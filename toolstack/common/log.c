/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

enum log_level log_threshold = LVL_WARN;

static log_sink_fn *sink_fn;
static void *sink_opaque;
static int timestamps;

void log_set_sink(log_sink_fn *fn, void *opaque)
{
    sink_fn = fn;
    sink_opaque = opaque;
}

void log_set_timestamps(int on)
{
    timestamps = on;
}

void log_msg(enum log_level lvl, int errnoval, const char *prefix,
             const char *fmt, ...)
{
    char line[1024];
    size_t n;
    va_list ap;

    n = (size_t)snprintf(line, sizeof(line), "%s", prefix);
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = strlen(line);
    if (errnoval > 0 && n < sizeof(line))
        snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnoval));

    if (sink_fn) {
        sink_fn(lvl, line, sink_opaque);
        return;
    }
    if (timestamps) {
        struct timespec ts;
        struct tm tm;
        char when[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ld [%d] %s\n", when, ts.tv_nsec / 1000000,
                (int)getpid(), line);
    } else {
        fprintf(stderr, "%s\n", line);
    }
}
