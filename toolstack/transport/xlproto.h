/* SPDX-License-Identifier: MIT */
/*
 * xl's migration protocol (tools/xl/xl_migrate.c, xl.h), byte for byte:
 *
 *   receiver -> banner (54 bytes, no NUL)
 *   sender   -> save-file header (48 bytes) + optional data
 *               (uint32 config_len, JSON config with its NUL)
 *   sender   -> libxl v2 stream (the libxc v3 stream inside)
 *   receiver -> "ready" (34 bytes with NUL)
 *   sender   -> GO (44 bytes with NUL), on the domain stream
 *   receiver -> report (39 bytes with NUL) + 1 status byte (0 = running)
 *   [status != 0: receiver destroys its copy, then -> GO back]
 *
 * All integers of the save-file header are little-endian (x86 "domain
 * byte order"); they are encoded explicitly here, never as a C struct.
 *
 * Negotiation, invisible to stock xl: an xlmig sender sets
 * XLPROTO_OPTFLAG_XLMIG in the header's optional_flags (stock xl reads
 * optional_flags and never checks them; it checks only mandatory_flags).
 * An xlmig receiver that sees the bit answers at once on the back channel
 * with a capability message whose first byte ('X') can never start a
 * stock message.  The sender never waits for it: it polls the back channel
 * and keeps any other bytes for the later "ready" read.
 */
#ifndef XLMIG_TRANSPORT_XLPROTO_H
#define XLMIG_TRANSPORT_XLPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "transport/channel.h"

extern const char xlproto_banner[];  /* sent without its NUL: 54 bytes */
extern const char xlproto_ready[];   /* 34 bytes with NUL */
extern const char xlproto_go[];      /* 44 bytes with NUL */
extern const char xlproto_report[];  /* 39 bytes with NUL */
extern const char xlproto_magic[32]; /* savefileheader_magic */

#define XLPROTO_BANNER_BYTES 54
#define XLPROTO_READY_BYTES  34
#define XLPROTO_GO_BYTES     44
#define XLPROTO_REPORT_BYTES 39
#define XLPROTO_HEADER_BYTES 48

#define XLPROTO_BYTEORDER         0x01020304u
#define XLPROTO_MANDATORY_JSON    (1u << 0)
#define XLPROTO_MANDATORY_STREAM2 (1u << 1)
#define XLPROTO_MANDATORY_ALL \
    (XLPROTO_MANDATORY_JSON | XLPROTO_MANDATORY_STREAM2)
/* Our optional flag: "sender is xlmig and would accept capabilities". */
#define XLPROTO_OPTFLAG_XLMIG   (1u << 24)
/* The sender would forward the guest's traffic (net-forward, issue 12);
 * the receiver answers with a capability extension (nfwd_migrate.h). */
#define XLPROTO_OPTFLAG_NFWD    (1u << 26)
/* Exactly-once (docs/design.md): the optional data carries, after the
 * config, the migration's identity (XLPROTO_ONCE_BYTES: "XLMIGID1", uuid
 * text, epoch LE64); stock xl reads only config_len + config and ignores
 * the rest.  Sent only with XLPROTO_OPTFLAG_XLMIG. */
#define XLPROTO_OPTFLAG_ONCE    (1u << 25)
#define XLPROTO_ONCE_UUID_CHARS 36
#define XLPROTO_ONCE_BYTES      (8 + XLPROTO_ONCE_UUID_CHARS + 8)
#define XLPROTO_ID_MAGIC        "XLMIGID1" /* header trailer */
#define XLPROTO_GOEXT_MAGIC     "XLMIGGO1" /* follows GO when CAP_ONCE */
/* A query instead of a header (a new connection of an in-doubt source):
 * "XLMIGQRY", uuid, epoch LE64, 12 zero bytes; answered on the back
 * channel by "XLMIGANS" + one byte (enum journal_answer). */
#define XLPROTO_QUERY_MAGIC     "XLMIGQRY"
#define XLPROTO_QUERY_BYTES     64
#define XLPROTO_ANSWER_MAGIC    "XLMIGANS"
#define XLPROTO_ANSWER_BYTES    9

/* Peer-supplied optional data is capped before allocation. */
#define XLPROTO_OPTDATA_MAX_BYTES (16u << 20)

/* Capability message (receiver -> sender, back channel). */
#define XLPROTO_CAPS_MAGIC       "XLMIGCAP"
#define XLPROTO_CAPS_VERSION     1
#define XLPROTO_CAPS_HDR_BYTES   12 /* magic 8, u16 version, u16 length */
#define XLPROTO_CAPS_MAX_PAYLOAD 64
#define XLPROTO_CAP_CODEC_V1     (1u << 0) /* can decode the codec wire */
/* bytes after the capability word (an extension older peers skip) */
#define XLPROTO_CAPS_EXT_MAX     (XLPROTO_CAPS_MAX_PAYLOAD - 4)
/* sends its blackout phases after the report (engine/cost.h) */
#define XLPROTO_CAP_PHASES       (1u << 2)
#define XLPROTO_CAP_ONCE_V1      (1u << 1) /* journals; wants the GO ext */

struct xlproto_header {
    uint32_t mandatory_flags;
    uint32_t optional_flags;
    uint32_t optional_data_len;
    uint8_t *config;     /* JSON incl. its NUL; owned, free() it */
    uint32_t config_len; /* bytes in config, NUL included */
    /* exactly-once identity (header trailer, or a query) */
    int has_once;
    int is_query; /* a query, not a migration: answer and stop */
    char once_uuid[XLPROTO_ONCE_UUID_CHARS + 1];
    uint64_t once_epoch;
};

/* Message context: "migration receiver stream" + rune, or "migration
 * stream" (as xl's migrate_read_fixedmessage). */
struct xlproto_ctx {
    struct channel *ch;
    const char *rune; /* sender with a rune: printed on mismatch */
    int is_sender;
    /* back-channel bytes read ahead while polling for capabilities */
    uint8_t ahead[256];
    size_t ahead_len;
    int back_eof;
    /* domain-stream bytes a decoder read past the end of the stream */
    uint8_t stream_ahead[4096];
    size_t stream_ahead_len;
    /* sender: the capability message's extension, once it arrived */
    uint8_t caps_ext[XLPROTO_CAPS_EXT_MAX];
    size_t caps_ext_len;
};

/* Receiver: keep bytes read past the stream's end for the GO read.
 * -EPROTO if more than fits (a sender sends nothing but GO there). */
int xlproto_stash_stream(struct xlproto_ctx *x, const uint8_t *buf, size_t len);

void xlproto_ctx_init(struct xlproto_ctx *x, struct channel *ch, int is_sender,
                      const char *rune);

/* Encode the 48-byte header; returns XLPROTO_HEADER_BYTES. */
size_t xlproto_header_encode(uint8_t out[XLPROTO_HEADER_BYTES],
                             uint32_t mandatory, uint32_t optional,
                             uint32_t optdata_len);

/*
 * Sender: write header + optional data (config_len incl. NUL).  Prints
 * xl's "Saving to migration stream new xl format (info ...)" line.
 */
int xlproto_send_header(struct xlproto_ctx *x, const char *config,
                        uint32_t config_len, uint32_t optional_flags,
                        int timeout_ms);

/* The same with an identity trailer (XLPROTO_ONCE_BYTES, or NULL). */
int xlproto_send_header_once(struct xlproto_ctx *x, const char *config,
                             uint32_t config_len, uint32_t optional_flags,
                             const uint8_t *trailer, int timeout_ms);

/* Identity record: magic (8 chars), uuid text, epoch.  Encode returns
 * XLPROTO_ONCE_BYTES (0 on a malformed uuid); decode 0 or -EPROTO. */
size_t xlproto_once_encode(uint8_t out[XLPROTO_ONCE_BYTES], const char *magic,
                           const char *uuid, uint64_t epoch);
int xlproto_once_decode(const uint8_t in[XLPROTO_ONCE_BYTES], const char *magic,
                        char uuid_r[XLPROTO_ONCE_UUID_CHARS + 1],
                        uint64_t *epoch_r);
/* Query (sender of a new connection): after the banner, send the query
 * and read the one-byte answer.  0 and *answer_r, or -errno. */
int xlproto_query(struct xlproto_ctx *x, const char *uuid, uint64_t epoch,
                  uint8_t *answer_r, int timeout_ms);

/*
 * Receiver: read and check the header (xl's messages on failure,
 * -EPROTO), cap and read the optional data, extract the config.
 */
int xlproto_recv_header(struct xlproto_ctx *x, struct xlproto_header *h,
                        int timeout_ms);
void xlproto_header_dispose(struct xlproto_header *h);

/*
 * Read a fixed message and compare (xl's migrate_read_fixedmessage):
 * 0, -EPROTO on different bytes, -EPIPE on end of stream, -ETIMEDOUT.
 * back: 1 = back channel (sender reads), 0 = domain stream (receiver).
 */
int xlproto_read_fixed(struct xlproto_ctx *x, int back, const void *msg,
                       size_t len, const char *what, int timeout_ms);
int xlproto_write_msg(struct xlproto_ctx *x, int back, const void *msg,
                      size_t len, const char *what, int timeout_ms);
/* Read len bytes (up to 128) after what was read ahead. */
int xlproto_read_bytes(struct xlproto_ctx *x, int back, uint8_t *buf,
                       size_t len, const char *what, int timeout_ms);
/* Read one byte (status after the report). */
int xlproto_read_byte(struct xlproto_ctx *x, int back, uint8_t *b,
                      const char *what, int timeout_ms);

/* Capability message. */
size_t xlproto_caps_encode(uint8_t *out, size_t out_len, uint32_t caps);
/* The same with ext_len (<= XLPROTO_CAPS_EXT_MAX) bytes after the word;
 * 0 if it does not fit. */
size_t xlproto_caps_encode_ext(uint8_t *out, size_t out_len, uint32_t caps,
                               const uint8_t *ext, size_t ext_len);
/*
 * Decode from buf: 1 and *caps_r, *used_r when complete; 0 when more
 * bytes are needed; -EPROTO when buf does not start with a capability
 * message (the caller then keeps the bytes for stock messages).
 */
int xlproto_caps_decode(const uint8_t *buf, size_t len, uint32_t *caps_r,
                        size_t *used_r);
/*
 * Sender: poll the back channel without blocking (timeout_ms 0) or up to
 * timeout_ms.  1 = capabilities arrived (*caps_r), 0 = not (yet), -errno.
 * Other bytes (or end of stream) are kept for xlproto_read_fixed.
 */
int xlproto_poll_caps(struct xlproto_ctx *x, int timeout_ms, uint32_t *caps_r);

#endif
