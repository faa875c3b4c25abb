/* SPDX-License-Identifier: MIT */
/*
 * xlmig-notice-guest: the guest side of xlmig's migration notice
 * (docs/xenstore-hooks.md).  Runs inside a Xen guest; talks to xenstore
 * through /dev/xen/xenbus with its own small client (xsg.c; xsg.h says
 * why not libxenstore), with paths relative to the guest's own
 * /local/domain/<domid>.
 *
 *   xlmig-notice-guest [-c CMD] [-z] [-1]
 *       Subscribe (data/xlmig-ack = "listening"), watch
 *       data/xlmig/maintenance-event.  On "migrate": print
 *       "XLMIG-NOTICE event=ID deadline=S", run CMD (sh -c, with
 *       XLMIG_EVENT_ID and XLMIG_DEADLINE set) if given, with -z hand the
 *       free memory back zeroed (xsg_zero.h; prints "XLMIG-ZEROED N MiB
 *       free A -> B MiB"), then acknowledge
 *       (data/xlmig-ack = ID) and print "XLMIG-ACK ID".  On "none" after
 *       a notice (e.g. on the target after the migration): print
 *       "XLMIG-DONE", subscribe again, and with -1 exit 0.
 *   xlmig-notice-guest probe
 *       Try what a guest must not be able to do and print "XLMIG-PROBE
 *       PATH state-read=E state-write=E state-create=E notice-write=E"
 *       (PATH: /xlmig/U/phase, U from the guest's vm key; errno names,
 *       "ok" if it worked); exit 0 when all were refused.
 * Output is line-buffered on stdout (the console in the test guest).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xsg.h"
#include "xsg_zero.h"

#define EVENT_KEY     "data/xlmig/maintenance-event"
#define ID_KEY        "data/xlmig/event-id"
#define DL_KEY        "data/xlmig/deadline"
#define ACK_KEY       "data/xlmig-ack"
#define VALUE_MAX     128u
#define SUBSCRIBE_MAX 60 /* tries, one a second */

/* The value at path, "" when unreadable or too long. */
static void read_key(struct xsg *g, const char *path, char *buf)
{
    if (xsg_read(g, path, buf, VALUE_MAX))
        buf[0] = '\0';
}

static int write_key(struct xsg *g, const char *path, const char *v)
{
    int rc = xsg_write(g, path, v);

    if (rc)
        fprintf(stderr, "xlmig-notice-guest: cannot write %s: %s\n", path,
                strerror(-rc));
    return rc;
}

static const char *errname(int rc)
{
    switch (rc) {
    case 0:
        return "ok";
    case -EACCES:
        return "EACCES";
    case -EPERM:
        return "EPERM";
    case -ENOENT:
        return "ENOENT";
    default:
        return "error";
    }
}

/* What a guest must not be able to do, while a migration runs: read or
 * write its own state subtree (/xlmig/U, U from its "vm" key), create
 * anything under /xlmig, forge its notice. */
static int probe(struct xsg *g)
{
    char vm[VALUE_MAX], path[VALUE_MAX + 16], v[VALUE_MAX];
    const char *uuid;
    int r, w, c, n;

    if (xsg_read(g, "vm", vm, sizeof(vm)) || !(uuid = strrchr(vm, '/')) ||
        strlen(uuid + 1) != 36 || strspn(uuid + 1, "0123456789abcdef-") != 36)
        snprintf(path, sizeof(path), "/xlmig");
    else
        snprintf(path, sizeof(path), "/xlmig/%s/phase", uuid + 1);
    r = xsg_read(g, path, v, sizeof(v));
    w = xsg_write(g, path, "forged");
    c = xsg_write(g, "/xlmig/guest-probe", "x");
    n = xsg_write(g, EVENT_KEY, "forged");
    printf("XLMIG-PROBE %s state-read=%s state-write=%s state-create=%s "
           "notice-write=%s\n",
           path, errname(r), errname(w), errname(c), errname(n));
    return !r || !w || !c || !n ? 1 : 0;
}

static void zero_free(void)
{
    struct xsg_zero_result z;
    int rc = xsg_zero_free(0, &z);

    if (rc) {
        fprintf(stderr, "xlmig-notice-guest: cannot zero free memory: %s\n",
                strerror(-rc));
        return;
    }
    printf("XLMIG-ZEROED %llu MiB free %llu -> %llu MiB%s\n",
           (unsigned long long)(z.zeroed_bytes >> 20),
           (unsigned long long)(z.free_before_kb >> 10),
           (unsigned long long)(z.free_after_kb >> 10),
           z.caches_dropped ? "" : " (caches not dropped)");
}

static void run_cmd(const char *cmd, const char *id, const char *dl)
{
    int st;

    setenv("XLMIG_EVENT_ID", id, 1);
    setenv("XLMIG_DEADLINE", dl, 1);
    st = system(cmd);
    if (st != 0)
        fprintf(stderr, "xlmig-notice-guest: '%s' exited with %d\n", cmd, st);
}

/* Connect, write "listening" and set the watch.  Early in boot xenbus
 * may not answer yet: retry with a fresh connection for a minute. */
static int subscribe(struct xsg *g)
{
    int rc, tries;

    for (tries = 1;; tries++) {
        rc = xsg_open(g, NULL);
        if (!rc)
            rc = xsg_write(g, ACK_KEY, "listening");
        if (!rc)
            rc = xsg_watch(g, EVENT_KEY, "ev");
        if (!rc)
            return 0;
        xsg_close(g);
        if (tries == SUBSCRIBE_MAX || rc == -ENOENT || rc == -EACCES) {
            fprintf(stderr, "xlmig-notice-guest: cannot subscribe: %s\n",
                    strerror(-rc));
            return rc;
        }
        sleep(1);
    }
}

int main(int argc, char **argv)
{
    struct xsg g;
    const char *cmd = NULL;
    char ev[VALUE_MAX], id[VALUE_MAX], dl[VALUE_MAX];
    char last_id[VALUE_MAX] = "";
    int opt, once = 0, noticed = 0, zero = 0, rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "probe")) {
        rc = xsg_open(&g, NULL);
        if (rc) {
            fprintf(stderr, "xlmig-notice-guest: cannot open xenstore: %s\n",
                    strerror(-rc));
            return 2;
        }
        rc = probe(&g);
        xsg_close(&g);
        return rc;
    }
    while ((opt = getopt(argc, argv, "c:z1h")) != -1) {
        switch (opt) {
        case 'c':
            cmd = optarg;
            break;
        case 'z':
            zero = 1;
            break;
        case '1':
            once = 1;
            break;
        default:
            fprintf(stderr, "usage: xlmig-notice-guest [-c CMD] [-z] [-1] | "
                            "xlmig-notice-guest probe\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (subscribe(&g))
        return 2;
    printf("XLMIG-LISTENING\n");
    /* a watch fires once when set, and again after every resume; events
     * met while reading keys are counted, so none is lost */
    while (!(rc = xsg_wait_event(&g))) {
        read_key(&g, EVENT_KEY, ev);
        if (!strcmp(ev, "migrate")) {
            read_key(&g, ID_KEY, id);
            if (!id[0] || !strcmp(id, last_id))
                continue;
            read_key(&g, DL_KEY, dl);
            printf("XLMIG-NOTICE event=%s deadline=%s\n", id, dl);
            if (cmd)
                run_cmd(cmd, id, dl);
            if (zero)
                zero_free();
            if (!write_key(&g, ACK_KEY, id))
                printf("XLMIG-ACK %s\n", id);
            snprintf(last_id, sizeof(last_id), "%s", id);
            noticed = 1;
        } else if (!strcmp(ev, "none") && noticed) {
            noticed = 0;
            last_id[0] = '\0';
            printf("XLMIG-DONE\n");
            /* the ack key does not travel with the guest */
            write_key(&g, ACK_KEY, "listening");
            if (once)
                break;
        }
    }
    if (rc)
        fprintf(stderr, "xlmig-notice-guest: lost xenstore: %s\n",
                strerror(-rc));
    xsg_close(&g);
    return rc ? 2 : 0;
}
