/* SPDX-License-Identifier: MIT */
/*
 * net-forward: keep a migrated guest reachable during the post-migration
 * brownout (docs/net-forward.md).
 *
 *   source: a per-migration unicast VXLAN device nfwd<6 hex of VNI> and, on
 *           the clsact ingress of every port of the guest's bridge except
 *           the migrating vif, a u32 dst-MAC match + mirred redirect into
 *           it, tagged with NFWD_TC_PRIO and a cookie naming the migration;
 *   target: the same device, a redirect from its ingress straight to the
 *           new vif (never into the bridge), an nftables table that drops
 *           the tunnel's UDP from anyone but the source, and the announce
 *           (QEMU-format RARP, optional GARP) on the vif's bridge.
 *
 * This header and nfwd_core.c are pure: no netlink header.  The kernel is
 * reached through struct nfwd_sys_ops; nfwd_mnl.c is the libmnl adapter,
 * tests supply a fake one with an injected clock.
 *
 * Forwarding is an optimisation: every lifecycle call returns 0 when
 * forwarding cannot be done (missing kernel feature, non-bridge script,
 * VLAN, IPv6) after one log line, and the migration goes on.  Only bad
 * arguments (-EINVAL) are reported to the caller.
 */
#ifndef XLMIG_NFWD_H
#define XLMIG_NFWD_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define NFWD_IFNAMSIZ            16 /* IFNAMSIZ, with the NUL */
#define NFWD_MAX_VIFS            16 /* vifs of one domain handled per migration */
#define NFWD_MAX_PORTS           256 /* ports of one bridge considered */
#define NFWD_VXLAN_PORT          4789
#define NFWD_TC_PRIO             0x6e66 /* reserved tc filter priority ("nf") */
#define NFWD_TC_PRIO_BUFFER      0x6e67 /* the target's catch-all into its buffer */
#define NFWD_COOKIE_LEN          8      /* "nfwd" + big-endian VNI */
#define NFWD_NAME_PREFIX         "nfwd"
#define NFWD_BUF_PREFIX          "nfwb" /* the target's buffer device */
#define NFWD_MTU_DEFAULT         1500
#define NFWD_ANNOUNCE_MAX_ROUNDS 16
#define NFWD_ANNOUNCE_MAX_MS     60000u
#define NFWD_FRAME_MAX_BYTES     64

/* Timers of docs/net-forward.md (milliseconds). */
#define NFWD_HOLD_AFTER_ANNOUNCE_MS 2000u
#define NFWD_QUIET_MS               1000u
#define NFWD_CAP_MS                 30000u
#define NFWD_POLL_MS                250u
#define NFWD_DRAIN_MS               100u
#define NFWD_CONNECT_WAIT_MS        1000u
/* target: how long the buffer waits for the new vif's backend to connect */
#define NFWD_RELEASE_WAIT_MS        15000u
#define NFWD_RELEASE_SETTLE_MS      20u /* frames in flight when the redirect came */
/* target buffer bounds (frame bytes, frames); past them frames are dropped */
#define NFWD_BUFFER_MAX_BYTES       (16u << 20)
#define NFWD_BUFFER_MAX_FRAMES      65536u
#define NFWD_BUFFER_FRAME_MAX       65536u

/* One vif of the migrating domain, as read from xenstore. */
struct nfwd_vif {
    uint8_t mac[6];
    char bridge[NFWD_IFNAMSIZ];
    char ifname[NFWD_IFNAMSIZ]; /* vifD.N (or vifname) on this host */
    char script[64];            /* basename is enough; "" = vif-bridge */
    unsigned mtu;               /* 0 = NFWD_MTU_DEFAULT */
    unsigned vlan;              /* 0 = none */
    int has_ip;
    struct in_addr ip; /* for the optional GARP */
};

/* Announce schedule: send round k at offsets_ms[k] from the start. */
struct nfwd_sched {
    unsigned rounds;
    unsigned offsets_ms[NFWD_ANNOUNCE_MAX_ROUNDS];
};

/* One row of a link listing (nfwd_sys_ops.links). */
struct nfwd_link {
    int ifindex;
    int master; /* 0 = none */
    char name[NFWD_IFNAMSIZ];
    char kind[16]; /* IFLA_INFO_KIND, "" if none */
    int carrier;   /* up, with carrier: frames sent to it go somewhere */
    uint64_t tx_packets;
    uint64_t tx_bytes;
    uint64_t rx_packets;
};

struct nfwd_vxlan_spec {
    char name[NFWD_IFNAMSIZ];
    uint32_t vni;
    struct in_addr local, remote;
    unsigned mtu;
};

/*
 * The world as net-forward sees it.  Every call returns 0 or -errno; the
 * adapter logs kernel detail (extack) at debug level, the core logs the
 * one line that matters.
 */
struct nfwd_sys_ops {
    uint64_t (*now_ms)(void *ctx); /* monotonic */
    void (*sleep_ms)(void *ctx, unsigned ms);
    /* All links, up to max; *n_r set to the number written. */
    int (*links)(void *ctx, struct nfwd_link *out, size_t max, size_t *n_r);
    int (*vxlan_add)(void *ctx, const struct nfwd_vxlan_spec *spec);
    int (*link_del)(void *ctx, const char *name); /* -ENODEV if gone */
    int (*clsact_add)(void *ctx, int ifindex);    /* 0 if present */
    /*
     * Optional pair (may be NULL): create clsact, -EEXIST if present; and
     * delete it again unless a filter is attached to it (then 0, kept).
     * With both, a migration removes the qdiscs it added at teardown.
     */
    int (*clsact_new)(void *ctx, int ifindex);
    int (*clsact_del_empty)(void *ctx, int ifindex, int *deleted_r);
    /* mac NULL: every frame, at NFWD_TC_PRIO_BUFFER (after the MAC ones) */
    int (*redirect_add)(void *ctx, int ifindex, const uint8_t mac[6],
                        int to_ifindex, const uint8_t cookie[8]);
    /*
     * Delete the NFWD_TC_PRIO filters of one link whose cookie is ours
     * and, when vni != 0, names that VNI.  *n_r: number deleted.
     */
    int (*redirect_del)(void *ctx, int ifindex, uint32_t vni, unsigned *n_r);
    /* nftables: drop the tunnel's UDP to VNI unless it comes from src. */
    int (*accept_add)(void *ctx, uint32_t vni, struct in_addr src);
    int (*accept_del)(void *ctx, uint32_t vni);    /* -ENOENT if none */
    int (*accept_sweep)(void *ctx, unsigned *n_r); /* every nfwd table */
    int (*send_frame)(void *ctx, int ifindex, const uint8_t *frame,
                      size_t len_bytes);
    /*
     * Point the bridge's FDB entry for mac at port (a dynamic entry, as
     * if learned there): the bridge does not learn from the frames it
     * sends itself, so the announce alone cannot fix its own table.
     */
    int (*fdb_point)(void *ctx, int port_ifindex, const uint8_t mac[6]);
    /*
     * The target's buffer (optional: all five or none; without them the
     * target attaches after the restore and frames of the blackout are
     * lost).  buffer_dev_add: a link that swallows what it is given
     * (dummy), up.  capture_open: keep every frame sent out of ifindex,
     * in order, up to the NFWD_BUFFER_* bounds, with what the kernel knew
     * of it (a checksum left to the hardware, segmentation): the capture
     * may be read through another ctx of the same adapter.  capture_read:
     * the oldest frame, -EAGAIN when none is left.  capture_send: the
     * frame capture_read gave last, out of ifindex as it came in.
     * capture_close: *drops_r = frames lost to the bounds or the kernel.
     */
    int (*buffer_dev_add)(void *ctx, const char *name, unsigned mtu);
    int (*capture_open)(void *ctx, int ifindex, void **cap_r);
    int (*capture_read)(void *ctx, void *cap, uint8_t *buf, size_t cap_bytes,
                        size_t *len_r);
    int (*capture_send)(void *ctx, void *cap, int ifindex, const uint8_t *frame,
                        size_t len_bytes);
    void (*capture_close)(void *ctx, void *cap, uint64_t *drops_r);
};

struct nfwd_sys {
    const struct nfwd_sys_ops *ops;
    void *ctx;
};

/* ---- pure helpers (nfwd_core.c) ---- */

int nfwd_mac_parse(const char *s, uint8_t mac[6]); /* unicast only */
void nfwd_mac_format(const uint8_t mac[6], char out[18]);
int nfwd_ifname_ok(const char *s);
int nfwd_vni_ok(uint32_t vni);
void nfwd_dev_name(uint32_t vni, char out[NFWD_IFNAMSIZ]);
void nfwd_buf_name(uint32_t vni, char out[NFWD_IFNAMSIZ]);
void nfwd_cookie(uint32_t vni, uint8_t out[NFWD_COOKIE_LEN]);
/* Returns the VNI named by an nfwd cookie, 0 if it is not one of ours. */
uint32_t nfwd_cookie_vni(const uint8_t *cookie, size_t len_bytes);
/* Returns the VNI of an nfwd device name, 0 if it is not one. */
uint32_t nfwd_dev_vni(const char *name);
/* The same for a buffer device name (NFWD_BUF_PREFIX). */
uint32_t nfwd_buf_vni(const char *name);

/*
 * u32 keys matching "destination MAC == mac" relative to the network
 * header: values and masks in network byte order, as struct tc_u32_key.
 */
struct nfwd_u32_key {
    uint32_t val_be, mask_be;
    int32_t off;
};
void nfwd_u32_dstmac_keys(const uint8_t mac[6], struct nfwd_u32_key k[2]);

/*
 * Set one vif fact from its xenstore backend key (mac, bridge, script,
 * mtu, vlan, ip; vif or vifname: the interface on this host).  Values are
 * checked, never trusted: 0 or -EINVAL with a message in err.
 */
int nfwd_vif_set(struct nfwd_vif *vif, const char *key, const char *value,
                 char *err, size_t err_len);
/*
 * Parse one vif in xl's vif-spec style:
 * "mac=00:16:3e:..,bridge=xenbr0,vif=vif5.0[,mtu=N][,script=S][,vlan=V]
 *  [,ip=A.B.C.D]".  Returns 0 or -EINVAL with a message in err.
 */
int nfwd_vif_parse(const char *spec, struct nfwd_vif *vif, char *err,
                   size_t err_len);
/* Is this vif handled (bridge script, no VLAN)?  why gets the reason. */
int nfwd_vif_supported(const struct nfwd_vif *vif, const char **why);

/* QEMU's default: rounds 5, initial 50, max 550, step 100 -> 0/50/200/... */
void nfwd_sched_default(struct nfwd_sched *s);
int nfwd_sched_qemu(struct nfwd_sched *s, unsigned rounds, unsigned initial_ms,
                    unsigned max_ms, unsigned step_ms);
/* "0,50,200,450,800": non-decreasing, at most 16, each <= 60000. */
int nfwd_sched_parse(struct nfwd_sched *s, const char *list);

/* Frames of NFWD_FRAME_MAX_BYTES at most; return the length. */
size_t nfwd_rarp_build(uint8_t *buf, const uint8_t mac[6], unsigned vlan);
size_t nfwd_garp_build(uint8_t *buf, const uint8_t mac[6], struct in_addr ip,
                       unsigned vlan);

/*
 * Source teardown decision (pure; time from the injected clock).
 * Forwarding stops when both now >= announce_end_ms + hold and the
 * tunnel's tx counter has not moved for quiet_ms, or at armed_ms + cap.
 */
struct nfwd_quiesce {
    uint64_t armed_ms, announce_end_ms;
    uint64_t last_tx, last_change_ms;
    unsigned hold_ms, quiet_ms, cap_ms;
    int seen;
};
enum nfwd_verdict {
    NFWD_WAIT = 0,
    NFWD_DONE_QUIET = 1,
    NFWD_DONE_CAP = 2,
};
void nfwd_quiesce_init(struct nfwd_quiesce *q, uint64_t armed_ms,
                       uint64_t announce_end_ms);
enum nfwd_verdict nfwd_quiesce_step(struct nfwd_quiesce *q, uint64_t now_ms,
                                    uint64_t tx_packets);

/* When the announce starts: connected, or attach + wait at the latest. */
int nfwd_announce_due(uint64_t attach_ms, uint64_t now_ms, int connected,
                      unsigned wait_ms);

/* ---- lifecycle (ops-style API the migration engine calls) ---- */

enum nfwd_role {
    NFWD_SOURCE = 1,
    NFWD_TARGET = 2,
};

enum nfwd_state {
    NFWD_IDLE = 0,
    NFWD_DISABLED,  /* nothing to do or cannot: announce still runs */
    NFWD_PREPARED,  /* source: device + clsact, nothing armed */
    NFWD_ARMED,     /* source: filters redirect the guest's MACs */
    NFWD_ATTACHED,  /* target: device, redirect to the vif, nft */
    NFWD_BUFFERING, /* target: device, nft, every frame into the buffer */
    NFWD_DONE,      /* torn down or aborted */
};

/* What one migration's forwarding did; filled by teardown and abort. */
struct nfwd_stats {
    uint64_t forwarded_packets; /* tunnel tx packets when torn down */
    uint64_t forwarded_bytes;   /* tunnel tx bytes (source) */
    uint64_t received_packets;  /* tunnel rx packets (target) */
    uint64_t buffered_packets;  /* target: held, then delivered to the vif */
    uint64_t buffer_dropped;    /* target: lost to the bounds or not sendable */
    uint64_t buffer_foreign;    /* target: buffered, not for a vif (ignored) */
    uint64_t buffer_wait_ms; /* target: release waited for the vif this long */
    unsigned qdiscs_removed; /* clsact qdiscs this migration added */
    uint64_t held_ms;        /* from arming (or the call) to teardown */
    unsigned filters_removed, links_removed, tables_removed;
    enum nfwd_verdict verdict; /* why the source's teardown came */
};

struct nfwd_mig {
    struct nfwd_sys sys;
    enum nfwd_role role;
    enum nfwd_state state;
    uint32_t vni;
    struct in_addr local, remote; /* migration addresses of this host, peer */
    struct nfwd_vif vifs[NFWD_MAX_VIFS];
    unsigned n_vifs;
    unsigned hold_ms, quiet_ms, cap_ms; /* quiescence, from NFWD_* */
    uint64_t armed_ms;
    unsigned filters; /* filters installed by this process */
    void *capture;    /* target buffer (NFWD_BUFFERING) */
    struct nfwd_stats stats;
    /* clsact qdiscs this process added (removed at teardown if empty) */
    int own_qdisc[NFWD_MAX_PORTS];
    unsigned n_own_qdisc;
};

/*
 * vifs are copied.  Unsupported vifs are dropped with a log line; with
 * none left the migration is NFWD_DISABLED.  -EINVAL on a bad VNI,
 * role or count.
 */
int nfwd_mig_init(struct nfwd_mig *m, const struct nfwd_sys *sys,
                  enum nfwd_role role, uint32_t vni, struct in_addr local,
                  struct in_addr remote, const struct nfwd_vif *vifs,
                  unsigned n_vifs);

/* Source, live phase: create the tunnel and the clsact qdiscs. */
int nfwd_prepare(struct nfwd_mig *m);
/* Source, final suspend: install the redirect filters. */
int nfwd_arm(struct nfwd_mig *m);
/*
 * The target's vifs, known after the restore (a target may be initialised
 * without them); unsupported ones are dropped as by nfwd_mig_init.
 */
int nfwd_mig_set_vifs(struct nfwd_mig *m, const struct nfwd_vif *vifs,
                      unsigned n_vifs);
/*
 * Target, before the stream (no vif yet): nft filter, tunnel, buffer
 * device, catch-all redirect tunnel -> buffer device, capture: frames the
 * source forwards during the blackout are kept (NFWD_BUFFERING).  Without
 * the adapter's buffer ops it does nothing (attach does it all later).
 */
int nfwd_target_prepare(struct nfwd_mig *m);
/*
 * Target, after hotplug: tunnel, redirect to the new vif, nft filter.  A
 * buffering target only checks that the vifs exist: the redirect to them
 * comes with the release.
 */
int nfwd_target_attach(struct nfwd_mig *m);
/*
 * Target, after the unpause (through sys: the caller's own socket): wait
 * until connected() (may be NULL) and every vif has carrier (netback's
 * "Guest Rx ready"; the backend's xenstore state says Connected earlier,
 * measured), or wait_ms, deliver the buffered frames
 * to the vif of their destination MAC in order, install the redirects to
 * the vifs ahead of the catch-all, deliver what came in meanwhile, close
 * the buffer (NFWD_ATTACHED).  No-op unless NFWD_BUFFERING.
 */
int nfwd_target_release(struct nfwd_mig *m, const struct nfwd_sys *sys,
                        int (*connected)(void *opaque), void *opaque,
                        unsigned wait_ms);
/*
 * Target: announce every vif MAC on its bridge, after pointing the
 * bridge's own FDB entry for it at the vif (when ifname is set).  connected() (may be
 * NULL) reports the new vif's backend in state 4; the announce starts
 * then or NFWD_CONNECT_WAIT_MS after the call.  Blocks for the schedule.
 * *end_ms_r (may be NULL): clock value of the last round.
 */
int nfwd_announce(const struct nfwd_sys *sys, const struct nfwd_vif *vifs,
                  unsigned n_vifs, const struct nfwd_sched *sched,
                  int (*connected)(void *opaque), void *opaque,
                  uint64_t *end_ms_r);
/*
 * Source: wait for quiescence (announce_end_ms: clock value of the last
 * announce, 0 = estimate from now), then tear down.  Target: immediate.
 * *verdict_r (may be NULL) says why it ended.
 */
int nfwd_teardown(struct nfwd_mig *m, int quiesce, uint64_t announce_end_ms,
                  enum nfwd_verdict *verdict_r);
/* Remove the filters first, then the rest; call before the guest resumes. */
int nfwd_abort(struct nfwd_mig *m);
/*
 * Remove every filter, device and nft table of net-forward (vni 0) or of
 * one migration.  Counts go to the optional out-parameters.
 */
int nfwd_sweep(const struct nfwd_sys *sys, uint32_t vni, unsigned *filters_r,
               unsigned *links_r, unsigned *tables_r);

const char *nfwd_state_name(enum nfwd_state s);

/*
 * The stages as one table: the migration engine calls net-forward through
 * it (nfwd_stages), its tests through a fake one.
 */
struct nfwd_stage_ops {
    int (*prepare)(struct nfwd_mig *m);
    int (*arm)(struct nfwd_mig *m);
    int (*target_attach)(struct nfwd_mig *m);
    int (*announce)(const struct nfwd_sys *sys, const struct nfwd_vif *vifs,
                    unsigned n_vifs, const struct nfwd_sched *sched,
                    int (*connected)(void *opaque), void *opaque,
                    uint64_t *end_ms_r);
    int (*teardown)(struct nfwd_mig *m, int quiesce, uint64_t announce_end_ms,
                    enum nfwd_verdict *verdict_r);
    int (*abort)(struct nfwd_mig *m);
    int (*sweep)(const struct nfwd_sys *sys, uint32_t vni, unsigned *filters_r,
                 unsigned *links_r, unsigned *tables_r);
};
extern const struct nfwd_stage_ops nfwd_stages;

#endif
