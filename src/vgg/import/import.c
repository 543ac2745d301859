/* Importers of published VGG-19 files: format detection, dispatch, and the
 * bounded reader shared by the format parsers (import_torch.c,
 * import_caffe.c, import_pickle.c).
 *
 * Files are never loaded whole: parsers read the small metadata they need
 * and then only the conv tensors, through imp_read, which checks every read
 * against the file size. */
#include "vgg/import/import_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- reader ------------------------------------------------------------ */

stylize_status imp_reader_init_file(imp_reader *r, FILE *f, uint64_t size, stylize_error *err)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->size = size;
    r->win = malloc(IMP_WINDOW);
    if (!r->win)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory allocating a read buffer");
    return STYLIZE_OK;
}

void imp_reader_init_mem(imp_reader *r, const unsigned char *mem, size_t len)
{
    memset(r, 0, sizeof *r);
    r->mem = mem;
    r->size = len;
}

void imp_reader_release(imp_reader *r)
{
    free(r->win);
    r->win = NULL;
    r->win_len = 0;
}

static stylize_status file_read_at(imp_reader *r, uint64_t off, unsigned char *dst, size_t n,
                                   stylize_error *err)
{
    if (off > (uint64_t)INT64_MAX || fseeko(r->f, (off_t)off, SEEK_SET) != 0)
        return stylize_error_set(err, STYLIZE_ERR_IO, "cannot seek to offset %llu: %s",
                                 (unsigned long long)off, strerror(errno));
    size_t got = fread(dst, 1, n, r->f);
    if (got != n) {
        if (ferror(r->f))
            return stylize_error_set(err, STYLIZE_ERR_IO, "read error at offset %llu: %s",
                                     (unsigned long long)off, strerror(errno));
        return stylize_error_set(err, STYLIZE_ERR_IO, "file shrank while reading (offset %llu)",
                                 (unsigned long long)off);
    }
    return STYLIZE_OK;
}

stylize_status imp_read(imp_reader *r, uint64_t off, void *dst, size_t n, const char *what,
                        stylize_error *err)
{
    if (off > r->size || (uint64_t)n > r->size - off)
        return stylize_error_set(
            err, STYLIZE_ERR_FORMAT,
            "truncated: %s at offset %llu needs %llu bytes but the file has %llu", what,
            (unsigned long long)off, (unsigned long long)n, (unsigned long long)r->size);
    if (n == 0)
        return STYLIZE_OK;
    if (r->mem) {
        memcpy(dst, r->mem + off, n);
        return STYLIZE_OK;
    }
    if (n >= IMP_WINDOW / 2)
        return file_read_at(r, off, dst, n, err);
    if (!(r->win_len && off >= r->win_off && off - r->win_off <= r->win_len &&
          n <= r->win_len - (size_t)(off - r->win_off))) {
        size_t len = IMP_WINDOW;
        if ((uint64_t)len > r->size - off)
            len = (size_t)(r->size - off);
        r->win_len = 0;
        stylize_status s = file_read_at(r, off, r->win, len, err);
        if (s)
            return s;
        r->win_off = off;
        r->win_len = len;
    }
    memcpy(dst, r->win + (off - r->win_off), n);
    return STYLIZE_OK;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

stylize_status imp_read_f32(imp_reader *r, uint64_t off, float *dst, size_t n, const char *what,
                            stylize_error *err)
{
    if (n > SIZE_MAX / 4)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT, "%s: too many values (%zu)", what, n);
    stylize_status s = imp_read(r, off, dst, n * 4, what, err);
    if (s || host_is_little_endian())
        return s;
    unsigned char *p = (unsigned char *)dst;
    for (size_t i = 0; i < n; i++, p += 4) {
        unsigned char t0 = p[0], t1 = p[1];
        p[0] = p[3], p[1] = p[2], p[2] = t1, p[3] = t0;
    }
    return STYLIZE_OK;
}

/* ---- shared helpers ---------------------------------------------------- */

stylize_status imp_check_finite(const stylize_weights *w, stylize_error *err)
{
    for (int i = 0; i < w->n_layers; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        size_t nw = (size_t)l->out_ch * (size_t)l->in_ch * 9;
        for (size_t k = 0; k < nw; k++)
            if (!isfinite(l->weight[k]))
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "%s weight: non-finite value at index %zu", l->name, k);
        for (int k = 0; k < l->out_ch; k++)
            if (!isfinite(l->bias[k]))
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "%s bias: non-finite value at index %d", l->name, k);
    }
    return STYLIZE_OK;
}

static void append(char *dst, size_t cap, size_t *k, const char *s)
{
    while (*s && *k + 1 < cap)
        dst[(*k)++] = *s++;
    dst[*k] = '\0';
}

void imp_set_source(stylize_weights *w, const char *kind, const char *name, const char *detail)
{
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : (name ? name : "");
    size_t k = 0;
    w->source[0] = '\0';
    append(w->source, sizeof w->source, &k, kind);
    append(w->source, sizeof w->source, &k, " ");
    append(w->source, sizeof w->source, &k, base);
    if (detail && *detail) {
        append(w->source, sizeof w->source, &k, " (");
        append(w->source, sizeof w->source, &k, detail);
        append(w->source, sizeof w->source, &k, ")");
    }
}

/* ---- detection --------------------------------------------------------- */

static const unsigned char legacy_head[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                            0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

/* A caffemodel is a NetParameter; its first field is almost always name (1),
 * layers (2), input (3), input_dim (4) or layer (100). */
static int looks_like_caffe(const unsigned char *b, size_t len)
{
    if (len < 2)
        return 0;
    switch (b[0]) {
    case 0x0a: /* 1: name */
    case 0x12: /* 2: layers */
    case 0x1a: /* 3: input */
    case 0x20: /* 4: input_dim, varint */
    case 0x22: /* 4: input_dim, packed */
    case 0x42: /* 8: input_shape */
        return 1;
    case 0xa2: /* 100: layer */
        return b[1] == 0x06;
    default:
        return 0;
    }
}

stylize_import_format stylize_import_detect(const unsigned char *bytes, size_t len)
{
    if (!bytes)
        return STYLIZE_IMPORT_AUTO;
    if (len >= 4 && bytes[0] == 'P' && bytes[1] == 'K' &&
        ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6)))
        return STYLIZE_IMPORT_TORCH_ZIP;
    /* torch.save's legacy stream starts with a pickle (protocol 2 unless
     * pickle_protocol was given) of its magic number, checked when parsed. */
    if (len >= sizeof legacy_head && memcmp(bytes, legacy_head, sizeof legacy_head) == 0)
        return STYLIZE_IMPORT_TORCH_LEGACY;
    if (len >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5)
        return STYLIZE_IMPORT_TORCH_LEGACY;
    if (looks_like_caffe(bytes, len))
        return STYLIZE_IMPORT_CAFFE;
    return STYLIZE_IMPORT_AUTO;
}

/* ---- dispatch ---------------------------------------------------------- */

static stylize_status unknown_format(const unsigned char *head, size_t len, stylize_error *err)
{
    if (len >= 262 && memcmp(head + 257, "ustar", 5) == 0)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "tar-based torch checkpoints (torch before 0.1.10) are not "
                                 "supported; re-save it with a current torch");
    if (len >= 2 && head[0] == 0x80 && head[1] <= 5)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "a pickle of protocol %d, not a torch checkpoint", head[1]);
    if (len == 0)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "empty file");
    return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                             "not a torch checkpoint or a caffemodel (unrecognised content)");
}

static stylize_status dispatch(stylize_weights **out, imp_reader *r, const unsigned char *head,
                               size_t head_len, const char *name, stylize_import_format fmt,
                               stylize_error *err)
{
    stylize_import_format seen = stylize_import_detect(head, head_len);
    switch (fmt) {
    case STYLIZE_IMPORT_AUTO:
        break;
    case STYLIZE_IMPORT_TORCH_ZIP:
    case STYLIZE_IMPORT_TORCH_LEGACY:
        /* Either torch format was asked for: the first bytes tell which. */
        if (seen != STYLIZE_IMPORT_TORCH_ZIP && seen != STYLIZE_IMPORT_TORCH_LEGACY)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "not a torch checkpoint (neither a zip archive nor a "
                                     "legacy torch.save stream)");
        break;
    case STYLIZE_IMPORT_CAFFE:
        seen = STYLIZE_IMPORT_CAFFE;
        break;
    default:
        return stylize_error_set(err, STYLIZE_ERR_ARG, "unknown import format %d", (int)fmt);
    }
    switch (seen) {
    case STYLIZE_IMPORT_TORCH_ZIP:
        return imp_torch_zip(out, r, name, err);
    case STYLIZE_IMPORT_TORCH_LEGACY:
        return imp_torch_legacy(out, r, name, err);
    case STYLIZE_IMPORT_CAFFE:
        return imp_caffe(out, r, name, err);
    default:
        return unknown_format(head, head_len, err);
    }
}

stylize_status stylize_import_memory(stylize_weights **out, const unsigned char *bytes, size_t len,
                                     const char *name, stylize_import_format fmt,
                                     stylize_error *err)
{
    if (!name)
        name = "(memory)";
    if (!out || (!bytes && len)) {
        stylize_error_set(err, STYLIZE_ERR_ARG, "stylize_import_memory: NULL argument");
        stylize_error_prefix(err, "%s", name);
        return STYLIZE_ERR_ARG;
    }
    *out = NULL;
    imp_reader r;
    imp_reader_init_mem(&r, bytes, len);
    size_t head_len = len < 512 ? len : 512;
    stylize_status s = dispatch(out, &r, bytes, head_len, name, fmt, err);
    imp_reader_release(&r);
    if (s) {
        stylize_weights_free(*out);
        *out = NULL;
        stylize_error_prefix(err, "%s", name);
    }
    return s;
}

stylize_status stylize_import_file(stylize_weights **out, const char *path,
                                   stylize_import_format fmt, stylize_error *err)
{
    stylize_status s;
    if (!out || !path) {
        return stylize_error_set(err, STYLIZE_ERR_ARG, "stylize_import_file: NULL argument");
    }
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return stylize_error_set(err, STYLIZE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        s = stylize_error_set(err, STYLIZE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        fclose(f);
        return s;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return stylize_error_set(err, STYLIZE_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 0) {
        fclose(f);
        return stylize_error_set(err, STYLIZE_ERR_IO, "%s: bad file size", path);
    }
    imp_reader r;
    s = imp_reader_init_file(&r, f, (uint64_t)st.st_size, err);
    if (s) {
        fclose(f);
        stylize_error_prefix(err, "%s", path);
        return s;
    }
    unsigned char head[512];
    size_t head_len = r.size < sizeof head ? (size_t)r.size : sizeof head;
    s = imp_read(&r, 0, head, head_len, "file header", err);
    if (!s)
        s = dispatch(out, &r, head, head_len, path, fmt, err);
    imp_reader_release(&r);
    fclose(f);
    if (s) {
        stylize_weights_free(*out);
        *out = NULL;
        stylize_error_prefix(err, "%s", path);
    }
    return s;
}
