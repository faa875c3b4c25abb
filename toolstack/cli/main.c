/* SPDX-License-Identifier: MIT */
/*
 * xlmig: an xl-compatible live-migration front end.  Global options come
 * before the verb, as with xl: -v (repeatable), -T (timestamps).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "common/log.h"

#ifndef XLMIG_VERSION
#define XLMIG_VERSION "0.1"
#endif

/* One line per verb; keep the order of xlmig(1). */
const struct cmd_spec cmd_table[] = {
    { "stream", cmd_stream, "Inspect, encode or decode a migration stream",
      "inspect|encode|decode ..." },
    { "migrate", cmd_migrate, "Migrate a domain to another host",
      "[options] <Domain> <host>" },
    { "migrate-receive", cmd_migrate_receive,
      "Restore a domain from a migration stream (used by migrate)",
      "[options]" },
    /* i10: exactly-once journal */
    { "journal-sweep", cmd_journal_sweep,
      "Resolve interrupted migrations from the journal", "[-n]" },
    { NULL, NULL, NULL, NULL },
};

static void usage(FILE *f)
{
    const struct cmd_spec *c;

    fprintf(f, "Usage: xlmig [-v] [-T] <subcommand> [args]\n\n");
    fprintf(f, "xlmig full list of subcommands:\n\n");
    for (c = cmd_table; c->name; c++)
        fprintf(f, " %-20s%s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
    const struct cmd_spec *c;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-v")) {
            if (log_threshold < LVL_DEBUG)
                log_threshold++;
        } else if (!strcmp(argv[i], "-T")) {
            log_set_timestamps(1);
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("xlmig %s\n", XLMIG_VERSION);
            return 0;
        } else {
            fprintf(stderr, "xlmig: unknown global option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i == argc) {
        usage(stderr);
        return 2;
    }
    for (c = cmd_table; c->name; c++)
        if (!strcmp(c->name, argv[i]))
            return c->fn(argc - i, argv + i);
    fprintf(stderr, "xlmig: unknown subcommand '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
