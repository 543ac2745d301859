/* The layer graph's forward and backward over the planned buffers
 * (stylize/nn/graph.h; the plan is in graph_plan.c). Every op runs image by
 * image of the batch: image b of a tensor starts b * nstride floats after
 * image 0. */
#include <string.h>

#include "nn/graph_internal.h"
#include "stylize/nn/activation.h"
#include "stylize/nn/elementwise.h"
#include "stylize/nn/norm.h"
#include "stylize/nn/pool.h"
#include "stylize/nn/resample.h"

static float *workspace(const stylize_graph *g)
{
    return (float *)(g->block + g->ws_off);
}

static uint8_t *bytes_at(const stylize_graph *g, size_t off)
{
    return off == NONE_OFF ? NULL : g->block + off;
}

/* The node's parameter which (0, 1) in the value or gradient blob, or NULL. */
static float *param(const stylize_graph *g, int node, int which, int grad)
{
    const gd_node *nd = &g->d->nodes[node];
    long off = which == 0 ? nd->p0 : nd->p1;
    if (off < 0 || !g->params)
        return NULL;
    return (grad ? g->params->grad : g->params->value) + off;
}

static size_t elems(const g_node *n)
{
    return (size_t)n->c * (size_t)n->h * (size_t)n->w;
}

/* ---- forward -------------------------------------------------------------- */

static void fwd_concat(stylize_graph *g, int i, float *y, size_t ys)
{
    const gd_node *nd = &g->d->nodes[i];
    const g_node *n = &g->nodes[i];
    size_t plane = (size_t)n->h * (size_t)n->w, off = 0;
    for (int k = 0; k < nd->n_in; k++) {
        const g_node *a = &g->nodes[nd->in[k]];
        const float *x = graph_fwd(g, nd->in[k]);
        float *dst = y + off * plane;
        if (x != dst) /* else the producer wrote its slice itself */
            for (int b = 0; b < g->o.batch; b++)
                memcpy(dst + (size_t)b * ys, x + (size_t)b * graph_fwd_stride(g, nd->in[k]),
                       elems(a) * sizeof(float));
        off += (size_t)a->c;
    }
}

/* The activation fused into inorm node i (its only consumer), if any, and
 * its slope (leaky ReLU). */
static stylize_inorm_act fused_act(const stylize_graph *g, int i, float *slope)
{
    *slope = 0.0f;
    if (!g->nodes[i].act_fused)
        return STYLIZE_INORM_NO_ACT;
    const gd_node *a = &g->d->nodes[g->nodes[i].fused_into];
    *slope = a->slope;
    return a->op == STYLIZE_OP_RELU ? STYLIZE_INORM_RELU : STYLIZE_INORM_LRELU;
}

/* Image b of node i: y = op(x), with a the first input's shape. */
static void fwd_image(stylize_graph *g, int i, int b, float *y, const float *x, const g_node *a)
{
    const gd_node *nd = &g->d->nodes[i];
    g_node *n = &g->nodes[i];
    size_t ne = elems(n), plane = (size_t)n->h * (size_t)n->w;
    uint8_t *bits = bytes_at(g, n->bits_off), *idx = bytes_at(g, n->idx_off);
    switch (nd->op) {
    case STYLIZE_OP_CONV:
        if (n->act_fused)
            stylize_conv_forward_relu(n->conv, y, x, a->h, a->w, workspace(g));
        else
            stylize_conv_forward(n->conv, y, x, a->h, a->w, workspace(g));
        break;
    case STYLIZE_OP_INORM: {
        float *mean = (float *)bytes_at(g, n->stats_off) + (size_t)b * n->c, slope;
        stylize_inorm_act act = fused_act(g, i, &slope);
        stylize_inorm_forward_act(y, mean, mean + (size_t)g->o.batch * n->c, x, param(g, i, 0, 0),
                                  param(g, i, 1, 0), n->c, plane, STYLIZE_INORM_EPS, act, slope);
        break;
    }
    case STYLIZE_OP_RELU:
        if (n->act_fused) /* applied by the convolution or instance norm, in this storage */
            break;
        if (bits)
            stylize_relu_forward_mask(y, x, ne, bits + (size_t)b * ((n->emax + 7) / 8));
        else
            stylize_relu_forward(y, x, ne);
        break;
    case STYLIZE_OP_LRELU:
        if (n->act_fused) /* applied by the instance norm, in this storage */
            break;
        stylize_lrelu_forward(y, x, ne, nd->slope, bits ? bits + (size_t)b * ((n->emax + 7) / 8) : NULL);
        break;
    case STYLIZE_OP_MAXPOOL:
        if (idx)
            stylize_pool_forward_argmax(y, idx + (size_t)b * n->emax, x, a->c, a->h, a->w);
        else
            stylize_pool_forward(STYLIZE_POOL_MAX, y, x, a->c, a->h, a->w);
        break;
    case STYLIZE_OP_AVGPOOL:
        if (nd->levels == 1) /* VGG's 2 x 2 average */
            stylize_pool_forward(STYLIZE_POOL_AVG, y, x, a->c, a->h, a->w);
        else
            stylize_avgpool_forward(y, x, a->c, a->h, a->w, nd->levels);
        break;
    case STYLIZE_OP_UPSAMPLE: stylize_upsample2_forward(y, x, a->c, a->h, a->w); break;
    case STYLIZE_OP_ADD:
        stylize_add_forward(y, x, graph_fwd(g, nd->in[1]) + (size_t)b * graph_fwd_stride(g, nd->in[1]),
                            ne);
        break;
    case STYLIZE_OP_AFFINE:
        stylize_affine_forward(y, x, param(g, i, 0, 0), param(g, i, 1, 0), n->c, plane);
        break;
    case STYLIZE_OP_INPUT:
    case STYLIZE_OP_CONCAT: break;
    }
}

void stylize_graph_forward_to(stylize_graph *g, const float *const *inputs, int last)
{
    for (int k = 0; k < g->d->n_inputs; k++)
        g->inputs[k] = inputs[k];
    g->recomputed = -1;
    for (int i = 0; i <= last && i < g->n; i++) {
        const gd_node *nd = &g->d->nodes[i];
        float *y = graph_fwd(g, i);
        size_t ys = graph_fwd_stride(g, i);
        if (nd->op == STYLIZE_OP_CONCAT) {
            fwd_concat(g, i, y, ys);
            continue;
        }
        if (nd->op == STYLIZE_OP_INPUT)
            continue;
        const float *x = graph_fwd(g, nd->in[0]);
        size_t xs = graph_fwd_stride(g, nd->in[0]);
        for (int b = 0; b < g->o.batch; b++)
            fwd_image(g, i, b, y + (size_t)b * ys, x + (size_t)b * xs, &g->nodes[nd->in[0]]);
    }
}

void stylize_graph_forward(stylize_graph *g, const float *const *inputs)
{
    stylize_graph_forward_to(g, inputs, g->n - 1);
}

/* Recomputes kept node r (a conv of an input, then element-wise ops) into
 * dst, images elems(r) floats apart. */
static void recompute(stylize_graph *g, int r, float *dst)
{
    int chain[STYLIZE_GRAPH_MAX_NODES], m = 0;
    for (int x = r; g->d->nodes[x].op != STYLIZE_OP_CONV; x = g->d->nodes[x].in[0])
        chain[m++] = x;
    int conv = m ? g->d->nodes[chain[m - 1]].in[0] : r;
    int in = g->d->nodes[conv].in[0];
    const g_node *c = &g->nodes[conv], *a = &g->nodes[in];
    size_t ne = elems(c), plane = (size_t)c->h * (size_t)c->w;
    int fused = m && g->d->nodes[chain[m - 1]].op == STYLIZE_OP_RELU; /* the first op */
    for (int b = 0; b < g->o.batch; b++) {
        float *y = dst + (size_t)b * ne;
        const float *x = graph_fwd(g, in) + (size_t)b * graph_fwd_stride(g, in);
        if (fused)
            stylize_conv_forward_relu(c->conv, y, x, a->h, a->w, workspace(g));
        else
            stylize_conv_forward(c->conv, y, x, a->h, a->w, workspace(g));
        for (int q = m - 1 - fused; q >= 0; q--) {
            const gd_node *nd = &g->d->nodes[chain[q]];
            if (nd->op == STYLIZE_OP_RELU)
                stylize_relu_forward(y, y, ne);
            else if (nd->op == STYLIZE_OP_LRELU)
                stylize_lrelu_forward(y, y, ne, nd->slope, NULL);
            else
                stylize_affine_forward(y, y, param(g, chain[q], 0, 0), param(g, chain[q], 1, 0),
                                       c->c, plane);
        }
    }
}

const float *stylize_graph_output(stylize_graph *g, int node)
{
    if (node < 0 || node >= g->n || !g->keep[node])
        return NULL;
    if (!g->recompute[node])
        return graph_fwd(g, node);
    if (g->recomputed != node) {
        recompute(g, node, graph_slot(g, 0));
        g->recomputed = node;
    }
    return graph_slot(g, 0);
}

/* ---- backward ------------------------------------------------------------- */

/* Where node i's backward writes input k's gradient (image 0) and the
 * stride between images: grad[x], grad[i] itself (in place) or the step's
 * temporary slot (ACCUM). */
static float *target(const stylize_graph *g, int i, int k, size_t *stride)
{
    int x = g->d->nodes[i].in[k], mode = g->nodes[i].mode[k];
    *stride = 0;
    if (mode != GM_VIEW && mode != GM_WRITE && mode != GM_ACCUM)
        return NULL;
    if (!graph_grad(g, x))
        return NULL; /* an input whose gradient the caller did not ask for */
    if (mode == GM_ACCUM) {
        *stride = elems(&g->nodes[x]);
        return graph_slot(g, g->nodes[i].tmp_slot);
    }
    *stride = graph_grad_stride(g, x);
    return graph_grad(g, x);
}

/* dst (N images) += src, each image of x's size. */
static void add_images(const stylize_graph *g, int x, float *dst, size_t ds, const float *src,
                       size_t ss)
{
    size_t ne = elems(&g->nodes[x]);
    for (int b = 0; b < g->o.batch; b++) {
        float *d = dst + (size_t)b * ds;
        const float *s = src + (size_t)b * ss;
        for (size_t e = 0; e < ne; e++)
            d[e] += s[e];
    }
}

/* After the op wrote input k's gradient through target(): ACCUM adds it. */
static void deliver(const stylize_graph *g, int i, int k)
{
    if (g->nodes[i].mode[k] != GM_ACCUM)
        return;
    int x = g->d->nodes[i].in[k];
    size_t ts;
    const float *t = target(g, i, k, &ts);
    if (t)
        add_images(g, x, graph_grad(g, x), graph_grad_stride(g, x), t, ts);
}

/* Concat and add pass (slices of) their gradient on: copied or added. */
static void bwd_route(stylize_graph *g, int i, const float *gy, size_t gs)
{
    const gd_node *nd = &g->d->nodes[i];
    size_t plane = (size_t)g->nodes[i].h * (size_t)g->nodes[i].w, off = 0;
    for (int k = 0; k < nd->n_in; k++) {
        int x = nd->in[k], mode = g->nodes[i].mode[k];
        const float *src = gy + (nd->op == STYLIZE_OP_CONCAT ? off * plane : 0);
        off += (size_t)g->nodes[x].c;
        if ((mode != GM_WRITE && mode != GM_ACCUM) || !graph_grad(g, x))
            continue; /* in place, or an input whose gradient nobody asked for */
        if (mode == GM_WRITE) {
            for (int b = 0; b < g->o.batch; b++)
                memcpy(graph_grad(g, x) + (size_t)b * graph_grad_stride(g, x), src + (size_t)b * gs,
                       elems(&g->nodes[x]) * sizeof(float));
        } else if (mode == GM_ACCUM) {
            add_images(g, x, graph_grad(g, x), graph_grad_stride(g, x), src, gs);
        }
    }
}

/* Image b of node i's backward: parameter gradients (wgrad) and, into dx
 * (NULL: not needed), input 0's gradient, from gy. x is input 0's value,
 * act node i's output (recomputed nodes: the recomputed one). */
static void bwd_image(stylize_graph *g, int i, int b, float *dx, const float *gy, const float *x,
                      const float *act)
{
    const gd_node *nd = &g->d->nodes[i];
    g_node *n = &g->nodes[i];
    const g_node *a = &g->nodes[nd->in[0]];
    size_t ne = elems(n), plane = (size_t)n->h * (size_t)n->w;
    uint8_t *bits = bytes_at(g, n->bits_off), *idx = bytes_at(g, n->idx_off);
    if (bits)
        bits += (size_t)b * ((n->emax + 7) / 8);
    switch (nd->op) {
    case STYLIZE_OP_CONV:
        if (n->wgrad)
            stylize_conv_backward_weights(n->conv, param(g, i, 0, 1), param(g, i, 1, 1), x, gy, a->h,
                                          a->w, workspace(g));
        if (dx)
            stylize_conv_backward(n->conv, dx, gy, a->h, a->w, workspace(g));
        break;
    case STYLIZE_OP_INORM: {
        const float *mean = (const float *)bytes_at(g, n->stats_off) + (size_t)b * n->c;
        if (dx || n->wgrad)
            stylize_inorm_backward(dx, n->wgrad ? param(g, i, 0, 1) : NULL,
                                   n->wgrad ? param(g, i, 1, 1) : NULL, gy, x, mean,
                                   mean + (size_t)g->o.batch * n->c, param(g, i, 0, 0), n->c, plane);
        break;
    }
    case STYLIZE_OP_RELU:
        if (dx && bits)
            stylize_relu_backward_mask(dx, gy, bits, ne);
        else if (dx)
            stylize_relu_backward(dx, gy, act, ne);
        break;
    case STYLIZE_OP_LRELU:
        if (dx)
            stylize_lrelu_backward(dx, gy, bits ? NULL : act, bits, ne, nd->slope);
        break;
    case STYLIZE_OP_MAXPOOL:
        if (dx)
            stylize_pool_backward_argmax(dx, gy, idx + (size_t)b * n->emax, a->c, a->h, a->w);
        break;
    case STYLIZE_OP_AVGPOOL:
        if (dx && nd->levels == 1)
            stylize_pool_backward(STYLIZE_POOL_AVG, dx, gy, NULL, a->c, a->h, a->w);
        else if (dx)
            stylize_avgpool_backward(dx, gy, a->c, a->h, a->w, nd->levels);
        break;
    case STYLIZE_OP_UPSAMPLE:
        if (dx)
            stylize_upsample2_backward(dx, gy, a->c, a->h, a->w);
        break;
    case STYLIZE_OP_AFFINE:
        stylize_affine_backward(dx, n->wgrad ? param(g, i, 0, 1) : NULL,
                                n->wgrad ? param(g, i, 1, 1) : NULL, gy, x, param(g, i, 0, 0), n->c,
                                plane);
        break;
    default: break;
    }
}

/* Node i's output for its backward: kept nodes' values, recomputed ones
 * into the step's temporary slot; NULL otherwise. */
static const float *bwd_act(stylize_graph *g, int i, size_t *stride)
{
    *stride = graph_fwd_stride(g, i);
    if (!g->keep[i])
        return NULL;
    if (!g->recompute[i])
        return graph_fwd(g, i);
    float *t = graph_slot(g, g->nodes[i].tmp_slot);
    recompute(g, i, t);
    *stride = elems(&g->nodes[i]);
    return t;
}

static void bwd_node(stylize_graph *g, int i, stylize_graph_inject_fn inject, void *user)
{
    const gd_node *nd = &g->d->nodes[i];
    g_node *n = &g->nodes[i];
    float *gy = graph_grad(g, i);
    size_t gs = graph_grad_stride(g, i), as;
    if (n->gzero)
        for (int b = 0; b < g->o.batch; b++)
            memset(gy + (size_t)b * gs, 0, elems(n) * sizeof(float));
    const float *act = bwd_act(g, i, &as);
    if (inject) {
        stylize_tshape s = {g->o.batch, n->c, n->h, n->w, as};
        inject(user, i, act, gy, &s, gs);
    }
    if (nd->op == STYLIZE_OP_CONCAT || nd->op == STYLIZE_OP_ADD) {
        bwd_route(g, i, gy, gs);
        return;
    }
    if (!act && n->bits_off == NONE_OFF && (nd->op == STYLIZE_OP_RELU || nd->op == STYLIZE_OP_LRELU))
        act = graph_fwd(g, i); /* persistent for a consumer: the sign comes from it */
    size_t ds;
    float *dx = target(g, i, 0, &ds);
    const float *x = graph_fwd(g, nd->in[0]);
    size_t xs = graph_fwd_stride(g, nd->in[0]);
    for (int b = 0; b < g->o.batch; b++)
        bwd_image(g, i, b, dx ? dx + (size_t)b * ds : NULL, gy + (size_t)b * gs, x + (size_t)b * xs,
                  act ? act + (size_t)b * as : NULL);
    deliver(g, i, 0);
}

void stylize_graph_backward(stylize_graph *g, stylize_graph_inject_fn inject, void *user,
                            float *const *input_grads)
{
    for (int k = 0; k < g->d->n_inputs; k++)
        g->input_grads[k] = g->o.input_grad && input_grads ? input_grads[k] : NULL;
    g->recomputed = -1; /* the slots now hold gradients */
    for (int i = g->n - 1; i >= 0; i--) {
        if (!g->nodes[i].rg)
            continue;
        if (g->d->nodes[i].op != STYLIZE_OP_INPUT) {
            bwd_node(g, i, inject, user);
        } else if (g->nodes[i].gzero && g->input_grads[g->d->nodes[i].input_index]) {
            size_t ne = elems(&g->nodes[i]) * (size_t)g->o.batch;
            memset(g->input_grads[g->d->nodes[i].input_index], 0, ne * sizeof(float));
        }
    }
}

void stylize_graph_params_changed(stylize_graph *g)
{
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].conv && g->d->nodes[i].trainable)
            stylize_conv_refresh(g->nodes[i].conv);
}
