/* SPDX-License-Identifier: MIT */
/*
 * Simulated guest backend: a TEST INSTRUMENT, linked only into tests and
 * benchmarks, never into an installed binary.
 *
 * An in-memory guest of a configurable number of 4 KiB pages runs a
 * dirtying workload while a simulated libxc saver sends it over precopy
 * rounds with log-dirty semantics, exactly as xc_domain_save() does for a
 * live save: round 0 sends every pfn of the p2m (unpopulated ones as
 * XTAB), each later round sends the pages dirtied meanwhile, the final
 * round runs with the guest paused, then come the end-of-checkpoint
 * records and END.  The output is a genuine `xl migrate` stream: xl
 * save-file header with a JSON domain config, libxl v2 stream, embedded
 * libxc v3 stream, for x86 PV or x86 HVM (PVH: no device model).  Xen's
 * verify-stream-v2 accepts it.
 *
 * The restore side parses such a stream (raw, as libxl receives it),
 * rebuilds guest memory and checks it byte for byte against the sender's
 * final memory.  Everything is deterministic from the seed.
 *
 * Functions return 0 or a negative errno.  A malformed stream is -EPROTO
 * (one log line naming the byte offset and the record), a memory mismatch
 * -EIO.
 */
#ifndef XLMIG_TESTS_SIM_H
#define XLMIG_TESTS_SIM_H

#include <stddef.h>
#include <stdint.h>

#define SIM_PAGE_SIZE         4096u
#define SIM_BATCH_MAX_PFNS    1024u        /* libxc MAX_BATCH_SIZE */
#define SIM_REC_LENGTH_MAX    (128u << 20) /* libxc REC_LENGTH_MAX */
#define SIM_MAX_PFNS_LIMIT    (1ull << 24) /* 64 GiB: cap of the sim */
#define SIM_HVM_SPECIAL_PFN   0xfeff0ull   /* PVH special pages (xc_dom_x86) */
#define SIM_HVM_SPECIAL_PAGES 16u

/* Values of the libxc domain header's type field. */
enum sim_flavour {
    SIM_X86_PV = 1,
    SIM_X86_HVM = 2,
};

enum sim_workload {
    SIM_WL_IDLE,      /* ~70 % zero, 0xCC/0xFF pages, rest text/code */
    SIM_WL_INCREMENT, /* QEMU migration-test: +1 on a byte of every page */
    SIM_WL_HOTSET,    /* random hot set, dirty_pages writes per round */
    SIM_WL_TEXT,      /* every page text/code-like, rewritten in part */
    SIM_WL_RANDOM,    /* incompressible bytes */
    SIM_WL_ZERO,      /* every page zero, re-dirtied with zeros (bench) */
    SIM_WL_COUNT,
};

struct sim_params {
    enum sim_flavour flavour;
    enum sim_workload workload;
    uint64_t ram_pages;          /* guest RAM in 4 KiB pages */
    unsigned int max_rounds;     /* live rounds before stop-and-copy (5) */
    uint64_t target_dirty_pages; /* stop early below this dirty count (50) */
    uint64_t dirty_pages;        /* page writes per live round; 0: default of
                                the workload (increment: every page) */
    uint64_t hot_pages;          /* hot set size (hotset); 0: ram_pages / 16 */
    unsigned int vcpus;          /* 1..64 */
    uint64_t seed;
    uint64_t special_pfn; /* HVM: first of 16 special pages; 0: default */
};

/* Defaults: HVM, idle, 4096 pages, 5 rounds, 1 vcpu, seed 1. */
void sim_params_init(struct sim_params *p);
const char *sim_workload_name(enum sim_workload w);
int sim_workload_from_name(const char *name, enum sim_workload *w_r);
const char *sim_flavour_name(enum sim_flavour f);
int sim_flavour_from_name(const char *name, enum sim_flavour *f_r);

/* Where a stream goes: write all len bytes or fail with -errno. */
struct sim_writer {
    int (*write)(void *opaque, const void *buf, size_t len);
    void *opaque;
};

/* Where a stream comes from: read exactly len bytes; -EPIPE at a clean
 * end of input before the first byte, -EPROTO when cut short. */
struct sim_reader {
    int (*read)(void *opaque, void *buf, size_t len);
    void *opaque;
};

/* A growable memory buffer usable as a writer (sim_buf_write). */
struct sim_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};
void sim_buf_init(struct sim_buf *b);
void sim_buf_dispose(struct sim_buf *b); /* idempotent */
int sim_buf_write(void *opaque, const void *buf, size_t len);

/* Reader over a memory range (opaque: struct sim_mem_reader). */
struct sim_mem_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
};
int sim_mem_read(void *opaque, void *buf, size_t len);
/* Writer / reader over a file descriptor (opaque: int *). */
int sim_fd_write(void *opaque, const void *buf, size_t len);
int sim_fd_read(void *opaque, void *buf, size_t len);

/* What the saver sent, per round and in total. */
#define SIM_MAX_ROUNDS 64
struct sim_save_stats {
    unsigned int rounds;            /* live rounds + the final one */
    uint64_t pfns[SIM_MAX_ROUNDS];  /* pfn entries sent per round */
    uint64_t pages[SIM_MAX_ROUNDS]; /* pages with data per round */
    uint64_t zero_pages;            /* data pages that were all zero */
    uint64_t page_data_records;
    uint64_t stream_bytes;
};

struct sim_guest;

/* Build a guest with its initial memory.  *g_r set only on success. */
int sim_guest_new(const struct sim_params *p, struct sim_guest **g_r);
void sim_guest_free(struct sim_guest *g); /* NULL-safe */

/*
 * Run the live save: header, precopy rounds while the workload dirties
 * memory, the paused round, end records.  Call once per guest.  stats may
 * be NULL.
 */
int sim_guest_save(struct sim_guest *g, const struct sim_writer *w,
                   struct sim_save_stats *stats);
/* Convenience: the whole stream into *b (appended). */
int sim_guest_save_buf(struct sim_guest *g, struct sim_buf *b,
                       struct sim_save_stats *stats);

/* The guest as it is now (after a save: its final memory). */
uint64_t sim_guest_p2m_size(const struct sim_guest *g);
uint64_t sim_guest_nr_pages(const struct sim_guest *g);
/* Page of pfn, or NULL when the pfn is not populated. */
uint8_t *sim_guest_page(struct sim_guest *g, uint64_t pfn);
/* XEN_DOMCTL_PFINFO type of pfn, as in the stream's bits 63-60. */
unsigned int sim_guest_page_type(const struct sim_guest *g, uint64_t pfn);
const struct sim_params *sim_guest_params(const struct sim_guest *g);

/*
 * Restore side.  max_pfns caps the pfns the stream may name (the domain's
 * maximum, as libxc's restore knows it); flavour is what the stream must
 * announce.
 */
struct sim_restore_stats {
    uint64_t records; /* libxc records */
    uint64_t page_data_records;
    uint64_t pages;        /* pages with data received */
    uint64_t pages_resent; /* of them for a pfn already received */
    uint64_t xtab_pfns;    /* pfn entries without data */
    uint64_t stream_bytes;
};

struct sim_restore;

int sim_restore_new(enum sim_flavour flavour, uint64_t max_pfns,
                    struct sim_restore **r_r);
void sim_restore_free(struct sim_restore *r); /* NULL-safe */
/* Parse a whole xl stream from rd.  -EPROTO: malformed (logged once). */
int sim_restore_read(struct sim_restore *r, const struct sim_reader *rd);
int sim_restore_buf(struct sim_restore *r, const void *buf, size_t len);
const struct sim_restore_stats *sim_restore_stats(const struct sim_restore *r);
/*
 * Compare the rebuilt memory with the guest's: same populated pfns, same
 * bytes, same page types.  0 when equal, -EIO (logged: first pfn and byte
 * offset that differ) when not.
 */
int sim_restore_check(const struct sim_restore *r, struct sim_guest *g);

#endif
