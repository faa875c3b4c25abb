/* SPDX-License-Identifier: MIT */
/*
 * The precopy decision: after each round of a live migration, go on
 * copying while the guest runs, stop and copy the rest with the guest
 * suspended, or abort (the guest keeps running on the source).
 *
 * libxenguest calls its precopy_policy callback twice per round (see
 * xg_sr_save.c send_memory_live): once before sending, with the dirty
 * count of the finished round (the first call: every pfn), and once after
 * sending with dirty_pages == -1.  The Xen adapter turns each call into a
 * struct precopy_round and asks the policy through these ops, so the
 * cost model of a later issue replaces the default by setting the ops.
 */
#ifndef XLMIG_ENGINE_PRECOPY_H
#define XLMIG_ENGINE_PRECOPY_H

#include <stdint.h>

enum precopy_decision {
    PRECOPY_ABORT = -1,   /* XGS_POLICY_ABORT */
    PRECOPY_CONTINUE = 0, /* XGS_POLICY_CONTINUE_PRECOPY */
    PRECOPY_STOP = 1,     /* XGS_POLICY_STOP_AND_COPY */
};

/* One call of the policy; units in the names. */
struct precopy_round {
    unsigned iteration;           /* rounds completed (0: before the first) */
    uint64_t total_written_pages; /* pages sent so far */
    int64_t dirty_pages;          /* pages to send next; -1: unknown */
    uint64_t elapsed_ns;          /* since the save began */
    uint64_t raw_bytes;           /* stream bytes produced so far */
    uint64_t wire_bytes;          /* bytes written to the channel so far */
};

struct precopy_policy {
    /* Returns an enum precopy_decision. */
    int (*decide)(void *opaque, const struct precopy_round *r);
    void *opaque;
};

/* The default: stop when the dirty set is small, stops shrinking, or
 * after max_rounds; abort never. */
struct precopy_default {
    unsigned max_rounds;         /* stop after this many rounds */
    uint64_t target_dirty_pages; /* stop below this */
    unsigned stall_rounds;       /* stop after this many non-shrinking */
    /* state */
    int64_t last_dirty_pages;
    unsigned stalled;
};

#define PRECOPY_DEFAULT_MAX_ROUNDS   10
#define PRECOPY_DEFAULT_TARGET_PAGES 50
#define PRECOPY_DEFAULT_STALL_ROUNDS 2

void precopy_default_init(struct precopy_default *d);
int precopy_default_decide(void *opaque, const struct precopy_round *r);
/* Convenience: ops bound to a precopy_default. */
struct precopy_policy precopy_default_policy(struct precopy_default *d);

#endif
