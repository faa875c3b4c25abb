/* SPDX-License-Identifier: MIT */
/*
 * Channels over file descriptors: fd pairs, xl's rune (sh -c with two
 * pipes) and one TCP connection.  The descriptors stay blocking (libxl and
 * libxenguest may be handed them directly); deadlines come from poll().
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX ""
#include "common/log.h"
#include "transport/channel.h"

/* Large transfers per system call: each one is costly under emulation. */
#define CHANNEL_SOCKBUF_BYTES (4 << 20)
#define CHANNEL_REAP_MS       2000

int channel_wait_fd(int fd, int for_write, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = for_write ? POLLOUT : POLLIN };
    int r;

    for (;;) {
        r = poll(&pfd, 1, timeout_ms);
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

static int fd_for(struct channel *ch, int back)
{
    return back ? ch->back_fd : ch->stream_fd;
}

ssize_t channel_fd_read(struct channel *ch, int fd, int back, void *buf,
                        size_t len, int timeout_ms)
{
    ssize_t n;
    int rc;

    if (fd < 0)
        return -EBADF;
    for (;;) {
        rc = channel_wait_fd(fd, 0, timeout_ms);
        if (rc)
            return rc;
        n = read(fd, buf, len);
        if (n >= 0)
            break;
        if (errno != EINTR && errno != EAGAIN)
            return -errno;
    }
    if (back)
        ch->back_bytes += (uint64_t)n;
    else /* read by the session while an encoder's writer thread sends */
        __atomic_add_fetch(&ch->stream_bytes, (uint64_t)n, __ATOMIC_RELAXED);
    return n;
}

ssize_t channel_fd_write(struct channel *ch, int fd, int back, const void *buf,
                         size_t len, int is_socket, int timeout_ms)
{
    ssize_t n;
    int rc;

    if (fd < 0)
        return -EBADF;
    for (;;) {
        rc = channel_wait_fd(fd, 1, timeout_ms);
        if (rc)
            return rc;
        if (is_socket)
            n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        else
            n = write(fd, buf, len);
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -errno;
    }
    if (back)
        ch->back_bytes += (uint64_t)n;
    else /* read by the session while an encoder's writer thread sends */
        __atomic_add_fetch(&ch->stream_bytes, (uint64_t)n, __ATOMIC_RELAXED);
    return n;
}

static ssize_t fdch_read(struct channel *ch, int back, void *buf, size_t len,
                         int timeout_ms)
{
    return channel_fd_read(ch, fd_for(ch, back), back, buf, len, timeout_ms);
}

static ssize_t fdch_write(struct channel *ch, int back, const void *buf,
                          size_t len, int timeout_ms)
{
    return channel_fd_write(ch, fd_for(ch, back), back, buf, len, 0,
                            timeout_ms);
}

static int fdch_poll_fd(struct channel *ch, int back)
{
    return fd_for(ch, back);
}

static void fdch_shutdown_send(struct channel *ch)
{
    if (ch->kind == CHANNEL_TCP) {
        if (ch->stream_fd >= 0)
            shutdown(ch->stream_fd, SHUT_WR);
        return;
    }
    if (ch->stream_fd >= 0 && ch->stream_fd != ch->back_fd) {
        close(ch->stream_fd);
        ch->stream_fd = -1;
    }
}

/* xl's migration_child_report: wait at most 2 s for the transport. */
static void reap_child(struct channel *ch)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    int waited_ms, status;
    pid_t r;

    for (waited_ms = 0; waited_ms <= CHANNEL_REAP_MS; waited_ms += 10) {
        r = waitpid(ch->child, &status, WNOHANG);
        if (r == ch->child) {
            if (WIFEXITED(status) && WEXITSTATUS(status))
                fprintf(stderr,
                        "migration transport process [%ld] exited with "
                        "error status %d\n",
                        (long)ch->child, WEXITSTATUS(status));
            else if (WIFSIGNALED(status))
                fprintf(stderr,
                        "migration transport process [%ld] died due to "
                        "fatal signal %d\n",
                        (long)ch->child, WTERMSIG(status));
            ch->child = 0;
            return;
        }
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "wait for migration child [%ld] failed: %s\n",
                    (long)ch->child, strerror(errno));
            ch->child = 0;
            return;
        }
        nanosleep(&ts, NULL);
    }
    fprintf(stderr,
            "migration child [%ld] not exiting, no longer waiting (exit "
            "status will be unreported)\n",
            (long)ch->child);
    ch->child = 0;
}

static void fdch_dispose(struct channel *ch)
{
    if (ch->stream_fd >= 0)
        close(ch->stream_fd);
    if (ch->back_fd >= 0 && ch->back_fd != ch->stream_fd)
        close(ch->back_fd);
    ch->stream_fd = ch->back_fd = -1;
    if (ch->child > 0)
        reap_child(ch);
    free(ch->rune);
    ch->rune = NULL;
}

static const struct channel_ops fd_channel_ops = {
    .read = fdch_read,
    .write = fdch_write,
    .poll_fd = fdch_poll_fd,
    .shutdown_send = fdch_shutdown_send,
    .dispose = fdch_dispose,
};

static int channel_alloc(enum channel_kind kind, int stream_fd, int back_fd,
                         struct channel **ch_r)
{
    struct channel *ch = calloc(1, sizeof(*ch));

    if (!ch)
        return -ENOMEM;
    ch->ops = &fd_channel_ops;
    ch->kind = kind;
    ch->stream_fd = stream_fd;
    ch->back_fd = back_fd;
    *ch_r = ch;
    return 0;
}

int channel_fd_new(int stream_fd, int back_fd, struct channel **ch_r)
{
    return channel_alloc(CHANNEL_FD, stream_fd, back_fd, ch_r);
}

int channel_rune_new(const char *rune, struct channel **ch_r)
{
    int sendpipe[2] = { -1, -1 }, recvpipe[2] = { -1, -1 };
    struct channel *ch = NULL;
    pid_t child;
    int rc;

    if (pipe2(sendpipe, O_CLOEXEC) || pipe2(recvpipe, O_CLOEXEC)) {
        rc = -errno;
        LOGE(ERROR, "cannot create the transport pipes");
        goto out;
    }
    rc = channel_alloc(CHANNEL_RUNE, sendpipe[1], recvpipe[0], &ch);
    if (rc)
        goto out;
    ch->rune = strdup(rune);
    if (!ch->rune) {
        rc = -ENOMEM;
        goto out;
    }
    fflush(NULL);
    child = fork();
    if (child < 0) {
        rc = -errno;
        LOGE(ERROR, "cannot fork the migration transport process");
        goto out;
    }
    if (child == 0) {
        dup2(sendpipe[0], 0);
        dup2(recvpipe[1], 1);
        signal(SIGPIPE, SIG_DFL);
        execlp("sh", "sh", "-c", rune, (char *)NULL);
        perror("failed to exec sh");
        _exit(127);
    }
    ch->child = child;
    close(sendpipe[0]);
    close(recvpipe[1]);
    /* if the receiver dies we get an error and can clean up */
    signal(SIGPIPE, SIG_IGN);
    *ch_r = ch;
    return 0;

out:
    if (ch) {
        ch->stream_fd = ch->back_fd = -1;
        free(ch->rune);
        free(ch);
    }
    for (int i = 0; i < 2; i++) {
        if (sendpipe[i] >= 0)
            close(sendpipe[i]);
        if (recvpipe[i] >= 0)
            close(recvpipe[i]);
    }
    return rc;
}

static void tune_socket(int fd)
{
    int sz = CHANNEL_SOCKBUF_BYTES;

    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static int connect_deadline(int fd, const struct sockaddr *sa, socklen_t len,
                            int timeout_ms)
{
    int flags = fcntl(fd, F_GETFL), err = 0, rc;
    socklen_t errlen = sizeof(err);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK))
        return -errno;
    if (connect(fd, sa, len) == 0)
        goto done;
    if (errno != EINPROGRESS)
        return -errno;
    rc = channel_wait_fd(fd, 1, timeout_ms);
    if (rc)
        return rc;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen))
        return -errno;
    if (err)
        return -err;
done:
    if (fcntl(fd, F_SETFL, flags))
        return -errno;
    return 0;
}

int channel_tcp_connect_new(const char *host, const char *port, int timeout_ms,
                            struct channel **ch_r)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
    int fd = -1, rc, grc;

    grc = getaddrinfo(host, port, &hints, &res);
    if (grc) {
        LOG(ERROR, "cannot resolve '%s' port '%s': %s", host, port,
            gai_strerror(grc));
        rc = -EHOSTUNREACH;
        goto out;
    }
    rc = -ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        tune_socket(fd);
        rc = connect_deadline(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
        if (!rc)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        LOGEV(ERROR, -rc, "cannot connect to %s:%s", host, port);
        goto out;
    }
    rc = channel_alloc(CHANNEL_TCP, fd, fd, ch_r);
    if (rc)
        goto out;
    signal(SIGPIPE, SIG_IGN);
    fd = -1;

out:
    if (fd >= 0)
        close(fd);
    if (res)
        freeaddrinfo(res);
    return rc;
}

int channel_tcp_accept_new(const char *addr, const char *port, int timeout_ms,
                           void (*ready_fn)(unsigned port, void *opaque),
                           void *opaque, struct channel **ch_r)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE },
                    *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int lfd = -1, fd = -1, one = 1, rc, grc;
    unsigned bound_port = 0;

    grc = getaddrinfo(addr, port, &hints, &res);
    if (grc) {
        LOG(ERROR, "cannot resolve listen address '%s:%s': %s",
            addr ? addr : "*", port, gai_strerror(grc));
        rc = -EINVAL;
        goto out;
    }
    lfd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
                 res->ai_protocol);
    if (lfd < 0) {
        rc = -errno;
        LOGE(ERROR, "cannot create a socket");
        goto out;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    tune_socket(lfd);
    if (bind(lfd, res->ai_addr, res->ai_addrlen) || listen(lfd, 1)) {
        rc = -errno;
        LOGE(ERROR, "cannot listen on port %s", port);
        goto out;
    }
    if (getsockname(lfd, (struct sockaddr *)&ss, &sslen) == 0) {
        if (ss.ss_family == AF_INET)
            bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    if (ready_fn)
        ready_fn(bound_port, opaque);
    rc = channel_wait_fd(lfd, 0, timeout_ms);
    if (rc) {
        LOGEV(ERROR, -rc, "no migration sender connected to port %u",
              bound_port);
        goto out;
    }
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        LOGE(ERROR, "cannot accept the migration connection");
        goto out;
    }
    rc = channel_alloc(CHANNEL_TCP, fd, fd, ch_r);
    if (rc)
        goto out;
    signal(SIGPIPE, SIG_IGN);
    fd = -1;

out:
    if (fd >= 0)
        close(fd);
    if (lfd >= 0)
        close(lfd);
    if (res)
        freeaddrinfo(res);
    return rc;
}

void channel_free(struct channel *ch)
{
    if (!ch)
        return;
    ch->ops->dispose(ch);
    free(ch);
}

int channel_read_exact(struct channel *ch, int back, void *buf, size_t len,
                       int timeout_ms)
{
    uint8_t *p = buf;
    ssize_t n;

    while (len) {
        n = ch->ops->read(ch, back, p, len, timeout_ms);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int channel_write_all(struct channel *ch, int back, const void *buf, size_t len,
                      int timeout_ms)
{
    const uint8_t *p = buf;
    ssize_t n;

    while (len) {
        n = ch->ops->write(ch, back, p, len, timeout_ms);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
