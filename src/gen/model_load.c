/* Loading the .tnet model file (stylize/gen/model_file.h): every field is
 * checked before it is used; the blob must be exactly what the header and
 * the rebuilt architecture say. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fileutil.h"
#include "stylize/core/sha256.h"
#include "gen_internal.h"
#include "stylize/gen/model_file.h"

#define PREFIX 16
#define MAX_FILE ((size_t)1 << 34)

typedef struct {
    const char *name; /* for messages */
    stylize_error *err;
    int bad;          /* a field was missing or out of range */
} reader;

static stylize_status bad(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static stylize_status bad(reader *r, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->bad = 1;
    return stylize_error_set(r->err, STYLIZE_ERR_FORMAT, "%s: %s", r->name, msg);
}

/* A number field within [lo, hi] (the first failure is kept). */
static double num(reader *r, const cJSON *o, const char *key, double lo, double hi)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (r->bad)
        return lo;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        bad(r, "header field \"%s\" missing or out of range", key);
        return lo;
    }
    return v->valuedouble;
}

static void str(reader *r, const cJSON *o, const char *key, char *buf, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (r->bad)
        return;
    if (!cJSON_IsString(v)) {
        bad(r, "header field \"%s\" missing or not a string", key);
        return;
    }
    snprintf(buf, cap, "%s", v->valuestring);
}

static const cJSON *obj(reader *r, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!r->bad && !cJSON_IsObject(v))
        bad(r, "header section \"%s\" missing", key);
    return r->bad ? NULL : v;
}

static void read_arch(reader *r, const cJSON *h, stylize_gen_arch *a)
{
    const cJSON *o = obj(r, h, "architecture");
    char name[32] = "", mode[32] = "";
    str(r, o, "name", name, sizeof name);
    str(r, o, "mode", mode, sizeof mode);
    if (r->bad)
        return;
    stylize_arch_kind k;
    if (stylize_arch_parse(name, &k) != 0) {
        bad(r, "unknown architecture \"%s\"", name);
        return;
    }
    if (strcmp(mode, "style") != 0 && strcmp(mode, "texture") != 0) {
        bad(r, "unknown mode \"%s\"", mode);
        return;
    }
    stylize_gen_arch_defaults(a, k, strcmp(mode, "style") == 0 ? STYLIZE_GEN_STYLE : STYLIZE_GEN_TEXTURE);
    a->scales = (int)num(r, o, "scales", 1, STYLIZE_GEN_MAX_SCALES);
    a->channels = (int)num(r, o, "channels", 1, 64);
    a->slope = (float)num(r, o, "slope", 0, 0.999999);
    a->width_mult = num(r, o, "width_mult", 1.0 / 32, 4);
    a->blocks = (int)num(r, o, "blocks", 0, 16);
}

static void read_training(reader *r, const cJSON *h, stylize_tnet_meta *t)
{
    const cJSON *o = obj(r, h, "training");
    t->size = (int)num(r, o, "size", 0, 1 << 16);
    t->batch = (int)num(r, o, "batch", 0, 4096);
    t->iterations = (int)num(r, o, "iterations", 0, 2e9);
    t->learning_rate = num(r, o, "learning_rate", 0, 1e6);
    t->lr_decay = num(r, o, "lr_decay", 0, 1e6);
    t->lr_decay_every = (int)num(r, o, "lr_decay_every", 0, 2e9);
    t->alpha = num(r, o, "alpha", 0, 1e30);
    t->beta = num(r, o, "beta", 0, 1e30);
    t->tv = num(r, o, "tv", 0, 1e30);
    t->style_size = (int)num(r, o, "style_size", 0, 1 << 16);
    str(r, o, "pool", t->pool, sizeof t->pool);
    str(r, o, "content_layers", t->content_layers, sizeof t->content_layers);
    str(r, o, "style_layers", t->style_layers, sizeof t->style_layers);
    str(r, o, "precision", t->precision, sizeof t->precision);
    char seed[32] = "0";
    str(r, o, "seed", seed, sizeof seed);
    t->seed = strtoull(seed, NULL, 10);
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(o, "random_features");
    t->random_features = cJSON_IsTrue(rf);
}

static void read_provenance(reader *r, const cJSON *h, stylize_tnet_meta *t)
{
    const cJSON *o = obj(r, h, "provenance");
    str(r, o, "style", t->style_name, sizeof t->style_name);
    str(r, o, "style_sha256", t->style_sha256, sizeof t->style_sha256);
    str(r, o, "weights", t->weights, sizeof t->weights);
    str(r, o, "weights_sha256", t->weights_sha256, sizeof t->weights_sha256);
    t->steps = (long long)num(r, o, "steps", 0, 9e15);
    t->final_loss = num(r, o, "final_loss", -1e308, 1e308);
    str(r, o, "created_by", t->created_by, sizeof t->created_by);
}

/* The tensor table must be the rebuilt architecture's layout, entry by entry. */
static void check_tensors(reader *r, const cJSON *h, const stylize_gen_model *m)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(h, "tensors");
    if (r->bad)
        return;
    if (!cJSON_IsArray(arr)) {
        bad(r, "header field \"%s\" missing", "tensors");
        return;
    }
    const cJSON *t = arr->child;
    int n = stylize_graph_desc_nodes(m->desc);
    for (int i = 0; i < n && !r->bad; i++)
        for (int which = 0; which < 2 && !r->bad; which++) {
            size_t count;
            long off = stylize_graph_desc_param(m->desc, i, which, &count);
            if (off < 0)
                continue;
            if (!t) {
                bad(r, "tensor table shorter than the %s architecture's", stylize_arch_name(m->arch.kind));
                return;
            }
            if ((int)num(r, t, "node", 0, n) != i || (long)num(r, t, "offset", 0, 1e15) != off ||
                (size_t)num(r, t, "count", 0, 1e15) != count) {
                bad(r, "tensor table entry of node %d differs from the architecture's", i);
            }
            t = t->next;
        }
    if (!r->bad && t)
        bad(r, "tensor table longer than the %s architecture's", stylize_arch_name(m->arch.kind));
}

static void read_checkpoint(reader *r, const cJSON *h, stylize_tnet_meta *t)
{
    char kind[32] = "";
    str(r, h, "kind", kind, sizeof kind);
    if (r->bad)
        return;
    if (strcmp(kind, "model") != 0 && strcmp(kind, "checkpoint") != 0) {
        bad(r, "unknown kind \"%s\"", kind);
        return;
    }
    t->checkpoint = strcmp(kind, "checkpoint") == 0;
    if (!t->checkpoint)
        return;
    const cJSON *o = obj(r, h, "checkpoint");
    t->adam_steps = (long long)num(r, o, "adam_steps", 0, 9e15);
    t->lr_now = num(r, o, "lr_now", 0, 1e6);
    t->skipped = (long long)num(r, o, "skipped", 0, 9e15);
    t->data_position = (long long)num(r, o, "data_position", 0, 9e15);
}

/* The header's promises against the file, before anything is allocated:
 * the blob's size is the architecture's parameter count (x 3 for a
 * checkpoint) and exactly what follows the header. */
static stylize_status check_sizes(reader *r, const cJSON *h, size_t len, size_t hlen, size_t n,
                                  const stylize_tnet_meta *t)
{
    size_t floats = n * (t->checkpoint ? 3 : 1);
    if ((size_t)num(r, h, "blob_floats", 0, 1e15) != floats && !r->bad)
        return bad(r, "blob size differs from the architecture's");
    if (r->bad)
        return STYLIZE_ERR_FORMAT;
    if (len - PREFIX - hlen != floats * sizeof(float))
        return bad(r, "%s (file size differs from its header's)",
                   len - PREFIX - hlen < floats * sizeof(float) ? "truncated" : "trailing bytes");
    return STYLIZE_OK;
}

/* Checksum and finiteness of the blob's bytes (floats of them, read in
 * place: the blob need not be aligned). */
static stylize_status check_blob(reader *r, const cJSON *h, const unsigned char *blob, size_t floats)
{
    char want[65] = "", got[65];
    str(r, h, "blob_sha256", want, sizeof want);
    if (r->bad)
        return STYLIZE_ERR_FORMAT;
    stylize_sha256 s;
    unsigned char d[32];
    stylize_sha256_init(&s);
    stylize_sha256_update(&s, blob, floats * sizeof(float));
    stylize_sha256_final(&s, d);
    stylize_sha256_hex(d, got);
    if (strcmp(want, got) != 0)
        return bad(r, "checksum mismatch (the tensors are corrupt)");
    for (size_t i = 0; i < floats; i++) {
        float v;
        memcpy(&v, blob + i * sizeof v, sizeof v);
        if (!isfinite(v))
            return bad(r, "non-finite value in the tensors");
    }
    return STYLIZE_OK;
}

/* The checked blob into the parameters (and a checkpoint's moments). */
static stylize_status read_blob(reader *r, const unsigned char *blob, stylize_gen_model *m, stylize_tnet_meta *t)
{
    size_t bytes = m->params.n * sizeof(float);
    memcpy(m->params.value, blob, bytes);
    if (!t->checkpoint)
        return STYLIZE_OK;
    t->adam_m = malloc(bytes ? bytes : 1);
    t->adam_v = malloc(bytes ? bytes : 1);
    if (!t->adam_m || !t->adam_v)
        return stylize_error_set(r->err, STYLIZE_ERR_NOMEM, "%s: out of memory", r->name);
    memcpy(t->adam_m, blob + bytes, bytes);
    memcpy(t->adam_v, blob + 2 * bytes, bytes);
    return STYLIZE_OK;
}

/* The fixed prefix: magic, version, header length. */
static stylize_status read_prefix(reader *r, const unsigned char *bytes, size_t len, uint32_t *hlen)
{
    uint32_t version;
    if (len < PREFIX || memcmp(bytes, "STYLTNET", 8) != 0)
        return bad(r, "not a stylize model file%s (no STYLTNET magic)", len < PREFIX && len >= 8 ? " (truncated)" : "");
    memcpy(&version, bytes + 8, 4);
    memcpy(hlen, bytes + 12, 4);
    if (version == 0 || version > STYLIZE_TNET_VERSION) {
        return bad(r, "model file version %u; this stylize reads version %d", version, STYLIZE_TNET_VERSION);
    }
    if (*hlen == 0 || *hlen > STYLIZE_TNET_MAX_HEADER || *hlen > len - PREFIX)
        return bad(r, "%s header length", *hlen > len - PREFIX ? "truncated (or bad)" : "bad");
    return STYLIZE_OK;
}

static stylize_status load_parsed(reader *r, const cJSON *h, const unsigned char *bytes, size_t len,
                                  size_t hlen, stylize_gen_model *m, stylize_tnet_meta *t)
{
    char format[32] = "";
    str(r, h, "format", format, sizeof format);
    if (!r->bad && strcmp(format, "stylize-tnet") != 0)
        return bad(r, "header format \"%s\" is not stylize-tnet", format);
    if ((int)num(r, h, "version", 1, STYLIZE_TNET_VERSION) < 1 || r->bad)
        return STYLIZE_ERR_FORMAT;
    stylize_gen_arch a;
    read_arch(r, h, &a);
    read_training(r, h, t);
    read_provenance(r, h, t);
    read_checkpoint(r, h, t);
    if (r->bad)
        return STYLIZE_ERR_FORMAT;
    stylize_error e2;
    m->arch = a;
    if (gen_build(&a, &m->desc, &m->output, &m->n_noise, &e2) != STYLIZE_OK)
        return bad(r, "bad architecture: %.200s", e2.msg);
    size_t n = stylize_graph_desc_param_floats(m->desc);
    stylize_status st = check_sizes(r, h, len, hlen, n, t);
    if (st == STYLIZE_OK)
        check_tensors(r, h, m);
    if (st == STYLIZE_OK && r->bad)
        st = STYLIZE_ERR_FORMAT;
    const unsigned char *blob = bytes + PREFIX + hlen;
    if (st == STYLIZE_OK)
        st = check_blob(r, h, blob, n * (t->checkpoint ? 3 : 1));
    if (st == STYLIZE_OK)
        st = stylize_params_create(&m->params, m->desc, NULL, r->err);
    if (st == STYLIZE_OK)
        st = read_blob(r, blob, m, t);
    return st;
}

stylize_status stylize_tnet_load_memory(const unsigned char *bytes, size_t len, const char *name,
                                        stylize_gen_model *m, stylize_tnet_meta *meta,
                                        stylize_error *err)
{
    reader r = {name, err, 0};
    memset(m, 0, sizeof *m);
    stylize_tnet_meta_init(meta);
    uint32_t hlen = 0;
    stylize_status st = read_prefix(&r, bytes, len, &hlen);
    if (st != STYLIZE_OK)
        return st;
    cJSON *h = cJSON_ParseWithLength((const char *)bytes + PREFIX, hlen);
    if (!h)
        return bad(&r, "header is not valid JSON");
    st = load_parsed(&r, h, bytes, len, hlen, m, meta);
    cJSON_Delete(h);
    if (st != STYLIZE_OK) {
        stylize_gen_model_free(m);
        stylize_tnet_meta_free(meta);
    }
    return st;
}

stylize_status stylize_tnet_load(const char *path, stylize_gen_model *m, stylize_tnet_meta *meta,
                                 stylize_error *err)
{
    unsigned char *data;
    size_t len;
    memset(m, 0, sizeof *m);
    stylize_tnet_meta_init(meta);
    stylize_status st = stylize_file_read(path, MAX_FILE, &data, &len, err);
    if (st != STYLIZE_OK)
        return st;
    st = stylize_tnet_load_memory(data, len, path, m, meta, err);
    free(data);
    return st;
}
