/* SPDX-License-Identifier: MIT */
/*
 * page_codec: per-page primitives of the codec: fill detection, XBZRLE-like
 * XOR delta with zero-run encoding, and the delta cache.  All pages are
 * XS_PAGE_SIZE (4096) bytes.
 */
#ifndef XLMIG_ENGINE_PAGE_CODEC_H
#define XLMIG_ENGINE_PAGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define PC_PAGE_SIZE 4096u
#define PC_WAYS      4u

/*
 * Classify a page: WIRE_K_ZERO, WIRE_K_FILL8 (one repeated byte, in the low
 * byte of *pattern_r) or WIRE_K_FILL64 (one repeated little-endian 64-bit
 * word, *pattern_r), else -1.  Word-wide, early exit.
 */
int pc_fill_kind(const uint8_t *page, uint64_t *pattern_r);
/* Fill a page with a 64-bit word (as read by pc_fill_kind for FILL64). */
void pc_fill(uint8_t *page, uint64_t pattern);

/*
 * Delta of cur against old: a sequence of (zero run, non-zero run, new
 * bytes) with both run lengths ULEB128-encoded, the trailing zero run
 * implicit; identical pages encode to 0 bytes.  Returns the encoded length
 * (<= cap), or -1 when it would exceed cap (the caller sends the page
 * otherwise).
 */
int pc_delta_encode(const uint8_t *old, const uint8_t *cur, uint8_t *out,
                    size_t cap);
/* Apply a delta to page (old content in, new content out); 0 or -EPROTO. */
int pc_delta_decode(const uint8_t *in, size_t len, uint8_t *page);

/*
 * The delta cache: pages / PC_WAYS sets of PC_WAYS ways, set = hash(pfn).
 * pc_cache_put() stores a page's content for pfn (replacing the pfn's old
 * copy, else taking a free way, else evicting the way of the set that was
 * least recently put); pc_cache_drop() forgets pfn.  Deterministic: two
 * caches of the same size given the same calls hold the same content.
 */
struct pc_cache;

/* pages rounded down to a multiple of PC_WAYS; 0 pages: -EINVAL. */
int pc_cache_new(uint64_t pages, struct pc_cache **cache_r);
void pc_cache_free(struct pc_cache *cache);
uint64_t pc_cache_pages(const struct pc_cache *cache);
/* The cached copy of pfn, or NULL. */
const uint8_t *pc_cache_get(const struct pc_cache *cache, uint64_t pfn);
/*
 * The cached copy of pfn, writable (to apply a delta in place, then
 * pc_cache_sent() with page NULL), or NULL.
 */
uint8_t *pc_cache_get_mut(struct pc_cache *cache, uint64_t pfn);
/*
 * Returns 1 if an entry was evicted, else 0.  page NULL: the content is
 * already in place (pfn must be cached: written through
 * pc_cache_get_mut()); only the recency is updated.
 */
int pc_cache_put(struct pc_cache *cache, uint64_t pfn, const uint8_t *page);
/*
 * A page with data (not all-zero) was sent for pfn: cache it if pfn was
 * sent before (a map of 256 bits per cache page, 2^16 to 2^24 bits,
 * indexed by a hash of the pfn, remembers it),
 * or if its set has a free way; a first send never evicts.  So a guest
 * larger than the cache does not churn it in its first round, and the
 * pages dirtied again displace the pages sent once.  Returns 1 if an
 * entry was evicted, else 0.  page NULL as for pc_cache_put().
 */
int pc_cache_sent(struct pc_cache *cache, uint64_t pfn, const uint8_t *page);
void pc_cache_drop(struct pc_cache *cache, uint64_t pfn);

#endif
