/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the decoder (raw passthrough, switch record, wire
 * records, every page kind and batch method) on arbitrary input, fed in
 * chunks whose size comes from the first byte.
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "engine/codec.h"

static int discard(void *opaque, const void *buf, size_t len)
{
    size_t *total = opaque;

    *total += len;
    return 0;
}

static void quiet(enum log_level lvl, const char *line, void *opaque)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct codec_dec_params dp;
    struct codec_dec *d;
    size_t chunk, off = 0, n, total = 0, used;
    int rc = 0;

    log_set_sink(quiet, NULL);
    if (size < 1)
        return 0;
    chunk = 1 + (size_t)data[0] * 61;
    data++;
    size--;
    codec_dec_params_init(&dp);
    dp.max_cache_bytes = 256 * 4096;
    if (codec_dec_new(&dp, discard, &total, &d))
        abort();
    while (!rc && off < size && !codec_dec_done(d)) {
        n = size - off < chunk ? size - off : chunk;
        rc = codec_dec_feed(d, data + off, n, &used);
        if (!rc && used > n)
            abort();
        off += n;
    }
    if (!rc)
        (void)codec_dec_finish(d);
    codec_dec_free(d);
    return 0;
}
