/* SPDX-License-Identifier: MIT */
/*
 * net-forward wired into xlmig migrate / migrate-receive: see
 * nfwd_migrate.h and docs/net-forward.md ("In xlmig").
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "forward: "
#include "cli/nfwd_migrate.h"
#include "common/log.h"
#include "nfwd_mnl.h"
#include "transport/xlproto.h"

#define XS_PATH_BYTES 128

/* ------------------------------------------------------ the extension */

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

size_t nfwd_ext_encode(uint8_t *out, size_t cap, const struct nfwd_ext *e)
{
    if (cap < NFWD_EXT_BYTES)
        return 0;
    memcpy(out, NFWD_EXT_MAGIC, 4);
    put32le(out + 4, e->vni);
    memcpy(out + 8, &e->target.s_addr, 4);
    memcpy(out + 12, &e->source.s_addr, 4);
    put32le(out + 16, e->flags);
    return NFWD_EXT_BYTES;
}

/* Usable unicast IPv4 of a peer: not 0/8, loopback, multicast, broadcast. */
static int addr_ok(struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);

    return h && (h >> 24) != 0 && (h >> 24) != 127 && (h >> 28) != 0xe &&
           (h >> 28) != 0xf;
}

int nfwd_ext_decode(const uint8_t *buf, size_t len, struct nfwd_ext *e)
{
    if (len < NFWD_EXT_BYTES || memcmp(buf, NFWD_EXT_MAGIC, 4))
        return -ENOENT;
    memset(e, 0, sizeof(*e));
    e->vni = get32le(buf + 4);
    memcpy(&e->target.s_addr, buf + 8, 4);
    memcpy(&e->source.s_addr, buf + 12, 4);
    e->flags = get32le(buf + 16);
    if (!nfwd_vni_ok(e->vni) || !addr_ok(e->target) || !addr_ok(e->source) ||
        e->target.s_addr == e->source.s_addr)
        return -EINVAL;
    return 0;
}

/* ---------------------------------------------- runtime state, sweep */

static void rt_path(uint32_t vni, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%u", NFWD_RUN_DIR, vni);
}

/* Recorded before anything is created, so a crash always leaves it. */
static void rt_mark(uint32_t vni, const char *role)
{
    char p[64];
    FILE *f;

    mkdir("/run/xlmig", 0755);
    mkdir(NFWD_RUN_DIR, 0755);
    rt_path(vni, p, sizeof(p));
    f = fopen(p, "w");
    if (!f)
        return;
    fprintf(f, "%ld %s\n", (long)getpid(), role);
    fclose(f);
}

static void rt_clear(uint32_t vni)
{
    char p[64];

    rt_path(vni, p, sizeof(p));
    unlink(p);
}

/* Is the owner recorded for vni alive?  (No file: no owner.) */
static int rt_owner_alive(uint32_t vni)
{
    char p[64];
    long pid = 0;
    FILE *f;

    rt_path(vni, p, sizeof(p));
    f = fopen(p, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void sweep_one(const struct nfwd_sys *sys, uint32_t vni)
{
    unsigned f = 0, l = 0, t = 0;

    (void)nfwd_sweep(sys, vni, &f, &l, &t);
    LOG(INFO,
        "start-up sweep: vni %u (owner gone): %u filters, %u devices, "
        "%u nft tables removed",
        vni, f, l, t);
    rt_clear(vni);
}

/*
 * State of migrations whose process is gone: every nfwd device and every
 * runtime record without a live owner.  Migrations of other live xlmig
 * processes on this host are left alone.
 */
static unsigned startup_sweep(const struct nfwd_sys *sys)
{
    struct nfwd_link *l;
    size_t n = 0, i;
    struct dirent *de;
    unsigned long v;
    uint32_t vni;
    char *end;
    unsigned swept = 0;
    DIR *d;

    l = calloc(NFWD_MAX_PORTS * 4, sizeof(*l));
    if (l && !sys->ops->links(sys->ctx, l, NFWD_MAX_PORTS * 4, &n)) {
        for (i = 0; i < n; i++) {
            vni = nfwd_dev_vni(l[i].name);
            if (!vni)
                vni = nfwd_buf_vni(l[i].name);
            if (vni && !rt_owner_alive(vni)) {
                sweep_one(sys, vni);
                swept++;
            }
        }
    }
    free(l);
    d = opendir(NFWD_RUN_DIR);
    if (!d)
        return swept;
    while ((de = readdir(d))) {
        errno = 0;
        v = strtoul(de->d_name, &end, 10);
        if (errno || *end || end == de->d_name || !nfwd_vni_ok((uint32_t)v))
            continue;
        if (!rt_owner_alive((uint32_t)v)) {
            sweep_one(sys, (uint32_t)v);
            swept++;
        }
    }
    closedir(d);
    return swept;
}

unsigned nfwd_sweep_dead(void)
{
    struct nfwd_mnl *nl;
    struct nfwd_sys sys;
    unsigned n;

    if (nfwd_mnl_new(&nl))
        return 0;
    nfwd_mnl_sys(nl, &sys);
    n = startup_sweep(&sys);
    nfwd_mnl_free(nl);
    return n;
}

/* ------------------------------------------------- xenstore vif facts */

/* A key of vif dev's backend node (the backend is dom0). */
static int xs_get(const struct xsh_xs_ops *xo, void *xs, char *val, size_t cap,
                  uint32_t domid, unsigned dev, const char *key)
{
    char path[XS_PATH_BYTES];

    snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/%s", domid,
             dev, key);
    return xo->read(xs, path, val, cap);
}

/* The domain's vifs from their backend nodes (device ids 0..15). */
static unsigned read_vifs(const struct xsh_xs_ops *xo, void *xs, uint32_t domid,
                          struct nfwd_vif *vifs)
{
    static const char *const keys[] = { "bridge", "script", "mtu",
                                        "vlan",   "ip",     "vifname" };
    char val[XSH_VALUE_MAX], err[128];
    unsigned dev, n = 0, k;
    struct nfwd_vif *v;

    for (dev = 0; dev < NFWD_MAX_VIFS; dev++) {
        if (xs_get(xo, xs, val, sizeof(val), domid, dev, "mac"))
            continue;
        v = &vifs[n];
        memset(v, 0, sizeof(*v));
        if (nfwd_vif_set(v, "mac", val, err, sizeof(err))) {
            LOG(WARN, "vif %u of domain %u: %s", dev, domid, err);
            continue;
        }
        snprintf(v->ifname, sizeof(v->ifname), "vif%u.%u", domid, dev);
        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            if (xs_get(xo, xs, val, sizeof(val), domid, dev, keys[k]))
                continue;
            if (nfwd_vif_set(v, keys[k], val, err, sizeof(err)))
                LOG(WARN, "vif %u of domain %u: %s", dev, domid, err);
        }
        n++;
    }
    return n;
}

static const char *verdict_name(enum nfwd_verdict v)
{
    return v == NFWD_DONE_CAP ? "cap" : "quiet";
}

/* ------------------------------------------------------------- source */

void nfwd_src_init(struct nfwd_src *s, int forward, uint32_t domid,
                   const struct xsh_xs_ops *xo, void *xs, FILE *json,
                   const struct mig_src_ops *inner, void *inner_be)
{
    memset(s, 0, sizeof(*s));
    s->json = json;
    s->xo = xo;
    s->xs = xs;
    s->domid = domid;
    s->inner = inner;
    s->inner_be = inner_be;
    /* the vifs also serve the announce after a back-out */
    if (xo && xs)
        s->n_vifs = read_vifs(xo, xs, domid, s->vifs);
    if (!forward)
        return;
    if (!xo || !xs) {
        LOG(WARN, "no xenstore: no forwarding");
        return;
    }
    if (!s->n_vifs) {
        LOG(INFO, "domain %u has no vif: nothing to forward", domid);
        return;
    }
    if (nfwd_mnl_new(&s->nl)) {
        LOG(WARN, "no rtnetlink: no forwarding");
        return;
    }
    nfwd_mnl_sys(s->nl, &s->sys);
    startup_sweep(&s->sys);
    s->enabled = 1;
}

uint32_t nfwd_src_flags(const struct nfwd_src *s)
{
    return s->enabled ? XLPROTO_OPTFLAG_NFWD : 0;
}

static void src_json(struct nfwd_src *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void src_json(struct nfwd_src *s, const char *fmt, ...)
{
    va_list ap;

    if (!s->json)
        return;
    fprintf(s->json, "{\"event\":\"forward\",\"vni\":%u,", s->mig.vni);
    va_start(ap, fmt);
    vfprintf(s->json, fmt, ap);
    va_end(ap);
    fprintf(s->json, "}\n");
    fflush(s->json);
}

static void src_prepare(struct nfwd_src *s, const struct mig_stats *st)
{
    struct nfwd_ext e;
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    int rc;

    rc = nfwd_ext_decode(st->peer_ext, st->peer_ext_len, &e);
    if (rc) {
        LOG(INFO, "%s: no forwarding",
            rc == -ENOENT ? "the receiver does not forward"
                          : "the receiver's forwarding offer is invalid");
        s->enabled = 0;
        return;
    }
    if (nfwd_mig_init(&s->mig, &s->sys, NFWD_SOURCE, e.vni, e.source, e.target,
                      s->vifs, s->n_vifs)) {
        s->enabled = 0;
        return;
    }
    s->have_mig = 1;
    s->peer_buffers = !!(e.flags & NFWD_EXT_FLAG_BUFFER);
    rt_mark(e.vni, "source");
    (void)nfwd_prepare(&s->mig);
    inet_ntop(AF_INET, &e.source, a, sizeof(a));
    inet_ntop(AF_INET, &e.target, b, sizeof(b));
    if (s->mig.state != NFWD_PREPARED) {
        src_json(s, "\"stage\":\"disabled\"");
        rt_clear(e.vni);
        return;
    }
    LOG(INFO, "vni %u: prepared (%s -> %s, %u vif%s)", e.vni, a, b,
        s->mig.n_vifs, s->mig.n_vifs == 1 ? "" : "s");
    src_json(s, "\"stage\":\"prepared\",\"local\":\"%s\",\"remote\":\"%s\"", a,
             b);
}

void nfwd_src_event(void *opaque, enum mig_event ev, const struct mig_stats *st,
                    const struct precopy_round *r, int status)
{
    struct nfwd_src *s = opaque;
    uint64_t t0;

    if (s->enabled && ev == MIG_EV_NEGOTIATED && !s->have_mig)
        src_prepare(s, st);
    /* a buffering target keeps what arrives from the suspend request on;
     * without one, what the guest might still take stays here */
    if (s->have_mig && s->mig.state == NFWD_PREPARED &&
        ev == (s->peer_buffers ? MIG_EV_SUSPENDING : MIG_EV_SUSPENDED)) {
        t0 = s->sys.ops->now_ms(s->sys.ctx);
        (void)nfwd_arm(&s->mig);
        s->arm_ms = s->sys.ops->now_ms(s->sys.ctx) - t0;
        if (s->mig.state == NFWD_ARMED) {
            s->armed = 1;
            src_json(s,
                     "\"stage\":\"armed\",\"filters\":%u,\"arm_ms\":%llu,"
                     "\"at\":\"%s\"",
                     s->mig.filters, (unsigned long long)s->arm_ms,
                     s->peer_buffers ? "suspend_request" : "suspended");
        } else {
            src_json(s, "\"stage\":\"disabled\"");
        }
    }
    if (s->next)
        s->next->event(s->next->opaque, ev, st, r, status);
}

static void src_abort(struct nfwd_src *s)
{
    if (!s->have_mig || s->mig.state == NFWD_DONE ||
        s->mig.state == NFWD_DISABLED)
        return;
    (void)nfwd_abort(&s->mig);
    s->aborted = 1;
    LOG(INFO, "vni %u: aborted, %u filters removed before the guest resumes",
        s->mig.vni, s->mig.stats.filters_removed);
    src_json(s,
             "\"stage\":\"torn_down\",\"reason\":\"abort\",\"packets\":%llu,"
             "\"bytes\":%llu,\"held_ms\":%llu,\"filters_removed\":%u,"
             "\"qdiscs_removed\":%u",
             (unsigned long long)s->mig.stats.forwarded_packets,
             (unsigned long long)s->mig.stats.forwarded_bytes,
             (unsigned long long)s->mig.stats.held_ms,
             s->mig.stats.filters_removed, s->mig.stats.qdiscs_removed);
    rt_clear(s->mig.vni);
}

static int src_save(void *be, int fd, const struct mig_save_args *a)
{
    struct nfwd_src *s = be;

    return s->inner->save(s->inner_be, fd, a);
}

static int always_connected(void *opaque)
{
    (void)opaque;
    return 1; /* a cooperative resume keeps the vif's backend connected */
}

/*
 * After a back-out the guest runs here again, but the target may have
 * announced it already (it unpauses on GO, then fails before its report):
 * the switches, this host's bridge included, then send its traffic to
 * the target.  Announce it from here, on the default schedule.
 */
static void src_reannounce(struct nfwd_src *s)
{
    struct nfwd_mnl *nl = NULL;
    struct nfwd_sys sys;
    struct nfwd_sched sched;
    int rc;

    if (!s->n_vifs || nfwd_mnl_new(&nl))
        return;
    nfwd_mnl_sys(nl, &sys);
    nfwd_sched_default(&sched);
    rc = nfwd_announce(&sys, s->vifs, s->n_vifs, &sched, always_connected, NULL,
                       NULL);
    if (rc)
        LOGEV(WARN, -rc, "cannot announce the guest here after the back-out");
    else
        LOG(INFO, "announced %u vif%s here after the back-out", s->n_vifs,
            s->n_vifs == 1 ? "" : "s");
    nfwd_mnl_free(nl);
}

/* Back-out: the filters go before the guest runs here again. */
static int src_resume(void *be)
{
    struct nfwd_src *s = be;
    int rc;

    src_abort(s);
    rc = s->inner->resume(s->inner_be);
    if (!rc)
        src_reannounce(s);
    return rc;
}

static int src_rename(void *be, const char *from, const char *to)
{
    struct nfwd_src *s = be;

    return s->inner->rename(s->inner_be, from, to);
}

static int src_destroy(void *be)
{
    struct nfwd_src *s = be;

    s->succeeded = 1; /* the target reported a successful start */
    return s->inner->destroy(s->inner_be);
}

const struct mig_src_ops nfwd_src_ops = {
    .save = src_save,
    .resume = src_resume,
    .rename = src_rename,
    .destroy = src_destroy,
};

void nfwd_src_finish(struct nfwd_src *s, int mig_rc)
{
    enum nfwd_verdict vd = NFWD_DONE_QUIET;
    struct nfwd_stats *t = &s->mig.stats;

    if (!s->have_mig || s->mig.state == NFWD_DONE ||
        s->mig.state == NFWD_DISABLED)
        return;
    if (mig_rc || !s->succeeded || s->mig.state != NFWD_ARMED) {
        /* failed without a resume here (or never armed) */
        src_abort(s);
        return;
    }
    (void)nfwd_teardown(&s->mig, 1, 0, &vd);
    src_json(s,
             "\"stage\":\"torn_down\",\"reason\":\"%s\",\"packets\":%llu,"
             "\"bytes\":%llu,\"held_ms\":%llu,\"filters_removed\":%u,"
             "\"qdiscs_removed\":%u",
             verdict_name(vd), (unsigned long long)t->forwarded_packets,
             (unsigned long long)t->forwarded_bytes,
             (unsigned long long)t->held_ms, t->filters_removed,
             t->qdiscs_removed);
    fprintf(stderr,
            "forwarding summary: vni %u, %llu packets (%llu bytes) forwarded "
            "over %.2f s, torn down when %s, %u filters and %u qdiscs "
            "removed\n",
            s->mig.vni, (unsigned long long)t->forwarded_packets,
            (unsigned long long)t->forwarded_bytes, (double)t->held_ms / 1e3,
            vd == NFWD_DONE_CAP ? "the 30 s cap was reached" : "quiet",
            t->filters_removed, t->qdiscs_removed);
    rt_clear(s->mig.vni);
}

void nfwd_src_dispose(struct nfwd_src *s)
{
    nfwd_mnl_free(s->nl);
    s->nl = NULL;
}

/* ------------------------------------------------------------- target */

static int parse_ip(const char *s, struct in_addr *a)
{
    return s && inet_pton(AF_INET, s, a) == 1 && addr_ok(*a);
}

/* Our address and the sender's, from the connection. */
static int dst_addrs(int sock_fd, struct in_addr *local, struct in_addr *peer)
{
    struct sockaddr_in a, b;
    socklen_t al = sizeof(a), bl = sizeof(b);
    const char *e;
    char buf[256], *f[4], *save = NULL;
    int i;

    if (sock_fd >= 0 && !getsockname(sock_fd, (struct sockaddr *)&a, &al) &&
        !getpeername(sock_fd, (struct sockaddr *)&b, &bl) &&
        a.sin_family == AF_INET && b.sin_family == AF_INET) {
        *local = a.sin_addr;
        *peer = b.sin_addr;
        return addr_ok(*local) && addr_ok(*peer);
    }
    /* socat EXEC from a TCP listener */
    if (parse_ip(getenv("SOCAT_SOCKADDR"), local) &&
        parse_ip(getenv("SOCAT_PEERADDR"), peer))
        return 1;
    /* ssh: "client-ip client-port server-ip server-port" */
    e = getenv("SSH_CONNECTION");
    if (e) {
        snprintf(buf, sizeof(buf), "%s", e);
        for (i = 0; i < 4; i++)
            f[i] = strtok_r(i ? NULL : buf, " ", &save);
        if (f[3] && parse_ip(f[2], local) && parse_ip(f[0], peer))
            return 1;
    }
    return 0;
}

/* A VNI of no nfwd device on this host (random: unique per migration). */
static uint32_t dst_pick_vni(const struct nfwd_sys *sys)
{
    struct nfwd_link *l;
    size_t n = 0, i;
    uint32_t v = 0;
    int tries;

    l = calloc(NFWD_MAX_PORTS * 4, sizeof(*l));
    if (!l || sys->ops->links(sys->ctx, l, NFWD_MAX_PORTS * 4, &n))
        n = 0;
    for (tries = 0; tries < 16; tries++) {
        if (getrandom(&v, sizeof(v), 0) != sizeof(v))
            v = (uint32_t)getpid() * 2654435761u + (uint32_t)tries;
        v &= 0xffffffu;
        if (!nfwd_vni_ok(v))
            continue;
        for (i = 0; i < n && nfwd_dev_vni(l[i].name) != v; i++)
            ;
        if (i == n)
            break;
    }
    free(l);
    return nfwd_vni_ok(v) ? v : 0;
}

void nfwd_dst_init(struct nfwd_dst *d, int forward,
                   const struct nfwd_sched *sched, const struct xsh_xs_ops *xo,
                   void *xs, int sock_fd, const struct mig_dst_ops *inner,
                   void *inner_be)
{
    memset(d, 0, sizeof(*d));
    d->xo = xo;
    d->xs = xs;
    d->inner = inner;
    d->inner_be = inner_be;
    if (sched)
        d->sched = *sched;
    else
        nfwd_sched_default(&d->sched);
    if (!forward)
        return;
    if (!xo || !xs) {
        LOG(WARN, "no xenstore: no forwarding and no announce");
        return;
    }
    if (nfwd_mnl_new(&d->nl)) {
        LOG(WARN, "no rtnetlink: no forwarding and no announce");
        return;
    }
    nfwd_mnl_sys(d->nl, &d->sys);
    startup_sweep(&d->sys);
    d->have_addrs = dst_addrs(sock_fd, &d->ext.target, &d->ext.source);
    if (d->have_addrs)
        d->ext.vni = dst_pick_vni(&d->sys);
    if (!d->have_addrs || !d->ext.vni)
        LOG(INFO, "the migration's IPv4 address pair is unknown (no TCP "
                  "socket, socat or ssh environment): announce only");
    d->enabled = 1;
}

size_t nfwd_dst_caps_ext(void *opaque, uint32_t optional_flags, uint8_t *ext,
                         size_t cap)
{
    struct nfwd_dst *d = opaque;

    if (!d->enabled || !(optional_flags & XLPROTO_OPTFLAG_NFWD) ||
        !d->have_addrs || !d->ext.vni)
        return 0;
    d->requested = 1;
    /* the tunnel and its buffer now: the source arms at the suspend,
     * long before the restored domain has a vif */
    if (!d->have_mig &&
        !nfwd_mig_init(&d->mig, &d->sys, NFWD_TARGET, d->ext.vni, d->ext.target,
                       d->ext.source, NULL, 0)) {
        d->have_mig = 1;
        rt_mark(d->ext.vni, "target");
        (void)nfwd_target_prepare(&d->mig);
    }
    if (d->have_mig && d->mig.state == NFWD_BUFFERING)
        d->ext.flags |= NFWD_EXT_FLAG_BUFFER;
    return nfwd_ext_encode(ext, cap, &d->ext);
}

static int dst_holds_state(const struct nfwd_dst *d)
{
    return d->have_mig &&
           (d->mig.state == NFWD_ATTACHED || d->mig.state == NFWD_BUFFERING);
}

static int dst_restore(void *be, const char *config_json, int stream_fd,
                       int back_fd, uint32_t *domid_r, char **name_r)
{
    struct nfwd_dst *d = be;
    int rc;

    rc = d->inner->restore(d->inner_be, config_json, stream_fd, back_fd,
                           domid_r, name_r);
    if (rc || !d->enabled)
        return rc;
    d->domid = *domid_r;
    d->n_vifs = read_vifs(d->xo, d->xs, d->domid, d->vifs);
    if (!d->have_mig)
        return rc;
    if (nfwd_mig_set_vifs(&d->mig, d->vifs, d->n_vifs))
        d->mig.n_vifs = 0;
    (void)nfwd_target_attach(&d->mig);
    if (!dst_holds_state(d))
        rt_clear(d->ext.vni);
    return rc;
}

static int dst_rename(void *be, uint32_t domid, const char *from,
                      const char *to)
{
    struct nfwd_dst *d = be;

    return d->inner->rename(d->inner_be, domid, from, to);
}

/* Every vif's backend in XenbusStateConnected (4)? */
static int dst_connected(void *opaque)
{
    struct nfwd_dst *d = opaque;
    char val[16];
    unsigned dev, n = 0;

    for (dev = 0; dev < NFWD_MAX_VIFS && n < d->n_vifs; dev++) {
        if (xs_get(d->xo, d->xs, val, sizeof(val), d->domid, dev, "mac"))
            continue;
        n++;
        if (xs_get(d->xo, d->xs, val, sizeof(val), d->domid, dev, "state") ||
            strcmp(val, "4"))
            return 0;
    }
    return 1;
}

static void *dst_announce_main(void *arg)
{
    struct nfwd_dst *d = arg;
    struct nfwd_mnl *nl = NULL;
    struct nfwd_sys sys;

    /* a socket of its own: the main thread may talk to the kernel too */
    d->ann_rc = nfwd_mnl_new(&nl);
    if (d->ann_rc)
        return NULL;
    nfwd_mnl_sys(nl, &sys);
    /* what the source forwarded during the blackout, before the
     * announce moves the fabric here */
    if (d->have_mig)
        (void)nfwd_target_release(&d->mig, &sys, dst_connected, d,
                                  NFWD_RELEASE_WAIT_MS);
    d->ann_rc = nfwd_announce(&sys, d->vifs, d->n_vifs, &d->sched,
                              dst_connected, d, &d->ann_end_ms);
    nfwd_mnl_free(nl);
    return NULL;
}

static int dst_unpause(void *be, uint32_t domid)
{
    struct nfwd_dst *d = be;
    int rc;

    rc = d->inner->unpause(d->inner_be, domid);
    if (rc || !d->enabled || !d->n_vifs || d->ann_started)
        return rc;
    if (pthread_create(&d->ann, NULL, dst_announce_main, d) == 0)
        d->ann_started = 1;
    else
        LOG(WARN, "cannot start the announce thread");
    return rc;
}

static int dst_destroy(void *be, uint32_t domid)
{
    struct nfwd_dst *d = be;

    if (dst_holds_state(d)) {
        (void)nfwd_teardown(&d->mig, 0, 0, NULL);
        rt_clear(d->mig.vni);
    }
    return d->inner->destroy(d->inner_be, domid);
}

const struct mig_dst_ops nfwd_dst_ops = {
    .restore = dst_restore,
    .rename = dst_rename,
    .unpause = dst_unpause,
    .destroy = dst_destroy,
};

/* Tunnel rx packets of this migration's device, or -1 when it is gone. */
static int64_t dst_rx(struct nfwd_dst *d)
{
    char name[NFWD_IFNAMSIZ];
    struct nfwd_link *l;
    size_t n = 0, i;
    int64_t rx = -1;

    nfwd_dev_name(d->mig.vni, name);
    l = calloc(NFWD_MAX_PORTS * 4, sizeof(*l));
    if (l && !d->sys.ops->links(d->sys.ctx, l, NFWD_MAX_PORTS * 4, &n))
        for (i = 0; i < n; i++)
            if (!strcmp(l[i].name, name))
                rx = (int64_t)l[i].rx_packets;
    free(l);
    return rx;
}

void nfwd_dst_finish(struct nfwd_dst *d, int mig_rc)
{
    uint64_t t0, now, last_change, hold_until;
    int64_t rx, last = -1;

    if (d->ann_started) {
        pthread_join(d->ann, NULL);
        d->ann_started = 0;
        if (d->ann_rc)
            LOGEV(WARN, -d->ann_rc, "the announce failed");
        else
            LOG(INFO, "announced %u vif%s, %u rounds", d->n_vifs,
                d->n_vifs == 1 ? "" : "s", d->sched.rounds);
    }
    if (!dst_holds_state(d)) {
        if (d->have_mig)
            rt_clear(d->mig.vni);
        return;
    }
    if (!mig_rc && d->mig.state == NFWD_ATTACHED) {
        /* the source stops 2 s after the announce and 1 s without
         * traffic: wait a little longer than that, 40 s at most */
        t0 = now = d->sys.ops->now_ms(d->sys.ctx);
        hold_until = (d->ann_end_ms ? d->ann_end_ms : now) +
                     NFWD_HOLD_AFTER_ANNOUNCE_MS + 500;
        last_change = now;
        for (;;) {
            rx = dst_rx(d);
            now = d->sys.ops->now_ms(d->sys.ctx);
            if (rx < 0)
                break;
            if (rx != last) {
                last = rx;
                last_change = now;
            }
            if ((now >= hold_until &&
                 now - last_change >= NFWD_QUIET_MS + 500) ||
                now - t0 >= NFWD_TARGET_CAP_MS)
                break;
            d->sys.ops->sleep_ms(d->sys.ctx, NFWD_POLL_MS);
        }
    }
    (void)nfwd_teardown(&d->mig, 0, 0, NULL);
    LOG(INFO,
        "vni %u: target torn down, %llu packets came through the "
        "tunnel",
        d->mig.vni, (unsigned long long)d->mig.stats.received_packets);
    fprintf(stderr,
            "forwarding summary (target): vni %u, %llu packets received "
            "through the tunnel, %llu held during the blackout and "
            "delivered, %llu dropped, %llu not for the guest\n",
            d->mig.vni, (unsigned long long)d->mig.stats.received_packets,
            (unsigned long long)d->mig.stats.buffered_packets,
            (unsigned long long)d->mig.stats.buffer_dropped,
            (unsigned long long)d->mig.stats.buffer_foreign);
    rt_clear(d->mig.vni);
}

void nfwd_dst_dispose(struct nfwd_dst *d)
{
    if (d->ann_started) {
        pthread_join(d->ann, NULL);
        d->ann_started = 0;
    }
    nfwd_mnl_free(d->nl);
    d->nl = NULL;
}
