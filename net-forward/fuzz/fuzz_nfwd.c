/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: everything net-forward parses from outside the
 * process.  The first byte picks the parser, the rest is its input:
 *   0  a vif spec (command line)          1  an announce schedule
 *   2  key NUL value (xenstore facts)     3  a MAC and a device name
 *   4  a tc filter message of a kernel dump (the sweep's parser)
 * None may crash, read out of bounds or accept what it must refuse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "../nfwd_mnl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint32_t msg[16384]; /* aligned like a netlink receive buffer */
    char *s, err[160], *val;
    struct nfwd_vif v;
    struct nfwd_sched sc;
    struct nlmsghdr *nlh;
    uint32_t info, handle;
    uint8_t mac[6];
    unsigned k;

    log_threshold = LVL_ERROR;
    if (size < 1 || size > sizeof(msg))
        return 0;
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    switch (data[0] % 5) {
    case 0:
        memset(&v, 0, sizeof(v));
        if (!nfwd_vif_parse(s, &v, err, sizeof(err))) {
            /* what it accepts is well formed */
            if (!(v.mac[0] | v.mac[1] | v.mac[2] | v.mac[3] | v.mac[4] |
                  v.mac[5]) ||
                (v.mac[0] & 1) || strlen(v.bridge) >= NFWD_IFNAMSIZ ||
                strlen(v.ifname) >= NFWD_IFNAMSIZ || v.vlan > 4094 ||
                (v.mtu && (v.mtu < 68 || v.mtu > 65535)))
                abort();
        }
        break;
    case 1:
        if (!nfwd_sched_parse(&sc, s)) {
            if (!sc.rounds || sc.rounds > NFWD_ANNOUNCE_MAX_ROUNDS)
                abort();
            for (k = 1; k < sc.rounds; k++)
                if (sc.offsets_ms[k] < sc.offsets_ms[k - 1] ||
                    sc.offsets_ms[k] > NFWD_ANNOUNCE_MAX_MS)
                    abort();
        }
        break;
    case 2:
        val = memchr(s, 0, size - 1) ? s + strlen(s) + 1 : NULL;
        memset(&v, 0, sizeof(v));
        if (val && val < s + size)
            (void)nfwd_vif_set(&v, s, val, err, sizeof(err));
        break;
    case 3:
        if (!nfwd_mac_parse(s, mac) && (mac[0] & 1))
            abort();
        if (nfwd_dev_vni(s) > 0xffffff)
            abort();
        break;
    case 4:
        memcpy(msg, data + 1, size - 1);
        nlh = (struct nlmsghdr *)msg;
        /* the receive loop hands over only messages that fit */
        if (size - 1 < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) ||
            nlh->nlmsg_len > size - 1)
            break;
        if (nfwd_msg_filter_vni(nlh, &info, &handle) > 0xffffff)
            abort();
        break;
    }
    free(s);
    return 0;
}
