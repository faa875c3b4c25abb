/* SPDX-License-Identifier: MIT */
/*
 * The libmnl adapter of net-forward: struct nfwd_sys_ops over rtnetlink
 * (links, VXLAN, clsact, u32 + mirred), nfnetlink (nftables) and an
 * AF_PACKET socket.  The message builders are exposed for unit tests;
 * each writes one request (or one nfnetlink batch) into buf and returns
 * its length in bytes, or 0 when buf is too small.
 */
#ifndef XLMIG_NFWD_MNL_H
#define XLMIG_NFWD_MNL_H

#include <libmnl/libmnl.h>

#include "nfwd.h"

struct nfwd_mnl;

/* Opens a rtnetlink socket in the caller's network namespace. */
int nfwd_mnl_new(struct nfwd_mnl **r);
void nfwd_mnl_free(struct nfwd_mnl *nl); /* NULL-safe */
/* Fills sys with the adapter's ops and nl as context. */
void nfwd_mnl_sys(struct nfwd_mnl *nl, struct nfwd_sys *sys);

/* Kernel features net-forward needs (nfwd_mnl_probe). */
enum {
    NFWD_FEAT_VXLAN = 1 << 0,
    NFWD_FEAT_CLSACT = 1 << 1,
    NFWD_FEAT_U32_MIRRED = 1 << 2,
    NFWD_FEAT_NFTABLES = 1 << 3,
    NFWD_FEAT_PACKET = 1 << 4,
    NFWD_FEAT_BUFFER = 1 << 5, /* dummy links: the target's buffer */
    NFWD_FEAT_ALL = (1 << 6) - 1,
    /* without the buffer forwarding works, the blackout's frames are lost */
    NFWD_FEAT_REQUIRED = NFWD_FEAT_ALL & ~NFWD_FEAT_BUFFER,
};
/*
 * Tries every feature in a scratch network namespace (a forked child
 * that unshares; nothing of the host is touched).  *have_r: the features
 * that worked.  Returns 0, or -errno when the probe itself cannot run.
 */
int nfwd_mnl_probe(unsigned *have_r);
const char *nfwd_feat_name(unsigned bit);

/* ---- message builders (seq is put in every message) ---- */
size_t nfwd_msg_vxlan_add(void *buf, size_t len_bytes,
                          const struct nfwd_vxlan_spec *vx, unsigned seq);
/* The target's buffer device: a dummy link, up, no ARP. */
size_t nfwd_msg_dummy_add(void *buf, size_t len_bytes, const char *name,
                          unsigned mtu, unsigned seq);
size_t nfwd_msg_link_del(void *buf, size_t len_bytes, const char *name,
                         unsigned seq);
size_t nfwd_msg_clsact_add(void *buf, size_t len_bytes, int ifindex,
                           unsigned seq);
/* mac NULL: every frame, at NFWD_TC_PRIO_BUFFER. */
size_t nfwd_msg_redirect_add(void *buf, size_t len_bytes, int ifindex,
                             const uint8_t mac[6], int to_ifindex,
                             const uint8_t cookie[NFWD_COOKIE_LEN],
                             unsigned seq);
size_t nfwd_msg_filter_del(void *buf, size_t len_bytes, int ifindex,
                           uint32_t info, uint32_t handle, unsigned seq);
size_t nfwd_msg_fdb_point(void *buf, size_t len_bytes, int port_ifindex,
                          const uint8_t mac[6], unsigned seq);
/* Batch: begin, new table, new chain, new rule, end (3 requests). */
size_t nfwd_msg_nft_accept(void *buf, size_t len_bytes, uint32_t vni,
                           struct in_addr src, unsigned seq);
/* Batch: begin, delete table, end (1 request). */
size_t nfwd_msg_nft_del(void *buf, size_t len_bytes, const char *table,
                        unsigned seq);

/*
 * From one RTM_NEWTFILTER message of a dump: is it a net-forward filter?
 * Returns the VNI of its cookie (0: not ours) and its tcm_info/handle.
 */
uint32_t nfwd_msg_filter_vni(const struct nlmsghdr *nlh, uint32_t *info_r,
                             uint32_t *handle_r);

#endif
