/* SPDX-License-Identifier: MIT */
/*
 * cmocka tests of the per-page primitives (engine/page_codec.h) and the
 * CRC-32C of the wire format.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/page_codec.h"
#include "engine/wire.h"

static void test_fill_kind(void **state)
{
    uint8_t pg[4096];
    uint64_t pat, w = 0x1122334455667788ull;
    size_t i;

    memset(pg, 0, sizeof(pg));
    assert_int_equal(pc_fill_kind(pg, &pat), WIRE_K_ZERO);
    memset(pg, 0xff, sizeof(pg));
    assert_int_equal(pc_fill_kind(pg, &pat), WIRE_K_FILL8);
    assert_int_equal(pat, 0xff);
    memset(pg, 0xcc, sizeof(pg));
    assert_int_equal(pc_fill_kind(pg, &pat), WIRE_K_FILL8);
    assert_int_equal(pat, 0xcc);
    for (i = 0; i < 4096; i += 8)
        memcpy(pg + i, &w, 8);
    assert_int_equal(pc_fill_kind(pg, &pat), WIRE_K_FILL64);
    assert_int_equal(pat, w);
    /* one byte off, anywhere: not a fill page */
    for (i = 0; i < 4096; i += 511) {
        memset(pg, 0, sizeof(pg));
        pg[i] = 1;
        assert_int_equal(pc_fill_kind(pg, &pat), -1);
    }
    memset(pg, 0, sizeof(pg));
    pg[4095] = 1;
    assert_int_equal(pc_fill_kind(pg, &pat), -1);
    /* pc_fill rebuilds both kinds */
    pc_fill(pg, 0xababababababababull);
    for (i = 0; i < 4096; i++)
        assert_int_equal(pg[i], 0xab);
    pc_fill(pg, w);
    for (i = 0; i < 4096; i += 8)
        assert_int_equal(wire_load64(pg + i), w);
}

static void check_delta(const uint8_t *old, const uint8_t *cur, int max_len)
{
    uint8_t enc[4200], pg[4096];
    int n;

    n = pc_delta_encode(old, cur, enc, sizeof(enc));
    assert_true(n >= 0);
    if (max_len >= 0)
        assert_true(n <= max_len);
    memcpy(pg, old, 4096);
    assert_int_equal(pc_delta_decode(enc, (size_t)n, pg), 0);
    assert_memory_equal(pg, cur, 4096);
}

static void test_delta(void **state)
{
    uint8_t old[4096], cur[4096], enc[4096];
    size_t i;

    for (i = 0; i < 4096; i++)
        old[i] = (uint8_t)(i * 7 + 3);
    memcpy(cur, old, 4096);
    check_delta(old, cur, 0); /* identical: empty delta */
    cur[0] ^= 1;
    check_delta(old, cur, 3);
    memcpy(cur, old, 4096);
    cur[4095] ^= 1;
    check_delta(old, cur, 4); /* zero run 4095: 2 bytes */
    memcpy(cur, old, 4096);
    cur[1000] ^= 1;
    cur[1002] ^= 1; /* one equal byte between: one run */
    check_delta(old, cur, 6);
    memcpy(cur, old, 4096);
    for (i = 0; i < 4096; i += 64)
        cur[i] ^= 0xff; /* QEMU-style increment pattern */
    check_delta(old, cur, 64 * 3);
    /* a delta that grows past the cap: -1, not an overflow */
    for (i = 0; i < 4096; i += 2)
        cur[i] = (uint8_t)~old[i];
    assert_int_equal(pc_delta_encode(old, cur, enc, 1000), -1);
    for (i = 0; i < 4096; i++)
        cur[i] = (uint8_t)~old[i];
    assert_int_equal(pc_delta_encode(old, cur, enc, 4095), -1);
    check_delta(old, cur, -1);
}

static void test_delta_decode_bad(void **state)
{
    uint8_t pg[4096];
    static const uint8_t past_end[] = { 0x80, 0x20, 0x01, 0xaa }; /* z=4096 */
    static const uint8_t zero_nz[] = { 0x01, 0x00 };
    static const uint8_t short_data[] = { 0x00, 0x05, 0xaa, 0xbb };
    static const uint8_t bad_leb[] = { 0x80, 0x80, 0x80, 0x80 };
    static const uint8_t too_long[] = { 0xff, 0x1f, 0x02, 0xaa, 0xbb };

    memset(pg, 0, sizeof(pg));
    assert_int_equal(pc_delta_decode(past_end, sizeof(past_end), pg), -EPROTO);
    assert_int_equal(pc_delta_decode(zero_nz, sizeof(zero_nz), pg), -EPROTO);
    assert_int_equal(pc_delta_decode(short_data, sizeof(short_data), pg),
                     -EPROTO);
    assert_int_equal(pc_delta_decode(bad_leb, sizeof(bad_leb), pg), -EPROTO);
    assert_int_equal(pc_delta_decode(too_long, sizeof(too_long), pg), -EPROTO);
}

static void test_cache(void **state)
{
    struct pc_cache *c;
    uint8_t pg[4096];
    uint64_t pfn, kept = 0;
    int ev = 0;

    assert_int_equal(pc_cache_new(3, &c), -EINVAL);
    assert_int_equal(pc_cache_new(10, &c), 0);
    assert_int_equal(pc_cache_pages(c), 8);
    memset(pg, 1, sizeof(pg));
    assert_null(pc_cache_get(c, 5));
    assert_int_equal(pc_cache_put(c, 5, pg), 0);
    assert_non_null(pc_cache_get(c, 5));
    assert_memory_equal(pc_cache_get(c, 5), pg, 4096);
    memset(pg, 2, sizeof(pg));
    assert_int_equal(pc_cache_put(c, 5, pg), 0); /* replaces its copy */
    assert_int_equal(pc_cache_get(c, 5)[0], 2);
    pc_cache_drop(c, 5);
    assert_null(pc_cache_get(c, 5));
    /* 100 pfns into 8 slots: 92 evictions, the last put are kept */
    for (pfn = 0; pfn < 100; pfn++) {
        pg[0] = (uint8_t)pfn;
        ev += pc_cache_put(c, pfn, pg);
    }
    assert_int_equal(ev, 92);
    for (pfn = 0; pfn < 100; pfn++) {
        const uint8_t *p = pc_cache_get(c, pfn);

        if (p) {
            assert_int_equal(p[0], (uint8_t)pfn);
            kept++;
        }
    }
    assert_int_equal(kept, 8);
    assert_non_null(pc_cache_get(c, 99)); /* the newest survives */
    pc_cache_free(c);

    /*
     * pc_cache_sent: a first send takes a free way but never evicts; a
     * second send does.  4 slots (one set), pfns 0..3 fill it.
     */
    assert_int_equal(pc_cache_new(4, &c), 0);
    for (pfn = 0; pfn < 4; pfn++)
        assert_int_equal(pc_cache_sent(c, pfn, pg), 0);
    for (pfn = 0; pfn < 4; pfn++)
        assert_non_null(pc_cache_get(c, pfn));
    assert_int_equal(pc_cache_sent(c, 1000, pg), 0); /* first: not kept */
    assert_null(pc_cache_get(c, 1000));
    assert_int_equal(pc_cache_sent(c, 1000, pg), 1); /* second: evicts */
    assert_non_null(pc_cache_get(c, 1000));
    assert_null(pc_cache_get(c, 0)); /* the least recently stored */
    pc_cache_drop(c, 1000); /* an all-zero send: forgotten, still seen */
    assert_null(pc_cache_get(c, 1000));
    assert_int_equal(pc_cache_sent(c, 1000, pg), 0); /* a free way again */
    assert_non_null(pc_cache_get(c, 1000));
    pc_cache_free(c);
    pc_cache_free(NULL);
}

/*
 * In place: a delta applied on the copy from pc_cache_get_mut(), then
 * pc_cache_sent(NULL) refreshes recency without a copy.  Slots get their
 * page on first use: distinct pfns never share one, and an evicted slot's
 * page is reused by its new pfn.
 */
static void test_cache_in_place(void **state)
{
    struct pc_cache *c;
    uint8_t pg[4096], *m;
    const uint8_t *p[4];
    uint8_t delta[8];
    uint64_t pfn;
    int i, j;

    assert_int_equal(pc_cache_new(4, &c), 0); /* one set of 4 ways */
    for (pfn = 0; pfn < 4; pfn++) {
        memset(pg, (int)pfn + 1, sizeof(pg));
        assert_int_equal(pc_cache_sent(c, pfn, pg), 0);
        assert_int_equal(pc_cache_sent(c, pfn, pg), 0); /* seen now */
    }
    for (i = 0; i < 4; i++) {
        p[i] = pc_cache_get(c, (uint64_t)i);
        assert_non_null(p[i]);
        assert_int_equal(p[i][4095], i + 1);
        for (j = 0; j < i; j++)
            assert_ptr_not_equal(p[i], p[j]);
    }
    assert_null(pc_cache_get_mut(c, 77));
    m = pc_cache_get_mut(c, 0);
    assert_ptr_equal(m, p[0]);
    /* zero run 10, then 2 new bytes */
    delta[0] = 10;
    delta[1] = 2;
    delta[2] = 0xaa;
    delta[3] = 0xbb;
    assert_int_equal(pc_delta_decode(delta, 4, m), 0);
    assert_int_equal(pc_cache_sent(c, 0, NULL), 0); /* pfn 0: newest */
    assert_int_equal(pc_cache_get(c, 0)[10], 0xaa);
    assert_int_equal(pc_cache_get(c, 0)[11], 0xbb);
    assert_int_equal(pc_cache_get(c, 0)[12], 1);
    /* pfn 1 is now the least recent: a second send of 50 evicts it */
    memset(pg, 50, sizeof(pg));
    assert_int_equal(pc_cache_sent(c, 50, pg), 0);
    assert_int_equal(pc_cache_sent(c, 50, pg), 1);
    assert_null(pc_cache_get(c, 1));
    assert_non_null(pc_cache_get(c, 0));
    assert_ptr_equal(pc_cache_get(c, 50), p[1]); /* its page, reused */
    assert_int_equal(pc_cache_get(c, 50)[0], 50);
    pc_cache_free(c);
}

static void test_crc32c(void **state)
{
    static const char v[] = "123456789";
    uint8_t buf[1000];
    size_t i;

    /* the CRC-32C check value */
    assert_int_equal(wire_crc32c(0, v, 9), 0xe3069283u);
    /* chaining equals one pass, at any split */
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 31);
    for (i = 0; i <= sizeof(buf); i += 37)
        assert_int_equal(
            wire_crc32c(wire_crc32c(0, buf, i), buf + i, sizeof(buf) - i),
            wire_crc32c(0, buf, sizeof(buf)));
}

static void test_byte_order(void **state)
{
    uint8_t b[8];

    wire_put32(b, 0x11223344u);
    assert_int_equal(b[0], 0x44);
    assert_int_equal(wire_get32(b), 0x11223344u);
    wire_put64be(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 1);
    assert_int_equal(wire_get64be(b), 0x0102030405060708ull);
    wire_put64(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 8);
    assert_int_equal(wire_get64(b), 0x0102030405060708ull);
    wire_put16(b, 0xabcd);
    assert_int_equal(wire_get16(b), 0xabcd);
    assert_int_equal(wire_get16be(b), 0xcdab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_kind),        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_delta_decode_bad), cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_in_place),   cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_byte_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
