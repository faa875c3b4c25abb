/* SPDX-License-Identifier: MIT */
/*
 * The codec: encoder and decoder of the xlmig wire format around Xen's
 * migration stream.  See codec.h for the behaviour and
 * docs/stream-format.md for the wire format.
 */
#include <errno.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define LOG_PREFIX "codec: "
#include "common/log.h"
#include "engine/codec.h"
#include "engine/page_codec.h"
#include "engine/wire.h"
#include "engine/xstream.h"

#define BATCH_MAX_BYTES (XS_PAGE_DATA_COUNT_MAX * XS_PAGE_SIZE)
#define PAGES_BODY_MAX                                                    \
    (WIRE_PAGES_FIXED + 8u * XS_PAGE_DATA_COUNT_MAX +                     \
     XS_PAGE_DATA_COUNT_MAX * (1u + 2u + XS_PAGE_SIZE) + WIRE_BATCH_HDR + \
     BATCH_MAX_BYTES)
#define PROBE_PAGES      16u
#define PROBE_EVERY      32u
#define EWMA_ALPHA       0.3
#define LINK_WINDOW      (4u << 20)
#define LINK_DEFAULT_BPS 125000000ull /* 1 Gbit/s until measured */
#define LIVE_MIN_RATIO   0.97 /* live rounds: compress if it saves 3 % */
/* live rounds: zstd-3 unless it is modelled this much slower than the
 * fastest candidate (the encoder is then the bottleneck) */
#define LIVE_TIME_SLACK  1.25

/* Adaptive candidates: batch method and level, running estimates. */
struct cand {
    unsigned method; /* WIRE_M_* */
    int level;
    double ns_per_byte;     /* compression time per input byte (measured) */
    double ratio;           /* output / input (measured) */
    double dec_ns_per_byte; /* the peer's decompression time (a prior) */
};

/* Priors, replaced by measurements as batches and probes run. */
static const struct cand cand_init[] = {
    { WIRE_M_STORED, 0, 0.0, 1.0, 0.05 }, { WIRE_M_LZ4, 1, 1.2, 0.45, 0.3 },
    { WIRE_M_ZSTD, 1, 2.5, 0.32, 0.8 },   { WIRE_M_ZSTD, 3, 4.0, 0.30, 0.8 },
    { WIRE_M_ZLIB, 1, 12.0, 0.32, 2.5 },  { WIRE_M_ZLIB, 6, 30.0, 0.30, 2.5 },
};
#define NCAND (sizeof(cand_init) / sizeof(cand_init[0]))

static uint64_t clock_now(const struct codec_clock *c)
{
    struct timespec ts;

    if (c)
        return c->now_ns(c->opaque);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Codec work is timed in CPU time of the calling thread (contention on a
 * shared host does not make a compressor look slow), the link in wall
 * time; an injected clock serves both.
 */
static uint64_t cpu_now(const struct codec_clock *c)
{
    struct timespec ts;

    if (c)
        return c->now_ns(c->opaque);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void codec_params_init(struct codec_params *p)
{
    memset(p, 0, sizeof(*p));
    p->method = CODEC_ADAPTIVE;
    p->cache_bytes = CODEC_CACHE_BYTES_DEFAULT;
    p->live_ratio_first = true;
}

void codec_dec_params_init(struct codec_dec_params *p)
{
    memset(p, 0, sizeof(*p));
    p->max_cache_bytes = CODEC_CACHE_BYTES_MAX;
}

static const char *const method_names[] = { "adaptive", "raw", "zlib", "zstd",
                                            "lz4" };

int codec_method_parse(const char *s, enum codec_method *m_r)
{
    unsigned i;

    for (i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
        if (!strcmp(s, method_names[i])) {
            *m_r = (enum codec_method)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *codec_method_name(enum codec_method m)
{
    if ((unsigned)m < sizeof(method_names) / sizeof(method_names[0]))
        return method_names[m];
    return "?";
}

/* Compress n bytes into dst (cap bytes); *out_r = 0 when it does not fit. */
static int compress_batch(ZSTD_CCtx *zc, unsigned method, int level,
                          const uint8_t *src, size_t n, uint8_t *dst,
                          size_t cap, size_t *out_r)
{
    size_t r;
    uLongf zl;
    int zr;

    *out_r = 0;
    switch (method) {
    case WIRE_M_LZ4:
        zr = LZ4_compress_default((const char *)src, (char *)dst, (int)n,
                                  (int)cap);
        *out_r = zr > 0 ? (size_t)zr : 0;
        return 0;
    case WIRE_M_ZSTD:
        r = ZSTD_compressCCtx(zc, dst, cap, src, n, level);
        if (ZSTD_isError(r)) {
            if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
                return 0;
            LOG(ERROR, "zstd compression failed: %s", ZSTD_getErrorName(r));
            return -EIO;
        }
        *out_r = r;
        return 0;
    case WIRE_M_ZLIB:
        zl = cap;
        zr = compress2(dst, &zl, src, n, level);
        if (zr == Z_BUF_ERROR)
            return 0;
        if (zr != Z_OK) {
            LOG(ERROR, "zlib compression failed: %d", zr);
            return zr == Z_MEM_ERROR ? -ENOMEM : -EIO;
        }
        *out_r = zl;
        return 0;
    default:
        return -EINVAL;
    }
}

/* ------------------------------------------------------------ encoder */

struct codec_enc {
    struct codec_params p;
    codec_write_fn *write;
    void *opaque;
    struct xs_parser *ps;
    struct pc_cache *cache;
    ZSTD_CCtx *zc;

    bool want_switch, switched, ended, failed;
    int final; /* stop-and-copy round begun (atomic: set by another thread) */
    /* buffers grow as needed, up to the caps of the format */
    uint8_t *pass; /* a PASS record: <= WIRE_HDR_BYTES + WIRE_PASS_MAX */
    size_t pass_len, pass_cap;
    uint8_t *out; /* a PAGES record: <= WIRE_HDR_BYTES + PAGES_BODY_MAX */
    size_t out_cap;
    uint8_t *gather; /* batch pages: <= BATCH_MAX_BYTES */
    size_t gather_cap;
    uint8_t *probe; /* compressed probe output */
    size_t probe_cap;

    struct cand cand[NCAND];
    unsigned probe_next;
    size_t delta_cap;       /* bytes; from the last batch's ratio */
    double ovh_ns_per_page; /* encoder work per page besides compression */
    uint64_t link_bps_set;
    double link_bps_est;
    uint64_t win_start_ns, win_block_ns, win_bytes;
    uint64_t orig_pages; /* pages carried in wire mode */
    /*
     * Adaptive pass-through of whole PAGE_DATA records (stored in PASS,
     * no page analysis, no cache update): running estimates of the
     * analysed path (CPU ns and output bytes per input byte) and of the
     * pass-through (CPU ns per byte: checksum), and the records passed
     * since the last analysed one.
     */
    double an_ns_per_byte, an_ratio, pass_ns_per_byte;
    unsigned passed_run, an_records;

    struct codec_stats st;
};

static int enc_write(struct codec_enc *e, const void *buf, size_t len)
{
    uint64_t t0 = clock_now(e->p.clock), t1, wall;
    double est;
    int rc;

    rc = e->write(e->opaque, buf, len);
    t1 = clock_now(e->p.clock);
    if (rc)
        return rc;
    e->st.write_ns += t1 - t0;
    e->st.bytes_out += len;
    if (!e->win_start_ns)
        e->win_start_ns = t0 ? t0 : 1;
    e->win_bytes += len;
    e->win_block_ns += t1 - t0;
    wall = t1 - e->win_start_ns;
    if (e->win_bytes >= LINK_WINDOW && wall > 0) {
        /*
         * Blocked for a tenth of the window or more: the link is the
         * bottleneck and bytes / blocked time is its throughput.  Else
         * the link is at least as fast as what we saw, and faster.
         */
        if (e->win_block_ns && e->win_block_ns * 10 >= wall)
            est = (double)e->win_bytes * 1e9 / (double)e->win_block_ns;
        else
            est = (double)e->win_bytes * 1e9 / (double)wall * 2.0;
        if (e->link_bps_est > 0 && est > e->link_bps_est * 2 &&
            !(e->win_block_ns * 10 >= wall))
            est = e->link_bps_est * 2;
        e->link_bps_est =
            e->link_bps_est > 0 ? 0.5 * e->link_bps_est + 0.5 * est : est;
        e->win_bytes = 0;
        e->win_block_ns = 0;
        e->win_start_ns = t1;
    }
    return 0;
}

/* Write one wire record whose body is at rec + WIRE_HDR_BYTES. */
static int enc_wire_record(struct codec_enc *e, uint8_t *rec, uint32_t type,
                           size_t body_len)
{
    uint32_t crc;

    wire_put32(rec, type);
    wire_put32(rec + 4, (uint32_t)body_len);
    crc = wire_crc32c(0, rec, 8);
    crc = wire_crc32c(crc, rec + WIRE_HDR_BYTES, body_len);
    wire_put32(rec + 8, crc);
    wire_put32(rec + 12, 0);
    return enc_write(e, rec, WIRE_HDR_BYTES + body_len);
}

/*
 * Write one wire record whose body is head (at rec + WIRE_HDR_BYTES,
 * head_len bytes) followed by tail_len bytes at tail, without copying the
 * tail (a stored batch straight from the PAGE_DATA record).
 */
static int enc_wire_record2(struct codec_enc *e, uint8_t *rec, uint32_t type,
                            size_t head_len, const uint8_t *tail,
                            size_t tail_len)
{
    uint32_t crc;
    int rc;

    wire_put32(rec, type);
    wire_put32(rec + 4, (uint32_t)(head_len + tail_len));
    crc = wire_crc32c(0, rec, 8);
    crc = wire_crc32c(crc, rec + WIRE_HDR_BYTES, head_len);
    crc = wire_crc32c(crc, tail, tail_len);
    wire_put32(rec + 8, crc);
    wire_put32(rec + 12, 0);
    rc = enc_write(e, rec, WIRE_HDR_BYTES + head_len);
    if (rc || !tail_len)
        return rc;
    return enc_write(e, tail, tail_len);
}

static int enc_flush_pass(struct codec_enc *e)
{
    int rc;

    if (!e->pass_len)
        return 0;
    rc = enc_wire_record(e, e->pass, WIRE_T_PASS, e->pass_len);
    e->pass_len = 0;
    return rc;
}

static int enc_bytes(void *opaque, const uint8_t *buf, size_t len)
{
    struct codec_enc *e = opaque;
    size_t n;
    int rc;

    if (!e->switched)
        return enc_write(e, buf, len);
    while (len) {
        n = WIRE_PASS_MAX - e->pass_len;
        if (n > len)
            n = len;
        rc = wire_buf_reserve(&e->pass, &e->pass_cap,
                              WIRE_HDR_BYTES + e->pass_len + n);
        if (rc)
            return rc;
        memcpy(e->pass + WIRE_HDR_BYTES + e->pass_len, buf, n);
        e->pass_len += n;
        buf += n;
        len -= n;
        if (e->pass_len == WIRE_PASS_MAX) {
            rc = enc_flush_pass(e);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int enc_record(void *opaque, const struct xs_record *rec)
{
    struct codec_enc *e = opaque;

    if (rec->type < XS_TYPE_HDR_XL)
        e->st.records++;
    return 0;
}

static int enc_boundary(void *opaque)
{
    struct codec_enc *e = opaque;
    uint8_t sw[XS_REC_HDR_BYTES + WIRE_SWITCH_BYTES];
    uint64_t pages = 0;
    unsigned caps = WIRE_CAP_ZLIB | WIRE_CAP_ZSTD | WIRE_CAP_LZ4;
    int rc;

    if (!e->want_switch || e->switched)
        return 0;
    if (e->cache) {
        caps |= WIRE_CAP_DELTA;
        pages = pc_cache_pages(e->cache);
    }
    wire_put32(sw, XS_LIBXC_XLMIG_SWITCH);
    wire_put32(sw + 4, WIRE_SWITCH_BYTES);
    wire_put64(sw + 8, WIRE_MAGIC);
    wire_put16(sw + 16, WIRE_VERSION);
    wire_put16(sw + 18, 0);
    wire_put32(sw + 20, caps);
    wire_put64(sw + 24, pages);
    wire_put32(sw + 32, wire_crc32c(0, sw, 32));
    wire_put32(sw + 36, 0);
    rc = enc_write(e, sw, sizeof(sw));
    if (rc)
        return rc;
    e->switched = true;
    e->st.switched = true;
    return 0;
}

static double enc_link_bps(struct codec_enc *e)
{
    double link = e->link_bps_set   ? (double)e->link_bps_set
                  : e->link_bps_est ? e->link_bps_est
                                    : (double)LINK_DEFAULT_BPS;

    e->st.link_bps = (uint64_t)link;
    return link;
}

/*
 * Modelled time of a record whose page analysis took fixed_ns and wrote
 * fixed_bytes, with nb batch bytes compressed by candidate c: the
 * pipeline runs at the pace of its slowest stage (encoder, link, decoder).
 */
static double cand_cost(const struct cand *c, double fixed_ns,
                        double fixed_bytes, double nb, double link)
{
    double enc = fixed_ns + nb * c->ns_per_byte;
    double tl = (fixed_bytes + nb * c->ratio) / link * 1e9;
    double dec = nb * c->dec_ns_per_byte;
    double m = enc > tl ? enc : tl;

    return m > dec ? m : dec;
}

/*
 * The candidate of least modelled time; stored wins ties.  In the live
 * rounds (live_ratio_first, before the final round) zstd-3 instead,
 * the fewest bytes of the fast methods: there the guest still runs and
 * the bytes are what the migration costs the network, and zstd-3 costs
 * about what zstd-1 does (docs/performance.md); stored unless its ratio
 * estimate saves 3 % (incompressible data).  Unless zstd-3 is modelled
 * more than LIVE_TIME_SLACK slower than the fastest candidate: then the
 * encoder, not the link, sets the pace, and its bytes would cost time
 * (measured on the nested lab, link 8 MB/s: zstd-3 in every live round
 * made the migration 2.0x stock xl's total time).
 */
static unsigned enc_choose_fastest(struct codec_enc *e, double fixed_ns,
                                   double fixed_bytes, double nb,
                                   double *cost_r)
{
    double link = enc_link_bps(e), best = 0, cost;
    unsigned i, pick = 0;

    for (i = 0; i < NCAND; i++) {
        cost = cand_cost(&e->cand[i], fixed_ns, fixed_bytes, nb, link);
        if (i == 0 || cost < best) {
            best = cost;
            pick = i;
        }
    }
    *cost_r = best;
    return pick;
}

static unsigned enc_choose(struct codec_enc *e, double fixed_ns,
                           double fixed_bytes, double nb, double *cost_r)
{
    double link = enc_link_bps(e), cost, r;
    unsigned i, pick, fastest;

    fastest = enc_choose_fastest(e, fixed_ns, fixed_bytes, nb, cost_r);
    if (!e->p.live_ratio_first || __atomic_load_n(&e->final, __ATOMIC_RELAXED))
        return fastest;
    pick = 0;
    r = LIVE_MIN_RATIO;
    for (i = 1; i < NCAND; i++) {
        /*
         * zstd-3: on every real stream measured it gives the fewest bytes
         * of the fast methods (zlib costs 4-8x its CPU for no fewer
         * bytes); the 16-page probes of zstd-1 and lz4 are too noisy to
         * second-guess it.
         */
        if (e->cand[i].method != WIRE_M_ZSTD || e->cand[i].level != 3)
            continue;
        if (e->cand[i].ratio < r) {
            r = e->cand[i].ratio;
            pick = i;
        }
    }
    cost = cand_cost(&e->cand[pick], fixed_ns, fixed_bytes, nb, link);
    if (cost > *cost_r * LIVE_TIME_SLACK)
        return fastest;
    if (cost > *cost_r)
        *cost_r = cost; /* probes: relative to what runs */
    return pick;
}

static void cand_update(struct cand *c, double ns, double in, double out)
{
    if (in <= 0)
        return;
    c->ns_per_byte = (1 - EWMA_ALPHA) * c->ns_per_byte + EWMA_ALPHA * (ns / in);
    c->ratio = (1 - EWMA_ALPHA) * c->ratio + EWMA_ALPHA * (out / in);
}

/* Compress a sample with another candidate to refresh its estimates. */
static int enc_probe(struct codec_enc *e, unsigned cur, const uint8_t *src,
                     size_t n, double best_cost)
{
    unsigned i = 0, k;
    uint64_t t0, t1;
    size_t out;
    int rc;

    /*
     * The next candidate that could plausibly win: its compression time
     * alone under twice the best modelled time (zlib is not re-probed on
     * a fast link, where it cannot pay).
     */
    for (k = 0; k < NCAND; k++) {
        i = 1 + (e->probe_next++ % (NCAND - 1));
        if (i != cur && (double)n * e->cand[i].ns_per_byte < 2 * best_cost + 1)
            break;
    }
    if (k == NCAND)
        return 0;
    if (n > PROBE_PAGES * XS_PAGE_SIZE)
        n = PROBE_PAGES * XS_PAGE_SIZE;
    if (!e->probe) {
        e->probe_cap = ZSTD_compressBound(PROBE_PAGES * XS_PAGE_SIZE) + 4096;
        e->probe = malloc(e->probe_cap);
        if (!e->probe)
            return -ENOMEM;
    }
    t0 = cpu_now(e->p.clock);
    rc = compress_batch(e->zc, e->cand[i].method, e->cand[i].level, src, n,
                        e->probe, e->probe_cap, &out);
    t1 = cpu_now(e->p.clock);
    if (rc)
        return rc;
    cand_update(&e->cand[i], (double)(t1 - t0), (double)n,
                (double)(out ? out : n));
    e->st.probes++;
    return 0;
}

/*
 * The pfn list: as runs of consecutive words (first word u64, length u16)
 * when that is shorter, else verbatim.  Writes the run count (0: verbatim)
 * at nruns and the list at out; returns the bytes written at out.
 */
static size_t enc_pfns(const struct xs_page_data *pd, uint8_t *nruns,
                       uint8_t *out)
{
    uint32_t i, r = 1, len = 1;
    uint64_t w, prev = wire_get64(pd->pfn_le);
    uint8_t *o = out;

    for (i = 1; i < pd->count; i++) {
        w = wire_get64(pd->pfn_le + 8ull * i);
        if (w != prev + 1)
            r++;
        prev = w;
    }
    if ((size_t)r * WIRE_PFN_RUN_BYTES >= 8ull * pd->count) {
        wire_put32(nruns, 0);
        memcpy(out, pd->pfn_le, 8ull * pd->count);
        return 8ull * pd->count;
    }
    wire_put32(nruns, r);
    prev = wire_get64(pd->pfn_le);
    wire_put64(o, prev);
    for (i = 1; i < pd->count; i++) {
        w = wire_get64(pd->pfn_le + 8ull * i);
        if (w != prev + 1) {
            wire_put16(o + 8, (uint16_t)len);
            o += WIRE_PFN_RUN_BYTES;
            wire_put64(o, w);
            len = 0;
        }
        len++;
        prev = w;
    }
    wire_put16(o + 8, (uint16_t)len);
    return (size_t)(o + WIRE_PFN_RUN_BYTES - out);
}

#define PASS_PROBE_EVERY 16u  /* analyse one data record in this many */
#define PASS_DEC_NSPB    0.15 /* prior: peer's copy + checksum per byte */
/*
 * Only where the analysis saves under 10 %: a passed record leaves the
 * delta cache as it was, so passing compressible data would starve the
 * next rounds of their deltas.
 */
#define PASS_MIN_RATIO   0.9
/*
 * Analysed data records before the first pass: the first ones pay the
 * page faults of the cache and buffers and the compressor set-up, which
 * would make the analysis look slower than it is.
 */
#define PASS_WARMUP      4u

/*
 * Send a PAGE_DATA record in PASS records: when the link outruns the page
 * analysis and the analysis does not shrink the data (adaptive only).
 */
static bool enc_pass_pays(struct codec_enc *e, const struct xs_page_data *pd)
{
    double rb = (double)pd->rec_bytes, link, t_pass, t_an, t;

    if (e->p.method != CODEC_ADAPTIVE || !pd->data_pages ||
        pd->rec_bytes > WIRE_BODY_MAX || e->an_records < PASS_WARMUP ||
        e->an_ratio < PASS_MIN_RATIO || e->passed_run + 1 >= PASS_PROBE_EVERY)
        return false;
    link = enc_link_bps(e);
    t_pass = rb / link * 1e9;
    t = rb * e->pass_ns_per_byte;
    if (t > t_pass)
        t_pass = t;
    t = rb * PASS_DEC_NSPB;
    if (t > t_pass)
        t_pass = t;
    /*
     * Only where the encoder, not the link, is the bottleneck: on a slow
     * link the bytes the analysis saves on later rounds (deltas against
     * the pages it caches now) matter more than its CPU time.
     */
    t_an = rb * e->an_ratio / link * 1e9;
    t = rb * e->an_ns_per_byte;
    if (t <= t_an)
        return false;
    return t_pass < t;
}

static int enc_page_data_pass(struct codec_enc *e,
                              const struct xs_page_data *pd)
{
    uint8_t hdr[WIRE_HDR_BYTES];
    uint64_t t0 = cpu_now(e->p.clock), w0 = e->st.write_ns, t;
    uint32_t crc;
    int rc;

    wire_put32(hdr, WIRE_T_PASS);
    wire_put32(hdr + 4, (uint32_t)pd->rec_bytes);
    crc = wire_crc32c(0, hdr, 8);
    crc = wire_crc32c(crc, pd->rec, pd->rec_bytes);
    wire_put32(hdr + 8, crc);
    wire_put32(hdr + 12, 0);
    rc = enc_write(e, hdr, sizeof(hdr));
    if (!rc)
        rc = enc_write(e, pd->rec, pd->rec_bytes);
    if (rc)
        return rc;
    e->passed_run++;
    e->st.pages_raw += pd->data_pages;
    t = cpu_now(e->p.clock) - t0;
    if (e->p.clock)
        t -= e->st.write_ns - w0; /* the injected clock counts the link */
    e->pass_ns_per_byte = (1 - EWMA_ALPHA) * e->pass_ns_per_byte +
                          EWMA_ALPHA * (double)t / (double)pd->rec_bytes;
    return 0;
}

static int enc_page_data(void *opaque, const struct xs_page_data *pd)
{
    struct codec_enc *e = opaque;
    uint8_t *body, *kinds, *x, *bh;
    const uint8_t *page, *old, *bsrc, *stored_tail = NULL;
    uint32_t i, j = 0, nb = 0, n = pd->data_pages;
    uint64_t w, pfn, pat, t0, t1;
    unsigned ci = 0, method;
    int level = 0, k, len, rc;
    size_t delta_cap, bbytes, clen = 0;
    double best_cost = 0, fixed_ns;
    uint64_t t_rec, w0, side_ns = 0, probe_ns = 0;
    double an;
    bool contiguous = true;

    e->st.pages += n;
    if (!e->switched) {
        e->st.pages_stock += n;
        return enc_write(e, pd->rec, pd->rec_bytes);
    }
    rc = enc_flush_pass(e);
    if (rc)
        return rc;
    if (enc_pass_pays(e, pd))
        return enc_page_data_pass(e, pd);
    rc = wire_buf_reserve(&e->out, &e->out_cap,
                          WIRE_HDR_BYTES + WIRE_PAGES_FIXED + 8ull * pd->count +
                              (size_t)n * (1u + 2u + 2u * XS_PAGE_SIZE) +
                              WIRE_BATCH_HDR);
    if (rc)
        return rc;
    body = e->out + WIRE_HDR_BYTES;

    /*
     * How small a delta must be to be worth it: under what the page is
     * expected to cost in the batch (the last batch's ratio), else the
     * page goes to the batch.
     */
    delta_cap = e->delta_cap;
    t0 = t_rec = cpu_now(e->p.clock);
    w0 = e->st.write_ns;
    switch (e->p.method) {
    case CODEC_RAW:
        method = WIRE_M_STORED;
        break;
    case CODEC_ZLIB:
        method = WIRE_M_ZLIB;
        level = e->p.level ? e->p.level : 1;
        break;
    case CODEC_ZSTD:
        method = WIRE_M_ZSTD;
        level = e->p.level ? e->p.level : 1;
        break;
    case CODEC_LZ4:
        method = WIRE_M_LZ4;
        level = 1;
        break;
    default:
        method = WIRE_M_STORED; /* chosen below, once nb is known */
        break;
    }

    wire_put32(body, pd->count);
    wire_put32(body + 4, pd->res1);
    wire_put32(body + 8, n);
    kinds = body + WIRE_PAGES_FIXED +
            enc_pfns(pd, body + 16, body + WIRE_PAGES_FIXED);
    x = kinds + n;

    for (i = 0; i < pd->count; i++) {
        w = wire_get64(pd->pfn_le + 8ull * i);
        if ((w >> XS_PFN_TYPE_SHIFT) >= 0xd)
            continue;
        pfn = w & XS_PFN_MASK;
        page = pd->pages + (size_t)j * XS_PAGE_SIZE;
        k = (e->p.flags & CODEC_F_NO_ZERO) ? -1 : pc_fill_kind(page, &pat);
        if (k == WIRE_K_ZERO) {
            e->st.pages_zero++;
            if (e->cache)
                pc_cache_drop(e->cache, pfn);
        } else if (k == WIRE_K_FILL8) {
            *x++ = (uint8_t)pat;
            e->st.pages_fill++;
        } else if (k == WIRE_K_FILL64) {
            wire_put64(x, pat);
            x += 8;
            e->st.pages_fill++;
        } else {
            k = WIRE_K_BATCH;
            old = e->cache ? pc_cache_get(e->cache, pfn) : NULL;
            if (old) {
                e->st.cache_hits++;
                len = pc_delta_encode(old, page, x + 2, delta_cap);
                if (len >= 0) {
                    wire_put16(x, (uint16_t)len);
                    x += 2 + len;
                    k = WIRE_K_DELTA;
                    e->st.pages_delta++;
                    e->st.delta_bytes += (uint64_t)len;
                } else {
                    e->st.delta_overflows++;
                }
            } else if (e->cache) {
                e->st.cache_misses++;
            }
            if (k == WIRE_K_BATCH) {
                if (nb != j)
                    contiguous = false;
                nb++;
            }
        }
        if (k != WIRE_K_ZERO && e->cache)
            e->st.cache_evictions +=
                (uint64_t)pc_cache_sent(e->cache, pfn, page);
        kinds[j++] = (uint8_t)k;
    }
    wire_put32(body + 12, nb);

    if (nb) {
        bbytes = (size_t)nb * XS_PAGE_SIZE;
        if (e->p.method == CODEC_ADAPTIVE) {
            /*
             * The rest of the record's work (analysis, copies, checksum)
             * as measured on the last records, or so far on this one.
             */
            t1 = cpu_now(e->p.clock);
            fixed_ns = e->ovh_ns_per_page > 0 ? e->ovh_ns_per_page * n
                                              : (double)(t1 - t0);
            ci = enc_choose(e, fixed_ns, (double)(x - body), (double)bbytes,
                            &best_cost);
            method = e->cand[ci].method;
            level = e->cand[ci].level;
        }
        if (contiguous) {
            bsrc = pd->pages;
        } else {
            rc = wire_buf_reserve(&e->gather, &e->gather_cap, bbytes);
            if (rc)
                return rc;
            for (i = 0, j = 0; i < n; i++)
                if (kinds[i] == WIRE_K_BATCH)
                    memcpy(e->gather + (size_t)j++ * XS_PAGE_SIZE,
                           pd->pages + (size_t)i * XS_PAGE_SIZE, XS_PAGE_SIZE);
            bsrc = e->gather;
        }
        bh = x;
        x += WIRE_BATCH_HDR;
        if (method != WIRE_M_STORED) {
            t0 = cpu_now(e->p.clock);
            rc = compress_batch(e->zc, method, level, bsrc, bbytes, x,
                                bbytes - 1, &clen);
            t1 = cpu_now(e->p.clock);
            if (rc)
                return rc;
            side_ns += t1 - t0;
            if (e->p.method == CODEC_ADAPTIVE)
                cand_update(&e->cand[ci], (double)(t1 - t0), (double)bbytes,
                            (double)(clen ? clen : bbytes));
        }
        /* the next record's delta cap follows this batch's ratio */
        e->delta_cap = clen ? clen * XS_PAGE_SIZE / bbytes : XS_PAGE_SIZE - 1;
        if (e->delta_cap >= XS_PAGE_SIZE)
            e->delta_cap = XS_PAGE_SIZE - 1;
        if (e->delta_cap < 64)
            e->delta_cap = 64;
        if (!clen) {
            method = WIRE_M_STORED;
            level = 0;
            clen = bbytes;
            if (contiguous) {
                stored_tail = bsrc; /* written from the record, no copy */
            } else {
                memcpy(x, bsrc, bbytes);
            }
        }
        bh[0] = (uint8_t)method;
        bh[1] = (uint8_t)level;
        wire_put16(bh + 2, 0);
        wire_put32(bh + 4, (uint32_t)clen);
        if (!stored_tail)
            x += clen;
        e->st.batches++;
        e->st.batch_bytes_in += bbytes;
        e->st.batch_bytes_out += clen;
        switch (method) {
        case WIRE_M_ZLIB:
            e->st.pages_zlib += nb;
            break;
        case WIRE_M_ZSTD:
            e->st.pages_zstd += nb;
            break;
        case WIRE_M_LZ4:
            e->st.pages_lz4 += nb;
            break;
        default:
            e->st.pages_raw += nb;
            break;
        }
        if (e->p.method == CODEC_ADAPTIVE &&
            (e->st.batches <= NCAND || e->st.batches % PROBE_EVERY == 0)) {
            t0 = cpu_now(e->p.clock);
            rc = enc_probe(e, ci, bsrc, bbytes, best_cost);
            if (rc)
                return rc;
            probe_ns = cpu_now(e->p.clock) - t0;
            side_ns += probe_ns;
        }
    }
    e->orig_pages += n;
    rc = enc_wire_record2(e, e->out, WIRE_T_PAGES, (size_t)(x - body),
                          stored_tail, stored_tail ? clen : 0);
    if (rc || !n)
        return rc;
    /* per-page cost of everything but compression, probes and the link */
    t1 = cpu_now(e->p.clock) - t_rec;
    if (e->p.clock)
        t1 -= e->st.write_ns - w0; /* the injected clock counts the link */
    /*
     * The analysed path as a whole (compression included, probes not),
     * against the pass-through.
     */
    e->passed_run = 0;
    e->an_records++;
    an = (double)(t1 > probe_ns ? t1 - probe_ns : 0) / (double)pd->rec_bytes;
    e->an_ns_per_byte =
        e->an_records > 1
            ? (1 - EWMA_ALPHA) * e->an_ns_per_byte + EWMA_ALPHA * an
            : an;
    e->an_ratio = (1 - EWMA_ALPHA) * e->an_ratio +
                  EWMA_ALPHA *
                      (double)(WIRE_HDR_BYTES + (size_t)(x - body) +
                               (stored_tail ? clen : 0)) /
                      (double)pd->rec_bytes;
    if (t1 > side_ns) {
        double ovh = (double)(t1 - side_ns) / n;

        e->ovh_ns_per_page =
            e->ovh_ns_per_page > 0
                ? (1 - EWMA_ALPHA) * e->ovh_ns_per_page + EWMA_ALPHA * ovh
                : ovh;
    }
    return 0;
}

static const struct xs_ops enc_ops = {
    .record = enc_record,
    .bytes = enc_bytes,
    .page_data = enc_page_data,
    .boundary = enc_boundary,
};

int codec_enc_new(const struct codec_params *p, codec_write_fn *write,
                  void *opaque, struct codec_enc **enc_r)
{
    struct codec_enc *e;
    struct xs_params xp;
    int rc;

    if (p->method > CODEC_LZ4 || p->cache_bytes > CODEC_CACHE_BYTES_MAX ||
        p->level < 0 || p->level > 19 ||
        (p->method == CODEC_ZLIB && p->level > 9))
        return -EINVAL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->p = *p;
    e->write = write;
    e->opaque = opaque;
    e->want_switch = !p->start_raw;
    e->delta_cap = p->method == CODEC_RAW ? XS_PAGE_SIZE - 1 : XS_PAGE_SIZE / 3;
    e->link_bps_set = p->link_bps;
    e->an_ratio = 1.0;
    e->pass_ns_per_byte = 0.1;
    memcpy(e->cand, cand_init, sizeof(cand_init));
    xs_params_init(&xp);
    if (p->max_pfn)
        xp.max_pfn = p->max_pfn;
    rc = xs_parser_new(&xp, &enc_ops, e, &e->ps);
    if (rc)
        goto out;
    rc = -ENOMEM;
    e->zc = ZSTD_createCCtx();
    if (!e->zc)
        goto out;
    if (!(p->flags & CODEC_F_NO_DELTA) && p->cache_bytes >= PC_WAYS * 4096) {
        rc = pc_cache_new(p->cache_bytes / XS_PAGE_SIZE, &e->cache);
        if (rc)
            goto out;
    }
    *enc_r = e;
    e = NULL;
    rc = 0;
out:
    codec_enc_free(e);
    return rc;
}

void codec_enc_free(struct codec_enc *e)
{
    if (!e)
        return;
    xs_parser_free(e->ps);
    pc_cache_free(e->cache);
    ZSTD_freeCCtx(e->zc);
    free(e->pass);
    free(e->out);
    free(e->gather);
    free(e->probe);
    free(e);
}

static int enc_end(struct codec_enc *e, int status)
{
    uint8_t rec[WIRE_HDR_BYTES + WIRE_END_BYTES];
    int rc;

    rc = enc_flush_pass(e);
    if (rc)
        return rc;
    wire_put32(rec + WIRE_HDR_BYTES, (uint32_t)status);
    wire_put32(rec + WIRE_HDR_BYTES + 4, 0);
    wire_put64(rec + WIRE_HDR_BYTES + 8, e->st.bytes_in);
    wire_put64(rec + WIRE_HDR_BYTES + 16, e->orig_pages);
    rc = enc_wire_record(e, rec, WIRE_T_END, WIRE_END_BYTES);
    if (!rc)
        e->ended = true;
    return rc;
}

int codec_enc_feed(struct codec_enc *e, const void *buf, size_t len,
                   size_t *used_r)
{
    uint64_t t0, w0;
    size_t used = 0;
    int rc;

    if (e->failed)
        return -EIO;
    if (e->ended) {
        if (used_r) {
            *used_r = 0;
            return 0;
        }
        if (!len)
            return 0;
        LOG(ERROR,
            "malformed stream at offset %" PRIu64
            ": trailing bytes after the end of the stream",
            e->st.bytes_in);
        e->failed = true;
        return -EPROTO;
    }
    t0 = clock_now(e->p.clock);
    w0 = e->st.write_ns;
    rc = xs_parser_feed(e->ps, buf, len, used_r ? &used : NULL);
    if (!used_r && !rc)
        used = len;
    e->st.bytes_in += used;
    if (!rc && xs_parser_done(e->ps)) {
        if (e->switched)
            rc = enc_end(e, 0);
        else
            e->ended = true;
    }
    e->st.codec_ns += clock_now(e->p.clock) - t0 - (e->st.write_ns - w0);
    if (rc) {
        e->failed = true;
        return rc;
    }
    if (used_r)
        *used_r = used;
    return 0;
}

int codec_enc_enable_compression(struct codec_enc *e)
{
    e->want_switch = true;
    return 0;
}

void codec_enc_set_final(struct codec_enc *e)
{
    __atomic_store_n(&e->final, 1, __ATOMIC_RELAXED);
}

void codec_enc_set_link_bps(struct codec_enc *e, uint64_t link_bps)
{
    e->link_bps_set = link_bps;
}

int codec_enc_finish(struct codec_enc *e)
{
    int rc;

    if (e->failed)
        return -EIO;
    if (e->ended)
        return 0;
    rc = xs_parser_finish(e->ps);
    e->failed = true;
    return rc ? rc : -EPROTO;
}

int codec_enc_abort(struct codec_enc *e, int rc)
{
    if (e->ended || !e->switched || rc >= 0)
        return 0;
    e->failed = true;
    return enc_end(e, rc);
}

bool codec_enc_done(const struct codec_enc *e)
{
    return e->ended;
}

void codec_enc_stats(const struct codec_enc *e, struct codec_stats *st)
{
    *st = e->st;
    if (!e->link_bps_set && e->link_bps_est > 0)
        st->link_bps = (uint64_t)e->link_bps_est;
}

/* ------------------------------------------------------------ decoder */

struct codec_dec {
    struct codec_dec_params p;
    codec_write_fn *write;
    void *opaque;
    struct xs_parser *ps;
    struct pc_cache *cache;
    ZSTD_DCtx *zd;

    bool wire, done, failed;
    uint64_t in_off;  /* input bytes consumed */
    uint64_t rec_off; /* input offset of the current wire record */
    uint8_t hdr[WIRE_HDR_BYTES];
    size_t hhave;
    /* buffers grow as needed, up to the caps of the format */
    uint8_t *body; /* <= WIRE_BODY_MAX */
    size_t body_cap, body_len, body_have;
    bool in_body;
    uint8_t *rec; /* rebuilt PAGE_DATA record */
    size_t rec_cap;
    uint8_t *batch; /* decompressed batch */
    size_t batch_cap;
    uint64_t orig_pages;

    struct codec_stats st;
};

static const char *wire_type_name(uint32_t t)
{
    switch (t) {
    case WIRE_T_END:
        return "END";
    case WIRE_T_PASS:
        return "PASS";
    case WIRE_T_PAGES:
        return "PAGES";
    default:
        return "unknown";
    }
}

static int dec_bad(struct codec_dec *d, const char *what)
{
    if (!d->wire)
        LOG(ERROR,
            "malformed stream at offset %" PRIu64 " (libxc XLMIG_SWITCH): %s",
            d->rec_off, what);
    else
        LOG(ERROR, "malformed wire stream at offset %" PRIu64 " (wire %s): %s",
            d->rec_off, wire_type_name(wire_get32(d->hdr)), what);
    return -EPROTO;
}

static int dec_write(struct codec_dec *d, const void *buf, size_t len)
{
    uint64_t t0 = clock_now(d->p.clock), t1;
    int rc;

    rc = d->write(d->opaque, buf, len);
    t1 = clock_now(d->p.clock);
    d->st.write_ns += t1 - t0;
    if (!rc)
        d->st.bytes_out += len;
    return rc;
}

static int dec_bytes(void *opaque, const uint8_t *buf, size_t len)
{
    return dec_write(opaque, buf, len);
}

static int dec_record(void *opaque, const struct xs_record *rec)
{
    struct codec_dec *d = opaque;

    if (rec->type < XS_TYPE_HDR_XL && rec->type != XS_LIBXC_XLMIG_SWITCH)
        d->st.records++;
    return 0;
}

static int dec_page_data(void *opaque, const struct xs_page_data *pd)
{
    struct codec_dec *d = opaque;

    d->st.pages += pd->data_pages;
    if (!d->wire)
        d->st.pages_stock += pd->data_pages;
    return dec_write(d, pd->rec, pd->rec_bytes);
}

static const struct xs_ops dec_ops = {
    .record = dec_record,
    .bytes = dec_bytes,
    .page_data = dec_page_data,
};

int codec_dec_new(const struct codec_dec_params *p, codec_write_fn *write,
                  void *opaque, struct codec_dec **dec_r)
{
    struct codec_dec *d;
    struct xs_params xp;
    int rc;

    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    if (p)
        d->p = *p;
    else
        codec_dec_params_init(&d->p);
    if (!d->p.max_cache_bytes || d->p.max_cache_bytes > CODEC_CACHE_BYTES_MAX)
        d->p.max_cache_bytes = CODEC_CACHE_BYTES_MAX;
    d->write = write;
    d->opaque = opaque;
    xs_params_init(&xp);
    if (d->p.max_pfn)
        xp.max_pfn = d->p.max_pfn;
    xp.accept_switch = true;
    rc = xs_parser_new(&xp, &dec_ops, d, &d->ps);
    if (rc)
        goto out;
    *dec_r = d;
    d = NULL;
    rc = 0;
out:
    codec_dec_free(d);
    return rc;
}

void codec_dec_free(struct codec_dec *d)
{
    if (!d)
        return;
    xs_parser_free(d->ps);
    pc_cache_free(d->cache);
    ZSTD_freeDCtx(d->zd);
    free(d->body);
    free(d->rec);
    free(d->batch);
    free(d);
}

/* The switch record body: magic, version, capabilities, cache size. */
static int dec_switch(struct codec_dec *d)
{
    const uint8_t *b;
    uint8_t hdr[XS_REC_HDR_BYTES];
    size_t len;
    uint64_t pages;
    unsigned caps;
    int rc;

    b = xs_parser_switch_body(d->ps, &len);
    d->rec_off = xs_parser_offset(d->ps) - XS_REC_HDR_BYTES - len -
                 ((8 - (len & 7)) & 7);
    if (len != WIRE_SWITCH_BYTES || wire_get64(b) != WIRE_MAGIC)
        return dec_bad(d, "switch record without the xlmig magic");
    wire_put32(hdr, XS_LIBXC_XLMIG_SWITCH);
    wire_put32(hdr + 4, (uint32_t)len);
    if (wire_get32(b + 24) !=
            wire_crc32c(wire_crc32c(0, hdr, sizeof(hdr)), b, 24) ||
        wire_get32(b + 28))
        return dec_bad(d, "switch record checksum mismatch");
    if (wire_get16(b + 8) != WIRE_VERSION)
        return dec_bad(d, "unsupported wire version");
    if (wire_get16(b + 10))
        return dec_bad(d, "reserved field not zero");
    caps = wire_get32(b + 12);
    if (caps & ~WIRE_CAPS_KNOWN)
        return dec_bad(d, "unknown capability bits");
    pages = wire_get64(b + 16);
    if (pages * XS_PAGE_SIZE > d->p.max_cache_bytes ||
        pages > CODEC_CACHE_BYTES_MAX / XS_PAGE_SIZE)
        return dec_bad(d, "delta cache larger than allowed");
    if (!!(caps & WIRE_CAP_DELTA) != (pages != 0))
        return dec_bad(d, "delta capability and cache size disagree");
    if (pages) {
        if (pages % PC_WAYS)
            return dec_bad(d, "cache size not a multiple of 4 pages");
        rc = pc_cache_new(pages, &d->cache);
        if (rc)
            return rc;
    }
    d->zd = ZSTD_createDCtx();
    if (!d->zd)
        return -ENOMEM;
    xs_parser_clear_switch(d->ps);
    xs_parser_set_accept_switch(d->ps, false);
    d->wire = true;
    d->st.switched = true;
    return 0;
}

/* Decompress a batch; *out_r: its n bytes (in the body when stored). */
static int dec_batch(struct codec_dec *d, unsigned method, const uint8_t *src,
                     size_t clen, size_t n, const uint8_t **out_r)
{
    size_t r;
    uLongf zl;
    int zr;

    *out_r = d->batch;
    switch (method) {
    case WIRE_M_STORED:
        if (clen != n)
            return dec_bad(d, "stored batch of the wrong length");
        *out_r = src;
        return 0;
    case WIRE_M_LZ4:
        zr = LZ4_decompress_safe((const char *)src, (char *)d->batch, (int)clen,
                                 (int)n);
        if (zr < 0 || (size_t)zr != n)
            return dec_bad(d, "corrupt lz4 batch");
        return 0;
    case WIRE_M_ZSTD:
        r = ZSTD_decompressDCtx(d->zd, d->batch, n, src, clen);
        if (ZSTD_isError(r) || r != n)
            return dec_bad(d, "corrupt zstd batch");
        return 0;
    case WIRE_M_ZLIB:
        zl = n;
        zr = uncompress(d->batch, &zl, src, clen);
        if (zr != Z_OK || zl != n)
            return dec_bad(d, "corrupt zlib batch");
        return 0;
    default:
        return dec_bad(d, "unknown batch method");
    }
}

/* Rebuild the PAGE_DATA record of a PAGES body and feed it to the parser. */
static int dec_pages(struct codec_dec *d, const uint8_t *b, size_t len)
{
    uint32_t count, res1, n, nb, nruns, i, j = 0, bj = 0, dl;
    const uint8_t *pfns, *kinds, *x, *end = b + len;
    size_t plen;
    uint8_t *pages, *page, *bh;
    uint64_t w, pfn, pat;
    size_t reclen, clen, used;
    const uint8_t *batch = NULL;
    uint8_t *cached;
    int rc;

    if (len < WIRE_PAGES_FIXED)
        return dec_bad(d, "body too short");
    count = wire_get32(b);
    res1 = wire_get32(b + 4);
    n = wire_get32(b + 8);
    nb = wire_get32(b + 12);
    if (count == 0 || count > XS_PAGE_DATA_COUNT_MAX || n > count || nb > n)
        return dec_bad(d, "page counts out of range");
    nruns = wire_get32(b + 16);
    if (nruns > count)
        return dec_bad(d, "more pfn runs than pfns");
    plen = nruns ? (size_t)nruns * WIRE_PFN_RUN_BYTES : 8ull * count;
    if (len < WIRE_PAGES_FIXED + plen + n)
        return dec_bad(d, "body too short for its pfn list");
    reclen = XS_REC_HDR_BYTES + 8 + 8ull * count + (size_t)n * XS_PAGE_SIZE;
    rc = wire_buf_reserve(&d->rec, &d->rec_cap, reclen);
    if (rc)
        return rc;
    wire_put32(d->rec, XS_LIBXC_PAGE_DATA);
    wire_put32(d->rec + 4, (uint32_t)(reclen - XS_REC_HDR_BYTES));
    wire_put32(d->rec + 8, count);
    wire_put32(d->rec + 12, res1);
    pfns = d->rec + 16;
    if (!nruns) {
        memcpy(d->rec + 16, b + WIRE_PAGES_FIXED, 8ull * count);
    } else {
        const uint8_t *r = b + WIRE_PAGES_FIXED;
        uint32_t k, rl;

        for (i = 0, k = 0; k < nruns; k++, r += WIRE_PFN_RUN_BYTES) {
            w = wire_get64(r);
            rl = wire_get16(r + 8);
            if (rl == 0 || rl > count - i)
                return dec_bad(d, "pfn runs do not add up to the count");
            for (j = 0; j < rl; j++)
                wire_put64(d->rec + 16 + 8ull * i++, w + j);
        }
        if (i != count)
            return dec_bad(d, "pfn runs do not add up to the count");
    }
    kinds = b + WIRE_PAGES_FIXED + plen;
    x = kinds + n;
    for (i = 0, j = 0; i < count; i++)
        if ((wire_get64(pfns + 8ull * i) >> XS_PFN_TYPE_SHIFT) < 0xd)
            j++;
    if (j != n)
        return dec_bad(d, "pages with data do not match the pfn types");
    pages = d->rec + 16 + 8ull * count;

    /* first pass: find the batch after the per-page data */
    for (i = 0, j = 0; i < n; i++) {
        switch (kinds[i]) {
        case WIRE_K_ZERO:
            break;
        case WIRE_K_FILL8:
            x += 1;
            break;
        case WIRE_K_FILL64:
            x += 8;
            break;
        case WIRE_K_DELTA:
            if (end - x < 2)
                return dec_bad(d, "truncated delta");
            dl = wire_get16(x);
            x += 2 + dl;
            break;
        case WIRE_K_BATCH:
            j++;
            break;
        default:
            return dec_bad(d, "unknown page kind");
        }
        if (x > end)
            return dec_bad(d, "page data past the end of the body");
    }
    if (j != nb)
        return dec_bad(d, "batch page count mismatch");
    if (nb) {
        if (end - x < WIRE_BATCH_HDR)
            return dec_bad(d, "truncated batch header");
        bh = (uint8_t *)(uintptr_t)x;
        clen = wire_get32(bh + 4);
        if (wire_get16(bh + 2) || clen > (size_t)(end - x - WIRE_BATCH_HDR))
            return dec_bad(d, "bad batch header");
        if (clen + WIRE_BATCH_HDR != (size_t)(end - x))
            return dec_bad(d, "bytes after the batch");
        if (bh[0] != WIRE_M_STORED) {
            rc = wire_buf_reserve(&d->batch, &d->batch_cap,
                                  (size_t)nb * XS_PAGE_SIZE);
            if (rc)
                return rc;
        }
        rc = dec_batch(d, bh[0], x + WIRE_BATCH_HDR, clen,
                       (size_t)nb * XS_PAGE_SIZE, &batch);
        if (rc)
            return rc;
        d->st.batches++;
        d->st.batch_bytes_in += (uint64_t)nb * XS_PAGE_SIZE;
        d->st.batch_bytes_out += clen;
        switch (bh[0]) {
        case WIRE_M_ZLIB:
            d->st.pages_zlib += nb;
            break;
        case WIRE_M_ZSTD:
            d->st.pages_zstd += nb;
            break;
        case WIRE_M_LZ4:
            d->st.pages_lz4 += nb;
            break;
        default:
            d->st.pages_raw += nb;
            break;
        }
    } else if (x != end) {
        return dec_bad(d, "bytes after the page data");
    }

    /* second pass: rebuild every page in order, mirror the cache */
    x = kinds + n;
    for (i = 0, j = 0; i < count; i++) {
        w = wire_get64(pfns + 8ull * i);
        if ((w >> XS_PFN_TYPE_SHIFT) >= 0xd)
            continue;
        pfn = w & XS_PFN_MASK;
        page = pages + (size_t)j * XS_PAGE_SIZE;
        switch (kinds[j]) {
        case WIRE_K_ZERO:
            memset(page, 0, XS_PAGE_SIZE);
            d->st.pages_zero++;
            break;
        case WIRE_K_FILL8:
            memset(page, x[0], XS_PAGE_SIZE);
            x += 1;
            d->st.pages_fill++;
            break;
        case WIRE_K_FILL64:
            pat = wire_get64(x);
            pc_fill(page, pat);
            x += 8;
            d->st.pages_fill++;
            break;
        case WIRE_K_DELTA:
            dl = wire_get16(x);
            cached = d->cache ? pc_cache_get_mut(d->cache, pfn) : NULL;
            if (!cached)
                return dec_bad(d, "delta for a page not in the cache");
            /* in place on the cached copy (after an error the decoder
             * only accepts _free()), then one copy out */
            if (pc_delta_decode(x + 2, dl, cached))
                return dec_bad(d, "corrupt delta");
            memcpy(page, cached, XS_PAGE_SIZE);
            x += 2 + dl;
            d->st.pages_delta++;
            d->st.delta_bytes += dl;
            break;
        default: /* WIRE_K_BATCH */
            memcpy(page, batch + (size_t)bj++ * XS_PAGE_SIZE, XS_PAGE_SIZE);
            break;
        }
        if (d->cache) {
            if (kinds[j] == WIRE_K_ZERO)
                pc_cache_drop(d->cache, pfn);
            else
                d->st.cache_evictions += (uint64_t)pc_cache_sent(
                    d->cache, pfn, kinds[j] == WIRE_K_DELTA ? NULL : page);
        }
        j++;
    }
    d->orig_pages += n;
    rc = xs_parser_feed(d->ps, d->rec, reclen, &used);
    if (!rc && used != reclen)
        return dec_bad(d, "page data after the end of the stream");
    return rc;
}

static int dec_wire_record(struct codec_dec *d)
{
    uint32_t type = wire_get32(d->hdr), crc;
    size_t used;
    int32_t status;
    int rc;

    crc = wire_crc32c(0, d->hdr, 8);
    crc = wire_crc32c(crc, d->body, d->body_len);
    if (crc != wire_get32(d->hdr + 8)) {
        LOG(ERROR,
            "corrupt wire stream at offset %" PRIu64
            " (wire %s): checksum mismatch",
            d->rec_off, wire_type_name(type));
        return -EBADMSG;
    }
    switch (type) {
    case WIRE_T_PASS:
        if (!d->body_len)
            return dec_bad(d, "empty record");
        rc = xs_parser_feed(d->ps, d->body, d->body_len, &used);
        if (!rc && used != d->body_len)
            return dec_bad(d, "bytes after the end of the stream");
        return rc;
    case WIRE_T_PAGES:
        return dec_pages(d, d->body, d->body_len);
    case WIRE_T_END:
        if (d->body_len != WIRE_END_BYTES)
            return dec_bad(d, "wrong length");
        status = (int32_t)wire_get32(d->body);
        d->st.final_status = status;
        d->done = true;
        if (status > 0 || status < -4095)
            return dec_bad(d, "bad final status");
        if (status) {
            LOGEV(ERROR, -status,
                  "sender aborted the stream at offset %" PRIu64, d->rec_off);
            return status;
        }
        if (!xs_parser_done(d->ps))
            return dec_bad(d, "end before the end of the original stream");
        if (wire_get64(d->body + 8) != d->st.bytes_out ||
            wire_get64(d->body + 16) != d->orig_pages)
            return dec_bad(d, "totals do not match the decoded stream");
        return 0;
    default:
        if (type & 0x80000000u)
            return 0; /* optional: skipped */
        return dec_bad(d, "unknown mandatory record");
    }
}

int codec_dec_feed(struct codec_dec *d, const void *buf, size_t len,
                   size_t *used_r)
{
    const uint8_t *p = buf;
    size_t used = 0, n, u;
    uint64_t t0 = clock_now(d->p.clock), w0 = d->st.write_ns;
    int rc = 0;

    if (d->failed)
        return -EIO;
    while (used < len && !d->done) {
        if (!d->wire) {
            rc = xs_parser_feed(d->ps, p + used, len - used, &u);
            used += u;
            d->in_off += u;
            if (rc)
                break;
            if (xs_parser_switched(d->ps)) {
                rc = dec_switch(d);
                if (rc)
                    break;
            } else if (xs_parser_done(d->ps)) {
                d->done = true;
            }
            continue;
        }
        if (!d->in_body) {
            if (!d->hhave)
                d->rec_off = d->in_off;
            n = WIRE_HDR_BYTES - d->hhave;
            if (n > len - used)
                n = len - used;
            memcpy(d->hdr + d->hhave, p + used, n);
            d->hhave += n;
            used += n;
            d->in_off += n;
            if (d->hhave < WIRE_HDR_BYTES)
                continue;
            d->body_len = wire_get32(d->hdr + 4);
            if (d->body_len > WIRE_BODY_MAX) {
                rc = dec_bad(d, "length over 8 MiB");
                break;
            }
            if (wire_get32(d->hdr + 12)) {
                rc = dec_bad(d, "reserved header field not zero");
                break;
            }
            rc = wire_buf_reserve(&d->body, &d->body_cap, d->body_len);
            if (rc)
                break;
            d->body_have = 0;
            d->in_body = true;
        }
        n = d->body_len - d->body_have;
        if (n > len - used)
            n = len - used;
        memcpy(d->body + d->body_have, p + used, n);
        d->body_have += n;
        used += n;
        d->in_off += n;
        if (d->body_have < d->body_len)
            continue;
        d->in_body = false;
        d->hhave = 0;
        rc = dec_wire_record(d);
        if (rc)
            break;
    }
    d->st.bytes_in += used;
    d->st.codec_ns += clock_now(d->p.clock) - t0 - (d->st.write_ns - w0);
    if (rc) {
        d->failed = true;
        return rc;
    }
    if (used_r) {
        *used_r = used;
    } else if (used < len) {
        LOG(ERROR,
            "malformed stream at offset %" PRIu64
            ": trailing bytes after the end of the stream",
            d->in_off);
        d->failed = true;
        return -EPROTO;
    }
    return 0;
}

int codec_dec_finish(struct codec_dec *d)
{
    int rc;

    if (d->failed)
        return -EIO;
    if (d->done)
        return 0;
    d->failed = true;
    if (!d->wire) {
        rc = xs_parser_finish(d->ps);
        return rc ? rc : -EPROTO;
    }
    if (!d->hhave && !d->in_body)
        d->rec_off = d->in_off;
    LOG(ERROR,
        "malformed wire stream at offset %" PRIu64
        " (wire %s): stream truncated",
        d->rec_off,
        d->hhave >= 4 ? wire_type_name(wire_get32(d->hdr)) : "record header");
    return -EPROTO;
}

bool codec_dec_done(const struct codec_dec *d)
{
    return d->done;
}

void codec_dec_stats(const struct codec_dec *d, struct codec_stats *st)
{
    *st = d->st;
}

int codec_stats_json(const struct codec_stats *s, char *buf, size_t len)
{
    return snprintf(
        buf, len,
        "{\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
        ",\"records\":%" PRIu64 ",\"pages\":%" PRIu64
        ",\"pages_stock\":%" PRIu64 ",\"pages_zero\":%" PRIu64
        ",\"pages_fill\":%" PRIu64 ",\"pages_delta\":%" PRIu64
        ",\"pages_zlib\":%" PRIu64 ",\"pages_zstd\":%" PRIu64
        ",\"pages_lz4\":%" PRIu64 ",\"pages_raw\":%" PRIu64
        ",\"delta_bytes\":%" PRIu64 ",\"delta_overflows\":%" PRIu64
        ",\"cache_hits\":%" PRIu64 ",\"cache_misses\":%" PRIu64
        ",\"cache_evictions\":%" PRIu64 ",\"batches\":%" PRIu64
        ",\"batch_bytes_in\":%" PRIu64 ",\"batch_bytes_out\":%" PRIu64
        ",\"probes\":%" PRIu64 ",\"codec_ns\":%" PRIu64 ",\"write_ns\":%" PRIu64
        ",\"link_bps\":%" PRIu64 ",\"switched\":%s,\"final_status\":%d}",
        s->bytes_in, s->bytes_out, s->records, s->pages, s->pages_stock,
        s->pages_zero, s->pages_fill, s->pages_delta, s->pages_zlib,
        s->pages_zstd, s->pages_lz4, s->pages_raw, s->delta_bytes,
        s->delta_overflows, s->cache_hits, s->cache_misses, s->cache_evictions,
        s->batches, s->batch_bytes_in, s->batch_bytes_out, s->probes,
        s->codec_ns, s->write_ns, s->link_bps, s->switched ? "true" : "false",
        (int)s->final_status);
}
