/* Shared by the libFuzzer harnesses in tests/fuzz: a per-process scratch
 * directory, plain file writing, and invariant checks on results.
 *
 * A violated invariant calls fuzz_fail(), which prints the reason and
 * aborts, so that libFuzzer records the input as a crash. Failures of the
 * harness's own plumbing (cannot create the scratch directory, disk full)
 * abort too: a harness that silently stops testing is worse than one that
 * stops loudly. */
#ifndef STYLIZE_FUZZ_COMMON_H
#define STYLIZE_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stylize/core/status.h"
#include "stylize/vgg/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("fuzz invariant violated: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* The error filled by a failing call must carry its code and a
 * NUL-terminated, non-empty message. */
static inline void fuzz_check_error(const stylize_error *err, stylize_status s, const char *what)
{
    if (err->code != s)
        fuzz_fail("%s: returned status %d but err.code is %d", what, (int)s, (int)err->code);
    if (!memchr(err->msg, '\0', sizeof err->msg))
        fuzz_fail("%s: error message is not NUL-terminated", what);
    if (err->msg[0] == '\0')
        fuzz_fail("%s: failed (status %d) with an empty message", what, (int)s);
}

/* ---- scratch directory --------------------------------------------------- */

static char fuzz_dir_path[4096];

static inline void fuzz_remove_dir(void)
{
    if (!fuzz_dir_path[0])
        return;
    DIR *d = opendir(fuzz_dir_path);
    if (d) {
        struct dirent *e;
        char p[sizeof fuzz_dir_path + 300];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", fuzz_dir_path, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fuzz_dir_path);
    fuzz_dir_path[0] = '\0';
}

/* A fresh directory for this process: $STYLIZE_FUZZ_TMP, else /dev/shm
 * (memory-backed, so per-input writes cost no disk I/O), else $TMPDIR, else
 * /tmp. Removed at exit (best effort). */
static inline const char *fuzz_dir(void)
{
    if (fuzz_dir_path[0])
        return fuzz_dir_path;
    const char *cands[4] = {getenv("STYLIZE_FUZZ_TMP"), "/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (int i = 0; i < 4; i++) {
        if (!cands[i] || !*cands[i] || access(cands[i], W_OK) != 0)
            continue;
        int n = snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/stylize-fuzz-XXXXXX", cands[i]);
        if (n < 0 || (size_t)n >= sizeof fuzz_dir_path)
            continue;
        if (mkdtemp(fuzz_dir_path)) {
            atexit(fuzz_remove_dir);
            return fuzz_dir_path;
        }
    }
    fuzz_dir_path[0] = '\0';
    fprintf(stderr, "fuzz: cannot create a scratch directory: %s\n", strerror(errno));
    abort();
}

/* out = scratch directory + "/" + name. */
static inline void fuzz_path(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", fuzz_dir(), name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "fuzz: scratch path too long\n");
        abort();
    }
}

/* Replaces the file at path with size bytes of data (plain, not atomic: the
 * harness is the only writer). */
static inline void fuzz_write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", path, strerror(errno));
        abort();
    }
    const unsigned char *p = data;
    while (size > 0) {
        ssize_t k = write(fd, p, size);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
            abort();
        }
        p += k;
        size -= (size_t)k;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "fuzz: cannot close %s: %s\n", path, strerror(errno));
        abort();
    }
}

/* Reads a whole (small) file into a malloc'ed buffer; aborts on failure. */
static inline unsigned char *fuzz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz: cannot open %s: %s\n", path, strerror(errno));
        abort();
    }
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "fuzz: out of memory reading %s\n", path);
            abort();
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    if (ferror(f)) {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        abort();
    }
    fclose(f);
    *len = n;
    return buf;
}

/* ---- weights ------------------------------------------------------------- */

/* Everything a caller may rely on in a successfully loaded or imported
 * network: VGG-19 structure, layer names, channel chain, every weight and
 * bias inside the owned blob without overlap, every value finite, a sane
 * input convention and a terminated source string. Touching every value also
 * lets AddressSanitizer check that the blob really is that large. */
static inline void fuzz_check_weights(const stylize_weights *w, const char *what)
{
    if (!w)
        fuzz_fail("%s: success but no weights", what);
    if (strcmp(w->arch, "vgg19") != 0)
        fuzz_fail("%s: arch is not vgg19", what);
    if (w->n_layers != STYLIZE_VGG19_NCONV)
        fuzz_fail("%s: %d layers", what, w->n_layers);
    if (!memchr(w->source, '\0', sizeof w->source))
        fuzz_fail("%s: source is not NUL-terminated", what);
    const stylize_input_convention *c = &w->input;
    if (c->order != STYLIZE_RGB && c->order != STYLIZE_BGR)
        fuzz_fail("%s: channel order %d", what, (int)c->order);
    if (!isfinite(c->pixel_scale) || !(c->pixel_scale > 0))
        fuzz_fail("%s: pixel_scale %g", what, (double)c->pixel_scale);
    for (int k = 0; k < 3; k++)
        if (!isfinite(c->mean[k]) || !isfinite(c->std[k]) || !(c->std[k] > 0))
            fuzz_fail("%s: input mean/std[%d] = %g/%g", what, k, (double)c->mean[k],
                      (double)c->std[k]);
    if (!w->blob)
        fuzz_fail("%s: no blob", what);
    size_t used = 0;
    int prev = 3;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        if (strncmp(l->name, stylize_vgg19_conv_name(i), sizeof l->name) != 0)
            fuzz_fail("%s: layer %d is named '%.16s'", what, i, l->name);
        if (l->in_ch != prev || l->out_ch < 1 || l->out_ch > 4096)
            fuzz_fail("%s: %s has shape (%d, %d), previous width %d", what, l->name, l->out_ch,
                      l->in_ch, prev);
        size_t nw = (size_t)l->out_ch * (size_t)l->in_ch * 9, nb = (size_t)l->out_ch;
        if (!l->weight || !l->bias || l->weight < w->blob || l->bias < w->blob ||
            (size_t)(l->weight - w->blob) + nw > w->blob_floats ||
            (size_t)(l->bias - w->blob) + nb > w->blob_floats)
            fuzz_fail("%s: %s weight or bias outside the blob", what, l->name);
        for (size_t k = 0; k < nw; k++)
            if (!isfinite(l->weight[k]))
                fuzz_fail("%s: %s weight[%zu] is not finite", what, l->name, k);
        for (size_t k = 0; k < nb; k++)
            if (!isfinite(l->bias[k]))
                fuzz_fail("%s: %s bias[%zu] is not finite", what, l->name, k);
        used += nw + nb;
        prev = l->out_ch;
    }
    if (used > w->blob_floats)
        fuzz_fail("%s: layers hold %zu values, blob only %zu", what, used, w->blob_floats);
}

/* 1 if a and b hold the same network (structure, convention, values bit for
 * bit). */
static inline int fuzz_same_weights(const stylize_weights *a, const stylize_weights *b)
{
    if (a->n_layers != b->n_layers || memcmp(&a->input, &b->input, sizeof a->input) != 0)
        return 0;
    for (int i = 0; i < a->n_layers && i < STYLIZE_VGG19_NCONV; i++) {
        const stylize_conv_layer *x = &a->layers[i], *y = &b->layers[i];
        if (x->out_ch != y->out_ch || x->in_ch != y->in_ch)
            return 0;
        size_t nw = (size_t)x->out_ch * (size_t)x->in_ch * 9;
        if (memcmp(x->weight, y->weight, nw * sizeof(float)) != 0 ||
            memcmp(x->bias, y->bias, (size_t)x->out_ch * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

#endif
