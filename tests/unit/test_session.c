/* SPDX-License-Identifier: MIT */
/*
 * The migration session over pipes, with fake backends and fake stock-xl
 * peers that speak xl's exact bytes: interop both ways, negotiation
 * invisible to stock peers, and the back-out paths.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/session.h"
#include "transport/xlproto.h"

#define STREAM_BYTES (3u << 20)
static const char cfg[] = "{\"c_info\":{\"name\":\"g1\"}}";

/* The fake stream: 8-byte length then a pattern, so that a fake restore
 * reads exactly the stream (as libxl does) and checks every byte. */
static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 12));
}

/* ---------------------------------------------------------- fake src */

struct fake_src {
    int save_rc;    /* returned by save (after writing unless early) */
    int save_early; /* fail before writing anything */
    int saves, resumes, destroys, renames;
    char renamed_to[64];
    int rounds_seen;
};

static int fsrc_save(void *be, int fd, const struct mig_save_args *a)
{
    struct fake_src *s = be;
    uint8_t buf[65536];
    uint64_t len = STREAM_BYTES;
    size_t off = 0;
    struct precopy_round r = { 0 };

    s->saves++;
    if (s->save_early)
        return s->save_rc;
    /* two policy calls as libxenguest makes them */
    r.dirty_pages = 1000;
    if (a->policy.decide(a->policy.opaque, &r) == PRECOPY_CONTINUE)
        s->rounds_seen++;
    r.iteration = 1;
    r.dirty_pages = 10;
    a->policy.decide(a->policy.opaque, &r);
    a->suspended(a->opaque);
    if (write(fd, &len, 8) != 8)
        return -EPIPE;
    while (off < len) {
        size_t n = sizeof(buf), i;
        ssize_t w;

        if (n > len - off)
            n = len - off;
        for (i = 0; i < n; i++)
            buf[i] = pattern(off + i);
        w = write(fd, buf, n);
        if (w <= 0)
            return -EPIPE;
        off += (size_t)w;
    }
    return s->save_rc;
}

static int fsrc_resume(void *be)
{
    ((struct fake_src *)be)->resumes++;
    return 0;
}

static int fsrc_rename(void *be, const char *from, const char *to)
{
    struct fake_src *s = be;

    s->renames++;
    snprintf(s->renamed_to, sizeof(s->renamed_to), "%s", to);
    return 0;
}

static int fsrc_destroy(void *be)
{
    ((struct fake_src *)be)->destroys++;
    return 0;
}

static const struct mig_src_ops fsrc_ops = {
    fsrc_save,
    fsrc_resume,
    fsrc_rename,
    fsrc_destroy,
};

/* ---------------------------------------------------------- fake dst */

struct fake_dst {
    int restore_fail;
    int unpause_fail;
    int restores, renames, unpauses, destroys;
    char name_now[64];
    int stream_ok;
};

static int read_n(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = read(fd, p, len);

        if (n <= 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_stream(int fd)
{
    uint8_t buf[65536];
    uint64_t len, off = 0;

    if (read_n(fd, &len, 8) || len != STREAM_BYTES)
        return -EPROTO;
    while (off < len) {
        size_t n = sizeof(buf) < len - off ? sizeof(buf) : len - off;

        if (read_n(fd, buf, n))
            return -EPIPE;
        for (size_t i = 0; i < n; i++)
            if (buf[i] != pattern(off + i))
                return -EPROTO;
        off += n;
    }
    return 0;
}

static int fdst_restore(void *be, const char *json, int stream_fd, int back_fd,
                        uint32_t *domid_r, char **name_r)
{
    struct fake_dst *d = be;

    d->restores++;
    if (strcmp(json, cfg))
        return -22;
    d->stream_ok = read_stream(stream_fd) == 0;
    if (d->restore_fail || !d->stream_ok)
        return -3;
    *domid_r = 7;
    *name_r = strdup("g1");
    snprintf(d->name_now, sizeof(d->name_now), "g1--incoming");
    return 0;
}

static int fdst_rename(void *be, uint32_t domid, const char *from,
                       const char *to)
{
    struct fake_dst *d = be;

    d->renames++;
    if (strcmp(from, d->name_now))
        return -1;
    snprintf(d->name_now, sizeof(d->name_now), "%s", to);
    return 0;
}

static int fdst_unpause(void *be, uint32_t domid)
{
    struct fake_dst *d = be;

    d->unpauses++;
    return d->unpause_fail ? -3 : 0;
}

static int fdst_destroy(void *be, uint32_t domid)
{
    ((struct fake_dst *)be)->destroys++;
    return 0;
}

static const struct mig_dst_ops fdst_ops = {
    fdst_restore,
    fdst_rename,
    fdst_unpause,
    fdst_destroy,
};

/* ---------------------------------------------------------- plumbing */

struct pair {
    struct channel *snd, *rcv;
};

static void pair_init(struct pair *p)
{
    int s[2], b[2];

    assert_int_equal(pipe(s), 0);
    assert_int_equal(pipe(b), 0);
    assert_int_equal(channel_fd_new(s[1], b[0], &p->snd), 0);
    assert_int_equal(channel_fd_new(s[0], b[1], &p->rcv), 0);
}

struct recv_job {
    struct channel *ch;
    struct fake_dst *dst;
    struct mig_recv_opts o;
    int rc;
};

static void *recv_thread(void *arg)
{
    struct recv_job *j = arg;

    j->rc = mig_receive(&j->o, &fdst_ops, j->dst, j->ch);
    /* the receiving process exits: its end of the pipes closes */
    channel_free(j->ch);
    return NULL;
}

static int default_decide(void *o, const struct precopy_round *r)
{
    return precopy_default_decide(o, r);
}

static int run_send(struct fake_src *src, struct channel *ch, int compress,
                    struct mig_stats *st)
{
    struct mig_send_opts o;
    struct precopy_default pd;
    struct precopy_policy pol = { default_decide, &pd };
    int rc;

    precopy_default_init(&pd);
    memset(&o, 0, sizeof(o));
    o.name = "g1";
    o.config = cfg;
    o.config_len = sizeof(cfg);
    o.compress = compress;
    o.banner_timeout_ms = 5000;
    o.ready_timeout_ms = 5000;
    o.report_timeout_ms = 5000;
    rc = mig_send(&o, &fsrc_ops, src, pol, &stream_passthrough, ch, NULL, st);
    channel_free(ch);
    return rc;
}

static void start_receiver(struct recv_job *j, pthread_t *t, struct channel *ch,
                           struct fake_dst *dst)
{
    memset(&j->o, 0, sizeof(j->o));
    j->ch = ch;
    j->dst = dst;
    j->o.dec = NULL; /* passthrough: answers capabilities 0 */
    j->o.header_timeout_ms = 5000;
    j->o.go_timeout_ms = 5000;
    assert_int_equal(pthread_create(t, NULL, recv_thread, j), 0);
}

/* ------------------------------------------------------------- tests */

static void test_xlmig_to_xlmig(void **state)
{
    struct fake_src src = { 0 };
    struct fake_dst dst = { 0 };
    struct recv_job j;
    struct mig_stats st;
    struct pair p;
    pthread_t t;

    pair_init(&p);
    start_receiver(&j, &t, p.rcv, &dst);
    assert_int_equal(run_send(&src, p.snd, 1, &st), 0);
    pthread_join(t, NULL);
    assert_int_equal(j.rc, 0);
    assert_true(dst.stream_ok);
    assert_string_equal(dst.name_now, "g1");
    assert_int_equal(dst.unpauses, 1);
    assert_int_equal(dst.destroys, 0);
    assert_int_equal(src.destroys, 1);
    assert_int_equal(src.resumes, 0);
    assert_string_equal(src.renamed_to, "g1--migratedaway");
    assert_true(st.peer_is_xlmig);
    /* no decoder: only the blackout phases (engine/cost.h), which came */
    assert_int_equal(st.peer_caps, XLPROTO_CAP_PHASES);
    assert_true(st.peer_phases);
    assert_true(st.peer_restore_ns > 0);
    assert_false(st.compressed);
    assert_int_equal(st.raw_bytes, STREAM_BYTES + 8);
    assert_int_equal(st.wire_bytes, STREAM_BYTES + 8);
    assert_true(st.suspend_ns >= st.start_ns && st.report_ns > st.suspend_ns);
    assert_int_equal(st.rounds, 1);
}

/* A stock xl receiver, byte for byte as xl_migrate.c migrate_receive. */
struct stock_recv {
    struct channel *ch;
    int fail_unpause;
    int rc;
    uint32_t optional_flags;
};

static void *stock_recv_thread(void *arg)
{
    struct stock_recv *s = arg;
    uint8_t hdr[48], go[44], *opt;
    uint32_t optlen;
    int rc = -1;

    if (channel_write_all(s->ch, 1, xlproto_banner, 54, 5000))
        goto out;
    if (channel_read_exact(s->ch, 0, hdr, 48, 5000))
        goto out;
    memcpy(&s->optional_flags, hdr + 40, 4);
    memcpy(&optlen, hdr + 44, 4);
    opt = malloc(optlen);
    if (channel_read_exact(s->ch, 0, opt, optlen, 5000)) {
        free(opt);
        goto out;
    }
    free(opt);
    if (read_stream(s->ch->stream_fd))
        goto out;
    if (channel_write_all(s->ch, 1, xlproto_ready, 34, 5000))
        goto out;
    if (channel_read_exact(s->ch, 0, go, 44, 5000) ||
        memcmp(go, xlproto_go, 44))
        goto out;
    if (channel_write_all(s->ch, 1, xlproto_report, 39, 5000))
        goto out;
    if (channel_write_all(s->ch, 1, s->fail_unpause ? "\x03" : "\0", 1, 5000))
        goto out;
    if (s->fail_unpause && channel_write_all(s->ch, 1, xlproto_go, 44, 5000))
        goto out;
    /* stock xl then exits: nothing else may have arrived */
    rc = s->ch->ops->read(s->ch, 0, go, 1, 2000) == 0 ? 0 : -2;
out:
    s->rc = rc;
    channel_free(s->ch);
    return NULL;
}

static void test_xlmig_to_stock_xl(void **state)
{
    struct fake_src src = { 0 };
    struct stock_recv sr = { 0 };
    struct mig_stats st;
    struct pair p;
    pthread_t t;

    pair_init(&p);
    sr.ch = p.rcv;
    assert_int_equal(pthread_create(&t, NULL, stock_recv_thread, &sr), 0);
    assert_int_equal(run_send(&src, p.snd, 1, &st), 0);
    pthread_join(t, NULL);
    assert_int_equal(sr.rc, 0); /* saw exactly the stock bytes */
    assert_int_equal(sr.optional_flags, XLPROTO_OPTFLAG_XLMIG);
    assert_false(st.peer_is_xlmig);
    assert_int_equal(src.destroys, 1);
    assert_int_equal(src.resumes, 0);
}

static void test_xlmig_compress_off_sets_no_flag(void **state)
{
    struct fake_src src = { 0 };
    struct stock_recv sr = { 0 };
    struct mig_stats st;
    struct pair p;
    pthread_t t;

    pair_init(&p);
    sr.ch = p.rcv;
    assert_int_equal(pthread_create(&t, NULL, stock_recv_thread, &sr), 0);
    assert_int_equal(run_send(&src, p.snd, 0, &st), 0);
    pthread_join(t, NULL);
    assert_int_equal(sr.rc, 0);
    assert_int_equal(sr.optional_flags, 0);
}

static void test_target_reports_failure(void **state)
{
    struct fake_src src = { 0 };
    struct stock_recv sr = { .fail_unpause = 1 };
    struct mig_stats st;
    struct pair p;
    pthread_t t;

    pair_init(&p);
    sr.ch = p.rcv;
    assert_int_equal(pthread_create(&t, NULL, stock_recv_thread, &sr), 0);
    assert_int_not_equal(run_send(&src, p.snd, 1, &st), 0);
    pthread_join(t, NULL);
    assert_int_equal(src.destroys, 0);
    assert_int_equal(src.resumes, 1);
    assert_string_equal(src.renamed_to, "g1"); /* renamed back */
}

/* A stock xl sender, byte for byte as xl_migrate.c migrate_domain. */
struct stock_send {
    struct channel *ch;
    int die_before_go;
    int rc;
    uint8_t first_back[34];
    uint8_t report[40];
};

static void *stock_send_thread(void *arg)
{
    struct stock_send *s = arg;
    uint8_t banner[54], hdr[48], len[4];
    uint64_t slen = STREAM_BYTES;
    uint8_t buf[65536];
    size_t off = 0;
    int rc = -1;

    if (channel_read_exact(s->ch, 1, banner, 54, 5000) ||
        memcmp(banner, xlproto_banner, 54))
        goto out;
    xlproto_header_encode(hdr, 3, 0, 4 + sizeof(cfg));
    memcpy(len, &(uint32_t){ sizeof(cfg) }, 4);
    if (channel_write_all(s->ch, 0, hdr, 48, 5000) ||
        channel_write_all(s->ch, 0, len, 4, 5000) ||
        channel_write_all(s->ch, 0, cfg, sizeof(cfg), 5000) ||
        channel_write_all(s->ch, 0, &slen, 8, 5000))
        goto out;
    while (off < slen) {
        size_t n = sizeof(buf) < slen - off ? sizeof(buf) : slen - off;

        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(off + i);
        if (channel_write_all(s->ch, 0, buf, n, 5000))
            goto out;
        off += n;
    }
    /* the first back-channel bytes must be "ready", never anything else */
    if (channel_read_exact(s->ch, 1, s->first_back, 34, 5000))
        goto out;
    if (s->die_before_go) {
        rc = 0;
        goto out;
    }
    if (channel_write_all(s->ch, 0, xlproto_go, 44, 5000))
        goto out;
    if (channel_read_exact(s->ch, 1, s->report, 40, 5000))
        goto out;
    rc = 0;
out:
    s->rc = rc;
    channel_free(s->ch);
    return NULL;
}

static void test_stock_xl_to_xlmig(void **state)
{
    struct fake_dst dst = { 0 };
    struct stock_send ss = { 0 };
    struct recv_job j;
    struct pair p;
    pthread_t ts, tr;

    pair_init(&p);
    ss.ch = p.snd;
    start_receiver(&j, &tr, p.rcv, &dst);
    assert_int_equal(pthread_create(&ts, NULL, stock_send_thread, &ss), 0);
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    assert_int_equal(ss.rc, 0);
    assert_int_equal(j.rc, 0);
    /* no capability message went to the stock sender */
    assert_memory_equal(ss.first_back, xlproto_ready, 34);
    assert_memory_equal(ss.report, xlproto_report, 39);
    assert_int_equal(ss.report[39], 0);
    assert_string_equal(dst.name_now, "g1");
    assert_int_equal(dst.unpauses, 1);
}

static void test_sender_dies_before_go(void **state)
{
    struct fake_dst dst = { 0 };
    struct stock_send ss = { .die_before_go = 1 };
    struct recv_job j;
    struct pair p;
    pthread_t ts, tr;

    pair_init(&p);
    ss.ch = p.snd;
    start_receiver(&j, &tr, p.rcv, &dst);
    assert_int_equal(pthread_create(&ts, NULL, stock_send_thread, &ss), 0);
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    assert_int_not_equal(j.rc, 0);
    /* the paused --incoming copy never ran and does not stay behind */
    assert_int_equal(dst.unpauses, 0);
    assert_int_equal(dst.destroys, 1);
}

static void test_target_rejects_stream(void **state)
{
    struct fake_src src = { 0 };
    struct fake_dst dst = { .restore_fail = 1 };
    struct recv_job j;
    struct mig_stats st;
    struct pair p;
    pthread_t t;

    pair_init(&p);
    start_receiver(&j, &t, p.rcv, &dst);
    assert_int_not_equal(run_send(&src, p.snd, 1, &st), 0);
    pthread_join(t, NULL);
    assert_int_not_equal(j.rc, 0);
    assert_int_equal(src.resumes, 1);
    assert_int_equal(src.destroys, 0);
    assert_int_equal(src.renames, 0);
    assert_int_equal(dst.unpauses, 0);
}

static void test_unpause_fails_at_target(void **state)
{
    struct fake_src src = { 0 };
    struct fake_dst dst = { .unpause_fail = 1 };
    struct recv_job j;
    struct mig_stats st;
    struct pair p;
    pthread_t t;

    pair_init(&p);
    start_receiver(&j, &t, p.rcv, &dst);
    assert_int_not_equal(run_send(&src, p.snd, 1, &st), 0);
    pthread_join(t, NULL);
    /* target destroyed first, then gave permission; source resumed */
    assert_int_equal(dst.destroys, 1);
    assert_int_equal(src.resumes, 1);
    assert_int_equal(src.destroys, 0);
    assert_string_equal(src.renamed_to, "g1");
}

static void test_suspend_fails(void **state)
{
    struct fake_src src = { .save_rc = MIG_ESUSPEND, .save_early = 1 };
    struct fake_dst dst = { 0 };
    struct recv_job j;
    struct mig_stats st;
    struct pair p;
    pthread_t t;

    pair_init(&p);
    start_receiver(&j, &t, p.rcv, &dst);
    assert_int_equal(run_send(&src, p.snd, 1, &st), MIG_ESUSPEND);
    pthread_join(t, NULL);
    /* never suspended: no resume needed (as xl), nothing destroyed */
    assert_int_equal(src.resumes, 0);
    assert_int_equal(src.destroys, 0);
    assert_int_equal(dst.unpauses, 0);
}

static void test_save_fails_mid_stream(void **state)
{
    struct fake_src src = { .save_rc = -EIO };
    struct fake_dst dst = { 0 };
    struct recv_job j;
    struct mig_stats st;
    struct pair p;
    pthread_t t;

    pair_init(&p);
    start_receiver(&j, &t, p.rcv, &dst);
    assert_int_equal(run_send(&src, p.snd, 1, &st), -EIO);
    pthread_join(t, NULL);
    assert_int_equal(src.resumes, 1);
    assert_int_equal(src.destroys, 0);
    assert_int_equal(dst.unpauses, 0);
    /* the receiver restored, sent ready, got no GO: destroyed its copy */
    assert_int_equal(dst.destroys, dst.restores - (dst.restore_fail ? 1 : 0));
}

static void test_bad_banner(void **state)
{
    struct fake_src src = { 0 };
    struct mig_stats st;
    struct pair p;

    pair_init(&p);
    assert_int_equal(channel_write_all(p.rcv, 1,
                                       "ssh: connect to host h port 22: "
                                       "Connection refused\r\n\n",
                                       54, 1000),
                     0);
    assert_int_equal(run_send(&src, p.snd, 1, &st), -EPROTO);
    assert_int_equal(src.saves, 0);
    assert_int_equal(src.resumes, 0);
    channel_free(p.rcv);
}

static void test_no_receiver(void **state)
{
    struct fake_src src = { 0 };
    struct mig_stats st;
    struct pair p;

    pair_init(&p);
    channel_free(p.rcv); /* transport died at once */
    assert_int_equal(run_send(&src, p.snd, 1, &st), -EPIPE);
    assert_int_equal(src.saves, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xlmig_to_xlmig),
        cmocka_unit_test(test_xlmig_to_stock_xl),
        cmocka_unit_test(test_xlmig_compress_off_sets_no_flag),
        cmocka_unit_test(test_target_reports_failure),
        cmocka_unit_test(test_stock_xl_to_xlmig),
        cmocka_unit_test(test_sender_dies_before_go),
        cmocka_unit_test(test_target_rejects_stream),
        cmocka_unit_test(test_unpause_fails_at_target),
        cmocka_unit_test(test_suspend_fails),
        cmocka_unit_test(test_save_fails_mid_stream),
        cmocka_unit_test(test_bad_banner),
        cmocka_unit_test(test_no_receiver),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
