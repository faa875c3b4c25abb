/* SPDX-License-Identifier: MIT */
/*
 * xstream: streaming parser of Xen's migration stream.
 *
 * Input, fed in chunks of any size:
 *   - an xl save file / xl migrate stream: 32-byte magic, save-file header,
 *     optional data (JSON config), then the libxl stream; or
 *   - a libxl v2 stream ("LibxlFmt" header, records, END); or
 *   - a bare libxc v3 stream (image header, domain header, records, END).
 * The libxc v3 stream follows a libxl LIBXC_CONTEXT record inline; a libxc
 * CHECKPOINT record hands the stream back to libxl until CHECKPOINT_END.
 *
 * The parser calls back, in stream order:
 *   record()    for every record header (and once per header of the
 *               xl/libxl/libxc preambles, with XS_TYPE_HDR_*);
 *   bytes()     with every input byte that is not part of a PAGE_DATA
 *               record (headers and record bodies, streamed, never
 *               buffered whole);
 *   page_data() with a whole PAGE_DATA record (header included), buffered
 *               and validated: count 1..1024, page types known, pfn <=
 *               max_pfn, length == 8 + 8 * count + 4096 * pages with data;
 *   boundary()  whenever the parser stands between two libxc records (the
 *               only place the codec may switch to its wire format).
 * Each callback returns 0 or a negative errno, which stops the parser and
 * is returned by xs_parser_feed().
 *
 * Memory is bounded: one PAGE_DATA buffer (<= XS_PAGE_DATA_MAX_BYTES) and a
 * few small header buffers.  Lengths are capped before any allocation.
 * Malformed input: -EPROTO and one LOG(ERROR) line naming the byte offset
 * and the record ("xstream: malformed stream at offset N (libxc PAGE_DATA):
 * ...").  The parser never asserts on input.
 */
#ifndef XLMIG_ENGINE_XSTREAM_H
#define XLMIG_ENGINE_XSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XS_PAGE_SIZE           4096u
#define XS_PAGE_SHIFT          12u
#define XS_REC_LENGTH_MAX      (128u << 20) /* libxc REC_LENGTH_MAX */
#define XS_PAGE_DATA_COUNT_MAX 1024u        /* libxc MAX_BATCH_SIZE */
#define XS_XL_OPTDATA_MAX      (16u << 20)  /* xl save-file optional data */
#define XS_PAGE_DATA_MAX_BYTES               \
    (8u + 8u + 8u * XS_PAGE_DATA_COUNT_MAX + \
     XS_PAGE_SIZE * XS_PAGE_DATA_COUNT_MAX)
#define XS_MAX_PFN_DEFAULT ((1ull << 36) - 1) /* 256 TiB of guest memory */

/* xl save-file magic and header (tools/xl/xl.h). */
#define XS_XL_MAGIC          "Xen saved domain, xl format\n \0 \r"
#define XS_XL_MAGIC_BYTES    32u
#define XS_XL_HDR_BYTES      16u /* byteorder, mandatory, optional, optlen */
#define XS_XL_BYTEORDER      0x01020304u
#define XS_XL_MFLAG_JSON     (1u << 0)
#define XS_XL_MFLAG_STREAMV2 (1u << 1)

/* libxl v2 and libxc v3 framing. */
#define XS_LIBXL_IDENT      0x4c6962786c466d74ull /* "LibxlFmt", big endian */
#define XS_LIBXL_HDR_BYTES  16u
#define XS_LIBXC_MARKER     0xffffffffffffffffull
#define XS_LIBXC_ID         0x58454e46u /* "XENF" */
#define XS_LIBXC_IHDR_BYTES 24u
#define XS_LIBXC_DHDR_BYTES 16u
#define XS_REC_HDR_BYTES    8u
#define XS_REC_OPTIONAL     0x80000000u

/* libxl record types */
#define XS_LIBXL_END                    0x0u
#define XS_LIBXL_LIBXC_CONTEXT          0x1u
#define XS_LIBXL_EMULATOR_XENSTORE_DATA 0x2u
#define XS_LIBXL_EMULATOR_CONTEXT       0x3u
#define XS_LIBXL_CHECKPOINT_END         0x4u
#define XS_LIBXL_CHECKPOINT_STATE       0x5u

/* libxc record types */
#define XS_LIBXC_END            0x00u
#define XS_LIBXC_PAGE_DATA      0x01u
#define XS_LIBXC_CHECKPOINT     0x0eu
#define XS_LIBXC_TYPE_KNOWN_MAX 0x12u /* X86_MSR_POLICY */
/*
 * The xlmig switch record (docs/stream-format.md): a libxc record type in
 * the reserved mandatory range that Xen allocates from 0x13 upwards, so it
 * never appears in a real stream; a stock restorer refuses it.
 */
#define XS_LIBXC_XLMIG_SWITCH   0x584c4d57u

#define XS_PFN_MASK       0x000fffffffffffffull
#define XS_PFN_TYPE_SHIFT 60

/* Pseudo record types for the preambles, reported through record(). */
#define XS_TYPE_HDR_XL    0xfffffff0u /* magic + save-file header + optdata */
#define XS_TYPE_HDR_LIBXL 0xfffffff1u
#define XS_TYPE_HDR_LIBXC 0xfffffff2u /* image header + domain header */

enum xs_layer {
    XS_LAYER_XL = 0,
    XS_LAYER_LIBXL = 1,
    XS_LAYER_LIBXC = 2,
};

struct xs_record {
    uint64_t offset_bytes; /* of the record header, from the first byte fed */
    enum xs_layer layer;
    uint32_t type;         /* record type, or XS_TYPE_HDR_* */
    uint32_t length_bytes; /* body length (without header and padding) */
    uint64_t total_bytes;  /* header + body + padding */
};

struct xs_page_data {
    uint64_t offset_bytes; /* of the PAGE_DATA record header */
    const uint8_t *rec;    /* whole record: header, body; no padding
                              * (length is a multiple of 8) */
    size_t rec_bytes;
    uint32_t count;            /* entries in the pfn list */
    uint32_t res1;             /* reserved word, carried verbatim */
    const uint8_t *pfn_le;     /* count little-endian 64-bit words */
    const uint8_t *pages;      /* data_pages * 4096 bytes */
    uint32_t data_pages;       /* pfns whose type carries data */
    uint64_t pfn_min, pfn_max; /* over all entries */
};

struct xs_ops {
    int (*record)(void *opaque, const struct xs_record *rec);
    int (*bytes)(void *opaque, const uint8_t *buf, size_t len);
    int (*page_data)(void *opaque, const struct xs_page_data *pd);
    int (*boundary)(void *opaque);
};

struct xs_params {
    uint64_t max_pfn; /* default XS_MAX_PFN_DEFAULT */
    /*
     * Accept the xlmig switch record at a libxc record boundary: the
     * parser consumes its 8-byte header and its body and stops there
     * (xs_parser_switched() becomes true); the caller decodes the wire
     * format that follows and feeds the decoded original bytes back.
     */
    bool accept_switch;
};

struct xs_parser;

void xs_params_init(struct xs_params *p);

/* The parser keeps ops and opaque; it does not own opaque. */
int xs_parser_new(const struct xs_params *p, const struct xs_ops *ops,
                  void *opaque, struct xs_parser **parser_r);
void xs_parser_free(struct xs_parser *parser);

/*
 * Feed len bytes.  *used_r (may be NULL) receives the bytes consumed: less
 * than len only when the stream ended (xs_parser_done()) or when a switch
 * record was consumed.  With used_r NULL, bytes after the end of the
 * stream are -EPROTO ("trailing bytes").
 */
int xs_parser_feed(struct xs_parser *parser, const void *buf, size_t len,
                   size_t *used_r);

/* Input ended: 0 if the stream was complete, else -EPROTO (truncated). */
int xs_parser_finish(struct xs_parser *parser);

bool xs_parser_done(const struct xs_parser *parser);
/* True after a switch record, until xs_parser_clear_switch(). */
bool xs_parser_switched(const struct xs_parser *parser);
/* The switch record body (valid while switched); len in *len_r. */
const uint8_t *xs_parser_switch_body(const struct xs_parser *parser,
                                     size_t *len_r);
void xs_parser_clear_switch(struct xs_parser *parser);
/* Change xs_params.accept_switch (the decoder turns it off once switched). */
void xs_parser_set_accept_switch(struct xs_parser *parser, bool accept);
/* Bytes consumed so far. */
uint64_t xs_parser_offset(const struct xs_parser *parser);
/* Domain type from the libxc domain header (0 before it). */
uint32_t xs_parser_domain_type(const struct xs_parser *parser);

/* "PAGE_DATA", "LIBXC_CONTEXT", "libxc?0x13"...; buf for unknown types. */
const char *xs_type_name(enum xs_layer layer, uint32_t type, char *buf,
                         size_t len);
const char *xs_layer_name(enum xs_layer layer);

#endif
