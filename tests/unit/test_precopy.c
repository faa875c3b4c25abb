/* SPDX-License-Identifier: MIT */
/* The default precopy policy, driven as libxenguest calls it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/precopy.h"

/* One round as send_memory_live: call with the dirty count, then -1. */
static int round_(struct precopy_default *d, unsigned it, int64_t dirty)
{
    struct precopy_round r = { .iteration = it, .dirty_pages = dirty };
    int a = precopy_default_decide(d, &r);

    if (a != PRECOPY_CONTINUE)
        return a;
    r.iteration = it + 1;
    r.dirty_pages = -1;
    return precopy_default_decide(d, &r);
}

static void test_small_dirty_set_stops(void **state)
{
    struct precopy_default d;

    precopy_default_init(&d);
    assert_int_equal(round_(&d, 0, 1 << 20), PRECOPY_CONTINUE);
    assert_int_equal(round_(&d, 1, 5000), PRECOPY_CONTINUE);
    assert_int_equal(round_(&d, 2, 600), PRECOPY_CONTINUE);
    assert_int_equal(round_(&d, 3, 49), PRECOPY_STOP);
}

static void test_stalled_dirty_set_stops(void **state)
{
    struct precopy_default d;

    precopy_default_init(&d);
    assert_int_equal(round_(&d, 0, 1 << 20), PRECOPY_CONTINUE);
    assert_int_equal(round_(&d, 1, 4000), PRECOPY_CONTINUE);
    /* a guest re-dirtying as fast as we copy: two flat rounds, stop */
    assert_int_equal(round_(&d, 2, 3900), PRECOPY_CONTINUE);
    assert_int_equal(round_(&d, 3, 3950), PRECOPY_STOP);
}

static void test_shrinking_set_goes_on(void **state)
{
    struct precopy_default d;
    int64_t dirty = 100000;
    unsigned it;

    precopy_default_init(&d);
    assert_int_equal(round_(&d, 0, 1 << 20), PRECOPY_CONTINUE);
    for (it = 1; it < d.max_rounds - 1; it++, dirty /= 2)
        assert_int_equal(round_(&d, it, dirty), PRECOPY_CONTINUE);
    /* the after-send call of the last allowed round stops */
    assert_int_equal(round_(&d, it, dirty), PRECOPY_STOP);
}

static void test_max_rounds(void **state)
{
    struct precopy_default d;
    struct precopy_round r = { .iteration = 10, .dirty_pages = 1 << 20 };

    precopy_default_init(&d);
    assert_int_equal(precopy_default_decide(&d, &r), PRECOPY_STOP);
    d.max_rounds = 3;
    r.iteration = 3;
    r.dirty_pages = -1;
    assert_int_equal(precopy_default_decide(&d, &r), PRECOPY_STOP);
}

static int always_abort(void *o, const struct precopy_round *r)
{
    return PRECOPY_ABORT;
}

static void test_policy_is_replaceable(void **state)
{
    struct precopy_default d;
    struct precopy_policy p;
    struct precopy_round r = { .dirty_pages = 10 };

    precopy_default_init(&d);
    p = precopy_default_policy(&d);
    assert_int_equal(p.decide(p.opaque, &r), PRECOPY_STOP);
    p.decide = always_abort;
    assert_int_equal(p.decide(p.opaque, &r), PRECOPY_ABORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_dirty_set_stops),
        cmocka_unit_test(test_stalled_dirty_set_stops),
        cmocka_unit_test(test_shrinking_set_goes_on),
        cmocka_unit_test(test_max_rounds),
        cmocka_unit_test(test_policy_is_replaceable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
