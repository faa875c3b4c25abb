/* SPDX-License-Identifier: MIT */
/*
 * The cost model's state file I/O (cli/coststate.c) in a temporary
 * XLMIG_STATE_DIR: read-modify-write under the lock, atomic replace,
 * missing and oversized files, stale-throttle records that must be kept
 * while their xlmig runs or while Xen cannot be asked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/coststate.h"

static char dir[] = "/tmp/xlmig-coststate-XXXXXX";

static int setup(void **state)
{
    if (!mkdtemp(dir))
        return -1;
    setenv("XLMIG_STATE_DIR", dir, 1);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static int learn_fn(struct cost_state *st, void *opaque)
{
    struct cost_pair *p = cost_state_pair(st, opaque);
    struct cost_blackout b = { .measured_ns = 100000000,
                               .fixed_ns = 100000000 };

    if (!p)
        return -EINVAL;
    cost_pair_learn(p, &b, 110000000);
    return 1;
}

static int add_fn(struct cost_state *st, void *opaque)
{
    return cost_state_add_throttle(st, opaque) ? -ENOSPC : 1;
}

static int noop_fn(struct cost_state *st, void *opaque)
{
    return 0;
}

static void test_missing_then_learn(void **state)
{
    struct cost_state *st = malloc(sizeof(*st));

    assert_non_null(st);
    assert_string_equal(coststate_dir(), dir);
    assert_int_equal(coststate_load(st), 0);
    assert_int_equal(st->npairs, 0);
    assert_int_equal(coststate_update(learn_fn, "a>b"), 0);
    assert_int_equal(coststate_update(learn_fn, "a>b"), 0);
    assert_int_equal(coststate_update(learn_fn, "a>c"), 0);
    assert_int_equal(coststate_load(st), 0);
    assert_int_equal(st->npairs, 2);
    assert_int_equal(st->pairs[0].samples, 2);
    assert_int_equal(st->pairs[0].nerr, 2);
    assert_int_equal(st->pairs[0].err_pm[1], 100);
    /* fn < 0: nothing written, its error returned */
    assert_int_equal(coststate_update(learn_fn, "bad key"), -EINVAL);
    assert_int_equal(coststate_update(noop_fn, NULL), 0);
    assert_int_equal(coststate_load(st), 0);
    assert_int_equal(st->npairs, 2);
    free(st);
}

static void test_oversized_file_is_ignored(void **state)
{
    struct cost_state *st = malloc(sizeof(*st));
    char path[256];
    FILE *f;
    unsigned i;

    assert_non_null(st);
    snprintf(path, sizeof(path), "%s/cost-state", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (i = 0; i < COST_STATE_MAX_BYTES / 16 + 10; i++)
        fputs("pair x>y samples=1\n", f);
    fclose(f);
    /* ignored with a warning (a cache, never written that large) */
    assert_int_equal(coststate_load(st), 0);
    assert_int_equal(st->npairs, 0);
    /* an update starts over from an empty state */
    assert_int_equal(coststate_update(learn_fn, "a>b"), 0);
    assert_int_equal(coststate_load(st), 0);
    assert_int_equal(st->npairs, 1);
    free(st);
}

static void test_stale_records_kept_when_unsure(void **state)
{
    struct cost_state *st = malloc(sizeof(*st));
    struct cost_throttle_rec live = { 5, (int32_t)getpid(), 0, 80 };
    struct cost_throttle_rec dead = { 0, 2147483646, 0, 80 };

    assert_non_null(st);
    assert_int_equal(coststate_update(add_fn, &live), 0);
    /* its xlmig (this process) runs: left alone, Xen never asked */
    assert_int_equal(coststate_release_stale(), 0);
    assert_int_equal(coststate_load(st), 0);
    assert_int_equal(st->nthrottles, 1);
    assert_int_equal(st->throttles[0].domid, 5);
    /* a dead owner, but no Xen to ask here: kept for a later run */
    dead.domid = 6;
    assert_int_equal(coststate_update(add_fn, &dead), 0);
    assert_true(coststate_release_stale() < 0);
    assert_int_equal(coststate_load(st), 0);
    assert_int_equal(st->nthrottles, 2);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_then_learn),
        cmocka_unit_test(test_oversized_file_is_ignored),
        cmocka_unit_test(test_stale_records_kept_when_unsure),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
