/* SPDX-License-Identifier: MIT */
/*
 * Simulated guest backend, sender side: a TEST INSTRUMENT (see sim.h).
 *
 * The layout of the stream follows Xen 4.17's savers (xg_sr_save.c,
 * xg_sr_save_x86_{pv,hvm}.c, libxl_stream_write.c, xl_saverestore.c):
 *
 *   xl save-file header, JSON domain config
 *   libxl header, LIBXC_CONTEXT (length 0), then the libxc stream:
 *     image header, domain header
 *     PV:  X86_PV_INFO, X86_CPUID_POLICY, X86_MSR_POLICY, STATIC_DATA_END,
 *          X86_PV_P2M_FRAMES
 *     HVM: X86_CPUID_POLICY, X86_MSR_POLICY, STATIC_DATA_END
 *     PAGE_DATA ... (round 0: every pfn of the p2m, then dirty pfns)
 *     PV:  X86_TSC_INFO, SHARED_INFO, per vcpu X86_PV_VCPU_{BASIC,
 *          EXTENDED,XSAVE,MSRS}
 *     HVM: X86_TSC_INFO, HVM_CONTEXT, HVM_PARAMS
 *     END
 *   libxl END
 *
 * Record framing, pfn/type words, batch size and the precopy policy are
 * Xen's; the CPU state inside the records is synthetic (right framing and
 * sizes, made-up register values).  All multi-byte fields are written
 * byte by byte, never as a C struct.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "sim: "
#include "common/log.h"
#include "sim.h"
#include "sim_priv.h"

/* ------------------------------------------------------------ helpers */

void sim_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

void sim_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

void sim_put_le64(uint8_t *p, uint64_t v)
{
    sim_put_le32(p, (uint32_t)v);
    sim_put_le32(p + 4, (uint32_t)(v >> 32));
}

void sim_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

void sim_put_be64(uint8_t *p, uint64_t v)
{
    sim_put_be32(p, (uint32_t)(v >> 32));
    sim_put_be32(p + 4, (uint32_t)v);
}

uint32_t sim_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint64_t sim_get_le64(const uint8_t *p)
{
    return (uint64_t)sim_get_le32(p) | (uint64_t)sim_get_le32(p + 4) << 32;
}

uint32_t sim_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

uint64_t sim_get_be64(const uint8_t *p)
{
    return (uint64_t)sim_get_be32(p) << 32 | (uint64_t)sim_get_be32(p + 4);
}

/* xoshiro256** seeded by splitmix64: fast and the same everywhere. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    int i;

    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

/* Uniform in [0, n), n > 0 (bias below 2^-32 for the sizes used here). */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)sim_rng_next(r) * n) >> 64);
}

bool sim_page_is_zero(const uint8_t *page)
{
    const uint64_t *w = (const uint64_t *)page;
    uint64_t acc = 0;
    unsigned int i;

    for (i = 0; i < SIM_PAGE_SIZE / 8; i += 8)
        acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] |
               w[i + 6] | w[i + 7];
    return acc == 0;
}

/* --------------------------------------------------------- parameters */

static const char *const workload_names[SIM_WL_COUNT] = {
    [SIM_WL_IDLE] = "idle",     [SIM_WL_INCREMENT] = "increment",
    [SIM_WL_HOTSET] = "hotset", [SIM_WL_TEXT] = "text",
    [SIM_WL_RANDOM] = "random", [SIM_WL_ZERO] = "zero",
};

void sim_params_init(struct sim_params *p)
{
    memset(p, 0, sizeof(*p));
    p->flavour = SIM_X86_HVM;
    p->workload = SIM_WL_IDLE;
    p->ram_pages = 4096;
    p->max_rounds = 5;          /* SPP_MAX_ITERATIONS */
    p->target_dirty_pages = 50; /* SPP_TARGET_DIRTY_COUNT */
    p->vcpus = 1;
    p->seed = 1;
}

const char *sim_workload_name(enum sim_workload w)
{
    return (unsigned int)w < SIM_WL_COUNT ? workload_names[w] : "?";
}

int sim_workload_from_name(const char *name, enum sim_workload *w_r)
{
    unsigned int i;

    for (i = 0; i < SIM_WL_COUNT; i++)
        if (!strcmp(name, workload_names[i])) {
            *w_r = i;
            return 0;
        }
    return -EINVAL;
}

const char *sim_flavour_name(enum sim_flavour f)
{
    return f == SIM_X86_PV ? "pv" : f == SIM_X86_HVM ? "hvm" : "?";
}

int sim_flavour_from_name(const char *name, enum sim_flavour *f_r)
{
    if (!strcmp(name, "pv")) {
        *f_r = SIM_X86_PV;
        return 0;
    }
    if (!strcmp(name, "hvm") || !strcmp(name, "pvh")) {
        *f_r = SIM_X86_HVM;
        return 0;
    }
    return -EINVAL;
}

/* ------------------------------------------------------ writers/readers */

void sim_buf_init(struct sim_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void sim_buf_dispose(struct sim_buf *b)
{
    free(b->data);
    sim_buf_init(b);
}

int sim_buf_write(void *opaque, const void *buf, size_t len)
{
    struct sim_buf *b = opaque;

    if (len > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 65536;
        uint8_t *d;

        while (cap - b->len < len) {
            if (cap > SIZE_MAX / 2)
                return -ENOMEM;
            cap *= 2;
        }
        d = realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

int sim_mem_read(void *opaque, void *buf, size_t len)
{
    struct sim_mem_reader *m = opaque;

    if (len > m->len - m->pos) {
        bool at_start = m->pos == m->len;

        m->pos = m->len;
        return at_start ? -EPIPE : -EPROTO;
    }
    memcpy(buf, m->data + m->pos, len);
    m->pos += len;
    return 0;
}

int sim_fd_write(void *opaque, const void *buf, size_t len)
{
    int fd = *(int *)opaque;
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= n;
    }
    return 0;
}

int sim_fd_read(void *opaque, void *buf, size_t len)
{
    int fd = *(int *)opaque;
    uint8_t *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return got == 0 ? -EPIPE : -EPROTO;
        got += n;
    }
    return 0;
}

/* ------------------------------------------------------------- content */

static const char *const words[] = {
    "the",      "of",          "and",       "to",         "in",       "is",
    "for",      "that",        "with",      "on",         "as",       "by",
    "kernel",   "device",      "driver",    "memory",     "page",     "buffer",
    "struct",   "static",      "return",    "unsigned",   "const",    "void",
    "if",       "else",        "while",     "error",      "failed",   "init",
    "module",   "xen",         "event",     "channel",    "grant",    "table",
    "block",    "net",         "front",     "back",       "ring",     "request",
    "response", "irq",         "cpu",       "timer",      "clock",    "sched",
    "task",     "process",     "thread",    "mutex",      "lock",     "spin",
    "list",     "head",        "node",      "entry",      "value",    "key",
    "string",   "config",      "option",    "enabled",    "disabled", "status",
    "ready",    "busybox",     "console",   "hvc0",       "tty",      "mount",
    "proc",     "sys",         "dev",       "root",       "bin",      "sbin",
    "usr",      "lib",         "etc",       "var",        "tmp",      "home",
    "start",    "stop",        "link",      "file",       "path",     "name",
    "size",     "count",       "offset",    "length",     "address",  "virtual",
    "physical", "mapping",     "flags",     "state",      "mode",     "type",
    "version",  "number",      "index",     "handle",     "object",   "class",
    "write",    "read",        "open",      "close",      "ioctl",    "poll",
    "select",   "signal",      "wait",      "wake",       "queue",    "work",
    "pci",      "acpi",        "apic",      "msi",        "dma",      "iommu",
    "vcpu",     "domain",      "hypercall", "shared",     "info",     "store",
    "watch",    "transaction", "backend",   "frontend",   "suspend",  "resume",
    "migrate",  "restore",     "save",      "checkpoint", "dirty",    "log",
    "printk",   "warning",     "notice",    "debug",      "trace",    "panic",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static void gen_text(struct sim_rng *r, uint8_t *p, size_t n)
{
    size_t i = 0, col = 0;

    while (i < n) {
        uint64_t x = sim_rng_next(r);
        const char *w;
        char tmp[24];
        size_t l;

        if ((x & 63) == 0) {
            l = (size_t)snprintf(tmp, sizeof(tmp), "0x%08" PRIx32,
                                 (uint32_t)(x >> 32) & 0xffff0000u);
            w = tmp;
        } else if ((x & 63) == 1) {
            l = (size_t)snprintf(tmp, sizeof(tmp), "%u",
                                 (unsigned int)((x >> 40) & 0x3ff));
            w = tmp;
        } else {
            /* skewed towards the first words, as real text is */
            w = words[((x >> 8) % NWORDS) * ((x >> 20) % NWORDS) / NWORDS];
            l = strlen(w);
        }
        if (l > n - i)
            l = n - i;
        memcpy(p + i, w, l);
        i += l;
        col += l;
        if (i < n) {
            uint8_t sep = ' ';

            if (col > 60 + ((x >> 20) & 15)) {
                sep = '\n';
                col = 0;
            } else if (((x >> 24) & 15) == 0) {
                sep = (x >> 28) & 1 ? ',' : '.';
            } else if (((x >> 24) & 15) == 1) {
                sep = (x >> 28) & 1 ? '_' : '/';
            }
            p[i++] = sep;
            col++;
        }
    }
}

/* x86-64 instruction templates; 0xAB marks a random byte. */
static const uint8_t insn_tmpl[][8] = {
    { 1, 0x55 },
    { 3, 0x48, 0x89, 0xe5 },
    { 2, 0x41, 0x57 },
    { 2, 0x41, 0x56 },
    { 1, 0x53 },
    { 4, 0x48, 0x83, 0xec, 0xAB },
    { 4, 0x48, 0x8b, 0x45, 0xAB },
    { 4, 0x48, 0x89, 0x45, 0xAB },
    { 4, 0x48, 0x8b, 0x7f, 0xAB },
    { 5, 0xe8, 0xAB, 0xAB, 0xAB, 0xff },
    { 1, 0xc3 },
    { 5, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
    { 2, 0x31, 0xc0 },
    { 2, 0x85, 0xc0 },
    { 2, 0x74, 0xAB },
    { 2, 0x75, 0xAB },
    { 7, 0x48, 0x8d, 0x3d, 0xAB, 0xAB, 0x00, 0x00 },
    { 6, 0x8b, 0x05, 0xAB, 0xAB, 0x00, 0x00 },
    { 1, 0x5d },
    { 1, 0x5b },
    { 2, 0x41, 0x5c },
    { 7, 0x48, 0xc7, 0xc0, 0xAB, 0x00, 0x00, 0x00 },
    { 5, 0xe9, 0xAB, 0xAB, 0x00, 0x00 },
    { 3, 0x48, 0x89, 0xdf },
    { 3, 0x4c, 0x89, 0xe6 },
    { 3, 0x48, 0x85, 0xff },
    { 4, 0x0f, 0x84, 0xAB, 0x00 },
    { 2, 0xff, 0xd0 },
    { 3, 0x48, 0x01, 0xd0 },
};
#define NINSN (sizeof(insn_tmpl) / sizeof(insn_tmpl[0]))

static void gen_code(struct sim_rng *r, uint8_t *p, size_t n)
{
    uint32_t callee[8];
    size_t i = 0;
    unsigned int k;

    /* a page of code calls a handful of functions again and again */
    for (k = 0; k < 8; k++)
        callee[k] = (uint32_t)sim_rng_next(r) | 0xff000000u;
    while (i < n) {
        uint64_t x = sim_rng_next(r);

        for (k = 0; k < 4 && i < n; k++, x >>= 16) {
            const uint8_t *t = insn_tmpl[(x & 0xff) % NINSN];
            unsigned int j, nr = 0;

            for (j = 1; j <= t[0] && i < n; j++) {
                if (t[j] != 0xAB)
                    p[i++] = t[j];
                else if (t[0] == 5 && t[1] == 0xe8) /* call rel32 */
                    p[i++] = (uint8_t)(callee[(x >> 8) & 7] >> (8 * nr++));
                else /* small displacements, multiples of 8 */
                    p[i++] = (uint8_t)((x >> 8) & 0x38);
            }
            /* function boundaries padded with int3, as the kernel does */
            if ((x & 0xff) == 10 && i < n) {
                size_t pad = (16 - (i & 15)) & 15;

                while (pad-- && i < n)
                    p[i++] = 0xcc;
            }
        }
    }
}

/* Kernel-like data: slab objects of a fixed size with pointers, small
 * integers, list heads and many zero fields. */
static void gen_data(struct sim_rng *r, uint8_t *p, size_t n)
{
    size_t i;
    uint64_t base = 0xffff888000000000ull + (sim_rng_below(r, 1u << 20) << 12);
    unsigned int obj = 8u << sim_rng_below(r, 4); /* 8..64 fields */
    uint8_t kind[64];
    unsigned int k;

    for (k = 0; k < 64; k++)
        kind[k] = (uint8_t)sim_rng_below(r, 8);
    for (i = 0; i + 8 <= n; i += 8) {
        unsigned int f = (unsigned int)(i / 8) % obj;
        uint64_t x = sim_rng_next(r), v;

        switch (kind[f]) {
        case 0:
            v = base + ((x >> 8) & 63) * 64; /* pointer into the slab */
            break;
        case 1:
            v = (x >> 8) & 7;
            break;
        case 2:
            v = 0xffffffff81000000ull + ((x >> 8) & 0xff) * 16;
            break;
        case 3:
            v = (x & 0x30) == 0 ? (x >> 8) & 0xffff : 1;
            break;
        default:
            v = 0;
            break;
        }
        sim_put_le64(p + i, v);
    }
    for (; i < n; i++)
        p[i] = 0;
}

/* A page of text, code or data: compressible, not trivial. */
void sim_gen_text_page(struct sim_rng *r, uint8_t *page)
{
    uint64_t x = sim_rng_below(r, 20);

    /* 35 % text, 20 % code, 45 % data: zstd-1 ~0.3x, lz4 ~0.45x, zlib-1
     * ~0.3x in 64-page batches, like the unique pages of a real guest
     * (shared/research/stream-measurements.md) */
    if (x < 7)
        gen_text(r, page, SIM_PAGE_SIZE);
    else if (x < 11)
        gen_code(r, page, SIM_PAGE_SIZE);
    else
        gen_data(r, page, SIM_PAGE_SIZE);
}

static void gen_random(struct sim_rng *r, uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 8 <= n; i += 8)
        sim_put_le64(p + i, sim_rng_next(r));
    for (; i < n; i++)
        p[i] = (uint8_t)sim_rng_next(r);
}

/* ------------------------------------------------------------- layout */

struct sim_guest {
    struct sim_params p;
    struct sim_rng rng;
    uint64_t p2m_size; /* pfns in the p2m: 0 .. p2m_size - 1 */
    uint64_t nr_pages; /* populated pages (slots) */
    uint8_t *mem;      /* nr_pages * 4 KiB */
    uint8_t *type;     /* per slot: PFINFO nibble (bits 63-60) */
    uint64_t *dirty;   /* log-dirty bitmap over pfns */
    uint64_t *send;    /* bitmap of the round being sent */
    uint64_t *cand;    /* slots the workload may write */
    uint64_t nr_cand;
    uint64_t *hot; /* hotset: the hot slots */
    uint64_t nr_hot;
    uint64_t cursor; /* increment: next candidate */
    uint64_t ops_per_round;
    /* PV layout */
    uint64_t pt_first_pfn, nr_l1, nr_l2, l3_pfn, l4_pfn;
    uint64_t p2m_first_pfn, nr_p2m_frames;
    bool saved;
};

#define PFINFO_NOTAB   0x0u
#define PFINFO_L1TAB   0x1u
#define PFINFO_L2TAB   0x2u
#define PFINFO_L3TAB   0x3u
#define PFINFO_L4TAB   0x4u
#define PFINFO_LPINTAB 0x8u
#define PFINFO_XTAB    0xfu

static inline bool slot_of(const struct sim_guest *g, uint64_t pfn,
                           uint64_t *slot)
{
    if (pfn < g->p.ram_pages) {
        *slot = pfn;
        return true;
    }
    if (g->p.flavour == SIM_X86_HVM && pfn >= g->p.special_pfn &&
        pfn < g->p.special_pfn + SIM_HVM_SPECIAL_PAGES) {
        *slot = g->p.ram_pages + (pfn - g->p.special_pfn);
        return true;
    }
    return false;
}

static inline uint64_t pfn_of(const struct sim_guest *g, uint64_t slot)
{
    return slot < g->p.ram_pages ? slot
                                 : g->p.special_pfn + (slot - g->p.ram_pages);
}

static inline uint8_t *slot_page(const struct sim_guest *g, uint64_t slot)
{
    return g->mem + slot * SIM_PAGE_SIZE;
}

static inline void mark_dirty(struct sim_guest *g, uint64_t slot)
{
    uint64_t pfn = pfn_of(g, slot);

    g->dirty[pfn / 64] |= 1ull << (pfn % 64);
}

uint64_t sim_guest_p2m_size(const struct sim_guest *g)
{
    return g->p2m_size;
}

uint64_t sim_guest_nr_pages(const struct sim_guest *g)
{
    return g->nr_pages;
}

uint8_t *sim_guest_page(struct sim_guest *g, uint64_t pfn)
{
    uint64_t slot;

    return slot_of(g, pfn, &slot) ? slot_page(g, slot) : NULL;
}

unsigned int sim_guest_page_type(const struct sim_guest *g, uint64_t pfn)
{
    uint64_t slot;

    return slot_of(g, pfn, &slot) ? g->type[slot] : PFINFO_XTAB;
}

const struct sim_params *sim_guest_params(const struct sim_guest *g)
{
    return &g->p;
}

/* PV: a 4-level direct map of all RAM plus the p2m list, mid-RAM. */
static void build_pv_tables(struct sim_guest *g)
{
    uint64_t r = g->p.ram_pages, i, pfn;

    g->nr_l1 = (r + 511) / 512;
    g->nr_l2 = (g->nr_l1 + 511) / 512;
    g->nr_p2m_frames = (r - 1) / 512 + 1; /* (max_pfn / fpp) + 1 */
    g->pt_first_pfn = r / 4;
    g->l3_pfn = g->pt_first_pfn + g->nr_l1 + g->nr_l2;
    g->l4_pfn = g->l3_pfn + 1;
    g->p2m_first_pfn = g->l4_pfn + 1;

    for (i = 0; i < g->nr_l1; i++) {
        uint8_t *pg = slot_page(g, g->pt_first_pfn + i);

        memset(pg, 0, SIM_PAGE_SIZE);
        for (pfn = i * 512; pfn < r && pfn < (i + 1) * 512; pfn++)
            sim_put_le64(pg + (pfn % 512) * 8,
                         (1ull << 63) | (pfn << 12) | 0x63);
        g->type[g->pt_first_pfn + i] = PFINFO_L1TAB;
    }
    for (i = 0; i < g->nr_l2; i++) {
        uint64_t s = g->pt_first_pfn + g->nr_l1 + i, e;
        uint8_t *pg = slot_page(g, s);

        memset(pg, 0, SIM_PAGE_SIZE);
        for (e = 0; e < 512 && i * 512 + e < g->nr_l1; e++)
            sim_put_le64(pg + e * 8,
                         ((g->pt_first_pfn + i * 512 + e) << 12) | 0x67);
        g->type[s] = PFINFO_L2TAB;
    }
    memset(slot_page(g, g->l3_pfn), 0, SIM_PAGE_SIZE);
    for (i = 0; i < g->nr_l2; i++)
        sim_put_le64(slot_page(g, g->l3_pfn) + i * 8,
                     ((g->pt_first_pfn + g->nr_l1 + i) << 12) | 0x67);
    g->type[g->l3_pfn] = PFINFO_L3TAB;
    /* Slot 273 maps 0xffff888000000000; Xen's slots 256-271 stay zero. */
    memset(slot_page(g, g->l4_pfn), 0, SIM_PAGE_SIZE);
    sim_put_le64(slot_page(g, g->l4_pfn) + 273 * 8, (g->l3_pfn << 12) | 0x67);
    g->type[g->l4_pfn] = PFINFO_L4TAB | PFINFO_LPINTAB;

    /* The p2m list: one 64-bit mfn per pfn, normal pages in the stream. */
    for (i = 0; i < g->nr_p2m_frames; i++) {
        uint8_t *pg = slot_page(g, g->p2m_first_pfn + i);

        memset(pg, 0xff, SIM_PAGE_SIZE); /* INVALID_MFN past max_pfn */
        for (pfn = i * 512; pfn < r && pfn < (i + 1) * 512; pfn++)
            sim_put_le64(pg + (pfn % 512) * 8, 0x140000 + (pfn ^ 0x15));
    }
}

/* HVM: xc_dom_x86's special pages (ioreq server pages, rings, ident PT). */
static void build_hvm_special(struct sim_guest *g)
{
    uint64_t base = g->p.ram_pages, i;
    uint8_t *pg;

    for (i = 0; i < SIM_HVM_SPECIAL_PAGES; i++)
        memset(slot_page(g, base + i), 0, SIM_PAGE_SIZE);
    /* +12 xenstore ring, +15 console ring: some text in them */
    gen_text(&g->rng, slot_page(g, base + 12), 700);
    gen_text(&g->rng, slot_page(g, base + 15), 1500);
    /* +14 identity page table for real mode: 1024 4 MiB PSE entries */
    pg = slot_page(g, base + 14);
    for (i = 0; i < 1024; i++)
        sim_put_le32(pg + i * 4, (uint32_t)(i << 22) | 0xe7);
}

/* Idle busybox-like memory: runs of zero, 0xCC, 0xFF and text pages. */
static void fill_idle(struct sim_guest *g)
{
    uint64_t i = 0, n = g->p.ram_pages;

    while (i < n) {
        uint64_t x = sim_rng_next(&g->rng);
        uint64_t run = 1 + ((x >> 8) & 63), k, pct = x % 1000;
        int kind;

        if (pct < 700)
            kind = 0; /* zero */
        else if (pct < 759)
            kind = 1; /* 0xCC: freed init memory poisoned by the kernel */
        else if (pct < 761)
            kind = 2; /* 0xFF */
        else
            kind = 3; /* text, code, data */
        for (k = 0; k < run && i < n; k++, i++) {
            uint8_t *pg = slot_page(g, i);

            if (kind == 0)
                memset(pg, 0, SIM_PAGE_SIZE);
            else if (kind == 1)
                memset(pg, 0xcc, SIM_PAGE_SIZE);
            else if (kind == 2)
                memset(pg, 0xff, SIM_PAGE_SIZE);
            else
                sim_gen_text_page(&g->rng, pg);
        }
    }
}

static int build_memory(struct sim_guest *g)
{
    uint64_t i, n = g->p.ram_pages;

    switch (g->p.workload) {
    case SIM_WL_IDLE:
    case SIM_WL_INCREMENT:
    case SIM_WL_HOTSET:
        fill_idle(g);
        break;
    case SIM_WL_TEXT:
        for (i = 0; i < n; i++)
            sim_gen_text_page(&g->rng, slot_page(g, i));
        break;
    case SIM_WL_RANDOM:
        gen_random(&g->rng, g->mem, n * SIM_PAGE_SIZE);
        break;
    case SIM_WL_ZERO:
        memset(g->mem, 0, n * SIM_PAGE_SIZE);
        break;
    default:
        return -EINVAL;
    }
    if (g->p.flavour == SIM_X86_PV)
        build_pv_tables(g);
    else
        build_hvm_special(g);
    return 0;
}

static bool is_pv_meta(const struct sim_guest *g, uint64_t slot)
{
    return g->p.flavour == SIM_X86_PV && slot >= g->pt_first_pfn &&
           slot < g->p2m_first_pfn + g->nr_p2m_frames;
}

int sim_guest_new(const struct sim_params *p, struct sim_guest **g_r)
{
    struct sim_guest *g = NULL;
    uint64_t words_n, i, n;
    int rc;

    if (p->flavour != SIM_X86_PV && p->flavour != SIM_X86_HVM) {
        LOG(ERROR, "unknown flavour %d", (int)p->flavour);
        rc = -EINVAL;
        goto out;
    }
    if ((unsigned int)p->workload >= SIM_WL_COUNT || p->ram_pages < 64 ||
        p->ram_pages > SIM_MAX_PFNS_LIMIT / 2 || p->vcpus < 1 ||
        p->vcpus > 64 || p->max_rounds < 1 ||
        p->max_rounds > SIM_MAX_ROUNDS - 2) {
        LOG(ERROR, "bad parameters (pages %" PRIu64 ", vcpus %u, rounds %u)",
            p->ram_pages, p->vcpus, p->max_rounds);
        rc = -EINVAL;
        goto out;
    }
    g = calloc(1, sizeof(*g));
    if (!g) {
        rc = -ENOMEM;
        goto out;
    }
    g->p = *p;
    if (g->p.flavour == SIM_X86_HVM) {
        if (!g->p.special_pfn)
            g->p.special_pfn = SIM_HVM_SPECIAL_PFN;
        if (g->p.special_pfn < g->p.ram_pages ||
            g->p.special_pfn > SIM_MAX_PFNS_LIMIT - SIM_HVM_SPECIAL_PAGES) {
            LOG(ERROR, "special pfn %#" PRIx64 " inside RAM or too high",
                g->p.special_pfn);
            rc = -EINVAL;
            goto out;
        }
        g->nr_pages = g->p.ram_pages + SIM_HVM_SPECIAL_PAGES;
        g->p2m_size = g->p.special_pfn + SIM_HVM_SPECIAL_PAGES;
    } else {
        g->p.special_pfn = 0;
        g->nr_pages = g->p.ram_pages;
        g->p2m_size = g->p.ram_pages;
    }
    sim_rng_seed(&g->rng, g->p.seed);
    words_n = (g->p2m_size + 63) / 64;
    g->mem = malloc(g->nr_pages * SIM_PAGE_SIZE);
    g->type = calloc(g->nr_pages, 1);
    g->dirty = calloc(words_n, 8);
    g->send = calloc(words_n, 8);
    g->cand = malloc(g->nr_pages * sizeof(*g->cand));
    if (!g->mem || !g->type || !g->dirty || !g->send || !g->cand) {
        LOG(ERROR, "cannot allocate a guest of %" PRIu64 " pages", g->nr_pages);
        rc = -ENOMEM;
        goto out;
    }
    rc = build_memory(g);
    if (rc)
        goto out;

    /* The workload writes RAM, never page tables or the p2m list. */
    for (i = 0; i < g->p.ram_pages; i++)
        if (!is_pv_meta(g, i))
            g->cand[g->nr_cand++] = i;
    n = g->nr_cand;
    switch (g->p.workload) {
    case SIM_WL_IDLE:
        g->ops_per_round = n / 512 > 8 ? n / 512 : 8;
        break;
    case SIM_WL_INCREMENT:
        g->ops_per_round = n;
        break;
    case SIM_WL_HOTSET:
        g->nr_hot = g->p.hot_pages ? g->p.hot_pages : n / 16;
        if (g->nr_hot < 1 || g->nr_hot > n) {
            LOG(ERROR, "hot set of %" PRIu64 " pages out of 1..%" PRIu64,
                g->nr_hot, n);
            rc = -EINVAL;
            goto out;
        }
        g->hot = malloc(g->nr_hot * sizeof(*g->hot));
        if (!g->hot) {
            rc = -ENOMEM;
            goto out;
        }
        /* partial Fisher-Yates over a copy of the candidates */
        for (i = 0; i < g->nr_hot; i++) {
            uint64_t j = i + sim_rng_below(&g->rng, n - i), t = g->cand[j];

            g->cand[j] = g->cand[i];
            g->cand[i] = t;
            g->hot[i] = t;
        }
        g->ops_per_round = g->nr_hot / 2 ? g->nr_hot / 2 : 1;
        break;
    default:
        g->ops_per_round = n / 32 ? n / 32 : 1;
        break;
    }
    if (g->p.dirty_pages)
        g->ops_per_round = g->p.dirty_pages;

    *g_r = g;
    g = NULL;
    rc = 0;
out:
    sim_guest_free(g);
    return rc;
}

void sim_guest_free(struct sim_guest *g)
{
    if (!g)
        return;
    free(g->mem);
    free(g->type);
    free(g->dirty);
    free(g->send);
    free(g->cand);
    free(g->hot);
    free(g);
}

/* ------------------------------------------------------------ workload */

/* One write of the workload: dirties (at least) one page. */
static void workload_op(struct sim_guest *g)
{
    struct sim_rng *r = &g->rng;
    uint64_t slot, off, len;
    uint8_t *pg;

    switch (g->p.workload) {
    case SIM_WL_IDLE:
        /* timers, counters, a log line: small writes in a small set */
        slot = g->cand[sim_rng_below(r, g->nr_cand < 256 ? g->nr_cand : 256)];
        pg = slot_page(g, slot);
        off = sim_rng_below(r, SIM_PAGE_SIZE / 8) * 8;
        sim_put_le64(pg + off, sim_rng_next(r) & 0xffffffffull);
        break;
    case SIM_WL_INCREMENT:
        /* QEMU's migration-test guest: one byte of every page, +1 */
        slot = g->cand[g->cursor];
        g->cursor = (g->cursor + 1) % g->nr_cand;
        pg = slot_page(g, slot);
        pg[0]++;
        break;
    case SIM_WL_HOTSET:
        slot = g->hot[sim_rng_below(r, g->nr_hot)];
        pg = slot_page(g, slot);
        len = 8 * (1 + sim_rng_below(r, 32));
        off = sim_rng_below(r, (SIM_PAGE_SIZE - len) / 8 + 1) * 8;
        gen_data(r, pg + off, len);
        break;
    case SIM_WL_TEXT:
        slot = g->cand[sim_rng_below(r, g->nr_cand)];
        pg = slot_page(g, slot);
        off = sim_rng_below(r, 8) * 512;
        gen_text(r, pg + off, 512);
        break;
    case SIM_WL_ZERO:
        /* a write of zeros: the page is dirty and still all zero */
        slot = g->cand[sim_rng_below(r, g->nr_cand)];
        break;
    case SIM_WL_RANDOM:
    default:
        slot = g->cand[sim_rng_below(r, g->nr_cand)];
        pg = slot_page(g, slot);
        off = sim_rng_below(r, 16) * 256;
        gen_random(r, pg + off, 256);
        break;
    }
    mark_dirty(g, slot);
}

/* ------------------------------------------------------------- records */

#define REC_END                  0x00u
#define REC_PAGE_DATA            0x01u
#define REC_X86_PV_INFO          0x02u
#define REC_X86_PV_P2M_FRAMES    0x03u
#define REC_X86_PV_VCPU_BASIC    0x04u
#define REC_X86_PV_VCPU_EXTENDED 0x05u
#define REC_X86_PV_VCPU_XSAVE    0x06u
#define REC_SHARED_INFO          0x07u
#define REC_X86_TSC_INFO         0x08u
#define REC_HVM_CONTEXT          0x09u
#define REC_HVM_PARAMS           0x0au
#define REC_X86_PV_VCPU_MSRS     0x0cu
#define REC_STATIC_DATA_END      0x10u
#define REC_X86_CPUID_POLICY     0x11u
#define REC_X86_MSR_POLICY       0x12u

struct save_ctx {
    struct sim_guest *g;
    const struct sim_writer *w;
    struct sim_save_stats *st;
    uint64_t *batch; /* pfn/type words */
    unsigned int nr_batch;
    uint8_t *scratch;
};

static int out(struct save_ctx *c, const void *buf, size_t len)
{
    c->st->stream_bytes += len;
    return c->w->write(c->w->opaque, buf, len);
}

/* A record with a body in one piece, zero-padded to 8 bytes. */
static int write_record(struct save_ctx *c, uint32_t type, const void *body,
                        uint32_t len)
{
    static const uint8_t zero[8];
    uint8_t hdr[8];
    int rc;

    sim_put_le32(hdr, type);
    sim_put_le32(hdr + 4, len);
    rc = out(c, hdr, 8);
    if (!rc && len)
        rc = out(c, body, len);
    if (!rc && (len & 7))
        rc = out(c, zero, 8 - (len & 7));
    return rc;
}

static int flush_batch(struct save_ctx *c)
{
    struct sim_guest *g = c->g;
    uint8_t hdr[16];
    unsigned int i, n = c->nr_batch, nr_data = 0;
    int rc = 0;

    if (!n)
        return 0;
    for (i = 0; i < n; i++)
        if ((c->batch[i] >> 60) != PFINFO_XTAB)
            nr_data++;
    sim_put_le32(hdr, REC_PAGE_DATA);
    sim_put_le32(hdr + 4, 8 + 8 * n + nr_data * SIM_PAGE_SIZE);
    sim_put_le32(hdr + 8, n);
    sim_put_le32(hdr + 12, 0);
    rc = out(c, hdr, 16);
    for (i = 0; !rc && i < n; i++)
        sim_put_le64(c->scratch + 8 * i, c->batch[i]);
    if (!rc)
        rc = out(c, c->scratch, 8 * n);
    for (i = 0; !rc && i < n; i++) {
        uint64_t slot, pfn = c->batch[i] & ((1ull << 52) - 1);
        const uint8_t *pg;

        if ((c->batch[i] >> 60) == PFINFO_XTAB || !slot_of(g, pfn, &slot))
            continue;
        pg = slot_page(g, slot);
        if (sim_page_is_zero(pg))
            c->st->zero_pages++;
        rc = out(c, pg, SIM_PAGE_SIZE);
    }
    c->st->page_data_records++;
    c->nr_batch = 0;
    return rc;
}

/* Send the pfns set in g->send; run ops_total workload writes meanwhile
 * (spread over the batches: pages change while the round is sent). */
static int send_round(struct save_ctx *c, uint64_t count, uint64_t ops_total)
{
    struct sim_guest *g = c->g;
    struct sim_save_stats *st = c->st;
    unsigned int round = st->rounds;
    uint64_t pfn,
        nbatches = (count + SIM_BATCH_MAX_PFNS - 1) / SIM_BATCH_MAX_PFNS;
    uint64_t done_batches = 0, ops_done = 0, slot;
    int rc = 0;

    for (pfn = 0; pfn < g->p2m_size; pfn++) {
        uint64_t t;

        if (!(g->send[pfn / 64] & (1ull << (pfn % 64))))
            continue;
        t = slot_of(g, pfn, &slot) ? g->type[slot] : PFINFO_XTAB;
        c->batch[c->nr_batch++] = (t << 60) | pfn;
        st->pfns[round]++;
        if (t != PFINFO_XTAB)
            st->pages[round]++;
        if (c->nr_batch == SIM_BATCH_MAX_PFNS) {
            rc = flush_batch(c);
            if (rc)
                return rc;
            done_batches++;
            while (ops_done < ops_total * done_batches / nbatches) {
                workload_op(g);
                ops_done++;
            }
        }
    }
    rc = flush_batch(c);
    while (!rc && ops_done < ops_total) {
        workload_op(g);
        ops_done++;
    }
    st->rounds++;
    return rc;
}

/* XEN_DOMCTL_SHADOW_OP_CLEAN: hand the dirty bitmap over and clear it. */
static uint64_t logdirty_clean(struct sim_guest *g)
{
    uint64_t i, n = (g->p2m_size + 63) / 64, count = 0;

    for (i = 0; i < n; i++) {
        g->send[i] = g->dirty[i];
        g->dirty[i] = 0;
        count += (uint64_t)__builtin_popcountll(g->send[i]);
    }
    return count;
}

static int write_xl_header(struct save_ctx *c)
{
    static const char magic[32] = "Xen saved domain, xl format\n \0 \r";
    struct sim_guest *g = c->g;
    char json[1536];
    uint8_t hdr[52];
    uint32_t bo = 0x01020304;
    int n, rc;
    bool pv = g->p.flavour == SIM_X86_PV;
    uint64_t kb = g->p.ram_pages * 4;

    n = snprintf(json, sizeof(json),
                 "{\n"
                 "    \"c_info\": {\n"
                 "        \"type\": \"%s\",\n"
                 "        \"name\": \"sim-guest\",\n"
                 "        \"uuid\": \"5a1b0c3d-0000-4000-8000-%012" PRIx64
                 "\",\n"
                 "        \"run_hotplug_scripts\": \"True\"\n"
                 "    },\n"
                 "    \"b_info\": {\n"
                 "        \"max_vcpus\": %u,\n"
                 "        \"avail_vcpus\": [\n            0\n        ],\n"
                 "        \"max_memkb\": %" PRIu64 ",\n"
                 "        \"target_memkb\": %" PRIu64 ",\n"
                 "        \"shadow_memkb\": %" PRIu64 ",\n"
                 "        \"sched_params\": {\n\n        },\n"
                 "        \"kernel\": \"/var/lib/xen/images/bzImage\",\n"
                 "        \"cmdline\": \"console=hvc0 quiet\",\n"
                 "        \"ramdisk\": \"/var/lib/xen/images/initrd.gz\",\n"
                 "        \"type.%s\": {\n\n        },\n"
                 "        \"arch_arm\": {\n\n        },\n"
                 "        \"arch_x86\": {\n"
                 "            \"msr_relaxed\": \"False\"\n"
                 "        }\n"
                 "    },\n"
                 "    \"on_reboot\": \"restart\",\n"
                 "    \"on_soft_reset\": \"soft_reset\"\n"
                 "}\n",
                 pv ? "pv" : "pvh", g->p.seed & (uint64_t)0xffffffffffff,
                 g->p.vcpus, kb, kb, kb / 256 + 1024, pv ? "pv" : "pvh");
    if (n < 0 || (size_t)n >= sizeof(json))
        return -ENOSPC;
    /* The config goes with its NUL; optional data = u32 length + config. */
    memcpy(hdr, magic, 32);
    memcpy(hdr + 32, &bo, 4);  /* native byte order, as xl writes it */
    sim_put_le32(hdr + 36, 3); /* XL_MANDATORY_FLAG_JSON | _STREAMv2 */
    sim_put_le32(hdr + 40, 0);
    sim_put_le32(hdr + 44, 4 + (uint32_t)n + 1);
    sim_put_le32(hdr + 48, (uint32_t)n + 1);
    rc = out(c, hdr, sizeof(hdr));
    if (!rc)
        rc = out(c, json, (size_t)n + 1);
    return rc;
}

static int write_headers(struct save_ctx *c)
{
    uint8_t b[64];
    int rc;

    /* libxl stream header (big-endian), then LIBXC_CONTEXT, length 0 */
    sim_put_be64(b, 0x4c6962786c466d74ull); /* "LibxlFmt" */
    sim_put_be32(b + 8, 2);
    sim_put_be32(b + 12, 0);
    sim_put_le32(b + 16, 1); /* REC_TYPE_LIBXC_CONTEXT */
    sim_put_le32(b + 20, 0);
    /* libxc image header (big-endian) */
    sim_put_be64(b + 24, ~0ull);
    sim_put_be32(b + 32, 0x58454e46); /* "XENF" */
    sim_put_be32(b + 36, 3);
    memset(b + 40, 0, 8); /* options 0 = little endian, reserved */
    /* domain header (stream endianness) */
    sim_put_le32(b + 48, c->g->p.flavour);
    sim_put_le16(b + 52, 12);
    sim_put_le16(b + 54, 0);
    sim_put_le32(b + 56, 4);
    sim_put_le32(b + 60, 17);
    rc = out(c, b, 64);
    return rc;
}

static int write_cpu_policy(struct save_ctx *c)
{
    uint8_t b[40 * 24], m[3 * 16];
    unsigned int i, n = 0;
    int rc;
    struct sim_rng r;

    sim_rng_seed(&r, c->g->p.seed ^ 0xc9u);
    /* leaf 0: max leaf 0xd, "AuthenticAMD" */
    memset(b, 0, sizeof(b));
    sim_put_le32(b + 8, 0xd);
    memcpy(b + 12, "Auth", 4);
    memcpy(b + 16, "cAMD", 4);
    memcpy(b + 20, "enti", 4);
    n = 1;
    for (i = 1; i < 40; i++, n++) {
        uint8_t *e = b + n * 24;
        uint32_t leaf = i < 14 ? i : 0x80000000u + (i - 14);

        sim_put_le32(e, leaf);
        sim_put_le32(e + 4, leaf == 7 || leaf == 0xd ? 0 : ~0u);
        sim_put_le32(e + 8, (uint32_t)sim_rng_next(&r));
        sim_put_le32(e + 12, (uint32_t)sim_rng_next(&r) & 0x0fff0fff);
        sim_put_le32(e + 16, (uint32_t)sim_rng_next(&r) & 0x7ffefbff);
        sim_put_le32(e + 20, (uint32_t)sim_rng_next(&r) & 0x178bfbff);
    }
    rc = write_record(c, REC_X86_CPUID_POLICY, b, n * 24);
    if (rc)
        return rc;
    /* xen_msr_entry_t: idx, flags, val */
    memset(m, 0, sizeof(m));
    sim_put_le32(m, 0xce);       /* MSR_INTEL_PLATFORM_INFO */
    sim_put_le32(m + 16, 0x10a); /* MSR_ARCH_CAPABILITIES */
    sim_put_le64(m + 24, 0x2000000ull);
    sim_put_le32(m + 32, 0xc0011029); /* MSR_AMD64_DE_CFG */
    sim_put_le64(m + 40, 0x2ull);
    return write_record(c, REC_X86_MSR_POLICY, m, sizeof(m));
}

static int write_static(struct save_ctx *c)
{
    struct sim_guest *g = c->g;
    uint8_t b[8];
    int rc;

    if (g->p.flavour == SIM_X86_PV) {
        b[0] = 8; /* guest width */
        b[1] = 4; /* page table levels */
        memset(b + 2, 0, 6);
        rc = write_record(c, REC_X86_PV_INFO, b, 8);
        if (rc)
            return rc;
    }
    rc = write_cpu_policy(c);
    if (!rc)
        rc = write_record(c, REC_STATIC_DATA_END, NULL, 0);
    if (rc || g->p.flavour != SIM_X86_PV)
        return rc;

    /* start_of_stream (PV): X86_PV_P2M_FRAMES */
    {
        uint32_t len = 8 + 8 * (uint32_t)g->nr_p2m_frames;
        uint8_t *p = malloc(len);
        uint64_t i;

        if (!p)
            return -ENOMEM;
        sim_put_le32(p, 0);
        sim_put_le32(p + 4, (uint32_t)(g->p2m_size - 1));
        for (i = 0; i < g->nr_p2m_frames; i++)
            sim_put_le64(p + 8 + 8 * i, g->p2m_first_pfn + i);
        rc = write_record(c, REC_X86_PV_P2M_FRAMES, p, len);
        free(p);
    }
    return rc;
}

static int write_tsc_info(struct save_ctx *c)
{
    uint8_t b[24];

    sim_put_le32(b, 0);           /* mode: default */
    sim_put_le32(b + 4, 2095078); /* kHz */
    sim_put_le64(b + 8, 40000000000ull + (c->g->p.seed & 0xffffff) * 1000);
    sim_put_le32(b + 16, 0); /* incarnation */
    sim_put_le32(b + 20, 0);
    return write_record(c, REC_X86_TSC_INFO, b, sizeof(b));
}

/* A typed blob of synthetic register state: small values and zeros. */
static void fill_state(struct sim_rng *r, uint8_t *p, size_t n)
{
    size_t i;

    memset(p, 0, n);
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t x = sim_rng_next(r);

        if ((x & 3) == 0)
            sim_put_le64(p + i, (x >> 2) & 0xffffffffull);
        else if ((x & 15) == 1)
            sim_put_le64(p + i, 0xffffffff81000000ull + ((x >> 8) & 0xffff0));
    }
}

static int write_hvm_tail(struct save_ctx *c)
{
    struct sim_guest *g = c->g;
    /* hvm_save_descriptor {u16 typecode, u16 instance, u32 length} */
    static const struct {
        uint16_t code;
        uint32_t len;
    } per_vcpu[] = {
        { 2, 1024 }, /* CPU */
        { 5, 24 },   /* LAPIC */
        { 6, 1024 }, /* LAPIC_REGS */
        { 14, 464 }, /* MTRR */
        { 16, 856 }, /* CPU_XSAVE */
        { 20, 40 },  /* CPU_MSR */
    };
    size_t cap =
        8 + 24 + g->p.vcpus * (6 * 8 + 1024 + 24 + 1024 + 464 + 856 + 40) + 8;
    uint8_t *b = calloc(1, cap), *p;
    uint8_t prm[8 + 7 * 16];
    struct sim_rng r;
    unsigned int v, k;
    uint64_t sp = g->p.special_pfn;
    int rc;

    if (!b)
        return -ENOMEM;
    sim_rng_seed(&r, g->p.seed ^ 0x4856u);
    rc = write_tsc_info(c);
    if (rc)
        goto out;

    p = b;
    sim_put_le16(p, 1); /* HEADER */
    sim_put_le16(p + 2, 0);
    sim_put_le32(p + 4, 24);
    sim_put_le32(p + 8, 0x54381286);  /* HVM_FILE_MAGIC */
    sim_put_le32(p + 12, 1);          /* HVM_FILE_VERSION */
    sim_put_le64(p + 16, 0);          /* changeset */
    sim_put_le32(p + 24, 0x00a10f11); /* cpuid(1).eax */
    sim_put_le32(p + 28, 2095078);    /* gtsc_khz */
    p += 32;
    for (k = 0; k < sizeof(per_vcpu) / sizeof(per_vcpu[0]); k++)
        for (v = 0; v < g->p.vcpus; v++) {
            sim_put_le16(p, per_vcpu[k].code);
            sim_put_le16(p + 2, v);
            sim_put_le32(p + 4, per_vcpu[k].len);
            fill_state(&r, p + 8, per_vcpu[k].len);
            p += 8 + per_vcpu[k].len;
        }
    memset(p, 0, 8); /* END descriptor */
    p += 8;
    rc = write_record(c, REC_HVM_CONTEXT, b, (uint32_t)(p - b));
    if (rc)
        goto out;

    /* Non-zero params of write_hvm_params()'s list, in its order. */
    {
        static const uint64_t idx[7] = { 1, 27, 28, 29, 17, 32, 33 };
        const uint64_t val[7] = { sp + 12, sp + 8, sp + 9, sp + 10,
                                  sp + 15, sp,     8 };

        sim_put_le32(prm, 7);
        sim_put_le32(prm + 4, 0);
        for (k = 0; k < 7; k++) {
            sim_put_le64(prm + 8 + 16 * k, idx[k]);
            sim_put_le64(prm + 16 + 16 * k, val[k]);
        }
        rc = write_record(c, REC_HVM_PARAMS, prm, sizeof(prm));
    }
out:
    free(b);
    return rc;
}

static int write_pv_tail(struct save_ctx *c)
{
    struct sim_guest *g = c->g;
    uint8_t *b = calloc(1, 8 + 5168);
    struct sim_rng r;
    unsigned int v;
    int rc;

    if (!b)
        return -ENOMEM;
    sim_rng_seed(&r, g->p.seed ^ 0x5056u);
    rc = write_tsc_info(c);
    if (rc)
        goto out;
    /* shared_info: vcpu_info slots, then arch (max_pfn, p2m list) */
    fill_state(&r, b, 4096);
    sim_put_le64(b + 2048, g->p2m_size);
    sim_put_le64(b + 2056, 0);
    rc = write_record(c, REC_SHARED_INFO, b, 4096);
    for (v = 0; !rc && v < g->p.vcpus; v++) {
        /* vcpu_guest_context_x86_64_t, cr3 as a pfn (normalised) */
        sim_put_le32(b, v);
        sim_put_le32(b + 4, 0);
        fill_state(&r, b + 8, 5168);
        sim_put_le64(b + 8 + 4624, g->l4_pfn << 12);
        rc = write_record(c, REC_X86_PV_VCPU_BASIC, b, 8 + 5168);
        if (rc)
            break;
        fill_state(&r, b + 8, 128);
        rc = write_record(c, REC_X86_PV_VCPU_EXTENDED, b, 8 + 128);
        if (rc)
            break;
        fill_state(&r, b + 8, 16 + 832);
        sim_put_le64(b + 8, 0x7); /* xcr0: x87, SSE, AVX */
        sim_put_le64(b + 16, 0x7);
        rc = write_record(c, REC_X86_PV_VCPU_XSAVE, b, 8 + 16 + 832);
        if (rc)
            break;
        memset(b + 8, 0, 32);
        sim_put_le32(b + 8, 0x48);        /* MSR_SPEC_CTRL */
        sim_put_le32(b + 24, 0xc0011027); /* MSR_AMD64_DR0_ADDRESS_MASK */
        rc = write_record(c, REC_X86_PV_VCPU_MSRS, b, 8 + 32);
    }
out:
    free(b);
    return rc;
}

int sim_guest_save(struct sim_guest *g, const struct sim_writer *w,
                   struct sim_save_stats *stats)
{
    struct sim_save_stats local = { 0 };
    struct save_ctx c = { .g = g, .w = w };
    uint64_t dirty_count, words_n = (g->p2m_size + 63) / 64, i;
    unsigned int iteration = 0;
    uint8_t end[8];
    int rc;

    if (g->saved) {
        LOG(ERROR, "a simulated guest is saved once");
        return -EINVAL;
    }
    g->saved = true;
    c.st = stats ? stats : &local;
    memset(c.st, 0, sizeof(*c.st));
    c.batch = malloc(SIM_BATCH_MAX_PFNS * sizeof(*c.batch));
    c.scratch = malloc(SIM_BATCH_MAX_PFNS * 8);
    if (!c.batch || !c.scratch) {
        rc = -ENOMEM;
        goto out;
    }

    rc = write_xl_header(&c);
    if (!rc)
        rc = write_headers(&c);
    if (!rc)
        rc = write_static(&c);
    if (rc)
        goto out;

    /* send_memory_live() with simple_precopy_policy() */
    for (i = 0; i < words_n; i++)
        g->send[i] = ~0ull;
    if (g->p2m_size % 64)
        g->send[words_n - 1] = (1ull << (g->p2m_size % 64)) - 1;
    dirty_count = g->p2m_size;
    for (;;) {
        bool stop = dirty_count < g->p.target_dirty_pages ||
                    iteration >= g->p.max_rounds;

        if (dirty_count > 0) {
            rc = send_round(&c, dirty_count, g->ops_per_round);
            if (rc)
                goto out;
        }
        if (stop)
            break;
        iteration++;
        if (iteration >= g->p.max_rounds)
            break;
        dirty_count = logdirty_clean(g);
    }

    /* suspend_and_send_dirty(): the guest is paused, no more writes. */
    dirty_count = logdirty_clean(g);
    rc = send_round(&c, dirty_count, 0);
    if (rc)
        goto out;

    rc = g->p.flavour == SIM_X86_PV ? write_pv_tail(&c) : write_hvm_tail(&c);
    if (!rc)
        rc = write_record(&c, REC_END, NULL, 0);
    if (rc)
        goto out;
    /* libxl END */
    sim_put_le32(end, 0);
    sim_put_le32(end + 4, 0);
    rc = out(&c, end, 8);
out:
    if (rc)
        LOGEV(ERROR, -rc, "simulated save failed");
    free(c.batch);
    free(c.scratch);
    return rc;
}

int sim_guest_save_buf(struct sim_guest *g, struct sim_buf *b,
                       struct sim_save_stats *stats)
{
    struct sim_writer w = { sim_buf_write, b };

    return sim_guest_save(g, &w, stats);
}
