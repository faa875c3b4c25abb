/* SPDX-License-Identifier: MIT */
/*
 * xlmig stream inspect|encode|decode: look at and filter Xen migration
 * streams (xl save files, xl migrate streams, libxl v2 / libxc v3 streams)
 * and their xlmig-compressed form (docs/stream-format.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "xlmig stream: "
#include "cli/cmds.h"
#include "common/log.h"
#include "engine/codec.h"
#include "engine/xstream.h"

#define IOBUF_BYTES (1u << 20)

static int write_all(void *opaque, const void *buf, size_t len)
{
    int fd = *(int *)opaque;
    const char *p = buf;
    ssize_t r;

    while (len) {
        r = write(fd, p, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            LOGE(ERROR, "write failed");
            return -errno;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static int open_input(const char *path, int *fd_r)
{
    int fd;

    if (!path || !strcmp(path, "-")) {
        *fd_r = 0;
        return 0;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        LOGE(ERROR, "cannot open '%s'", path);
        return -errno;
    }
    *fd_r = fd;
    return 0;
}

typedef int feed_fn(void *obj, const void *buf, size_t len);

/* Read fd to its end, feeding every chunk. */
static int pump(int fd, feed_fn *feed, void *obj)
{
    char *buf;
    ssize_t r;
    int rc;

    buf = malloc(IOBUF_BYTES);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        r = read(fd, buf, IOBUF_BYTES);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            LOGE(ERROR, "read failed");
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        rc = feed(obj, buf, (size_t)r);
        if (rc)
            goto out;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ inspect */

struct inspect {
    struct xs_parser *ps;
    bool json;
    uint64_t records, pd_records, pages, zero_pages, no_data_pfns;
    uint64_t bytes;
    uint64_t type_count[2][0x20];
};

static const uint8_t zero_page[XS_PAGE_SIZE];

static int insp_record(void *opaque, const struct xs_record *rec)
{
    struct inspect *in = opaque;
    char nb[32];

    if (rec->type < XS_TYPE_HDR_XL) {
        in->records++;
        if (rec->layer != XS_LAYER_XL && rec->type < 0x20)
            in->type_count[rec->layer - 1][rec->type]++;
    }
    if (rec->layer == XS_LAYER_LIBXC && rec->type == XS_LIBXC_PAGE_DATA)
        return 0; /* printed with its content */
    if (in->json)
        printf("{\"offset\":%" PRIu64 ",\"layer\":\"%s\",\"type\":\"%s\","
               "\"length\":%" PRIu32 "}\n",
               rec->offset_bytes, xs_layer_name(rec->layer),
               xs_type_name(rec->layer, rec->type, nb, sizeof(nb)),
               rec->length_bytes);
    else
        printf("%12" PRIu64 "  %-5s  %-26s %10" PRIu32 "\n", rec->offset_bytes,
               xs_layer_name(rec->layer),
               xs_type_name(rec->layer, rec->type, nb, sizeof(nb)),
               rec->length_bytes);
    return 0;
}

static int insp_page_data(void *opaque, const struct xs_page_data *pd)
{
    struct inspect *in = opaque;
    uint32_t i, zero = 0;
    unsigned pct;

    for (i = 0; i < pd->data_pages; i++)
        if (!memcmp(pd->pages + (size_t)i * XS_PAGE_SIZE, zero_page,
                    XS_PAGE_SIZE))
            zero++;
    in->pd_records++;
    in->pages += pd->data_pages;
    in->zero_pages += zero;
    in->no_data_pfns += pd->count - pd->data_pages;
    pct = pd->data_pages ? (unsigned)(100ull * zero / pd->data_pages) : 0;
    if (in->json)
        printf("{\"offset\":%" PRIu64 ",\"layer\":\"libxc\","
               "\"type\":\"PAGE_DATA\",\"length\":%zu,\"pfn_first\":%" PRIu64
               ",\"pfn_last\":%" PRIu64 ",\"count\":%" PRIu32
               ",\"pages\":%" PRIu32 ",\"zero_pages\":%" PRIu32 "}\n",
               pd->offset_bytes, pd->rec_bytes - XS_REC_HDR_BYTES, pd->pfn_min,
               pd->pfn_max, pd->count, pd->data_pages, zero);
    else
        printf("%12" PRIu64 "  libxc  %-26s %10zu  pfn %#" PRIx64 "-%#" PRIx64
               ", %" PRIu32 " pages, %u%% zero\n",
               pd->offset_bytes, "PAGE_DATA", pd->rec_bytes - XS_REC_HDR_BYTES,
               pd->pfn_min, pd->pfn_max, pd->data_pages, pct);
    return 0;
}

static const struct xs_ops insp_ops = {
    .record = insp_record,
    .page_data = insp_page_data,
};

/* The decoder's output: the original stream, parsed for the listing. */
static int insp_write(void *opaque, const void *buf, size_t len)
{
    struct inspect *in = opaque;

    in->bytes += len;
    return xs_parser_feed(in->ps, buf, len, NULL);
}

static int dec_feed(void *obj, const void *buf, size_t len)
{
    return codec_dec_feed(obj, buf, len, NULL);
}

static void insp_summary(const struct inspect *in, const struct codec_stats *st)
{
    char nb[32];
    unsigned l, t;
    bool first = true;

    if (in->json) {
        printf("{\"summary\":{\"stream_bytes\":%" PRIu64
               ",\"input_bytes\":%" PRIu64 ",\"compressed\":%s,"
               "\"records\":%" PRIu64 ",\"page_data_records\":%" PRIu64
               ",\"pages\":%" PRIu64 ",\"zero_pages\":%" PRIu64
               ",\"pfns_without_data\":%" PRIu64 "}}\n",
               in->bytes, st->bytes_in, st->switched ? "true" : "false",
               in->records, in->pd_records, in->pages, in->zero_pages,
               in->no_data_pfns);
        return;
    }
    printf("summary: %" PRIu64 " stream bytes", in->bytes);
    if (st->switched)
        printf(" from %" PRIu64 " xlmig wire bytes (%.3fx)", st->bytes_in,
               in->bytes ? (double)st->bytes_in / (double)in->bytes : 0.0);
    else
        printf(" (stock format)");
    printf(", %" PRIu64 " records\n", in->records);
    printf("summary: %" PRIu64 " pages with data in %" PRIu64
           " PAGE_DATA records, %" PRIu64 " all-zero (%.1f%%), %" PRIu64
           " pfns without data\n",
           in->pages, in->pd_records, in->zero_pages,
           in->pages ? 100.0 * (double)in->zero_pages / (double)in->pages : 0.0,
           in->no_data_pfns);
    if (st->switched)
        printf("summary: wire pages: %" PRIu64 " zero, %" PRIu64
               " fill, %" PRIu64 " delta, %" PRIu64 " zlib, %" PRIu64
               " zstd, %" PRIu64 " lz4, %" PRIu64 " raw, %" PRIu64
               " before the switch\n",
               st->pages_zero, st->pages_fill, st->pages_delta, st->pages_zlib,
               st->pages_zstd, st->pages_lz4, st->pages_raw, st->pages_stock);
    printf("summary: records by type:");
    for (l = 0; l < 2; l++) {
        for (t = 0; t < 0x20; t++) {
            if (!in->type_count[l][t])
                continue;
            printf("%s %s %s %" PRIu64, first ? "" : ",", l ? "libxc" : "libxl",
                   xs_type_name(l ? XS_LAYER_LIBXC : XS_LAYER_LIBXL, t, nb,
                                sizeof(nb)),
                   in->type_count[l][t]);
            first = false;
        }
    }
    printf("\n");
}

static int stream_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct inspect in;
    struct codec_dec *dec = NULL;
    struct codec_stats st;
    int fd = -1, opt, rc;

    memset(&in, 0, sizeof(in));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            in.json = true;
            break;
        case 'h':
            printf("Usage: xlmig stream inspect [--json] FILE|-\n");
            return 0;
        default:
            return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "Usage: xlmig stream inspect [--json] FILE|-\n");
        return 2;
    }
    rc = open_input(argv[optind], &fd);
    if (rc)
        return 1;
    rc = xs_parser_new(NULL, &insp_ops, &in, &in.ps);
    if (!rc)
        rc = codec_dec_new(NULL, insp_write, &in, &dec);
    if (!rc)
        rc = pump(fd, dec_feed, dec);
    if (!rc)
        rc = codec_dec_finish(dec);
    if (!rc)
        rc = xs_parser_finish(in.ps);
    if (!rc) {
        codec_dec_stats(dec, &st);
        insp_summary(&in, &st);
    }
    codec_dec_free(dec);
    xs_parser_free(in.ps);
    if (fd > 0)
        close(fd);
    fflush(stdout);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------ encode/decode */

static int enc_feed(void *obj, const void *buf, size_t len)
{
    return codec_enc_feed(obj, buf, len, NULL);
}

static void print_stats(const struct codec_stats *st, bool json,
                        const char *what)
{
    char buf[2048];

    if (json) {
        codec_stats_json(st, buf, sizeof(buf));
        fprintf(stderr, "%s\n", buf);
        return;
    }
    fprintf(stderr,
            "%s: %" PRIu64 " bytes in, %" PRIu64 " bytes out (%.3fx), "
            "%" PRIu64 " pages: %" PRIu64 " zero, %" PRIu64 " fill, %" PRIu64
            " delta, %" PRIu64 " zlib, %" PRIu64 " zstd, %" PRIu64
            " lz4, %" PRIu64 " raw; codec %.1f ms\n",
            what, st->bytes_in, st->bytes_out,
            st->bytes_in ? (double)st->bytes_out / (double)st->bytes_in : 0.0,
            st->pages, st->pages_zero, st->pages_fill, st->pages_delta,
            st->pages_zlib, st->pages_zstd, st->pages_lz4, st->pages_raw,
            (double)st->codec_ns / 1e6);
}

static const char enc_usage[] =
    "Usage: xlmig stream encode [-m adaptive|raw|zlib|zstd|lz4] [-l LEVEL]\n"
    "           [-c CACHE_MIB] [-b LINK_BYTES_PER_S] [-s] [--json]\n";

static int stream_encode(int argc, char **argv)
{
    static const struct option opts[] = {
        { "method", required_argument, NULL, 'm' },
        { "level", required_argument, NULL, 'l' },
        { "cache", required_argument, NULL, 'c' },
        { "link", required_argument, NULL, 'b' },
        { "stats", no_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct codec_params p;
    struct codec_enc *enc = NULL;
    struct codec_stats st;
    bool stats = false, json = false;
    int out_fd = 1, opt, rc;
    char *end;
    unsigned long long v;

    codec_params_init(&p);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:l:c:b:sjh", opts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            if (codec_method_parse(optarg, &p.method)) {
                fprintf(stderr, "xlmig stream: unknown method '%s'\n", optarg);
                return 2;
            }
            break;
        case 'l':
        case 'c':
        case 'b':
            errno = 0;
            v = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg) {
                fprintf(stderr, "xlmig stream: bad number '%s'\n", optarg);
                return 2;
            }
            if (opt == 'l')
                p.level = v > 19 ? 20 : (int)v;
            else if (opt == 'c')
                p.cache_bytes = v > (1ull << 20) ? ~0ull : v << 20;
            else
                p.link_bps = v;
            break;
        case 's':
            stats = true;
            break;
        case 'j':
            json = stats = true;
            break;
        case 'h':
            printf("%s", enc_usage);
            return 0;
        default:
            fprintf(stderr, "%s", enc_usage);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s", enc_usage);
        return 2;
    }
    if (!p.cache_bytes)
        p.flags |= CODEC_F_NO_DELTA;
    rc = codec_enc_new(&p, write_all, &out_fd, &enc);
    if (rc == -EINVAL) {
        fprintf(stderr, "xlmig stream: level or cache size out of range\n");
        return 2;
    }
    if (!rc)
        rc = pump(0, enc_feed, enc);
    if (!rc)
        rc = codec_enc_finish(enc);
    if (!rc && stats) {
        codec_enc_stats(enc, &st);
        print_stats(&st, json, "encode");
    }
    codec_enc_free(enc);
    return rc ? 1 : 0;
}

static int stream_decode(int argc, char **argv)
{
    static const struct option opts[] = {
        { "stats", no_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct codec_dec *dec = NULL;
    struct codec_stats st;
    bool stats = false, json = false;
    int out_fd = 1, opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "sjh", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            stats = true;
            break;
        case 'j':
            json = stats = true;
            break;
        case 'h':
            printf("Usage: xlmig stream decode [-s] [--json]\n");
            return 0;
        default:
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "Usage: xlmig stream decode [-s] [--json]\n");
        return 2;
    }
    rc = codec_dec_new(NULL, write_all, &out_fd, &dec);
    if (!rc)
        rc = pump(0, dec_feed, dec);
    if (!rc)
        rc = codec_dec_finish(dec);
    if (!rc && stats) {
        codec_dec_stats(dec, &st);
        print_stats(&st, json, "decode");
    }
    codec_dec_free(dec);
    return rc ? 1 : 0;
}

int cmd_stream(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "Usage: xlmig stream inspect|encode|decode ...\n");
        return 2;
    }
    if (!strcmp(argv[1], "inspect"))
        return stream_inspect(argc - 1, argv + 1);
    if (!strcmp(argv[1], "encode"))
        return stream_encode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode"))
        return stream_decode(argc - 1, argv + 1);
    fprintf(stderr, "xlmig stream: unknown command '%s'\n", argv[1]);
    return 2;
}
