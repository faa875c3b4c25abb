/* SPDX-License-Identifier: MIT */
/*
 * sim-guest: command line of the simulated guest backend, a TEST
 * INSTRUMENT for shell tests (never installed).
 *
 *   sim-guest gen   [GUEST OPTIONS] [-o FILE]   write the xl stream
 *   sim-guest check [GUEST OPTIONS] [-i FILE]   restore FILE and compare
 *                                                with the same guest
 *
 * GUEST OPTIONS (the same for gen and check: the guest is rebuilt from
 * its seed): --flavour pv|hvm, --workload idle|increment|hotset|text|
 * random|zero, --pages N, --rounds N, --dirty N, --hot N, --vcpus N,
 * --seed N.
 * FILE "-" or absent: stdout / stdin.  --stats prints what was sent or
 * received to stderr.  Exit 0 success, 1 failure, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "sim-guest: "
#include "common/log.h"
#include "sim.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: sim-guest gen|check [--flavour pv|hvm] [--workload W]\n"
               "           [--pages N] [--rounds N] [--dirty N] [--hot N]\n"
               "           [--vcpus N] [--seed N] [--stats] [-o|-i FILE]\n"
               "workloads: idle increment hotset text random zero\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;

    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno || !*s || *end || s[0] == '-' ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "flavour", required_argument, NULL, 'f' },
        { "workload", required_argument, NULL, 'w' },
        { "pages", required_argument, NULL, 'p' },
        { "rounds", required_argument, NULL, 'r' },
        { "dirty", required_argument, NULL, 'd' },
        { "hot", required_argument, NULL, 'H' },
        { "vcpus", required_argument, NULL, 'c' },
        { "seed", required_argument, NULL, 's' },
        { "stats", no_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sim_params p;
    struct sim_guest *g = NULL;
    struct sim_restore *r = NULL;
    struct sim_save_stats st;
    const char *verb, *file = NULL;
    int opt, fd = -1, stats = 0, ret = 1, rc;
    uint64_t v;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    verb = argv[1];
    if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
        usage(stdout);
        return 0;
    }
    if (strcmp(verb, "gen") && strcmp(verb, "check")) {
        usage(stderr);
        return 2;
    }
    sim_params_init(&p);
    optind = 2;
    while ((opt = getopt_long(argc, argv, "o:i:h", opts, NULL)) != -1) {
        rc = 0;
        switch (opt) {
        case 'f':
            rc = sim_flavour_from_name(optarg, &p.flavour);
            break;
        case 'w':
            rc = sim_workload_from_name(optarg, &p.workload);
            break;
        case 'p':
            rc = parse_u64(optarg, &p.ram_pages);
            break;
        case 'r':
            rc = parse_u64(optarg, &v);
            if (!rc && v > 1000)
                rc = -EINVAL;
            p.max_rounds = (unsigned int)v;
            break;
        case 'd':
            rc = parse_u64(optarg, &p.dirty_pages);
            break;
        case 'H':
            rc = parse_u64(optarg, &p.hot_pages);
            break;
        case 'c':
            rc = parse_u64(optarg, &v);
            if (!rc && v > 1000)
                rc = -EINVAL;
            p.vcpus = (unsigned int)v;
            break;
        case 's':
            rc = parse_u64(optarg, &p.seed);
            break;
        case 'S':
            stats = 1;
            break;
        case 'o':
        case 'i':
            file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (rc) {
            fprintf(stderr, "sim-guest: bad value '%s'\n", optarg);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    if (sim_guest_new(&p, &g))
        goto out;

    if (!strcmp(verb, "gen")) {
        struct sim_writer w = { sim_fd_write, &fd };

        fd = !file || !strcmp(file, "-")
                 ? STDOUT_FILENO
                 : open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            LOGE(ERROR, "cannot create '%s'", file);
            goto out;
        }
        if (sim_guest_save(g, &w, &st))
            goto out;
        if (stats) {
            unsigned int i;

            fprintf(stderr,
                    "stream %" PRIu64 " bytes, %" PRIu64
                    " PAGE_DATA records, %" PRIu64 " zero pages\n",
                    st.stream_bytes, st.page_data_records, st.zero_pages);
            for (i = 0; i < st.rounds; i++)
                fprintf(stderr,
                        "round %u%s: %" PRIu64 " pfns, %" PRIu64 " pages\n", i,
                        i + 1 == st.rounds ? " (paused)" : "", st.pfns[i],
                        st.pages[i]);
        }
        if (fd != STDOUT_FILENO && close(fd)) {
            fd = -1;
            LOGE(ERROR, "cannot write '%s'", file);
            goto out;
        }
        fd = -1;
        ret = 0;
    } else {
        struct sim_reader rdr = { sim_fd_read, &fd };
        struct sim_buf discard;

        /* The sender's final memory: run its save into a scratch buffer. */
        sim_buf_init(&discard);
        rc = sim_guest_save_buf(g, &discard, NULL);
        sim_buf_dispose(&discard);
        if (rc)
            goto out;
        fd = !file || !strcmp(file, "-") ? STDIN_FILENO : open(file, O_RDONLY);
        if (fd < 0) {
            LOGE(ERROR, "cannot open '%s'", file);
            goto out;
        }
        if (sim_restore_new(p.flavour, sim_guest_p2m_size(g), &r))
            goto out;
        if (sim_restore_read(r, &rdr))
            goto out;
        if (stats) {
            const struct sim_restore_stats *s = sim_restore_stats(r);

            fprintf(stderr,
                    "restored %" PRIu64 " bytes: %" PRIu64 " records, %" PRIu64
                    " pages (%" PRIu64 " re-sent), %" PRIu64
                    " pfns without data\n",
                    s->stream_bytes, s->records, s->pages, s->pages_resent,
                    s->xtab_pfns);
        }
        if (sim_restore_check(r, g))
            goto out;
        fprintf(stderr,
                "sim-guest: restore check passed: %" PRIu64
                " pages identical\n",
                sim_guest_nr_pages(g));
        ret = 0;
    }
out:
    if (fd > STDERR_FILENO)
        close(fd);
    sim_restore_free(r);
    sim_guest_free(g);
    return ret;
}
