/* SPDX-License-Identifier: MIT */
/* Channels: xl's rune (sh -c with two pipes) and one-shot TCP. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/channel.h"

static void test_rune_round_trip(void **state)
{
    struct channel *ch = NULL;
    char buf[64] = { 0 };

    /* the transport's stdin is the stream, its stdout the back channel */
    assert_int_equal(channel_rune_new("exec cat", &ch), 0);
    assert_int_equal(channel_write_all(ch, 0, "hello, target", 13, 1000), 0);
    assert_int_equal(channel_read_exact(ch, 1, buf, 13, 5000), 0);
    assert_string_equal(buf, "hello, target");
    assert_int_equal(ch->stream_bytes, 13);
    assert_int_equal(ch->back_bytes, 13);
    ch->ops->shutdown_send(ch);
    assert_int_equal(ch->ops->read(ch, 1, buf, 1, 5000), 0); /* EOF */
    channel_free(ch);
}

static void test_rune_command_fails(void **state)
{
    struct channel *ch = NULL;
    char buf[8];

    assert_int_equal(channel_rune_new("exit 3", &ch), 0);
    assert_int_equal(channel_read_exact(ch, 1, buf, 8, 5000), -EPIPE);
    channel_free(ch); /* reports the exit status, reaps the child */
}

static void test_read_deadline(void **state)
{
    struct channel *ch = NULL;
    char buf[8];

    assert_int_equal(channel_rune_new("exec sleep 5", &ch), 0);
    assert_int_equal(channel_read_exact(ch, 1, buf, 8, 100), -ETIMEDOUT);
    ch->ops->shutdown_send(ch);
    channel_free(ch);
}

struct acceptor {
    unsigned port;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct channel *ch;
    int rc;
};

static void on_ready(unsigned port, void *opaque)
{
    struct acceptor *a = opaque;

    pthread_mutex_lock(&a->lock);
    a->port = port;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

static void *accept_main(void *arg)
{
    struct acceptor *a = arg;

    a->rc = channel_tcp_accept_new("127.0.0.1", "0", 5000, on_ready, a, &a->ch);
    return NULL;
}

static void test_tcp_round_trip(void **state)
{
    struct acceptor a = { 0 };
    struct channel *c = NULL;
    char port[16], buf[16] = { 0 };
    pthread_t t;

    pthread_mutex_init(&a.lock, NULL);
    pthread_cond_init(&a.cond, NULL);
    assert_int_equal(pthread_create(&t, NULL, accept_main, &a), 0);
    pthread_mutex_lock(&a.lock);
    while (!a.port)
        pthread_cond_wait(&a.cond, &a.lock);
    pthread_mutex_unlock(&a.lock);
    snprintf(port, sizeof(port), "%u", a.port);
    assert_int_equal(channel_tcp_connect_new("127.0.0.1", port, 5000, &c), 0);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    /* stream: sender -> receiver; back: receiver -> sender */
    assert_int_equal(channel_write_all(c, 0, "stream", 6, 1000), 0);
    assert_int_equal(channel_read_exact(a.ch, 0, buf, 6, 1000), 0);
    assert_string_equal(buf, "stream");
    assert_int_equal(channel_write_all(a.ch, 1, "answer", 6, 1000), 0);
    assert_int_equal(channel_read_exact(c, 1, buf, 6, 1000), 0);
    assert_memory_equal(buf, "answer", 6);
    /* the sender's end of stream does not close the back channel */
    c->ops->shutdown_send(c);
    assert_int_equal(a.ch->ops->read(a.ch, 0, buf, 1, 1000), 0);
    assert_int_equal(channel_write_all(a.ch, 1, "x", 1, 1000), 0);
    assert_int_equal(channel_read_exact(c, 1, buf, 1, 1000), 0);
    channel_free(a.ch);
    channel_free(c);
}

static void test_tcp_refused(void **state)
{
    struct channel *c = NULL;

    /* port 1 on loopback: nothing listens there */
    assert_int_not_equal(channel_tcp_connect_new("127.0.0.1", "1", 2000, &c),
                         0);
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rune_round_trip),
        cmocka_unit_test(test_rune_command_fails),
        cmocka_unit_test(test_read_deadline),
        cmocka_unit_test(test_tcp_round_trip),
        cmocka_unit_test(test_tcp_refused),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
