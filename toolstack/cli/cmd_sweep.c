/* SPDX-License-Identifier: MIT */
/*
 * xlmig journal-sweep: resolve what interrupted migrations left behind
 * (docs/design.md "Exactly-once hand-over"), from the journal of this
 * host.  Run at start-up by xlmigd, and by hand or by a unit at boot.
 *   source SENDING, process gone  -> the guest never left: resume it,
 *                                    log-dirty mode off (unless another
 *                                    migration runs here)
 *   source GO_SENT, process gone  -> ask the target; resume only on a
 *                                    definite "never ran", destroy on
 *                                    "running", otherwise leave it paused
 *   target RECEIVING/READY, gone  -> destroy the paused --incoming copy
 *   target RUNNING, gone          -> reported (the copy may run: kept)
 *   terminal records older than a week are removed.
 * A migration whose process is gone also loses its xenstore state
 * subtree (/xlmig/<domain uuid>, xenstore-hooks, key pid) and its
 * net-forward devices, filters and tables: a killed process could not.
 * Scheduler caps that a dead run recorded (--throttle) are removed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "journal-sweep: "
#include "cli/cmds.h"
#include "cli/coststate.h"
#include "cli/nfwd_migrate.h"
#include "cli/once.h"
#include "cli/sweep_xen.h"
#include "common/log.h"
#include "transport/channel.h"
#include "transport/tls.h"
#include "transport/xlproto.h"
#include "xen/xen.h"
#include "xsh.h"
#include "xsh_libxs.h"

#define SWEEP_USAGE                                                         \
    "Usage: xlmig journal-sweep [-n]\n"                                     \
    "\n"                                                                    \
    "Resolve interrupted migrations from the journal ($XLMIG_JOURNAL_DIR\n" \
    "or " JFILE_DIR_DEFAULT ").\n"                                          \
    "\n"                                                                    \
    "Options:\n"                                                            \
    "-n     Only list the records and what would be done.\n"

struct sweep {
    FILE *out; /* what is done: stdout, stderr under 'xlmig migrate' */
    int dry_run;
    int unresolved;
    struct xsh_libxs *xs;     /* for the state subtrees; NULL: none */
    struct journal_rec *recs; /* every record (finished ones too) */
    unsigned nrecs, cap;
    int truncated; /* more than SWEEP_MAX_RECS, or out of memory */
};

/* A week of finished migrations is kept: far more than a fixed handful
 * (a fault-matrix run leaves ~75 per host).  Bounded all the same. */
#define SWEEP_MAX_RECS 100000u

static int collect(const struct journal_rec *r, void *opaque)
{
    struct sweep *s = opaque;
    struct journal_rec *n;
    unsigned cap;

    if (s->nrecs == s->cap) {
        cap = s->cap ? s->cap * 2 : 64;
        n = cap <= SWEEP_MAX_RECS ? realloc(s->recs, cap * sizeof(*n)) : NULL;
        if (!n) {
            s->truncated = 1;
            return 1;
        }
        s->recs = n;
        s->cap = cap;
    }
    s->recs[s->nrecs++] = *r;
    return 0;
}

static void sweep_free(struct sweep *s)
{
    if (!s)
        return;
    xsh_libxs_free(s->xs);
    free(s->recs);
    free(s);
}

/* peer descriptors written by cmd_migrate: tls:H[:P], tcp:H:P, rune:CMD */
static int peer_connect(void *opaque, struct channel **ch_r)
{
    const char *p = opaque;
    char *host = NULL, *port = NULL;
    const char *colon;
    int rc;

    if (!strncmp(p, "tls:", 4))
        return tls_connect_configured(p + 4, NULL, 0, 30000, ch_r);
    if (!strncmp(p, "rune:", 5))
        return channel_rune_new(p + 5, ch_r);
    if (strncmp(p, "tcp:", 4) || !(colon = strrchr(p + 4, ':')))
        return -EINVAL;
    host = strndup(p + 4, (size_t)(colon - p - 4));
    port = strdup(colon + 1);
    rc = host && port ? channel_tcp_connect_new(host, port, 30000, ch_r)
                      : -ENOMEM;
    free(host);
    free(port);
    return rc;
}

static int query_peer(const struct journal_rec *r, enum journal_answer *a)
{
    struct xlproto_ctx x;
    struct channel *ch = NULL;
    uint8_t ans;
    int rc, i;

    for (i = 0; i < 3; i++) {
        if (i)
            sleep(2);
        rc = peer_connect((void *)r->peer, &ch);
        if (rc)
            continue;
        xlproto_ctx_init(&x, ch, 1, NULL);
        rc = xlproto_query(&x, r->uuid, r->epoch, &ans, 30000);
        channel_free(ch);
        ch = NULL;
        if (!rc) {
            *a = ans > JOURNAL_ANS_UNKNOWN ? JOURNAL_ANS_UNKNOWN
                                           : (enum journal_answer)ans;
            return 0;
        }
    }
    return rc;
}

static int open_domain(const char *name, struct xen_src **s_r)
{
    return xen_src_open(name, NULL, 0, 0, s_r);
}

static int finish(struct journal_rec *r, enum journal_phase to)
{
    int rc = jfile_update(r, to);

    if (!rc && r->role == JOURNAL_SOURCE)
        rc = jfile_remove(r->uuid, JOURNAL_SOURCE);
    return rc;
}

static void sweep_one(struct sweep *s, struct journal_rec *r)
{
    int alive = jfile_pid_alive(r->pid);
    enum journal_sweep_action act =
        journal_sweep_action(r, alive, (uint64_t)time(NULL));
    enum journal_answer a = JOURNAL_ANS_UNKNOWN;
    struct xen_src *dom = NULL;
    char name[JOURNAL_NAME_MAX + 16];
    int rc = 0;

    /* finished migrations are history (removed after a week): listed by
     * -n only */
    if (act == JOURNAL_SW_KEEP && !s->dry_run &&
        (r->phase == JOURNAL_DONE || r->phase == JOURNAL_ABORTED))
        return;
    fprintf(s->out, "%s %s epoch %llu phase %s domain '%s' pid %d%s: %s\n",
            r->uuid, journal_role_name(r->role), (unsigned long long)r->epoch,
            journal_phase_name(r->phase), r->domain, r->pid,
            alive ? " (alive)" : "", journal_sweep_name(act));
    if (s->dry_run)
        return;
    switch (act) {
    case JOURNAL_SW_KEEP:
        break;
    case JOURNAL_SW_REMOVE:
        rc = jfile_remove(r->uuid, r->role);
        break;
    case JOURNAL_SW_RESUME_SOURCE:
        /* before GO the target never runs it: resume here */
        if (open_domain(r->domain, &dom)) {
            rc = finish(r, JOURNAL_ABORTED);
            fprintf(s->out, "  no domain '%s' here: nothing to resume\n",
                    r->domain);
            break;
        }
        xen_src_ops.resume(dom); /* "not suspended" is fine */
        rc = finish(r, JOURNAL_ABORTED);
        fprintf(s->out, "  resumed '%s' here (it never left)\n", r->domain);
        if (sweep_send_running())
            fprintf(s->out,
                    "  log-dirty mode left as is: a migration runs here\n");
        else if (!sweep_xen_logdirty_off(r->domain))
            fprintf(s->out, "  log-dirty mode off\n");
        break;
    case JOURNAL_SW_QUERY_PEER:
        snprintf(name, sizeof(name), "%s--migratedaway", r->domain);
        rc = query_peer(r, &a);
        switch (journal_src_action(rc, a)) {
        case JOURNAL_SRC_RESUME:
            rc = open_domain(name, &dom);
            if (!rc) {
                xen_src_ops.rename(dom, name, r->domain);
                rc = xen_src_ops.resume(dom);
            }
            if (!rc)
                rc = finish(r, JOURNAL_ABORTED);
            fprintf(s->out, "  target: never ran; '%s' resumed here%s\n",
                    r->domain, rc ? " FAILED" : "");
            break;
        case JOURNAL_SRC_DESTROY:
            rc = open_domain(name, &dom);
            if (!rc)
                rc = xen_src_ops.destroy(dom);
            if (!rc || rc == -ENOENT)
                rc = finish(r, JOURNAL_DONE);
            fprintf(s->out, "  target: running there; our copy destroyed%s\n",
                    rc ? " FAILED" : "");
            break;
        default:
            fprintf(s->out,
                    "  IN DOUBT: no definite answer from %s; '%s' stays "
                    "paused here\n",
                    r->peer, name);
            rc = -EREMOTEIO;
        }
        break;
    case JOURNAL_SW_DESTROY_PAUSED:
        snprintf(name, sizeof(name), "%s--incoming", r->domain);
        if (r->domain[0])
            sweep_xen_destroy(name); /* -ENOENT: already gone */
        rc = jfile_update(r, JOURNAL_ABORTED);
        fprintf(s->out, "  destroyed the paused copy '%s'\n", name);
        break;
    case JOURNAL_SW_FINISH_START:
        /* GO was checked and RUNNING journaled: the source has been or
         * will be told "running", so this copy must run */
        rc = sweep_xen_finish_start(r->domain);
        if (!rc || rc == -ENOENT)
            rc = jfile_update(r, JOURNAL_DONE);
        fprintf(s->out, "  the copy '%s' was cleared to run here: %s\n",
                r->domain, rc ? "FAILED, check 'xl list'" : "runs");
        break;
    }
    xen_src_free(dom);
    if (rc)
        s->unresolved++;
}

/* One child of /xlmig: removed when its owner (key pid) is gone; one
 * without an owner only when no migration runs on this host. */
static int state_child(const char *child, void *opaque)
{
    struct sweep *s = opaque;
    char path[XSH_PATH_MAX], val[32], *end;
    long pid;
    int rc, dead;

    snprintf(path, sizeof(path), "%s/%s/pid", XSH_STATE_ROOT, child);
    rc = xsh_libxs_ops.read(s->xs, path, val, sizeof(val));
    errno = 0;
    pid = rc ? 0 : strtol(val, &end, 10);
    if (!rc && (errno || *end || pid <= 0))
        pid = 0;
    if (pid)
        dead = !jfile_pid_alive((int)pid);
    else
        dead = !sweep_send_running() && !sweep_receive_running();
    if (!dead)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", XSH_STATE_ROOT, child);
    printf("state subtree %s: owner %s gone: %s\n", path, pid ? val : "(none)",
           s->dry_run ? "remove" : "removing");
    if (!s->dry_run) {
        rc = xsh_libxs_ops.rm(s->xs, path);
        if (rc) {
            LOGEV(WARN, -rc, "cannot remove %s", path);
            s->unresolved++;
        }
    }
    return 0;
}

/* The xenstore state subtrees (xlmig-hooks(7)) of migrations whose
 * process is gone: a killed process could not remove its own. */
static void sweep_state_nodes(struct sweep *s)
{
    if (xsh_libxs_new(&s->xs)) {
        s->xs = NULL;
        return;
    }
    (void)xsh_libxs_list(s->xs, XSH_STATE_ROOT, state_child, s);
}

/* --incoming domains without a live receive (journaled or not) */
static void sweep_orphans(struct sweep *s)
{
    char *names[32];
    int n, i, rc;

    n = sweep_xen_names("--incoming", names, 32);
    if (n <= 0)
        return;
    if (sweep_receive_running()) {
        printf("%d --incoming domain(s) kept: a migrate-receive is "
               "running\n",
               n);
        s->unresolved++;
    } else {
        for (i = 0; i < n; i++) {
            printf("orphan '%s' (no live receive): %s\n", names[i],
                   s->dry_run ? "destroy" : "destroying");
            if (!s->dry_run) {
                rc = sweep_xen_destroy(names[i]);
                if (rc && rc != -ENOENT)
                    s->unresolved++;
            }
        }
    }
    for (i = 0; i < n; i++)
        free(names[i]);
}

int journal_sweep_domain(const char *domain)
{
    struct sweep *s = calloc(1, sizeof(*s));
    unsigned i;
    int rc;

    if (!s)
        return -ENOMEM;
    s->out = stderr;
    rc = jfile_list(collect, s);
    for (i = 0; !rc && i < s->nrecs; i++) {
        struct journal_rec *r = &s->recs[i];

        if (r->role != JOURNAL_SOURCE || r->phase != JOURNAL_SENDING ||
            strcmp(r->domain, domain) || jfile_pid_alive(r->pid))
            continue;
        fprintf(stderr,
                "xlmig: an earlier migration of '%s' was interrupted "
                "before GO; resolving it first:\n",
                domain);
        sweep_one(s, r);
    }
    rc = rc ? rc : (s->unresolved ? -EIO : 0);
    sweep_free(s);
    return rc;
}

int cmd_journal_sweep(int argc, char **argv)
{
    struct sweep *s = calloc(1, sizeof(*s));
    unsigned i, n;
    int opt, rc;

    if (!s)
        return 1;
    s->out = stdout;
    optind = 1;
    while ((opt = getopt(argc, argv, "hn")) != -1) {
        switch (opt) {
        case 'h':
            fputs(SWEEP_USAGE, stdout);
            rc = 0;
            goto out;
        case 'n':
            s->dry_run = 1;
            break;
        default:
            fputs(SWEEP_USAGE, stderr);
            rc = 2;
            goto out;
        }
    }
    if (optind != argc) {
        fputs(SWEEP_USAGE, stderr);
        rc = 2;
        goto out;
    }
    rc = jfile_list(collect, s);
    if (rc) {
        LOGEV(ERROR, -rc, "cannot read %s", jfile_dir());
        rc = 1;
        goto out;
    }
    if (s->truncated) {
        LOG(ERROR,
            "only the first %u records of %s are swept (out of memory "
            "or over %u)",
            s->nrecs, jfile_dir(), SWEEP_MAX_RECS);
        s->unresolved++;
    }
    for (i = 0; i < s->nrecs; i++)
        sweep_one(s, &s->recs[i]);
    sweep_orphans(s);
    sweep_state_nodes(s);
    if (!s->dry_run) {
        rc = coststate_release_stale();
        if (rc > 0)
            printf("released %d scheduler cap(s) left by dead runs\n", rc);
        else if (rc < 0)
            LOGEV(WARN, -rc,
                  "cannot check for scheduler caps left by dead runs");
        n = nfwd_sweep_dead();
        if (n)
            printf("removed the net-forward state of %u dead migration(s)\n",
                   n);
    }
    fflush(stdout);
    rc = s->unresolved ? 1 : 0;
out:
    sweep_free(s);
    return rc;
}
