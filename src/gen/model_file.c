/* The .tnet model file (stylize/gen/model_file.h): the header as JSON
 * through cJSON, the blob as raw little-endian float32. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fileutil.h"
#include "stylize/core/sha256.h"
#include "stylize/gen/model_file.h"
#include "tnet_json.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model files are read and written as little-endian float32"
#endif

static const char MAGIC[8] = {'S', 'T', 'Y', 'L', 'T', 'N', 'E', 'T'};

void stylize_tnet_meta_init(stylize_tnet_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    strcpy(meta->precision, "fp32");
    strcpy(meta->pool, "avg");
}

void stylize_tnet_meta_free(stylize_tnet_meta *meta)
{
    free(meta->adam_m);
    free(meta->adam_v);
    meta->adam_m = meta->adam_v = NULL;
}

/* ---- writing ---------------------------------------------------------------- */

cJSON *tnet_arch_json(const stylize_gen_arch *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", stylize_arch_name(a->kind));
    cJSON_AddStringToObject(o, "mode", a->mode == STYLIZE_GEN_STYLE ? "style" : "texture");
    cJSON_AddNumberToObject(o, "scales", a->scales);
    cJSON_AddNumberToObject(o, "channels", a->channels);
    cJSON_AddNumberToObject(o, "slope", a->slope);
    cJSON_AddNumberToObject(o, "width_mult", a->width_mult);
    cJSON_AddNumberToObject(o, "blocks", a->blocks);
    cJSON_AddNumberToObject(o, "multiple", stylize_gen_multiple(a));
    return o;
}

cJSON *tnet_training_json(const stylize_tnet_meta *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "size", t->size);
    cJSON_AddNumberToObject(o, "batch", t->batch);
    cJSON_AddNumberToObject(o, "iterations", t->iterations);
    cJSON_AddNumberToObject(o, "learning_rate", t->learning_rate);
    cJSON_AddNumberToObject(o, "lr_decay", t->lr_decay);
    cJSON_AddNumberToObject(o, "lr_decay_every", t->lr_decay_every);
    cJSON_AddNumberToObject(o, "alpha", t->alpha);
    cJSON_AddNumberToObject(o, "beta", t->beta);
    cJSON_AddNumberToObject(o, "tv", t->tv);
    cJSON_AddNumberToObject(o, "style_size", t->style_size);
    cJSON_AddStringToObject(o, "pool", t->pool);
    cJSON_AddStringToObject(o, "content_layers", t->content_layers);
    cJSON_AddStringToObject(o, "style_layers", t->style_layers);
    cJSON_AddBoolToObject(o, "random_features", t->random_features);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", t->seed);
    cJSON_AddStringToObject(o, "seed", seed);
    cJSON_AddStringToObject(o, "precision", t->precision);
    return o;
}

cJSON *tnet_provenance_json(const stylize_tnet_meta *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "style", t->style_name);
    cJSON_AddStringToObject(o, "style_sha256", t->style_sha256);
    cJSON_AddStringToObject(o, "weights", t->weights);
    cJSON_AddStringToObject(o, "weights_sha256", t->weights_sha256);
    cJSON_AddNumberToObject(o, "steps", (double)t->steps);
    cJSON_AddNumberToObject(o, "final_loss", t->final_loss);
    cJSON_AddStringToObject(o, "created_by", t->created_by);
    return o;
}

/* One entry per trainable tensor, in blob order. */
static cJSON *tensors_json(const stylize_gen_model *m)
{
    cJSON *arr = cJSON_CreateArray();
    int n = stylize_graph_desc_nodes(m->desc);
    for (int i = 0; i < n; i++) {
        stylize_gd_node_info ni;
        stylize_graph_desc_node(m->desc, i, &ni);
        for (int which = 0; which < 2; which++) {
            size_t count;
            long off = stylize_graph_desc_param(m->desc, i, which, &count);
            if (off < 0)
                continue;
            cJSON *t = cJSON_CreateObject();
            cJSON_AddNumberToObject(t, "node", i);
            cJSON_AddStringToObject(t, "op", stylize_op_name(ni.op));
            cJSON_AddStringToObject(t, "which", ni.op == STYLIZE_OP_CONV ? (which ? "bias" : "weight")
                                                                         : (which ? "shift" : "scale"));
            int cin = ni.n_in > 0 ? stylize_graph_desc_channels(m->desc, ni.in[0]) : 0;
            int shape4[4] = {ni.channels, cin, ni.k, ni.k};
            int shape1[1] = {ni.channels};
            int conv_w = ni.op == STYLIZE_OP_CONV && which == 0;
            cJSON_AddItemToObject(t, "shape", cJSON_CreateIntArray(conv_w ? shape4 : shape1, conv_w ? 4 : 1));
            cJSON_AddNumberToObject(t, "offset", (double)off);
            cJSON_AddNumberToObject(t, "count", (double)count);
            cJSON_AddItemToArray(arr, t);
        }
    }
    return arr;
}

static void blob_sha(const stylize_gen_model *m, const stylize_tnet_meta *t, char hex[65])
{
    stylize_sha256 s;
    unsigned char d[32];
    size_t n = m->params.n * sizeof(float);
    stylize_sha256_init(&s);
    stylize_sha256_update(&s, m->params.value, n);
    if (t->checkpoint) {
        stylize_sha256_update(&s, t->adam_m, n);
        stylize_sha256_update(&s, t->adam_v, n);
    }
    stylize_sha256_final(&s, d);
    stylize_sha256_hex(d, hex);
}

static char *header_text(const stylize_gen_model *m, const stylize_tnet_meta *t)
{
    cJSON *o = cJSON_CreateObject();
    char hex[65];
    blob_sha(m, t, hex);
    cJSON_AddStringToObject(o, "format", "stylize-tnet");
    cJSON_AddNumberToObject(o, "version", STYLIZE_TNET_VERSION);
    cJSON_AddStringToObject(o, "kind", t->checkpoint ? "checkpoint" : "model");
    cJSON_AddItemToObject(o, "architecture", tnet_arch_json(&m->arch));
    cJSON_AddStringToObject(o, "input", m->arch.mode == STYLIZE_GEN_STYLE
                                            ? "content RGB in [0,1] (N,3,H,W) and uniform noise"
                                            : "uniform noise");
    cJSON_AddStringToObject(o, "output", "RGB on the [0,1] scale (N,3,H,W), clamped when saved");
    cJSON_AddItemToObject(o, "training", tnet_training_json(t));
    cJSON_AddItemToObject(o, "provenance", tnet_provenance_json(t));
    cJSON_AddItemToObject(o, "tensors", tensors_json(m));
    size_t floats = m->params.n * (t->checkpoint ? 3 : 1);
    cJSON_AddNumberToObject(o, "blob_floats", (double)floats);
    cJSON_AddStringToObject(o, "blob_sha256", hex);
    if (t->checkpoint) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "adam_steps", (double)t->adam_steps);
        cJSON_AddNumberToObject(c, "lr_now", t->lr_now);
        cJSON_AddNumberToObject(c, "skipped", (double)t->skipped);
        cJSON_AddNumberToObject(c, "data_position", (double)t->data_position);
        cJSON_AddNumberToObject(c, "adam_m_offset", (double)m->params.n);
        cJSON_AddNumberToObject(c, "adam_v_offset", (double)(2 * m->params.n));
        cJSON_AddItemToObject(o, "checkpoint", c);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

stylize_status stylize_tnet_save(const char *path, const stylize_gen_model *m,
                                 const stylize_tnet_meta *meta, stylize_error *err)
{
    if (meta->checkpoint && (!meta->adam_m || !meta->adam_v))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "%s: a checkpoint needs Adam's moments", path);
    char *h = header_text(m, meta);
    if (!h)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "%s: out of memory for the header", path);
    uint32_t pre[2] = {STYLIZE_TNET_VERSION, (uint32_t)strlen(h)};
    size_t bytes = m->params.n * sizeof(float);
    stylize_atomic_file f;
    stylize_status st = stylize_atomic_open(&f, path, err);
    if (st == STYLIZE_OK)
        st = stylize_atomic_write(&f, MAGIC, sizeof MAGIC, err);
    if (st == STYLIZE_OK)
        st = stylize_atomic_write(&f, pre, sizeof pre, err);
    if (st == STYLIZE_OK)
        st = stylize_atomic_write(&f, h, pre[1], err);
    if (st == STYLIZE_OK)
        st = stylize_atomic_write(&f, m->params.value, bytes, err);
    if (st == STYLIZE_OK && meta->checkpoint)
        st = stylize_atomic_write(&f, meta->adam_m, bytes, err);
    if (st == STYLIZE_OK && meta->checkpoint)
        st = stylize_atomic_write(&f, meta->adam_v, bytes, err);
    if (st == STYLIZE_OK)
        st = stylize_atomic_commit(&f, err);
    else
        stylize_atomic_abort(&f);
    cJSON_free(h);
    return st;
}
