/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of net-forward's netlink messages (net-forward/nfwd_mnl.c):
 * every request is built into a buffer and parsed back attribute by
 * attribute, as the kernel would read it.  No socket is opened.
 */
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../net-forward/nfwd_mnl.h"

#define TB_MAX 96

struct tb {
    const struct nlattr *a[TB_MAX];
};

static int tb_cb(const struct nlattr *a, void *data)
{
    struct tb *t = data;

    assert_true(mnl_attr_get_type(a) < TB_MAX);
    /* every attribute appears once */
    assert_null(t->a[mnl_attr_get_type(a)]);
    t->a[mnl_attr_get_type(a)] = a;
    return MNL_CB_OK;
}

static void parse(const struct nlmsghdr *nlh, size_t hdr, struct tb *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(mnl_attr_parse(nlh, (unsigned)hdr, tb_cb, t), MNL_CB_OK);
}

static void nested(const struct nlattr *a, struct tb *t)
{
    assert_non_null(a);
    memset(t, 0, sizeof(*t));
    assert_int_equal(mnl_attr_parse_nested(a, tb_cb, t), MNL_CB_OK);
}

static void assert_str(const struct nlattr *a, const char *s)
{
    assert_non_null(a);
    assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
    assert_string_equal(mnl_attr_get_str(a), s);
}

static const uint8_t MAC[6] = { 0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc };

static void test_vxlan(void **state)
{
    char buf[4096];
    struct nfwd_vxlan_spec vx;
    const struct nlmsghdr *nlh = (const void *)buf;
    const struct ifinfomsg *ifi;
    struct tb t, info, data;
    size_t len;

    memset(&vx, 0, sizeof(vx));
    nfwd_dev_name(0x10108a, vx.name);
    vx.vni = 0x10108a;
    inet_pton(AF_INET, "10.99.0.11", &vx.local);
    inet_pton(AF_INET, "10.99.0.12", &vx.remote);
    vx.mtu = 9000;
    len = nfwd_msg_vxlan_add(buf, sizeof(buf), &vx, 77);
    assert_true(len > 0);
    assert_int_equal(len, nlh->nlmsg_len);
    assert_int_equal(nlh->nlmsg_type, RTM_NEWLINK);
    assert_int_equal(nlh->nlmsg_flags,
                     NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    assert_int_equal(nlh->nlmsg_seq, 77);
    ifi = mnl_nlmsg_get_payload(nlh);
    assert_int_equal(ifi->ifi_flags & IFF_UP, IFF_UP);
    assert_int_equal(ifi->ifi_change & IFF_UP, IFF_UP);
    parse(nlh, sizeof(*ifi), &t);
    assert_str(t.a[IFLA_IFNAME], "nfwd10108a");
    assert_int_equal(mnl_attr_get_u32(t.a[IFLA_MTU]), 9000);
    nested(t.a[IFLA_LINKINFO], &info);
    assert_str(info.a[IFLA_INFO_KIND], "vxlan");
    nested(info.a[IFLA_INFO_DATA], &data);
    assert_int_equal(mnl_attr_get_u32(data.a[IFLA_VXLAN_ID]), 0x10108a);
    assert_int_equal(mnl_attr_get_payload_len(data.a[IFLA_VXLAN_GROUP]), 4);
    assert_memory_equal(mnl_attr_get_payload(data.a[IFLA_VXLAN_GROUP]),
                        &vx.remote, 4);
    assert_memory_equal(mnl_attr_get_payload(data.a[IFLA_VXLAN_LOCAL]),
                        &vx.local, 4);
    assert_int_equal(mnl_attr_get_u16(data.a[IFLA_VXLAN_PORT]), htons(4789));
    assert_int_equal(mnl_attr_get_u8(data.a[IFLA_VXLAN_LEARNING]), 0);
    /* outer DF is left unset: oversize frames fragment outside */
    assert_null(data.a[IFLA_VXLAN_DF]);

    assert_int_equal(nfwd_msg_vxlan_add(buf, 100, &vx, 1), 0);
}

static void test_link_del_and_clsact(void **state)
{
    char buf[2048];
    const struct nlmsghdr *nlh = (const void *)buf;
    const struct tcmsg *tcm;
    struct tb t;

    assert_true(nfwd_msg_link_del(buf, sizeof(buf), "nfwd000001", 3) > 0);
    assert_int_equal(nlh->nlmsg_type, RTM_DELLINK);
    parse(nlh, sizeof(struct ifinfomsg), &t);
    assert_str(t.a[IFLA_IFNAME], "nfwd000001");

    assert_true(nfwd_msg_clsact_add(buf, sizeof(buf), 12, 4) > 0);
    assert_int_equal(nlh->nlmsg_type, RTM_NEWQDISC);
    tcm = mnl_nlmsg_get_payload(nlh);
    assert_int_equal(tcm->tcm_ifindex, 12);
    assert_int_equal(tcm->tcm_parent, TC_H_CLSACT);
    assert_int_equal(tcm->tcm_handle, TC_H_MAKE(TC_H_CLSACT, 0));
    parse(nlh, sizeof(*tcm), &t);
    assert_str(t.a[TCA_KIND], "clsact");
}

static void test_redirect(void **state)
{
    char buf[2048];
    uint8_t cookie[NFWD_COOKIE_LEN];
    const struct nlmsghdr *nlh = (const void *)buf;
    const struct tcmsg *tcm;
    const struct tc_u32_sel *sel;
    const struct tc_mirred *mir;
    struct tb t, opts, acts, act, aopts;
    uint32_t info = 0, handle = 0;

    nfwd_cookie(0x4242, cookie);
    assert_true(nfwd_msg_redirect_add(buf, sizeof(buf), 3, MAC, 9, cookie, 5) >
                0);
    assert_int_equal(nlh->nlmsg_type, RTM_NEWTFILTER);
    assert_true(nlh->nlmsg_flags & NLM_F_EXCL);
    tcm = mnl_nlmsg_get_payload(nlh);
    assert_int_equal(tcm->tcm_ifindex, 3);
    assert_int_equal(tcm->tcm_parent, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
    assert_int_equal(tcm->tcm_info >> 16, NFWD_TC_PRIO);
    assert_int_equal(tcm->tcm_info & 0xffff, htons(ETH_P_ALL));
    assert_int_equal(tcm->tcm_handle, 0);
    parse(nlh, sizeof(*tcm), &t);
    assert_str(t.a[TCA_KIND], "u32");
    nested(t.a[TCA_OPTIONS], &opts);
    assert_int_equal(mnl_attr_get_payload_len(opts.a[TCA_U32_SEL]),
                     sizeof(*sel) + 2 * sizeof(struct tc_u32_key));
    sel = mnl_attr_get_payload(opts.a[TCA_U32_SEL]);
    assert_int_equal(sel->nkeys, 2);
    assert_int_equal(sel->flags, TC_U32_TERMINAL);
    assert_int_equal(ntohl(sel->keys[0].val), 0x00000016);
    assert_int_equal(ntohl(sel->keys[0].mask), 0x0000ffff);
    assert_int_equal(sel->keys[0].off, -16);
    assert_int_equal(ntohl(sel->keys[1].val), 0x3eaabbcc);
    assert_int_equal(ntohl(sel->keys[1].mask), 0xffffffff);
    assert_int_equal(sel->keys[1].off, -12);
    nested(opts.a[TCA_U32_ACT], &acts);
    nested(acts.a[1], &act);
    assert_null(acts.a[2]);
    assert_str(act.a[TCA_ACT_KIND], "mirred");
    assert_int_equal(mnl_attr_get_payload_len(act.a[TCA_ACT_COOKIE]), 8);
    assert_memory_equal(mnl_attr_get_payload(act.a[TCA_ACT_COOKIE]),
                        "nfwd\0\0\x42\x42", 8);
    nested(act.a[TCA_ACT_OPTIONS], &aopts);
    assert_int_equal(mnl_attr_get_payload_len(aopts.a[TCA_MIRRED_PARMS]),
                     sizeof(*mir));
    mir = mnl_attr_get_payload(aopts.a[TCA_MIRRED_PARMS]);
    assert_int_equal(mir->eaction, TCA_EGRESS_REDIR);
    assert_int_equal(mir->action, TC_ACT_STOLEN);
    assert_int_equal(mir->ifindex, 9);

    /* the sweep recognises its own filter in a dump ... */
    assert_int_equal(nfwd_msg_filter_vni(nlh, &info, &handle), 0x4242);
    assert_int_equal(info, tcm->tcm_info);
    /* ... and nobody else's: another prio, another cookie */
    ((struct tcmsg *)mnl_nlmsg_get_payload(nlh))->tcm_info =
        TC_H_MAKE(10u << 16, htons(ETH_P_ALL));
    assert_int_equal(nfwd_msg_filter_vni(nlh, &info, &handle), 0);
    memcpy(cookie, "xfwd", 4);
    assert_true(nfwd_msg_redirect_add(buf, sizeof(buf), 3, MAC, 9, cookie, 5) >
                0);
    assert_int_equal(nfwd_msg_filter_vni(nlh, &info, &handle), 0);
    assert_int_equal(nfwd_msg_redirect_add(buf, 64, 3, MAC, 9, cookie, 5), 0);
}

static void test_filter_vni_garbage(void **state)
{
    uint8_t cookie[NFWD_COOKIE_LEN];
    char buf[2048], copy[2048];
    struct nlmsghdr *nlh = (void *)copy;
    uint32_t info, handle, len, cut, i;

    /* a truncated or scribbled dump message never crashes the parser */
    nfwd_cookie(7, cookie);
    len =
        (uint32_t)nfwd_msg_redirect_add(buf, sizeof(buf), 3, MAC, 9, cookie, 1);
    for (cut = 0; cut <= len; cut += 4) {
        memcpy(copy, buf, sizeof(copy));
        nlh->nlmsg_len = cut;
        (void)nfwd_msg_filter_vni(nlh, &info, &handle);
    }
    for (i = sizeof(struct nlmsghdr); i < len; i++) {
        memcpy(copy, buf, sizeof(copy));
        copy[i] ^= 0xff;
        (void)nfwd_msg_filter_vni(nlh, &info, &handle);
    }
    memcpy(copy, buf, sizeof(copy));
    nlh->nlmsg_type = RTM_NEWLINK;
    assert_int_equal(nfwd_msg_filter_vni(nlh, &info, &handle), 0);
}

static void test_filter_del_and_fdb(void **state)
{
    char buf[2048];
    const struct nlmsghdr *nlh = (const void *)buf;
    const struct tcmsg *tcm;
    const struct ndmsg *ndm;
    struct tb t;

    assert_true(nfwd_msg_filter_del(buf, sizeof(buf), 4, 0x6e660003, 0x80000800,
                                    2) > 0);
    assert_int_equal(nlh->nlmsg_type, RTM_DELTFILTER);
    tcm = mnl_nlmsg_get_payload(nlh);
    assert_int_equal(tcm->tcm_info, 0x6e660003);
    assert_int_equal(tcm->tcm_handle, 0x80000800);
    assert_int_equal(tcm->tcm_parent, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));

    assert_true(nfwd_msg_fdb_point(buf, sizeof(buf), 7, MAC, 3) > 0);
    assert_int_equal(nlh->nlmsg_type, RTM_NEWNEIGH);
    assert_true(nlh->nlmsg_flags & NLM_F_REPLACE);
    ndm = mnl_nlmsg_get_payload(nlh);
    assert_int_equal(ndm->ndm_family, AF_BRIDGE);
    assert_int_equal(ndm->ndm_ifindex, 7);
    assert_int_equal(ndm->ndm_flags, NTF_MASTER);
    /* dynamic, not static: it ages and learning may move it */
    assert_int_equal(ndm->ndm_state, NUD_REACHABLE);
    parse(nlh, sizeof(*ndm), &t);
    assert_memory_equal(mnl_attr_get_payload(t.a[NDA_LLADDR]), MAC, 6);
}

/* Walk a batch: returns the number of messages, fills msgs. */
static int batch(const char *buf, size_t len, const struct nlmsghdr **msgs)
{
    const struct nlmsghdr *nlh = (const void *)buf;
    int n = (int)len, k = 0;

    while (mnl_nlmsg_ok(nlh, n)) {
        msgs[k++] = nlh;
        nlh = mnl_nlmsg_next(nlh, &n);
    }
    assert_int_equal(n, 0);
    return k;
}

static void test_nft(void **state)
{
    char buf[4096];
    const struct nlmsghdr *m[8];
    const struct nfgenmsg *nfg;
    struct tb t, hook, exprs, e, d, v;
    struct in_addr src;
    const char *names[16];
    const struct nlattr *a;
    size_t len;
    int n, i;

    inet_pton(AF_INET, "10.99.0.11", &src);
    len = nfwd_msg_nft_accept(buf, sizeof(buf), 0x10108a, src, 100);
    n = batch(buf, len, m);
    assert_int_equal(n, 5);
    assert_int_equal(m[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
    nfg = mnl_nlmsg_get_payload(m[0]);
    assert_int_equal(ntohs(nfg->res_id), NFNL_SUBSYS_NFTABLES);
    assert_int_equal(m[4]->nlmsg_type, NFNL_MSG_BATCH_END);
    for (i = 1; i < 4; i++) {
        assert_true(m[i]->nlmsg_flags & NLM_F_ACK);
        assert_int_equal(m[i]->nlmsg_seq, 100 + (unsigned)i);
        nfg = mnl_nlmsg_get_payload(m[i]);
        assert_int_equal(nfg->nfgen_family, NFPROTO_IPV4);
    }
    assert_int_equal(m[1]->nlmsg_type,
                     NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWTABLE);
    parse(m[1], sizeof(*nfg), &t);
    assert_str(t.a[NFTA_TABLE_NAME], "nfwd10108a");

    assert_int_equal(m[2]->nlmsg_type,
                     NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWCHAIN);
    parse(m[2], sizeof(*nfg), &t);
    assert_str(t.a[NFTA_CHAIN_TYPE], "filter");
    nested(t.a[NFTA_CHAIN_HOOK], &hook);
    assert_int_equal(ntohl(mnl_attr_get_u32(hook.a[NFTA_HOOK_HOOKNUM])),
                     NF_INET_LOCAL_IN);

    assert_int_equal(m[3]->nlmsg_type,
                     NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE);
    parse(m[3], sizeof(*nfg), &t);
    assert_str(t.a[NFTA_RULE_CHAIN], "input");
    /* the list holds repeated NFTA_LIST_ELEMs: walk it by hand */
    n = 0;
    mnl_attr_for_each_nested(a, t.a[NFTA_RULE_EXPRESSIONS])
    {
        nested(a, &e);
        names[n] = mnl_attr_get_str(e.a[NFTA_EXPR_NAME]);
        if (!strcmp(names[n], "cmp")) {
            nested(e.a[NFTA_EXPR_DATA], &d);
            nested(d.a[NFTA_CMP_DATA], &v);
            memset(&exprs, 0, sizeof(exprs));
            /* 4th cmp: the source address, "not equal" */
            if (mnl_attr_get_payload_len(v.a[NFTA_DATA_VALUE]) == 4) {
                assert_int_equal(ntohl(mnl_attr_get_u32(d.a[NFTA_CMP_OP])),
                                 NFT_CMP_NEQ);
                assert_memory_equal(mnl_attr_get_payload(v.a[NFTA_DATA_VALUE]),
                                    &src, 4);
            } else if (mnl_attr_get_payload_len(v.a[NFTA_DATA_VALUE]) == 3) {
                assert_memory_equal(mnl_attr_get_payload(v.a[NFTA_DATA_VALUE]),
                                    "\x10\x10\x8a", 3);
            } else if (mnl_attr_get_payload_len(v.a[NFTA_DATA_VALUE]) == 2) {
                assert_memory_equal(mnl_attr_get_payload(v.a[NFTA_DATA_VALUE]),
                                    "\x12\xb5", 2); /* 4789 */
            }
        }
        if (!strcmp(names[n], "immediate")) {
            nested(e.a[NFTA_EXPR_DATA], &d);
            nested(d.a[NFTA_IMMEDIATE_DATA], &v);
            nested(v.a[NFTA_DATA_VERDICT], &exprs);
            assert_int_equal(
                ntohl(mnl_attr_get_u32(exprs.a[NFTA_VERDICT_CODE])), NF_DROP);
        }
        n++;
    }
    assert_int_equal(n, 10);
    assert_string_equal(names[0], "meta");
    assert_string_equal(names[1], "cmp");
    assert_string_equal(names[6], "payload");
    assert_string_equal(names[8], "counter");
    assert_string_equal(names[9], "immediate");

    len = nfwd_msg_nft_del(buf, sizeof(buf), "nfwd10108a", 7);
    n = batch(buf, len, m);
    assert_int_equal(n, 3);
    assert_int_equal(m[1]->nlmsg_type,
                     NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_DELTABLE);
    parse(m[1], sizeof(*nfg), &t);
    assert_str(t.a[NFTA_TABLE_NAME], "nfwd10108a");
    assert_int_equal(nfwd_msg_nft_accept(buf, 1000, 1, src, 1), 0);
    assert_int_equal(
        nfwd_msg_nft_del(buf, sizeof(buf), "nfwd10108a-too-long", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vxlan),
        cmocka_unit_test(test_link_del_and_clsact),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_filter_vni_garbage),
        cmocka_unit_test(test_filter_del_and_fdb),
        cmocka_unit_test(test_nft),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
