/* Internal file helpers: bounded reads, exact positioned reads, atomic
 * writes (temporary file + fsync + rename). See fileutil.h. */
#include "core/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Largest single read()/write() request; keeps ssize_t results meaningful. */
#define IO_CHUNK ((size_t)1 << 30)

/* Thread-safe strerror into buf (XSI strerror_r: _POSIX_C_SOURCE without
 * _GNU_SOURCE, as the build defines). */
static const char *errtext(int e, char *buf, size_t n)
{
    if (strerror_r(e, buf, n) != 0)
        snprintf(buf, n, "error %d", e);
    return buf;
}

static stylize_status sys_error(stylize_error *err, int e, const char *what, const char *path)
{
    char eb[128];
    return stylize_error_set(err, STYLIZE_ERR_IO, "cannot %s %s: %s", what, path,
                             errtext(e, eb, sizeof eb));
}

/* read() that retries on EINTR. */
static ssize_t read_some(int fd, void *buf, size_t n)
{
    ssize_t r;
    if (n > IO_CHUNK)
        n = IO_CHUNK;
    do {
        r = read(fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return r;
}

stylize_status stylize_file_read(const char *path, size_t max_bytes, unsigned char **data,
                                 size_t *len, stylize_error *err)
{
    struct stat st;
    unsigned char *buf = NULL; /* cap + 1 bytes */
    size_t cap, n = 0;
    stylize_status s = STYLIZE_OK;
    int fd;

    *data = NULL;
    *len = 0;
    if (max_bytes >= (size_t)-1)
        max_bytes = (size_t)-2; /* leave room for the terminating '\0' */
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return sys_error(err, errno, "open", path);
    if (fstat(fd, &st) != 0) {
        s = sys_error(err, errno, "stat", path);
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        s = stylize_error_set(err, STYLIZE_ERR_IO, "cannot read %s: is a directory", path);
        goto done;
    }
    if (S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
            s = stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                  "%s: file is %llu bytes, more than the limit of %zu", path,
                                  (unsigned long long)st.st_size, max_bytes);
            goto done;
        }
        cap = (size_t)st.st_size;
    } else {
        cap = max_bytes < 65536 ? max_bytes : 65536;
    }
    buf = malloc(cap + 1);
    if (!buf) {
        s = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path,
                              cap);
        goto done;
    }
    for (;;) {
        ssize_t r;
        if (n == cap) {
            /* Full: probe one byte to tell end of file from growth. */
            unsigned char probe;
            r = read_some(fd, &probe, 1);
            if (r < 0) {
                s = sys_error(err, errno, "read", path);
                goto done;
            }
            if (r == 0)
                break;
            if (cap >= max_bytes) {
                s = stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                      "%s: file is more than the limit of %zu bytes", path,
                                      max_bytes);
                goto done;
            }
            size_t ncap = cap < 4096 ? 4096 : (cap > max_bytes / 2 ? max_bytes : cap * 2);
            if (ncap > max_bytes)
                ncap = max_bytes;
            unsigned char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                s = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory reading %s", path);
                goto done;
            }
            buf = nb;
            cap = ncap;
            buf[n++] = probe;
            continue;
        }
        r = read_some(fd, buf + n, cap - n);
        if (r < 0) {
            s = sys_error(err, errno, "read", path);
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
done:
    close(fd);
    if (s != STYLIZE_OK) {
        free(buf);
        return s;
    }
    *data = buf;
    *len = n;
    return STYLIZE_OK;
}

stylize_status stylize_file_open_read(const char *path, int *fd, uint64_t *size,
                                      stylize_error *err)
{
    struct stat st;
    int d;
    *fd = -1;
    *size = 0;
    do {
        d = open(path, O_RDONLY | O_CLOEXEC);
    } while (d < 0 && errno == EINTR);
    if (d < 0)
        return sys_error(err, errno, "open", path);
    if (fstat(d, &st) != 0) {
        stylize_status s = sys_error(err, errno, "stat", path);
        close(d);
        return s;
    }
    if (!S_ISREG(st.st_mode)) {
        close(d);
        return stylize_error_set(err, STYLIZE_ERR_IO, "cannot read %s: not a regular file", path);
    }
    *fd = d;
    *size = (uint64_t)st.st_size;
    return STYLIZE_OK;
}

stylize_status stylize_file_pread(int fd, const char *path, void *buf, size_t len, uint64_t off,
                                  stylize_error *err)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t want = len - done > IO_CHUNK ? IO_CHUNK : len - done;
        uint64_t pos = off + done;
        if (pos < off || pos > (uint64_t)INT64_MAX || (uint64_t)(off_t)pos != pos)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: offset %llu out of range", path,
                                     (unsigned long long)off);
        ssize_t r = pread(fd, p + done, want, (off_t)pos);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return sys_error(err, errno, "read", path);
        }
        if (r == 0)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s: truncated: %zu bytes at offset %llu, end of file after %zu",
                                     path, len, (unsigned long long)off, done);
        done += (size_t)r;
    }
    return STYLIZE_OK;
}

/* Process umask without changing it (umask() would race with other threads):
 * the "Umask:" line of /proc/self/status on Linux, else 022. */
static mode_t current_umask(void)
{
    mode_t m = 022;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f)
        return m;
    while (fgets(line, sizeof line, f)) {
        unsigned v;
        if (sscanf(line, "Umask: %o", &v) == 1) {
            m = (mode_t)(v & 0777);
            break;
        }
    }
    fclose(f);
    return m;
}

static void atomic_release(stylize_atomic_file *f)
{
    free(f->path);
    free(f->tmp_path);
    f->path = NULL;
    f->tmp_path = NULL;
    f->fd = -1;
}

stylize_status stylize_atomic_open(stylize_atomic_file *f, const char *path, stylize_error *err)
{
    f->fd = -1;
    f->path = NULL;
    f->tmp_path = NULL;
    if (!path || !*path)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "empty output path");
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0; /* including the '/' */
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "output path %s does not name a file", path);

    static const char suffix[] = ".tmp.XXXXXX";
    size_t namelen = strlen(name), tlen;
    /* dir + "." + name + suffix + NUL */
    if (stylize_size_add(dirlen, namelen, &tlen) || stylize_size_add(tlen, sizeof suffix + 1, &tlen))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "output path too long");
    f->tmp_path = malloc(tlen);
    f->path = strdup(path);
    if (!f->tmp_path || !f->path) {
        atomic_release(f);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory");
    }
    memcpy(f->tmp_path, path, dirlen);
    f->tmp_path[dirlen] = '.';
    memcpy(f->tmp_path + dirlen + 1, name, namelen);
    memcpy(f->tmp_path + dirlen + 1 + namelen, suffix, sizeof suffix);

    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        stylize_status s = sys_error(err, errno, "create a temporary file for", path);
        atomic_release(f);
        return s;
    }
    f->fd = fd;
    struct stat st;
    mode_t mode;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        mode = st.st_mode & 07777;
    else
        mode = 0666 & ~current_umask();
    (void)fchmod(fd, mode); /* best effort: mkstemp's 0600 is a safe fallback */
    return STYLIZE_OK;
}

void stylize_atomic_abort(stylize_atomic_file *f)
{
    if (!f || !f->tmp_path)
        return;
    if (f->fd >= 0)
        close(f->fd);
    unlink(f->tmp_path);
    atomic_release(f);
}

stylize_status stylize_atomic_write(stylize_atomic_file *f, const void *data, size_t len,
                                    stylize_error *err)
{
    const unsigned char *p = data;
    if (!f->tmp_path || f->fd < 0)
        return stylize_error_set(err, STYLIZE_ERR_INTERNAL, "write to a closed atomic file");
    while (len > 0) {
        size_t want = len > IO_CHUNK ? IO_CHUNK : len;
        ssize_t r = write(f->fd, p, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            stylize_status s = sys_error(err, errno, "write", f->path);
            stylize_atomic_abort(f);
            return s;
        }
        p += r;
        len -= (size_t)r;
    }
    return STYLIZE_OK;
}

/* Best effort: makes the rename durable. Errors are ignored (some file
 * systems refuse fsync on directories). */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = strdup(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

stylize_status stylize_atomic_commit(stylize_atomic_file *f, stylize_error *err)
{
    stylize_status s;
    if (!f->tmp_path || f->fd < 0)
        return stylize_error_set(err, STYLIZE_ERR_INTERNAL, "commit of a closed atomic file");
    if (fsync(f->fd) != 0) {
        s = sys_error(err, errno, "write", f->path);
        stylize_atomic_abort(f);
        return s;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) {
        s = sys_error(err, errno, "write", f->path);
        stylize_atomic_abort(f);
        return s;
    }
    if (rename(f->tmp_path, f->path) != 0) {
        s = sys_error(err, errno, "replace", f->path);
        stylize_atomic_abort(f);
        return s;
    }
    sync_parent_dir(f->path);
    atomic_release(f);
    return STYLIZE_OK;
}

stylize_status stylize_file_write_atomic(const char *path, const void *data, size_t len,
                                         stylize_error *err)
{
    stylize_atomic_file f;
    stylize_status s = stylize_atomic_open(&f, path, err);
    if (s != STYLIZE_OK)
        return s;
    s = stylize_atomic_write(&f, data, len, err);
    if (s != STYLIZE_OK)
        return s; /* already aborted */
    return stylize_atomic_commit(&f, err);
}
