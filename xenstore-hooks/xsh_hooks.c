/* SPDX-License-Identifier: MIT */
/* Hook-script runner (xsh_hooks.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "hooks: "
#include "common/log.h"
#include "xsh_hooks.h"

void xsh_hooks_init(struct xsh_hooks *h, const char *dir, unsigned timeout_ms)
{
    memset(h, 0, sizeof(*h));
    h->dir = dir ? dir : XSH_HOOKS_DIR_DEFAULT;
    h->timeout_ms = timeout_ms ? timeout_ms : XSH_HOOK_TIMEOUT_MS;
}

struct xsh_hook_ops xsh_hooks_ops(struct xsh_hooks *h)
{
    struct xsh_hook_ops ops = { xsh_hooks_run, h };

    return ops;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

static int name_ok(const char *n)
{
    /* the run-parts rule; also bounds the length */
    return xsh_key_valid(n) && strlen(n) < XSH_NAME_MAX;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the candidate hooks; *n_r of them, malloc'd. */
static int list_hooks(const char *dir, char ***names_r, unsigned *n_r)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    unsigned n = 0, i;
    int rc;

    *names_r = NULL;
    *n_r = 0;
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        rc = -errno;
        LOGE(ERROR, "cannot open hook directory '%s'", dir);
        return rc;
    }
    names = calloc(XSH_HOOKS_MAX, sizeof(*names));
    if (!names) {
        rc = -ENOMEM;
        goto out;
    }
    while ((de = readdir(d))) {
        if (!name_ok(de->d_name))
            continue;
        if (n == XSH_HOOKS_MAX) {
            LOG(ERROR, "more than %u hooks in '%s'", XSH_HOOKS_MAX, dir);
            rc = -E2BIG;
            goto out;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = -ENOMEM;
            goto out;
        }
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    *names_r = names;
    *n_r = n;
    names = NULL;
    rc = 0;

out:
    if (names) {
        for (i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    closedir(d);
    return rc;
}

static void child_exec(const char *path, const struct xsh_hook_env *env)
{
    const char *stage = xsh_stage_name(env->stage);
    char domid[16];
    int fd;

    setpgid(0, 0);
    fd = open("/dev/null", O_RDONLY);
    if (fd >= 0 && fd != STDIN_FILENO) {
        dup2(fd, STDIN_FILENO);
        close(fd);
    }
    /* a hook's output is part of our log */
    dup2(STDERR_FILENO, STDOUT_FILENO);
    snprintf(domid, sizeof(domid), "%" PRIu32, env->domid);
    if (setenv("XLMIG_STAGE", stage, 1) ||
        setenv("XLMIG_ROLE", env->role ? env->role : "", 1) ||
        setenv("XLMIG_DOMAIN", env->domain ? env->domain : "", 1) ||
        setenv("XLMIG_DOMID", domid, 1) ||
        setenv("XLMIG_UUID", env->uuid ? env->uuid : "", 1) ||
        setenv("XLMIG_PEER", env->peer ? env->peer : "", 1) ||
        setenv("XLMIG_RESULT", env->result ? env->result : "", 1))
        _exit(126);
    execl(path, path, stage, env->domain ? env->domain : "",
          env->peer ? env->peer : "", (char *)NULL);
    fprintf(stderr, "hooks: cannot execute '%s': %s\n", path, strerror(errno));
    _exit(126);
}

/* Wait for pid up to ms; 1 when it exited (*status_r set), 0 if not. */
static int wait_for(pid_t pid, uint64_t ms, int *status_r)
{
    uint64_t end = mono_ms() + ms;
    pid_t w;

    for (;;) {
        w = waitpid(pid, status_r, WNOHANG);
        if (w == pid)
            return 1;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (mono_ms() >= end)
            return 0;
        sleep_ms(5);
    }
}

/* 0 on success, -ETIMEDOUT, -ECHILD on a non-zero exit or signal. */
static int run_one(struct xsh_hooks *h, const char *name, const char *path,
                   const struct xsh_hook_env *env)
{
    int status = 0, w;
    pid_t pid;

    pid = fork();
    if (pid < 0) {
        LOGE(ERROR, "cannot fork for hook '%s'", name);
        return -errno;
    }
    if (pid == 0)
        child_exec(path, env);
    setpgid(pid, pid); /* also in the child: whichever runs first */
    w = wait_for(pid, h->timeout_ms, &status);
    if (w == 0) {
        LOG(ERROR, "hook '%s' (%s) timed out after %u ms: terminating", name,
            xsh_stage_name(env->stage), h->timeout_ms);
        kill(-pid, SIGTERM);
        w = wait_for(pid, XSH_HOOK_KILL_GRACE_MS, &status);
        if (w == 0) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
        /* leftovers of the group, if any */
        kill(-pid, SIGKILL);
        h->timed_out++;
        return -ETIMEDOUT;
    }
    if (w < 0) {
        LOGEV(ERROR, -w, "cannot wait for hook '%s'", name);
        return w;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        LOG(ERROR, "hook '%s' (%s) failed with exit status %d", name,
            xsh_stage_name(env->stage), WEXITSTATUS(status));
    else
        LOG(ERROR, "hook '%s' (%s) killed by signal %d", name,
            xsh_stage_name(env->stage), WTERMSIG(status));
    return -ECHILD;
}

int xsh_hooks_run(void *opaque, const struct xsh_hook_env *env,
                  int stop_on_failure)
{
    struct xsh_hooks *h = opaque;
    char **names = NULL, path[XSH_PATH_MAX + XSH_NAME_MAX];
    unsigned n = 0, i;
    struct stat st;
    int rc, first = 0, r;

    h->ran = h->failed = h->timed_out = 0;
    h->failed_name[0] = '\0';
    rc = list_hooks(h->dir, &names, &n);
    if (rc)
        goto out;
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", h->dir, names[i]);
        if (stat(path, &st) || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
            continue;
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
            LOG(ERROR, "refusing hook '%s': writable by group or others", path);
            r = -EPERM;
        } else {
            LOG(INFO, "running hook '%s' (%s)", names[i],
                xsh_stage_name(env->stage));
            h->ran++;
            r = run_one(h, names[i], path, env);
        }
        if (r) {
            h->failed++;
            if (!first) {
                first = r;
                snprintf(h->failed_name, sizeof(h->failed_name), "%s",
                         names[i]);
            }
            if (stop_on_failure)
                break;
        }
    }
    rc = first;

out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}
