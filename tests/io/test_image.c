/* Tests of image loading (8- and 16-bit, grey, alpha, corrupt, oversized),
 * saving (PNG, JPEG, extensions, atomicity), resizing, fitting, the
 * conversion to and from network input conventions, and JPEG EXIF
 * orientation (all eight, both byte orders, hostile EXIF data, PNG). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image_write.h>

#include "stylize/io/image.h"
#include "testutil.h"

#include "testfs.h"

static long read_bytes(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

static float px(const stylize_image *im, int c, int x, int y)
{
    return im->data[((size_t)c * im->height + y) * im->width + x];
}

/* ---- a minimal PNG writer (stored deflate blocks) for 16-bit and crafted files ---- */

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put32be(bytes *b, uint32_t v)
{
    unsigned char q[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(b, q, 4);
}

static void chunk(bytes *b, const char *type, const unsigned char *data, size_t n)
{
    put32be(b, (uint32_t)n);
    size_t start = b->n;
    put(b, type, 4);
    if (n)
        put(b, data, n);
    put32be(b, crc32_of(b->p + start, n + 4));
}

/* PNG with the given header; raw (filter bytes included) stored in one
 * IDAT of stored deflate blocks, or no IDAT if raw is NULL. */
static bytes make_png(uint32_t w, uint32_t h, int depth, int color, const unsigned char *raw,
                      size_t raw_n)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    bytes b = {NULL, 0, 0};
    unsigned char ihdr[13] = {(unsigned char)(w >> 24), (unsigned char)(w >> 16),
                              (unsigned char)(w >> 8), (unsigned char)w,
                              (unsigned char)(h >> 24), (unsigned char)(h >> 16),
                              (unsigned char)(h >> 8), (unsigned char)h,
                              (unsigned char)depth, (unsigned char)color, 0, 0, 0};
    put(&b, sig, 8);
    chunk(&b, "IHDR", ihdr, 13);
    if (raw) {
        bytes z = {NULL, 0, 0};
        static const unsigned char zhead[2] = {0x78, 0x01};
        put(&z, zhead, 2);
        size_t off = 0;
        do {
            size_t k = raw_n - off > 65535 ? 65535 : raw_n - off;
            unsigned char bh[5] = {off + k == raw_n ? 1 : 0, (unsigned char)k,
                                   (unsigned char)(k >> 8), (unsigned char)~k,
                                   (unsigned char)(~k >> 8)};
            put(&z, bh, 5);
            put(&z, raw + off, k);
            off += k;
        } while (off < raw_n);
        uint32_t a = 1, s2 = 0;
        for (size_t i = 0; i < raw_n; i++) {
            a = (a + raw[i]) % 65521;
            s2 = (s2 + a) % 65521;
        }
        put32be(&z, s2 << 16 | a);
        chunk(&b, "IDAT", z.p, z.n);
        free(z.p);
    }
    chunk(&b, "IEND", NULL, 0);
    return b;
}

/* ---- tests -------------------------------------------------------------- */

static void fill_random(stylize_image *im, uint64_t seed)
{
    tu_fill(im->data, 3 * (size_t)im->width * im->height, seed, 0.0f, 1.0f);
}

static void test_alloc(void)
{
    stylize_image im;
    stylize_error err = {0};
    CHECK(stylize_image_alloc(&im, 4, 3, &err) == STYLIZE_OK);
    CHECK(im.width == 4 && im.height == 3 && im.data && im.data[35] == 0.0f);
    stylize_image_free(&im);
    CHECK(im.data == NULL && im.width == 0);
    stylize_image_free(NULL);
    CHECK(stylize_image_alloc(&im, 0, 5, &err) == STYLIZE_ERR_ARG && im.data == NULL);
    CHECK(stylize_image_alloc(&im, 5, -1, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_image_alloc(&im, STYLIZE_IMAGE_MAX_SIDE + 1, 1, &err) == STYLIZE_ERR_LIMIT);
    CHECK(stylize_image_alloc(&im, 8192, 8193, &err) == STYLIZE_ERR_LIMIT); /* > 64 Mpixel */
    CHECK(im.data == NULL && im.width == 0);
}

static void test_png_round_trip(void)
{
    stylize_image a, b;
    stylize_error err = {0};
    CHECK(stylize_image_alloc(&a, 7, 5, &err) == STYLIZE_OK);
    if (!a.data)
        return;
    fill_random(&a, 11);
    CHECK_MSG(stylize_image_save(&a, tmp("rt.png"), 0, &err) == STYLIZE_OK, "%s", err.msg);
    CHECK_MSG(stylize_image_load(&b, tmp("rt.png"), &err) == STYLIZE_OK, "%s", err.msg);
    if (b.data) {
        CHECK(b.width == 7 && b.height == 5);
        float worst = 0;
        for (size_t i = 0; i < 3 * 35; i++)
            worst = fmaxf(worst, fabsf(a.data[i] - b.data[i]));
        CHECK_MSG(worst <= 0.5f / 255.0f + 1e-6f, "worst %g", (double)worst);
        /* channels not swapped or mixed: (x, y) = (6, 4) of each plane */
        CHECK(fabsf(px(&a, 0, 6, 4) - px(&b, 0, 6, 4)) < 1.0f / 255);
        CHECK(fabsf(px(&a, 2, 6, 4) - px(&b, 2, 6, 4)) < 1.0f / 255);
    }
    stylize_image_free(&b);

    /* from memory, same result */
    unsigned char buf[4096];
    long n = read_bytes(tmp("rt.png"), buf, sizeof buf);
    CHECK(n > 8);
    CHECK(stylize_image_load_memory(&b, buf, (size_t)n, "mem.png", &err) == STYLIZE_OK);
    CHECK(b.data && b.width == 7 && fabsf(b.data[0] - a.data[0]) <= 0.5f / 255 + 1e-6f);
    stylize_image_free(&b);

    /* upper-case extension; clamping of out-of-range and NaN values */
    a.data[0] = -0.3f;            /* R (0, 0) */
    a.data[1] = 1.7f;             /* R (1, 0) */
    a.data[35] = NAN;             /* G (0, 0) */
    a.data[70] = 0.5f;            /* B (0, 0): 127.5 rounds to 128 */
    CHECK_MSG(stylize_image_save(&a, tmp("UP.PNG"), 0, &err) == STYLIZE_OK, "%s", err.msg);
    CHECK(stylize_image_load(&b, tmp("UP.PNG"), &err) == STYLIZE_OK);
    if (b.data) {
        CHECK(b.data[0] == 0.0f);
        CHECK(b.data[1] == 1.0f);
        CHECK(b.data[35] == 0.0f);
        CHECK(b.data[70] == 128.0f / 255.0f);
    }
    stylize_image_free(&b);

    /* overwriting an existing file replaces it */
    stylize_image c;
    CHECK(stylize_image_alloc(&c, 2, 2, &err) == STYLIZE_OK);
    CHECK(stylize_image_save(&c, tmp("rt.png"), 0, &err) == STYLIZE_OK);
    CHECK(stylize_image_load(&b, tmp("rt.png"), &err) == STYLIZE_OK && b.width == 2);
    stylize_image_free(&b);
    stylize_image_free(&c);
    stylize_image_free(&a);
    CHECK(count_temporaries() == 0);
}

static void test_jpeg_round_trip(void)
{
    stylize_image a, b;
    stylize_error err = {0};
    const int w = 48, h = 32;
    CHECK(stylize_image_alloc(&a, w, h, &err) == STYLIZE_OK);
    if (!a.data)
        return;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            a.data[(size_t)y * w + x] = (float)x / (float)(w - 1);
            a.data[(size_t)(h + y) * w + x] = (float)y / (float)(h - 1);
            a.data[(size_t)(2 * h + y) * w + x] = 0.5f + 0.3f * sinf(0.2f * (float)(x + y));
        }
    const char *names[] = {"rt.jpg", "rt2.JpEg"};
    for (int k = 0; k < 2; k++) {
        CHECK_MSG(stylize_image_save(&a, tmp(names[k]), 92, &err) == STYLIZE_OK, "%s", err.msg);
        unsigned char head[3] = {0};
        CHECK(read_bytes(tmp(names[k]), head, 3) == 3 && head[0] == 0xff && head[1] == 0xd8);
        CHECK(stylize_image_load(&b, tmp(names[k]), &err) == STYLIZE_OK);
        if (b.data) {
            CHECK(b.width == w && b.height == h);
            double mae = 0;
            for (size_t i = 0; i < 3 * (size_t)w * h; i++)
                mae += fabs(a.data[i] - b.data[i]);
            mae /= 3.0 * w * h;
            CHECK_MSG(mae < 0.03, "JPEG mean abs error %g", mae);
        }
        stylize_image_free(&b);
    }
    CHECK(stylize_image_save(&a, tmp("q0.jpg"), 0, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_image_save(&a, tmp("q101.jpg"), 101, &err) == STYLIZE_ERR_ARG);
    CHECK(!file_exists(tmp("q0.jpg")) && !file_exists(tmp("q101.jpg")));
    stylize_image_free(&a);
}

static void test_grey_and_alpha(void)
{
    stylize_image im;
    stylize_error err = {0};
    unsigned char grey[6 * 4], rgba[5 * 3 * 4];
    for (int i = 0; i < 24; i++)
        grey[i] = (unsigned char)(i * 10);
    CHECK(stbi_write_png(tmp("grey.png"), 6, 4, 1, grey, 6) != 0);
    CHECK_MSG(stylize_image_load(&im, tmp("grey.png"), &err) == STYLIZE_OK, "%s", err.msg);
    if (im.data) {
        CHECK(im.width == 6 && im.height == 4);
        int ok = 1;
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 6; x++)
                for (int c = 0; c < 3; c++)
                    ok &= px(&im, c, x, y) == (float)grey[y * 6 + x] / 255.0f;
        CHECK(ok);
    }
    stylize_image_free(&im);

    for (int i = 0; i < 15; i++) {
        rgba[4 * i + 0] = (unsigned char)(i * 17);
        rgba[4 * i + 1] = (unsigned char)(255 - i * 17);
        rgba[4 * i + 2] = (unsigned char)(i * 3);
        rgba[4 * i + 3] = (unsigned char)(i * 16); /* alpha: dropped, not applied */
    }
    CHECK(stbi_write_png(tmp("rgba.png"), 5, 3, 4, rgba, 5 * 4) != 0);
    CHECK_MSG(stylize_image_load(&im, tmp("rgba.png"), &err) == STYLIZE_OK, "%s", err.msg);
    if (im.data) {
        CHECK(im.width == 5 && im.height == 3);
        int ok = 1;
        for (int i = 0; i < 15; i++)
            for (int c = 0; c < 3; c++)
                ok &= px(&im, c, i % 5, i / 5) == (float)rgba[4 * i + c] / 255.0f;
        CHECK(ok);
    }
    stylize_image_free(&im);
}

static void test_16bit(void)
{
    stylize_image im;
    stylize_error err = {0};
    /* 3x2 RGB, 16 bits: value of (x, y, c) = 0x80FF + 0x1111 * (3y + x) + 0x0101 * c */
    unsigned char raw[2 * (1 + 3 * 3 * 2)];
    size_t k = 0;
    for (int y = 0; y < 2; y++) {
        raw[k++] = 0; /* filter: none */
        for (int x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++) {
                unsigned v = 0x80FFu + 0x1111u * (unsigned)(3 * y + x) + 0x0101u * (unsigned)c;
                v &= 0xffff;
                raw[k++] = (unsigned char)(v >> 8);
                raw[k++] = (unsigned char)v;
            }
    }
    bytes png = make_png(3, 2, 16, 2, raw, k);
    CHECK(write_bytes(tmp("rgb16.png"), png.p, png.n) == 0);
    free(png.p);
    CHECK_MSG(stylize_image_load(&im, tmp("rgb16.png"), &err) == STYLIZE_OK, "%s", err.msg);
    if (im.data) {
        CHECK(im.width == 3 && im.height == 2);
        double worst = 0;
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                for (int c = 0; c < 3; c++) {
                    unsigned v = (0x80FFu + 0x1111u * (unsigned)(3 * y + x) + 0x0101u * (unsigned)c) & 0xffff;
                    worst = fmax(worst, fabs(px(&im, c, x, y) - v / 65535.0));
                }
        /* an 8-bit reduction would be off by up to 255/65535 = 0.0039 */
        CHECK_MSG(worst < 1e-6, "16-bit worst error %g", worst);
    }
    stylize_image_free(&im);

    /* 16-bit grey (colour type 0) becomes three equal channels */
    unsigned char graw[2 * (1 + 2 * 2)] = {0, 0x12, 0x34, 0xfe, 0xdc, 0, 0x00, 0x01, 0xff, 0xff};
    png = make_png(2, 2, 16, 0, graw, sizeof graw);
    CHECK(write_bytes(tmp("grey16.png"), png.p, png.n) == 0);
    free(png.p);
    CHECK_MSG(stylize_image_load(&im, tmp("grey16.png"), &err) == STYLIZE_OK, "%s", err.msg);
    if (im.data) {
        CHECK(fabs(px(&im, 0, 0, 0) - 0x1234 / 65535.0) < 1e-6);
        CHECK(fabs(px(&im, 2, 1, 0) - 0xfedc / 65535.0) < 1e-6);
        CHECK(fabs(px(&im, 1, 0, 1) - 1 / 65535.0) < 1e-7);
        CHECK(px(&im, 1, 1, 1) == 1.0f);
    }
    stylize_image_free(&im);

    /* the hand-made 8-bit variant decodes to the same layout (builder sanity) */
    unsigned char raw8[1 + 3] = {0, 10, 20, 30};
    png = make_png(1, 1, 8, 2, raw8, sizeof raw8);
    CHECK(stylize_image_load_memory(&im, png.p, png.n, "one.png", &err) == STYLIZE_OK);
    CHECK(im.data && im.data[0] == 10 / 255.0f && im.data[2] == 30 / 255.0f);
    free(png.p);
    stylize_image_free(&im);
}

static void test_bad_input(void)
{
    stylize_image im;
    stylize_error err = {0};

    CHECK(stylize_image_load(&im, tmp("missing.png"), &err) == STYLIZE_ERR_IO);
    CHECK(strstr(err.msg, "missing.png") != NULL && im.data == NULL);

    unsigned char junk[64];
    uint64_t s = 99;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)tu_next(&s);
    CHECK(write_bytes(tmp("junk.png"), junk, sizeof junk) == 0);
    CHECK(stylize_image_load(&im, tmp("junk.png"), &err) == STYLIZE_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "junk.png") != NULL, "%s", err.msg);
    CHECK(im.data == NULL);

    CHECK(write_bytes(tmp("empty.jpg"), "", 0) == 0);
    CHECK(stylize_image_load(&im, tmp("empty.jpg"), &err) == STYLIZE_ERR_FORMAT);
    CHECK(strstr(err.msg, "empty.jpg") != NULL);

    /* valid header, pixel data cut short */
    stylize_image a;
    CHECK(stylize_image_alloc(&a, 64, 64, &err) == STYLIZE_OK);
    if (a.data) {
        fill_random(&a, 5);
        CHECK(stylize_image_save(&a, tmp("full.png"), 0, &err) == STYLIZE_OK);
        stylize_image_free(&a);
        static unsigned char buf[65536];
        long n = read_bytes(tmp("full.png"), buf, sizeof buf);
        CHECK(n > 200);
        if (n > 200) {
            CHECK(write_bytes(tmp("cut.png"), buf, (size_t)n / 2) == 0);
            CHECK(stylize_image_load(&im, tmp("cut.png"), &err) == STYLIZE_ERR_FORMAT);
            CHECK_MSG(strstr(err.msg, "cut.png") != NULL, "%s", err.msg);
        }
    }

    /* A header with no pixel data: small sizes get as far as decoding (and fail
     * there), huge sizes are refused from the header alone. */
    bytes png = make_png(10, 10, 8, 2, NULL, 0);
    CHECK(stylize_image_load_memory(&im, png.p, png.n, "nodata.png", &err) == STYLIZE_ERR_FORMAT);
    free(png.p);
    const struct {
        uint32_t w, h;
        const char *name;
    } huge[] = {{100000, 100000, "huge.png"}, {20000, 10, "wide.png"}, {10000, 10000, "many.png"}};
    for (int i = 0; i < 3; i++) {
        png = make_png(huge[i].w, huge[i].h, 8, 2, NULL, 0);
        CHECK(write_bytes(tmp(huge[i].name), png.p, png.n) == 0);
        free(png.p);
        stylize_status st = stylize_image_load(&im, tmp(huge[i].name), &err);
        CHECK_MSG(st == STYLIZE_ERR_LIMIT, "%s: status %d: %s", huge[i].name, (int)st, err.msg);
        CHECK_MSG(strstr(err.msg, huge[i].name) != NULL, "%s", err.msg);
        CHECK(im.data == NULL);
    }
}

static void test_save_errors(void)
{
    stylize_image a;
    stylize_error err = {0};
    CHECK(stylize_image_alloc(&a, 3, 3, &err) == STYLIZE_OK);
    if (!a.data)
        return;
    const char *bad[] = {"out.gif", "out", "out.png.bak", "png", "out.jpe"};
    for (int i = 0; i < 5; i++) {
        CHECK(stylize_image_save(&a, tmp(bad[i]), 90, &err) == STYLIZE_ERR_ARG);
        CHECK_MSG(strstr(err.msg, bad[i]) != NULL, "%s", err.msg);
        CHECK(!file_exists(tmp(bad[i])));
    }
    CHECK(stylize_image_save(&a, tmp("nodir/out.png"), 90, &err) == STYLIZE_ERR_IO);
    CHECK_MSG(strstr(err.msg, "nodir/out.png") != NULL, "%s", err.msg);
    CHECK(!file_exists(tmp("nodir/out.png")) && !file_exists(tmp("nodir")));
    CHECK(count_temporaries() == 0);
    stylize_image empty = {0, 0, NULL};
    CHECK(stylize_image_save(&empty, tmp("empty.png"), 90, &err) == STYLIZE_ERR_ARG);
    CHECK(!file_exists(tmp("empty.png")));
    stylize_image_free(&a);
}

static void test_resize(void)
{
    stylize_image a, b;
    stylize_error err = {0};
    CHECK(stylize_image_alloc(&a, 10, 8, &err) == STYLIZE_OK);
    if (!a.data)
        return;
    /* R constant 0.2, G constant 0.7, B a horizontal ramp */
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 10; x++) {
            a.data[y * 10 + x] = 0.2f;
            a.data[80 + y * 10 + x] = 0.7f;
            a.data[160 + y * 10 + x] = (float)x / 9.0f;
        }
    const int sizes[][2] = {{5, 4}, {23, 17}, {1, 1}, {10, 3}, {10, 8}};
    for (int k = 0; k < 5; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        CHECK_MSG(stylize_image_resize(&b, &a, w, h, &err) == STYLIZE_OK, "%s", err.msg);
        if (!b.data)
            continue;
        CHECK(b.width == w && b.height == h);
        float worst_r = 0, worst_g = 0, bmin = 1, bmax = 0;
        for (int i = 0; i < w * h; i++) {
            worst_r = fmaxf(worst_r, fabsf(b.data[i] - 0.2f));
            worst_g = fmaxf(worst_g, fabsf(b.data[w * h + i] - 0.7f));
            bmin = fminf(bmin, b.data[2 * w * h + i]);
            bmax = fmaxf(bmax, b.data[2 * w * h + i]);
        }
        CHECK_MSG(worst_r < 1e-5f && worst_g < 1e-5f, "%dx%d: constant planes moved by %g, %g", w,
                  h, (double)worst_r, (double)worst_g);
        if (w > 1) /* the ramp still rises from left to right */
            CHECK_MSG(b.data[2 * w * h] < b.data[2 * w * h + w - 1] && bmin > -0.1f && bmax < 1.1f,
                      "%dx%d ramp", w, h);
        stylize_image_free(&b);
    }
    CHECK(stylize_image_resize(&b, &a, 0, 5, &err) == STYLIZE_ERR_ARG && b.data == NULL);
    CHECK(stylize_image_resize(&a, &a, 5, 5, &err) == STYLIZE_ERR_ARG && a.data != NULL);
    CHECK(stylize_image_resize(&b, &a, 20000, 5, &err) == STYLIZE_ERR_LIMIT && b.data == NULL);
    stylize_image_free(&a);
}

static void test_fit(void)
{
    const int cases[][5] = {
        /* w, h, max_side, want w, want h */
        {800, 600, 512, 512, 384},  {600, 800, 512, 384, 512}, {100, 50, 400, 400, 200},
        {1000, 1, 10, 10, 1},       {1, 1000, 10, 1, 10},      {3, 2, 0, 3, 2},
        {3, 2, -5, 3, 2},           {333, 500, 256, 170, 256}, {500, 500, 7, 7, 7},
        {1001, 2, 500, 500, 1},     {640, 427, 512, 512, 342}, {16384, 16384, 16384, 16384, 16384},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int w = -1, h = -1;
        stylize_image_fit(cases[i][0], cases[i][1], cases[i][2], &w, &h);
        CHECK_MSG(w == cases[i][3] && h == cases[i][4], "fit(%d, %d, %d) = %dx%d, want %dx%d",
                  cases[i][0], cases[i][1], cases[i][2], w, h, cases[i][3], cases[i][4]);
    }
}

static void test_convention(void)
{
    stylize_image red, a, b;
    stylize_error err = {0};
    stylize_input_convention tv, caffe;
    stylize_convention_torchvision(&tv);
    stylize_convention_caffe(&caffe);
    float x[3];

    CHECK(stylize_image_alloc(&red, 1, 1, &err) == STYLIZE_OK);
    if (!red.data)
        return;
    red.data[0] = 1.0f; /* pure red */
    stylize_image_to_input(&red, &caffe, x);
    CHECK_CLOSE(x[0], -103.939, 1e-5); /* B */
    CHECK_CLOSE(x[1], -116.779, 1e-5); /* G */
    CHECK_CLOSE(x[2], 255.0 - 123.68, 1e-5); /* R */
    stylize_image_to_input(&red, &tv, x);
    CHECK_CLOSE(x[0], (1.0 - 0.485) / 0.229, 1e-5);
    CHECK_CLOSE(x[1], (0.0 - 0.456) / 0.224, 1e-5);
    CHECK_CLOSE(x[2], (0.0 - 0.406) / 0.225, 1e-5);
    /* from_input puts channels back: a BGR input with only B... R high is red */
    float bgr[3] = {-103.939f, -116.779f, 131.32f};
    stylize_image_from_input(&red, &caffe, bgr);
    CHECK(fabsf(red.data[0] - 1.0f) < 1e-5f && fabsf(red.data[1]) < 1e-5f &&
          fabsf(red.data[2]) < 1e-5f);
    stylize_image_free(&red);

    const int w = 5, h = 4;
    size_t n = 3 * (size_t)w * h;
    float *in = malloc(n * sizeof *in);
    CHECK(in != NULL);
    CHECK(stylize_image_alloc(&a, w, h, &err) == STYLIZE_OK);
    CHECK(stylize_image_alloc(&b, w, h, &err) == STYLIZE_OK);
    if (in && a.data && b.data) {
        fill_random(&a, 3);
        const stylize_input_convention *convs[2] = {&tv, &caffe};
        for (int k = 0; k < 2; k++) {
            stylize_image_to_input(&a, convs[k], in);
            stylize_image_from_input(&b, convs[k], in);
            float worst = 0;
            for (size_t i = 0; i < n; i++)
                worst = fmaxf(worst, fabsf(a.data[i] - b.data[i]));
            CHECK_MSG(worst < 1e-5f, "convention %d round trip error %g", k, (double)worst);
        }
        /* BGR: network channel 0 comes from image plane 2 */
        size_t plane = (size_t)w * h;
        stylize_image_to_input(&a, &caffe, in);
        CHECK_CLOSE(in[0], a.data[2 * plane] * 255.0f - 103.939f, 1e-5);
        CHECK_CLOSE(in[2 * plane + 7], a.data[7] * 255.0f - 123.68f, 1e-5);
        /* from_input does not clamp */
        for (size_t i = 0; i < n; i++)
            in[i] = 10.0f;
        stylize_image_from_input(&b, &tv, in);
        CHECK(b.data[0] > 2.0f);
    }
    free(in);
    stylize_image_free(&a);
    stylize_image_free(&b);
}

/* ---- EXIF orientation ---------------------------------------------------- */

static void bytes_write(void *ctx, void *data, int size)
{
    if (size > 0)
        put(ctx, data, (size_t)size);
}

static void put16x(bytes *b, int big, unsigned v)
{
    unsigned char q[2] = {(unsigned char)(big ? v >> 8 : v), (unsigned char)(big ? v : v >> 8)};
    put(b, q, 2);
}

static void put32x(bytes *b, int big, uint32_t v)
{
    put16x(b, big, big ? v >> 16 : v & 0xffff);
    put16x(b, big, big ? v & 0xffff : v >> 16);
}

/* One IFD0 entry of an EXIF block; value is a SHORT (left-justified) when
 * type is 3 and count 1, else a 32-bit value. */
typedef struct {
    unsigned tag, type;
    uint32_t count, value;
} exif_entry;

/* TIFF data: byte order, 42, IFD0 at ifd_offset (8 is right), entry count
 * n_declared (n is right), the entries, no next IFD. */
static bytes make_tiff(int big, uint32_t ifd_offset, unsigned n_declared, const exif_entry *e,
                       int n)
{
    bytes t = {NULL, 0, 0};
    put(&t, big ? "MM" : "II", 2);
    put16x(&t, big, 42);
    put32x(&t, big, ifd_offset);
    put16x(&t, big, n_declared);
    for (int i = 0; i < n; i++) {
        put16x(&t, big, e[i].tag);
        put16x(&t, big, e[i].type);
        put32x(&t, big, e[i].count);
        if (e[i].type == 3 && e[i].count == 1) {
            put16x(&t, big, e[i].value);
            put16x(&t, big, 0);
        } else {
            put32x(&t, big, e[i].value);
        }
    }
    put32x(&t, big, 0);
    return t;
}

/* APP1 segment: FF E1, length, "Exif\0\0" (or another id), the TIFF data. */
static bytes make_app1(const char *id, size_t id_len, const bytes *tiff)
{
    bytes a = {NULL, 0, 0};
    size_t n = 2 + id_len + tiff->n;
    unsigned char head[4] = {0xff, 0xe1, (unsigned char)(n >> 8), (unsigned char)n};
    put(&a, head, 4);
    put(&a, id, id_len);
    put(&a, tiff->p, tiff->n);
    return a;
}

/* jpeg with seg inserted right after its SOI marker. */
static bytes splice(const bytes *jpeg, const bytes *seg)
{
    bytes out = {NULL, 0, 0};
    put(&out, jpeg->p, 2);
    put(&out, seg->p, seg->n);
    put(&out, jpeg->p + 2, jpeg->n - 2);
    return out;
}

/* Stored colours of the 32 x 16 test image's quadrants: top left red, top
 * right green, bottom left blue, bottom right yellow. */
enum { Q_RED, Q_GREEN, Q_BLUE, Q_YELLOW };
static const float quad_rgb[4][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}};

/* 32 x 16 JPEG of the quadrants (quality 95: no chroma subsampling, every
 * 8 x 8 block flat, so the colours survive). */
static bytes quadrant_jpeg(void)
{
    unsigned char rgb[16 * 32 * 3];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * 32 + x) * 3 + c] = (unsigned char)(255 * quad_rgb[(y >= 8) * 2 + (x >= 16)][c]);
    bytes b = {NULL, 0, 0};
    CHECK(stbi_write_jpg_to_func(bytes_write, &b, 32, 16, 3, rgb, 95) != 0);
    CHECK(b.n > 4 && b.p[0] == 0xff && b.p[1] == 0xd8);
    return b;
}

/* Which stored quadrant shows in the upright image's top left, top right,
 * bottom left and bottom right corners, for each orientation: read off the
 * EXIF table (orientation 6: row 0 is the right side, column 0 the top). */
static const int upright_corners[9][4] = {
    {0},
    {Q_RED, Q_GREEN, Q_BLUE, Q_YELLOW},  /* 1 */
    {Q_GREEN, Q_RED, Q_YELLOW, Q_BLUE},  /* 2 mirrored */
    {Q_YELLOW, Q_BLUE, Q_GREEN, Q_RED},  /* 3 rotated 180 */
    {Q_BLUE, Q_YELLOW, Q_RED, Q_GREEN},  /* 4 flipped */
    {Q_RED, Q_BLUE, Q_GREEN, Q_YELLOW},  /* 5 transposed */
    {Q_BLUE, Q_RED, Q_YELLOW, Q_GREEN},  /* 6 rotate 90 clockwise */
    {Q_YELLOW, Q_GREEN, Q_BLUE, Q_RED},  /* 7 transversed */
    {Q_GREEN, Q_YELLOW, Q_RED, Q_BLUE},  /* 8 rotate 90 counter-clockwise */
};

/* 1 if im is the quadrant image turned upright by orientation o. */
static int is_upright(const stylize_image *im, int o, const char *what)
{
    int want_w = o >= 5 ? 16 : 32, want_h = o >= 5 ? 32 : 16;
    if (!im->data || im->width != want_w || im->height != want_h) {
        fprintf(stderr, "%s: orientation %d: size %dx%d, want %dx%d\n", what, o, im->width,
                im->height, want_w, want_h);
        return 0;
    }
    int ok = 1;
    for (int k = 0; k < 4; k++) {
        int x = (k % 2 ? 3 : 1) * want_w / 4, y = (k / 2 ? 3 : 1) * want_h / 4;
        for (int c = 0; c < 3; c++) {
            float got = px(im, c, x, y), want = quad_rgb[upright_corners[o][k]][c];
            if (fabsf(got - want) > 0.1f) {
                fprintf(stderr, "%s: orientation %d: corner %d channel %d is %g, want %g\n", what,
                        o, k, c, (double)got, (double)want);
                ok = 0;
            }
        }
    }
    return ok;
}

/* The JPEG with an Exif segment of one orientation entry (after an
 * unrelated entry, so IFD0 is scanned) spliced in. */
static bytes jpeg_with_orientation(const bytes *jpeg, int big, int o)
{
    const exif_entry e[2] = {{0x010f, 2, 4, 0x006d6143u}, {0x0112, 3, 1, (uint32_t)o}};
    bytes t = make_tiff(big, 8, 2, e, 2);
    bytes seg = make_app1("Exif\0", 6, &t);
    bytes out = splice(jpeg, &seg);
    free(t.p);
    free(seg.p);
    return out;
}

static void test_exif_orientations(void)
{
    stylize_image im;
    stylize_error err = {0};
    bytes jpeg = quadrant_jpeg();
    if (jpeg.n < 4)
        return;
    CHECK(stylize_jpeg_orientation(jpeg.p, jpeg.n) == 1); /* stb's own JPEG: no EXIF */
    CHECK(stylize_image_load_memory(&im, jpeg.p, jpeg.n, "plain.jpg", &err) == STYLIZE_OK);
    CHECK(is_upright(&im, 1, "plain.jpg"));
    stylize_image_free(&im);
    for (int big = 0; big < 2; big++)
        for (int o = 1; o <= 8; o++) {
            bytes j = jpeg_with_orientation(&jpeg, big, o);
            CHECK_MSG(stylize_jpeg_orientation(j.p, j.n) == o, "%s orientation %d",
                      big ? "MM" : "II", o);
            stylize_status st = stylize_image_load_memory(&im, j.p, j.n, "exif.jpg", &err);
            CHECK_MSG(st == STYLIZE_OK, "%s", err.msg);
            CHECK_MSG(is_upright(&im, o, big ? "MM" : "II"), "%s orientation %d",
                      big ? "MM" : "II", o);
            stylize_image_free(&im);
            free(j.p);
        }

    /* a non-Exif APP1 (XMP) first: skipped, the Exif one after it is found */
    bytes j6 = jpeg_with_orientation(&jpeg, 1, 6);
    bytes none = {NULL, 0, 0};
    put(&none, "<x/>", 4);
    bytes xmp = make_app1("http://ns.adobe.com/xap/1.0/", 29, &none);
    bytes both = splice(&j6, &xmp);
    CHECK(stylize_jpeg_orientation(both.p, both.n) == 6);
    free(none.p);
    free(xmp.p);
    free(both.p);

    /* through a file on disk */
    CHECK(write_bytes(tmp("exif6.jpg"), j6.p, j6.n) == 0);
    CHECK_MSG(stylize_image_load(&im, tmp("exif6.jpg"), &err) == STYLIZE_OK, "%s", err.msg);
    CHECK(is_upright(&im, 6, "exif6.jpg"));
    stylize_image_free(&im);
    free(j6.p);
    free(jpeg.p);
}

/* A hostile Exif segment in a valid JPEG: the load succeeds, upright as stored. */
static void check_ignored(const bytes *jpeg, const bytes *seg, const char *what)
{
    stylize_image im;
    stylize_error err = {0};
    bytes j = splice(jpeg, seg);
    CHECK_MSG(stylize_jpeg_orientation(j.p, j.n) == 1, "%s", what);
    stylize_status st = stylize_image_load_memory(&im, j.p, j.n, what, &err);
    CHECK_MSG(st == STYLIZE_OK, "%s: %s", what, err.msg);
    CHECK_MSG(is_upright(&im, 1, what), "%s", what);
    stylize_image_free(&im);
    free(j.p);
}

static void test_exif_hostile(void)
{
    bytes jpeg = quadrant_jpeg();
    if (jpeg.n < 4)
        return;
    const exif_entry six = {0x0112, 3, 1, 6};
    const struct {
        int big;
        uint32_t ifd;
        unsigned count;
        exif_entry e;
        size_t keep; /* bytes of TIFF data kept (0: all) */
        const char *what;
    } cases[] = {
        {0, 8, 1, six, 5, "TIFF header cut"},
        {1, 8, 1, six, 19, "entry cut"},
        {0, 8, 1, six, 9, "entry count cut"},
        {0, 0xfffffff0u, 1, six, 0, "IFD offset past the end (II)"},
        {1, 0xfffffff0u, 1, six, 0, "IFD offset past the end (MM)"},
        {1, 26, 1, six, 0, "IFD offset at the end"},
        {0, 8, 0xffff, six, 0, "huge entry count (II)"},
        {1, 8, 0xffff, six, 0, "huge entry count (MM)"},
        {0, 8, 2, six, 0, "one entry more than present"},
        {0, 8, 1, {0x0112, 4, 1, 6}, 0, "type LONG"},
        {1, 8, 1, {0x0112, 7, 1, 6}, 0, "type UNDEFINED"},
        {0, 8, 1, {0x0112, 3, 2, 6}, 0, "count 2"},
        {1, 8, 1, {0x0112, 3, 1, 0}, 0, "value 0"},
        {0, 8, 1, {0x0112, 3, 1, 9}, 0, "value 9"},
        {0, 8, 0, six, 0, "no entries declared"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bytes t = make_tiff(cases[i].big, cases[i].ifd, cases[i].count, &cases[i].e, 1);
        if (cases[i].keep)
            t.n = cases[i].keep;
        bytes seg = make_app1("Exif\0", 6, &t);
        check_ignored(&jpeg, &seg, cases[i].what);
        free(t.p);
        free(seg.p);
    }
    /* wrong magic, wrong byte order mark */
    bytes t = make_tiff(0, 8, 1, &six, 1);
    t.p[2] = 43;
    bytes seg = make_app1("Exif\0", 6, &t);
    check_ignored(&jpeg, &seg, "magic 43");
    free(seg.p);
    t.p[0] = 'I', t.p[1] = 'M', t.p[2] = 42;
    seg = make_app1("Exif\0", 6, &t);
    check_ignored(&jpeg, &seg, "byte order IM");
    free(seg.p);
    free(t.p);

    /* a file cut anywhere up to the end of its Exif segment: 1, never a read past len */
    bytes j = jpeg_with_orientation(&jpeg, 0, 6);
    size_t seg_end = 2 + 2 + ((size_t)j.p[4] << 8 | j.p[5]);
    int ok = 1;
    for (size_t n = 0; n < seg_end; n++) {
        unsigned char *copy = malloc(n ? n : 1); /* exactly n bytes, for ASan */
        if (!copy)
            break;
        memcpy(copy, j.p, n);
        ok &= stylize_jpeg_orientation(copy, n) == 1;
        free(copy);
    }
    CHECK(ok);
    CHECK(stylize_jpeg_orientation(j.p, seg_end) == 6);
    CHECK(stylize_jpeg_orientation(NULL, 10) == 1);
    /* a segment length running past the end of the file */
    j.p[4] = 0xff;
    CHECK(stylize_jpeg_orientation(j.p, seg_end + 20) == 1);
    free(j.p);
    free(jpeg.p);
}

/* PNG is never rotated, even with an eXIf chunk saying 6. */
static void test_exif_png(void)
{
    stylize_image im;
    stylize_error err = {0};
    unsigned char raw[16 * (1 + 32 * 3)];
    size_t k = 0;
    for (int y = 0; y < 16; y++) {
        raw[k++] = 0;
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 3; c++)
                raw[k++] = (unsigned char)(255 * quad_rgb[(y >= 8) * 2 + (x >= 16)][c]);
    }
    bytes png = make_png(32, 16, 8, 2, raw, k);
    const exif_entry six = {0x0112, 3, 1, 6};
    bytes t = make_tiff(1, 8, 1, &six, 1);
    bytes out = {NULL, 0, 0};
    put(&out, png.p, 33); /* signature and IHDR */
    chunk(&out, "eXIf", t.p, t.n);
    put(&out, png.p + 33, png.n - 33);
    CHECK(stylize_jpeg_orientation(out.p, out.n) == 1);
    CHECK(write_bytes(tmp("exif6.png"), out.p, out.n) == 0);
    CHECK_MSG(stylize_image_load(&im, tmp("exif6.png"), &err) == STYLIZE_OK, "%s", err.msg);
    CHECK(is_upright(&im, 1, "exif6.png"));
    stylize_image_free(&im);
    free(png.p);
    free(t.p);
    free(out.p);
}

/* stylize_image_orient pixel by pixel on a 3 x 2 image, against the
 * spec's formulas: where (x, y) of a w x h image goes. */
static void test_orient_exact(void)
{
    const int w = 3, h = 2;
    stylize_error err = {0};
    for (int o = 1; o <= 8; o++) {
        stylize_image im;
        CHECK(stylize_image_alloc(&im, w, h, &err) == STYLIZE_OK);
        if (!im.data)
            return;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    im.data[((size_t)c * h + y) * w + x] = (float)(100 * c + 10 * y + x);
        CHECK(stylize_image_orient(&im, o, &err) == STYLIZE_OK);
        int ok = im.width == (o >= 5 ? h : w) && im.height == (o >= 5 ? w : h);
        for (int c = 0; ok && c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    const int d[9][2] = {{0, 0},         {x, y},         {w - 1 - x, y},
                                         {w - 1 - x, h - 1 - y},         {x, h - 1 - y},
                                         {y, x},         {h - 1 - y, x}, {h - 1 - y, w - 1 - x},
                                         {y, w - 1 - x}};
                    ok &= px(&im, c, d[o][0], d[o][1]) == (float)(100 * c + 10 * y + x);
                }
        CHECK_MSG(ok, "orientation %d", o);
        stylize_image_free(&im);
    }
    stylize_image im;
    CHECK(stylize_image_alloc(&im, 2, 2, &err) == STYLIZE_OK);
    float *before = im.data;
    CHECK(stylize_image_orient(&im, 0, &err) == STYLIZE_ERR_ARG && im.data == before);
    CHECK(stylize_image_orient(&im, 9, &err) == STYLIZE_ERR_ARG && im.data == before);
    CHECK(stylize_image_orient(&im, 1, &err) == STYLIZE_OK && im.data == before);
    stylize_image_free(&im);
    CHECK(stylize_image_orient(&im, 6, &err) == STYLIZE_ERR_ARG);
}

/* PNG is written with zlib's deflate at level 1 (src/io/stb_write_impl.c):
 * the first IDAT's zlib header says "fastest" (0x78 0x01; stb's own
 * deflate writes 0x78 0x5e), stb_image's independent inflate reads the
 * pixels back exactly, and a photo-like image comes out smaller than
 * libstb's own encoder makes it (the reason for the change). */
static void test_png_deflate(void)
{
    enum { W = 96, H = 64 };
    stylize_image a, b;
    stylize_error err = {0};
    CHECK(stylize_image_alloc(&a, W, H, &err) == STYLIZE_OK);
    static unsigned char rgb[W * H * 3], buf[W * H * 4];
    uint64_t state = 7;
    for (int c = 0; c < 3 && a.data; c++) /* gradients plus a little noise, exact in 8 bits */
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                int q = (x * (c + 1) + 2 * y + (int)(state >> 61)) % 256;
                a.data[((size_t)c * H + y) * W + x] = (float)q / 255.0f;
                rgb[(y * W + x) * 3 + c] = (unsigned char)q;
            }
    CHECK_MSG(a.data && stylize_image_save(&a, tmp("deflate.png"), 0, &err) == STYLIZE_OK, "%s", err.msg);
    long n = read_bytes(tmp("deflate.png"), buf, sizeof buf);
    /* signature (8), IHDR (4 + 4 + 13 + 4), then the first IDAT's length and type */
    CHECK(n > 45 && memcmp(buf + 37, "IDAT", 4) == 0);
    if (n > 45)
        CHECK_MSG(buf[41] == 0x78 && buf[42] == 0x01, "zlib header %02x %02x", buf[41], buf[42]);
    CHECK(stylize_image_load(&b, tmp("deflate.png"), &err) == STYLIZE_OK);
    int same = b.data && b.width == W && b.height == H;
    for (size_t i = 0; same && i < (size_t)3 * W * H; i++)
        same = b.data[i] == a.data[i];
    CHECK(same);
    bytes stb = {NULL, 0, 0};
    CHECK(stbi_write_png_to_func(bytes_write, &stb, W, H, 3, rgb, 3 * W) != 0);
    CHECK_MSG(n > 0 && (size_t)n < stb.n, "zlib level 1: %ld bytes, stb: %zu", n, stb.n);
    free(stb.p);
    stylize_image_free(&b);
    stylize_image_free(&a);
}

int main(void)
{
    const char *base = tu_tmpdir();
    if (mkdir(base, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", base);
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/image.XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a directory in %s\n", base);
        return 1;
    }
    test_alloc();
    test_png_round_trip();
    test_png_deflate();
    test_jpeg_round_trip();
    test_grey_and_alpha();
    test_16bit();
    test_bad_input();
    test_save_errors();
    test_resize();
    test_fit();
    test_convention();
    test_orient_exact();
    test_exif_orientations();
    test_exif_hostile();
    test_exif_png();
    remove_dir();
    return TEST_SUMMARY();
}
