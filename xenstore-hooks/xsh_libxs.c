/* SPDX-License-Identifier: MIT */
/*
 * Thin adapter: struct xsh_xs_ops over libxenstore.  One request per
 * call, no transaction; waits use a watch on the path and poll(2) on the
 * connection's fd.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

#define LOG_PREFIX "xenstore-hooks: "
#include "common/log.h"
#include "xsh_libxs.h"

struct xsh_libxs {
    struct xs_handle *h;
    char watched[XSH_PATH_MAX]; /* "" when no watch is set */
};

int xsh_libxs_new(struct xsh_libxs **x_r)
{
    struct xsh_libxs *x;
    int rc;

    x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->h = xs_open(0);
    if (!x->h) {
        rc = errno ? -errno : -ENOENT;
        LOGEV(ERROR, -rc, "cannot connect to xenstore");
        free(x);
        return rc;
    }
    *x_r = x;
    return 0;
}

int xsh_libxs_list(struct xsh_libxs *x, const char *path,
                   int (*fn)(const char *child, void *opaque), void *opaque)
{
    unsigned n = 0, i;
    char **d;

    d = xs_directory(x->h, XBT_NULL, path, &n);
    if (!d)
        return errno ? -errno : -ENOENT;
    for (i = 0; i < n; i++)
        if (fn(d[i], opaque))
            break;
    free(d);
    return 0;
}

void xsh_libxs_free(struct xsh_libxs *x)
{
    if (!x)
        return;
    if (x->watched[0])
        xs_unwatch(x->h, x->watched, "xlmig-ack");
    xs_close(x->h);
    free(x);
}

static int lx_read(void *xs, const char *path, char *buf, size_t cap)
{
    struct xsh_libxs *x = xs;
    unsigned len = 0;
    char *v;
    int rc;

    v = xs_read(x->h, XBT_NULL, path, &len);
    if (!v)
        return errno ? -errno : -EIO;
    if (len >= cap) {
        rc = -E2BIG;
        goto out;
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    /* a value with a NUL inside is cut there: never trusted further */
    rc = 0;

out:
    free(v);
    return rc;
}

static int lx_write(void *xs, const char *path, const char *value)
{
    struct xsh_libxs *x = xs;

    if (!xs_write(x->h, XBT_NULL, path, value, (unsigned)strlen(value)))
        return errno ? -errno : -EIO;
    return 0;
}

static int lx_set_perms(void *xs, const char *path, uint32_t reader_domid)
{
    struct xsh_libxs *x = xs;
    struct xs_permissions p[2] = {
        { .id = 0, .perms = XS_PERM_NONE },
        { .id = reader_domid, .perms = XS_PERM_READ },
    };

    if (!xs_set_permissions(x->h, XBT_NULL, path, p, reader_domid ? 2 : 1))
        return errno ? -errno : -EIO;
    return 0;
}

static int lx_rm(void *xs, const char *path)
{
    struct xsh_libxs *x = xs;

    if (!xs_rm(x->h, XBT_NULL, path) && errno != ENOENT)
        return errno ? -errno : -EIO;
    return 0;
}

static uint64_t lx_now_ms(void *xs)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t lx_wall_s(void *xs)
{
    return (uint64_t)time(NULL);
}

static int lx_wait(void *xs, const char *path, unsigned ms)
{
    struct xsh_libxs *x = xs;
    struct pollfd pfd;
    unsigned num;
    char **ev;
    int n;

    if (strcmp(x->watched, path)) {
        if (x->watched[0])
            xs_unwatch(x->h, x->watched, "xlmig-ack");
        x->watched[0] = '\0';
        if (strlen(path) < sizeof(x->watched) &&
            xs_watch(x->h, path, "xlmig-ack"))
            snprintf(x->watched, sizeof(x->watched), "%s", path);
    }
    pfd.fd = x->watched[0] ? xs_fileno(x->h) : -1;
    pfd.events = POLLIN;
    n = poll(&pfd, pfd.fd >= 0 ? 1 : 0, (int)ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n > 0 && (pfd.revents & POLLIN)) {
        ev = xs_read_watch(x->h, &num);
        free(ev);
    }
    return 0;
}

const struct xsh_xs_ops xsh_libxs_ops = {
    .read = lx_read,
    .write = lx_write,
    .set_perms = lx_set_perms,
    .rm = lx_rm,
    .now_ms = lx_now_ms,
    .wall_s = lx_wall_s,
    .wait = lx_wait,
};
