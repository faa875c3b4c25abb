/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of xenstore-hooks' pure core (xenstore-hooks/xsh.c) over a
 * fake xenstore that models xenstored's permission rules (owner, one
 * extra reader, inheritance on creation, unprivileged creators own what
 * they create), a fake clock, a scripted guest and recorded hooks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "../../xenstore-hooks/xsh.h"

/* ------------------------------------------------------------ fake */

#define FAKE_NODES 128
#define GUEST      7u
#define UUID       "0b7a3c1e-58d2-4f6a-9e31-5a2b6c7d8e9f"

struct fake_node {
    char path[XSH_PATH_MAX];
    char value[256];
    uint32_t owner;
    uint32_t reader; /* 0: none besides the owner (and dom0) */
};

struct fake {
    struct fake_node n[FAKE_NODES];
    unsigned count;
    uint64_t now_ms;
    uint64_t wall_s;
    unsigned waits;
    /* scripted guest: at ack_at_ms it writes ack_value (or the current
     * event-id when ack_value is NULL) into its ack key */
    uint64_t ack_at_ms;
    const char *ack_value;
    int acked;
    const char *fail_substr; /* writes to paths containing it fail */
};

static struct fake_node *find(struct fake *f, const char *path)
{
    unsigned i;

    for (i = 0; i < f->count; i++)
        if (!strcmp(f->n[i].path, path))
            return &f->n[i];
    return NULL;
}

/* Create path (and parents) as domain 'by', inheriting perms. */
static struct fake_node *create(struct fake *f, const char *path, uint32_t by)
{
    char parent[XSH_PATH_MAX];
    struct fake_node *p = NULL, *nd;
    char *slash;

    nd = find(f, path);
    if (nd)
        return nd;
    snprintf(parent, sizeof(parent), "%s", path);
    slash = strrchr(parent, '/');
    assert_non_null(slash);
    if (slash != parent) {
        *slash = '\0';
        p = create(f, parent, by);
    }
    assert_true(f->count < FAKE_NODES);
    nd = &f->n[f->count++];
    memset(nd, 0, sizeof(*nd));
    snprintf(nd->path, sizeof(nd->path), "%s", path);
    if (p) {
        nd->owner = p->owner;
        nd->reader = p->reader;
    }
    if (by)
        nd->owner = by;
    return nd;
}

static int f_read(void *xs, const char *path, char *buf, size_t cap)
{
    struct fake_node *nd = find(xs, path);

    if (!nd)
        return -ENOENT;
    if (strlen(nd->value) >= cap)
        return -E2BIG;
    strcpy(buf, nd->value);
    return 0;
}

static int f_write(void *xs, const char *path, const char *value)
{
    struct fake *f = xs;

    if (f->fail_substr && strstr(path, f->fail_substr))
        return -EIO;
    snprintf(create(f, path, 0)->value, 256, "%s", value);
    return 0;
}

static int f_set_perms(void *xs, const char *path, uint32_t reader)
{
    struct fake_node *nd = find(xs, path);

    if (!nd)
        return -ENOENT;
    nd->owner = 0;
    nd->reader = reader;
    return 0;
}

static int under(const char *path, const char *top)
{
    size_t n = strlen(top);

    return !strncmp(path, top, n) && (path[n] == '\0' || path[n] == '/');
}

static int f_rm(void *xs, const char *path)
{
    struct fake *f = xs;
    unsigned i = 0;

    while (i < f->count) {
        if (under(f->n[i].path, path))
            f->n[i] = f->n[--f->count];
        else
            i++;
    }
    return 0;
}

static uint64_t f_now_ms(void *xs)
{
    return ((struct fake *)xs)->now_ms;
}

static uint64_t f_wall_s(void *xs)
{
    return ((struct fake *)xs)->wall_s;
}

/* A guest's write, with xenstored's checks. */
static int guest_write(struct fake *f, uint32_t dom, const char *path,
                       const char *value)
{
    char anc[XSH_PATH_MAX];
    struct fake_node *nd = find(f, path);
    char *slash;

    if (!nd) {
        /* creation needs write access to the nearest existing ancestor */
        snprintf(anc, sizeof(anc), "%s", path);
        while ((slash = strrchr(anc, '/')) && slash != anc) {
            *slash = '\0';
            nd = find(f, anc);
            if (nd)
                break;
        }
        if (!nd || nd->owner != dom)
            return -EACCES;
        nd = create(f, path, dom);
    } else if (nd->owner != dom) {
        return -EACCES;
    }
    snprintf(nd->value, sizeof(nd->value), "%s", value);
    return 0;
}

static int guest_read(struct fake *f, uint32_t dom, const char *path, char *buf)
{
    struct fake_node *nd = find(f, path);

    if (!nd)
        return -ENOENT;
    if (nd->owner != dom && nd->reader != dom)
        return -EACCES;
    strcpy(buf, nd->value);
    return 0;
}

static int f_wait(void *xs, const char *path, unsigned ms)
{
    struct fake *f = xs;
    char id[XSH_VALUE_MAX];

    f->waits++;
    f->now_ms += ms;
    if (f->ack_at_ms && !f->acked && f->now_ms >= f->ack_at_ms) {
        if (f->ack_value) {
            snprintf(id, sizeof(id), "%s", f->ack_value);
        } else {
            /* the guest may read its notice keys */
            assert_int_equal(
                guest_read(f, GUEST, "/local/domain/7/data/xlmig/event-id", id),
                0);
        }
        assert_int_equal(
            guest_write(f, GUEST, "/local/domain/7/data/xlmig-ack", id), 0);
        f->acked = 1;
    }
    return 0;
}

static const struct xsh_xs_ops fake_ops = {
    .read = f_read,
    .write = f_write,
    .set_perms = f_set_perms,
    .rm = f_rm,
    .now_ms = f_now_ms,
    .wall_s = f_wall_s,
    .wait = f_wait,
};

/* A guest domain as libxl makes it: home owned by dom0 and readable by
 * the guest, data/ owned by the guest, vm pointing at its uuid. */
static struct fake *fake_new(void)
{
    struct fake *f = calloc(1, sizeof(*f));
    struct fake_node *nd;

    assert_non_null(f);
    f->now_ms = 1000;
    f->wall_s = 1700000000;
    nd = create(f, "/local/domain/7", 0);
    nd->reader = GUEST;
    create(f, "/local/domain/7/data", 0)->owner = GUEST;
    snprintf(create(f, "/local/domain/7/vm", 0)->value, 256, "/vm/%s", UUID);
    create(f, "/local/domain/0", 0);
    return f;
}

static unsigned count_under(struct fake *f, const char *top)
{
    unsigned i, n = 0;

    for (i = 0; i < f->count; i++)
        n += under(f->n[i].path, top);
    return n;
}

static const char *val(struct fake *f, const char *path)
{
    struct fake_node *nd = find(f, path);

    return nd ? nd->value : NULL;
}

/* ------------------------------------------------------------ hooks */

struct rec_hooks {
    char log[512];
    int fail_stage; /* -1: none */
    struct fake *f; /* non-NULL: also log the state subtree's phase and
                        result as the hook would see them */
};

static int rec_run(void *h, const struct xsh_hook_env *env, int stop)
{
    struct rec_hooks *r = h;
    size_t n = strlen(r->log);
    const char *ph, *res;

    snprintf(r->log + n, sizeof(r->log) - n, "%s:%s:%s:%u:%s:%s:%d",
             xsh_stage_name(env->stage), env->role, env->domain, env->domid,
             env->peer, env->result, stop);
    if (r->f) {
        ph = val(r->f, "/xlmig/" UUID "/phase");
        res = val(r->f, "/xlmig/" UUID "/result");
        n = strlen(r->log);
        snprintf(r->log + n, sizeof(r->log) - n, "[%s,%s]", ph ? ph : "-",
                 res ? res : "-");
    }
    n = strlen(r->log);
    snprintf(r->log + n, sizeof(r->log) - n, ";");
    return (int)env->stage == r->fail_stage ? -ECHILD : 0;
}

/* ------------------------------------------------------------ tests */

static const struct {
    const char *s;
    int valid;
} key_cases[] = {
    { "phase", 1 },
    { "predicted-blackout-ms", 1 },
    { "a_B-9", 1 },
    { "0123456789012345678901234567890", 1 }, /* 31 bytes */
    { "01234567890123456789012345678901", 0 }, /* 32 */
    { "", 0 },
    { "../phase", 0 },
    { "a/b", 0 },
    { "/abs", 0 },
    { "sp ace", 0 },
    { "x.y", 0 },
}, uuid_cases[] = {
    { UUID, 1 },
    { "0B7A3C1E-58D2-4F6A-9E31-5A2B6C7D8E9F", 1 },
    { "0b7a3c1e-58d2-4f6a-9e31-5a2b6c7d8e9", 0 },
    { UUID "0", 0 },
    { "0b7a3c1e/58d2-4f6a-9e31-5a2b6c7d8e9f", 0 },
    { "0b7a3c1e-58d2-4f6a-9e31-5a2b6c7d8e9g", 0 },
    { "", 0 },
}, sanitize_cases[] = {
    /* input, then (next entry) the expected 15-byte result */
    { "../../x y\n", 0 }, { ".._.._x_y_", 0 },
    { "abcdefghijklmnopqrstuvwxyz", 0 }, { "abcdefghijklmno", 0 },
    { "back\\slash", 0 }, { "back_slash", 0 },
};

static void test_validation(void **state)
{
    char buf[16];
    size_t i;

    for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        print_message("key '%s'\n", key_cases[i].s);
        assert_int_equal(!!xsh_key_valid(key_cases[i].s), key_cases[i].valid);
    }
    assert_false(xsh_key_valid(NULL));
    for (i = 0; i < sizeof(uuid_cases) / sizeof(uuid_cases[0]); i++) {
        print_message("uuid '%s'\n", uuid_cases[i].s);
        assert_int_equal(!!xsh_uuid_valid(uuid_cases[i].s),
                         uuid_cases[i].valid);
    }
    for (i = 0; i < sizeof(sanitize_cases) / sizeof(sanitize_cases[0]);
         i += 2) {
        xsh_sanitize(buf, sizeof(buf), sanitize_cases[i].s);
        assert_string_equal(buf, sanitize_cases[i + 1].s);
    }
    xsh_sanitize(buf, sizeof(buf), NULL);
    assert_string_equal(buf, "");
}

static void test_attach_uuid(void **state)
{
    struct fake *f = fake_new();
    struct xsh_ctx c;

    xsh_init(&c, &fake_ops, f, NULL, "source", "vm1", "hostb");
    assert_int_equal(xsh_attach(&c, GUEST), 0);
    assert_string_equal(c.uuid, UUID);
    assert_string_equal(c.dom_path, "/local/domain/7");

    /* a malformed vm path: state keyed by domid */
    snprintf(find(f, "/local/domain/7/vm")->value, 256, "/vm/../../x");
    assert_int_equal(xsh_attach(&c, GUEST), 0);
    assert_string_equal(c.uuid, "");
    assert_int_equal(xsh_state_begin(&c, "notice"), 0);
    assert_string_equal(c.state_path, "/xlmig/domid-7");
    assert_int_equal(xsh_state_end(&c, "ok"), 0);
    assert_int_equal(count_under(f, "/xlmig/domid-7"), 0);
    free(f);
}

static void check_notice_perms(struct fake *f)
{
    static const char *const keys[] = {
        "/local/domain/7/data/xlmig",
        "/local/domain/7/data/xlmig/maintenance-event",
        "/local/domain/7/data/xlmig/deadline",
        "/local/domain/7/data/xlmig/event-id",
    };
    char buf[XSH_VALUE_MAX];
    unsigned i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct fake_node *nd = find(f, keys[i]);

        assert_non_null(nd);
        assert_int_equal(nd->owner, 0);
        assert_int_equal(nd->reader, GUEST);
        assert_int_equal(guest_read(f, GUEST, keys[i], buf), 0);
        assert_int_equal(guest_write(f, GUEST, keys[i], "forged"), -EACCES);
        /* another guest sees nothing */
        assert_int_equal(guest_read(f, 9, keys[i], buf), -EACCES);
    }
    assert_int_equal(
        guest_write(f, GUEST, "/local/domain/7/data/xlmig/new", "x"), -EACCES);
}

/* The notice as the guest's listening and acking vary (the fake clock
 * starts at 1000 ms, the wall clock at 1700000000 s). */
struct notice_case {
    const char *name;
    const char *ack_before; /* the ack key before the notice; NULL: none */
    uint64_t ack_at_ms;     /* the guest writes its ack then; 0: never */
    const char *ack_value;  /* what it writes; NULL: this event-id */
    unsigned notice_s;
    int listening, acked;
    uint64_t wait_ms;
    unsigned waits;       /* calls of ops->wait */
    const char *deadline; /* wall-clock seconds written */
};

static const struct notice_case notice_cases[] = {
    { "does not listen: not waited for", NULL, 0, NULL, 60, 0, 0, 0, 0,
      "1700000000" },
    { "acks after 2.5 s: the wait ends on the ack", XSH_ACK_LISTENING,
      1000 + 2500, NULL, 60, 1, 1, 2500, 25, "1700000060" },
    { "never acks: exactly the notice", XSH_ACK_LISTENING, 0, NULL, 10, 1, 0,
      10000, 10000 / XSH_POLL_MS, "1700000010" },
    { "echoes an old event-id: not an ack", "17-7", 1500, "17-7", 3, 1, 0, 3000,
      30, "1700000003" },
    { "--notice 0: not waited for", XSH_ACK_LISTENING, 0, NULL, 0, 1, 0, 0, 0,
      "1700000000" },
    { "a huge --notice is capped", XSH_ACK_LISTENING, 0, NULL, 1000000, 1, 0,
      (uint64_t)XSH_NOTICE_MAX_S * 1000, XSH_NOTICE_MAX_S * 10, "1700003600" },
};

static void test_notice(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(notice_cases) / sizeof(notice_cases[0]); i++) {
        const struct notice_case *nc = &notice_cases[i];
        struct fake *f = fake_new();
        struct xsh_notice_result r;
        struct xsh_ctx c;

        print_message("case: %s\n", nc->name);
        if (nc->ack_before)
            assert_int_equal(guest_write(f, GUEST,
                                         "/local/domain/7/data/xlmig-ack",
                                         nc->ack_before),
                             0);
        f->ack_at_ms = nc->ack_at_ms;
        f->ack_value = nc->ack_value;
        xsh_init(&c, &fake_ops, f, NULL, "source", "vm1", "hostb");
        assert_int_equal(xsh_attach(&c, GUEST), 0);
        assert_int_equal(xsh_guest_listens(&c), nc->listening);
        assert_int_equal(xsh_notice(&c, nc->notice_s, &r), 0);
        assert_int_equal(r.listening, nc->listening);
        assert_int_equal(r.acked, nc->acked);
        assert_int_equal(r.wait_ms, nc->wait_ms);
        assert_int_equal(f->waits, nc->waits);
        assert_int_equal(f->now_ms, 1000 + nc->wait_ms);
        assert_string_equal(
            val(f, "/local/domain/7/data/xlmig/maintenance-event"), "migrate");
        assert_string_equal(val(f, "/local/domain/7/data/xlmig/deadline"),
                            nc->deadline);
        assert_string_equal(val(f, "/local/domain/7/data/xlmig/event-id"),
                            c.event_id);
        check_notice_perms(f);
        free(f);
    }
}

static void test_notice_squatted(void **state)
{
    struct fake *f = fake_new();
    struct xsh_ctx c;

    /* the guest created our keys first, owning them */
    assert_int_equal(guest_write(f, GUEST,
                                 "/local/domain/7/data/xlmig/maintenance-event",
                                 "none"),
                     0);
    assert_int_equal(find(f, "/local/domain/7/data/xlmig")->owner, GUEST);
    xsh_init(&c, &fake_ops, f, NULL, "source", "vm1", "hostb");
    assert_int_equal(xsh_attach(&c, GUEST), 0);
    assert_int_equal(xsh_notice(&c, 60, NULL), 0);
    check_notice_perms(f);
    /* and clearing keeps them dom0's */
    assert_int_equal(xsh_notice_clear(&c), 0);
    assert_string_equal(val(f, "/local/domain/7/data/xlmig/maintenance-event"),
                        "none");
    assert_string_equal(val(f, "/local/domain/7/data/xlmig/deadline"), "0");
    check_notice_perms(f);
    free(f);
}

static void test_notice_write_fails(void **state)
{
    struct fake *f = fake_new();
    struct xsh_ctx c;

    f->fail_substr = "maintenance-event";
    xsh_init(&c, &fake_ops, f, NULL, "source", "vm1", "hostb");
    assert_int_equal(xsh_attach(&c, GUEST), 0);
    assert_int_equal(xsh_notice(&c, 60, NULL), -EIO);
    /* not attached: nothing to write to */
    xsh_init(&c, &fake_ops, f, NULL, "source", "vm1", "hostb");
    assert_int_equal(xsh_notice(&c, 60, NULL), -EINVAL);
    free(f);
}

static void test_state(void **state)
{
    struct fake *f = fake_new();
    char buf[XSH_VALUE_MAX], big[300];
    struct fake_node *nd;
    struct xsh_ctx c;
    unsigned before = f->count;

    xsh_init(&c, &fake_ops, f, NULL, "source", "vm/1", "../../hostb");
    assert_int_equal(xsh_attach(&c, GUEST), 0);
    assert_int_equal(xsh_state_begin(&c, "notice"), 0);
    assert_string_equal(c.state_path, "/xlmig/" UUID);
    assert_string_equal(val(f, "/xlmig/" UUID "/phase"), "notice");
    assert_string_equal(val(f, "/xlmig/" UUID "/role"), "source");
    assert_string_equal(val(f, "/xlmig/" UUID "/domid"), "7");
    /* names from outside never make a path */
    assert_string_equal(val(f, "/xlmig/" UUID "/domain"), "vm_1");
    assert_string_equal(val(f, "/xlmig/" UUID "/peer"), ".._.._hostb");
    assert_int_equal(xsh_state_set(&c, "../escape", "x"), -EINVAL);
    assert_int_equal(xsh_state_set(&c, "a/b", "x"), -EINVAL);
    assert_int_equal(count_under(f, "/xlmig/" UUID "/a"), 0);
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(xsh_state_set(&c, "long", big), 0);
    assert_int_equal(strlen(val(f, "/xlmig/" UUID "/long")), XSH_VALUE_MAX - 1);

    /* dom0 only: no guest reads or writes any of it */
    nd = find(f, "/xlmig");
    assert_int_equal(nd->owner, 0);
    assert_int_equal(nd->reader, 0);
    assert_int_equal(guest_read(f, GUEST, "/xlmig/" UUID "/phase", buf),
                     -EACCES);
    assert_int_equal(guest_write(f, GUEST, "/xlmig/" UUID "/phase", "x"),
                     -EACCES);
    assert_int_equal(guest_write(f, GUEST, "/xlmig/" UUID "/new", "x"),
                     -EACCES);
    assert_int_equal(guest_write(f, GUEST, "/xlmig/other", "x"), -EACCES);

    assert_int_equal(xsh_state_end(&c, "ok"), 0);
    assert_int_equal(count_under(f, "/xlmig/" UUID), 0);
    assert_string_equal(c.state_path, "");
    /* only the empty /xlmig directory remains */
    assert_int_equal(f->count, before + 1);
    assert_non_null(find(f, "/xlmig"));
    free(f);
}

static void test_state_replaces_leftover(void **state)
{
    struct fake *f = fake_new();
    struct xsh_ctx c;

    f_write(f, "/xlmig/" UUID "/stale", "1");
    xsh_init(&c, &fake_ops, f, NULL, "source", "vm1", "b");
    assert_int_equal(xsh_attach(&c, GUEST), 0);
    assert_int_equal(xsh_state_begin(&c, "notice"), 0);
    assert_null(find(f, "/xlmig/" UUID "/stale"));
    free(f);
}

static void test_no_xenstore(void **state)
{
    struct rec_hooks rh = { "", -1, NULL };
    struct xsh_hook_ops ho = { rec_run, &rh };
    struct xsh_notice_result r;
    struct xsh_ctx c;

    xsh_init(&c, NULL, NULL, &ho, "source", "vm1", "b");
    assert_int_equal(xsh_attach(&c, 3), 0);
    assert_int_equal(xsh_notice(&c, 60, &r), 0);
    assert_false(r.listening);
    assert_int_equal(xsh_state_begin(&c, "x"), 0);
    assert_int_equal(xsh_state_set(&c, "phase", "x"), 0);
    assert_int_equal(xsh_notice_clear(&c), 0);
    xsh_mig_event(&c, MIG_EV_START, NULL, NULL, 0);
    assert_int_equal(xsh_state_end(&c, "ok"), 0);
    /* hooks still run */
    assert_int_equal(xsh_run_hooks(&c, XSH_STAGE_PRE_MIGRATE, NULL), 0);
    assert_string_equal(rh.log, "pre-migrate:source:vm1:3:b::1;");
}

static void test_hook_stages(void **state)
{
    struct rec_hooks rh = { "", XSH_STAGE_PRE_MIGRATE, NULL };
    struct xsh_hook_ops ho = { rec_run, &rh };
    struct xsh_ctx c;

    xsh_init(&c, NULL, NULL, &ho, "source", "vm1", "b");
    /* pre-migrate failures are returned: the caller aborts */
    assert_int_equal(xsh_run_hooks(&c, XSH_STAGE_PRE_MIGRATE, NULL), -ECHILD);
    /* later stages only log */
    rh.fail_stage = XSH_STAGE_PRE_BLACKOUT;
    assert_int_equal(xsh_run_hooks(&c, XSH_STAGE_PRE_BLACKOUT, NULL), 0);
    assert_true(c.hooks_failed_stage);
    rh.fail_stage = XSH_STAGE_FAILED;
    assert_int_equal(xsh_run_hooks(&c, XSH_STAGE_FAILED, "failed"), 0);
    assert_string_equal(xsh_stage_name(XSH_STAGE_POST_MIGRATE), "post-migrate");
    assert_string_equal(xsh_stage_name((enum xsh_stage)42), "unknown");
}

static void round_ev(struct xsh_ctx *c, unsigned it, int64_t dirty,
                     int decision)
{
    struct mig_stats s;
    struct precopy_round r;

    memset(&s, 0, sizeof(s));
    memset(&r, 0, sizeof(r));
    r.iteration = it;
    r.dirty_pages = dirty;
    r.elapsed_ns = 1000000000ull * (it + 1);
    r.raw_bytes = 100000000ull * (it + 1); /* 100 MB/s */
    r.wire_bytes = r.raw_bytes / 2;
    xsh_mig_event(c, MIG_EV_ROUND, &s, &r, decision);
}

static void test_observer_success(void **state)
{
    struct rec_hooks rh = { "", -1, NULL };
    struct xsh_hook_ops ho = { rec_run, &rh };
    struct fake *f = fake_new();
    struct mig_stats s;
    struct xsh_ctx c;
    unsigned before;

    memset(&s, 0, sizeof(s));
    assert_int_equal(guest_write(f, GUEST, "/local/domain/7/data/xlmig-ack",
                                 XSH_ACK_LISTENING),
                     0);
    f->ack_at_ms = 1200;
    rh.f = f;
    before = f->count;
    xsh_init(&c, &fake_ops, f, &ho, "source", "vm1", "hostb");
    assert_int_equal(xsh_attach(&c, GUEST), 0);
    assert_int_equal(xsh_run_hooks(&c, XSH_STAGE_PRE_MIGRATE, NULL), 0);
    assert_int_equal(xsh_state_begin(&c, "notice"), 0);
    assert_int_equal(xsh_notice(&c, 60, NULL), 0);
    xsh_mig_event(&c, MIG_EV_START, &s, NULL, 0);
    assert_string_equal(val(f, "/xlmig/" UUID "/phase"), "precopy");
    round_ev(&c, 0, 25600, PRECOPY_CONTINUE);
    assert_string_equal(val(f, "/xlmig/" UUID "/round"), "0");
    assert_string_equal(val(f, "/xlmig/" UUID "/dirty-pages"), "25600");
    assert_string_equal(val(f, "/xlmig/" UUID "/bytes"), "50000000");
    /* 25600 pages * 4096 B at 100 MB/s = 1048.576 ms */
    assert_string_equal(val(f, "/xlmig/" UUID "/predicted-blackout-ms"),
                        "1048");
    assert_null(strstr(rh.log, "pre-blackout"));
    round_ev(&c, 1, 100, PRECOPY_STOP);
    assert_string_equal(val(f, "/xlmig/" UUID "/phase"), "pre-blackout");
    /* one pre-blackout call, even if the policy is asked again */
    round_ev(&c, 2, 100, PRECOPY_STOP);
    xsh_mig_event(&c, MIG_EV_SUSPENDED, &s, NULL, 0);
    assert_string_equal(val(f, "/xlmig/" UUID "/phase"), "blackout");
    s.wire_bytes = 123;
    xsh_mig_event(&c, MIG_EV_STREAM_DONE, &s, NULL, 0);
    assert_string_equal(val(f, "/xlmig/" UUID "/phase"), "handover");
    assert_string_equal(val(f, "/xlmig/" UUID "/bytes"), "123");
    xsh_mig_event(&c, MIG_EV_DONE, &s, NULL, 0);
    /* the post-migrate hook sees the subtree final */
    assert_string_equal(rh.log, "pre-migrate:source:vm1:7:hostb::1[-,-];"
                                "pre-blackout:source:vm1:7:hostb::0"
                                "[pre-blackout,-];"
                                "post-migrate:source:vm1:7:hostb:ok:0"
                                "[done,ok];");
    /* no state node left; the notice keys live in the guest's area
     * (removed with the domain) */
    assert_int_equal(count_under(f, "/xlmig/" UUID), 0);
    assert_int_equal(f->count, before + 1 /* /xlmig */ + 4 /* notice */);
    free(f);
}

static void test_observer_failure(void **state)
{
    struct fake *f = fake_new();
    struct rec_hooks rh = { "", XSH_STAGE_FAILED, f };
    struct xsh_hook_ops ho = { rec_run, &rh };
    struct mig_stats s;
    struct xsh_ctx c;

    memset(&s, 0, sizeof(s));
    xsh_init(&c, &fake_ops, f, &ho, "source", "vm1", "hostb");
    assert_int_equal(xsh_attach(&c, GUEST), 0);
    assert_int_equal(xsh_notice(&c, 60, NULL), 0);
    /* the observer creates the subtree if the caller did not */
    xsh_mig_event(&c, MIG_EV_START, &s, NULL, 0);
    assert_string_equal(val(f, "/xlmig/" UUID "/phase"), "precopy");
    round_ev(&c, 0, 1000, PRECOPY_CONTINUE);
    xsh_mig_event(&c, MIG_EV_DONE, &s, NULL, -EIO);
    assert_string_equal(rh.log,
                        "failed:source:vm1:7:hostb:failed:0[done,failed];");
    /* the guest stays: it hears the event is over */
    assert_string_equal(val(f, "/local/domain/7/data/xlmig/maintenance-event"),
                        "none");
    check_notice_perms(f);
    assert_int_equal(count_under(f, "/xlmig/" UUID), 0);
    free(f);
}

/* fake inner target backend */
struct fake_dst {
    int restore_rc;
    int unpaused, destroyed;
};

static int fd_restore(void *be, const char *cfg, int sfd, int bfd,
                      uint32_t *domid_r, char **name_r)
{
    struct fake_dst *d = be;

    if (d->restore_rc)
        return d->restore_rc;
    *domid_r = GUEST;
    *name_r = strdup("vm1");
    return 0;
}

static int fd_rename(void *be, uint32_t domid, const char *a, const char *b)
{
    return 0;
}

static int fd_unpause(void *be, uint32_t domid)
{
    ((struct fake_dst *)be)->unpaused++;
    return 0;
}

static int fd_destroy(void *be, uint32_t domid)
{
    ((struct fake_dst *)be)->destroyed++;
    return 0;
}

static const struct mig_dst_ops fake_dst_ops = {
    fd_restore,
    fd_rename,
    fd_unpause,
    fd_destroy,
};

static void test_target(void **state)
{
    struct fake *f = fake_new();
    struct rec_hooks rh = { "", -1, f };
    struct xsh_hook_ops ho = { rec_run, &rh };
    struct fake_dst d = { 0, 0, 0 };
    struct xsh_ctx c;
    struct xsh_dst_wrap w;
    uint32_t domid = 0;
    char *name = NULL;

    /* the target's fresh domain: no notice keys, no ack yet */
    xsh_init(&c, &fake_ops, f, &ho, "target", NULL, "hosta");
    w.inner = &fake_dst_ops;
    w.be = &d;
    w.c = &c;
    w.restored = 0;
    assert_int_equal(xsh_dst_ops.restore(&w, "{}", 0, 1, &domid, &name), 0);
    assert_int_equal(domid, GUEST);
    assert_true(w.restored);
    assert_string_equal(val(f, "/xlmig/" UUID "/phase"), "restored");
    assert_string_equal(val(f, "/xlmig/" UUID "/role"), "target");
    assert_string_equal(val(f, "/xlmig/" UUID "/domain"), "vm1");
    assert_string_equal(val(f, "/local/domain/7/data/xlmig/maintenance-event"),
                        "none");
    check_notice_perms(f);
    assert_int_equal(xsh_dst_ops.rename(&w, domid, "a", "b"), 0);
    assert_int_equal(xsh_dst_ops.unpause(&w, domid), 0);
    assert_int_equal(d.unpaused, 1);
    assert_string_equal(val(f, "/xlmig/" UUID "/phase"), "running");
    xsh_target_done(&c, 0);
    assert_string_equal(rh.log,
                        "post-migrate:target:vm1:7:hosta:ok:0[done,ok];");
    assert_int_equal(count_under(f, "/xlmig/" UUID), 0);
    free(name);

    /* a failed restore touches nothing */
    d.restore_rc = -3;
    rh.log[0] = '\0';
    xsh_init(&c, &fake_ops, f, &ho, "target", NULL, "hosta");
    w.restored = 0;
    assert_int_equal(xsh_dst_ops.restore(&w, "{}", 0, 1, &domid, &name), -3);
    assert_false(w.restored);
    assert_string_equal(c.state_path, "");
    assert_int_equal(xsh_dst_ops.destroy(&w, domid), 0);
    assert_int_equal(d.destroyed, 1);
    xsh_target_done(&c, -EIO);
    /* (no subtree was made: nothing to see) */
    assert_string_equal(rh.log, "failed:target::0:hosta:failed:0[-,-];");
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_attach_uuid),
        cmocka_unit_test(test_notice),
        cmocka_unit_test(test_notice_squatted),
        cmocka_unit_test(test_notice_write_fails),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_state_replaces_leftover),
        cmocka_unit_test(test_no_xenstore),
        cmocka_unit_test(test_hook_stages),
        cmocka_unit_test(test_observer_success),
        cmocka_unit_test(test_observer_failure),
        cmocka_unit_test(test_target),
    };

    log_threshold = LVL_ERROR;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
