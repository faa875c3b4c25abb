/* SPDX-License-Identifier: MIT */
/*
 * cmocka round trips of the codec over the simulated guest's streams (a
 * test instrument, tests/sim/): both flavours, every workload, fed in
 * uneven chunks, switched to the wire format in the middle of the stream
 * (as the migrate verbs do once the receiver answers); the decoded stream
 * is byte-identical and restores the guest's memory exactly.
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
#include "engine/codec.h"
#include "../sim/sim.h"

static void run(enum sim_flavour fl, enum sim_workload wl, size_t chunk,
                double switch_at)
{
    struct sim_params sp;
    struct sim_guest *g = NULL;
    struct sim_restore *r = NULL;
    struct sim_buf orig;
    struct tbuf enc, dec;
    struct codec_params p;
    struct codec_enc *e;
    struct codec_dec *d;
    struct codec_stats est, dst;
    size_t off, n, sw;

    sim_params_init(&sp);
    sp.flavour = fl;
    sp.workload = wl;
    sp.ram_pages = 1024;
    sp.seed = 7 + (uint64_t)wl;
    assert_int_equal(sim_guest_new(&sp, &g), 0);
    sim_buf_init(&orig);
    assert_int_equal(sim_guest_save_buf(g, &orig, NULL), 0);

    codec_params_init(&p);
    p.start_raw = switch_at > 0;
    p.cache_bytes = 1 << 20; /* smaller than the guest: evictions */
    tb_init(&enc);
    assert_int_equal(codec_enc_new(&p, tb_write, &enc, &e), 0);
    sw = (size_t)(switch_at * (double)orig.len);
    for (off = 0; off < orig.len; off += n) {
        n = chunk < orig.len - off ? chunk : orig.len - off;
        if (p.start_raw && off <= sw && sw < off + n)
            assert_int_equal(codec_enc_enable_compression(e), 0);
        assert_int_equal(codec_enc_feed(e, orig.data + off, n, NULL), 0);
    }
    assert_int_equal(codec_enc_finish(e), 0);
    codec_enc_stats(e, &est);
    codec_enc_free(e);
    assert_true(est.switched);
    /* never more than a little framing over the original */
    assert_true(enc.len <= orig.len + orig.len / 50);
    if (wl != SIM_WL_RANDOM && !p.start_raw)
        assert_true(enc.len < orig.len);

    tb_init(&dec);
    assert_int_equal(codec_dec_new(NULL, tb_write, &dec, &d), 0);
    for (off = 0; off < enc.len; off += n) {
        n = chunk * 3 / 2 < enc.len - off ? chunk * 3 / 2 : enc.len - off;
        assert_int_equal(codec_dec_feed(d, enc.data + off, n, NULL), 0);
    }
    assert_int_equal(codec_dec_finish(d), 0);
    codec_dec_stats(d, &dst);
    codec_dec_free(d);
    assert_int_equal(dec.len, orig.len);
    assert_memory_equal(dec.data, orig.data, orig.len);
    assert_int_equal(dst.pages_delta, est.pages_delta);
    assert_int_equal(dst.pages_zero, est.pages_zero);

    assert_int_equal(sim_restore_new(fl, sim_guest_p2m_size(g), &r), 0);
    assert_int_equal(sim_restore_buf(r, dec.data, dec.len), 0);
    assert_int_equal(sim_restore_check(r, g), 0);
    sim_restore_free(r);
    tb_dispose(&dec);
    tb_dispose(&enc);
    sim_buf_dispose(&orig);
    sim_guest_free(g);
}

static void test_pv(void **state)
{
    int w;

    for (w = 0; w < SIM_WL_COUNT; w++)
        run(SIM_X86_PV, (enum sim_workload)w, 65536 + 17 * (size_t)w, 0);
}

static void test_hvm(void **state)
{
    int w;

    for (w = 0; w < SIM_WL_COUNT; w++)
        run(SIM_X86_HVM, (enum sim_workload)w, 100003, 0);
}

static void test_switch_mid_stream(void **state)
{
    int w;

    for (w = 0; w < SIM_WL_COUNT; w++) {
        run(SIM_X86_HVM, (enum sim_workload)w, 4099, 0.3);
        run(SIM_X86_PV, (enum sim_workload)w, 1 << 20, 0.6);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pv),
        cmocka_unit_test(test_hvm),
        cmocka_unit_test(test_switch_mid_stream),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
