/* SPDX-License-Identifier: MIT */
/*
 * net-forward core: parsing, frame and key building, the timer decisions
 * and the lifecycle, over struct nfwd_sys_ops.  Pure: no netlink header.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "net-forward: "
#include "common/log.h"
#include "nfwd.h"

/* ------------------------------------------------------------ helpers */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int nfwd_mac_parse(const char *s, uint8_t mac[6])
{
    uint8_t m[6];
    int i, hi, lo;

    if (!s || strlen(s) != 17)
        return -EINVAL;
    for (i = 0; i < 6; i++) {
        hi = hexval((unsigned char)s[3 * i]);
        lo = hexval((unsigned char)s[3 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        if (i < 5 && s[3 * i + 2] != ':')
            return -EINVAL;
        m[i] = (uint8_t)(hi << 4 | lo);
    }
    /* a guest MAC is unicast and not zero: a redirect of a group
     * address would steal every broadcast of the bridge */
    if (m[0] & 1)
        return -EINVAL;
    if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
        return -EINVAL;
    memcpy(mac, m, 6);
    return 0;
}

void nfwd_mac_format(const uint8_t mac[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
             mac[3], mac[4], mac[5]);
}

int nfwd_ifname_ok(const char *s)
{
    size_t n, i;

    if (!s)
        return 0;
    n = strlen(s);
    if (n == 0 || n >= NFWD_IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) ||
            !isprint((unsigned char)s[i]))
            return 0;
    return 1;
}

int nfwd_vni_ok(uint32_t vni)
{
    return vni >= 1 && vni <= 0xffffff;
}

void nfwd_dev_name(uint32_t vni, char out[NFWD_IFNAMSIZ])
{
    snprintf(out, NFWD_IFNAMSIZ, NFWD_NAME_PREFIX "%06x",
             (unsigned)(vni & 0xffffff));
}

void nfwd_buf_name(uint32_t vni, char out[NFWD_IFNAMSIZ])
{
    snprintf(out, NFWD_IFNAMSIZ, NFWD_BUF_PREFIX "%06x",
             (unsigned)(vni & 0xffffff));
}

static uint32_t prefixed_vni(const char *name, const char *prefix)
{
    uint32_t vni = 0;
    int i, v;

    if (strncmp(name, prefix, 4) || strlen(name) != 10)
        return 0;
    for (i = 4; i < 10; i++) {
        v = hexval((unsigned char)name[i]);
        if (v < 0 || isupper((unsigned char)name[i]))
            return 0;
        vni = vni << 4 | (uint32_t)v;
    }
    return vni;
}

uint32_t nfwd_dev_vni(const char *name)
{
    return prefixed_vni(name, NFWD_NAME_PREFIX);
}

uint32_t nfwd_buf_vni(const char *name)
{
    return prefixed_vni(name, NFWD_BUF_PREFIX);
}

void nfwd_cookie(uint32_t vni, uint8_t out[NFWD_COOKIE_LEN])
{
    memcpy(out, "nfwd", 4);
    out[4] = (uint8_t)(vni >> 24);
    out[5] = (uint8_t)(vni >> 16);
    out[6] = (uint8_t)(vni >> 8);
    out[7] = (uint8_t)vni;
}

uint32_t nfwd_cookie_vni(const uint8_t *cookie, size_t len_bytes)
{
    uint32_t vni;

    if (!cookie || len_bytes != NFWD_COOKIE_LEN || memcmp(cookie, "nfwd", 4))
        return 0;
    vni = (uint32_t)cookie[4] << 24 | (uint32_t)cookie[5] << 16 |
          (uint32_t)cookie[6] << 8 | cookie[7];
    return nfwd_vni_ok(vni) ? vni : 0;
}

void nfwd_u32_dstmac_keys(const uint8_t mac[6], struct nfwd_u32_key k[2])
{
    /* The MAC header starts 14 bytes before the network header: the
     * first key's low half holds dst[0..1], the second dst[2..5]. */
    k[0].val_be = htonl((uint32_t)mac[0] << 8 | mac[1]);
    k[0].mask_be = htonl(0x0000ffffu);
    k[0].off = -16;
    k[1].val_be = htonl((uint32_t)mac[2] << 24 | (uint32_t)mac[3] << 16 |
                        (uint32_t)mac[4] << 8 | mac[5]);
    k[1].mask_be = htonl(0xffffffffu);
    k[1].off = -12;
}

/* ------------------------------------------------------------ vif spec */

static int seterr(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int seterr(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    if (err && err_len) {
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi,
                      unsigned *out)
{
    char *end;
    unsigned long v;

    if (!*s || !isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

int nfwd_vif_set(struct nfwd_vif *v, const char *key, const char *value,
                 char *err, size_t err_len)
{
    char first[INET_ADDRSTRLEN];
    size_t n;

    if (!key || !value)
        return seterr(err, err_len, "missing key or value");
    if (!strcmp(key, "mac")) {
        if (nfwd_mac_parse(value, v->mac))
            return seterr(err, err_len, "bad unicast mac '%.32s'", value);
    } else if (!strcmp(key, "bridge") || !strcmp(key, "vif") ||
               !strcmp(key, "vifname")) {
        if (!nfwd_ifname_ok(value))
            return seterr(err, err_len, "bad interface name '%.32s'", value);
        strcpy(key[0] == 'b' ? v->bridge : v->ifname, value);
    } else if (!strcmp(key, "script")) {
        if (strlen(value) >= sizeof(v->script))
            return seterr(err, err_len, "script name too long");
        strcpy(v->script, value);
    } else if (!strcmp(key, "mtu")) {
        if (parse_uint(value, 68, 65535, &v->mtu))
            return seterr(err, err_len, "bad mtu '%.32s' (68..65535)", value);
    } else if (!strcmp(key, "vlan")) {
        if (parse_uint(value, 1, 4094, &v->vlan))
            return seterr(err, err_len, "bad vlan '%.32s' (1..4094)", value);
    } else if (!strcmp(key, "ip")) {
        /* xenstore may list several, space-separated: the first is used */
        n = strcspn(value, " ");
        if (n >= sizeof(first))
            return seterr(err, err_len, "bad ipv4 address '%.32s'", value);
        memcpy(first, value, n);
        first[n] = 0;
        if (inet_pton(AF_INET, first, &v->ip) != 1)
            return seterr(err, err_len, "bad ipv4 address '%.32s'", value);
        v->has_ip = 1;
    } else {
        return seterr(err, err_len, "unknown vif key '%.32s'", key);
    }
    return 0;
}

int nfwd_vif_parse(const char *spec, struct nfwd_vif *vif, char *err,
                   size_t err_len)
{
    struct nfwd_vif v;
    char buf[512], *tok, *save = NULL, *eq;
    uint8_t zero[6] = { 0 };
    int rc;

    memset(&v, 0, sizeof(v));
    if (!spec || strlen(spec) >= sizeof(buf))
        return seterr(err, err_len, "vif spec missing or too long");
    strcpy(buf, spec);
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        eq = strchr(tok, '=');
        if (!eq)
            return seterr(err, err_len, "'%.32s' is not key=value", tok);
        *eq++ = 0;
        rc = nfwd_vif_set(&v, tok, eq, err, err_len);
        if (rc)
            return rc;
    }
    if (!memcmp(v.mac, zero, 6))
        return seterr(err, err_len, "vif spec needs mac=");
    *vif = v;
    return 0;
}

int nfwd_vif_supported(const struct nfwd_vif *vif, const char **why)
{
    const char *base = strrchr(vif->script, '/');

    base = base ? base + 1 : vif->script;
    if (*base && strcmp(base, "vif-bridge")) {
        *why = "script is not vif-bridge";
        return 0;
    }
    if (!vif->bridge[0]) {
        *why = "no bridge";
        return 0;
    }
    if (vif->vlan) {
        /* the tag would travel in the tunnel; popping it needs act_vlan */
        *why = "vlan-tagged vif (needs act_vlan, not supported)";
        return 0;
    }
    *why = NULL;
    return 1;
}

/* ------------------------------------------------------------ announce */

void nfwd_sched_default(struct nfwd_sched *s)
{
    (void)nfwd_sched_qemu(s, 5, 50, 550, 100);
}

int nfwd_sched_qemu(struct nfwd_sched *s, unsigned rounds, unsigned initial_ms,
                    unsigned max_ms, unsigned step_ms)
{
    unsigned k, t = 0, d;

    if (rounds < 1 || rounds > NFWD_ANNOUNCE_MAX_ROUNDS ||
        initial_ms > NFWD_ANNOUNCE_MAX_MS || max_ms > NFWD_ANNOUNCE_MAX_MS ||
        step_ms > NFWD_ANNOUNCE_MAX_MS)
        return -EINVAL;
    /* the gap after round k is min(initial + k * step, max) */
    for (k = 0; k < rounds; k++) {
        s->offsets_ms[k] = t;
        d = initial_ms + k * step_ms;
        t += d < max_ms ? d : max_ms;
    }
    s->rounds = rounds;
    return 0;
}

int nfwd_sched_parse(struct nfwd_sched *s, const char *list)
{
    struct nfwd_sched n;
    char buf[256], *tok, *save = NULL;
    unsigned v;

    if (!list || strlen(list) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, list);
    n.rounds = 0;
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n.rounds == NFWD_ANNOUNCE_MAX_ROUNDS)
            return -EINVAL;
        if (parse_uint(tok, 0, NFWD_ANNOUNCE_MAX_MS, &v))
            return -EINVAL;
        if (n.rounds && v < n.offsets_ms[n.rounds - 1])
            return -EINVAL;
        n.offsets_ms[n.rounds++] = v;
    }
    if (!n.rounds)
        return -EINVAL;
    *s = n;
    return 0;
}

/* Ethernet header, with an 802.1Q tag when vlan != 0; returns its length. */
static size_t eth_header(uint8_t *b, const uint8_t mac[6], unsigned vlan,
                         uint16_t type)
{
    size_t o = 12;

    memset(b, 0xff, 6);
    memcpy(b + 6, mac, 6);
    if (vlan) {
        b[o++] = 0x81;
        b[o++] = 0x00;
        b[o++] = (uint8_t)(vlan >> 8 & 0x0f);
        b[o++] = (uint8_t)vlan;
    }
    b[o++] = (uint8_t)(type >> 8);
    b[o++] = (uint8_t)type;
    return o;
}

/* ARP body for Ethernet/IPv4: htype 1, ptype 0x0800, hlen 6, plen 4. */
static void arp_body(uint8_t *p, uint16_t op, const uint8_t sha[6],
                     const void *spa, const uint8_t *tha, const void *tpa)
{
    p[0] = 0;
    p[1] = 1;
    p[2] = 0x08;
    p[3] = 0x00;
    p[4] = 6;
    p[5] = 4;
    p[6] = (uint8_t)(op >> 8);
    p[7] = (uint8_t)op;
    memcpy(p + 8, sha, 6);
    memcpy(p + 14, spa, 4);
    if (tha)
        memcpy(p + 18, tha, 6);
    memcpy(p + 24, tpa, 4);
}

size_t nfwd_rarp_build(uint8_t *buf, const uint8_t mac[6], unsigned vlan)
{
    static const uint8_t zero_ip[4];
    size_t h, len = vlan ? 64 : 60;

    /* QEMU's announce frame: broadcast RARP (0x8035), op 3 "reverse
     * request", sender = target = the MAC, addresses 0.0.0.0, padded */
    memset(buf, 0, len);
    h = eth_header(buf, mac, vlan, 0x8035);
    arp_body(buf + h, 3, mac, zero_ip, mac, zero_ip);
    return len;
}

size_t nfwd_garp_build(uint8_t *buf, const uint8_t mac[6], struct in_addr ip,
                       unsigned vlan)
{
    size_t h, len = vlan ? 64 : 60;

    /* gratuitous ARP request: sender and target address both the guest's */
    memset(buf, 0, len);
    h = eth_header(buf, mac, vlan, 0x0806);
    arp_body(buf + h, 1, mac, &ip.s_addr, NULL, &ip.s_addr);
    return len;
}

/* ------------------------------------------------------------ timers */

void nfwd_quiesce_init(struct nfwd_quiesce *q, uint64_t armed_ms,
                       uint64_t announce_end_ms)
{
    memset(q, 0, sizeof(*q));
    q->armed_ms = armed_ms;
    q->announce_end_ms = announce_end_ms;
    q->hold_ms = NFWD_HOLD_AFTER_ANNOUNCE_MS;
    q->quiet_ms = NFWD_QUIET_MS;
    q->cap_ms = NFWD_CAP_MS;
}

enum nfwd_verdict nfwd_quiesce_step(struct nfwd_quiesce *q, uint64_t now_ms,
                                    uint64_t tx_packets)
{
    if (!q->seen || tx_packets != q->last_tx) {
        q->seen = 1;
        q->last_tx = tx_packets;
        q->last_change_ms = now_ms;
    }
    if (now_ms >= q->armed_ms + q->cap_ms)
        return NFWD_DONE_CAP;
    if (now_ms >= q->announce_end_ms + q->hold_ms &&
        now_ms - q->last_change_ms >= q->quiet_ms)
        return NFWD_DONE_QUIET;
    return NFWD_WAIT;
}

int nfwd_announce_due(uint64_t attach_ms, uint64_t now_ms, int connected,
                      unsigned wait_ms)
{
    return connected || now_ms >= attach_ms + wait_ms;
}

/* ------------------------------------------------------------ lifecycle */

const char *nfwd_state_name(enum nfwd_state s)
{
    switch (s) {
    case NFWD_IDLE:
        return "idle";
    case NFWD_DISABLED:
        return "disabled";
    case NFWD_PREPARED:
        return "prepared";
    case NFWD_ARMED:
        return "armed";
    case NFWD_ATTACHED:
        return "attached";
    case NFWD_BUFFERING:
        return "buffering";
    case NFWD_DONE:
        return "done";
    }
    return "?";
}

int nfwd_mig_init(struct nfwd_mig *m, const struct nfwd_sys *sys,
                  enum nfwd_role role, uint32_t vni, struct in_addr local,
                  struct in_addr remote, const struct nfwd_vif *vifs,
                  unsigned n_vifs)
{
    if (!sys || !sys->ops || (role != NFWD_SOURCE && role != NFWD_TARGET) ||
        !nfwd_vni_ok(vni) || n_vifs > NFWD_MAX_VIFS || (n_vifs && !vifs))
        return -EINVAL;
    memset(m, 0, sizeof(*m));
    m->sys = *sys;
    m->role = role;
    m->vni = vni;
    m->local = local;
    m->remote = remote;
    m->hold_ms = NFWD_HOLD_AFTER_ANNOUNCE_MS;
    m->quiet_ms = NFWD_QUIET_MS;
    m->cap_ms = NFWD_CAP_MS;
    /* a target learns its vifs after the restore (nfwd_mig_set_vifs) */
    if (role == NFWD_TARGET && !n_vifs)
        return 0;
    return nfwd_mig_set_vifs(m, vifs, n_vifs);
}

static int remove_state(struct nfwd_mig *m, int drain);

int nfwd_mig_set_vifs(struct nfwd_mig *m, const struct nfwd_vif *vifs,
                      unsigned n_vifs)
{
    const char *why;
    char mac[18];
    unsigned i;

    if (n_vifs > NFWD_MAX_VIFS || (n_vifs && !vifs))
        return -EINVAL;
    for (i = 0; i < n_vifs; i++)
        if (!vifs[i].ifname[0] || !vifs[i].bridge[0])
            return -EINVAL;
    m->n_vifs = 0;
    for (i = 0; i < n_vifs; i++) {
        nfwd_mac_format(vifs[i].mac, mac);
        if (!nfwd_vif_supported(&vifs[i], &why)) {
            LOG(WARN, "forwarding skipped for vif %s (%s): %s", vifs[i].ifname,
                mac, why);
            continue;
        }
        m->vifs[m->n_vifs++] = vifs[i];
    }
    if (!m->n_vifs && m->state != NFWD_DONE) {
        if (m->state == NFWD_BUFFERING)
            (void)remove_state(m, 0);
        m->state = NFWD_DISABLED;
    }
    return 0;
}

static uint64_t now(const struct nfwd_sys *s)
{
    return s->ops->now_ms(s->ctx);
}

/* Look a name up in a listing. */
static const struct nfwd_link *find_link(const struct nfwd_link *l, size_t n,
                                         const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!strcmp(l[i].name, name))
            return &l[i];
    return NULL;
}

/* One log line, then forwarding is off for this migration. */
static int disable(struct nfwd_mig *m, int rc, const char *what)
{
    LOGEV(WARN, -rc, "forwarding disabled for vni %u: %s", m->vni, what);
    m->state = NFWD_DISABLED;
    return 0;
}

static int links_get(const struct nfwd_sys *s, struct nfwd_link **l_r,
                     size_t *n_r)
{
    struct nfwd_link *l;
    int rc;

    /* every link of the host; a dom0 has a few hundred at most */
    l = calloc(4096, sizeof(*l));
    if (!l)
        return -ENOMEM;
    rc = s->ops->links(s->ctx, l, 4096, n_r);
    if (rc) {
        free(l);
        return rc;
    }
    *l_r = l;
    return 0;
}

static unsigned max_mtu(const struct nfwd_mig *m)
{
    unsigned i, mtu = 0, v;

    for (i = 0; i < m->n_vifs; i++) {
        v = m->vifs[i].mtu ? m->vifs[i].mtu : NFWD_MTU_DEFAULT;
        if (v > mtu)
            mtu = v;
    }
    return mtu;
}

static int tunnel_add(struct nfwd_mig *m)
{
    struct nfwd_vxlan_spec vx;

    memset(&vx, 0, sizeof(vx));
    nfwd_dev_name(m->vni, vx.name);
    vx.vni = m->vni;
    vx.local = m->local;
    vx.remote = m->remote;
    vx.mtu = max_mtu(m);
    if (!vx.mtu) /* a target before it knows its vifs */
        vx.mtu = NFWD_MTU_DEFAULT;
    return m->sys.ops->vxlan_add(m->sys.ctx, &vx);
}

/* clsact on ifindex, remembered when this migration created it. */
static int clsact_own(struct nfwd_mig *m, int ifindex)
{
    int rc;

    if (!m->sys.ops->clsact_new || !m->sys.ops->clsact_del_empty)
        return m->sys.ops->clsact_add(m->sys.ctx, ifindex);
    rc = m->sys.ops->clsact_new(m->sys.ctx, ifindex);
    if (rc == -EEXIST)
        return 0;
    if (rc)
        return rc;
    if (m->n_own_qdisc < NFWD_MAX_PORTS)
        m->own_qdisc[m->n_own_qdisc++] = ifindex;
    return 0;
}

/* The qdiscs this migration added, unless someone else's filter is on. */
static void clsact_release(struct nfwd_mig *m)
{
    unsigned i;
    int del, rc;

    for (i = 0; i < m->n_own_qdisc; i++) {
        del = 0;
        rc = m->sys.ops->clsact_del_empty(m->sys.ctx, m->own_qdisc[i], &del);
        if (rc && rc != -ENOENT && rc != -ENODEV && rc != -EINVAL)
            LOGEV(WARN, -rc,
                  "vni %u: cannot remove the clsact qdisc of "
                  "ifindex %d",
                  m->vni, m->own_qdisc[i]);
        if (del)
            m->stats.qdiscs_removed++;
    }
    m->n_own_qdisc = 0;
}

/* Filters and devices of this migration; errors logged, first returned. */
static int remove_state(struct nfwd_mig *m, int drain)
{
    unsigned nf = 0, nl = 0, nt = 0;
    uint64_t drops = 0;
    int rc;

    if (m->capture) {
        m->sys.ops->capture_close(m->sys.ctx, m->capture, &drops);
        m->capture = NULL;
        m->stats.buffer_dropped += drops;
    }
    rc = nfwd_sweep(&m->sys, m->vni, &nf, NULL, NULL);
    if (drain && nf)
        m->sys.ops->sleep_ms(m->sys.ctx, NFWD_DRAIN_MS);
    {
        int rc2 = nfwd_sweep(&m->sys, m->vni, NULL, &nl, &nt);
        if (!rc)
            rc = rc2;
    }
    clsact_release(m);
    LOG(INFO, "vni %u: removed %u filters, %u links, %u nft tables", m->vni, nf,
        nl, nt);
    m->stats.filters_removed += nf;
    m->stats.links_removed += nl;
    m->stats.tables_removed += nt;
    m->state = NFWD_DONE;
    return rc;
}

int nfwd_prepare(struct nfwd_mig *m)
{
    struct nfwd_link *l = NULL;
    const struct nfwd_link *br;
    size_t n = 0, i;
    unsigned v;
    int rc;

    if (m->role != NFWD_SOURCE)
        return -EINVAL;
    if (m->state != NFWD_IDLE)
        return 0;
    rc = links_get(&m->sys, &l, &n);
    if (rc) {
        rc = disable(m, rc, "cannot list links");
        goto out;
    }
    for (v = 0; v < m->n_vifs; v++) {
        br = find_link(l, n, m->vifs[v].bridge);
        if (!br || strcmp(br->kind, "bridge")) {
            rc = disable(m, -ENODEV, "bridge missing or not a Linux bridge");
            goto out;
        }
    }
    rc = tunnel_add(m);
    if (rc) {
        rc = disable(m, rc, "cannot create the vxlan tunnel");
        goto out;
    }
    for (v = 0; v < m->n_vifs; v++) {
        br = find_link(l, n, m->vifs[v].bridge);
        for (i = 0; i < n; i++) {
            if (l[i].master != br->ifindex ||
                !strcmp(l[i].name, m->vifs[v].ifname))
                continue;
            rc = clsact_own(m, l[i].ifindex);
            if (rc) {
                (void)remove_state(m, 0);
                rc = disable(m, rc, "cannot add the clsact qdisc");
                goto out;
            }
        }
    }
    m->state = NFWD_PREPARED;
    rc = 0;
out:
    free(l);
    return rc;
}

int nfwd_arm(struct nfwd_mig *m)
{
    struct nfwd_link *l = NULL;
    const struct nfwd_link *br, *tun;
    char name[NFWD_IFNAMSIZ];
    uint8_t cookie[NFWD_COOKIE_LEN];
    size_t n = 0, i;
    unsigned v, w;
    uint64_t t0;
    int rc;

    if (m->role != NFWD_SOURCE)
        return -EINVAL;
    if (m->state != NFWD_PREPARED)
        return 0;
    t0 = now(&m->sys);
    rc = links_get(&m->sys, &l, &n);
    if (rc) {
        rc = disable(m, rc, "cannot list links");
        goto out;
    }
    nfwd_dev_name(m->vni, name);
    nfwd_cookie(m->vni, cookie);
    tun = find_link(l, n, name);
    if (!tun) {
        rc = disable(m, -ENODEV, "tunnel device vanished");
        goto out;
    }
    for (v = 0; v < m->n_vifs; v++) {
        br = find_link(l, n, m->vifs[v].bridge);
        if (!br)
            continue;
        for (i = 0; i < n; i++) {
            /* every port but the migrating vif(s) of this domain */
            if (l[i].master != br->ifindex)
                continue;
            for (w = 0; w < m->n_vifs; w++)
                if (!strcmp(l[i].name, m->vifs[w].ifname))
                    break;
            if (w < m->n_vifs)
                continue;
            rc = m->sys.ops->clsact_add(m->sys.ctx, l[i].ifindex);
            if (!rc)
                rc = m->sys.ops->redirect_add(m->sys.ctx, l[i].ifindex,
                                              m->vifs[v].mac, tun->ifindex,
                                              cookie);
            if (rc) {
                /* never leave half a redirect behind */
                (void)remove_state(m, 0);
                rc = disable(m, rc, "cannot install a redirect filter");
                goto out;
            }
            m->filters++;
        }
    }
    m->armed_ms = now(&m->sys);
    m->state = NFWD_ARMED;
    LOG(INFO, "vni %u: armed %u filters in %llu ms", m->vni, m->filters,
        (unsigned long long)(m->armed_ms - t0));
    rc = 0;
out:
    free(l);
    return rc;
}

/*
 * The target's nft sender filter, then its tunnel: the tunnel never runs
 * unfiltered.  Non-zero: forwarding is disabled (one log line).
 */
static int target_tunnel(struct nfwd_mig *m)
{
    int rc;

    rc = m->sys.ops->accept_add(m->sys.ctx, m->vni, m->remote);
    if (rc) {
        (void)disable(m, rc, "cannot install the nftables sender filter");
        return rc;
    }
    rc = tunnel_add(m);
    if (rc) {
        (void)remove_state(m, 0);
        (void)disable(m, rc, "cannot create the vxlan tunnel");
    }
    return rc;
}

/* Every named vif there, up and with carrier? */
static int vifs_carrier(const struct nfwd_sys *sys, const struct nfwd_vif *vifs,
                        unsigned n_vifs)
{
    struct nfwd_link *l = NULL;
    const struct nfwd_link *vif;
    size_t n = 0;
    unsigned v;
    int ok;

    ok = !links_get(sys, &l, &n);
    for (v = 0; ok && v < n_vifs; v++) {
        if (!vifs[v].ifname[0])
            continue;
        vif = find_link(l, n, vifs[v].ifname);
        ok = vif && vif->carrier;
    }
    free(l);
    return ok;
}

/* The buffer ops of the adapter, all or none. */
static int have_buffer(const struct nfwd_sys *sys)
{
    const struct nfwd_sys_ops *o = sys->ops;

    return o->buffer_dev_add && o->capture_open && o->capture_read &&
           o->capture_send && o->capture_close;
}

int nfwd_target_prepare(struct nfwd_mig *m)
{
    struct nfwd_link *l = NULL;
    const struct nfwd_link *tun, *buf;
    char name[NFWD_IFNAMSIZ], bname[NFWD_IFNAMSIZ];
    uint8_t cookie[NFWD_COOKIE_LEN];
    size_t n = 0;
    int rc;

    if (m->role != NFWD_TARGET)
        return -EINVAL;
    if (m->state != NFWD_IDLE || !have_buffer(&m->sys))
        return 0;
    if (target_tunnel(m))
        return 0;
    nfwd_buf_name(m->vni, bname);
    rc = m->sys.ops->buffer_dev_add(m->sys.ctx, bname, NFWD_BUFFER_FRAME_MAX);
    if (!rc)
        rc = links_get(&m->sys, &l, &n);
    nfwd_dev_name(m->vni, name);
    nfwd_cookie(m->vni, cookie);
    tun = rc ? NULL : find_link(l, n, name);
    buf = rc ? NULL : find_link(l, n, bname);
    if (!rc && (!tun || !buf))
        rc = -ENODEV;
    /* capture first: the redirect never runs into an unread device */
    if (!rc)
        rc = m->sys.ops->capture_open(m->sys.ctx, buf->ifindex, &m->capture);
    if (!rc)
        rc = m->sys.ops->clsact_add(m->sys.ctx, tun->ifindex);
    if (!rc)
        rc = m->sys.ops->redirect_add(m->sys.ctx, tun->ifindex, NULL,
                                      buf->ifindex, cookie);
    if (rc) {
        /* no buffer (a missing dummy module, say): attach after the
         * restore as without one; frames of the blackout are lost */
        LOGEV(WARN, -rc,
              "vni %u: cannot buffer the tunnel; frames forwarded during "
              "the blackout will be lost",
              m->vni);
        (void)remove_state(m, 0);
        m->state = NFWD_IDLE;
        rc = 0;
        goto out;
    }
    m->filters++;
    m->state = NFWD_BUFFERING;
    LOG(INFO, "vni %u: target buffering the tunnel", m->vni);
    rc = 0;
out:
    free(l);
    return rc;
}

/* A buffering target after the restore: are its vifs there? */
static int vifs_present(struct nfwd_mig *m)
{
    struct nfwd_link *l = NULL;
    size_t n = 0;
    unsigned v;
    int rc;

    if (!m->n_vifs)
        return 0; /* nfwd_mig_set_vifs disabled it */
    rc = links_get(&m->sys, &l, &n);
    for (v = 0; !rc && v < m->n_vifs; v++)
        if (!find_link(l, n, m->vifs[v].ifname))
            rc = -ENODEV;
    free(l);
    if (rc) {
        (void)remove_state(m, 0);
        return disable(m, rc, "the new vif is missing");
    }
    LOG(INFO, "vni %u: target attached (buffering until the vif connects)",
        m->vni);
    return 0;
}

/* Deliver what the buffer holds to the vif of each frame's destination. */
static void release_flush(struct nfwd_mig *m, const struct nfwd_sys *sys,
                          const int *vif_ifindex, uint8_t *frame)
{
    size_t len;
    unsigned v;

    while (!sys->ops->capture_read(sys->ctx, m->capture, frame,
                                   NFWD_BUFFER_FRAME_MAX, &len)) {
        for (v = 0; v < m->n_vifs; v++)
            if (len >= 14 && !memcmp(frame, m->vifs[v].mac, 6))
                break;
        if (v == m->n_vifs)
            m->stats.buffer_foreign++; /* the host's own, say */
        else if (sys->ops->capture_send(sys->ctx, m->capture, vif_ifindex[v],
                                        frame, len))
            m->stats.buffer_dropped++;
        else
            m->stats.buffered_packets++;
    }
}

/* Backends connected (the caller's test) and every vif up with carrier. */
static int vifs_ready(const struct nfwd_mig *m, const struct nfwd_sys *sys,
                      int (*connected)(void *opaque), void *opaque)
{
    if (connected && !connected(opaque))
        return 0;
    return vifs_carrier(sys, m->vifs, m->n_vifs);
}

int nfwd_target_release(struct nfwd_mig *m, const struct nfwd_sys *sys,
                        int (*connected)(void *opaque), void *opaque,
                        unsigned wait_ms)
{
    struct nfwd_link *l = NULL;
    const struct nfwd_link *tun, *vif;
    char name[NFWD_IFNAMSIZ];
    uint8_t cookie[NFWD_COOKIE_LEN], *frame = NULL;
    int vif_ifindex[NFWD_MAX_VIFS];
    uint64_t t0, drops = 0;
    size_t n = 0;
    unsigned v;
    int rc;

    if (m->role != NFWD_TARGET)
        return -EINVAL;
    if (m->state != NFWD_BUFFERING)
        return 0;
    t0 = now(sys);
    while (!vifs_ready(m, sys, connected, opaque) && now(sys) - t0 < wait_ms)
        sys->ops->sleep_ms(sys->ctx, 20);
    m->stats.buffer_wait_ms = now(sys) - t0;
    frame = malloc(NFWD_BUFFER_FRAME_MAX);
    rc = frame ? links_get(sys, &l, &n) : -ENOMEM;
    nfwd_dev_name(m->vni, name);
    tun = rc ? NULL : find_link(l, n, name);
    if (!rc && !tun)
        rc = -ENODEV;
    for (v = 0; !rc && v < m->n_vifs; v++) {
        vif = find_link(l, n, m->vifs[v].ifname);
        if (vif)
            vif_ifindex[v] = vif->ifindex;
        else
            rc = -ENODEV;
    }
    if (rc) {
        (void)remove_state(m, 0);
        rc = disable(m, rc, "cannot release the buffer to the vif");
        goto out;
    }
    /* the bulk first, then the redirects ahead of the catch-all, then
     * what came in meanwhile: nothing twice, nothing left behind */
    release_flush(m, sys, vif_ifindex, frame);
    nfwd_cookie(m->vni, cookie);
    for (v = 0; !rc && v < m->n_vifs; v++) {
        rc = sys->ops->redirect_add(sys->ctx, tun->ifindex, m->vifs[v].mac,
                                    vif_ifindex[v], cookie);
        if (!rc)
            m->filters++;
    }
    sys->ops->sleep_ms(sys->ctx, NFWD_RELEASE_SETTLE_MS);
    release_flush(m, sys, vif_ifindex, frame);
    if (rc) {
        (void)remove_state(m, 0);
        rc = disable(m, rc, "cannot redirect the tunnel to the vif");
        goto out;
    }
    sys->ops->capture_close(sys->ctx, m->capture, &drops);
    m->capture = NULL;
    m->stats.buffer_dropped += drops;
    m->state = NFWD_ATTACHED;
    LOG(INFO,
        "vni %u: buffer released after %llu ms: %llu frames delivered, "
        "%llu dropped",
        m->vni, (unsigned long long)m->stats.buffer_wait_ms,
        (unsigned long long)m->stats.buffered_packets,
        (unsigned long long)m->stats.buffer_dropped);
    rc = 0;
out:
    free(frame);
    free(l);
    return rc;
}

int nfwd_target_attach(struct nfwd_mig *m)
{
    struct nfwd_link *l = NULL;
    const struct nfwd_link *tun, *vif;
    char name[NFWD_IFNAMSIZ];
    uint8_t cookie[NFWD_COOKIE_LEN];
    size_t n = 0;
    unsigned v;
    int rc;

    if (m->role != NFWD_TARGET)
        return -EINVAL;
    if (m->state == NFWD_BUFFERING)
        return vifs_present(m);
    if (m->state != NFWD_IDLE || !m->n_vifs)
        return 0;
    if (target_tunnel(m))
        return 0;
    rc = links_get(&m->sys, &l, &n);
    if (rc) {
        (void)remove_state(m, 0);
        rc = disable(m, rc, "cannot list links");
        goto out;
    }
    nfwd_dev_name(m->vni, name);
    nfwd_cookie(m->vni, cookie);
    tun = find_link(l, n, name);
    rc = tun ? m->sys.ops->clsact_add(m->sys.ctx, tun->ifindex) : -ENODEV;
    for (v = 0; !rc && v < m->n_vifs; v++) {
        vif = find_link(l, n, m->vifs[v].ifname);
        if (!vif) {
            rc = -ENODEV;
            break;
        }
        rc = m->sys.ops->redirect_add(m->sys.ctx, tun->ifindex, m->vifs[v].mac,
                                      vif->ifindex, cookie);
        if (!rc)
            m->filters++;
    }
    if (rc) {
        (void)remove_state(m, 0);
        rc = disable(m, rc, "cannot redirect the tunnel to the vif");
        goto out;
    }
    m->state = NFWD_ATTACHED;
    LOG(INFO, "vni %u: target attached, %u filters", m->vni, m->filters);
    rc = 0;
out:
    free(l);
    return rc;
}

int nfwd_announce(const struct nfwd_sys *sys, const struct nfwd_vif *vifs,
                  unsigned n_vifs, const struct nfwd_sched *sched,
                  int (*connected)(void *opaque), void *opaque,
                  uint64_t *end_ms_r)
{
    struct nfwd_link *l = NULL;
    const struct nfwd_link *br, *vif;
    uint8_t frame[NFWD_FRAME_MAX_BYTES];
    uint64_t t0, start, t;
    unsigned k, v, sent = 0, failed = 0;
    uint32_t pointed = 0; /* vifs whose fdb entry points at them */
    size_t n = 0, len;
    int rc;

    if (!sched || !sched->rounds || sched->rounds > NFWD_ANNOUNCE_MAX_ROUNDS ||
        n_vifs > NFWD_MAX_VIFS || (n_vifs && !vifs))
        return -EINVAL;
    rc = links_get(sys, &l, &n);
    if (rc) {
        LOGEV(ERROR, -rc, "announce failed: cannot list links");
        goto out;
    }
    /*
     * Wait for the backend to connect, 1 s at most; once it says so, for
     * the vifs' carrier too (netback's "Guest Rx ready" comes up to a
     * second after xenstore's Connected on the lab), NFWD_RELEASE_WAIT_MS
     * at most: before it the bridge refuses the fdb entry and the guest
     * cannot take what the announce brings.
     */
    t0 = now(sys);
    for (;;) {
        t = now(sys);
        if (connected && connected(opaque)) {
            if (vifs_carrier(sys, vifs, n_vifs) ||
                t >= t0 + NFWD_RELEASE_WAIT_MS)
                break;
        } else if (nfwd_announce_due(t0, t, 0, NFWD_CONNECT_WAIT_MS)) {
            break;
        }
        sys->ops->sleep_ms(sys->ctx, 10);
    }
    /* the hotplug script may have put the vif into its bridge meanwhile */
    free(l);
    l = NULL;
    rc = links_get(sys, &l, &n);
    if (rc) {
        LOGEV(ERROR, -rc, "announce failed: cannot list links");
        goto out;
    }
    /* a stale entry (learned from frames flooded before the migration)
     * would send the guest's traffic back out of the uplink.  The bridge
     * refuses (EPERM) while the vif's port is not forwarding yet (no
     * carrier before the frontend connects): try again every round. */
    start = now(sys);
    for (k = 0; k < sched->rounds; k++) {
        t = now(sys);
        if (k && t < start + sched->offsets_ms[k])
            sys->ops->sleep_ms(sys->ctx,
                               (unsigned)(start + sched->offsets_ms[k] - t));
        for (v = 0; v < n_vifs; v++) {
            if (pointed & (1u << v))
                continue;
            vif = vifs[v].ifname[0] ? find_link(l, n, vifs[v].ifname) : NULL;
            if (!vif || !vif->master) {
                pointed |= 1u << v;
                continue;
            }
            rc = sys->ops->fdb_point(sys->ctx, vif->ifindex, vifs[v].mac);
            if (!rc)
                pointed |= 1u << v;
            else if (k + 1 == sched->rounds)
                LOGEV(WARN, -rc, "announce: cannot point the fdb entry at %s",
                      vif->name);
        }
        for (v = 0; v < n_vifs; v++) {
            br = find_link(l, n, vifs[v].bridge);
            if (!br) {
                failed++;
                continue;
            }
            len = nfwd_rarp_build(frame, vifs[v].mac, vifs[v].vlan);
            if (sys->ops->send_frame(sys->ctx, br->ifindex, frame, len))
                failed++;
            else
                sent++;
            if (!vifs[v].has_ip)
                continue;
            len = nfwd_garp_build(frame, vifs[v].mac, vifs[v].ip, vifs[v].vlan);
            if (sys->ops->send_frame(sys->ctx, br->ifindex, frame, len))
                failed++;
            else
                sent++;
        }
    }
    if (end_ms_r)
        *end_ms_r = now(sys);
    if (failed)
        LOG(WARN, "announce: %u of %u frames not sent", failed, failed + sent);
    rc = sent || !n_vifs ? 0 : -EIO;
out:
    free(l);
    return rc;
}

int nfwd_teardown(struct nfwd_mig *m, int quiesce, uint64_t announce_end_ms,
                  enum nfwd_verdict *verdict_r)
{
    struct nfwd_link *l = NULL;
    const struct nfwd_link *tun;
    struct nfwd_quiesce q;
    enum nfwd_verdict vd = NFWD_DONE_QUIET;
    char name[NFWD_IFNAMSIZ];
    size_t n = 0;
    uint64_t t;
    int rc;

    if (m->state == NFWD_DONE)
        return 0;
    nfwd_dev_name(m->vni, name);
    t = now(&m->sys);
    if (quiesce && m->role == NFWD_SOURCE) {
        if (!announce_end_ms)
            /* the target announces at state 4 or 1 s after resume at
             * the latest, for the length of the default schedule */
            announce_end_ms = t + NFWD_CONNECT_WAIT_MS + 800;
        nfwd_quiesce_init(&q, m->armed_ms ? m->armed_ms : t, announce_end_ms);
        q.hold_ms = m->hold_ms;
        q.quiet_ms = m->quiet_ms;
        q.cap_ms = m->cap_ms;
        for (;;) {
            free(l);
            l = NULL;
            rc = links_get(&m->sys, &l, &n);
            tun = rc ? NULL : find_link(l, n, name);
            if (!tun) {
                vd = NFWD_DONE_QUIET; /* nothing left to wait for */
                break;
            }
            m->stats.forwarded_bytes = tun->tx_bytes;
            vd = nfwd_quiesce_step(&q, now(&m->sys), tun->tx_packets);
            if (vd != NFWD_WAIT)
                break;
            m->sys.ops->sleep_ms(m->sys.ctx, NFWD_POLL_MS);
        }
        m->stats.forwarded_packets = q.last_tx;
        m->stats.held_ms = now(&m->sys) - q.armed_ms;
        LOG(INFO, "vni %u: %s after %llu ms, %llu packets forwarded", m->vni,
            vd == NFWD_DONE_CAP ? "hard cap" : "quiescent",
            (unsigned long long)m->stats.held_ms,
            (unsigned long long)q.last_tx);
    } else {
        /* what the tunnel carried, read before it goes */
        rc = links_get(&m->sys, &l, &n);
        tun = rc ? NULL : find_link(l, n, name);
        if (tun) {
            m->stats.forwarded_packets = tun->tx_packets;
            m->stats.forwarded_bytes = tun->tx_bytes;
            m->stats.received_packets = tun->rx_packets;
        }
        m->stats.held_ms = t - (m->armed_ms ? m->armed_ms : t);
    }
    m->stats.verdict = vd;
    if (verdict_r)
        *verdict_r = vd;
    rc = remove_state(m, m->role == NFWD_SOURCE);
    free(l);
    return rc;
}

int nfwd_abort(struct nfwd_mig *m)
{
    unsigned nf = 0;
    int rc;

    if (m->state == NFWD_DONE)
        return 0;
    /* filters first, synchronously: the guest resumes here next */
    rc = nfwd_sweep(&m->sys, m->vni, &nf, NULL, NULL);
    if (rc)
        LOGEV(ERROR, -rc, "abort: removing the filters of vni %u failed",
              m->vni);
    LOG(INFO, "vni %u: abort removed %u filters", m->vni, nf);
    m->stats.filters_removed += nf;
    {
        int rc2 = remove_state(m, 0);
        if (!rc)
            rc = rc2;
    }
    return rc;
}

/*
 * links_r == NULL && tables_r == NULL: filters only (the first half of a
 * teardown); filters_r == NULL: devices and tables only; all NULL: all.
 */
int nfwd_sweep(const struct nfwd_sys *sys, uint32_t vni, unsigned *filters_r,
               unsigned *links_r, unsigned *tables_r)
{
    struct nfwd_link *l = NULL;
    int do_filters = filters_r || (!links_r && !tables_r);
    int do_rest = links_r || tables_r || !filters_r;
    unsigned nf = 0, nl = 0, nt = 0, k;
    uint32_t dv;
    size_t n = 0, i;
    int rc, first = 0;

    rc = links_get(sys, &l, &n);
    if (rc) {
        LOGEV(ERROR, -rc, "sweep failed: cannot list links");
        goto out;
    }
    /* filters before devices: a filter outlives its target device and
     * then black-holes the MAC */
    for (i = 0; do_filters && i < n; i++) {
        k = 0;
        rc = sys->ops->redirect_del(sys->ctx, l[i].ifindex, vni, &k);
        if (rc && rc != -ENOENT && rc != -EINVAL && !first) {
            LOGEV(ERROR, -rc, "sweep: cannot remove filters on %s", l[i].name);
            first = rc;
        }
        nf += k;
    }
    for (i = 0; do_rest && i < n; i++) {
        dv = nfwd_dev_vni(l[i].name);
        if (dv && strcmp(l[i].kind, "vxlan"))
            dv = 0;
        if (!dv && nfwd_buf_vni(l[i].name) && !strcmp(l[i].kind, "dummy"))
            dv = nfwd_buf_vni(l[i].name);
        if (!dv || (vni && dv != vni))
            continue;
        rc = sys->ops->link_del(sys->ctx, l[i].name);
        if (rc && rc != -ENODEV) {
            LOGEV(ERROR, -rc, "sweep: cannot delete %s", l[i].name);
            if (!first)
                first = rc;
        } else if (!rc) {
            nl++;
        }
    }
    if (do_rest) {
        if (vni) {
            rc = sys->ops->accept_del(sys->ctx, vni);
            if (!rc)
                nt++;
            else if (rc != -ENOENT && rc != -EOPNOTSUPP && !first)
                first = rc;
        } else {
            k = 0;
            rc = sys->ops->accept_sweep(sys->ctx, &k);
            if (rc && rc != -EOPNOTSUPP && !first)
                first = rc;
            nt += k;
        }
    }
    if (filters_r)
        *filters_r = nf;
    if (links_r)
        *links_r = nl;
    if (tables_r)
        *tables_r = nt;
    rc = first;
out:
    free(l);
    return rc;
}

const struct nfwd_stage_ops nfwd_stages = {
    .prepare = nfwd_prepare,
    .arm = nfwd_arm,
    .target_attach = nfwd_target_attach,
    .announce = nfwd_announce,
    .teardown = nfwd_teardown,
    .abort = nfwd_abort,
    .sweep = nfwd_sweep,
};
