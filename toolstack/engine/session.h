/* SPDX-License-Identifier: MIT */
/*
 * The migration session: xl's sender and receiver sequences over a
 * channel, with the guest work done by a backend (the Xen adapter in
 * toolstack/xen/, or a fake one in the unit tests).  Pure: no Xen header.
 *
 * Sender (xl_migrate.c migrate_domain):
 *   read banner -> header + config (+ XLPROTO_OPTFLAG_XLMIG unless
 *   compression is off) -> save into a pipe, a pump thread copies the
 *   pipe through the encoder to the channel and polls for capabilities ->
 *   read "ready" -> rename NAME--migratedaway -> GO -> report + status ->
 *   destroy (0) or wait for GO back, rename back, resume (!= 0).
 * Receiver (migrate_receive): banner -> header -> [capabilities] ->
 *   restore NAME--incoming paused -> "ready" -> GO -> rename, unpause ->
 *   report + status; on failure destroy first, then GO back.
 *
 * Back-out: before GO the source always ends running (a failed suspend
 * leaves it running, any other failure resumes it); after GO without a
 * report the state is undefined and xl's warning is printed.  A receiver
 * that never got GO destroys its paused --incoming copy (xl leaves it).
 */
#ifndef XLMIG_ENGINE_SESSION_H
#define XLMIG_ENGINE_SESSION_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/journal.h"
#include "engine/precopy.h"
#include "transport/channel.h"

/* A save failed because the guest did not suspend (libxl's
 * ERROR_GUEST_TIMEDOUT); the guest was never suspended. */
#define MIG_ESUSPEND (-ETIME)

struct mig_save_args {
    int live;
    int debug;
    /* the session's wrapper around the configured policy */
    struct precopy_policy policy;
    /* the backend calls this right after the guest is suspended */
    void (*suspended)(void *opaque);
    /* ... and this right before it asks the guest to suspend (may be
     * NULL; a backend without the hook never calls it) */
    void (*suspending)(void *opaque);
    void *opaque;
};

struct mig_src_ops {
    /* Write the whole libxl v2 stream for the domain into fd.
     * 0, MIG_ESUSPEND or another -errno. */
    int (*save)(void *be, int fd, const struct mig_save_args *a);
    /* Cooperative resume after a failed or refused migration. */
    int (*resume)(void *be);
    int (*rename)(void *be, const char *from, const char *to);
    int (*destroy)(void *be);
};

struct mig_dst_ops {
    /* Create the domain from config_json (NUL-terminated) under the name
     * NAME--incoming, paused, restoring from stream_fd.  *name_r gets NAME
     * (malloc'd, may be NULL for a nameless config).  Returns 0 or a
     * negative libxl-style code. */
    int (*restore)(void *be, const char *config_json, int stream_fd,
                   int back_fd, uint32_t *domid_r, char **name_r);
    int (*rename)(void *be, uint32_t domid, const char *from, const char *to);
    int (*unpause)(void *be, uint32_t domid);
    int (*destroy)(void *be, uint32_t domid);
};

/*
 * Stream encoder between the raw stream and the channel.  The default
 * (stream_passthrough) writes bytes unchanged; the codec plugs in here
 * (engine/session_codec.h).  enable() is called when the peer announced
 * caps that include ->needs_caps; the encoder then switches at its next
 * record boundary.  finish() after a complete save, abort(rc) after a
 * failed one (may be NULL).
 */
struct stream_encoder {
    int (*write)(void *enc, const uint8_t *buf, size_t len, struct channel *ch);
    int (*finish)(void *enc, struct channel *ch);
    int (*enable)(void *enc, uint32_t peer_caps);
    void (*abort)(void *enc, struct channel *ch, int rc);
    /* optional: the guest is suspended (final round); any thread */
    void (*suspended)(void *enc);
    uint32_t needs_caps; /* 0: never switches */
    void *opaque;
};
extern const struct stream_encoder stream_passthrough;

/*
 * Stream decoder on the receiver, between the channel and libxl.  It is
 * used only when the sender announced itself (XLPROTO_OPTFLAG_XLMIG) and
 * ->caps was answered; it passes a raw stream through until a switch.
 * feed() writes the original stream to the fd given by begin(); *used_r
 * less than len means the stream ended and the rest follows it (GO).
 */
struct stream_decoder {
    int (*begin)(void *dec, int out_fd);
    int (*feed)(void *dec, const uint8_t *buf, size_t len, size_t *used_r);
    int (*finish)(void *dec);
    int (*done)(void *dec);
    uint32_t caps;
    void *opaque;
};

/* Statistics of one migration; times in ns of CLOCK_MONOTONIC. */
struct mig_stats {
    uint64_t start_ns;
    uint64_t suspend_ns;    /* guest suspended on the source (0: never) */
    uint64_t stream_end_ns; /* source finished writing the stream */
    uint64_t ready_ns;      /* target acknowledged the transfer */
    uint64_t report_ns;     /* target reported its unpause result */
    uint64_t end_ns;
    /* blackout phases (docs/cost-model.md); 0 = not known */
    uint64_t suspend_req_ns;       /* the suspend was requested */
    int peer_phases;               /* the target reported its part */
    uint64_t peer_restore_ns;      /* target: restore start -> built */
    uint64_t peer_restore_tail_ns; /* target: last byte in -> built */
    uint64_t peer_unpause_ns;      /* target: GO read -> unpaused */
    unsigned rounds;               /* precopy rounds (policy calls with data) */
    uint64_t dirty_pages;          /* last dirty count seen */
    uint64_t total_written_pages;
    uint64_t raw_bytes;  /* stream bytes produced by the save */
    uint64_t wire_bytes; /* bytes written to the channel */
    uint32_t peer_caps;
    int peer_is_xlmig;
    int compressed;
    /* the peer's capability extension (net-forward's, issue 12) */
    uint8_t peer_ext[60];
    uint32_t peer_ext_len;
};

enum mig_event {
    MIG_EV_START,
    MIG_EV_NEGOTIATED, /* peer answered with capabilities */
    MIG_EV_ROUND,      /* a precopy policy call with a dirty count */
    MIG_EV_PROGRESS,   /* periodic, from the pump thread */
    MIG_EV_SUSPENDING, /* right before the guest is asked to suspend */
    MIG_EV_SUSPENDED,
    MIG_EV_STREAM_DONE,
    MIG_EV_DONE, /* status: 0 success, else failure */
};

/* Events are serialised by the session (one at a time). */
struct mig_observer {
    void (*event)(void *opaque, enum mig_event ev, const struct mig_stats *s,
                  const struct precopy_round *r, int status);
    void *opaque;
};

/* --- exactly-once hand-over (i10; docs/design.md) --- */
/* Sender: with a receiver that journals too (XLPROTO_CAP_ONCE_V1), GO
 * carries uuid and epoch; after GO without a report the target is asked
 * over a new connection.  NULL: behave exactly as xl. */
struct mig_once_src {
    const char *uuid;
    uint64_t epoch;
    /* durable phase change: GO_SENT (before GO), DONE, ABORTED */
    int (*journal)(void *opaque, enum journal_phase to);
    /* in doubt: ask the target (new connection, retries); 0 + *a */
    int (*query)(void *opaque, enum journal_answer *a);
    /* in doubt and unresolved: print exactly what to check */
    void (*in_doubt)(void *opaque);
    void *opaque;
};

/* Receiver: journal and answer queries.  NULL: as xl (no journal). */
struct mig_once_dst {
    /* an xlmig sender gave uuid/epoch: journal RECEIVING (0 or -errno);
     * config_json names the domain */
    int (*begin)(void *opaque, const char *uuid, uint64_t epoch,
                 const char *config_json);
    /* durable phase change; -ESTALE if a query fenced the migration */
    int (*journal)(void *opaque, enum journal_phase to, uint32_t domid,
                   const char *name);
    /* a query on this connection instead of a migration */
    int (*answer)(void *opaque, const char *uuid, uint64_t epoch,
                  enum journal_answer *a);
    void *opaque;
};
/* --- end exactly-once --- */

struct mig_send_opts {
    const char *name;   /* the domain's name (NULL: unnamed) */
    const char *config; /* JSON incl. NUL */
    uint32_t config_len;
    int debug;
    int compress;               /* 0 off: behave exactly as stock xl */
    uint32_t optional_flags;    /* more header flags (with compress) */
    uint64_t max_bandwidth_bps; /* 0: unlimited */
    const char *rune;           /* for messages, or NULL */
    int banner_timeout_ms;      /* -1: none */
    int ready_timeout_ms;
    int report_timeout_ms;
    const struct mig_once_src *once; /* i10: NULL as xl */
};

/* Returns 0 on success (source destroyed) or a negative errno; every
 * failure has been reported on stderr with xl's words. */
int mig_send(const struct mig_send_opts *o, const struct mig_src_ops *ops,
             void *be, struct precopy_policy policy,
             const struct stream_encoder *enc, struct channel *ch,
             const struct mig_observer *obs, struct mig_stats *stats);

struct mig_recv_opts {
    int pause_after;                  /* -p */
    const struct stream_decoder *dec; /* NULL: announce nothing */
    int header_timeout_ms;
    int go_timeout_ms;
    const struct mig_once_dst *once; /* i10: NULL as xl */
    /* optional: bytes to append to the capability message, given the
     * sender's header flags; returns their number (<= cap) */
    size_t (*caps_ext)(void *opaque, uint32_t optional_flags, uint8_t *ext,
                       size_t cap);
    void *caps_ext_opaque;
};

int mig_receive(const struct mig_recv_opts *o, const struct mig_dst_ops *ops,
                void *be, struct channel *ch);

uint64_t mig_now_ns(void);

#endif
