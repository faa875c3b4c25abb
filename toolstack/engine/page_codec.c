/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/page_codec.h"
#include "engine/wire.h"

#define WORDS          (PC_PAGE_SIZE / 8)
#define NO_PFN         UINT64_MAX
#define BYTE1S         0x0101010101010101ull
#define HUGE_BYTES     (2u << 20)
/* the seen map: 256 bits per cache page, 2^16 ..= 2^24 bits */
#define SEEN_MIN_SHIFT 16
#define SEEN_MAX_SHIFT 24

int pc_fill_kind(const uint8_t *page, uint64_t *pattern_r)
{
    uint64_t w0 = wire_load64(page);
    size_t i, j;

    for (i = 0; i < WORDS; i += 8) {
        uint64_t acc = 0;

        for (j = 0; j < 8; j++)
            acc |= wire_load64(page + 8 * (i + j)) ^ w0;
        if (acc)
            return -1;
    }
    *pattern_r = w0;
    if (!w0)
        return WIRE_K_ZERO;
    if (w0 == (w0 & 0xff) * BYTE1S) {
        *pattern_r = w0 & 0xff;
        return WIRE_K_FILL8;
    }
    return WIRE_K_FILL64;
}

void pc_fill(uint8_t *page, uint64_t pattern)
{
    size_t i;

    if (pattern == (pattern & 0xff) * BYTE1S) {
        memset(page, (int)(pattern & 0xff), PC_PAGE_SIZE);
        return;
    }
    for (i = 0; i < WORDS; i++)
        memcpy(page + 8 * i, &pattern, 8);
}

static size_t uleb_put(uint8_t *p, size_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t uleb_size(size_t v)
{
    return v < 0x80 ? 1 : v < 0x4000 ? 2 : 3;
}

int pc_delta_encode(const uint8_t *old, const uint8_t *cur, uint8_t *out,
                    size_t cap)
{
    size_t i = 0, o = 0, z, s, need;
    uint64_t x;

    while (i < PC_PAGE_SIZE) {
        z = i;
        /* zero run: word-wide */
        while (i + 8 <= PC_PAGE_SIZE) {
            x = wire_load64(old + i) ^ wire_load64(cur + i);
            if (x) {
                i += (size_t)__builtin_ctzll(x) >> 3; /* little endian */
                break;
            }
            i += 8;
        }
        while (i < PC_PAGE_SIZE && old[i] == cur[i])
            i++;
        if (i == PC_PAGE_SIZE)
            break; /* the trailing zero run is implicit */
        /* non-zero run: ends at two equal bytes (or one at the end) */
        s = i;
        /* word-wide while no byte of the word is equal */
        while (i + 8 <= PC_PAGE_SIZE) {
            x = wire_load64(old + i) ^ wire_load64(cur + i);
            if ((x - BYTE1S) & ~x & (BYTE1S << 7))
                break; /* a zero byte: an equal byte in this word */
            i += 8;
            if (i - s + 4 > cap)
                return -1;
        }
        while (i < PC_PAGE_SIZE) {
            if (old[i] == cur[i] &&
                (i + 1 == PC_PAGE_SIZE || old[i + 1] == cur[i + 1]))
                break;
            i++;
            if (i - s + 4 > cap)
                return -1;
        }
        need = uleb_size(s - z) + uleb_size(i - s) + (i - s);
        if (o + need > cap)
            return -1;
        o += uleb_put(out + o, s - z);
        o += uleb_put(out + o, i - s);
        memcpy(out + o, cur + s, i - s);
        o += i - s;
    }
    return (int)o;
}

static int uleb_get(const uint8_t *in, size_t len, size_t *p, size_t *v_r)
{
    size_t v = 0;
    unsigned shift = 0;

    while (*p < len && shift < 21) {
        uint8_t b = in[(*p)++];

        v |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v_r = v;
            return 0;
        }
        shift += 7;
    }
    return -EPROTO;
}

int pc_delta_decode(const uint8_t *in, size_t len, uint8_t *page)
{
    size_t p = 0, i = 0, z, n;

    while (p < len) {
        if (uleb_get(in, len, &p, &z) || uleb_get(in, len, &p, &n))
            return -EPROTO;
        if (n == 0 || z > PC_PAGE_SIZE || n > PC_PAGE_SIZE ||
            i + z + n > PC_PAGE_SIZE || n > len - p)
            return -EPROTO;
        i += z;
        memcpy(page + i, in + p, n);
        i += n;
        p += n;
    }
    return 0;
}

struct pc_cache {
    uint64_t nsets;
    uint64_t clock;
    uint64_t *pfn;   /* per slot; NO_PFN when free */
    uint64_t *stamp; /* per slot: clock at the last put */
    uint32_t *dpage; /* per slot: 1 + its page in data; 0: none yet */
    uint64_t dused;  /* pages of data handed out, in order */
    uint8_t *data;   /* the slots' pages (mmap, touched as handed out) */
    uint64_t data_bytes;
    uint64_t *seen; /* 2^seen_shift bits: hash of a pfn sent before */
    unsigned seen_shift;
};

int pc_cache_new(uint64_t pages, struct pc_cache **cache_r)
{
    struct pc_cache *c;
    uint64_t i, n;

    if (pages < PC_WAYS)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->nsets = pages / PC_WAYS;
    n = c->nsets * PC_WAYS;
    c->pfn = malloc(n * sizeof(*c->pfn));
    c->stamp = calloc(n, sizeof(*c->stamp));
    c->dpage = calloc(n, sizeof(*c->dpage));
    c->seen_shift = SEEN_MIN_SHIFT;
    while (c->seen_shift < SEEN_MAX_SHIFT && (1ull << c->seen_shift) < n * 256)
        c->seen_shift++;
    c->seen = calloc((1ull << c->seen_shift) / 64, sizeof(*c->seen));
    /*
     * 2 MiB pages where the kernel gives them: far fewer page faults.  A
     * slot gets its page of data when it is first stored, in order, so a
     * guest smaller than the cache only makes the kernel clear (fault in)
     * as much memory as it sends, not the whole cache the hash spreads
     * its pfns over.
     */
    c->data_bytes =
        (n * PC_PAGE_SIZE + HUGE_BYTES - 1) & ~(uint64_t)(HUGE_BYTES - 1);
    c->data = mmap(NULL, c->data_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c->data == MAP_FAILED) {
        c->data = NULL;
    } else {
#ifdef MADV_HUGEPAGE
        (void)madvise(c->data, c->data_bytes, MADV_HUGEPAGE);
#endif
    }
    if (!c->pfn || !c->stamp || !c->dpage || !c->data || !c->seen) {
        pc_cache_free(c);
        return -ENOMEM;
    }
    for (i = 0; i < n; i++)
        c->pfn[i] = NO_PFN;
    *cache_r = c;
    return 0;
}

void pc_cache_free(struct pc_cache *cache)
{
    if (!cache)
        return;
    free(cache->pfn);
    free(cache->stamp);
    free(cache->dpage);
    free(cache->seen);
    if (cache->data)
        munmap(cache->data, cache->data_bytes);
    free(cache);
}

uint64_t pc_cache_pages(const struct pc_cache *cache)
{
    return cache->nsets * PC_WAYS;
}

static uint64_t set_of(const struct pc_cache *c, uint64_t pfn)
{
    return ((pfn * 0x9e3779b97f4a7c15ull) >> 20) % c->nsets * PC_WAYS;
}

static int64_t find(const struct pc_cache *c, uint64_t pfn)
{
    uint64_t s = set_of(c, pfn), w;

    for (w = 0; w < PC_WAYS; w++)
        if (c->pfn[s + w] == pfn)
            return (int64_t)(s + w);
    return -1;
}

/* The page of slot i, handed out on its first use. */
static uint8_t *slot_page(struct pc_cache *c, uint64_t i)
{
    if (!c->dpage[i])
        c->dpage[i] = (uint32_t)++c->dused;
    return c->data + (uint64_t)(c->dpage[i] - 1) * PC_PAGE_SIZE;
}

const uint8_t *pc_cache_get(const struct pc_cache *cache, uint64_t pfn)
{
    int64_t i = find(cache, pfn);

    /* a slot holding a pfn has been stored, so it has its page */
    return i < 0 ? NULL
                 : cache->data + (uint64_t)(cache->dpage[i] - 1) * PC_PAGE_SIZE;
}

uint8_t *pc_cache_get_mut(struct pc_cache *cache, uint64_t pfn)
{
    return (uint8_t *)(uintptr_t)pc_cache_get(cache, pfn);
}

int pc_cache_put(struct pc_cache *cache, uint64_t pfn, const uint8_t *page)
{
    uint64_t s, w, best;
    int64_t i = find(cache, pfn);
    int evicted = 0;

    if (i < 0) {
        s = set_of(cache, pfn);
        best = s;
        for (w = 0; w < PC_WAYS; w++) {
            if (cache->pfn[s + w] == NO_PFN) {
                best = s + w;
                break;
            }
            if (cache->stamp[s + w] < cache->stamp[best])
                best = s + w;
        }
        evicted = cache->pfn[best] != NO_PFN;
        cache->pfn[best] = pfn;
        i = (int64_t)best;
    }
    cache->stamp[i] = ++cache->clock;
    if (page)
        memcpy(slot_page(cache, (uint64_t)i), page, PC_PAGE_SIZE);
    return evicted;
}

void pc_cache_drop(struct pc_cache *cache, uint64_t pfn)
{
    int64_t i = find(cache, pfn);

    if (i >= 0)
        cache->pfn[i] = NO_PFN;
}

int pc_cache_sent(struct pc_cache *cache, uint64_t pfn, const uint8_t *page)
{
    uint64_t h = (pfn * 0x9e3779b97f4a7c15ull) >> (64 - cache->seen_shift);
    uint64_t bit = 1ull << (h & 63);

    uint64_t s, w;

    if (cache->seen[h >> 6] & bit)
        return pc_cache_put(cache, pfn, page);
    cache->seen[h >> 6] |= bit;
    /* a first send takes a free way, never evicts */
    s = set_of(cache, pfn);
    for (w = 0; w < PC_WAYS; w++)
        if (cache->pfn[s + w] == NO_PFN)
            return pc_cache_put(cache, pfn, page);
    return 0;
}
