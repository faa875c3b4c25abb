/* SPDX-License-Identifier: MIT */
/*
 * Thin adapters over libxl / libxenguest / libxenctrl: the Xen backends
 * of the migration session (engine/session.h).
 *
 * Sender: PV and PVH guests are saved by xc_domain_save() called here,
 * with our save_callbacks (suspend through libxl_domain_suspend_only,
 * precopy_policy through the session's policy, a no-op qemu log-dirty
 * switch since these guests have no device model) and the libxl v2
 * framing written here (stream header, LIBXC_CONTEXT, END), as
 * libxl_stream_write.c does for a guest without emulator records.  HVM
 * guests (device model state) go through libxl_domain_suspend().
 * Receiver: libxl_domain_create_restore() as xl's create_domain().
 */
#ifndef XLMIG_XEN_XEN_H
#define XLMIG_XEN_XEN_H

#include <stdint.h>

#include "engine/session.h"

struct xen_src;
struct xen_dst;

/*
 * Find DOMAIN (name or id) and build its config JSON: from the running
 * domain (libxl_retrieve_domain_configuration), or from an xl config
 * file (config_file, parsed by 'xl create -n').  verbosity: 0 default,
 * 1.. more (-v).  Prints xl's message and returns -errno on failure.
 */
int xen_src_open(const char *domain, const char *config_file,
                 int preserve_domid, int verbosity, struct xen_src **s_r);
void xen_src_free(struct xen_src *s);
const char *xen_src_name(const struct xen_src *s);
uint32_t xen_src_domid(const struct xen_src *s);
const char *xen_src_config(const struct xen_src *s, uint32_t *len_r);
extern const struct mig_src_ops xen_src_ops;

int xen_dst_open(int verbosity, struct xen_dst **d_r);
/* SIGTERM/SIGHUP/SIGINT during a restore: destroy the incoming domain. */
void xen_dst_catch_signals(void);
void xen_dst_free(struct xen_dst *d);
extern const struct mig_dst_ops xen_dst_ops;

#endif
