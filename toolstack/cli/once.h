/* SPDX-License-Identifier: MIT */
/*
 * Exactly-once glue of the CLI (docs/design.md): the journal file
 * adapter behind the session's mig_once_src / mig_once_dst hooks, the
 * in-doubt query over a new connection, and the receiver's answer.
 */
#ifndef XLMIG_CLI_ONCE_H
#define XLMIG_CLI_ONCE_H

#include "cli/journal_file.h"
#include "engine/session.h"
#include "transport/channel.h"

/* Opens a new connection to the same target (the in-doubt query). */
typedef int once_connect_fn(void *opaque, struct channel **ch_r);

struct once_src {
    struct journal_rec rec;
    struct mig_once_src ops;
    once_connect_fn *connect;
    void *connect_opaque;
    const char *peer_host; /* for the in-doubt message */
    unsigned query_tries;  /* default 6, XLMIG_QUERY_TRIES */
    int active;
};

/* New uuid and epoch, SENDING journaled.  -errno: no journal (the
 * migration then runs as xl, without the exactly-once hand-over). */
int once_src_begin(struct once_src *o, const char *domain, uint32_t domid,
                   const char *peer_desc, const char *peer_host,
                   once_connect_fn *connect, void *connect_opaque);
/* After the migration: removes a terminal source record. */
void once_src_end(struct once_src *o);

struct once_dst {
    struct journal_rec rec;
    struct mig_once_dst ops;
    const struct mig_dst_ops *dst_ops; /* destroy when fencing */
    void *dst_be;
    int active;
};

void once_dst_init(struct once_dst *o, const struct mig_dst_ops *dst_ops,
                   void *dst_be);

#endif
