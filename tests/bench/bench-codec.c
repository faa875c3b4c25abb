/* SPDX-License-Identifier: MIT */
/*
 * bench-codec: the codec benchmark of `make bench` (a benchmark, not a
 * timed test; nothing is asserted).
 *
 * Per workload of the simulated guest (tests/sim/, a test instrument), one
 * stream is generated and sent, side by side, through:
 *   raw        the stock stream as Xen sends it today (no codec)
 *   stored     the codec with batches stored: zero/fill/delta pages only
 *   zlib-1, zstd-1, lz4   the codec with that method forced
 *   adaptive   the codec's online choice, told the link speed (one run at
 *              1 Gbit/s, one at 10 Gbit/s)
 *   memcpy     a copy of the same bytes: the physical limit
 * For each: bytes out, ratio, encode and decode MB/s per core (thread CPU
 * time, MB = 10^6 bytes of the original stream) and the modelled transfer
 * time at 1 and 10 Gbit/s, pipelined: max(encode, decode, bytes / link).
 * Every decoded stream is compared with the original (the memcmp is
 * inside the decode timing; it runs at memcpy speed).  One untimed warm-up
 * run per workload; a method whose run is short is run twice and the
 * faster run kept (fixed methods: encode and decode separately; adaptive,
 * whose choices depend on timing: the whole run with the lower modelled
 * time at its own link speed).  The codec is given a CPU-time clock, so
 * its online estimates and this table measure the same thing.
 *
 * Output: a table on stdout and the same figures as JSON (--json PATH;
 * `make bench` writes build/bench.json).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "bench: "
#include "common/log.h"
#include "engine/codec.h"
#include "engine/page_codec.h"
#include "../sim/sim.h"
#include "../sim/sim_priv.h"

#define LINK_1G_BPS  125000000.0  /* bytes/s */
#define LINK_10G_BPS 1250000000.0 /* bytes/s */
#define FEED_BYTES   (1u << 20)

enum {
    M_RAW,
    M_STORED,
    M_ZLIB,
    M_ZSTD,
    M_LZ4,
    M_ADAPT_1G,
    M_ADAPT_10G,
    NM
};

static const struct {
    const char *name;
    enum codec_method method;
    int level;
    double link_bps;
} methods[NM] = {
    [M_RAW] = { "raw", CODEC_RAW, 0, 0 },
    [M_STORED] = { "stored", CODEC_RAW, 0, 0 },
    [M_ZLIB] = { "zlib-1", CODEC_ZLIB, 1, 0 },
    [M_ZSTD] = { "zstd-1", CODEC_ZSTD, 1, 0 },
    [M_LZ4] = { "lz4", CODEC_LZ4, 0, 0 },
    [M_ADAPT_1G] = { "adaptive@1G", CODEC_ADAPTIVE, 0, LINK_1G_BPS },
    [M_ADAPT_10G] = { "adaptive@10G", CODEC_ADAPTIVE, 0, LINK_10G_BPS },
};

struct result {
    uint64_t bytes_out;
    double enc_s, dec_s; /* CPU seconds */
    double t1g_s, t10g_s;
    struct codec_stats st;
    bool ok;
};

struct wl_result {
    const char *name;
    uint64_t stream_bytes, pages;
    double memcpy_s;
    struct result r[NM];
};

static uint64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_clock(void *opaque)
{
    return cpu_ns();
}

/* The codec measures its own throughput with the same CPU clock. */
static const struct codec_clock clk = { cpu_clock, NULL };

struct sink {
    uint8_t *buf; /* NULL: count only */
    size_t len, cap;
    const uint8_t *cmp; /* compare against, when not NULL */
    size_t cmp_len;
    bool mismatch;
};

static int sink_write(void *opaque, const void *b, size_t len)
{
    struct sink *s = opaque;

    if (s->cmp) {
        if (len > s->cmp_len - s->len || memcmp(s->cmp + s->len, b, len))
            s->mismatch = true;
    } else if (s->buf) {
        if (len > s->cap - s->len)
            return -ENOSPC;
        memcpy(s->buf + s->len, b, len);
    }
    s->len += len;
    return 0;
}

static int run_encode(int m, const uint8_t *in, size_t len, struct sink *out,
                      struct result *r)
{
    struct codec_params p;
    struct codec_enc *enc = NULL;
    size_t o;
    uint64_t t0;
    int rc;

    codec_params_init(&p);
    p.method = methods[m].method;
    p.level = methods[m].level;
    p.link_bps = (uint64_t)methods[m].link_bps;
    p.clock = &clk;
    rc = codec_enc_new(&p, sink_write, out, &enc);
    if (rc)
        return rc;
    t0 = cpu_ns();
    for (o = 0; !rc && o < len; o += FEED_BYTES)
        rc = codec_enc_feed(enc, in + o,
                            len - o < FEED_BYTES ? len - o : FEED_BYTES, NULL);
    if (!rc)
        rc = codec_enc_finish(enc);
    r->enc_s = (double)(cpu_ns() - t0) / 1e9;
    codec_enc_stats(enc, &r->st);
    codec_enc_free(enc);
    return rc;
}

static int run_decode(const uint8_t *in, size_t len, struct sink *out,
                      double *s_r)
{
    struct codec_dec_params p;
    struct codec_dec *dec = NULL;
    size_t o;
    uint64_t t0;
    int rc;

    codec_dec_params_init(&p);
    p.clock = &clk;
    rc = codec_dec_new(&p, sink_write, out, &dec);
    if (rc)
        return rc;
    t0 = cpu_ns();
    for (o = 0; !rc && o < len; o += FEED_BYTES)
        rc = codec_dec_feed(dec, in + o,
                            len - o < FEED_BYTES ? len - o : FEED_BYTES, NULL);
    if (!rc)
        rc = codec_dec_finish(dec);
    *s_r = (double)(cpu_ns() - t0) / 1e9;
    codec_dec_free(dec);
    return rc;
}

static double dmax(double a, double b)
{
    return a > b ? a : b;
}

static void model(struct result *r)
{
    double c = dmax(r->enc_s, r->dec_s);

    r->t1g_s = dmax(c, (double)r->bytes_out / LINK_1G_BPS);
    r->t10g_s = dmax(c, (double)r->bytes_out / LINK_10G_BPS);
}

static int bench_workload(enum sim_workload wl, uint64_t pages,
                          enum sim_flavour fl, struct wl_result *w)
{
    struct sim_params p;
    struct sim_guest *g = NULL;
    struct sim_buf b;
    uint8_t *enc_buf = NULL, *copy = NULL;
    uint64_t t0;
    int m, rc, reps = 0, rep;

    sim_buf_init(&b);
    sim_params_init(&p);
    p.flavour = fl;
    p.workload = wl;
    p.ram_pages = pages;
    rc = sim_guest_new(&p, &g);
    if (!rc)
        rc = sim_guest_save_buf(g, &b, NULL);
    if (rc)
        goto out;
    w->name = sim_workload_name(wl);
    w->stream_bytes = b.len;
    w->pages = pages;

    /* memcpy: the physical limit (at least 200 ms of copying) */
    copy = malloc(b.len);
    enc_buf = malloc(b.len + b.len / 8 + (1u << 20));
    if (!copy || !enc_buf) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(copy, b.data, b.len); /* fault the pages in */
    memset(enc_buf, 0, b.len + b.len / 8 + (1u << 20));
    t0 = cpu_ns();
    do {
        memcpy(copy, b.data, b.len);
        __asm__ volatile("" : : "r"(copy) : "memory");
        reps++;
    } while (cpu_ns() - t0 < 200000000ull && reps < 50);
    w->memcpy_s = (double)(cpu_ns() - t0) / 1e9 / reps;

    /* raw: the stock stream, no codec */
    w->r[M_RAW].bytes_out = b.len;
    w->r[M_RAW].ok = true;
    model(&w->r[M_RAW]);

    /* one untimed run first: faults in the output buffer and the code */
    {
        struct sink es = { enc_buf, 0, b.len + b.len / 8 + (1u << 20),
                           NULL,    0, false };
        struct result warm;

        rc = run_encode(M_STORED, b.data, b.len, &es, &warm);
        if (rc)
            goto out;
    }
    for (m = M_STORED; m < NM; m++) {
        struct result *r = &w->r[m];
        struct sink es = { enc_buf, 0, b.len + b.len / 8 + (1u << 20),
                           NULL,    0, false };
        struct sink vs = { NULL, 0, 0, b.data, b.len, false };

        rc = run_encode(m, b.data, b.len, &es, r);
        if (rc) {
            LOGEV(ERROR, -rc, "%s: %s encode failed", w->name, methods[m].name);
            goto out;
        }
        r->bytes_out = es.len;
        /* timed with the comparison: memcmp runs at memcpy speed */
        rc = run_decode(enc_buf, es.len, &vs, &r->dec_s);
        if (rc) {
            LOGEV(ERROR, -rc, "%s: %s decode failed", w->name, methods[m].name);
            goto out;
        }
        r->ok = !vs.mismatch && vs.len == b.len;
        if (!r->ok) {
            LOG(ERROR, "%s: %s: decoded stream differs from the original",
                w->name, methods[m].name);
            rc = -EIO;
            goto out;
        }
        /* best of 2 runs when they are short: the machine is shared */
        for (rep = 1; rep < 2 && r->enc_s + r->dec_s < 0.25; rep++) {
            struct result again = { 0 };
            struct sink vs2 = { NULL, 0, 0, b.data, b.len, false };

            es.len = 0;
            rc = run_encode(m, b.data, b.len, &es, &again);
            if (!rc)
                rc = run_decode(enc_buf, es.len, &vs2, &again.dec_s);
            if (rc || vs2.mismatch || vs2.len != b.len ||
                (methods[m].method != CODEC_ADAPTIVE &&
                 es.len != r->bytes_out)) {
                LOG(ERROR, "%s: %s: repeated run differs", w->name,
                    methods[m].name);
                rc = rc ? rc : -EIO;
                goto out;
            }
            again.bytes_out = es.len;
            if (methods[m].method == CODEC_ADAPTIVE) {
                /* its choices depend on timing: keep the best whole run */
                model(&again);
                model(r);
                if ((methods[m].link_bps == LINK_1G_BPS ? again.t1g_s
                                                        : again.t10g_s) <
                    (methods[m].link_bps == LINK_1G_BPS ? r->t1g_s : r->t10g_s))
                    *r = again;
                continue;
            }
            if (again.enc_s < r->enc_s)
                r->enc_s = again.enc_s;
            if (again.dec_s < r->dec_s)
                r->dec_s = again.dec_s;
        }
        model(r);
    }
    rc = 0;
out:
    free(copy);
    free(enc_buf);
    sim_buf_dispose(&b);
    sim_guest_free(g);
    return rc;
}

static double mbps(uint64_t bytes, double s)
{
    return s > 0 ? (double)bytes / s / 1e6 : 0;
}

static double best_fixed(const struct wl_result *w, bool ten, int *which)
{
    double best = 1e300;
    int m;

    *which = M_RAW;

    for (m = M_RAW; m <= M_LZ4; m++) {
        double t = ten ? w->r[m].t10g_s : w->r[m].t1g_s;

        if (t < best) {
            best = t;
            *which = m;
        }
    }
    return best;
}

static void print_table(const struct wl_result *w)
{
    int m, b1, b10;
    double f1, f10;

    printf("\n%s: stream %.1f MB (%" PRIu64 " guest pages), memcpy %.0f MB/s"
           "\n",
           w->name, (double)w->stream_bytes / 1e6, w->pages,
           mbps(w->stream_bytes, w->memcpy_s));
    printf("  %-13s %12s %7s %10s %10s %9s %9s\n", "method", "bytes out",
           "ratio", "enc MB/s", "dec MB/s", "t@1G s", "t@10G s");
    for (m = 0; m < NM; m++) {
        const struct result *r = &w->r[m];

        if (m == M_RAW)
            printf("  %-13s %12" PRIu64 " %7.3f %10s %10s %9.3f %9.4f\n",
                   methods[m].name, r->bytes_out, 1.0, "-", "-", r->t1g_s,
                   r->t10g_s);
        else
            printf("  %-13s %12" PRIu64 " %7.3f %10.0f %10.0f %9.3f %9.4f\n",
                   methods[m].name, r->bytes_out,
                   (double)r->bytes_out / (double)w->stream_bytes,
                   mbps(w->stream_bytes, r->enc_s),
                   mbps(w->stream_bytes, r->dec_s), r->t1g_s, r->t10g_s);
    }
    f1 = best_fixed(w, false, &b1);
    f10 = best_fixed(w, true, &b10);
    printf("  adaptive vs best fixed: 1G %.3f (best %s), 10G %.3f (best %s);"
           " vs raw: 1G %.3f, 10G %.3f   (time ratios, < 1 is faster)\n",
           w->r[M_ADAPT_1G].t1g_s / f1, methods[b1].name,
           w->r[M_ADAPT_10G].t10g_s / f10, methods[b10].name,
           w->r[M_ADAPT_1G].t1g_s / w->r[M_RAW].t1g_s,
           w->r[M_ADAPT_10G].t10g_s / w->r[M_RAW].t10g_s);
}

/* Page-level throughput of zero detection and delta encoding. */
struct page_level {
    double zero_gbps, delta_enc_gbps, delta_dec_gbps;
};

static int bench_pages(struct page_level *pl)
{
    const size_t n = 8192; /* 32 MiB */
    uint8_t *a = calloc(n, PC_PAGE_SIZE), *c = NULL;
    uint8_t out[PC_PAGE_SIZE];
    struct sim_rng r;
    uint64_t t0, pat, acc = 0;
    size_t i;
    int reps, rc = 0;

    c = malloc(n * PC_PAGE_SIZE);
    if (!a || !c) {
        rc = -ENOMEM;
        goto out;
    }
    t0 = cpu_ns();
    for (reps = 0; reps < 8; reps++)
        for (i = 0; i < n; i++)
            acc += (uint64_t)pc_fill_kind(a + i * PC_PAGE_SIZE, &pat);
    pl->zero_gbps = 8.0 * n * PC_PAGE_SIZE / ((double)(cpu_ns() - t0));
    /* delta pages: text pages with one byte incremented (QEMU's test) */
    sim_rng_seed(&r, 3);
    for (i = 0; i < n; i++) {
        sim_gen_text_page(&r, a + i * PC_PAGE_SIZE);
        memcpy(c + i * PC_PAGE_SIZE, a + i * PC_PAGE_SIZE, PC_PAGE_SIZE);
        c[i * PC_PAGE_SIZE + (i * 67) % PC_PAGE_SIZE]++;
    }
    t0 = cpu_ns();
    for (reps = 0; reps < 4; reps++)
        for (i = 0; i < n; i++)
            acc += (uint64_t)pc_delta_encode(
                a + i * PC_PAGE_SIZE, c + i * PC_PAGE_SIZE, out, sizeof(out));
    pl->delta_enc_gbps = 4.0 * n * PC_PAGE_SIZE / ((double)(cpu_ns() - t0));
    /* decode: the deltas applied to copies of the old pages, in place */
    {
        uint8_t *enc = malloc(n * 64);
        uint16_t *elen = malloc(n * sizeof(*elen));

        if (!enc || !elen) {
            free(enc);
            free(elen);
            rc = -ENOMEM;
            goto out;
        }
        for (i = 0; i < n; i++) {
            int l = pc_delta_encode(a + i * PC_PAGE_SIZE, c + i * PC_PAGE_SIZE,
                                    enc + i * 64, 64);

            elen[i] = (uint16_t)(l < 0 ? 0xffff : l);
        }
        memcpy(c, a, n * PC_PAGE_SIZE); /* c: the receiver's old pages */
        t0 = cpu_ns();
        for (reps = 0; reps < 4 && !rc; reps++)
            for (i = 0; i < n && !rc; i++)
                if (elen[i] == 0xffff || pc_delta_decode(enc + i * 64, elen[i],
                                                         c + i * PC_PAGE_SIZE))
                    rc = -EIO;
        pl->delta_dec_gbps = 4.0 * n * PC_PAGE_SIZE / ((double)(cpu_ns() - t0));
        for (i = 0; i < n && !rc; i++)
            if (c[i * PC_PAGE_SIZE + (i * 67) % PC_PAGE_SIZE] !=
                (uint8_t)(a[i * PC_PAGE_SIZE + (i * 67) % PC_PAGE_SIZE] + 1))
                rc = -EIO;
        free(enc);
        free(elen);
        if (rc) {
            LOG(ERROR, "delta round trip failed");
            goto out;
        }
    }
    if (acc == 42)
        printf(" "); /* keep the loops */
out:
    free(a);
    free(c);
    return rc;
}

static void cpu_model(char *buf, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];

    snprintf(buf, len, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "model name", 10)) {
            char *v = strchr(line, ':');

            if (v) {
                v += 1 + (v[1] == ' ');
                v[strcspn(v, "\n")] = 0;
                snprintf(buf, len, "%s", v);
            }
            break;
        }
    fclose(f);
}

static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
}

static int write_json(const char *path, const struct wl_result *w, int nw,
                      const struct page_level *pl, const char *cpu,
                      enum sim_flavour fl)
{
    FILE *f = fopen(path, "w");
    int i, m, b1, b10;

    if (!f) {
        LOGE(ERROR, "cannot create '%s'", path);
        return -errno;
    }
    fprintf(f, "{\n  \"machine\": {\"cpu\": \"");
    json_escape(f, cpu);
    fprintf(f, "\", \"cpus_online\": %ld},\n", sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(f,
            "  \"units\": {\"bytes\": \"bytes\", \"throughput\": \"MB/s "
            "per core (10^6 bytes of the original stream per CPU "
            "second)\", \"time\": \"s, max(encode, decode, bytes_out / "
            "link)\", \"link_1g_bps\": %.0f, \"link_10g_bps\": %.0f},\n",
            LINK_1G_BPS, LINK_10G_BPS);
    fprintf(f, "  \"flavour\": \"%s\",\n", sim_flavour_name(fl));
    fprintf(f,
            "  \"page_level\": {\"zero_detect_GBps\": %.2f, "
            "\"delta_encode_GBps\": %.2f, \"delta_decode_GBps\": %.2f},\n",
            pl->zero_gbps, pl->delta_enc_gbps, pl->delta_dec_gbps);
    fprintf(f, "  \"workloads\": [\n");
    for (i = 0; i < nw; i++) {
        double f1 = best_fixed(&w[i], false, &b1);
        double f10 = best_fixed(&w[i], true, &b10);

        fprintf(f,
                "    {\"name\": \"%s\", \"guest_pages\": %" PRIu64
                ", \"stream_bytes\": %" PRIu64 ", \"memcpy_MBps\": %.1f,\n"
                "     \"methods\": [\n",
                w[i].name, w[i].pages, w[i].stream_bytes,
                mbps(w[i].stream_bytes, w[i].memcpy_s));
        for (m = 0; m < NM; m++) {
            const struct result *r = &w[i].r[m];

            fprintf(f,
                    "       {\"name\": \"%s\", \"bytes_out\": %" PRIu64
                    ", \"ratio\": %.4f, \"encode_MBps\": %.1f, "
                    "\"decode_MBps\": %.1f, \"t_1g_s\": %.4f, "
                    "\"t_10g_s\": %.4f, \"pages_zero\": %" PRIu64
                    ", \"pages_fill\": %" PRIu64 ", \"pages_delta\": %" PRIu64
                    ", \"pages_zlib\": %" PRIu64 ", \"pages_zstd\": %" PRIu64
                    ", \"pages_lz4\": %" PRIu64 ", \"pages_raw\": %" PRIu64
                    "}%s\n",
                    methods[m].name, r->bytes_out,
                    (double)r->bytes_out / (double)w[i].stream_bytes,
                    m == M_RAW ? 0 : mbps(w[i].stream_bytes, r->enc_s),
                    m == M_RAW ? 0 : mbps(w[i].stream_bytes, r->dec_s),
                    r->t1g_s, r->t10g_s, r->st.pages_zero, r->st.pages_fill,
                    r->st.pages_delta, r->st.pages_zlib, r->st.pages_zstd,
                    r->st.pages_lz4, r->st.pages_raw, m + 1 < NM ? "," : "");
        }
        fprintf(f,
                "     ],\n     \"best_fixed_1g\": \"%s\", "
                "\"best_fixed_10g\": \"%s\",\n"
                "     \"adaptive_vs_best_fixed_1g\": %.4f, "
                "\"adaptive_vs_best_fixed_10g\": %.4f,\n"
                "     \"adaptive_vs_raw_1g\": %.4f, "
                "\"adaptive_vs_raw_10g\": %.4f}%s\n",
                methods[b1].name, methods[b10].name,
                w[i].r[M_ADAPT_1G].t1g_s / f1, w[i].r[M_ADAPT_10G].t10g_s / f10,
                w[i].r[M_ADAPT_1G].t1g_s / w[i].r[M_RAW].t1g_s,
                w[i].r[M_ADAPT_10G].t10g_s / w[i].r[M_RAW].t10g_s,
                i + 1 < nw ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f)) {
        LOGE(ERROR, "cannot write '%s'", path);
        return -EIO;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", required_argument, NULL, 'j' },
        { "pages", required_argument, NULL, 'p' },
        { "flavour", required_argument, NULL, 'f' },
        { "workload", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct wl_result w[SIM_WL_COUNT];
    struct page_level pl;
    enum sim_flavour fl = SIM_X86_HVM;
    const char *json = NULL;
    uint64_t pages = 4096;
    int opt, nw = 0, only = -1, i;
    char cpu[128];

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = optarg;
            break;
        case 'p':
            pages = strtoull(optarg, NULL, 0);
            break;
        case 'f':
            if (sim_flavour_from_name(optarg, &fl))
                goto usage;
            break;
        case 'w': {
            enum sim_workload wl;

            if (sim_workload_from_name(optarg, &wl))
                goto usage;
            only = (int)wl;
            break;
        }
        case 'h':
            printf("usage: bench-codec [--json PATH] [--pages N] "
                   "[--flavour pv|hvm] [--workload W]\n");
            return 0;
        default:
            goto usage;
        }
    }
    cpu_model(cpu, sizeof(cpu));
    printf("codec benchmark: simulated %s guest of %" PRIu64 " pages (%.0f "
           "MiB), %s, %ld cpus online\n"
           "throughput per core (CPU time), MB = 10^6 bytes of the original "
           "stream; t = max(encode, decode, bytes_out / link)\n",
           sim_flavour_name(fl), pages, (double)pages / 256, cpu,
           sysconf(_SC_NPROCESSORS_ONLN));
    if (bench_pages(&pl))
        return 1;
    printf("page level: zero detection %.2f GB/s, delta encode %.2f GB/s, "
           "delta decode %.2f GB/s (one byte changed per page)\n",
           pl.zero_gbps, pl.delta_enc_gbps, pl.delta_dec_gbps);
    for (i = 0; i < SIM_WL_COUNT; i++) {
        if (only >= 0 && i != only)
            continue;
        memset(&w[nw], 0, sizeof(w[nw]));
        if (bench_workload(i, pages, fl, &w[nw]))
            return 1;
        print_table(&w[nw]);
        fflush(stdout);
        nw++;
    }
    if (json) {
        if (write_json(json, w, nw, &pl, cpu, fl))
            return 1;
        printf("\nJSON: %s\n", json);
    }
    return 0;
usage:
    fprintf(stderr, "usage: bench-codec [--json PATH] [--pages N] "
                    "[--flavour pv|hvm] [--workload W]\n");
    return 2;
}
