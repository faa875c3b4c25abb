/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "journal: "
#include "cli/once.h"
#include "common/log.h"
#include "transport/xlproto.h"

#define QUERY_TIMEOUT_MS 30000

/* ------------------------------------------------------------ source */

static int src_journal(void *opaque, enum journal_phase to)
{
    struct once_src *o = opaque;
    int rc = jfile_update(&o->rec, to);

    if (rc)
        LOGEV(ERROR, -rc, "cannot journal %s of migration %s",
              journal_phase_name(to), o->rec.uuid);
    return rc;
}

static int src_query(void *opaque, enum journal_answer *a)
{
    struct once_src *o = opaque;
    struct xlproto_ctx x;
    struct channel *ch;
    unsigned i, delay_s = 2;
    uint8_t ans;
    int rc = -ENOTCONN;

    for (i = 0; i < o->query_tries; i++) {
        if (i) {
            fprintf(stderr,
                    "migration sender: no answer yet (%s); asking again in "
                    "%u s (%u/%u)\n",
                    strerror(-rc), delay_s, i + 1, o->query_tries);
            sleep(delay_s);
            delay_s = delay_s < 16 ? delay_s * 2 : 30;
        }
        ch = NULL;
        rc = o->connect(o->connect_opaque, &ch);
        if (rc)
            continue;
        xlproto_ctx_init(&x, ch, 1, NULL);
        rc = xlproto_query(&x, o->rec.uuid, o->rec.epoch, &ans,
                           QUERY_TIMEOUT_MS);
        channel_free(ch);
        if (rc)
            continue;
        if (ans > JOURNAL_ANS_UNKNOWN)
            ans = JOURNAL_ANS_UNKNOWN;
        *a = (enum journal_answer)ans;
        fprintf(stderr, "migration sender: target's answer: %s\n",
                journal_answer_name(*a));
        return 0;
    }
    return rc;
}

static void src_in_doubt(void *opaque)
{
    struct once_src *o = opaque;

    fprintf(stderr,
            "xlmig: IN DOUBT: migration %s (epoch %llu) of domain '%s' to "
            "%s\n"
            "xlmig:   the target gave no definite answer, so no copy is "
            "resumed here.\n"
            "xlmig:   here: '%s--migratedaway' stays paused (journal "
            "%s/%s.source).\n"
            "xlmig:   on %s: check 'xl list' for '%s' or '%s--incoming' and "
            "%s/%s.target.\n"
            "xlmig:   'xlmig journal-sweep' on both hosts resolves it once "
            "the target answers; resume at most one copy by hand otherwise.\n",
            o->rec.uuid, (unsigned long long)o->rec.epoch, o->rec.domain,
            o->peer_host, o->rec.domain, jfile_dir(), o->rec.uuid, o->peer_host,
            o->rec.domain, o->rec.domain, JFILE_DIR_DEFAULT, o->rec.uuid);
}

int once_src_begin(struct once_src *o, const char *domain, uint32_t domid,
                   const char *peer_desc, const char *peer_host,
                   once_connect_fn *connect, void *connect_opaque)
{
    char uuid[JOURNAL_UUID_CHARS + 1], peer[JOURNAL_PEER_MAX];
    const char *tries = getenv("XLMIG_QUERY_TRIES");
    uint64_t epoch;
    int rc;

    memset(o, 0, sizeof(*o));
    o->query_tries = 6;
    if (tries && atoi(tries) > 0 && atoi(tries) < 100)
        o->query_tries = (unsigned)atoi(tries);
    snprintf(peer, sizeof(peer), "%s", peer_desc ? peer_desc : "");
    peer[strcspn(peer, "\n\r")] = '\0';
    rc = jfile_new_uuid(uuid);
    if (!rc)
        rc = jfile_next_epoch(&epoch);
    if (!rc)
        rc = journal_rec_init(&o->rec, JOURNAL_SOURCE, uuid, epoch, domain,
                              peer);
    if (rc)
        goto out;
    o->rec.domid = domid;
    o->rec.pid = (int32_t)getpid();
    o->rec.time_s = (uint64_t)time(NULL);
    rc = jfile_write(&o->rec);
    if (rc)
        goto out;
    o->connect = connect;
    o->connect_opaque = connect_opaque;
    o->peer_host = peer_host ? peer_host : "the target";
    o->ops.uuid = o->rec.uuid;
    o->ops.epoch = o->rec.epoch;
    o->ops.journal = src_journal;
    o->ops.query = connect ? src_query : NULL;
    o->ops.in_doubt = src_in_doubt;
    o->ops.opaque = o;
    o->active = 1;
    LOG(INFO, "migration %s epoch %llu journaled", uuid,
        (unsigned long long)epoch);
out:
    if (rc)
        LOGEV(WARN, -rc,
              "no journal in %s: migrating without the "
              "exactly-once hand-over",
              jfile_dir());
    return rc;
}

void once_src_end(struct once_src *o)
{
    struct journal_rec disk;

    if (!o->active)
        return;
    /* terminal: nothing left to resolve on this side */
    if (!jfile_read(o->rec.uuid, JOURNAL_SOURCE, &disk) &&
        journal_phase_terminal(disk.phase))
        jfile_remove(o->rec.uuid, JOURNAL_SOURCE);
    o->active = 0;
}

/* ------------------------------------------------------------ target */

/* c_info.name of a libxl JSON config, "" if not found (the sweep then
 * finds the --incoming copy by its name suffix) */
static void config_name(const char *json, char *out, size_t size)
{
    const char *p = json ? strstr(json, "\"c_info\"") : NULL;
    size_t n = 0;

    out[0] = '\0';
    if (p)
        p = strstr(p, "\"name\"");
    if (!p)
        return;
    p += 6;
    while (*p == ' ' || *p == ':')
        p++;
    if (*p++ != '"')
        return;
    while (p[n] && p[n] != '"' && p[n] != '\\' && n + 1 < size)
        n++;
    if (p[n] != '"')
        return;
    memcpy(out, p, n);
    out[n] = '\0';
}

static int dst_begin(void *opaque, const char *uuid, uint64_t epoch,
                     const char *config_json)
{
    struct once_dst *o = opaque;
    struct journal_rec old;
    char name[JOURNAL_NAME_MAX];
    int fd, rc;

    config_name(config_json, name, sizeof(name));
    rc = journal_rec_init(&o->rec, JOURNAL_TARGET, uuid, epoch, name, "");
    if (rc)
        return rc;
    o->rec.pid = (int32_t)getpid();
    o->rec.time_s = (uint64_t)time(NULL);
    fd = jfile_lock();
    if (fd < 0)
        return fd;
    /* the same migration twice is refused: its record decides queries */
    if (!jfile_read(uuid, JOURNAL_TARGET, &old)) {
        LOG(ERROR, "migration %s is already journaled here (%s)", uuid,
            journal_phase_name(old.phase));
        rc = -EEXIST;
    } else {
        rc = jfile_write(&o->rec);
    }
    jfile_unlock(fd);
    if (!rc)
        o->active = 1;
    return rc;
}

static int dst_journal(void *opaque, enum journal_phase to, uint32_t domid,
                       const char *name)
{
    struct once_dst *o = opaque;
    int rc;

    if (!o->active)
        return -EINVAL;
    if (domid)
        o->rec.domid = domid;
    if (name && !o->rec.domain[0])
        snprintf(o->rec.domain, sizeof(o->rec.domain), "%s", name);
    rc = jfile_update(&o->rec, to);
    if (rc && rc != -ESTALE)
        LOGEV(ERROR, -rc, "cannot journal %s of migration %s",
              journal_phase_name(to), o->rec.uuid);
    return rc;
}

static int dst_answer(void *opaque, const char *uuid, uint64_t epoch,
                      enum journal_answer *a)
{
    struct once_dst *o = opaque;
    struct journal_rec r;
    uint32_t fenced = 0;
    int fd, rc, have;

    fd = jfile_lock();
    if (fd < 0)
        return fd;
    rc = jfile_read(uuid, JOURNAL_TARGET, &r);
    have = rc == 0;
    if (rc && rc != -ENOENT) {
        *a = JOURNAL_ANS_UNKNOWN; /* unreadable: never a licence */
        rc = 0;
        goto out;
    }
    rc = 0;
    switch (journal_query_action(have ? &r : NULL, epoch)) {
    case JOURNAL_Q_ANSWER_NEVER_RAN:
        *a = JOURNAL_ANS_NEVER_RAN;
        break;
    case JOURNAL_Q_ANSWER_RUNNING:
        *a = JOURNAL_ANS_RUNNING;
        break;
    case JOURNAL_Q_FENCE:
        /* under the lock: the receiver cannot journal RUNNING now */
        rc = journal_advance(&r, JOURNAL_ABORTED, (uint64_t)time(NULL));
        if (!rc)
            rc = jfile_write(&r);
        if (rc) {
            *a = JOURNAL_ANS_UNKNOWN;
            rc = 0;
            break;
        }
        fenced = r.domid ? r.domid : UINT32_MAX;
        *a = JOURNAL_ANS_NEVER_RAN;
        break;
    default:
        *a = JOURNAL_ANS_UNKNOWN;
        break;
    }
out:
    jfile_unlock(fd);
    if (fenced) {
        fprintf(stderr,
                "migration target: migration %s aborted by the source's "
                "query; destroying the paused copy (domain %d).\n",
                uuid, fenced == UINT32_MAX ? -1 : (int)fenced);
        if (fenced != UINT32_MAX && o->dst_ops)
            o->dst_ops->destroy(o->dst_be, fenced);
    }
    return rc;
}

void once_dst_init(struct once_dst *o, const struct mig_dst_ops *dst_ops,
                   void *dst_be)
{
    memset(o, 0, sizeof(*o));
    o->dst_ops = dst_ops;
    o->dst_be = dst_be;
    o->ops.begin = dst_begin;
    o->ops.journal = dst_journal;
    o->ops.answer = dst_answer;
    o->ops.opaque = o;
}
