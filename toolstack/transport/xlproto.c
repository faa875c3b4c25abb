/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/journal.h"
#include "transport/xlproto.h"

/* Identical bytes to tools/xl/xl.h; the sizes are pinned by tests. */
const char xlproto_banner[] =
    "xl migration receiver ready, send binary domain data.\n";
const char xlproto_ready[] = "domain received, ready to unpause";
const char xlproto_go[] = "domain is yours, you are cleared to unpause";
const char xlproto_report[] = "my copy unpause results are as follows";
const char xlproto_magic[32] = "Xen saved domain, xl format\n \0 \r";

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

void xlproto_ctx_init(struct xlproto_ctx *x, struct channel *ch, int is_sender,
                      const char *rune)
{
    memset(x, 0, sizeof(*x));
    x->ch = ch;
    x->is_sender = is_sender;
    x->rune = rune;
}

static const char *stream_name(const struct xlproto_ctx *x)
{
    return x->rune ? "migration receiver stream" : "migration stream";
}

size_t xlproto_header_encode(uint8_t out[XLPROTO_HEADER_BYTES],
                             uint32_t mandatory, uint32_t optional,
                             uint32_t optdata_len)
{
    memcpy(out, xlproto_magic, 32);
    put_le32(out + 32, XLPROTO_BYTEORDER);
    put_le32(out + 36, mandatory);
    put_le32(out + 40, optional);
    put_le32(out + 44, optdata_len);
    return XLPROTO_HEADER_BYTES;
}

static void report_io(const struct xlproto_ctx *x, int rc, int reading,
                      const char *what, const char *source)
{
    if (rc == -EPIPE && reading)
        fprintf(stderr, "xlmig: file/stream truncated reading %s from %s\n",
                what, source);
    else if (rc == -ETIMEDOUT)
        fprintf(stderr, "xlmig: timed out %s %s %s %s\n",
                reading ? "reading" : "writing", what, reading ? "from" : "to",
                source);
    else
        fprintf(stderr, "xlmig: failed to %s %s %s %s: %s\n",
                reading ? "read" : "write", what, reading ? "from" : "to",
                source, strerror(-rc));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

size_t xlproto_once_encode(uint8_t out[XLPROTO_ONCE_BYTES], const char *magic,
                           const char *uuid, uint64_t epoch)
{
    if (strlen(uuid) != XLPROTO_ONCE_UUID_CHARS || !journal_uuid_chars_ok(uuid))
        return 0;
    memcpy(out, magic, 8);
    memcpy(out + 8, uuid, XLPROTO_ONCE_UUID_CHARS);
    put_le64(out + 8 + XLPROTO_ONCE_UUID_CHARS, epoch);
    return XLPROTO_ONCE_BYTES;
}

int xlproto_once_decode(const uint8_t in[XLPROTO_ONCE_BYTES], const char *magic,
                        char uuid_r[XLPROTO_ONCE_UUID_CHARS + 1],
                        uint64_t *epoch_r)
{
    if (memcmp(in, magic, 8) || !journal_uuid_chars_ok((const char *)in + 8))
        return -EPROTO;
    memcpy(uuid_r, in + 8, XLPROTO_ONCE_UUID_CHARS);
    uuid_r[XLPROTO_ONCE_UUID_CHARS] = '\0';
    *epoch_r = get_le64(in + 8 + XLPROTO_ONCE_UUID_CHARS);
    return *epoch_r ? 0 : -EPROTO;
}

int xlproto_send_header(struct xlproto_ctx *x, const char *config,
                        uint32_t config_len, uint32_t optional_flags,
                        int timeout_ms)
{
    return xlproto_send_header_once(x, config, config_len, optional_flags, NULL,
                                    timeout_ms);
}

int xlproto_send_header_once(struct xlproto_ctx *x, const char *config,
                             uint32_t config_len, uint32_t optional_flags,
                             const uint8_t *trailer, int timeout_ms)
{
    uint8_t hdr[XLPROTO_HEADER_BYTES], len[4];
    uint32_t mandatory = XLPROTO_MANDATORY_STREAM2;
    uint32_t optlen = 4 + config_len + (trailer ? XLPROTO_ONCE_BYTES : 0);
    int rc;

    if (config_len)
        mandatory |= XLPROTO_MANDATORY_JSON;
    xlproto_header_encode(hdr, mandatory, optional_flags, optlen);
    put_le32(len, config_len);
    rc = channel_write_all(x->ch, 0, hdr, sizeof(hdr), timeout_ms);
    if (!rc)
        rc = channel_write_all(x->ch, 0, len, sizeof(len), timeout_ms);
    if (!rc && config_len)
        rc = channel_write_all(x->ch, 0, config, config_len, timeout_ms);
    if (!rc && trailer)
        rc = channel_write_all(x->ch, 0, trailer, XLPROTO_ONCE_BYTES,
                               timeout_ms);
    if (rc) {
        report_io(x, rc, 0, "header", "migration stream");
        return rc;
    }
    fprintf(stderr,
            "Saving to migration stream new xl format (info "
            "0x%" PRIx32 "/0x%" PRIx32 "/%" PRIu32 ")\n",
            mandatory, optional_flags, optlen);
    return 0;
}

void xlproto_header_dispose(struct xlproto_header *h)
{
    free(h->config);
    h->config = NULL;
    h->config_len = 0;
}

int xlproto_recv_header(struct xlproto_ctx *x, struct xlproto_header *h,
                        int timeout_ms)
{
    const char *source = "<incoming migration stream>";
    uint8_t hdr[XLPROTO_HEADER_BYTES];
    uint8_t *opt = NULL;
    uint32_t badflags, cfglen;
    int rc;

    memset(h, 0, sizeof(*h));
    rc = channel_read_exact(x->ch, 0, hdr, sizeof(hdr), timeout_ms);
    if (rc) {
        report_io(x, rc, 1, "header", source);
        goto out;
    }
    if (!memcmp(hdr, XLPROTO_QUERY_MAGIC, 8)) {
        uint8_t q[XLPROTO_QUERY_BYTES];

        memcpy(q, hdr, sizeof(hdr));
        rc = channel_read_exact(x->ch, 0, q + sizeof(hdr),
                                sizeof(q) - sizeof(hdr), timeout_ms);
        if (rc) {
            report_io(x, rc, 1, "query", source);
            goto out;
        }
        rc = xlproto_once_decode(q, XLPROTO_QUERY_MAGIC, h->once_uuid,
                                 &h->once_epoch);
        if (rc) {
            fprintf(stderr, "xlmig: malformed migration query\n");
            goto out;
        }
        h->is_query = 1;
        goto out;
    }
    if (memcmp(hdr, xlproto_magic, 32)) {
        fprintf(stderr, "File has wrong magic number -"
                        " corrupt or for a different tool?\n");
        rc = -EPROTO;
        goto out;
    }
    if (get_le32(hdr + 32) != XLPROTO_BYTEORDER) {
        fprintf(stderr, "File has wrong byte order\n");
        rc = -EPROTO;
        goto out;
    }
    h->mandatory_flags = get_le32(hdr + 36);
    h->optional_flags = get_le32(hdr + 40);
    h->optional_data_len = get_le32(hdr + 44);
    fprintf(stderr,
            "Loading new save file %s (new xl fmt info "
            "0x%" PRIx32 "/0x%" PRIx32 "/%" PRIu32 ")\n",
            source, h->mandatory_flags, h->optional_flags,
            h->optional_data_len);
    badflags = h->mandatory_flags & ~XLPROTO_MANDATORY_ALL;
    if (badflags) {
        fprintf(stderr,
                "Savefile has mandatory flag(s) 0x%" PRIx32
                " which are not supported; need newer xl\n",
                badflags);
        rc = -EPROTO;
        goto out;
    }
    if (!(h->mandatory_flags & XLPROTO_MANDATORY_STREAM2)) {
        fprintf(stderr, "xlmig: legacy (v1) migration streams are not "
                        "supported\n");
        rc = -EPROTO;
        goto out;
    }
    if (h->optional_data_len > XLPROTO_OPTDATA_MAX_BYTES) {
        fprintf(stderr,
                "xlmig: savefile optional data of %" PRIu32
                " bytes exceeds the limit of %u bytes\n",
                h->optional_data_len, XLPROTO_OPTDATA_MAX_BYTES);
        rc = -EPROTO;
        goto out;
    }
    if (h->optional_data_len < 4) {
        fprintf(stderr, "Config file not specified and none in save file\n");
        rc = -EPROTO;
        goto out;
    }
    opt = malloc(h->optional_data_len);
    if (!opt) {
        rc = -ENOMEM;
        goto out;
    }
    rc = channel_read_exact(x->ch, 0, opt, h->optional_data_len, timeout_ms);
    if (rc) {
        report_io(x, rc, 1, "optdata", source);
        goto out;
    }
    cfglen = get_le32(opt);
    if (cfglen > h->optional_data_len - 4) {
        fprintf(stderr, "Savefile truncated.\n");
        rc = -EPROTO;
        goto out;
    }
    fprintf(stderr, " Savefile contains xl domain config%s\n",
            (h->mandatory_flags & XLPROTO_MANDATORY_JSON) ? " in JSON format"
                                                          : "");
    if (!(h->mandatory_flags & XLPROTO_MANDATORY_JSON) || cfglen == 0 ||
        opt[4 + cfglen - 1] != '\0') {
        fprintf(stderr, "xlmig: savefile config is not NUL-terminated "
                        "JSON (xl config text is not supported)\n");
        rc = -EPROTO;
        goto out;
    }
    h->config = malloc(cfglen);
    if (!h->config) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(h->config, opt + 4, cfglen);
    h->config_len = cfglen;
    /* identity trailer of an xlmig sender (anything else is ignored, as
     * stock xl ignores it) */
    if ((h->optional_flags & XLPROTO_OPTFLAG_ONCE) &&
        h->optional_data_len - 4 - cfglen >= XLPROTO_ONCE_BYTES &&
        !xlproto_once_decode(opt + 4 + cfglen, XLPROTO_ID_MAGIC, h->once_uuid,
                             &h->once_epoch))
        h->has_once = 1;
    rc = 0;

out:
    free(opt);
    return rc;
}

/* Take up to len bytes read ahead on the back channel. */
static size_t take_ahead(struct xlproto_ctx *x, uint8_t *buf, size_t len)
{
    size_t n = x->ahead_len < len ? x->ahead_len : len;

    memcpy(buf, x->ahead, n);
    memmove(x->ahead, x->ahead + n, x->ahead_len - n);
    x->ahead_len -= n;
    return n;
}

int xlproto_stash_stream(struct xlproto_ctx *x, const uint8_t *buf, size_t len)
{
    if (len > sizeof(x->stream_ahead) - x->stream_ahead_len) {
        fprintf(stderr,
                "xlmig: %zu unexpected bytes after the domain "
                "stream\n",
                len);
        return -EPROTO;
    }
    memcpy(x->stream_ahead + x->stream_ahead_len, buf, len);
    x->stream_ahead_len += len;
    return 0;
}

static size_t take_stream_ahead(struct xlproto_ctx *x, uint8_t *buf, size_t len)
{
    size_t n = x->stream_ahead_len < len ? x->stream_ahead_len : len;

    memcpy(buf, x->stream_ahead, n);
    memmove(x->stream_ahead, x->stream_ahead + n, x->stream_ahead_len - n);
    x->stream_ahead_len -= n;
    return n;
}

int xlproto_read_fixed(struct xlproto_ctx *x, int back, const void *msg,
                       size_t len, const char *what, int timeout_ms)
{
    uint8_t buf[128];
    int rc;

    if (len > sizeof(buf))
        return -EINVAL;
    rc = xlproto_read_bytes(x, back, buf, len, what, timeout_ms);
    if (rc)
        return rc;
    if (memcmp(buf, msg, len)) {
        fprintf(stderr, "%s contained unexpected data instead of %s\n",
                stream_name(x), what);
        if (x->rune)
            fprintf(stderr, "(command run was: %s )\n", x->rune);
        return -EPROTO;
    }
    return 0;
}

int xlproto_read_bytes(struct xlproto_ctx *x, int back, uint8_t *buf,
                       size_t len, const char *what, int timeout_ms)
{
    size_t got;
    int rc = 0;

    got = back ? take_ahead(x, buf, len) : take_stream_ahead(x, buf, len);
    if (got < len) {
        if (back && x->back_eof)
            rc = -EPIPE;
        else
            rc = channel_read_exact(x->ch, back, buf + got, len - got,
                                    timeout_ms);
        if (rc)
            report_io(x, rc, 1, what, stream_name(x));
    }
    return rc;
}

int xlproto_write_msg(struct xlproto_ctx *x, int back, const void *msg,
                      size_t len, const char *what, int timeout_ms)
{
    int rc = channel_write_all(x->ch, back, msg, len, timeout_ms);

    if (rc)
        report_io(x, rc, 0, what,
                  back ? "migration ack stream" : "migration stream");
    return rc;
}

int xlproto_read_byte(struct xlproto_ctx *x, int back, uint8_t *b,
                      const char *what, int timeout_ms)
{
    int rc;

    if (back && take_ahead(x, b, 1) == 1)
        return 0;
    if (back && x->back_eof)
        rc = -EPIPE;
    else
        rc = channel_read_exact(x->ch, back, b, 1, timeout_ms);
    if (rc)
        report_io(x, rc, 1, what, "migration ack stream");
    return rc;
}

size_t xlproto_caps_encode(uint8_t *out, size_t out_len, uint32_t caps)
{
    if (out_len < XLPROTO_CAPS_HDR_BYTES + 4)
        return 0;
    memcpy(out, XLPROTO_CAPS_MAGIC, 8);
    put_le16(out + 8, XLPROTO_CAPS_VERSION);
    put_le16(out + 10, 4);
    put_le32(out + 12, caps);
    return XLPROTO_CAPS_HDR_BYTES + 4;
}

size_t xlproto_caps_encode_ext(uint8_t *out, size_t out_len, uint32_t caps,
                               const uint8_t *ext, size_t ext_len)
{
    size_t n = xlproto_caps_encode(out, out_len, caps);

    if (!n || ext_len > XLPROTO_CAPS_EXT_MAX || out_len < n + ext_len)
        return 0;
    if (ext_len)
        memcpy(out + n, ext, ext_len);
    put_le16(out + 10, (uint16_t)(4 + ext_len));
    return n + ext_len;
}

int xlproto_caps_decode(const uint8_t *buf, size_t len, uint32_t *caps_r,
                        size_t *used_r)
{
    size_t n = len < 8 ? len : 8;
    uint16_t plen;

    if (memcmp(buf, XLPROTO_CAPS_MAGIC, n))
        return -EPROTO;
    if (len < XLPROTO_CAPS_HDR_BYTES)
        return 0;
    if (get_le16(buf + 8) == 0)
        return -EPROTO;
    plen = get_le16(buf + 10);
    if (plen < 4 || plen > XLPROTO_CAPS_MAX_PAYLOAD)
        return -EPROTO;
    if (len < XLPROTO_CAPS_HDR_BYTES + (size_t)plen)
        return 0;
    /* newer versions may append fields; only the first word is read */
    *caps_r = get_le32(buf + 12);
    *used_r = XLPROTO_CAPS_HDR_BYTES + plen;
    return 1;
}

int xlproto_poll_caps(struct xlproto_ctx *x, int timeout_ms, uint32_t *caps_r)
{
    size_t used;
    ssize_t n;
    int fd, rc;

    for (;;) {
        if (x->ahead_len) {
            rc = xlproto_caps_decode(x->ahead, x->ahead_len, caps_r, &used);
            if (rc < 0)
                return 0; /* stock bytes: keep them for read_fixed */
            if (rc == 1) {
                /* used <= header + XLPROTO_CAPS_MAX_PAYLOAD (decode) */
                x->caps_ext_len = used - XLPROTO_CAPS_HDR_BYTES - 4;
                memcpy(x->caps_ext, x->ahead + XLPROTO_CAPS_HDR_BYTES + 4,
                       x->caps_ext_len);
                memmove(x->ahead, x->ahead + used, x->ahead_len - used);
                x->ahead_len -= used;
                return 1;
            }
        }
        if (x->back_eof || x->ahead_len == sizeof(x->ahead))
            return 0;
        fd = x->ch->ops->poll_fd(x->ch, 1);
        if (fd < 0)
            return 0;
        rc = channel_wait_fd(fd, 0, timeout_ms);
        if (rc == -ETIMEDOUT)
            return 0;
        if (rc)
            return rc;
        n = x->ch->ops->read(x->ch, 1, x->ahead + x->ahead_len,
                             sizeof(x->ahead) - x->ahead_len, 0);
        if (n == -ETIMEDOUT)
            return 0;
        if (n < 0)
            return (int)n;
        if (n == 0) {
            x->back_eof = 1;
            return 0;
        }
        x->ahead_len += (size_t)n;
    }
}

int xlproto_query(struct xlproto_ctx *x, const char *uuid, uint64_t epoch,
                  uint8_t *answer_r, int timeout_ms)
{
    uint8_t q[XLPROTO_QUERY_BYTES] = { 0 }, a[XLPROTO_ANSWER_BYTES];
    int rc;

    if (!xlproto_once_encode(q, XLPROTO_QUERY_MAGIC, uuid, epoch))
        return -EINVAL;
    rc = xlproto_read_fixed(x, 1, xlproto_banner, XLPROTO_BANNER_BYTES,
                            "banner", timeout_ms);
    if (rc)
        return rc;
    rc = xlproto_write_msg(x, 0, q, sizeof(q), "query", timeout_ms);
    if (rc)
        return rc;
    rc = channel_read_exact(x->ch, 1, a, sizeof(a), timeout_ms);
    if (rc) {
        report_io(x, rc, 1, "query answer", "migration ack stream");
        return rc;
    }
    if (memcmp(a, XLPROTO_ANSWER_MAGIC, 8)) {
        fprintf(stderr, "xlmig: the target sent no answer to the query\n");
        return -EPROTO;
    }
    *answer_r = a[8];
    return 0;
}
