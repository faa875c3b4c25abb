/* SPDX-License-Identifier: MIT */
/*
 * File helpers shared by the CLI, the daemon's tools and the state files.
 * Small state files that survive a crash (the journal of a migration, the
 * cost model's per-host-pair state) are written as "write a temporary
 * file, fsync it, rename it over the old one".
 */
#ifndef XLMIG_COMMON_FILEIO_H
#define XLMIG_COMMON_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all len bytes to fd, retrying on EINTR.  Returns 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t len);

/* Write len bytes to tmp (created with mode), fsync, close, rename to
 * path.  On failure tmp is removed and path is untouched.  The caller
 * fsyncs the directory if the rename itself must be durable.
 * Returns 0 or -errno. */
int durable_write_file(const char *path, const char *tmp, const void *data,
                       size_t len, mode_t mode);

#endif
