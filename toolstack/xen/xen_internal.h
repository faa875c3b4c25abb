/* SPDX-License-Identifier: MIT */
/* Shared by the Xen adapters only. */
#ifndef XLMIG_XEN_XEN_INTERNAL_H
#define XLMIG_XEN_XEN_INTERNAL_H

#include <libxl.h>
#include <xentoollog.h>

/* libxl context with a stdio logger on stderr; verbosity 0 = xl's default
 * level.  libxl reaps only its own children (we have a transport child). */
int xen_common_open(int verbosity, xentoollog_logger_stdiostream **lg_r,
                    libxl_ctx **ctx_r);

#endif
