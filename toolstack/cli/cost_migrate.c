/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX           "cost: "
/* policy calls kept for the JSON trace; more are not recorded */
#define COST_TRACE_MAX_CALLS 4096u
#include "cli/cost_migrate.h"
#include "common/log.h"

void cost_run_init(struct cost_run *c)
{
    memset(c, 0, sizeof(*c));
    c->max_downtime_ms = COST_DEFAULT_MAX_DOWNTIME_MS;
    c->throttle = 1;
}

static int parse_uint(const char *name, const char *arg, unsigned long max,
                      unsigned *v_r)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = arg ? strtoul(arg, &end, 10) : 0;
    if (!arg || errno || end == arg || *end || arg[0] == '-' || !v || v > max) {
        fprintf(stderr, "xlmig migrate: invalid value '%s' for --%s\n",
                arg ? arg : "", name);
        return -EINVAL;
    }
    *v_r = (unsigned)v;
    return 0;
}

int cost_run_option(struct cost_run *c, const char *name, const char *arg)
{
    if (!strcmp(name, "max-downtime"))
        return parse_uint(name, arg, 3600000ul, &c->max_downtime_ms);
    if (!strcmp(name, "max-time"))
        return parse_uint(name, arg, 86400ul * 7, &c->max_time_s);
    if (!strcmp(name, "throttle"))
        c->throttle = 1;
    else if (!strcmp(name, "no-throttle"))
        c->throttle = 0;
    else if (!strcmp(name, "abort-if-busy"))
        c->abort_if_busy = 1;
    else
        return -ENOENT;
    return 0;
}

/*
 * The host pair's key: "source>destination".  The destination as given,
 * without port numbers (":5101" and the like: a Ganeti-style rune such
 * as "socat - TCP:host:5101" names a new port every time, the pair is
 * the same), blanks as '_'.
 */
static void pair_key(char *key, size_t size, const char *src, const char *dst)
{
    size_t n, i;

    snprintf(key, size, "%s>", src);
    n = strlen(key);
    for (i = 0; dst[i] && n + 1 < size; i++) {
        if (dst[i] == ':' && dst[i + 1] >= '0' && dst[i + 1] <= '9') {
            size_t j = i + 1;

            while (dst[j] >= '0' && dst[j] <= '9')
                j++;
            if (!dst[j] || dst[j] == ' ' || dst[j] == '\'' || dst[j] == '"' ||
                dst[j] == ',') {
                i = j - 1; /* a port: skipped */
                continue;
            }
        }
        key[n++] = (unsigned char)dst[i] <= ' ' ? '_' : dst[i];
    }
    key[n] = 0;
}

void cost_run_begin(struct cost_run *c, const char *domain, const char *dest,
                    FILE *json, int progress)
{
    struct cost_state *st = malloc(sizeof(*st));
    struct cost_params p = { 0 };
    const struct cost_pair *pair = NULL;
    char host[64];
    unsigned i;
    int rc;

    c->json = json;
    c->progress = progress;
    rc = coststate_release_stale();
    if (rc < 0)
        LOGEV(WARN, -rc, "cannot check for throttles left by earlier runs");
    if (gethostname(host, sizeof(host)))
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = 0;
    pair_key(c->key, sizeof(c->key), host, dest ? dest : "?");
    if (st && !coststate_load(st)) {
        for (i = 0; i < st->npairs; i++)
            if (!strcmp(st->pairs[i].key, c->key))
                pair = &st->pairs[i];
        if (pair && pair->samples) {
            c->learned_fixed_ns = pair->fixed_ns;
            c->learned_samples = pair->samples;
        }
    }
    free(st);

    p.max_downtime_ns = (uint64_t)c->max_downtime_ms * 1000000ull;
    p.max_time_ns = (uint64_t)c->max_time_s * 1000000000ull;
    p.fixed_ns = c->learned_fixed_ns; /* 0: the default */
    p.abort_if_busy = c->abort_if_busy;
    if (c->throttle && !c->abort_if_busy) {
        rc = cost_throttler_init(&c->thr, domain);
        if (rc)
            LOGEV(WARN, -rc, "no throttle for domain %s", domain);
        else {
            c->have_thr = 1;
            p.throttle = 1;
            p.set_throttle = cost_throttler_set;
            p.opaque = &c->thr;
        }
    }
    cost_model_init(&c->model, &p);
    if (json)
        c->calls = calloc(COST_TRACE_MAX_CALLS, sizeof(*c->calls));
    c->began = 1;
    LOG(INFO, "limit %u ms, fixed blackout cost %.0f ms (%s), %s%s, pair %s",
        c->max_downtime_ms, (double)c->model.p.fixed_ns / 1e6,
        c->learned_samples ? "learned" : "default",
        c->abort_if_busy ? "abort if busy"
        : p.throttle     ? "throttle if busy"
                         : "best effort if busy",
        c->max_time_s ? ", max time set" : "", c->key);
}

/* the model's decision, every call recorded for the JSON trace */
static int traced_decide(void *opaque, const struct precopy_round *r)
{
    struct cost_run *c = opaque;

    if (c->calls && c->ncalls < COST_TRACE_MAX_CALLS)
        c->calls[c->ncalls++] = *r;
    return cost_model_decide(&c->model, r);
}

struct precopy_policy cost_run_policy(struct cost_run *c)
{
    struct precopy_policy p = { traced_decide, c };

    return p;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* The blackout phase by phase (after the migration). */
static void measure(struct cost_run *c, const struct mig_stats *s)
{
    struct cost_times t = {
        .suspend_req_ns = s->suspend_req_ns,
        .suspended_ns = s->suspend_ns,
        .stream_end_ns = s->stream_end_ns,
        .ready_ns = s->ready_ns,
        .report_ns = s->report_ns,
        .final_raw_bytes = s->suspend_ns && s->raw_bytes > c->suspend_raw_bytes
                               ? s->raw_bytes - c->suspend_raw_bytes
                               : 0,
    };

    c->have_bo = !cost_blackout_measure(&c->model, &t, &c->bo);
}

static void json_trace(struct cost_run *c)
{
    const struct precopy_round *r;
    unsigned i;

    for (i = 0; i < c->ncalls; i++) {
        r = &c->calls[i];
        fprintf(c->json,
                "{\"event\":\"policy\",\"iteration\":%u,"
                "\"total_written_pages\":%llu,\"dirty_pages\":%lld,"
                "\"elapsed_us\":%llu,\"wire_bytes\":%llu,"
                "\"raw_bytes\":%llu}\n",
                r->iteration, (unsigned long long)r->total_written_pages,
                (long long)r->dirty_pages,
                (unsigned long long)(r->elapsed_ns / 1000),
                (unsigned long long)r->wire_bytes,
                (unsigned long long)r->raw_bytes);
    }
}

static void json_blackout(struct cost_run *c, const struct mig_stats *s)
{
    const struct cost_model *m = &c->model;
    const struct cost_blackout *b = &c->bo;
    unsigned ph;

    fprintf(c->json,
            "{\"event\":\"blackout\",\"predicted_blackout_ms\":%.1f,"
            "\"measured_blackout_ms\":%.1f,\"max_downtime_ms\":%u,"
            "\"fixed_ms\":%.1f,\"fixed_learned\":%s,"
            "\"predicted_final_pages\":%llu,\"stop_reason\":\"%s\","
            "\"throttle_pct_max\":%u,\"final_raw_bytes\":%llu,"
            "\"transfer_ms\":%.1f,\"measured_fixed_ms\":%.1f",
            ms(m->predicted_blackout_ns), ms(b->measured_ns),
            c->max_downtime_ms, ms(m->p.fixed_ns),
            c->learned_samples ? "true" : "false",
            (unsigned long long)m->predicted_final_pages,
            cost_reason_name(m->reason), c->max_throttle_pct,
            (unsigned long long)(s->suspend_ns &&
                                         s->raw_bytes > c->suspend_raw_bytes
                                     ? s->raw_bytes - c->suspend_raw_bytes
                                     : 0),
            ms(b->transfer_ns), ms(b->fixed_ns));
    for (ph = 0; ph < COST_PHASES; ph++)
        fprintf(c->json, ",\"%s_ms\":%.1f", cost_phase_name(ph),
                ms(b->phase_ns[ph]));
    if (s->peer_phases)
        fprintf(c->json,
                ",\"target_restore_ms\":%.1f,\"target_restore_tail_ms\":%.1f,"
                "\"target_unpause_ms\":%.1f",
                ms(s->peer_restore_ns), ms(s->peer_restore_tail_ns),
                ms(s->peer_unpause_ns));
    fprintf(c->json, "}\n");
}

static void on_event(void *opaque, enum mig_event ev, const struct mig_stats *s,
                     const struct precopy_round *rd, int status)
{
    struct cost_run *c = opaque;
    const struct cost_model *m = &c->model;
    unsigned ph;

    if (m->throttle_pct > c->max_throttle_pct)
        c->max_throttle_pct = m->throttle_pct;
    if (ev == MIG_EV_SUSPENDED)
        c->suspend_raw_bytes = s->raw_bytes;
    if (ev == MIG_EV_DONE && c->began)
        measure(c, s);
    if (ev == MIG_EV_DONE && c->json && c->began) {
        json_trace(c);
        json_blackout(c, s);
        fflush(c->json);
    }
    if (c->next && c->next->event)
        c->next->event(c->next->opaque, ev, s, rd, status);
    if (ev == MIG_EV_ROUND && c->json) {
        fprintf(c->json,
                "{\"event\":\"cost\",\"iteration\":%u,"
                "\"predicted_blackout_ms\":%.1f,\"predicted_final_pages\":%llu,"
                "\"page_rate_pps\":%.0f,\"dirty_rate_pps\":%.0f,"
                "\"wire_bytes_per_page\":%.0f,\"throttle_pct\":%u,"
                "\"decision\":\"%s\",\"reason\":\"%s\"}\n",
                rd->iteration, ms(m->predicted_blackout_ns),
                (unsigned long long)m->predicted_final_pages, m->page_rate_pps,
                m->dirty_rate_pps, m->wire_bytes_per_page, m->throttle_pct,
                status == PRECOPY_STOP    ? "stop"
                : status == PRECOPY_ABORT ? "abort"
                                          : "continue",
                cost_reason_name(m->reason));
        fflush(c->json);
    }
    if (ev == MIG_EV_ROUND && c->progress)
        fprintf(stderr,
                "%smigrate: round %u: %lld dirty pages, predicted blackout "
                "%.0f ms (limit %u ms)%s%.0u%s\n",
                isatty(2) ? "\r\033[K" : "", rd->iteration,
                (long long)rd->dirty_pages, ms(m->predicted_blackout_ns),
                c->max_downtime_ms, m->throttle_pct ? ", throttle " : "",
                m->throttle_pct, m->throttle_pct ? " %" : "");
    if (ev == MIG_EV_DONE && c->began && s->suspend_ns &&
        m->reason == COST_RUNNING)
        fprintf(stderr,
                "migration blackout: measured %.0f ms (no prediction: the "
                "save ran without the precopy policy)\n",
                ms(c->bo.measured_ns));
    else if (ev == MIG_EV_DONE && c->began && s->suspend_ns)
        fprintf(stderr,
                "migration blackout: predicted %.0f ms, measured %.0f ms "
                "(limit %u ms, stop: %s%s%.0u%s)\n",
                ms(m->predicted_blackout_ns), ms(c->bo.measured_ns),
                c->max_downtime_ms, cost_reason_name(m->reason),
                c->max_throttle_pct ? ", throttled up to " : "",
                c->max_throttle_pct, c->max_throttle_pct ? " %" : "");
    if (ev == MIG_EV_DONE && c->began && c->have_bo && c->progress) {
        fprintf(stderr, "migration blackout phases: final pages %.0f ms",
                ms(c->bo.transfer_ns));
        for (ph = 0; ph < COST_PHASES; ph++)
            fprintf(stderr, ", %s %.0f ms", cost_phase_name(ph),
                    ms(c->bo.phase_ns[ph]));
        if (s->peer_phases)
            fprintf(stderr,
                    " (target: restore %.0f ms, %.0f ms after the "
                    "last byte, unpause %.0f ms)",
                    ms(s->peer_restore_ns), ms(s->peer_restore_tail_ns),
                    ms(s->peer_unpause_ns));
        fprintf(stderr, "\n");
    }
}

const struct mig_observer *cost_run_observer(struct cost_run *c,
                                             const struct mig_observer *next)
{
    c->next = next;
    c->obs.event = on_event;
    c->obs.opaque = c;
    return &c->obs;
}

struct learn_args {
    const char *key;
    const struct cost_blackout *bo;
    uint64_t predicted_ns;
};

static int learn_fn(struct cost_state *st, void *opaque)
{
    const struct learn_args *a = opaque;
    struct cost_pair *p = cost_state_pair(st, a->key);

    if (!p)
        return 0;
    cost_pair_learn(p, a->bo, a->predicted_ns);
    return 1;
}

void cost_run_end(struct cost_run *c, int rc, const struct mig_stats *s)
{
    struct learn_args a;
    int r;

    if (!c->began)
        return;
    /* the guest runs on: release the cap before anything else */
    cost_run_dispose(c);
    if (c->model.reason == COST_BUSY) {
        fprintf(stderr,
                "domain too busy: predicted blackout %.0f ms > "
                "limit %u ms\n",
                ms(c->model.predicted_blackout_ns), c->max_downtime_ms);
        return;
    }
    if (rc || !c->have_bo || !s->report_ns || c->model.decision != PRECOPY_STOP)
        return;
    a.key = c->key;
    a.bo = &c->bo;
    a.predicted_ns = c->model.predicted_blackout_ns;
    r = coststate_update(learn_fn, &a);
    if (r)
        LOGEV(WARN, -r, "cannot remember the blackout cost");
    else
        LOG(INFO, "fixed blackout cost %.0f ms remembered for %s",
            ms(c->bo.fixed_ns), c->key);
}

void cost_run_dispose(struct cost_run *c)
{
    if (!c->began)
        return;
    cost_model_dispose(&c->model); /* set_throttle(0) if applied */
    free(c->calls);
    c->calls = NULL;
    if (c->have_thr) {
        cost_throttler_dispose(&c->thr);
        c->have_thr = 0;
    }
}
