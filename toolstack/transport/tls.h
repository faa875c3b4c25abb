/* SPDX-License-Identifier: MIT */
/*
 * The TLS channel: the channel interface of transport/channel.h over one
 * TCP connection protected by GnuTLS.  TLS 1.3 only, session tickets off,
 * and one of two authentication modes:
 *
 *   x509  mutual X.509: both sides present a certificate signed by the CA
 *         in ca_file; the client checks the server's name against the host
 *         it dialled, and both sides check the peer against an identity
 *         allowlist (a peer is allowed if its certificate is valid for one
 *         of the listed names, as a DNS SAN or the CN)
 *   psk   ECDHE-PSK only (forward secrecy); keys in psktool's format
 *         ("identity:hexkey" lines); the server knows only the identities
 *         in its file, the allowlist restricts them further
 *
 * The peer is authenticated inside the handshake, before the channel is
 * handed back: no stream byte is read from an unauthenticated peer.  The
 * handshake has a deadline; after it, a relay thread per direction moves
 * the records between the TLS session and a local socket pair, so the
 * channel's descriptors are plain blocking descriptors (libxl may read the
 * stream directly), and every channel read and write keeps its own
 * deadline.  TCP keepalive and TCP_USER_TIMEOUT turn a vanished peer into
 * an error of the relay (then EOF on the channel), never a hang.
 *
 * Ownership: tls_channel_new() takes over the connected socket whatever it
 * returns.  channel_free() on a TLS channel flushes what was written (at
 * most TLS_CLOSE_MS), sends close_notify, stops both relays and closes
 * everything.
 */
#ifndef XLMIG_TRANSPORT_TLS_H
#define XLMIG_TRANSPORT_TLS_H

#include "transport/channel.h"

#define TLS_DEFAULT_DIR          "/etc/xlmig"
#define TLS_DEFAULT_PORT         "8002"
#define TLS_HANDSHAKE_TIMEOUT_MS 10000
#define TLS_CLOSE_MS             5000
#define TLS_MAX_ALLOW            64
#define TLS_MAX_NAME             255

enum tls_mode {
    TLS_MODE_X509 = 0,
    TLS_MODE_PSK = 1,
};

struct tls_opts {
    enum tls_mode mode;
    const char *ca_file;      /* x509: CA certificate(s), PEM */
    const char *cert_file;    /* x509: our certificate (chain), PEM */
    const char *key_file;     /* x509: our private key, PEM */
    const char *psk_file;     /* psk: "identity:hexkey" lines */
    const char *psk_identity; /* psk client: our identity */
    /* identities allowed as peer (NULL-terminated; NULL or empty: the
     * server refuses to start, the client checks the host name only) */
    const char *const *allow;
    int handshake_timeout_ms; /* <= 0: TLS_HANDSHAKE_TIMEOUT_MS */
    int keepalive_idle_s;     /* <= 0: 10 (probes every 5 s, 3 of them) */
    int user_timeout_ms;      /* <= 0: 30000 (unacknowledged data) */
};

struct tls_ctx;

/*
 * Load credentials for a server (1) or a client (0).  Every failure is
 * logged once with the file name.  -EINVAL for an unusable configuration
 * (e.g. a server without an allowlist in x509 mode).
 */
int tls_ctx_new(const struct tls_opts *o, int server, struct tls_ctx **ctx_r);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * Handshake on the connected socket fd (taken over in every case).
 * Client: peer_name is the server name to check (x509).  Server: peer_name
 * is only used in messages (the peer's address).  On success *ch_r is a
 * channel of kind CHANNEL_TCP and *identity_r (if given) the authenticated
 * peer identity (allowlist entry or PSK identity, malloc'd).  On failure
 * one line says why: -ETIMEDOUT (handshake deadline), -EACCES (peer not
 * authenticated or not allowed), -EPROTO (TLS failure), other -errno.
 */
int tls_channel_new(struct tls_ctx *ctx, int fd, const char *peer_name,
                    struct channel **ch_r, char **identity_r);

/* Connect to HOST:PORT with timeout_ms for the TCP connect, then as
 * tls_channel_new() with HOST as the expected name. */
int tls_channel_connect_new(struct tls_ctx *ctx, const char *host,
                            const char *port, int timeout_ms,
                            struct channel **ch_r);

/*
 * The sender's connection as configured by xlmig.conf(5): conf_path, else
 * $XLMIG_CONF, else /etc/xlmig/xlmig.conf (optional).  hostport is
 * HOST[:PORT] (default port from the file).  insecure: plain TCP after
 * printing tls_insecure_warning.  Every failure is reported on stderr.
 */
int tls_connect_configured(const char *hostport, const char *conf_path,
                           int insecure, int timeout_ms, struct channel **ch_r);

/* Keepalive and user timeout on a TCP socket (used by both sides). */
void tls_tune_socket(int fd, const struct tls_opts *o);

/* The warning printed when --insecure is used (one line, no newline). */
extern const char tls_insecure_warning[];

#endif
