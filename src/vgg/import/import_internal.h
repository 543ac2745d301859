/* Internal to the importers (import.c, import_pickle.c, import_torch.c,
 * import_caffe.c): a bounded random-access reader over a FILE* or a memory
 * buffer, and the per-format entry points.
 *
 * Messages set by these functions do not name the file: stylize_import_file
 * and stylize_import_memory prefix them with it. */
#ifndef STYLIZE_IMPORT_INTERNAL_H
#define STYLIZE_IMPORT_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "stylize/vgg/import.h"
#include "stylize/core/status.h"
#include "stylize/vgg/weights.h"

#define IMP_WINDOW 65536

/* Either f or mem is set. Every read is checked against size; nothing is
 * read past it. The reader never owns f or mem. */
typedef struct {
    FILE *f;                  /* borrowed; NULL for a memory reader */
    const unsigned char *mem; /* borrowed; NULL for a file reader */
    uint64_t size;            /* bytes in the file or buffer */
    unsigned char *win;       /* owned: read-ahead window (file readers) */
    uint64_t win_off;         /* file offset of win[0] */
    size_t win_len;           /* valid bytes in win */
} imp_reader;

/* Initialise a reader (imp_reader_init_file allocates the window). */
stylize_status imp_reader_init_file(imp_reader *r, FILE *f, uint64_t size, stylize_error *err);
void imp_reader_init_mem(imp_reader *r, const unsigned char *mem, size_t len);
/* Frees the window; does not close f. */
void imp_reader_release(imp_reader *r);

/* Reads exactly n bytes at off into dst. A read that would go past the end
 * is a STYLIZE_ERR_FORMAT error ("truncated: ...", using what to describe
 * the data); a failing fread is STYLIZE_ERR_IO. */
stylize_status imp_read(imp_reader *r, uint64_t off, void *dst, size_t n, const char *what,
                        stylize_error *err);

/* Reads n little-endian float32 values at off into dst (host order). */
stylize_status imp_read_f32(imp_reader *r, uint64_t off, float *dst, size_t n, const char *what,
                            stylize_error *err);

/* Little-endian decoding helpers. */
static inline uint16_t imp_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t imp_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t imp_le64(const unsigned char *p)
{
    return (uint64_t)imp_le32(p) | ((uint64_t)imp_le32(p + 4) << 32);
}
static inline float imp_f32(uint32_t bits)
{
    union {
        uint32_t u;
        float f;
    } c;
    c.u = bits;
    return c.f;
}

/* Checks that w's values are all finite (message names the layer). */
stylize_status imp_check_finite(const stylize_weights *w, stylize_error *err);

/* Sets w->source to "<kind> <basename of name>[ (<detail>)]". */
void imp_set_source(stylize_weights *w, const char *kind, const char *name, const char *detail);

/* Format importers. On success *out is owned by the caller. */
stylize_status imp_torch_zip(stylize_weights **out, imp_reader *r, const char *name,
                             stylize_error *err);
stylize_status imp_torch_legacy(stylize_weights **out, imp_reader *r, const char *name,
                                stylize_error *err);
stylize_status imp_caffe(stylize_weights **out, imp_reader *r, const char *name,
                         stylize_error *err);

#endif
