/* SPDX-License-Identifier: MIT */
/* The libxenstore adapter of struct xsh_xs_ops (xsh.h). */
#ifndef XLMIG_XSH_LIBXS_H
#define XLMIG_XSH_LIBXS_H

#include "xsh.h"

struct xsh_libxs;

/* Open a connection to xenstored (xs_open(0)); -errno when none. */
int xsh_libxs_new(struct xsh_libxs **x_r);
void xsh_libxs_free(struct xsh_libxs *x); /* NULL-safe */
/* The children of path, one call of fn each (a non-zero return stops);
 * -ENOENT if path does not exist. */
int xsh_libxs_list(struct xsh_libxs *x, const char *path,
                   int (*fn)(const char *child, void *opaque), void *opaque);
extern const struct xsh_xs_ops xsh_libxs_ops;

#endif
