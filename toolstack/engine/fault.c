/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "fault: "
#include "common/log.h"
#include "engine/fault.h"

static const char *const point_names[FAULT_NPOINTS] = {
    [FAULT_CONNECT] = "connect",
    [FAULT_HANDSHAKE] = "handshake",
    [FAULT_CONFIG] = "config",
    [FAULT_PRECOPY_ROUND] = "precopy-round",
    [FAULT_SUSPEND] = "suspend",
    [FAULT_STOP_AND_COPY] = "stop-and-copy",
    [FAULT_AFTER_READY] = "after-ready",
    [FAULT_AFTER_GO] = "after-go",
    [FAULT_AFTER_REPORT] = "after-report",
    [FAULT_RECV_CONFIG] = "recv-config",
    [FAULT_RECV_RESTORED] = "recv-before-ready",
    [FAULT_RECV_AFTER_READY] = "recv-after-ready",
    [FAULT_RECV_AFTER_GO] = "recv-after-go",
    [FAULT_RECV_BEFORE_REPORT] = "recv-before-report",
    [FAULT_RECV_AFTER_REPORT] = "recv-after-report",
};

static struct {
    int loaded; /* FAULT_ENV read (or fault_arm called) */
    int armed;
    int fired;
    struct fault_spec spec;
    void (*exec)(int sig);
    int (*run)(const char *cmd);
} st;

static void self_signal(int sig)
{
    raise(sig);
}

const char *fault_point_name(enum fault_point p)
{
    return (unsigned)p < FAULT_NPOINTS ? point_names[p] : "?";
}

const char *fault_action_name(enum fault_action a)
{
    switch (a) {
    case FAULT_ERROR:
        return "error";
    case FAULT_KILL:
        return "kill";
    case FAULT_STOP:
        return "stop";
    case FAULT_HOOK:
        return "hook";
    default:
        return "none";
    }
}

int fault_parse(const char *s, struct fault_spec *f)
{
    const char *colon = strchr(s, ':'), *act;
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    char *end;
    unsigned long k;
    int i;

    memset(f, 0, sizeof(*f));
    for (i = 0; i < FAULT_NPOINTS; i++) {
        size_t pl = strlen(point_names[i]);

        if (i == FAULT_PRECOPY_ROUND) {
            /* "precopy-round-K", K = 0..100000 */
            if (n > pl + 1 && !strncmp(s, point_names[i], pl) && s[pl] == '-' &&
                s[pl + 1] >= '0' && s[pl + 1] <= '9') {
                errno = 0;
                k = strtoul(s + pl + 1, &end, 10);
                if (errno || end != s + n || k > 100000)
                    return -EINVAL;
                f->arg = (unsigned)k;
                break;
            }
            continue;
        }
        if (n == pl && !strncmp(s, point_names[i], n))
            break;
    }
    if (i == FAULT_NPOINTS)
        return -EINVAL;
    f->point = (enum fault_point)i;
    act = colon ? colon + 1 : "error";
    if (!strcmp(act, "error"))
        f->action = FAULT_ERROR;
    else if (!strcmp(act, "kill"))
        f->action = FAULT_KILL;
    else if (!strcmp(act, "stop"))
        f->action = FAULT_STOP;
    else if (!strcmp(act, "hook"))
        f->action = FAULT_HOOK;
    else
        return -EINVAL;
    return 0;
}

static void load(void)
{
    const char *env;

    if (st.loaded)
        return;
    st.loaded = 1;
    env = getenv(FAULT_ENV);
    if (!env || !*env)
        return;
    if (fault_parse(env, &st.spec)) {
        LOG(ERROR, "ignoring %s='%s': unknown point or action", FAULT_ENV, env);
        return;
    }
    st.armed = 1;
}

void fault_arm(const struct fault_spec *f)
{
    st.loaded = 1;
    st.fired = 0;
    st.armed = f != NULL;
    if (f)
        st.spec = *f;
}

void fault_set_executor(void (*fn)(int sig))
{
    st.exec = fn;
}

void fault_set_runner(int (*fn)(const char *cmd))
{
    st.run = fn;
}

/* The hook's command; its failure is reported and the step goes on. */
static void run_hook(void)
{
    const char *cmd = getenv(FAULT_HOOK_ENV);
    int rc;

    if (!cmd || !*cmd) {
        fprintf(stderr, "xlmig: fault hook: %s is not set\n", FAULT_HOOK_ENV);
        return;
    }
    rc = (st.run ? st.run : system)(cmd);
    if (rc)
        fprintf(stderr, "xlmig: fault hook '%s' failed (status %d)\n", cmd, rc);
}

void fault_reset(void)
{
    st.loaded = 0;
    st.armed = 0;
    st.fired = 0;
}

enum fault_action fault_hit(enum fault_point p, unsigned arg)
{
    load();
    if (!st.armed || st.fired || st.spec.point != p)
        return FAULT_NONE;
    if (p == FAULT_PRECOPY_ROUND && st.spec.arg != arg)
        return FAULT_NONE;
    st.fired = 1;
    /* one line the matrix greps for, before the process may vanish */
    if (p == FAULT_PRECOPY_ROUND)
        fprintf(stderr, "xlmig: fault injected at %s-%u: %s\n",
                fault_point_name(p), arg, fault_action_name(st.spec.action));
    else
        fprintf(stderr, "xlmig: fault injected at %s: %s\n",
                fault_point_name(p), fault_action_name(st.spec.action));
    fflush(stderr);
    switch (st.spec.action) {
    case FAULT_KILL:
        (st.exec ? st.exec : self_signal)(SIGKILL);
        break;
    case FAULT_STOP:
        (st.exec ? st.exec : self_signal)(SIGSTOP);
        break;
    case FAULT_HOOK:
        run_hook();
        break;
    default:
        break;
    }
    return st.spec.action;
}

int fault_point(enum fault_point p, unsigned arg)
{
    return fault_hit(p, arg) == FAULT_ERROR ? -EIO : 0;
}
