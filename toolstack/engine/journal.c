/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/journal.h"

static const char *const phase_names[JOURNAL_NPHASES] = {
    [JOURNAL_SENDING] = "sending",     [JOURNAL_GO_SENT] = "go-sent",
    [JOURNAL_RECEIVING] = "receiving", [JOURNAL_READY] = "ready",
    [JOURNAL_RUNNING] = "running",     [JOURNAL_DONE] = "done",
    [JOURNAL_ABORTED] = "aborted",
};

const char *journal_phase_name(enum journal_phase p)
{
    return (unsigned)p < JOURNAL_NPHASES ? phase_names[p] : "?";
}

const char *journal_role_name(enum journal_role r)
{
    return r == JOURNAL_SOURCE ? "source" : "target";
}

int journal_phase_terminal(enum journal_phase p)
{
    return p == JOURNAL_DONE || p == JOURNAL_ABORTED;
}

int journal_uuid_chars_ok(const char *s)
{
    int i;

    for (i = 0; i < JOURNAL_UUID_CHARS; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!((s[i] >= '0' && s[i] <= '9') ||
                     (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

int journal_uuid_valid(const char *s)
{
    return journal_uuid_chars_ok(s) && s[JOURNAL_UUID_CHARS] == '\0';
}

static int copy_field(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= size || (src && strpbrk(src, "\n\r")))
        return -EINVAL;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
    return 0;
}

int journal_rec_init(struct journal_rec *r, enum journal_role role,
                     const char *uuid, uint64_t epoch, const char *domain,
                     const char *peer)
{
    memset(r, 0, sizeof(*r));
    if (!uuid || !journal_uuid_valid(uuid) || !epoch ||
        (role != JOURNAL_SOURCE && role != JOURNAL_TARGET))
        return -EINVAL;
    memcpy(r->uuid, uuid, JOURNAL_UUID_CHARS + 1);
    r->epoch = epoch;
    r->role = role;
    r->phase = role == JOURNAL_SOURCE ? JOURNAL_SENDING : JOURNAL_RECEIVING;
    if (copy_field(r->domain, sizeof(r->domain), domain) ||
        copy_field(r->peer, sizeof(r->peer), peer))
        return -EINVAL;
    return 0;
}

int journal_check_transition(enum journal_role role, enum journal_phase from,
                             enum journal_phase to)
{
    if (role == JOURNAL_SOURCE) {
        switch (from) {
        case JOURNAL_SENDING:
            return to == JOURNAL_GO_SENT || to == JOURNAL_ABORTED ? 0 : -EINVAL;
        case JOURNAL_GO_SENT:
            return to == JOURNAL_DONE || to == JOURNAL_ABORTED ? 0 : -EINVAL;
        default:
            return -EINVAL;
        }
    }
    switch (from) {
    case JOURNAL_RECEIVING:
        return to == JOURNAL_READY || to == JOURNAL_ABORTED ? 0 : -EINVAL;
    case JOURNAL_READY:
        return to == JOURNAL_RUNNING || to == JOURNAL_ABORTED ? 0 : -EINVAL;
    case JOURNAL_RUNNING:
        return to == JOURNAL_DONE || to == JOURNAL_ABORTED ? 0 : -EINVAL;
    default:
        return -EINVAL;
    }
}

int journal_advance(struct journal_rec *r, enum journal_phase to,
                    uint64_t now_s)
{
    int rc = journal_check_transition(r->role, r->phase, to);

    if (rc)
        return rc;
    r->phase = to;
    r->time_s = now_s;
    return 0;
}

int journal_encode(const struct journal_rec *r, char *buf, size_t size)
{
    int n = snprintf(buf, size,
                     "xlmig-journal=%d\nuuid=%s\nepoch=%" PRIu64
                     "\nrole=%s\nphase=%s\ndomain=%s\ndomid=%" PRIu32
                     "\npeer=%s\npid=%" PRId32 "\ntime=%" PRIu64 "\n",
                     JOURNAL_VERSION, r->uuid, r->epoch,
                     journal_role_name(r->role), journal_phase_name(r->phase),
                     r->domain, r->domid, r->peer, r->pid, r->time_s);

    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    return n;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    unsigned long long x;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (errno || *end || x > max)
        return -EINVAL;
    *v = x;
    return 0;
}

int journal_decode(const char *buf, size_t len, struct journal_rec *r)
{
    char text[JOURNAL_TEXT_MAX + 1], *line, *next, *eq;
    unsigned seen = 0;
    uint64_t v;
    int i, rc = -EINVAL;

    memset(r, 0, sizeof(*r));
    if (len > JOURNAL_TEXT_MAX || memchr(buf, '\0', len))
        return -EINVAL;
    memcpy(text, buf, len);
    text[len] = '\0';
    for (line = text; *line; line = next) {
        next = strchr(line, '\n');
        if (!next)
            goto out; /* every line ends with a newline */
        *next++ = '\0';
        eq = strchr(line, '=');
        if (!eq)
            goto out;
        *eq++ = '\0';
        if (!strcmp(line, "xlmig-journal")) {
            if (parse_u64(eq, 1000, &v) || v != JOURNAL_VERSION)
                goto out;
            seen |= 1u << 0;
        } else if (!strcmp(line, "uuid")) {
            if (!journal_uuid_valid(eq))
                goto out;
            memcpy(r->uuid, eq, JOURNAL_UUID_CHARS + 1);
            seen |= 1u << 1;
        } else if (!strcmp(line, "epoch")) {
            if (parse_u64(eq, UINT64_MAX, &r->epoch) || !r->epoch)
                goto out;
            seen |= 1u << 2;
        } else if (!strcmp(line, "role")) {
            if (!strcmp(eq, "source"))
                r->role = JOURNAL_SOURCE;
            else if (!strcmp(eq, "target"))
                r->role = JOURNAL_TARGET;
            else
                goto out;
            seen |= 1u << 3;
        } else if (!strcmp(line, "phase")) {
            for (i = 0; i < JOURNAL_NPHASES; i++)
                if (!strcmp(eq, phase_names[i]))
                    break;
            if (i == JOURNAL_NPHASES)
                goto out;
            r->phase = (enum journal_phase)i;
            seen |= 1u << 4;
        } else if (!strcmp(line, "domain")) {
            if (copy_field(r->domain, sizeof(r->domain), eq))
                goto out;
        } else if (!strcmp(line, "domid")) {
            if (parse_u64(eq, UINT32_MAX, &v))
                goto out;
            r->domid = (uint32_t)v;
        } else if (!strcmp(line, "peer")) {
            if (copy_field(r->peer, sizeof(r->peer), eq))
                goto out;
        } else if (!strcmp(line, "pid")) {
            if (parse_u64(eq, INT32_MAX, &v))
                goto out;
            r->pid = (int32_t)v;
        } else if (!strcmp(line, "time")) {
            if (parse_u64(eq, UINT64_MAX, &r->time_s))
                goto out;
        }
        /* other keys: written by a newer version, ignored */
    }
    if (seen != 0x1f)
        goto out;
    /* a phase of the other role is corrupt (terminal ones are shared) */
    if (!journal_phase_terminal(r->phase) &&
        (r->role == JOURNAL_SOURCE) !=
            (r->phase == JOURNAL_SENDING || r->phase == JOURNAL_GO_SENT))
        goto out;
    rc = 0;
out:
    if (rc)
        memset(r, 0, sizeof(*r));
    return rc;
}

const char *journal_answer_name(enum journal_answer a)
{
    switch (a) {
    case JOURNAL_ANS_NEVER_RAN:
        return "never-ran";
    case JOURNAL_ANS_RUNNING:
        return "running";
    default:
        return "unknown";
    }
}

enum journal_query_action journal_query_action(const struct journal_rec *tgt,
                                               uint64_t epoch)
{
    /* no record: the target journals RECEIVING before it creates a
     * domain, so nothing of this migration exists there */
    if (!tgt)
        return JOURNAL_Q_ANSWER_NEVER_RAN;
    if (tgt->role != JOURNAL_TARGET || tgt->epoch != epoch)
        return JOURNAL_Q_ANSWER_UNKNOWN;
    switch (tgt->phase) {
    case JOURNAL_RECEIVING:
    case JOURNAL_READY:
        return JOURNAL_Q_FENCE;
    case JOURNAL_RUNNING:
    case JOURNAL_DONE:
        return JOURNAL_Q_ANSWER_RUNNING;
    case JOURNAL_ABORTED:
        return JOURNAL_Q_ANSWER_NEVER_RAN;
    default:
        return JOURNAL_Q_ANSWER_UNKNOWN;
    }
}

enum journal_sweep_action journal_sweep_action(const struct journal_rec *r,
                                               int pid_alive, uint64_t now_s)
{
    if (journal_phase_terminal(r->phase))
        return now_s > r->time_s && now_s - r->time_s > JOURNAL_KEEP_DONE_S
                   ? JOURNAL_SW_REMOVE
                   : JOURNAL_SW_KEEP;
    if (pid_alive)
        return JOURNAL_SW_KEEP;
    switch (r->phase) {
    case JOURNAL_SENDING:
        return JOURNAL_SW_RESUME_SOURCE;
    case JOURNAL_GO_SENT:
        return JOURNAL_SW_QUERY_PEER;
    case JOURNAL_RECEIVING:
    case JOURNAL_READY:
        return JOURNAL_SW_DESTROY_PAUSED;
    case JOURNAL_RUNNING:
        return JOURNAL_SW_FINISH_START;
    default:
        return JOURNAL_SW_KEEP;
    }
}

const char *journal_sweep_name(enum journal_sweep_action a)
{
    switch (a) {
    case JOURNAL_SW_KEEP:
        return "keep";
    case JOURNAL_SW_REMOVE:
        return "remove";
    case JOURNAL_SW_DESTROY_PAUSED:
        return "destroy-paused";
    case JOURNAL_SW_FINISH_START:
        return "finish-start";
    case JOURNAL_SW_RESUME_SOURCE:
        return "resume-source";
    case JOURNAL_SW_QUERY_PEER:
        return "query-peer";
    }
    return "?";
}

enum journal_src_action journal_src_action(int query_rc, enum journal_answer a)
{
    if (query_rc)
        return JOURNAL_SRC_STAY_PAUSED;
    if (a == JOURNAL_ANS_NEVER_RAN)
        return JOURNAL_SRC_RESUME;
    if (a == JOURNAL_ANS_RUNNING)
        return JOURNAL_SRC_DESTROY;
    return JOURNAL_SRC_STAY_PAUSED;
}
