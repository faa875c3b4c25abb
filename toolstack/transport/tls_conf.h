/* SPDX-License-Identifier: MIT */
/*
 * xlmig.conf(5): the TLS settings shared by 'xlmig migrate --tls' and
 * xlmigd.  "key = value" lines, '#' comments; unknown keys are an error.
 * Without a file the defaults are x509 with /etc/xlmig/{ca,cert,key}.pem
 * and no allowlist.  No GnuTLS header: this parser is fuzzed.
 */
#ifndef XLMIG_TRANSPORT_TLS_CONF_H
#define XLMIG_TRANSPORT_TLS_CONF_H

#include <stddef.h>

#include "transport/tls.h"

#define TLS_CONF_DEFAULT   TLS_DEFAULT_DIR "/xlmig.conf"
#define TLS_CONF_MAX_BYTES (64 << 10)
#define TLS_CONF_MAX_VALUE 4096
#define TLS_CONF_MAX_CONNS 64

struct tls_conf {
    struct tls_opts opts; /* points into the strings below */
    char *ca, *cert, *key, *psk_file, *psk_identity;
    char *allow[TLS_MAX_ALLOW + 1];
    unsigned nallow;
    char *listen_addr;  /* xlmigd: NULL = any */
    char *port;         /* TLS_DEFAULT_PORT */
    char *receiver;     /* xlmigd: the xlmig binary (NULL: next to xlmigd) */
    unsigned max_conns; /* xlmigd: concurrent receives (default 2) */
};

/* Defaults (never fails except -ENOMEM). */
int tls_conf_init(struct tls_conf *c);
void tls_conf_dispose(struct tls_conf *c);

/*
 * Parse text (len bytes, need not be NUL-terminated) into c, on top of
 * what c holds.  name is used in messages.  -EINVAL with one message
 * "NAME:LINE: ..." on the first error.
 */
int tls_conf_parse(struct tls_conf *c, const char *text, size_t len,
                   const char *name);

/* Read and parse a file; a missing file is -ENOENT unless optional. */
int tls_conf_load(struct tls_conf *c, const char *path, int optional);

#endif
