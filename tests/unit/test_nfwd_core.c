/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of net-forward's pure core (net-forward/nfwd_core.c):
 * parsing, frames, u32 keys, the timers with an injected clock, and the
 * lifecycle over a fake ops table that models links, filters and time.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "../../net-forward/nfwd.h"

/* ------------------------------------------------------------ parsing */

static void test_mac(void **state)
{
    uint8_t m[6];
    char s[18];

    assert_int_equal(nfwd_mac_parse("00:16:3e:AA:bb:cc", m), 0);
    nfwd_mac_format(m, s);
    assert_string_equal(s, "00:16:3e:aa:bb:cc");
    assert_int_equal(nfwd_mac_parse("00:16:3e:aa:bb", m), -EINVAL);
    assert_int_equal(nfwd_mac_parse("00:16:3e:aa:bb:cc:", m), -EINVAL);
    assert_int_equal(nfwd_mac_parse("00-16-3e-aa-bb-cc", m), -EINVAL);
    assert_int_equal(nfwd_mac_parse("00:16:3e:aa:bb:cg", m), -EINVAL);
    assert_int_equal(nfwd_mac_parse("0x:16:3e:aa:bb:cc", m), -EINVAL);
    assert_int_equal(nfwd_mac_parse(NULL, m), -EINVAL);
    /* group addresses and zero would steal the bridge's broadcasts */
    assert_int_equal(nfwd_mac_parse("ff:ff:ff:ff:ff:ff", m), -EINVAL);
    assert_int_equal(nfwd_mac_parse("01:00:5e:00:00:01", m), -EINVAL);
    assert_int_equal(nfwd_mac_parse("00:00:00:00:00:00", m), -EINVAL);
}

static void test_names(void **state)
{
    char n[NFWD_IFNAMSIZ];
    uint8_t c[NFWD_COOKIE_LEN];

    nfwd_dev_name(0x10108a, n);
    assert_string_equal(n, "nfwd10108a");
    assert_int_equal(nfwd_dev_vni(n), 0x10108a);
    assert_int_equal(nfwd_dev_vni("nfwd10108A"), 0);
    assert_int_equal(nfwd_dev_vni("nfwd10108"), 0);
    assert_int_equal(nfwd_dev_vni("nfwd10108ab"), 0);
    assert_int_equal(nfwd_dev_vni("xfwd10108a"), 0);
    assert_int_equal(nfwd_dev_vni("nfwd1010xa"), 0);

    nfwd_cookie(0xabcdef, c);
    assert_memory_equal(c, "nfwd\x00\xab\xcd\xef", 8);
    assert_int_equal(nfwd_cookie_vni(c, 8), 0xabcdef);
    assert_int_equal(nfwd_cookie_vni(c, 7), 0);
    assert_int_equal(nfwd_cookie_vni(NULL, 8), 0);
    assert_int_equal(nfwd_cookie_vni((const uint8_t *)"nfwe\0\0\0\1", 8), 0);
    assert_int_equal(nfwd_cookie_vni((const uint8_t *)"nfwd\0\0\0\0", 8), 0);
    assert_int_equal(nfwd_cookie_vni((const uint8_t *)"nfwd\1\0\0\0", 8), 0);

    assert_true(nfwd_ifname_ok("vif5.0"));
    assert_true(nfwd_ifname_ok("123456789012345"));
    assert_false(nfwd_ifname_ok("1234567890123456"));
    assert_false(nfwd_ifname_ok(""));
    assert_false(nfwd_ifname_ok(".."));
    assert_false(nfwd_ifname_ok("a/b"));
    assert_false(nfwd_ifname_ok("a b"));
    assert_false(nfwd_ifname_ok("eth0:1"));
    assert_false(nfwd_vni_ok(0));
    assert_true(nfwd_vni_ok(1));
    assert_true(nfwd_vni_ok(0xffffff));
    assert_false(nfwd_vni_ok(0x1000000));
}

static void test_u32_keys(void **state)
{
    uint8_t m[6];
    struct nfwd_u32_key k[2];

    /* tc's "match u32 0x00000016 0x0000ffff at -16
     *       match u32 0x3eaabbcc 0xffffffff at -12" */
    assert_int_equal(nfwd_mac_parse("00:16:3e:aa:bb:cc", m), 0);
    nfwd_u32_dstmac_keys(m, k);
    assert_int_equal(ntohl(k[0].val_be), 0x00000016);
    assert_int_equal(ntohl(k[0].mask_be), 0x0000ffff);
    assert_int_equal(k[0].off, -16);
    assert_int_equal(ntohl(k[1].val_be), 0x3eaabbcc);
    assert_int_equal(ntohl(k[1].mask_be), 0xffffffff);
    assert_int_equal(k[1].off, -12);
    /* the first two bytes land in the low half of the first word */
    assert_int_equal(nfwd_mac_parse("fe:dc:ba:98:76:54", m), 0);
    nfwd_u32_dstmac_keys(m, k);
    assert_int_equal(ntohl(k[0].val_be), 0x0000fedc);
    assert_int_equal(ntohl(k[1].val_be), 0xba987654);
}

static void test_vif_parse(void **state)
{
    struct nfwd_vif v;
    const char *why;
    char err[128];

    assert_int_equal(nfwd_vif_parse("mac=00:16:3e:01:02:03,bridge=xenbr0,"
                                    "vif=vif5.0,mtu=9000,script=/etc/xen/"
                                    "scripts/vif-bridge,ip=10.0.0.5",
                                    &v, err, sizeof(err)),
                     0);
    assert_string_equal(v.bridge, "xenbr0");
    assert_string_equal(v.ifname, "vif5.0");
    assert_int_equal(v.mtu, 9000);
    assert_int_equal(v.vlan, 0);
    assert_true(v.has_ip);
    assert_int_equal(ntohl(v.ip.s_addr), 0x0a000005);
    assert_true(nfwd_vif_supported(&v, &why));

    assert_int_equal(nfwd_vif_parse("bridge=xenbr0", &v, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "vif spec needs mac=");
    assert_int_equal(nfwd_vif_parse("mac=00:16:3e:01:02:03,colour=red", &v, err,
                                    sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "unknown vif key 'colour'");
    assert_int_equal(
        nfwd_vif_parse("mac=00:16:3e:01:02:03,mtu=67", &v, err, sizeof(err)),
        -EINVAL);
    assert_int_equal(
        nfwd_vif_parse("mac=00:16:3e:01:02:03,mtu=1500x", &v, err, sizeof(err)),
        -EINVAL);
    assert_int_equal(
        nfwd_vif_parse("mac=00:16:3e:01:02:03,vlan=4095", &v, err, sizeof(err)),
        -EINVAL);
    assert_int_equal(
        nfwd_vif_parse("mac=00:16:3e:01:02:03,vif=waytoolongname01", &v, err,
                       sizeof(err)),
        -EINVAL);
    assert_int_equal(
        nfwd_vif_parse("mac=00:16:3e:01:02:03,ip=1.2.3", &v, err, sizeof(err)),
        -EINVAL);
    assert_int_equal(nfwd_vif_parse("mac", &v, err, sizeof(err)), -EINVAL);
    assert_int_equal(nfwd_vif_parse(NULL, &v, err, sizeof(err)), -EINVAL);

    /* key by key, as read from the xenstore backend node */
    memset(&v, 0, sizeof(v));
    assert_int_equal(
        nfwd_vif_set(&v, "mac", "00:16:3e:0a:0b:0c", err, sizeof(err)), 0);
    assert_int_equal(nfwd_vif_set(&v, "vifname", "guest0", err, sizeof(err)),
                     0);
    assert_string_equal(v.ifname, "guest0");
    assert_int_equal(
        nfwd_vif_set(&v, "ip", "10.0.0.7 10.0.0.8", err, sizeof(err)), 0);
    assert_int_equal(ntohl(v.ip.s_addr), 0x0a000007);
    assert_int_equal(
        nfwd_vif_set(&v, "ip", "10.0.0.7,10.0.0.8", err, sizeof(err)), -EINVAL);
    assert_int_equal(nfwd_vif_set(&v, "rate", "10Mb/s", err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(nfwd_vif_set(&v, "mtu", NULL, err, sizeof(err)), -EINVAL);
    assert_int_equal(nfwd_vif_set(&v, "bridge", "br0\n", err, sizeof(err)),
                     -EINVAL);

    /* scripts: vif-bridge (any path) or the default only */
    assert_int_equal(nfwd_vif_parse("mac=00:16:3e:01:02:03,bridge=br0,"
                                    "script=vif-route",
                                    &v, err, sizeof(err)),
                     0);
    assert_false(nfwd_vif_supported(&v, &why));
    assert_string_equal(why, "script is not vif-bridge");
    strcpy(v.script, "/usr/lib/xen/scripts/vif-bridge");
    assert_true(nfwd_vif_supported(&v, &why));
    strcpy(v.script, "vif-bridge-ng");
    assert_false(nfwd_vif_supported(&v, &why));
    v.script[0] = 0;
    assert_true(nfwd_vif_supported(&v, &why));
    v.vlan = 10;
    assert_false(nfwd_vif_supported(&v, &why));
    v.vlan = 0;
    v.bridge[0] = 0;
    assert_false(nfwd_vif_supported(&v, &why));
}

static void test_sched(void **state)
{
    static const unsigned qemu[5] = { 0, 50, 200, 450, 800 };
    struct nfwd_sched s;

    nfwd_sched_default(&s);
    assert_int_equal(s.rounds, 5);
    assert_memory_equal(s.offsets_ms, qemu, sizeof(qemu));
    /* max caps the gaps: 50, 150, 200, 200 */
    assert_int_equal(nfwd_sched_qemu(&s, 5, 50, 200, 100), 0);
    assert_int_equal(s.offsets_ms[4], 600);
    assert_int_equal(nfwd_sched_qemu(&s, 1, 0, 0, 0), 0);
    assert_int_equal(s.rounds, 1);
    assert_int_equal(s.offsets_ms[0], 0);
    assert_int_equal(nfwd_sched_qemu(&s, 0, 50, 550, 100), -EINVAL);
    assert_int_equal(nfwd_sched_qemu(&s, 17, 50, 550, 100), -EINVAL);
    assert_int_equal(nfwd_sched_qemu(&s, 5, 60001, 550, 100), -EINVAL);

    assert_int_equal(nfwd_sched_parse(&s, "0,50,200,450,800"), 0);
    assert_memory_equal(s.offsets_ms, qemu, sizeof(qemu));
    assert_int_equal(nfwd_sched_parse(&s, "10"), 0);
    assert_int_equal(s.rounds, 1);
    assert_int_equal(nfwd_sched_parse(&s, "5,1"), -EINVAL);
    assert_int_equal(nfwd_sched_parse(&s, ""), -EINVAL);
    assert_int_equal(nfwd_sched_parse(&s, "1,x"), -EINVAL);
    assert_int_equal(nfwd_sched_parse(&s, "-1"), -EINVAL);
    assert_int_equal(nfwd_sched_parse(&s, "60001"), -EINVAL);
    assert_int_equal(nfwd_sched_parse(&s, "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"),
                     0);
    assert_int_equal(nfwd_sched_parse(&s, "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"),
                     -EINVAL);
}

static void test_frames(void **state)
{
    /* QEMU's announce_self_create() frame for 00:16:3e:aa:bb:cc */
    static const uint8_t rarp[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0xaa, 0xbb,
        0xcc, 0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x03,
        0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x16, 0x3e, 0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x00, 0x00,
    };
    static const uint8_t garp[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0xaa, 0xbb,
        0xcc, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
        0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc, 10,   99,   0,    50,   0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 10,   99,   0,    50,
    };
    uint8_t m[6], f[NFWD_FRAME_MAX_BYTES];
    struct in_addr ip;

    assert_int_equal(nfwd_mac_parse("00:16:3e:aa:bb:cc", m), 0);
    memset(f, 0x55, sizeof(f));
    assert_int_equal(nfwd_rarp_build(f, m, 0), 60);
    assert_memory_equal(f, rarp, 60);
    inet_pton(AF_INET, "10.99.0.50", &ip);
    memset(f, 0x55, sizeof(f));
    assert_int_equal(nfwd_garp_build(f, m, ip, 0), 60);
    assert_memory_equal(f, garp, 60);
    /* tagged: 802.1Q tag after the source MAC, the rest shifted by 4 */
    memset(f, 0x55, sizeof(f));
    assert_int_equal(nfwd_rarp_build(f, m, 0x123), 64);
    assert_memory_equal(f, rarp, 12);
    assert_memory_equal(f + 12, "\x81\x00\x01\x23", 4);
    assert_memory_equal(f + 16, rarp + 12, 48);
}

/* ------------------------------------------------------------ timers */

static void test_quiesce(void **state)
{
    struct nfwd_quiesce q;
    uint64_t t, tx = 0;

    /* armed at 1000, announce ended at 2000: earliest teardown 4000,
     * tunnel busy until 3500 -> quiet at 4500 */
    nfwd_quiesce_init(&q, 1000, 2000);
    for (t = 1000; t <= 3500; t += 250)
        assert_int_equal(nfwd_quiesce_step(&q, t, ++tx), NFWD_WAIT);
    for (; t < 4500; t += 250)
        assert_int_equal(nfwd_quiesce_step(&q, t, tx), NFWD_WAIT);
    assert_int_equal(nfwd_quiesce_step(&q, 4500, tx), NFWD_DONE_QUIET);

    /* quiet from the start: the hold after the announce still counts */
    nfwd_quiesce_init(&q, 0, 800);
    assert_int_equal(nfwd_quiesce_step(&q, 0, 7), NFWD_WAIT);
    assert_int_equal(nfwd_quiesce_step(&q, 2799, 7), NFWD_WAIT);
    assert_int_equal(nfwd_quiesce_step(&q, 2800, 7), NFWD_DONE_QUIET);

    /* never quiet: the hard cap, 30 s after arming */
    nfwd_quiesce_init(&q, 500, 1300);
    for (t = 500; t < 30500; t += 250)
        assert_int_equal(nfwd_quiesce_step(&q, t, ++tx), NFWD_WAIT);
    assert_int_equal(nfwd_quiesce_step(&q, 30500, ++tx), NFWD_DONE_CAP);

    assert_true(nfwd_announce_due(100, 100, 1, 1000));
    assert_false(nfwd_announce_due(100, 1099, 0, 1000));
    assert_true(nfwd_announce_due(100, 1100, 0, 1000));
}

/* ------------------------------------------------------------ fake world */

#define FAKE_MAX 32

struct fake_filter {
    int ifindex, to;
    uint8_t mac[6];
    uint32_t vni;
};

struct fake {
    uint64_t now_ms;
    struct nfwd_link links[FAKE_MAX];
    size_t n_links;
    struct fake_filter filters[FAKE_MAX];
    size_t n_filters;
    int tables[FAKE_MAX]; /* vni of nft tables */
    size_t n_tables;
    int clsact[256];  /* by ifindex */
    char calls[4096]; /* "op:arg " in order */
    int fail_vxlan, fail_redirect_at, fail_accept;
    unsigned redirects;
    uint64_t tx_until_ms; /* tunnel tx grows every poll until then */
    uint64_t frame_t[64];
    uint8_t frames[64][NFWD_FRAME_MAX_BYTES];
    size_t n_frames;
    uint64_t fdb_t;
    int fdb_port;
    int log_lines;
    /* the target's buffer: frames queued in the capture, frames the
     * core delivered to a vif (dst MAC's last byte, in order) */
    int fail_buffer, capture_open, capture_ifindex;
    uint8_t queued[16][20];
    size_t n_queued, next_queued;
    uint8_t late; /* queued when the vif redirect goes in (0 = none) */
    uint64_t carrier_at_ms; /* vif7.0 has carrier from then on (0: always) */
    uint8_t delivered[16];  /* byte 12 of each: the tag */
    int delivered_to[16];
    size_t n_delivered;
};

static void call(struct fake *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void call(struct fake *f, const char *fmt, ...)
{
    size_t n = strlen(f->calls);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(f->calls + n, sizeof(f->calls) - n, fmt, ap);
    va_end(ap);
    n = strlen(f->calls);
    snprintf(f->calls + n, sizeof(f->calls) - n, " ");
}

static struct nfwd_link *fake_link(struct fake *f, const char *name)
{
    size_t i;

    for (i = 0; i < f->n_links; i++)
        if (!strcmp(f->links[i].name, name))
            return &f->links[i];
    return NULL;
}

static void add_link(struct fake *f, int ifindex, const char *name,
                     const char *kind, int master)
{
    struct nfwd_link *l = &f->links[f->n_links++];

    memset(l, 0, sizeof(*l));
    l->ifindex = ifindex;
    l->master = master;
    l->carrier = 1;
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(l->kind, sizeof(l->kind), "%s", kind);
}

static uint64_t f_now(void *ctx)
{
    return ((struct fake *)ctx)->now_ms;
}

static void f_sleep(void *ctx, unsigned ms)
{
    ((struct fake *)ctx)->now_ms += ms;
}

static int f_links(void *ctx, struct nfwd_link *out, size_t max, size_t *n_r)
{
    struct fake *f = ctx;
    size_t i;

    for (i = 0; i < f->n_links; i++) {
        if (!strncmp(f->links[i].name, "nfwd", 4) &&
            f->now_ms <= f->tx_until_ms)
            f->links[i].tx_packets += 3;
        if (f->carrier_at_ms && !strcmp(f->links[i].name, "vif7.0"))
            f->links[i].carrier = f->now_ms >= f->carrier_at_ms;
    }
    assert_true(f->n_links <= max);
    memcpy(out, f->links, f->n_links * sizeof(*out));
    *n_r = f->n_links;
    return 0;
}

static int f_vxlan_add(void *ctx, const struct nfwd_vxlan_spec *vx)
{
    struct fake *f = ctx;

    call(f, "vxlan:%s/%u", vx->name, vx->mtu);
    if (f->fail_vxlan)
        return -EOPNOTSUPP;
    if (fake_link(f, vx->name))
        return -EEXIST;
    add_link(f, 100 + (int)f->n_links, vx->name, "vxlan", 0);
    return 0;
}

static int f_link_del(void *ctx, const char *name)
{
    struct fake *f = ctx;
    struct nfwd_link *l = fake_link(f, name);

    call(f, "linkdel:%s", name);
    if (!l)
        return -ENODEV;
    *l = f->links[--f->n_links];
    return 0;
}

static int f_clsact_add(void *ctx, int ifindex)
{
    struct fake *f = ctx;

    if (!f->clsact[ifindex])
        call(f, "clsact:%d", ifindex);
    f->clsact[ifindex] = 1;
    return 0;
}

static int f_redirect_add(void *ctx, int ifindex, const uint8_t mac[6], int to,
                          const uint8_t cookie[8])
{
    struct fake *f = ctx;
    struct fake_filter *ff;

    call(f, "redirect:%d>%d", ifindex, to);
    if (++f->redirects == (unsigned)f->fail_redirect_at)
        return -ENOMEM;
    assert_true(f->clsact[ifindex]);
    ff = &f->filters[f->n_filters++];
    ff->ifindex = ifindex;
    ff->to = to;
    if (mac)
        memcpy(ff->mac, mac, 6);
    else
        memset(ff->mac, 0, 6); /* the catch-all */
    if (mac && f->late) {      /* one more for the guest, in flight */
        memcpy(f->queued[f->n_queued], f->queued[0], 20);
        f->queued[f->n_queued++][12] = f->late;
    }
    ff->vni = nfwd_cookie_vni(cookie, 8);
    assert_true(ff->vni != 0);
    return 0;
}

static int f_redirect_del(void *ctx, int ifindex, uint32_t vni, unsigned *n_r)
{
    struct fake *f = ctx;
    size_t i = 0;

    *n_r = 0;
    while (i < f->n_filters) {
        if (f->filters[i].ifindex == ifindex &&
            (!vni || f->filters[i].vni == vni)) {
            call(f, "filterdel:%d", ifindex);
            f->filters[i] = f->filters[--f->n_filters];
            (*n_r)++;
        } else {
            i++;
        }
    }
    return 0;
}

static int f_accept_add(void *ctx, uint32_t vni, struct in_addr src)
{
    struct fake *f = ctx;

    call(f, "accept:%u/%08x", vni, ntohl(src.s_addr));
    if (f->fail_accept)
        return -EOPNOTSUPP;
    f->tables[f->n_tables++] = (int)vni;
    return 0;
}

static int f_accept_del(void *ctx, uint32_t vni)
{
    struct fake *f = ctx;
    size_t i;

    for (i = 0; i < f->n_tables; i++) {
        if (f->tables[i] == (int)vni) {
            call(f, "acceptdel:%u", vni);
            f->tables[i] = f->tables[--f->n_tables];
            return 0;
        }
    }
    return -ENOENT;
}

static int f_accept_sweep(void *ctx, unsigned *n_r)
{
    struct fake *f = ctx;

    *n_r = (unsigned)f->n_tables;
    f->n_tables = 0;
    return 0;
}

static int f_send_frame(void *ctx, int ifindex, const uint8_t *frame,
                        size_t len)
{
    struct fake *f = ctx;

    assert_true(len <= NFWD_FRAME_MAX_BYTES);
    f->frame_t[f->n_frames] = f->now_ms;
    memcpy(f->frames[f->n_frames++], frame, len);
    return 0;
}

static int f_fdb_point(void *ctx, int port, const uint8_t mac[6])
{
    struct fake *f = ctx;

    f->fdb_port = port;
    f->fdb_t = f->now_ms;
    return 0;
}

static int f_buffer_dev_add(void *ctx, const char *name, unsigned mtu)
{
    struct fake *f = ctx;

    call(f, "dummy:%s", name);
    if (f->fail_buffer)
        return -EOPNOTSUPP;
    add_link(f, 100 + (int)f->n_links, name, "dummy", 0);
    return 0;
}

static int f_capture_open(void *ctx, int ifindex, void **cap_r)
{
    struct fake *f = ctx;

    call(f, "capture:%d", ifindex);
    f->capture_open = 1;
    f->capture_ifindex = ifindex;
    *cap_r = f;
    return 0;
}

static int f_capture_read(void *ctx, void *cap, uint8_t *buf, size_t cap_bytes,
                          size_t *len_r)
{
    struct fake *f = cap;

    assert_true(f->capture_open);
    if (f->next_queued == f->n_queued)
        return -EAGAIN;
    assert_true(cap_bytes >= 20);
    memcpy(buf, f->queued[f->next_queued++], 20);
    *len_r = 20;
    return 0;
}

static int f_capture_send(void *ctx, void *cap, int ifindex,
                          const uint8_t *frame, size_t len)
{
    struct fake *f = cap;

    assert_true(f->capture_open);
    assert_int_equal(len, 20);
    f->delivered_to[f->n_delivered] = ifindex;
    f->delivered[f->n_delivered++] = frame[12];
    return 0;
}

static void f_capture_close(void *ctx, void *cap, uint64_t *drops_r)
{
    struct fake *f = cap;

    assert_true(f->capture_open);
    f->capture_open = 0;
    *drops_r = 2; /* what the kernel or the bounds lost */
}

/* Buffer ops included: only nfwd_target_prepare uses them. */
static const struct nfwd_sys_ops fake_ops = {
    .now_ms = f_now,
    .sleep_ms = f_sleep,
    .links = f_links,
    .vxlan_add = f_vxlan_add,
    .link_del = f_link_del,
    .clsact_add = f_clsact_add,
    .redirect_add = f_redirect_add,
    .redirect_del = f_redirect_del,
    .accept_add = f_accept_add,
    .accept_del = f_accept_del,
    .accept_sweep = f_accept_sweep,
    .send_frame = f_send_frame,
    .fdb_point = f_fdb_point,
    .buffer_dev_add = f_buffer_dev_add,
    .capture_open = f_capture_open,
    .capture_read = f_capture_read,
    .capture_send = f_capture_send,
    .capture_close = f_capture_close,
};

static void count_log(enum log_level lvl, const char *line, void *opaque)
{
    struct fake *f = opaque;

    f->log_lines++;
    (void)lvl;
    (void)line;
}

/* A source host: xenbr0 (2) with uplink s-up (3), the migrating vif5.0
 * (4) and another guest's vif6.0 (5); eth1 (6) is not in the bridge. */
static struct fake *world(void)
{
    struct fake *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->now_ms = 1000;
    add_link(f, 1, "lo", "", 0);
    add_link(f, 2, "xenbr0", "bridge", 0);
    add_link(f, 3, "s-up", "veth", 2);
    add_link(f, 4, "vif5.0", "", 2);
    add_link(f, 5, "vif6.0", "", 2);
    add_link(f, 6, "eth1", "", 0);
    log_set_sink(count_log, f);
    return f;
}

static void world_free(struct fake *f)
{
    log_set_sink(NULL, NULL);
    free(f);
}

static struct nfwd_vif guest_vif(const char *ifname, unsigned mtu)
{
    struct nfwd_vif v;

    memset(&v, 0, sizeof(v));
    assert_int_equal(nfwd_mac_parse("00:16:3e:aa:bb:cc", v.mac), 0);
    strcpy(v.bridge, "xenbr0");
    strcpy(v.ifname, ifname);
    v.mtu = mtu;
    return v;
}

static void mig(struct nfwd_mig *m, struct fake *f, enum nfwd_role role,
                const struct nfwd_vif *v, unsigned n)
{
    struct nfwd_sys sys = { &fake_ops, f };
    struct in_addr a, b;

    inet_pton(AF_INET, "10.99.0.11", &a);
    inet_pton(AF_INET, "10.99.0.12", &b);
    assert_int_equal(nfwd_mig_init(m, &sys, role, 0x42, a, b, v, n), 0);
}

/* ------------------------------------------------------------ lifecycle */

static void test_source_arm(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif5.0", 9000);
    struct nfwd_mig m;
    size_t i;

    mig(&m, f, NFWD_SOURCE, &v, 1);
    assert_int_equal(nfwd_stages.prepare(&m), 0);
    assert_int_equal(m.state, NFWD_PREPARED);
    /* tunnel MTU = vif MTU; clsact on s-up and vif6.0, nothing armed */
    assert_string_equal(f->calls, "vxlan:nfwd000042/9000 clsact:3 clsact:5 ");
    assert_int_equal(f->n_filters, 0);
    assert_int_equal(nfwd_arm(&m), 0);
    assert_int_equal(m.state, NFWD_ARMED);
    assert_int_equal(m.armed_ms, 1000);
    /* every port of the bridge except the migrating vif */
    assert_int_equal(f->n_filters, 2);
    for (i = 0; i < f->n_filters; i++) {
        assert_true(f->filters[i].ifindex == 3 || f->filters[i].ifindex == 5);
        assert_int_equal(f->filters[i].to, fake_link(f, "nfwd000042")->ifindex);
        assert_int_equal(f->filters[i].vni, 0x42);
        assert_memory_equal(f->filters[i].mac, v.mac, 6);
    }
    /* a second arm is a no-op */
    assert_int_equal(nfwd_arm(&m), 0);
    assert_int_equal(f->n_filters, 2);
    world_free(f);
}

static void test_source_two_vifs(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v[2] = { guest_vif("vif5.0", 1500),
                             guest_vif("vif5.1", 9000) };
    struct nfwd_mig m;
    size_t i;

    add_link(f, 8, "vif5.1", "", 2);
    v[1].mac[5] = 0xcd;
    mig(&m, f, NFWD_SOURCE, v, 2);
    assert_int_equal(nfwd_prepare(&m), 0);
    /* one tunnel per migration, MTU of the largest vif */
    assert_non_null(strstr(f->calls, "vxlan:nfwd000042/9000 "));
    assert_int_equal(nfwd_arm(&m), 0);
    /* each MAC on s-up and vif6.0; never on either migrating vif */
    assert_int_equal(f->n_filters, 4);
    for (i = 0; i < f->n_filters; i++)
        assert_true(f->filters[i].ifindex == 3 || f->filters[i].ifindex == 5);
    assert_int_equal(nfwd_abort(&m), 0);
    assert_int_equal(f->n_filters, 0);
    world_free(f);
}

static void test_missing_feature(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif5.0", 0);
    struct nfwd_mig m;

    f->fail_vxlan = 1;
    mig(&m, f, NFWD_SOURCE, &v, 1);
    assert_int_equal(nfwd_prepare(&m), 0);
    assert_int_equal(m.state, NFWD_DISABLED);
    assert_int_equal(f->log_lines, 1);
    /* later stages do nothing */
    assert_int_equal(nfwd_arm(&m), 0);
    assert_int_equal(f->n_filters, 0);
    assert_string_equal(f->calls, "vxlan:nfwd000042/1500 ");
    world_free(f);
}

static void test_arm_failure_rolls_back(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif5.0", 0);
    struct nfwd_mig m;

    f->fail_redirect_at = 2;
    mig(&m, f, NFWD_SOURCE, &v, 1);
    assert_int_equal(nfwd_prepare(&m), 0);
    assert_int_equal(nfwd_arm(&m), 0);
    assert_int_equal(m.state, NFWD_DISABLED);
    /* no half-armed state: the first filter and the tunnel are gone */
    assert_int_equal(f->n_filters, 0);
    assert_null(fake_link(f, "nfwd000042"));
    assert_int_equal(f->log_lines, 1);
    world_free(f);
}

static void test_unsupported_vifs(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v[2] = { guest_vif("vif5.0", 0), guest_vif("vif5.1", 0) };
    struct nfwd_sys sys = { &fake_ops, f };
    struct in_addr a = { 0 };
    struct nfwd_mig m;

    strcpy(v[0].script, "/etc/xen/scripts/vif-route");
    v[1].vlan = 7;
    assert_int_equal(nfwd_mig_init(&m, &sys, NFWD_SOURCE, 9, a, a, v, 2), 0);
    assert_int_equal(m.state, NFWD_DISABLED);
    assert_int_equal(m.n_vifs, 0);
    assert_int_equal(f->log_lines, 2); /* one per skipped vif */
    assert_int_equal(nfwd_prepare(&m), 0);
    assert_string_equal(f->calls, "");

    assert_int_equal(nfwd_mig_init(&m, &sys, NFWD_SOURCE, 0, a, a, v, 1),
                     -EINVAL);
    assert_int_equal(nfwd_mig_init(&m, &sys, NFWD_SOURCE, 1 << 24, a, a, v, 1),
                     -EINVAL);
    assert_int_equal(nfwd_mig_init(&m, &sys, 3, 9, a, a, v, 1), -EINVAL);
    assert_int_equal(
        nfwd_mig_init(&m, &sys, NFWD_SOURCE, 9, a, a, v, NFWD_MAX_VIFS + 1),
        -EINVAL);
    v[0].ifname[0] = 0;
    assert_int_equal(nfwd_mig_init(&m, &sys, NFWD_SOURCE, 9, a, a, v, 1),
                     -EINVAL);
    world_free(f);
}

static void test_abort_order(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif5.0", 0);
    struct nfwd_mig m;
    const char *del, *link;

    mig(&m, f, NFWD_SOURCE, &v, 1);
    assert_int_equal(nfwd_prepare(&m), 0);
    assert_int_equal(nfwd_arm(&m), 0);
    f->calls[0] = 0;
    assert_int_equal(nfwd_stages.abort(&m), 0);
    assert_int_equal(m.state, NFWD_DONE);
    assert_int_equal(f->n_filters, 0);
    assert_null(fake_link(f, "nfwd000042"));
    /* filters go before the device, and abort does not wait */
    del = strstr(f->calls, "filterdel:");
    link = strstr(f->calls, "linkdel:nfwd000042");
    assert_non_null(del);
    assert_non_null(link);
    assert_true(del < link);
    assert_int_equal(f->now_ms, 1000);
    assert_int_equal(nfwd_abort(&m), 0); /* idempotent */
    world_free(f);
}

static void test_teardown_quiesce(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif5.0", 0);
    struct nfwd_mig m;
    enum nfwd_verdict vd = NFWD_WAIT;

    mig(&m, f, NFWD_SOURCE, &v, 1);
    assert_int_equal(nfwd_prepare(&m), 0);
    assert_int_equal(nfwd_arm(&m), 0); /* armed at 1000 */
    f->now_ms = 1500;                  /* guest resumed on the target */
    f->tx_until_ms = 5000;             /* forwarding until 5000 */
    assert_int_equal(nfwd_teardown(&m, 1, 2300, &vd), 0);
    assert_int_equal(vd, NFWD_DONE_QUIET);
    /* last tx change seen at the 5000 poll, quiet for 1 s -> 6000; then
     * filters, 100 ms drain, device */
    assert_int_equal(f->now_ms, 6000 + NFWD_DRAIN_MS);
    /* the fake tunnel counts 3 per poll from 1500 to 5000: 15 polls */
    assert_int_equal(m.stats.forwarded_packets, 45);
    assert_int_equal(m.stats.held_ms, 5000);
    assert_int_equal(m.stats.filters_removed, 2);
    assert_int_equal(m.stats.links_removed, 1);
    assert_int_equal(m.stats.verdict, NFWD_DONE_QUIET);
    assert_int_equal(f->n_filters, 0);
    assert_null(fake_link(f, "nfwd000042"));
    assert_true(strstr(f->calls, "filterdel:") <
                strstr(f->calls, "linkdel:nfwd000042"));
    world_free(f);
}

static void test_teardown_hold_and_cap(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif5.0", 0);
    struct nfwd_mig m;
    enum nfwd_verdict vd = NFWD_WAIT;

    /* quiet tunnel: the 2 s hold after the announce decides */
    mig(&m, f, NFWD_SOURCE, &v, 1);
    assert_int_equal(nfwd_prepare(&m), 0);
    assert_int_equal(nfwd_arm(&m), 0);
    assert_int_equal(nfwd_teardown(&m, 1, 1800, &vd), 0);
    assert_int_equal(vd, NFWD_DONE_QUIET);
    /* due at 3800; the first 250 ms poll at or after it is 4000 */
    assert_int_equal(f->now_ms, 4000 + NFWD_DRAIN_MS);
    world_free(f);

    /* never quiet: 30 s after arming */
    f = world();
    mig(&m, f, NFWD_SOURCE, &v, 1);
    assert_int_equal(nfwd_prepare(&m), 0);
    assert_int_equal(nfwd_arm(&m), 0);
    f->tx_until_ms = UINT64_MAX;
    assert_int_equal(nfwd_teardown(&m, 1, 0, &vd), 0);
    assert_int_equal(vd, NFWD_DONE_CAP);
    assert_int_equal(f->now_ms, 1000 + NFWD_CAP_MS + NFWD_DRAIN_MS);
    assert_int_equal(f->n_filters, 0);
    world_free(f);
}

static void test_target_attach(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif7.0", 0);
    struct nfwd_mig m;
    int tun;

    add_link(f, 7, "vif7.0", "", 2);
    mig(&m, f, NFWD_TARGET, &v, 1);
    assert_int_equal(nfwd_target_attach(&m), 0);
    assert_int_equal(m.state, NFWD_ATTACHED);
    tun = fake_link(f, "nfwd000042")->ifindex;
    /* the sender filter first, naming the peer (the source) */
    assert_true(!strncmp(f->calls, "accept:66/0a63000c ", 19));
    /* one filter, from the tunnel straight to the vif: the bridge and its
     * ports get nothing */
    assert_int_equal(f->n_filters, 1);
    assert_int_equal(f->filters[0].ifindex, tun);
    assert_int_equal(f->filters[0].to, 7);
    assert_false(f->clsact[2] || f->clsact[3]);
    assert_int_equal(nfwd_teardown(&m, 0, 0, NULL), 0);
    assert_int_equal(f->n_filters, 0);
    assert_int_equal(f->n_tables, 0);
    assert_null(fake_link(f, "nfwd000042"));
    assert_int_equal(f->now_ms, 1000); /* target teardown: immediate */
    assert_int_equal(m.stats.filters_removed, 1);
    assert_int_equal(m.stats.tables_removed, 1);
    world_free(f);

    /* no nftables: no tunnel either */
    f = world();
    add_link(f, 7, "vif7.0", "", 2);
    f->fail_accept = 1;
    mig(&m, f, NFWD_TARGET, &v, 1);
    assert_int_equal(nfwd_target_attach(&m), 0);
    assert_int_equal(m.state, NFWD_DISABLED);
    assert_null(fake_link(f, "nfwd000042"));
    assert_int_equal(f->log_lines, 1);
    world_free(f);

    /* the vif is not there: roll back */
    f = world();
    mig(&m, f, NFWD_TARGET, &v, 1);
    assert_int_equal(nfwd_target_attach(&m), 0);
    assert_int_equal(m.state, NFWD_DISABLED);
    assert_null(fake_link(f, "nfwd000042"));
    assert_int_equal(f->n_tables, 0);
    world_free(f);
}

static int never(void *opaque)
{
    return 0;
}

static int always(void *opaque)
{
    return 1;
}

/* The vif's backend connects at t = 1500 ms. */
static int at_1500(void *opaque)
{
    return ((struct fake *)opaque)->now_ms >= 1500;
}

/* A frame to the guest or to someone else, tagged in byte 12. */
static void queue_frame(struct fake *f, int to_guest, uint8_t tag)
{
    uint8_t *fr = f->queued[f->n_queued++];

    memset(fr, 0, 20);
    assert_int_equal(
        nfwd_mac_parse(to_guest ? "00:16:3e:aa:bb:cc" : "00:16:3e:00:00:01",
                       fr),
        0);
    fr[12] = tag; /* f_send_frame records it */
}

static void test_target_buffer(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif7.0", 0);
    struct nfwd_sys sys = { &fake_ops, f };
    struct nfwd_mig m;
    struct in_addr a, b;
    int tun, buf;

    inet_pton(AF_INET, "10.99.0.11", &a);
    inet_pton(AF_INET, "10.99.0.12", &b);
    /* before the stream: no vif known yet */
    assert_int_equal(nfwd_mig_init(&m, &sys, NFWD_TARGET, 0x42, a, b, NULL, 0),
                     0);
    assert_int_equal(m.state, NFWD_IDLE);
    assert_int_equal(nfwd_target_prepare(&m), 0);
    assert_int_equal(m.state, NFWD_BUFFERING);
    tun = fake_link(f, "nfwd000042")->ifindex;
    buf = fake_link(f, "nfwb000042")->ifindex;
    /* sender filter, tunnel (default MTU), buffer device, the capture
     * before the catch-all redirect into it */
    assert_true(strstr(f->calls, "accept:66/0a63000c vxlan:nfwd000042/1500 "
                                 "dummy:nfwb000042 capture:") == f->calls);
    assert_int_equal(f->capture_ifindex, buf);
    assert_int_equal(f->n_filters, 1);
    assert_int_equal(f->filters[0].ifindex, tun);
    assert_int_equal(f->filters[0].to, buf);
    /* the blackout: three frames forwarded, one not for the guest */
    queue_frame(f, 1, 1);
    queue_frame(f, 0, 2);
    queue_frame(f, 1, 3);
    assert_int_equal(f->queued[0][12], 1);
    /* the restore: the vif appears; nothing is delivered yet */
    add_link(f, 7, "vif7.0", "", 2);
    assert_int_equal(nfwd_mig_set_vifs(&m, &v, 1), 0);
    assert_int_equal(nfwd_target_attach(&m), 0);
    assert_int_equal(m.state, NFWD_BUFFERING);
    assert_int_equal(f->n_delivered, 0);
    /* the unpause: wait for the backend, deliver in order, redirect; a
     * frame that came in meanwhile is delivered after, once */
    f->late = 4;
    f->carrier_at_ms = 2000; /* netback's "Guest Rx ready" comes later */
    assert_int_equal(nfwd_target_release(&m, &sys, at_1500, f, 15000), 0);
    assert_int_equal(m.state, NFWD_ATTACHED);
    assert_int_equal(m.stats.buffer_wait_ms, 1000);
    assert_int_equal(f->n_delivered, 3);
    assert_int_equal(f->delivered_to[0], 7);
    assert_int_equal(f->delivered_to[2], 7);
    assert_int_equal(f->delivered[0], 1);
    assert_int_equal(f->delivered[1], 3);
    assert_int_equal(f->delivered[2], 4);
    assert_int_equal(m.stats.buffered_packets, 3);
    assert_int_equal(m.stats.buffer_foreign, 1); /* not for the guest */
    assert_int_equal(m.stats.buffer_dropped, 2);
    assert_false(f->capture_open);
    assert_int_equal(f->n_filters, 2);
    assert_int_equal(f->filters[1].to, 7);
    assert_int_equal(memcmp(f->filters[1].mac, v.mac, 6), 0);
    /* a second release does nothing */
    assert_int_equal(nfwd_target_release(&m, &sys, never, f, 15000), 0);
    assert_int_equal(f->n_delivered, 3);
    /* teardown: both devices, both filters, the table */
    assert_int_equal(nfwd_teardown(&m, 0, 0, NULL), 0);
    assert_int_equal(f->n_filters, 0);
    assert_int_equal(f->n_tables, 0);
    assert_null(fake_link(f, "nfwd000042"));
    assert_null(fake_link(f, "nfwb000042"));
    world_free(f);

    /* the vif never connects: delivered at the limit all the same */
    f = world();
    sys.ctx = f;
    assert_int_equal(nfwd_mig_init(&m, &sys, NFWD_TARGET, 0x42, a, b, NULL, 0),
                     0);
    assert_int_equal(nfwd_target_prepare(&m), 0);
    queue_frame(f, 1, 9);
    add_link(f, 7, "vif7.0", "", 2);
    assert_int_equal(nfwd_mig_set_vifs(&m, &v, 1), 0);
    assert_int_equal(nfwd_target_attach(&m), 0);
    assert_int_equal(nfwd_target_release(&m, &sys, never, f, 15000), 0);
    assert_int_equal(m.stats.buffer_wait_ms, 15000);
    assert_int_equal(f->n_delivered, 1);
    assert_int_equal(nfwd_teardown(&m, 0, 0, NULL), 0);
    world_free(f);

    /* the incoming domain is destroyed before the release: all goes */
    f = world();
    sys.ctx = f;
    assert_int_equal(nfwd_mig_init(&m, &sys, NFWD_TARGET, 0x42, a, b, NULL, 0),
                     0);
    assert_int_equal(nfwd_target_prepare(&m), 0);
    queue_frame(f, 1, 9);
    assert_int_equal(nfwd_teardown(&m, 0, 0, NULL), 0);
    assert_false(f->capture_open);
    assert_int_equal(f->n_links, 6);
    assert_int_equal(f->n_filters + f->n_tables + f->n_delivered, 0);
    assert_int_equal(m.stats.buffer_dropped, 2);
    world_free(f);
}

/* No buffer device (no dummy module): attach later, as without buffer. */
static void test_target_buffer_fallback(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif7.0", 0);
    struct nfwd_sys sys = { &fake_ops, f };
    struct nfwd_mig m;
    struct in_addr a, b;

    inet_pton(AF_INET, "10.99.0.11", &a);
    inet_pton(AF_INET, "10.99.0.12", &b);
    f->fail_buffer = 1;
    assert_int_equal(nfwd_mig_init(&m, &sys, NFWD_TARGET, 0x42, a, b, NULL, 0),
                     0);
    assert_int_equal(nfwd_target_prepare(&m), 0);
    assert_int_equal(m.state, NFWD_IDLE);
    assert_int_equal(f->n_links, 6); /* the tunnel went again */
    assert_int_equal(f->n_tables + f->n_filters, 0);
    assert_int_equal(f->log_lines, 1);
    add_link(f, 7, "vif7.0", "", 2);
    assert_int_equal(nfwd_mig_set_vifs(&m, &v, 1), 0);
    assert_int_equal(nfwd_target_attach(&m), 0);
    assert_int_equal(m.state, NFWD_ATTACHED);
    assert_int_equal(f->n_filters, 1);
    assert_int_equal(f->filters[0].to, 7);
    assert_int_equal(nfwd_target_release(&m, &sys, always, f, 15000), 0);
    assert_int_equal(nfwd_teardown(&m, 0, 0, NULL), 0);
    assert_int_equal(f->n_links, 7);
    world_free(f);
}

static void test_announce(void **state)
{
    struct fake *f = world();
    struct nfwd_vif v = guest_vif("vif7.0", 0);
    struct nfwd_sys sys = { &fake_ops, f };
    struct nfwd_sched s;
    uint8_t rarp[NFWD_FRAME_MAX_BYTES];
    uint64_t end = 0;
    unsigned k;

    add_link(f, 7, "vif7.0", "", 2);
    nfwd_sched_default(&s);
    assert_int_equal(nfwd_announce(&sys, &v, 1, &s, always, NULL, &end), 0);
    assert_int_equal(f->n_frames, 5);
    nfwd_rarp_build(rarp, v.mac, 0);
    for (k = 0; k < 5; k++) {
        assert_int_equal(f->frame_t[k], 1000 + s.offsets_ms[k]);
        assert_memory_equal(f->frames[k], rarp, 60);
    }
    assert_int_equal(end, 1800);
    /* the bridge's own entry points at the vif before the first frame */
    assert_int_equal(f->fdb_port, 7);
    assert_int_equal(f->fdb_t, 1000);
    world_free(f);

    /* backend never connects: start after 1 s; GARP with the ip */
    f = world();
    sys.ctx = f;
    add_link(f, 7, "vif7.0", "", 2);
    v.has_ip = 1;
    inet_pton(AF_INET, "10.99.0.50", &v.ip);
    assert_int_equal(nfwd_sched_parse(&s, "0,100"), 0);
    assert_int_equal(nfwd_announce(&sys, &v, 1, &s, never, NULL, NULL), 0);
    assert_int_equal(f->n_frames, 4);
    assert_int_equal(f->frame_t[0], 2000);
    assert_int_equal(f->frame_t[2], 2100);
    assert_memory_equal(f->frames[1] + 12, "\x08\x06", 2);
    world_free(f);

    /* Connected in xenstore at once, carrier only at 1400 ms: the first
     * round (and the fdb entry) waits for the carrier */
    f = world();
    sys.ctx = f;
    add_link(f, 7, "vif7.0", "", 2);
    f->carrier_at_ms = 1400;
    nfwd_sched_default(&s);
    assert_int_equal(nfwd_announce(&sys, &v, 1, &s, always, NULL, NULL), 0);
    assert_true(f->frame_t[0] >= 1400 && f->frame_t[0] < 1420);
    assert_int_equal(f->fdb_t, f->frame_t[0]);
    world_free(f);

    /* bad input is refused, not crashed on */
    s.rounds = 0;
    assert_int_equal(nfwd_announce(&sys, &v, 1, &s, NULL, NULL, NULL), -EINVAL);
    s.rounds = NFWD_ANNOUNCE_MAX_ROUNDS + 1;
    assert_int_equal(nfwd_announce(&sys, &v, 1, &s, NULL, NULL, NULL), -EINVAL);
}

static void test_sweep(void **state)
{
    struct fake *f = world();
    struct nfwd_sys sys = { &fake_ops, f };
    unsigned nf = 9, nl = 9, nt = 9;

    /* stale state of two migrations plus an unrelated "nfwd" bridge */
    add_link(f, 20, "nfwd00000a", "vxlan", 0);
    add_link(f, 21, "nfwd00000b", "vxlan", 0);
    add_link(f, 22, "nfwd00000c", "bridge", 0);
    f->filters[0] = (struct fake_filter){ 3, 20, { 0 }, 0xa };
    f->filters[1] = (struct fake_filter){ 5, 20, { 0 }, 0xa };
    f->filters[2] = (struct fake_filter){ 3, 0, { 0 }, 0xb };
    f->n_filters = 3;
    f->tables[0] = 0xa;
    f->tables[1] = 0xb;
    f->n_tables = 2;

    /* one migration only */
    assert_int_equal(nfwd_sweep(&sys, 0xa, &nf, &nl, &nt), 0);
    assert_int_equal(nf, 2);
    assert_int_equal(nl, 1);
    assert_int_equal(nt, 1);
    assert_int_equal(f->n_filters, 1);
    assert_null(fake_link(f, "nfwd00000a"));
    assert_non_null(fake_link(f, "nfwd00000b"));
    /* everything of ours, filters before devices */
    f->calls[0] = 0;
    assert_int_equal(nfwd_sweep(&sys, 0, &nf, &nl, &nt), 0);
    assert_int_equal(nf, 1);
    assert_int_equal(nl, 1);
    assert_int_equal(nt, 1);
    assert_true(strstr(f->calls, "filterdel:") < strstr(f->calls, "linkdel:"));
    assert_non_null(fake_link(f, "nfwd00000c"));
    assert_int_equal(nfwd_sweep(&sys, 0, &nf, &nl, &nt), 0);
    assert_int_equal(nf + nl + nt, 0);
    world_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_u32_keys),
        cmocka_unit_test(test_vif_parse),
        cmocka_unit_test(test_sched),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_quiesce),
        cmocka_unit_test(test_source_arm),
        cmocka_unit_test(test_source_two_vifs),
        cmocka_unit_test(test_missing_feature),
        cmocka_unit_test(test_arm_failure_rolls_back),
        cmocka_unit_test(test_unsupported_vifs),
        cmocka_unit_test(test_abort_order),
        cmocka_unit_test(test_teardown_quiesce),
        cmocka_unit_test(test_teardown_hold_and_cap),
        cmocka_unit_test(test_target_attach),
        cmocka_unit_test(test_target_buffer),
        cmocka_unit_test(test_target_buffer_fallback),
        cmocka_unit_test(test_announce),
        cmocka_unit_test(test_sweep),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
