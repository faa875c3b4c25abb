/* SPDX-License-Identifier: MIT */
/*
 * xsg: the guest side's own xenstore client, the wire protocol
 * (xen/io/xs_wire.h) spoken directly on /dev/xen/xenbus.
 *
 * Why not libxenstore: the guest program is static (the test guest has
 * no libc), and Debian's static libxenstore.a is built without
 * USE_PTHREAD (only the shared object gets it), so it has no reader
 * thread and reads exactly one message as the reply to each request.
 * The kernel's xenbus device delivers a watch event whenever it fires,
 * including between a request and its reply (a new watch fires at once,
 * often before the XS_WATCH "OK"; dom0 writing or re-permissioning the
 * watched key fires it while the guest reads the other keys).  The
 * threadless library then takes the event for the reply, fails with
 * EINVAL and closes its fd, and every later call fails with EBADF.
 *
 * xsg reads messages until the reply to its request arrives and counts
 * the watch events it meets on the way; xsg_wait_event consumes those
 * first.  One watch per connection (the events are counted, not kept).
 */
#ifndef XLMIG_XSG_H
#define XLMIG_XSG_H

#include <stddef.h>
#include <stdint.h>

#define XSG_DEV "/dev/xen/xenbus"

struct xsg {
    int fd;
    unsigned pending_events; /* watch events seen while awaiting a reply */
};

/* Connect: path NULL means $XENSTORED_PATH, else /dev/xen/xenbus; a
 * UNIX socket is connected, anything else opened read-write. */
int xsg_open(struct xsg *g, const char *path);
/* Take over an already connected fd (tests). */
void xsg_init_fd(struct xsg *g, int fd);
void xsg_close(struct xsg *g);

/* The value of path into buf (cap bytes, NUL-terminated): -ENOENT,
 * -EACCES... as xenstored answers, -E2BIG if it has cap bytes or more. */
int xsg_read(struct xsg *g, const char *path, char *buf, size_t cap);
int xsg_write(struct xsg *g, const char *path, const char *value);
int xsg_watch(struct xsg *g, const char *path, const char *token);
/* Block until a watch event (one already counted returns at once). */
int xsg_wait_event(struct xsg *g);

#endif
