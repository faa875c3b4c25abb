/* SPDX-License-Identifier: MIT */
/*
 * xlmig-notice-guest: the guest side of xlmig's migration notice
 * (docs/xenstore-hooks.md).  Runs inside a Xen guest; talks to xenstore
 * through libxenstore (/dev/xen/xenbus), with paths relative to the
 * guest's own /local/domain/<domid>.
 *
 *   xlmig-notice-guest [-c CMD] [-1]
 *       Subscribe (data/xlmig-ack = "listening"), watch
 *       data/xlmig/maintenance-event.  On "migrate": print
 *       "XLMIG-NOTICE event=ID deadline=S", run CMD (sh -c, with
 *       XLMIG_EVENT_ID and XLMIG_DEADLINE set) if given, then acknowledge
 *       (data/xlmig-ack = ID) and print "XLMIG-ACK ID".  On "none" after
 *       a notice (e.g. on the target after the migration): print
 *       "XLMIG-DONE", subscribe again, and with -1 exit 0.
 *   xlmig-notice-guest probe
 *       Try what a guest must not be able to do and print
 *       "XLMIG-PROBE state-write=E state-read=E notice-write=E" (errno
 *       names, "ok" if it worked); exit 0 when all were refused.
 * Output is line-buffered on stdout (the console in the test guest).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#define EVENT_KEY "data/xlmig/maintenance-event"
#define ID_KEY    "data/xlmig/event-id"
#define DL_KEY    "data/xlmig/deadline"
#define ACK_KEY   "data/xlmig-ack"
#define VALUE_MAX 128u

/* The value at path, cut to VALUE_MAX-1 bytes, "" when unreadable. */
static void read_key(struct xs_handle *h, const char *path, char *buf)
{
    unsigned len = 0;
    char *v = xs_read(h, XBT_NULL, path, &len);

    buf[0] = '\0';
    if (!v)
        return;
    if (len >= VALUE_MAX)
        len = VALUE_MAX - 1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    free(v);
}

static int write_key(struct xs_handle *h, const char *path, const char *v)
{
    if (!xs_write(h, XBT_NULL, path, v, (unsigned)strlen(v))) {
        fprintf(stderr, "xlmig-notice-guest: cannot write %s: %s\n", path,
                strerror(errno));
        return -errno;
    }
    return 0;
}

static const char *errname(int ok, int e)
{
    if (ok)
        return "ok";
    switch (e) {
    case EACCES:
        return "EACCES";
    case EPERM:
        return "EPERM";
    case ENOENT:
        return "ENOENT";
    default:
        return "error";
    }
}

static int probe(struct xs_handle *h)
{
    unsigned len;
    char *v;
    int w1, e1, r, e2, w2, e3;

    w1 = xs_write(h, XBT_NULL, "/xlmig/guest-probe", "x", 1);
    e1 = errno;
    v = xs_read(h, XBT_NULL, "/xlmig", &len);
    r = v != NULL;
    e2 = errno;
    free(v);
    w2 = xs_write(h, XBT_NULL, EVENT_KEY, "forged", 6);
    e3 = errno;
    printf("XLMIG-PROBE state-write=%s state-read=%s notice-write=%s\n",
           errname(w1, e1), errname(r, e2), errname(w2, e3));
    return w1 || r || w2 ? 1 : 0;
}

static void run_cmd(const char *cmd, const char *id, const char *dl)
{
    char buf[512];
    int st;

    setenv("XLMIG_EVENT_ID", id, 1);
    setenv("XLMIG_DEADLINE", dl, 1);
    snprintf(buf, sizeof(buf), "%s", cmd);
    st = system(buf);
    if (st != 0)
        fprintf(stderr, "xlmig-notice-guest: '%s' exited with %d\n", cmd, st);
}

int main(int argc, char **argv)
{
    struct xs_handle *h;
    const char *cmd = NULL;
    char ev[VALUE_MAX], id[VALUE_MAX], dl[VALUE_MAX];
    char last_id[VALUE_MAX] = "";
    int opt, once = 0, noticed = 0, rc, tries;
    unsigned num;
    char **w;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "probe")) {
        h = xs_open(0);
        if (!h) {
            perror("xlmig-notice-guest: xs_open");
            return 2;
        }
        rc = probe(h);
        xs_close(h);
        return rc;
    }
    while ((opt = getopt(argc, argv, "c:1h")) != -1) {
        switch (opt) {
        case 'c':
            cmd = optarg;
            break;
        case '1':
            once = 1;
            break;
        default:
            fprintf(stderr, "usage: xlmig-notice-guest [-c CMD] [-1] | "
                            "xlmig-notice-guest probe\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    h = xs_open(0);
    if (!h) {
        perror("xlmig-notice-guest: xs_open");
        return 2;
    }
    /* early in boot xenbus may not be ready yet: retry for a minute */
    for (tries = 0;; tries++) {
        if (!write_key(h, ACK_KEY, "listening") && xs_watch(h, EVENT_KEY, "ev"))
            break;
        if (tries == 60) {
            fprintf(stderr, "xlmig-notice-guest: cannot subscribe: %s\n",
                    strerror(errno));
            xs_close(h);
            return 2;
        }
        sleep(1);
    }
    printf("XLMIG-LISTENING\n");
    /* a watch fires once when set, and again after every resume */
    while ((w = xs_read_watch(h, &num))) {
        free(w);
        read_key(h, EVENT_KEY, ev);
        if (!strcmp(ev, "migrate")) {
            read_key(h, ID_KEY, id);
            if (!id[0] || !strcmp(id, last_id))
                continue;
            read_key(h, DL_KEY, dl);
            printf("XLMIG-NOTICE event=%s deadline=%s\n", id, dl);
            if (cmd)
                run_cmd(cmd, id, dl);
            if (!write_key(h, ACK_KEY, id))
                printf("XLMIG-ACK %s\n", id);
            snprintf(last_id, sizeof(last_id), "%s", id);
            noticed = 1;
        } else if (!strcmp(ev, "none") && noticed) {
            noticed = 0;
            last_id[0] = '\0';
            printf("XLMIG-DONE\n");
            /* the ack key does not travel with the guest */
            write_key(h, ACK_KEY, "listening");
            if (once)
                break;
        }
    }
    xs_close(h);
    return 0;
}
