/* SPDX-License-Identifier: MIT */
/*
 * libmnl adapter of net-forward (see nfwd_mnl.h).  Thin on purpose: one
 * request, one acknowledgement; the decisions live in nfwd_core.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "net-forward: "
#include "common/log.h"
#include "nfwd_mnl.h"

#define MSG_MAX_BYTES   1024 /* every request we build fits */
#define BATCH_MAX_BYTES 2048
#define RX_BYTES        65536 /* a dump message never exceeds this */

struct nfwd_mnl {
    struct mnl_socket *rt;
    unsigned seq;
    int pkt_fd;
    char *rx;
};

/* ------------------------------------------------------------ builders */

static struct nlmsghdr *rt_hdr(void *buf, uint16_t type, uint16_t flags,
                               unsigned seq)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = seq;
    return nlh;
}

/* RTM_NEWLINK of a new link, up with flags; *info_r: the open LINKINFO. */
static struct nlmsghdr *newlink_hdr(void *buf, const char *name, unsigned mtu,
                                    unsigned flags, const char *kind,
                                    unsigned seq, struct nlattr **info_r)
{
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;

    memset(buf, 0, MSG_MAX_BYTES);
    nlh = rt_hdr(buf, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_flags = flags;
    ifi->ifi_change = flags;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    *info_r = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
    return nlh;
}

size_t nfwd_msg_vxlan_add(void *buf, size_t len_bytes,
                          const struct nfwd_vxlan_spec *vx, unsigned seq)
{
    struct nlmsghdr *nlh;
    struct nlattr *info, *data;

    if (len_bytes < MSG_MAX_BYTES)
        return 0;
    nlh = newlink_hdr(buf, vx->name, vx->mtu, IFF_UP, "vxlan", seq, &info);
    data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, vx->vni);
    /* a unicast "group" is the fixed remote of a point-to-point tunnel */
    mnl_attr_put(nlh, IFLA_VXLAN_GROUP, 4, &vx->remote.s_addr);
    mnl_attr_put(nlh, IFLA_VXLAN_LOCAL, 4, &vx->local.s_addr);
    mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(NFWD_VXLAN_PORT));
    mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    return nlh->nlmsg_len;
}

size_t nfwd_msg_dummy_add(void *buf, size_t len_bytes, const char *name,
                          unsigned mtu, unsigned seq)
{
    struct nlmsghdr *nlh;
    struct nlattr *info;

    if (len_bytes < MSG_MAX_BYTES)
        return 0;
    nlh = newlink_hdr(buf, name, mtu, IFF_UP | IFF_NOARP, "dummy", seq, &info);
    mnl_attr_nest_end(nlh, info);
    return nlh->nlmsg_len;
}

size_t nfwd_msg_link_del(void *buf, size_t len_bytes, const char *name,
                         unsigned seq)
{
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;

    if (len_bytes < MSG_MAX_BYTES)
        return 0;
    memset(buf, 0, MSG_MAX_BYTES);
    nlh = rt_hdr(buf, RTM_DELLINK, NLM_F_ACK, seq);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return nlh->nlmsg_len;
}

static struct tcmsg *tc_hdr(struct nlmsghdr *nlh, int ifindex, uint32_t parent)
{
    struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));

    tcm->tcm_family = AF_UNSPEC;
    tcm->tcm_ifindex = ifindex;
    tcm->tcm_parent = parent;
    return tcm;
}

size_t nfwd_msg_clsact_add(void *buf, size_t len_bytes, int ifindex,
                           unsigned seq)
{
    struct nlmsghdr *nlh;
    struct tcmsg *tcm;

    if (len_bytes < MSG_MAX_BYTES)
        return 0;
    memset(buf, 0, MSG_MAX_BYTES);
    nlh = rt_hdr(buf, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
    tcm = tc_hdr(nlh, ifindex, TC_H_CLSACT);
    tcm->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
    mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
    return nlh->nlmsg_len;
}

#define INGRESS_PARENT TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)

size_t nfwd_msg_redirect_add(void *buf, size_t len_bytes, int ifindex,
                             const uint8_t mac[6], int to_ifindex,
                             const uint8_t cookie[NFWD_COOKIE_LEN],
                             unsigned seq)
{
    struct nlmsghdr *nlh;
    struct tcmsg *tcm;
    struct nlattr *opts, *acts, *act, *aopts;
    /* a tc_u32_sel and its two keys, as one attribute */
    uint8_t s[sizeof(struct tc_u32_sel) + 2 * sizeof(struct tc_u32_key)];
    struct tc_u32_sel sel;
    struct tc_u32_key key;
    struct nfwd_u32_key k[2];
    struct tc_mirred mirred;
    int i;

    if (len_bytes < MSG_MAX_BYTES)
        return 0;
    memset(buf, 0, MSG_MAX_BYTES);
    nlh =
        rt_hdr(buf, RTM_NEWTFILTER, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
    tcm = tc_hdr(nlh, ifindex, INGRESS_PARENT);
    tcm->tcm_info =
        TC_H_MAKE((uint32_t)(mac ? NFWD_TC_PRIO : NFWD_TC_PRIO_BUFFER) << 16,
                  htons(ETH_P_ALL));
    mnl_attr_put_strz(nlh, TCA_KIND, "u32");

    memset(&sel, 0, sizeof(sel));
    if (mac) {
        nfwd_u32_dstmac_keys(mac, k);
    } else {
        /* every frame: keys with an empty mask */
        memset(k, 0, sizeof(k));
    }
    sel.flags = TC_U32_TERMINAL;
    sel.nkeys = 2;
    memcpy(s, &sel, sizeof(sel));
    for (i = 0; i < 2; i++) {
        memset(&key, 0, sizeof(key));
        key.val = k[i].val_be;
        key.mask = k[i].mask_be;
        key.off = k[i].off;
        memcpy(s + sizeof(sel) + (size_t)i * sizeof(key), &key, sizeof(key));
    }
    memset(&mirred, 0, sizeof(mirred));
    mirred.action = TC_ACT_STOLEN;
    mirred.eaction = TCA_EGRESS_REDIR;
    mirred.ifindex = (uint32_t)to_ifindex;

    opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
    mnl_attr_put(nlh, TCA_U32_SEL, sizeof(s), &s);
    acts = mnl_attr_nest_start(nlh, TCA_U32_ACT);
    act = mnl_attr_nest_start(nlh, 1);
    mnl_attr_put_strz(nlh, TCA_ACT_KIND, "mirred");
    mnl_attr_put(nlh, TCA_ACT_COOKIE, NFWD_COOKIE_LEN, cookie);
    aopts = mnl_attr_nest_start(nlh, TCA_ACT_OPTIONS);
    mnl_attr_put(nlh, TCA_MIRRED_PARMS, sizeof(mirred), &mirred);
    mnl_attr_nest_end(nlh, aopts);
    mnl_attr_nest_end(nlh, act);
    mnl_attr_nest_end(nlh, acts);
    mnl_attr_nest_end(nlh, opts);
    return nlh->nlmsg_len;
}

size_t nfwd_msg_filter_del(void *buf, size_t len_bytes, int ifindex,
                           uint32_t info, uint32_t handle, unsigned seq)
{
    struct nlmsghdr *nlh;
    struct tcmsg *tcm;

    if (len_bytes < MSG_MAX_BYTES)
        return 0;
    memset(buf, 0, MSG_MAX_BYTES);
    nlh = rt_hdr(buf, RTM_DELTFILTER, NLM_F_ACK, seq);
    tcm = tc_hdr(nlh, ifindex, INGRESS_PARENT);
    tcm->tcm_info = info;
    tcm->tcm_handle = handle;
    mnl_attr_put_strz(nlh, TCA_KIND, "u32");
    return nlh->nlmsg_len;
}

size_t nfwd_msg_fdb_point(void *buf, size_t len_bytes, int port_ifindex,
                          const uint8_t mac[6], unsigned seq)
{
    struct nlmsghdr *nlh;
    struct ndmsg *ndm;

    if (len_bytes < MSG_MAX_BYTES)
        return 0;
    memset(buf, 0, MSG_MAX_BYTES);
    /* bridge fdb replace MAC dev PORT master dynamic */
    nlh = rt_hdr(buf, RTM_NEWNEIGH, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
                 seq);
    ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
    ndm->ndm_family = AF_BRIDGE;
    ndm->ndm_ifindex = port_ifindex;
    ndm->ndm_state = NUD_REACHABLE;
    ndm->ndm_flags = NTF_MASTER;
    mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
    return nlh->nlmsg_len;
}

/* nfnetlink message at the end of a batch being built in buf. */
static struct nlmsghdr *nf_hdr(char *buf, size_t *off, uint16_t type,
                               uint16_t flags, uint8_t family, unsigned seq)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);
    struct nfgenmsg *nfg;

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = seq;
    nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = family;
    nfg->version = NFNETLINK_V0;
    nfg->res_id =
        htons(type == NFNL_MSG_BATCH_BEGIN || type == NFNL_MSG_BATCH_END
                  ? NFNL_SUBSYS_NFTABLES
                  : 0);
    return nlh;
}

static void nf_done(size_t *off, const struct nlmsghdr *nlh)
{
    *off += MNL_ALIGN(nlh->nlmsg_len);
}

#define NFT_TYPE(t) ((uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | (t)))

/* One expression element of a rule. */
static struct nlattr *expr_start(struct nlmsghdr *nlh, const char *name)
{
    struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
    (void)elem;
    return elem;
}

static void expr_payload(struct nlmsghdr *nlh, uint32_t base, uint32_t off,
                         uint32_t len)
{
    struct nlattr *e = expr_start(nlh, "payload"), *d;

    d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    mnl_attr_put_u32(nlh, NFTA_PAYLOAD_DREG, htonl(NFT_REG_1));
    mnl_attr_put_u32(nlh, NFTA_PAYLOAD_BASE, htonl(base));
    mnl_attr_put_u32(nlh, NFTA_PAYLOAD_OFFSET, htonl(off));
    mnl_attr_put_u32(nlh, NFTA_PAYLOAD_LEN, htonl(len));
    mnl_attr_nest_end(nlh, d);
    mnl_attr_nest_end(nlh, e);
}

static void expr_cmp(struct nlmsghdr *nlh, uint32_t op, const void *val,
                     size_t len)
{
    struct nlattr *e = expr_start(nlh, "cmp"), *d, *v;

    d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    mnl_attr_put_u32(nlh, NFTA_CMP_SREG, htonl(NFT_REG_1));
    mnl_attr_put_u32(nlh, NFTA_CMP_OP, htonl(op));
    v = mnl_attr_nest_start(nlh, NFTA_CMP_DATA);
    mnl_attr_put(nlh, NFTA_DATA_VALUE, len, val);
    mnl_attr_nest_end(nlh, v);
    mnl_attr_nest_end(nlh, d);
    mnl_attr_nest_end(nlh, e);
}

size_t nfwd_msg_nft_accept(void *buf, size_t len_bytes, uint32_t vni,
                           struct in_addr src, unsigned seq)
{
    char *b = buf, table[NFWD_IFNAMSIZ];
    size_t off = 0;
    struct nlmsghdr *nlh;
    struct nlattr *hook, *exprs, *e, *d, *v, *vd;
    uint8_t l4 = IPPROTO_UDP, vni_be[3];
    uint16_t port_be = htons(NFWD_VXLAN_PORT);

    if (len_bytes < BATCH_MAX_BYTES)
        return 0;
    memset(buf, 0, BATCH_MAX_BYTES);
    nfwd_dev_name(vni, table);
    vni_be[0] = (uint8_t)(vni >> 16);
    vni_be[1] = (uint8_t)(vni >> 8);
    vni_be[2] = (uint8_t)vni;

    nlh = nf_hdr(b, &off, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, seq++);
    nf_done(&off, nlh);

    nlh = nf_hdr(b, &off, NFT_TYPE(NFT_MSG_NEWTABLE),
                 NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, NFPROTO_IPV4, seq++);
    mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
    nf_done(&off, nlh);

    nlh = nf_hdr(b, &off, NFT_TYPE(NFT_MSG_NEWCHAIN),
                 NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, NFPROTO_IPV4, seq++);
    mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
    mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "input");
    mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
    hook = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
    mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(NF_INET_LOCAL_IN));
    mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(0));
    mnl_attr_nest_end(nlh, hook);
    mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
    nf_done(&off, nlh);

    /* udp dport 4789, VXLAN VNI == vni, ip saddr != src: count, drop */
    nlh = nf_hdr(b, &off, NFT_TYPE(NFT_MSG_NEWRULE),
                 NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, NFPROTO_IPV4, seq++);
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
    mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "input");
    exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
    e = expr_start(nlh, "meta");
    d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    mnl_attr_put_u32(nlh, NFTA_META_KEY, htonl(NFT_META_L4PROTO));
    mnl_attr_put_u32(nlh, NFTA_META_DREG, htonl(NFT_REG_1));
    mnl_attr_nest_end(nlh, d);
    mnl_attr_nest_end(nlh, e);
    expr_cmp(nlh, NFT_CMP_EQ, &l4, 1);
    expr_payload(nlh, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    expr_cmp(nlh, NFT_CMP_EQ, &port_be, 2);
    /* VNI: bytes 4..6 of the VXLAN header, after the 8-byte UDP header */
    expr_payload(nlh, NFT_PAYLOAD_TRANSPORT_HEADER, 12, 3);
    expr_cmp(nlh, NFT_CMP_EQ, vni_be, 3);
    expr_payload(nlh, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
    expr_cmp(nlh, NFT_CMP_NEQ, &src.s_addr, 4);
    e = expr_start(nlh, "counter");
    mnl_attr_nest_end(nlh, e);
    e = expr_start(nlh, "immediate");
    d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
    v = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
    vd = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
    mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(NF_DROP));
    mnl_attr_nest_end(nlh, vd);
    mnl_attr_nest_end(nlh, v);
    mnl_attr_nest_end(nlh, d);
    mnl_attr_nest_end(nlh, e);
    mnl_attr_nest_end(nlh, exprs);
    nf_done(&off, nlh);

    nlh = nf_hdr(b, &off, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, seq);
    nf_done(&off, nlh);
    return off;
}

size_t nfwd_msg_nft_del(void *buf, size_t len_bytes, const char *table,
                        unsigned seq)
{
    char *b = buf;
    size_t off = 0;
    struct nlmsghdr *nlh;

    if (len_bytes < BATCH_MAX_BYTES || strlen(table) >= NFWD_IFNAMSIZ)
        return 0;
    memset(buf, 0, BATCH_MAX_BYTES);
    nlh = nf_hdr(b, &off, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, seq++);
    nf_done(&off, nlh);
    nlh = nf_hdr(b, &off, NFT_TYPE(NFT_MSG_DELTABLE), NLM_F_ACK, NFPROTO_IPV4,
                 seq++);
    mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
    nf_done(&off, nlh);
    nlh = nf_hdr(b, &off, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, seq);
    nf_done(&off, nlh);
    return off;
}

/* ------------------------------------------------------------ parsing */

#define ATTR_MAX 96 /* above IFLA_MAX of current kernels */

struct attrs {
    const struct nlattr *tb[ATTR_MAX];
};

static int attr_cb(const struct nlattr *a, void *data)
{
    struct attrs *t = data;
    uint16_t type = mnl_attr_get_type(a);

    if (type < ATTR_MAX)
        t->tb[type] = a;
    return MNL_CB_OK;
}

static void parse_nested(const struct nlattr *nest, struct attrs *t)
{
    memset(t, 0, sizeof(*t));
    if (nest)
        (void)mnl_attr_parse_nested(nest, attr_cb, t);
}

uint32_t nfwd_msg_filter_vni(const struct nlmsghdr *nlh, uint32_t *info_r,
                             uint32_t *handle_r)
{
    const struct tcmsg *tcm;
    struct attrs top, opts, acts, act;
    uint32_t vni = 0;
    int i;

    if (nlh->nlmsg_type != RTM_NEWTFILTER ||
        nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*tcm))
        return 0;
    tcm = mnl_nlmsg_get_payload(nlh);
    if (tcm->tcm_info >> 16 != NFWD_TC_PRIO &&
        tcm->tcm_info >> 16 != NFWD_TC_PRIO_BUFFER)
        return 0;
    memset(&top, 0, sizeof(top));
    if (mnl_attr_parse(nlh, sizeof(*tcm), attr_cb, &top) < 0)
        return 0;
    if (!top.tb[TCA_KIND] ||
        mnl_attr_validate(top.tb[TCA_KIND], MNL_TYPE_STRING) ||
        strcmp(mnl_attr_get_str(top.tb[TCA_KIND]), "u32"))
        return 0;
    parse_nested(top.tb[TCA_OPTIONS], &opts);
    parse_nested(opts.tb[TCA_U32_ACT], &acts);
    for (i = 1; i < ATTR_MAX && !vni; i++) {
        if (!acts.tb[i])
            continue;
        parse_nested(acts.tb[i], &act);
        if (act.tb[TCA_ACT_COOKIE])
            vni = nfwd_cookie_vni(
                mnl_attr_get_payload(act.tb[TCA_ACT_COOKIE]),
                mnl_attr_get_payload_len(act.tb[TCA_ACT_COOKIE]));
    }
    if (vni) {
        *info_r = tcm->tcm_info;
        *handle_r = tcm->tcm_handle;
    }
    return vni;
}

/* ------------------------------------------------------------ I/O */

typedef int msg_cb(const struct nlmsghdr *nlh, void *data);

/* Kernel error text of an NLMSG_ERROR, if it carries one. */
static const char *extack_msg(const struct nlmsghdr *nlh)
{
    struct attrs t;

    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
        return NULL;
    memset(&t, 0, sizeof(t));
    /* NETLINK_CAP_ACK: the echoed request is only its header */
    if (mnl_attr_parse(nlh, sizeof(struct nlmsgerr), attr_cb, &t) < 0)
        return NULL;
    if (!t.tb[NLMSGERR_ATTR_MSG] ||
        mnl_attr_validate(t.tb[NLMSGERR_ATTR_MSG], MNL_TYPE_NUL_STRING))
        return NULL;
    return mnl_attr_get_str(t.tb[NLMSGERR_ATTR_MSG]);
}

/*
 * Send len bytes and read answers: acks acknowledgements for a request
 * (the first error wins), or a dump to NLMSG_DONE when dump is set.
 */
static int talk(struct mnl_socket *s, char *rx, const void *req, size_t len,
                unsigned acks, int dump, msg_cb *cb, void *data)
{
    unsigned portid = mnl_socket_get_portid(s), seen = 0;
    /* answers carry the request's seq (a batch: its first few) */
    unsigned seq_lo = ((const struct nlmsghdr *)req)->nlmsg_seq;
    const struct nlmsghdr *nlh;
    const struct nlmsgerr *e;
    const char *msg;
    ssize_t got;
    int rc = 0, r, n;

    if (mnl_socket_sendto(s, req, len) < 0)
        return -errno;
    for (;;) {
        got = mnl_socket_recvfrom(s, rx, RX_BYTES);
        if (got < 0) {
            r = errno == EAGAIN ? -ETIMEDOUT : -errno;
            return rc ? rc : r;
        }
        n = (int)got;
        for (nlh = (const struct nlmsghdr *)rx; mnl_nlmsg_ok(nlh, n);
             nlh = mnl_nlmsg_next(nlh, &n)) {
            if ((nlh->nlmsg_pid != portid && nlh->nlmsg_pid != 0) ||
                nlh->nlmsg_seq - seq_lo > 8)
                continue; /* not ours, or late news of an old request */
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*e))
                    return -EPROTO;
                e = mnl_nlmsg_get_payload(nlh);
                if (e->error && !rc) {
                    rc = e->error;
                    msg = extack_msg(nlh);
                    if (msg)
                        LOG(DEBUG, "kernel says: %s", msg);
                }
                if (dump)
                    return rc;
                if (++seen >= acks)
                    return rc;
                continue;
            }
            if (nlh->nlmsg_type == NLMSG_DONE)
                return rc;
            if (cb && !rc) {
                r = cb(nlh, data);
                if (r && !rc)
                    rc = r;
            }
        }
    }
}

static int rt_req(struct nfwd_mnl *nl, const void *req, size_t len)
{
    if (!len)
        return -ENOBUFS;
    return talk(nl->rt, nl->rx, req, len, 1, 0, NULL, NULL);
}

static int sock_open(int bus, struct mnl_socket **r)
{
    struct mnl_socket *s;
    struct timeval tv = { .tv_sec = 2 };
    int one = 1, rc;

    s = mnl_socket_open(bus);
    if (!s)
        return -errno;
    if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
        rc = -errno;
        mnl_socket_close(s);
        return rc;
    }
    /* extended errors and short acks: best effort */
    (void)mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof(one));
    (void)mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof(one));
    (void)setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv,
                     sizeof(tv));
    *r = s;
    return 0;
}

int nfwd_mnl_new(struct nfwd_mnl **r)
{
    struct nfwd_mnl *nl;
    int rc;

    nl = calloc(1, sizeof(*nl));
    if (!nl)
        return -ENOMEM;
    nl->pkt_fd = -1;
    nl->seq = (unsigned)time(NULL);
    nl->rx = malloc(RX_BYTES);
    if (!nl->rx) {
        rc = -ENOMEM;
        goto out;
    }
    rc = sock_open(NETLINK_ROUTE, &nl->rt);
    if (rc)
        goto out;
    *r = nl;
    return 0;
out:
    nfwd_mnl_free(nl);
    return rc;
}

void nfwd_mnl_free(struct nfwd_mnl *nl)
{
    if (!nl)
        return;
    if (nl->rt)
        mnl_socket_close(nl->rt);
    if (nl->pkt_fd >= 0)
        close(nl->pkt_fd);
    free(nl->rx);
    free(nl);
}

/* ------------------------------------------------------------ ops */

static uint64_t op_now_ms(void *ctx)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void op_sleep_ms(void *ctx, unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

struct link_dump {
    struct nfwd_link *out;
    size_t max, n;
};

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_dump *d = data;
    const struct ifinfomsg *ifi;
    struct attrs t, info;
    struct nfwd_link *l;

    if (nlh->nlmsg_type != RTM_NEWLINK ||
        nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifi) || d->n >= d->max)
        return 0;
    ifi = mnl_nlmsg_get_payload(nlh);
    memset(&t, 0, sizeof(t));
    if (mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, &t) < 0)
        return 0;
    if (!t.tb[IFLA_IFNAME] ||
        mnl_attr_validate(t.tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING))
        return 0;
    l = &d->out[d->n++];
    memset(l, 0, sizeof(*l));
    l->ifindex = ifi->ifi_index;
    snprintf(l->name, sizeof(l->name), "%s",
             mnl_attr_get_str(t.tb[IFLA_IFNAME]));
    if (t.tb[IFLA_MASTER] &&
        !mnl_attr_validate(t.tb[IFLA_MASTER], MNL_TYPE_U32))
        l->master = (int)mnl_attr_get_u32(t.tb[IFLA_MASTER]);
    /* carrier: up and carrier on (tc mirred drops into anything less) */
    if (t.tb[IFLA_CARRIER] &&
        !mnl_attr_validate(t.tb[IFLA_CARRIER], MNL_TYPE_U8))
        l->carrier =
            mnl_attr_get_u8(t.tb[IFLA_CARRIER]) && (ifi->ifi_flags & IFF_UP);
    parse_nested(t.tb[IFLA_LINKINFO], &info);
    if (info.tb[IFLA_INFO_KIND] &&
        !mnl_attr_validate(info.tb[IFLA_INFO_KIND], MNL_TYPE_STRING))
        snprintf(l->kind, sizeof(l->kind), "%.*s",
                 (int)mnl_attr_get_payload_len(info.tb[IFLA_INFO_KIND]),
                 (const char *)mnl_attr_get_payload(info.tb[IFLA_INFO_KIND]));
    /* attributes are 4-byte aligned only: copy, never dereference */
    if (t.tb[IFLA_STATS64] && mnl_attr_get_payload_len(t.tb[IFLA_STATS64]) >=
                                  sizeof(struct rtnl_link_stats64)) {
        const char *st = mnl_attr_get_payload(t.tb[IFLA_STATS64]);

        memcpy(&l->tx_packets,
               st + offsetof(struct rtnl_link_stats64, tx_packets),
               sizeof(l->tx_packets));
        memcpy(&l->tx_bytes, st + offsetof(struct rtnl_link_stats64, tx_bytes),
               sizeof(l->tx_bytes));
        memcpy(&l->rx_packets,
               st + offsetof(struct rtnl_link_stats64, rx_packets),
               sizeof(l->rx_packets));
    }
    return 0;
}

static int op_links(void *ctx, struct nfwd_link *out, size_t max, size_t *n_r)
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;
    struct link_dump d = { out, max, 0 };
    int rc;

    memset(req, 0, sizeof(req));
    nlh = rt_hdr(req, RTM_GETLINK, NLM_F_DUMP, ++nl->seq);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    rc = talk(nl->rt, nl->rx, req, nlh->nlmsg_len, 0, 1, link_cb, &d);
    if (rc)
        return rc;
    *n_r = d.n;
    return 0;
}

static int op_vxlan_add(void *ctx, const struct nfwd_vxlan_spec *spec)
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];

    return rt_req(nl, req,
                  nfwd_msg_vxlan_add(req, sizeof(req), spec, ++nl->seq));
}

static int op_link_del(void *ctx, const char *name)
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];

    return rt_req(nl, req,
                  nfwd_msg_link_del(req, sizeof(req), name, ++nl->seq));
}

static int op_clsact_add(void *ctx, int ifindex)
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];
    int rc;

    rc = rt_req(nl, req,
                nfwd_msg_clsact_add(req, sizeof(req), ifindex, ++nl->seq));
    return rc == -EEXIST ? 0 : rc;
}

static int op_clsact_new(void *ctx, int ifindex)
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];

    return rt_req(nl, req,
                  nfwd_msg_clsact_add(req, sizeof(req), ifindex, ++nl->seq));
}

static int op_redirect_add(void *ctx, int ifindex, const uint8_t mac[6],
                           int to_ifindex, const uint8_t cookie[8])
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];

    return rt_req(nl, req,
                  nfwd_msg_redirect_add(req, sizeof(req), ifindex, mac,
                                        to_ifindex, cookie, ++nl->seq));
}

#define MAX_DEL 256 /* filters of ours on one link per sweep pass */

struct filter_dump {
    uint32_t vni;
    uint32_t info[MAX_DEL], handle[MAX_DEL];
    unsigned n;
};

static int filter_cb(const struct nlmsghdr *nlh, void *data)
{
    struct filter_dump *d = data;
    uint32_t info, handle, vni;

    vni = nfwd_msg_filter_vni(nlh, &info, &handle);
    if (!vni || (d->vni && vni != d->vni) || d->n >= MAX_DEL)
        return 0;
    d->info[d->n] = info;
    d->handle[d->n] = handle;
    d->n++;
    return 0;
}

static int op_redirect_del(void *ctx, int ifindex, uint32_t vni, unsigned *n_r)
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];
    struct nlmsghdr *nlh;
    struct filter_dump *d;
    unsigned i, done = 0;
    int rc;

    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->vni = vni;
    memset(req, 0, sizeof(req));
    nlh = rt_hdr(req, RTM_GETTFILTER, NLM_F_DUMP, ++nl->seq);
    tc_hdr(nlh, ifindex, INGRESS_PARENT);
    rc = talk(nl->rt, nl->rx, req, nlh->nlmsg_len, 0, 1, filter_cb, d);
    if (rc)
        goto out;
    for (i = 0; i < d->n; i++) {
        rc = rt_req(nl, req,
                    nfwd_msg_filter_del(req, sizeof(req), ifindex, d->info[i],
                                        d->handle[i], ++nl->seq));
        if (rc == -ENOENT)
            continue;
        if (rc)
            goto out;
        done++;
    }
    rc = 0;
out:
    *n_r = done;
    free(d);
    return rc;
}

static int any_filter_cb(const struct nlmsghdr *nlh, void *data)
{
    const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
    struct attrs top;
    int u32;

    if (nlh->nlmsg_type != RTM_NEWTFILTER ||
        mnl_nlmsg_get_payload_len(nlh) < sizeof(*tcm) || !tcm->tcm_handle)
        return 0;
    memset(&top, 0, sizeof(top));
    if (mnl_attr_parse(nlh, sizeof(*tcm), attr_cb, &top) < 0)
        return 0;
    u32 = top.tb[TCA_KIND] &&
          !mnl_attr_validate(top.tb[TCA_KIND], MNL_TYPE_STRING) &&
          !strcmp(mnl_attr_get_str(top.tb[TCA_KIND]), "u32");
    /* a u32 hash table left by deleted filters has node 0: not a filter */
    if (!u32 || (tcm->tcm_handle & 0xfffu))
        (*(unsigned *)data)++;
    return 0;
}

/* Delete the clsact qdisc of ifindex unless a filter hangs on it. */
static int op_clsact_del_empty(void *ctx, int ifindex, int *deleted_r)
{
    static const uint32_t parents[2] = {
        INGRESS_PARENT, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)
    };
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];
    struct nlmsghdr *nlh;
    struct tcmsg *tcm;
    unsigned n = 0, i;
    int rc;

    *deleted_r = 0;
    for (i = 0; i < 2; i++) {
        memset(req, 0, sizeof(req));
        nlh = rt_hdr(req, RTM_GETTFILTER, NLM_F_DUMP, ++nl->seq);
        tc_hdr(nlh, ifindex, parents[i]);
        rc = talk(nl->rt, nl->rx, req, nlh->nlmsg_len, 0, 1, any_filter_cb, &n);
        if (rc)
            return rc;
    }
    if (n)
        return 0;
    memset(req, 0, sizeof(req));
    nlh = rt_hdr(req, RTM_DELQDISC, NLM_F_ACK, ++nl->seq);
    tcm = tc_hdr(nlh, ifindex, TC_H_CLSACT);
    tcm->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
    rc = rt_req(nl, req, nlh->nlmsg_len);
    if (!rc)
        *deleted_r = 1;
    return rc;
}

/* One nfnetlink batch of `requests` acknowledged requests. */
static int nf_batch(struct nfwd_mnl *nl, const void *req, size_t len,
                    unsigned requests)
{
    struct mnl_socket *s;
    int rc;

    if (!len)
        return -ENOBUFS;
    rc = sock_open(NETLINK_NETFILTER, &s);
    if (rc)
        return rc;
    rc = talk(s, nl->rx, req, len, requests, 0, NULL, NULL);
    mnl_socket_close(s);
    return rc;
}

static int op_accept_del(void *ctx, uint32_t vni)
{
    struct nfwd_mnl *nl = ctx;
    char req[BATCH_MAX_BYTES], table[NFWD_IFNAMSIZ];

    nfwd_dev_name(vni, table);
    nl->seq += 4;
    return nf_batch(nl, req, nfwd_msg_nft_del(req, sizeof(req), table, nl->seq),
                    1);
}

static int op_accept_add(void *ctx, uint32_t vni, struct in_addr src)
{
    struct nfwd_mnl *nl = ctx;
    char req[BATCH_MAX_BYTES];
    int rc;

    /* a stale table of the same VNI (crash) is replaced */
    rc = op_accept_del(ctx, vni);
    if (rc && rc != -ENOENT)
        return rc;
    nl->seq += 8;
    return nf_batch(
        nl, req, nfwd_msg_nft_accept(req, sizeof(req), vni, src, nl->seq), 3);
}

struct table_dump {
    char names[64][NFWD_IFNAMSIZ];
    unsigned n;
};

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
    struct table_dump *d = data;
    struct attrs t;
    const char *name;

    memset(&t, 0, sizeof(t));
    if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &t) < 0 ||
        !t.tb[NFTA_TABLE_NAME] ||
        mnl_attr_validate(t.tb[NFTA_TABLE_NAME], MNL_TYPE_NUL_STRING))
        return 0;
    name = mnl_attr_get_str(t.tb[NFTA_TABLE_NAME]);
    if (nfwd_dev_vni(name) && d->n < 64)
        snprintf(d->names[d->n++], NFWD_IFNAMSIZ, "%s", name);
    return 0;
}

static int op_accept_sweep(void *ctx, unsigned *n_r)
{
    struct nfwd_mnl *nl = ctx;
    char req[BATCH_MAX_BYTES];
    struct mnl_socket *s;
    struct nlmsghdr *nlh;
    struct table_dump d;
    size_t off = 0;
    unsigned i;
    int rc;

    *n_r = 0;
    d.n = 0;
    rc = sock_open(NETLINK_NETFILTER, &s);
    if (rc)
        return rc;
    memset(req, 0, sizeof(req));
    nlh = nf_hdr(req, &off, NFT_TYPE(NFT_MSG_GETTABLE), NLM_F_DUMP,
                 NFPROTO_IPV4, ++nl->seq);
    rc = talk(s, nl->rx, req, nlh->nlmsg_len, 0, 1, table_cb, &d);
    mnl_socket_close(s);
    if (rc)
        return rc;
    for (i = 0; i < d.n; i++) {
        nl->seq += 4;
        rc = nf_batch(nl, req,
                      nfwd_msg_nft_del(req, sizeof(req), d.names[i], nl->seq),
                      1);
        if (rc && rc != -ENOENT)
            return rc;
        if (!rc)
            (*n_r)++;
    }
    return 0;
}

static int op_send_frame(void *ctx, int ifindex, const uint8_t *frame,
                         size_t len_bytes)
{
    struct nfwd_mnl *nl = ctx;
    struct sockaddr_ll sll;

    if (nl->pkt_fd < 0) {
        /* protocol 0: a send-only socket, it receives nothing */
        nl->pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (nl->pkt_fd < 0)
            return -errno;
    }
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_halen = 6;
    memcpy(sll.sll_addr, frame, 6);
    if (sendto(nl->pkt_fd, frame, len_bytes, 0, (struct sockaddr *)&sll,
               sizeof(sll)) != (ssize_t)len_bytes)
        return -errno;
    return 0;
}

static int op_fdb_point(void *ctx, int port_ifindex, const uint8_t mac[6])
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];

    return rt_req(
        nl, req,
        nfwd_msg_fdb_point(req, sizeof(req), port_ifindex, mac, ++nl->seq));
}

static int op_buffer_dev_add(void *ctx, const char *name, unsigned mtu)
{
    struct nfwd_mnl *nl = ctx;
    char req[MSG_MAX_BYTES];

    return rt_req(nl, req,
                  nfwd_msg_dummy_add(req, sizeof(req), name, mtu, ++nl->seq));
}

/*
 * The target's buffer: a thread copies every frame sent out of the buffer
 * device into one growing byte array (per frame a u32 length, the
 * virtio-net header the kernel gives with PACKET_VNET_HDR, the frame)
 * until the NFWD_BUFFER_* bounds; the reader takes them in order and
 * sends each out of the vif with its header again, so that a checksum
 * left to the hardware (the usual case of a frame from a local veth or
 * tap) or a GRO-merged frame reaches the guest as it would have through
 * the redirect.  A thread rather than the socket's own queue: a
 * decapsulated frame keeps the truesize of the link's receive buffer (up
 * to 64 KiB on a jumbo link), so the kernel's queue holds a few hundred
 * frames at most.
 */
#define VNET_HDR_BYTES sizeof(struct virtio_net_hdr)

struct nfwd_capture {
    int fd, send_fd;
    pthread_t th;
    pthread_mutex_t mu;
    int stop;
    uint8_t *buf;
    size_t len, off; /* bytes held, bytes already read */
    unsigned frames;
    uint64_t drops;
    struct virtio_net_hdr last; /* of the frame read last */
};

static void *capture_main(void *arg)
{
    struct nfwd_capture *c = arg;
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    size_t max = VNET_HDR_BYTES + NFWD_BUFFER_FRAME_MAX;
    uint8_t *rec = malloc(max);
    uint32_t n32;
    ssize_t n;

    while (rec) {
        pthread_mutex_lock(&c->mu);
        if (c->stop) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        pthread_mutex_unlock(&c->mu);
        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(c->fd, rec, max, MSG_DONTWAIT);
        if (n <= (ssize_t)VNET_HDR_BYTES)
            continue;
        n32 = (uint32_t)n;
        pthread_mutex_lock(&c->mu);
        if (c->frames >= NFWD_BUFFER_MAX_FRAMES ||
            c->len + sizeof(n32) + (size_t)n > NFWD_BUFFER_MAX_BYTES) {
            c->drops++;
        } else {
            memcpy(c->buf + c->len, &n32, sizeof(n32));
            memcpy(c->buf + c->len + sizeof(n32), rec, (size_t)n);
            c->len += sizeof(n32) + (size_t)n;
            c->frames++;
        }
        pthread_mutex_unlock(&c->mu);
    }
    free(rec);
    return NULL;
}

/* An AF_PACKET socket with virtio-net headers; bound when ifindex > 0. */
static int vnet_socket(int ifindex)
{
    struct sockaddr_ll sll;
    int fd, one = 1, size = 4 << 20;

    /* protocol 0 until bound: nothing from other links gets queued */
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)))
        goto fail;
    if (ifindex <= 0)
        return fd;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
        goto fail;
    return fd;
fail:
    one = -errno;
    close(fd);
    return one;
}

static int op_capture_open(void *ctx, int ifindex, void **cap_r)
{
    struct nfwd_capture *c;
    int rc;

    (void)ctx;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->fd = c->send_fd = -1;
    c->buf = malloc(NFWD_BUFFER_MAX_BYTES);
    if (!c->buf) {
        rc = -ENOMEM;
        goto fail;
    }
    c->fd = rc = vnet_socket(ifindex);
    if (rc >= 0)
        c->send_fd = rc = vnet_socket(0);
    if (rc < 0)
        goto fail;
    pthread_mutex_init(&c->mu, NULL);
    rc = -pthread_create(&c->th, NULL, capture_main, c);
    if (rc) {
        pthread_mutex_destroy(&c->mu);
        goto fail;
    }
    *cap_r = c;
    return 0;
fail:
    if (c->fd >= 0)
        close(c->fd);
    if (c->send_fd >= 0)
        close(c->send_fd);
    free(c->buf);
    free(c);
    return rc;
}

static int op_capture_read(void *ctx, void *cap, uint8_t *buf, size_t cap_bytes,
                           size_t *len_r)
{
    struct nfwd_capture *c = cap;
    uint32_t n32;
    size_t flen;
    int rc = -EAGAIN;

    (void)ctx;
    pthread_mutex_lock(&c->mu);
    while (c->off < c->len) {
        memcpy(&n32, c->buf + c->off, sizeof(n32));
        c->off += sizeof(n32);
        flen = n32 - VNET_HDR_BYTES;
        if (flen > cap_bytes) {
            c->off += n32;
            c->drops++;
            continue;
        }
        memcpy(&c->last, c->buf + c->off, VNET_HDR_BYTES);
        memcpy(buf, c->buf + c->off + VNET_HDR_BYTES, flen);
        c->off += n32;
        *len_r = flen;
        rc = 0;
        break;
    }
    if (c->off == c->len)
        c->off = c->len = 0; /* drained: the space is free again */
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int op_capture_send(void *ctx, void *cap, int ifindex,
                           const uint8_t *frame, size_t len_bytes)
{
    struct nfwd_capture *c = cap;
    struct sockaddr_ll sll;
    struct iovec iov[2];
    struct msghdr mh;

    (void)ctx;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_halen = 6;
    memcpy(sll.sll_addr, frame, 6);
    iov[0].iov_base = &c->last;
    iov[0].iov_len = VNET_HDR_BYTES;
    iov[1].iov_base = (void *)frame;
    iov[1].iov_len = len_bytes;
    memset(&mh, 0, sizeof(mh));
    mh.msg_name = &sll;
    mh.msg_namelen = sizeof(sll);
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    if (sendmsg(c->send_fd, &mh, 0) != (ssize_t)(VNET_HDR_BYTES + len_bytes))
        return -errno;
    return 0;
}

static void op_capture_close(void *ctx, void *cap, uint64_t *drops_r)
{
    struct nfwd_capture *c = cap;
    struct tpacket_stats st;
    socklen_t sl = sizeof(st);
    uint32_t n32;

    (void)ctx;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->th, NULL);
    if (!getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl))
        c->drops += st.tp_drops;
    /* frames never read count as lost too */
    while (c->off < c->len) {
        memcpy(&n32, c->buf + c->off, sizeof(n32));
        c->off += sizeof(n32) + n32;
        c->drops++;
    }
    if (drops_r)
        *drops_r = c->drops;
    pthread_mutex_destroy(&c->mu);
    close(c->fd);
    close(c->send_fd);
    free(c->buf);
    free(c);
}

static const struct nfwd_sys_ops mnl_ops = {
    .now_ms = op_now_ms,
    .sleep_ms = op_sleep_ms,
    .links = op_links,
    .vxlan_add = op_vxlan_add,
    .link_del = op_link_del,
    .clsact_add = op_clsact_add,
    .clsact_new = op_clsact_new,
    .clsact_del_empty = op_clsact_del_empty,
    .redirect_add = op_redirect_add,
    .redirect_del = op_redirect_del,
    .accept_add = op_accept_add,
    .accept_del = op_accept_del,
    .accept_sweep = op_accept_sweep,
    .send_frame = op_send_frame,
    .fdb_point = op_fdb_point,
    .buffer_dev_add = op_buffer_dev_add,
    .capture_open = op_capture_open,
    .capture_read = op_capture_read,
    .capture_send = op_capture_send,
    .capture_close = op_capture_close,
};

void nfwd_mnl_sys(struct nfwd_mnl *nl, struct nfwd_sys *sys)
{
    sys->ops = &mnl_ops;
    sys->ctx = nl;
}

/* ------------------------------------------------------------ probe */

const char *nfwd_feat_name(unsigned bit)
{
    switch (bit) {
    case NFWD_FEAT_VXLAN:
        return "vxlan";
    case NFWD_FEAT_CLSACT:
        return "clsact";
    case NFWD_FEAT_U32_MIRRED:
        return "u32+mirred";
    case NFWD_FEAT_NFTABLES:
        return "nftables";
    case NFWD_FEAT_PACKET:
        return "af_packet";
    case NFWD_FEAT_BUFFER:
        return "buffer";
    }
    return "?";
}

/* Runs in the child, inside a fresh network namespace. */
static unsigned probe_child(void)
{
    static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x42 };
    struct nfwd_vxlan_spec vx;
    struct nfwd_mnl *nl = NULL;
    struct nfwd_link *l = NULL;
    struct nfwd_sys sys;
    uint8_t cookie[NFWD_COOKIE_LEN];
    unsigned have = 0, n_del = 0;
    size_t n = 0, i;
    int lo = 0, vxi = 0, fd;

    if (nfwd_mnl_new(&nl))
        return 0;
    nfwd_mnl_sys(nl, &sys);
    memset(&vx, 0, sizeof(vx));
    nfwd_dev_name(0xfffffe, vx.name);
    vx.vni = 0xfffffe;
    inet_pton(AF_INET, "127.0.0.1", &vx.local);
    inet_pton(AF_INET, "127.0.0.2", &vx.remote);
    vx.mtu = NFWD_MTU_DEFAULT;
    if (!op_vxlan_add(nl, &vx))
        have |= NFWD_FEAT_VXLAN;
    l = calloc(64, sizeof(*l));
    if (l && !op_links(nl, l, 64, &n)) {
        for (i = 0; i < n; i++) {
            if (!strcmp(l[i].name, "lo"))
                lo = l[i].ifindex;
            if (!strcmp(l[i].name, vx.name))
                vxi = l[i].ifindex;
        }
    }
    if (lo && !op_clsact_add(nl, lo))
        have |= NFWD_FEAT_CLSACT;
    nfwd_cookie(vx.vni, cookie);
    if (vxi && (have & NFWD_FEAT_CLSACT) &&
        !op_redirect_add(nl, lo, mac, vxi, cookie) &&
        !op_redirect_del(nl, lo, vx.vni, &n_del) && n_del == 1)
        have |= NFWD_FEAT_U32_MIRRED;
    if (!op_accept_add(nl, vx.vni, vx.remote) && !op_accept_del(nl, vx.vni))
        have |= NFWD_FEAT_NFTABLES;
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        have |= NFWD_FEAT_PACKET;
        close(fd);
    }
    nfwd_buf_name(vx.vni, vx.name);
    if (!op_buffer_dev_add(nl, vx.name, NFWD_MTU_DEFAULT) &&
        !op_link_del(nl, vx.name))
        have |= NFWD_FEAT_BUFFER;
    free(l);
    nfwd_mnl_free(nl);
    return have;
}

int nfwd_mnl_probe(unsigned *have_r)
{
    int pfd[2], status, rc;
    unsigned have = 0;
    pid_t pid;
    ssize_t n;

    if (pipe(pfd) < 0)
        return -errno;
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(pfd[0]);
        close(pfd[1]);
        return rc;
    }
    if (pid == 0) {
        close(pfd[0]);
        if (unshare(CLONE_NEWNET) < 0)
            _exit(2);
        have = probe_child();
        n = write(pfd[1], &have, sizeof(have));
        _exit(n == (ssize_t)sizeof(have) ? 0 : 1);
    }
    close(pfd[1]);
    n = read(pfd[0], &have, sizeof(have));
    close(pfd[0]);
    if (waitpid(pid, &status, 0) < 0)
        return -errno;
    if (!WIFEXITED(status))
        return -ECHILD;
    if (WEXITSTATUS(status) == 2)
        return -EPERM; /* unshare(CLONE_NEWNET) refused */
    if (WEXITSTATUS(status) || n != (ssize_t)sizeof(have))
        return -EIO;
    *have_r = have;
    return 0;
}
