/* SPDX-License-Identifier: MIT */
/*
 * xlmig-tls-connect HOST[:PORT] [ignored...]: the sender's end of a TLS
 * migration as an xl transport rune.  It connects to xlmigd, authenticates
 * both ways (xlmig.conf(5)), then copies stdin to the migration stream and
 * the back channel to stdout, exactly what 'ssh HOST xl migrate-receive'
 * does for xl.  Arguments after HOST are ignored, so that stock xl can use
 * it too:  xl migrate -s xlmig-tls-connect DOMAIN HOST
 * ("exec xlmig-tls-connect HOST xl migrate-receive").
 * Exit: 0 when the receiver closed cleanly, 1 on any failure.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "xlmig-tls-connect: "
#include "common/fileio.h"
#include "common/log.h"
#include "transport/tls.h"

#define CONNECT_USAGE                                                     \
    "Usage: xlmig-tls-connect [-c FILE] [--insecure] HOST[:PORT] [...]\n" \
    "\n"                                                                  \
    "Connect to xlmigd on HOST over TLS and relay stdin/stdout.\n"        \
    "-c, --config FILE   TLS settings (default /etc/xlmig/xlmig.conf).\n" \
    "--insecure          Plaintext TCP, no authentication (says so).\n"

#define COPY_BYTES           (256 << 10)
#define SENDER_GONE_GRACE_MS 1000

struct pump {
    struct channel *ch;
    int rc;
};

/* stdin -> migration stream */
static void *up_main(void *arg)
{
    struct pump *p = arg;
    char *buf = malloc(COPY_BYTES);
    ssize_t n;

    p->rc = buf ? 0 : -ENOMEM;
    while (!p->rc) {
        n = read(0, buf, COPY_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                p->rc = -errno;
            break;
        }
        p->rc = channel_write_all(p->ch, 0, buf, (size_t)n, -1);
    }
    if (p->rc)
        LOGEV(ERROR, -p->rc, "sending the migration stream failed");
    p->ch->ops->shutdown_send(p->ch);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        { "help", 0, NULL, 'h' },
        { "config", 1, NULL, 'c' },
        { "insecure", 0, NULL, 'I' },
        { NULL, 0, NULL, 0 },
    };
    const char *conf_path = NULL;
    char buf[65536];
    struct channel *ch = NULL;
    struct pump up = { 0 };
    pthread_t th;
    int opt, rc, insecure = 0, started = 0, gone = 0;
    ssize_t n;

    /* "+": stop at HOST, the rest (xl's own arguments) is ignored */
    while ((opt = getopt_long(argc, argv, "+hc:", lopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(CONNECT_USAGE, stdout);
            return 0;
        case 'c':
            conf_path = optarg;
            break;
        case 'I':
            insecure = 1;
            break;
        default:
            fputs(CONNECT_USAGE, stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fputs(CONNECT_USAGE, stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = tls_connect_configured(argv[optind], conf_path, insecure, 30000, &ch);
    if (rc)
        goto out;
    up.ch = ch;
    rc = -pthread_create(&th, NULL, up_main, &up);
    if (rc)
        goto out;
    started = 1;
    /* back channel -> stdout, until the receiver closes or the sender
     * (our stdout's reader) has gone: a hung receiver must not keep us.
     * A sender that is done closes first; the receiver then follows
     * within SENDER_GONE_GRACE_MS, and that is a clean end. */
    for (;;) {
        struct pollfd pf[2] = {
            { .fd = ch->ops->poll_fd(ch, 1), .events = POLLIN },
            { .fd = gone ? -1 : 1, .events = 0 },
        };
        int r = poll(pf, 2, gone ? SENDER_GONE_GRACE_MS : -1);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (gone && !pf[0].revents) {
            LOG(ERROR, "the sender has gone; closing the connection");
            rc = -EPIPE;
            break;
        }
        if (!pf[0].revents && (pf[1].revents & (POLLERR | POLLHUP))) {
            gone = 1;
            continue;
        }
        n = ch->ops->read(ch, 1, buf, sizeof(buf), -1);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        if (gone)
            continue; /* nobody reads it any more */
        rc = fd_write_all(1, buf, (size_t)n);
        if (rc)
            break;
    }
    close(1);
    if (rc && !gone)
        LOGEV(ERROR, -rc, "the back channel failed");

out:
    if (started) {
        /* the sender closes our stdin when it is done with the stream */
        close(0);
        pthread_join(th, NULL);
        if (!rc && up.rc)
            rc = up.rc;
    }
    channel_free(ch);
    return rc ? 1 : 0;
}
