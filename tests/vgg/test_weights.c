/* Tests of the native weights format (save, load, every validation rule),
 * random He-normal weights, and the internal file helpers. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stylize/vgg/weights.h"
#include "stylize/vgg/network.h"
#include "testutil.h"
#include "core/fileutil.h"

#include "testfs.h"

static unsigned char *read_bytes(const char *path, size_t *n)
{
    unsigned char *data = NULL;
    stylize_error err;
    if (stylize_file_read(path, (size_t)1 << 30, &data, n, &err) != STYLIZE_OK)
        return NULL;
    return data;
}

static int weights_equal(const stylize_weights *a, const stylize_weights *b)
{
    if (a->n_layers != b->n_layers || strcmp(a->arch, b->arch) != 0)
        return 0;
    for (int i = 0; i < a->n_layers; i++) {
        const stylize_conv_layer *x = &a->layers[i], *y = &b->layers[i];
        size_t nw = (size_t)x->out_ch * (size_t)x->in_ch * 9;
        if (strcmp(x->name, y->name) != 0 || x->out_ch != y->out_ch || x->in_ch != y->in_ch ||
            memcmp(x->weight, y->weight, nw * sizeof(float)) != 0 ||
            memcmp(x->bias, y->bias, (size_t)x->out_ch * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

static int convention_equal(const stylize_input_convention *a, const stylize_input_convention *b)
{
    return a->order == b->order && a->pixel_scale == b->pixel_scale &&
           memcmp(a->mean, b->mean, sizeof a->mean) == 0 && memcmp(a->std, b->std, sizeof a->std) == 0;
}

/* ---- round trip --------------------------------------------------------- */

static void test_round_trip(void)
{
    stylize_weights *w = NULL, *r = NULL;
    stylize_error err = {0};
    CHECK(stylize_weights_random(&w, 42, 16, &err) == STYLIZE_OK);
    if (!w)
        return;
    /* non-zero biases so that they are checked too */
    for (int i = 0; i < w->n_layers; i++)
        for (int k = 0; k < w->layers[i].out_ch; k++)
            w->layers[i].bias[k] = 0.01f * (float)(k + 1) * (i % 2 ? -1.0f : 1.0f);
    stylize_convention_caffe(&w->input);
    w->input.mean[1] = 116.125f; /* non-default value survives */
    snprintf(w->source, sizeof w->source, "unit test \"quoted\" source");

    CHECK_MSG(stylize_weights_save(w, tmp("rt.json"), &err) == STYLIZE_OK, "%s", err.msg);
    CHECK(file_exists(tmp("rt.bin")));
    CHECK_MSG(stylize_weights_load(&r, tmp("rt.json"), &err) == STYLIZE_OK, "%s", err.msg);
    if (r) {
        CHECK(weights_equal(w, r));
        CHECK(convention_equal(&w->input, &r->input));
        CHECK(r->input.order == STYLIZE_BGR);
        CHECK(strcmp(r->source, w->source) == 0);
        CHECK(strcmp(r->arch, "vgg19") == 0);
        CHECK(r->layers[15].out_ch == 32 && r->layers[15].in_ch == 32);
        CHECK(r->layers[0].in_ch == 3 && r->layers[0].out_ch == 4);
    }

    /* Blob is explicitly little-endian float32, layers in order, weight then bias. */
    size_t n = 0;
    unsigned char *blob = read_bytes(tmp("rt.bin"), &n);
    CHECK(blob != NULL && n == w->blob_floats * 4);
    if (blob && n >= 4 * 112) {
        uint32_t u = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                     (uint32_t)blob[3] << 24;
        float f;
        memcpy(&f, &u, 4);
        CHECK(f == w->layers[0].weight[0]);
        size_t b0 = 4 * 108; /* conv1_1 bias follows its 4*3*9 weights */
        u = (uint32_t)blob[b0] | (uint32_t)blob[b0 + 1] << 8 | (uint32_t)blob[b0 + 2] << 16 |
            (uint32_t)blob[b0 + 3] << 24;
        memcpy(&f, &u, 4);
        CHECK(f == w->layers[0].bias[0]);
    }
    free(blob);

    /* Overwriting works and a path without .json gets ".bin" appended. */
    stylize_weights_free(r);
    r = NULL;
    CHECK(stylize_weights_save(w, tmp("rt.json"), &err) == STYLIZE_OK);
    CHECK_MSG(stylize_weights_save(w, tmp("noext"), &err) == STYLIZE_OK, "%s", err.msg);
    CHECK(file_exists(tmp("noext.bin")));
    CHECK_MSG(stylize_weights_load(&r, tmp("noext"), &err) == STYLIZE_OK, "%s", err.msg);
    CHECK(r && weights_equal(w, r));
    stylize_weights_free(r);
    stylize_weights_free(w);
    CHECK(count_temporaries() == 0);
}

static void test_save_errors(void)
{
    stylize_weights *w = NULL;
    stylize_error err = {0};
    CHECK(stylize_weights_random(&w, 1, 64, &err) == STYLIZE_OK);
    if (!w)
        return;
    stylize_status s = stylize_weights_save(w, tmp("missing-dir/x.json"), &err);
    CHECK(s == STYLIZE_ERR_IO);
    CHECK(strstr(err.msg, "missing-dir") != NULL);
    CHECK(!file_exists(tmp("missing-dir/x.json")) && !file_exists(tmp("missing-dir/x.bin")));

    w->layers[5].weight[3] = NAN;
    s = stylize_weights_save(w, tmp("nan.json"), &err);
    CHECK(s == STYLIZE_ERR_ARG);
    CHECK(strstr(err.msg, "conv3_2") != NULL);
    CHECK(!file_exists(tmp("nan.json")) && !file_exists(tmp("nan.bin")));
    w->layers[5].weight[3] = 0;
    w->input.std[2] = 0;
    CHECK(stylize_weights_save(w, tmp("std0.json"), &err) == STYLIZE_ERR_ARG);
    CHECK(!file_exists(tmp("std0.json")));
    stylize_weights_free(w);
    CHECK(count_temporaries() == 0);
}

/* ---- random ------------------------------------------------------------- */

static void layer_stats(const stylize_conv_layer *l, double *mean, double *sd)
{
    size_t n = (size_t)l->out_ch * (size_t)l->in_ch * 9;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++)
        s += l->weight[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        s2 += (l->weight[i] - *mean) * (l->weight[i] - *mean);
    *sd = sqrt(s2 / (double)(n - 1));
}

static void test_random(void)
{
    stylize_weights *a = NULL, *b = NULL, *c = NULL;
    stylize_error err = {0};
    CHECK(stylize_weights_random(&a, 7, 4, &err) == STYLIZE_OK);
    CHECK(stylize_weights_random(&b, 7, 4, &err) == STYLIZE_OK);
    CHECK(stylize_weights_random(&c, 8, 4, &err) == STYLIZE_OK);
    if (!a || !b || !c)
        goto done;
    CHECK(a->blob_floats == b->blob_floats);
    CHECK(memcmp(a->blob, b->blob, a->blob_floats * sizeof(float)) == 0);
    CHECK(memcmp(a->blob, c->blob, a->blob_floats * sizeof(float)) != 0);
    size_t same = 0;
    for (size_t i = 0; i < a->blob_floats; i++)
        same += a->blob[i] == c->blob[i] && a->blob[i] != 0.0f;
    CHECK_MSG(same < a->blob_floats / 1000, "%zu equal non-zero values across seeds", same);
    CHECK(a->layers[0].out_ch == 16 && a->layers[15].out_ch == 128);
    CHECK(strstr(a->source, "seed 7") != NULL);

    /* He-normal: std sqrt(2 / (9 cin)), mean 0, zero biases; big layers. */
    const int big[] = {4, 8, 15}; /* conv3_1 (128x64), conv4_1, conv5_4 (128x128) */
    for (int k = 0; k < 3; k++) {
        const stylize_conv_layer *l = &a->layers[big[k]];
        double m, sd, want = sqrt(2.0 / (9.0 * l->in_ch));
        layer_stats(l, &m, &sd);
        CHECK_MSG(fabs(sd - want) < 0.1 * want, "%s std %g, want %g", l->name, sd, want);
        CHECK_MSG(fabs(m) < 0.05 * want, "%s mean %g", l->name, m);
        int zero_bias = 1;
        for (int i = 0; i < l->out_ch; i++)
            zero_bias &= l->bias[i] == 0.0f;
        CHECK(zero_bias);
    }
    int finite = 1;
    for (size_t i = 0; i < a->blob_floats; i++)
        finite &= isfinite(a->blob[i]) != 0;
    CHECK(finite);

    stylize_weights *x = (stylize_weights *)&err; /* must be reset to NULL on failure */
    CHECK(stylize_weights_random(&x, 1, 3, &err) == STYLIZE_ERR_ARG && x == NULL);
    CHECK(stylize_weights_random(&x, 1, 128, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_weights_random(&x, 1, 0, &err) == STYLIZE_ERR_ARG);
done:
    stylize_weights_free(a);
    stylize_weights_free(b);
    stylize_weights_free(c);
}

/* ---- malformed manifests ------------------------------------------------ */

static cJSON *good_manifest(void)
{
    size_t n = 0;
    unsigned char *text = read_bytes(tmp("good.json"), &n);
    cJSON *root = text ? cJSON_Parse((const char *)text) : NULL;
    free(text);
    return root;
}

static cJSON *layer(cJSON *root, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "layers"), i);
}

static void set_num(cJSON *obj, const char *key, double v)
{
    cJSON_ReplaceItemInObject(obj, key, cJSON_CreateNumber(v));
}

/* Writes root (consumed) as name, loads it, checks the status and that the
 * message names the file and contains want (if not NULL). */
static void expect_load_fails(const char *name, cJSON *root, stylize_status want_code,
                              const char *want, int line)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        CHECK_MSG(0, "line %d: cannot build manifest", line);
        return;
    }
    CHECK(write_bytes(tmp(name), text, strlen(text)) == 0);
    cJSON_free(text);
    stylize_weights *w = (stylize_weights *)&tu_passed; /* must come back NULL */
    stylize_error err = {0};
    stylize_status s = stylize_weights_load(&w, tmp(name), &err);
    CHECK_MSG(s == want_code, "line %d (%s): status %d, want %d: %s", line, name, (int)s,
              (int)want_code, err.msg);
    CHECK_MSG(w == NULL, "line %d: *out not NULL on failure", line);
    CHECK_MSG(strstr(err.msg, name) != NULL, "line %d: message does not name %s: %s", line, name,
              err.msg);
    if (want)
        CHECK_MSG(strstr(err.msg, want) != NULL, "line %d: message lacks \"%s\": %s", line, want,
                  err.msg);
    if (s == STYLIZE_OK)
        stylize_weights_free(w);
}

#define FAILS(name, root, code, want) expect_load_fails(name, root, code, want, __LINE__)

/* Writes len bytes of text ((size_t)-1: strlen) as name and expects a
 * format error naming the file and containing want. */
static void expect_text_fails(const char *name, const char *text, size_t len, const char *want,
                              int line)
{
    if (len == (size_t)-1)
        len = strlen(text);
    CHECK(write_bytes(tmp(name), text, len) == 0);
    stylize_weights *w = NULL;
    stylize_error err = {0};
    stylize_status s = stylize_weights_load(&w, tmp(name), &err);
    CHECK_MSG(s == STYLIZE_ERR_FORMAT, "line %d: status %d: %s", line, (int)s, err.msg);
    CHECK_MSG(strstr(err.msg, name) != NULL, "line %d: %s", line, err.msg);
    if (want)
        CHECK_MSG(strstr(err.msg, want) != NULL, "line %d: lacks \"%s\": %s", line, want, err.msg);
    stylize_weights_free(w);
}

static void test_malformed(void)
{
    stylize_weights *w = NULL, *r = NULL;
    stylize_error err = {0};
    CHECK(stylize_weights_random(&w, 5, 16, &err) == STYLIZE_OK);
    if (!w)
        return;
    CHECK(stylize_weights_save(w, tmp("good.json"), &err) == STYLIZE_OK);
    /* sanity: the unmodified manifest, re-printed by cJSON, loads */
    cJSON *root = good_manifest();
    CHECK(root != NULL);
    if (!root)
        goto done;
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    CHECK(text && write_bytes(tmp("same.json"), text, strlen(text)) == 0);
    cJSON_free(text);
    /* the copy names good.bin: loads since the blob is relative to the manifest's directory */
    CHECK_MSG(stylize_weights_load(&r, tmp("same.json"), &err) == STYLIZE_OK, "%s", err.msg);
    CHECK(r && weights_equal(w, r));
    stylize_weights_free(r);
    r = NULL;

    double blob_bytes = (double)w->blob_floats * 4;

    /* not JSON: position reported */
    expect_text_fails("notjson.json", "{\n  \"format\": \"stylize-weights\",\n  oops\n}", (size_t)-1,
                      "line 3", __LINE__);
    expect_text_fails("trailing.json", "{} {}", (size_t)-1, "JSON", __LINE__);
    expect_text_fails("empty.json", "", (size_t)-1, "JSON", __LINE__);
    expect_text_fails("nul.json", "{\"a\":1}\0xx", 10, "NUL", __LINE__);
    expect_text_fails("array.json", "[1, 2]", (size_t)-1, "object", __LINE__);

    /* larger than 1 MiB (valid JSON padded with spaces) */
    {
        size_t n = ((size_t)1 << 20) + 16;
        char *big = malloc(n);
        CHECK(big != NULL);
        if (big) {
            memset(big, ' ', n);
            big[0] = '{';
            big[n - 1] = '}';
            expect_text_fails("big.json", big, n, "1 MiB", __LINE__);
            free(big);
        }
    }

    /* missing and mistyped fields */
    static const char *const required[] = {"format", "version", "arch", "blob", "blob_bytes",
                                           "input", "layers"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        char name[64];
        snprintf(name, sizeof name, "missing_%s.json", required[i]);
        root = good_manifest();
        cJSON_DeleteItemFromObject(root, required[i]);
        FAILS(name, root, STYLIZE_ERR_FORMAT, required[i]);
        snprintf(name, sizeof name, "mistyped_%s.json", required[i]);
        root = good_manifest();
        cJSON_ReplaceItemInObject(root, required[i], cJSON_CreateBool(1));
        FAILS(name, root, STYLIZE_ERR_FORMAT, required[i]);
    }
    root = good_manifest();
    cJSON_ReplaceItemInObject(root, "source", cJSON_CreateNumber(3));
    FAILS("mistyped_source.json", root, STYLIZE_ERR_FORMAT, "source");
    root = good_manifest();
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(root, "input"), "std");
    FAILS("missing_std.json", root, STYLIZE_ERR_FORMAT, "input.std");
    root = good_manifest();
    cJSON_DeleteItemFromObject(layer(root, 3), "bias_offset");
    FAILS("missing_bias_offset.json", root, STYLIZE_ERR_FORMAT, "conv2_2.bias_offset");
    root = good_manifest();
    cJSON_ReplaceItemInObject(layer(root, 2), "shape", cJSON_CreateString("8x4x3x3"));
    FAILS("mistyped_shape.json", root, STYLIZE_ERR_FORMAT, "conv2_1.shape");
    root = good_manifest();
    cJSON_ReplaceItemInObject(layer(root, 2), "name", cJSON_CreateNumber(2));
    FAILS("mistyped_name.json", root, STYLIZE_ERR_FORMAT, "name");
    root = good_manifest();
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(root, "layers"), 4, cJSON_CreateString("conv3_1"));
    FAILS("layer_not_object.json", root, STYLIZE_ERR_FORMAT, "layers[4]");
    root = good_manifest();
    {
        char longsrc[400];
        memset(longsrc, 'a', sizeof longsrc - 1);
        longsrc[sizeof longsrc - 1] = '\0';
        cJSON_ReplaceItemInObject(root, "source", cJSON_CreateString(longsrc));
    }
    FAILS("long_source.json", root, STYLIZE_ERR_FORMAT, "source");

    /* wrong format / version / arch */
    root = good_manifest();
    cJSON_ReplaceItemInObject(root, "format", cJSON_CreateString("stylize-weight"));
    FAILS("format.json", root, STYLIZE_ERR_FORMAT, "format");
    root = good_manifest();
    set_num(root, "version", 2);
    FAILS("version.json", root, STYLIZE_ERR_FORMAT, "version");
    root = good_manifest();
    cJSON_ReplaceItemInObject(root, "arch", cJSON_CreateString("vgg16"));
    FAILS("arch.json", root, STYLIZE_ERR_FORMAT, "vgg16");

    /* layers: count, names and order */
    root = good_manifest();
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(root, "layers"), 15);
    FAILS("layers15.json", root, STYLIZE_ERR_FORMAT, "15 entries");
    root = good_manifest();
    cJSON_AddItemToArray(cJSON_GetObjectItem(root, "layers"),
                         cJSON_Duplicate(layer(root, 15), 1));
    FAILS("layers17.json", root, STYLIZE_ERR_FORMAT, "17 entries");
    root = good_manifest();
    cJSON_ReplaceItemInObject(layer(root, 6), "name", cJSON_CreateString("conv3_4"));
    cJSON_ReplaceItemInObject(layer(root, 7), "name", cJSON_CreateString("conv3_3"));
    FAILS("order.json", root, STYLIZE_ERR_FORMAT, "conv3_4");
    root = good_manifest();
    cJSON_ReplaceItemInObject(layer(root, 0), "name", cJSON_CreateString("fc6"));
    FAILS("name.json", root, STYLIZE_ERR_FORMAT, "fc6");

    /* shapes */
    {
        struct {
            const char *file;
            int layer;
            int shape[4];
            int ndim;
            const char *want;
        } cases[] = {
            {"kernel5.json", 2, {8, 4, 5, 5}, 4, "3x3"},
            {"dims3.json", 2, {8, 4, 9, 0}, 3, "4 dimensions"},
            {"dims5.json", 2, {8, 4, 3, 3}, 5, "4 dimensions"},
            {"in_chain.json", 3, {8, 5, 3, 3}, 4, "input channels"},
            {"in_first.json", 0, {4, 1, 3, 3}, 4, "input channels"},
            {"out0.json", 15, {0, 32, 3, 3}, 4, "output channels"},
            {"out5000.json", 15, {5000, 32, 3, 3}, 4, "output channels"},
            {"out_neg.json", 15, {-1, 32, 3, 3}, 4, "conv5_4"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            int sh[5] = {cases[i].shape[0], cases[i].shape[1], cases[i].shape[2],
                         cases[i].shape[3], 3};
            root = good_manifest();
            cJSON_ReplaceItemInObject(layer(root, cases[i].layer), "shape",
                                      cJSON_CreateIntArray(sh, cases[i].ndim));
            FAILS(cases[i].file, root, STYLIZE_ERR_FORMAT, cases[i].want);
        }
        root = good_manifest();
        cJSON_ReplaceItemInArray(cJSON_GetObjectItem(layer(root, 1), "shape"), 0,
                                 cJSON_CreateNumber(4.5));
        FAILS("shape_frac.json", root, STYLIZE_ERR_FORMAT, "conv1_2");
    }

    /* offsets */
    root = good_manifest();
    set_num(layer(root, 4), "weight_offset",
            cJSON_GetObjectItem(layer(root, 4), "weight_offset")->valuedouble + 2);
    FAILS("align.json", root, STYLIZE_ERR_FORMAT, "multiple of 4");
    root = good_manifest();
    set_num(layer(root, 0), "bias_offset", 0);
    FAILS("overlap.json", root, STYLIZE_ERR_FORMAT, "overlaps");
    root = good_manifest();
    set_num(layer(root, 9), "weight_offset",
            cJSON_GetObjectItem(layer(root, 8), "weight_offset")->valuedouble);
    FAILS("overlap2.json", root, STYLIZE_ERR_FORMAT, "overlaps");
    root = good_manifest();
    set_num(layer(root, 15), "bias_offset", blob_bytes);
    FAILS("outside.json", root, STYLIZE_ERR_FORMAT, "outside the blob");
    root = good_manifest();
    set_num(layer(root, 15), "bias_offset", blob_bytes - 4);
    FAILS("outside2.json", root, STYLIZE_ERR_FORMAT, "outside the blob");
    root = good_manifest();
    set_num(layer(root, 2), "weight_offset", -4);
    FAILS("negative.json", root, STYLIZE_ERR_FORMAT, "conv2_1.weight_offset");
    root = good_manifest();
    set_num(layer(root, 2), "weight_offset", 1e300);
    FAILS("huge_offset.json", root, STYLIZE_ERR_FORMAT, "conv2_1.weight_offset");
    root = good_manifest();
    set_num(root, "blob_bytes", 2.5);
    FAILS("blob_bytes_frac.json", root, STYLIZE_ERR_FORMAT, "blob_bytes");

    /* blob file */
    root = good_manifest();
    cJSON_ReplaceItemInObject(root, "blob", cJSON_CreateString("absent.bin"));
    FAILS("absent.json", root, STYLIZE_ERR_IO, "absent.bin");
    static const char *const bad_names[] = {"/etc/passwd", "../good.bin", "sub/good.bin", "..",
                                            ".", ""};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        char name[64];
        snprintf(name, sizeof name, "blobname%zu.json", i);
        root = good_manifest();
        cJSON_ReplaceItemInObject(root, "blob", cJSON_CreateString(bad_names[i]));
        FAILS(name, root, STYLIZE_ERR_FORMAT, "plain file name");
    }
    root = good_manifest();
    set_num(root, "blob_bytes", blob_bytes + 4);
    FAILS("size_more.json", root, STYLIZE_ERR_FORMAT, "blob_bytes");
    root = good_manifest();
    set_num(root, "blob_bytes", blob_bytes - 4);
    FAILS("size_less.json", root, STYLIZE_ERR_FORMAT, "blob_bytes");

    /* input convention */
    root = good_manifest();
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "input"), "channel_order",
                              cJSON_CreateString("GBR"));
    FAILS("order_gbr.json", root, STYLIZE_ERR_FORMAT, "channel_order");
    root = good_manifest();
    set_num(cJSON_GetObjectItem(root, "input"), "pixel_scale", 0);
    FAILS("scale0.json", root, STYLIZE_ERR_FORMAT, "pixel_scale");
    root = good_manifest();
    set_num(cJSON_GetObjectItem(root, "input"), "pixel_scale", -255);
    FAILS("scale_neg.json", root, STYLIZE_ERR_FORMAT, "pixel_scale");
    {
        double v0[3] = {0.2, 0.0, 0.2}, vneg[3] = {0.2, 0.2, -0.1}, vbig[3] = {1e300, 0, 0};
        root = good_manifest();
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "input"), "std",
                                  cJSON_CreateDoubleArray(v0, 3));
        FAILS("std0.json", root, STYLIZE_ERR_FORMAT, "std");
        root = good_manifest();
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "input"), "std",
                                  cJSON_CreateDoubleArray(vneg, 3));
        FAILS("std_neg.json", root, STYLIZE_ERR_FORMAT, "std");
        root = good_manifest();
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "input"), "std",
                                  cJSON_CreateDoubleArray(v0, 2));
        FAILS("std2.json", root, STYLIZE_ERR_FORMAT, "input.std");
        root = good_manifest();
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "input"), "mean",
                                  cJSON_CreateDoubleArray(vbig, 3));
        FAILS("mean_inf.json", root, STYLIZE_ERR_FORMAT, "input.mean");
        root = good_manifest();
        cJSON_ReplaceItemInArray(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "input"), "mean"),
                                 1, cJSON_CreateNull());
        FAILS("mean_null.json", root, STYLIZE_ERR_FORMAT, "input.mean");
    }
    /* NaN cannot be written in JSON; as text it is a syntax error */
    {
        size_t n = 0;
        unsigned char *t = read_bytes(tmp("good.json"), &n);
        char *p = t ? strstr((char *)t, "\"mean\":") : NULL;
        CHECK(p != NULL);
        if (p) {
            p = strchr(p, '[');
            memcpy(p + 1, "NaN", 3);
            expect_text_fails("mean_nan.json", (char *)t, n, "JSON", __LINE__);
        }
        free(t);
    }
done:
    stylize_weights_free(w);
}

/* Copies good.bin to name with bytes patched (or cut to len). */
static int copy_blob(const char *name, size_t len, size_t patch_at, const void *patch,
                     size_t patch_len)
{
    size_t n = 0;
    unsigned char *b = read_bytes(tmp("good.bin"), &n);
    int rc = -1;
    if (b && patch_at + patch_len <= n) {
        memcpy(b + patch_at, patch, patch_len);
        rc = write_bytes(tmp(name), b, len < n ? len : n);
    }
    free(b);
    return rc;
}

static void manifest_with_blob(const char *manifest_name, const char *blob_name)
{
    cJSON *root = good_manifest();
    char *text = NULL;
    if (root) {
        cJSON_ReplaceItemInObject(root, "blob", cJSON_CreateString(blob_name));
        text = cJSON_Print(root);
    }
    CHECK(text && write_bytes(tmp(manifest_name), text, strlen(text)) == 0);
    cJSON_free(text);
    cJSON_Delete(root);
}

static void test_blob_content(void)
{
    stylize_weights *w = NULL;
    stylize_error err = {0};
    cJSON *root = good_manifest();
    CHECK(root != NULL);
    if (!root)
        return;
    double off_w = cJSON_GetObjectItem(layer(root, 5), "weight_offset")->valuedouble;
    double off_b = cJSON_GetObjectItem(layer(root, 15), "bias_offset")->valuedouble;
    double blob_bytes = cJSON_GetObjectItem(root, "blob_bytes")->valuedouble;
    cJSON_Delete(root);

    /* truncated blob */
    static const unsigned char none[1] = {0};
    CHECK(copy_blob("trunc.bin", (size_t)blob_bytes - 10, 0, none, 0) == 0);
    manifest_with_blob("trunc.json", "trunc.bin");
    CHECK(stylize_weights_load(&w, tmp("trunc.json"), &err) == STYLIZE_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "trunc.json") && strstr(err.msg, "truncated"), "%s", err.msg);
    CHECK(w == NULL);

    /* NaN (little-endian 0x7fc00000) in conv3_2's weight */
    static const unsigned char nan_le[4] = {0x00, 0x00, 0xc0, 0x7f};
    CHECK(copy_blob("nan.bin", (size_t)-1, (size_t)off_w + 8, nan_le, 4) == 0);
    manifest_with_blob("nanblob.json", "nan.bin");
    CHECK(stylize_weights_load(&w, tmp("nanblob.json"), &err) == STYLIZE_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "nanblob.json") && strstr(err.msg, "conv3_2") &&
                  strstr(err.msg, "weight") && strstr(err.msg, "index 2"),
              "%s", err.msg);
    CHECK(w == NULL);

    /* +Inf (0x7f800000) in conv5_4's bias */
    static const unsigned char inf_le[4] = {0x00, 0x00, 0x80, 0x7f};
    CHECK(copy_blob("inf.bin", (size_t)-1, (size_t)off_b, inf_le, 4) == 0);
    manifest_with_blob("infblob.json", "inf.bin");
    CHECK(stylize_weights_load(&w, tmp("infblob.json"), &err) == STYLIZE_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "conv5_4") && strstr(err.msg, "bias"), "%s", err.msg);

    /* A known value decodes little-endian: 1.5f = 0x3fc00000 */
    static const unsigned char one5_le[4] = {0x00, 0x00, 0xc0, 0x3f};
    CHECK(copy_blob("one5.bin", (size_t)-1, (size_t)off_w, one5_le, 4) == 0);
    manifest_with_blob("one5.json", "one5.bin");
    CHECK_MSG(stylize_weights_load(&w, tmp("one5.json"), &err) == STYLIZE_OK, "%s", err.msg);
    CHECK(w && w->layers[5].weight[0] == 1.5f);
    stylize_weights_free(w);
    w = NULL;

    /* blob is a directory */
    CHECK(mkdir(tmp("dir.bin"), 0700) == 0);
    manifest_with_blob("dirblob.json", "dir.bin");
    CHECK(stylize_weights_load(&w, tmp("dirblob.json"), &err) == STYLIZE_ERR_IO);
    CHECK(strstr(err.msg, "dirblob.json") != NULL);
    rmdir(tmp("dir.bin"));

    /* manifest missing */
    CHECK(stylize_weights_load(&w, tmp("nothere.json"), &err) == STYLIZE_ERR_IO);
    CHECK(strstr(err.msg, "nothere.json") != NULL);
}

/* ---- fileutil ----------------------------------------------------------- */

static void test_fileutil(void)
{
    size_t r = 0;
    stylize_error err = {0};
    CHECK(stylize_size_mul(3, 5, &r) == 0 && r == 15);
    CHECK(stylize_size_mul(0, (size_t)-1, &r) == 0 && r == 0);
    r = 7;
    CHECK(stylize_size_mul((size_t)-1 / 2 + 1, 2, &r) == -1 && r == 7);
    CHECK(stylize_size_add((size_t)-1, 0, &r) == 0 && r == (size_t)-1);
    CHECK(stylize_size_add((size_t)-1, 1, &r) == -1);

    /* atomic write, replace, read back */
    CHECK(stylize_file_write_atomic(tmp("a.txt"), "hello", 5, &err) == STYLIZE_OK);
    CHECK(stylize_file_write_atomic(tmp("a.txt"), "bye", 3, &err) == STYLIZE_OK);
    unsigned char *d = NULL;
    size_t n = 0;
    CHECK(stylize_file_read(tmp("a.txt"), 100, &d, &n, &err) == STYLIZE_OK);
    CHECK(d && n == 3 && memcmp(d, "bye", 4) == 0); /* includes the '\0' terminator */
    free(d);
    d = (unsigned char *)&err;
    CHECK(stylize_file_read(tmp("a.txt"), 2, &d, &n, &err) == STYLIZE_ERR_LIMIT);
    CHECK(d == NULL && n == 0 && strstr(err.msg, "a.txt"));
    CHECK(stylize_file_read(tmp("a.txt"), 3, &d, &n, &err) == STYLIZE_OK && n == 3);
    free(d);
    CHECK(stylize_file_read(tmp("none.txt"), 100, &d, &n, &err) == STYLIZE_ERR_IO);
    CHECK(strstr(err.msg, "none.txt") != NULL);
    CHECK(stylize_file_read(dir, 100, &d, &n, &err) == STYLIZE_ERR_IO);
    CHECK(stylize_file_read(tmp("e.txt"), 100, &d, &n, &err) == STYLIZE_ERR_IO);
    CHECK(stylize_file_write_atomic(tmp("e.txt"), "", 0, &err) == STYLIZE_OK);
    CHECK(stylize_file_read(tmp("e.txt"), 100, &d, &n, &err) == STYLIZE_OK && n == 0 && d && !d[0]);
    free(d);

    /* a new file gets normal permissions, not mkstemp's 0600 */
    struct stat st;
    mode_t old = umask(022);
    CHECK(stylize_file_write_atomic(tmp("perm.txt"), "x", 1, &err) == STYLIZE_OK);
    CHECK(stat(tmp("perm.txt"), &st) == 0 && (st.st_mode & 0777) == 0644);
    umask(old);

    /* abort leaves nothing; failures leave nothing */
    stylize_atomic_file f;
    CHECK(stylize_atomic_open(&f, tmp("ab.txt"), &err) == STYLIZE_OK);
    CHECK(stylize_atomic_write(&f, "xyz", 3, &err) == STYLIZE_OK);
    CHECK(count_temporaries() == 1);
    stylize_atomic_abort(&f);
    stylize_atomic_abort(&f); /* harmless twice */
    CHECK(count_temporaries() == 0 && !file_exists(tmp("ab.txt")));
    CHECK(stylize_file_write_atomic(tmp("no/such/dir.txt"), "x", 1, &err) == STYLIZE_ERR_IO);
    CHECK(strstr(err.msg, "no/such/dir.txt") != NULL);
    CHECK(stylize_file_write_atomic("", "x", 1, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_file_write_atomic(tmp(""), "x", 1, &err) == STYLIZE_ERR_ARG);
    /* rename onto a directory fails: temporary removed, directory intact */
    CHECK(mkdir(tmp("adir"), 0700) == 0);
    CHECK(stylize_file_write_atomic(tmp("adir"), "x", 1, &err) == STYLIZE_ERR_IO);
    CHECK(count_temporaries() == 0);
    rmdir(tmp("adir"));

    /* positioned exact reads */
    int fd = -1;
    uint64_t size = 0;
    CHECK(stylize_file_write_atomic(tmp("p.bin"), "0123456789", 10, &err) == STYLIZE_OK);
    CHECK(stylize_file_open_read(tmp("p.bin"), &fd, &size, &err) == STYLIZE_OK && size == 10);
    char buf[8] = {0};
    CHECK(stylize_file_pread(fd, "p.bin", buf, 3, 4, &err) == STYLIZE_OK && memcmp(buf, "456", 3) == 0);
    CHECK(stylize_file_pread(fd, "p.bin", buf, 4, 8, &err) == STYLIZE_ERR_FORMAT);
    CHECK(strstr(err.msg, "truncated") != NULL);
    if (fd >= 0)
        close(fd);
    CHECK(stylize_file_open_read(dir, &fd, &size, &err) == STYLIZE_ERR_IO && fd == -1);
}

/* Trimming keeps the first layers' values and drops the rest. */
static void check_trim(void)
{
    stylize_weights *w = NULL;
    stylize_error err;
    CHECK(stylize_weights_random(&w, 3, 8, &err) == STYLIZE_OK);
    if (!w)
        return;
    size_t n12 = (size_t)(w->layers[12].bias - w->blob) + (size_t)w->layers[12].out_ch;
    float *copy = malloc(n12 * sizeof(float));
    if (!copy) {
        CHECK(0);
        stylize_weights_free(w);
        return;
    }
    memcpy(copy, w->blob, n12 * sizeof(float));
    size_t before = w->blob_floats;
    CHECK(stylize_vgg19_convs_needed(stylize_vgg19_layer_index("relu5_1")) == 13);
    CHECK(stylize_vgg19_convs_needed(stylize_vgg19_layer_index("pool4")) == 12);
    CHECK(stylize_vgg19_convs_needed(stylize_vgg19_layer_index("conv1_1")) == 1);
    stylize_weights_trim(w, 13);
    CHECK(w->n_layers == 13 && w->blob_floats == n12 && n12 < before);
    CHECK(w->layers[13].weight == NULL && w->layers[15].bias == NULL);
    CHECK(memcmp(copy, w->layers[0].weight, n12 * sizeof(float)) == 0);
    CHECK(w->layers[12].bias + w->layers[12].out_ch == w->blob + w->blob_floats);
    stylize_weights_trim(w, 14); /* more than there are: no change */
    CHECK(w->n_layers == 13);
    free(copy);
    stylize_weights_free(w);
}

int main(void)
{
    check_trim();
    const char *base = tu_tmpdir();
    if (mkdir(base, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", base);
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/weights.XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a directory in %s\n", base);
        return 1;
    }
    test_round_trip();
    test_save_errors();
    test_random();
    test_malformed();
    test_blob_content();
    test_fileutil();
    remove_dir();
    return TEST_SUMMARY();
}
