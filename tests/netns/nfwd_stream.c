/* SPDX-License-Identifier: MIT */
/*
 * nfwd_stream: sequence-numbered UDP stream for the net-forward namespace
 * tests (a test instrument, never installed).
 *
 *   nfwd_stream send IPV4 PORT RATE_HZ COUNT TXLOG [SIZE_BYTES [df]]
 *       one datagram every 1/RATE_HZ s (absolute deadlines), then writes
 *       "seq tx_realtime_ns" per datagram to TXLOG; "df" sets IP DF so
 *       that an oversize datagram is never fragmented by the sender.
 *   nfwd_stream recv PORT RXLOG IDLE_MS
 *       writes "seq rx_realtime_ns size" per datagram (duplicates
 *       included) and exits after IDLE_MS without one (from the start
 *       too), or on SIGTERM.
 * It talks only to the address it is given (inside the test namespaces).
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

#define MAX_COUNT 1000000u
#define MAX_SIZE  9000u

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_rt_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int num(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int do_send(char **argv, int argc)
{
    struct sockaddr_in dst = { .sin_family = AF_INET };
    unsigned port, rate, count, size = 64, i;
    uint64_t *tx = NULL;
    uint8_t *pkt = NULL;
    struct timespec next;
    long period_ns;
    FILE *f;
    int fd, pmtu = IP_PMTUDISC_DO, rc = 1;

    if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1 ||
        num(argv[3], 1, 65535, &port) || num(argv[4], 1, 100000, &rate) ||
        num(argv[5], 1, MAX_COUNT, &count) ||
        (argc > 7 && num(argv[7], 8, MAX_SIZE, &size))) {
        fprintf(stderr, "nfwd_stream: bad send arguments\n");
        return 2;
    }
    dst.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
        perror("nfwd_stream: socket");
        goto out;
    }
    if (argc > 8 && !strcmp(argv[8], "df") &&
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) < 0) {
        perror("nfwd_stream: IP_MTU_DISCOVER");
        goto out;
    }
    tx = calloc(count, sizeof(*tx));
    pkt = calloc(1, size);
    if (!tx || !pkt)
        goto out;
    period_ns = 1000000000L / (long)rate;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (i = 0; i < count && !stop; i++) {
        next.tv_nsec += period_ns;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        memcpy(pkt, &i, sizeof(i));
        tx[i] = now_rt_ns();
        /* errors (EMSGSIZE included) count as loss: that is the metric */
        (void)send(fd, pkt, size, MSG_DONTWAIT);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    f = fopen(argv[6], "w");
    if (!f) {
        perror("nfwd_stream: txlog");
        goto out;
    }
    for (i = 0; i < count; i++)
        if (tx[i])
            fprintf(f, "%u %llu\n", i, (unsigned long long)tx[i]);
    rc = fclose(f) ? 1 : 0;
out:
    free(tx);
    free(pkt);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int do_recv(char **argv)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    unsigned port, idle_ms, seq;
    uint8_t buf[MAX_SIZE];
    struct pollfd pfd;
    int fd, r;
    ssize_t n;
    FILE *f;

    if (num(argv[2], 1, 65535, &port) || num(argv[4], 1, 600000, &idle_ms)) {
        fprintf(stderr, "nfwd_stream: bad recv arguments\n");
        return 2;
    }
    a.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("nfwd_stream: bind");
        return 1;
    }
    f = fopen(argv[3], "w");
    if (!f) {
        perror("nfwd_stream: rxlog");
        close(fd);
        return 1;
    }
    pfd.fd = fd;
    pfd.events = POLLIN;
    while (!stop) {
        r = poll(&pfd, 1, (int)idle_ms);
        if (r == 0)
            break;
        if (r < 0)
            continue; /* EINTR: the loop checks stop */
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < (ssize_t)sizeof(seq))
            continue;
        memcpy(&seq, buf, sizeof(seq));
        fprintf(f, "%u %llu %zd\n", seq, (unsigned long long)now_rt_ns(), n);
    }
    close(fd);
    return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (argc >= 7 && argc <= 9 && !strcmp(argv[1], "send"))
        return do_send(argv, argc);
    if (argc == 5 && !strcmp(argv[1], "recv"))
        return do_recv(argv);
    fprintf(stderr, "usage: nfwd_stream send IP PORT RATE COUNT TXLOG "
                    "[SIZE [df]] | recv PORT RXLOG IDLE_MS\n");
    return 2;
}
