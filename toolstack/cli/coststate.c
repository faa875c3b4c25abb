/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "cost: "
#include "cli/coststate.h"
#include "common/fileio.h"
#include "common/log.h"
#include "xen/throttle.h"

#define STATE_FILE "cost-state"

const char *coststate_dir(void)
{
    const char *d = getenv("XLMIG_STATE_DIR");

    return d && *d ? d : "/var/lib/xlmig";
}

static int path_of(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", coststate_dir(), name);

    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int read_state(int fd, struct cost_state *st)
{
    char *buf = malloc(COST_STATE_MAX_BYTES + 1);
    size_t len = 0;
    ssize_t n;
    int rc;

    if (!buf)
        return -ENOMEM;
    while (len <= COST_STATE_MAX_BYTES) {
        n = read(fd, buf + len, COST_STATE_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (!n)
            break;
        len += (size_t)n;
    }
    if (len > COST_STATE_MAX_BYTES) {
        LOG(WARN, "state file over %u bytes: ignored", COST_STATE_MAX_BYTES);
        len = 0;
    }
    rc = cost_state_parse(st, buf, len);
out:
    free(buf);
    return rc;
}

int coststate_load(struct cost_state *st)
{
    char path[4096];
    int fd, rc;

    cost_state_init(st);
    rc = path_of(path, sizeof(path), STATE_FILE);
    if (rc)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    rc = read_state(fd, st);
    close(fd);
    return rc;
}

static int write_state(const struct cost_state *st)
{
    char path[4096], tmp[4096], *buf = malloc(COST_STATE_MAX_BYTES);
    size_t len;
    int rc;

    if (!buf)
        return -ENOMEM;
    rc = cost_state_format(st, buf, COST_STATE_MAX_BYTES, &len);
    if (rc)
        goto out;
    rc = path_of(path, sizeof(path), STATE_FILE);
    if (!rc)
        rc = path_of(tmp, sizeof(tmp), STATE_FILE ".tmp");
    if (!rc)
        rc = durable_write_file(path, tmp, buf, len, 0644);
out:
    free(buf);
    return rc;
}

int coststate_update(int (*fn)(struct cost_state *st, void *opaque),
                     void *opaque)
{
    struct cost_state *st = malloc(sizeof(*st));
    char path[4096];
    int lock = -1, rc, r;

    if (!st)
        return -ENOMEM;
    rc = path_of(path, sizeof(path), STATE_FILE ".lock");
    if (rc)
        goto out;
    if (mkdir(coststate_dir(), 0755) && errno != EEXIST) {
        rc = -errno;
        LOGE(WARN, "cannot create '%s'", coststate_dir());
        goto out;
    }
    lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0 || flock(lock, LOCK_EX)) {
        rc = -errno;
        LOGE(WARN, "cannot lock '%s'", path);
        goto out;
    }
    rc = coststate_load(st);
    if (rc)
        cost_state_init(st); /* unreadable: start over, it is a cache */
    r = fn(st, opaque);
    if (r < 0) {
        rc = r;
        goto out;
    }
    rc = r > 0 ? write_state(st) : 0;
    if (rc)
        LOGEV(WARN, -rc, "cannot write the state file in '%s'",
              coststate_dir());
out:
    if (lock >= 0)
        close(lock); /* drops the flock */
    free(st);
    return rc;
}

/* ------------------------------------------------------------ throttle */

int cost_throttler_init(struct cost_throttler *ct, const char *domain)
{
    int rc;

    memset(ct, 0, sizeof(*ct));
    rc = xen_throttle_new(&ct->xt);
    if (rc)
        return rc;
    rc = xen_throttle_domid(ct->xt, domain, &ct->domid);
    if (!rc)
        rc = xen_throttle_get(ct->xt, ct->domid, &ct->cap_orig, &ct->vcpus);
    if (rc) {
        xen_throttle_free(ct->xt);
        ct->xt = NULL;
    }
    return rc;
}

struct rec_args {
    const struct cost_throttler *ct;
    unsigned cap;
    int add;
};

static int rec_fn(struct cost_state *st, void *opaque)
{
    const struct rec_args *a = opaque;
    struct cost_throttle_rec t = {
        .domid = a->ct->domid,
        .pid = (int32_t)getpid(),
        .cap_orig = a->ct->cap_orig,
        .cap_set = a->cap,
    };

    if (!a->add) {
        cost_state_del_throttle(st, a->ct->domid);
        return 1;
    }
    return cost_state_add_throttle(st, &t) ? -ENOSPC : 1;
}

int cost_throttler_set(void *opaque, unsigned pct)
{
    struct cost_throttler *ct = opaque;
    struct rec_args a = { ct, 0, 1 };
    int rc;

    if (!ct->xt)
        return -ENODEV;
    a.cap = xen_throttle_cap_for(ct->cap_orig, ct->vcpus, pct);
    if (pct) {
        /* record first: a crash between the two leaves a record the next
         * run undoes, never an unrecorded cap */
        rc = coststate_update(rec_fn, &a);
        if (rc) {
            LOGEV(ERROR, -rc, "not throttling domain %u: cannot record it",
                  ct->domid);
            return rc;
        }
        rc = xen_throttle_set_cap(ct->xt, ct->domid, a.cap);
        if (rc)
            return rc;
        LOG(INFO, "domain %u throttled by %u %% (scheduler cap %u)", ct->domid,
            pct, a.cap);
        ct->pct = pct;
        return 0;
    }
    rc = xen_throttle_set_cap(ct->xt, ct->domid, ct->cap_orig);
    if (rc && rc != -ENOENT)
        return rc; /* keep the record: the next run retries */
    LOG(INFO, "domain %u throttle released (cap %u)", ct->domid, ct->cap_orig);
    ct->pct = 0;
    a.add = 0;
    return coststate_update(rec_fn, &a);
}

void cost_throttler_dispose(struct cost_throttler *ct)
{
    if (ct->xt && ct->pct)
        cost_throttler_set(ct, 0);
    xen_throttle_free(ct->xt);
    ct->xt = NULL;
}

/* The xlmig that applied it still runs (then it releases it itself). */
static int owner_runs(const struct cost_throttle_rec *t)
{
    return t->pid > 0 && (kill(t->pid, 0) == 0 || errno == EPERM);
}

struct stale_args {
    struct xen_throttle *xt;
    int released;
};

static int stale_fn(struct cost_state *st, void *opaque)
{
    struct stale_args *a = opaque;
    unsigned i = 0, cap, vcpus;
    struct cost_throttle_rec t;
    int rc, changed = 0;

    while (i < st->nthrottles) {
        t = st->throttles[i];
        if (owner_runs(&t)) {
            i++;
            continue;
        }
        rc = xen_throttle_get(a->xt, t.domid, &cap, &vcpus);
        if (rc == -EIO) {
            i++;
            continue;
        }
        if (!rc && cap == t.cap_set) {
            if (xen_throttle_set_cap(a->xt, t.domid, t.cap_orig)) {
                i++;
                continue;
            }
            LOG(WARN,
                "released the throttle a previous xlmig (pid %d) left on "
                "domain %u (cap %u -> %u)",
                (int)t.pid, t.domid, t.cap_set, t.cap_orig);
            a->released++;
        } else if (!rc) {
            LOG(WARN, "domain %u: cap %u is not the %u xlmig set: left alone",
                t.domid, cap, t.cap_set);
        }
        cost_state_del_throttle(st, t.domid); /* swaps in the last one */
        changed = 1;
    }
    return changed;
}

int coststate_release_stale(void)
{
    struct cost_state st;
    struct stale_args a = { NULL, 0 };
    unsigned i, stale = 0;
    int rc;

    /* cheap check first: most runs have nothing to undo */
    if (coststate_load(&st))
        return 0;
    for (i = 0; i < st.nthrottles; i++)
        stale += !owner_runs(&st.throttles[i]);
    if (!stale)
        return 0;
    rc = xen_throttle_new(&a.xt);
    if (rc)
        return rc;
    rc = coststate_update(stale_fn, &a);
    xen_throttle_free(a.xt);
    return rc ? rc : a.released;
}
