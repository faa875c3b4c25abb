/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xsg_zero.h"

#define MEMINFO_BYTES 8192u
#define MAX_CHUNKS    65536u /* 256 GiB in 4 MiB chunks */

/* "Key:   N kB" anywhere in text (at a line start). */
static int field_kb(const char *text, const char *key, uint64_t *v)
{
    size_t kl = strlen(key);
    const char *p = text;
    char *end;
    unsigned long long n;

    while (p && *p) {
        if (!strncmp(p, key, kl) && p[kl] == ':') {
            p += kl + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p < '0' || *p > '9')
                return -EINVAL;
            errno = 0;
            n = strtoull(p, &end, 10);
            if (errno || strncmp(end, " kB", 3))
                return -EINVAL;
            *v = n;
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -EINVAL;
}

int xsg_meminfo_parse(const char *text, uint64_t *total_kb, uint64_t *free_kb)
{
    if (field_kb(text, "MemTotal", total_kb) ||
        field_kb(text, "MemFree", free_kb))
        return -EINVAL;
    return 0;
}

static uint64_t reserve_bytes(uint64_t total_kb)
{
    uint64_t r = total_kb * 1024 / XSG_ZERO_RESERVE_DIV;

    return r > XSG_ZERO_RESERVE_MIN ? r : XSG_ZERO_RESERVE_MIN;
}

uint64_t xsg_zero_budget(uint64_t total_kb, uint64_t free_kb)
{
    uint64_t f = free_kb * 1024, r = reserve_bytes(total_kb);

    return f > r ? f - r : 0;
}

static int read_meminfo(uint64_t *total_kb, uint64_t *free_kb)
{
    char buf[MEMINFO_BYTES];
    ssize_t n;
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    return xsg_meminfo_parse(buf, total_kb, free_kb);
}

static int drop_caches(void)
{
    int fd, ok;

    sync();
    fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ok = write(fd, "3", 1) == 1;
    close(fd);
    return ok;
}

int xsg_zero_free(uint64_t max_bytes, struct xsg_zero_result *r)
{
    uint64_t total_kb, free_kb, budget, reserve;
    void **maps;
    unsigned n = 0, i;
    int rc;

    memset(r, 0, sizeof(*r));
    r->caches_dropped = drop_caches();
    rc = read_meminfo(&total_kb, &free_kb);
    if (rc)
        return rc;
    r->free_before_kb = free_kb;
    budget = xsg_zero_budget(total_kb, free_kb);
    if (max_bytes && max_bytes < budget)
        budget = max_bytes;
    reserve = reserve_bytes(total_kb);
    maps = calloc(MAX_CHUNKS, sizeof(*maps));
    if (!maps)
        return -ENOMEM;
    while (r->zeroed_bytes + XSG_ZERO_CHUNK <= budget && n < MAX_CHUNKS) {
        /* something else may allocate meanwhile: look again now and then */
        if (n % 16 == 15 && (read_meminfo(&total_kb, &free_kb) ||
                             free_kb * 1024 < reserve + XSG_ZERO_CHUNK))
            break;
        maps[n] = mmap(NULL, XSG_ZERO_CHUNK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (maps[n] == MAP_FAILED)
            break;
        n++;
        r->zeroed_bytes += XSG_ZERO_CHUNK;
    }
    for (i = 0; i < n; i++)
        munmap(maps[i], XSG_ZERO_CHUNK);
    free(maps);
    if (!read_meminfo(&total_kb, &free_kb))
        r->free_after_kb = free_kb;
    return 0;
}
