/* The layer graph's description (node builders) and its parameter blobs. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph_internal.h"
#include "stylize/core/rng.h"

const char *stylize_op_name(stylize_op op)
{
    static const char *const names[] = {"input", "conv", "inorm", "relu", "lrelu", "maxpool",
                                        "avgpool", "upsample", "concat", "add", "affine"};
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

stylize_status stylize_graph_desc_create(stylize_graph_desc **out, stylize_error *err)
{
    stylize_graph_desc *d = calloc(1, sizeof *d);
    *out = NULL;
    if (d)
        d->nodes = calloc(STYLIZE_GRAPH_MAX_NODES, sizeof *d->nodes);
    if (!d || !d->nodes) {
        free(d);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a graph description");
    }
    *out = d;
    return STYLIZE_OK;
}

void stylize_graph_desc_free(stylize_graph_desc *d)
{
    if (!d)
        return;
    free(d->nodes);
    free(d);
}

/* Records the first error (printf-style message); returns -1. */
static int fail(stylize_graph_desc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(stylize_graph_desc *d, const char *fmt, ...)
{
    if (d->st == STYLIZE_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err.msg, sizeof d->err.msg, fmt, ap);
        va_end(ap);
        d->st = d->err.code = STYLIZE_ERR_ARG;
    }
    return -1;
}

/* A new node of op with inputs in[0..n_in) and c output channels, or -1. */
static gd_node *add_node(stylize_graph_desc *d, stylize_op op, const int *in, int n_in, int c,
                         int *index)
{
    *index = -1;
    if (d->st != STYLIZE_OK)
        return NULL;
    if (d->n >= STYLIZE_GRAPH_MAX_NODES) {
        fail(d, "graph: more than %d nodes", STYLIZE_GRAPH_MAX_NODES);
        return NULL;
    }
    for (int k = 0; k < n_in; k++)
        if (in[k] < 0 || in[k] >= d->n) {
            fail(d, "graph: %s node %d: input %d does not exist", stylize_op_name(op), d->n, in[k]);
            return NULL;
        }
    if (c < 1 || c > 65536) {
        fail(d, "graph: %s node %d: %d channels", stylize_op_name(op), d->n, c);
        return NULL;
    }
    gd_node *nd = &d->nodes[d->n];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    if (n_in > 0)
        memcpy(nd->in, in, (size_t)n_in * sizeof *in);
    nd->n_in = n_in;
    nd->c = c;
    nd->p0 = nd->p1 = -1;
    nd->input_index = -1;
    *index = d->n++;
    return nd;
}

/* Reserves count floats of the blob for parameter `which` of nd. */
static void add_param(stylize_graph_desc *d, gd_node *nd, int which, size_t count)
{
    if (which == 0)
        nd->p0 = (long)d->n_params, nd->n0 = count;
    else
        nd->p1 = (long)d->n_params, nd->n1 = count;
    d->n_params += count;
}

static int in_channels(const stylize_graph_desc *d, int in)
{
    return in >= 0 && in < d->n ? d->nodes[in].c : 1;
}

int stylize_gd_input(stylize_graph_desc *d, int channels)
{
    int i;
    gd_node *nd = add_node(d, STYLIZE_OP_INPUT, NULL, 0, channels, &i);
    if (nd)
        nd->input_index = d->n_inputs++;
    return i;
}

/* The shared part of both convolution builders. */
static gd_node *conv_node(stylize_graph_desc *d, int in, int cout, int k, int stride,
                          stylize_pad_mode pad, int *index)
{
    if (k < 1 || k > 15 || k % 2 == 0 || (stride != 1 && stride != 2)) {
        *index = fail(d, "graph: conv node %d: kernel %d must be odd in 1..15, stride %d 1 or 2",
                      d->n, k, stride);
        return NULL;
    }
    if ((unsigned)pad > (unsigned)STYLIZE_PAD_CIRCULAR) {
        *index = fail(d, "graph: conv node %d: unknown padding mode %d", d->n, (int)pad);
        return NULL;
    }
    gd_node *nd = add_node(d, STYLIZE_OP_CONV, &in, 1, cout, index);
    if (nd)
        nd->k = k, nd->stride = stride, nd->pad = pad;
    return nd;
}

int stylize_gd_conv(stylize_graph_desc *d, int in, int cout, int k, int stride,
                    stylize_pad_mode pad, int bias)
{
    int i;
    gd_node *nd = conv_node(d, in, cout, k, stride, pad, &i);
    if (!nd)
        return i;
    nd->trainable = 1;
    nd->bias = bias != 0;
    add_param(d, nd, 0, (size_t)cout * (size_t)in_channels(d, in) * (size_t)(k * k));
    if (bias)
        add_param(d, nd, 1, (size_t)cout);
    return i;
}

int stylize_gd_conv_frozen(stylize_graph_desc *d, int in, int cout, int k, int stride,
                           stylize_pad_mode pad, const float *weight, const float *bias)
{
    int i;
    gd_node *nd = conv_node(d, in, cout, k, stride, pad, &i);
    if (nd)
        nd->fw = weight, nd->fb = bias, nd->bias = bias != NULL;
    return i;
}

int stylize_gd_inorm(stylize_graph_desc *d, int in, int affine)
{
    int i, c = in_channels(d, in);
    gd_node *nd = add_node(d, STYLIZE_OP_INORM, &in, 1, c, &i);
    if (nd && affine) {
        nd->trainable = 1;
        add_param(d, nd, 0, (size_t)c);
        add_param(d, nd, 1, (size_t)c);
    }
    return i;
}

/* A node of op with one input and its channel count. */
static gd_node *unary(stylize_graph_desc *d, stylize_op op, int in, int *index)
{
    return add_node(d, op, &in, 1, in_channels(d, in), index);
}

int stylize_gd_relu(stylize_graph_desc *d, int in)
{
    int i;
    unary(d, STYLIZE_OP_RELU, in, &i);
    return i;
}

int stylize_gd_lrelu(stylize_graph_desc *d, int in, float slope)
{
    int i;
    if (!(slope > 0.0f) || !isfinite(slope))
        return fail(d, "graph: lrelu node %d: slope %g must be > 0", d->n, (double)slope);
    gd_node *nd = unary(d, STYLIZE_OP_LRELU, in, &i);
    if (nd)
        nd->slope = slope;
    return i;
}

int stylize_gd_maxpool(stylize_graph_desc *d, int in)
{
    int i;
    unary(d, STYLIZE_OP_MAXPOOL, in, &i);
    return i;
}

int stylize_gd_avgpool(stylize_graph_desc *d, int in, int k)
{
    int i;
    if (k < 1 || k > 10)
        return fail(d, "graph: avgpool node %d: factor 2^%d outside 2^1..2^10", d->n, k);
    gd_node *nd = unary(d, STYLIZE_OP_AVGPOOL, in, &i);
    if (nd)
        nd->levels = k;
    return i;
}

int stylize_gd_upsample(stylize_graph_desc *d, int in)
{
    int i;
    unary(d, STYLIZE_OP_UPSAMPLE, in, &i);
    return i;
}

int stylize_gd_concat(stylize_graph_desc *d, int n, const int *in)
{
    int i, c = 0;
    if (n < 2 || n > FANIN)
        return fail(d, "graph: concat node %d: %d inputs (2..%d)", d->n, n, FANIN);
    for (int k = 0; k < n; k++)
        c += in_channels(d, in[k]);
    add_node(d, STYLIZE_OP_CONCAT, in, n, c, &i);
    return i;
}

int stylize_gd_add(stylize_graph_desc *d, int a, int b)
{
    int i, in[2] = {a, b};
    if (in_channels(d, a) != in_channels(d, b))
        return fail(d, "graph: add node %d: channels %d and %d differ", d->n, in_channels(d, a),
                    in_channels(d, b));
    add_node(d, STYLIZE_OP_ADD, in, 2, in_channels(d, a), &i);
    return i;
}

int stylize_gd_affine(stylize_graph_desc *d, int in)
{
    int i, c = in_channels(d, in);
    gd_node *nd = add_node(d, STYLIZE_OP_AFFINE, &in, 1, c, &i);
    if (nd) {
        nd->trainable = 1;
        add_param(d, nd, 0, (size_t)c);
        add_param(d, nd, 1, (size_t)c);
    }
    return i;
}

void stylize_gd_name(stylize_graph_desc *d, int node, const char *name)
{
    if (node >= 0 && node < d->n && name) {
        strncpy(d->nodes[node].name, name, sizeof d->nodes[node].name - 1);
        d->nodes[node].name[sizeof d->nodes[node].name - 1] = '\0';
    }
}

stylize_status stylize_graph_desc_status(const stylize_graph_desc *d, stylize_error *err)
{
    if (d->st != STYLIZE_OK && err)
        *err = d->err;
    return d->st;
}

int stylize_graph_desc_nodes(const stylize_graph_desc *d) { return d->n; }

stylize_op stylize_graph_desc_op(const stylize_graph_desc *d, int node)
{
    return node >= 0 && node < d->n ? d->nodes[node].op : STYLIZE_OP_INPUT;
}

const char *stylize_graph_desc_node_name(const stylize_graph_desc *d, int node)
{
    return node >= 0 && node < d->n ? d->nodes[node].name : "";
}

int stylize_graph_desc_find(const stylize_graph_desc *d, const char *name)
{
    for (int i = 0; name && *name && i < d->n; i++)
        if (strcmp(d->nodes[i].name, name) == 0)
            return i;
    return -1;
}

int stylize_graph_desc_channels(const stylize_graph_desc *d, int node)
{
    return node >= 0 && node < d->n ? d->nodes[node].c : 0;
}

int stylize_graph_desc_node(const stylize_graph_desc *d, int node, stylize_gd_node_info *info)
{
    memset(info, 0, sizeof *info);
    if (node < 0 || node >= d->n)
        return -1;
    const gd_node *nd = &d->nodes[node];
    info->op = nd->op;
    info->n_in = nd->n_in;
    memcpy(info->in, nd->in, sizeof info->in);
    info->channels = nd->c;
    info->k = nd->k, info->stride = nd->stride, info->bias = nd->bias, info->pad = nd->pad;
    info->trainable = nd->trainable;
    info->frozen = nd->op == STYLIZE_OP_CONV && !nd->trainable;
    info->slope = nd->slope;
    info->levels = nd->levels;
    return 0;
}

long stylize_graph_desc_param(const stylize_graph_desc *d, int node, int which, size_t *count)
{
    *count = 0;
    if (node < 0 || node >= d->n || (which != 0 && which != 1))
        return -1;
    const gd_node *nd = &d->nodes[node];
    long off = which == 0 ? nd->p0 : nd->p1;
    if (off >= 0)
        *count = which == 0 ? nd->n0 : nd->n1;
    return off;
}

size_t stylize_graph_desc_param_floats(const stylize_graph_desc *d) { return d->n_params; }

/* ---- parameter blobs ---------------------------------------------------- */

/* Norm and affine scales 1, everything else 0. */
static void reset_values(stylize_params *p, const stylize_graph_desc *d)
{
    memset(p->value, 0, p->n * sizeof(float));
    for (int i = 0; i < d->n; i++) {
        const gd_node *nd = &d->nodes[i];
        if ((nd->op == STYLIZE_OP_INORM || nd->op == STYLIZE_OP_AFFINE) && nd->p0 >= 0)
            for (size_t k = 0; k < nd->n0; k++)
                p->value[(size_t)nd->p0 + k] = 1.0f;
    }
}

stylize_status stylize_params_create(stylize_params *p, const stylize_graph_desc *d,
                                     stylize_mem *mem, stylize_error *err)
{
    memset(p, 0, sizeof *p);
    size_t bytes = d->n_params * sizeof(float);
    void *v = NULL, *g = NULL;
    stylize_status st = stylize_mem_alloc(mem, &v, bytes, "parameters", err);
    if (st == STYLIZE_OK && (st = stylize_mem_calloc(mem, &g, bytes, "parameter gradients", err)) !=
                                STYLIZE_OK) {
        stylize_mem_free(mem, v, bytes);
        return st;
    }
    if (st != STYLIZE_OK)
        return st;
    p->n = d->n_params;
    p->value = v;
    p->grad = g;
    p->mem = mem;
    if (p->value)
        reset_values(p, d);
    return STYLIZE_OK;
}

void stylize_params_free(stylize_params *p)
{
    if (!p)
        return;
    stylize_mem_free(p->mem, p->value, p->n * sizeof(float));
    stylize_mem_free(p->mem, p->grad, p->n * sizeof(float));
    memset(p, 0, sizeof *p);
}

void stylize_params_zero_grad(stylize_params *p)
{
    if (p && p->grad)
        memset(p->grad, 0, p->n * sizeof(float));
}

void stylize_params_init(stylize_params *p, const stylize_graph_desc *d, uint64_t seed)
{
    stylize_rng rng;
    stylize_rng_seed(&rng, seed);
    if (!p->value)
        return;
    reset_values(p, d);
    for (int i = 0; i < d->n; i++) {
        const gd_node *nd = &d->nodes[i];
        if (nd->op != STYLIZE_OP_CONV || !nd->trainable)
            continue;
        double fan_in = (double)in_channels(d, nd->in[0]) * nd->k * nd->k;
        float bound = (float)(1.0 / sqrt(fan_in));
        for (size_t k = 0; k < nd->n0; k++)
            p->value[(size_t)nd->p0 + k] = bound * (2.0f * stylize_rng_uniform(&rng) - 1.0f);
        for (size_t k = 0; nd->p1 >= 0 && k < nd->n1; k++)
            p->value[(size_t)nd->p1 + k] = bound * (2.0f * stylize_rng_uniform(&rng) - 1.0f);
    }
}
