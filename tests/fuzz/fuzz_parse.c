/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the stream parser, and the codec as a differential
 * oracle.  The input is fed to the encoder in chunks whose size comes from
 * the first byte; whenever the encoder accepts it, its output must decode
 * back to exactly the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "engine/codec.h"
#include "engine/xstream.h"

struct sink {
    uint8_t *data;
    size_t len, cap;
};

static int sink_write(void *opaque, const void *buf, size_t len)
{
    struct sink *s = opaque;

    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;

        while (cap < s->len + len)
            cap *= 2;
        s->data = realloc(s->data, cap);
        if (!s->data)
            abort();
        s->cap = cap;
    }
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    return 0;
}

static void quiet(enum log_level lvl, const char *line, void *opaque)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct codec_params p;
    struct codec_dec_params dp;
    struct codec_enc *e = NULL;
    struct codec_dec *d = NULL;
    struct sink enc = { 0 }, dec = { 0 };
    size_t chunk, off = 0, n;
    int rc = 0;

    log_set_sink(quiet, NULL);
    if (size < 1)
        return 0;
    chunk = 1 + (size_t)data[0] * 37;
    codec_params_init(&p);
    p.method = (enum codec_method)(data[0] % 5);
    p.start_raw = data[0] & 0x80;
    p.cache_bytes = 64 * 4096;
    data++;
    size--;
    if (codec_enc_new(&p, sink_write, &enc, &e))
        abort();
    while (!rc && off < size) {
        n = size - off < chunk ? size - off : chunk;
        rc = codec_enc_feed(e, data + off, n, NULL);
        if (!rc && off == 0 && p.start_raw)
            rc = codec_enc_enable_compression(e);
        off += n;
    }
    if (!rc)
        rc = codec_enc_finish(e);
    codec_enc_free(e);
    if (rc)
        goto out;

    codec_dec_params_init(&dp);
    dp.max_cache_bytes = 64 * 4096;
    if (codec_dec_new(&dp, sink_write, &dec, &d))
        abort();
    rc = codec_dec_feed(d, enc.data, enc.len, NULL);
    if (!rc)
        rc = codec_dec_finish(d);
    codec_dec_free(d);
    if (rc || dec.len != size || memcmp(dec.data, data, size))
        abort(); /* the round trip must be exact */
out:
    free(enc.data);
    free(dec.data);
    return 0;
}
