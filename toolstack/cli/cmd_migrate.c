/* SPDX-License-Identifier: MIT */
/*
 * xlmig migrate: xl's 'migrate' verb (options, messages, exit codes,
 * wire protocol) with our own precopy policy, progress, statistics and
 * --json events; see docs/design.md and docs/json-events.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "migrate: "
#include "cli/cmds.h"
#include "cli/cost_migrate.h"
#include "cli/migrate_common.h"
#include "cli/once.h"
#include "cli/nfwd_migrate.h"
#include "common/log.h"
#include "engine/fault.h"
#include "engine/precopy.h"
#include "engine/session.h"
#include "engine/session_codec.h"
#include "transport/channel.h"
#include "transport/tls.h"
#include "xen/xen.h"
#include "xsh.h"
#include "xsh_hooks.h"
#include "xsh_libxs.h"

#define MIGRATE_USAGE                                                                    \
    "Usage: xlmig migrate [options] <Domain> <host>\n"                                   \
    "       xlmig migrate [options] --tcp <host>:<port> <Domain>\n"                      \
    "       xlmig migrate [options] --tls <host>[:<port>] <Domain>\n"                    \
    "\n"                                                                                 \
    "Migrate a domain to another host.\n"                                                \
    "\n"                                                                                 \
    "Options:\n"                                                                         \
    "-h                       Print this help.\n"                                        \
    "-C <config>              Send <config> instead of config file from creation.\n"     \
    "-s <sshcommand>          Use <sshcommand> instead of ssh.  String will be passed\n" \
    "                         to sh. If empty, run <host> instead of ssh <host> xl\n"    \
    "                         migrate-receive [-d -e]\n"                                 \
    "-e                       Do not wait in the background (on <host>) for the death\n" \
    "                         of the domain.\n"                                          \
    "-p                       Do not unpause domain after migrating it.\n"               \
    "-D                       Preserve the domain id\n"                                  \
    "--debug                  Verify the pages sent (a second full copy).\n"             \
    "--tcp <host>:<port>      Connect to 'xlmig migrate-receive --listen <port>'.\n"     \
    "--tls <host>[:<port>]    Connect to xlmigd over TLS (xlmig.conf(5)).\n"             \
    "--insecure               With --tls: plain TCP, no authentication.\n"               \
    "--remote-cmd <cmd>       Receiver program run by the ssh rune (default xlmig).\n"   \
    "--compress=auto|off      Negotiate compression with an xlmig receiver (auto),\n"    \
    "                         or send exactly what stock xl sends (off).\n"              \
    "--max-bandwidth <rate>   Limit the stream to <rate> bytes/s (K, M, G suffixes).\n"  \
    "--json <file>|<fd>       Write JSON events (docs/json-events.md) there.\n"          \
    "--max-downtime <ms>      Blackout to aim at (default 300).\n"                       \
    "--max-time <s>           Bound the live copy to <s> seconds.\n"                     \
    "--throttle|--no-throttle Slow a guest that dirties faster than the\n"               \
    "                         link by its scheduler cap (default: on).\n"                \
    "--abort-if-busy          Back out if the blackout cannot be met.\n"                 \
    "--progress|--no-progress Show or hide the progress line (default: shown).\n"        \
    "--notice <seconds>       Tell the guest through xenstore and wait up to\n"          \
    "                         <seconds> for its ack if it listens (default 60,\n"        \
    "                         0: no wait); see xlmig-hooks(7).\n"                        \
    "--hooks-dir <dir>        Hook scripts (default /etc/xlmig/hooks.d).\n"              \
    "--hook-timeout <ms>      Time limit of each hook (default 30000).\n"                \
    "--forward|--no-forward   Forward the guest's traffic from here to the\n"            \
    "                         target until the network has learnt its new\n"             \
    "                         place (default: on with an xlmig receiver).\n"

struct reporter {
    FILE *json;
    int progress;
    int tty;
    uint64_t last_line_ns;
    uint64_t last_round_ns;
    uint64_t last_round_dirty;
    double dirty_rate_pps;
    const char *domain;
    /* xenstore hooks (xlmig-hooks(7)): called after every event */
    const struct mig_observer *next;
};

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double ratio(const struct mig_stats *s)
{
    return s->wire_bytes ? (double)s->raw_bytes / (double)s->wire_bytes : 0;
}

static uint64_t blackout_ns(const struct mig_stats *s)
{
    uint64_t end = s->report_ns ? s->report_ns : s->end_ns;

    return s->suspend_ns && end > s->suspend_ns ? end - s->suspend_ns : 0;
}

static void progress_line(struct reporter *r, const struct mig_stats *s,
                          int final)
{
    uint64_t now = mig_now_ns(), el = now - s->start_ns;
    double mbps = el ? (double)s->wire_bytes / 1e6 / ((double)el / 1e9) : 0;

    if (!r->progress)
        return;
    if (!final &&
        now - r->last_line_ns < (r->tty ? 250000000ull : 5000000000ull))
        return;
    r->last_line_ns = now;
    fprintf(stderr,
            "%sround %u: %.1f MB sent, %.1f MB/s on the wire, ratio %.2f, "
            "%.0f dirty pages/s%s",
            r->tty ? "\r" : "migrate: progress: ", s->rounds,
            (double)s->wire_bytes / 1e6, mbps, ratio(s), r->dirty_rate_pps,
            r->tty && !final ? "   " : "\n");
}

static const char *decision_name(int d)
{
    return d == PRECOPY_STOP    ? "stop"
           : d == PRECOPY_ABORT ? "abort"
                                : "continue";
}

static void on_event(void *opaque, enum mig_event ev, const struct mig_stats *s,
                     const struct precopy_round *rd, int status)
{
    struct reporter *r = opaque;
    uint64_t now = mig_now_ns();

    switch (ev) {
    case MIG_EV_START:
        r->last_round_ns = now;
        if (r->json)
            fprintf(r->json, "{\"event\":\"start\",\"domain\":\"%s\"}\n",
                    r->domain ? r->domain : "");
        break;
    case MIG_EV_NEGOTIATED:
        if (r->json)
            fprintf(r->json,
                    "{\"event\":\"negotiated\",\"peer\":\"xlmig\","
                    "\"caps\":%u,\"compressed\":%s}\n",
                    s->peer_caps, s->compressed ? "true" : "false");
        break;
    case MIG_EV_ROUND:
        if (rd->iteration > 0 && now > r->last_round_ns)
            r->dirty_rate_pps = (double)rd->dirty_pages /
                                ((double)(now - r->last_round_ns) / 1e9);
        r->last_round_ns = now;
        if (r->json)
            fprintf(r->json,
                    "{\"event\":\"round\",\"iteration\":%u,"
                    "\"dirty_pages\":%lld,\"total_written_pages\":%llu,"
                    "\"raw_bytes\":%llu,\"wire_bytes\":%llu,"
                    "\"elapsed_ms\":%.1f,\"dirty_rate_pps\":%.0f,"
                    "\"decision\":\"%s\"}\n",
                    rd->iteration, (long long)rd->dirty_pages,
                    (unsigned long long)rd->total_written_pages,
                    (unsigned long long)rd->raw_bytes,
                    (unsigned long long)rd->wire_bytes, ms(rd->elapsed_ns),
                    r->dirty_rate_pps, decision_name(status));
        progress_line(r, s, 0);
        break;
    case MIG_EV_PROGRESS:
        progress_line(r, s, 0);
        break;
    case MIG_EV_SUSPENDING:
        break;
    case MIG_EV_SUSPENDED:
        if (r->json)
            fprintf(r->json, "{\"event\":\"suspended\",\"elapsed_ms\":%.1f}\n",
                    ms(s->suspend_ns - s->start_ns));
        break;
    case MIG_EV_STREAM_DONE:
        if (r->progress && r->tty)
            progress_line(r, s, 1);
        if (r->json)
            fprintf(r->json,
                    "{\"event\":\"stream_done\",\"raw_bytes\":%llu,"
                    "\"wire_bytes\":%llu,\"elapsed_ms\":%.1f}\n",
                    (unsigned long long)s->raw_bytes,
                    (unsigned long long)s->wire_bytes,
                    ms(s->stream_end_ns - s->start_ns));
        break;
    case MIG_EV_DONE:
        if (s->raw_bytes)
            fprintf(stderr,
                    "migration summary: %s, total %.2f s, blackout %.2f s, "
                    "%u rounds, %llu bytes raw, %llu bytes on the wire "
                    "(ratio %.2f), peer %s%s\n",
                    status ? "failed" : "ok", ms(s->end_ns - s->start_ns) / 1e3,
                    ms(blackout_ns(s)) / 1e3, s->rounds,
                    (unsigned long long)s->raw_bytes,
                    (unsigned long long)s->wire_bytes, ratio(s),
                    s->peer_is_xlmig ? "xlmig" : "stock xl",
                    s->compressed ? ", compressed" : "");
        if (r->json)
            fprintf(r->json,
                    "{\"event\":\"done\",\"status\":\"%s\",\"rc\":%d,"
                    "\"total_ms\":%.1f,\"blackout_ms\":%.1f,\"rounds\":%u,"
                    "\"raw_bytes\":%llu,\"wire_bytes\":%llu,\"ratio\":%.4f,"
                    "\"peer\":\"%s\",\"compressed\":%s}\n",
                    status ? "failed" : "ok", status,
                    ms(s->end_ns - s->start_ns), ms(blackout_ns(s)), s->rounds,
                    (unsigned long long)s->raw_bytes,
                    (unsigned long long)s->wire_bytes, ratio(s),
                    s->peer_is_xlmig ? "xlmig" : "xl",
                    s->compressed ? "true" : "false");
        break;
    }
    if (r->json)
        fflush(r->json);
    if (r->next)
        r->next->event(r->next->opaque, ev, s, rd, status);
}

/* i10: a new connection to the same target (the in-doubt query) */
struct reconnect {
    const char *tls, *thost, *tport, *rune;
    int insecure;
};

static int reconnect(void *opaque, struct channel **ch_r)
{
    struct reconnect *r = opaque;

    if (r->tls)
        return tls_connect_configured(r->tls, NULL, r->insecure, 30000, ch_r);
    if (r->thost && r->tport)
        return channel_tcp_connect_new(r->thost, r->tport, 30000, ch_r);
    return channel_rune_new(r->rune, ch_r);
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xlmig migrate: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return 2;
}

static FILE *open_json(const char *arg)
{
    const char *p = arg;
    int fd;

    while (*p >= '0' && *p <= '9')
        p++;
    if (!*p && p != arg) {
        fd = atoi(arg);
        if (fcntl(fd, F_GETFD) < 0)
            return NULL;
        return fdopen(fd, "w");
    }
    return fopen(arg, "w");
}

int cmd_migrate(int argc, char **argv)
{
    enum {
        OPT_COST = 0x1000, /* by name: cost_run_option() */
        OPT_DEBUG = 0x100,
        OPT_LIVE,
        OPT_TCP,
        OPT_COMPRESS,
        OPT_BW,
        OPT_JSON,
        OPT_PROGRESS,
        OPT_NO_PROGRESS,
        OPT_REMOTE,
        OPT_NOTICE,
        OPT_HOOKS_DIR,
        OPT_HOOK_TIMEOUT,
        OPT_TLS,
        OPT_INSECURE,
        OPT_FORWARD,
        OPT_NO_FORWARD
    };
    static const struct option lopts[] = {
        { "debug", 0, NULL, OPT_DEBUG },
        { "live", 0, NULL, OPT_LIVE },
        { "tcp", 1, NULL, OPT_TCP },
        { "tls", 1, NULL, OPT_TLS },
        { "insecure", 0, NULL, OPT_INSECURE },
        { "compress", 1, NULL, OPT_COMPRESS },
        { "max-bandwidth", 1, NULL, OPT_BW },
        { "json", 1, NULL, OPT_JSON },
        { "progress", 0, NULL, OPT_PROGRESS },
        { "no-progress", 0, NULL, OPT_NO_PROGRESS },
        { "remote-cmd", 1, NULL, OPT_REMOTE },
        { "max-downtime", 1, NULL, OPT_COST },
        { "max-time", 1, NULL, OPT_COST },
        { "throttle", 0, NULL, OPT_COST },
        { "no-throttle", 0, NULL, OPT_COST },
        { "abort-if-busy", 0, NULL, OPT_COST },
        { "notice", 1, NULL, OPT_NOTICE },
        { "hooks-dir", 1, NULL, OPT_HOOKS_DIR },
        { "hook-timeout", 1, NULL, OPT_HOOK_TIMEOUT },
        { "forward", 0, NULL, OPT_FORWARD },
        { "no-forward", 0, NULL, OPT_NO_FORWARD },
        { "help", 0, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_file = NULL, *ssh = "ssh", *tcp = NULL, *tls = NULL;
    int insecure = 0;
    const char *remote = "xlmig", *domain, *host = NULL;
    int opt, daemonize = 1, pause_after = 0, preserve = 0, debug = 0;
    int compress = 1, progress = 1, rc, nargs, have_enc = 0;
    struct session_codec_enc enc;
    uint64_t bw = 0;
    FILE *json = NULL;
    char *rune = NULL, *thost = NULL, *tport = NULL;
    struct xen_src *src = NULL;
    struct channel *ch = NULL;
    struct cost_run cost;
    int lidx = 0;
    struct mig_send_opts so;
    struct mig_stats stats;
    struct reporter rep;
    struct mig_observer obs = { on_event, &rep };
    char vbuf[16];
    int nv;
    /* xenstore hooks */
    unsigned notice_s = 60, hook_timeout_ms = XSH_HOOK_TIMEOUT_MS;
    const char *hooks_dir = XSH_HOOKS_DIR_DEFAULT;
    struct xsh_libxs *xs = NULL;
    struct xsh_hooks hooks;
    struct xsh_hook_ops hook_ops;
    struct xsh_ctx xsh;
    struct xsh_notice_result notice;
    struct mig_observer xsh_obs = { xsh_mig_event, &xsh };
    int xsh_live = 0; /* notice or state written, mig_send not run */
    struct once_src once = { 0 }; /* i10: exactly-once journal */
    struct reconnect recon = { 0 };
    char *peer_desc = NULL;
    /* net-forward (nfwd_migrate.h) */
    int forward = 1;
    struct nfwd_src nf;
    struct mig_observer nf_obs = { nfwd_src_event, &nf };

    cost_run_init(&cost);
    memset(&nf, 0, sizeof(nf));
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hFC:s:epD", lopts, &lidx)) != -1) {
        switch (opt) {
        case 'h':
            fputs(MIGRATE_USAGE, stdout);
            rc = 0;
            goto out;
        case 'C':
            config_file = optarg;
            break;
        case 's':
            ssh = optarg;
            break;
        case 'F':
            daemonize = 0;
            break;
        case 'e':
            daemonize = 0;
            break;
        case 'p':
            pause_after = 1;
            break;
        case 'D':
            preserve = 1;
            break;
        case OPT_DEBUG:
            debug = 1;
            break;
        case OPT_LIVE:
            break; /* ignored, as xl (xm compatibility) */
        case OPT_TCP:
            tcp = optarg;
            if (cli_split_hostport(tcp, &thost, &tport, 1)) {
                rc = usage_error("invalid value '%s' for --tcp (expected "
                                 "HOST:PORT)",
                                 tcp);
                goto out;
            }
            break;
        case OPT_COMPRESS:
            compress = cli_parse_compress(optarg);
            if (compress < 0) {
                rc = usage_error("invalid value '%s' for --compress "
                                 "(expected auto or off)",
                                 optarg);
                goto out;
            }
            break;
        case OPT_BW:
            if (cli_parse_bandwidth(optarg, &bw)) {
                rc = usage_error("invalid value '%s' for --max-bandwidth "
                                 "(expected bytes/s, e.g. 100M)",
                                 optarg);
                goto out;
            }
            break;
        case OPT_JSON:
            if (json)
                fclose(json);
            json = open_json(optarg);
            if (!json) {
                rc = usage_error("cannot open '%s' for --json", optarg);
                goto out;
            }
            break;
        case OPT_PROGRESS:
            progress = 1;
            break;
        case OPT_NO_PROGRESS:
            progress = 0;
            break;
        case OPT_TLS: /* one argument, as --tcp; the port is optional */
            tcp = tls = optarg;
            free(thost);
            thost = strndup(optarg, strcspn(optarg, ":"));
            if (!thost || !*thost) {
                rc = usage_error("invalid value '%s' for --tls (expected "
                                 "HOST[:PORT])",
                                 optarg);
                goto out;
            }
            break;
        case OPT_INSECURE:
            insecure = 1;
            break;
        case OPT_REMOTE:
            remote = optarg;
            break;
        case OPT_NOTICE:
        case OPT_HOOK_TIMEOUT: {
            char *end;
            unsigned long v;

            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' ||
                v > (opt == OPT_NOTICE ? XSH_NOTICE_MAX_S : 3600000ul) ||
                (opt == OPT_HOOK_TIMEOUT && !v)) {
                rc = usage_error("invalid value '%s' for --%s", optarg,
                                 opt == OPT_NOTICE ? "notice" : "hook-timeout");
                goto out;
            }
            if (opt == OPT_NOTICE)
                notice_s = (unsigned)v;
            else
                hook_timeout_ms = (unsigned)v;
            break;
        }
        case OPT_HOOKS_DIR:
            hooks_dir = optarg;
            break;
        case OPT_FORWARD:
        case OPT_NO_FORWARD:
            forward = opt == OPT_FORWARD;
            break;
        case OPT_COST: /* docs/cost-model.md */
            if (cost_run_option(&cost, lopts[lidx].name, optarg)) {
                rc = 2;
                goto out;
            }
            break;
        default:
            if (optopt >= OPT_DEBUG || optopt == 0)
                fprintf(stderr, "xlmig migrate: unrecognized option '%s'\n",
                        argv[optind - 1]);
            else if (strchr("Cs", optopt))
                fprintf(stderr,
                        "xlmig migrate: option requires an argument "
                        "-- '%c'\n",
                        optopt);
            else
                fprintf(stderr, "xlmig migrate: invalid option -- '%c'\n",
                        optopt);
            fputs(MIGRATE_USAGE, stderr);
            rc = 2;
            goto out;
        }
    }
    nargs = tcp ? 1 : 2;
    if (argc - optind < nargs) {
        fprintf(stderr, "'xlmig migrate' requires at least %d argument%s.\n\n",
                nargs, nargs > 1 ? "s" : "");
        fputs(MIGRATE_USAGE, stderr);
        rc = 2;
        goto out;
    }
    if (argc - optind > nargs) {
        rc = usage_error("unexpected argument '%s'", argv[optind + nargs]);
        goto out;
    }
    domain = argv[optind];
    if (!tcp)
        host = argv[optind + 1];

    /* from here on, failures are exit 1; an earlier migration of this
     * domain that was killed before GO is resolved first (its guest may
     * still be suspended, with log-dirty mode on) */
    (void)journal_sweep_domain(domain);
    rc = xen_src_open(
        domain, config_file, preserve,
        log_threshold > LVL_WARN ? (int)log_threshold - LVL_WARN : 0, &src);
    if (rc) {
        rc = 1;
        goto out;
    }
    if (!xen_src_config(src, &so.config_len) || so.config_len <= 1) {
        fprintf(stderr, "No config file stored for running domain and "
                        "none supplied - cannot migrate.\n");
        rc = 1;
        goto out;
    }

    /* xenstore hooks: pre-migrate hooks before anything touches the guest,
     * then the state subtree and the guest notice (xlmig-hooks(7)) */
    if (xsh_libxs_new(&xs))
        LOG(WARN, "no xenstore: no guest notice and no state keys");
    xsh_hooks_init(&hooks, hooks_dir, hook_timeout_ms);
    hook_ops = xsh_hooks_ops(&hooks);
    xsh_init(&xsh, xs ? &xsh_libxs_ops : NULL, xs, &hook_ops, "source",
             xen_src_name(src), tcp ? thost : host);
    xsh_attach(&xsh, xen_src_domid(src));
    if (xsh_run_hooks(&xsh, XSH_STAGE_PRE_MIGRATE, NULL)) {
        fprintf(stderr, "migration aborted: pre-migrate hook %s failed\n",
                hooks.failed_name[0] ? hooks.failed_name : "(directory)");
        rc = 1;
        goto out;
    }
    xsh_live = 1;
    xsh_state_begin(&xsh, "notice");
    if (xsh_notice(&xsh, notice_s, &notice))
        LOG(WARN, "cannot notify the guest; migrating without notice");
    if (json) {
        fprintf(json,
                "{\"event\":\"notice\",\"listening\":%s,\"acked\":%s,"
                "\"wait_ms\":%llu}\n",
                notice.listening ? "true" : "false",
                notice.acked ? "true" : "false",
                (unsigned long long)notice.wait_ms);
        fflush(json);
    }

    if (fault_point(FAULT_CONNECT, 0)) {
        fprintf(stderr, "xlmig: cannot connect to the target (injected)\n");
        rc = 1;
        goto out;
    }
    if (tls) {
        rc = tls_connect_configured(tls, NULL, insecure, 30000, &ch);
    } else if (tcp) {
        rc = channel_tcp_connect_new(thost, tport, 30000, &ch);
    } else {
        if (!ssh[0]) {
            rune = strdup(host);
        } else {
            nv = log_threshold > LVL_WARN ? (int)(log_threshold - LVL_WARN) : 0;
            vbuf[0] = 0;
            if (nv) {
                snprintf(vbuf, sizeof(vbuf), " -%.*s", nv, "vvvvvvvv");
            }
            if (asprintf(&rune, "exec %s %s %s%s%s%s migrate-receive%s%s%s",
                         ssh, host, remote,
                         !strcmp(remote, "xl") && isatty(2) ? " -t" : "", "",
                         vbuf, daemonize ? "" : " -e", debug ? " -d" : "",
                         pause_after ? " -p" : "") < 0)
                rune = NULL;
        }
        if (!rune) {
            rc = 1;
            goto out;
        }
        rc = channel_rune_new(rune, &ch);
    }
    if (rc) {
        rc = 1;
        goto out;
    }

    memset(&so, 0, sizeof(so));
    so.name = xen_src_name(src);
    so.config = xen_src_config(src, &so.config_len);
    so.debug = debug;
    so.compress = compress;
    so.max_bandwidth_bps = bw;
    so.rune = rune;
    so.banner_timeout_ms = 120000;
    so.ready_timeout_ms = 600000;
    so.report_timeout_ms = 300000;
    if (getenv("XLMIG_HANDOVER_TIMEOUT_MS")) {
        /* i10: the fault matrix shortens the waits for a silent peer */
        int t = atoi(getenv("XLMIG_HANDOVER_TIMEOUT_MS"));

        if (t >= 1000)
            so.ready_timeout_ms = so.report_timeout_ms = t;
    }
    /* i10: journal the migration (uuid, epoch) for the exactly-once
     * hand-over; the query reconnects the way we connected */
    recon.tls = tls;
    recon.insecure = insecure;
    recon.thost = tls ? NULL : thost;
    recon.tport = tls ? NULL : tport;
    recon.rune = rune;
    if (asprintf(&peer_desc, "%s:%s", tls ? "tls" : (tcp ? "tcp" : "rune"),
                 tls ? tls : (tcp ? tcp : rune)) < 0)
        peer_desc = NULL;
    if (peer_desc &&
        !once_src_begin(&once, so.name, xen_src_domid(src), peer_desc,
                        tcp ? thost : host, reconnect, &recon))
        so.once = &once.ops;
    memset(&rep, 0, sizeof(rep));
    rep.json = json;
    rep.progress = progress;
    rep.tty = isatty(2);
    rep.domain = so.name;
    rep.next = &xsh_obs;
    /* net-forward: only towards an xlmig receiver (it answers the flag) */
    nfwd_src_init(&nf, forward && compress, xen_src_domid(src),
                  xs ? &xsh_libxs_ops : NULL, xs, json, &xen_src_ops, src);
    so.optional_flags = nfwd_src_flags(&nf);
    nf.next = rep.next;
    rep.next = &nf_obs;
    if (compress) {
        rc = session_codec_enc_init(&enc, NULL);
        if (rc) {
            fprintf(stderr, "xlmig: cannot set up the stream encoder\n");
            rc = 1;
            goto out;
        }
        have_enc = 1;
    }
    xsh_live = 0; /* from here the observer finishes (MIG_EV_DONE) */
    cost_run_begin(&cost, domain, tcp ? thost : host, json, progress);
    rc = mig_send(&so, &nfwd_src_ops, &nf, cost_run_policy(&cost),
                  have_enc ? &enc.ops : &stream_passthrough, ch,
                  cost_run_observer(&cost, &obs), &stats);
    nfwd_src_finish(&nf, rc);
    cost_run_end(&cost, rc, &stats);
    once_src_end(&once);
    if (have_enc && stats.compressed && json) {
        struct codec_stats cs;
        char buf[2048];

        codec_enc_stats(enc.enc, &cs);
        codec_stats_json(&cs, buf, sizeof(buf));
        fprintf(json, "{\"event\":\"codec\",\"stats\":%s}\n", buf);
    }
    rc = rc ? 1 : 0;

out:
    nfwd_src_dispose(&nf);
    cost_run_dispose(&cost);
    if (xsh_live) {
        struct mig_stats none;

        /* failed before mig_send: clear the notice, failed hooks, state */
        memset(&none, 0, sizeof(none));
        xsh_mig_event(&xsh, MIG_EV_DONE, &none, NULL, -ECANCELED);
    }
    xsh_libxs_free(xs);
    channel_free(ch);
    if (have_enc)
        session_codec_enc_dispose(&enc);
    xen_src_free(src);
    if (json)
        fclose(json);
    free(rune);
    free(peer_desc);
    free(thost);
    free(tport);
    return rc;
}
