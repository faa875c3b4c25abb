/* SPDX-License-Identifier: MIT */
/* xlmig.conf(5) parser (see tls_conf.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "xlmig.conf: "
#include "common/log.h"
#include "transport/tls_conf.h"

static int set_str(char **dst, const char *v)
{
    char *d = strdup(v);

    if (!d)
        return -ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

static void link_opts(struct tls_conf *c)
{
    c->opts.ca_file = c->ca;
    c->opts.cert_file = c->cert;
    c->opts.key_file = c->key;
    c->opts.psk_file = c->psk_file;
    c->opts.psk_identity = c->psk_identity;
    c->allow[c->nallow] = NULL;
    c->opts.allow = (const char *const *)c->allow;
}

int tls_conf_init(struct tls_conf *c)
{
    int rc;

    memset(c, 0, sizeof(*c));
    c->max_conns = 2;
    rc = set_str(&c->ca, TLS_DEFAULT_DIR "/ca.pem");
    if (!rc)
        rc = set_str(&c->cert, TLS_DEFAULT_DIR "/cert.pem");
    if (!rc)
        rc = set_str(&c->key, TLS_DEFAULT_DIR "/key.pem");
    if (!rc)
        rc = set_str(&c->port, TLS_DEFAULT_PORT);
    link_opts(c);
    if (rc)
        tls_conf_dispose(c);
    return rc;
}

void tls_conf_dispose(struct tls_conf *c)
{
    free(c->ca);
    free(c->cert);
    free(c->key);
    free(c->psk_file);
    free(c->psk_identity);
    for (unsigned i = 0; i < c->nallow; i++)
        free(c->allow[i]);
    free(c->listen_addr);
    free(c->port);
    free(c->receiver);
    memset(c, 0, sizeof(*c));
}

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *r)
{
    char *end;
    unsigned long x;

    if (*v < '0' || *v > '9')
        return -EINVAL;
    errno = 0;
    x = strtoul(v, &end, 10);
    if (errno || *end || x < lo || x > hi)
        return -EINVAL;
    *r = (unsigned)x;
    return 0;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = 0;
    return s;
}

/* One "key = value" line (already NUL-terminated and trimmed). */
static int conf_line(struct tls_conf *c, char *line, const char **why)
{
    char *eq = strchr(line, '='), *k, *v;
    unsigned u;

    if (!eq) {
        *why = "expected 'key = value'";
        return -EINVAL;
    }
    *eq = 0;
    k = trim(line);
    v = trim(eq + 1);
    if (!*v || strlen(v) > TLS_CONF_MAX_VALUE) {
        *why = "empty or too long value";
        return -EINVAL;
    }
    if (!strcmp(k, "mode")) {
        if (!strcmp(v, "x509"))
            c->opts.mode = TLS_MODE_X509;
        else if (!strcmp(v, "psk"))
            c->opts.mode = TLS_MODE_PSK;
        else {
            *why = "mode is x509 or psk";
            return -EINVAL;
        }
        return 0;
    }
    if (!strcmp(k, "ca"))
        return set_str(&c->ca, v);
    if (!strcmp(k, "cert"))
        return set_str(&c->cert, v);
    if (!strcmp(k, "key"))
        return set_str(&c->key, v);
    if (!strcmp(k, "psk-file"))
        return set_str(&c->psk_file, v);
    if (!strcmp(k, "psk-identity"))
        return set_str(&c->psk_identity, v);
    if (!strcmp(k, "listen"))
        return set_str(&c->listen_addr, v);
    if (!strcmp(k, "receiver"))
        return set_str(&c->receiver, v);
    if (!strcmp(k, "port")) {
        if (parse_uint(v, 1, 65535, &u)) {
            *why = "port is 1..65535";
            return -EINVAL;
        }
        return set_str(&c->port, v);
    }
    if (!strcmp(k, "allow")) {
        if (c->nallow >= TLS_MAX_ALLOW || strlen(v) > TLS_MAX_NAME) {
            *why = "too many or too long allow entries";
            return -EINVAL;
        }
        c->allow[c->nallow] = strdup(v);
        if (!c->allow[c->nallow])
            return -ENOMEM;
        c->nallow++;
        return 0;
    }
    if (!strcmp(k, "max-connections")) {
        if (parse_uint(v, 1, TLS_CONF_MAX_CONNS, &c->max_conns)) {
            *why = "max-connections is 1..64";
            return -EINVAL;
        }
        return 0;
    }
    if (!strcmp(k, "handshake-timeout-ms")) {
        if (parse_uint(v, 100, 600000, &u)) {
            *why = "handshake-timeout-ms is 100..600000";
            return -EINVAL;
        }
        c->opts.handshake_timeout_ms = (int)u;
        return 0;
    }
    if (!strcmp(k, "keepalive-idle-s")) {
        if (parse_uint(v, 1, 3600, &u)) {
            *why = "keepalive-idle-s is 1..3600";
            return -EINVAL;
        }
        c->opts.keepalive_idle_s = (int)u;
        return 0;
    }
    if (!strcmp(k, "user-timeout-ms")) {
        if (parse_uint(v, 1000, 3600000, &u)) {
            *why = "user-timeout-ms is 1000..3600000";
            return -EINVAL;
        }
        c->opts.user_timeout_ms = (int)u;
        return 0;
    }
    *why = "unknown key";
    return -EINVAL;
}

int tls_conf_parse(struct tls_conf *c, const char *text, size_t len,
                   const char *name)
{
    char line[TLS_CONF_MAX_VALUE + 256];
    const char *p = text, *end = text + len, *nl, *why = NULL;
    unsigned lineno = 0;
    size_t n;
    int rc = 0;

    if (len > TLS_CONF_MAX_BYTES) {
        LOG(ERROR, "%s: larger than %u bytes", name, TLS_CONF_MAX_BYTES);
        return -EINVAL;
    }
    while (p < end) {
        char *l;

        lineno++;
        nl = memchr(p, '\n', (size_t)(end - p));
        n = (size_t)((nl ? nl : end) - p);
        if (n >= sizeof(line)) {
            LOG(ERROR, "%s:%u: line too long", name, lineno);
            rc = -EINVAL;
            goto out;
        }
        memcpy(line, p, n);
        line[n] = 0;
        p += n + (nl ? 1 : 0);
        if (memchr(line, 0, n)) {
            LOG(ERROR, "%s:%u: NUL byte", name, lineno);
            rc = -EINVAL;
            goto out;
        }
        l = trim(line);
        if (!*l || *l == '#')
            continue;
        why = NULL;
        rc = conf_line(c, l, &why);
        if (rc) {
            LOG(ERROR, "%s:%u: %s", name, lineno, why ? why : "no memory");
            goto out;
        }
    }
out:
    link_opts(c);
    return rc;
}

int tls_conf_load(struct tls_conf *c, const char *path, int optional)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t n;
    int rc;

    if (!f) {
        rc = -errno;
        if (rc == -ENOENT && optional)
            return 0;
        LOGE(ERROR, "cannot open '%s'", path);
        return rc;
    }
    buf = malloc(TLS_CONF_MAX_BYTES + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    n = fread(buf, 1, TLS_CONF_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = -EIO;
        LOG(ERROR, "cannot read '%s'", path);
        goto out;
    }
    rc = tls_conf_parse(c, buf, n, path);
out:
    free(buf);
    fclose(f);
    return rc;
}
