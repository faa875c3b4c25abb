/* SPDX-License-Identifier: MIT */
/*
 * The exactly-once hand-over in the session (fake backends, in-memory
 * journals): GO carries uuid and epoch, RUNNING is journaled before the
 * unpause, a fenced target never starts, the in-doubt source acts only on
 * a definite answer, and a query on a new connection is answered.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/fault.h"
#include "engine/session.h"
#include "transport/xlproto.h"

#define U1           "11111111-2222-3333-4444-555555555555"
#define STREAM_BYTES (256u << 10)
static const char cfg[] = "{\"c_info\":{\"name\":\"g1\"}}";

/* ------------------------------------------------ fake source and dst */

struct fsrc {
    int resumes, destroys;
    char name[64];
};

static int fsrc_save(void *be, int fd, const struct mig_save_args *a)
{
    static uint8_t buf[STREAM_BYTES];
    uint64_t len = STREAM_BYTES;
    struct precopy_round r = { 0 };
    size_t off = 0;
    ssize_t n;

    r.dirty_pages = 10;
    a->policy.decide(a->policy.opaque, &r);
    a->suspended(a->opaque);
    if (write(fd, &len, 8) != 8)
        return -EPIPE;
    while (off < len) {
        n = write(fd, buf + off, len - off);
        if (n <= 0)
            return -EPIPE;
        off += (size_t)n;
    }
    return 0;
}

static int fsrc_resume(void *be)
{
    ((struct fsrc *)be)->resumes++;
    return 0;
}

static int fsrc_rename(void *be, const char *from, const char *to)
{
    snprintf(((struct fsrc *)be)->name, 64, "%s", to);
    return 0;
}

static int fsrc_destroy(void *be)
{
    ((struct fsrc *)be)->destroys++;
    return 0;
}

static const struct mig_src_ops fsrc_ops = { fsrc_save, fsrc_resume,
                                             fsrc_rename, fsrc_destroy };

struct fdst {
    int unpauses, destroys;
    int unpauses_at_running; /* unpause count when RUNNING was journaled */
};

static int fdst_restore(void *be, const char *json, int stream_fd, int back_fd,
                        uint32_t *domid_r, char **name_r)
{
    uint8_t buf[65536];
    uint64_t len, off = 0;
    ssize_t n;

    if (read(stream_fd, &len, 8) != 8 || len != STREAM_BYTES)
        return -3;
    while (off < len) {
        n = read(stream_fd, buf,
                 sizeof(buf) < len - off ? sizeof(buf) : len - off);
        if (n <= 0)
            return -3;
        off += (uint64_t)n;
    }
    *domid_r = 9;
    *name_r = strdup("g1");
    return 0;
}

static int fdst_rename(void *be, uint32_t d, const char *f, const char *t)
{
    return 0;
}

static int fdst_unpause(void *be, uint32_t domid)
{
    ((struct fdst *)be)->unpauses++;
    return 0;
}

static int fdst_destroy(void *be, uint32_t domid)
{
    ((struct fdst *)be)->destroys++;
    return 0;
}

static const struct mig_dst_ops fdst_ops = { fdst_restore, fdst_rename,
                                             fdst_unpause, fdst_destroy };

/* --------------------------------------------------- in-memory journals */

struct jsrc {
    enum journal_phase phases[8];
    int n;
    int query_rc;
    enum journal_answer answer;
    int queries, in_doubts;
};

static int jsrc_journal(void *opaque, enum journal_phase to)
{
    struct jsrc *j = opaque;

    j->phases[j->n++] = to;
    return 0;
}

static int jsrc_query(void *opaque, enum journal_answer *a)
{
    struct jsrc *j = opaque;

    j->queries++;
    *a = j->answer;
    return j->query_rc;
}

static void jsrc_in_doubt(void *opaque)
{
    ((struct jsrc *)opaque)->in_doubts++;
}

struct jdst {
    char uuid[64];
    uint64_t epoch;
    enum journal_phase phases[8];
    int n;
    int fence_running; /* RUNNING returns -ESTALE */
    struct fdst *dst;
    enum journal_answer answer;
    int answers;
};

static int jdst_begin(void *opaque, const char *uuid, uint64_t epoch,
                      const char *config_json)
{
    struct jdst *j = opaque;

    snprintf(j->uuid, sizeof(j->uuid), "%s", uuid);
    j->epoch = epoch;
    return 0;
}

static int jdst_journal(void *opaque, enum journal_phase to, uint32_t domid,
                        const char *name)
{
    struct jdst *j = opaque;

    if (to == JOURNAL_RUNNING) {
        j->dst->unpauses_at_running = j->dst->unpauses;
        if (j->fence_running)
            return -ESTALE;
    }
    j->phases[j->n++] = to;
    return 0;
}

static int jdst_answer(void *opaque, const char *uuid, uint64_t epoch,
                       enum journal_answer *a)
{
    struct jdst *j = opaque;

    snprintf(j->uuid, sizeof(j->uuid), "%s", uuid);
    j->epoch = epoch;
    j->answers++;
    *a = j->answer;
    return 0;
}

/* ------------------------------------------------------------ plumbing */

struct recv_job {
    struct channel *ch;
    struct fdst *dst;
    struct mig_recv_opts o;
    int rc;
};

static void *recv_thread(void *arg)
{
    struct recv_job *j = arg;

    j->rc = mig_receive(&j->o, &fdst_ops, j->dst, j->ch);
    channel_free(j->ch);
    return NULL;
}

static int decide(void *o, const struct precopy_round *r)
{
    return PRECOPY_STOP;
}

struct run {
    struct fsrc src;
    struct fdst dst;
    struct jsrc js;
    struct jdst jd;
    struct mig_once_src os;
    struct mig_once_dst od;
    struct mig_stats st;
    int send_rc, recv_rc;
};

static void run_migration(struct run *r, int src_once, int dst_once)
{
    struct channel *snd, *rcv;
    struct recv_job j;
    struct mig_send_opts o;
    struct precopy_policy pol = { decide, NULL };
    pthread_t t;
    int s[2], b[2];

    assert_int_equal(pipe(s), 0);
    assert_int_equal(pipe(b), 0);
    assert_int_equal(channel_fd_new(s[1], b[0], &snd), 0);
    assert_int_equal(channel_fd_new(s[0], b[1], &rcv), 0);
    r->jd.dst = &r->dst;
    r->os = (struct mig_once_src){
        U1, 7, jsrc_journal, jsrc_query, jsrc_in_doubt, &r->js
    };
    r->od =
        (struct mig_once_dst){ jdst_begin, jdst_journal, jdst_answer, &r->jd };
    memset(&j, 0, sizeof(j));
    j.ch = rcv;
    j.dst = &r->dst;
    j.o.header_timeout_ms = 5000;
    j.o.go_timeout_ms = 5000;
    j.o.once = dst_once ? &r->od : NULL;
    assert_int_equal(pthread_create(&t, NULL, recv_thread, &j), 0);
    memset(&o, 0, sizeof(o));
    o.name = "g1";
    o.config = cfg;
    o.config_len = sizeof(cfg);
    o.compress = 1;
    o.banner_timeout_ms = o.ready_timeout_ms = o.report_timeout_ms = 5000;
    o.once = src_once ? &r->os : NULL;
    r->send_rc = mig_send(&o, &fsrc_ops, &r->src, pol, &stream_passthrough, snd,
                          NULL, &r->st);
    channel_free(snd);
    pthread_join(t, NULL);
    r->recv_rc = j.rc;
}

static int teardown(void **state)
{
    fault_arm(NULL);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_handover(void **state)
{
    struct run r = { 0 };

    run_migration(&r, 1, 1);
    assert_int_equal(r.send_rc, 0);
    assert_int_equal(r.recv_rc, 0);
    assert_string_equal(r.jd.uuid, U1);
    assert_int_equal(r.jd.epoch, 7);
    assert_true(r.st.peer_caps & XLPROTO_CAP_ONCE_V1);
    assert_int_equal(r.jd.n, 3);
    assert_int_equal(r.jd.phases[0], JOURNAL_READY);
    assert_int_equal(r.jd.phases[1], JOURNAL_RUNNING);
    assert_int_equal(r.jd.phases[2], JOURNAL_DONE);
    assert_int_equal(r.dst.unpauses_at_running, 0); /* journal first */
    assert_int_equal(r.dst.unpauses, 1);
    assert_int_equal(r.js.n, 2);
    assert_int_equal(r.js.phases[0], JOURNAL_GO_SENT);
    assert_int_equal(r.js.phases[1], JOURNAL_DONE);
    assert_int_equal(r.src.destroys, 1);
    assert_int_equal(r.src.resumes, 0);
}

/* a receiver without a journal: plain GO, as with an older xlmig */
static void test_target_without_journal(void **state)
{
    struct run r = { 0 };

    run_migration(&r, 1, 0);
    assert_int_equal(r.send_rc, 0);
    assert_int_equal(r.recv_rc, 0);
    assert_false(r.st.peer_caps & XLPROTO_CAP_ONCE_V1);
    assert_int_equal(r.jd.epoch, 0);
    assert_int_equal(r.dst.unpauses, 1);
}

/* a sender without a journal: the target journals nothing, as xl */
static void test_source_without_journal(void **state)
{
    struct run r = { 0 };

    run_migration(&r, 0, 1);
    assert_int_equal(r.send_rc, 0);
    assert_int_equal(r.jd.n, 0);
    assert_int_equal(r.dst.unpauses, 1);
}

/* fenced by a query before RUNNING: never unpaused, destroyed, and the
 * source resumes only after the target's permission */
static void test_fenced_target_never_runs(void **state)
{
    struct run r = { 0 };

    r.jd.fence_running = 1;
    run_migration(&r, 1, 1);
    assert_int_not_equal(r.send_rc, 0);
    assert_int_equal(r.dst.unpauses, 0);
    assert_int_equal(r.dst.destroys, 1);
    assert_int_equal(r.src.resumes, 1);
    assert_int_equal(r.src.destroys, 0);
    assert_int_equal(r.js.phases[r.js.n - 1], JOURNAL_ABORTED);
}

static void in_doubt_case(int query_rc, enum journal_answer a, int resumes,
                          int destroys, int in_doubts, int ok)
{
    struct run r = { 0 };
    struct fault_spec f = { FAULT_AFTER_GO, FAULT_ERROR, 0 };

    fault_arm(&f);
    r.js.query_rc = query_rc;
    r.js.answer = a;
    run_migration(&r, 1, 1);
    assert_int_equal(r.js.queries, 1);
    assert_int_equal(r.src.resumes, resumes);
    assert_int_equal(r.src.destroys, destroys);
    assert_int_equal(r.js.in_doubts, in_doubts);
    if (ok)
        assert_int_equal(r.send_rc, 0);
    else
        assert_int_not_equal(r.send_rc, 0);
    if (resumes)
        assert_string_equal(r.src.name, "g1");
    if (in_doubts) /* stays renamed and paused, GO_SENT stays journaled */
        assert_int_equal(r.js.phases[r.js.n - 1], JOURNAL_GO_SENT);
}

static void test_in_doubt_never_ran_resumes(void **state)
{
    in_doubt_case(0, JOURNAL_ANS_NEVER_RAN, 1, 0, 0, 0);
}

static void test_in_doubt_running_destroys(void **state)
{
    in_doubt_case(0, JOURNAL_ANS_RUNNING, 0, 1, 0, 1);
}

static void test_in_doubt_unknown_stays_paused(void **state)
{
    in_doubt_case(0, JOURNAL_ANS_UNKNOWN, 0, 0, 1, 0);
}

static void test_in_doubt_no_answer_stays_paused(void **state)
{
    in_doubt_case(-ETIMEDOUT, JOURNAL_ANS_NEVER_RAN, 0, 0, 1, 0);
}

/* a query on a new connection is answered by the receiver */
struct query_job {
    struct channel *ch;
    struct mig_recv_opts o;
    struct fdst dst;
    int rc;
};

static void *query_recv(void *arg)
{
    struct query_job *q = arg;

    q->rc = mig_receive(&q->o, &fdst_ops, &q->dst, q->ch);
    channel_free(q->ch);
    return NULL;
}

static void test_query_answered(void **state)
{
    struct channel *snd, *rcv;
    struct query_job q;
    struct jdst jd = { 0 };
    struct mig_once_dst od = { jdst_begin, jdst_journal, jdst_answer, &jd };
    struct xlproto_ctx x;
    pthread_t t;
    uint8_t ans = 0xff;
    int s[2], b[2];

    assert_int_equal(pipe(s), 0);
    assert_int_equal(pipe(b), 0);
    assert_int_equal(channel_fd_new(s[1], b[0], &snd), 0);
    assert_int_equal(channel_fd_new(s[0], b[1], &rcv), 0);
    memset(&q, 0, sizeof(q));
    q.ch = rcv;
    q.o.header_timeout_ms = q.o.go_timeout_ms = 5000;
    q.o.once = &od;
    jd.answer = JOURNAL_ANS_RUNNING;
    jd.dst = &q.dst;
    assert_int_equal(pthread_create(&t, NULL, query_recv, &q), 0);
    xlproto_ctx_init(&x, snd, 1, NULL);
    assert_int_equal(xlproto_query(&x, U1, 12, &ans, 5000), 0);
    channel_free(snd);
    pthread_join(t, NULL);
    assert_int_equal(ans, JOURNAL_ANS_RUNNING);
    assert_int_equal(jd.answers, 1);
    assert_string_equal(jd.uuid, U1);
    assert_int_equal(jd.epoch, 12);
    assert_int_equal(q.dst.unpauses + q.dst.destroys, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_handover, teardown),
        cmocka_unit_test_teardown(test_target_without_journal, teardown),
        cmocka_unit_test_teardown(test_source_without_journal, teardown),
        cmocka_unit_test_teardown(test_fenced_target_never_runs, teardown),
        cmocka_unit_test_teardown(test_in_doubt_never_ran_resumes, teardown),
        cmocka_unit_test_teardown(test_in_doubt_running_destroys, teardown),
        cmocka_unit_test_teardown(test_in_doubt_unknown_stays_paused, teardown),
        cmocka_unit_test_teardown(test_in_doubt_no_answer_stays_paused,
                                  teardown),
        cmocka_unit_test_teardown(test_query_answered, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
