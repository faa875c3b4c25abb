/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "journal: "
#include "cli/journal_file.h"
#include "common/fileio.h"
#include "common/log.h"

const char *jfile_dir(void)
{
    const char *d = getenv("XLMIG_JOURNAL_DIR");

    return d && *d ? d : JFILE_DIR_DEFAULT;
}

/* mkdir -p, mode 0700 for the last component */
static int make_dir(const char *path)
{
    char buf[PATH_MAX];
    size_t i, n = strlen(path);

    if (n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) && errno != EEXIST)
            return -errno;
        if (i < n)
            buf[i] = '/';
    }
    return 0;
}

static int rec_path(char *buf, size_t size, const char *uuid,
                    enum journal_role role, const char *suffix)
{
    int n;

    if (!journal_uuid_valid(uuid))
        return -EINVAL;
    n = snprintf(buf, size, "%s/%s.%s%s", jfile_dir(), uuid,
                 journal_role_name(role), suffix);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int fsync_dir(void)
{
    int fd = open(jfile_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd))
        rc = -errno;
    close(fd);
    return rc;
}

static int write_durable(const char *path, const char *tmp, const char *data,
                         size_t len)
{
    int rc = durable_write_file(path, tmp, data, len, 0600);

    return rc ? rc : fsync_dir();
}

int jfile_new_uuid(char out[JOURNAL_UUID_CHARS + 1])
{
    FILE *f = fopen("/proc/sys/kernel/random/uuid", "re");
    int rc = -EIO;

    if (!f)
        return -errno;
    if (fgets(out, JOURNAL_UUID_CHARS + 1, f) && journal_uuid_valid(out))
        rc = 0;
    fclose(f);
    return rc;
}

int jfile_lock(void)
{
    char path[PATH_MAX];
    int fd, rc;

    rc = make_dir(jfile_dir());
    if (rc) {
        LOGEV(ERROR, -rc, "cannot create %s", jfile_dir());
        return rc;
    }
    snprintf(path, sizeof(path), "%s/.lock", jfile_dir());
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        LOGE(ERROR, "cannot open %s", path);
        return rc;
    }
    while (flock(fd, LOCK_EX)) {
        if (errno != EINTR) {
            rc = -errno;
            close(fd);
            return rc;
        }
    }
    return fd;
}

void jfile_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* drops the flock */
}

int jfile_next_epoch(uint64_t *epoch_r)
{
    char path[PATH_MAX], tmp[PATH_MAX], buf[32];
    unsigned long long e = 0;
    FILE *f;
    int fd, rc, n;

    fd = jfile_lock();
    if (fd < 0)
        return fd;
    snprintf(path, sizeof(path), "%s/epoch", jfile_dir());
    snprintf(tmp, sizeof(tmp), "%s/.epoch.tmp", jfile_dir());
    f = fopen(path, "re");
    if (f) {
        if (fscanf(f, "%llu", &e) != 1)
            e = 0;
        fclose(f);
    }
    /* never below the wall clock: a lost epoch file cannot go back */
    if (e < (unsigned long long)time(NULL))
        e = (unsigned long long)time(NULL);
    e++;
    n = snprintf(buf, sizeof(buf), "%llu\n", e);
    rc = write_durable(path, tmp, buf, (size_t)n);
    jfile_unlock(fd);
    if (!rc)
        *epoch_r = e;
    return rc;
}

int jfile_write(const struct journal_rec *r)
{
    char path[PATH_MAX], tmp[PATH_MAX], text[JOURNAL_TEXT_MAX];
    int n, rc;

    rc = make_dir(jfile_dir());
    if (rc)
        return rc;
    rc = rec_path(path, sizeof(path), r->uuid, r->role, "");
    if (!rc)
        rc = rec_path(tmp, sizeof(tmp), r->uuid, r->role, ".tmp");
    if (rc)
        return rc;
    n = journal_encode(r, text, sizeof(text));
    if (n < 0)
        return n;
    rc = write_durable(path, tmp, text, (size_t)n);
    if (rc)
        LOGEV(ERROR, -rc, "cannot write %s", path);
    return rc;
}

static int read_path(const char *path, struct journal_rec *r)
{
    char text[JOURNAL_TEXT_MAX + 1];
    ssize_t n;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, text, sizeof(text));
    rc = n < 0 ? -errno : 0;
    close(fd);
    if (rc)
        return rc;
    if ((size_t)n > JOURNAL_TEXT_MAX)
        return -EINVAL;
    return journal_decode(text, (size_t)n, r);
}

int jfile_read(const char *uuid, enum journal_role role, struct journal_rec *r)
{
    char path[PATH_MAX];
    int rc = rec_path(path, sizeof(path), uuid, role, "");

    return rc ? rc : read_path(path, r);
}

int jfile_remove(const char *uuid, enum journal_role role)
{
    char path[PATH_MAX];
    int rc = rec_path(path, sizeof(path), uuid, role, "");

    if (rc)
        return rc;
    if (unlink(path) && errno != ENOENT)
        return -errno;
    return fsync_dir();
}

int jfile_update(struct journal_rec *r, enum journal_phase to)
{
    struct journal_rec disk;
    int fd, rc;

    fd = jfile_lock();
    if (fd < 0)
        return fd;
    rc = jfile_read(r->uuid, r->role, &disk);
    if (rc)
        goto out;
    if (disk.epoch != r->epoch) {
        rc = -ESTALE;
        *r = disk;
        goto out;
    }
    if (disk.phase == to) {
        r->phase = to;
        goto out;
    }
    if (disk.phase != r->phase) {
        *r = disk;
        rc = -ESTALE;
        goto out;
    }
    rc = journal_advance(r, to, (uint64_t)time(NULL));
    if (!rc)
        rc = jfile_write(r);
out:
    jfile_unlock(fd);
    return rc;
}

int jfile_list(int (*fn)(const struct journal_rec *r, void *opaque),
               void *opaque)
{
    char path[PATH_MAX];
    struct journal_rec r;
    struct dirent *de;
    size_t n;
    DIR *d = opendir(jfile_dir());

    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((de = readdir(d))) {
        n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n <= JOURNAL_UUID_CHARS ||
            (strcmp(de->d_name + JOURNAL_UUID_CHARS, ".source") &&
             strcmp(de->d_name + JOURNAL_UUID_CHARS, ".target")))
            continue;
        snprintf(path, sizeof(path), "%s/%s", jfile_dir(), de->d_name);
        if (read_path(path, &r)) {
            LOG(WARN, "ignoring unreadable record %s", path);
            continue;
        }
        if (fn(&r, opaque))
            break;
    }
    closedir(d);
    return 0;
}

int jfile_pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}
