/* SPDX-License-Identifier: MIT */
/*
 * xlmig migrate-receive: xl's receiving end on stdin/stdout (as run by
 * ssh or socat), or one TCP connection with --listen.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "migrate-receive: "
#include "cli/cmds.h"
#include "cli/migrate_common.h"
#include "cli/once.h"
#include "common/log.h"
#include "engine/session.h"
#include "engine/session_codec.h"
#include "transport/channel.h"
#include "cli/nfwd_migrate.h"
#include "transport/xlproto.h"
#include "xen/xen.h"
#include "xsh.h"
#include "xsh_hooks.h"
#include "xsh_libxs.h"

#define RECEIVE_USAGE                                                          \
    "Usage: xlmig migrate-receive [options]\n"                                 \
    "\n"                                                                       \
    "Restore a domain from a saved state (used by migrate), reading the\n"     \
    "stream on stdin and answering on stdout, or on one TCP connection.\n"     \
    "\n"                                                                       \
    "Options:\n"                                                               \
    "-h                      Print this help.\n"                               \
    "-F                      Accepted for xl compatibility (no daemon).\n"     \
    "-e                      Accepted for xl compatibility (no monitor).\n"    \
    "-d                      Print debug information.\n"                       \
    "-p                      Do not unpause domain after migrating it.\n"      \
    "--listen [addr:]port    Accept one connection on a TCP port instead.\n"   \
    "--compress=auto|off     Offer decompression to an xlmig sender (auto).\n" \
    "--hooks-dir <dir>       Hook scripts (default /etc/xlmig/hooks.d).\n"     \
    "--hook-timeout <ms>     Time limit of each hook (default 30000).\n"       \
    "--forward|--no-forward  Accept the sender's forwarding and announce\n"    \
    "                        the guest's MACs (default: on).\n"                \
    "--announce <ms,...>     Announce rounds (default 0,50,200,450,800).\n"

static void print_port(unsigned port, void *opaque)
{
    fprintf(stderr, "migration target: listening on port %u\n", port);
}

int cmd_migrate_receive(int argc, char **argv)
{
    enum {
        OPT_LISTEN = 0x100,
        OPT_COMPRESS,
        OPT_COLO,
        OPT_COLO_SCRIPT,
        OPT_COLO_PROXY,
        OPT_HOOKS_DIR,
        OPT_HOOK_TIMEOUT,
        OPT_FORWARD,
        OPT_NO_FORWARD,
        OPT_ANNOUNCE
    };
    static const struct option lopts[] = {
        { "listen", 1, NULL, OPT_LISTEN },
        { "compress", 1, NULL, OPT_COMPRESS },
        { "colo", 0, NULL, OPT_COLO },
        { "coloft-script", 1, NULL, OPT_COLO_SCRIPT },
        { "userspace-colo-proxy", 0, NULL, OPT_COLO_PROXY },
        { "hooks-dir", 1, NULL, OPT_HOOKS_DIR },
        { "hook-timeout", 1, NULL, OPT_HOOK_TIMEOUT },
        { "forward", 0, NULL, OPT_FORWARD },
        { "no-forward", 0, NULL, OPT_NO_FORWARD },
        { "announce", 1, NULL, OPT_ANNOUNCE },
        { "help", 0, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct mig_recv_opts ro;
    struct xen_dst *dst = NULL;
    struct channel *ch = NULL;
    char *laddr = NULL, *lport = NULL;
    int opt, rc, compress = 1, pause_after = 0, debug = 0, have_dec = 0;
    struct session_codec_dec dec;
    /* xenstore hooks (xlmig-hooks(7)) */
    const char *hooks_dir = XSH_HOOKS_DIR_DEFAULT, *peer;
    unsigned hook_timeout_ms = XSH_HOOK_TIMEOUT_MS;
    struct xsh_libxs *xs = NULL;
    struct xsh_hooks hooks;
    struct xsh_hook_ops hook_ops;
    struct xsh_ctx xsh;
    struct xsh_dst_wrap wrap;
    char peer_buf[XSH_NAME_MAX];
    struct once_dst once; /* i10: exactly-once journal */
    /* net-forward (nfwd_migrate.h) */
    int forward = 1;
    struct nfwd_sched sched;
    struct nfwd_dst nf;

    memset(&nf, 0, sizeof(nf));
    nfwd_sched_default(&sched);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hFedrp", lopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(RECEIVE_USAGE, stdout);
            rc = 0;
            goto out;
        case 'F':
        case 'e':
            break;
        case 'd':
            debug = 1;
            break;
        case 'p':
            pause_after = 1;
            break;
        case 'r':
        case OPT_COLO:
        case OPT_COLO_SCRIPT:
        case OPT_COLO_PROXY:
            fprintf(stderr, "xlmig migrate-receive: Remus and COLO streams "
                            "are not supported; use xl\n");
            rc = 2;
            goto out;
        case OPT_LISTEN:
            free(laddr);
            free(lport);
            if (cli_split_hostport(optarg, &laddr, &lport, 0)) {
                fprintf(stderr,
                        "xlmig migrate-receive: invalid value '%s' for "
                        "--listen (expected [ADDR:]PORT)\n",
                        optarg);
                rc = 2;
                goto out;
            }
            break;
        case OPT_COMPRESS:
            compress = cli_parse_compress(optarg);
            if (compress < 0) {
                fprintf(stderr,
                        "xlmig migrate-receive: invalid value '%s' for "
                        "--compress (expected auto or off)\n",
                        optarg);
                rc = 2;
                goto out;
            }
            break;
        case OPT_HOOKS_DIR:
            hooks_dir = optarg;
            break;
        case OPT_FORWARD:
        case OPT_NO_FORWARD:
            forward = opt == OPT_FORWARD;
            break;
        case OPT_ANNOUNCE:
            if (nfwd_sched_parse(&sched, optarg)) {
                fprintf(stderr,
                        "xlmig migrate-receive: invalid value '%s' for "
                        "--announce (expected non-decreasing ms, e.g. "
                        "0,50,200)\n",
                        optarg);
                rc = 2;
                goto out;
            }
            break;
        case OPT_HOOK_TIMEOUT: {
            char *end;
            unsigned long v;

            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || !v ||
                v > 3600000ul) {
                fprintf(stderr,
                        "xlmig migrate-receive: invalid value '%s' for "
                        "--hook-timeout\n",
                        optarg);
                rc = 2;
                goto out;
            }
            hook_timeout_ms = (unsigned)v;
            break;
        }
        default:
            if (optopt >= OPT_LISTEN || optopt == 0)
                fprintf(stderr,
                        "xlmig migrate-receive: unrecognized option '%s'\n",
                        argv[optind - 1]);
            else
                fprintf(stderr,
                        "xlmig migrate-receive: invalid option -- '%c'\n",
                        optopt);
            fputs(RECEIVE_USAGE, stderr);
            rc = 2;
            goto out;
        }
    }
    if (argc - optind != 0) {
        fputs(RECEIVE_USAGE, stderr);
        rc = 2;
        goto out;
    }

    rc = xen_dst_open(
        debug ? 2
              : (log_threshold > LVL_WARN ? (int)log_threshold - LVL_WARN : 0),
        &dst);
    if (rc) {
        rc = 1;
        goto out;
    }
    if (lport)
        rc = channel_tcp_accept_new(laddr, lport, -1, print_port, NULL, &ch);
    else
        rc = channel_fd_new(STDIN_FILENO, STDOUT_FILENO, &ch);
    if (rc) {
        rc = 1;
        goto out;
    }
    memset(&ro, 0, sizeof(ro));
    ro.pause_after = pause_after;
    if (compress) {
        rc = session_codec_dec_init(&dec);
        if (rc) {
            fprintf(stderr, "xlmig: cannot set up the stream decoder\n");
            rc = 1;
            goto out;
        }
        have_dec = 1;
        ro.dec = &dec.ops;
    }
    ro.header_timeout_ms = 120000;
    ro.go_timeout_ms = 300000;
    once_dst_init(&once, &xen_dst_ops, dst);
    ro.once = &once.ops;
    /* the peer, for hooks and state: ssh's client address if any */
    peer = getenv("SSH_CLIENT");
    snprintf(peer_buf, sizeof(peer_buf), "%s", peer ? peer : "");
    peer_buf[strcspn(peer_buf, " ")] = '\0';
    if (xsh_libxs_new(&xs))
        LOG(WARN, "no xenstore: no state keys and no notice");
    xsh_hooks_init(&hooks, hooks_dir, hook_timeout_ms);
    hook_ops = xsh_hooks_ops(&hooks);
    xsh_init(&xsh, xs ? &xsh_libxs_ops : NULL, xs, &hook_ops, "target", NULL,
             peer_buf);
    xen_dst_catch_signals();
    wrap.inner = &xen_dst_ops;
    wrap.be = dst;
    wrap.c = &xsh;
    wrap.restored = 0;
    nfwd_dst_init(&nf, forward, &sched, xs ? &xsh_libxs_ops : NULL, xs,
                  ch->kind == CHANNEL_FD ? -1 : ch->stream_fd, &xsh_dst_ops,
                  &wrap);
    ro.caps_ext = nfwd_dst_caps_ext;
    ro.caps_ext_opaque = &nf;
    rc = mig_receive(&ro, &nfwd_dst_ops, &nf, ch);
    nfwd_dst_finish(&nf, rc);
    if (wrap.restored)
        xsh_target_done(&xsh, rc);
    rc = rc ? 1 : 0;

out:
    nfwd_dst_dispose(&nf);
    if (ch && ch->kind == CHANNEL_FD) {
        /* stdin/stdout belong to the process; do not close them twice */
        ch->stream_fd = ch->back_fd = -1;
    }
    channel_free(ch);
    if (have_dec)
        session_codec_dec_dispose(&dec);
    xsh_libxs_free(xs);
    xen_dst_free(dst);
    free(laddr);
    free(lport);
    return rc;
}
