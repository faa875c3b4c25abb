/* SPDX-License-Identifier: MIT */
/*
 * net-forward wired into xlmig migrate / migrate-receive (issue 12,
 * docs/net-forward.md "In xlmig"): the stages of research §7.2 at the
 * session's own points, through wrappers around the session's backend
 * ops and an observer, so that cmd_migrate.c and cmd_receive.c only call
 * these functions.
 *
 *   source: vif facts from xenstore at start; the peer's capability
 *           extension (VNI, both migration addresses) -> prepare (tunnel,
 *           clsact) during precopy; arm at the final suspend; a resume
 *           after a failure removes the filters first; after success the
 *           teardown waits for quiescence (30 s cap).
 *   target: VNI and the address pair from the connection (socket, socat's
 *           or ssh's environment) -> capability extension when the sender
 *           asks (XLPROTO_OPTFLAG_NFWD); attach after the restore; the
 *           announce when the new vif's backend is Connected (1 s at the
 *           latest) after the unpause; teardown when the tunnel is quiet.
 *
 * Forwarding never fails a migration: anything missing is one log line.
 */
#ifndef XLMIG_CLI_NFWD_MIGRATE_H
#define XLMIG_CLI_NFWD_MIGRATE_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/session.h"
#include "nfwd.h"
#include "xsh.h"

#define NFWD_EXT_MAGIC       "NFW1"
#define NFWD_EXT_BYTES       20u /* magic, vni, target ip, source ip, flags */
/* flags: the target buffers the tunnel from now on (nfwd_target_prepare),
 * so the source may arm before the suspend instead of after it */
#define NFWD_EXT_FLAG_BUFFER 1u
#define NFWD_RUN_DIR         "/run/xlmig/nfwd"
#define NFWD_TARGET_CAP_MS   (NFWD_CAP_MS + 10000u)

struct nfwd_mnl;

/* The capability extension, parsed (peer input: checked by the parser). */
struct nfwd_ext {
    uint32_t vni;
    struct in_addr target, source;
    uint32_t flags; /* NFWD_EXT_FLAG_*; unknown bits are ignored */
};
size_t nfwd_ext_encode(uint8_t *out, size_t cap, const struct nfwd_ext *e);
int nfwd_ext_decode(const uint8_t *buf, size_t len, struct nfwd_ext *e);

/* ---- source */
struct nfwd_src {
    int enabled; /* --forward and something to forward */
    FILE *json;
    const struct xsh_xs_ops *xo;
    void *xs;
    uint32_t domid;
    struct nfwd_vif vifs[NFWD_MAX_VIFS];
    unsigned n_vifs;
    struct nfwd_mnl *nl;
    struct nfwd_sys sys;
    struct nfwd_mig mig;
    int have_mig, armed, succeeded, aborted;
    int peer_buffers; /* NFWD_EXT_FLAG_BUFFER: arm at the suspend request */
    uint64_t arm_ms;  /* time arm took */
    /* the wrapped backend */
    const struct mig_src_ops *inner;
    void *inner_be;
    const struct mig_observer *next;
};

/* forward: the option; 0 = off (nothing is touched). */
/* Remove the devices, filters and tables of migrations whose process is
 * gone (journal-sweep; each forwarding migration does it at its start).
 * Returns how many migrations' state went. */
unsigned nfwd_sweep_dead(void);

void nfwd_src_init(struct nfwd_src *s, int forward, uint32_t domid,
                   const struct xsh_xs_ops *xo, void *xs, FILE *json,
                   const struct mig_src_ops *inner, void *inner_be);
/* Header flags to ask the receiver for the extension. */
uint32_t nfwd_src_flags(const struct nfwd_src *s);
/* Backend ops with be = the struct nfwd_src. */
extern const struct mig_src_ops nfwd_src_ops;
/* Observer (opaque = the struct nfwd_src); passes events on to ->next. */
void nfwd_src_event(void *opaque, enum mig_event ev, const struct mig_stats *st,
                    const struct precopy_round *r, int status);
/* After mig_send: teardown (success) or abort; JSON event, summary line. */
void nfwd_src_finish(struct nfwd_src *s, int mig_rc);
void nfwd_src_dispose(struct nfwd_src *s);

/* ---- target */
struct nfwd_dst {
    int enabled;
    struct nfwd_sched sched;
    const struct xsh_xs_ops *xo;
    void *xs;
    int have_addrs;
    struct nfwd_ext ext; /* what we offer: vni, our address, the peer's */
    int requested;       /* the sender asked and got the extension */
    uint32_t domid;
    struct nfwd_vif vifs[NFWD_MAX_VIFS];
    unsigned n_vifs;
    struct nfwd_mnl *nl;
    struct nfwd_sys sys;
    struct nfwd_mig mig;
    int have_mig;
    /* the announce runs in its own thread from the unpause on */
    pthread_t ann;
    int ann_started, ann_rc;
    uint64_t ann_end_ms;
    const struct mig_dst_ops *inner;
    void *inner_be;
};

/* sock_fd: the migration connection's socket, or -1 (then socat's and
 * ssh's environment give the addresses). */
void nfwd_dst_init(struct nfwd_dst *d, int forward,
                   const struct nfwd_sched *sched, const struct xsh_xs_ops *xo,
                   void *xs, int sock_fd, const struct mig_dst_ops *inner,
                   void *inner_be);
size_t nfwd_dst_caps_ext(void *opaque, uint32_t optional_flags, uint8_t *ext,
                         size_t cap);
extern const struct mig_dst_ops nfwd_dst_ops;
/* After mig_receive: wait for the announce and the quiet tunnel, remove. */
void nfwd_dst_finish(struct nfwd_dst *d, int mig_rc);
void nfwd_dst_dispose(struct nfwd_dst *d);

#endif
