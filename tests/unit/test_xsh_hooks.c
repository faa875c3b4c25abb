/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the hook-script runner (xenstore-hooks/xsh_hooks.c) with
 * real scripts in a temporary directory: order, arguments, environment,
 * failures, skipped names, refused permissions, and timeouts that kill
 * the hook's whole process group.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "../../xenstore-hooks/xsh_hooks.h"

static char dir[64];
static char out[96];

static void put(const char *name, mode_t mode, const char *body)
{
    char path[160];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* The file the hooks append to, as one string. */
static char *slurp(void)
{
    static char buf[4096];
    FILE *f = fopen(out, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (!f)
        return buf;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/xsh-hooks-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(out, sizeof(out), "%s.out", dir);
    unlink(out);
    return 0;
}

static int teardown(void **state)
{
    char cmd[200];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, out);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static struct xsh_hook_env env_of(enum xsh_stage st)
{
    struct xsh_hook_env e = {
        .stage = st,
        .role = "source",
        .domain = "vm 1",
        .domid = 7,
        .uuid = "0b7a3c1e-58d2-4f6a-9e31-5a2b6c7d8e9f",
        .peer = "hostb",
        .result = "",
    };

    return e;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_missing_dir(void **state)
{
    struct xsh_hooks h;
    struct xsh_hook_env e = env_of(XSH_STAGE_PRE_MIGRATE);

    xsh_hooks_init(&h, "/nonexistent/xlmig-hooks.d", 0);
    assert_int_equal(h.timeout_ms, XSH_HOOK_TIMEOUT_MS);
    assert_int_equal(xsh_hooks_run(&h, &e, 1), 0);
    assert_int_equal(h.ran, 0);
}

static void test_order_args_env(void **state)
{
    char body[512];
    struct xsh_hooks h;
    struct xsh_hook_ops ops;
    struct xsh_hook_env e = env_of(XSH_STAGE_POST_MIGRATE);

    e.result = "ok";
    snprintf(body, sizeof(body),
             "echo \"$(basename \"$0\") [$1] [$2] [$3] $# $XLMIG_STAGE "
             "$XLMIG_ROLE [$XLMIG_DOMAIN] $XLMIG_DOMID $XLMIG_UUID "
             "$XLMIG_PEER $XLMIG_RESULT\" >>'%s'\n"
             "read -r x && echo stdin-not-null >>'%s'\nexit 0",
             out, out);
    put("20-second", 0755, body);
    put("10-first", 0755, body);
    /* skipped: not executable, or a name run-parts skips */
    put("30-not-exec", 0644, body);
    put("40-backup.dpkg-old", 0755, body);
    put(".hidden", 0755, body);
    put("50-tilde~", 0755, body);
    xsh_hooks_init(&h, dir, 5000);
    ops = xsh_hooks_ops(&h);
    assert_int_equal(ops.run(ops.opaque, &e, 0), 0);
    assert_int_equal(h.ran, 2);
    assert_int_equal(h.failed, 0);
    assert_string_equal(
        slurp(),
        "10-first [post-migrate] [vm 1] [hostb] 3 post-migrate source [vm 1] "
        "7 0b7a3c1e-58d2-4f6a-9e31-5a2b6c7d8e9f hostb ok\n"
        "20-second [post-migrate] [vm 1] [hostb] 3 post-migrate source [vm "
        "1] 7 0b7a3c1e-58d2-4f6a-9e31-5a2b6c7d8e9f hostb ok\n");
}

static void test_failure_stops(void **state)
{
    char body[256];
    struct xsh_hooks h;
    struct xsh_hook_env e = env_of(XSH_STAGE_PRE_MIGRATE);

    snprintf(body, sizeof(body), "echo \"$(basename \"$0\")\" >>'%s'", out);
    put("10-ok", 0755, body);
    snprintf(body, sizeof(body), "echo \"$(basename \"$0\")\" >>'%s'\nexit 3",
             out);
    put("20-fails", 0755, body);
    snprintf(body, sizeof(body), "echo \"$(basename \"$0\")\" >>'%s'", out);
    put("30-after", 0755, body);
    xsh_hooks_init(&h, dir, 5000);
    /* pre-migrate: stop at the first failure */
    assert_int_equal(xsh_hooks_run(&h, &e, 1), -ECHILD);
    assert_string_equal(h.failed_name, "20-fails");
    assert_string_equal(slurp(), "10-ok\n20-fails\n");
    /* later stages: every hook runs, the failure is still reported */
    unlink(out);
    e.stage = XSH_STAGE_FAILED;
    assert_int_equal(xsh_hooks_run(&h, &e, 0), -ECHILD);
    assert_int_equal(h.ran, 3);
    assert_int_equal(h.failed, 1);
    assert_string_equal(slurp(), "10-ok\n20-fails\n30-after\n");
}

static void test_signal_and_exec_failure(void **state)
{
    struct xsh_hooks h;
    struct xsh_hook_env e = env_of(XSH_STAGE_PRE_MIGRATE);
    char path[160];
    FILE *f;

    put("10-killed", 0755, "kill -KILL $$");
    xsh_hooks_init(&h, dir, 5000);
    assert_int_equal(xsh_hooks_run(&h, &e, 1), -ECHILD);
    assert_string_equal(h.failed_name, "10-killed");
    unlink(strcat(strcpy(path, dir), "/10-killed"));
    /* executable but not a program */
    snprintf(path, sizeof(path), "%s/10-garbage", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("\x7f"
          "ELF garbage",
          f);
    fclose(f);
    chmod(path, 0755);
    assert_int_equal(xsh_hooks_run(&h, &e, 1), -ECHILD);
    assert_string_equal(h.failed_name, "10-garbage");
}

static void test_refuse_writable(void **state)
{
    char body[256], path[160];
    struct xsh_hooks h;
    struct xsh_hook_env e = env_of(XSH_STAGE_PRE_MIGRATE);

    snprintf(body, sizeof(body), "echo ran >>'%s'", out);
    put("10-group-writable", 0775, body);
    snprintf(path, sizeof(path), "%s/10-group-writable", dir);
    chmod(path, 0775); /* umask-proof */
    xsh_hooks_init(&h, dir, 5000);
    assert_int_equal(xsh_hooks_run(&h, &e, 1), -EPERM);
    assert_string_equal(h.failed_name, "10-group-writable");
    assert_string_equal(slurp(), "");
}

static void test_timeout_kills_group(void **state)
{
    char body[256];
    struct xsh_hooks h;
    struct xsh_hook_env e = env_of(XSH_STAGE_PRE_MIGRATE);
    uint64_t t0, el;
    long pid;
    FILE *f;

    /* a grandchild in the background, then the hook itself blocks */
    snprintf(body, sizeof(body), "sleep 30 &\necho $! >'%s'\nsleep 30", out);
    put("10-slow", 0755, body);
    xsh_hooks_init(&h, dir, 300);
    t0 = mono_ms();
    assert_int_equal(xsh_hooks_run(&h, &e, 1), -ETIMEDOUT);
    el = mono_ms() - t0;
    assert_true(el >= 300);
    assert_true(el < 3000);
    assert_int_equal(h.timed_out, 1);
    f = fopen(out, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    usleep(100000);
    /* the background sleep died with its group (a zombie reparented to
     * init may linger briefly; kill(0) then still works, so check /proc) */
    {
        char p[64], st[256] = "";
        FILE *s;

        snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
        s = fopen(p, "r");
        if (s) {
            if (!fgets(st, sizeof(st), s))
                st[0] = '\0';
            fclose(s);
            assert_non_null(strstr(st, ") Z"));
        }
    }
}

static void test_timeout_ignores_term(void **state)
{
    struct xsh_hooks h;
    struct xsh_hook_env e = env_of(XSH_STAGE_PRE_BLACKOUT);
    uint64_t t0, el;

    put("10-stubborn", 0755, "trap '' TERM\nwhile :; do sleep 0.05; done");
    xsh_hooks_init(&h, dir, 200);
    t0 = mono_ms();
    assert_int_equal(xsh_hooks_run(&h, &e, 0), -ETIMEDOUT);
    el = mono_ms() - t0;
    /* timeout + grace, then SIGKILL */
    assert_true(el >= 200 + XSH_HOOK_KILL_GRACE_MS);
    assert_true(el < 200 + XSH_HOOK_KILL_GRACE_MS + 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_args_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_and_exec_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuse_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeout_ignores_term, setup,
                                        teardown),
    };

    log_threshold = LVL_ERROR;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
