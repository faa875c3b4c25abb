/* SPDX-License-Identifier: MIT */
/*
 * Test helpers of the codec tests: build small but genuine xl / libxl v2 /
 * libxc v3 streams in memory, and a memory sink for the codec.
 */
#ifndef XLMIG_TESTS_CODEC_TESTLIB_H
#define XLMIG_TESTS_CODEC_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

struct tbuf {
    uint8_t *data;
    size_t len, cap;
};

void tb_init(struct tbuf *b);
void tb_dispose(struct tbuf *b);
void tb_put(struct tbuf *b, const void *p, size_t n);
/* codec_write_fn over a struct tbuf */
int tb_write(void *opaque, const void *buf, size_t len);

void tb_xl_header(struct tbuf *b, const char *json);
void tb_libxl_header(struct tbuf *b);
void tb_rec(struct tbuf *b, uint32_t type, const void *body, uint32_t len);
void tb_libxc_header(struct tbuf *b, uint32_t domain_type);
/*
 * PAGE_DATA: count pfns from pfn[], types[] (PFINFO nibble, NULL: all 0),
 * pages: one 4096-byte page per pfn whose type carries data.
 */
void tb_page_data(struct tbuf *b, uint32_t count, const uint64_t *pfn,
                  const unsigned *types, const uint8_t *pages);

/* Page contents of the synthetic guest. */
enum tb_fill {
    TB_ZERO,   /* all zero */
    TB_FF,     /* all 0xff */
    TB_WORD,   /* one repeated 64-bit word */
    TB_TEXT,   /* text-like, compressible */
    TB_RANDOM, /* incompressible */
};
void tb_fill_page(uint8_t *page, enum tb_fill f, uint64_t seed);

/*
 * A whole xl stream: xl header, libxl header, LIBXC_CONTEXT, libxc HVM
 * headers and static records, `rounds` rounds over npages pfns (round 0
 * pages filled by fill(pfn), later rounds: every page re-sent with
 * change(round, pfn, page) applied), TSC/HVM records, libxc END, an
 * EMULATOR_CONTEXT, libxl END.  Batches of up to 1024 pfns.
 */
typedef void tb_change_fn(unsigned round, uint64_t pfn, uint8_t *page);
void tb_stream(struct tbuf *b, uint64_t npages, unsigned rounds,
               enum tb_fill fill, tb_change_fn *change);

/* Log sink counting lines; the last line is kept. */
extern int tb_log_lines;
extern char tb_log_last[1024];
void tb_log_capture(void);

#endif
