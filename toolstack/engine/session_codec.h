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

#include "engine/codec.h"
#include "engine/session.h"

struct session_codec_enc {
    struct codec_enc *enc;
    struct channel *ch;
    struct stream_encoder ops;
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
