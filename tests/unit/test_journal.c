/* SPDX-License-Identifier: MIT */
/* The exactly-once journal: records, text form, phases, decisions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/journal.h"

#define U1 "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

static void test_uuid(void **state)
{
    assert_true(journal_uuid_valid(U1));
    assert_false(journal_uuid_valid("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"));
    assert_false(journal_uuid_valid(U1 "0"));
    assert_false(journal_uuid_valid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f"));
    assert_false(journal_uuid_valid("0f1e2d3c+4b5a-6978-8796-a5b4c3d2e1f0"));
    assert_false(journal_uuid_valid("../../../../etc/passwd-aaaaaaaaaaaaa"));
    assert_false(journal_uuid_valid(""));
}

static void test_init(void **state)
{
    struct journal_rec r;

    assert_int_equal(journal_rec_init(&r, JOURNAL_SOURCE, U1, 3, "g", "B"), 0);
    assert_int_equal(r.phase, JOURNAL_SENDING);
    assert_int_equal(r.epoch, 3);
    assert_string_equal(r.domain, "g");
    assert_int_equal(journal_rec_init(&r, JOURNAL_TARGET, U1, 1, NULL, NULL),
                     0);
    assert_int_equal(r.phase, JOURNAL_RECEIVING);
    assert_string_equal(r.domain, "");
    assert_int_equal(journal_rec_init(&r, JOURNAL_TARGET, U1, 0, "g", ""),
                     -EINVAL);
    assert_int_equal(journal_rec_init(&r, JOURNAL_TARGET, "x", 1, "g", ""),
                     -EINVAL);
    assert_int_equal(journal_rec_init(&r, JOURNAL_TARGET, U1, 1, "a\nb", ""),
                     -EINVAL);
}

/* every legal and illegal phase change of both roles */
static void test_transitions(void **state)
{
    static const struct {
        enum journal_role role;
        enum journal_phase from, to;
    } ok[] = {
        { JOURNAL_SOURCE, JOURNAL_SENDING, JOURNAL_GO_SENT },
        { JOURNAL_SOURCE, JOURNAL_SENDING, JOURNAL_ABORTED },
        { JOURNAL_SOURCE, JOURNAL_GO_SENT, JOURNAL_DONE },
        { JOURNAL_SOURCE, JOURNAL_GO_SENT, JOURNAL_ABORTED },
        { JOURNAL_TARGET, JOURNAL_RECEIVING, JOURNAL_READY },
        { JOURNAL_TARGET, JOURNAL_RECEIVING, JOURNAL_ABORTED },
        { JOURNAL_TARGET, JOURNAL_READY, JOURNAL_RUNNING },
        { JOURNAL_TARGET, JOURNAL_READY, JOURNAL_ABORTED },
        { JOURNAL_TARGET, JOURNAL_RUNNING, JOURNAL_DONE },
        { JOURNAL_TARGET, JOURNAL_RUNNING, JOURNAL_ABORTED },
    };
    int role, from, to, legal;
    size_t i, nlegal = 0;

    for (role = 0; role < 2; role++)
        for (from = 0; from < JOURNAL_NPHASES; from++)
            for (to = 0; to < JOURNAL_NPHASES; to++) {
                legal = 0;
                for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                    if ((int)ok[i].role == role && (int)ok[i].from == from &&
                        (int)ok[i].to == to)
                        legal = 1;
                nlegal += legal;
                assert_int_equal(
                    journal_check_transition((enum journal_role)role,
                                             (enum journal_phase)from,
                                             (enum journal_phase)to),
                    legal ? 0 : -EINVAL);
            }
    assert_int_equal(nlegal, 10);
}

static void test_advance(void **state)
{
    struct journal_rec r;

    assert_int_equal(journal_rec_init(&r, JOURNAL_TARGET, U1, 2, "g", ""), 0);
    assert_int_equal(journal_advance(&r, JOURNAL_RUNNING, 5), -EINVAL);
    assert_int_equal(r.phase, JOURNAL_RECEIVING);
    assert_int_equal(journal_advance(&r, JOURNAL_READY, 6), 0);
    assert_int_equal(journal_advance(&r, JOURNAL_RUNNING, 7), 0);
    assert_int_equal(r.time_s, 7);
    assert_int_equal(journal_advance(&r, JOURNAL_DONE, 8), 0);
    assert_int_equal(journal_advance(&r, JOURNAL_ABORTED, 9), -EINVAL);
}

static void test_roundtrip(void **state)
{
    struct journal_rec r, d;
    char buf[JOURNAL_TEXT_MAX];
    int n;

    assert_int_equal(journal_rec_init(&r, JOURNAL_SOURCE, U1, 42, "guest-1",
                                      "10.0.0.2:8002"),
                     0);
    r.domid = 17;
    r.pid = 1234;
    r.time_s = 1700000000;
    assert_int_equal(journal_advance(&r, JOURNAL_GO_SENT, 1700000001), 0);
    n = journal_encode(&r, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(journal_decode(buf, (size_t)n, &d), 0);
    assert_string_equal(d.uuid, U1);
    assert_int_equal(d.epoch, 42);
    assert_int_equal(d.role, JOURNAL_SOURCE);
    assert_int_equal(d.phase, JOURNAL_GO_SENT);
    assert_string_equal(d.domain, "guest-1");
    assert_string_equal(d.peer, "10.0.0.2:8002");
    assert_int_equal(d.domid, 17);
    assert_int_equal(d.pid, 1234);
    assert_int_equal(d.time_s, 1700000001);
    assert_int_equal(journal_encode(&r, buf, 20), -ENOSPC);
}

static void expect_bad(const char *text)
{
    struct journal_rec d;

    assert_int_equal(journal_decode(text, strlen(text), &d), -EINVAL);
    assert_int_equal(d.epoch, 0); /* nothing half-filled */
}

#define HDR "xlmig-journal=1\nuuid=" U1 "\nepoch=1\n"

static void test_decode_bad(void **state)
{
    struct journal_rec d;
    char big[JOURNAL_TEXT_MAX + 2];
    const char *good = HDR "role=target\nphase=ready\nfuture=x\n";

    assert_int_equal(journal_decode(good, strlen(good), &d), 0);
    assert_int_equal(d.phase, JOURNAL_READY);
    /* terminal phases belong to both roles */
    good = HDR "role=target\nphase=done\n";
    assert_int_equal(journal_decode(good, strlen(good), &d), 0);
    good = HDR "role=source\nphase=aborted\n";
    assert_int_equal(journal_decode(good, strlen(good), &d), 0);
    expect_bad("");
    expect_bad(HDR "role=target\n");                /* no phase */
    expect_bad(HDR "role=target\nphase=ready");     /* no newline */
    expect_bad(HDR "role=target\nphase=flying\n");  /* bad phase */
    expect_bad(HDR "role=both\nphase=ready\n");     /* bad role */
    expect_bad(HDR "role=source\nphase=ready\n");   /* role mismatch */
    expect_bad(HDR "role=target\nphase=go-sent\n"); /* role mismatch */
    expect_bad("xlmig-journal=2\nuuid=" U1 "\nepoch=1\nrole=target\n"
               "phase=ready\n"); /* version */
    expect_bad("xlmig-journal=1\nuuid=" U1 "\nepoch=0\nrole=target\n"
               "phase=ready\n"); /* epoch 0 */
    expect_bad("xlmig-journal=1\nuuid=" U1 "\nepoch=-1\nrole=target\n"
               "phase=ready\n");
    expect_bad("xlmig-journal=1\nuuid=" U1 "\nepoch=99999999999999999999\n"
               "role=target\nphase=ready\n"); /* overflow */
    expect_bad(HDR "role=target\nphase=ready\ndomid=4294967296\n");
    expect_bad(HDR "role=target\nphase=ready\nnoequals\n");
    expect_bad("xlmig-journal=1\nuuid=../x\nepoch=1\nrole=target\n"
               "phase=ready\n");
    /* over the cap: refused before anything is copied */
    memset(big, 'a', sizeof(big));
    assert_int_equal(journal_decode(big, sizeof(big), &d), -EINVAL);
    assert_int_equal(journal_decode("a\0b\n", 4, &d), -EINVAL);
}

static void test_query(void **state)
{
    struct journal_rec r;
    static const struct {
        enum journal_phase ph;
        enum journal_query_action a;
    } t[] = {
        { JOURNAL_RECEIVING, JOURNAL_Q_FENCE },
        { JOURNAL_READY, JOURNAL_Q_FENCE },
        { JOURNAL_RUNNING, JOURNAL_Q_ANSWER_RUNNING },
        { JOURNAL_DONE, JOURNAL_Q_ANSWER_RUNNING },
        { JOURNAL_ABORTED, JOURNAL_Q_ANSWER_NEVER_RAN },
    };
    size_t i;

    assert_int_equal(journal_query_action(NULL, 1), JOURNAL_Q_ANSWER_NEVER_RAN);
    assert_int_equal(journal_rec_init(&r, JOURNAL_TARGET, U1, 5, "g", ""), 0);
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        r.phase = t[i].ph;
        assert_int_equal(journal_query_action(&r, 5), t[i].a);
        /* another epoch of the same uuid: never a definite answer */
        assert_int_equal(journal_query_action(&r, 4), JOURNAL_Q_ANSWER_UNKNOWN);
    }
    r.role = JOURNAL_SOURCE;
    r.phase = JOURNAL_GO_SENT;
    assert_int_equal(journal_query_action(&r, 5), JOURNAL_Q_ANSWER_UNKNOWN);
}

static void test_sweep(void **state)
{
    struct journal_rec r;
    uint64_t now = 1000000000;

    assert_int_equal(journal_rec_init(&r, JOURNAL_SOURCE, U1, 1, "g", "B"), 0);
    assert_int_equal(journal_sweep_action(&r, 1, now), JOURNAL_SW_KEEP);
    assert_int_equal(journal_sweep_action(&r, 0, now),
                     JOURNAL_SW_RESUME_SOURCE);
    r.phase = JOURNAL_GO_SENT;
    assert_int_equal(journal_sweep_action(&r, 0, now), JOURNAL_SW_QUERY_PEER);
    assert_int_equal(journal_sweep_action(&r, 1, now), JOURNAL_SW_KEEP);
    r.role = JOURNAL_TARGET;
    r.phase = JOURNAL_RECEIVING;
    assert_int_equal(journal_sweep_action(&r, 0, now),
                     JOURNAL_SW_DESTROY_PAUSED);
    r.phase = JOURNAL_READY;
    assert_int_equal(journal_sweep_action(&r, 0, now),
                     JOURNAL_SW_DESTROY_PAUSED);
    r.phase = JOURNAL_RUNNING;
    assert_int_equal(journal_sweep_action(&r, 0, now), JOURNAL_SW_FINISH_START);
    r.phase = JOURNAL_DONE;
    r.time_s = now - 10;
    assert_int_equal(journal_sweep_action(&r, 0, now), JOURNAL_SW_KEEP);
    r.time_s = now - JOURNAL_KEEP_DONE_S - 1;
    assert_int_equal(journal_sweep_action(&r, 0, now), JOURNAL_SW_REMOVE);
    r.time_s = now + 100; /* clock went back: keep */
    assert_int_equal(journal_sweep_action(&r, 0, now), JOURNAL_SW_KEEP);
}

static void test_src_action(void **state)
{
    assert_int_equal(journal_src_action(0, JOURNAL_ANS_NEVER_RAN),
                     JOURNAL_SRC_RESUME);
    assert_int_equal(journal_src_action(0, JOURNAL_ANS_RUNNING),
                     JOURNAL_SRC_DESTROY);
    assert_int_equal(journal_src_action(0, JOURNAL_ANS_UNKNOWN),
                     JOURNAL_SRC_STAY_PAUSED);
    /* no answer at all is never a licence to resume */
    assert_int_equal(journal_src_action(-ETIMEDOUT, JOURNAL_ANS_NEVER_RAN),
                     JOURNAL_SRC_STAY_PAUSED);
    assert_int_equal(journal_src_action(-ECONNREFUSED, JOURNAL_ANS_RUNNING),
                     JOURNAL_SRC_STAY_PAUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid),        cmocka_unit_test(test_init),
        cmocka_unit_test(test_transitions), cmocka_unit_test(test_advance),
        cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_decode_bad),
        cmocka_unit_test(test_query),       cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_src_action),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
