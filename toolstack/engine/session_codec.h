/* SPDX-License-Identifier: MIT */
/*
 * The stream codec (engine/codec.h) behind the session's encoder and
 * decoder interfaces.  The encoder starts raw (a stock receiver sees the
 * stock bytes) and switches to the xlmig wire format when the receiver
 * announced XLPROTO_CAP_CODEC_V1; the decoder passes raw input through
 * until the switch record and stops at the stream's end.
 */
#ifndef XLMIG_ENGINE_SESSION_CODEC_H
#define XLMIG_ENGINE_SESSION_CODEC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/codec.h"
#include "engine/session.h"

/*
 * The encoder's output goes through a bounded queue to a writer thread,
 * so that compressing a batch overlaps sending the previous ones (one
 * thread did both in turn: on a 16 Mbit/s lab link a full pass took
 * codec time + write time, 14 + 22 s, instead of the larger of the two).
 * The codec still sees the link through the time its writes block (the
 * queue is full while the link is the bottleneck).
 */
#define SESSION_CODEC_QUEUE_BYTES (8u << 20)

struct session_codec_enc {
    struct codec_enc *enc;
    struct channel *ch;
    struct stream_encoder ops;
    /* the writer thread and its queue (a ring of QUEUE_BYTES) */
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop, wrc; /* wrc: the writer's first error */
    uint8_t *q;
    size_t head, len; /* ring: oldest byte, bytes held */
    size_t busy;      /* bytes the writer is sending right now */
};

struct session_codec_dec {
    struct codec_dec *dec;
    int out_fd;
    struct stream_decoder ops;
};

/* p: codec parameters (start_raw is forced on); NULL for the defaults. */
int session_codec_enc_init(struct session_codec_enc *e,
                           const struct codec_params *p);
void session_codec_enc_dispose(struct session_codec_enc *e);
int session_codec_dec_init(struct session_codec_dec *d);
void session_codec_dec_dispose(struct session_codec_dec *d);

#endif
