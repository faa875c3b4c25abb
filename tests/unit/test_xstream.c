/* SPDX-License-Identifier: MIT */
/*
 * cmocka tests of the stream parser (engine/xstream.h): the three input
 * forms, record callbacks, limits checked before allocation, unknown
 * records, checkpoints, truncation at every byte offset.
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
#include "engine/wire.h"
#include "engine/xstream.h"

struct seen {
    unsigned records, page_data, boundaries, optional;
    uint64_t bytes, pd_bytes, pages;
    uint64_t last_offset;
};

static int cb_record(void *opaque, const struct xs_record *rec)
{
    struct seen *s = opaque;

    s->records++;
    s->last_offset = rec->offset_bytes;
    if (rec->type != XS_TYPE_HDR_XL && rec->type != XS_TYPE_HDR_LIBXL &&
        rec->type != XS_TYPE_HDR_LIBXC && (rec->type & XS_REC_OPTIONAL))
        s->optional++;
    return 0;
}

static int cb_bytes(void *opaque, const uint8_t *buf, size_t len)
{
    struct seen *s = opaque;

    s->bytes += len;
    return 0;
}

static int cb_page_data(void *opaque, const struct xs_page_data *pd)
{
    struct seen *s = opaque;

    s->page_data++;
    s->pd_bytes += pd->rec_bytes;
    s->pages += pd->data_pages;
    return 0;
}

static int cb_boundary(void *opaque)
{
    struct seen *s = opaque;

    s->boundaries++;
    return 0;
}

static const struct xs_ops ops = {
    .record = cb_record,
    .bytes = cb_bytes,
    .page_data = cb_page_data,
    .boundary = cb_boundary,
};

/* Parse buf in chunks; returns the first error. */
static int parse(const uint8_t *buf, size_t len, size_t chunk, struct seen *s)
{
    struct xs_parser *ps;
    size_t off = 0, n;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = xs_parser_new(NULL, &ops, s, &ps);
    if (rc)
        return rc;
    while (!rc && off < len) {
        n = chunk && chunk < len - off ? chunk : len - off;
        rc = xs_parser_feed(ps, buf + off, n, NULL);
        off += n;
    }
    if (!rc)
        rc = xs_parser_finish(ps);
    xs_parser_free(ps);
    return rc;
}

static void test_whole_stream(void **state)
{
    struct tbuf b;
    struct seen s;
    size_t chunk[] = { 0, 1, 3, 4096, 100000 };
    unsigned i;

    tb_init(&b);
    tb_stream(&b, 2500, 2, TB_TEXT, NULL);
    for (i = 0; i < 5; i++) {
        assert_int_equal(parse(b.data, b.len, chunk[i], &s), 0);
        assert_int_equal(s.page_data, 6);
        assert_int_equal(s.pages, 5000);
        assert_int_equal(s.bytes + s.pd_bytes, b.len);
        /* 3 headers, 3 libxl records, 6 PAGE_DATA and 7 other libxc */
        assert_int_equal(s.records, 3 + 3 + 6 + 7);
        /* one boundary before each libxc record */
        assert_int_equal(s.boundaries, 6 + 7);
    }
    tb_dispose(&b);
}

static void test_libxl_and_bare_libxc(void **state)
{
    struct tbuf b;
    struct seen s;
    uint64_t pfn = 3;
    uint8_t page[4096];

    memset(page, 7, sizeof(page));
    tb_init(&b);
    tb_libxl_header(&b);
    tb_rec(&b, XS_LIBXL_LIBXC_CONTEXT, NULL, 0);
    tb_libxc_header(&b, 1);
    tb_page_data(&b, 1, &pfn, NULL, page);
    tb_rec(&b, XS_LIBXC_END, NULL, 0);
    tb_rec(&b, XS_LIBXL_END, NULL, 0);
    assert_int_equal(parse(b.data, b.len, 0, &s), 0);
    assert_int_equal(s.pages, 1);
    tb_dispose(&b);

    tb_init(&b);
    tb_libxc_header(&b, 2);
    tb_page_data(&b, 1, &pfn, NULL, page);
    tb_rec(&b, XS_LIBXC_END, NULL, 0);
    assert_int_equal(parse(b.data, b.len, 0, &s), 0);
    assert_int_equal(s.pages, 1);
    tb_dispose(&b);
}

static void test_checkpoint(void **state)
{
    struct tbuf b;
    struct seen s;
    uint64_t pfn = 3;
    uint8_t page[4096], body[8] = { 1, 2, 3 };

    memset(page, 7, sizeof(page));
    tb_init(&b);
    tb_libxl_header(&b);
    tb_rec(&b, XS_LIBXL_LIBXC_CONTEXT, NULL, 0);
    tb_libxc_header(&b, 2);
    tb_page_data(&b, 1, &pfn, NULL, page);
    tb_rec(&b, XS_LIBXC_CHECKPOINT, NULL, 0);
    tb_rec(&b, XS_LIBXL_EMULATOR_CONTEXT, body, 8);
    tb_rec(&b, XS_LIBXL_CHECKPOINT_END, NULL, 0);
    tb_page_data(&b, 1, &pfn, NULL, page);
    tb_rec(&b, XS_LIBXC_END, NULL, 0);
    tb_rec(&b, XS_LIBXL_END, NULL, 0);
    assert_int_equal(parse(b.data, b.len, 5, &s), 0);
    assert_int_equal(s.page_data, 2);
    tb_dispose(&b);
}

/* A small stream whose one libxc record is given by the caller. */
static void stream_with(struct tbuf *b, const struct tbuf *rec)
{
    tb_init(b);
    tb_xl_header(b, "{}");
    tb_libxl_header(b);
    tb_rec(b, XS_LIBXL_LIBXC_CONTEXT, NULL, 0);
    tb_libxc_header(b, 2);
    tb_put(b, rec->data, rec->len);
    tb_rec(b, XS_LIBXC_END, NULL, 0);
    tb_rec(b, XS_LIBXL_END, NULL, 0);
}

static void expect_bad(const struct tbuf *b, const char *what)
{
    struct seen s;

    tb_log_capture();
    assert_int_equal(parse(b->data, b->len, 0, &s), -EPROTO);
    log_set_sink(NULL, NULL);
    assert_int_equal(tb_log_lines, 1);
    assert_non_null(strstr(tb_log_last, "offset"));
    if (!strstr(tb_log_last, what))
        fail_msg("log '%s' does not name '%s'", tb_log_last, what);
}

static void test_limits(void **state)
{
    struct tbuf r, b;
    uint8_t h[16], page[8192];
    uint64_t pfn[2] = { 1, 2 };
    unsigned types[2] = { 0, 6 };

    memset(page, 1, sizeof(page));
    /* PAGE_DATA count 0 */
    tb_init(&r);
    wire_put32(h, XS_LIBXC_PAGE_DATA);
    wire_put32(h + 4, 8);
    wire_put32(h + 8, 0);
    wire_put32(h + 12, 0);
    tb_put(&r, h, 16);
    stream_with(&b, &r);
    expect_bad(&b, "PAGE_DATA");
    assert_non_null(strstr(tb_log_last, "offset 119 "));
    tb_dispose(&b);
    tb_dispose(&r);

    /* count 1025 */
    tb_init(&r);
    wire_put32(h + 4, 8 + 8 * 1025);
    wire_put32(h + 8, 1025);
    tb_put(&r, h, 16);
    for (unsigned i = 0; i < 1025; i++)
        tb_put(&r, pfn, 8);
    stream_with(&b, &r);
    expect_bad(&b, "over 1024");
    tb_dispose(&b);
    tb_dispose(&r);

    /* length over 128 MiB: refused at the header, before any buffer */
    tb_init(&r);
    wire_put32(h, 0x09);
    wire_put32(h + 4, (128u << 20) + 1);
    tb_put(&r, h, 8);
    stream_with(&b, &r);
    expect_bad(&b, "128 MiB");
    tb_dispose(&b);
    tb_dispose(&r);

    /* PAGE_DATA longer than 1024 pages can be */
    tb_init(&r);
    wire_put32(h, XS_LIBXC_PAGE_DATA);
    wire_put32(h + 4, 64u << 20);
    tb_put(&r, h, 8);
    stream_with(&b, &r);
    expect_bad(&b, "length out of range");
    tb_dispose(&b);
    tb_dispose(&r);

    /* reserved page type */
    tb_init(&r);
    tb_page_data(&r, 2, pfn, types, page);
    stream_with(&b, &r);
    expect_bad(&b, "reserved page type");
    tb_dispose(&b);
    tb_dispose(&r);

    /* pfn over the maximum */
    tb_init(&r);
    pfn[0] = XS_MAX_PFN_DEFAULT + 1;
    tb_page_data(&r, 1, pfn, NULL, page);
    stream_with(&b, &r);
    expect_bad(&b, "maximum");
    tb_dispose(&b);
    tb_dispose(&r);

    /* length not matching the pages with data (XTAB carries none) */
    tb_init(&r);
    pfn[0] = 1;
    types[1] = 0xf;
    tb_page_data(&r, 2, pfn, types, page);
    wire_put32(r.data + 4, 8 + 16 + 8192); /* claims 2 pages */
    tb_put(&r, page, 4096);
    stream_with(&b, &r);
    expect_bad(&b, "does not match");
    tb_dispose(&b);
    tb_dispose(&r);

    /* unknown mandatory libxc record; unknown optional passes */
    tb_init(&r);
    tb_rec(&r, 0x13, page, 12);
    stream_with(&b, &r);
    expect_bad(&b, "libxc?0x13");
    tb_dispose(&b);
    tb_dispose(&r);
    tb_init(&r);
    tb_rec(&r, 0x80000013u, page, 12);
    stream_with(&b, &r);
    {
        struct seen s;

        assert_int_equal(parse(b.data, b.len, 0, &s), 0);
        assert_int_equal(s.optional, 1);
    }
    tb_dispose(&b);
    tb_dispose(&r);

    /* the switch record is refused unless accepted */
    tb_init(&r);
    tb_rec(&r, XS_LIBXC_XLMIG_SWITCH, page, 32);
    stream_with(&b, &r);
    expect_bad(&b, "unknown mandatory");
    tb_dispose(&b);
    tb_dispose(&r);
}

static void test_headers(void **state)
{
    struct tbuf b;

    /* garbage */
    tb_init(&b);
    tb_put(&b, "hello, world, this is not a stream", 34);
    expect_bad(&b, "not an xl");
    tb_dispose(&b);

    /* legacy v1 xl stream */
    tb_init(&b);
    tb_xl_header(&b, "{}");
    wire_put32(b.data + 36, XS_XL_MFLAG_JSON);
    tb_libxl_header(&b);
    expect_bad(&b, "legacy");
    tb_dispose(&b);

    /* xl optional data over 16 MiB */
    tb_init(&b);
    tb_xl_header(&b, "{}");
    wire_put32(b.data + 44, (16u << 20) + 1);
    expect_bad(&b, "16 MiB");
    tb_dispose(&b);

    /* big-endian libxl stream */
    tb_init(&b);
    tb_libxl_header(&b);
    b.data[15] = 1;
    expect_bad(&b, "big-endian");
    tb_dispose(&b);

    /* unknown mandatory libxl record */
    tb_init(&b);
    tb_libxl_header(&b);
    tb_rec(&b, 0x6, NULL, 0);
    expect_bad(&b, "libxl?0x6");
    tb_dispose(&b);

    /* page shift 13 */
    tb_init(&b);
    tb_libxc_header(&b, 2);
    b.data[28] = 13;
    tb_rec(&b, XS_LIBXC_END, NULL, 0);
    expect_bad(&b, "page shift");
    tb_dispose(&b);

    /* bytes after the end */
    tb_init(&b);
    tb_libxl_header(&b);
    tb_rec(&b, XS_LIBXL_END, NULL, 0);
    tb_put(&b, "GO", 2);
    expect_bad(&b, "trailing");
    tb_dispose(&b);
}

static void test_truncation(void **state)
{
    struct tbuf b;
    struct seen s;
    size_t cut;
    uint64_t pfn[3] = { 1, 2, 3 };
    unsigned types[3] = { 0, 0xf, 0 };
    uint8_t pages[8192];

    memset(pages, 0x3c, sizeof(pages));
    tb_init(&b);
    tb_xl_header(&b, "{\"x\":1}");
    tb_libxl_header(&b);
    tb_rec(&b, XS_LIBXL_LIBXC_CONTEXT, NULL, 0);
    tb_libxc_header(&b, 2);
    tb_rec(&b, 0x11, pages, 13);
    tb_page_data(&b, 3, pfn, types, pages);
    tb_rec(&b, XS_LIBXC_END, NULL, 0);
    tb_rec(&b, XS_LIBXL_EMULATOR_CONTEXT, pages, 9);
    tb_rec(&b, XS_LIBXL_END, NULL, 0);
    assert_int_equal(parse(b.data, b.len, 0, &s), 0);
    tb_log_capture();
    for (cut = 0; cut < b.len; cut++) {
        tb_log_lines = 0;
        assert_int_equal(parse(b.data, cut, 0, &s), -EPROTO);
        assert_int_equal(tb_log_lines, 1);
        assert_non_null(strstr(tb_log_last, "truncated"));
    }
    log_set_sink(NULL, NULL);
    tb_dispose(&b);
}

static void test_used_and_names(void **state)
{
    struct tbuf b;
    struct seen s;
    struct xs_parser *ps;
    size_t used;
    char nb[32];

    tb_init(&b);
    tb_libxl_header(&b);
    tb_rec(&b, XS_LIBXL_END, NULL, 0);
    tb_put(&b, "GO", 2);
    memset(&s, 0, sizeof(s));
    assert_int_equal(xs_parser_new(NULL, &ops, &s, &ps), 0);
    assert_int_equal(xs_parser_feed(ps, b.data, b.len, &used), 0);
    assert_int_equal(used, b.len - 2);
    assert_true(xs_parser_done(ps));
    assert_int_equal(xs_parser_finish(ps), 0);
    xs_parser_free(ps);
    xs_parser_free(NULL);
    tb_dispose(&b);

    assert_string_equal(xs_type_name(XS_LAYER_LIBXC, 1, nb, sizeof(nb)),
                        "PAGE_DATA");
    assert_string_equal(xs_type_name(XS_LAYER_LIBXL, 1, nb, sizeof(nb)),
                        "LIBXC_CONTEXT");
    assert_string_equal(xs_type_name(XS_LAYER_LIBXC, 0x12, nb, sizeof(nb)),
                        "X86_MSR_POLICY");
    assert_string_equal(xs_type_name(XS_LAYER_LIBXC, 0x99, nb, sizeof(nb)),
                        "libxc?0x99");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_stream),
        cmocka_unit_test(test_libxl_and_bare_libxc),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_used_and_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
