/* SPDX-License-Identifier: MIT */
/*
 * The exactly-once journal (docs/design.md "Exactly-once hand-over";
 * research reliability.md §4.4).  One small record per migration and
 * side: uuid, epoch, role, phase, domain.  This module is pure: records,
 * their text form, the legal phase changes and the decisions taken from
 * a record (answer to a peer's query, start-up sweep, the source's
 * in-doubt resolution).  The file adapter (cli/journal_file.c) stores a
 * record as /var/lib/xlmig/journal/<uuid>.<role>, written to a temporary
 * file, fsync'd and renamed.
 *
 * Source: SENDING -> GO_SENT -> DONE (destroyed after the target's
 *         success), or -> ABORTED (resumed; before GO, or after a definite
 *         "never ran, destroyed").
 * Target: RECEIVING -> READY -> RUNNING -> DONE, or -> ABORTED (its copy
 *         destroyed; also when a query fenced it before RUNNING).
 * RUNNING is journaled before the target unpauses, and a READY record is
 * moved to ABORTED by a query only under the record's lock, so the target
 * either runs or answers "never ran", never both.
 */
#ifndef XLMIG_ENGINE_JOURNAL_H
#define XLMIG_ENGINE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_UUID_CHARS  36 /* 8-4-4-4-12 hex, lower case */
#define JOURNAL_NAME_MAX    128
#define JOURNAL_PEER_MAX    256
#define JOURNAL_TEXT_MAX    1024 /* a record's text, capped before parsing */
#define JOURNAL_VERSION     1
#define JOURNAL_KEEP_DONE_S (7 * 24 * 3600) /* terminal records kept */

enum journal_role {
    JOURNAL_SOURCE = 0,
    JOURNAL_TARGET = 1,
};

enum journal_phase {
    JOURNAL_SENDING = 0, /* source: stream flowing, guest ours */
    JOURNAL_GO_SENT,     /* source: GO may have reached the target */
    JOURNAL_RECEIVING,   /* target: restoring a paused --incoming copy */
    JOURNAL_READY,       /* target: "ready" sent, waiting for GO */
    JOURNAL_RUNNING,     /* target: GO checked, unpausing or running */
    JOURNAL_DONE,        /* terminal: migrated (source destroyed) */
    JOURNAL_ABORTED,     /* terminal: backed out (target copy destroyed) */
    JOURNAL_NPHASES
};

struct journal_rec {
    char uuid[JOURNAL_UUID_CHARS + 1];
    uint64_t epoch;
    enum journal_role role;
    enum journal_phase phase;
    char domain[JOURNAL_NAME_MAX]; /* the guest's name, "" if none */
    uint32_t domid;                /* the local domain, 0 if none yet */
    char peer[JOURNAL_PEER_MAX];   /* source: how to reach the target */
    int32_t pid;                   /* the process driving it */
    uint64_t time_s;               /* wall clock of the last change */
};

const char *journal_phase_name(enum journal_phase p);
const char *journal_role_name(enum journal_role r);
int journal_phase_terminal(enum journal_phase p);

/* 1 if s is a canonical lower-case uuid, else 0. */
/* The first JOURNAL_UUID_CHARS bytes of s are a lower-case uuid text
 * (no terminator needed: the wire carries it unterminated). */
int journal_uuid_chars_ok(const char *s);
int journal_uuid_valid(const char *s);

/* A fresh record in the first phase of its role. */
int journal_rec_init(struct journal_rec *r, enum journal_role role,
                     const char *uuid, uint64_t epoch, const char *domain,
                     const char *peer);

/* 0 if from -> to is a legal change for role, else -EINVAL. */
int journal_check_transition(enum journal_role role, enum journal_phase from,
                             enum journal_phase to);
/* Checked change of phase (and time). */
int journal_advance(struct journal_rec *r, enum journal_phase to,
                    uint64_t now_s);

/* Text form: "key=value" lines.  Returns the length written (without
 * NUL) or -ENOSPC. */
int journal_encode(const struct journal_rec *r, char *buf, size_t size);
/* Parse at most JOURNAL_TEXT_MAX bytes; -EINVAL on anything malformed
 * (unknown keys are ignored, missing required ones are errors). */
int journal_decode(const char *buf, size_t len, struct journal_rec *r);

/* The target's answer to "what happened to <uuid>?" */
enum journal_answer {
    JOURNAL_ANS_NEVER_RAN = 0, /* no copy runs or ever will: resume */
    JOURNAL_ANS_RUNNING = 1,   /* the target runs it: source destroys */
    JOURNAL_ANS_UNKNOWN = 2,   /* cannot tell: both stay paused */
};
const char *journal_answer_name(enum journal_answer a);

/* What the target does for a query, from its record (NULL: none). */
enum journal_query_action {
    JOURNAL_Q_ANSWER_NEVER_RAN, /* nothing there, or already aborted */
    JOURNAL_Q_ANSWER_RUNNING,   /* RUNNING or DONE */
    JOURNAL_Q_FENCE,            /* RECEIVING/READY: journal ABORTED, destroy
                                   the paused copy, then NEVER_RAN */
    JOURNAL_Q_ANSWER_UNKNOWN,   /* epoch mismatch or not a target record */
};
enum journal_query_action journal_query_action(const struct journal_rec *tgt,
                                               uint64_t epoch);

/* Start-up sweep of one record whose process is gone (or alive). */
enum journal_sweep_action {
    JOURNAL_SW_KEEP,           /* alive, or a recent terminal record */
    JOURNAL_SW_REMOVE,         /* terminal and older than the keep time */
    JOURNAL_SW_DESTROY_PAUSED, /* target before RUNNING: destroy, ABORTED */
    JOURNAL_SW_FINISH_START,   /* target RUNNING: make sure it runs, DONE */
    JOURNAL_SW_RESUME_SOURCE,  /* source before GO: resume, ABORTED */
    JOURNAL_SW_QUERY_PEER,     /* source GO_SENT: ask the target */
};
enum journal_sweep_action journal_sweep_action(const struct journal_rec *r,
                                               int pid_alive, uint64_t now_s);
const char *journal_sweep_name(enum journal_sweep_action a);

/* The source's in-doubt resolution after a query (or none: UNKNOWN). */
enum journal_src_action {
    JOURNAL_SRC_RESUME,      /* definite NEVER_RAN: rename back, resume */
    JOURNAL_SRC_DESTROY,     /* definite RUNNING: destroy our copy */
    JOURNAL_SRC_STAY_PAUSED, /* anything else: keep paused, tell admin */
};
enum journal_src_action journal_src_action(int query_rc, enum journal_answer a);

#endif
