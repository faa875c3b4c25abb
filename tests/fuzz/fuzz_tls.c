/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what a hostile client controls before it is
 * authenticated.  The first byte picks the target:
 *   even  the rest is a client's bytes to the xlmigd handshake (PSK server
 *         over a socket pair, the client end closed after the bytes): it
 *         must fail cleanly (or, impossibly, authenticate) without a crash,
 *         leak or hang
 *   odd   the rest is an xlmig.conf(5) to parse
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "transport/tls.h"
#include "transport/tls_conf.h"

static struct tls_ctx *server;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const allow[] = { "host-a", NULL };
    char path[] = "/tmp/xlmig-fuzz-psk.XXXXXX";
    struct tls_opts o = { .mode = TLS_MODE_PSK,
                          .psk_file = path,
                          .allow = allow,
                          .handshake_timeout_ms = 200 };
    int fd = mkstemp(path);
    static const char keys[] = "host-a:000102030405060708090a0b0c0d0e0f\n";

    log_threshold = LVL_ERROR - 1; /* quiet */
    if (fd < 0 || write(fd, keys, sizeof(keys) - 1) < 0)
        abort();
    close(fd);
    if (tls_ctx_new(&o, 1, &server))
        abort();
    unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct channel *ch = NULL;
    struct tls_conf c;
    int sp[2];

    if (!size)
        return 0;
    if (data[0] & 1) {
        if (tls_conf_init(&c))
            return 0;
        tls_conf_parse(&c, (const char *)data + 1, size - 1, "fuzz");
        tls_conf_dispose(&c);
        return 0;
    }
    if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
        return 0;
    if (write(sp[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(sp[0]);
        close(sp[1]);
        return 0;
    }
    shutdown(sp[1], SHUT_WR);
    if (tls_channel_new(server, sp[0], "fuzz", &ch, NULL) == 0)
        channel_free(ch);
    close(sp[1]);
    return 0;
}
