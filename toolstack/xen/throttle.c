/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "throttle: "
#include "common/log.h"
#include "xen/throttle.h"
#include "xen/xen_internal.h"

#include <libxl_utils.h>

struct xen_throttle {
    libxl_ctx *ctx;
    xentoollog_logger_stdiostream *logger;
};

int xen_throttle_new(struct xen_throttle **t_r)
{
    struct xen_throttle *t = calloc(1, sizeof(*t));
    int rc;

    if (!t)
        return -ENOMEM;
    rc = xen_common_open(0, &t->logger, &t->ctx);
    if (rc) {
        free(t);
        return rc;
    }
    *t_r = t;
    return 0;
}

void xen_throttle_free(struct xen_throttle *t)
{
    if (!t)
        return;
    if (t->ctx)
        libxl_ctx_free(t->ctx);
    if (t->logger)
        xtl_logger_destroy((xentoollog_logger *)t->logger);
    free(t);
}

int xen_throttle_domid(struct xen_throttle *t, const char *domain,
                       uint32_t *domid_r)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(domain, &end, 10);
    if (!errno && *domain && !*end && v < 0x7ff0) {
        *domid_r = (uint32_t)v;
        return 0;
    }
    return libxl_name_to_domid(t->ctx, domain, domid_r) ? -ENOENT : 0;
}

int xen_throttle_get(struct xen_throttle *t, uint32_t domid, unsigned *cap_r,
                     unsigned *vcpus_r)
{
    libxl_domain_sched_params p;
    libxl_dominfo info;
    int rc;

    libxl_dominfo_init(&info);
    libxl_domain_sched_params_init(&p);
    if (libxl_domain_info(t->ctx, &info, domid)) {
        rc = -ENOENT;
        goto out;
    }
    if (libxl_domain_sched_params_get(t->ctx, domid, &p)) {
        LOG(ERROR, "cannot read the scheduler parameters of domain %u", domid);
        rc = -EIO;
        goto out;
    }
    *cap_r = p.cap > 0 ? (unsigned)p.cap : 0;
    *vcpus_r = info.vcpu_online ? info.vcpu_online : 1;
    rc = 0;
out:
    libxl_domain_sched_params_dispose(&p);
    libxl_dominfo_dispose(&info);
    return rc;
}

int xen_throttle_set_cap(struct xen_throttle *t, uint32_t domid, unsigned cap)
{
    libxl_domain_sched_params p;
    int rc;

    libxl_domain_sched_params_init(&p);
    if (libxl_domain_sched_params_get(t->ctx, domid, &p)) {
        rc = -ENOENT;
        goto out;
    }
    p.cap = (int)cap;
    if (libxl_domain_sched_params_set(t->ctx, domid, &p)) {
        LOG(ERROR, "cannot set the scheduler cap of domain %u to %u", domid,
            cap);
        rc = -EIO;
        goto out;
    }
    rc = 0;
out:
    libxl_domain_sched_params_dispose(&p);
    return rc;
}

unsigned xen_throttle_cap_for(unsigned cap_orig, unsigned vcpus, unsigned pct)
{
    unsigned full = vcpus * 100, base, cap;

    base = cap_orig && cap_orig < full ? cap_orig : full;
    if (!pct)
        return cap_orig;
    cap = base * (100 - (pct > 99 ? 99 : pct)) / 100;
    return cap ? cap : 1;
}
