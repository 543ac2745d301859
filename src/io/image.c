/* Images: decoding and encoding with stb (Debian's libstb-dev headers:
 * stb_image compiled in stb_image_impl.c, stb_image_write with zlib's
 * deflate in stb_write_impl.c), resizing with stb_image_resize (libstb),
 * atomic saving through fileutil, and conversion to and from a network's
 * input convention.
 *
 * Every decode first reads the header (stbi_info_from_memory) and checks the
 * dimensions against STYLIZE_IMAGE_MAX_SIDE / MAX_PIXELS, so an image
 * declaring enormous dimensions is refused before any pixel buffer exists.
 * A decoded JPEG is then turned upright by the Orientation tag of its EXIF
 * data (parsed here, every offset checked; malformed EXIF is ignored). */
#include "stylize/io/image.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_resize.h>

#include "core/fileutil.h"
#include "io/stb_write.h"

/* Largest encoded file read by stylize_image_load (stb takes an int length). */
#define IMAGE_FILE_MAX_BYTES ((size_t)1 << 30)

static stylize_status check_size(int width, int height, const char *name, stylize_error *err)
{
    const char *n = name ? name : "image";
    if (width < 1 || height < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "%s: size %dx%d is empty", n, width, height);
    if (width > STYLIZE_IMAGE_MAX_SIDE || height > STYLIZE_IMAGE_MAX_SIDE ||
        (size_t)width * (size_t)height > STYLIZE_IMAGE_MAX_PIXELS)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "%s: size %dx%d is over the limit (%d pixels a side, %zu pixels)", n,
                                 width, height, STYLIZE_IMAGE_MAX_SIDE, STYLIZE_IMAGE_MAX_PIXELS);
    return STYLIZE_OK;
}

stylize_status stylize_image_alloc(stylize_image *img, int width, int height, stylize_error *err)
{
    img->width = img->height = 0;
    img->data = NULL;
    stylize_status s = check_size(width, height, NULL, err);
    if (s != STYLIZE_OK)
        return s;
    size_t n = 3 * (size_t)width * (size_t)height; /* (3, height, width); <= 3 * 2^26 */
    float *d = calloc(n, sizeof *d);
    if (!d)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a %dx%d image", width,
                                 height);
    img->width = width;
    img->height = height;
    img->data = d;
    return STYLIZE_OK;
}

void stylize_image_free(stylize_image *img)
{
    if (!img)
        return;
    free(img->data);
    img->data = NULL;
    img->width = img->height = 0;
}

static const char *stb_reason(void)
{
    const char *r = stbi_failure_reason();
    return r ? r : "unknown reason";
}

/* Width and height declared by a PNG's IHDR chunk. stb refuses PNG headers
 * whose pixel buffer would exceed 2^30 bytes and then reports only "unknown
 * image type"; reading the header here lets such files be reported as over
 * the size limit. Returns 1 if bytes start like a PNG with an IHDR. */
static int png_declared_size(const unsigned char *b, size_t len, uint32_t *w, uint32_t *h)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 24 || memcmp(b, sig, 8) != 0 || memcmp(b + 12, "IHDR", 4) != 0)
        return 0;
    *w = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    *h = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    return 1;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* For a PNG: 1 (and *off, *declared) if a chunk before IEND declares more
 * data than the file holds, else 0. stb 2.27 reserves an IDAT chunk's
 * declared length (up to 2 GiB) before finding that the data is missing, so
 * a 100-byte file could make it allocate that much (found by
 * tests/fuzz/fuzz_image.c). stb would reject such a file anyway; checking
 * first only bounds what it allocates. A missing CRC at the very end is left
 * to stb, which tolerates it. */
static int png_chunk_overrun(const unsigned char *b, size_t len, size_t *off, uint32_t *declared)
{
    size_t o = 8;
    while (o <= len && len - o >= 8) {
        uint32_t n = be32(b + o);
        if (n > len - o - 8) {
            *off = o;
            *declared = n;
            return 1;
        }
        if (memcmp(b + o + 4, "IEND", 4) == 0)
            return 0;
        o += 8 + (size_t)n;
        if (len - o < 4)
            return 0;
        o += 4; /* CRC */
    }
    return 0;
}

/* Binary PNM (P5 grey, P6 RGB): the header read the way stb 2.27 reads it
 * (white space and '#' comments before each of width, height and maxval;
 * pixels right after the character that ends maxval), so that *data_off is
 * where stb starts reading pixels and *bytes_per_sample 1 or 2. Returns 0 if
 * b is not a binary PNM. */
static int pnm_data_offset(const unsigned char *b, size_t len, size_t *data_off,
                           int *bytes_per_sample)
{
    if (len < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6'))
        return 0;
    size_t pos = 2;
    unsigned long long maxv = 0;
    /* c: the character last read (0 past the end, as stb's reader gives). */
    int c = pos < len ? b[pos++] : 0;
    for (int field = 0; field < 3; field++) {
        for (;;) {
            while (pos < len && (c == ' ' || (c >= '\t' && c <= '\r')))
                c = b[pos++];
            if (pos >= len || c != '#')
                break;
            while (pos < len && c != '\n' && c != '\r')
                c = b[pos++];
        }
        unsigned long long v = 0;
        while (pos < len && c >= '0' && c <= '9') {
            if (v < 1000000)
                v = v * 10 + (unsigned long long)(c - '0');
            c = b[pos++];
        }
        maxv = v;
    }
    *data_off = pos;
    *bytes_per_sample = maxv > 255 ? 2 : 1;
    return 1;
}

/* Uncompressed, colour-mapless TGA (image type 2 or 3, colour map type 0):
 * where the pixels start and how many bytes a pixel takes. Returns 0 for
 * anything else. No other format stb reads has a zero second byte. */
static int tga_raw_layout(const unsigned char *b, size_t len, size_t *data_off,
                          int *bytes_per_pixel)
{
    if (len < 18 || b[1] != 0 || (b[2] != 2 && b[2] != 3))
        return 0;
    *data_off = 18 + (size_t)b[0];
    *bytes_per_pixel = (b[16] + 7) / 8;
    return 1;
}

/* ---- JPEG EXIF orientation ----------------------------------------------
 * A JPEG's APP1 "Exif\0\0" segment holds a TIFF structure whose IFD0 may
 * carry tag 0x0112 (Orientation). Every offset and count comes from the
 * file: each read below is checked against the buffer, and anything
 * malformed means orientation 1 (the load itself never fails for it). */

/* TIFF data of an Exif segment: from the byte-order mark to the segment's end. */
typedef struct {
    const unsigned char *p;
    size_t len;
    int big; /* "MM": big-endian; "II": little-endian */
} tiff_view;

static int tiff_u16(const tiff_view *t, size_t off, unsigned *v)
{
    if (off > t->len || t->len - off < 2)
        return 0;
    const unsigned char *q = t->p + off;
    *v = t->big ? (unsigned)q[0] << 8 | q[1] : (unsigned)q[1] << 8 | q[0];
    return 1;
}

static int tiff_u32(const tiff_view *t, size_t off, uint32_t *v)
{
    unsigned a, b;
    if (!tiff_u16(t, off, &a) || !tiff_u16(t, off + 2, &b))
        return 0;
    *v = t->big ? (uint32_t)a << 16 | b : (uint32_t)b << 16 | a;
    return 1;
}

/* The TIFF data (*tiff, *n) of the first APP1 Exif segment before the
 * scan (SOS) or the end (EOI); 0 if there is none or the markers are
 * malformed. Segments: FF xx, then a 2-byte big-endian length that counts
 * itself. */
static int jpeg_find_exif(const unsigned char *b, size_t len, const unsigned char **tiff,
                          size_t *n)
{
    if (len < 4 || b[0] != 0xff || b[1] != 0xd8)
        return 0;
    size_t o = 2;
    while (len - o >= 4) {
        if (b[o] != 0xff)
            return 0;
        unsigned m = b[o + 1];
        if (m == 0xff) { /* fill byte before a marker */
            o++;
            continue;
        }
        if (m == 0xda || m == 0xd9 || m == 0xd8 || m == 0x00)
            return 0;
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) { /* no length: TEM, RSTn */
            o += 2;
            continue;
        }
        size_t seg = (size_t)b[o + 2] << 8 | b[o + 3];
        if (seg < 2 || seg > len - o - 2)
            return 0;
        const unsigned char *d = b + o + 4;
        if (m == 0xe1 && seg - 2 >= 6 && memcmp(d, "Exif\0\0", 6) == 0) {
            *tiff = d + 6;
            *n = seg - 2 - 6;
            return 1;
        }
        o += 2 + seg;
    }
    return 0;
}

/* Orientation (1..8) in the TIFF data's IFD0; 1 if absent or malformed. */
static int exif_orientation(const unsigned char *p, size_t len)
{
    tiff_view t = {p, len, 0};
    unsigned magic, count;
    uint32_t ifd;
    if (len < 8 || (memcmp(p, "II", 2) != 0 && memcmp(p, "MM", 2) != 0))
        return 1;
    t.big = p[0] == 'M';
    if (!tiff_u16(&t, 2, &magic) || magic != 42 || !tiff_u32(&t, 4, &ifd) ||
        !tiff_u16(&t, ifd, &count))
        return 1;
    /* 12-byte entries (tag, type, count, value: a SHORT left-justified), all
     * of them inside the data: ifd + 2 <= len here */
    if ((size_t)count * 12 > len - ifd - 2)
        return 1;
    for (size_t i = 0, e = (size_t)ifd + 2; i < count; i++, e += 12) {
        unsigned tag, type, v;
        uint32_t n;
        if (!tiff_u16(&t, e, &tag) || tag != 0x0112)
            continue;
        if (!tiff_u16(&t, e + 2, &type) || !tiff_u32(&t, e + 4, &n) || !tiff_u16(&t, e + 8, &v))
            return 1;
        return type == 3 && n == 1 && v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int stylize_jpeg_orientation(const unsigned char *bytes, size_t len)
{
    const unsigned char *tiff = NULL;
    size_t n = 0;
    if (!bytes || !jpeg_find_exif(bytes, len, &tiff, &n))
        return 1;
    return exif_orientation(tiff, n);
}

/* Where the upright image takes source pixel (x, y) of a w x h image:
 * destination index start + x * step_x + y * step_y in a width x height
 * plane. */
typedef struct {
    ptrdiff_t start, step_x, step_y;
    int width, height;
} orient_map;

static orient_map orient_map_for(int orientation, int w, int h)
{
    const ptrdiff_t W = w, H = h;
    orient_map m = {0, 1, W, w, h}; /* 1: as stored */
    switch (orientation) {
    case 2: /* mirrored left to right: (w-1-x, y) */
        m = (orient_map){W - 1, -1, W, w, h};
        break;
    case 3: /* rotated 180: (w-1-x, h-1-y) */
        m = (orient_map){(H - 1) * W + W - 1, -1, -W, w, h};
        break;
    case 4: /* mirrored top to bottom: (x, h-1-y) */
        m = (orient_map){(H - 1) * W, 1, -W, w, h};
        break;
    case 5: /* transposed: (y, x) in an h x w image */
        m = (orient_map){0, H, 1, h, w};
        break;
    case 6: /* rotated 90 clockwise: (h-1-y, x) */
        m = (orient_map){H - 1, H, -1, h, w};
        break;
    case 7: /* transversed: (h-1-y, w-1-x) */
        m = (orient_map){(W - 1) * H + H - 1, -H, -1, h, w};
        break;
    case 8: /* rotated 90 counter-clockwise: (y, w-1-x) */
        m = (orient_map){(W - 1) * H, -H, 1, h, w};
        break;
    default:
        break;
    }
    return m;
}

stylize_status stylize_image_orient(stylize_image *img, int orientation, stylize_error *err)
{
    if (!img || !img->data || img->width < 1 || img->height < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "orient: empty image");
    if (orientation < 1 || orientation > 8)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "orient: orientation %d is not in 1..8",
                                 orientation);
    if (orientation == 1)
        return STYLIZE_OK;
    const int w = img->width, h = img->height;
    const orient_map m = orient_map_for(orientation, w, h);
    stylize_image out;
    stylize_status s = stylize_image_alloc(&out, m.width, m.height, err);
    if (s != STYLIZE_OK)
        return s;
    const size_t plane = (size_t)w * (size_t)h;
    for (int c = 0; c < 3; c++) {
        const float *src = img->data + (size_t)c * plane;
        float *dst = out.data + (size_t)c * plane + m.start;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                dst[x * m.step_x + y * m.step_y] = *src++;
    }
    stylize_image_free(img);
    *img = out;
    return STYLIZE_OK;
}

/* Turns a decoded JPEG upright by its EXIF orientation; other formats are
 * left as they are. On failure img is freed. */
static stylize_status apply_exif_orientation(stylize_image *img, const unsigned char *bytes,
                                             size_t len, const char *name, stylize_error *err)
{
    if (len < 2 || bytes[0] != 0xff || bytes[1] != 0xd8)
        return STYLIZE_OK;
    stylize_status s = stylize_image_orient(img, stylize_jpeg_orientation(bytes, len), err);
    if (s != STYLIZE_OK) {
        stylize_image_free(img);
        stylize_error_prefix(err, "%s", name);
    }
    return s;
}

stylize_status stylize_image_load_memory(stylize_image *img, const unsigned char *bytes, size_t len,
                                         const char *name, stylize_error *err)
{
    int w = 0, h = 0, comp = 0;
    stylize_status s;
    img->width = img->height = 0;
    img->data = NULL;
    if (!name)
        name = "image";
    if (len == 0)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: empty file, not an image", name);
    if (len > (size_t)INT_MAX)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT, "%s: file of %zu bytes is too large", name,
                                 len);
    /* Header only: no pixel is decoded here. */
    if (!stbi_info_from_memory(bytes, (int)len, &w, &h, &comp)) {
        uint32_t pw, ph;
        if (png_declared_size(bytes, len, &pw, &ph) &&
            (pw > STYLIZE_IMAGE_MAX_SIDE || ph > STYLIZE_IMAGE_MAX_SIDE ||
             (uint64_t)pw * ph > (uint64_t)STYLIZE_IMAGE_MAX_PIXELS))
            return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                     "%s: size %" PRIu32 "x%" PRIu32 " is over the limit (%d pixels "
                                     "a side, %zu pixels)",
                                     name, pw, ph, STYLIZE_IMAGE_MAX_SIDE, STYLIZE_IMAGE_MAX_PIXELS);
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: not a readable image (%s)", name,
                                 stb_reason());
    }
    if ((s = check_size(w, h, name, err)) != STYLIZE_OK)
        return s == STYLIZE_ERR_ARG ? stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                                        "%s: image declares size %dx%d", name, w, h)
                                    : s;

    uint32_t pw, ph, declared;
    size_t chunk_off;
    if (png_declared_size(bytes, len, &pw, &ph) &&
        png_chunk_overrun(bytes, len, &chunk_off, &declared))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: truncated PNG (chunk at byte %zu declares %" PRIu32
                                 " bytes, the file ends first)",
                                 name, chunk_off, declared);
    /* stb 2.27 reads the pixels of binary PNM and raw TGA files without
     * checking that they are there, and returns a buffer that is partly or
     * wholly uninitialised heap memory when the file is truncated. */
    size_t data_off = 0;
    int unit = 0;
    uint64_t need = 0; /* bytes of pixels; w, h are within the limits: no overflow */
    if (pnm_data_offset(bytes, len, &data_off, &unit))
        need = (uint64_t)w * (uint64_t)h * (bytes[1] == '6' ? 3u : 1u) * (uint64_t)unit;
    else if (tga_raw_layout(bytes, len, &data_off, &unit))
        need = (uint64_t)w * (uint64_t)h * (uint64_t)unit;
    if (need > 0) {
        if (data_off > len || (uint64_t)(len - data_off) < need)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s: truncated image (%" PRIu64 " bytes of pixels expected, %zu "
                                     "present)",
                                     name, need, data_off > len ? (size_t)0 : len - data_off);
    }

    int is16 = stbi_is_16_bit_from_memory(bytes, (int)len);
    /* 8-bit: stb converts to RGB. 16-bit: stb is asked for the file's own
     * channel count and grey is expanded here, because stb 2.27 converts
     * 16-bit PNM (PGM) data with its 8-bit routine, returning half the
     * buffer the caller reads (found by tests/fuzz/fuzz_image.c). */
    int nc = 3;
    if (is16) {
        if (comp < 1 || comp > 4)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: image declares %d channels",
                                     name, comp);
        nc = comp;
    }
    int dw = 0, dh = 0, dc = 0;
    void *pix = is16 ? (void *)stbi_load_16_from_memory(bytes, (int)len, &dw, &dh, &dc, nc)
                     : (void *)stbi_load_from_memory(bytes, (int)len, &dw, &dh, &dc, nc);
    if (!pix)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: cannot decode image (%s)", name,
                                 stb_reason());
    if (dw != w || dh != h) {
        stbi_image_free(pix);
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: decoded size %dx%d differs from the header's %dx%d", name, dw,
                                 dh, w, h);
    }
    s = stylize_image_alloc(img, w, h, err);
    if (s != STYLIZE_OK) {
        stbi_image_free(pix);
        stylize_error_prefix(err, "%s", name);
        return s;
    }
    /* pix: interleaved (h, w, nc); img->data: planar (3, h, w). nc is 1
     * (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA); alpha is dropped, as
     * stb does when converting to RGB. */
    size_t plane = (size_t)w * (size_t)h;
    float *r = img->data, *g = r + plane, *b = g + plane;
    if (is16) {
        const uint16_t *p = pix;
        const size_t step = (size_t)nc, gi = nc >= 3 ? 1 : 0, bi = nc >= 3 ? 2 : 0;
        for (size_t i = 0; i < plane; i++) { /* division: exactly v / 65535 rounded */
            r[i] = (float)p[step * i] / 65535.0f;
            g[i] = (float)p[step * i + gi] / 65535.0f;
            b[i] = (float)p[step * i + bi] / 65535.0f;
        }
    } else {
        const unsigned char *p = pix;
        for (size_t i = 0; i < plane; i++) {
            r[i] = (float)p[3 * i + 0] / 255.0f;
            g[i] = (float)p[3 * i + 1] / 255.0f;
            b[i] = (float)p[3 * i + 2] / 255.0f;
        }
    }
    stbi_image_free(pix);
    return apply_exif_orientation(img, bytes, len, name, err);
}

stylize_status stylize_image_load(stylize_image *img, const char *path, stylize_error *err)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    img->width = img->height = 0;
    img->data = NULL;
    if (!path || !*path)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "empty image path");
    stylize_status s = stylize_file_read(path, IMAGE_FILE_MAX_BYTES, &bytes, &len, err);
    if (s != STYLIZE_OK)
        return s;
    s = stylize_image_load_memory(img, bytes, len, path, err);
    free(bytes);
    return s;
}

stylize_status stylize_image_resize_into(stylize_image *out, const stylize_image *in,
                                         stylize_error *err)
{
    if (!in || !in->data || in->width < 1 || in->height < 1 || !out || !out->data || out == in ||
        out->data == in->data)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "resize: empty or shared images");
    int width = out->width, height = out->height;
    size_t in_plane = (size_t)in->width * (size_t)in->height;
    size_t out_plane = (size_t)width * (size_t)height;
    if (width == in->width && height == in->height) {
        memcpy(out->data, in->data, 3 * in_plane * sizeof(float));
        return STYLIZE_OK;
    }
    /* One single-channel resize per plane (stride 0: tightly packed rows). */
    for (int c = 0; c < 3; c++)
        if (!stbir_resize_float(in->data + c * in_plane, in->width, in->height, 0,
                                out->data + c * out_plane, width, height, 0, 1))
            return stylize_error_set(err, STYLIZE_ERR_NOMEM,
                                     "resize from %dx%d to %dx%d failed (out of memory)", in->width,
                                     in->height, width, height);
    return STYLIZE_OK;
}

stylize_status stylize_image_resize(stylize_image *out, const stylize_image *in, int width,
                                    int height, stylize_error *err)
{
    if (out == in)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "resize: input and output are the same image");
    out->width = out->height = 0;
    out->data = NULL;
    if (!in || !in->data || in->width < 1 || in->height < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "resize: empty input image");
    stylize_status s = stylize_image_alloc(out, width, height, err);
    if (s == STYLIZE_OK && (s = stylize_image_resize_into(out, in, err)) != STYLIZE_OK)
        stylize_image_free(out);
    return s;
}

stylize_status stylize_image_alloc_in(stylize_image *img, int width, int height, stylize_mem *mem,
                                      stylize_error *err)
{
    img->width = img->height = 0;
    img->data = NULL;
    stylize_status s = check_size(width, height, NULL, err);
    if (s != STYLIZE_OK)
        return s;
    void *d = NULL;
    size_t bytes = stylize_image_bytes(width, height);
    if ((s = stylize_mem_calloc(mem, &d, bytes, "an image", err)) != STYLIZE_OK)
        return stylize_error_set(err, s, "out of memory for a %dx%d image", width, height);
    img->width = width;
    img->height = height;
    img->data = d;
    return STYLIZE_OK;
}

void stylize_image_free_in(stylize_image *img, stylize_mem *mem)
{
    if (!img)
        return;
    if (img->width > 0 && img->height > 0)
        stylize_mem_free(mem, img->data, stylize_image_bytes(img->width, img->height));
    img->width = img->height = 0;
    img->data = NULL;
}

size_t stylize_image_save_bytes(int width, int height)
{
    /* interleaved RGB (3 per pixel), PNG's filtered rows (3 + 1/w), stb's
     * zlib output as it grows (up to twice the filtered rows), the encoded
     * file in memory (as large again), and the zlib hash table */
    size_t plane = width > 0 && height > 0 ? (size_t)width * (size_t)height : 0;
    return 16 * plane + 4 * (size_t)(height > 0 ? height : 0) + ((size_t)1 << 18);
}

size_t stylize_image_bytes(int width, int height)
{
    return width > 0 && height > 0 ? (size_t)3 * (size_t)width * (size_t)height * sizeof(float) : 0;
}

void stylize_image_fit(int w, int h, int max_side, int *out_w, int *out_h)
{
    if (max_side <= 0 || w <= 0 || h <= 0) {
        *out_w = w;
        *out_h = h;
        return;
    }
    long long longest = w > h ? w : h;
    /* other * max_side / longest, rounded half up, at least 1 */
    long long ow = ((long long)w * max_side + longest / 2) / longest;
    long long oh = ((long long)h * max_side + longest / 2) / longest;
    if (w >= h)
        ow = max_side;
    if (h >= w)
        oh = max_side;
    *out_w = ow < 1 ? 1 : (int)ow;
    *out_h = oh < 1 ? 1 : (int)oh;
}

/* ---- saving ------------------------------------------------------------- */

typedef enum { FMT_NONE, FMT_PNG, FMT_JPEG } image_format;

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (k > n)
        return 0;
    for (size_t i = 0; i < k; i++) {
        char a = s[n - k + i], b = suffix[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

static image_format format_for(const char *path)
{
    if (ends_with_ci(path, ".png"))
        return FMT_PNG;
    if (ends_with_ci(path, ".jpg") || ends_with_ci(path, ".jpeg"))
        return FMT_JPEG;
    return FMT_NONE;
}

/* Growing memory buffer fed by stb's write callbacks. */
typedef struct {
    unsigned char *data; /* cap bytes, len used */
    size_t len, cap;
    int failed;          /* an allocation failed: the output is incomplete */
} membuf;

static void membuf_write(void *ctx, void *data, int size)
{
    membuf *m = ctx;
    size_t n = size > 0 ? (size_t)size : 0, need;
    if (m->failed || n == 0)
        return;
    if (stylize_size_add(m->len, n, &need)) {
        m->failed = 1;
        return;
    }
    if (need > m->cap) {
        size_t ncap = m->cap ? m->cap : 65536;
        while (ncap < need) {
            if (stylize_size_mul(ncap, 2, &ncap)) {
                m->failed = 1;
                return;
            }
        }
        unsigned char *nd = realloc(m->data, ncap);
        if (!nd) {
            m->failed = 1;
            return;
        }
        m->data = nd;
        m->cap = ncap;
    }
    memcpy(m->data + m->len, data, n);
    m->len = need;
}

/* Maps v to 0..255: clamp to [0, 1] (NaN becomes 0), round to nearest. */
static unsigned char to_u8(float v)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return 255;
    return (unsigned char)(v * 255.0f + 0.5f);
}

stylize_status stylize_image_save(const stylize_image *img, const char *path, int jpeg_quality,
                                  stylize_error *err)
{
    if (!path || !*path)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "empty output image path");
    image_format fmt = format_for(path);
    if (fmt == FMT_NONE)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "%s: unsupported output extension (use .png, .jpg or .jpeg)", path);
    if (fmt == FMT_JPEG && (jpeg_quality < 1 || jpeg_quality > 100))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "%s: JPEG quality %d is not in 1..100", path,
                                 jpeg_quality);
    if (!img || !img->data)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "%s: no image to save", path);
    stylize_status s = check_size(img->width, img->height, path, err);
    if (s != STYLIZE_OK)
        return s;

    int w = img->width, h = img->height;
    size_t plane = (size_t)w * (size_t)h;
    unsigned char *rgb = malloc(3 * plane); /* interleaved (h, w, 3) */
    if (!rgb)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "%s: out of memory encoding %dx%d image",
                                 path, w, h);
    const float *r = img->data, *g = r + plane, *b = g + plane;
    for (size_t i = 0; i < plane; i++) {
        rgb[3 * i + 0] = to_u8(r[i]);
        rgb[3 * i + 1] = to_u8(g[i]);
        rgb[3 * i + 2] = to_u8(b[i]);
    }
    membuf m = {NULL, 0, 0, 0};
    int ok = fmt == FMT_PNG ? stylize_encode_png(membuf_write, &m, w, h, rgb)
                            : stylize_encode_jpg(membuf_write, &m, w, h, rgb, jpeg_quality);
    free(rgb);
    if (!ok || m.failed || m.len == 0) {
        free(m.data);
        return stylize_error_set(err, m.failed ? STYLIZE_ERR_NOMEM : STYLIZE_ERR_INTERNAL,
                                 "%s: cannot encode %s image%s", path,
                                 fmt == FMT_PNG ? "PNG" : "JPEG",
                                 m.failed ? " (out of memory)" : "");
    }
    s = stylize_file_write_atomic(path, m.data, m.len, err);
    free(m.data);
    return s;
}

/* ---- network input convention ------------------------------------------- */

/* Image channel (0 R, 1 G, 2 B) that feeds network channel k. */
static int image_channel(const stylize_input_convention *conv, int k)
{
    return conv->order == STYLIZE_BGR ? 2 - k : k;
}

void stylize_image_to_input(const stylize_image *img, const stylize_input_convention *conv, float *x)
{
    size_t plane = (size_t)img->width * (size_t)img->height;
    for (int k = 0; k < 3; k++) {
        const float *src = img->data + (size_t)image_channel(conv, k) * plane;
        float *dst = x + (size_t)k * plane;
        const float scale = conv->pixel_scale, mean = conv->mean[k], sd = conv->std[k];
        for (size_t i = 0; i < plane; i++)
            dst[i] = (src[i] * scale - mean) / sd;
    }
}

void stylize_image_from_input(stylize_image *img, const stylize_input_convention *conv, const float *x)
{
    size_t plane = (size_t)img->width * (size_t)img->height;
    for (int k = 0; k < 3; k++) {
        const float *src = x + (size_t)k * plane;
        float *dst = img->data + (size_t)image_channel(conv, k) * plane;
        const float sd = conv->std[k], mean = conv->mean[k], scale = conv->pixel_scale;
        for (size_t i = 0; i < plane; i++)
            dst[i] = (src[i] * sd + mean) / scale;
    }
}
