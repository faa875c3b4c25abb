/* SPDX-License-Identifier: MIT */
/*
 * Hook scripts (docs/xenstore-hooks.md, xlmig-hooks(7)): every regular,
 * executable file in a directory whose name is made of [A-Za-z0-9_-]
 * (run-parts(8)'s rule: editor backups and dpkg leftovers are skipped)
 * runs in name order as
 *
 *     HOOK STAGE DOMAIN PEER
 *
 * with XLMIG_STAGE, XLMIG_ROLE, XLMIG_DOMAIN, XLMIG_DOMID, XLMIG_UUID,
 * XLMIG_PEER and XLMIG_RESULT in its environment, stdin from /dev/null,
 * stdout and stderr to xlmig's stderr, in its own process group.  It
 * succeeds with exit status 0.  After timeout_ms the group gets SIGTERM,
 * 1 s later SIGKILL, and the hook has failed.  A hook writable by group
 * or others is refused (failed).  A missing directory has no hooks.
 */
#ifndef XLMIG_XSH_HOOKS_H
#define XLMIG_XSH_HOOKS_H

#include "xsh.h"

#define XSH_HOOKS_DIR_DEFAULT  "/etc/xlmig/hooks.d"
#define XSH_HOOK_TIMEOUT_MS    30000
#define XSH_HOOK_KILL_GRACE_MS 1000
#define XSH_HOOKS_MAX          64 /* hooks per directory */

struct xsh_hooks {
    const char *dir;     /* not owned */
    unsigned timeout_ms; /* per hook */
    /* statistics of the last run */
    unsigned ran, failed, timed_out;
    char failed_name[XSH_NAME_MAX]; /* first failing hook, "" */
};

void xsh_hooks_init(struct xsh_hooks *h, const char *dir, unsigned timeout_ms);
/* struct xsh_hook_ops run function; opaque = struct xsh_hooks. */
int xsh_hooks_run(void *opaque, const struct xsh_hook_env *env,
                  int stop_on_failure);
/* Ops bound to h. */
struct xsh_hook_ops xsh_hooks_ops(struct xsh_hooks *h);

#endif
