/* SPDX-License-Identifier: MIT */
/*
 * codec-mkstream: a test instrument writing a small synthetic xl stream
 * (tests/unit/codec_testlib.c) to stdout, for the shell tests of
 * 'xlmig stream'.
 *
 *     codec-mkstream PAGES ROUNDS zero|ff|word|text|random
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec_testlib.h"

static void change(unsigned round, uint64_t pfn, uint8_t *page)
{
    if (pfn % 3 == 0)
        page[(pfn * 17 + round) % 4096] += 1;
}

int main(int argc, char **argv)
{
    static const char *const names[] = { "zero", "ff", "word", "text",
                                         "random" };
    struct tbuf b;
    unsigned f;
    size_t off = 0;
    ssize_t r;

    if (argc != 4) {
        fprintf(stderr, "usage: codec-mkstream PAGES ROUNDS KIND\n");
        return 2;
    }
    for (f = 0; f < 5; f++)
        if (!strcmp(argv[3], names[f]))
            break;
    if (f == 5)
        return 2;
    tb_init(&b);
    tb_stream(&b, strtoull(argv[1], NULL, 0), (unsigned)atoi(argv[2]),
              (enum tb_fill)f, change);
    while (off < b.len) {
        r = write(1, b.data + off, b.len - off);
        if (r <= 0)
            return 1;
        off += (size_t)r;
    }
    tb_dispose(&b);
    return 0;
}
