/* SPDX-License-Identifier: MIT */
/*
 * Streaming parser of the xl / libxl v2 / libxc v3 migration stream; see
 * xstream.h.  Layouts: Xen docs/specs/libxl-migration-stream.pandoc and
 * libxc-migration-stream.pandoc, summarised in docs/stream-format.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "xstream: "
#include "common/log.h"
#include "engine/wire.h"
#include "engine/xstream.h"

#define SWITCH_BODY_MAX 64u

enum xs_state {
    ST_DETECT,      /* first 8 bytes */
    ST_XL_HDR,      /* 48 bytes: magic + save-file header */
    ST_LIBXL_HDR,   /* 16 bytes */
    ST_LIBXL_REC,   /* 8-byte record header */
    ST_LIBXC_IHDR,  /* 24 + 16 bytes: image and domain headers */
    ST_LIBXC_REC,   /* 8-byte record header */
    ST_BODY,        /* streaming body + padding, then next_state */
    ST_PAGE_DATA,   /* buffering a PAGE_DATA body */
    ST_SWITCH_BODY, /* buffering the switch record body + padding */
    ST_DONE,
    ST_ERROR,
};

struct xs_parser {
    struct xs_params params;
    const struct xs_ops *ops;
    void *opaque;

    enum xs_state state;
    enum xs_state next_state; /* after ST_BODY */
    uint64_t offset;          /* bytes consumed */
    uint8_t hbuf[64];         /* header being collected */
    size_t hhave, hneed;
    uint64_t body_left; /* ST_BODY: bytes still to pass */

    bool bare_libxc;    /* input started with the libxc image header */
    bool in_checkpoint; /* libxc CHECKPOINT seen, until CHECKPOINT_END */
    bool boundary_sent; /* boundary() called for the current position */
    bool switched;
    uint32_t domain_type;

    struct xs_record rec; /* the record being parsed */

    uint8_t *pd; /* PAGE_DATA record buffer, grown as needed */
    size_t pd_cap, pd_have, pd_need;

    uint8_t sw[SWITCH_BODY_MAX];
    size_t sw_len, sw_have, sw_need;
};

static const char *const libxl_names[] = {
    "END",
    "LIBXC_CONTEXT",
    "EMULATOR_XENSTORE_DATA",
    "EMULATOR_CONTEXT",
    "CHECKPOINT_END",
    "CHECKPOINT_STATE",
};

static const char *const libxc_names[] = {
    "END",
    "PAGE_DATA",
    "X86_PV_INFO",
    "X86_PV_P2M_FRAMES",
    "X86_PV_VCPU_BASIC",
    "X86_PV_VCPU_EXTENDED",
    "X86_PV_VCPU_XSAVE",
    "SHARED_INFO",
    "X86_TSC_INFO",
    "HVM_CONTEXT",
    "HVM_PARAMS",
    "TOOLSTACK",
    "X86_PV_VCPU_MSRS",
    "VERIFY",
    "CHECKPOINT",
    "CHECKPOINT_DIRTY_PFN_LIST",
    "STATIC_DATA_END",
    "X86_CPUID_POLICY",
    "X86_MSR_POLICY",
};

const char *xs_layer_name(enum xs_layer layer)
{
    switch (layer) {
    case XS_LAYER_XL:
        return "xl";
    case XS_LAYER_LIBXL:
        return "libxl";
    case XS_LAYER_LIBXC:
        return "libxc";
    }
    return "?";
}

const char *xs_type_name(enum xs_layer layer, uint32_t type, char *buf,
                         size_t len)
{
    switch (type) {
    case XS_TYPE_HDR_XL:
        return "XL_HEADER";
    case XS_TYPE_HDR_LIBXL:
        return "LIBXL_HEADER";
    case XS_TYPE_HDR_LIBXC:
        return "LIBXC_HEADER";
    default:
        break;
    }
    if (layer == XS_LAYER_LIBXL &&
        type < sizeof(libxl_names) / sizeof(libxl_names[0]))
        return libxl_names[type];
    if (layer == XS_LAYER_LIBXC &&
        type < sizeof(libxc_names) / sizeof(libxc_names[0]))
        return libxc_names[type];
    if (layer == XS_LAYER_LIBXC && type == XS_LIBXC_XLMIG_SWITCH)
        return "XLMIG_SWITCH";
    snprintf(buf, len, "%s?%#" PRIx32, xs_layer_name(layer), type);
    return buf;
}

static void start_rec(struct xs_parser *ps, enum xs_layer layer, uint32_t type);

void xs_params_init(struct xs_params *p)
{
    memset(p, 0, sizeof(*p));
    p->max_pfn = XS_MAX_PFN_DEFAULT;
}

int xs_parser_new(const struct xs_params *p, const struct xs_ops *ops,
                  void *opaque, struct xs_parser **parser_r)
{
    struct xs_parser *ps;

    ps = calloc(1, sizeof(*ps));
    if (!ps)
        return -ENOMEM;
    if (p)
        ps->params = *p;
    else
        xs_params_init(&ps->params);
    if (!ps->params.max_pfn || ps->params.max_pfn > XS_PFN_MASK)
        ps->params.max_pfn = XS_MAX_PFN_DEFAULT;
    ps->ops = ops;
    ps->opaque = opaque;
    ps->state = ST_DETECT;
    ps->hneed = 8;
    start_rec(ps, XS_LAYER_XL, XS_TYPE_HDR_XL);
    *parser_r = ps;
    return 0;
}

void xs_parser_free(struct xs_parser *parser)
{
    if (!parser)
        return;
    free(parser->pd);
    free(parser);
}

bool xs_parser_done(const struct xs_parser *parser)
{
    return parser->state == ST_DONE;
}

bool xs_parser_switched(const struct xs_parser *parser)
{
    return parser->switched;
}

const uint8_t *xs_parser_switch_body(const struct xs_parser *parser,
                                     size_t *len_r)
{
    *len_r = parser->sw_len;
    return parser->sw;
}

void xs_parser_clear_switch(struct xs_parser *parser)
{
    parser->switched = false;
}

void xs_parser_set_accept_switch(struct xs_parser *parser, bool accept)
{
    parser->params.accept_switch = accept;
}

uint64_t xs_parser_offset(const struct xs_parser *parser)
{
    return parser->offset;
}

uint32_t xs_parser_domain_type(const struct xs_parser *parser)
{
    return parser->domain_type;
}

static uint64_t pad8(uint64_t n)
{
    return (8 - (n & 7)) & 7;
}

/* One line naming the offset and the record, then -EPROTO. */
static int malformed(struct xs_parser *ps, const char *what)
{
    char nb[32];
    const char *name = "record header";

    if (ps->rec.type != 0xffffffffu)
        name = xs_type_name(ps->rec.layer, ps->rec.type, nb, sizeof(nb));
    LOG(ERROR, "malformed stream at offset %" PRIu64 " (%s %s): %s",
        ps->rec.offset_bytes, xs_layer_name(ps->rec.layer), name, what);
    ps->state = ST_ERROR;
    return -EPROTO;
}

static int emit_bytes(struct xs_parser *ps, const uint8_t *buf, size_t len)
{
    if (!len || !ps->ops->bytes)
        return 0;
    return ps->ops->bytes(ps->opaque, buf, len);
}

static int emit_record(struct xs_parser *ps)
{
    if (!ps->ops->record)
        return 0;
    return ps->ops->record(ps->opaque, &ps->rec);
}

static void start_rec(struct xs_parser *ps, enum xs_layer layer, uint32_t type)
{
    ps->rec.offset_bytes = ps->offset;
    ps->rec.layer = layer;
    ps->rec.type = type;
    ps->rec.length_bytes = 0;
    ps->rec.total_bytes = 0;
}

static void expect(struct xs_parser *ps, enum xs_state st, size_t n)
{
    ps->state = st;
    ps->hhave = 0;
    ps->hneed = n;
    if (st == ST_LIBXL_REC)
        start_rec(ps, XS_LAYER_LIBXL, 0xffffffffu);
    else if (st == ST_LIBXC_REC)
        start_rec(ps, XS_LAYER_LIBXC, 0xffffffffu);
    else if (st == ST_LIBXC_IHDR)
        start_rec(ps, XS_LAYER_LIBXC, XS_TYPE_HDR_LIBXC);
}

/* Stream the body (and padding) of the current record, then go on. */
static void body(struct xs_parser *ps, uint64_t n, enum xs_state next,
                 size_t next_need)
{
    ps->body_left = n;
    ps->next_state = next;
    ps->hneed = next_need;
    ps->state = ST_BODY;
}

static void after_body(struct xs_parser *ps)
{
    expect(ps, ps->next_state, ps->hneed);
    if (ps->state == ST_LIBXL_HDR)
        start_rec(ps, XS_LAYER_LIBXL, XS_TYPE_HDR_LIBXL);
}

/* A complete PAGE_DATA record is in ps->pd: validate, call back. */
static int page_data_done(struct xs_parser *ps, const uint8_t *rec)
{
    struct xs_page_data pd;
    const uint8_t *b = rec + XS_REC_HDR_BYTES;
    uint32_t len = ps->rec.length_bytes, i, n = 0;
    uint64_t need;
    int rc;

    memset(&pd, 0, sizeof(pd));
    pd.count = wire_get32(b);
    pd.res1 = wire_get32(b + 4);
    if (pd.count == 0)
        return malformed(ps, "page count 0");
    if (pd.count > XS_PAGE_DATA_COUNT_MAX)
        return malformed(ps, "page count over 1024");
    if ((uint64_t)len < 8 + 8ull * pd.count)
        return malformed(ps, "record shorter than its pfn list");
    pd.pfn_le = b + 8;
    pd.pfn_min = UINT64_MAX;
    for (i = 0; i < pd.count; i++) {
        uint64_t w = wire_get64(pd.pfn_le + 8ull * i);
        uint64_t pfn = w & XS_PFN_MASK;
        unsigned t = (unsigned)(w >> XS_PFN_TYPE_SHIFT);

        if (t >= 5 && t <= 8)
            return malformed(ps, "reserved page type");
        if (pfn > ps->params.max_pfn)
            return malformed(ps, "pfn over the domain's maximum");
        if (t < 0xd)
            n++;
        if (pfn < pd.pfn_min)
            pd.pfn_min = pfn;
        if (pfn > pd.pfn_max)
            pd.pfn_max = pfn;
    }
    need = 8 + 8ull * pd.count + (uint64_t)XS_PAGE_SIZE * n;
    if (need != len)
        return malformed(ps, "length does not match the pages with data");
    pd.offset_bytes = ps->rec.offset_bytes;
    pd.rec = rec;
    pd.rec_bytes = XS_REC_HDR_BYTES + len;
    pd.data_pages = n;
    pd.pages = b + 8 + 8ull * pd.count;
    if (ps->ops->page_data) {
        rc = ps->ops->page_data(ps->opaque, &pd);
        if (rc)
            return rc;
    }
    expect(ps, ST_LIBXC_REC, XS_REC_HDR_BYTES);
    ps->boundary_sent = false;
    return 0;
}

static int libxl_rec(struct xs_parser *ps)
{
    uint32_t type = wire_get32(ps->hbuf);
    uint32_t len = wire_get32(ps->hbuf + 4);
    int rc;

    ps->rec.type = type;
    ps->rec.length_bytes = len;
    ps->rec.total_bytes = XS_REC_HDR_BYTES + len + pad8(len);
    if (len > XS_REC_LENGTH_MAX)
        return malformed(ps, "length over 128 MiB");
    if (type > XS_LIBXL_CHECKPOINT_STATE && !(type & XS_REC_OPTIONAL))
        return malformed(ps, "unknown mandatory record");
    if ((type == XS_LIBXL_END || type == XS_LIBXL_LIBXC_CONTEXT ||
         type == XS_LIBXL_CHECKPOINT_END) &&
        len != 0)
        return malformed(ps, "non-empty marker record");
    if (type == XS_LIBXL_LIBXC_CONTEXT && ps->in_checkpoint)
        return malformed(ps, "LIBXC_CONTEXT inside a checkpoint");
    rc = emit_record(ps);
    if (rc)
        return rc;
    rc = emit_bytes(ps, ps->hbuf, XS_REC_HDR_BYTES);
    if (rc)
        return rc;
    if (type == XS_LIBXL_END) {
        ps->state = ST_DONE;
        return 0;
    }
    if (type == XS_LIBXL_LIBXC_CONTEXT) {
        expect(ps, ST_LIBXC_IHDR, XS_LIBXC_IHDR_BYTES + XS_LIBXC_DHDR_BYTES);
        return 0;
    }
    if (type == XS_LIBXL_CHECKPOINT_END && ps->in_checkpoint) {
        ps->in_checkpoint = false;
        expect(ps, ST_LIBXC_REC, XS_REC_HDR_BYTES);
        ps->boundary_sent = false;
        return 0;
    }
    body(ps, (uint64_t)len + pad8(len), ST_LIBXL_REC, XS_REC_HDR_BYTES);
    return 0;
}

static int libxc_rec(struct xs_parser *ps)
{
    uint32_t type = wire_get32(ps->hbuf);
    uint32_t len = wire_get32(ps->hbuf + 4);
    int rc;

    ps->rec.type = type;
    ps->rec.length_bytes = len;
    ps->rec.total_bytes = XS_REC_HDR_BYTES + len + pad8(len);
    if (len > XS_REC_LENGTH_MAX)
        return malformed(ps, "length over 128 MiB");
    if (type == XS_LIBXC_XLMIG_SWITCH && ps->params.accept_switch) {
        if (len > SWITCH_BODY_MAX)
            return malformed(ps, "switch record over 64 bytes");
        rc = emit_record(ps);
        if (rc)
            return rc;
        ps->state = ST_SWITCH_BODY;
        ps->sw_len = len;
        ps->sw_have = 0;
        ps->sw_need = len + pad8(len);
        return 0;
    }
    if (type > XS_LIBXC_TYPE_KNOWN_MAX && !(type & XS_REC_OPTIONAL))
        return malformed(ps, "unknown mandatory record");
    if ((type == XS_LIBXC_END || type == XS_LIBXC_CHECKPOINT) && len != 0)
        return malformed(ps, "non-empty marker record");
    if (type == XS_LIBXC_PAGE_DATA) {
        if (len < 8 || len > XS_PAGE_DATA_MAX_BYTES - XS_REC_HDR_BYTES)
            return malformed(ps, "PAGE_DATA length out of range");
        rc = emit_record(ps);
        if (rc)
            return rc;
        ps->pd_have = XS_REC_HDR_BYTES;
        ps->pd_need = XS_REC_HDR_BYTES + (size_t)len + pad8(len);
        ps->state = ST_PAGE_DATA;
        return 0;
    }
    rc = emit_record(ps);
    if (rc)
        return rc;
    rc = emit_bytes(ps, ps->hbuf, XS_REC_HDR_BYTES);
    if (rc)
        return rc;
    if (type == XS_LIBXC_END) {
        if (ps->bare_libxc)
            ps->state = ST_DONE;
        else
            expect(ps, ST_LIBXL_REC, XS_REC_HDR_BYTES);
        return 0;
    }
    if (type == XS_LIBXC_CHECKPOINT && !ps->bare_libxc) {
        ps->in_checkpoint = true;
        expect(ps, ST_LIBXL_REC, XS_REC_HDR_BYTES);
        return 0;
    }
    body(ps, (uint64_t)len + pad8(len), ST_LIBXC_REC, XS_REC_HDR_BYTES);
    ps->boundary_sent = false;
    return 0;
}

static int header_done(struct xs_parser *ps)
{
    const uint8_t *h = ps->hbuf;
    uint32_t optlen;
    int rc;

    switch (ps->state) {
    case ST_DETECT:
        if (!memcmp(h, XS_XL_MAGIC, 8)) {
            start_rec(ps, XS_LAYER_XL, XS_TYPE_HDR_XL);
            ps->rec.offset_bytes = 0;
            ps->state = ST_XL_HDR;
            ps->hneed = XS_XL_MAGIC_BYTES + XS_XL_HDR_BYTES;
        } else if (wire_get64be(h) == XS_LIBXL_IDENT) {
            start_rec(ps, XS_LAYER_LIBXL, XS_TYPE_HDR_LIBXL);
            ps->rec.offset_bytes = 0;
            ps->state = ST_LIBXL_HDR;
            ps->hneed = XS_LIBXL_HDR_BYTES;
        } else if (wire_get64be(h) == XS_LIBXC_MARKER) {
            start_rec(ps, XS_LAYER_LIBXC, XS_TYPE_HDR_LIBXC);
            ps->rec.offset_bytes = 0;
            ps->bare_libxc = true;
            ps->state = ST_LIBXC_IHDR;
            ps->hneed = XS_LIBXC_IHDR_BYTES + XS_LIBXC_DHDR_BYTES;
        } else {
            start_rec(ps, XS_LAYER_XL, XS_TYPE_HDR_XL);
            ps->rec.offset_bytes = 0;
            return malformed(ps, "not an xl, libxl or libxc stream");
        }
        return 0; /* keep collecting into hbuf */
    case ST_XL_HDR:
        if (memcmp(h, XS_XL_MAGIC, XS_XL_MAGIC_BYTES))
            return malformed(ps, "bad xl save-file magic");
        if (wire_get32(h + 32) != XS_XL_BYTEORDER)
            return malformed(ps, "unsupported byte order");
        if (!(wire_get32(h + 36) & XS_XL_MFLAG_STREAMV2))
            return malformed(ps, "legacy (v1) stream not supported");
        optlen = wire_get32(h + 44);
        if (optlen > XS_XL_OPTDATA_MAX)
            return malformed(ps, "optional data over 16 MiB");
        ps->rec.length_bytes = XS_XL_HDR_BYTES + optlen;
        ps->rec.total_bytes = XS_XL_MAGIC_BYTES + XS_XL_HDR_BYTES + optlen;
        rc = emit_record(ps);
        if (!rc)
            rc = emit_bytes(ps, h, ps->hneed);
        if (rc)
            return rc;
        body(ps, optlen, ST_LIBXL_HDR, XS_LIBXL_HDR_BYTES);
        return 0;
    case ST_LIBXL_HDR:
        ps->rec.layer = XS_LAYER_LIBXL;
        ps->rec.type = XS_TYPE_HDR_LIBXL;
        if (wire_get64be(h) != XS_LIBXL_IDENT)
            return malformed(ps, "bad libxl stream ident");
        if (wire_get32be(h + 8) != 2)
            return malformed(ps, "libxl stream version is not 2");
        if (wire_get32be(h + 12) & 1)
            return malformed(ps, "big-endian stream not supported");
        ps->rec.length_bytes = XS_LIBXL_HDR_BYTES;
        ps->rec.total_bytes = XS_LIBXL_HDR_BYTES;
        rc = emit_record(ps);
        if (!rc)
            rc = emit_bytes(ps, h, XS_LIBXL_HDR_BYTES);
        if (rc)
            return rc;
        expect(ps, ST_LIBXL_REC, XS_REC_HDR_BYTES);
        return 0;
    case ST_LIBXC_IHDR:
        ps->rec.layer = XS_LAYER_LIBXC;
        ps->rec.type = XS_TYPE_HDR_LIBXC;
        if (wire_get64be(h) != XS_LIBXC_MARKER)
            return malformed(ps, "bad libxc image marker");
        if (wire_get32be(h + 8) != XS_LIBXC_ID)
            return malformed(ps, "bad libxc image id");
        if (wire_get32be(h + 12) != 2 && wire_get32be(h + 12) != 3)
            return malformed(ps, "unsupported libxc stream version");
        if (wire_get16be(h + 16) & 1)
            return malformed(ps, "big-endian stream not supported");
        ps->domain_type = wire_get32(h + 24);
        if (ps->domain_type == 0 || ps->domain_type > 4)
            return malformed(ps, "unknown domain type");
        if (wire_get16(h + 28) != XS_PAGE_SHIFT)
            return malformed(ps, "page shift is not 12");
        ps->rec.length_bytes = XS_LIBXC_IHDR_BYTES + XS_LIBXC_DHDR_BYTES;
        ps->rec.total_bytes = ps->rec.length_bytes;
        rc = emit_record(ps);
        if (!rc)
            rc = emit_bytes(ps, h, ps->rec.length_bytes);
        if (rc)
            return rc;
        expect(ps, ST_LIBXC_REC, XS_REC_HDR_BYTES);
        ps->boundary_sent = false;
        return 0;
    case ST_LIBXL_REC:
        return libxl_rec(ps);
    case ST_LIBXC_REC:
        return libxc_rec(ps);
    default:
        return malformed(ps, "parser state");
    }
}

int xs_parser_feed(struct xs_parser *ps, const void *buf, size_t len,
                   size_t *used_r)
{
    const uint8_t *p = buf;
    size_t used = 0, n;
    bool whole;
    int rc;

    if (ps->state == ST_ERROR)
        return -EPROTO;
    while (used < len) {
        if (ps->switched)
            break;
        switch (ps->state) {
        case ST_DONE:
            goto done;
        case ST_BODY:
            n = len - used;
            if (n > ps->body_left)
                n = (size_t)ps->body_left;
            rc = emit_bytes(ps, p + used, n);
            if (rc)
                return rc;
            used += n;
            ps->offset += n;
            ps->body_left -= n;
            if (!ps->body_left)
                after_body(ps);
            break;
        case ST_PAGE_DATA:
            if (ps->pd_have == XS_REC_HDR_BYTES) {
                rc = wire_buf_reserve(&ps->pd, &ps->pd_cap, ps->pd_need);
                if (rc)
                    return rc;
                memcpy(ps->pd, ps->hbuf, XS_REC_HDR_BYTES);
            }
            n = ps->pd_need - ps->pd_have;
            if (n > len - used)
                n = len - used;
            memcpy(ps->pd + ps->pd_have, p + used, n);
            ps->pd_have += n;
            used += n;
            ps->offset += n;
            if (ps->pd_have == ps->pd_need) {
                rc = page_data_done(ps, ps->pd);
                if (rc)
                    return rc;
            }
            break;
        case ST_SWITCH_BODY:
            n = ps->sw_need - ps->sw_have;
            if (n > len - used)
                n = len - used;
            if (ps->sw_have < ps->sw_len) {
                size_t c = ps->sw_len - ps->sw_have;

                memcpy(ps->sw + ps->sw_have, p + used, c < n ? c : n);
            }
            ps->sw_have += n;
            used += n;
            ps->offset += n;
            if (ps->sw_have == ps->sw_need) {
                ps->switched = true;
                expect(ps, ST_LIBXC_REC, XS_REC_HDR_BYTES);
                ps->boundary_sent = false;
            }
            break;
        default:
            if (ps->state == ST_LIBXC_REC && ps->hhave == 0 &&
                !ps->boundary_sent) {
                ps->boundary_sent = true;
                if (ps->ops->boundary) {
                    rc = ps->ops->boundary(ps->opaque);
                    if (rc)
                        return rc;
                }
            }
            n = ps->hneed - ps->hhave;
            if (n > len - used)
                n = len - used;
            whole = n == ps->hneed;
            memcpy(ps->hbuf + ps->hhave, p + used, n);
            ps->hhave += n;
            used += n;
            ps->offset += n;
            if (ps->hhave == ps->hneed) {
                rc = header_done(ps);
                if (rc)
                    return rc;
                /*
                 * A PAGE_DATA record wholly in this buffer, header
                 * included: parse it in place, without a copy.
                 */
                n = ps->pd_need - ps->pd_have;
                if (ps->state == ST_PAGE_DATA && whole && n <= len - used) {
                    used += n;
                    ps->offset += n;
                    rc = page_data_done(ps, p + used - ps->pd_need);
                    if (rc)
                        return rc;
                }
            }
            break;
        }
    }
    if (ps->state == ST_BODY && !ps->body_left)
        after_body(ps);
done:
    if (used_r) {
        *used_r = used;
    } else if (used < len) {
        start_rec(ps, ps->rec.layer, 0xffffffffu);
        return malformed(ps, "trailing bytes after the end of the stream");
    }
    return 0;
}

int xs_parser_finish(struct xs_parser *ps)
{
    if (ps->state == ST_ERROR)
        return -EPROTO;
    if (ps->state == ST_DONE)
        return 0;
    return malformed(ps, "stream truncated");
}
