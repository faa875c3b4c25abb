/* SPDX-License-Identifier: MIT */
/*
 * The blackout cost model: a precopy policy (engine/precopy.h) that
 * predicts the blackout of stopping now from measured rates and decides
 * continue, stop-and-copy or abort.  Pure: no Xen header, no clock of its
 * own (it uses precopy_round.elapsed_ns), no I/O.  Derivation and every
 * constant: docs/cost-model.md.
 *
 * libxenguest calls the policy twice per round (anchors §3.2):
 *   top(x, n_x)      n_x = dirty set harvested by the last CLEAN
 *   ... sends n_x pages live, even when top() said STOP ...
 *   after(x + 1, -1) then CLEAN harvests n_{x+1}
 * so a stop decided at top(x) still sends n_x live: the blackout set is
 * what the guest dirties while n_x is sent, not n_x itself.
 *
 * Units: pages are 4 KiB guest pages, times in ns, rates per second.
 */
#ifndef XLMIG_ENGINE_COST_H
#define XLMIG_ENGINE_COST_H

#include <stddef.h>
#include <stdint.h>

#include "engine/precopy.h"

#define COST_PAGE_BYTES              4096u
/* Defaults, justified in docs/cost-model.md. */
#define COST_DEFAULT_MAX_DOWNTIME_MS 300u
#define COST_DEFAULT_FIXED_MS        200u /* first migration to a host */
#define COST_THROTTLE_INITIAL_PCT    20u  /* QEMU cpu-throttle-initial */
#define COST_THROTTLE_STEP_PCT       10u  /* QEMU cpu-throttle-increment */
#define COST_THROTTLE_MAX_PCT        90u
#define COST_MIN_GAIN_NS             1000000ull /* a round must save 1 ms */
#define COST_MIN_GAIN_PM             10u /* ... and 1 % of the blackout */
#define COST_GAIN_RATIO              0.9 /* ... and 10 % of the transfer */
#define COST_STALL_ROUNDS            2u  /* observed non-shrinking rounds */
#define COST_SAFETY_ROUNDS           1000u
#define COST_UNSURE_RATIO            0.2 /* top(1): bound vs estimate */

enum cost_reason {
    COST_RUNNING = 0,
    COST_LIMIT,        /* predicted blackout <= max downtime */
    COST_NO_GAIN,      /* another round no longer pays: best effort */
    COST_MAX_TIME,     /* --max-time reached */
    COST_THROTTLE_MAX, /* throttled to the maximum, still no gain */
    COST_BUSY,         /* --abort-if-busy: aborted */
    COST_SAFETY,       /* COST_SAFETY_ROUNDS rounds (a broken clock) */
};

struct cost_params {
    uint64_t max_downtime_ns; /* the limit */
    uint64_t max_time_ns;     /* bound on the whole precopy; 0: none */
    uint64_t fixed_ns;        /* fixed blackout cost (state file/default) */
    int throttle;             /* slow a busy guest through set_throttle */
    int abort_if_busy;        /* abort instead (wins over throttle) */
    /* Apply a CPU throttle of pct % (0: release).  0 or -errno; on
     * failure the model stops throttling and decides without it. */
    int (*set_throttle)(void *opaque, unsigned pct);
    void *opaque;
};

struct cost_model {
    struct cost_params p;
    uint64_t mem_pages; /* p2m size, then the populated pages (estimate) */
    unsigned iteration;
    /* the last top-of-loop call */
    int have_top;
    uint64_t top_ns, top_written_pages, top_wire_bytes, top_raw_bytes;
    int64_t top_dirty_pages;
    int sent_dirty_round; /* a round after the full pass was measured */
    /* estimates */
    double page_rate_pps;  /* pages/s the sender sustains */
    double full_pass_pps;  /* pages/s of the full pass (zero pages too) */
    double dirty_rate_pps; /* pages/s the guest dirties */
    double wire_bytes_per_page;
    double link_bps; /* wire bytes/s during the rounds */
    unsigned stalled;
    int plateau;              /* the last two sets within 10 % */
    uint64_t max_dirty_pages; /* largest set harvested after the pass */
    unsigned throttle_pct;
    /* the latest prediction, and the one that stopped */
    uint64_t predicted_blackout_ns;
    uint64_t predicted_final_pages;
    uint64_t predicted_transfer_ns;
    enum cost_reason reason;
    int decision;
};

/* p is copied; a zero max_downtime_ns or fixed_ns takes the default. */
void cost_model_init(struct cost_model *m, const struct cost_params *p);
/* Releases a throttle still applied.  Idempotent. */
void cost_model_dispose(struct cost_model *m);
/* One policy call; returns an enum precopy_decision. */
int cost_model_decide(struct cost_model *m, const struct precopy_round *r);
/* ops for the session: decide through the model */
struct precopy_policy cost_model_policy(struct cost_model *m);
/* Pages the sender moves in ns at the current estimate. */
uint64_t cost_model_transfer_ns(const struct cost_model *m, uint64_t pages);
const char *cost_reason_name(enum cost_reason r);

/*
 * After the migration: the fixed cost it measured.  blackout_ns as
 * measured (suspended -> unpaused on the target); final_raw_bytes the
 * stream bytes the save produced after the suspend (final pages plus the
 * device records).  Returns the fixed part: blackout minus the model's
 * transfer time of the final pages, never negative.
 */
uint64_t cost_model_fixed_measured_ns(const struct cost_model *m,
                                      uint64_t blackout_ns,
                                      uint64_t final_raw_bytes);

/*
 * The blackout, phase by phase (docs/cost-model.md "Phases").  The
 * sender's clock, times in ns; 0 = not known:
 *   suspend_req   the suspend was requested (libxenguest's callback)
 *   suspended     the guest is suspended
 *   stream_end    the sender wrote the last stream byte
 *   ready         the target acknowledged the transfer (restored)
 *   report        the target reported its copy running
 */
enum cost_phase {
    COST_PH_SUSPEND = 0, /* suspend_req -> suspended */
    COST_PH_RECORDS,     /* final send minus the final pages' transfer */
    COST_PH_RESTORE,     /* stream_end -> ready */
    COST_PH_HANDSHAKE,   /* ready -> report: GO, unpause, report */
    COST_PHASES,
};

struct cost_times {
    uint64_t suspend_req_ns, suspended_ns, stream_end_ns, ready_ns, report_ns;
    uint64_t final_raw_bytes; /* stream bytes produced after the suspend */
};

struct cost_blackout {
    uint64_t measured_ns; /* suspend_req (or suspended) -> report */
    uint64_t transfer_ns; /* the model's time for the final pages */
    uint64_t fixed_ns;    /* measured - transfer: the sum of the phases */
    uint64_t phase_ns[COST_PHASES];
};

const char *cost_phase_name(enum cost_phase ph);
/* Split a migration's blackout into phases.  -EINVAL if the times are
 * incomplete (no suspend or no report) or out of order. */
int cost_blackout_measure(const struct cost_model *m,
                          const struct cost_times *t, struct cost_blackout *b);

/*
 * The target's own part, sent back to an xlmig sender after the report
 * (only when the sender announced XLPROTO_OPTFLAG_XLMIG and the target
 * XLPROTO_CAP_PHASES): magic, then three little-endian u64 in ns.
 */
#define COST_PEER_MAGIC  "XLMIGPHS"
#define COST_PEER_BYTES  32u
#define COST_PEER_MAX_NS (3600ull * 1000000000ull) /* capped on decode */

struct cost_peer_times {
    uint64_t restore_ns;      /* restore start -> domain built */
    uint64_t restore_tail_ns; /* last stream byte in -> domain built */
    uint64_t unpause_ns;      /* GO read -> rename and unpause done */
};

void cost_peer_encode(uint8_t out[COST_PEER_BYTES],
                      const struct cost_peer_times *t);
/* 0, or -EPROTO (wrong magic, a value over COST_PEER_MAX_NS). */
int cost_peer_decode(const uint8_t in[COST_PEER_BYTES],
                     struct cost_peer_times *t);

/*
 * State remembered per host pair (text file, one line per pair, see
 * docs/cost-model.md), and the throttles applied and not yet released.
 * Pure parsing and formatting; the file I/O is in cli/coststate.c.
 */
#define COST_STATE_MAX_PAIRS     64u
#define COST_STATE_MAX_THROTTLES 64u
#define COST_STATE_ERRS          32u /* |predicted - measured| kept */
#define COST_STATE_KEY_MAX       128u
#define COST_STATE_MAX_BYTES     (64u * 1024u)

struct cost_pair {
    char key[COST_STATE_KEY_MAX];   /* "src>dst", no blank */
    uint64_t fixed_ns;              /* EWMA of the measured fixed cost */
    uint64_t phase_ns[COST_PHASES]; /* EWMA of each phase */
    unsigned samples;
    unsigned nerr;
    int32_t err_pm[COST_STATE_ERRS]; /* (pred - meas) / meas, per mille */
};

struct cost_throttle_rec {
    uint32_t domid;
    int32_t pid;       /* the xlmig that applied it */
    uint32_t cap_orig; /* scheduler cap before */
    uint32_t cap_set;  /* the cap applied */
};

struct cost_state {
    unsigned npairs, nthrottles;
    struct cost_pair pairs[COST_STATE_MAX_PAIRS];
    struct cost_throttle_rec throttles[COST_STATE_MAX_THROTTLES];
};

void cost_state_init(struct cost_state *st);
/* Parse text (len bytes, no NUL needed).  Lines it does not know are
 * skipped; -EINVAL only when len > COST_STATE_MAX_BYTES. */
int cost_state_parse(struct cost_state *st, const char *text, size_t len);
/* Format into buf; -ENOSPC if it does not fit. */
int cost_state_format(const struct cost_state *st, char *buf, size_t size,
                      size_t *len_r);
/* The pair, created (evicting the first one when full) if missing;
 * NULL if the key is empty, too long or contains a blank. */
struct cost_pair *cost_state_pair(struct cost_state *st, const char *key);
/* Learn one migration: fixed cost and phase EWMAs, the prediction error.
 * b->fixed_ns is the fixed cost; phase_ns may be all 0 (unknown). */
void cost_pair_learn(struct cost_pair *p, const struct cost_blackout *b,
                     uint64_t predicted_ns);
/* p90 of |err| in per mille over the kept samples; -1 if none. */
int cost_pair_p90_err_pm(const struct cost_pair *p);
int cost_state_add_throttle(struct cost_state *st,
                            const struct cost_throttle_rec *t);
void cost_state_del_throttle(struct cost_state *st, uint32_t domid);

#endif
