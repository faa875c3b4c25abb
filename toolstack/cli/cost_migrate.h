/* SPDX-License-Identifier: MIT */
/*
 * The cost model in 'xlmig migrate' (docs/cost-model.md): its options,
 * the state file (per host pair fixed cost and prediction errors), the
 * scheduler-cap throttle, and the observer that reports predicted vs
 * measured blackout (summary line, JSON "cost" and "blackout" events).
 * cmd_migrate.c calls these at its few integration points.
 */
#ifndef XLMIG_CLI_COST_MIGRATE_H
#define XLMIG_CLI_COST_MIGRATE_H

#include <stdint.h>
#include <stdio.h>

#include "cli/coststate.h"
#include "engine/cost.h"
#include "engine/session.h"

struct cost_run {
    /* options */
    unsigned max_downtime_ms;
    unsigned max_time_s; /* 0: none */
    int throttle;
    int abort_if_busy;
    /* run */
    char key[COST_STATE_KEY_MAX]; /* host pair */
    uint64_t learned_fixed_ns;    /* 0: defaults */
    unsigned learned_samples;
    struct cost_model model;
    struct cost_throttler thr;
    int have_thr, began;
    unsigned max_throttle_pct;
    uint64_t suspend_raw_bytes;
    /* every policy call, for the JSON "policy" events (the round traces
     * of tests/unit/fixtures/cost/ are made of them) */
    struct precopy_round *calls;
    unsigned ncalls;
    struct cost_blackout bo; /* after the migration */
    int have_bo;
    FILE *json;
    int progress;
    struct mig_observer obs;
    const struct mig_observer *next;
};

void cost_run_init(struct cost_run *c);
/* name without the dashes; arg NULL for flags.  0, -ENOENT (not ours)
 * or -EINVAL (a message was printed). */
int cost_run_option(struct cost_run *c, const char *name, const char *arg);
/* Release stale throttles, read the state for the pair (domain's host
 * -> dest), set up the model and, with --throttle, the cap.  Never
 * fails: without state or Xen scheduler access it runs on defaults. */
void cost_run_begin(struct cost_run *c, const char *domain, const char *dest,
                    FILE *json, int progress);
struct precopy_policy cost_run_policy(struct cost_run *c);
/* An observer that reports, then forwards every event to next. */
const struct mig_observer *cost_run_observer(struct cost_run *c,
                                             const struct mig_observer *next);
/* After mig_send: the one-line reason of a busy abort, and learning. */
void cost_run_end(struct cost_run *c, int rc, const struct mig_stats *s);
/* Releases the throttle.  Idempotent. */
void cost_run_dispose(struct cost_run *c);

#endif
