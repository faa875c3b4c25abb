/* SPDX-License-Identifier: MIT */
/*
 * xlmig-netfwd: drive net-forward by hand, for administrators and tests
 * (xlmig-netfwd(8)).  One command per lifecycle stage; the state lives in
 * the kernel (device names, filter prio and cookie), so each stage can be
 * a separate process.  Exit status: 0 done (forwarding disabled is not a
 * failure), 1 failed, 2 bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "xlmig-netfwd: "
#include "common/log.h"
#include "nfwd.h"
#include "nfwd_mnl.h"

#define EXIT_USAGE 2

static int json; /* --json: results as one JSON object on stdout */

static const char usage_text[] =
    "Usage: xlmig-netfwd [-v] [-q] [--json] <command> [options]\n"
    "\n"
    "Commands:\n"
    "  probe                          check the kernel features\n"
    "  prepare  -N VNI -l IP -r IP -i VIF...   source: tunnel + clsact\n"
    "  arm      -N VNI -i VIF...               source: redirect filters\n"
    "  attach   -N VNI -l IP -r IP -i VIF...   target: tunnel, redirect, nft\n"
    "  announce -i VIF... [-s LIST | --rounds N --initial MS --max MS\n"
    "           --step MS] [--no-wait]         target: RARP (+ GARP)\n"
    "  teardown -N VNI [--quiesce [--announced] [--hold-ms MS]\n"
    "           [--quiet-ms MS] [--cap-ms MS]]\n"
    "  abort    -N VNI                         remove the filters first\n"
    "  sweep    [-N VNI]                       remove stale state\n"
    "\n"
    "VIF: mac=MAC,bridge=BR,vif=IFNAME[,mtu=N][,script=S][,vlan=V][,ip=A]\n";

static void usage(FILE *f)
{
    fputs(usage_text, f);
}

static int bad_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xlmig-netfwd: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see xlmig-netfwd --help)\n");
    return EXIT_USAGE;
}

struct args {
    uint32_t vni;
    int have_local, have_remote;
    struct in_addr local, remote;
    struct nfwd_vif vifs[NFWD_MAX_VIFS];
    unsigned n_vifs;
    struct nfwd_sched sched;
    int have_sched, qemu_sched;
    unsigned rounds, initial_ms, max_ms, step_ms;
    int quiesce, announced, no_wait;
    unsigned hold_ms, quiet_ms, cap_ms;
};

enum {
    OPT_ROUNDS = 256,
    OPT_INITIAL,
    OPT_MAX,
    OPT_STEP,
    OPT_QUIESCE,
    OPT_ANNOUNCED,
    OPT_NO_WAIT,
    OPT_HOLD,
    OPT_QUIET,
    OPT_CAP,
};

static const struct option long_opts[] = {
    { "vni", required_argument, NULL, 'N' },
    { "local", required_argument, NULL, 'l' },
    { "remote", required_argument, NULL, 'r' },
    { "vif", required_argument, NULL, 'i' },
    { "schedule", required_argument, NULL, 's' },
    { "rounds", required_argument, NULL, OPT_ROUNDS },
    { "initial", required_argument, NULL, OPT_INITIAL },
    { "max", required_argument, NULL, OPT_MAX },
    { "step", required_argument, NULL, OPT_STEP },
    { "quiesce", no_argument, NULL, OPT_QUIESCE },
    { "announced", no_argument, NULL, OPT_ANNOUNCED },
    { "no-wait", no_argument, NULL, OPT_NO_WAIT },
    { "hold-ms", required_argument, NULL, OPT_HOLD },
    { "quiet-ms", required_argument, NULL, OPT_QUIET },
    { "cap-ms", required_argument, NULL, OPT_CAP },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static int num(const char *s, unsigned long max, unsigned *out)
{
    char *end;
    unsigned long v;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    char err[160];
    unsigned v;
    int c;

    memset(a, 0, sizeof(*a));
    a->rounds = 5;
    a->initial_ms = 50;
    a->max_ms = 550;
    a->step_ms = 100;
    a->hold_ms = NFWD_HOLD_AFTER_ANNOUNCE_MS;
    a->quiet_ms = NFWD_QUIET_MS;
    a->cap_ms = NFWD_CAP_MS;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":N:l:r:i:s:h", long_opts, NULL)) !=
           -1) {
        switch (c) {
        case 'N':
            if (num(optarg, 0xffffff, &v) || !nfwd_vni_ok(v))
                return bad_usage("bad vni '%s' (1..16777215)", optarg);
            a->vni = v;
            break;
        case 'l':
        case 'r':
            if (inet_pton(AF_INET, optarg, c == 'l' ? &a->local : &a->remote) !=
                1)
                return bad_usage("bad ipv4 address '%s'", optarg);
            *(c == 'l' ? &a->have_local : &a->have_remote) = 1;
            break;
        case 'i':
            if (a->n_vifs == NFWD_MAX_VIFS)
                return bad_usage("too many vifs (at most %d)", NFWD_MAX_VIFS);
            if (nfwd_vif_parse(optarg, &a->vifs[a->n_vifs], err, sizeof(err)))
                return bad_usage("bad vif: %s", err);
            a->n_vifs++;
            break;
        case 's':
            if (nfwd_sched_parse(&a->sched, optarg))
                return bad_usage("bad schedule '%s' (e.g. 0,50,200,450,800)",
                                 optarg);
            a->have_sched = 1;
            break;
        case OPT_ROUNDS:
        case OPT_INITIAL:
        case OPT_MAX:
        case OPT_STEP:
            if (num(optarg, NFWD_ANNOUNCE_MAX_MS, &v))
                return bad_usage("bad number '%s'", optarg);
            *(c == OPT_ROUNDS    ? &a->rounds
              : c == OPT_INITIAL ? &a->initial_ms
              : c == OPT_MAX     ? &a->max_ms
                                 : &a->step_ms) = v;
            a->qemu_sched = 1;
            break;
        case OPT_HOLD:
        case OPT_QUIET:
        case OPT_CAP:
            if (num(optarg, 3600000, &v))
                return bad_usage("bad milliseconds '%s'", optarg);
            *(c == OPT_HOLD    ? &a->hold_ms
              : c == OPT_QUIET ? &a->quiet_ms
                               : &a->cap_ms) = v;
            break;
        case OPT_QUIESCE:
            a->quiesce = 1;
            break;
        case OPT_ANNOUNCED:
            a->announced = 1;
            break;
        case OPT_NO_WAIT:
            a->no_wait = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case ':':
            return bad_usage("option '%s' needs an argument", argv[optind - 1]);
        default:
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (a->have_sched && a->qemu_sched)
        return bad_usage("%s", "--schedule and --rounds/--initial/--max/"
                               "--step exclude each other");
    if (!a->have_sched) {
        if (nfwd_sched_qemu(&a->sched, a->rounds, a->initial_ms, a->max_ms,
                            a->step_ms))
            return bad_usage("%s", "bad announce schedule (rounds 1..16)");
    }
    return 0;
}

static int need(int have, const char *what)
{
    if (!have) {
        bad_usage("missing %s", what);
        return EXIT_USAGE;
    }
    return 0;
}

static int need_ifnames(const struct args *a)
{
    unsigned i;

    for (i = 0; i < a->n_vifs; i++)
        if (!a->vifs[i].ifname[0] || !a->vifs[i].bridge[0])
            return need(0, "bridge= or vif= in a vif spec");
    return need(a->n_vifs > 0, "--vif");
}

/* Announce starts when the new vif has carrier (netback: state 4). */
struct carrier_ctx {
    struct nfwd_sys *sys;
    const struct args *a;
};

static int vifs_connected(void *opaque)
{
    struct carrier_ctx *c = opaque;
    struct nfwd_link *l;
    size_t n = 0, i;
    unsigned v, up = 0, want = 0;

    l = calloc(4096, sizeof(*l));
    if (!l || c->sys->ops->links(c->sys->ctx, l, 4096, &n)) {
        free(l);
        return 0;
    }
    for (v = 0; v < c->a->n_vifs; v++) {
        if (!c->a->vifs[v].ifname[0])
            continue;
        want++;
        for (i = 0; i < n; i++)
            if (!strcmp(l[i].name, c->a->vifs[v].ifname) && l[i].carrier)
                up++;
    }
    free(l);
    return up == want;
}

static int cmd_probe(void)
{
    unsigned have = 0, bit;
    int rc;

    rc = nfwd_mnl_probe(&have);
    if (rc) {
        LOGEV(ERROR, -rc, "probe failed to run");
        return 1;
    }
    for (bit = 1; bit & NFWD_FEAT_ALL; bit <<= 1) {
        if (json)
            printf("%s\"%s\": %s", bit == 1 ? "{" : ", ", nfwd_feat_name(bit),
                   have & bit ? "true" : "false");
        else
            printf("%-11s %s\n", nfwd_feat_name(bit),
                   have & bit                 ? "yes"
                   : bit & NFWD_FEAT_REQUIRED ? "missing"
                                              : "missing (optional)");
    }
    if (json)
        printf("}\n");
    return (have & NFWD_FEAT_REQUIRED) == NFWD_FEAT_REQUIRED ? 0 : 1;
}

static int run(const char *cmd, struct args *a, struct nfwd_sys *sys)
{
    struct nfwd_mig m;
    struct carrier_ctx cc = { sys, a };
    enum nfwd_verdict vd = NFWD_DONE_QUIET;
    unsigned nf = 0, nl = 0, nt = 0;
    char dev[NFWD_IFNAMSIZ];
    int rc, is_source;

    is_source = !strcmp(cmd, "prepare") || !strcmp(cmd, "arm") ||
                (!strcmp(cmd, "teardown") && a->quiesce);
    if (!strcmp(cmd, "announce")) {
        rc = need(a->n_vifs > 0, "--vif");
        if (rc)
            return rc;
        rc = nfwd_announce(sys, a->vifs, a->n_vifs, &a->sched,
                           a->no_wait ? NULL : vifs_connected, &cc, NULL);
        if (rc) {
            LOGEV(ERROR, -rc, "announce failed");
            return 1;
        }
        printf("announced %u vif(s), %u rounds\n", a->n_vifs, a->sched.rounds);
        return 0;
    }
    if (!strcmp(cmd, "sweep")) {
        rc = nfwd_sweep(sys, a->vni, &nf, &nl, &nt);
        if (json)
            printf("{\"filters_removed\": %u, \"links_removed\": %u, "
                   "\"tables_removed\": %u}\n",
                   nf, nl, nt);
        else
            printf("swept %u filters, %u links, %u nft tables\n", nf, nl, nt);
        return rc ? 1 : 0;
    }
    rc = need(a->vni != 0, "--vni");
    if (rc)
        return rc;
    nfwd_dev_name(a->vni, dev);
    if (!strcmp(cmd, "prepare") || !strcmp(cmd, "attach")) {
        rc = need(a->have_local && a->have_remote, "--local or --remote");
        if (!rc)
            rc = need_ifnames(a);
        if (rc)
            return rc;
    } else if (!strcmp(cmd, "arm")) {
        rc = need_ifnames(a);
        if (rc)
            return rc;
    }
    rc = nfwd_mig_init(&m, sys, is_source ? NFWD_SOURCE : NFWD_TARGET, a->vni,
                       a->local, a->remote, a->vifs, a->n_vifs);
    if (rc) {
        LOGEV(ERROR, -rc, "bad migration description");
        return EXIT_USAGE;
    }
    m.hold_ms = a->hold_ms;
    m.quiet_ms = a->quiet_ms;
    m.cap_ms = a->cap_ms;
    if (!strcmp(cmd, "prepare")) {
        rc = nfwd_prepare(&m);
    } else if (!strcmp(cmd, "arm")) {
        /* a separate process: the prepared state is in the kernel */
        if (m.state == NFWD_IDLE)
            m.state = NFWD_PREPARED;
        rc = nfwd_arm(&m);
    } else if (!strcmp(cmd, "attach")) {
        rc = nfwd_target_attach(&m);
    } else if (!strcmp(cmd, "teardown")) {
        m.state = NFWD_ARMED;
        rc = nfwd_teardown(&m, a->quiesce,
                           a->announced ? sys->ops->now_ms(sys->ctx) : 0, &vd);
    } else if (!strcmp(cmd, "abort")) {
        m.state = NFWD_ARMED;
        rc = nfwd_abort(&m);
    } else {
        return bad_usage("unknown command '%s'", cmd);
    }
    if (rc) {
        LOGEV(ERROR, -rc, "%s failed for %s", cmd, dev);
        return 1;
    }
    if (json) {
        printf("{\"device\": \"%s\", \"state\": \"%s\"", dev,
               nfwd_state_name(m.state));
        if (m.state == NFWD_DONE)
            printf(", \"verdict\": \"%s\", \"forwarded_packets\": %llu, "
                   "\"held_ms\": %llu, \"filters_removed\": %u, "
                   "\"links_removed\": %u, \"tables_removed\": %u",
                   vd == NFWD_DONE_CAP ? "hard cap" : "quiescent",
                   (unsigned long long)m.stats.forwarded_packets,
                   (unsigned long long)m.stats.held_ms, m.stats.filters_removed,
                   m.stats.links_removed, m.stats.tables_removed);
        printf("}\n");
    } else if (!strcmp(cmd, "teardown") && a->quiesce) {
        printf("%s %s (%s)\n", dev, nfwd_state_name(m.state),
               vd == NFWD_DONE_CAP ? "hard cap" : "quiescent");
    } else {
        printf("%s %s\n", dev, nfwd_state_name(m.state));
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const cmds[] = { "probe",  "prepare",  "arm",
                                        "attach", "announce", "teardown",
                                        "abort",  "sweep",    NULL };
    struct nfwd_mnl *nl = NULL;
    struct nfwd_sys sys;
    struct args a;
    const char *cmd;
    int i, rc;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-v")) {
            if (log_threshold < LVL_DEBUG)
                log_threshold++;
        } else if (!strcmp(argv[i], "-q")) {
            log_threshold = LVL_ERROR;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            return bad_usage("unknown global option '%s'", argv[i]);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[i];
    for (rc = 0; cmds[rc]; rc++)
        if (!strcmp(cmds[rc], cmd))
            break;
    if (!cmds[rc])
        return bad_usage("unknown command '%s'", cmd);
    rc = parse_args(argc - i, argv + i, &a);
    if (rc)
        return rc;
    if (!strcmp(cmd, "probe"))
        return cmd_probe();
    rc = nfwd_mnl_new(&nl);
    if (rc) {
        LOGEV(ERROR, -rc, "cannot open a netlink socket");
        return 1;
    }
    nfwd_mnl_sys(nl, &sys);
    rc = run(cmd, &a, &sys);
    nfwd_mnl_free(nl);
    return rc;
}
