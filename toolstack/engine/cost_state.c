/* SPDX-License-Identifier: MIT */
/*
 * The cost model's state file, parsed and formatted (cost.h).  Format,
 * one record per line, '#' comments:
 *
 *   pair KEY fixed_ns=N samples=N [PHASE_ns=N ...] err=E,E,...
 *   throttle domid=N pid=N cap_orig=N cap_set=N
 *
 * The file is local and written by xlmig, but it is still input: every
 * number is range-checked and an unknown or malformed line is skipped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cost.h"

#define LINE_MAX_BYTES 1024u

void cost_state_init(struct cost_state *st)
{
    memset(st, 0, sizeof(*st));
}

static int valid_key(const char *key)
{
    size_t n = strlen(key), i;

    if (!n || n >= COST_STATE_KEY_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)key[i] <= ' ' || key[i] == 0x7f)
            return 0;
    return 1;
}

/* "name=value" with value a decimal <= max. */
static int field_u64(const char *tok, const char *name, uint64_t max,
                     uint64_t *v_r)
{
    size_t n = strlen(name);
    char *end;
    unsigned long long v;

    if (strncmp(tok, name, n) || tok[n] != '=' || tok[n + 1] < '0' ||
        tok[n + 1] > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(tok + n + 1, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *v_r = v;
    return 0;
}

static void parse_errs(struct cost_pair *p, const char *s)
{
    char *end;
    long v;

    p->nerr = 0;
    while (*s && p->nerr < COST_STATE_ERRS) {
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || v < -1000000 || v > 1000000)
            break;
        p->err_pm[p->nerr++] = (int32_t)v;
        if (*end != ',')
            break;
        s = end + 1;
    }
}

/* "suspend_ns=N" etc.: 0 if tok is a phase */
static int parse_phase(struct cost_pair *p, const char *tok)
{
    char name[32];
    unsigned ph;
    uint64_t v;

    for (ph = 0; ph < COST_PHASES; ph++) {
        snprintf(name, sizeof(name), "%s_ns", cost_phase_name(ph));
        if (!field_u64(tok, name, 3600ull * 1000000000ull, &v)) {
            p->phase_ns[ph] = v;
            return 0;
        }
    }
    return -EINVAL;
}

static void parse_pair(struct cost_state *st, char *save)
{
    char *key = strtok_r(NULL, " \t", &save), *tok;
    struct cost_pair p;
    uint64_t v;

    if (!key || !valid_key(key) || st->npairs >= COST_STATE_MAX_PAIRS)
        return;
    memset(&p, 0, sizeof(p));
    strcpy(p.key, key); /* valid_key checked the length */
    while ((tok = strtok_r(NULL, " \t", &save))) {
        if (!field_u64(tok, "fixed_ns", 3600ull * 1000000000ull, &v))
            p.fixed_ns = v;
        else if (!field_u64(tok, "samples", 1000000000ull, &v))
            p.samples = (unsigned)v;
        else if (!parse_phase(&p, tok))
            ;
        else if (!strncmp(tok, "err=", 4))
            parse_errs(&p, tok + 4);
    }
    st->pairs[st->npairs++] = p;
}

static void parse_throttle(struct cost_state *st, char *save)
{
    struct cost_throttle_rec t = { 0 };
    unsigned have = 0;
    char *tok;
    uint64_t v;

    while ((tok = strtok_r(NULL, " \t", &save))) {
        if (!field_u64(tok, "domid", 0x7fefu, &v)) {
            t.domid = (uint32_t)v;
            have |= 1;
        } else if (!field_u64(tok, "pid", 0x7fffffffu, &v)) {
            t.pid = (int32_t)v;
            have |= 2;
        } else if (!field_u64(tok, "cap_orig", 65535, &v)) {
            t.cap_orig = (uint32_t)v;
            have |= 4;
        } else if (!field_u64(tok, "cap_set", 65535, &v)) {
            t.cap_set = (uint32_t)v;
            have |= 8;
        }
    }
    if (have == 15)
        cost_state_add_throttle(st, &t);
}

int cost_state_parse(struct cost_state *st, const char *text, size_t len)
{
    char line[LINE_MAX_BYTES], *save, *tok;
    size_t i = 0, j;

    if (len > COST_STATE_MAX_BYTES)
        return -EINVAL;
    while (i < len) {
        for (j = i; j < len && text[j] != '\n'; j++)
            ;
        if (j - i < sizeof(line) && !memchr(text + i, 0, j - i)) {
            memcpy(line, text + i, j - i);
            line[j - i] = 0;
            tok = strtok_r(line, " \t", &save);
            if (tok && !strcmp(tok, "pair"))
                parse_pair(st, save);
            else if (tok && !strcmp(tok, "throttle"))
                parse_throttle(st, save);
        } /* else: too long or binary, skipped */
        i = j + 1;
    }
    return 0;
}

int cost_state_format(const struct cost_state *st, char *buf, size_t size,
                      size_t *len_r)
{
    size_t off = 0;
    unsigned i, k;
    int n;

#define PUT(...)                                          \
    do {                                                  \
        n = snprintf(buf + off, size - off, __VA_ARGS__); \
        if (n < 0 || (size_t)n >= size - off)             \
            return -ENOSPC;                               \
        off += (size_t)n;                                 \
    } while (0)

    if (!size)
        return -ENOSPC;
    PUT("# xlmig cost model state (docs/cost-model.md)\n");
    for (i = 0; i < st->npairs; i++) {
        const struct cost_pair *p = &st->pairs[i];

        PUT("pair %s fixed_ns=%" PRIu64 " samples=%u", p->key, p->fixed_ns,
            p->samples);
        for (k = 0; k < COST_PHASES; k++)
            PUT(" %s_ns=%" PRIu64, cost_phase_name(k), p->phase_ns[k]);
        PUT(" err=");
        for (k = 0; k < p->nerr; k++)
            PUT("%s%d", k ? "," : "", (int)p->err_pm[k]);
        PUT("\n");
    }
    for (i = 0; i < st->nthrottles; i++) {
        const struct cost_throttle_rec *t = &st->throttles[i];

        PUT("throttle domid=%u pid=%d cap_orig=%u cap_set=%u\n", t->domid,
            (int)t->pid, t->cap_orig, t->cap_set);
    }
#undef PUT
    *len_r = off;
    return 0;
}

struct cost_pair *cost_state_pair(struct cost_state *st, const char *key)
{
    unsigned i;

    if (!valid_key(key))
        return NULL;
    for (i = 0; i < st->npairs; i++)
        if (!strcmp(st->pairs[i].key, key))
            return &st->pairs[i];
    if (st->npairs == COST_STATE_MAX_PAIRS) {
        memmove(&st->pairs[0], &st->pairs[1],
                (COST_STATE_MAX_PAIRS - 1) * sizeof(st->pairs[0]));
        st->npairs--;
    }
    memset(&st->pairs[st->npairs], 0, sizeof(st->pairs[0]));
    strcpy(st->pairs[st->npairs].key, key);
    return &st->pairs[st->npairs++];
}

void cost_pair_learn(struct cost_pair *p, const struct cost_blackout *b,
                     uint64_t predicted_ns)
{
    uint64_t measured_ns = b->measured_ns;
    unsigned ph;
    double e;

    p->fixed_ns = p->samples ? (p->fixed_ns + b->fixed_ns) / 2 : b->fixed_ns;
    for (ph = 0; ph < COST_PHASES; ph++)
        p->phase_ns[ph] = p->samples ? (p->phase_ns[ph] + b->phase_ns[ph]) / 2
                                     : b->phase_ns[ph];
    if (p->samples < 1000000000u)
        p->samples++;
    if (!measured_ns)
        return;
    e = ((double)predicted_ns - (double)measured_ns) * 1000.0 /
        (double)measured_ns;
    if (e > 1000000)
        e = 1000000;
    if (e < -1000000)
        e = -1000000;
    if (p->nerr == COST_STATE_ERRS) {
        memmove(&p->err_pm[0], &p->err_pm[1],
                (COST_STATE_ERRS - 1) * sizeof(p->err_pm[0]));
        p->nerr--;
    }
    p->err_pm[p->nerr++] = (int32_t)e;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

int cost_pair_p90_err_pm(const struct cost_pair *p)
{
    int v[COST_STATE_ERRS];
    unsigned i, idx;

    if (!p->nerr)
        return -1;
    for (i = 0; i < p->nerr; i++)
        v[i] = abs(p->err_pm[i]);
    qsort(v, p->nerr, sizeof(v[0]), cmp_int);
    /* nearest rank: ceil(0.9 n) */
    idx = (p->nerr * 9 + 9) / 10;
    return v[idx - 1];
}

int cost_state_add_throttle(struct cost_state *st,
                            const struct cost_throttle_rec *t)
{
    unsigned i;

    for (i = 0; i < st->nthrottles; i++)
        if (st->throttles[i].domid == t->domid) {
            /* keep the first cap_orig: the one before any xlmig */
            st->throttles[i].pid = t->pid;
            st->throttles[i].cap_set = t->cap_set;
            return 0;
        }
    if (st->nthrottles == COST_STATE_MAX_THROTTLES)
        return -ENOSPC;
    st->throttles[st->nthrottles++] = *t;
    return 0;
}

void cost_state_del_throttle(struct cost_state *st, uint32_t domid)
{
    unsigned i;

    for (i = 0; i < st->nthrottles; i++)
        if (st->throttles[i].domid == domid) {
            st->throttles[i] = st->throttles[--st->nthrottles];
            return;
        }
}
