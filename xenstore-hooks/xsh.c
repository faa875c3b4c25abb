/* SPDX-License-Identifier: MIT */
/*
 * xenstore hooks: guest notice, state subtree, hook stages (xsh.h).
 * Pure: no Xen header; the xenstore and the hooks are ops tables.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "xenstore-hooks: "
#include "common/log.h"
#include "xsh.h"

#define XSH_PAGE_BYTES     4096u
#define XSH_PROGRESS_EVERY 1000u /* ms between byte-count updates */

static const char *const stage_names[] = {
    [XSH_STAGE_PRE_MIGRATE] = "pre-migrate",
    [XSH_STAGE_PRE_BLACKOUT] = "pre-blackout",
    [XSH_STAGE_POST_MIGRATE] = "post-migrate",
    [XSH_STAGE_FAILED] = "failed",
};

const char *xsh_stage_name(enum xsh_stage st)
{
    if ((unsigned)st >= sizeof(stage_names) / sizeof(stage_names[0]))
        return "unknown";
    return stage_names[st];
}

int xsh_key_valid(const char *key)
{
    size_t n;

    if (!key)
        return 0;
    for (n = 0; key[n]; n++) {
        char ch = key[n];

        if (n >= XSH_KEY_MAX - 1)
            return 0;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return 0;
    }
    return n > 0;
}

int xsh_uuid_valid(const char *s)
{
    static const unsigned dash[] = { 8, 13, 18, 23 };
    unsigned i, d = 0;

    if (!s)
        return 0;
    for (i = 0; i < 36; i++) {
        char ch = s[i];

        if (d < 4 && i == dash[d]) {
            if (ch != '-')
                return 0;
            d++;
            continue;
        }
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
              (ch >= 'A' && ch <= 'F')))
            return 0;
    }
    return s[36] == '\0';
}

void xsh_sanitize(char *dst, size_t cap, const char *src)
{
    size_t i = 0;

    if (!cap)
        return;
    for (; src && *src && i + 1 < cap; src++, i++) {
        unsigned char ch = (unsigned char)*src;

        dst[i] = (ch > 0x20 && ch < 0x7f && ch != '/' && ch != '\\') ? (char)ch
                                                                     : '_';
    }
    dst[i] = '\0';
}

void xsh_init(struct xsh_ctx *c, const struct xsh_xs_ops *ops, void *xs,
              const struct xsh_hook_ops *hooks, const char *role,
              const char *domain, const char *peer)
{
    memset(c, 0, sizeof(*c));
    c->ops = ops;
    c->xs = xs;
    c->hooks = hooks;
    xsh_sanitize(c->role, sizeof(c->role), role ? role : "source");
    xsh_sanitize(c->domain, sizeof(c->domain), domain);
    xsh_sanitize(c->peer, sizeof(c->peer), peer);
    c->last_dirty_pages = -1;
}

static int path_fmt(char *buf, const char *a, const char *b)
{
    int n = snprintf(buf, XSH_PATH_MAX, "%s/%s", a, b);

    return n < 0 || n >= XSH_PATH_MAX ? -ENAMETOOLONG : 0;
}

int xsh_attach(struct xsh_ctx *c, uint32_t domid)
{
    char path[XSH_PATH_MAX], val[XSH_VALUE_MAX];
    int rc;

    c->domid = domid;
    snprintf(c->dom_path, sizeof(c->dom_path), "/local/domain/%" PRIu32, domid);
    c->uuid[0] = '\0';
    if (!c->ops)
        return 0;
    rc = path_fmt(path, c->dom_path, "vm");
    if (rc)
        return rc;
    /* "/vm/<uuid>", written by the toolstack at creation */
    rc = c->ops->read(c->xs, path, val, sizeof(val));
    if (!rc && !strncmp(val, "/vm/", 4) && xsh_uuid_valid(val + 4))
        memcpy(c->uuid, val + 4, 37);
    else
        LOG(INFO,
            "no uuid for domain %" PRIu32 " (%s): state under "
            "domid-%" PRIu32,
            domid, rc ? strerror(-rc) : "malformed /vm path", domid);
    return 0;
}

int xsh_run_hooks(struct xsh_ctx *c, enum xsh_stage st, const char *result)
{
    struct xsh_hook_env env;
    int rc;

    if (!c->hooks || !c->hooks->run)
        return 0;
    memset(&env, 0, sizeof(env));
    env.stage = st;
    env.role = c->role;
    env.domain = c->domain;
    env.domid = c->domid;
    env.uuid = c->uuid;
    env.peer = c->peer;
    env.result = result ? result : "";
    rc = c->hooks->run(c->hooks->opaque, &env, st == XSH_STAGE_PRE_MIGRATE);
    if (rc && st != XSH_STAGE_PRE_MIGRATE) {
        LOG(WARN, "%s hooks failed (ignored at this stage)",
            xsh_stage_name(st));
        c->hooks_failed_stage = 1;
        rc = 0;
    }
    return rc;
}

/* ---------------------------------------------------------- guest notice */

static int notice_write(struct xsh_ctx *c, const char *key, const char *value)
{
    char path[XSH_PATH_MAX];
    int rc;

    rc = path_fmt(path, c->dom_path, key);
    if (!rc)
        rc = c->ops->write(c->xs, path, value);
    /* always re-set: a node the guest created first is not trusted */
    if (!rc)
        rc = c->ops->set_perms(c->xs, path, c->domid);
    if (rc)
        LOGEV(ERROR, -rc, "cannot write %s", path);
    return rc;
}

int xsh_guest_listens(struct xsh_ctx *c)
{
    char path[XSH_PATH_MAX], val[XSH_VALUE_MAX];
    int rc;

    if (!c->ops || !c->dom_path[0])
        return 0;
    rc = path_fmt(path, c->dom_path, "data/xlmig-ack");
    if (rc)
        return rc;
    rc = c->ops->read(c->xs, path, val, sizeof(val));
    if (rc == -ENOENT)
        return 0;
    if (rc == -E2BIG)
        return 1; /* it wrote something: it looks */
    if (rc)
        return rc;
    return val[0] != '\0';
}

int xsh_notice(struct xsh_ctx *c, unsigned notice_s,
               struct xsh_notice_result *res)
{
    char path[XSH_PATH_MAX], ackpath[XSH_PATH_MAX], val[XSH_VALUE_MAX];
    struct xsh_notice_result r;
    uint64_t start_ms, now_ms, limit_ms;
    int rc;

    memset(&r, 0, sizeof(r));
    if (!c->ops) {
        rc = 0;
        goto out;
    }
    if (!c->dom_path[0]) {
        rc = -EINVAL;
        goto out;
    }
    if (notice_s > XSH_NOTICE_MAX_S)
        notice_s = XSH_NOTICE_MAX_S;
    rc = xsh_guest_listens(c);
    if (rc < 0)
        goto out;
    r.listening = rc;
    start_ms = c->ops->now_ms(c->xs);
    snprintf(c->event_id, sizeof(c->event_id), "%" PRIx64 "-%" PRIx32, start_ms,
             c->domid);

    rc = path_fmt(path, c->dom_path, "data/xlmig");
    if (rc)
        goto out;
    rc = c->ops->write(c->xs, path, "");
    if (!rc)
        rc = c->ops->set_perms(c->xs, path, c->domid);
    if (rc) {
        LOGEV(ERROR, -rc, "cannot create %s", path);
        goto out;
    }
    c->notice_sent = 1;
    snprintf(val, sizeof(val), "%" PRIu64,
             c->ops->wall_s(c->xs) + (r.listening ? notice_s : 0));
    /* the guest watches maintenance-event: write it last */
    rc = notice_write(c, "data/xlmig/event-id", c->event_id);
    if (!rc)
        rc = notice_write(c, "data/xlmig/deadline", val);
    if (!rc)
        rc = notice_write(c, "data/xlmig/maintenance-event", "migrate");
    if (rc)
        goto out;
    if (!r.listening || !notice_s) {
        LOG(INFO, "domain %" PRIu32 ": %s, not waiting", c->domid,
            r.listening ? "notice is off" : "the guest does not listen");
        goto out;
    }

    rc = path_fmt(ackpath, c->dom_path, "data/xlmig-ack");
    if (rc)
        goto out;
    limit_ms = (uint64_t)notice_s * 1000;
    for (;;) {
        int rrc = c->ops->read(c->xs, ackpath, val, sizeof(val));

        now_ms = c->ops->now_ms(c->xs);
        r.wait_ms = now_ms - start_ms;
        if (!rrc && !strcmp(val, c->event_id)) {
            r.acked = 1;
            break;
        }
        if (r.wait_ms >= limit_ms)
            break;
        rc = c->ops->wait(c->xs, ackpath,
                          (unsigned)(limit_ms - r.wait_ms < XSH_POLL_MS
                                         ? limit_ms - r.wait_ms
                                         : XSH_POLL_MS));
        if (rc)
            goto out;
    }
    LOG(INFO, "domain %" PRIu32 ": guest %s after %" PRIu64 " ms", c->domid,
        r.acked ? "acknowledged" : "did not acknowledge", r.wait_ms);
    rc = 0;

out:
    if (res)
        *res = r;
    return rc;
}

int xsh_notice_clear(struct xsh_ctx *c)
{
    char path[XSH_PATH_MAX];
    int rc;

    if (!c->ops || !c->dom_path[0])
        return 0;
    rc = path_fmt(path, c->dom_path, "data/xlmig");
    if (rc)
        return rc;
    rc = c->ops->write(c->xs, path, "");
    if (!rc)
        rc = c->ops->set_perms(c->xs, path, c->domid);
    if (!rc)
        rc = notice_write(c, "data/xlmig/event-id", "");
    if (!rc)
        rc = notice_write(c, "data/xlmig/deadline", "0");
    if (!rc)
        rc = notice_write(c, "data/xlmig/maintenance-event", "none");
    c->notice_sent = 0;
    return rc;
}

/* ---------------------------------------------------------- state subtree */

int xsh_state_set(struct xsh_ctx *c, const char *key, const char *value)
{
    char path[XSH_PATH_MAX], val[XSH_VALUE_MAX];
    int rc;

    if (!c->ops || !c->state_path[0])
        return 0;
    if (!xsh_key_valid(key)) {
        LOG(ERROR, "refusing state key '%.40s'", key ? key : "(null)");
        return -EINVAL;
    }
    rc = path_fmt(path, c->state_path, key);
    if (rc)
        return rc;
    snprintf(val, sizeof(val), "%s", value ? value : "");
    rc = c->ops->write(c->xs, path, val);
    if (rc)
        LOGEV(WARN, -rc, "cannot write %s", path);
    return rc;
}

int xsh_state_set_u64(struct xsh_ctx *c, const char *key, uint64_t v)
{
    char val[24];

    snprintf(val, sizeof(val), "%" PRIu64, v);
    return xsh_state_set(c, key, val);
}

int xsh_state_begin(struct xsh_ctx *c, const char *phase)
{
    char path[XSH_PATH_MAX], sub[48];
    int rc;

    if (!c->ops)
        return 0;
    if (c->uuid[0])
        snprintf(sub, sizeof(sub), "%s", c->uuid);
    else
        snprintf(sub, sizeof(sub), "domid-%" PRIu32, c->domid);
    rc = path_fmt(path, XSH_STATE_ROOT, sub);
    if (rc)
        return rc;
    /* a subtree left by a crashed run is replaced, never merged */
    rc = c->ops->rm(c->xs, path);
    if (!rc)
        rc = c->ops->write(c->xs, XSH_STATE_ROOT, "");
    if (!rc)
        rc = c->ops->set_perms(c->xs, XSH_STATE_ROOT, 0);
    if (!rc)
        rc = c->ops->write(c->xs, path, "");
    if (!rc)
        rc = c->ops->set_perms(c->xs, path, 0);
    if (rc) {
        LOGEV(ERROR, -rc, "cannot create %s", path);
        return rc;
    }
    memcpy(c->state_path, path, sizeof(path));
    c->state_final = 0;
    rc = xsh_state_set(c, "role", c->role);
    if (!rc)
        rc = xsh_state_set(c, "domain", c->domain);
    if (!rc)
        rc = xsh_state_set_u64(c, "domid", c->domid);
    if (!rc)
        rc = xsh_state_set(c, "peer", c->peer);
    if (!rc)
        rc = xsh_state_set_u64(c, "pid", (uint64_t)getpid());
    if (!rc)
        rc = xsh_state_set(c, "phase", phase);
    return rc;
}

int xsh_state_final(struct xsh_ctx *c, const char *result)
{
    int rc;

    if (!c->ops || !c->state_path[0] || c->state_final)
        return 0;
    rc = xsh_state_set(c, "result", result);
    if (!rc)
        rc = xsh_state_set(c, "phase", "done");
    c->state_final = 1;
    return rc;
}

int xsh_state_end(struct xsh_ctx *c, const char *result)
{
    int rc;

    if (!c->ops || !c->state_path[0])
        return 0;
    /* automation watching the subtree sees the result before removal */
    xsh_state_final(c, result);
    rc = c->ops->rm(c->xs, c->state_path);
    if (rc)
        LOGEV(WARN, -rc, "cannot remove %s", c->state_path);
    c->state_path[0] = '\0';
    c->state_final = 0;
    return rc;
}

/* ---------------------------------------------------------- observer */

static uint64_t predicted_blackout_ms(const struct precopy_round *r)
{
    uint64_t rate_bps;

    if (!r->elapsed_ns || !r->raw_bytes || r->dirty_pages < 0)
        return 0;
    rate_bps = (uint64_t)((double)r->raw_bytes * 1e9 / (double)r->elapsed_ns);
    if (!rate_bps)
        return 0;
    return (uint64_t)((double)r->dirty_pages * XSH_PAGE_BYTES * 1e3 /
                      (double)rate_bps);
}

void xsh_mig_event(void *opaque, enum mig_event ev, const struct mig_stats *s,
                   const struct precopy_round *r, int status)
{
    struct xsh_ctx *c = opaque;
    uint64_t now;

    switch (ev) {
    case MIG_EV_START:
        if (!c->state_path[0])
            xsh_state_begin(c, "precopy");
        else
            xsh_state_set(c, "phase", "precopy");
        break;
    case MIG_EV_NEGOTIATED:
        xsh_state_set(c, "compressed", s->compressed ? "1" : "0");
        break;
    case MIG_EV_ROUND:
        if (!r)
            break;
        xsh_state_set_u64(c, "round", r->iteration);
        if (r->dirty_pages >= 0)
            xsh_state_set_u64(c, "dirty-pages", (uint64_t)r->dirty_pages);
        xsh_state_set_u64(c, "bytes", r->wire_bytes);
        xsh_state_set_u64(c, "predicted-blackout-ms", predicted_blackout_ms(r));
        if (status == PRECOPY_STOP && !c->pre_blackout_done) {
            c->pre_blackout_done = 1;
            xsh_state_set(c, "phase", "pre-blackout");
            xsh_run_hooks(c, XSH_STAGE_PRE_BLACKOUT, NULL);
        }
        break;
    case MIG_EV_PROGRESS:
        if (!c->ops)
            break;
        now = c->ops->now_ms(c->xs);
        if (now - c->last_round_ms < XSH_PROGRESS_EVERY)
            break;
        c->last_round_ms = now;
        xsh_state_set_u64(c, "bytes", s->wire_bytes);
        break;
    case MIG_EV_SUSPENDING:
        break;
    case MIG_EV_SUSPENDED:
        xsh_state_set(c, "phase", "blackout");
        break;
    case MIG_EV_STREAM_DONE:
        xsh_state_set(c, "phase", "handover");
        xsh_state_set_u64(c, "bytes", s->wire_bytes);
        break;
    case MIG_EV_DONE:
        if (status) {
            /* the guest stays here: tell it the event is over */
            if (c->notice_sent)
                xsh_notice_clear(c);
            xsh_state_set(c, "phase", "failed");
            xsh_state_final(c, "failed");
            xsh_run_hooks(c, XSH_STAGE_FAILED, "failed");
        } else {
            xsh_state_final(c, "ok");
            xsh_run_hooks(c, XSH_STAGE_POST_MIGRATE, "ok");
        }
        xsh_state_end(c, status ? "failed" : "ok");
        break;
    }
}

/* ---------------------------------------------------------- target */

static int wrap_restore(void *be, const char *config_json, int stream_fd,
                        int back_fd, uint32_t *domid_r, char **name_r)
{
    struct xsh_dst_wrap *w = be;
    int rc;

    rc = w->inner->restore(w->be, config_json, stream_fd, back_fd, domid_r,
                           name_r);
    if (rc)
        return rc;
    w->restored = 1;
    if (name_r && *name_r)
        xsh_sanitize(w->c->domain, sizeof(w->c->domain), *name_r);
    xsh_attach(w->c, *domid_r);
    xsh_state_begin(w->c, "restored");
    /* before the guest runs: it reads "none" when it resumes */
    if (xsh_notice_clear(w->c))
        LOG(WARN, "cannot clear the notice of domain %" PRIu32, *domid_r);
    return 0;
}

static int wrap_rename(void *be, uint32_t domid, const char *from,
                       const char *to)
{
    struct xsh_dst_wrap *w = be;

    return w->inner->rename(w->be, domid, from, to);
}

static int wrap_unpause(void *be, uint32_t domid)
{
    struct xsh_dst_wrap *w = be;
    int rc = w->inner->unpause(w->be, domid);

    xsh_state_set(w->c, "phase", rc ? "unpause-failed" : "running");
    return rc;
}

static int wrap_destroy(void *be, uint32_t domid)
{
    struct xsh_dst_wrap *w = be;

    xsh_state_set(w->c, "phase", "destroyed");
    return w->inner->destroy(w->be, domid);
}

const struct mig_dst_ops xsh_dst_ops = {
    .restore = wrap_restore,
    .rename = wrap_rename,
    .unpause = wrap_unpause,
    .destroy = wrap_destroy,
};

void xsh_target_done(struct xsh_ctx *c, int status)
{
    /* the last hooks see the outcome in the subtree, then it goes */
    xsh_state_final(c, status ? "failed" : "ok");
    if (status)
        xsh_run_hooks(c, XSH_STAGE_FAILED, "failed");
    else
        xsh_run_hooks(c, XSH_STAGE_POST_MIGRATE, "ok");
    xsh_state_end(c, status ? "failed" : "ok");
}
