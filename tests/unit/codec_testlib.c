/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "engine/wire.h"
#include "engine/xstream.h"
#include "codec_testlib.h"

int tb_log_lines;
char tb_log_last[1024];

static void sink(enum log_level lvl, const char *line, void *opaque)
{
    tb_log_lines++;
    snprintf(tb_log_last, sizeof(tb_log_last), "%s", line);
}

void tb_log_capture(void)
{
    tb_log_lines = 0;
    tb_log_last[0] = 0;
    log_set_sink(sink, NULL);
}

void tb_init(struct tbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void tb_dispose(struct tbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void tb_put(struct tbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;

        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data)
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

int tb_write(void *opaque, const void *buf, size_t len)
{
    tb_put(opaque, buf, len);
    return 0;
}

void tb_xl_header(struct tbuf *b, const char *json)
{
    uint8_t h[16];
    uint32_t jl = (uint32_t)strlen(json) + 1;

    tb_put(b, XS_XL_MAGIC, XS_XL_MAGIC_BYTES);
    wire_put32(h, XS_XL_BYTEORDER);
    wire_put32(h + 4, XS_XL_MFLAG_JSON | XS_XL_MFLAG_STREAMV2);
    wire_put32(h + 8, 0);
    wire_put32(h + 12, 4 + jl);
    tb_put(b, h, 16);
    wire_put32(h, jl);
    tb_put(b, h, 4);
    tb_put(b, json, jl);
}

void tb_libxl_header(struct tbuf *b)
{
    uint8_t h[16];

    wire_put64be(h, XS_LIBXL_IDENT);
    wire_put32be(h + 8, 2);
    wire_put32be(h + 12, 0);
    tb_put(b, h, 16);
}

void tb_rec(struct tbuf *b, uint32_t type, const void *body, uint32_t len)
{
    static const uint8_t pad[8];
    uint8_t h[8];

    wire_put32(h, type);
    wire_put32(h + 4, len);
    tb_put(b, h, 8);
    tb_put(b, body, len);
    tb_put(b, pad, (8 - (len & 7)) & 7);
}

void tb_libxc_header(struct tbuf *b, uint32_t domain_type)
{
    uint8_t h[40];

    memset(h, 0, sizeof(h));
    wire_put64be(h, XS_LIBXC_MARKER);
    wire_put32be(h + 8, XS_LIBXC_ID);
    wire_put32be(h + 12, 3);
    wire_put32(h + 24, domain_type);
    wire_put16(h + 28, 12);
    wire_put32(h + 32, 4);
    wire_put32(h + 36, 17);
    tb_put(b, h, 40);
}

void tb_page_data(struct tbuf *b, uint32_t count, const uint64_t *pfn,
                  const unsigned *types, const uint8_t *pages)
{
    uint8_t h[16], w[8];
    uint32_t i, n = 0;

    for (i = 0; i < count; i++)
        if (!types || types[i] < 0xd)
            n++;
    wire_put32(h, XS_LIBXC_PAGE_DATA);
    wire_put32(h + 4, 8 + 8 * count + 4096 * n);
    wire_put32(h + 8, count);
    wire_put32(h + 12, 0);
    tb_put(b, h, 16);
    for (i = 0; i < count; i++) {
        wire_put64(w, pfn[i] | (uint64_t)(types ? types[i] : 0) << 60);
        tb_put(b, w, 8);
    }
    tb_put(b, pages, (size_t)n * 4096);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

void tb_fill_page(uint8_t *page, enum tb_fill f, uint64_t seed)
{
    static const char *const words[] = {
        "mov ", "push ", "call ",   "ret\n",   "the ",    "kernel ", "page ",
        "xen ", "int ",  "return ", "struct ", "0x0000 ", "if (",    ") {\n",
    };
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1, v;
    size_t i = 0, l;

    switch (f) {
    case TB_ZERO:
        memset(page, 0, 4096);
        break;
    case TB_FF:
        memset(page, 0xff, 4096);
        break;
    case TB_WORD:
        v = 0x0123456789abcdefull ^ seed;
        for (i = 0; i < 4096; i += 8)
            memcpy(page + i, &v, 8);
        break;
    case TB_TEXT:
        while (i < 4096) {
            const char *w = words[rnd(&s) % 14];

            l = strlen(w);
            if (l > 4096 - i)
                l = 4096 - i;
            memcpy(page + i, w, l);
            i += l;
        }
        break;
    case TB_RANDOM:
        for (i = 0; i < 4096; i += 8) {
            v = rnd(&s);
            memcpy(page + i, &v, 8);
        }
        break;
    }
}

void tb_stream(struct tbuf *b, uint64_t npages, unsigned rounds,
               enum tb_fill fill, tb_change_fn *change)
{
    uint8_t *mem = malloc(npages * 4096), body[64];
    uint64_t pfn[1024], i, j, n;
    unsigned r;

    if (!mem)
        abort();
    for (i = 0; i < npages; i++)
        tb_fill_page(mem + i * 4096, fill, i);
    tb_xl_header(b, "{\"c_info\":{\"name\":\"test\"}}");
    tb_libxl_header(b);
    tb_rec(b, XS_LIBXL_LIBXC_CONTEXT, NULL, 0);
    tb_libxc_header(b, 2);
    memset(body, 0xa5, sizeof(body));
    tb_rec(b, 0x11, body, 44); /* X86_CPUID_POLICY, padded */
    tb_rec(b, 0x12, body, 16); /* X86_MSR_POLICY */
    tb_rec(b, 0x10, NULL, 0);  /* STATIC_DATA_END */
    for (r = 0; r < rounds; r++) {
        if (r && change)
            for (i = 0; i < npages; i++)
                change(r, i, mem + i * 4096);
        for (i = 0; i < npages; i += n) {
            n = npages - i < 1024 ? npages - i : 1024;
            for (j = 0; j < n; j++)
                pfn[j] = i + j;
            tb_page_data(b, (uint32_t)n, pfn, NULL, mem + i * 4096);
        }
    }
    tb_rec(b, 0x08, body, 24); /* X86_TSC_INFO */
    tb_rec(b, 0x0a, body, 40); /* HVM_PARAMS */
    tb_rec(b, 0x09, body, 61); /* HVM_CONTEXT */
    tb_rec(b, XS_LIBXC_END, NULL, 0);
    tb_rec(b, XS_LIBXL_EMULATOR_CONTEXT, body, 27);
    tb_rec(b, XS_LIBXL_END, NULL, 0);
    free(mem);
}
