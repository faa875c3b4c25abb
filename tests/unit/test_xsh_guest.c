/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the guest side's xenstore client (xenstore-hooks/guest/
 * xsg.c) over a socketpair: the peer plays the kernel's xenbus device
 * with scripted messages, written before each call.  The first case is
 * the lab failure of issue 11: a new watch's event arrives before the
 * XS_WATCH reply (Debian's static libxenstore took it for the reply and
 * closed its connection).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <xen/io/xs_wire.h>

#include "../../xenstore-hooks/guest/xsg.h"

#define EV_BODY "data/xlmig/maintenance-event\0ev"
#define EV_LEN  sizeof(EV_BODY) /* both strings with their NULs */
#define MSGS    4

struct smsg {
    uint32_t type;
    const char *body;
    size_t len;       /* bytes of body sent */
    uint32_t hdr_len; /* length claimed in the header; 0: len */
};

#define EVENT                              \
    {                                      \
        XS_WATCH_EVENT, EV_BODY, EV_LEN, 0 \
    }
#define OK(t)           \
    {                   \
        (t), "OK", 3, 0 \
    }
#define ERR(s)                    \
    {                             \
        XS_ERROR, s, sizeof(s), 0 \
    }
#define VAL(s)                       \
    {                                \
        XS_READ, s, sizeof(s) - 1, 0 \
    }

enum op {
    OP_READ,
    OP_WRITE,
    OP_WATCH,
    OP_WAIT
};

struct gcase {
    const char *name;
    enum op op;
    struct smsg msgs[MSGS]; /* sent in order, before the call */
    int close_after;        /* then the peer hangs up */
    int rc;
    const char *value;   /* OP_READ with rc 0 */
    unsigned pending;    /* watch events counted afterwards */
    const char *request; /* bytes of the request body (OP_WAIT: none) */
    size_t request_len;
};

#define RQ(s)  s, sizeof(s) /* a request body with its final NUL */
#define RQW(s) s, sizeof(s) - 1

static const struct gcase cases[] = {
    { "watch: event before the reply (the lab race)",
      OP_WATCH,
      { EVENT, OK(XS_WATCH) },
      0,
      0,
      NULL,
      1,
      RQ("data/xlmig/maintenance-event\0ev") },
    { "watch: reply first",
      OP_WATCH,
      { OK(XS_WATCH) },
      0,
      0,
      NULL,
      0,
      RQ("data/xlmig/maintenance-event\0ev") },
    { "read: two events, then the value",
      OP_READ,
      { EVENT, EVENT, VAL("migrate") },
      0,
      0,
      "migrate",
      2,
      RQ("data/xlmig/maintenance-event") },
    { "read: empty value",
      OP_READ,
      { VAL("") },
      0,
      0,
      "",
      0,
      RQ("data/xlmig/maintenance-event") },
    { "read: EACCES",
      OP_READ,
      { ERR("EACCES") },
      0,
      -EACCES,
      NULL,
      0,
      RQ("data/xlmig/maintenance-event") },
    { "read: ENOENT after an event",
      OP_READ,
      { EVENT, ERR("ENOENT") },
      0,
      -ENOENT,
      NULL,
      1,
      RQ("data/xlmig/maintenance-event") },
    { "read: unknown error string",
      OP_READ,
      { ERR("EWHAT") },
      0,
      -EIO,
      NULL,
      0,
      RQ("data/xlmig/maintenance-event") },
    { "read: reply of another type",
      OP_READ,
      { OK(XS_WRITE) },
      0,
      -EPROTO,
      NULL,
      0,
      RQ("data/xlmig/maintenance-event") },
    { "read: length beyond the protocol's maximum",
      OP_READ,
      { { XS_READ, "", 0, XENSTORE_PAYLOAD_MAX + 1 } },
      0,
      -EPROTO,
      NULL,
      0,
      RQ("data/xlmig/maintenance-event") },
    { "read: value too long for the buffer",
      OP_READ,
      { { XS_READ, "0123456789", 10, 0 } },
      0,
      -E2BIG,
      NULL,
      0,
      RQ("data/xlmig/maintenance-event") },
    { "read: hang-up before the reply",
      OP_READ,
      { { 0 } },
      1,
      -EPIPE,
      NULL,
      0,
      RQ("data/xlmig/maintenance-event") },
    { "read: hang-up inside the body",
      OP_READ,
      { { XS_READ, "mig", 3, 7 } },
      1,
      -EPIPE,
      NULL,
      0,
      RQ("data/xlmig/maintenance-event") },
    { "write: ok",
      OP_WRITE,
      { OK(XS_WRITE) },
      0,
      0,
      NULL,
      0,
      RQW("data/xlmig-ack\0listening") },
    { "write: event, then EACCES",
      OP_WRITE,
      { EVENT, ERR("EACCES") },
      0,
      -EACCES,
      NULL,
      1,
      RQW("data/xlmig-ack\0listening") },
    { "wait: an event", OP_WAIT, { EVENT }, 0, 0, NULL, 0, NULL, 0 },
    { "wait: a reply nobody asked for",
      OP_WAIT,
      { OK(XS_WRITE) },
      0,
      -EPROTO,
      NULL,
      0,
      NULL,
      0 },
    { "wait: hang-up", OP_WAIT, { { 0 } }, 1, -EPIPE, NULL, 0, NULL, 0 },
};

#define VALUE_CAP 8 /* "migrate" fits, "0123456789" does not */

static void send_msg(int fd, const struct smsg *m)
{
    struct xsd_sockmsg h = { .type = m->type };

    h.len = m->hdr_len ? m->hdr_len : (uint32_t)m->len;
    assert_int_equal(write(fd, &h, sizeof(h)), sizeof(h));
    if (m->len)
        assert_int_equal(write(fd, m->body, m->len), (ssize_t)m->len);
}

static void test_cases(void **state)
{
    size_t i;
    unsigned j;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct gcase *c = &cases[i];
        struct xsd_sockmsg rh;
        char value[VALUE_CAP] = "unset", req[256];
        struct xsg g;
        int sv[2], rc = -1;

        print_message("case: %s\n", c->name);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        for (j = 0; j < MSGS && c->msgs[j].type; j++)
            send_msg(sv[1], &c->msgs[j]);
        if (c->close_after)
            shutdown(sv[1], SHUT_WR);
        /* nothing more will come: a read beyond the script fails at once
         * instead of blocking */
        assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
        xsg_init_fd(&g, sv[0]);
        switch (c->op) {
        case OP_READ:
            rc = xsg_read(&g, "data/xlmig/maintenance-event", value,
                          sizeof(value));
            break;
        case OP_WRITE:
            rc = xsg_write(&g, "data/xlmig-ack", "listening");
            break;
        case OP_WATCH:
            rc = xsg_watch(&g, "data/xlmig/maintenance-event", "ev");
            break;
        case OP_WAIT:
            rc = xsg_wait_event(&g);
            break;
        }
        assert_int_equal(rc, c->rc);
        if (c->value)
            assert_string_equal(value, c->value);
        assert_int_equal(g.pending_events, c->pending);
        /* counted events are handed out without reading; then the
         * (empty, non-blocking) connection is read */
        for (j = 0; j < c->pending; j++)
            assert_int_equal(xsg_wait_event(&g), 0);
        if (!c->close_after)
            assert_int_equal(xsg_wait_event(&g), -EAGAIN);
        /* what the client sent */
        if (c->request) {
            assert_int_equal(read(sv[1], &rh, sizeof(rh)), sizeof(rh));
            assert_int_equal(rh.type, c->op == OP_READ    ? XS_READ
                                      : c->op == OP_WRITE ? XS_WRITE
                                                          : XS_WATCH);
            assert_int_equal(rh.tx_id, 0);
            assert_int_equal(rh.len, c->request_len);
            assert_int_equal(read(sv[1], req, sizeof(req)),
                             (ssize_t)c->request_len);
            assert_memory_equal(req, c->request, c->request_len);
        }
        xsg_close(&g);
        assert_int_equal(g.fd, -1);
        close(sv[1]);
    }
}

static void test_too_big(void **state)
{
    char big[XENSTORE_PAYLOAD_MAX + 1];
    struct xsg g;
    int sv[2];

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    xsg_init_fd(&g, sv[0]);
    assert_int_equal(xsg_write(&g, "data/x", big), -E2BIG);
    /* nothing was sent */
    assert_int_equal(read(sv[1], big, 1), -1);
    assert_int_equal(errno, EAGAIN);
    xsg_close(&g);
    close(sv[1]);
    /* a closed client refuses without touching any fd */
    assert_int_equal(xsg_read(&g, "data/x", big, sizeof(big)), -EBADF);
    assert_int_equal(xsg_wait_event(&g), -EBADF);
}

static void test_open(void **state)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char path[] = "/tmp/test_xsh_guest.XXXXXX";
    char sock[sizeof(path) + 8];
    struct xsg g;
    int l;

    (void)state;
    assert_int_equal(xsg_open(&g, "/nonexistent/xenbus"), -ENOENT);
    assert_int_equal(g.fd, -1);
    /* $XENSTORED_PATH when no path is given */
    setenv("XENSTORED_PATH", "/nonexistent/socket", 1);
    assert_int_equal(xsg_open(&g, NULL), -ENOENT);
    /* a UNIX socket is connected, a file opened */
    assert_non_null(mkdtemp(path));
    snprintf(sock, sizeof(sock), "%s/sock", path);
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(l, 1), 0);
    setenv("XENSTORED_PATH", sock, 1);
    assert_int_equal(xsg_open(&g, NULL), 0);
    assert_true(g.fd >= 0);
    xsg_close(&g);
    assert_int_equal(xsg_open(&g, "/dev/null"), 0);
    xsg_close(&g);
    unsetenv("XENSTORED_PATH");
    close(l);
    unlink(sock);
    rmdir(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_open),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
