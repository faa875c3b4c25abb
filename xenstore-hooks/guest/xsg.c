/* SPDX-License-Identifier: MIT */
/*
 * xsg: a minimal xenstore client for the guest side (xsg.h says why it
 * is not libxenstore).  Every message is a struct xsd_sockmsg header and
 * len <= XENSTORE_PAYLOAD_MAX bytes of body; the length is checked before
 * the body is read, the body goes to a fixed buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "common/fileio.h"
#include "xsg.h"

#define XSG_EVENTS_MAX 1000000u /* the counter saturates there */

struct xsg_msg {
    struct xsd_sockmsg hdr;
    char body[XENSTORE_PAYLOAD_MAX + 1]; /* + NUL */
};

void xsg_init_fd(struct xsg *g, int fd)
{
    g->fd = fd;
    g->pending_events = 0;
}

int xsg_open(struct xsg *g, const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd = -1, rc;

    xsg_init_fd(g, -1);
    if (!path)
        path = getenv("XENSTORED_PATH");
    if (!path)
        path = XSG_DEV;
    if (stat(path, &st)) {
        rc = -errno;
        goto out;
    }
    if (S_ISSOCK(st.st_mode)) {
        if (strlen(path) >= sizeof(sa.sun_path)) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, path, strlen(path));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
            rc = -errno;
            goto out;
        }
    } else {
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            goto out;
        }
    }
    xsg_init_fd(g, fd);
    fd = -1;
    rc = 0;

out:
    if (fd >= 0)
        close(fd);
    return rc;
}

void xsg_close(struct xsg *g)
{
    if (g->fd >= 0)
        close(g->fd);
    xsg_init_fd(g, -1);
}

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    ssize_t n;

    while (len) {
        n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EPIPE; /* the other end went away */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One whole message; a length beyond the protocol's maximum is refused
 * before anything else is read (the connection is unusable after it). */
static int read_msg(struct xsg *g, struct xsg_msg *m)
{
    int rc;

    rc = read_full(g->fd, &m->hdr, sizeof(m->hdr));
    if (rc)
        return rc;
    if (m->hdr.len > XENSTORE_PAYLOAD_MAX)
        return -EPROTO;
    rc = read_full(g->fd, m->body, m->hdr.len);
    if (rc)
        return rc;
    m->body[m->hdr.len] = '\0';
    return 0;
}

static int error_errno(const char *s)
{
    size_t i;

    for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (!strcmp(s, xsd_errors[i].errstring))
            return -xsd_errors[i].errnum;
    return -EIO;
}

/* Send type with body a (alen bytes) then b (blen bytes); read until its
 * reply, counting watch events.  The reply is left in *m. */
static int request(struct xsg *g, uint32_t type, const char *a, size_t alen,
                   const char *b, size_t blen, struct xsg_msg *m)
{
    int rc;

    if (g->fd < 0)
        return -EBADF;
    if (alen + blen > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    memset(&m->hdr, 0, sizeof(m->hdr));
    m->hdr.type = type;
    m->hdr.len = (uint32_t)(alen + blen);
    memcpy(m->body, a, alen);
    if (blen)
        memcpy(m->body + alen, b, blen);
    /* one write: the kernel device takes a request in pieces too, a
     * socket peer sees it whole */
    rc = fd_write_all(g->fd, m, sizeof(m->hdr) + alen + blen);
    if (rc)
        return rc;
    for (;;) {
        rc = read_msg(g, m);
        if (rc)
            return rc;
        if (m->hdr.type != XS_WATCH_EVENT)
            break;
        if (g->pending_events < XSG_EVENTS_MAX)
            g->pending_events++;
    }
    if (m->hdr.type == XS_ERROR)
        return error_errno(m->body);
    if (m->hdr.type != type)
        return -EPROTO;
    return 0;
}

int xsg_read(struct xsg *g, const char *path, char *buf, size_t cap)
{
    struct xsg_msg m;
    int rc;

    rc = request(g, XS_READ, path, strlen(path) + 1, NULL, 0, &m);
    if (rc)
        return rc;
    if (m.hdr.len >= cap)
        return -E2BIG;
    memcpy(buf, m.body, m.hdr.len + 1);
    return 0;
}

int xsg_write(struct xsg *g, const char *path, const char *value)
{
    struct xsg_msg m;

    return request(g, XS_WRITE, path, strlen(path) + 1, value, strlen(value),
                   &m);
}

int xsg_watch(struct xsg *g, const char *path, const char *token)
{
    struct xsg_msg m;

    return request(g, XS_WATCH, path, strlen(path) + 1, token,
                   strlen(token) + 1, &m);
}

int xsg_wait_event(struct xsg *g)
{
    struct xsg_msg m;
    int rc;

    if (g->pending_events) {
        g->pending_events--;
        return 0;
    }
    if (g->fd < 0)
        return -EBADF;
    rc = read_msg(g, &m);
    if (rc)
        return rc;
    /* nothing was asked: anything but an event breaks the protocol */
    return m.hdr.type == XS_WATCH_EVENT ? 0 : -EPROTO;
}
