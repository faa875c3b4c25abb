/* SPDX-License-Identifier: MIT */
/*
 * udpecho: the 1 kHz UDP stream of the brownout tests (a test instrument,
 * never installed).  One static binary, two roles:
 *
 *   udpecho serve PORT
 *       in the test guest: counts every data datagram by sequence number
 *       (distinct, duplicated, reordered) and echoes it to its sender;
 *       answers "stats SENT" with its own counts over [0, SENT) and
 *       "reset" by forgetting everything.
 *   udpecho stream IPV4 PORT RATE_HZ MAX_S
 *       on the client: sends data datagrams 0, 1, 2 ... every 1/RATE_HZ s
 *       (absolute deadlines) for MAX_S seconds or until SIGTERM/SIGINT,
 *       counts the echoes, waits 1 s for late ones, asks the guest for its
 *       counts and prints one line of key=value pairs (see report()).
 *
 * Loss is split around the longest run of consecutive missing sequence
 * numbers (the outage: the migration's blackout plus whatever the network
 * needs to find the guest again): lost_before and lost_after count the
 * missing datagrams outside it.  Peer input is never trusted: a datagram
 * is parsed by length and magic, sequence numbers are capped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UE_MAGIC      0x58554531u /* "XUE1" */
#define UE_DATA_BYTES 16u         /* magic, seq, send time ns (u64) */
#define UE_MAX_SEQ    (1u << 21)  /* 35 min at 1 kHz */
#define UE_MAX_RATE   100000u
#define UE_MAX_S      3600u
#define UE_TEXT_BYTES 512u
#define UE_DRAIN_MS   1000
#define UE_NS         1000000000ull

struct ue_counts {
    uint8_t *seen; /* one byte per sequence number: times received */
    uint32_t max_seq;
    uint64_t rx, dup, reord;
    int any;
};

struct ue_split {
    uint64_t lost, run, run_start, before, after;
};

static volatile sig_atomic_t ue_stop;

static void ue_on_signal(int sig)
{
    (void)sig;
    ue_stop = 1;
}

static uint64_t ue_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UE_NS + (uint64_t)ts.tv_nsec;
}

static int ue_num(const char *s, unsigned long lo, unsigned long hi,
                  unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || end == s || s[0] == '-' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static int ue_counts_init(struct ue_counts *c)
{
    memset(c, 0, sizeof(*c));
    c->seen = calloc(UE_MAX_SEQ, 1);
    return c->seen ? 0 : -ENOMEM;
}

static void ue_counts_reset(struct ue_counts *c)
{
    memset(c->seen, 0, UE_MAX_SEQ);
    c->max_seq = 0;
    c->rx = c->dup = c->reord = 0;
    c->any = 0;
}

/* Count one received sequence number. */
static void ue_count(struct ue_counts *c, uint32_t seq)
{
    if (seq >= UE_MAX_SEQ)
        return;
    c->rx++;
    if (c->seen[seq]) {
        c->dup++;
        if (c->seen[seq] < 255)
            c->seen[seq]++;
        return;
    }
    c->seen[seq] = 1;
    if (c->any && seq < c->max_seq)
        c->reord++;
    if (!c->any || seq > c->max_seq)
        c->max_seq = seq;
    c->any = 1;
}

/* Missing numbers in [0, sent), split around their longest run. */
static void ue_split(const struct ue_counts *c, uint32_t sent,
                     struct ue_split *s)
{
    uint64_t run = 0, start = 0;
    uint32_t i;

    memset(s, 0, sizeof(*s));
    if (sent > UE_MAX_SEQ)
        sent = UE_MAX_SEQ;
    for (i = 0; i < sent; i++) {
        if (c->seen[i]) {
            run = 0;
            continue;
        }
        s->lost++;
        if (!run)
            start = i;
        run++;
        if (run > s->run) {
            s->run = run;
            s->run_start = start;
        }
    }
    for (i = 0; i < sent; i++) {
        if (c->seen[i])
            continue;
        if (i < s->run_start)
            s->before++;
        else if (i >= s->run_start + s->run)
            s->after++;
    }
}

static int ue_serve(unsigned port)
{
    struct sockaddr_in a = { .sin_family = AF_INET }, from;
    socklen_t fl;
    uint8_t buf[UE_TEXT_BYTES];
    char out[UE_TEXT_BYTES];
    struct ue_counts c;
    struct ue_split s;
    unsigned sent;
    ssize_t n;
    int fd, len;

    if (ue_counts_init(&c))
        return 1;
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
        perror("udpecho: bind");
        return 1;
    }
    printf("UDPECHO-UP port=%u\n", port);
    fflush(stdout);
    for (;;) {
        fl = sizeof(from);
        n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from,
                     &fl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("udpecho: recvfrom");
            return 1;
        }
        if ((size_t)n == UE_DATA_BYTES && get32(buf) == UE_MAGIC) {
            ue_count(&c, get32(buf + 4));
            (void)sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
            continue;
        }
        buf[n] = 0;
        if (!strncmp((char *)buf, "stats ", 6) &&
            !ue_num((char *)buf + 6, 0, UE_MAX_SEQ, &sent)) {
            ue_split(&c, sent, &s);
            len = snprintf(
                out, sizeof(out),
                "guest_rx=%llu guest_dup=%llu guest_reord=%llu "
                "guest_lost=%llu guest_outage=%llu "
                "guest_lost_before=%llu guest_lost_after=%llu\n",
                (unsigned long long)c.rx, (unsigned long long)c.dup,
                (unsigned long long)c.reord, (unsigned long long)s.lost,
                (unsigned long long)s.run, (unsigned long long)s.before,
                (unsigned long long)s.after);
        } else if (!strcmp((char *)buf, "reset")) {
            ue_counts_reset(&c);
            len = snprintf(out, sizeof(out), "reset\n");
        } else {
            continue;
        }
        (void)sendto(fd, out, (size_t)len, 0, (struct sockaddr *)&from, fl);
    }
}

/* Receive what is there until deadline_ns; echoes are counted. */
static void ue_receive(int fd, struct ue_counts *c, uint64_t deadline_ns,
                       uint64_t *last_rx_ns, uint64_t *gap_ns, char *text,
                       size_t text_len)
{
    uint8_t buf[UE_TEXT_BYTES];
    struct pollfd p = { .fd = fd, .events = POLLIN };
    uint64_t now;
    ssize_t n;
    int ms;

    for (;;) {
        now = ue_now_ns();
        if (now >= deadline_ns)
            return;
        ms = (int)((deadline_ns - now + 999999) / 1000000);
        if (poll(&p, 1, ms) <= 0)
            return;
        n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (n <= 0)
            continue;
        if ((size_t)n == UE_DATA_BYTES && get32(buf) == UE_MAGIC) {
            now = ue_now_ns();
            if (*last_rx_ns && now - *last_rx_ns > *gap_ns)
                *gap_ns = now - *last_rx_ns;
            *last_rx_ns = now;
            ue_count(c, get32(buf + 4));
        } else if (text && (!strncmp((char *)buf, "guest_", 6) ||
                            !strncmp((char *)buf, "reset", 5))) {
            buf[n] = 0;
            snprintf(text, text_len, "%s", (char *)buf);
            text = NULL;
        }
    }
}

static int ue_stream(const char *ip, unsigned port, unsigned rate,
                     unsigned max_s)
{
    struct sockaddr_in dst = { .sin_family = AF_INET };
    struct sigaction sa;
    struct ue_counts c;
    struct ue_split s;
    uint8_t pkt[UE_DATA_BYTES];
    char q[32], guest[UE_TEXT_BYTES] = "";
    uint64_t t0, next, period, last_rx = 0, gap = 0, end;
    uint32_t seq = 0;
    unsigned tries;
    int fd;

    if (inet_pton(AF_INET, ip, &dst.sin_addr) != 1)
        return 2;
    dst.sin_port = htons((uint16_t)port);
    if (ue_counts_init(&c))
        return 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ue_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
        perror("udpecho: connect");
        return 1;
    }
    /* the guest forgets earlier streams; its answer proves the path */
    for (tries = 0; tries < 20 && !guest[0]; tries++) {
        (void)send(fd, "reset", 5, MSG_DONTWAIT);
        ue_receive(fd, &c, ue_now_ns() + 250000000ull, &last_rx, &gap, guest,
                   sizeof(guest));
    }
    if (!guest[0]) {
        printf("guest=no-answer to reset\n");
        return 1;
    }
    guest[0] = 0;
    printf("streaming to %s:%u at %u/s\n", ip, port, rate);
    fflush(stdout);
    ue_counts_reset(&c);
    last_rx = gap = 0;
    period = UE_NS / rate;
    t0 = next = ue_now_ns();
    end = t0 + (uint64_t)max_s * UE_NS;
    while (!ue_stop && next < end && seq < UE_MAX_SEQ) {
        put32(pkt, UE_MAGIC);
        put32(pkt + 4, seq);
        put32(pkt + 8, (uint32_t)(next >> 32));
        put32(pkt + 12, (uint32_t)next);
        /* a full socket buffer or an ICMP error is a lost datagram */
        (void)send(fd, pkt, sizeof(pkt), MSG_DONTWAIT);
        seq++;
        next += period;
        ue_receive(fd, &c, next, &last_rx, &gap, NULL, 0);
    }
    ue_receive(fd, &c, ue_now_ns() + UE_DRAIN_MS * 1000000ull, &last_rx, &gap,
               NULL, 0);
    /* the gap after the last echo counts too (a stream that never
     * recovered) */
    if (last_rx && ue_now_ns() - UE_DRAIN_MS * 1000000ull > last_rx &&
        ue_now_ns() - UE_DRAIN_MS * 1000000ull - last_rx > gap)
        gap = ue_now_ns() - UE_DRAIN_MS * 1000000ull - last_rx;
    snprintf(q, sizeof(q), "stats %u", seq);
    for (tries = 0; tries < 5 && !guest[0]; tries++) {
        (void)send(fd, q, strlen(q), MSG_DONTWAIT);
        ue_receive(fd, &c, ue_now_ns() + 500000000ull, &last_rx, &gap, guest,
                   sizeof(guest));
    }
    ue_split(&c, seq, &s);
    guest[strcspn(guest, "\n")] = 0;
    printf("sent=%u replies=%llu lost=%llu dup=%llu reord=%llu "
           "gap_ms=%.1f outage=%llu outage_at=%llu lost_before=%llu "
           "lost_after=%llu secs=%.1f %s\n",
           seq, (unsigned long long)c.rx, (unsigned long long)s.lost,
           (unsigned long long)c.dup, (unsigned long long)c.reord,
           (double)gap / 1e6, (unsigned long long)s.run,
           (unsigned long long)s.run_start, (unsigned long long)s.before,
           (unsigned long long)s.after, (double)(ue_now_ns() - t0) / 1e9,
           guest[0] ? guest : "guest=no-answer");
    fflush(stdout);
    free(c.seen);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned port, rate, max_s;

    if (argc == 3 && !strcmp(argv[1], "serve") &&
        !ue_num(argv[2], 1, 65535, &port))
        return ue_serve(port);
    if (argc == 6 && !strcmp(argv[1], "stream") &&
        !ue_num(argv[3], 1, 65535, &port) &&
        !ue_num(argv[4], 1, UE_MAX_RATE, &rate) &&
        !ue_num(argv[5], 1, UE_MAX_S, &max_s))
        return ue_stream(argv[2], port, rate, max_s);
    fprintf(stderr, "usage: udpecho serve PORT\n"
                    "       udpecho stream IPV4 PORT RATE_HZ MAX_S\n");
    return 2;
}
