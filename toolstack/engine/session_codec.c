/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "engine/session_codec.h"
#include "transport/xlproto.h"

#define CODEC_WRITE_TIMEOUT_MS 120000

static int enc_out(void *opaque, const void *buf, size_t len)
{
    struct session_codec_enc *e = opaque;

    return channel_write_all(e->ch, 0, buf, len, CODEC_WRITE_TIMEOUT_MS);
}

static int enc_write(void *opaque, const uint8_t *buf, size_t len,
                     struct channel *ch)
{
    struct session_codec_enc *e = opaque;

    e->ch = ch;
    return codec_enc_feed(e->enc, buf, len, NULL);
}

static int enc_finish(void *opaque, struct channel *ch)
{
    struct session_codec_enc *e = opaque;

    e->ch = ch;
    return codec_enc_finish(e->enc);
}

static int enc_enable(void *opaque, uint32_t peer_caps)
{
    struct session_codec_enc *e = opaque;

    return codec_enc_enable_compression(e->enc);
}

static void enc_suspended(void *opaque)
{
    struct session_codec_enc *e = opaque;

    codec_enc_set_final(e->enc);
}

static void enc_abort(void *opaque, struct channel *ch, int rc)
{
    struct session_codec_enc *e = opaque;

    e->ch = ch;
    codec_enc_abort(e->enc, rc < 0 ? rc : -EIO);
}

int session_codec_enc_init(struct session_codec_enc *e,
                           const struct codec_params *p)
{
    struct codec_params cp;

    memset(e, 0, sizeof(*e));
    if (p)
        cp = *p;
    else
        codec_params_init(&cp);
    cp.start_raw = true;
    e->ops.write = enc_write;
    e->ops.finish = enc_finish;
    e->ops.enable = enc_enable;
    e->ops.abort = enc_abort;
    e->ops.suspended = enc_suspended;
    e->ops.needs_caps = XLPROTO_CAP_CODEC_V1;
    e->ops.opaque = e;
    return codec_enc_new(&cp, enc_out, e, &e->enc);
}

void session_codec_enc_dispose(struct session_codec_enc *e)
{
    codec_enc_free(e->enc);
    e->enc = NULL;
}

static int dec_out(void *opaque, const void *buf, size_t len)
{
    struct session_codec_dec *d = opaque;
    const uint8_t *p = buf;
    ssize_t n;

    while (len) {
        n = write(d->out_fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int dec_begin(void *opaque, int out_fd)
{
    struct session_codec_dec *d = opaque;

    d->out_fd = out_fd;
    return 0;
}

static int dec_feed(void *opaque, const uint8_t *buf, size_t len,
                    size_t *used_r)
{
    struct session_codec_dec *d = opaque;

    return codec_dec_feed(d->dec, buf, len, used_r);
}

static int dec_finish(void *opaque)
{
    struct session_codec_dec *d = opaque;

    return codec_dec_finish(d->dec);
}

static int dec_done(void *opaque)
{
    struct session_codec_dec *d = opaque;

    return codec_dec_done(d->dec);
}

int session_codec_dec_init(struct session_codec_dec *d)
{
    struct codec_dec_params p;

    memset(d, 0, sizeof(*d));
    d->out_fd = -1;
    codec_dec_params_init(&p);
    d->ops.begin = dec_begin;
    d->ops.feed = dec_feed;
    d->ops.finish = dec_finish;
    d->ops.done = dec_done;
    d->ops.caps = XLPROTO_CAP_CODEC_V1;
    d->ops.opaque = d;
    return codec_dec_new(&p, dec_out, d, &d->dec);
}

void session_codec_dec_dispose(struct session_codec_dec *d)
{
    codec_dec_free(d->dec);
    d->dec = NULL;
}
