/* SPDX-License-Identifier: MIT */
/*
 * CPU throttle of a domain through the Xen scheduler's cap (credit and
 * credit2: percent of one physical CPU for the whole domain, 0 = none).
 * Thin adapter over libxl_domain_sched_params_get/set; no policy here
 * (the steps are the cost model's, the bookkeeping cli/coststate.c's).
 */
#ifndef XLMIG_XEN_THROTTLE_H
#define XLMIG_XEN_THROTTLE_H

#include <stdint.h>

struct xen_throttle;

int xen_throttle_new(struct xen_throttle **t_r);
void xen_throttle_free(struct xen_throttle *t);
/* Domain by name or id: -ENOENT if there is none. */
int xen_throttle_domid(struct xen_throttle *t, const char *domain,
                       uint32_t *domid_r);
/* The current cap (0: none) and the number of online vcpus.
 * -ENOENT: no such domain; -EIO: libxl failed. */
int xen_throttle_get(struct xen_throttle *t, uint32_t domid, unsigned *cap_r,
                     unsigned *vcpus_r);
int xen_throttle_set_cap(struct xen_throttle *t, uint32_t domid, unsigned cap);
/* The cap that slows a domain by pct % from cap_orig (0: uncapped). */
unsigned xen_throttle_cap_for(unsigned cap_orig, unsigned vcpus, unsigned pct);

#endif
