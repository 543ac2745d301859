/* Importers (src/import*.c) at the C level: small torch (zip and legacy)
 * and caffe (V1 and current) files built here byte by byte, imported and
 * compared exactly; then hostile variants - every truncation, every byte
 * flipped, absurd sizes, deep nesting, huge memo indices, wrong shapes,
 * non-finite values - must fail cleanly (an error naming the input, no
 * crash, no output). When the Python fixtures of tests/test_import.sh are
 * present ($STYLIZE_TEST_TMP/import/fixtures), they are imported and
 * truncated too. Clean under -fsanitize=address,undefined
 * (cmake -DSTYLIZE_SANITIZE=ON). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/vgg/import.h"
#include "stylize/vgg/weights.h"
#include "testutil.h"

/* ---- byte buffer ---------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put1(buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}
static void put_le(buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        put1(b, (unsigned)(v >> (8 * i)) & 0xff);
}
static void put_str(buf *b, const char *s)
{
    put(b, s, strlen(s));
}
static void put_f32(buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_le(b, u, 4);
}
static void buf_free(buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- the network these files hold ------------------------------------------ */

static const int widths[STYLIZE_VGG19_NCONV] = {2, 2, 3, 3, 2, 2, 2, 2, 3, 3, 3, 3, 2, 2, 2, 2};
static const int feature_idx[STYLIZE_VGG19_NCONV] = {0,  2,  5,  7,  10, 12, 14, 16,
                                                     19, 21, 23, 25, 28, 30, 32, 34};

static int cin_of(int i)
{
    return i ? widths[i - 1] : 3;
}
static size_t nweight(int i)
{
    return (size_t)widths[i] * (size_t)cin_of(i) * 9;
}
/* Value k of layer i's weight (bias: is_bias). Exactly representable. */
static float value(int i, int is_bias, size_t k)
{
    return (float)((int)((k * 7 + (size_t)i * 13 + (size_t)is_bias * 5) % 61) - 30) / 64.0f;
}

static int check_values(const stylize_weights *w, const char *what)
{
    int ok = w && w->n_layers == STYLIZE_VGG19_NCONV;
    for (int i = 0; ok && i < STYLIZE_VGG19_NCONV; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        ok = l->out_ch == widths[i] && l->in_ch == cin_of(i);
        for (size_t k = 0; ok && k < nweight(i); k++)
            ok = l->weight[k] == value(i, 0, k);
        for (int k = 0; ok && k < widths[i]; k++)
            ok = l->bias[k] == value(i, 1, (size_t)k);
    }
    CHECK_MSG(ok, "%s: imported values differ", what);
    return ok;
}

/* ---- pickles ------------------------------------------------------------- */

static void pk_binunicode(buf *b, const char *s)
{
    put1(b, 'X');
    put_le(b, strlen(s), 4);
    put_str(b, s);
}
static void pk_int(buf *b, long v)
{
    put1(b, 'J');
    put_le(b, (uint64_t)(uint32_t)(int32_t)v, 4);
}
static void pk_int_tuple(buf *b, const long *v, int n)
{
    put1(b, '(');
    for (int i = 0; i < n; i++)
        pk_int(b, v[i]);
    put1(b, 't');
}

static void pk_str(buf *b, const char *s, int py2)
{
    if (py2) { /* Python 2 str: SHORT_BINSTRING */
        put1(b, 'U');
        put1(b, (unsigned)strlen(s));
        put_str(b, s);
    } else {
        pk_binunicode(b, s);
    }
}

/* A protocol-2 state dict: every conv tensor lives in storage "0" (all
 * floats, weight then bias, layer by layer) at its offset; an extra
 * classifier tensor uses storage "1". The storage type and the rebuild
 * function are memoized and fetched back with BINGET.
 * style 0: zip format as Python 3 torch writes it (OrderedDict() then
 *          SETITEMS, _rebuild_tensor_v2, 5-field persistent ids).
 * style 1: legacy format, Python 3 (the same with 6-field persistent ids).
 * style 2: legacy format as Python 2 / torch 0.3 wrote it
 *          (OrderedDict([[k, v], ...]), byte strings, _rebuild_tensor). */
static void pickle_state_dict(buf *b, int numel0, int numel1, int style)
{
    int py2 = style == 2;
    put1(b, 0x80), put1(b, 2);
    put_str(b, "ccollections\nOrderedDict\n");
    put1(b, 'q'), put1(b, 0);
    if (py2) {
        put1(b, ']'), put1(b, 'q'), put1(b, 1), put1(b, '(');
    } else {
        put1(b, ')'), put1(b, 'R');
        put1(b, 'q'), put1(b, 1);
        put1(b, '(');
    }
    long off = 0;
    int first = 1;
    for (int i = 0; i < STYLIZE_VGG19_NCONV + 1; i++) {
        for (int is_bias = 0; is_bias < 2; is_bias++) {
            char key[64];
            long size[4], stride[4];
            int nd;
            long storage_off = off;
            const char *skey = "0";
            int snumel = numel0;
            if (i == STYLIZE_VGG19_NCONV) {
                snprintf(key, sizeof key, "classifier.0.%s", is_bias ? "bias" : "weight");
                nd = is_bias ? 1 : 2;
                size[0] = 5, size[1] = 2, stride[0] = is_bias ? 1 : 2, stride[1] = 1;
                storage_off = is_bias ? 10 : 0;
                skey = "1";
                snumel = numel1;
            } else {
                snprintf(key, sizeof key, "features.%d.%s", feature_idx[i],
                         is_bias ? "bias" : "weight");
                if (is_bias) {
                    nd = 1, size[0] = widths[i], stride[0] = 1;
                } else {
                    nd = 4;
                    size[0] = widths[i], size[1] = cin_of(i), size[2] = 3, size[3] = 3;
                    stride[3] = 1, stride[2] = 3, stride[1] = 9, stride[0] = 9L * cin_of(i);
                }
                off += is_bias ? widths[i] : (long)nweight(i);
            }
            if (py2)
                put1(b, ']'), put1(b, '('); /* the [key, value] pair */
            pk_str(b, key, py2);
            if (first) {
                put_str(b, py2 ? "ctorch._utils\n_rebuild_tensor\n"
                               : "ctorch._utils\n_rebuild_tensor_v2\n");
                put1(b, 'q'), put1(b, 2);
            } else {
                put1(b, 'h'), put1(b, 2);
            }
            put1(b, '(');
            put1(b, '(');
            pk_str(b, "storage", py2);
            if (first) {
                put_str(b, "ctorch\nFloatStorage\n");
                put1(b, 'q'), put1(b, 3);
            } else {
                put1(b, 'h'), put1(b, 3);
            }
            pk_str(b, skey, py2);
            pk_str(b, "cpu", py2);
            pk_int(b, snumel);
            if (style)
                put1(b, 'N'); /* legacy: view_metadata None */
            put1(b, 't');
            put1(b, 'Q');
            pk_int(b, storage_off);
            pk_int_tuple(b, size, nd);
            pk_int_tuple(b, stride, nd);
            if (!py2) {
                put1(b, 0x89);
                put1(b, 'h'), put1(b, 0);
                put1(b, ')'), put1(b, 'R');
            }
            put1(b, 't');
            put1(b, 'R');
            if (py2)
                put1(b, 'e'); /* end of the pair */
            first = 0;
        }
    }
    if (py2) {
        put1(b, 'e');                /* APPENDS: the list of pairs */
        put1(b, 0x85), put1(b, 'R'); /* OrderedDict((pairs,)) */
    } else {
        put1(b, 'u');
    }
    put1(b, '.');
}

static int total_conv_floats(void)
{
    int n = 0;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++)
        n += (int)nweight(i) + widths[i];
    return n;
}

static void storage0(buf *b)
{
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        for (size_t k = 0; k < nweight(i); k++)
            put_f32(b, value(i, 0, k));
        for (int k = 0; k < widths[i]; k++)
            put_f32(b, value(i, 1, (size_t)k));
    }
}

static void storage1(buf *b)
{
    for (int k = 0; k < 15; k++)
        put_f32(b, (float)k);
}

static void make_legacy(buf *b, int py2)
{
    int style = py2 ? 2 : 1;
    static const unsigned char magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                          0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};
    put(b, magic, sizeof magic);
    put1(b, 0x80), put1(b, 2), put1(b, 'M'), put_le(b, 1001, 2), put1(b, '.');
    put1(b, 0x80), put1(b, 2), put1(b, '}'), put1(b, '(');
    pk_binunicode(b, "protocol_version"), put1(b, 'M'), put_le(b, 1001, 2);
    pk_binunicode(b, "little_endian"), put1(b, 0x88);
    put1(b, 'u'), put1(b, '.');
    pickle_state_dict(b, total_conv_floats(), 15, style);
    put1(b, 0x80), put1(b, 2), put1(b, ']'), put1(b, '(');
    pk_str(b, "0", py2), pk_str(b, "1", py2);
    put1(b, 'e'), put1(b, '.');
    put_le(b, (uint64_t)total_conv_floats(), 8);
    storage0(b);
    put_le(b, 15, 8);
    storage1(b);
}

/* ---- zip ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    buf data;
    uint64_t local;
    int method;
} zentry;

static void make_zip_from(buf *z, zentry *e, int n)
{
    for (int i = 0; i < n; i++) {
        e[i].local = z->n;
        put_le(z, 0x04034b50, 4);
        put_le(z, 20, 2), put_le(z, 0, 2), put_le(z, (uint64_t)e[i].method, 2);
        put_le(z, 0, 2), put_le(z, 0, 2), put_le(z, 0, 4);
        put_le(z, e[i].data.n, 4), put_le(z, e[i].data.n, 4);
        put_le(z, strlen(e[i].name), 2);
        int pad = (int)((64 - (z->n + 2 + strlen(e[i].name) + 4) % 64) % 64);
        put_le(z, (uint64_t)pad + 4, 2);
        put_str(z, e[i].name);
        put_le(z, 0x4246, 2), put_le(z, (uint64_t)pad, 2); /* "FB" padding, as torch does */
        for (int k = 0; k < pad; k++)
            put1(z, 'Z');
        put(z, e[i].data.p, e[i].data.n);
    }
    uint64_t cd = z->n;
    for (int i = 0; i < n; i++) {
        put_le(z, 0x02014b50, 4);
        put_le(z, 20, 2), put_le(z, 20, 2), put_le(z, 0, 2), put_le(z, (uint64_t)e[i].method, 2);
        put_le(z, 0, 2), put_le(z, 0, 2), put_le(z, 0, 4);
        put_le(z, e[i].data.n, 4), put_le(z, e[i].data.n, 4);
        put_le(z, strlen(e[i].name), 2), put_le(z, 0, 2), put_le(z, 0, 2);
        put_le(z, 0, 2), put_le(z, 0, 2), put_le(z, 0, 4);
        put_le(z, e[i].local, 4);
        put_str(z, e[i].name);
    }
    uint64_t cd_size = z->n - cd;
    put_le(z, 0x06054b50, 4);
    put_le(z, 0, 2), put_le(z, 0, 2), put_le(z, (uint64_t)n, 2), put_le(z, (uint64_t)n, 2);
    put_le(z, cd_size, 4), put_le(z, cd, 4), put_le(z, 0, 2);
}

static void make_zip(buf *z, int method_of_data0)
{
    zentry e[4] = {{"archive/data.pkl", {0}, 0, 0},
                   {"archive/data/0", {0}, 0, method_of_data0},
                   {"archive/data/1", {0}, 0, 0},
                   {"archive/version", {0}, 0, 0}};
    pickle_state_dict(&e[0].data, total_conv_floats(), 15, 0);
    storage0(&e[1].data);
    storage1(&e[2].data);
    put_str(&e[3].data, "3\n");
    make_zip_from(z, e, 4);
    for (int i = 0; i < 4; i++)
        buf_free(&e[i].data);
}

/* ---- protobuf ------------------------------------------------------------- */

static void pb_varint(buf *b, uint64_t v)
{
    while (v >= 0x80) {
        put1(b, (unsigned)(v & 0x7f) | 0x80);
        v >>= 7;
    }
    put1(b, (unsigned)v);
}
static void pb_tag(buf *b, unsigned field, unsigned wt)
{
    pb_varint(b, ((uint64_t)field << 3) | wt);
}
static void pb_bytes(buf *b, unsigned field, const void *p, size_t n)
{
    pb_tag(b, field, 2);
    pb_varint(b, n);
    put(b, p, n);
}
static void pb_string(buf *b, unsigned field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

/* BlobProto with shape (new) or num/channels/height/width (legacy). */
static void pb_blob(buf *out, unsigned field, const long *dims, int nd, const float *v, size_t n,
                    int legacy)
{
    buf b = {0};
    if (legacy) {
        long d4[4] = {1, 1, 1, 1};
        for (int i = 0; i < nd; i++)
            d4[4 - nd + i] = dims[i];
        for (int i = 0; i < 4; i++) {
            pb_tag(&b, (unsigned)i + 1, 0);
            pb_varint(&b, (uint64_t)d4[i]);
        }
        for (size_t i = 0; i < n; i++) { /* unpacked */
            pb_tag(&b, 5, 5);
            put_f32(&b, v[i]);
        }
    } else {
        buf shape = {0}, dimv = {0}, data = {0};
        for (int i = 0; i < nd; i++)
            pb_varint(&dimv, (uint64_t)dims[i]);
        pb_bytes(&shape, 1, dimv.p, dimv.n);
        pb_bytes(&b, 7, shape.p, shape.n);
        for (size_t i = 0; i < n; i++)
            put_f32(&data, v[i]);
        pb_bytes(&b, 5, data.p, data.n);
        buf_free(&shape), buf_free(&dimv), buf_free(&data);
    }
    pb_bytes(out, field, b.p, b.n);
    buf_free(&b);
}

static void make_caffe(buf *net, int v1)
{
    pb_string(net, 1, "VGG_tiny");
    float *tmp = malloc(sizeof(float) * 4096);
    for (int i = 0; i < STYLIZE_VGG19_NCONV + 1; i++) {
        buf l = {0};
        char name[16];
        if (i == STYLIZE_VGG19_NCONV) {
            snprintf(name, sizeof name, "fc6");
        } else {
            snprintf(name, sizeof name, "%s", stylize_vgg19_conv_name(i));
        }
        pb_string(&l, v1 ? 4 : 1, name);
        if (v1) {
            pb_tag(&l, 5, 0);
            pb_varint(&l, i == STYLIZE_VGG19_NCONV ? 14 : 4);
        } else {
            pb_string(&l, 2, i == STYLIZE_VGG19_NCONV ? "InnerProduct" : "Convolution");
        }
        unsigned bf = v1 ? 6 : 7;
        if (i == STYLIZE_VGG19_NCONV) {
            long d[2] = {3, 4};
            for (int k = 0; k < 12; k++)
                tmp[k] = (float)k;
            pb_blob(&l, bf, d, 2, tmp, 12, v1);
        } else {
            long d[4] = {widths[i], cin_of(i), 3, 3}, db[1] = {widths[i]};
            for (size_t k = 0; k < nweight(i); k++)
                tmp[k] = value(i, 0, k);
            pb_blob(&l, bf, d, 4, tmp, nweight(i), v1);
            for (int k = 0; k < widths[i]; k++)
                tmp[k] = value(i, 1, (size_t)k);
            pb_blob(&l, bf, db, 1, tmp, (size_t)widths[i], v1);
        }
        /* a ReLU layer without blobs after each */
        buf relu = {0};
        pb_string(&relu, v1 ? 4 : 1, "relu");
        if (v1) {
            pb_tag(&relu, 5, 0);
            pb_varint(&relu, 18);
        } else {
            pb_string(&relu, 2, "ReLU");
        }
        pb_bytes(net, v1 ? 2 : 100, l.p, l.n);
        pb_bytes(net, v1 ? 2 : 100, relu.p, relu.n);
        buf_free(&l), buf_free(&relu);
    }
    free(tmp);
}

/* ---- checks --------------------------------------------------------------- */

static stylize_status import_mem(const buf *b, stylize_weights **w, stylize_error *err)
{
    return stylize_import_memory(w, b->p, b->n, "input.bin", STYLIZE_IMPORT_AUTO, err);
}

/* Must fail, with a message naming the input, and leave *w NULL. */
static void expect_fail(const unsigned char *p, size_t n, const char *what, const char *needle)
{
    stylize_weights *w = (stylize_weights *)(uintptr_t)1;
    stylize_error err = {0};
    stylize_status s = stylize_import_memory(&w, p, n, "input.bin", STYLIZE_IMPORT_AUTO, &err);
    CHECK_MSG(s != STYLIZE_OK, "%s: imported", what);
    CHECK_MSG(w == NULL, "%s: output not NULL on failure", what);
    CHECK_MSG(strncmp(err.msg, "input.bin: ", 11) == 0, "%s: message \"%s\"", what, err.msg);
    if (needle)
        CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg,
                  needle);
    if (s == STYLIZE_OK)
        stylize_weights_free(w);
}

/* Every proper prefix must fail; every single-byte corruption must either
 * fail cleanly or import a well-formed network. */
static int blob_equals(const stylize_weights *w, const buf *expected)
{
    return w && expected && w->blob_floats * 4 == expected->n &&
           memcmp(w->blob, expected->p, expected->n) == 0;
}

/* pb_expected: for protobuf inputs, the blob a cut at a field boundary may
 * legitimately import (NULL for other formats). */
static void hostile_variants(const buf *b, const char *what, size_t step, size_t max_mut,
                             const buf *pb_expected)
{
    int trunc_ok = 1, mut_ok = 1;
    for (size_t len = 0; len < b->n; len += (len < 64 || b->n - len < 64) ? 1 : step) {
        stylize_weights *w = NULL;
        stylize_error err = {0};
        stylize_status s =
            stylize_import_memory(&w, b->p, len, "input.bin", STYLIZE_IMPORT_AUTO, &err);
        /* A protobuf cut at a field boundary is a valid, shorter message: it
         * may import, if every conv layer came before the cut. */
        int boundary_ok = s == STYLIZE_OK && blob_equals(w, pb_expected);
        if (!boundary_ok && (s == STYLIZE_OK || w || strncmp(err.msg, "input.bin: ", 11) != 0)) {
            if (trunc_ok)
                fprintf(stderr, "%s truncated to %zu: status %d, \"%s\"\n", what, len, (int)s,
                        err.msg);
            trunc_ok = 0;
        }
        stylize_weights_free(w);
    }
    CHECK_MSG(trunc_ok, "%s: every truncation fails cleanly", what);
    /* Small inputs: every byte. Large ones (over max_mut bytes): the first
     * half of max_mut bytes (headers, pickles), the last sixth (zip
     * directory) and a third spread in between. */
    unsigned char *m = malloc(b->n);
    if (!m)
        return;
    memcpy(m, b->p, b->n);
    size_t npos = b->n <= max_mut ? b->n : max_mut, h = max_mut / 2, t = max_mut / 6;
    for (size_t j = 0; j < npos; j++) {
        size_t i = j;
        if (b->n > max_mut)
            i = j < h             ? j
                : j < max_mut - t ? h + (j - h) * (b->n - h - t) / (max_mut - h - t)
                                  : b->n - (max_mut - j);
        for (int k = 0; k < 2; k++) {
            m[i] ^= k ? 0xff : 0x01;
            stylize_weights *w = NULL;
            stylize_error err = {0};
            stylize_status s =
                stylize_import_memory(&w, m, b->n, "input.bin", STYLIZE_IMPORT_AUTO, &err);
            int good = s == STYLIZE_OK ? (w && w->n_layers == STYLIZE_VGG19_NCONV && w->blob)
                                       : (!w && strncmp(err.msg, "input.bin: ", 11) == 0);
            if (!good && mut_ok)
                fprintf(stderr, "%s with byte %zu changed: status %d, \"%s\"\n", what, i, (int)s,
                        err.msg);
            mut_ok = mut_ok && good;
            stylize_weights_free(w);
            m[i] = b->p[i];
        }
    }
    free(m);
    CHECK_MSG(mut_ok, "%s: every one-byte corruption is handled", what);
}

static void test_format(const char *what, buf *b, stylize_import_format expect_fmt,
                        const char *source_word, int expect_order)
{
    stylize_weights *w = NULL;
    stylize_error err = {0};
    CHECK_MSG(stylize_import_detect(b->p, b->n) == expect_fmt, "%s: detected as %d", what,
              (int)stylize_import_detect(b->p, b->n));
    stylize_status s = import_mem(b, &w, &err);
    CHECK_MSG(s == STYLIZE_OK, "%s: %s", what, err.msg);
    if (s == STYLIZE_OK) {
        check_values(w, what);
        CHECK_MSG(strstr(w->source, source_word) != NULL, "%s: source \"%s\"", what, w->source);
        CHECK(w->input.order == (stylize_channel_order)expect_order);
    }
    stylize_weights_free(w);
    buf expected = {0};
    storage0(&expected); /* the blob layout: layer by layer, weight then bias */
    hostile_variants(b, what, 1, SIZE_MAX, expect_fmt == STYLIZE_IMPORT_CAFFE ? &expected : NULL);
    buf_free(&expected);
}

static void test_specific_hostile(void)
{
    buf b = {0};

    expect_fail(NULL, 0, "empty", "empty");
    expect_fail((const unsigned char *)"hello world, not weights", 24, "text", "not a torch");

    /* legacy header followed by a deep MARK nest */
    static const unsigned char head[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                         0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};
    put(&b, head, sizeof head);
    put1(&b, 0x80), put1(&b, 2), put1(&b, 'M'), put_le(&b, 1001, 2), put1(&b, '.');
    put1(&b, 0x80), put1(&b, 2), put1(&b, '}'), put1(&b, '.'); /* sys_info */
    size_t base = b.n;
    for (int i = 0; i < 100000; i++)
        put1(&b, '(');
    put1(&b, '.');
    expect_fail(b.p, b.n, "deep nesting", "deeper");

    /* huge memo index */
    b.n = base;
    put1(&b, 'N'), put1(&b, 'r'), put_le(&b, 0xfffffff0u, 4), put1(&b, '.');
    expect_fail(b.p, b.n, "huge memo index", "memo");

    /* BINGET of a memo entry never stored */
    b.n = base;
    put1(&b, 'j'), put_le(&b, 123456, 4), put1(&b, '.');
    expect_fail(b.p, b.n, "unset memo", "memo");

    /* string claiming 2 GiB */
    b.n = base;
    put1(&b, 'X'), put_le(&b, 0x7fffffffu, 4), put_str(&b, "abc");
    expect_fail(b.p, b.n, "huge string", "limit");

    /* BINUNICODE8 claiming 2^63 */
    b.n = base;
    put1(&b, 0x8d), put_le(&b, (uint64_t)1 << 63, 8);
    expect_fail(b.p, b.n, "huge string8", NULL);

    /* stack flood */
    b.n = base;
    for (int i = 0; i < (1 << 21); i++)
        put1(&b, 'N');
    put1(&b, '.');
    expect_fail(b.p, b.n, "stack flood", "stack");

    /* self-containing list, then a non-dict result */
    b.n = base;
    put1(&b, ']'), put1(&b, 'q'), put1(&b, 0), put1(&b, 'h'), put1(&b, 0), put1(&b, 'a');
    put1(&b, '.');
    put1(&b, ']'), put1(&b, '.');
    expect_fail(b.p, b.n, "cyclic list", "state dict");

    /* unknown opcode */
    b.n = base;
    put1(&b, 0xfe);
    expect_fail(b.p, b.n, "bad opcode", "opcode");

    /* storage with absurd element count and a tensor reaching past it */
    b.n = 0;
    make_legacy(&b, 0);
    {
        /* storage 0's element count: the int64 just before its data */
        unsigned char *p = b.p + b.n - 15 * 4 - 8 - (size_t)total_conv_floats() * 4 - 8;
        memset(p, 0xff, 7);
        p[7] = 0x0f;
        expect_fail(b.p, b.n, "absurd storage size", "truncated");
    }

    /* NaN weight: legacy storage value */
    b.n = 0;
    make_legacy(&b, 0);
    {
        size_t data0 = b.n - 15 * 4 - 8 - (size_t)total_conv_floats() * 4;
        unsigned char nan_bits[4] = {0x00, 0x00, 0xc0, 0x7f};
        memcpy(b.p + data0 + 4 * 5, nan_bits, 4);
        expect_fail(b.p, b.n, "NaN weight", "non-finite");
    }

    /* compressed zip entry */
    b.n = 0;
    make_zip(&b, 8);
    expect_fail(b.p, b.n, "compressed zip entry", "compressed");

    /* caffe: varint overflow, length past the end, wrong chain */
    b.n = 0;
    pb_string(&b, 1, "x");
    pb_tag(&b, 100, 2);
    for (int i = 0; i < 11; i++)
        put1(&b, 0xff);
    expect_fail(b.p, b.n, "varint overflow", "varint");
    b.n = 0;
    pb_string(&b, 1, "x");
    pb_tag(&b, 100, 2);
    pb_varint(&b, (uint64_t)1 << 40);
    put_str(&b, "abc");
    expect_fail(b.p, b.n, "length past end", "truncated");
    b.n = 0;
    pb_string(&b, 1, "x");
    expect_fail(b.p, b.n, "caffe without layers", "no layers");

    /* caffe net with conv2_1 missing */
    b.n = 0;
    make_caffe(&b, 0);
    {
        /* rename conv2_1 to conv2_9 */
        for (size_t i = 0; i + 7 <= b.n; i++)
            if (memcmp(b.p + i, "conv2_1", 7) == 0)
                b.p[i + 6] = '9';
        expect_fail(b.p, b.n, "missing layer", "conv2_1");
    }
    buf_free(&b);
}

/* ---- python fixtures ------------------------------------------------------- */

static int read_file(const char *path, buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(b, chunk, n);
    fclose(f);
    return 0;
}

static void test_python_fixtures(void)
{
    static const char *const good[] = {"torch_zip.pth",         "torch_legacy.pth",
                                       "torch_views_zip.pth",   "torch_views_legacy.pth",
                                       "torch_wrapped_zip.pth", "torch_wrapped_legacy.pth",
                                       "torch_p4_zip.pth",      "torch_p4_legacy.pth",
                                       "caffe_v1.caffemodel",   "caffe_layer.caffemodel"};
    static const char *const bad[] = {"bad_half.pth", "bad_resnet.pth", "bad_whole_model.pth",
                                      "bad_bn.pth"};
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/import/fixtures", tu_tmpdir());
    buf expected = {0};
    snprintf(path, sizeof path, "%s/expected.bin", dir);
    if (read_file(path, &expected) != 0) {
        printf("note: %s not found (tests/test_import.sh makes it); python fixtures skipped\n",
               path);
        return;
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, good[i]);
        stylize_weights *w = NULL;
        stylize_error err = {0};
        stylize_status s = stylize_import_file(&w, path, STYLIZE_IMPORT_AUTO, &err);
        CHECK_MSG(s == STYLIZE_OK, "%s", err.msg);
        if (s == STYLIZE_OK)
            CHECK_MSG(blob_equals(w, &expected), "%s: values differ from expected.bin", good[i]);
        stylize_weights_free(w);
        buf b = {0};
        if (read_file(path, &b) == 0)
            hostile_variants(&b, good[i], b.n / 150 + 1, 600,
                             strstr(good[i], "caffe") ? &expected : NULL);
        buf_free(&b);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, bad[i]);
        stylize_weights *w = NULL;
        stylize_error err = {0};
        stylize_status s = stylize_import_file(&w, path, STYLIZE_IMPORT_AUTO, &err);
        CHECK_MSG(s != STYLIZE_OK && !w && strstr(err.msg, bad[i]), "%s: \"%s\"", bad[i], err.msg);
        stylize_weights_free(w);
    }
    buf_free(&expected);
}

/* ---- files ----------------------------------------------------------------- */

static void test_files(void)
{
    char path[4096];
    buf b = {0};
    make_legacy(&b, 0);
    snprintf(path, sizeof path, "%s/import_hostile_legacy.pth", tu_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    stylize_weights *w = NULL;
    stylize_error err = {0};
    CHECK_MSG(stylize_import_file(&w, path, STYLIZE_IMPORT_AUTO, &err) == STYLIZE_OK, "%s",
              err.msg);
    check_values(w, "legacy file");
    stylize_weights_free(w);
    w = NULL;
    /* explicit formats: either torch value accepts either torch format */
    CHECK(stylize_import_file(&w, path, STYLIZE_IMPORT_TORCH_ZIP, &err) == STYLIZE_OK);
    stylize_weights_free(w);
    w = NULL;
    CHECK(stylize_import_file(&w, path, STYLIZE_IMPORT_CAFFE, &err) != STYLIZE_OK);
    CHECK(w == NULL);
    /* truncated on disk */
    f = fopen(path, "wb");
    fwrite(b.p, 1, b.n - 3, f);
    fclose(f);
    CHECK(stylize_import_file(&w, path, STYLIZE_IMPORT_AUTO, &err) != STYLIZE_OK);
    CHECK(w == NULL);
    CHECK_MSG(strncmp(err.msg, path, strlen(path)) == 0, "message \"%s\"", err.msg);
    remove(path);
    CHECK(stylize_import_file(&w, path, STYLIZE_IMPORT_AUTO, &err) == STYLIZE_ERR_IO);
    CHECK(stylize_import_file(&w, tu_tmpdir(), STYLIZE_IMPORT_AUTO, &err) == STYLIZE_ERR_IO);
    buf_free(&b);
}

int main(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tu_tmpdir());
    if (system(cmd) != 0)
        fprintf(stderr, "cannot create %s\n", tu_tmpdir());

    buf b = {0};
    make_legacy(&b, 0);
    test_format("legacy", &b, STYLIZE_IMPORT_TORCH_LEGACY, "legacy", STYLIZE_RGB);
    buf_free(&b);
    make_legacy(&b, 1);
    test_format("legacy (Python 2 style)", &b, STYLIZE_IMPORT_TORCH_LEGACY, "legacy", STYLIZE_RGB);
    buf_free(&b);
    make_zip(&b, 0);
    test_format("zip", &b, STYLIZE_IMPORT_TORCH_ZIP, "zip", STYLIZE_RGB);
    buf_free(&b);
    make_caffe(&b, 0);
    test_format("caffe layer", &b, STYLIZE_IMPORT_CAFFE, "caffe", STYLIZE_BGR);
    buf_free(&b);
    make_caffe(&b, 1);
    test_format("caffe V1", &b, STYLIZE_IMPORT_CAFFE, "V1", STYLIZE_BGR);
    buf_free(&b);

    test_specific_hostile();
    test_files();
    test_python_fixtures();
    return TEST_SUMMARY();
}
