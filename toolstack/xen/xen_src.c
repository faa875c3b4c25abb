/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenguest.h>
#include <xentoollog.h>

#define LOG_PREFIX "migrate: "
#include "common/log.h"
#include "xen/xen.h"
#include "xen/xen_internal.h"

/* libxl v2 stream framing (docs/specs/libxl-migration-stream.pandoc) */
#define LIBXL_SR_IDENT      0x4c6962786c466d74ull /* "LibxlFmt" */
#define LIBXL_SR_VERSION    2
#define LIBXL_REC_END       0x00000000u
#define LIBXL_REC_LIBXC_CTX 0x00000001u
#define XL_CONFIG_MAX_BYTES (16u << 20)

struct xen_src {
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *ctx;
    xc_interface *xch;
    uint32_t domid;
    char *name;
    libxl_domain_type type;
    char *config;
    uint32_t config_len;
    const struct mig_save_args *sa;
    int suspend_rc;     /* libxl rc of a failed suspend, 0 */
    int suspend_called; /* libxc asked us to suspend the guest */
};

static const libxl_childproc_hooks child_hooks = {
    .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
};

static xentoollog_level xtl_level(int verbosity)
{
    int l = XTL_PROGRESS - verbosity;

    return l < XTL_DEBUG ? XTL_DEBUG : (xentoollog_level)l;
}

int xen_common_open(int verbosity, xentoollog_logger_stdiostream **lg_r,
                    libxl_ctx **ctx_r)
{
    xentoollog_logger_stdiostream *lg;
    libxl_ctx *ctx = NULL;
    int rc;

    lg = xtl_createlogger_stdiostream(stderr, xtl_level(verbosity),
                                      XTL_STDIOSTREAM_HIDE_PROGRESS);
    if (!lg)
        return -ENOMEM;
    rc = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)lg);
    if (rc) {
        fprintf(stderr, "cannot init xl context\n");
        xtl_logger_destroy((xentoollog_logger *)lg);
        return -ENODEV;
    }
    libxl_childproc_setmode(ctx, &child_hooks, NULL);
    *lg_r = lg;
    *ctx_r = ctx;
    return 0;
}

/* The JSON of an xl config file, as 'xl create -n' prints it. */
static int config_from_file(struct xen_src *s, const char *path,
                            libxl_domain_config *dc)
{
    char *cmd = NULL, *buf = NULL, *q;
    size_t len = 0, cap = 0;
    FILE *p = NULL;
    int rc, st;

    /* single-quote the path for sh */
    buf = malloc(strlen(path) * 4 + 3);
    if (!buf)
        return -ENOMEM;
    q = buf;
    *q++ = '\'';
    for (const char *c = path; *c; c++) {
        if (*c == '\'') {
            memcpy(q, "'\\''", 4);
            q += 4;
        } else {
            *q++ = *c;
        }
    }
    *q++ = '\'';
    *q = 0;
    if (asprintf(&cmd, "xl -N create -q -n %s", buf) < 0) {
        cmd = NULL;
        rc = -ENOMEM;
        goto out;
    }
    free(buf);
    buf = NULL;
    p = popen(cmd, "r");
    if (!p) {
        rc = -errno;
        fprintf(stderr, "unable to read overridden config file\n");
        goto out;
    }
    for (;;) {
        size_t n;

        if (len + 4096 + 1 > cap) {
            char *nb;

            cap = cap ? cap * 2 : 65536;
            if (cap > XL_CONFIG_MAX_BYTES) {
                rc = -EFBIG;
                fprintf(stderr, "unable to read overridden config file\n");
                goto out;
            }
            nb = realloc(buf, cap);
            if (!nb) {
                rc = -ENOMEM;
                goto out;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, 4096, p);
        len += n;
        if (n == 0)
            break;
    }
    st = pclose(p);
    p = NULL;
    if (!buf || st != 0) {
        fprintf(stderr, "unable to read overridden config file\n");
        rc = -EINVAL;
        goto out;
    }
    buf[len] = 0;
    rc = libxl_domain_config_from_json(s->ctx, dc, buf);
    if (rc) {
        fprintf(stderr, "unable to read overridden config file\n");
        rc = -EINVAL;
        goto out;
    }
    rc = 0;

out:
    if (p)
        pclose(p);
    free(buf);
    free(cmd);
    return rc;
}

int xen_src_open(const char *domain, const char *config_file,
                 int preserve_domid, int verbosity, struct xen_src **s_r)
{
    struct xen_src *s = calloc(1, sizeof(*s));
    libxl_domain_config dc;
    int rc;

    libxl_domain_config_init(&dc);
    if (!s) {
        rc = -ENOMEM;
        goto out;
    }
    rc = xen_common_open(verbosity, &s->logger, &s->ctx);
    if (rc)
        goto out;
    rc = libxl_domain_qualifier_to_domid(s->ctx, domain, &s->domid);
    if (rc) {
        fprintf(stderr, "%s is an invalid domain identifier (rc=%d)\n", domain,
                rc);
        rc = -ENOENT;
        goto out;
    }
    s->name = libxl_domid_to_name(s->ctx, s->domid);
    if (config_file) {
        rc = config_from_file(s, config_file, &dc);
        if (rc)
            goto out;
    } else {
        rc = libxl_retrieve_domain_configuration(s->ctx, s->domid, &dc, NULL);
        if (rc) {
            fprintf(stderr, "unable to retrieve domain configuration\n");
            rc = -EIO;
            goto out;
        }
    }
    if (preserve_domid)
        dc.c_info.domid = s->domid;
    s->type = dc.c_info.type;
    s->config = libxl_domain_config_to_json(s->ctx, &dc);
    if (!s->config) {
        fprintf(stderr, "unable to convert config file to JSON\n");
        rc = -EIO;
        goto out;
    }
    s->config_len = (uint32_t)strlen(s->config) + 1;
    s->xch = xc_interface_open((xentoollog_logger *)s->logger,
                               (xentoollog_logger *)s->logger, 0);
    if (!s->xch) {
        fprintf(stderr, "cannot open the hypervisor interface\n");
        rc = -ENODEV;
        goto out;
    }
    if (s->type == LIBXL_DOMAIN_TYPE_PV) {
        xc_physinfo_t pi = { 0 };

        if (xc_physinfo(s->xch, &pi) == 0 &&
            !(pi.capabilities & XEN_SYSCTL_PHYSCAP_shadow)) {
            fprintf(stderr,
                    "xlmig: cannot live-migrate PV domain %s: this "
                    "hypervisor has no shadow paging, which PV log-dirty "
                    "needs; the domain was not touched\n",
                    s->name ? s->name : domain);
            rc = -EOPNOTSUPP;
            goto out;
        }
    }
    *s_r = s;
    s = NULL;
    rc = 0;

out:
    libxl_domain_config_dispose(&dc);
    xen_src_free(s);
    return rc;
}

void xen_src_free(struct xen_src *s)
{
    if (!s)
        return;
    if (s->xch)
        xc_interface_close(s->xch);
    free(s->config);
    free(s->name);
    if (s->ctx)
        libxl_ctx_free(s->ctx);
    if (s->logger)
        xtl_logger_destroy((xentoollog_logger *)s->logger);
    free(s);
}

const char *xen_src_name(const struct xen_src *s)
{
    return s->name;
}

uint32_t xen_src_domid(const struct xen_src *s)
{
    return s->domid;
}

const char *xen_src_config(const struct xen_src *s, uint32_t *len_r)
{
    *len_r = s->config_len;
    return s->config;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    ssize_t n;

    while (len) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

/* libxl v2 stream header + the LIBXC_CONTEXT record (length 0). */
static int write_libxl_head(int fd)
{
    uint8_t b[16 + 8];

    put_be(b, LIBXL_SR_IDENT, 8);
    put_be(b + 8, LIBXL_SR_VERSION, 4);
    put_be(b + 12, 0, 4); /* options: little-endian records */
    put_le(b + 16, LIBXL_REC_LIBXC_CTX, 4);
    put_le(b + 20, 0, 4);
    return write_all(fd, b, sizeof(b));
}

static int write_libxl_end(int fd)
{
    uint8_t b[8];

    put_le(b, LIBXL_REC_END, 4);
    put_le(b + 4, 0, 4);
    return write_all(fd, b, sizeof(b));
}

/* 1 if the domain is shut down for suspend, 0 if not, -errno */
static int domain_suspended(struct xen_src *s)
{
    libxl_dominfo info;
    int rc;

    libxl_dominfo_init(&info);
    rc = libxl_domain_info(s->ctx, &info, s->domid);
    if (rc)
        rc = -ENOENT;
    else
        rc = info.shutdown &&
             info.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND;
    libxl_dominfo_dispose(&info);
    return rc;
}

static int cb_suspend(void *data)
{
    struct xen_src *s = data;
    int rc;

    s->suspend_called = 1;
    if (s->sa->suspending) /* blackout phases: the request */
        s->sa->suspending(s->sa->opaque);
    rc = libxl_domain_suspend_only(s->ctx, s->domid, NULL);
    if (rc) {
        s->suspend_rc = rc;
        return 0;
    }
    if (s->sa->suspended)
        s->sa->suspended(s->sa->opaque);
    return 1;
}

static int cb_precopy_policy(struct precopy_stats st, void *data)
{
    struct xen_src *s = data;
    struct precopy_round r = {
        .iteration = st.iteration,
        .total_written_pages = st.total_written,
        .dirty_pages = st.dirty_count,
    };
    int d = s->sa->policy.decide(s->sa->policy.opaque, &r);

    if (d == PRECOPY_ABORT)
        return XGS_POLICY_ABORT;
    return d == PRECOPY_STOP ? XGS_POLICY_STOP_AND_COPY
                             : XGS_POLICY_CONTINUE_PRECOPY;
}

/* PV and PVH guests have no device model: nothing to switch. */
static int cb_switch_qemu_logdirty(uint32_t domid, unsigned enable, void *data)
{
    return 0;
}

static int save_hvm(struct xen_src *s, int fd, const struct mig_save_args *a)
{
    int flags = LIBXL_SUSPEND_LIVE | (a->debug ? LIBXL_SUSPEND_DEBUG : 0);
    int rc;

    LOG(INFO, "HVM guest: saving through libxl_domain_suspend");
    rc = libxl_domain_suspend(s->ctx, s->domid, fd, flags, NULL);
    if (rc == ERROR_GUEST_TIMEDOUT)
        return MIG_ESUSPEND;
    if (rc)
        return -EIO;
    if (a->suspended)
        a->suspended(a->opaque); /* libxl gives no earlier hook */
    return 0;
}

static int xen_save(void *be, int fd, const struct mig_save_args *a)
{
    struct xen_src *s = be;
    struct save_callbacks cb;
    int rc;

    if (s->type == LIBXL_DOMAIN_TYPE_HVM)
        return save_hvm(s, fd, a);

    s->sa = a;
    s->suspend_rc = 0;
    s->suspend_called = 0;
    memset(&cb, 0, sizeof(cb));
    cb.suspend = cb_suspend;
    cb.precopy_policy = cb_precopy_policy;
    cb.switch_qemu_logdirty = cb_switch_qemu_logdirty;
    cb.data = s;

    rc = write_libxl_head(fd);
    if (rc) {
        LOGEV(ERROR, -rc, "cannot write the libxl stream header");
        return rc;
    }
    rc = xc_domain_save(s->xch, fd, s->domid,
                        (a->live ? XCFLAGS_LIVE : 0) |
                            (a->debug ? XCFLAGS_DEBUG : 0),
                        &cb, XC_STREAM_PLAIN, -1);
    if (rc) {
        if (s->suspend_rc == ERROR_GUEST_TIMEDOUT ||
            (s->suspend_called && domain_suspended(s) == 0)) {
            /* libxl may report success on a late "ack" although the
             * guest never suspended: libxc then finds it running */
            LOG(ERROR, "domain %u did not suspend", s->domid);
            return MIG_ESUSPEND;
        }
        LOG(ERROR, "saving domain %u failed%s", s->domid,
            s->suspend_rc ? " (suspend failed)" : "");
        return -EIO;
    }
    rc = write_libxl_end(fd);
    if (rc)
        LOGEV(ERROR, -rc, "cannot write the libxl end record");
    return rc;
}

/*
 * Resume only a guest that is suspended: a save that failed before its
 * suspend callback (connect, stream or policy abort in precopy) leaves
 * the guest running, and xc_domain_resume() on a running guest fails
 * with EINVAL.  libxc has already turned log-dirty off in its cleanup.
 */
static int xen_resume(void *be)
{
    struct xen_src *s = be;
    int st = domain_suspended(s);

    if (st < 0) {
        LOG(ERROR, "domain %u: cannot read its state to resume it", s->domid);
        return st;
    }
    if (!st) {
        LOG(INFO, "domain %u was not suspended: nothing to resume", s->domid);
        return 0;
    }
    return libxl_domain_resume(s->ctx, s->domid, 1, NULL) ? -EIO : 0;
}

static int xen_rename(void *be, const char *from, const char *to)
{
    struct xen_src *s = be;

    return libxl_domain_rename(s->ctx, s->domid, from, to) ? -EIO : 0;
}

static int xen_destroy(void *be)
{
    struct xen_src *s = be;

    return libxl_domain_destroy(s->ctx, s->domid, NULL) ? -EIO : 0;
}

const struct mig_src_ops xen_src_ops = {
    .save = xen_save,
    .resume = xen_resume,
    .rename = xen_rename,
    .destroy = xen_destroy,
};
