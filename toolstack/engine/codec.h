/* SPDX-License-Identifier: MIT */
/*
 * codec: byte-exact adaptive compression of Xen's migration stream.
 *
 * The encoder is fed the stream exactly as libxl writes it (libxl v2 header
 * onwards, the libxc v3 stream inline after LIBXC_CONTEXT), or a whole xl
 * save file (magic, save-file header and JSON config are passed through
 * untouched), or a bare libxc v3 stream; in chunks of any size.  It writes
 * through a callback.  The decoder is fed what the encoder wrote (in chunks
 * of any size) and writes the byte-identical original stream.
 *
 * Raw start and switch (docs/stream-format.md): an encoder made with
 * start_raw writes the input unchanged (a stock receiver sees stock
 * bytes) until codec_enc_enable_compression(); at the next libxc record
 * boundary it then writes the switch record and continues in the xlmig wire
 * format until the wire END record, which carries the final status.  A
 * stream never switched is byte-identical to the input.  Without start_raw
 * the encoder switches at the first libxc record boundary.  The decoder
 * accepts both: raw input is passed through until a switch record.
 *
 * Per page of a PAGE_DATA record, in wire mode: all-zero -> a kind byte;
 * one repeated byte or 64-bit word -> the pattern; pfn held in the delta
 * cache -> XOR delta with zero-run encoding (XBZRLE-like) when that is
 * smaller than the expected compressed page; otherwise into the record's
 * batch, compressed as a whole with zlib, zstd or lz4, or stored raw when
 * incompressible or when the link outruns the compressor.
 *
 * Adaptive choice (CODEC_ADAPTIVE): per batch, the method (raw, lz4, zstd
 * level 1 or 3, zlib level 1 or 6) that minimises max(codec_time,
 * bytes_out / link_bps), from running estimates of each method's
 * throughput and ratio; other methods are re-probed on a 16-page sample
 * every 32 batches.  Raw is always a candidate, so the codec is never
 * modelled slower than raw.  link_bps is given (codec_params.link_bps,
 * codec_enc_set_link_bps()) or measured from the time the write callback
 * blocks, with the clock of codec_params (injectable for tests).  Where
 * the encoder is the bottleneck (its CPU time for a record exceeds the
 * link time) and the analysis saves under 10 %, whole PAGE_DATA records
 * go verbatim in PASS records (checksum and write only, no page analysis,
 * no cache update); the first 4 data records and one in 16 after that are
 * analysed to keep the estimates current.  Their pages count as pages_raw
 * in the encoder's stats.
 *
 * Delta cache: cache_bytes / 4096 slots (default 64 MiB), 4-way set
 * associative on a hash of the pfn; a page with data is inserted after it
 * is sent (an all-zero page drops its pfn); when the set is full, the least
 * recently sent entry of the set is evicted.  The decoder keeps the same
 * cache (its size travels in the switch record and is capped by
 * codec_dec_params.max_cache_bytes) and applies the same rule, so both
 * stay identical.
 *
 * Errors: functions return 0 or a negative errno.  Malformed or corrupt
 * input is -EPROTO with one LOG(ERROR) line naming the byte offset and the
 * record; a checksum mismatch is -EBADMSG.  After an error an object only
 * accepts _free() (and _stats()).
 */
#ifndef XLMIG_ENGINE_CODEC_H
#define XLMIG_ENGINE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes all len bytes or fails; returns 0 or a negative errno. */
typedef int codec_write_fn(void *opaque, const void *buf, size_t len);

/* Monotonic clock in ns; NULL in the params means CLOCK_MONOTONIC. */
struct codec_clock {
    uint64_t (*now_ns)(void *opaque);
    void *opaque;
};

enum codec_method {
    CODEC_ADAPTIVE = 0, /* online choice per batch (default) */
    CODEC_RAW = 1,      /* batches stored uncompressed */
    CODEC_ZLIB = 2,     /* level from codec_params.level (default 1) */
    CODEC_ZSTD = 3,     /* level from codec_params.level (default 1) */
    CODEC_LZ4 = 4,      /* LZ4 default (fast) mode */
};

/* codec_params.flags */
#define CODEC_F_NO_ZERO  (1u << 0) /* no zero/fill page detection */
#define CODEC_F_NO_DELTA (1u << 1) /* no delta cache */

#define CODEC_CACHE_BYTES_DEFAULT (64ull << 20)
#define CODEC_CACHE_BYTES_MAX     (1ull << 30)

struct codec_params {
    enum codec_method method;
    int level;            /* zlib 1..9, zstd 1..19; 0: 1 */
    unsigned flags;       /* CODEC_F_* */
    uint64_t cache_bytes; /* delta cache budget; default 64 MiB; max
                             * CODEC_CACHE_BYTES_MAX */
    uint64_t link_bps;    /* link throughput, bytes/s; 0: measure */
    bool start_raw;       /* pass through until enable_compression() */
    uint64_t max_pfn;     /* parser cap; 0: XS_MAX_PFN_DEFAULT */
    const struct codec_clock *clock; /* NULL: CLOCK_MONOTONIC; kept */
    /*
     * Adaptive only.  true (default): until codec_enc_set_final(), i.e.
     * in the live rounds, compress batches with zstd-3 (the fewest bytes
     * of the fast methods; stored if that saves < 3 %), the time model
     * only in the stop-and-copy round; false: the time model throughout.
     */
    bool live_ratio_first;
};

struct codec_dec_params {
    uint64_t max_cache_bytes; /* refuse a larger peer cache; default
                               * CODEC_CACHE_BYTES_MAX */
    uint64_t max_pfn;         /* parser cap; 0: XS_MAX_PFN_DEFAULT */
    const struct codec_clock *clock;
};

/*
 * Statistics; all counters are totals since _new().  "Pages" are pages
 * with data in PAGE_DATA records (4096 bytes each).
 */
struct codec_stats {
    uint64_t bytes_in;        /* bytes fed */
    uint64_t bytes_out;       /* bytes written through the callback */
    uint64_t records;         /* stream records (libxl + libxc) parsed */
    uint64_t pages;           /* pages seen in PAGE_DATA records */
    uint64_t pages_stock;     /* ... sent before the switch, as is */
    uint64_t pages_zero;      /* ... all-zero, elided */
    uint64_t pages_fill;      /* ... one repeated byte or 64-bit word */
    uint64_t pages_delta;     /* ... XOR delta against the cache */
    uint64_t pages_zlib;      /* ... in a zlib batch */
    uint64_t pages_zstd;      /* ... in a zstd batch */
    uint64_t pages_lz4;       /* ... in an lz4 batch */
    uint64_t pages_raw;       /* ... in a stored (raw) batch */
    uint64_t delta_bytes;     /* encoded delta bytes */
    uint64_t delta_overflows; /* cache hits whose delta did not pay */
    uint64_t cache_hits;      /* pfn found in the delta cache */
    uint64_t cache_misses;
    uint64_t cache_evictions;
    uint64_t batches;         /* wire page batches */
    uint64_t batch_bytes_in;  /* page bytes given to the compressor */
    uint64_t batch_bytes_out; /* compressed (or stored) batch bytes */
    uint64_t probes;          /* adaptive probes run */
    uint64_t codec_ns;        /* time spent encoding/decoding, without
                                * the time blocked in the write callback */
    uint64_t write_ns;        /* time blocked in the write callback */
    uint64_t link_bps;        /* link estimate in use (0: none yet) */
    bool switched;            /* wire format in use */
    int32_t final_status;     /* decoder: status of the wire END */
};

struct codec_enc;
struct codec_dec;

void codec_params_init(struct codec_params *p);
void codec_dec_params_init(struct codec_dec_params *p);

/* "adaptive", "raw", "zlib", "zstd", "lz4"; -EINVAL otherwise. */
int codec_method_parse(const char *s, enum codec_method *m_r);
const char *codec_method_name(enum codec_method m);

/* The encoder keeps write and opaque (not owned) until _free(). */
int codec_enc_new(const struct codec_params *p, codec_write_fn *write,
                  void *opaque, struct codec_enc **enc_r);
/*
 * Feed len bytes of the original stream.  *used_r (may be NULL) receives
 * the bytes consumed: less than len only once the stream has ended (the
 * rest belongs to whatever follows the stream, e.g. xl's GO message).
 * With used_r NULL, bytes after the end are -EPROTO.
 */
int codec_enc_feed(struct codec_enc *enc, const void *buf, size_t len,
                   size_t *used_r);
/* Switch to the wire format at the next libxc record boundary. */
int codec_enc_enable_compression(struct codec_enc *enc);
/*
 * The guest is suspended: what follows is the stop-and-copy round, where
 * time is blackout, so the adaptive encoder picks the method of least
 * modelled time from now on.  Safe to call from another thread.
 */
void codec_enc_set_final(struct codec_enc *enc);
/* Link throughput in bytes/s (0: measure again). */
void codec_enc_set_link_bps(struct codec_enc *enc, uint64_t link_bps);
/*
 * Input ended.  0 if the stream was complete (the wire END with status 0
 * was written when the stream's own end was reached), -EPROTO if truncated.
 */
int codec_enc_finish(struct codec_enc *enc);
/*
 * The sender gives up: when switched and not yet ended, write a wire END
 * with final status rc (a negative errno) so the receiver reports the
 * sender's failure rather than a truncated stream.
 */
int codec_enc_abort(struct codec_enc *enc, int rc);
bool codec_enc_done(const struct codec_enc *enc);
void codec_enc_stats(const struct codec_enc *enc, struct codec_stats *st);
void codec_enc_free(struct codec_enc *enc);

int codec_dec_new(const struct codec_dec_params *p, codec_write_fn *write,
                  void *opaque, struct codec_dec **dec_r);
/*
 * Feed encoded bytes (raw stock bytes, or raw then switch then wire).
 * *used_r as for codec_enc_feed(): input after the end of the stream (the
 * stock END, or the wire END) is left unconsumed.  A wire END with a
 * non-zero status returns that status (negative errno).
 */
int codec_dec_feed(struct codec_dec *dec, const void *buf, size_t len,
                   size_t *used_r);
/* Input ended: 0 if the stream was complete, -EPROTO if truncated. */
int codec_dec_finish(struct codec_dec *dec);
bool codec_dec_done(const struct codec_dec *dec);
void codec_dec_stats(const struct codec_dec *dec, struct codec_stats *st);
void codec_dec_free(struct codec_dec *dec);

/* Print st as one JSON object (no newline) into buf; returns snprintf's. */
int codec_stats_json(const struct codec_stats *st, char *buf, size_t len);

#endif
