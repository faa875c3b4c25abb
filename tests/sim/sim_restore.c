/* SPDX-License-Identifier: MIT */
/*
 * Simulated guest backend, restore side: a TEST INSTRUMENT (see sim.h).
 *
 * Reads an `xl migrate` stream the way xl/libxl/libxc's restore reads it
 * (streaming, one record at a time), rebuilds the guest's memory and
 * checks it against the sender.  Every length and count from the stream
 * is capped before anything is allocated; malformed input is -EPROTO with
 * one line naming the byte offset and the record, never an assert.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "sim-restore: "
#include "common/log.h"
#include "sim.h"
#include "sim_priv.h"

#define XL_OPTDATA_MAX (1u << 20) /* JSON config and friends */
#define PFN_MASK       (((uint64_t)1 << 52) - 1)
#define PFN_RESVD_MASK ((((uint64_t)1 << 60) - 1) & ~PFN_MASK)
#define TYPE_NONE      0xffu /* types[]: pfn never received */

struct sim_restore {
    enum sim_flavour flavour;
    uint64_t max_pfns;
    uint8_t **pages; /* max_pfns entries, pages allocated on first data */
    uint8_t *types;  /* PFINFO nibble as received, TYPE_NONE if never */
    uint8_t *body;
    size_t body_cap;
    uint64_t off; /* bytes consumed from the stream */
    const struct sim_reader *rd;
    bool verify_mode;
    unsigned int seen; /* SEEN_* */
    unsigned int vcpus_basic;
    struct sim_restore_stats st;
};

enum {
    SEEN_STATIC_END = 1u << 0,
    SEEN_PV_INFO = 1u << 1,
    SEEN_P2M_FRAMES = 1u << 2,
    SEEN_SHARED_INFO = 1u << 3,
    SEEN_HVM_CONTEXT = 1u << 4,
    SEEN_CPUID = 1u << 5,
    SEEN_MSR = 1u << 6,
    SEEN_TSC = 1u << 7,
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
#define NR_LIBXC_NAMES (sizeof(libxc_names) / sizeof(libxc_names[0]))

static const char *libxc_name(uint32_t type)
{
    return type < NR_LIBXC_NAMES ? libxc_names[type] : "unknown";
}

int sim_restore_new(enum sim_flavour flavour, uint64_t max_pfns,
                    struct sim_restore **r_r)
{
    struct sim_restore *r = NULL;
    int rc;

    if ((flavour != SIM_X86_PV && flavour != SIM_X86_HVM) || max_pfns == 0 ||
        max_pfns > SIM_MAX_PFNS_LIMIT) {
        LOG(ERROR, "bad restore parameters (flavour %d, max pfns %" PRIu64 ")",
            (int)flavour, max_pfns);
        rc = -EINVAL;
        goto out;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        rc = -ENOMEM;
        goto out;
    }
    r->flavour = flavour;
    r->max_pfns = max_pfns;
    r->pages = calloc(max_pfns, sizeof(*r->pages));
    r->types = malloc(max_pfns);
    if (!r->pages || !r->types) {
        rc = -ENOMEM;
        goto out;
    }
    memset(r->types, TYPE_NONE, max_pfns);
    *r_r = r;
    r = NULL;
    rc = 0;
out:
    sim_restore_free(r);
    return rc;
}

void sim_restore_free(struct sim_restore *r)
{
    uint64_t i;

    if (!r)
        return;
    for (i = 0; r->pages && i < r->max_pfns; i++)
        free(r->pages[i]);
    free(r->pages);
    free(r->types);
    free(r->body);
    free(r);
}

const struct sim_restore_stats *sim_restore_stats(const struct sim_restore *r)
{
    return &r->st;
}

/* Read exactly len bytes; a short read is a truncated stream. */
static int rd(struct sim_restore *r, void *buf, size_t len, const char *what)
{
    int rc = r->rd->read(r->rd->opaque, buf, len);

    if (rc == -EPIPE || rc == -EPROTO) {
        LOG(ERROR, "stream truncated at offset %" PRIu64 " in %s", r->off,
            what);
        return -EPROTO;
    }
    if (rc) {
        LOGEV(ERROR, -rc, "read error at offset %" PRIu64, r->off);
        return rc;
    }
    r->off += len;
    r->st.stream_bytes += len;
    return 0;
}

static int body_reserve(struct sim_restore *r, size_t len)
{
    uint8_t *b;

    if (len <= r->body_cap)
        return 0;
    b = realloc(r->body, len);
    if (!b)
        return -ENOMEM;
    r->body = b;
    r->body_cap = len;
    return 0;
}

#define BAD(fmt, ...)                                                      \
    do {                                                                   \
        LOG(ERROR, "malformed stream at offset %" PRIu64 ": " fmt, recoff, \
            ##__VA_ARGS__);                                                \
        return -EPROTO;                                                    \
    } while (0)

static int page_data(struct sim_restore *r, uint64_t recoff, const uint8_t *b,
                     uint32_t len)
{
    uint32_t count, i, nr_data = 0;
    const uint8_t *data;

    if (len < 16)
        BAD("PAGE_DATA record of %" PRIu32 " bytes", len);
    count = sim_get_le32(b);
    if (sim_get_le32(b + 4))
        BAD("PAGE_DATA reserved field set");
    if (count == 0 || count > SIM_BATCH_MAX_PFNS)
        BAD("PAGE_DATA count %" PRIu32 " out of 1..%u", count,
            SIM_BATCH_MAX_PFNS);
    if (len < 8 + (uint64_t)8 * count)
        BAD("PAGE_DATA of %" PRIu32 " bytes cannot hold %" PRIu32 " pfns", len,
            count);
    if (!(r->seen & SEEN_STATIC_END))
        BAD("PAGE_DATA before STATIC_DATA_END");
    for (i = 0; i < count; i++) {
        uint64_t w = sim_get_le64(b + 8 + (uint64_t)8 * i);
        unsigned int t = w >> 60;

        if (w & PFN_RESVD_MASK)
            BAD("PAGE_DATA pfn[%" PRIu32 "] reserved bits set: %#" PRIx64, i,
                w);
        if (t >= 5 && t <= 8)
            BAD("PAGE_DATA pfn[%" PRIu32 "] invalid type %#x", i, t);
        if ((w & PFN_MASK) >= r->max_pfns)
            BAD("PAGE_DATA pfn %#" PRIx64 " beyond the domain's %#" PRIx64,
                w & PFN_MASK, r->max_pfns);
        if (r->flavour == SIM_X86_HVM && t != 0 && t < 0xd)
            BAD("PAGE_DATA pagetable type %#x in an HVM stream", t);
        if (t < 0xd)
            nr_data++;
    }
    if ((uint64_t)len !=
        8 + (uint64_t)8 * count + (uint64_t)nr_data * SIM_PAGE_SIZE)
        BAD("PAGE_DATA length %" PRIu32 ", expected %" PRIu64, len,
            8 + (uint64_t)8 * count + (uint64_t)nr_data * SIM_PAGE_SIZE);

    data = b + 8 + (uint64_t)8 * count;
    for (i = 0; i < count; i++) {
        uint64_t w = sim_get_le64(b + 8 + (uint64_t)8 * i), pfn = w & PFN_MASK;
        unsigned int t = w >> 60;

        if (t >= 0xd) {
            r->st.xtab_pfns++;
            if (t == 0xe && !r->pages[pfn]) { /* XALLOC: allocate only */
                r->pages[pfn] = calloc(1, SIM_PAGE_SIZE);
                if (!r->pages[pfn])
                    return -ENOMEM;
                r->types[pfn] = 0;
            }
            continue;
        }
        if (r->types[pfn] != TYPE_NONE)
            r->st.pages_resent++;
        if (r->verify_mode) {
            if (!r->pages[pfn] || memcmp(r->pages[pfn], data, SIM_PAGE_SIZE))
                BAD("verify pfn %#" PRIx64 " failed", pfn);
        } else {
            if (!r->pages[pfn]) {
                r->pages[pfn] = malloc(SIM_PAGE_SIZE);
                if (!r->pages[pfn])
                    return -ENOMEM;
            }
            memcpy(r->pages[pfn], data, SIM_PAGE_SIZE);
        }
        r->types[pfn] = t;
        data += SIM_PAGE_SIZE;
        r->st.pages++;
    }
    r->st.page_data_records++;
    return 0;
}

/* HVM_CONTEXT: a chain of {u16 typecode, u16 instance, u32 length}. */
static int hvm_context(uint64_t recoff, const uint8_t *b, uint32_t len)
{
    uint32_t pos = 0;

    if (len == 0)
        BAD("empty HVM_CONTEXT");
    while (pos + 8 <= len) {
        uint16_t code = (uint16_t)(b[pos] | b[pos + 1] << 8);
        uint32_t l = sim_get_le32(b + pos + 4);

        pos += 8;
        if (l > len - pos)
            BAD("HVM_CONTEXT descriptor at +%" PRIu32 " overruns the record",
                pos - 8);
        pos += l;
        if (code == 0)
            return 0;
    }
    BAD("HVM_CONTEXT without an END descriptor");
}

/* One libxc record; *type_r set to its type. */
static int libxc_record(struct sim_restore *r, uint32_t *type_r)
{
    uint64_t recoff = r->off;
    uint8_t hdr[8];
    uint32_t type, len, padded, i;
    bool pv = r->flavour == SIM_X86_PV;
    int rc;

    rc = rd(r, hdr, 8, "a libxc record header");
    if (rc)
        return rc;
    type = sim_get_le32(hdr);
    len = sim_get_le32(hdr + 4);
    if (len > SIM_REC_LENGTH_MAX)
        BAD("%s record of %" PRIu32 " bytes (max %u)", libxc_name(type), len,
            SIM_REC_LENGTH_MAX);
    padded = (len + 7) & ~7u;
    rc = body_reserve(r, padded ? padded : 8);
    if (rc)
        return rc;
    rc = rd(r, r->body, padded, libxc_name(type));
    if (rc)
        return rc;
    for (i = len; i < padded; i++)
        if (r->body[i])
            BAD("%s record padding not zero", libxc_name(type));
    r->st.records++;
    *type_r = type;

    switch (type) {
    case 0x00: /* END */
        if (len)
            BAD("END record of %" PRIu32 " bytes", len);
        if (!(r->seen & SEEN_STATIC_END))
            BAD("END before STATIC_DATA_END");
        if (pv && (!(r->seen & SEEN_SHARED_INFO) || !r->vcpus_basic))
            BAD("END of a PV stream without SHARED_INFO or vcpu state");
        if (!pv && !(r->seen & SEEN_HVM_CONTEXT))
            BAD("END of an HVM stream without HVM_CONTEXT");
        return 0;
    case 0x01:
        return page_data(r, recoff, r->body, len);
    case 0x02: /* X86_PV_INFO */
        if (!pv || len != 8)
            BAD("X86_PV_INFO (length %" PRIu32 ") in a%s stream", len,
                pv ? " PV" : "n HVM");
        if ((r->body[0] != 4 && r->body[0] != 8) ||
            (r->body[1] != 3 && r->body[1] != 4))
            BAD("X86_PV_INFO width %u levels %u", r->body[0], r->body[1]);
        r->seen |= SEEN_PV_INFO;
        return 0;
    case 0x03: /* X86_PV_P2M_FRAMES */
        if (!pv || len < 8 || len % 8 || !(r->seen & SEEN_PV_INFO))
            BAD("X86_PV_P2M_FRAMES of %" PRIu32 " bytes out of place", len);
        if (sim_get_le32(r->body + 4) >= r->max_pfns)
            BAD("X86_PV_P2M_FRAMES end pfn %#" PRIx32 " too large",
                sim_get_le32(r->body + 4));
        r->seen |= SEEN_P2M_FRAMES;
        return 0;
    case 0x04: /* X86_PV_VCPU_BASIC */
    case 0x05:
    case 0x06:
    case 0x0c:
        if (!pv || len < 8)
            BAD("%s of %" PRIu32 " bytes", libxc_name(type), len);
        if (sim_get_le32(r->body) >= 4096)
            BAD("%s for vcpu %" PRIu32, libxc_name(type),
                sim_get_le32(r->body));
        if (type == 0x04)
            r->vcpus_basic++;
        return 0;
    case 0x07: /* SHARED_INFO */
        if (!pv || len != SIM_PAGE_SIZE)
            BAD("SHARED_INFO of %" PRIu32 " bytes", len);
        r->seen |= SEEN_SHARED_INFO;
        return 0;
    case 0x08: /* X86_TSC_INFO */
        if (len != 24)
            BAD("X86_TSC_INFO of %" PRIu32 " bytes", len);
        r->seen |= SEEN_TSC;
        return 0;
    case 0x09:
        if (pv)
            BAD("HVM_CONTEXT in a PV stream");
        rc = hvm_context(recoff, r->body, len);
        if (!rc)
            r->seen |= SEEN_HVM_CONTEXT;
        return rc;
    case 0x0a: /* HVM_PARAMS */
        if (pv || len < 8 || len != 8 + (uint64_t)16 * sim_get_le32(r->body))
            BAD("HVM_PARAMS of %" PRIu32 " bytes", len);
        return 0;
    case 0x0d: /* VERIFY */
        if (len)
            BAD("VERIFY record of %" PRIu32 " bytes", len);
        r->verify_mode = true;
        return 0;
    case 0x10: /* STATIC_DATA_END */
        if (len || (r->seen & SEEN_STATIC_END))
            BAD("STATIC_DATA_END repeated or of %" PRIu32 " bytes", len);
        if (pv && !(r->seen & SEEN_PV_INFO))
            BAD("STATIC_DATA_END before X86_PV_INFO");
        r->seen |= SEEN_STATIC_END;
        return 0;
    case 0x11: /* X86_CPUID_POLICY */
        if (len == 0 || len % 24 || (r->seen & SEEN_STATIC_END))
            BAD("X86_CPUID_POLICY of %" PRIu32 " bytes out of place", len);
        r->seen |= SEEN_CPUID;
        return 0;
    case 0x12: /* X86_MSR_POLICY */
        if (len == 0 || len % 16 || (r->seen & SEEN_STATIC_END))
            BAD("X86_MSR_POLICY of %" PRIu32 " bytes out of place", len);
        r->seen |= SEEN_MSR;
        return 0;
    default:
        if (type & 0x80000000u)
            return 0; /* unknown optional record: skipped */
        BAD("%s mandatory record type %#" PRIx32 " not supported",
            libxc_name(type), type);
    }
}

static int libxc_stream(struct sim_restore *r)
{
    uint64_t recoff = r->off;
    uint8_t h[40];
    uint32_t type = 0;
    int rc;

    rc = rd(r, h, 40, "the libxc image/domain header");
    if (rc)
        return rc;
    if (sim_get_be64(h) != ~0ull || sim_get_be32(h + 8) != 0x58454e46)
        BAD("no libxc image header");
    if (sim_get_be32(h + 12) != 3)
        BAD("libxc stream version %" PRIu32 ", expected 3",
            sim_get_be32(h + 12));
    if (h[16] || h[17] || h[18] || h[19] || sim_get_be32(h + 20))
        BAD("libxc image header options/reserved set (big endian?)");
    recoff += 24;
    if (sim_get_le32(h + 24) != (uint32_t)r->flavour)
        BAD("domain type %" PRIu32 ", expected %u", sim_get_le32(h + 24),
            (unsigned int)r->flavour);
    if (h[28] != 12 || h[29] || h[30] || h[31])
        BAD("domain header page shift %u", h[28]);
    do {
        rc = libxc_record(r, &type);
        if (rc)
            return rc;
    } while (type != 0);
    return 0;
}

int sim_restore_read(struct sim_restore *r, const struct sim_reader *reader)
{
    static const char magic[32] = "Xen saved domain, xl format\n \0 \r";
    uint8_t h[48];
    uint64_t recoff = 0;
    uint32_t mflags, optlen, type, len, one = 0x01020304;
    bool libxc_done = false;
    int rc;

    r->rd = reader;
    r->off = 0;
    rc = rd(r, h, 48, "the xl header");
    if (rc)
        return rc;
    if (memcmp(h, magic, 32))
        BAD("no xl save-file header");
    if (memcmp(h + 32, &one, 4))
        BAD("xl header of the other byte order");
    memcpy(&mflags, h + 36, 4);
    memcpy(&optlen, h + 44, 4);
    if (mflags & ~3u)
        BAD("unknown xl mandatory flags %#" PRIx32, mflags);
    if (!(mflags & 2))
        BAD("legacy (pre-v2) stream not supported");
    if (optlen > XL_OPTDATA_MAX)
        BAD("xl optional data of %" PRIu32 " bytes (max %u)", optlen,
            XL_OPTDATA_MAX);
    rc = body_reserve(r, optlen ? optlen : 8);
    if (!rc)
        rc = rd(r, r->body, optlen, "the xl config");
    if (rc)
        return rc;
    if ((mflags & 1) && (optlen < 4 || sim_get_le32(r->body) > optlen - 4))
        BAD("xl JSON config length does not fit");

    recoff = r->off;
    rc = rd(r, h, 16, "the libxl header");
    if (rc)
        return rc;
    if (sim_get_be64(h) != 0x4c6962786c466d74ull)
        BAD("no libxl stream header");
    if (sim_get_be32(h + 8) != 2)
        BAD("libxl stream version %" PRIu32, sim_get_be32(h + 8));
    if (sim_get_be32(h + 12) & ~2u)
        BAD("libxl options %#" PRIx32, sim_get_be32(h + 12));

    for (;;) {
        recoff = r->off;
        rc = rd(r, h, 8, "a libxl record header");
        if (rc)
            return rc;
        type = sim_get_le32(h);
        len = sim_get_le32(h + 4);
        if (type == 0) {
            if (len)
                BAD("libxl END of %" PRIu32 " bytes", len);
            if (!libxc_done)
                BAD("libxl END without a libxc stream");
            break;
        }
        if (type == 1) {
            if (len || libxc_done)
                BAD("libxl LIBXC_CONTEXT of %" PRIu32 " bytes or repeated",
                    len);
            rc = libxc_stream(r);
            if (rc)
                return rc;
            libxc_done = true;
            continue;
        }
        if (type == 2 || type == 3) { /* EMULATOR_{XENSTORE_DATA,CONTEXT} */
            uint32_t padded = (len + 7) & ~7u;

            if (len < 8 || len > SIM_REC_LENGTH_MAX)
                BAD("libxl emulator record of %" PRIu32 " bytes", len);
            rc = body_reserve(r, padded);
            if (!rc)
                rc = rd(r, r->body, padded, "a libxl emulator record");
            if (rc)
                return rc;
            continue;
        }
        BAD("libxl record type %#" PRIx32 " not supported", type);
    }
    /* Nothing may follow the stream. */
    rc = reader->read(reader->opaque, h, 1);
    if (rc != -EPIPE) {
        recoff = r->off;
        BAD("data after the libxl END record");
    }
    return 0;
}

int sim_restore_buf(struct sim_restore *r, const void *buf, size_t len)
{
    struct sim_mem_reader m = { buf, len, 0 };
    struct sim_reader reader = { sim_mem_read, &m };

    return sim_restore_read(r, &reader);
}

int sim_restore_check(const struct sim_restore *r, struct sim_guest *g)
{
    uint64_t pfn, n = sim_guest_p2m_size(g);
    uint64_t mism = 0;

    if (r->max_pfns > n)
        n = r->max_pfns;
    for (pfn = 0; pfn < n; pfn++) {
        const uint8_t *want =
            pfn < sim_guest_p2m_size(g) ? sim_guest_page(g, pfn) : NULL;
        const uint8_t *got = pfn < r->max_pfns ? r->pages[pfn] : NULL;

        if (!want && !got)
            continue;
        if (!want) {
            LOG(ERROR,
                "pfn %#" PRIx64 " restored but not populated on the "
                "sender",
                pfn);
            mism++;
        } else if (!got) {
            LOG(ERROR,
                "pfn %#" PRIx64 " populated on the sender, never "
                "received",
                pfn);
            mism++;
        } else if (memcmp(want, got, SIM_PAGE_SIZE)) {
            unsigned int i = 0;

            while (want[i] == got[i])
                i++;
            LOG(ERROR,
                "pfn %#" PRIx64 " differs at byte %u: sent %#04x, "
                "restored %#04x",
                pfn, i, want[i], got[i]);
            mism++;
        } else if (r->types[pfn] != sim_guest_page_type(g, pfn)) {
            LOG(ERROR, "pfn %#" PRIx64 " has type %#x, expected %#x", pfn,
                r->types[pfn], sim_guest_page_type(g, pfn));
            mism++;
        }
        if (mism >= 10)
            break;
    }
    return mism ? -EIO : 0;
}
