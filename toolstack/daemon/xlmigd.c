/* SPDX-License-Identifier: MIT */
/*
 * xlmigd: the migration receiver daemon (xlmigd(8)).  Listens on TCP,
 * authenticates every connection with TLS (tls.h) before a single stream
 * byte is read, and hands each authenticated connection to one run of
 * 'xlmig migrate-receive' (the receiver session of cmd_receive.c) whose
 * stdin/stdout are the plaintext end of the TLS channel.  One receive per
 * connection; at most max-connections at once; every event is one line in
 * syslog (the journal under systemd), and on stderr with -F.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#define LOG_PREFIX "xlmigd: "
#include "common/log.h"
#include "transport/tls.h"
#include "transport/tls_conf.h"

#define XLMIGD_USAGE                                                           \
    "Usage: xlmigd [options]\n"                                                \
    "\n"                                                                       \
    "Receive live migrations over TLS and restore them with\n"                 \
    "'xlmig migrate-receive'.\n"                                               \
    "\n"                                                                       \
    "Options:\n"                                                               \
    "-h, --help               Print this help.\n"                              \
    "-F, --foreground         Log to stderr as well as syslog.\n"              \
    "-v                       More messages (repeatable).\n"                   \
    "-c, --config FILE        Read FILE instead of /etc/xlmig/xlmig.conf.\n"   \
    "--listen [ADDR:]PORT     Listen there (default: the config, *:8002).\n"   \
    "--receiver PATH          The xlmig binary to run for each migration.\n"   \
    "--max-connections N      Concurrent receives (default 2).\n"              \
    "--once                   Exit after the first connection (tests).\n"      \
    "--port-file FILE         Write the bound port to FILE (tests).\n"         \
    "--insecure               No TLS: plaintext, unauthenticated (says so).\n" \
    "--no-sweep               No start-up sweep of the journal.\n"

static volatile sig_atomic_t stop_requested;
static int log_stderr;

static void on_term(int sig)
{
    stop_requested = 1;
}

static void syslog_sink(enum log_level lvl, const char *line, void *opaque)
{
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

    syslog(prio[lvl <= LVL_DEBUG ? lvl : LVL_DEBUG], "%s", line);
    if (log_stderr)
        fprintf(stderr, "%s\n", line);
}

static void peer_string(const struct sockaddr_storage *ss, socklen_t len,
                        char *buf, size_t size)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), serv,
                    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV))
        snprintf(buf, size, "unknown peer");
    else
        snprintf(buf, size, "%s:%s", host, serv);
}

static char *default_receiver(void)
{
    char self[PATH_MAX], *slash, *r = NULL;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n > 0) {
        self[n] = 0;
        slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            if (asprintf(&r, "%s/xlmig", self) < 0)
                r = NULL;
            else if (access(r, X_OK)) {
                free(r);
                r = NULL;
            }
        }
    }
    return r ? r : strdup("xlmig");
}

/*
 * Run the receiver on fd (its stdin and stdout); its stderr lines go to
 * our log with the peer's name.  Returns its exit status (or 128+signal).
 */
static int run_receiver(const char *receiver, int fd, const char *peer)
{
    int errp[2], status;
    char line[1024];
    FILE *f;
    pid_t pid;

    if (pipe2(errp, O_CLOEXEC)) {
        LOGE(ERROR, "%s: cannot create a pipe", peer);
        return 1;
    }
    pid = fork();
    if (pid < 0) {
        LOGE(ERROR, "%s: cannot fork the receiver", peer);
        close(errp[0]);
        close(errp[1]);
        return 1;
    }
    if (pid == 0) {
        /* async-signal-safe calls only: the relay threads run */
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(errp[1], 2);
        signal(SIGPIPE, SIG_DFL);
        execlp(receiver, receiver, "migrate-receive", "-e", (char *)NULL);
        _exit(127);
    }
    close(errp[1]);
    f = fdopen(errp[0], "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = 0;
            LOG(INFO, "%s: %s", peer, line);
        }
        fclose(f);
    } else {
        close(errp[0]);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) == 127)
            LOG(ERROR, "%s: cannot run the receiver '%s'", peer, receiver);
        return WEXITSTATUS(status);
    }
    return 128 + WTERMSIG(status);
}

/*
 * Start-up sweep (docs/design.md, exactly-once): 'xlmig journal-sweep'
 * resolves what a previous daemon or receiver left behind (paused
 * --incoming copies of dead receives, ...) before we accept anything.
 */
static void run_sweep(const char *receiver)
{
    int outp[2], status;
    char line[1024];
    FILE *f;
    pid_t pid;

    if (pipe2(outp, O_CLOEXEC)) {
        LOGE(WARN, "start-up sweep: cannot create a pipe");
        return;
    }
    pid = fork();
    if (pid < 0) {
        LOGE(WARN, "start-up sweep: cannot fork");
        close(outp[0]);
        close(outp[1]);
        return;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);

        if (nul >= 0)
            dup2(nul, 0);
        dup2(outp[1], 1);
        dup2(outp[1], 2);
        execlp(receiver, receiver, "journal-sweep", (char *)NULL);
        _exit(127);
    }
    close(outp[1]);
    f = fdopen(outp[0], "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = 0;
            LOG(INFO, "start-up sweep: %s", line);
        }
        fclose(f);
    } else {
        close(outp[0]);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return;
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        LOG(WARN, "start-up sweep: unresolved records remain (status %d)",
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* One connection, in its own process. */
static int serve(struct tls_ctx *ctx, int fd, const char *peer,
                 const char *receiver)
{
    struct channel *ch = NULL;
    char *identity = NULL;
    int rc;

    if (!ctx) {
        LOG(WARN, "%s: accepted without authentication (--insecure)", peer);
        tls_tune_socket(fd, NULL);
        rc = run_receiver(receiver, fd, peer);
        close(fd);
        goto out;
    }
    /* the handshake authenticates the peer before any stream byte */
    rc = tls_channel_new(ctx, fd, peer, &ch, &identity);
    if (rc) {
        rc = 1;
        goto out;
    }
    LOG(INFO, "%s: authenticated as '%s', receiving", peer, identity);
    rc = run_receiver(receiver, ch->stream_fd, peer);
    LOG(INFO, "%s: receive %s (status %d)", peer, rc ? "failed" : "done", rc);
out:
    channel_free(ch);
    free(identity);
    return rc;
}

static int listen_on(const char *addr, const char *port, unsigned *port_r)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE },
                    *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int fd = -1, one = 1, grc, rc;

    grc = getaddrinfo(addr, port, &hints, &res);
    if (grc) {
        LOG(ERROR, "cannot resolve '%s:%s': %s", addr ? addr : "*", port,
            gai_strerror(grc));
        rc = -EINVAL;
        goto out;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
                res->ai_protocol);
    if (fd < 0) {
        rc = -errno;
        LOGE(ERROR, "cannot create a socket");
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 8)) {
        rc = -errno;
        LOGE(ERROR, "cannot listen on %s:%s", addr ? addr : "*", port);
        goto out;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
        *port_r = ntohs(ss.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    rc = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (res)
        freeaddrinfo(res);
    return rc;
}

static void reap(unsigned *active)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        if (*active)
            (*active)--;
}

int main(int argc, char **argv)
{
    enum {
        OPT_LISTEN = 0x100,
        OPT_RECEIVER,
        OPT_MAXCONN,
        OPT_ONCE,
        OPT_PORTFILE,
        OPT_INSECURE,
        OPT_NO_SWEEP
    };
    static const struct option lopts[] = {
        { "help", 0, NULL, 'h' },
        { "foreground", 0, NULL, 'F' },
        { "config", 1, NULL, 'c' },
        { "listen", 1, NULL, OPT_LISTEN },
        { "receiver", 1, NULL, OPT_RECEIVER },
        { "max-connections", 1, NULL, OPT_MAXCONN },
        { "once", 0, NULL, OPT_ONCE },
        { "port-file", 1, NULL, OPT_PORTFILE },
        { "insecure", 0, NULL, OPT_INSECURE },
        { "no-sweep", 0, NULL, OPT_NO_SWEEP },
        { NULL, 0, NULL, 0 },
    };
    const char *conf_path = NULL, *port_file = NULL;
    char *listen_arg = NULL, *receiver = NULL, *end;
    int opt, rc, lfd = -1, once = 0, insecure = 0, verbose = 0, have_conf = 0;
    int no_sweep = 0;
    long maxc = 0;
    unsigned active = 0, port = 0;
    struct tls_ctx *ctx = NULL;
    struct tls_conf conf;
    struct sigaction sa;

    while ((opt = getopt_long(argc, argv, "hFvc:", lopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(XLMIGD_USAGE, stdout);
            return 0;
        case 'F':
            log_stderr = 1;
            break;
        case 'v':
            verbose++;
            break;
        case 'c':
            conf_path = optarg;
            break;
        case OPT_LISTEN:
            listen_arg = optarg;
            break;
        case OPT_RECEIVER:
            receiver = optarg;
            break;
        case OPT_MAXCONN:
            maxc = strtol(optarg, &end, 10);
            if (*end || maxc < 1 || maxc > TLS_CONF_MAX_CONNS) {
                fprintf(stderr, "xlmigd: --max-connections is 1..%d\n",
                        TLS_CONF_MAX_CONNS);
                return 2;
            }
            break;
        case OPT_ONCE:
            once = 1;
            break;
        case OPT_PORTFILE:
            port_file = optarg;
            break;
        case OPT_INSECURE:
            insecure = 1;
            break;
        case OPT_NO_SWEEP:
            no_sweep = 1;
            break;
        default:
            fputs(XLMIGD_USAGE, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fputs(XLMIGD_USAGE, stderr);
        return 2;
    }
    openlog("xlmigd", LOG_PID, LOG_DAEMON);
    log_set_sink(syslog_sink, NULL);
    log_threshold = verbose ? (verbose > 1 ? LVL_DEBUG : LVL_INFO) : LVL_INFO;

    if (tls_conf_init(&conf)) {
        rc = 1;
        goto out;
    }
    have_conf = 1;
    if (!conf_path)
        conf_path = getenv("XLMIG_CONF");
    rc = tls_conf_load(&conf, conf_path ? conf_path : TLS_CONF_DEFAULT,
                       !conf_path);
    if (rc) {
        rc = 1;
        goto out;
    }
    if (listen_arg) {
        char *colon = strrchr(listen_arg, ':');

        free(conf.port);
        conf.port = strdup(colon ? colon + 1 : listen_arg);
        if (colon) {
            free(conf.listen_addr);
            conf.listen_addr =
                strndup(listen_arg, (size_t)(colon - listen_arg));
        }
        if (!conf.port || (colon && !conf.listen_addr)) {
            rc = 1;
            goto out;
        }
    }
    if (maxc)
        conf.max_conns = (unsigned)maxc;
    if (receiver) {
        free(conf.receiver);
        conf.receiver = strdup(receiver);
    } else if (!conf.receiver) {
        conf.receiver = default_receiver();
    }
    if (!conf.receiver) {
        rc = 1;
        goto out;
    }
    if (insecure) {
        LOG(WARN, "%s", tls_insecure_warning);
    } else {
        rc = tls_ctx_new(&conf.opts, 1, &ctx);
        if (rc) {
            LOG(ERROR, "not starting: no usable TLS configuration");
            rc = 1;
            goto out;
        }
    }
    if (!no_sweep)
        run_sweep(conf.receiver);
    lfd = listen_on(conf.listen_addr, conf.port, &port);
    if (lfd < 0) {
        rc = 1;
        goto out;
    }
    if (port_file) {
        FILE *pf = fopen(port_file, "w");

        if (!pf || fprintf(pf, "%u\n", port) < 0 || fclose(pf)) {
            LOGE(ERROR, "cannot write '%s'", port_file);
            rc = 1;
            goto out;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    LOG(INFO, "listening on port %u (%s, at most %u receives at once)", port,
        insecure                         ? "PLAINTEXT"
        : conf.opts.mode == TLS_MODE_PSK ? "TLS 1.3 ECDHE-PSK"
                                         : "TLS 1.3 mutual X.509",
        conf.max_conns);

    while (!stop_requested) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        char peer[NI_MAXHOST + NI_MAXSERV + 2];
        pid_t pid;
        int fd;

        reap(&active);
        if (channel_wait_fd(lfd, 0, 1000))
            continue;
        fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        peer_string(&ss, sslen, peer, sizeof(peer));
        reap(&active);
        if (active >= conf.max_conns) {
            LOG(ERROR,
                "refused %s: %u receives already running "
                "(max-connections)",
                peer, active);
            close(fd);
            continue;
        }
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
            LOGE(ERROR, "refused %s: cannot fork", peer);
            close(fd);
            continue;
        }
        if (pid == 0) {
            close(lfd);
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            _exit(serve(ctx, fd, peer, conf.receiver) ? 1 : 0);
        }
        close(fd);
        active++;
        if (once) {
            int status;

            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
            goto out;
        }
    }
    LOG(INFO, "stopping (%u receives still running continue alone)", active);
    rc = 0;
out:
    if (lfd >= 0)
        close(lfd);
    tls_ctx_free(ctx);
    if (have_conf)
        tls_conf_dispose(&conf);
    closelog();
    return rc;
}
