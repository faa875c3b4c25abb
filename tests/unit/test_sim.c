/* SPDX-License-Identifier: MIT */
/*
 * cmocka tests of the simulated guest backend (tests/sim/, a test
 * instrument): its streams have Xen's layout and log-dirty semantics, and
 * its restore check catches what it must catch.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "../sim/sim.h"
#include "../sim/sim_priv.h"

#define MAX_RECS 4096

/* Where the libxc records of a stream are. */
struct walk {
    size_t n;
    size_t off[MAX_RECS]; /* offset of the record header */
    uint32_t type[MAX_RECS];
    uint32_t len[MAX_RECS];
    size_t libxl_end_off;
};

static void walk_stream(const uint8_t *b, size_t len, struct walk *w)
{
    size_t o = 32 + 16;

    memset(w, 0, sizeof(*w));
    assert_true(len > o);
    o += sim_get_le32(b + 44);                /* xl optional data */
    o += 16;                                  /* libxl header */
    assert_int_equal(sim_get_le32(b + o), 1); /* LIBXC_CONTEXT */
    o += 8 + 24 + 16;                         /* record, ihdr, dhdr */
    for (;;) {
        uint32_t t, l;

        assert_true(o + 8 <= len);
        assert_true(w->n < MAX_RECS);
        t = sim_get_le32(b + o);
        l = sim_get_le32(b + o + 4);
        w->off[w->n] = o;
        w->type[w->n] = t;
        w->len[w->n] = l;
        w->n++;
        o += 8 + ((l + 7u) & ~7u);
        if (t == 0)
            break;
    }
    w->libxl_end_off = o;
    assert_int_equal(o + 8, len);
}

struct gen {
    struct sim_params p;
    struct sim_guest *g;
    struct sim_buf b;
    struct sim_save_stats st;
};

static void gen(struct gen *x, enum sim_flavour f, enum sim_workload wl,
                uint64_t pages, uint64_t special)
{
    sim_params_init(&x->p);
    x->p.flavour = f;
    x->p.workload = wl;
    x->p.ram_pages = pages;
    x->p.special_pfn = special;
    sim_buf_init(&x->b);
    assert_int_equal(sim_guest_new(&x->p, &x->g), 0);
    assert_int_equal(sim_guest_save_buf(x->g, &x->b, &x->st), 0);
    assert_int_equal(x->b.len, x->st.stream_bytes);
}

static void gen_free(struct gen *x)
{
    sim_guest_free(x->g);
    sim_buf_dispose(&x->b);
}

/* Restore buf and check it against x's guest. */
static int restore_check(struct gen *x, const uint8_t *buf, size_t len,
                         uint64_t max_pfns, int *check_rc)
{
    struct sim_restore *r;
    int rc;

    assert_int_equal(sim_restore_new(x->p.flavour, max_pfns, &r), 0);
    rc = sim_restore_buf(r, buf, len);
    if (!rc && check_rc)
        *check_rc = sim_restore_check(r, x->g);
    sim_restore_free(r);
    return rc;
}

static void test_every_workload_restores(void **state)
{
    int f, wl;

    for (f = SIM_X86_PV; f <= SIM_X86_HVM; f++)
        for (wl = 0; wl < SIM_WL_COUNT; wl++) {
            struct gen x;
            int crc = -1;

            gen(&x, f, wl, 1024, 0x2000);
            assert_int_equal(restore_check(&x, x.b.data, x.b.len,
                                           sim_guest_p2m_size(x.g), &crc),
                             0);
            assert_int_equal(crc, 0);
            gen_free(&x);
        }
}

static void test_deterministic(void **state)
{
    struct gen a, b, c;

    gen(&a, SIM_X86_HVM, SIM_WL_HOTSET, 512, 0x1000);
    gen(&b, SIM_X86_HVM, SIM_WL_HOTSET, 512, 0x1000);
    assert_int_equal(a.b.len, b.b.len);
    assert_memory_equal(a.b.data, b.b.data, a.b.len);
    sim_params_init(&c.p);
    c.p.workload = SIM_WL_HOTSET;
    c.p.ram_pages = 512;
    c.p.special_pfn = 0x1000;
    c.p.seed = 2;
    sim_buf_init(&c.b);
    assert_int_equal(sim_guest_new(&c.p, &c.g), 0);
    assert_int_equal(sim_guest_save_buf(c.g, &c.b, NULL), 0);
    assert_true(c.b.len != a.b.len || memcmp(a.b.data, c.b.data, a.b.len));
    gen_free(&a);
    gen_free(&b);
    gen_free(&c);
}

/* Xen's record order (xg_sr_save*.c); PAGE_DATA records squashed. */
static void check_order(const struct walk *w, const uint32_t *want,
                        size_t nwant)
{
    size_t i, k = 0;

    for (i = 0; i < w->n; i++) {
        if (w->type[i] == 1 && k > 0 && want[k - 1] == 1)
            continue;
        assert_true(k < nwant);
        assert_int_equal(w->type[i], want[k]);
        k++;
    }
    assert_int_equal(k, nwant);
}

static void test_record_order(void **state)
{
    static const uint32_t hvm[] = { 0x11, 0x12, 0x10, 0x01,
                                    0x08, 0x09, 0x0a, 0x00 };
    /* one vcpu */
    static const uint32_t pv[] = { 0x02, 0x11, 0x12, 0x10, 0x03, 0x01, 0x08,
                                   0x07, 0x04, 0x05, 0x06, 0x0c, 0x00 };
    struct gen x;
    struct walk *w = malloc(sizeof(*w));

    assert_non_null(w);
    gen(&x, SIM_X86_HVM, SIM_WL_IDLE, 512, 0);
    walk_stream(x.b.data, x.b.len, w);
    check_order(w, hvm, sizeof(hvm) / sizeof(hvm[0]));
    gen_free(&x);
    gen(&x, SIM_X86_PV, SIM_WL_TEXT, 512, 0);
    walk_stream(x.b.data, x.b.len, w);
    check_order(w, pv, sizeof(pv) / sizeof(pv[0]));
    gen_free(&x);
    free(w);
}

/* Batches of at most 1024 pfns; round 0 covers the whole p2m. */
static void test_page_data_batches(void **state)
{
    struct gen x;
    struct walk *w = malloc(sizeof(*w));
    uint64_t pfns = 0, xtab = 0, pt = 0, pinned = 0;
    size_t i;

    assert_non_null(w);
    gen(&x, SIM_X86_PV, SIM_WL_IDLE, 2048, 0);
    walk_stream(x.b.data, x.b.len, w);
    for (i = 0; i < w->n; i++) {
        const uint8_t *r = x.b.data + w->off[i] + 8;
        uint32_t count, k, data = 0;

        if (w->type[i] != 1)
            continue;
        count = sim_get_le32(r);
        assert_true(count >= 1 && count <= 1024);
        for (k = 0; k < count; k++) {
            uint64_t word = sim_get_le64(r + 8 + 8 * k);
            unsigned int t = word >> 60;

            assert_true(t <= 4 || t == 0xc || t == 0xf);
            pt += t >= 1 && t <= 4;
            pinned += t == 0xc;
            data += t != 0xf;
        }
        assert_int_equal(w->len[i], 8 + 8 * count + 4096 * data);
        pfns += count;
    }
    assert_int_equal(pfns, x.st.pfns[0] + x.st.pfns[1] + x.st.pfns[2]);
    assert_int_equal(x.st.pfns[0], 2048);
    /* 4 L1 + 1 L2 + 1 L3 typed; the L4 pinned, once per round sent */
    assert_int_equal(pt, 6);
    assert_int_equal(pinned, 1);
    gen_free(&x);

    gen(&x, SIM_X86_HVM, SIM_WL_IDLE, 2048, 0);
    assert_int_equal(x.st.pfns[0], SIM_HVM_SPECIAL_PFN + 16);
    assert_int_equal(x.st.pages[0], 2048 + 16);
    walk_stream(x.b.data, x.b.len, w);
    for (i = 0; i < w->n; i++) {
        const uint8_t *r = x.b.data + w->off[i] + 8;
        uint32_t k;

        if (w->type[i] != 1)
            continue;
        for (k = 0; k < sim_get_le32(r); k++)
            xtab += (sim_get_le64(r + 8 + 8 * k) >> 60) == 0xf;
    }
    assert_int_equal(xtab, SIM_HVM_SPECIAL_PFN - 2048);
    gen_free(&x);
    free(w);
}

static void test_logdirty_rounds(void **state)
{
    struct gen x;
    unsigned int i;

    /* increment: every page dirtied every round, 5 live rounds + paused */
    gen(&x, SIM_X86_HVM, SIM_WL_INCREMENT, 1024, 0x1000);
    assert_int_equal(x.st.rounds, 6);
    for (i = 1; i < x.st.rounds; i++)
        assert_int_equal(x.st.pages[i], 1024);
    gen_free(&x);

    /* idle dirties 8 pages a round: below 50, stop after round 1 */
    gen(&x, SIM_X86_PV, SIM_WL_IDLE, 1024, 0);
    assert_int_equal(x.st.rounds, 3);
    assert_true(x.st.pages[1] >= 1 && x.st.pages[1] <= 8);
    assert_true(x.st.pages[2] >= 1 && x.st.pages[2] <= 8);
    gen_free(&x);
}

static void test_idle_is_mostly_zero(void **state)
{
    struct gen x;
    uint64_t pfn, zero = 0, cc = 0;

    gen(&x, SIM_X86_HVM, SIM_WL_IDLE, 8192, 0x4000);
    for (pfn = 0; pfn < 8192; pfn++) {
        const uint8_t *pg = sim_guest_page(x.g, pfn);

        zero += sim_page_is_zero(pg);
        cc += pg[0] == 0xcc && pg[4095] == 0xcc && pg[2048] == 0xcc;
    }
    assert_true(zero > 8192 * 60 / 100 && zero < 8192 * 80 / 100);
    assert_true(cc > 8192 * 2 / 100 && cc < 8192 * 10 / 100);
    gen_free(&x);
}

/* Last PAGE_DATA record with data: offset of its last page's byte 100. */
static size_t last_page_byte(const struct gen *x)
{
    struct walk *w = malloc(sizeof(*w));
    size_t i, o = 0;

    assert_non_null(w);
    walk_stream(x->b.data, x->b.len, w);
    for (i = 0; i < w->n; i++)
        if (w->type[i] == 1 &&
            w->len[i] > 8 + 8 * sim_get_le32(x->b.data + w->off[i] + 8))
            o = w->off[i] + 8 + w->len[i] - 4096 + 100;
    free(w);
    assert_true(o != 0);
    return o;
}

static void test_flipped_byte_caught(void **state)
{
    struct gen x;
    size_t o;
    int crc = 0;

    gen(&x, SIM_X86_PV, SIM_WL_HOTSET, 1024, 0);
    o = last_page_byte(&x);
    x.b.data[o] ^= 0x01;
    /* still a well-formed stream: the memory check must catch it */
    assert_int_equal(
        restore_check(&x, x.b.data, x.b.len, sim_guest_p2m_size(x.g), &crc), 0);
    assert_int_equal(crc, -EIO);
    x.b.data[o] ^= 0x01;
    assert_int_equal(
        restore_check(&x, x.b.data, x.b.len, sim_guest_p2m_size(x.g), &crc), 0);
    assert_int_equal(crc, 0);
    /* the sender's memory changing after the save is caught too */
    sim_guest_page(x.g, 7)[4095] ^= 0x80;
    assert_int_equal(
        restore_check(&x, x.b.data, x.b.len, sim_guest_p2m_size(x.g), &crc), 0);
    assert_int_equal(crc, -EIO);
    gen_free(&x);
}

static void test_truncation_refused(void **state)
{
    struct gen x;
    size_t cut;

    gen(&x, SIM_X86_PV, SIM_WL_IDLE, 256, 0);
    /* every offset through the headers and static records, then a stride */
    for (cut = 0; cut < x.b.len; cut += cut < 4096 ? 1 : 4093)
        assert_int_equal(
            restore_check(&x, x.b.data, cut, sim_guest_p2m_size(x.g), NULL),
            -EPROTO);
    /* and trailing garbage */
    assert_int_equal(sim_buf_write(&x.b, "x", 1), 0);
    assert_int_equal(
        restore_check(&x, x.b.data, x.b.len, sim_guest_p2m_size(x.g), NULL),
        -EPROTO);
    gen_free(&x);
}

static void test_bad_page_data_refused(void **state)
{
    struct gen x;
    struct walk *w = malloc(sizeof(*w));
    size_t i, first = 0;
    uint8_t *cnt, save[8];

    assert_non_null(w);
    gen(&x, SIM_X86_HVM, SIM_WL_TEXT, 512, 0x800);
    walk_stream(x.b.data, x.b.len, w);
    for (i = 0; i < w->n && !first; i++)
        if (w->type[i] == 1)
            first = w->off[i];
    cnt = x.b.data + first + 8;
    memcpy(save, cnt, 8);
    sim_put_le32(cnt, 1025);
    assert_int_equal(restore_check(&x, x.b.data, x.b.len, 0x810, NULL),
                     -EPROTO);
    sim_put_le32(cnt, 0);
    assert_int_equal(restore_check(&x, x.b.data, x.b.len, 0x810, NULL),
                     -EPROTO);
    memcpy(cnt, save, 8);
    sim_put_le32(cnt + 4, 1); /* reserved */
    assert_int_equal(restore_check(&x, x.b.data, x.b.len, 0x810, NULL),
                     -EPROTO);
    memcpy(cnt, save, 8);
    /* pfn beyond the domain's maximum */
    assert_int_equal(restore_check(&x, x.b.data, x.b.len, 0x700, NULL),
                     -EPROTO);
    /* a record length over REC_LENGTH_MAX */
    sim_put_le32(x.b.data + first + 4, (128u << 20) + 8);
    assert_int_equal(restore_check(&x, x.b.data, x.b.len, 0x810, NULL),
                     -EPROTO);
    gen_free(&x);
    free(w);
}

/* An unknown optional record is skipped, an unknown mandatory refused. */
static void test_unknown_records(void **state)
{
    struct gen x;
    struct walk *w = malloc(sizeof(*w));
    struct sim_buf nb;
    size_t end;
    uint8_t rec[16];
    int crc = -1;

    assert_non_null(w);
    gen(&x, SIM_X86_HVM, SIM_WL_IDLE, 256, 0x400);
    walk_stream(x.b.data, x.b.len, w);
    end = w->off[w->n - 1]; /* libxc END */
    sim_put_le32(rec + 4, 3);
    memcpy(rec + 8, "abc\0\0\0\0\0", 8);

    sim_put_le32(rec, 0x80000123u);
    sim_buf_init(&nb);
    assert_int_equal(sim_buf_write(&nb, x.b.data, end), 0);
    assert_int_equal(sim_buf_write(&nb, rec, 16), 0);
    assert_int_equal(sim_buf_write(&nb, x.b.data + end, x.b.len - end), 0);
    assert_int_equal(restore_check(&x, nb.data, nb.len, 0x410, &crc), 0);
    assert_int_equal(crc, 0);

    sim_put_le32(nb.data + end, 0x13);
    assert_int_equal(restore_check(&x, nb.data, nb.len, 0x410, NULL), -EPROTO);
    /* non-zero padding */
    sim_put_le32(nb.data + end, 0x80000123u);
    nb.data[end + 8 + 5] = 1;
    assert_int_equal(restore_check(&x, nb.data, nb.len, 0x410, NULL), -EPROTO);
    sim_buf_dispose(&nb);
    gen_free(&x);
    free(w);
}

static void test_bad_params(void **state)
{
    struct sim_params p;
    struct sim_guest *g = NULL;
    struct sim_restore *r = NULL;

    sim_params_init(&p);
    p.ram_pages = 8;
    assert_int_equal(sim_guest_new(&p, &g), -EINVAL);
    sim_params_init(&p);
    p.special_pfn = 10; /* inside RAM */
    assert_int_equal(sim_guest_new(&p, &g), -EINVAL);
    assert_null(g);
    assert_int_equal(sim_restore_new(SIM_X86_PV, SIM_MAX_PFNS_LIMIT + 1, &r),
                     -EINVAL);
    assert_null(r);
}

static void quiet_sink(enum log_level lvl, const char *line, void *opaque)
{
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_workload_restores),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_record_order),
        cmocka_unit_test(test_page_data_batches),
        cmocka_unit_test(test_logdirty_rounds),
        cmocka_unit_test(test_idle_is_mostly_zero),
        cmocka_unit_test(test_flipped_byte_caught),
        cmocka_unit_test(test_truncation_refused),
        cmocka_unit_test(test_bad_page_data_refused),
        cmocka_unit_test(test_unknown_records),
        cmocka_unit_test(test_bad_params),
    };

    log_set_sink(quiet_sink, NULL); /* expected failures stay quiet */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
