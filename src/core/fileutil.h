/* stylize internal: checked size arithmetic, bounded whole-file reads,
 * positioned exact reads, and atomic file replacement. Not a public header.
 *
 * Every function that can fail returns a stylize_status and fills err with
 * one line naming the file (the path exactly as the caller gave it) and the
 * reason (strerror text for system errors). Nothing is printed.
 *
 * Atomic writes: the data goes to "<dir>/.<name>.tmp.XXXXXX" (mkstemp, in
 * the destination's own directory so that rename() stays on one file
 * system), is fsync'ed, and is renamed over the destination; the directory is
 * then fsync'ed (best effort). On any failure the temporary file is unlinked,
 * so the destination holds either its old content or the complete new one,
 * and no temporary file is left behind. A new file gets mode 0666 minus the
 * process umask; a replaced file keeps its permission bits. */
#ifndef STYLIZE_FILEUTIL_H
#define STYLIZE_FILEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "stylize/core/status.h"

/* ---- checked size arithmetic ------------------------------------------- */

/* *out = a * b. Returns 0, or -1 on overflow (then *out is unchanged). */
static inline int stylize_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a)
        return -1;
    *out = a * b;
    return 0;
}

/* *out = a + b. Returns 0, or -1 on overflow (then *out is unchanged). */
static inline int stylize_size_add(size_t a, size_t b, size_t *out)
{
    if (b > (size_t)-1 - a)
        return -1;
    *out = a + b;
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* Reads the whole of path into a new buffer. *data (owned by the caller,
 * free()) holds *len bytes followed by one extra '\0' that is not counted
 * (handy for text parsers). Pipes and other non-seekable files are read to
 * their end as well.
 * Errors: STYLIZE_ERR_IO (missing, unreadable, a directory),
 * STYLIZE_ERR_LIMIT (more than max_bytes), STYLIZE_ERR_NOMEM.
 * On failure *data is NULL and *len is 0. */
stylize_status stylize_file_read(const char *path, size_t max_bytes, unsigned char **data,
                                 size_t *len, stylize_error *err);

/* Opens path read-only; *fd (owned by the caller, close()) is the
 * descriptor and *size the file's size in bytes. Only regular files are
 * accepted. Errors: STYLIZE_ERR_IO. On failure *fd is -1. */
stylize_status stylize_file_open_read(const char *path, int *fd, uint64_t *size,
                                      stylize_error *err);

/* Reads exactly len bytes at byte offset off of fd into buf (len bytes).
 * path is used in messages only. A short read (end of file) is
 * STYLIZE_ERR_FORMAT ("truncated"); a system error is STYLIZE_ERR_IO. */
stylize_status stylize_file_pread(int fd, const char *path, void *buf, size_t len, uint64_t off,
                                  stylize_error *err);

/* ---- atomic writing ----------------------------------------------------- */

/* A file being written: created by stylize_atomic_open, then fed with
 * stylize_atomic_write, then ended by exactly one of stylize_atomic_commit
 * or stylize_atomic_abort (both release everything the struct holds). */
typedef struct {
    int fd;          /* descriptor of the temporary file, -1 when closed */
    char *path;      /* destination (owned copy) */
    char *tmp_path;  /* temporary file (owned) */
} stylize_atomic_file;

/* Creates the temporary file next to path. Errors: STYLIZE_ERR_IO (e.g. the
 * directory is missing or not writable), STYLIZE_ERR_ARG (empty path or a
 * path ending in '/'), STYLIZE_ERR_NOMEM. On failure nothing is left behind
 * and f needs no abort. */
stylize_status stylize_atomic_open(stylize_atomic_file *f, const char *path, stylize_error *err);

/* Appends len bytes. On failure the file is aborted (temporary unlinked);
 * calling stylize_atomic_abort afterwards is harmless. */
stylize_status stylize_atomic_write(stylize_atomic_file *f, const void *data, size_t len,
                                    stylize_error *err);

/* fsync, close and rename into place. On failure the temporary file is
 * unlinked and the destination is untouched. Either way f is released. */
stylize_status stylize_atomic_commit(stylize_atomic_file *f, stylize_error *err);

/* Closes and unlinks the temporary file; f is released. Safe to call on a
 * released or zero-initialised struct (then it does nothing). */
void stylize_atomic_abort(stylize_atomic_file *f);

/* One-shot: atomically replaces path with len bytes of data. */
stylize_status stylize_file_write_atomic(const char *path, const void *data, size_t len,
                                         stylize_error *err);

#endif
