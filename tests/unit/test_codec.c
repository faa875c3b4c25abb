/* SPDX-License-Identifier: MIT */
/*
 * cmocka tests of the codec (engine/codec.h): every page path, the switch
 * record, truncation at every offset, bit flips caught by the checksum,
 * cache eviction, the adaptive choice under an injected clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_testlib.h"
#include "common/log.h"
#include "engine/codec.h"
#include "engine/wire.h"
#include "engine/xstream.h"

/* Encode in (chunks of `chunk` bytes, 0: all at once) into out. */
static int encode(const struct codec_params *p, const struct tbuf *in,
                  size_t chunk, struct tbuf *out, struct codec_stats *st)
{
    struct codec_enc *e;
    size_t off = 0, n;
    int rc;

    rc = codec_enc_new(p, tb_write, out, &e);
    if (rc)
        return rc;
    while (!rc && off < in->len) {
        n = chunk && chunk < in->len - off ? chunk : in->len - off;
        rc = codec_enc_feed(e, in->data + off, n, NULL);
        off += n;
    }
    if (!rc)
        rc = codec_enc_finish(e);
    if (st)
        codec_enc_stats(e, st);
    codec_enc_free(e);
    return rc;
}

static int decode(const uint8_t *in, size_t len, size_t chunk, struct tbuf *out,
                  struct codec_stats *st)
{
    struct codec_dec *d;
    size_t off = 0, n;
    int rc;

    rc = codec_dec_new(NULL, tb_write, out, &d);
    if (rc)
        return rc;
    while (!rc && off < len) {
        n = chunk && chunk < len - off ? chunk : len - off;
        rc = codec_dec_feed(d, in + off, n, NULL);
        off += n;
    }
    if (!rc)
        rc = codec_dec_finish(d);
    if (st)
        codec_dec_stats(d, st);
    codec_dec_free(d);
    return rc;
}

/* Encode, decode, compare; returns the encoder's stats. */
static void roundtrip(const struct codec_params *p, const struct tbuf *in,
                      size_t chunk, struct codec_stats *est, struct tbuf *enc_r)
{
    struct tbuf enc, dec;
    struct codec_stats dst;

    tb_init(&enc);
    tb_init(&dec);
    assert_int_equal(encode(p, in, chunk, &enc, est), 0);
    assert_int_equal(decode(enc.data, enc.len, chunk, &dec, &dst), 0);
    assert_int_equal(dec.len, in->len);
    assert_memory_equal(dec.data, in->data, in->len);
    assert_int_equal(dst.pages, est->pages);
    assert_int_equal(dst.pages_zero, est->pages_zero);
    assert_int_equal(dst.pages_delta, est->pages_delta);
    if (enc_r)
        *enc_r = enc;
    else
        tb_dispose(&enc);
    tb_dispose(&dec);
}

static void test_all_zero(void **state)
{
    struct tbuf in;
    struct codec_params p;
    struct codec_stats st;
    struct tbuf enc;

    tb_init(&in);
    tb_stream(&in, 2048, 1, TB_ZERO, NULL);
    codec_params_init(&p);
    roundtrip(&p, &in, 0, &st, &enc);
    assert_int_equal(st.pages, 2048);
    assert_int_equal(st.pages_zero, 2048);
    assert_true(st.switched);
    /* 9 bytes per page: its pfn word and its kind byte */
    assert_true(enc.len < 2048 * 10 + 4096);
    tb_dispose(&enc);
    tb_dispose(&in);
}

static void test_all_ff_and_word(void **state)
{
    struct tbuf in;
    struct codec_params p;
    struct codec_stats st;

    tb_init(&in);
    tb_stream(&in, 300, 1, TB_FF, NULL);
    codec_params_init(&p);
    roundtrip(&p, &in, 0, &st, NULL);
    assert_int_equal(st.pages_fill, 300);
    tb_dispose(&in);

    tb_init(&in);
    tb_stream(&in, 300, 1, TB_WORD, NULL);
    roundtrip(&p, &in, 0, &st, NULL);
    assert_int_equal(st.pages_fill, 300);
    tb_dispose(&in);
}

static void change_one_byte(unsigned round, uint64_t pfn, uint8_t *page)
{
    page[(pfn * 131 + round) % 4096] ^= 0x5a;
}

static void test_one_byte_changed(void **state)
{
    struct tbuf in;
    struct codec_params p;
    struct codec_stats st;

    tb_init(&in);
    tb_stream(&in, 1500, 4, TB_TEXT, change_one_byte);
    codec_params_init(&p);
    roundtrip(&p, &in, 0, &st, NULL);
    assert_int_equal(st.pages, 6000);
    assert_int_equal(st.pages_delta, 4500);
    assert_int_equal(st.cache_hits, 4500);
    /* one changed byte: zero run, run length, the byte */
    assert_true(st.delta_bytes <= 4500 * 4);
    tb_dispose(&in);
}

static void change_all(unsigned round, uint64_t pfn, uint8_t *page)
{
    tb_fill_page(page, TB_RANDOM, pfn * 7 + round * 100003);
}

static void test_delta_past_page(void **state)
{
    struct tbuf in;
    struct codec_params p;
    struct codec_stats st;

    tb_init(&in);
    tb_stream(&in, 500, 3, TB_TEXT, change_all);
    codec_params_init(&p);
    roundtrip(&p, &in, 0, &st, NULL);
    assert_int_equal(st.cache_hits, 1000);
    assert_int_equal(st.delta_overflows, 1000);
    assert_int_equal(st.pages_delta, 0);
    tb_dispose(&in);
}

static void test_cache_eviction(void **state)
{
    struct tbuf in;
    struct codec_params p;
    struct codec_stats st;

    tb_init(&in);
    tb_stream(&in, 256, 3, TB_TEXT, change_one_byte);
    codec_params_init(&p);
    /*
     * 64 pages for 256 pfns sent in a cycle: the first 64 sends fill it,
     * later first sends never evict; re-sends then cycle through it.
     */
    p.cache_bytes = 64 * 4096;
    roundtrip(&p, &in, 0, &st, NULL);
    assert_true(st.cache_evictions > 0);
    assert_true(st.pages_delta < 256);
    /* 50 sets of 4 ways: the sets with 4 pfns or fewer keep them */
    p.cache_bytes = 200 * 4096;
    roundtrip(&p, &in, 0, &st, NULL);
    assert_true(st.cache_evictions > 0);
    assert_true(st.cache_misses > 0);
    assert_true(st.pages_delta > 0);
    assert_true(st.pages_delta < 512);
    /* enough for all: every re-sent page is a delta */
    p.cache_bytes = 1024 * 4096;
    roundtrip(&p, &in, 0, &st, NULL);
    assert_int_equal(st.pages_delta, 512);
    assert_int_equal(st.cache_evictions, 0);
    tb_dispose(&in);

    /* no cache at all */
    tb_init(&in);
    tb_stream(&in, 64, 3, TB_TEXT, change_one_byte);
    p.flags = CODEC_F_NO_DELTA;
    roundtrip(&p, &in, 0, &st, NULL);
    assert_int_equal(st.pages_delta, 0);
    assert_int_equal(st.cache_hits, 0);
    tb_dispose(&in);
}

static void test_methods(void **state)
{
    static const enum codec_method m[] = { CODEC_RAW, CODEC_ZLIB, CODEC_ZSTD,
                                           CODEC_LZ4, CODEC_ADAPTIVE };
    struct tbuf in;
    struct codec_params p;
    struct codec_stats st;
    unsigned i;

    tb_init(&in);
    tb_stream(&in, 1100, 1, TB_TEXT, NULL);
    for (i = 0; i < 5; i++) {
        codec_params_init(&p);
        p.method = m[i];
        p.link_bps = 100000; /* slow: the adaptive codec compresses */
        roundtrip(&p, &in, 0, &st, NULL);
        assert_int_equal(st.pages_zero + st.pages_fill + st.pages_delta +
                             st.pages_raw + st.pages_zlib + st.pages_zstd +
                             st.pages_lz4,
                         1100);
        switch (m[i]) {
        case CODEC_RAW:
            assert_int_equal(st.pages_raw, 1100);
            break;
        case CODEC_ZLIB:
            assert_int_equal(st.pages_zlib, 1100);
            break;
        case CODEC_ZSTD:
            assert_int_equal(st.pages_zstd, 1100);
            break;
        case CODEC_LZ4:
            assert_int_equal(st.pages_lz4, 1100);
            break;
        default:
            break;
        }
        if (m[i] != CODEC_RAW)
            assert_true(st.bytes_out < in.len / 2);
    }
    /* incompressible: stored raw whatever the method */
    tb_dispose(&in);
    tb_init(&in);
    tb_stream(&in, 200, 1, TB_RANDOM, NULL);
    codec_params_init(&p);
    p.method = CODEC_ZSTD;
    roundtrip(&p, &in, 0, &st, NULL);
    assert_int_equal(st.pages_raw, 200);
    assert_true(st.bytes_out < in.len + in.len / 50);
    tb_dispose(&in);
}

static void test_chunking(void **state)
{
    struct tbuf in;
    struct codec_params p;
    struct codec_stats st;

    tb_init(&in);
    tb_stream(&in, 40, 3, TB_TEXT, change_one_byte);
    codec_params_init(&p);
    roundtrip(&p, &in, 1, &st, NULL);
    roundtrip(&p, &in, 4095, &st, NULL);
    roundtrip(&p, &in, 7, &st, NULL);
    assert_int_equal(st.pages_delta, 80);
    tb_dispose(&in);
}

/* start_raw: never switched is byte-identical; switched mid-stream. */
static void test_switch(void **state)
{
    struct tbuf in, out, dec;
    struct codec_params p;
    struct codec_enc *e;
    struct codec_stats st;
    size_t half, i, sw = 0;

    tb_init(&in);
    tb_stream(&in, 3000, 2, TB_TEXT, change_one_byte);
    codec_params_init(&p);
    p.start_raw = true;
    p.link_bps = 100000; /* slow: the adaptive codec compresses */

    tb_init(&out);
    assert_int_equal(encode(&p, &in, 65536, &out, &st), 0);
    assert_false(st.switched);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.data, in.data, in.len);
    tb_init(&dec);
    assert_int_equal(decode(out.data, out.len, 0, &dec, NULL), 0);
    assert_memory_equal(dec.data, in.data, in.len);
    tb_dispose(&dec);
    tb_dispose(&out);

    /* switch asked for in the middle of a PAGE_DATA record */
    tb_init(&out);
    assert_int_equal(codec_enc_new(&p, tb_write, &out, &e), 0);
    half = in.len / 3 + 12345;
    assert_int_equal(codec_enc_feed(e, in.data, half, NULL), 0);
    assert_int_equal(codec_enc_enable_compression(e), 0);
    assert_int_equal(codec_enc_feed(e, in.data + half, in.len - half, NULL), 0);
    assert_int_equal(codec_enc_finish(e), 0);
    codec_enc_stats(e, &st);
    codec_enc_free(e);
    assert_true(st.switched);
    assert_true(st.pages_stock > 0 && st.pages_stock < st.pages);
    assert_true(out.len < in.len / 4 * 3);
    /* the output is the input up to the switch record */
    for (i = 0; i + 8 <= out.len; i++) {
        if (wire_get32(out.data + i) == XS_LIBXC_XLMIG_SWITCH &&
            wire_get32(out.data + i + 4) == WIRE_SWITCH_BYTES) {
            sw = i;
            break;
        }
    }
    assert_true(sw >= half);
    assert_memory_equal(out.data, in.data, sw);
    assert_int_equal(wire_get64(out.data + sw + 8), WIRE_MAGIC);
    tb_init(&dec);
    assert_int_equal(decode(out.data, out.len, 1000, &dec, &st), 0);
    assert_int_equal(dec.len, in.len);
    assert_memory_equal(dec.data, in.data, in.len);
    assert_true(st.switched);
    tb_dispose(&dec);
    tb_dispose(&out);
    tb_dispose(&in);
}

/* Bytes after the end (xl's GO message) are left to the caller. */
static void test_trailing(void **state)
{
    struct tbuf in, enc, dec;
    struct codec_params p;
    struct codec_stats st;
    struct codec_dec *d;
    size_t used;

    tb_init(&in);
    tb_stream(&in, 10, 1, TB_TEXT, NULL);
    codec_params_init(&p);
    roundtrip(&p, &in, 0, &st, &enc);
    tb_put(&enc, "GO!", 3);
    tb_init(&dec);
    assert_int_equal(codec_dec_new(NULL, tb_write, &dec, &d), 0);
    assert_int_equal(codec_dec_feed(d, enc.data, enc.len, &used), 0);
    assert_int_equal(used, enc.len - 3);
    assert_true(codec_dec_done(d));
    assert_int_equal(codec_dec_finish(d), 0);
    codec_dec_free(d);
    assert_memory_equal(dec.data, in.data, in.len);
    tb_dispose(&dec);

    /* without used_r the trailing bytes are an error */
    tb_init(&dec);
    tb_log_capture();
    assert_int_equal(decode(enc.data, enc.len, 0, &dec, NULL), -EPROTO);
    assert_int_equal(tb_log_lines, 1);
    assert_non_null(strstr(tb_log_last, "trailing"));
    log_set_sink(NULL, NULL);
    tb_dispose(&dec);
    tb_dispose(&enc);
    tb_dispose(&in);
}

/* A small encoded stream with every page kind. */
static void mixed_stream(struct tbuf *in, struct tbuf *enc)
{
    struct codec_params p;
    struct codec_stats st;
    uint8_t pages[6 * 4096];
    uint64_t pfn[7] = { 1, 2, 3, 4, 5, 6, 7 };
    unsigned types[7] = { 0, 0, 0, 0, 0xf, 0, 1 };

    tb_init(in);
    tb_xl_header(in, "{}");
    tb_libxl_header(in);
    tb_rec(in, XS_LIBXL_LIBXC_CONTEXT, NULL, 0);
    tb_libxc_header(in, 1);
    tb_fill_page(pages, TB_ZERO, 0);
    tb_fill_page(pages + 4096, TB_FF, 0);
    tb_fill_page(pages + 2 * 4096, TB_WORD, 1);
    tb_fill_page(pages + 3 * 4096, TB_TEXT, 2);
    tb_fill_page(pages + 4 * 4096, TB_RANDOM, 3);
    tb_fill_page(pages + 5 * 4096, TB_TEXT, 4);
    tb_page_data(in, 7, pfn, types, pages);
    tb_page_data(in, 7, pfn, types, pages); /* second send: cached */
    pages[4 * 4096 + 100] ^= 1;             /* pfn 6: delta */
    pages[3 * 4096 + 7] ^= 1;               /* pfn 4: delta */
    tb_page_data(in, 7, pfn, types, pages);
    pfn[0] = 8; /* fresh and incompressible: stored */
    tb_page_data(in, 1, pfn, NULL, pages + 4 * 4096);
    tb_rec(in, XS_LIBXC_END, NULL, 0);
    tb_rec(in, XS_LIBXL_END, NULL, 0);
    codec_params_init(&p);
    p.method = CODEC_LZ4;
    p.cache_bytes = 16 * 4096;
    tb_init(enc);
    assert_int_equal(encode(&p, in, 0, enc, &st), 0);
    assert_true(st.pages_zero && st.pages_fill && st.pages_delta &&
                st.pages_lz4 && st.pages_raw);
}

static void test_truncation(void **state)
{
    struct tbuf in, enc, dec;
    size_t cut;
    int rc;

    mixed_stream(&in, &enc);
    tb_log_capture();
    for (cut = 0; cut < enc.len; cut++) {
        tb_init(&dec);
        tb_log_lines = 0;
        rc = decode(enc.data, cut, 0, &dec, NULL);
        assert_int_equal(rc, -EPROTO);
        assert_int_equal(tb_log_lines, 1);
        assert_non_null(strstr(tb_log_last, "offset"));
        tb_dispose(&dec);
    }
    /* the original stream cut in a header or a page: refused too */
    for (cut = 0; cut < in.len; cut += cut < 200 ? 1 : 1021) {
        struct codec_params p;
        struct tbuf part = { in.data, cut, cut };

        tb_init(&dec);
        tb_log_lines = 0;
        codec_params_init(&p);
        p.cache_bytes = 1 << 20;
        rc = encode(&p, &part, 0, &dec, NULL);
        assert_int_equal(rc, -EPROTO);
        assert_int_equal(tb_log_lines, 1);
        assert_non_null(strstr(tb_log_last, "offset"));
        tb_dispose(&dec);
    }
    log_set_sink(NULL, NULL);
    tb_dispose(&enc);
    tb_dispose(&in);
}

static void test_bit_flips(void **state)
{
    struct tbuf in, enc, dec;
    size_t i, sw = 0;
    int rc;

    mixed_stream(&in, &enc);
    for (i = 0; i + 8 <= enc.len; i++)
        if (wire_get32(enc.data + i) == XS_LIBXC_XLMIG_SWITCH) {
            sw = i;
            break;
        }
    assert_true(sw > 0);
    tb_log_capture();
    /*
     * The switch record and every wire record after it: every bit of the
     * first 64 bytes, then one bit (byte % 8) of every third byte.
     */
    for (i = sw * 8; i < enc.len * 8; i++) {
        if (i >= (sw + 64) * 8 && (i % 8 != (i / 8) % 8 || (i / 8) % 3))
            continue;
        enc.data[i / 8] ^= (uint8_t)(1u << (i % 8));
        tb_init(&dec);
        tb_log_lines = 0;
        rc = decode(enc.data, enc.len, 0, &dec, NULL);
        enc.data[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (rc != -EPROTO && rc != -EBADMSG)
            fail_msg("bit %zu (byte %zu) flipped: rc %d", i % 8, i / 8, rc);
        assert_int_equal(tb_log_lines, 1);
        /*
         * Nothing decoded from a corrupt record reaches the output.  (A
         * flip in the switch record's type can turn it into an optional
         * libxc record, passed through as stock bytes until the wire
         * bytes after it fail to parse: not covered by the checksum.)
         */
        if (i >= (sw + 8) * 8) {
            assert_true(dec.len <= in.len);
            assert_memory_equal(dec.data, in.data, dec.len);
        }
        tb_dispose(&dec);
    }
    log_set_sink(NULL, NULL);
    tb_dispose(&enc);
    tb_dispose(&in);
}

static void test_abort(void **state)
{
    struct tbuf in, out, dec;
    struct codec_params p;
    struct codec_enc *e;
    struct codec_stats st;

    tb_init(&in);
    tb_stream(&in, 100, 1, TB_TEXT, NULL);
    codec_params_init(&p);
    tb_init(&out);
    assert_int_equal(codec_enc_new(&p, tb_write, &out, &e), 0);
    assert_int_equal(codec_enc_feed(e, in.data, in.len / 2, NULL), 0);
    assert_int_equal(codec_enc_abort(e, -ECANCELED), 0);
    codec_enc_free(e);
    tb_init(&dec);
    tb_log_capture();
    assert_int_equal(decode(out.data, out.len, 0, &dec, &st), -ECANCELED);
    assert_int_equal(st.final_status, -ECANCELED);
    assert_int_equal(tb_log_lines, 1);
    log_set_sink(NULL, NULL);
    tb_dispose(&dec);
    tb_dispose(&out);
    tb_dispose(&in);
}

/* Injected clock: 1 ms per reading; a write blocks len / link_bps. */
struct fake {
    uint64_t now_ns;
    uint64_t step_ns;
    double link_bps;
    struct tbuf out;
};

static uint64_t fake_now(void *opaque)
{
    struct fake *f = opaque;

    f->now_ns += f->step_ns;
    return f->now_ns;
}

static int fake_write(void *opaque, const void *buf, size_t len)
{
    struct fake *f = opaque;

    if (f->link_bps > 0)
        f->now_ns += (uint64_t)((double)len / f->link_bps * 1e9);
    tb_put(&f->out, buf, len);
    return 0;
}

static void run_fake2(struct fake *f, const struct tbuf *in, uint64_t set_bps,
                      struct codec_stats *st, struct codec_stats *dst);

static void run_fake(struct fake *f, const struct tbuf *in, uint64_t set_bps,
                     struct codec_stats *st)
{
    run_fake2(f, in, set_bps, st, NULL);
}

static void run_fake2(struct fake *f, const struct tbuf *in, uint64_t set_bps,
                      struct codec_stats *st, struct codec_stats *dst)
{
    struct codec_params p;
    struct codec_clock clk = { fake_now, f };
    struct codec_enc *e;
    struct tbuf dec;

    codec_params_init(&p);
    p.clock = &clk;
    p.link_bps = set_bps;
    p.live_ratio_first = false; /* these runs test the time model */
    tb_init(&f->out);
    assert_int_equal(codec_enc_new(&p, fake_write, f, &e), 0);
    assert_int_equal(codec_enc_feed(e, in->data, in->len, NULL), 0);
    assert_int_equal(codec_enc_finish(e), 0);
    codec_enc_stats(e, st);
    codec_enc_free(e);
    tb_init(&dec);
    assert_int_equal(decode(f->out.data, f->out.len, 0, &dec, dst), 0);
    assert_int_equal(dec.len, in->len);
    assert_memory_equal(dec.data, in->data, in->len);
    tb_dispose(&dec);
    tb_dispose(&f->out);
}

static void test_adaptive(void **state)
{
    struct tbuf in;
    struct codec_stats st;
    struct fake f;

    tb_init(&in);
    tb_stream(&in, 8192, 1, TB_TEXT, NULL);

    /* every compressor costs 1 ms per batch; a 100 GB/s link: raw */
    memset(&f, 0, sizeof(f));
    f.step_ns = 1000000;
    run_fake(&f, &in, 100000000000ull, &st);
    assert_int_equal(st.pages_raw, 8192);
    /* (probes may run: they cost CPU, not bytes) */

    /* a 10 MB/s link: compress, with the best ratio seen */
    memset(&f, 0, sizeof(f));
    f.step_ns = 1000000;
    run_fake(&f, &in, 10000000, &st);
    assert_int_equal(st.pages_raw, 0);
    assert_true(st.pages_zlib + st.pages_zstd > 8192 / 2);
    assert_true(st.probes > 0);

    /* link measured from the time the write callback blocks: 20 MB/s */
    memset(&f, 0, sizeof(f));
    f.step_ns = 1000;
    f.link_bps = 20e6;
    run_fake(&f, &in, 0, &st);
    assert_true(st.link_bps > 15000000 && st.link_bps < 25000000);
    assert_int_equal(st.pages_raw, 0);
    assert_true(st.write_ns > 0);
    tb_dispose(&in);
}

/*
 * Live rounds vs the final round (live_ratio_first, the default), with
 * compressors that cost 1 ms a batch.  On a 10 MB/s link the link sets
 * the pace: the live part goes with zstd-3 (the fewest bytes of the fast
 * methods, never zlib) although another method may model a little
 * faster.  On a link far faster than the compressors the encoder would
 * set the pace: stored, live and final alike.  Byte-exact either way.
 */
static void live_final_run(uint64_t link_bps, struct codec_stats *st_live,
                           struct codec_stats *st)
{
    struct tbuf in, dec;
    struct codec_params p;
    struct fake f;
    struct codec_clock clk = { fake_now, &f };
    struct codec_enc *e;
    size_t half;

    tb_init(&in);
    tb_stream(&in, 8192, 1, TB_TEXT, NULL);
    half = in.len / 2;
    memset(&f, 0, sizeof(f));
    f.step_ns = 1000000;
    codec_params_init(&p);
    assert_true(p.live_ratio_first);
    p.clock = &clk;
    p.link_bps = link_bps;
    tb_init(&f.out);
    assert_int_equal(codec_enc_new(&p, fake_write, &f, &e), 0);
    assert_int_equal(codec_enc_feed(e, in.data, half, NULL), 0);
    codec_enc_stats(e, st_live);
    codec_enc_set_final(e);
    assert_int_equal(codec_enc_feed(e, in.data + half, in.len - half, NULL), 0);
    assert_int_equal(codec_enc_finish(e), 0);
    codec_enc_stats(e, st);
    codec_enc_free(e);
    tb_init(&dec);
    assert_int_equal(decode(f.out.data, f.out.len, 0, &dec, NULL), 0);
    assert_int_equal(dec.len, in.len);
    assert_memory_equal(dec.data, in.data, in.len);
    tb_dispose(&dec);
    tb_dispose(&f.out);
    tb_dispose(&in);
}

static void test_adaptive_live_final(void **state)
{
    struct codec_stats st, st_live;

    /* the link sets the pace: live zstd-3, none stored, no zlib */
    live_final_run(10000000, &st_live, &st);
    assert_true(st_live.pages_zstd >= 3 * 1024);
    assert_int_equal(st_live.pages_raw, 0);
    assert_int_equal(st_live.pages_zlib, 0);
    /* the encoder would: stored, live (no zstd for its bytes) and final */
    live_final_run(100000000000ull, &st_live, &st);
    assert_true(st_live.pages_raw >= 3 * 1024);
    assert_int_equal(st_live.pages_zstd + st_live.pages_zlib, 0);
    assert_true(st.pages_raw >= 7 * 1024);
}

static void change_256(unsigned round, uint64_t pfn, uint8_t *page)
{
    memset(page + (pfn * 64) % 3840, (int)(round * 7 + pfn), 256);
}

/*
 * Pass-through: incompressible pages, an analysis that looks slow (1 ms
 * per clock reading) and a link faster than it: whole PAGE_DATA records
 * go in PASS records (the decoder sees no PAGES for them, so its batch
 * page count stays below the encoder's raw count), still byte-exact, with
 * the first 4 data records and then one in 16 analysed.
 */
static void test_adaptive_pass(void **state)
{
    struct tbuf in;
    struct codec_stats st, dst;
    struct fake f;

    tb_init(&in);
    tb_stream(&in, 4096, 4, TB_RANDOM, change_256);
    memset(&f, 0, sizeof(f));
    f.step_ns = 1000000;
    run_fake2(&f, &in, 100000000000ull, &st, &dst);
    assert_int_equal(st.pages, 4 * 4096);
    assert_int_equal(st.pages_raw, st.pages);       /* analysed ones: stored */
    assert_true(dst.pages_raw > 0);                 /* some analysed ... */
    assert_true(dst.pages_raw * 2 <= st.pages_raw); /* ... most passed */
    assert_int_equal(dst.pages_delta, 0);
    tb_dispose(&in);

    /*
     * The same stream on a 10 MB/s link (the link is the bottleneck):
     * never passed, so rounds 1-3 go as deltas against round 0.
     */
    tb_init(&in);
    tb_stream(&in, 4096, 4, TB_RANDOM, change_256);
    memset(&f, 0, sizeof(f));
    f.step_ns = 1000000;
    run_fake2(&f, &in, 10000000, &st, &dst);
    assert_int_equal(dst.pages_raw, st.pages_raw); /* nothing passed */
    assert_int_equal(st.pages_raw, 4096);
    assert_int_equal(st.pages_delta, 3 * 4096);
    tb_dispose(&in);
}

static void test_params(void **state)
{
    struct codec_params p;
    struct codec_enc *e;
    struct tbuf out;
    enum codec_method m;

    tb_init(&out);
    codec_params_init(&p);
    assert_int_equal(p.cache_bytes, 64ull << 20);
    p.cache_bytes = CODEC_CACHE_BYTES_MAX + 1;
    assert_int_equal(codec_enc_new(&p, tb_write, &out, &e), -EINVAL);
    codec_params_init(&p);
    p.method = CODEC_ZLIB;
    p.level = 10;
    assert_int_equal(codec_enc_new(&p, tb_write, &out, &e), -EINVAL);
    assert_int_equal(codec_method_parse("zstd", &m), 0);
    assert_int_equal(m, CODEC_ZSTD);
    assert_int_equal(codec_method_parse("gzip", &m), -EINVAL);
    assert_string_equal(codec_method_name(CODEC_LZ4), "lz4");
    codec_enc_free(NULL);
    codec_dec_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_zero),
        cmocka_unit_test(test_all_ff_and_word),
        cmocka_unit_test(test_one_byte_changed),
        cmocka_unit_test(test_delta_past_page),
        cmocka_unit_test(test_cache_eviction),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_switch),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_adaptive),
        cmocka_unit_test(test_adaptive_pass),
        cmocka_unit_test(test_adaptive_live_final),
        cmocka_unit_test(test_params),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
