/* SPDX-License-Identifier: MIT */
/* The guest's free memory handed back zeroed (xenstore-hooks/guest/
 * xsg_zero.c): /proc/meminfo parsing, the budget and its reserve, and a
 * bounded real run on this machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../xenstore-hooks/guest/xsg_zero.h"

static void test_parse(void **state)
{
    uint64_t t = 0, f = 0;

    assert_int_equal(xsg_meminfo_parse("MemTotal:         262144 kB\n"
                                       "MemFree:          200000 kB\n"
                                       "MemAvailable:     210000 kB\n",
                                       &t, &f),
                     0);
    assert_true(t == 262144 && f == 200000);
    /* order does not matter; MemFreeX is not MemFree */
    assert_int_equal(xsg_meminfo_parse("MemFreeX: 1 kB\nMemFree: 7 kB\n"
                                       "MemTotal: 9 kB\n",
                                       &t, &f),
                     0);
    assert_true(t == 9 && f == 7);
    assert_int_equal(xsg_meminfo_parse("MemTotal: 9 kB\n", &t, &f), -EINVAL);
    assert_int_equal(
        xsg_meminfo_parse("MemTotal: x kB\nMemFree: 1 kB\n", &t, &f), -EINVAL);
    assert_int_equal(
        xsg_meminfo_parse("MemTotal: 9 MB\nMemFree: 1 kB\n", &t, &f), -EINVAL);
    assert_int_equal(xsg_meminfo_parse("", &t, &f), -EINVAL);
}

static void test_budget(void **state)
{
    /* 256 MiB guest: reserve 16 MiB (the minimum beats 256/16 = 16) */
    assert_true(xsg_zero_budget(262144, 200u * 1024) == (200ull - 16) << 20);
    /* 4 GiB: reserve MemTotal / 16 = 256 MiB */
    assert_true(xsg_zero_budget(4ull << 20, 1ull << 20) == (1024ull - 256)
                                                               << 20);
    /* nothing above the reserve: nothing */
    assert_true(xsg_zero_budget(262144, 10u * 1024) == 0);
}

static void test_real_bounded(void **state)
{
    struct xsg_zero_result z;

    /* at most 3 chunks of this machine's memory, released again */
    assert_int_equal(xsg_zero_free(3ull * XSG_ZERO_CHUNK, &z), 0);
    assert_true(z.zeroed_bytes <= 3ull * XSG_ZERO_CHUNK);
    assert_true(z.zeroed_bytes % XSG_ZERO_CHUNK == 0);
    assert_true(z.free_before_kb > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_real_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
