/* SPDX-License-Identifier: MIT */
/*
 * xlmig-logdirty-probe DOMID: prints "log-dirty off" or "log-dirty on" for
 * a domain, for the back-out tests (tests/xen/104-migrate-backout.sh).
 *
 * Xen has no query for it; XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY fails
 * with EINVAL while log-dirty is already on (libxc's enable_logdirty
 * juggles off/on for that reason).  So: enable; if that works it was off,
 * and it is turned off again at once; EOPNOTSUPP (no shadow paging for a
 * PV domain) means it cannot be on.  Exit 0 off, 1 on, 2 error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>

int main(int argc, char **argv)
{
    xc_interface *xch;
    unsigned long v;
    char *end;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DOMID\n", argv[0]);
        return 2;
    }
    errno = 0;
    v = strtoul(argv[1], &end, 10);
    if (errno || *end || end == argv[1] || v == 0 || v >= 0x7ff0) {
        fprintf(stderr, "bad domid '%s'\n", argv[1]);
        return 2;
    }
    xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        fprintf(stderr, "cannot open the hypervisor interface\n");
        return 2;
    }
    rc = xc_shadow_control(xch, (uint32_t)v,
                           XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL, 0);
    if (rc == 0) {
        rc = xc_shadow_control(xch, (uint32_t)v, XEN_DOMCTL_SHADOW_OP_OFF, NULL,
                               0);
        xc_interface_close(xch);
        if (rc) {
            fprintf(stderr, "cannot turn log-dirty off again: %s\n",
                    strerror(errno));
            return 2;
        }
        printf("log-dirty off\n");
        return 0;
    }
    rc = errno;
    xc_interface_close(xch);
    if (rc == EINVAL) {
        printf("log-dirty on\n");
        return 1;
    }
    if (rc == EOPNOTSUPP) {
        /* a PV domain on a hypervisor without shadow paging: log-dirty
         * cannot be turned on at all, so it is off */
        printf("log-dirty off\n");
        return 0;
    }
    fprintf(stderr, "domain %lu: %s\n", v, strerror(rc));
    return 2;
}
