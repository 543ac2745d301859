/* Native weights format: a JSON manifest (cJSON) and one raw little-endian
 * float32 blob. The format is specified in weights/README.md; this file is
 * its reference reader and writer.
 *
 * Loading validates the whole manifest, then the blob's size, before
 * allocating the weights; then each layer's weight and bias are read at
 * their offsets straight into the allocated network, decoded from
 * little-endian bytes and checked to be finite. */
#include "stylize/vgg/weights.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"

#define MANIFEST_MAX_BYTES ((size_t)1 << 20)
#define FORMAT_NAME "stylize-weights"
#define BLOB_NAME_MAX 255
#define MAX_CHANNELS 4096
/* Offsets and sizes must be integers that a double holds exactly. */
#define JSON_INT_MAX 9007199254740992.0 /* 2^53 */

/* Everything read from a manifest, validated, before any allocation. */
typedef struct {
    char source[sizeof(((stylize_weights *)0)->source)];
    stylize_input_convention input;
    char blob[BLOB_NAME_MAX + 1];
    uint64_t blob_bytes;
    int out_ch[STYLIZE_VGG19_NCONV];
    int in_ch[STYLIZE_VGG19_NCONV];
    uint64_t weight_off[STYLIZE_VGG19_NCONV]; /* bytes into the blob */
    uint64_t bias_off[STYLIZE_VGG19_NCONV];
} manifest;

/* ---- little-endian float32 ---------------------------------------------- */

/* Decodes n little-endian float32 values stored as bytes in x, in place. */
static void decode_le_inplace(float *x, size_t n)
{
    const unsigned char *b = (const unsigned char *)x;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = b + 4 * i;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        x[i] = f;
    }
}

/* out (4 n bytes) = little-endian encoding of x (n floats). */
static void encode_le(unsigned char *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        out[4 * i + 0] = (unsigned char)(u & 0xff);
        out[4 * i + 1] = (unsigned char)((u >> 8) & 0xff);
        out[4 * i + 2] = (unsigned char)((u >> 16) & 0xff);
        out[4 * i + 3] = (unsigned char)(u >> 24);
    }
}

/* Index of the first non-finite value of x (n floats), or n. */
static size_t first_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

/* ---- manifest parsing --------------------------------------------------- */

static stylize_status bad(stylize_error *err, const char *path, const char *field,
                          const char *problem)
{
    return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: field \"%s\" %s", path, field, problem);
}

/* Member key of obj, which must exist and satisfy is_type (a cJSON_Is*
 * predicate); type_name is used in the message. field is the dotted name for
 * messages. */
static stylize_status member(const cJSON *obj, const char *key, const char *field,
                             cJSON_bool (*is_type)(const cJSON *), const char *type_name,
                             const char *path, const cJSON **out, stylize_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!it)
        return bad(err, path, field, "is missing");
    if (!is_type(it)) {
        char problem[64];
        snprintf(problem, sizeof problem, "is not %s", type_name);
        return bad(err, path, field, problem);
    }
    *out = it;
    return STYLIZE_OK;
}

/* A JSON number that is an integer in [0, max]. */
static stylize_status json_uint(const cJSON *it, double max, const char *field, const char *path,
                                uint64_t *out, stylize_error *err)
{
    if (!cJSON_IsNumber(it))
        return bad(err, path, field, "is not a number");
    double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < 0 || v > max)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: field \"%s\" is %.17g, not an integer in 0..%.0f", path, field,
                                 v, max);
    *out = (uint64_t)v;
    return STYLIZE_OK;
}

/* arr must be an array of exactly n finite numbers; out (n floats). */
static stylize_status json_float3(const cJSON *arr, const char *field, const char *path, float *out,
                                  stylize_error *err)
{
    if (cJSON_GetArraySize(arr) != 3)
        return bad(err, path, field, "must have exactly 3 numbers");
    for (int c = 0; c < 3; c++) {
        const cJSON *it = cJSON_GetArrayItem(arr, c);
        if (!cJSON_IsNumber(it))
            return bad(err, path, field, "must hold numbers only");
        float f = (float)it->valuedouble;
        if (!isfinite(it->valuedouble) || !isfinite(f))
            return bad(err, path, field, "holds a non-finite value (or beyond float range)");
        out[c] = f;
    }
    return STYLIZE_OK;
}

static stylize_status parse_input(const cJSON *in, const char *path, stylize_input_convention *c,
                                  stylize_error *err)
{
    const cJSON *it;
    stylize_status s;
    if ((s = member(in, "channel_order", "input.channel_order", cJSON_IsString, "a string", path,
                    &it, err)))
        return s;
    if (strcmp(it->valuestring, "RGB") == 0)
        c->order = STYLIZE_RGB;
    else if (strcmp(it->valuestring, "BGR") == 0)
        c->order = STYLIZE_BGR;
    else
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: input.channel_order is \"%.32s\", must be \"RGB\" or \"BGR\"",
                                 path, it->valuestring);
    if ((s = member(in, "pixel_scale", "input.pixel_scale", cJSON_IsNumber, "a number", path, &it,
                    err)))
        return s;
    c->pixel_scale = (float)it->valuedouble;
    if (!isfinite(it->valuedouble) || !isfinite(c->pixel_scale) || !(c->pixel_scale > 0))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: input.pixel_scale is %g, must be finite and > 0", path,
                                 it->valuedouble);
    if ((s = member(in, "mean", "input.mean", cJSON_IsArray, "an array", path, &it, err)))
        return s;
    if ((s = json_float3(it, "input.mean", path, c->mean, err)))
        return s;
    if ((s = member(in, "std", "input.std", cJSON_IsArray, "an array", path, &it, err)))
        return s;
    if ((s = json_float3(it, "input.std", path, c->std, err)))
        return s;
    for (int k = 0; k < 3; k++)
        if (!(c->std[k] > 0))
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s: input.std[%d] is %g, must be > 0", path, k,
                                     (double)c->std[k]);
    return STYLIZE_OK;
}

/* A plain file name: non-empty, no '/', not "." or "..". */
static int plain_file_name(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static stylize_status parse_layers(const cJSON *layers, const char *path, manifest *m,
                                   stylize_error *err)
{
    int n = cJSON_GetArraySize(layers);
    if (n != STYLIZE_VGG19_NCONV)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: \"layers\" has %d entries, expected %d (conv1_1 .. conv5_4)",
                                 path, n, STYLIZE_VGG19_NCONV);
    int prev = 3;
    for (int i = 0; i < n; i++) {
        const cJSON *l = cJSON_GetArrayItem(layers, i), *it;
        char field[64];
        stylize_status s;
        const char *want = stylize_vgg19_conv_name(i);
        if (!cJSON_IsObject(l))
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: layers[%d] is not an object",
                                     path, i);
        snprintf(field, sizeof field, "layers[%d].name", i);
        if ((s = member(l, "name", field, cJSON_IsString, "a string", path, &it, err)))
            return s;
        if (strcmp(it->valuestring, want) != 0)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s: layers[%d] is \"%.32s\", expected \"%s\" (layers must be "
                                     "conv1_1 .. conv5_4 in order)",
                                     path, i, it->valuestring, want);
        snprintf(field, sizeof field, "%s.shape", want);
        if ((s = member(l, "shape", field, cJSON_IsArray, "an array", path, &it, err)))
            return s;
        uint64_t dims[4];
        if (cJSON_GetArraySize(it) != 4)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s: %s shape must have 4 dimensions (out, in, 3, 3)", path,
                                     want);
        for (int d = 0; d < 4; d++)
            if ((s = json_uint(cJSON_GetArrayItem(it, d), 1e9, field, path, &dims[d], err)))
                return s;
        if (dims[2] != 3 || dims[3] != 3)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s: %s kernel is %llux%llu, must be 3x3", path, want,
                                     (unsigned long long)dims[2], (unsigned long long)dims[3]);
        if (dims[0] < 1 || dims[0] > MAX_CHANNELS)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s: %s has %llu output channels, must be 1..%d", path, want,
                                     (unsigned long long)dims[0], MAX_CHANNELS);
        if (dims[1] != (uint64_t)prev)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s: %s has %llu input channels, expected %d (%s)", path, want,
                                     (unsigned long long)dims[1], prev,
                                     i == 0 ? "RGB input" : "previous layer's outputs");
        m->out_ch[i] = (int)dims[0];
        m->in_ch[i] = prev;
        prev = (int)dims[0];

        snprintf(field, sizeof field, "%s.weight_offset", want);
        if ((s = member(l, "weight_offset", field, cJSON_IsNumber, "a number", path, &it, err)) ||
            (s = json_uint(it, JSON_INT_MAX, field, path, &m->weight_off[i], err)))
            return s;
        snprintf(field, sizeof field, "%s.bias_offset", want);
        if ((s = member(l, "bias_offset", field, cJSON_IsNumber, "a number", path, &it, err)) ||
            (s = json_uint(it, JSON_INT_MAX, field, path, &m->bias_off[i], err)))
            return s;
    }
    return STYLIZE_OK;
}

/* Offsets aligned, inside the blob, and no two ranges overlapping. */
static stylize_status check_ranges(const manifest *m, const char *path, stylize_error *err)
{
    uint64_t lo[2 * STYLIZE_VGG19_NCONV], hi[2 * STYLIZE_VGG19_NCONV];
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        uint64_t wbytes = (uint64_t)m->out_ch[i] * (uint64_t)m->in_ch[i] * 9u * 4u;
        uint64_t bbytes = (uint64_t)m->out_ch[i] * 4u;
        const char *name = stylize_vgg19_conv_name(i);
        for (int k = 0; k < 2; k++) {
            uint64_t off = k ? m->bias_off[i] : m->weight_off[i];
            uint64_t len = k ? bbytes : wbytes;
            const char *what = k ? "bias" : "weight";
            if (off % 4 != 0)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "%s: %s %s_offset %llu is not a multiple of 4", path, name,
                                         what, (unsigned long long)off);
            /* off <= 2^53 and len < 2^40: no overflow */
            if (off + len > m->blob_bytes)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "%s: %s %s (bytes %llu..%llu) is outside the blob "
                                         "(blob_bytes %llu)",
                                         path, name, what, (unsigned long long)off,
                                         (unsigned long long)(off + len),
                                         (unsigned long long)m->blob_bytes);
            lo[2 * i + k] = off;
            hi[2 * i + k] = off + len;
        }
    }
    for (int a = 0; a < 2 * STYLIZE_VGG19_NCONV; a++)
        for (int b = a + 1; b < 2 * STYLIZE_VGG19_NCONV; b++)
            if (lo[a] < hi[b] && lo[b] < hi[a])
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "%s: %s %s overlaps %s %s in the blob", path,
                                         stylize_vgg19_conv_name(a / 2), a % 2 ? "bias" : "weight",
                                         stylize_vgg19_conv_name(b / 2), b % 2 ? "bias" : "weight");
    return STYLIZE_OK;
}

static stylize_status parse_manifest(const char *text, size_t len, const char *path, manifest *m,
                                     stylize_error *err)
{
    const char *end = NULL;
    const cJSON *it;
    stylize_status s;
    if (memchr(text, '\0', len))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: not valid JSON (contains a NUL byte at byte %zu)", path,
                                 (size_t)((const char *)memchr(text, '\0', len) - text));
    /* text[len] is the '\0' that stylize_file_read appends: parsing len + 1
     * bytes with require_null_terminated rejects trailing garbage. */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!root) {
        size_t pos = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < pos; i++) {
            if (text[i] == '\n')
                line++, col = 1;
            else
                col++;
        }
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: not valid JSON (error at line %zu, column %zu, byte %zu)",
                                 path, line, col, pos);
    }
    memset(m, 0, sizeof *m);
    if (!cJSON_IsObject(root)) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: manifest is not a JSON object", path);
        goto done;
    }
    if ((s = member(root, "format", "format", cJSON_IsString, "a string", path, &it, err)))
        goto done;
    if (strcmp(it->valuestring, FORMAT_NAME) != 0) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s: format is \"%.64s\", expected \"%s\"",
                              path, it->valuestring, FORMAT_NAME);
        goto done;
    }
    if ((s = member(root, "version", "version", cJSON_IsNumber, "a number", path, &it, err)))
        goto done;
    if (it->valuedouble != STYLIZE_FORMAT_VERSION) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                              "%s: unsupported format version %g (this build reads version %d)",
                              path, it->valuedouble, STYLIZE_FORMAT_VERSION);
        goto done;
    }
    if ((s = member(root, "arch", "arch", cJSON_IsString, "a string", path, &it, err)))
        goto done;
    if (strcmp(it->valuestring, "vgg19") != 0) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                              "%s: arch is \"%.64s\", only \"vgg19\" is supported", path,
                              it->valuestring);
        goto done;
    }
    it = cJSON_GetObjectItemCaseSensitive(root, "source");
    if (it) {
        if (!cJSON_IsString(it)) {
            s = bad(err, path, "source", "is not a string");
            goto done;
        }
        if (strlen(it->valuestring) >= sizeof m->source) {
            s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                  "%s: field \"source\" is longer than %zu bytes", path,
                                  sizeof m->source - 1);
            goto done;
        }
        memcpy(m->source, it->valuestring, strlen(it->valuestring) + 1);
    }
    if ((s = member(root, "blob", "blob", cJSON_IsString, "a string", path, &it, err)))
        goto done;
    if (strlen(it->valuestring) > BLOB_NAME_MAX || !plain_file_name(it->valuestring)) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                              "%s: blob \"%.64s\" must be a plain file name (no directories, at "
                              "most %d bytes) next to the manifest",
                              path, it->valuestring, BLOB_NAME_MAX);
        goto done;
    }
    memcpy(m->blob, it->valuestring, strlen(it->valuestring) + 1);
    if ((s = member(root, "blob_bytes", "blob_bytes", cJSON_IsNumber, "a number", path, &it, err)) ||
        (s = json_uint(it, JSON_INT_MAX, "blob_bytes", path, &m->blob_bytes, err)))
        goto done;
    if ((s = member(root, "input", "input", cJSON_IsObject, "an object", path, &it, err)) ||
        (s = parse_input(it, path, &m->input, err)))
        goto done;
    if ((s = member(root, "layers", "layers", cJSON_IsArray, "an array", path, &it, err)) ||
        (s = parse_layers(it, path, m, err)))
        goto done;
    s = check_ranges(m, path, err);
done:
    cJSON_Delete(root);
    return s;
}

/* *out (malloc'ed, caller frees) = directory of manifest_path + name. */
static char *sibling_path(const char *manifest_path, const char *name)
{
    const char *slash = strrchr(manifest_path, '/');
    size_t dirlen = slash ? (size_t)(slash - manifest_path) + 1 : 0;
    size_t nlen = strlen(name);
    char *p = malloc(dirlen + nlen + 1);
    if (!p)
        return NULL;
    memcpy(p, manifest_path, dirlen);
    memcpy(p + dirlen, name, nlen + 1);
    return p;
}

/* Reads n floats at byte offset off of the blob into x (n floats), decodes
 * them and checks they are finite. */
static stylize_status read_floats(int fd, const char *blob_path, const char *manifest_path,
                                  const char *layer, const char *what, float *x, size_t n,
                                  uint64_t off, stylize_error *err)
{
    stylize_status s = stylize_file_pread(fd, blob_path, x, n * sizeof(float), off, err);
    if (s != STYLIZE_OK)
        return s;
    decode_le_inplace(x, n);
    size_t bad_i = first_nonfinite(x, n);
    if (bad_i < n)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: layer %s %s has a non-finite value (%g) at index %zu in %s",
                                 manifest_path, layer, what, (double)x[bad_i], bad_i, blob_path);
    return STYLIZE_OK;
}

stylize_status stylize_weights_load(stylize_weights **out, const char *manifest_path,
                                    stylize_error *err)
{
    unsigned char *text = NULL;
    size_t len = 0;
    manifest m;
    char *blob_path = NULL;
    int fd = -1;
    stylize_weights *w = NULL;
    stylize_status s;

    *out = NULL;
    if (!manifest_path || !*manifest_path)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "empty weights manifest path");
    s = stylize_file_read(manifest_path, MANIFEST_MAX_BYTES, &text, &len, err);
    if (s == STYLIZE_ERR_LIMIT)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s: manifest is larger than 1 MiB (not a stylize-weights manifest?)",
                                 manifest_path);
    if (s != STYLIZE_OK)
        return s;
    s = parse_manifest((const char *)text, len, manifest_path, &m, err);
    free(text);
    if (s != STYLIZE_OK)
        return s;

    blob_path = sibling_path(manifest_path, m.blob);
    if (!blob_path)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory");
    uint64_t size = 0;
    s = stylize_file_open_read(blob_path, &fd, &size, err);
    if (s != STYLIZE_OK) {
        stylize_error_prefix(err, "%s: blob", manifest_path);
        goto done;
    }
    if (size != m.blob_bytes) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                              "%s: blob %s is %llu bytes, the manifest says blob_bytes %llu%s",
                              manifest_path, blob_path, (unsigned long long)size,
                              (unsigned long long)m.blob_bytes,
                              size < m.blob_bytes ? " (truncated)" : "");
        goto done;
    }

    s = stylize_weights_alloc(&w, m.out_ch, err);
    if (s != STYLIZE_OK)
        goto done;
    memcpy(w->source, m.source, sizeof w->source);
    w->input = m.input;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        stylize_conv_layer *l = &w->layers[i];
        size_t nw = (size_t)l->out_ch * (size_t)l->in_ch * 9, nb = (size_t)l->out_ch;
        s = read_floats(fd, blob_path, manifest_path, l->name, "weight", l->weight, nw,
                        m.weight_off[i], err);
        if (s == STYLIZE_OK)
            s = read_floats(fd, blob_path, manifest_path, l->name, "bias", l->bias, nb,
                            m.bias_off[i], err);
        if (s != STYLIZE_OK)
            goto done;
    }
    *out = w;
    w = NULL;
done:
    if (fd >= 0)
        close(fd);
    free(blob_path);
    stylize_weights_free(w);
    return s;
}

/* ---- saving ------------------------------------------------------------- */

static stylize_status check_saveable(const stylize_weights *w, stylize_error *err)
{
    const stylize_input_convention *c = &w->input;
    if (strcmp(w->arch, "vgg19") != 0 || w->n_layers != STYLIZE_VGG19_NCONV)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "cannot save weights: not a VGG-19 network");
    if (c->order != STYLIZE_RGB && c->order != STYLIZE_BGR)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "cannot save weights: bad channel order");
    if (!isfinite(c->pixel_scale) || !(c->pixel_scale > 0))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "cannot save weights: pixel_scale must be finite and > 0");
    for (int k = 0; k < 3; k++)
        if (!isfinite(c->mean[k]) || !isfinite(c->std[k]) || !(c->std[k] > 0))
            return stylize_error_set(err, STYLIZE_ERR_ARG,
                                     "cannot save weights: input mean must be finite and std > 0");
    if (memchr(w->source, '\0', sizeof w->source) == NULL)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "cannot save weights: source not terminated");
    int prev = 3;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        const char *want = stylize_vgg19_conv_name(i);
        if (strncmp(l->name, want, sizeof l->name) != 0 || l->in_ch != prev || l->out_ch < 1 ||
            l->out_ch > MAX_CHANNELS || !l->weight || !l->bias)
            return stylize_error_set(err, STYLIZE_ERR_ARG,
                                     "cannot save weights: layer %d is not a valid %s", i, want);
        size_t nw = (size_t)l->out_ch * (size_t)l->in_ch * 9, nb = (size_t)l->out_ch;
        if (first_nonfinite(l->weight, nw) < nw || first_nonfinite(l->bias, nb) < nb)
            return stylize_error_set(err, STYLIZE_ERR_ARG,
                                     "cannot save weights: layer %s has a non-finite value", want);
        prev = l->out_ch;
    }
    return STYLIZE_OK;
}

/* Appends n floats of x, little-endian, through buf (cap floats' worth). */
static stylize_status write_floats(stylize_atomic_file *f, const float *x, size_t n,
                                   unsigned char *buf, size_t cap, stylize_error *err)
{
    while (n > 0) {
        size_t k = n < cap ? n : cap;
        encode_le(buf, x, k);
        stylize_status s = stylize_atomic_write(f, buf, 4 * k, err);
        if (s != STYLIZE_OK)
            return s;
        x += k;
        n -= k;
    }
    return STYLIZE_OK;
}

/* The blob path for a manifest path: ".json" replaced by ".bin", or ".bin"
 * appended. Caller frees. */
static char *blob_path_for(const char *manifest_path)
{
    size_t n = strlen(manifest_path);
    size_t stem = n >= 5 && strcmp(manifest_path + n - 5, ".json") == 0 ? n - 5 : n;
    char *p = malloc(stem + 5);
    if (!p)
        return NULL;
    memcpy(p, manifest_path, stem);
    memcpy(p + stem, ".bin", 5);
    return p;
}

/* The double nearest to the shortest decimal that reads back as f (as a
 * float), so that manifests show 0.485 rather than 0.48500001430511475 and
 * the loader's (float) conversion returns f exactly. */
static double float_for_json(float f)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f)
            return strtod(buf, NULL);
    }
    return (double)f;
}

/* Adds item to obj under key (array if key is NULL); item is deleted if it
 * cannot be added. Returns 1 on success. */
static int add_item(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return 0;
    if (key ? cJSON_AddItemToObject(obj, key, item) : cJSON_AddItemToArray(obj, item))
        return 1;
    cJSON_Delete(item);
    return 0;
}

static cJSON *build_manifest(const stylize_weights *w, const char *blob_name, uint64_t blob_bytes,
                             const uint64_t *woff, const uint64_t *boff)
{
    const stylize_input_convention *c = &w->input;
    cJSON *root = cJSON_CreateObject(), *input = NULL, *layers = NULL;
    int ok = root != NULL;
    ok = ok && cJSON_AddStringToObject(root, "format", FORMAT_NAME);
    ok = ok && cJSON_AddNumberToObject(root, "version", STYLIZE_FORMAT_VERSION);
    ok = ok && cJSON_AddStringToObject(root, "arch", "vgg19");
    ok = ok && cJSON_AddStringToObject(root, "source", w->source);
    ok = ok && cJSON_AddStringToObject(root, "blob", blob_name);
    ok = ok && cJSON_AddNumberToObject(root, "blob_bytes", (double)blob_bytes);
    ok = ok && (input = cJSON_AddObjectToObject(root, "input")) != NULL;
    ok = ok && cJSON_AddStringToObject(input, "channel_order", c->order == STYLIZE_BGR ? "BGR" : "RGB");
    ok = ok && cJSON_AddNumberToObject(input, "pixel_scale", float_for_json(c->pixel_scale));
    double mean[3], sd[3];
    for (int k = 0; k < 3; k++) {
        mean[k] = float_for_json(c->mean[k]);
        sd[k] = float_for_json(c->std[k]);
    }
    ok = ok && add_item(input, "mean", cJSON_CreateDoubleArray(mean, 3));
    ok = ok && add_item(input, "std", cJSON_CreateDoubleArray(sd, 3));
    ok = ok && (layers = cJSON_AddArrayToObject(root, "layers")) != NULL;
    for (int i = 0; ok && i < STYLIZE_VGG19_NCONV; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        cJSON *o = cJSON_CreateObject();
        int shape[4] = {l->out_ch, l->in_ch, 3, 3};
        ok = add_item(layers, NULL, o);
        ok = ok && cJSON_AddStringToObject(o, "name", l->name);
        ok = ok && add_item(o, "shape", cJSON_CreateIntArray(shape, 4));
        ok = ok && cJSON_AddNumberToObject(o, "weight_offset", (double)woff[i]);
        ok = ok && cJSON_AddNumberToObject(o, "bias_offset", (double)boff[i]);
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

stylize_status stylize_weights_save(const stylize_weights *w, const char *manifest_path,
                                    stylize_error *err)
{
    uint64_t woff[STYLIZE_VGG19_NCONV], boff[STYLIZE_VGG19_NCONV], off = 0;
    unsigned char *buf = NULL; /* encoding buffer: CHUNK floats */
    enum { CHUNK = 16384 };
    char *blob_path = NULL, *text = NULL;
    cJSON *root = NULL;
    stylize_atomic_file f = {-1, NULL, NULL};
    stylize_status s;

    if (!w || !manifest_path || !*manifest_path)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "cannot save weights: no weights or path");
    if ((s = check_saveable(w, err)))
        return s;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        woff[i] = off;
        off += (uint64_t)l->out_ch * (uint64_t)l->in_ch * 9u * 4u;
        boff[i] = off;
        off += (uint64_t)l->out_ch * 4u;
    }
    blob_path = blob_path_for(manifest_path);
    buf = malloc((size_t)CHUNK * 4);
    if (!blob_path || !buf) {
        s = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory saving %s", manifest_path);
        goto done;
    }
    const char *slash = strrchr(blob_path, '/');
    const char *blob_name = slash ? slash + 1 : blob_path;
    if (strlen(blob_name) > BLOB_NAME_MAX || !plain_file_name(blob_name)) {
        s = stylize_error_set(err, STYLIZE_ERR_ARG, "%s: file name too long", manifest_path);
        goto done;
    }

    /* Blob first, so that a manifest never names a blob that is not there. */
    if ((s = stylize_atomic_open(&f, blob_path, err)))
        goto done;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        size_t nw = (size_t)l->out_ch * (size_t)l->in_ch * 9;
        if ((s = write_floats(&f, l->weight, nw, buf, CHUNK, err)) ||
            (s = write_floats(&f, l->bias, (size_t)l->out_ch, buf, CHUNK, err)))
            goto done;
    }
    if ((s = stylize_atomic_commit(&f, err)))
        goto done;

    root = build_manifest(w, blob_name, off, woff, boff);
    text = root ? cJSON_Print(root) : NULL;
    if (!text) {
        s = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory saving %s", manifest_path);
        goto done;
    }
    size_t tlen = strlen(text);
    if ((s = stylize_atomic_open(&f, manifest_path, err)))
        goto done;
    if ((s = stylize_atomic_write(&f, text, tlen, err)) || (s = stylize_atomic_write(&f, "\n", 1, err)))
        goto done;
    s = stylize_atomic_commit(&f, err);
done:
    stylize_atomic_abort(&f);
    cJSON_free(text);
    cJSON_Delete(root);
    free(buf);
    free(blob_path);
    return s;
}
