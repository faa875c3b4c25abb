/* SPDX-License-Identifier: MIT */
/*
 * The cost model's state file and throttle bookkeeping (engine/cost.h
 * formats and parses; this file reads and writes it).
 *
 * File: $XLMIG_STATE_DIR/cost-state (default /var/lib/xlmig/cost-state),
 * replaced atomically (write, fsync, rename) under an flock on
 * cost-state.lock, so concurrent xlmig runs do not lose updates.
 */
#ifndef XLMIG_CLI_COSTSTATE_H
#define XLMIG_CLI_COSTSTATE_H

#include <stdint.h>

#include "engine/cost.h"

struct xen_throttle;

/* $XLMIG_STATE_DIR or /var/lib/xlmig. */
const char *coststate_dir(void);
/* Read the file (a missing file is an empty state).  0 or -errno. */
int coststate_load(struct cost_state *st);
/* Lock, read, fn(st, opaque), write if fn returned > 0, unlock.
 * Returns fn's result if < 0, else 0 or -errno of the I/O. */
int coststate_update(int (*fn)(struct cost_state *st, void *opaque),
                     void *opaque);

/*
 * The cost model's set_throttle hook for one domain: every cap applied
 * is recorded in the state file before it is set, and the record is
 * removed once the original cap is back.  A record left by an xlmig that
 * died is undone by coststate_release_stale() at the next run.
 */
struct cost_throttler {
    struct xen_throttle *xt;
    uint32_t domid;
    unsigned cap_orig, vcpus, pct;
};

/* 0, or -errno (no Xen, no such domain): then run without a throttle. */
int cost_throttler_init(struct cost_throttler *ct, const char *domain);
int cost_throttler_set(void *opaque, unsigned pct);
/* Releases a cap still applied; idempotent. */
void cost_throttler_dispose(struct cost_throttler *ct);
/* Undo the caps recorded by xlmig processes that no longer run.
 * Returns the number released, or -errno. */
int coststate_release_stale(void);

#endif
