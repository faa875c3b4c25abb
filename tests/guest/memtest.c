/* SPDX-License-Identifier: MIT */
/*
 * memtest: the memory-integrity workload of the test guest.
 *
 * It runs as a process in the busybox initramfs of the nested-Xen test guest
 * (built static) and, for the host-side test, on the build machine.  It
 *
 *  - holds mt_mb MiB of anonymous memory (populated, locked if possible),
 *    every 4 KiB page filled with a pattern keyed by (seed, page, gen):
 *    word 0 = page index, word 1 = generation, word 2 = seed, the rest a
 *    splitmix64 stream.  The generation array lives outside the checked
 *    pages: it is the expected state;
 *  - dirties mt_rate pages/s (0 = idle) picked from the first mt_hot pages
 *    (0 = all), bumping the page's generation and rewriting the page;
 *  - keeps a heartbeat every ~2 ms and tracks the largest gap between
 *    consecutive beats: the blackout the guest itself observed;
 *  - answers a line protocol on TCP port 7000 (see mt_handle_line()).
 *
 * Parameters come from the kernel command line (mt_mb= mt_rate= mt_hot=
 * mt_seed=, read from /proc/cmdline) and then from argv, which wins.
 * "MEMTEST-UP pages=N port=P" on stdout says the memory is filled and the
 * port is listening.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "memtest: "
#include "common/log.h"

/* Xen's page size, whatever the host's: the pattern does not depend on it. */
#define MT_PAGE_BYTES     4096u
#define MT_PAGE_WORDS     (MT_PAGE_BYTES / sizeof(uint64_t))
#define MT_MAX_MB         65536ull
#define MT_MAX_RATE_PPS   10000000ull
#define MT_LINE_BYTES     256
#define MT_BEAT_NS        2000000ll
#define MT_BIG_GAP_NS     50000000ll
#define MT_TICK_NS        5000000ll
#define MT_CLIENT_IDLE_MS 60000
#define MT_NSEC_PER_SEC   1000000000ll

/*
 * Which clock shows the blackout.  During a live migration (or save and
 * restore) Linux's Xen suspend path (drivers/xen/manage.c) freezes user
 * space, calls syscore_suspend() and HYPERVISOR_suspend(); on the target
 * timekeeping_resume() adds the time spent suspended, read off Xen's wall
 * clock (the persistent clock), to CLOCK_REALTIME and CLOCK_BOOTTIME only,
 * and re-bases CLOCK_MONOTONIC so that it does not advance across the
 * suspension.  A CLOCK_MONOTONIC heartbeat therefore sees only the freeze
 * and thaw around the blackout, not the blackout.  CLOCK_BOOTTIME includes
 * it and, unlike CLOCK_REALTIME, is never stepped by settimeofday(), so
 * max_gap_ms is measured on CLOCK_BOOTTIME.  The two others are tracked as
 * well (max_gap_mono_ms, max_gap_real_ms) so that a run shows the
 * difference instead of trusting this comment; REALTIME and BOOTTIME carry
 * the error of the two hosts' wall clocks relative to each other.
 */
enum mt_clock {
    MT_CLK_BOOT = 0,
    MT_CLK_MONO = 1,
    MT_CLK_REAL = 2,
    MT_CLK_NR = 3,
};

static const clockid_t mt_clock_ids[MT_CLK_NR] = {
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
};

struct mt_config {
    uint64_t mb;
    uint64_t rate_pps;
    uint64_t hot_pages;
    uint64_t seed;
    unsigned int port;
    const char *bind_addr;
    const char *cmdline_path;
    int test_hooks;
};

struct mt_heartbeat {
    pthread_mutex_t lock;
    int64_t prev_ns[MT_CLK_NR];
    int64_t max_gap_ns[MT_CLK_NR];
    int64_t last_gap_ns;     /* CLOCK_BOOTTIME, between the last 2 beats */
    int64_t last_big_gap_ns; /* most recent gap > MT_BIG_GAP_NS */
    int64_t last_big_at_ns;  /* when it ended, CLOCK_BOOTTIME */
    uint64_t big_gaps;
    uint64_t beats;
};

struct mt_state {
    struct mt_config cfg;
    uint64_t *mem; /* pages * MT_PAGE_WORDS words, mmap'ed */
    size_t mem_bytes;
    size_t pages;
    uint32_t *gen;            /* expected generation of every page */
    int locked;               /* mlock() succeeded */
    pthread_mutex_t mem_lock; /* held by the dirtier per batch, by verify */
    _Atomic uint64_t rate_pps;
    _Atomic uint64_t rate_epoch; /* bumped by "rate N" */
    _Atomic uint64_t dirtied_pages;
    uint64_t verifies;
    int64_t last_verify_ns;
    int64_t start_ns; /* CLOCK_BOOTTIME */
    struct mt_heartbeat hb;
    int listen_fd;
};

static volatile sig_atomic_t mt_stop;

static int64_t mt_now_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * MT_NSEC_PER_SEC + ts.tv_nsec;
}

static void mt_sleep_ns(int64_t ns)
{
    struct timespec ts = {
        .tv_sec = ns / MT_NSEC_PER_SEC,
        .tv_nsec = ns % MT_NSEC_PER_SEC,
    };

    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

static uint64_t mt_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t mt_page_key(uint64_t seed, uint64_t page, uint32_t gen)
{
    uint64_t s = seed;
    uint64_t k = mt_splitmix64(&s);

    s = k ^ (page * 0xc2b2ae3d27d4eb4full);
    k = mt_splitmix64(&s);
    s = k ^ ((uint64_t)gen * 0x165667b19e3779f9ull);
    return mt_splitmix64(&s);
}

static void mt_fill_page(uint64_t *w, uint64_t seed, uint64_t page,
                         uint32_t gen)
{
    uint64_t s = mt_page_key(seed, page, gen);
    size_t i;

    w[0] = page;
    w[1] = gen;
    w[2] = seed;
    for (i = 3; i < MT_PAGE_WORDS; i++)
        w[i] = mt_splitmix64(&s);
}

/* Index of the first word that differs from the expected pattern, or -1. */
static long mt_check_page(const uint64_t *w, uint64_t seed, uint64_t page,
                          uint32_t gen, uint64_t *want_r)
{
    uint64_t s = mt_page_key(seed, page, gen);
    uint64_t want;
    size_t i;

    if (w[0] != page) {
        *want_r = page;
        return 0;
    }
    if (w[1] != gen) {
        *want_r = gen;
        return 1;
    }
    if (w[2] != seed) {
        *want_r = seed;
        return 2;
    }
    for (i = 3; i < MT_PAGE_WORDS; i++) {
        want = mt_splitmix64(&s);
        if (w[i] != want) {
            *want_r = want;
            return (long)i;
        }
    }
    return -1;
}

static uint64_t *mt_page(struct mt_state *mt, size_t page)
{
    return mt->mem + page * MT_PAGE_WORDS;
}

/* ---------------------------------------------------------- heartbeat */

static void *mt_heartbeat_main(void *opaque)
{
    struct mt_state *mt = opaque;
    struct mt_heartbeat *hb = &mt->hb;
    struct sched_param sp = { .sched_priority = 1 };
    int64_t now[MT_CLK_NR], gap;
    int c, rc;

    /* Best effort: keep the beat regular while verify hogs the vCPU. */
    rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (rc)
        LOGEV(DEBUG, rc, "heartbeat stays SCHED_OTHER");

    while (!mt_stop) {
        mt_sleep_ns(MT_BEAT_NS);
        for (c = 0; c < MT_CLK_NR; c++)
            now[c] = mt_now_ns(mt_clock_ids[c]);
        pthread_mutex_lock(&hb->lock);
        for (c = 0; c < MT_CLK_NR; c++) {
            gap = now[c] - hb->prev_ns[c];
            if (gap > hb->max_gap_ns[c])
                hb->max_gap_ns[c] = gap;
            hb->prev_ns[c] = now[c];
            if (c == MT_CLK_BOOT) {
                hb->last_gap_ns = gap;
                if (gap > MT_BIG_GAP_NS) {
                    hb->big_gaps++;
                    hb->last_big_gap_ns = gap;
                    hb->last_big_at_ns = now[c];
                }
            }
        }
        hb->beats++;
        pthread_mutex_unlock(&hb->lock);
    }
    return NULL;
}

static void mt_heartbeat_reset(struct mt_heartbeat *hb)
{
    int c;

    pthread_mutex_lock(&hb->lock);
    for (c = 0; c < MT_CLK_NR; c++)
        hb->max_gap_ns[c] = 0;
    hb->big_gaps = 0;
    hb->last_big_gap_ns = 0;
    hb->last_big_at_ns = 0;
    pthread_mutex_unlock(&hb->lock);
}

/* ------------------------------------------------------------ dirtier */

static void mt_dirty_one(struct mt_state *mt, uint64_t *rng)
{
    uint64_t span = mt->cfg.hot_pages ? mt->cfg.hot_pages : mt->pages;
    size_t page = (size_t)(mt_splitmix64(rng) % span);

    mt->gen[page]++;
    mt_fill_page(mt_page(mt, page), mt->cfg.seed, page, mt->gen[page]);
}

/*
 * Paced by the clock: at every tick, dirty as many pages as the rate asks
 * for since the epoch.  After a stall (a blackout) at most 50 ms of backlog
 * is made up, so a resumed guest does not burst.
 */
static void *mt_dirtier_main(void *opaque)
{
    struct mt_state *mt = opaque;
    uint64_t rng = mt->cfg.seed ^ 0x6a09e667f3bcc909ull;
    uint64_t epoch = UINT64_MAX, rate = 0, done = 0, due, cap, i;
    int64_t epoch_ns = 0, elapsed_ns;

    while (!mt_stop) {
        if (atomic_load(&mt->rate_epoch) != epoch) {
            epoch = atomic_load(&mt->rate_epoch);
            rate = atomic_load(&mt->rate_pps);
            epoch_ns = mt_now_ns(CLOCK_MONOTONIC);
            done = 0;
        }
        if (!rate) {
            mt_sleep_ns(4 * MT_TICK_NS);
            continue;
        }
        elapsed_ns = mt_now_ns(CLOCK_MONOTONIC) - epoch_ns;
        due = (uint64_t)((__int128)elapsed_ns * rate / MT_NSEC_PER_SEC);
        cap = rate / 20 + 1;
        if (due > done + cap)
            done = due - cap;
        if (due > done) {
            pthread_mutex_lock(&mt->mem_lock);
            for (i = done; i < due; i++)
                mt_dirty_one(mt, &rng);
            pthread_mutex_unlock(&mt->mem_lock);
            atomic_fetch_add(&mt->dirtied_pages, due - done);
            done = due;
        }
        mt_sleep_ns(MT_TICK_NS);
    }
    return NULL;
}

/* ---------------------------------------------------------- protocol */

static int mt_parse_u64(const char *s, uint64_t max, uint64_t *out_r)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out_r = v;
    return 0;
}

static void mt_verify(struct mt_state *mt, char *out, size_t out_bytes)
{
    uint64_t want = 0, bad_pages = 0;
    size_t p, first = 0;
    long word, first_word = -1;
    int64_t t0;

    t0 = mt_now_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&mt->mem_lock);
    for (p = 0; p < mt->pages; p++) {
        uint64_t w;

        word = mt_check_page(mt_page(mt, p), mt->cfg.seed, p, mt->gen[p], &w);
        if (word < 0)
            continue;
        if (!bad_pages++) {
            first = p;
            first_word = word;
            want = w;
        }
    }
    if (bad_pages)
        snprintf(out, out_bytes,
                 "bad page %zu gen %" PRIu32 " word %ld want 0x%016" PRIx64
                 " got 0x%016" PRIx64 " bad_pages=%" PRIu64,
                 first, mt->gen[first], first_word, want,
                 mt_page(mt, first)[first_word], bad_pages);
    else
        snprintf(out, out_bytes, "ok %zu pages", mt->pages);
    mt->verifies++;
    pthread_mutex_unlock(&mt->mem_lock);
    mt->last_verify_ns = mt_now_ns(CLOCK_MONOTONIC) - t0;
}

static void mt_stats(struct mt_state *mt, char *out, size_t out_bytes)
{
    struct mt_heartbeat *hb = &mt->hb;
    int64_t max_gap[MT_CLK_NR], last_gap, big_gap, big_at, now;
    uint64_t big_gaps, beats;
    int c;

    pthread_mutex_lock(&hb->lock);
    for (c = 0; c < MT_CLK_NR; c++)
        max_gap[c] = hb->max_gap_ns[c];
    last_gap = hb->last_gap_ns;
    big_gap = hb->last_big_gap_ns;
    big_at = hb->last_big_at_ns;
    big_gaps = hb->big_gaps;
    beats = hb->beats;
    pthread_mutex_unlock(&hb->lock);
    now = mt_now_ns(CLOCK_BOOTTIME);

    snprintf(out, out_bytes,
             "pages=%zu page_bytes=%u rate=%" PRIu64 " hot=%" PRIu64
             " seed=%" PRIu64 " dirtied=%" PRIu64 " verifies=%" PRIu64
             " last_verify_ms=%.3f max_gap_ms=%.3f last_gap_ms=%.3f"
             " max_gap_mono_ms=%.3f max_gap_real_ms=%.3f big_gaps=%" PRIu64
             " last_big_gap_ms=%.3f last_big_gap_ago_ms=%.3f beats=%" PRIu64
             " uptime_ms=%" PRId64 " locked=%d",
             mt->pages, MT_PAGE_BYTES, atomic_load(&mt->rate_pps),
             mt->cfg.hot_pages ? mt->cfg.hot_pages : (uint64_t)mt->pages,
             mt->cfg.seed, atomic_load(&mt->dirtied_pages), mt->verifies,
             mt->last_verify_ns / 1e6, max_gap[MT_CLK_BOOT] / 1e6,
             last_gap / 1e6, max_gap[MT_CLK_MONO] / 1e6,
             max_gap[MT_CLK_REAL] / 1e6, big_gaps, big_gap / 1e6,
             big_gaps ? (now - big_at) / 1e6 : 0.0, beats,
             (now - mt->start_ns) / 1000000, mt->locked);
}

/* MemTotal and MemAvailable of /proc/meminfo in KiB; -1 when unknown. */
static void mt_meminfo(int64_t *total_kib_r, int64_t *avail_kib_r)
{
    char line[128];
    long long v;
    FILE *f;

    *total_kib_r = *avail_kib_r = -1;
    f = fopen("/proc/meminfo", "re");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemTotal: %lld kB", &v) == 1)
            *total_kib_r = v;
        else if (sscanf(line, "MemAvailable: %lld kB", &v) == 1)
            *avail_kib_r = v;
    }
    fclose(f);
}

/* What the guest has: kernel release and memory, for the logs. */
static void mt_info(char *out, size_t out_bytes)
{
    struct utsname u;
    int64_t total_kib, avail_kib;

    if (uname(&u))
        snprintf(u.release, sizeof(u.release), "?");
    mt_meminfo(&total_kib, &avail_kib);
    snprintf(out, out_bytes,
             "kernel=%s mem_total_kib=%" PRId64 " mem_avail_kib=%" PRId64,
             u.release, total_kib, avail_kib);
}

/*
 * One request line (NUL-terminated, no newline) -> one reply line in out.
 * Returns 1 when the client asked to close the connection.
 *
 *   ping        pong
 *   verify      ok N pages | bad page P gen G word W want X got Y bad_pages=K
 *               (the dirtier is paused while the pages are checked)
 *   stats       key=value ... (see mt_stats())
 *   info        kernel=... mem_total_kib=... mem_avail_kib=...
 *   reset       ok; forgets the largest heartbeat gaps
 *   rate N      ok; dirty N pages/s from now on
 *   quit        bye, then the connection closes
 *   corrupt P [B]  ok; flips byte B (default 2048) of page P (--test-hooks)
 * Anything else: "error ...".
 */
static int mt_handle_line(struct mt_state *mt, char *line, char *out,
                          size_t out_bytes)
{
    char *arg;
    uint64_t v, off = MT_PAGE_BYTES / 2;

    arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';

    if (!strcmp(line, "ping") && !arg) {
        snprintf(out, out_bytes, "pong");
    } else if (!strcmp(line, "verify") && !arg) {
        mt_verify(mt, out, out_bytes);
    } else if (!strcmp(line, "stats") && !arg) {
        mt_stats(mt, out, out_bytes);
    } else if (!strcmp(line, "reset") && !arg) {
        mt_heartbeat_reset(&mt->hb);
        snprintf(out, out_bytes, "ok");
    } else if (!strcmp(line, "rate") && arg) {
        if (mt_parse_u64(arg, MT_MAX_RATE_PPS, &v)) {
            snprintf(out, out_bytes, "error bad rate (0..%llu pages/s)",
                     MT_MAX_RATE_PPS);
        } else {
            atomic_store(&mt->rate_pps, v);
            atomic_fetch_add(&mt->rate_epoch, 1);
            snprintf(out, out_bytes, "ok");
        }
    } else if (!strcmp(line, "info") && !arg) {
        mt_info(out, out_bytes);
    } else if (!strcmp(line, "quit") && !arg) {
        snprintf(out, out_bytes, "bye");
        return 1;
    } else if (mt->cfg.test_hooks && !strcmp(line, "corrupt") && arg) {
        /* test hook: "corrupt PAGE [BYTE]" flips the bits of one byte */
        char *o = strchr(arg, ' ');

        if (o)
            *o++ = '\0';
        if (mt_parse_u64(arg, mt->pages - 1, &v) ||
            (o && mt_parse_u64(o, MT_PAGE_BYTES - 1, &off))) {
            snprintf(out, out_bytes, "error bad page or offset");
        } else {
            pthread_mutex_lock(&mt->mem_lock);
            ((unsigned char *)mt_page(mt, v))[off] ^= 0xff;
            pthread_mutex_unlock(&mt->mem_lock);
            snprintf(out, out_bytes, "ok");
        }
    } else {
        snprintf(out, out_bytes, "error unknown command");
    }
    return 0;
}

static int mt_send_line(int fd, const char *s)
{
    size_t len = strlen(s), done = 0;
    ssize_t n;

    while (done <= len) {
        const char *p = done < len ? s + done : "\n";
        size_t left = done < len ? len - done : 1;

        n = send(fd, p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -errno;
        done += (size_t)n;
    }
    return 0;
}

/*
 * Serve one client until it closes, says quit, idles too long or we stop.
 * Lines longer than MT_LINE_BYTES get one error reply and are dropped.
 */
static void mt_serve_client(struct mt_state *mt, int fd)
{
    char buf[MT_LINE_BYTES + 1], out[512], c;
    char chunk[512];
    size_t len = 0;
    int overlong = 0;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    ssize_t n, i;
    int rc, quit;

    while (!mt_stop) {
        rc = poll(&pfd, 1, MT_CLIENT_IDLE_MS);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return;
        n = recv(fd, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (i = 0; i < n; i++) {
            c = chunk[i];
            if (c != '\n') {
                if (len < MT_LINE_BYTES)
                    buf[len++] = c;
                else
                    overlong = 1;
                continue;
            }
            if (len && buf[len - 1] == '\r')
                len--;
            buf[len] = '\0';
            quit = 0;
            if (overlong)
                snprintf(out, sizeof(out), "error line too long");
            else if (memchr(buf, '\0', len))
                snprintf(out, sizeof(out), "error unknown command");
            else
                quit = mt_handle_line(mt, buf, out, sizeof(out));
            len = 0;
            overlong = 0;
            if (mt_send_line(fd, out) || quit)
                return;
        }
    }
}

static int mt_listen(struct mt_state *mt)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } a;
    socklen_t alen;
    int fd = -1, one = 1, rc;

    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, mt->cfg.bind_addr, &a.in4.sin_addr) == 1) {
        a.in4.sin_family = AF_INET;
        a.in4.sin_port = htons(mt->cfg.port);
        alen = sizeof(a.in4);
    } else if (inet_pton(AF_INET6, mt->cfg.bind_addr, &a.in6.sin6_addr) == 1) {
        a.in6.sin6_family = AF_INET6;
        a.in6.sin6_port = htons(mt->cfg.port);
        alen = sizeof(a.in6);
    } else {
        LOG(ERROR, "bad bind address '%s'", mt->cfg.bind_addr);
        rc = -EINVAL;
        goto out;
    }

    fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        LOGE(ERROR, "socket failed");
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, &a.sa, alen) || listen(fd, 8)) {
        rc = -errno;
        LOGE(ERROR, "cannot listen on %s port %u", mt->cfg.bind_addr,
             mt->cfg.port);
        goto out;
    }
    alen = sizeof(a);
    if (getsockname(fd, &a.sa, &alen)) {
        rc = -errno;
        LOGE(ERROR, "getsockname failed");
        goto out;
    }
    mt->cfg.port =
        ntohs(a.sa.sa_family == AF_INET ? a.in4.sin_port : a.in6.sin6_port);
    mt->listen_fd = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ------------------------------------------------------------- setup */

/* "mt_mb=N" and friends; other words are ignored (kernel command line). */
static int mt_parse_word(struct mt_config *cfg, const char *w)
{
    static const struct {
        const char *key;
        size_t off;
        uint64_t max;
    } keys[] = {
        { "mt_mb=", offsetof(struct mt_config, mb), MT_MAX_MB },
        { "mt_rate=", offsetof(struct mt_config, rate_pps), MT_MAX_RATE_PPS },
        { "mt_hot=", offsetof(struct mt_config, hot_pages),
          MT_MAX_MB * (1024 * 1024 / MT_PAGE_BYTES) },
        { "mt_seed=", offsetof(struct mt_config, seed), UINT64_MAX },
    };
    size_t i, klen;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        klen = strlen(keys[i].key);
        if (strncmp(w, keys[i].key, klen))
            continue;
        if (mt_parse_u64(w + klen, keys[i].max,
                         (uint64_t *)((char *)cfg + keys[i].off))) {
            LOG(ERROR, "bad value in '%s' (decimal, at most %" PRIu64 ")", w,
                keys[i].max);
            return -EINVAL;
        }
        return 0;
    }
    return 0;
}

static int mt_read_cmdline(struct mt_config *cfg, const char *path)
{
    char buf[4096], *w, *save = NULL;
    size_t n;
    FILE *f;
    int rc;

    f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        rc = -errno;
        LOGE(ERROR, "cannot read '%s'", path);
        return rc;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (w = strtok_r(buf, " \t\n", &save); w;
         w = strtok_r(NULL, " \t\n", &save)) {
        rc = mt_parse_word(cfg, w);
        if (rc)
            return rc;
    }
    return 0;
}

static void mt_usage(FILE *f)
{
    fprintf(f,
            "Usage: memtest [--mb N] [--rate PAGES_PER_S] [--hot PAGES] "
            "[--seed N]\n"
            "               [--port N] [--bind ADDR] [--cmdline FILE|none] "
            "[--test-hooks]\n"
            "               [mt_mb=N] [mt_rate=N] [mt_hot=N] [mt_seed=N]\n"
            "Defaults come from /proc/cmdline (mt_mb= mt_rate= mt_hot= "
            "mt_seed=), then\nargv.  Port 0 picks a free port; protocol on "
            "TCP: ping verify stats info\nreset rate N quit (and corrupt PAGE "
            "[BYTE] with --test-hooks).\n");
}

/* Parse argv in two passes: --cmdline first, so argv wins over it. */
static int mt_parse_args(struct mt_config *cfg, int argc, char **argv)
{
    uint64_t v;
    int i, rc;

    for (i = 1; i < argc - 1; i++)
        if (!strcmp(argv[i], "--cmdline"))
            cfg->cmdline_path = argv[i + 1];
    if (strcmp(cfg->cmdline_path, "none")) {
        rc = mt_read_cmdline(cfg, cfg->cmdline_path);
        if (rc)
            return rc;
    }

    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        char word[64];

        if (!strcmp(o, "--test-hooks")) {
            cfg->test_hooks = 1;
            continue;
        }
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            mt_usage(stdout);
            return 1;
        }
        if (!strncmp(o, "mt_", 3)) {
            rc = mt_parse_word(cfg, o);
            if (rc)
                return rc;
            continue;
        }
        if (!val || strncmp(o, "--", 2)) {
            LOG(ERROR, "bad argument '%s'", o);
            mt_usage(stderr);
            return -EINVAL;
        }
        i++;
        if (!strcmp(o, "--cmdline"))
            continue;
        if (!strcmp(o, "--bind")) {
            cfg->bind_addr = val;
            continue;
        }
        if (!strcmp(o, "--port")) {
            if (mt_parse_u64(val, 65535, &v)) {
                LOG(ERROR, "bad port '%s'", val);
                return -EINVAL;
            }
            cfg->port = (unsigned int)v;
            continue;
        }
        if (snprintf(word, sizeof(word), "mt_%s=%s", o + 2, val) >=
                (int)sizeof(word) ||
            (strcmp(o, "--mb") && strcmp(o, "--rate") && strcmp(o, "--hot") &&
             strcmp(o, "--seed"))) {
            LOG(ERROR, "bad argument '%s'", o);
            mt_usage(stderr);
            return -EINVAL;
        }
        rc = mt_parse_word(cfg, word);
        if (rc)
            return rc;
    }
    if (!cfg->mb) {
        LOG(ERROR, "mt_mb must be at least 1");
        return -EINVAL;
    }
    return 0;
}

static void mt_on_signal(int sig)
{
    mt_stop = 1;
}

static int mt_state_init(struct mt_state *mt)
{
    int64_t total_kib, avail_kib;
    size_t p;
    void *m;
    int rc;

    mt->pages = (size_t)mt->cfg.mb * (1024 * 1024 / MT_PAGE_BYTES);
    mt->mem_bytes = mt->pages * MT_PAGE_BYTES;
    if (mt->cfg.hot_pages > mt->pages) {
        LOG(WARN, "hot set of %" PRIu64 " pages capped to %zu",
            mt->cfg.hot_pages, mt->pages);
        mt->cfg.hot_pages = mt->pages;
    }
    /*
     * Refuse what the kernel cannot give: in a small guest the OOM killer
     * would otherwise end memtest with no word on the console.  8 MiB stay
     * for the kernel's own needs.
     */
    mt_meminfo(&total_kib, &avail_kib);
    if (avail_kib >= 0 && (int64_t)mt->cfg.mb * 1024 + 8192 > avail_kib) {
        rc = -ENOMEM;
        LOG(ERROR,
            "%" PRIu64 " MiB asked, only %" PRId64 " MiB available "
            "(MemTotal %" PRId64 " MiB): use a smaller mt_mb",
            mt->cfg.mb, avail_kib / 1024, total_kib / 1024);
        goto out;
    }
    mt->gen = calloc(mt->pages, sizeof(*mt->gen));
    if (!mt->gen) {
        rc = -ENOMEM;
        LOG(ERROR, "cannot allocate %zu generation counters", mt->pages);
        goto out;
    }
    m = mmap(NULL, mt->mem_bytes, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED) {
        rc = -errno;
        LOGE(ERROR, "cannot map %" PRIu64 " MiB", mt->cfg.mb);
        goto out;
    }
    mt->mem = m;
    if (mlock(mt->mem, mt->mem_bytes) == 0)
        mt->locked = 1;
    else
        LOGE(WARN, "mlock of %" PRIu64 " MiB failed, pages may be swapped",
             mt->cfg.mb);
    for (p = 0; p < mt->pages; p++)
        mt_fill_page(mt_page(mt, p), mt->cfg.seed, p, 0);
    atomic_store(&mt->rate_pps, mt->cfg.rate_pps);
    rc = 0;
out:
    return rc;
}

static void mt_state_dispose(struct mt_state *mt)
{
    if (mt->mem)
        munmap(mt->mem, mt->mem_bytes);
    mt->mem = NULL;
    free(mt->gen);
    mt->gen = NULL;
    if (mt->listen_fd >= 0)
        close(mt->listen_fd);
    mt->listen_fd = -1;
}

int main(int argc, char **argv)
{
    static struct mt_state mt = {
        .cfg = {
            .mb = 64,
            .seed = 1,
            .port = 7000,
            .bind_addr = "0.0.0.0",
            .cmdline_path = "/proc/cmdline",
        },
        .mem_lock = PTHREAD_MUTEX_INITIALIZER,
        .hb = { .lock = PTHREAD_MUTEX_INITIALIZER },
        .listen_fd = -1,
    };
    struct sigaction sa;
    sigset_t stop_sigs;
    pthread_t hb_thread, dirty_thread;
    int have_hb = 0, have_dirty = 0, fd, rc, c;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = mt_on_signal; /* no SA_RESTART: accept() returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = mt_parse_args(&mt.cfg, argc, argv);
    if (rc)
        goto out;
    rc = mt_state_init(&mt);
    if (rc)
        goto out;

    /* SIGTERM and SIGINT go to the main thread: they interrupt accept(). */
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);

    mt.start_ns = mt_now_ns(CLOCK_BOOTTIME);
    for (c = 0; c < MT_CLK_NR; c++)
        mt.hb.prev_ns[c] = mt_now_ns(mt_clock_ids[c]);
    rc = -pthread_create(&hb_thread, NULL, mt_heartbeat_main, &mt);
    if (rc) {
        LOGEV(ERROR, -rc, "cannot start the heartbeat thread");
        goto out;
    }
    have_hb = 1;
    rc = -pthread_create(&dirty_thread, NULL, mt_dirtier_main, &mt);
    if (rc) {
        LOGEV(ERROR, -rc, "cannot start the dirtier thread");
        goto out;
    }
    have_dirty = 1;
    pthread_sigmask(SIG_UNBLOCK, &stop_sigs, NULL);

    rc = mt_listen(&mt);
    if (rc)
        goto out;
    printf("MEMTEST-UP pages=%zu port=%u rate=%" PRIu64 " hot=%" PRIu64
           " seed=%" PRIu64 " locked=%d\n",
           mt.pages, mt.cfg.port, mt.cfg.rate_pps,
           mt.cfg.hot_pages ? mt.cfg.hot_pages : (uint64_t)mt.pages,
           mt.cfg.seed, mt.locked);
    fflush(stdout);

    while (!mt_stop) {
        fd = accept4(mt.listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            rc = -errno;
            LOGE(ERROR, "accept failed");
            goto out;
        }
        mt_serve_client(&mt, fd);
        close(fd);
    }
    rc = 0;
out:
    mt_stop = 1;
    if (have_hb)
        pthread_join(hb_thread, NULL);
    if (have_dirty)
        pthread_join(dirty_thread, NULL);
    mt_state_dispose(&mt);
    return rc < 0 ? 1 : 0;
}
