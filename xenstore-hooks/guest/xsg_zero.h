/* SPDX-License-Identifier: MIT */
/*
 * The guest's free memory handed back zeroed (xlmig-notice-guest -z):
 * Linux gives a process only zeroed anonymous pages, so faulting in most
 * of MemFree and releasing it leaves the free lists holding zero pages
 * instead of what freed memory last held (an unpacked initramfs, freed
 * buffers).  A migration then sends those pages as zero pages (xlmig
 * elides them) instead of as data.  Clean page cache is dropped first, so
 * it is zeroed too.  A reserve stays untouched: the guest never runs out
 * of memory for it.
 */
#ifndef XLMIG_XSG_ZERO_H
#define XLMIG_XSG_ZERO_H

#include <stddef.h>
#include <stdint.h>

#define XSG_ZERO_CHUNK       (4u << 20)    /* bytes per mapping */
#define XSG_ZERO_RESERVE_MIN (16ull << 20) /* at least this stays free */
#define XSG_ZERO_RESERVE_DIV 16u           /* ... and MemTotal / this */

struct xsg_zero_result {
    uint64_t zeroed_bytes; /* faulted in and released */
    uint64_t free_before_kb, free_after_kb;
    int caches_dropped;
};

/* MemTotal and MemFree (kB) from /proc/meminfo's text; -EINVAL if one is
 * missing or malformed. */
int xsg_meminfo_parse(const char *text, uint64_t *total_kb, uint64_t *free_kb);
/* Bytes to fault in: MemFree minus the reserve, 0 if none. */
uint64_t xsg_zero_budget(uint64_t total_kb, uint64_t free_kb);
/* Drop clean caches (best effort), fault in at most max_bytes (0: the
 * budget) of anonymous memory in chunks while MemFree stays above the
 * reserve, release it.  0 or -errno (no /proc/meminfo). */
int xsg_zero_free(uint64_t max_bytes, struct xsg_zero_result *r);

#endif
