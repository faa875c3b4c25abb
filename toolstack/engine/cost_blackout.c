/* SPDX-License-Identifier: MIT */
/*
 * The blackout phase by phase, and the target's report of its own part
 * (cost.h, docs/cost-model.md "Phases").  Pure: the times come from the
 * session's statistics.
 */
#include <errno.h>
#include <string.h>

#include "engine/cost.h"

/* the final pages' stream bytes: page + pfn entry (cost.c) */
#define COST_RAW_PAGE_BYTES (COST_PAGE_BYTES + 8u)

const char *cost_phase_name(enum cost_phase ph)
{
    switch (ph) {
    case COST_PH_SUSPEND:
        return "suspend";
    case COST_PH_RECORDS:
        return "records";
    case COST_PH_RESTORE:
        return "restore";
    case COST_PH_HANDSHAKE:
        return "handshake";
    case COST_PHASES:
        break;
    }
    return "?";
}

static uint64_t span(uint64_t from, uint64_t to)
{
    return from && to > from ? to - from : 0;
}

int cost_blackout_measure(const struct cost_model *m,
                          const struct cost_times *t, struct cost_blackout *b)
{
    uint64_t start, send_ns;

    memset(b, 0, sizeof(*b));
    if (!t->suspended_ns || !t->report_ns || t->report_ns <= t->suspended_ns)
        return -EINVAL;
    start = t->suspend_req_ns && t->suspend_req_ns <= t->suspended_ns
                ? t->suspend_req_ns
                : t->suspended_ns;
    b->measured_ns = t->report_ns - start;
    b->transfer_ns =
        cost_model_transfer_ns(m, t->final_raw_bytes / COST_RAW_PAGE_BYTES);
    if (b->transfer_ns > b->measured_ns)
        b->transfer_ns = b->measured_ns;
    b->fixed_ns = b->measured_ns - b->transfer_ns;
    b->phase_ns[COST_PH_SUSPEND] = t->suspended_ns - start;
    send_ns = span(t->suspended_ns, t->stream_end_ns);
    b->phase_ns[COST_PH_RECORDS] =
        send_ns > b->transfer_ns ? send_ns - b->transfer_ns : 0;
    b->phase_ns[COST_PH_RESTORE] = span(t->stream_end_ns, t->ready_ns);
    b->phase_ns[COST_PH_HANDSHAKE] = span(t->ready_ns, t->report_ns);
    return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    unsigned i;

    for (i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void cost_peer_encode(uint8_t out[COST_PEER_BYTES],
                      const struct cost_peer_times *t)
{
    memcpy(out, COST_PEER_MAGIC, 8);
    put_le64(out + 8, t->restore_ns);
    put_le64(out + 16, t->restore_tail_ns);
    put_le64(out + 24, t->unpause_ns);
}

int cost_peer_decode(const uint8_t in[COST_PEER_BYTES],
                     struct cost_peer_times *t)
{
    struct cost_peer_times v;

    if (memcmp(in, COST_PEER_MAGIC, 8))
        return -EPROTO;
    v.restore_ns = get_le64(in + 8);
    v.restore_tail_ns = get_le64(in + 16);
    v.unpause_ns = get_le64(in + 24);
    if (v.restore_ns > COST_PEER_MAX_NS ||
        v.restore_tail_ns > COST_PEER_MAX_NS || v.unpause_ns > COST_PEER_MAX_NS)
        return -EPROTO;
    *t = v;
    return 0;
}
