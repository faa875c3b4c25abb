/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>

#include "cli/sweep_xen.h"

static int ctx_open(libxl_ctx **ctx_r, xentoollog_logger_stdiostream **lg_r)
{
    *lg_r = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (!*lg_r)
        return -ENOMEM;
    if (libxl_ctx_alloc(ctx_r, LIBXL_VERSION, 0, (xentoollog_logger *)*lg_r)) {
        xtl_logger_destroy((xentoollog_logger *)*lg_r);
        return -EIO;
    }
    return 0;
}

static void ctx_close(libxl_ctx *ctx, xentoollog_logger_stdiostream *lg)
{
    libxl_ctx_free(ctx);
    xtl_logger_destroy((xentoollog_logger *)lg);
}

int sweep_xen_names(const char *suffix, char **names, size_t max)
{
    xentoollog_logger_stdiostream *lg;
    libxl_dominfo *info;
    libxl_ctx *ctx;
    size_t sl = strlen(suffix), n = 0, nl;
    int i, nb, rc;
    char *name;

    rc = ctx_open(&ctx, &lg);
    if (rc)
        return rc;
    info = libxl_list_domain(ctx, &nb);
    if (!info) {
        ctx_close(ctx, lg);
        return -EIO;
    }
    for (i = 0; i < nb && n < max; i++) {
        name = libxl_domid_to_name(ctx, info[i].domid);
        if (!name)
            continue;
        nl = strlen(name);
        if (nl > sl && !strcmp(name + nl - sl, suffix))
            names[n++] = name;
        else
            free(name);
    }
    libxl_dominfo_list_free(info, nb);
    ctx_close(ctx, lg);
    return (int)n;
}

int sweep_xen_destroy(const char *name)
{
    xentoollog_logger_stdiostream *lg;
    libxl_ctx *ctx;
    uint32_t domid;
    int rc;

    rc = ctx_open(&ctx, &lg);
    if (rc)
        return rc;
    if (libxl_name_to_domid(ctx, name, &domid))
        rc = -ENOENT;
    else if (libxl_domain_destroy(ctx, domid, NULL))
        rc = -EIO;
    ctx_close(ctx, lg);
    return rc;
}

int sweep_xen_finish_start(const char *name)
{
    xentoollog_logger_stdiostream *lg;
    libxl_ctx *ctx;
    uint32_t domid;
    char *incoming = NULL;
    int rc;

    rc = ctx_open(&ctx, &lg);
    if (rc)
        return rc;
    if (!libxl_name_to_domid(ctx, name, &domid)) {
        rc = 0;
    } else if (asprintf(&incoming, "%s--incoming", name) < 0) {
        incoming = NULL;
        rc = -ENOMEM;
        goto out;
    } else if (!libxl_name_to_domid(ctx, incoming, &domid)) {
        rc = libxl_domain_rename(ctx, domid, incoming, name) ? -EIO : 0;
    } else {
        rc = -ENOENT;
        goto out;
    }
    /* cleared to run by GO and journaled RUNNING: make sure it runs */
    if (!rc)
        libxl_domain_unpause(ctx, domid, NULL);
out:
    free(incoming);
    ctx_close(ctx, lg);
    return rc;
}

int sweep_xen_logdirty_off(const char *name)
{
    xentoollog_logger_stdiostream *lg;
    xc_interface *xch;
    libxl_ctx *ctx;
    uint32_t domid;
    int rc;

    rc = ctx_open(&ctx, &lg);
    if (rc)
        return rc;
    if (libxl_name_to_domid(ctx, name, &domid)) {
        rc = -ENOENT;
    } else {
        xch = xc_interface_open((xentoollog_logger *)lg, NULL, 0);
        if (!xch) {
            rc = -EIO;
        } else {
            /* as libxenguest's save cleanup: OFF ends log-dirty mode (a
             * HAP domain then answers EINVAL for the rest of the op) */
            if (xc_shadow_control(xch, domid, XEN_DOMCTL_SHADOW_OP_OFF, NULL,
                                  0) &&
                errno != EINVAL && errno != EOPNOTSUPP)
                rc = -EIO;
            xc_interface_close(xch);
        }
    }
    ctx_close(ctx, lg);
    return rc;
}

/* A process whose command line matches (not a shell line naming it). */
static int proc_running(int (*match)(const char *cmdline))
{
    char path[300], buf[512];
    struct dirent *de;
    DIR *d = opendir("/proc");
    int found = 0, fd;
    ssize_t n, i;

    if (!d)
        return 1; /* cannot tell: assume one runs */
    while (!found && (de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]) ||
            atoi(de->d_name) == (int)getpid())
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        for (i = 0; i < n; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[n] = '\0';
        if (strncmp(buf, "sh ", 3) && strncmp(buf, "/bin/sh ", 8) &&
            strncmp(buf, "bash ", 5) && match(buf))
            found = 1;
    }
    closedir(d);
    return found;
}

static int is_receive(const char *c)
{
    return strstr(c, " migrate-receive") != NULL;
}

static int is_send(const char *c)
{
    return strstr(c, " migrate ") != NULL || strstr(c, "--save-domain") != NULL;
}

int sweep_receive_running(void)
{
    return proc_running(is_receive);
}

int sweep_send_running(void)
{
    return proc_running(is_send);
}
