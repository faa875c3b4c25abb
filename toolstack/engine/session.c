/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "migrate: "
#include "common/log.h"
#include "engine/cost.h"
#include "engine/fault.h"
#include "engine/session.h"
#include "transport/xlproto.h"

#define PUMP_BUF_BYTES    (1u << 20)
#define PROGRESS_EVERY_NS 250000000ull
#define WRITE_TIMEOUT_MS  120000

uint64_t mig_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int passthrough_write(void *enc, const uint8_t *buf, size_t len,
                             struct channel *ch)
{
    return channel_write_all(ch, 0, buf, len, WRITE_TIMEOUT_MS);
}

static int passthrough_finish(void *enc, struct channel *ch)
{
    return 0;
}

static int passthrough_enable(void *enc, uint32_t peer_caps)
{
    return 0;
}

const struct stream_encoder stream_passthrough = {
    .write = passthrough_write,
    .finish = passthrough_finish,
    .enable = passthrough_enable,
    .abort = NULL,
    .needs_caps = 0,
    .opaque = NULL,
};

/* ------------------------------------------------------------ sender */

struct send_state {
    const struct mig_send_opts *o;
    const struct stream_encoder *enc;
    struct channel *ch;
    struct xlproto_ctx *x;
    const struct mig_observer *obs;
    struct precopy_policy user_policy;
    struct mig_stats *stats;
    pthread_mutex_t lock; /* stats and observer calls */
    int pipe_rd;
    int pump_rc;
    uint64_t wire_base; /* channel stream bytes before the stream */
    int want_caps;
    int fault_rc; /* i10: an error fault fired in a callback */
};

static void emit(struct send_state *s, enum mig_event ev,
                 const struct precopy_round *r, int status)
{
    pthread_mutex_lock(&s->lock);
    if (s->obs && s->obs->event)
        s->obs->event(s->obs->opaque, ev, s->stats, r, status);
    pthread_mutex_unlock(&s->lock);
}

static uint64_t load64(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void add64(uint64_t *p, uint64_t v)
{
    __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static void throttle(struct send_state *s, uint64_t start_ns)
{
    uint64_t bps = s->o->max_bandwidth_bps, sent, due_ns, now;
    struct timespec ts;

    if (!bps)
        return;
    sent = load64(&s->stats->wire_bytes);
    due_ns = start_ns + (uint64_t)((double)sent * 1e9 / (double)bps);
    now = mig_now_ns();
    if (due_ns <= now)
        return;
    ts.tv_sec = (time_t)((due_ns - now) / 1000000000ull);
    ts.tv_nsec = (long)((due_ns - now) % 1000000000ull);
    nanosleep(&ts, NULL);
}

static void check_caps_wait(struct send_state *s, int timeout_ms)
{
    uint32_t caps;
    int rc;

    if (!s->want_caps)
        return;
    rc = xlproto_poll_caps(s->x, timeout_ms, &caps);
    if (rc <= 0)
        return;
    s->want_caps = 0;
    pthread_mutex_lock(&s->lock);
    s->stats->peer_is_xlmig = 1;
    s->stats->peer_caps = caps;
    s->stats->peer_ext_len =
        (uint32_t)(s->x->caps_ext_len < sizeof(s->stats->peer_ext)
                       ? s->x->caps_ext_len
                       : sizeof(s->stats->peer_ext));
    memcpy(s->stats->peer_ext, s->x->caps_ext, s->stats->peer_ext_len);
    pthread_mutex_unlock(&s->lock);
    if (s->enc->needs_caps &&
        (caps & s->enc->needs_caps) == s->enc->needs_caps &&
        s->enc->enable(s->enc->opaque, caps) == 0) {
        pthread_mutex_lock(&s->lock);
        s->stats->compressed = 1;
        pthread_mutex_unlock(&s->lock);
    }
    LOG(INFO, "peer is xlmig (capabilities 0x%x)%s", caps,
        s->stats->compressed ? ", compressed stream" : "");
    emit(s, MIG_EV_NEGOTIATED, NULL, 0);
}

static void check_caps(struct send_state *s)
{
    check_caps_wait(s, 0);
}

/*
 * The pump: raw stream from the save (pipe) -> encoder -> channel.  On a
 * channel error it closes the pipe so that the save fails with EPIPE
 * instead of blocking.
 */
static void *pump_main(void *arg)
{
    struct send_state *s = arg;
    uint8_t *buf = malloc(PUMP_BUF_BYTES);
    uint64_t start_ns = mig_now_ns(), last_ev = 0;
    ssize_t n;
    int rc = 0;

    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        check_caps(s);
        n = read(s->pipe_rd, buf, PUMP_BUF_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            LOGE(ERROR, "cannot read the saved stream");
            break;
        }
        if (n == 0)
            break; /* finish or abort: the main thread, once it knows */
        add64(&s->stats->raw_bytes, (uint64_t)n);
        rc = s->enc->write(s->enc->opaque, buf, (size_t)n, s->ch);
        /* what is on the channel (an encoder may queue in between) */
        __atomic_store_n(&s->stats->wire_bytes,
                         load64(&s->ch->stream_bytes) - s->wire_base,
                         __ATOMIC_RELAXED);
        if (rc)
            break;
        throttle(s, start_ns);
        if (mig_now_ns() - last_ev >= PROGRESS_EVERY_NS) {
            last_ev = mig_now_ns();
            emit(s, MIG_EV_PROGRESS, NULL, 0);
        }
    }
    if (rc)
        LOGEV(ERROR, -rc, "cannot send the migration stream");
    check_caps(s);
out:
    free(buf);
    /* unblock the writer on error; on success it has already closed */
    close(s->pipe_rd);
    s->pipe_rd = -1;
    s->pump_rc = rc;
    return NULL;
}

static int policy_wrapper(void *opaque, const struct precopy_round *in)
{
    struct send_state *s = opaque;
    struct precopy_round r = *in;
    int d;

    r.raw_bytes = load64(&s->stats->raw_bytes);
    r.wire_bytes = load64(&s->stats->wire_bytes);
    r.elapsed_ns = mig_now_ns() - s->stats->start_ns;
    pthread_mutex_lock(&s->lock);
    s->stats->total_written_pages = r.total_written_pages;
    if (r.dirty_pages >= 0) {
        s->stats->rounds = r.iteration;
        s->stats->dirty_pages = (uint64_t)r.dirty_pages;
    }
    pthread_mutex_unlock(&s->lock);
    d = s->user_policy.decide(s->user_policy.opaque, &r);
    if (r.dirty_pages >= 0 && fault_point(FAULT_PRECOPY_ROUND, r.iteration)) {
        s->fault_rc = -EIO; /* i10: back out at round K */
        d = PRECOPY_ABORT;
    }
    if (r.dirty_pages >= 0)
        emit(s, MIG_EV_ROUND, &r, d);
    return d;
}

static void on_suspended(void *opaque)
{
    struct send_state *s = opaque;

    pthread_mutex_lock(&s->lock);
    if (!s->stats->suspend_ns)
        s->stats->suspend_ns = mig_now_ns();
    pthread_mutex_unlock(&s->lock);
    if (s->enc->suspended)
        s->enc->suspended(s->enc->opaque);
    emit(s, MIG_EV_SUSPENDED, NULL, 0);
    if (fault_point(FAULT_SUSPEND, 0))
        s->fault_rc = -EIO; /* i10: fail once the stream is written */
}

/* i10: exactly-once, sender.  After GO without a report: ask the target
 * and act only on a definite answer.  Returns 0 (resolved: *resumed_r
 * says which way) or -errno (stay paused). */
static int resolve_in_doubt(const struct mig_send_opts *o,
                            const struct mig_src_ops *ops, void *be,
                            const char *away, int *resumed_r)
{
    const struct mig_once_src *once = o->once;
    enum journal_answer a = JOURNAL_ANS_UNKNOWN;
    int qrc;

    *resumed_r = 0;
    fprintf(stderr,
            "migration sender: in doubt after GO: asking the target about "
            "migration %s (epoch %llu)\n",
            once->uuid, (unsigned long long)once->epoch);
    qrc = once->query(once->opaque, &a);
    switch (journal_src_action(qrc, a)) {
    case JOURNAL_SRC_RESUME:
        fprintf(stderr, "migration sender: target answers: its copy never "
                        "ran and is destroyed; resuming at sender.\n");
        if (o->name && away)
            ops->rename(be, away, o->name);
        if (ops->resume(be)) {
            fprintf(stderr, "migration sender: resume failed; the domain "
                            "stays paused here (no copy runs elsewhere).\n");
            return -EIO;
        }
        once->journal(once->opaque, JOURNAL_ABORTED);
        *resumed_r = 1;
        return 0;
    case JOURNAL_SRC_DESTROY:
        fprintf(stderr, "migration sender: target answers: the domain runs "
                        "there; destroying our copy.\n");
        once->journal(once->opaque, JOURNAL_DONE);
        ops->destroy(be);
        return 0;
    default:
        once->in_doubt(once->opaque);
        return -EREMOTEIO;
    }
}

/* blackout phases (docs/cost-model.md): the suspend request */
static void on_suspending(void *opaque)
{
    struct send_state *s = opaque;

    pthread_mutex_lock(&s->lock);
    if (!s->stats->suspend_req_ns)
        s->stats->suspend_req_ns = mig_now_ns();
    pthread_mutex_unlock(&s->lock);
    emit(s, MIG_EV_SUSPENDING, NULL, 0);
}

/* blackout phases: the target's part, which an xlmig target with
 * XLPROTO_CAP_PHASES sends right after its report.  Not an error if
 * it does not come: the migration is done. */
static void read_peer_phases(struct xlproto_ctx *x, struct mig_stats *stats)
{
    uint8_t b[COST_PEER_BYTES];
    struct cost_peer_times t;
    unsigned i;

    if (!(stats->peer_caps & XLPROTO_CAP_PHASES))
        return;
    for (i = 0; i < sizeof(b); i++)
        if (xlproto_read_byte(x, 1, &b[i], "blackout phases", 2000))
            return;
    if (cost_peer_decode(b, &t)) {
        LOG(WARN, "the target's blackout phases are malformed: ignored");
        return;
    }
    stats->peer_phases = 1;
    stats->peer_restore_ns = t.restore_ns;
    stats->peer_restore_tail_ns = t.restore_tail_ns;
    stats->peer_unpause_ns = t.unpause_ns;
}

static void print_failed_badly(void)
{
    fprintf(stderr,
            "** Migration failed during final handshake **\n"
            "Domain state is now undefined !\n"
            "Please CHECK AT BOTH ENDS for running instances, before "
            "renaming and\n"
            " resuming at most one instance.  Two simultaneous instances of "
            "the domain\n"
            " would probably result in SEVERE DATA LOSS and it is now your\n"
            " responsibility to avoid that.  Sorry.\n");
}

int mig_send(const struct mig_send_opts *o, const struct mig_src_ops *ops,
             void *be, struct precopy_policy policy,
             const struct stream_encoder *enc, struct channel *ch,
             const struct mig_observer *obs, struct mig_stats *stats)
{
    struct send_state s;
    struct xlproto_ctx x;
    struct mig_save_args sa;
    pthread_t pump;
    int pipefd[2] = { -1, -1 }, pump_started = 0, rc, save_rc;
    char *away = NULL;
    uint8_t status;
    uint8_t trailer[XLPROTO_ONCE_BYTES], goext[XLPROTO_ONCE_BYTES];
    int once_ok = 0, resumed;

    memset(stats, 0, sizeof(*stats));
    memset(&s, 0, sizeof(s));
    s.o = o;
    s.enc = enc ? enc : &stream_passthrough;
    s.ch = ch;
    s.x = &x;
    s.obs = obs;
    s.user_policy = policy;
    s.stats = stats;
    s.pipe_rd = -1;
    s.want_caps = o->compress;
    pthread_mutex_init(&s.lock, NULL);
    xlproto_ctx_init(&x, ch, 1, o->rune);
    stats->start_ns = mig_now_ns();
    emit(&s, MIG_EV_START, NULL, 0);

    /* preamble: nothing has touched the guest yet */
    rc = xlproto_read_fixed(&x, 1, xlproto_banner, XLPROTO_BANNER_BYTES,
                            "banner", o->banner_timeout_ms);
    if (!rc)
        rc = fault_point(FAULT_HANDSHAKE, 0);
    if (rc)
        goto failed_preamble;
    /* i10: the identity rides after the config, only to a peer that may
     * be xlmig (stock xl ignores optional flags and trailing data) */
    once_ok = o->once && o->compress &&
              xlproto_once_encode(trailer, XLPROTO_ID_MAGIC, o->once->uuid,
                                  o->once->epoch);
    rc = xlproto_send_header_once(
        &x, o->config, o->config_len,
        o->compress ? XLPROTO_OPTFLAG_XLMIG | o->optional_flags |
                          (once_ok ? XLPROTO_OPTFLAG_ONCE : 0)
                    : 0,
        once_ok ? trailer : NULL, WRITE_TIMEOUT_MS);
    if (!rc)
        rc = fault_point(FAULT_CONFIG, 0);
    if (rc)
        goto failed_preamble;

    if (pipe2(pipefd, O_CLOEXEC)) {
        rc = -errno;
        LOGE(ERROR, "cannot create the stream pipe");
        goto failed_resume;
    }
    fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
    s.pipe_rd = pipefd[0];
    s.wire_base = load64(&ch->stream_bytes); /* after the header */
    rc = pthread_create(&pump, NULL, pump_main, &s);
    if (rc) {
        rc = -rc;
        close(pipefd[0]);
        s.pipe_rd = -1;
        goto failed_resume;
    }
    pump_started = 1;

    sa.live = 1;
    sa.debug = o->debug;
    sa.policy.decide = policy_wrapper;
    sa.policy.opaque = &s;
    sa.suspended = on_suspended;
    sa.suspending = on_suspending;
    sa.opaque = &s;
    save_rc = ops->save(be, pipefd[1], &sa);
    close(pipefd[1]);
    pipefd[1] = -1;
    pthread_join(pump, NULL);
    pump_started = 0;
    if (!save_rc && !s.pump_rc) {
        s.pump_rc = s.enc->finish(s.enc->opaque, ch);
        stats->wire_bytes = load64(&ch->stream_bytes) - s.wire_base;
        if (s.pump_rc)
            LOGEV(ERROR, -s.pump_rc, "cannot finish the migration stream");
    } else if (s.enc->abort) {
        s.enc->abort(s.enc->opaque, ch, save_rc ? save_rc : s.pump_rc);
    }
    stats->stream_end_ns = mig_now_ns();
    emit(&s, MIG_EV_STREAM_DONE, NULL, 0);
    if (save_rc) {
        fprintf(stderr, "migration sender: domain save failed (rc=%d)\n",
                save_rc);
        rc = save_rc;
        if (save_rc == MIG_ESUSPEND)
            goto failed_suspend;
        goto failed_resume;
    }
    if (s.pump_rc) {
        rc = s.pump_rc;
        goto failed_resume;
    }
    rc = s.fault_rc ? s.fault_rc : fault_point(FAULT_STOP_AND_COPY, 0);
    if (rc)
        goto failed_resume;
    /* capabilities sent late (a loaded receiver) must not be taken for
     * the "ready" message: wait for the first back-channel bytes */
    check_caps_wait(&s, o->ready_timeout_ms);

    rc = xlproto_read_fixed(&x, 1, xlproto_ready, XLPROTO_READY_BYTES,
                            "ready message", o->ready_timeout_ms);
    if (rc)
        goto failed_resume;
    stats->ready_ns = mig_now_ns();
    rc = fault_point(FAULT_AFTER_READY, 0);
    if (rc)
        goto failed_resume;

    fprintf(stderr, "migration sender: Target has acknowledged transfer.\n");
    if (o->name) {
        if (asprintf(&away, "%s--migratedaway", o->name) < 0) {
            away = NULL;
            rc = -ENOMEM;
            goto failed_resume;
        }
        rc = ops->rename(be, o->name, away);
        if (rc)
            goto failed_resume;
    }

    /* point of no return: once GO may have reached the target, resuming
     * here could run the guest twice */
    /* i10: GO_SENT is durable before any GO byte leaves; GO carries the
     * migration's uuid and epoch to a journaling target */
    if (o->once) {
        rc = o->once->journal(o->once->opaque, JOURNAL_GO_SENT);
        if (rc) {
            if (o->name)
                ops->rename(be, away, o->name);
            goto failed_resume;
        }
    }
    once_ok = once_ok && (stats->peer_caps & XLPROTO_CAP_ONCE_V1) &&
              xlproto_once_encode(goext, XLPROTO_GOEXT_MAGIC, o->once->uuid,
                                  o->once->epoch);
    fprintf(stderr, "migration sender: Giving target permission to start.\n");
    rc = xlproto_write_msg(&x, 0, xlproto_go, XLPROTO_GO_BYTES, "GO message",
                           WRITE_TIMEOUT_MS);
    if (!rc && once_ok)
        rc = xlproto_write_msg(&x, 0, goext, sizeof(goext), "GO identity",
                               WRITE_TIMEOUT_MS);
    if (!rc)
        rc = fault_point(FAULT_AFTER_GO, 0);
    if (rc)
        goto failed_badly;
    rc = xlproto_read_fixed(&x, 1, xlproto_report, XLPROTO_REPORT_BYTES,
                            "success/failure report message",
                            o->report_timeout_ms);
    if (rc)
        goto failed_badly;
    rc = xlproto_read_byte(&x, 1, &status, "success/failure status",
                           o->report_timeout_ms);
    if (!rc)
        rc = fault_point(FAULT_AFTER_REPORT, 0);
    if (rc)
        goto failed_badly;
    stats->report_ns = mig_now_ns();

    if (status) {
        fprintf(stderr,
                "migration sender: Target reports startup failure "
                "(status code %d).\n",
                (int)(int8_t)status);
        rc = xlproto_read_fixed(&x, 1, xlproto_go, XLPROTO_GO_BYTES,
                                "permission for sender to resume",
                                o->report_timeout_ms);
        if (rc)
            goto failed_badly;
        fprintf(stderr, "migration sender: Trying to resume at our end.\n");
        if (o->name)
            ops->rename(be, away, o->name);
        if (!ops->resume(be))
            fprintf(stderr, "migration sender: Resumed OK.\n");
        if (o->once)
            o->once->journal(o->once->opaque, JOURNAL_ABORTED);
        fprintf(stderr, "Migration failed due to problems at target.\n");
        rc = -EREMOTEIO;
        goto out;
    }

    fprintf(stderr, "migration sender: Target reports successful startup.\n");
    if (o->once)
        o->once->journal(o->once->opaque, JOURNAL_DONE);
    ops->destroy(be); /* bang! */
    fprintf(stderr, "Migration successful.\n");
    read_peer_phases(&x, stats);
    rc = 0;
    goto out;

failed_preamble:
    /* xl exits here without touching the domain */
    ch->ops->shutdown_send(ch);
    if (o->once)
        o->once->journal(o->once->opaque, JOURNAL_ABORTED);
    goto out;

failed_suspend:
    ch->ops->shutdown_send(ch);
    fprintf(stderr, "Migration failed, failed to suspend at sender.\n");
    if (o->once)
        o->once->journal(o->once->opaque, JOURNAL_ABORTED);
    goto out;

failed_resume:
    ch->ops->shutdown_send(ch);
    fprintf(stderr, "Migration failed, resuming at sender.\n");
    ops->resume(be);
    if (o->once)
        o->once->journal(o->once->opaque, JOURNAL_ABORTED);
    goto out;

failed_badly:
    ch->ops->shutdown_send(ch);
    if (once_ok && o->once->query) {
        /* i10: resolve the in-doubt window through a journaling target */
        if (!resolve_in_doubt(o, ops, be, away, &resumed)) {
            if (resumed) {
                fprintf(stderr, "Migration failed, resumed at sender after "
                                "the target's answer.\n");
                rc = -EREMOTEIO;
            } else {
                fprintf(stderr, "Migration successful (confirmed by the "
                                "target after the report was lost).\n");
                rc = 0;
            }
            goto out;
        }
    }
    print_failed_badly();

out:
    if (pump_started) {
        if (pipefd[1] >= 0)
            close(pipefd[1]);
        pthread_join(pump, NULL);
    }
    stats->end_ns = mig_now_ns();
    emit(&s, MIG_EV_DONE, NULL, rc);
    free(away);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

/* ---------------------------------------------------------- receiver */

struct recv_pump {
    struct channel *ch;
    struct xlproto_ctx *x;
    const struct stream_decoder *dec;
    int out_fd; /* write end of the pipe to libxl; closed by the pump */
    int timeout_ms;
    int rc;
    uint64_t end_ns; /* the last stream byte was read (blackout phases) */
};

/* channel -> decoder -> pipe (libxl reads the original stream). */
static void *recv_pump_main(void *arg)
{
    struct recv_pump *p = arg;
    uint8_t *buf = malloc(PUMP_BUF_BYTES);
    size_t used;
    ssize_t n;
    int rc = 0;

    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    rc = p->dec->begin(p->dec->opaque, p->out_fd);
    while (!rc && !p->dec->done(p->dec->opaque)) {
        n = p->ch->ops->read(p->ch, 0, buf, PUMP_BUF_BYTES, p->timeout_ms);
        if (n < 0) {
            rc = (int)n;
            LOGEV(ERROR, -rc, "cannot read the migration stream");
            break;
        }
        if (n == 0) {
            rc = p->dec->finish(p->dec->opaque);
            if (!rc)
                rc = -EPIPE;
            break;
        }
        used = 0;
        rc = p->dec->feed(p->dec->opaque, buf, (size_t)n, &used);
        if (rc)
            break;
        if (used < (size_t)n)
            rc = xlproto_stash_stream(p->x, buf + used, (size_t)n - used);
    }
    if (rc)
        LOG(ERROR, "decoding the migration stream failed (rc=%d)", rc);
    p->end_ns = mig_now_ns();
out:
    free(buf);
    /* end of the original stream for libxl (EOF on error) */
    close(p->out_fd);
    p->out_fd = -1;
    p->rc = rc;
    return NULL;
}

/* 1 once fd (the pump's pipe) has a byte to read, 0 at EOF without one */
static int recv_stream_started(int fd)
{
    struct pollfd pf = { .fd = fd, .events = POLLIN };

    /* the pump's read timeout bounds the wait: it closes the pipe */
    while (poll(&pf, 1, -1) < 0)
        if (errno != EINTR)
            return 1;
    return (pf.revents & POLLIN) != 0;
}

int mig_receive(const struct mig_recv_opts *o, const struct mig_dst_ops *ops,
                void *be, struct channel *ch)
{
    struct xlproto_ctx x;
    struct xlproto_header h = { 0 };
    uint8_t caps[XLPROTO_CAPS_HDR_BYTES + XLPROTO_CAPS_MAX_PAYLOAD];
    uint32_t domid = 0;
    char *name = NULL, *incoming = NULL;
    int rc, rc2, have_domain = 0, got_go = 0, use_dec = 0;
    int pipefd[2] = { -1, -1 };
    struct recv_pump pump = { 0 };
    pthread_t pump_thread;
    uint8_t status;
    size_t n;
    /* blackout phases for an xlmig sender (engine/cost.h) */
    uint8_t phases[COST_PEER_BYTES];
    struct cost_peer_times pt = { 0 };
    uint64_t t_restore = 0, t_built = 0, t_go = 0;
    /* i10: exactly-once */
    const struct mig_once_dst *once = o->once;
    int once_active = 0;
    uint8_t goext[XLPROTO_ONCE_BYTES];
    char go_uuid[XLPROTO_ONCE_UUID_CHARS + 1];
    uint64_t go_epoch;

    xlproto_ctx_init(&x, ch, 0, NULL);
    /* a vanished sender must be an error, not a signal */
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "migration target: Ready to receive domain.\n");
    rc = xlproto_write_msg(&x, 1, xlproto_banner, XLPROTO_BANNER_BYTES,
                           "banner", WRITE_TIMEOUT_MS);
    if (rc)
        goto out;
    rc = xlproto_recv_header(&x, &h, o->header_timeout_ms);
    if (rc)
        goto creation_failed;
    if (h.is_query) {
        /* i10: a source in doubt asks what became of its migration */
        uint8_t ans[XLPROTO_ANSWER_BYTES];
        enum journal_answer a = JOURNAL_ANS_UNKNOWN;

        if (!once || once->answer(once->opaque, h.once_uuid, h.once_epoch, &a))
            a = JOURNAL_ANS_UNKNOWN;
        fprintf(stderr, "migration target: query about %s (epoch %llu): %s\n",
                h.once_uuid, (unsigned long long)h.once_epoch,
                journal_answer_name(a));
        memcpy(ans, XLPROTO_ANSWER_MAGIC, 8);
        ans[8] = (uint8_t)a;
        rc = xlproto_write_msg(&x, 1, ans, sizeof(ans), "query answer",
                               WRITE_TIMEOUT_MS);
        goto out;
    }
    if (once && h.has_once) {
        rc = once->begin(once->opaque, h.once_uuid, h.once_epoch,
                         (const char *)h.config);
        if (rc)
            goto creation_failed;
        once_active = 1;
    }
    if (!rc)
        rc = fault_point(FAULT_RECV_CONFIG, 0);
    if (rc)
        goto creation_failed;
    if (h.optional_flags & XLPROTO_OPTFLAG_XLMIG) {
        uint8_t ext[XLPROTO_CAPS_EXT_MAX];
        size_t ext_len = o->caps_ext
                             ? o->caps_ext(o->caps_ext_opaque, h.optional_flags,
                                           ext, sizeof(ext))
                             : 0;

        n = xlproto_caps_encode_ext(caps, sizeof(caps),
                                    (o->dec ? o->dec->caps : 0) |
                                        XLPROTO_CAP_PHASES |
                                        (once_active ? XLPROTO_CAP_ONCE_V1 : 0),
                                    ext, ext_len <= sizeof(ext) ? ext_len : 0);
        rc =
            xlproto_write_msg(&x, 1, caps, n, "capabilities", WRITE_TIMEOUT_MS);
        if (rc)
            goto out;
        use_dec = o->dec != NULL;
    }

    t_restore = mig_now_ns();
    if (!use_dec) {
        /* stock stream: libxl reads the channel directly, as with xl */
        rc = ops->restore(be, (const char *)h.config, ch->stream_fd,
                          ch->back_fd, &domid, &name);
    } else {
        if (pipe2(pipefd, O_CLOEXEC)) {
            rc = -errno;
            goto creation_failed;
        }
        fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
        pump.ch = ch;
        pump.x = &x;
        pump.dec = o->dec;
        pump.out_fd = pipefd[1];
        pump.timeout_ms = o->header_timeout_ms;
        rc = pthread_create(&pump_thread, NULL, recv_pump_main, &pump);
        if (rc) {
            rc = -rc;
            close(pipefd[0]);
            close(pipefd[1]);
            goto creation_failed;
        }
        /* libxl (4.17) crashes on a stream that ends before its first
         * byte: a sender that failed after the config never reaches it */
        if (!recv_stream_started(pipefd[0])) {
            close(pipefd[0]);
            pthread_join(pump_thread, NULL);
            rc = pump.rc ? pump.rc : -EPIPE;
            fprintf(stderr, "migration target: the stream ended before "
                            "its first record; no domain created.\n");
            goto creation_failed;
        }
        rc = ops->restore(be, (const char *)h.config, pipefd[0], ch->back_fd,
                          &domid, &name);
        /* unblock a pump still writing (restore failed early) */
        close(pipefd[0]);
        pthread_join(pump_thread, NULL);
        if (!rc && pump.rc) {
            /* libxl got a whole stream but the decoder did not end
             * cleanly: never start this copy */
            ops->destroy(be, domid);
            free(name);
            name = NULL;
            rc = pump.rc;
        }
    }
    if (rc)
        goto creation_failed;
    t_built = mig_now_ns();
    pt.restore_ns = t_built - t_restore;
    if (use_dec && pump.end_ns && pump.end_ns <= t_built)
        pt.restore_tail_ns = t_built - pump.end_ns;
    have_domain = 1;
    if (name && asprintf(&incoming, "%s--incoming", name) < 0) {
        incoming = NULL;
        rc = -ENOMEM;
        goto notify;
    }

    rc = fault_point(FAULT_RECV_RESTORED, 0);
    if (!rc && once_active)
        rc = once->journal(once->opaque, JOURNAL_READY, domid, name);
    if (rc)
        goto destroy_unstarted;
    fprintf(stderr, "migration target: Transfer complete, requesting "
                    "permission to start domain.\n");
    rc = xlproto_write_msg(&x, 1, xlproto_ready, XLPROTO_READY_BYTES,
                           "ready message", WRITE_TIMEOUT_MS);
    if (!rc)
        rc = fault_point(FAULT_RECV_AFTER_READY, 0);
    if (rc)
        goto destroy_unstarted;
    rc = xlproto_read_fixed(&x, 0, xlproto_go, XLPROTO_GO_BYTES, "GO message",
                            o->go_timeout_ms);
    if (rc)
        goto notify;
    if (once_active) {
        /* i10: never unpause without this migration's uuid and epoch */
        rc = xlproto_read_bytes(&x, 0, goext, sizeof(goext), "GO identity",
                                o->go_timeout_ms);
        if (!rc && (xlproto_once_decode(goext, XLPROTO_GOEXT_MAGIC, go_uuid,
                                        &go_epoch) ||
                    strcmp(go_uuid, h.once_uuid) || go_epoch != h.once_epoch)) {
            fprintf(stderr, "migration target: GO does not carry this "
                            "migration's uuid and epoch; not starting.\n");
            rc = -EPROTO;
        }
        if (rc)
            goto notify;
    }
    got_go = 1;
    t_go = mig_now_ns();
    rc = fault_point(FAULT_RECV_AFTER_GO, 0);
    if (!rc && once_active) {
        /* durable before the guest can run; -ESTALE: a query fenced us */
        rc = once->journal(once->opaque, JOURNAL_RUNNING, domid, name);
        if (rc == -ESTALE)
            fprintf(stderr,
                    "migration target: migration %s was aborted by "
                    "a query of the source; not starting.\n",
                    h.once_uuid);
    }
    if (rc)
        goto notify;
    fprintf(stderr, "migration target: Got permission, starting domain.\n");
    if (name) {
        rc = ops->rename(be, domid, incoming, name);
        if (rc)
            goto notify;
    }
    if (!o->pause_after) {
        rc = ops->unpause(be, domid);
        if (rc)
            goto notify;
    }
    pt.unpause_ns = mig_now_ns() - t_go;
    fprintf(stderr, "migration target: Domain started successsfully.\n");
    rc = fault_point(FAULT_RECV_BEFORE_REPORT, 0);

notify:
    status = rc ? (uint8_t)(rc < 0 ? -rc : rc) : 0;
    if (rc && !status)
        status = 1;
    rc2 = xlproto_write_msg(&x, 1, xlproto_report, XLPROTO_REPORT_BYTES,
                            "success/failure report", WRITE_TIMEOUT_MS);
    if (!rc2)
        rc2 = xlproto_write_msg(&x, 1, &status, 1, "success/failure code",
                                WRITE_TIMEOUT_MS);
    if (!rc2)
        fault_point(FAULT_RECV_AFTER_REPORT, 0);
    if (!rc2 && !rc && once_active)
        once->journal(once->opaque, JOURNAL_DONE, domid, name);
    if (rc2 && !got_go)
        goto destroy_unstarted;
    if (rc2) {
        /* after GO the sender is waiting for this report: as xl, keep
         * the domain; its state is for the administrator to resolve */
        rc = rc2;
        goto out;
    }
    if (!rc && (h.optional_flags & XLPROTO_OPTFLAG_XLMIG)) {
        /* an xlmig sender reads our part of the blackout (it saw
         * XLPROTO_CAP_PHASES); an older one has closed: ignore errors */
        cost_peer_encode(phases, &pt);
        xlproto_write_msg(&x, 1, phases, sizeof(phases), "blackout phases",
                          5000);
    }
    if (rc) {
        fprintf(stderr, "migration target: Failure, destroying our copy.\n");
        rc2 = ops->destroy(be, domid);
        have_domain = 0;
        if (!rc2 && once_active)
            once->journal(once->opaque, JOURNAL_ABORTED, domid, name);
        if (rc2) {
            fprintf(stderr,
                    "migration target: Failed to destroy our copy "
                    "(code %d).\n",
                    rc2);
            goto out;
        }
        fprintf(stderr, "migration target: Cleanup OK, granting sender "
                        "permission to resume.\n");
        xlproto_write_msg(&x, 1, xlproto_go, XLPROTO_GO_BYTES,
                          "permission to sender to have domain back",
                          WRITE_TIMEOUT_MS);
    }
    goto out;

destroy_unstarted:
    /* the sender never gave GO (or cannot hear us): this copy never ran
     * and the source resumes, so it must not stay behind */
    if (have_domain && !got_go) {
        fprintf(stderr, "migration target: Transfer not acknowledged, "
                        "destroying our copy.\n");
        ops->destroy(be, domid);
        have_domain = 0;
    }
    if (once_active)
        once->journal(once->opaque, JOURNAL_ABORTED, domid, name);
    if (!rc)
        rc = -EPIPE;
    goto out;

creation_failed:
    fprintf(stderr, "migration target: Domain creation failed (code %d).\n",
            rc);
    if (once_active)
        once->journal(once->opaque, JOURNAL_ABORTED, domid, name);

out:
    xlproto_header_dispose(&h);
    free(name);
    free(incoming);
    return rc;
}
