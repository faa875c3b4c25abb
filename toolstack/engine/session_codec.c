/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/session_codec.h"
#include "transport/xlproto.h"

#define CODEC_WRITE_TIMEOUT_MS 120000

#define WRITER_CHUNK_BYTES (256u << 10)

static void *writer_main(void *arg)
{
    struct session_codec_enc *e = arg;
    size_t n;
    int rc;

    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->len && !e->stop)
            pthread_cond_wait(&e->cv, &e->mu);
        if (!e->len)
            break;                               /* stopped and drained */
        n = SESSION_CODEC_QUEUE_BYTES - e->head; /* contiguous part */
        if (n > e->len)
            n = e->len;
        if (n > WRITER_CHUNK_BYTES)
            n = WRITER_CHUNK_BYTES;
        e->busy = n;
        rc = e->wrc; /* after an error the rest is dropped */
        pthread_mutex_unlock(&e->mu);
        if (!rc)
            rc = channel_write_all(e->ch, 0, e->q + e->head, n,
                                   CODEC_WRITE_TIMEOUT_MS);
        pthread_mutex_lock(&e->mu);
        if (rc && !e->wrc)
            e->wrc = rc; /* the producer is told at its next write */
        e->head = (e->head + n) % SESSION_CODEC_QUEUE_BYTES;
        e->len -= n;
        e->busy = 0;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static int writer_start(struct session_codec_enc *e)
{
    int rc;

    e->q = malloc(SESSION_CODEC_QUEUE_BYTES);
    if (!e->q)
        return -ENOMEM;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    rc = pthread_create(&e->writer, NULL, writer_main, e);
    if (rc) {
        pthread_cond_destroy(&e->cv);
        pthread_mutex_destroy(&e->mu);
        free(e->q);
        e->q = NULL;
        return -rc;
    }
    e->started = 1;
    return 0;
}

/* Wait until everything queued is on the channel; the writer's error. */
static int writer_drain(struct session_codec_enc *e)
{
    int rc;

    if (!e->started)
        return 0;
    pthread_mutex_lock(&e->mu);
    while (e->len && !e->wrc)
        pthread_cond_wait(&e->cv, &e->mu);
    rc = e->wrc;
    pthread_mutex_unlock(&e->mu);
    return rc;
}

static void writer_stop(struct session_codec_enc *e)
{
    if (!e->started)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->writer, NULL);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e->q);
    e->q = NULL;
    e->started = 0;
}

/* The codec's output: into the queue, blocking while it is full. */
static int enc_out(void *opaque, const void *buf, size_t len)
{
    struct session_codec_enc *e = opaque;
    const uint8_t *p = buf;
    size_t tail, n;
    int rc;

    if (!e->started && (rc = writer_start(e)))
        return channel_write_all(e->ch, 0, buf, len, CODEC_WRITE_TIMEOUT_MS);
    pthread_mutex_lock(&e->mu);
    while (len && !e->wrc) {
        while (e->len == SESSION_CODEC_QUEUE_BYTES && !e->wrc)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->wrc)
            break;
        tail = (e->head + e->len) % SESSION_CODEC_QUEUE_BYTES;
        n = SESSION_CODEC_QUEUE_BYTES - e->len; /* free */
        if (n > SESSION_CODEC_QUEUE_BYTES - tail)
            n = SESSION_CODEC_QUEUE_BYTES - tail; /* contiguous */
        if (n > len)
            n = len;
        memcpy(e->q + tail, p, n);
        e->len += n;
        p += n;
        len -= n;
        pthread_cond_broadcast(&e->cv);
    }
    rc = e->wrc;
    pthread_mutex_unlock(&e->mu);
    return rc;
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
    int rc, wrc;

    e->ch = ch;
    rc = codec_enc_finish(e->enc);
    /* the session reads "ready" next: every byte must be out */
    wrc = writer_drain(e);
    return rc ? rc : wrc;
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
    (void)writer_drain(e);
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
    writer_stop(e);
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
