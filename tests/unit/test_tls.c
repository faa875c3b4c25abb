/* SPDX-License-Identifier: MIT */
/*
 * The TLS channel over socket pairs, with a throwaway PKI made at test
 * time by tests/tls/mk-certs (certtool): good certificates both ways, a
 * wrong CA on either side, expired and not-yet-valid certificates, a
 * server name mismatch, a certificate not on the allowlist, PSK match and
 * mismatch, a silent peer (handshake deadline), a plaintext peer, read
 * deadlines after the handshake; and the xlmig.conf parser.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/tls.h"
#include "transport/tls_conf.h"

static char pki[256];

static char *p(const char *name)
{
    static char bufs[8][320];
    static unsigned n;
    char *b = bufs[n++ % 8];

    snprintf(b, sizeof(bufs[0]), "%s/%s", pki, name);
    return b;
}

struct side {
    struct tls_opts o;
    int server;
    const char *peer_name;
    int fd;
    int rc;
    struct channel *ch;
    char *identity;
};

static void *side_main(void *arg)
{
    struct side *s = arg;
    struct tls_ctx *ctx = NULL;

    s->rc = tls_ctx_new(&s->o, s->server, &ctx);
    if (s->rc) {
        close(s->fd);
        return NULL;
    }
    s->rc = tls_channel_new(ctx, s->fd, s->peer_name, &s->ch, &s->identity);
    tls_ctx_free(ctx);
    return NULL;
}

static const char *const allow_a[] = { "host-a", NULL };
static const char *const allow_b[] = { "host-b", NULL };

static void x509(struct side *s, int server, const char *ca, const char *name)
{
    memset(s, 0, sizeof(*s));
    s->server = server;
    s->o.mode = TLS_MODE_X509;
    s->o.ca_file = p(ca);
    s->o.cert_file = p(name);
    s->o.key_file = NULL;
    s->o.allow = server ? allow_a : allow_b;
    s->o.handshake_timeout_ms = 5000;
    s->peer_name = server ? "test-client" : "host-b";
}

static void keyfile(struct side *s, const char *pem)
{
    static char keys[2][320];
    char *k = keys[s->server];

    snprintf(k, sizeof(keys[0]), "%s", pem);
    memcpy(k + strlen(k) - 3, "key", 3);
    s->o.key_file = k;
}

/* Run both handshakes at once over a socket pair. */
static void run_pair(struct side *srv, struct side *cli)
{
    int sp[2];
    pthread_t ts, tc;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    srv->fd = sp[0];
    cli->fd = sp[1];
    if (srv->o.mode == TLS_MODE_X509 && srv->o.cert_file)
        keyfile(srv, srv->o.cert_file);
    if (cli->o.mode == TLS_MODE_X509 && cli->o.cert_file)
        keyfile(cli, cli->o.cert_file);
    assert_int_equal(pthread_create(&ts, NULL, side_main, srv), 0);
    assert_int_equal(pthread_create(&tc, NULL, side_main, cli), 0);
    pthread_join(ts, NULL);
    pthread_join(tc, NULL);
}

static void done(struct side *s)
{
    channel_free(s->ch);
    free(s->identity);
    s->ch = NULL;
    s->identity = NULL;
}

static void test_x509_good(void **state)
{
    struct side srv, cli;
    char buf[64] = { 0 };
    static char big[1 << 20];
    char *got = malloc(sizeof(big));
    size_t off = 0, roff = 0, chunk;
    ssize_t n;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    x509(&cli, 0, "ca.pem", "host-a.pem");
    run_pair(&srv, &cli);
    assert_int_equal(srv.rc, 0);
    assert_int_equal(cli.rc, 0);
    assert_string_equal(srv.identity, "host-a");
    assert_string_equal(cli.identity, "host-b");
    /* stream direction, then the back channel */
    assert_int_equal(channel_write_all(cli.ch, 0, "stream bytes", 12, 2000), 0);
    assert_int_equal(channel_read_exact(srv.ch, 0, buf, 12, 2000), 0);
    assert_string_equal(buf, "stream bytes");
    assert_int_equal(channel_write_all(srv.ch, 1, "ready", 5, 2000), 0);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(channel_read_exact(cli.ch, 1, buf, 5, 2000), 0);
    assert_string_equal(buf, "ready");
    /* a megabyte through, byte for byte */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 2654435761u >> 13);
    /* the relay and socket buffers hold less than 1 MiB: write in
     * chunks and read in between */
    while (roff < sizeof(big)) {
        if (off < sizeof(big)) {
            chunk = sizeof(big) - off < 65536 ? sizeof(big) - off : 65536;
            assert_int_equal(
                channel_write_all(cli.ch, 0, big + off, chunk, 2000), 0);
            off += chunk;
        }
        n = srv.ch->ops->read(srv.ch, 0, got + roff, sizeof(big) - roff, 2000);
        assert_true(n > 0);
        roff += (size_t)n;
    }
    assert_memory_equal(got, big, sizeof(big));
    assert_int_equal(cli.ch->stream_bytes, 12 + sizeof(big));
    /* clean end: the receiver reads EOF after close_notify */
    cli.ch->ops->shutdown_send(cli.ch);
    assert_int_equal(srv.ch->ops->read(srv.ch, 0, buf, 1, 2000), 0);
    /* a deadline on a read from a live but silent peer */
    assert_int_equal(cli.ch->ops->read(cli.ch, 1, buf, 1, 100), -ETIMEDOUT);
    done(&srv);
    /* the server went away: the client sees the end, not a hang */
    assert_true(cli.ch->ops->read(cli.ch, 1, buf, 1, 2000) <= 0);
    done(&cli);
    free(got);
}

static void expect_refused(struct side *srv, struct side *cli, int srv_rc)
{
    char c;

    run_pair(srv, cli);
    assert_int_equal(srv->rc, srv_rc);
    assert_null(srv->ch);
    /* in TLS 1.3 the client finishes before the server has checked its
     * certificate: it may get a channel, whose first read is the end */
    if (cli->rc == 0) {
        assert_true(cli->ch->ops->read(cli->ch, 1, &c, 1, 2000) <= 0);
        done(cli);
    }
    assert_null(cli->ch);
}

static void test_client_wrong_ca(void **state)
{
    struct side srv, cli;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    x509(&cli, 0, "evil-ca.pem", "rogue.pem");
    /* the client does not trust the server either; whichever side fails
     * first, the server never accepts */
    run_pair(&srv, &cli);
    assert_true(srv.rc < 0);
    assert_true(cli.rc < 0);
    assert_null(srv.ch);
}

static void test_client_rogue_cert(void **state)
{
    struct side srv, cli;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    x509(&cli, 0, "ca.pem", "rogue.pem"); /* client trusts the server */
    expect_refused(&srv, &cli, -EACCES);
}

static void test_server_wrong_ca(void **state)
{
    struct side srv, cli;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    x509(&cli, 0, "evil-ca.pem", "host-a.pem");
    run_pair(&srv, &cli);
    assert_int_equal(cli.rc, -EACCES);
    assert_true(srv.rc < 0);
}

static void test_client_expired(void **state)
{
    struct side srv, cli;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    x509(&cli, 0, "ca.pem", "expired.pem");
    expect_refused(&srv, &cli, -EACCES);
}

static void test_client_not_yet_valid(void **state)
{
    struct side srv, cli;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    x509(&cli, 0, "ca.pem", "notyet.pem");
    expect_refused(&srv, &cli, -EACCES);
}

static void test_server_expired(void **state)
{
    struct side srv, cli;
    static const char *const allow_a_only[] = { "host-a", NULL };

    x509(&srv, 1, "ca.pem", "expired.pem");
    x509(&cli, 0, "ca.pem", "host-a.pem");
    cli.peer_name = "host-a";
    cli.o.allow = allow_a_only;
    run_pair(&srv, &cli);
    assert_int_equal(cli.rc, -EACCES);
    assert_null(cli.ch);
}

static void test_name_mismatch(void **state)
{
    struct side srv, cli;
    static const char *const allow_none[] = { NULL };

    x509(&srv, 1, "ca.pem", "other.pem"); /* valid, but for other.example */
    x509(&cli, 0, "ca.pem", "host-a.pem");
    cli.o.allow = allow_none; /* the name check alone must refuse */
    run_pair(&srv, &cli);
    assert_int_equal(cli.rc, -EACCES);
    assert_null(cli.ch);
}

static void test_not_on_allowlist(void **state)
{
    struct side srv, cli;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    x509(&cli, 0, "ca.pem", "stranger.pem");
    expect_refused(&srv, &cli, -EACCES);
}

static void test_server_not_on_client_allowlist(void **state)
{
    struct side srv, cli;
    static const char *const allow_c[] = { "host-c", NULL };

    x509(&srv, 1, "ca.pem", "host-b.pem");
    x509(&cli, 0, "ca.pem", "host-a.pem");
    cli.o.allow = allow_c;
    run_pair(&srv, &cli);
    assert_int_equal(cli.rc, -EACCES);
    assert_null(cli.ch);
}

static void test_server_needs_allowlist(void **state)
{
    struct side srv;
    struct tls_ctx *ctx = NULL;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    keyfile(&srv, srv.o.cert_file);
    srv.o.allow = NULL;
    assert_int_equal(tls_ctx_new(&srv.o, 1, &ctx), -EINVAL);
    assert_null(ctx);
    srv.o.allow = allow_a;
    srv.o.ca_file = p("missing.pem");
    assert_int_equal(tls_ctx_new(&srv.o, 1, &ctx), -EINVAL);
}

static void psk(struct side *s, int server, const char *file)
{
    memset(s, 0, sizeof(*s));
    s->server = server;
    s->o.mode = TLS_MODE_PSK;
    s->o.psk_file = p(file);
    s->o.psk_identity = server ? NULL : "host-a";
    s->o.allow = server ? allow_a : NULL;
    s->o.handshake_timeout_ms = 5000;
    s->peer_name = server ? "test-client" : "host-b";
}

static void test_psk_good(void **state)
{
    struct side srv, cli;
    char buf[8] = { 0 };

    psk(&srv, 1, "psk.txt");
    psk(&cli, 0, "psk.txt");
    run_pair(&srv, &cli);
    assert_int_equal(srv.rc, 0);
    assert_int_equal(cli.rc, 0);
    assert_string_equal(srv.identity, "host-a");
    assert_int_equal(channel_write_all(cli.ch, 0, "psk", 3, 2000), 0);
    assert_int_equal(channel_read_exact(srv.ch, 0, buf, 3, 2000), 0);
    assert_string_equal(buf, "psk");
    done(&srv);
    done(&cli);
}

static void test_psk_mismatch(void **state)
{
    struct side srv, cli;

    psk(&srv, 1, "psk.txt");
    psk(&cli, 0, "psk-wrong.txt");
    run_pair(&srv, &cli);
    assert_true(srv.rc < 0);
    assert_true(cli.rc < 0);
    assert_null(srv.ch);
    assert_null(cli.ch);
}

static void test_psk_identity_not_allowed(void **state)
{
    struct side srv, cli;

    psk(&srv, 1, "psk.txt");
    psk(&cli, 0, "psk.txt");
    cli.o.psk_identity = "host-b"; /* known key, not on the allowlist */
    expect_refused(&srv, &cli, -EACCES);
}

static void test_silent_peer_times_out(void **state)
{
    struct side srv;
    struct tls_ctx *ctx = NULL;
    struct channel *ch = NULL;
    struct timespec t0, t1;
    int sp[2];
    long ms;

    x509(&srv, 1, "ca.pem", "host-b.pem");
    keyfile(&srv, srv.o.cert_file);
    srv.o.handshake_timeout_ms = 300;
    assert_int_equal(tls_ctx_new(&srv.o, 1, &ctx), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tls_channel_new(ctx, sp[0], "silent", &ch, NULL),
                     -ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 250 && ms < 3000);
    assert_null(ch);
    close(sp[1]);
    tls_ctx_free(ctx);
}

static void test_plaintext_peer(void **state)
{
    struct side srv;
    struct tls_ctx *ctx = NULL;
    struct channel *ch = NULL;
    static const char xl_header[] = "Xen migration stream v2\n"
                                    "xl migration receiver ready\n";
    int sp[2];

    x509(&srv, 1, "ca.pem", "host-b.pem");
    keyfile(&srv, srv.o.cert_file);
    assert_int_equal(tls_ctx_new(&srv.o, 1, &ctx), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(write(sp[1], xl_header, sizeof(xl_header) - 1),
                     (ssize_t)sizeof(xl_header) - 1);
    assert_true(tls_channel_new(ctx, sp[0], "plaintext", &ch, NULL) < 0);
    assert_null(ch);
    close(sp[1]);
    tls_ctx_free(ctx);
}

/* ---------------------------------------------------------- xlmig.conf */

static void test_conf_parse(void **state)
{
    struct tls_conf c;
    static const char ok[] = "# comment\n"
                             "mode = psk\n"
                             "psk-file = /k\n"
                             "  allow = host-a  \n"
                             "allow=host-b\n"
                             "\n"
                             "port = 9000\n"
                             "max-connections = 4\n"
                             "handshake-timeout-ms = 2000";

    assert_int_equal(tls_conf_init(&c), 0);
    assert_string_equal(c.opts.ca_file, "/etc/xlmig/ca.pem");
    assert_int_equal(tls_conf_parse(&c, ok, sizeof(ok) - 1, "t"), 0);
    assert_int_equal(c.opts.mode, TLS_MODE_PSK);
    assert_string_equal(c.opts.psk_file, "/k");
    assert_string_equal(c.opts.allow[0], "host-a");
    assert_string_equal(c.opts.allow[1], "host-b");
    assert_null(c.opts.allow[2]);
    assert_string_equal(c.port, "9000");
    assert_int_equal(c.max_conns, 4);
    assert_int_equal(c.opts.handshake_timeout_ms, 2000);
    tls_conf_dispose(&c);
}

static void test_conf_errors(void **state)
{
    static const char *const bad[] = {
        "mode = tls12\n",   "port = 0\n",
        "port = 70000\n",   "nokey\n",
        "frobnicate = 1\n", "max-connections = 0\n",
        "allow =\n",        "handshake-timeout-ms = -1\n",
    };
    struct tls_conf c;
    char nul[] = "port = 1\0 0\n";

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tls_conf_init(&c), 0);
        assert_int_equal(tls_conf_parse(&c, bad[i], strlen(bad[i]), "t"),
                         -EINVAL);
        tls_conf_dispose(&c);
    }
    assert_int_equal(tls_conf_init(&c), 0);
    assert_int_equal(tls_conf_parse(&c, nul, sizeof(nul) - 1, "t"), -EINVAL);
    tls_conf_dispose(&c);
}

static int make_pki(void **state)
{
    const char *root = getenv("XLMIG_ROOT");
    char cmd[600];

    snprintf(pki, sizeof(pki), "/tmp/xlmig-test-tls.%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "%s/tests/tls/mk-certs %s >/dev/null",
             root ? root : ".", pki);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_pki(void **state)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x509_good),
        cmocka_unit_test(test_client_wrong_ca),
        cmocka_unit_test(test_client_rogue_cert),
        cmocka_unit_test(test_server_wrong_ca),
        cmocka_unit_test(test_client_expired),
        cmocka_unit_test(test_client_not_yet_valid),
        cmocka_unit_test(test_server_expired),
        cmocka_unit_test(test_name_mismatch),
        cmocka_unit_test(test_not_on_allowlist),
        cmocka_unit_test(test_server_not_on_client_allowlist),
        cmocka_unit_test(test_server_needs_allowlist),
        cmocka_unit_test(test_psk_good),
        cmocka_unit_test(test_psk_mismatch),
        cmocka_unit_test(test_psk_identity_not_allowed),
        cmocka_unit_test(test_silent_peer_times_out),
        cmocka_unit_test(test_plaintext_peer),
        cmocka_unit_test(test_conf_parse),
        cmocka_unit_test(test_conf_errors),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
