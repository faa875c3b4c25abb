/* SPDX-License-Identifier: MIT */
/*
 * The blackout cost model; see cost.h and docs/cost-model.md (the
 * derivation of every expression below and the reason for every
 * constant).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "engine/cost.h"

/* Bytes a page takes in an uncompressed PAGE_DATA record: the page and
 * its pfn entry.  The prior for dirty pages before one was measured. */
#define COST_RAW_PAGE_BYTES    (COST_PAGE_BYTES + 8u)
/* Used only if no round could be timed (a zero-length clock). */
#define COST_PRIOR_PPS         12500.0 /* 50 MB/s */
/* A rate sample of fewer pages moves the estimate proportionally less. */
#define COST_FULL_WEIGHT_PAGES 256.0

void cost_model_init(struct cost_model *m, const struct cost_params *p)
{
    memset(m, 0, sizeof(*m));
    m->p = *p;
    if (!m->p.max_downtime_ns)
        m->p.max_downtime_ns = COST_DEFAULT_MAX_DOWNTIME_MS * 1000000ull;
    if (!m->p.fixed_ns)
        m->p.fixed_ns = COST_DEFAULT_FIXED_MS * 1000000ull;
    m->top_dirty_pages = -1;
    m->wire_bytes_per_page = COST_RAW_PAGE_BYTES;
    m->decision = PRECOPY_CONTINUE;
}

void cost_model_dispose(struct cost_model *m)
{
    if (m->throttle_pct && m->p.set_throttle)
        m->p.set_throttle(m->p.opaque, 0);
    m->throttle_pct = 0;
}

const char *cost_reason_name(enum cost_reason r)
{
    switch (r) {
    case COST_RUNNING:
        return "running";
    case COST_LIMIT:
        return "limit";
    case COST_NO_GAIN:
        return "no-gain";
    case COST_MAX_TIME:
        return "max-time";
    case COST_THROTTLE_MAX:
        return "throttle-max";
    case COST_BUSY:
        return "busy";
    case COST_SAFETY:
        return "safety";
    }
    return "?";
}

static double rate_pps(const struct cost_model *m)
{
    return m->page_rate_pps > 0 ? m->page_rate_pps : COST_PRIOR_PPS;
}

uint64_t cost_model_transfer_ns(const struct cost_model *m, uint64_t pages)
{
    return (uint64_t)((double)pages / rate_pps(m) * 1e9);
}

/*
 * Pages the guest dirties in ns at the current estimate: at most all of
 * memory, or, once two harvested sets in a row were within 10 % of each
 * other (a plateau: the guest's hot set), the largest set harvested.
 */
static uint64_t dirtied_pages(const struct cost_model *m, uint64_t ns)
{
    double d = m->dirty_rate_pps * (double)ns / 1e9;

    if (m->plateau && m->max_dirty_pages && d > (double)m->max_dirty_pages)
        return m->max_dirty_pages;
    if (m->mem_pages && d > (double)m->mem_pages)
        return m->mem_pages;
    return (uint64_t)ceil(d);
}

static double blend(double est, double sample, double alpha)
{
    return est > 0 ? est + alpha * (sample - est) : sample;
}

/*
 * The after-send call: the harvested set of the last top() call went out
 * between top_ns and now.  Measure the sender's page rate, the wire bytes
 * per page and the link.
 */
static void measure_send(struct cost_model *m, const struct precopy_round *r)
{
    uint64_t pages, dt_ns, wire;
    double pps, bpp, w;

    if (!m->have_top || r->elapsed_ns <= m->top_ns ||
        r->total_written_pages <= m->top_written_pages)
        return;
    pages = r->total_written_pages - m->top_written_pages;
    dt_ns = r->elapsed_ns - m->top_ns;
    if (dt_ns < 100000) /* 0.1 ms: too short to time */
        return;
    wire = r->wire_bytes > m->top_wire_bytes ? r->wire_bytes - m->top_wire_bytes
                                             : 0;
    pps = (double)pages * 1e9 / (double)dt_ns;
    if (wire)
        m->link_bps =
            blend(m->link_bps, (double)wire * 1e9 / (double)dt_ns, 0.5);
    if (m->iteration == 0) {
        /* the dirty count of top(0) is the p2m size, holes included: the
         * stream bytes of the pass bound the guest's populated memory */
        if (r->raw_bytes > m->top_raw_bytes &&
            (r->raw_bytes - m->top_raw_bytes) / COST_RAW_PAGE_BYTES + 1 <
                m->mem_pages)
            m->mem_pages =
                (r->raw_bytes - m->top_raw_bytes) / COST_RAW_PAGE_BYTES + 1;
        /*
         * The full pass: zero pages make it cheaper per page than the
         * dirty pages to come.  Assume dirty pages are incompressible
         * until one dirty round is measured: the slower of the pass's
         * page rate and the link at raw page size.
         */
        m->full_pass_pps = pps;
        m->page_rate_pps = pps;
        if (m->link_bps > 0 &&
            m->link_bps / COST_RAW_PAGE_BYTES < m->page_rate_pps)
            m->page_rate_pps = m->link_bps / COST_RAW_PAGE_BYTES;
        return;
    }
    w = fmin(1.0, (double)pages / COST_FULL_WEIGHT_PAGES);
    bpp = wire ? (double)wire / (double)pages : 0;
    if (!m->sent_dirty_round) {
        /* the first dirty round replaces the full-pass guess */
        m->page_rate_pps = blend(m->page_rate_pps, pps, w);
        if (bpp > 0)
            m->wire_bytes_per_page = blend(m->wire_bytes_per_page, bpp, w);
        m->sent_dirty_round = 1;
        return;
    }
    /* a slower round counts in full: a bandwidth drop shows at once */
    m->page_rate_pps =
        blend(m->page_rate_pps, pps, (pps < m->page_rate_pps ? 1.0 : 0.5) * w);
    if (bpp > 0)
        m->wire_bytes_per_page = blend(m->wire_bytes_per_page, bpp, 0.5 * w);
}

/* The top call of a round x >= 1: n pages dirtied since the last one. */
static void measure_dirty(struct cost_model *m, const struct precopy_round *r)
{
    uint64_t dt_ns;
    double d;

    if (!m->have_top || r->elapsed_ns <= m->top_ns)
        return;
    dt_ns = r->elapsed_ns - m->top_ns;
    d = (double)r->dirty_pages * 1e9 / (double)dt_ns;
    /* up at once (conservative), down by half */
    if (m->dirty_rate_pps <= 0 || d > m->dirty_rate_pps)
        m->dirty_rate_pps = d;
    else
        m->dirty_rate_pps = blend(m->dirty_rate_pps, d, 0.5);
}

static void remember_top(struct cost_model *m, const struct precopy_round *r)
{
    m->have_top = 1;
    m->top_ns = r->elapsed_ns;
    m->top_written_pages = r->total_written_pages;
    m->top_wire_bytes = r->wire_bytes;
    m->top_raw_bytes = r->raw_bytes;
    m->top_dirty_pages = r->dirty_pages;
}

static void predict(struct cost_model *m, uint64_t final_pages)
{
    m->predicted_final_pages = final_pages;
    m->predicted_transfer_ns = cost_model_transfer_ns(m, final_pages);
    m->predicted_blackout_ns = m->p.fixed_ns + m->predicted_transfer_ns;
}

static int finish(struct cost_model *m, int decision, enum cost_reason why)
{
    m->decision = decision;
    if (decision != PRECOPY_CONTINUE)
        m->reason = why;
    return decision;
}

/* Raise the throttle one step; 0 if applied. */
static int throttle_up(struct cost_model *m)
{
    unsigned pct = m->throttle_pct ? m->throttle_pct + COST_THROTTLE_STEP_PCT
                                   : COST_THROTTLE_INITIAL_PCT;

    if (!m->p.throttle || !m->p.set_throttle ||
        m->throttle_pct >= COST_THROTTLE_MAX_PCT)
        return -EBUSY;
    if (pct > COST_THROTTLE_MAX_PCT)
        pct = COST_THROTTLE_MAX_PCT;
    if (m->p.set_throttle(m->p.opaque, pct)) {
        m->p.throttle = 0; /* do not try again */
        return -EIO;
    }
    /* the guest runs (100 - pct) % of the time it did */
    m->dirty_rate_pps *= (double)(100 - pct) / (double)(100 - m->throttle_pct);
    m->throttle_pct = pct;
    m->stalled = 0;
    return 0;
}

static int decide_top(struct cost_model *m, const struct precopy_round *r)
{
    uint64_t n = (uint64_t)r->dirty_pages, live_ns, final, final2, pred_now;
    uint64_t next_transfer_ns, pred_lo, t_final, min_gain_ns;
    int pays, shrinks, unsure = 0, first = !m->sent_dirty_round;
    /* the fixed cost alone is over the limit: no round, no throttle can
     * meet it (docs/cost-model.md "Decisions") */
    int unreachable = m->p.fixed_ns >= m->p.max_downtime_ns;

    if (r->iteration == 0 || !m->mem_pages) {
        /* before the full pass: every pfn */
        if (!m->mem_pages)
            m->mem_pages = n;
        remember_top(m, r);
        predict(m, m->mem_pages);
        return finish(m, PRECOPY_CONTINUE, COST_RUNNING);
    }
    measure_dirty(m, r);
    /* observed: the harvested set did not shrink by 10 % */
    if (r->iteration >= 2 && m->top_dirty_pages > 0) {
        if (n * 10 >= (uint64_t)m->top_dirty_pages * 9)
            m->stalled++;
        else
            m->stalled = 0;
        m->plateau = m->stalled && n * 10 <= (uint64_t)m->top_dirty_pages * 11;
    }
    if (n > m->max_dirty_pages)
        m->max_dirty_pages = n;
    remember_top(m, r);

    /* the quirk: n goes out live first, the blackout set is what the
     * guest dirties meanwhile */
    live_ns = cost_model_transfer_ns(m, n);
    final = dirtied_pages(m, live_ns);
    predict(m, final);
    final2 = dirtied_pages(m, m->predicted_transfer_ns);
    next_transfer_ns = cost_model_transfer_ns(m, final2);
    if (first) {
        /*
         * top(1): the dirty rate comes from the full pass, too long an
         * interval if the guest dirties a hot set smaller than what it
         * could dirty meanwhile (n_1 is then the hot set, and the rate
         * is underestimated).  The blackout set is between the estimate
         * and max(n_1, estimate): predict the upper bound, and stop on
         * the limit only when the two agree within COST_UNSURE_RATIO.
         */
        pred_lo = m->predicted_blackout_ns;
        if (final < n)
            predict(m, n);
        unsure = (double)(m->predicted_blackout_ns - pred_lo) >
                 COST_UNSURE_RATIO * (double)pred_lo;
    }
    pred_now = m->predicted_blackout_ns;

    if (m->p.max_time_ns && r->elapsed_ns + live_ns >= m->p.max_time_ns)
        return finish(m, PRECOPY_STOP, COST_MAX_TIME);
    if (pred_now <= m->p.max_downtime_ns && !unsure)
        return finish(m, PRECOPY_STOP, COST_LIMIT);
    if (r->iteration >= COST_SAFETY_ROUNDS)
        return finish(m, PRECOPY_STOP, COST_SAFETY);
    /* the gain of one more round, at the estimated rates; at top(1) only
     * a dirty rate (underestimated) over the optimistic rate proves the
     * guest busy */
    t_final = cost_model_transfer_ns(m, final);
    shrinks = (double)next_transfer_ns <= COST_GAIN_RATIO * (double)t_final;
    if (first) /* busy only if over the optimistic full-pass rate too */
        shrinks = m->dirty_rate_pps <=
                  COST_GAIN_RATIO * fmax(m->full_pass_pps, rate_pps(m));
    /* a round must save 1 ms and 1 % of the predicted blackout */
    min_gain_ns = pred_now / 1000 * COST_MIN_GAIN_PM;
    if (min_gain_ns < COST_MIN_GAIN_NS)
        min_gain_ns = COST_MIN_GAIN_NS;
    pays = first ? shrinks
                 : shrinks && m->stalled < COST_STALL_ROUNDS &&
                       t_final >= next_transfer_ns + min_gain_ns;
    if (pays)
        return finish(m, PRECOPY_CONTINUE, COST_RUNNING);
    /* busy: the blackout no longer shrinks and is over the limit */
    if (m->p.abort_if_busy)
        return finish(m, PRECOPY_ABORT, COST_BUSY);
    if (unreachable) /* slowing the guest cannot help */
        return finish(m, PRECOPY_STOP, COST_NO_GAIN);
    if (!throttle_up(m))
        return finish(m, PRECOPY_CONTINUE, COST_RUNNING);
    return finish(m, PRECOPY_STOP,
                  m->throttle_pct ? COST_THROTTLE_MAX : COST_NO_GAIN);
}

int cost_model_decide(struct cost_model *m, const struct precopy_round *r)
{
    int d;

    if (m->decision != PRECOPY_CONTINUE)
        return m->decision; /* libxenguest asks no more; be idempotent */
    if (r->dirty_pages >= 0) {
        d = decide_top(m, r);
        m->iteration = r->iteration;
        return d;
    }
    measure_send(m, r);
    /* before the first dirty count the rate is unknown: top(1) decides */
    if (m->p.max_time_ns && r->elapsed_ns >= m->p.max_time_ns &&
        m->sent_dirty_round) {
        /* stop before CLEAN: the blackout set is what was dirtied since
         * the last top() call */
        predict(m, dirtied_pages(m, r->elapsed_ns - m->top_ns));
        return finish(m, PRECOPY_STOP, COST_MAX_TIME);
    }
    return PRECOPY_CONTINUE;
}

static int policy_decide(void *opaque, const struct precopy_round *r)
{
    return cost_model_decide(opaque, r);
}

struct precopy_policy cost_model_policy(struct cost_model *m)
{
    struct precopy_policy p = { policy_decide, m };

    return p;
}

uint64_t cost_model_fixed_measured_ns(const struct cost_model *m,
                                      uint64_t blackout_ns,
                                      uint64_t final_raw_bytes)
{
    uint64_t t =
        cost_model_transfer_ns(m, final_raw_bytes / COST_RAW_PAGE_BYTES);

    return blackout_ns > t ? blackout_ns - t : 0;
}
