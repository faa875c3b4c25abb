/* SPDX-License-Identifier: MIT */
/* Option values shared by migrate and migrate-receive. */
#ifndef XLMIG_CLI_MIGRATE_COMMON_H
#define XLMIG_CLI_MIGRATE_COMMON_H

#include <stdint.h>

/* "auto" -> 1, "off" -> 0; -EINVAL otherwise. */
int cli_parse_compress(const char *s);
/* Bytes per second: N, NK, NM, NG (powers of 1024), optional "/s";
 * 0 < value.  -EINVAL on anything else. */
int cli_parse_bandwidth(const char *s, uint64_t *bps_r);
/* "[ADDR:]PORT" or "HOST:PORT" split; -EINVAL if PORT is not 0..65535. */
int cli_split_hostport(const char *s, char **host_r, char **port_r,
                       int host_required);

#endif
