/* SPDX-License-Identifier: MIT */
/*
 * The verbs of the xlmig binary.  Each takes the arguments after the verb
 * (argv[0] is the verb) and returns the process exit status: 0 success,
 * 1 failure, 2 bad usage (xl's convention).
 */
#ifndef XLMIG_CLI_CMDS_H
#define XLMIG_CLI_CMDS_H

struct cmd_spec {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage;
};

extern const struct cmd_spec cmd_table[];

int cmd_stream(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_migrate_receive(int argc, char **argv);
int cmd_journal_sweep(int argc, char **argv); /* i10 */
/* At the start of 'xlmig migrate DOMAIN': a source record of DOMAIN in
 * SENDING whose process is gone (killed before GO) is resolved as
 * journal-sweep does (guest resumed, log-dirty off), told on stderr.
 * 0, or -errno (-EIO: one stayed unresolved). */
int journal_sweep_domain(const char *domain);

#endif
