/* SPDX-License-Identifier: MIT */
#include "engine/precopy.h"

void precopy_default_init(struct precopy_default *d)
{
    d->max_rounds = PRECOPY_DEFAULT_MAX_ROUNDS;
    d->target_dirty_pages = PRECOPY_DEFAULT_TARGET_PAGES;
    d->stall_rounds = PRECOPY_DEFAULT_STALL_ROUNDS;
    d->last_dirty_pages = -1;
    d->stalled = 0;
}

/*
 * A round "shrinks" when its dirty set is at most 7/8 of the previous
 * one; a workload that re-dirties as fast as we copy does not, and more
 * rounds would only cost bandwidth without shortening the blackout.
 */
int precopy_default_decide(void *opaque, const struct precopy_round *r)
{
    struct precopy_default *d = opaque;

    if (r->iteration >= d->max_rounds)
        return PRECOPY_STOP;
    if (r->dirty_pages < 0)
        return PRECOPY_CONTINUE; /* the after-send call: nothing new */
    if ((uint64_t)r->dirty_pages < d->target_dirty_pages)
        return PRECOPY_STOP;
    if (r->iteration > 0 && d->last_dirty_pages >= 0) {
        if ((uint64_t)r->dirty_pages * 8 > (uint64_t)d->last_dirty_pages * 7)
            d->stalled++;
        else
            d->stalled = 0;
    }
    if (r->iteration > 0)
        d->last_dirty_pages = r->dirty_pages;
    if (d->stall_rounds && d->stalled >= d->stall_rounds)
        return PRECOPY_STOP;
    return PRECOPY_CONTINUE;
}

struct precopy_policy precopy_default_policy(struct precopy_default *d)
{
    struct precopy_policy p = { precopy_default_decide, d };

    return p;
}
