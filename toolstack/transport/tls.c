/* SPDX-License-Identifier: MIT */
/*
 * The TLS channel (see tls.h): GnuTLS credentials, a handshake with a
 * deadline that authenticates the peer, and two relay threads between the
 * TLS session and a local socket pair whose other end is the channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define LOG_PREFIX "tls: "
#include "common/log.h"
#include "transport/tls.h"
#include "transport/tls_conf.h"

#define TLS_RELAY_BYTES     (256 << 10)
#define TLS_DRAIN_MS        500
#define TLS_PSK_MAX_BYTES   64
#define TLS_PSK_MAX_ENTRIES 256
#define TLS_PSK_FILE_BYTES  (64 << 10)
#define TLS_WHY_BYTES       256

#define TLS_PRIO_X509 "NORMAL:-VERS-ALL:+VERS-TLS1.3:%NO_TICKETS"
#define TLS_PRIO_PSK                                                     \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:-GROUP-FFDHE2048:" \
    "-GROUP-FFDHE3072:-GROUP-FFDHE4096:-GROUP-FFDHE6144:"                \
    "-GROUP-FFDHE8192:%NO_TICKETS"

const char tls_insecure_warning[] =
    "xlmig: WARNING: --insecure: the migration is neither authenticated "
    "nor encrypted; anyone on the path can read or change the guest";

struct psk_entry {
    char id[TLS_MAX_NAME + 1];
    uint8_t key[TLS_PSK_MAX_BYTES];
    unsigned key_bytes;
};

struct tls_ctx {
    int server;
    enum tls_mode mode;
    struct tls_opts o;
    gnutls_certificate_credentials_t x509;
    gnutls_psk_server_credentials_t psk_srv;
    gnutls_psk_client_credentials_t psk_cli;
    gnutls_priority_t prio;
    char *allow[TLS_MAX_ALLOW + 1];
    unsigned nallow;
    struct psk_entry *psk;
    unsigned npsk;
};

/* Per handshake: what the verify callbacks need and found. */
struct tls_hs {
    struct tls_ctx *ctx;
    const char *peer_name;
    char why[TLS_WHY_BYTES];
    char *identity;
};

struct tls_channel {
    struct channel ch; /* first: channel_free() frees this block */
    gnutls_session_t s;
    int sock;
    int relay_fd; /* our end of the socket pair; ch.stream_fd is theirs */
    pthread_t up, down;
    int up_started, down_started;
};

static void tls_global_init_once(void)
{
    gnutls_global_init();
}

static void tls_global_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, tls_global_init_once);
}

static int allowed(struct tls_ctx *ctx, const char *id)
{
    for (unsigned i = 0; i < ctx->nallow; i++)
        if (!strcmp(ctx->allow[i], id))
            return 1;
    return 0;
}

/* ---------------------------------------------------------- PSK keys */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "identity:hexkey" lines (psktool); '#' comments and blank lines. */
static int psk_load(struct tls_ctx *ctx, const char *path)
{
    FILE *f = NULL;
    char line[TLS_MAX_NAME + 2 * TLS_PSK_MAX_BYTES + 8];
    unsigned lineno = 0;
    size_t total = 0;
    int rc;

    ctx->psk = calloc(TLS_PSK_MAX_ENTRIES, sizeof(*ctx->psk));
    if (!ctx->psk) {
        rc = -ENOMEM;
        goto out;
    }
    f = fopen(path, "re");
    if (!f) {
        rc = -errno;
        LOGE(ERROR, "cannot open the PSK file '%s'", path);
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        char *colon, *hex, *end;
        struct psk_entry *e;
        size_t idlen, hexlen;

        lineno++;
        total += strlen(line);
        if (total > TLS_PSK_FILE_BYTES || !strchr(line, '\n')) {
            if (feof(f) && total <= TLS_PSK_FILE_BYTES)
                goto parse;
            LOG(ERROR, "%s:%u: line or file too long", path, lineno);
            rc = -EINVAL;
            goto out;
        }
parse:
        end = line + strcspn(line, "\r\n");
        *end = 0;
        if (!line[0] || line[0] == '#')
            continue;
        colon = strchr(line, ':');
        if (!colon) {
            LOG(ERROR, "%s:%u: expected identity:hexkey", path, lineno);
            rc = -EINVAL;
            goto out;
        }
        idlen = (size_t)(colon - line);
        hex = colon + 1;
        hexlen = strlen(hex);
        if (!idlen || idlen > TLS_MAX_NAME || hexlen < 32 || hexlen % 2 ||
            hexlen > 2 * TLS_PSK_MAX_BYTES) {
            LOG(ERROR,
                "%s:%u: bad identity or key length (key: 16 to %u bytes "
                "in hex)",
                path, lineno, TLS_PSK_MAX_BYTES);
            rc = -EINVAL;
            goto out;
        }
        if (ctx->npsk >= TLS_PSK_MAX_ENTRIES) {
            LOG(ERROR, "%s: more than %u keys", path, TLS_PSK_MAX_ENTRIES);
            rc = -EINVAL;
            goto out;
        }
        e = &ctx->psk[ctx->npsk];
        memcpy(e->id, line, idlen);
        e->id[idlen] = 0;
        for (size_t i = 0; i < hexlen; i += 2) {
            int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);

            if (hi < 0 || lo < 0) {
                LOG(ERROR, "%s:%u: key is not hexadecimal", path, lineno);
                rc = -EINVAL;
                goto out;
            }
            e->key[i / 2] = (uint8_t)(hi << 4 | lo);
        }
        e->key_bytes = (unsigned)(hexlen / 2);
        ctx->npsk++;
    }
    if (!ctx->npsk) {
        LOG(ERROR, "no key in the PSK file '%s'", path);
        rc = -EINVAL;
        goto out;
    }
    rc = 0;
out:
    if (f)
        fclose(f);
    return rc;
}

static const struct psk_entry *psk_find(struct tls_ctx *ctx, const char *id)
{
    for (unsigned i = 0; i < ctx->npsk; i++)
        if (!strcmp(ctx->psk[i].id, id))
            return &ctx->psk[i];
    return NULL;
}

/* Server: the key of a known, allowed identity; anything else fails the
 * handshake before a record is exchanged. */
static int psk_server_cb(gnutls_session_t s, const char *username,
                         gnutls_datum_t *key)
{
    struct tls_hs *hs = gnutls_session_get_ptr(s);
    const struct psk_entry *e = psk_find(hs->ctx, username);

    if (!e) {
        snprintf(hs->why, sizeof(hs->why), "unknown PSK identity '%.64s'",
                 username);
        return -1;
    }
    if (hs->ctx->nallow && !allowed(hs->ctx, username)) {
        snprintf(hs->why, sizeof(hs->why),
                 "PSK identity '%.64s' is not on the allowlist", username);
        return -1;
    }
    key->data = gnutls_malloc(e->key_bytes);
    if (!key->data)
        return -1;
    memcpy(key->data, e->key, e->key_bytes);
    key->size = e->key_bytes;
    free(hs->identity);
    hs->identity = strdup(username);
    return 0;
}

/* ---------------------------------------------------------- X.509 */

static int x509_verify_cb(gnutls_session_t s)
{
    struct tls_hs *hs = gnutls_session_get_ptr(s);
    struct tls_ctx *ctx = hs->ctx;
    const gnutls_datum_t *certs;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t txt = { NULL, 0 };
    unsigned status = 0, n = 0, i;
    char dn[TLS_WHY_BYTES / 2];
    size_t dnlen = sizeof(dn);
    int r, rc = -1;

    certs = gnutls_certificate_get_peers(s, &n);
    if (!certs || !n) {
        snprintf(hs->why, sizeof(hs->why), "peer sent no certificate");
        goto out;
    }
    r = gnutls_certificate_verify_peers3(s, ctx->server ? NULL : hs->peer_name,
                                         &status);
    if (r < 0) {
        snprintf(hs->why, sizeof(hs->why), "certificate check failed: %s",
                 gnutls_strerror(r));
        goto out;
    }
    if (status) {
        if (gnutls_certificate_verification_status_print(
                status, GNUTLS_CRT_X509, &txt, 0) >= 0)
            snprintf(hs->why, sizeof(hs->why), "%s", (char *)txt.data);
        else
            snprintf(hs->why, sizeof(hs->why), "certificate not trusted");
        goto out;
    }
    if (gnutls_x509_crt_init(&crt) < 0 ||
        gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
        snprintf(hs->why, sizeof(hs->why), "cannot parse the certificate");
        goto out;
    }
    for (i = 0; i < ctx->nallow; i++)
        if (gnutls_x509_crt_check_hostname(crt, ctx->allow[i]))
            break;
    if (ctx->nallow && i == ctx->nallow) {
        if (gnutls_x509_crt_get_dn(crt, dn, &dnlen) < 0)
            snprintf(dn, sizeof(dn), "?");
        snprintf(hs->why, sizeof(hs->why),
                 "certificate '%s' is not on the allowlist", dn);
        goto out;
    }
    free(hs->identity);
    hs->identity =
        strdup(ctx->nallow ? ctx->allow[i]
                           : (hs->peer_name ? hs->peer_name : "unnamed"));
    rc = hs->identity ? 0 : -1;
out:
    if (txt.data)
        gnutls_free(txt.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return rc;
}

/* ---------------------------------------------------------- context */

void tls_ctx_free(struct tls_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->x509)
        gnutls_certificate_free_credentials(ctx->x509);
    if (ctx->psk_srv)
        gnutls_psk_free_server_credentials(ctx->psk_srv);
    if (ctx->psk_cli)
        gnutls_psk_free_client_credentials(ctx->psk_cli);
    if (ctx->prio)
        gnutls_priority_deinit(ctx->prio);
    for (unsigned i = 0; i < ctx->nallow; i++)
        free(ctx->allow[i]);
    if (ctx->psk)
        explicit_bzero(ctx->psk, TLS_PSK_MAX_ENTRIES * sizeof(*ctx->psk));
    free(ctx->psk);
    free(ctx);
}

int tls_ctx_new(const struct tls_opts *o, int server, struct tls_ctx **ctx_r)
{
    struct tls_ctx *ctx = NULL;
    const struct psk_entry *e;
    gnutls_datum_t key;
    int r, rc;

    tls_global_init();
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        rc = -ENOMEM;
        goto out;
    }
    ctx->server = server;
    ctx->mode = o->mode;
    ctx->o = *o;
    for (const char *const *a = o->allow; a && *a; a++) {
        if (ctx->nallow >= TLS_MAX_ALLOW || !**a || strlen(*a) > TLS_MAX_NAME) {
            LOG(ERROR, "allowlist: at most %u names of 1 to %u bytes",
                TLS_MAX_ALLOW, TLS_MAX_NAME);
            rc = -EINVAL;
            goto out;
        }
        ctx->allow[ctx->nallow] = strdup(*a);
        if (!ctx->allow[ctx->nallow]) {
            rc = -ENOMEM;
            goto out;
        }
        ctx->nallow++;
    }
    if (o->mode == TLS_MODE_X509) {
        if (server && !ctx->nallow) {
            LOG(ERROR, "no identity allowlist: refusing to accept any "
                       "certificate signed by the CA (set 'allow')");
            rc = -EINVAL;
            goto out;
        }
        if (!o->ca_file || !o->cert_file || !o->key_file) {
            LOG(ERROR, "x509 needs a CA, a certificate and a key");
            rc = -EINVAL;
            goto out;
        }
        if (gnutls_certificate_allocate_credentials(&ctx->x509) < 0) {
            rc = -ENOMEM;
            goto out;
        }
        r = gnutls_certificate_set_x509_trust_file(ctx->x509, o->ca_file,
                                                   GNUTLS_X509_FMT_PEM);
        if (r <= 0) {
            LOG(ERROR, "cannot load the CA '%s': %s", o->ca_file,
                r ? gnutls_strerror(r) : "no certificate in it");
            rc = -EINVAL;
            goto out;
        }
        r = gnutls_certificate_set_x509_key_file(
            ctx->x509, o->cert_file, o->key_file, GNUTLS_X509_FMT_PEM);
        if (r < 0) {
            LOG(ERROR, "cannot load the certificate '%s' or key '%s': %s",
                o->cert_file, o->key_file, gnutls_strerror(r));
            rc = -EINVAL;
            goto out;
        }
        gnutls_certificate_set_verify_function(ctx->x509, x509_verify_cb);
        r = gnutls_priority_init(&ctx->prio, TLS_PRIO_X509, NULL);
    } else {
        if (!o->psk_file) {
            LOG(ERROR, "psk mode needs a key file");
            rc = -EINVAL;
            goto out;
        }
        rc = psk_load(ctx, o->psk_file);
        if (rc)
            goto out;
        if (server) {
            if (gnutls_psk_allocate_server_credentials(&ctx->psk_srv) < 0) {
                rc = -ENOMEM;
                goto out;
            }
            gnutls_psk_set_server_credentials_function(ctx->psk_srv,
                                                       psk_server_cb);
        } else {
            e = o->psk_identity ? psk_find(ctx, o->psk_identity) : &ctx->psk[0];
            if (!e) {
                LOG(ERROR, "no key for identity '%s' in '%s'", o->psk_identity,
                    o->psk_file);
                rc = -EINVAL;
                goto out;
            }
            if (gnutls_psk_allocate_client_credentials(&ctx->psk_cli) < 0) {
                rc = -ENOMEM;
                goto out;
            }
            key.data = (unsigned char *)e->key;
            key.size = e->key_bytes;
            r = gnutls_psk_set_client_credentials(ctx->psk_cli, e->id, &key,
                                                  GNUTLS_PSK_KEY_RAW);
            if (r < 0) {
                LOG(ERROR, "cannot use the PSK of '%s': %s", e->id,
                    gnutls_strerror(r));
                rc = -EINVAL;
                goto out;
            }
        }
        r = gnutls_priority_init(&ctx->prio, TLS_PRIO_PSK, NULL);
    }
    if (r < 0) {
        LOG(ERROR, "cannot set the TLS priorities: %s", gnutls_strerror(r));
        rc = -EINVAL;
        goto out;
    }
    *ctx_r = ctx;
    ctx = NULL;
    rc = 0;
out:
    tls_ctx_free(ctx);
    return rc;
}

/* ---------------------------------------------------------- relays */

static int send_all(int fd, const uint8_t *p, size_t len)
{
    ssize_t n;

    while (len) {
        n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* local (what the channel's user wrote) -> TLS records */
static void *relay_up(void *arg)
{
    struct tls_channel *t = arg;
    uint8_t *buf = malloc(TLS_RELAY_BYTES);
    ssize_t n, w;
    size_t off;

    if (!buf)
        goto fail;
    for (;;) {
        n = read(t->relay_fd, buf, TLS_RELAY_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0) {
            int r;

            do
                r = gnutls_bye(t->s, GNUTLS_SHUT_WR);
            while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
            break;
        }
        for (off = 0; off < (size_t)n; off += (size_t)w) {
            w = gnutls_record_send(t->s, buf + off, (size_t)n - off);
            if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
                w = 0;
                continue;
            }
            if (w < 0) {
                LOG(DEBUG, "sending failed: %s", gnutls_strerror((int)w));
                goto fail;
            }
        }
    }
    free(buf);
    return NULL;
fail:
    free(buf);
    /* the user's writes fail and its reads see the end */
    shutdown(t->relay_fd, SHUT_RDWR);
    return NULL;
}

/* TLS records -> local (what the channel's user reads) */
static void *relay_down(void *arg)
{
    struct tls_channel *t = arg;
    uint8_t *buf = malloc(TLS_RELAY_BYTES);
    ssize_t n;

    if (!buf)
        goto fail;
    for (;;) {
        n = gnutls_record_recv(t->s, buf, TLS_RELAY_BYTES);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n == 0) {
            shutdown(t->relay_fd, SHUT_WR);
            break;
        }
        if (n < 0) {
            /* an unclean end (GNUTLS_E_PREMATURE_TERMINATION) is not a
             * clean EOF: the user's reads fail */
            if (n == GNUTLS_E_FATAL_ALERT_RECEIVED)
                LOG(ERROR, "the peer closed the connection (alert: %s)",
                    gnutls_alert_get_name(gnutls_alert_get(t->s)));
            else
                LOG(DEBUG, "receiving failed: %s", gnutls_strerror((int)n));
            goto fail;
        }
        if (send_all(t->relay_fd, buf, (size_t)n))
            break;
    }
    free(buf);
    return NULL;
fail:
    free(buf);
    shutdown(t->relay_fd, SHUT_RDWR);
    return NULL;
}

/* ---------------------------------------------------------- channel ops */

/* Both directions share the relay socket to the TLS threads. */
static ssize_t tlsch_read(struct channel *ch, int back, void *buf, size_t len,
                          int timeout_ms)
{
    return channel_fd_read(ch, ch->stream_fd, back, buf, len, timeout_ms);
}

static ssize_t tlsch_write(struct channel *ch, int back, const void *buf,
                           size_t len, int timeout_ms)
{
    return channel_fd_write(ch, ch->stream_fd, back, buf, len, 1, timeout_ms);
}

static int tlsch_poll_fd(struct channel *ch, int back)
{
    return ch->stream_fd;
}

static void tlsch_shutdown_send(struct channel *ch)
{
    if (ch->stream_fd >= 0)
        shutdown(ch->stream_fd, SHUT_WR);
}

static int join_ms(pthread_t th, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(th, NULL, &ts);
}

static void tlsch_dispose(struct channel *ch)
{
    struct tls_channel *t = (struct tls_channel *)ch;

    /* flush what the user wrote, then close_notify */
    if (ch->stream_fd >= 0)
        shutdown(ch->stream_fd, SHUT_WR);
    if (t->up_started && join_ms(t->up, TLS_CLOSE_MS)) {
        shutdown(t->sock, SHUT_RDWR);
        pthread_join(t->up, NULL);
    }
    t->up_started = 0;
    if (ch->stream_fd >= 0)
        close(ch->stream_fd);
    ch->stream_fd = ch->back_fd = -1;
    /* give the peer's close_notify a moment, then cut */
    if (t->down_started && join_ms(t->down, TLS_DRAIN_MS)) {
        shutdown(t->sock, SHUT_RDWR);
        pthread_join(t->down, NULL);
    }
    t->down_started = 0;
    if (t->s)
        gnutls_deinit(t->s);
    t->s = NULL;
    if (t->sock >= 0)
        close(t->sock);
    if (t->relay_fd >= 0)
        close(t->relay_fd);
    t->sock = t->relay_fd = -1;
}

static const struct channel_ops tls_channel_ops = {
    .read = tlsch_read,
    .write = tlsch_write,
    .poll_fd = tlsch_poll_fd,
    .shutdown_send = tlsch_shutdown_send,
    .dispose = tlsch_dispose,
};

/* ---------------------------------------------------------- handshake */

void tls_tune_socket(int fd, const struct tls_opts *o)
{
    int one = 1, idle = o && o->keepalive_idle_s > 0 ? o->keepalive_idle_s : 10;
    int intvl = 5, cnt = 3;
    unsigned ut =
        o && o->user_timeout_ms > 0 ? (unsigned)o->user_timeout_ms : 30000;

    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
}

static int hs_error(struct tls_hs *hs, gnutls_session_t s, int r,
                    const char *who)
{
    const char *side = hs->ctx->server ? "refused" : "handshake with";

    /* tell the peer why (an alert), so that its message is clear too */
    if (r != GNUTLS_E_TIMEDOUT && r != GNUTLS_E_FATAL_ALERT_RECEIVED &&
        r != GNUTLS_E_PREMATURE_TERMINATION && r != GNUTLS_E_PUSH_ERROR &&
        r != GNUTLS_E_PULL_ERROR)
        gnutls_alert_send_appropriate(s, r);
    switch (r) {
    case GNUTLS_E_TIMEDOUT:
        LOG(ERROR, "%s %s: no handshake within %d ms", side, who,
            hs->ctx->o.handshake_timeout_ms > 0
                ? hs->ctx->o.handshake_timeout_ms
                : TLS_HANDSHAKE_TIMEOUT_MS);
        return -ETIMEDOUT;
    case GNUTLS_E_CERTIFICATE_ERROR:
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_REQUIRED:
        LOG(ERROR, "%s %s: %s", side, who,
            hs->why[0] ? hs->why : "peer sent no certificate");
        return -EACCES;
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
        LOG(ERROR, "%s %s: the peer refused us (alert: %s)", side, who,
            gnutls_alert_get_name(gnutls_alert_get(s)));
        return -EACCES;
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
    case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
    case GNUTLS_E_UNEXPECTED_PACKET:
        LOG(ERROR, "%s %s: not a TLS 1.3 peer (plaintext?): %s", side, who,
            gnutls_strerror(r));
        return -EPROTO;
    case GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER:
    case GNUTLS_E_DECRYPTION_FAILED:
        if (hs->ctx->mode == TLS_MODE_PSK) {
            LOG(ERROR, "%s %s: wrong pre-shared key (%s)", side, who,
                gnutls_strerror(r));
            return -EACCES;
        }
        LOG(ERROR, "%s %s: %s", side, who, gnutls_strerror(r));
        return -EPROTO;
    case GNUTLS_E_PREMATURE_TERMINATION:
    case GNUTLS_E_PUSH_ERROR:
    case GNUTLS_E_PULL_ERROR:
        LOG(ERROR, "%s %s: the peer closed the connection in the handshake",
            side, who);
        return -ECONNRESET;
    default:
        if (hs->why[0]) {
            LOG(ERROR, "%s %s: %s", side, who, hs->why);
            return -EACCES;
        }
        LOG(ERROR, "%s %s: %s", side, who, gnutls_strerror(r));
        return r == GNUTLS_E_DECRYPTION_FAILED ||
                       r == GNUTLS_E_KEY_USAGE_VIOLATION
                   ? -EACCES
                   : -EPROTO;
    }
}

int tls_channel_new(struct tls_ctx *ctx, int fd, const char *peer_name,
                    struct channel **ch_r, char **identity_r)
{
    struct tls_hs hs = { .ctx = ctx, .peer_name = peer_name };
    struct tls_channel *t = NULL;
    gnutls_session_t s = NULL;
    int sp[2] = { -1, -1 };
    const char *who = peer_name ? peer_name : "peer";
    int r, rc, tmo;

    if (gnutls_init(&s, (ctx->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                            GNUTLS_NO_TICKETS) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    gnutls_session_set_ptr(s, &hs);
    if (gnutls_priority_set(s, ctx->prio) < 0) {
        rc = -EINVAL;
        goto out;
    }
    if (ctx->mode == TLS_MODE_X509) {
        r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, ctx->x509);
        if (ctx->server)
            gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
        else if (peer_name)
            gnutls_server_name_set(s, GNUTLS_NAME_DNS, peer_name,
                                   strlen(peer_name));
    } else {
        r = gnutls_credentials_set(s, GNUTLS_CRD_PSK,
                                   ctx->server ? (void *)ctx->psk_srv
                                               : (void *)ctx->psk_cli);
    }
    if (r < 0) {
        rc = -EINVAL;
        goto out;
    }
    tls_tune_socket(fd, &ctx->o);
    gnutls_transport_set_int(s, fd);
    tmo = ctx->o.handshake_timeout_ms > 0 ? ctx->o.handshake_timeout_ms
                                          : TLS_HANDSHAKE_TIMEOUT_MS;
    gnutls_handshake_set_timeout(s, (unsigned)tmo);
    do
        r = gnutls_handshake(s);
    while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
    if (r < 0) {
        rc = hs_error(&hs, s, r, who);
        goto out;
    }
    if (ctx->mode == TLS_MODE_PSK && !ctx->server) {
        /* the server proved it knows our key */
        hs.identity = strdup(peer_name ? peer_name : "psk");
    }
    if (!hs.identity) {
        LOG(ERROR, "%s %s: peer not authenticated",
            ctx->server ? "refused" : "handshake with", who);
        rc = -EACCES;
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
        rc = -errno;
        LOGE(ERROR, "cannot create the relay socket pair");
        goto out;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        rc = -ENOMEM;
        goto out;
    }
    t->ch.ops = &tls_channel_ops;
    t->ch.kind = CHANNEL_TCP;
    t->ch.stream_fd = t->ch.back_fd = sp[0];
    t->relay_fd = sp[1];
    t->sock = fd;
    t->s = s;
    sp[0] = sp[1] = -1;
    fd = -1;
    s = NULL;
    gnutls_session_set_ptr(t->s, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = -pthread_create(&t->up, NULL, relay_up, t);
    if (!rc) {
        t->up_started = 1;
        rc = -pthread_create(&t->down, NULL, relay_down, t);
        if (!rc)
            t->down_started = 1;
    }
    if (rc) {
        LOG(ERROR, "cannot start the relay threads");
        channel_free(&t->ch);
        t = NULL;
        goto out;
    }
    if (identity_r) {
        *identity_r = hs.identity;
        hs.identity = NULL;
    }
    *ch_r = &t->ch;
    rc = 0;
out:
    free(hs.identity);
    if (s)
        gnutls_deinit(s);
    if (fd >= 0)
        close(fd);
    for (int i = 0; i < 2; i++)
        if (sp[i] >= 0)
            close(sp[i]);
    return rc;
}

int tls_channel_connect_new(struct tls_ctx *ctx, const char *host,
                            const char *port, int timeout_ms,
                            struct channel **ch_r)
{
    struct channel *tcp = NULL;
    int fd, rc;

    rc = channel_tcp_connect_new(host, port, timeout_ms, &tcp);
    if (rc)
        return rc;
    fd = tcp->stream_fd;
    tcp->stream_fd = tcp->back_fd = -1;
    channel_free(tcp);
    return tls_channel_new(ctx, fd, host, ch_r, NULL);
}

int tls_connect_configured(const char *hostport, const char *conf_path,
                           int insecure, int timeout_ms, struct channel **ch_r)
{
    struct tls_ctx *ctx = NULL;
    struct tls_conf conf;
    char *host = NULL, *port = NULL;
    const char *colon = strrchr(hostport, ':');
    int rc;

    rc = tls_conf_init(&conf);
    if (rc)
        return rc;
    if (!conf_path)
        conf_path = getenv("XLMIG_CONF");
    rc = tls_conf_load(&conf, conf_path ? conf_path : TLS_CONF_DEFAULT,
                       !conf_path);
    if (rc)
        goto out;
    host = colon ? strndup(hostport, (size_t)(colon - hostport))
                 : strdup(hostport);
    port = strdup(colon ? colon + 1 : conf.port);
    if (!host || !port) {
        rc = -ENOMEM;
        goto out;
    }
    if (!*host || !*port) {
        LOG(ERROR, "bad HOST[:PORT] '%s'", hostport);
        rc = -EINVAL;
        goto out;
    }
    if (insecure) {
        fprintf(stderr, "%s\n", tls_insecure_warning);
        rc = channel_tcp_connect_new(host, port, timeout_ms, ch_r);
        goto out;
    }
    rc = tls_ctx_new(&conf.opts, 0, &ctx);
    if (rc)
        goto out;
    rc = tls_channel_connect_new(ctx, host, port, timeout_ms, ch_r);
out:
    tls_ctx_free(ctx);
    tls_conf_dispose(&conf);
    free(host);
    free(port);
    return rc;
}
