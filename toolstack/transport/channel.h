/* SPDX-License-Identifier: MIT */
/*
 * The channel between a migration sender and its receiver: two byte
 * streams, the domain stream (sender -> receiver) and the back channel
 * (receiver -> sender), exactly as xl's migration transport.  Kinds:
 *
 *   fd    two given descriptors (the receiver's stdin/stdout)
 *   rune  'sh -c RUNE' with its stdin/stdout on two pipes (xl's -s)
 *   tcp   one TCP connection carrying both directions (lab, Ganeti socat)
 *
 * A later TLS channel implements the same ops.  Every read and write takes
 * a deadline in milliseconds (-1: none); a peer that hangs becomes
 * -ETIMEDOUT instead of blocking the migration forever.
 *
 * Ownership: a channel owns the descriptors it was given or created and
 * closes them in channel_free(); a rune channel also reaps its child
 * (waiting at most 2 s, as xl does).
 */
#ifndef XLMIG_TRANSPORT_CHANNEL_H
#define XLMIG_TRANSPORT_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct channel;

struct channel_ops {
    /* Read 1..len bytes: > 0 bytes read, 0 end of stream, -errno. */
    ssize_t (*read)(struct channel *ch, int back, void *buf, size_t len,
                    int timeout_ms);
    /* Write 1..len bytes: > 0 bytes written, -errno. */
    ssize_t (*write)(struct channel *ch, int back, const void *buf, size_t len,
                     int timeout_ms);
    /* Descriptor to poll for readability of a direction, or -1. */
    int (*poll_fd)(struct channel *ch, int back);
    /* No more data in the domain stream direction (idempotent). */
    void (*shutdown_send)(struct channel *ch);
    void (*dispose)(struct channel *ch);
};

enum channel_kind {
    CHANNEL_FD = 0,
    CHANNEL_RUNE = 1,
    CHANNEL_TCP = 2,
};

/*
 * Direction names used in messages: "migration receiver stream" (the
 * sender's view of a rune, as xl) or "migration stream".
 */
struct channel {
    const struct channel_ops *ops;
    enum channel_kind kind;
    int stream_fd; /* domain stream: written by sender, read by receiver */
    int back_fd;   /* back channel: written by receiver, read by sender */
    pid_t child;   /* rune: transport process, else 0 */
    char *rune;    /* rune: the command, for messages */
    uint64_t stream_bytes; /* bytes moved in the domain stream direction */
    uint64_t back_bytes;   /* bytes moved on the back channel */
};

/* Both descriptors are taken over (they may be equal for a socket). */
int channel_fd_new(int stream_fd, int back_fd, struct channel **ch_r);

/*
 * Run 'sh -c RUNE' with stdin = the domain stream and stdout = the back
 * channel (xl's create_migration_child).  SIGPIPE is ignored from then on.
 */
int channel_rune_new(const char *rune, struct channel **ch_r);

/* Connect to HOST:PORT (name or address).  timeout_ms bounds connect. */
int channel_tcp_connect_new(const char *host, const char *port, int timeout_ms,
                            struct channel **ch_r);

/*
 * One-shot listener: bind [ADDR:]PORT, accept one connection, close the
 * listening socket.  timeout_ms bounds the wait (-1: none).  If port_r is
 * given it receives the bound port before the wait (PORT 0 picks one) by
 * a call of ready_fn (may be NULL).
 */
int channel_tcp_accept_new(const char *addr, const char *port, int timeout_ms,
                           void (*ready_fn)(unsigned port, void *opaque),
                           void *opaque, struct channel **ch_r);

/* NULL-safe.  Closes, reaps a rune child (2 s at most, as xl). */
void channel_free(struct channel *ch);

/* Read exactly len bytes (-EPIPE on a short stream). */
int channel_read_exact(struct channel *ch, int back, void *buf, size_t len,
                       int timeout_ms);
/* Write exactly len bytes. */
int channel_write_all(struct channel *ch, int back, const void *buf, size_t len,
                      int timeout_ms);

/* Wait until fd is readable (POLLIN) or writable: 0, -ETIMEDOUT, -errno. */
int channel_wait_fd(int fd, int for_write, int timeout_ms);

/*
 * One read or write of at most len bytes on fd, waiting up to timeout_ms
 * (-1: forever) for it to be ready, counted in ch's back_bytes or
 * stream_bytes.  is_socket: send() without SIGPIPE instead of write().
 * Returns the bytes moved (0 on EOF for a read) or a negative errno
 * (-ETIMEDOUT on the deadline, -EBADF for fd < 0).  Channel types built on
 * file descriptors implement their read and write ops with these.
 */
ssize_t channel_fd_read(struct channel *ch, int fd, int back, void *buf,
                        size_t len, int timeout_ms);
ssize_t channel_fd_write(struct channel *ch, int fd, int back, const void *buf,
                         size_t len, int is_socket, int timeout_ms);

#endif
