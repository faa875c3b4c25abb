/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>

#define LOG_PREFIX "migrate-receive: "
#include "common/log.h"
#include "xen/xen.h"
#include "xen/xen_internal.h"

/* xl serialises domain creation with this lock (XEN_LOCK_DIR "/xl"). */
#define XL_LOCK_FILE "/var/lock/xl"

/*
 * SIGTERM, SIGHUP, SIGINT (socat ends its EXEC child with SIGTERM when the
 * connection closes; ssh with SIGHUP): before a restore starts they end
 * the process at once; from then on, while an incoming domain may exist,
 * they are recorded and the domain is destroyed instead of being left
 * paused, half built and often nameless ("(null)"), by a process that
 * died inside libxl.
 */
static volatile sig_atomic_t dst_busy, dst_stop;

static void dst_on_signal(int sig)
{
    if (!dst_busy) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    dst_stop = sig;
}

void xen_dst_catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = dst_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

struct xen_dst {
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *ctx;
};

int xen_dst_open(int verbosity, struct xen_dst **d_r)
{
    struct xen_dst *d = calloc(1, sizeof(*d));
    int rc;

    if (!d)
        return -ENOMEM;
    rc = xen_common_open(verbosity, &d->logger, &d->ctx);
    if (rc) {
        free(d);
        return rc;
    }
    *d_r = d;
    return 0;
}

void xen_dst_free(struct xen_dst *d)
{
    if (!d)
        return;
    if (d->ctx)
        libxl_ctx_free(d->ctx);
    if (d->logger)
        xtl_logger_destroy((xentoollog_logger *)d->logger);
    free(d);
}

static int xl_lock(void)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int fd = open(XL_LOCK_FILE, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        LOGE(WARN, "cannot open the lockfile %s", XL_LOCK_FILE);
        return -1;
    }
    while (fcntl(fd, F_SETLKW, &fl) < 0) {
        if (errno != EINTR) {
            LOGE(WARN, "cannot acquire lock %s", XL_LOCK_FILE);
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* Domain ids that exist now (sorted as libxl lists them), or NULL. */
static uint32_t *domids_now(libxl_ctx *ctx, int *n_r)
{
    libxl_dominfo *info;
    uint32_t *ids;
    int n;

    *n_r = 0;
    info = libxl_list_domain(ctx, &n);
    if (!info)
        return NULL;
    ids = calloc((size_t)n + 1, sizeof(*ids));
    if (ids) {
        for (int i = 0; i < n; i++)
            ids[i] = info[i].domid;
        *n_r = n;
    }
    libxl_dominfo_list_free(info, n);
    return ids;
}

/*
 * After a failed restore: destroy every domain that appeared since
 * (before[], n_before) and is ours: named NAME--incoming, or nameless
 * (libxl failed between creating the domain and writing its name; xl
 * list shows it as "(null)").  libxl normally destroys its half-built
 * domain itself; this catches what it leaves behind.
 */
static void sweep_incoming(struct xen_dst *d, const uint32_t *before,
                           int n_before, const char *incoming)
{
    libxl_dominfo *info;
    int n, known;
    char *nm;

    info = libxl_list_domain(d->ctx, &n);
    if (!info)
        return;
    for (int i = 0; i < n; i++) {
        uint32_t id = info[i].domid;

        known = id == 0;
        for (int j = 0; j < n_before && !known; j++)
            known = before[j] == id;
        if (known)
            continue;
        nm = libxl_domid_to_name(d->ctx, id);
        if (!nm || (incoming && !strcmp(nm, incoming))) {
            LOG(WARN, "destroying domain %u (%s) left by the failed restore",
                id, nm ? nm : "no name");
            if (libxl_domain_destroy(d->ctx, id, NULL))
                LOG(ERROR, "cannot destroy domain %u", id);
        }
        free(nm);
    }
    libxl_dominfo_list_free(info, n);
}

static int xen_restore(void *be, const char *config_json, int stream_fd,
                       int back_fd, uint32_t *domid_r, char **name_r)
{
    struct xen_dst *d = be;
    libxl_domain_config dc;
    libxl_domain_restore_params params;
    uint32_t domid = INVALID_DOMID;
    char *name = NULL, *incoming = NULL;
    uint32_t *before = NULL;
    int rc, lockfd = -1, n_before = 0;

    libxl_domain_config_init(&dc);
    libxl_domain_restore_params_init(&params);
    fprintf(stderr, "Parsing config from <saved>\n");
    rc = libxl_domain_config_from_json(d->ctx, &dc, config_json);
    if (rc) {
        fprintf(stderr, "xlmig: cannot parse the domain configuration\n");
        goto out;
    }
    if (dc.c_info.name) {
        name = strdup(dc.c_info.name);
        if (!name || asprintf(&incoming, "%s--incoming", name) < 0) {
            incoming = NULL;
            rc = ERROR_NOMEM;
            goto out;
        }
        free(dc.c_info.name);
        dc.c_info.name = incoming;
        incoming = NULL;
    }
    before = domids_now(d->ctx, &n_before);
    params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
    params.stream_version = 2;
    dst_busy = 1;
    lockfd = xl_lock();
    rc = libxl_domain_create_restore(d->ctx, &dc, &domid, stream_fd, back_fd,
                                     &params, NULL, NULL);
    if (lockfd >= 0)
        close(lockfd);
    if (rc) {
        if (libxl_domid_valid_guest(domid))
            libxl_domain_destroy(d->ctx, domid, NULL);
        if (before)
            sweep_incoming(d, before, n_before, dc.c_info.name);
        goto out;
    }
    if (dst_stop) {
        fprintf(stderr,
                "migration target: signal %d, destroying the "
                "incoming domain\n",
                (int)dst_stop);
        libxl_domain_destroy(d->ctx, domid, NULL);
        rc = ERROR_FAIL;
        goto out;
    }
    *domid_r = domid;
    *name_r = name;
    name = NULL;

out:
    free(before);
    free(name);
    free(incoming);
    libxl_domain_restore_params_dispose(&params);
    libxl_domain_config_dispose(&dc);
    return rc;
}

static int xen_dst_rename(void *be, uint32_t domid, const char *from,
                          const char *to)
{
    struct xen_dst *d = be;

    if (dst_stop)
        return ERROR_FAIL; /* the session destroys the domain */
    return libxl_domain_rename(d->ctx, domid, from, to);
}

static int xen_unpause(void *be, uint32_t domid)
{
    struct xen_dst *d = be;
    int rc;

    if (dst_stop)
        return ERROR_FAIL;
    rc = libxl_domain_unpause(d->ctx, domid, NULL);
    if (!rc)
        dst_busy = 0; /* the domain runs here now: nothing to undo */
    return rc;
}

static int xen_dst_destroy(void *be, uint32_t domid)
{
    struct xen_dst *d = be;

    return libxl_domain_destroy(d->ctx, domid, NULL);
}

const struct mig_dst_ops xen_dst_ops = {
    .restore = xen_restore,
    .rename = xen_dst_rename,
    .unpause = xen_unpause,
    .destroy = xen_dst_destroy,
};
