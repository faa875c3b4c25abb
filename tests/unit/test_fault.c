/* SPDX-License-Identifier: MIT */
/* Fault points: parsing XLMIG_FAULT, firing once, the actions. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/fault.h"

static int last_sig, nsig, nrun;
static char last_cmd[128];

static int fake_run(const char *cmd)
{
    snprintf(last_cmd, sizeof(last_cmd), "%s", cmd);
    nrun++;
    return 0;
}

static void fake_exec(int sig)
{
    last_sig = sig;
    nsig++;
}

static int setup(void **state)
{
    last_sig = nsig = nrun = 0;
    last_cmd[0] = '\0';
    fault_set_executor(fake_exec);
    fault_set_runner(fake_run);
    unsetenv(FAULT_ENV);
    unsetenv(FAULT_HOOK_ENV);
    fault_reset();
    return 0;
}

static void test_parse(void **state)
{
    struct fault_spec f;
    int i, n = 0;

    assert_int_equal(fault_parse("connect", &f), 0);
    assert_int_equal(f.point, FAULT_CONNECT);
    assert_int_equal(f.action, FAULT_ERROR);
    assert_int_equal(fault_parse("after-go:kill", &f), 0);
    assert_int_equal(f.point, FAULT_AFTER_GO);
    assert_int_equal(f.action, FAULT_KILL);
    assert_int_equal(fault_parse("recv-after-go:stop", &f), 0);
    assert_int_equal(f.point, FAULT_RECV_AFTER_GO);
    assert_int_equal(f.action, FAULT_STOP);
    assert_int_equal(fault_parse("precopy-round-3:error", &f), 0);
    assert_int_equal(f.point, FAULT_PRECOPY_ROUND);
    assert_int_equal(f.arg, 3);
    assert_int_equal(fault_parse("precopy-round-0", &f), 0);
    assert_int_equal(f.arg, 0);
    assert_int_equal(fault_parse("precopy-round", &f), -EINVAL);
    assert_int_equal(fault_parse("precopy-round-", &f), -EINVAL);
    assert_int_equal(fault_parse("precopy-round-x", &f), -EINVAL);
    assert_int_equal(fault_parse("precopy-round-2x", &f), -EINVAL);
    assert_int_equal(fault_parse("precopy-round-999999", &f), -EINVAL);
    assert_int_equal(fault_parse("", &f), -EINVAL);
    assert_int_equal(fault_parse("connectx", &f), -EINVAL);
    assert_int_equal(fault_parse("connect:", &f), -EINVAL);
    assert_int_equal(fault_parse("connect:explode", &f), -EINVAL);
    assert_int_equal(fault_parse("after", &f), -EINVAL);
    /* every point's name parses back to itself */
    for (i = 0; i < FAULT_NPOINTS; i++) {
        char name[64];

        if (i == FAULT_PRECOPY_ROUND)
            strcpy(name, "precopy-round-1");
        else
            strcpy(name, fault_point_name((enum fault_point)i));
        assert_int_equal(fault_parse(name, &f), 0);
        assert_int_equal(f.point, i);
        n++;
    }
    assert_true(n >= 12);
}

static void test_off_by_default(void **state)
{
    int i;

    for (i = 0; i < FAULT_NPOINTS; i++)
        assert_int_equal(fault_point((enum fault_point)i, 1), 0);
    assert_int_equal(nsig, 0);
}

static void test_env_error_once(void **state)
{
    setenv(FAULT_ENV, "config", 1);
    fault_reset();
    assert_int_equal(fault_point(FAULT_CONNECT, 0), 0);
    assert_int_equal(fault_point(FAULT_CONFIG, 0), -EIO);
    assert_int_equal(fault_point(FAULT_CONFIG, 0), 0); /* once */
    assert_int_equal(nsig, 0);
}

static void test_env_bad_is_off(void **state)
{
    setenv(FAULT_ENV, "nonsense:kill", 1);
    fault_reset();
    assert_int_equal(fault_hit(FAULT_CONNECT, 0), FAULT_NONE);
    assert_int_equal(nsig, 0);
}

static void test_round_k(void **state)
{
    setenv(FAULT_ENV, "precopy-round-2:kill", 1);
    fault_reset();
    assert_int_equal(fault_hit(FAULT_PRECOPY_ROUND, 0), FAULT_NONE);
    assert_int_equal(fault_hit(FAULT_PRECOPY_ROUND, 1), FAULT_NONE);
    assert_int_equal(nsig, 0);
    assert_int_equal(fault_hit(FAULT_PRECOPY_ROUND, 2), FAULT_KILL);
    assert_int_equal(last_sig, SIGKILL);
    assert_int_equal(fault_hit(FAULT_PRECOPY_ROUND, 2), FAULT_NONE);
    assert_int_equal(nsig, 1);
}

static void test_stop_and_arm(void **state)
{
    struct fault_spec f = { FAULT_RECV_AFTER_GO, FAULT_STOP, 0 };

    fault_arm(&f);
    assert_int_equal(fault_point(FAULT_AFTER_GO, 0), 0);
    assert_int_equal(fault_point(FAULT_RECV_AFTER_GO, 0), 0);
    assert_int_equal(last_sig, SIGSTOP);
    fault_arm(NULL);
    assert_int_equal(fault_hit(FAULT_RECV_AFTER_GO, 0), FAULT_NONE);
}

/* hook: the command runs once, at the point, and the step goes on */
static void test_hook(void **state)
{
    struct fault_spec f;

    assert_int_equal(fault_parse("after-go:hook", &f), 0);
    assert_int_equal(f.action, FAULT_HOOK);
    setenv(FAULT_ENV, "recv-before-report:hook", 1);
    setenv(FAULT_HOOK_ENV, "ip link set dev eth1 down", 1);
    fault_reset();
    assert_int_equal(fault_point(FAULT_RECV_AFTER_GO, 0), 0);
    assert_int_equal(nrun, 0);
    assert_int_equal(fault_hit(FAULT_RECV_BEFORE_REPORT, 0), FAULT_HOOK);
    assert_int_equal(nrun, 1);
    assert_string_equal(last_cmd, "ip link set dev eth1 down");
    assert_int_equal(fault_point(FAULT_RECV_BEFORE_REPORT, 0), 0); /* once */
    assert_int_equal(nrun, 1);
    assert_int_equal(nsig, 0);
    /* without a command: nothing runs, the step still goes on */
    unsetenv(FAULT_HOOK_ENV);
    fault_reset();
    assert_int_equal(fault_point(FAULT_RECV_BEFORE_REPORT, 0), 0);
    assert_int_equal(nrun, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_parse, setup),
        cmocka_unit_test_setup(test_off_by_default, setup),
        cmocka_unit_test_setup(test_env_error_once, setup),
        cmocka_unit_test_setup(test_env_bad_is_off, setup),
        cmocka_unit_test_setup(test_round_k, setup),
        cmocka_unit_test_setup(test_stop_and_arm, setup),
        cmocka_unit_test_setup(test_hook, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
