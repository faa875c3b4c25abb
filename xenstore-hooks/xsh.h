/* SPDX-License-Identifier: MIT */
/*
 * xenstore hooks (issue 11, docs/xenstore-hooks.md): the guest notice
 * before a migration, the dom0-only state subtree for Dom0 automation,
 * and the hook scripts run at named stages.  Pure: the xenstore is
 * reached through struct xsh_xs_ops (xsh_libxs.c over libxenstore, a
 * fake in tests/unit/test_xsh.c), the hooks through struct xsh_hook_ops
 * (xsh_hooks.c, fork/exec with a timeout).
 *
 * Keys (D = the guest's domid, U = the domain's UUID):
 *   /local/domain/D/data/xlmig/             dom0 owns, guest D may read
 *       maintenance-event   "migrate" | "none"
 *       deadline            wall-clock seconds (UTC) the wait ends; 0
 *       event-id            an id the guest echoes in its ack
 *   /local/domain/D/data/xlmig-ack          the guest writes it (data/ is
 *                                           the guest's own): "listening",
 *                                           then the event-id it acks
 *   /xlmig/U/                               dom0 only (n0), on each host
 *       role domain domid peer pid phase round dirty-pages bytes
 *       predicted-blackout-ms result    (pid: the process that owns it)
 */
#ifndef XLMIG_XSH_H
#define XLMIG_XSH_H

#include <stddef.h>
#include <stdint.h>

#include "engine/precopy.h"
#include "engine/session.h"

#define XSH_PATH_MAX      256 /* bytes incl. NUL, any path we build */
#define XSH_VALUE_MAX     128 /* bytes incl. NUL, any value we read */
#define XSH_KEY_MAX       32  /* bytes incl. NUL, one relative key */
#define XSH_NAME_MAX      64  /* bytes incl. NUL, domain name, peer */
#define XSH_NOTICE_MAX_S  3600
#define XSH_POLL_MS       100 /* ack polling period */
#define XSH_STATE_ROOT    "/xlmig"
#define XSH_ACK_LISTENING "listening"

/*
 * The xenstore as xlmig (dom0) sees it.  Every call is one request
 * outside a transaction; every function returns 0 or a negative errno.
 */
struct xsh_xs_ops {
    /* Value of path into buf (cap bytes, NUL-terminated): -ENOENT if the
     * node does not exist, -E2BIG if the value has cap bytes or more. */
    int (*read)(void *xs, const char *path, char *buf, size_t cap);
    /* Create or overwrite; missing parents are created. */
    int (*write)(void *xs, const char *path, const char *value);
    /* Owner dom0 with no access for others; reader_domid != 0 also gets
     * read access. */
    int (*set_perms)(void *xs, const char *path, uint32_t reader_domid);
    /* Remove path and everything under it; absent is not an error. */
    int (*rm)(void *xs, const char *path);
    /* Monotonic milliseconds, and wall-clock seconds since the epoch. */
    uint64_t (*now_ms)(void *xs);
    uint64_t (*wall_s)(void *xs);
    /* Sleep, or return early when something under path may have
     * changed (a watch).  0 or -errno. */
    int (*wait)(void *xs, const char *path, unsigned ms);
};

enum xsh_stage {
    XSH_STAGE_PRE_MIGRATE,
    XSH_STAGE_PRE_BLACKOUT,
    XSH_STAGE_POST_MIGRATE,
    XSH_STAGE_FAILED,
};
const char *xsh_stage_name(enum xsh_stage st);

/* What a hook is told (arguments and environment, see xsh_hooks.h). */
struct xsh_hook_env {
    enum xsh_stage stage;
    const char *role;   /* "source" or "target" */
    const char *domain; /* name, may be "" */
    uint32_t domid;
    const char *uuid;   /* may be "" */
    const char *peer;   /* may be "" */
    const char *result; /* "ok", "failed" or "" (before the end) */
};

struct xsh_hook_ops {
    /* Run every hook of env->stage.  stop_on_failure: stop at the first
     * failure.  0 when all succeeded, else a negative errno. */
    int (*run)(void *h, const struct xsh_hook_env *env, int stop_on_failure);
    void *opaque;
};

/* Relative key check for names from outside (the peer, the guest, a
 * config): 1..XSH_KEY_MAX-1 bytes of [A-Za-z0-9_-], no '/'. */
int xsh_key_valid(const char *key);
/* A canonical UUID: 8-4-4-4-12 lower- or upper-case hex. */
int xsh_uuid_valid(const char *s);
/* Copy src into dst (cap bytes) keeping printable ASCII except '/' and
 * '\\', others become '_'; truncates.  For names and peers. */
void xsh_sanitize(char *dst, size_t cap, const char *src);

/* Guest-notice outcome. */
struct xsh_notice_result {
    int listening;    /* the guest had written the ack key */
    int acked;        /* it acknowledged this event within the wait */
    uint64_t wait_ms; /* time spent waiting */
};

struct xsh_ctx {
    const struct xsh_xs_ops *ops; /* NULL: no xenstore (all no-ops) */
    void *xs;
    const struct xsh_hook_ops *hooks; /* NULL: no hooks */
    uint32_t domid;
    char role[8];
    char domain[XSH_NAME_MAX];
    char peer[XSH_NAME_MAX];
    char uuid[37];
    char dom_path[XSH_PATH_MAX];   /* /local/domain/D, "" before attach */
    char state_path[XSH_PATH_MAX]; /* /xlmig/U, "" when not created */
    int state_final;               /* result and phase "done" written */
    char event_id[24];
    int notice_sent;
    int hooks_failed_stage; /* a later-stage hook failed (logged) */
    /* observer state */
    uint64_t last_round_ms;
    int64_t last_dirty_pages;
    int pre_blackout_done;
};

/* Set up: no xenstore node is touched.  role "source" or "target";
 * domain and peer are sanitised copies (may be NULL). */
void xsh_init(struct xsh_ctx *c, const struct xsh_xs_ops *ops, void *xs,
              const struct xsh_hook_ops *hooks, const char *role,
              const char *domain, const char *peer);
/* Bind to the domain: reads /local/domain/D/vm for the UUID (falls back
 * to "domid-D" in the state path when absent or malformed). */
int xsh_attach(struct xsh_ctx *c, uint32_t domid);

/* Run the hooks of a stage.  PRE_MIGRATE returns the failure (the caller
 * aborts); other stages log a failure and return 0. */
int xsh_run_hooks(struct xsh_ctx *c, enum xsh_stage st, const char *result);

/* Does the guest listen (its ack key exists and is non-empty)? 1/0/-errno */
int xsh_guest_listens(struct xsh_ctx *c);
/* Write the notice (maintenance-event=migrate, deadline, event-id) and,
 * if the guest listens and notice_s > 0, wait until it acks the event-id
 * or notice_s seconds pass.  res may be NULL. */
int xsh_notice(struct xsh_ctx *c, unsigned notice_s,
               struct xsh_notice_result *res);
/* maintenance-event=none, deadline=0: after a migration on the target,
 * or on the source when the guest stays there. */
int xsh_notice_clear(struct xsh_ctx *c);

/* The state subtree: create it (perms n0), set a key, finish.  Keys are
 * checked with xsh_key_valid, values capped at XSH_VALUE_MAX-1. */
int xsh_state_begin(struct xsh_ctx *c, const char *phase);
int xsh_state_set(struct xsh_ctx *c, const char *key, const char *value);
int xsh_state_set_u64(struct xsh_ctx *c, const char *key, uint64_t v);
/* Mark the subtree final: result ("ok"/"failed"), then phase "done";
 * once.  The post-migrate and failed hooks run after it. */
int xsh_state_final(struct xsh_ctx *c, const char *result);
/* xsh_state_final if not done yet, then remove the subtree (/xlmig
 * itself stays, empty). */
int xsh_state_end(struct xsh_ctx *c, const char *result);

/* A struct mig_observer's event function over a struct xsh_ctx on the
 * source: state keys per event, pre-blackout hooks when the policy
 * decides to stop, and at MIG_EV_DONE the notice cleared on failure,
 * xsh_state_final, post-migrate or failed hooks and xsh_state_end. */
void xsh_mig_event(void *opaque, enum mig_event ev, const struct mig_stats *s,
                   const struct precopy_round *r, int status);

/*
 * The target: a struct mig_dst_ops that wraps the real one.  After a
 * successful restore it binds the context to the new domain, creates the
 * state subtree (phase "restored") and writes maintenance-event=none
 * before the guest runs; unpause and destroy update the phase.  Use
 * xsh_dst_ops with be = a struct xsh_dst_wrap, then xsh_target_done.
 */
struct xsh_dst_wrap {
    const struct mig_dst_ops *inner;
    void *be;
    struct xsh_ctx *c;
    int restored;
};
extern const struct mig_dst_ops xsh_dst_ops;
/* xsh_state_final, post-migrate or failed hooks, then xsh_state_end. */
void xsh_target_done(struct xsh_ctx *c, int status);

#endif
