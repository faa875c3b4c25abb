/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/migrate_common.h"

int cli_parse_compress(const char *s)
{
    if (!strcmp(s, "auto"))
        return 1;
    if (!strcmp(s, "off"))
        return 0;
    return -EINVAL;
}

int cli_parse_bandwidth(const char *s, uint64_t *bps_r)
{
    unsigned long long v;
    char *end;
    int shift = 0;

    if (!*s || *s == '-' || *s == '+')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    switch (*end) {
    case 'K':
    case 'k':
        shift = 10;
        end++;
        break;
    case 'M':
    case 'm':
        shift = 20;
        end++;
        break;
    case 'G':
    case 'g':
        shift = 30;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'B')
        end++;
    if (!strcmp(end, "/s"))
        end += 2;
    if (*end || v == 0 || v > (UINT64_MAX >> shift))
        return -EINVAL;
    *bps_r = (uint64_t)v << shift;
    return 0;
}

int cli_split_hostport(const char *s, char **host_r, char **port_r,
                       int host_required)
{
    const char *colon = strrchr(s, ':'), *p;
    char *end;
    long port;

    p = colon ? colon + 1 : s;
    if (!*p)
        return -EINVAL;
    port = strtol(p, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -EINVAL;
    if (host_required && (!colon || colon == s))
        return -EINVAL;
    *host_r = NULL;
    if (colon && colon != s) {
        size_t n = (size_t)(colon - s);

        /* [v6addr]:port */
        if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
            s++;
            n -= 2;
        }
        *host_r = strndup(s, n);
        if (!*host_r)
            return -ENOMEM;
    }
    *port_r = strdup(p);
    if (!*port_r) {
        free(*host_r);
        return -ENOMEM;
    }
    return 0;
}
