/* SPDX-License-Identifier: MIT */
/*
 * The journal's file adapter (engine/journal.h holds the logic): one
 * file per migration and side, <dir>/<uuid>.source or <uuid>.target,
 * where <dir> is $XLMIG_JOURNAL_DIR or /var/lib/xlmig/journal.  Every
 * write goes to a temporary file, is fsync'd, renamed over the record and
 * the directory fsync'd.  Phase changes happen under an exclusive flock
 * of <dir>/.lock, so a query's fence and the target's RUNNING exclude
 * each other.
 */
#ifndef XLMIG_CLI_JOURNAL_FILE_H
#define XLMIG_CLI_JOURNAL_FILE_H

#include "engine/journal.h"

#define JFILE_DIR_DEFAULT "/var/lib/xlmig/journal"

const char *jfile_dir(void);
/* A fresh random uuid (kernel's generator). */
int jfile_new_uuid(char out[JOURNAL_UUID_CHARS + 1]);
/* The host's next epoch (<dir>/epoch, monotonic, durable). */
int jfile_next_epoch(uint64_t *epoch_r);

/* Exclusive lock of the journal; returns an fd for jfile_unlock. */
int jfile_lock(void);
void jfile_unlock(int fd);

/* Unlocked primitives (call under jfile_lock when racing matters). */
int jfile_write(const struct journal_rec *r);
int jfile_read(const char *uuid, enum journal_role role, struct journal_rec *r);
int jfile_remove(const char *uuid, enum journal_role role);

/*
 * Locked phase change of r: re-reads the record; if it is already in
 * phase to, 0; if its phase is not r's (a query fenced it), *r gets the
 * stored record and -ESTALE; otherwise advance, write, 0.
 */
int jfile_update(struct journal_rec *r, enum journal_phase to);

/* Call fn for every readable record (fn returns nonzero to stop). */
int jfile_list(int (*fn)(const struct journal_rec *r, void *opaque),
               void *opaque);

/* 1 if process pid exists. */
int jfile_pid_alive(int pid);

#endif
