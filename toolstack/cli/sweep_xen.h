/* SPDX-License-Identifier: MIT */
/* The journal sweep's Xen side: domains by name (libxl). */
#ifndef XLMIG_CLI_SWEEP_XEN_H
#define XLMIG_CLI_SWEEP_XEN_H

#include <stddef.h>
#include <stdint.h>

/* Names of the domains whose name ends with suffix, one per slot of
 * names (malloc'd strings, at most max); returns the count or -errno. */
int sweep_xen_names(const char *suffix, char **names, size_t max);
/* Destroy the domain called name: 0, -ENOENT if none, -EIO. */
int sweep_xen_destroy(const char *name);
/* A copy cleared to run (journal RUNNING) whose receiver died: rename
 * NAME--incoming to NAME if needed and unpause.  -ENOENT if neither. */
int sweep_xen_finish_start(const char *name);
/* End log-dirty mode of the domain called name (left on by a sender that
 * was killed): 0, -ENOENT if none, -EIO. */
int sweep_xen_logdirty_off(const char *name);
/* 1 if a process other than us runs a 'migrate-receive' (xl or xlmig). */
int sweep_receive_running(void);
/* 1 if a process other than us runs a 'migrate' (xl or xlmig) or a save
 * helper: log-dirty mode may be theirs. */
int sweep_send_running(void);

#endif
