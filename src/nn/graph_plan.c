/* The layer graph's planner: shapes, where every output and gradient lives,
 * the scratch slots, and one block that holds them all (stylize/nn/graph.h).
 *
 * Planning runs in passes over the nodes (a topological order):
 *  1. shapes, and which nodes need a gradient (rg: an input whose gradient
 *     is asked for, a trainable node, or anything downstream of them);
 *  2. persistence: an output stays intact until the backward when the
 *     caller keeps it or a consumer's backward reads it;
 *  3. forward views, last node first: a producer writes straight into its
 *     slice of a concatenation, and an element-wise op's input into the
 *     op's own buffer (the op then runs in place), when nothing else needs
 *     the producer's value;
 *  4. forward slots: buffers that are not persistent share uniform scratch
 *     slots by live range;
 *  5. the backward schedule, last node first: each gradient is created by
 *     its latest consumer (or zeroed at its own step), handed over in place
 *     where the op allows it, and otherwise written or added, all in the
 *     same slots;
 *  6. byte offsets in one block, allocated through the memory plan.
 * The same code runs on a dry plan, which only counts. */
#include <stdlib.h>
#include <string.h>

#include "nn/graph_internal.h"

/* ---- pass 1: shapes ----------------------------------------------------- */

static stylize_status shape_error(const stylize_graph *g, int i, stylize_error *err,
                                  const char *why, int h, int w)
{
    const gd_node *nd = &g->d->nodes[i];
    return stylize_error_set(err, STYLIZE_ERR_ARG, "graph node %d (%s%s%s): %s at %dx%d", i,
                             stylize_op_name(nd->op), nd->name[0] ? " " : "", nd->name, why, w, h);
}

/* Output (c, h, w) of node i from its inputs' shapes. */
static stylize_status node_shape(stylize_graph *g, int i, int H, int W, stylize_error *err)
{
    const gd_node *nd = &g->d->nodes[i];
    g_node *n = &g->nodes[i];
    const g_node *a = nd->n_in > 0 ? &g->nodes[nd->in[0]] : NULL;
    int h = a ? a->h : H, w = a ? a->w : W;
    switch (nd->op) {
    case STYLIZE_OP_CONV: {
        stylize_conv_geom geom = {a->c, nd->c, nd->k, nd->stride, nd->pad};
        stylize_error e;
        if (stylize_conv_geom_check(&geom, h, w, &e) != STYLIZE_OK)
            return shape_error(g, i, err, e.msg, h, w);
        h = stylize_conv_out_side(h, nd->k, nd->stride);
        w = stylize_conv_out_side(w, nd->k, nd->stride);
        break;
    }
    case STYLIZE_OP_MAXPOOL: h /= 2, w /= 2; break;
    case STYLIZE_OP_AVGPOOL: h >>= nd->levels, w >>= nd->levels; break;
    case STYLIZE_OP_UPSAMPLE:
        if (h > (1 << 20) || w > (1 << 20))
            return shape_error(g, i, err, "too large to upsample", h, w);
        h *= 2, w *= 2;
        break;
    case STYLIZE_OP_CONCAT:
    case STYLIZE_OP_ADD:
        for (int k = 1; k < nd->n_in; k++)
            if (g->nodes[nd->in[k]].h != h || g->nodes[nd->in[k]].w != w)
                return shape_error(g, i, err, "inputs of different sizes", h, w);
        break;
    default: break;
    }
    if (h < 1 || w < 1)
        return shape_error(g, i, err, "the input is too small (a size reaches zero)", a ? a->h : H,
                           a ? a->w : W);
    n->c = nd->c, n->h = h, n->w = w;
    return STYLIZE_OK;
}

stylize_status graph_shapes(stylize_graph *g, int h, int w, stylize_error *err)
{
    for (int i = 0; i < g->n; i++) {
        stylize_status st = node_shape(g, i, h, w, err);
        if (st != STYLIZE_OK)
            return st;
    }
    return STYLIZE_OK;
}

/* rg, wgrad and consumer counts. */
static void plan_grads(stylize_graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const gd_node *nd = &g->d->nodes[i];
        g_node *n = &g->nodes[i];
        n->wgrad = nd->trainable && g->o.param_grad;
        n->rg = nd->op == STYLIZE_OP_INPUT ? g->o.input_grad != 0 : n->wgrad;
        for (int k = 0; k < nd->n_in; k++) {
            n->rg |= g->nodes[nd->in[k]].rg;
            g->nodes[nd->in[k]].consumers++;
        }
    }
}

/* ---- pass 2: persistence -------------------------------------------------- */

/* Does node j's backward read the value of its input k? */
static int reads_input(const stylize_graph *g, int j, int k)
{
    const gd_node *nd = &g->d->nodes[j];
    const g_node *n = &g->nodes[j];
    (void)k;
    if (!n->rg)
        return 0;
    switch (nd->op) {
    case STYLIZE_OP_CONV: return n->wgrad;                   /* the weight gradient */
    case STYLIZE_OP_INORM: return 1;                         /* x for x-hat */
    case STYLIZE_OP_AFFINE: return n->wgrad;                 /* the scale's gradient */
    default: return 0;
    }
}

static void plan_persist(stylize_graph *g)
{
    for (int i = 0; i < g->n; i++)
        g->nodes[i].persist = g->keep[i] && !g->recompute[i];
    for (int j = 0; j < g->n; j++) {
        const gd_node *nd = &g->d->nodes[j];
        for (int k = 0; k < nd->n_in; k++)
            if (reads_input(g, j, k))
                g->nodes[nd->in[k]].persist = 1;
    }
}

/* ---- pass 3: forward views ----------------------------------------------- */

static int elementwise(stylize_op op)
{
    return op == STYLIZE_OP_RELU || op == STYLIZE_OP_LRELU || op == STYLIZE_OP_AFFINE ||
           op == STYLIZE_OP_ADD;
}

/* May node x's output be written into a consumer's storage? */
static int may_alias(const stylize_graph *g, int x)
{
    const g_node *n = &g->nodes[x];
    return g->d->nodes[x].op != STYLIZE_OP_INPUT && n->consumers == 1 && !n->persist &&
           !g->keep[x];
}

static void plan_views(stylize_graph *g)
{
    for (int i = 0; i < g->n; i++)
        g->nodes[i].base = i, g->nodes[i].choff = 0;
    for (int j = g->n - 1; j >= 0; j--) {
        const gd_node *nd = &g->d->nodes[j];
        const g_node *n = &g->nodes[j];
        if (nd->op == STYLIZE_OP_CONCAT) {
            int off = 0;
            for (int k = 0; k < nd->n_in; k++) {
                int x = nd->in[k];
                if (may_alias(g, x))
                    g->nodes[x].base = n->base, g->nodes[x].choff = n->choff + off;
                off += g->nodes[x].c;
            }
        } else if (elementwise(nd->op) && may_alias(g, nd->in[0])) {
            g->nodes[nd->in[0]].base = n->base, g->nodes[nd->in[0]].choff = n->choff;
        }
    }
}

/* ---- pass 4: forward slots ------------------------------------------------ */

/* Lowest slot not in busy (nslots entries), growing the pool if needed. */
static int take_slot(stylize_graph *g, unsigned char *busy)
{
    int s = 0;
    while (s < g->nslots && busy[s])
        s++;
    if (s == g->nslots)
        g->nslots++;
    busy[s] = 1;
    return s;
}

static void fit_slot(stylize_graph *g, size_t floats)
{
    if (floats > g->slot_floats)
        g->slot_floats = floats;
}

/* Storage classes and slots of the forward. last has 3 n entries: the last
 * reader of each base's storage, each base's slot, and each base's first
 * writer (the lowest member of its group, which takes the slot); busy 2 n. */
static void plan_slots(stylize_graph *g, unsigned char *busy, int *last)
{
    int *slot_of = last + g->n, *first = last + 2 * g->n;
    for (int i = 0; i < g->n; i++) {
        g_node *n = &g->nodes[i];
        n->store = g->d->nodes[i].op == STYLIZE_OP_INPUT ? STORE_INPUT : STORE_SLOT;
        last[i] = first[i] = i;
    }
    for (int i = g->n - 1; i >= 0; i--) /* members come before their base */
        if (i < first[g->nodes[i].base])
            first[g->nodes[i].base] = i;
    for (int i = 0; i < g->n; i++) {
        const gd_node *nd = &g->d->nodes[i];
        int b = g->nodes[i].base;
        if (g->nodes[i].persist && g->nodes[b].store == STORE_SLOT)
            g->nodes[b].store = STORE_OWN;
        for (int k = 0; k < nd->n_in; k++) {
            int xb = g->nodes[nd->in[k]].base;
            if (i > last[xb])
                last[xb] = i;
        }
    }
    memset(busy, 0, 2 * (size_t)(unsigned)g->n);
    for (int i = 0; i < g->n; i++) {
        for (int b = 0; b < g->n; b++) {
            g_node *n = &g->nodes[b];
            if (n->base != b || n->store != STORE_SLOT)
                continue;
            if (last[b] == i - 1) /* its last reader is done */
                busy[slot_of[b]] = 0;
        }
        for (int b = i; b < g->n; b++) { /* groups whose first member writes now */
            g_node *n = &g->nodes[b];
            if (n->base != b || n->store != STORE_SLOT || first[b] != i)
                continue;
            n->slot = slot_of[b] = take_slot(g, busy);
            fit_slot(g, (size_t)g->o.batch * n->emax);
        }
    }
}

/* ---- pass 5: the backward schedule ---------------------------------------- */

/* The op's input gradient may overwrite its output gradient (same shape). */
static int grad_in_place(stylize_op op)
{
    return op == STYLIZE_OP_RELU || op == STYLIZE_OP_LRELU || op == STYLIZE_OP_AFFINE ||
           op == STYLIZE_OP_INORM || op == STYLIZE_OP_ADD;
}

typedef struct {
    unsigned char *busy; /* (2 n) slots in use */
    int *refs;           /* (2 n) per slot: nodes whose gradient lives in it */
    unsigned char *has;  /* (n) per node: its gradient exists */
} bwd_state;

static int grab(stylize_graph *g, bwd_state *b)
{
    int s = take_slot(g, b->busy);
    b->refs[s] = 1;
    return s;
}

static void drop(bwd_state *b, int s)
{
    if (s >= 0 && --b->refs[s] == 0)
        b->busy[s] = 0;
}

/* How node i's backward delivers input k's gradient; sets *tmp when the
 * step needs its temporary slot. */
static int input_mode(stylize_graph *g, bwd_state *b, int i, int k, int *tmp)
{
    const gd_node *nd = &g->d->nodes[i];
    int x = nd->in[k];
    g_node *gx = &g->nodes[x], *gi = &g->nodes[i];
    int input = g->d->nodes[x].op == STYLIZE_OP_INPUT;
    if (!gx->rg)
        return GM_NONE;
    if (!b->has[x] && !input && gx->consumers == 1 &&
        ((grad_in_place(nd->op) && k == 0) || nd->op == STYLIZE_OP_CONCAT)) {
        int off = 0;
        for (int q = 0; q < k && nd->op == STYLIZE_OP_CONCAT; q++)
            off += g->nodes[nd->in[q]].c;
        gx->gbase = gi->gbase, gx->gchoff = gi->gchoff + off, gx->gslot = -1;
        b->has[x] = 1;
        b->refs[g->nodes[gi->gbase].gslot]++;
        return nd->op == STYLIZE_OP_CONCAT ? GM_SLICE : GM_VIEW;
    }
    if (!b->has[x]) {
        gx->gbase = x, gx->gchoff = 0;
        gx->gslot = input ? -1 : grab(g, b);
        if (!input)
            fit_slot(g, (size_t)g->o.batch * gx->emax);
        b->has[x] = 1;
        return GM_WRITE;
    }
    if (nd->op != STYLIZE_OP_ADD && nd->op != STYLIZE_OP_CONCAT) {
        *tmp = 1;
        fit_slot(g, (size_t)g->o.batch * gx->emax);
    }
    return GM_ACCUM;
}

static void plan_backward(stylize_graph *g, bwd_state *b)
{
    for (int i = g->n - 1; i >= 0; i--) {
        const gd_node *nd = &g->d->nodes[i];
        g_node *n = &g->nodes[i];
        n->tmp_slot = -1;
        if (!n->rg || nd->op == STYLIZE_OP_INPUT)
            continue;
        if (!b->has[i]) { /* no consumer wrote it: zeroed at its own step */
            n->gbase = i, n->gchoff = 0, n->gslot = grab(g, b);
            fit_slot(g, (size_t)g->o.batch * n->emax);
            n->gzero = b->has[i] = 1;
        }
        int tmp = g->recompute[i];
        if (tmp)
            fit_slot(g, (size_t)g->o.batch * n->emax);
        for (int k = 0; k < nd->n_in; k++)
            n->mode[k] = input_mode(g, b, i, k, &tmp);
        if (tmp) {
            n->tmp_slot = take_slot(g, b->busy);
            b->busy[n->tmp_slot] = 0; /* free again after the step */
        }
        drop(b, g->nodes[n->gbase].gslot);
    }
}

/* ---- pass 6: the block ---------------------------------------------------- */

static size_t carve(size_t *total, size_t bytes)
{
    size_t off = *total;
    *total += stylize_mem_align(bytes);
    return off;
}

/* Byte offsets of every buffer; returns the block's size. */
static size_t plan_block(stylize_graph *g)
{
    size_t total = 0, N = (size_t)g->o.batch;
    for (int i = 0; i < g->n; i++) {
        const gd_node *nd = &g->d->nodes[i];
        g_node *n = &g->nodes[i];
        n->off = n->bits_off = n->idx_off = n->stats_off = NONE_OFF;
        if (n->base == i && n->store == STORE_OWN)
            n->off = carve(&total, N * n->emax * sizeof(float));
        int masked = (nd->op == STYLIZE_OP_RELU || nd->op == STYLIZE_OP_LRELU) && n->rg &&
                     !n->persist && !g->recompute[i];
        if (masked)
            n->bits_off = carve(&total, N * ((n->emax + 7) / 8));
        if (nd->op == STYLIZE_OP_MAXPOOL && n->rg)
            n->idx_off = carve(&total, N * n->emax);
        if (nd->op == STYLIZE_OP_INORM)
            n->stats_off = carve(&total, 2 * N * (size_t)n->c * sizeof(float));
    }
    g->slot_stride = stylize_mem_align(g->slot_floats * sizeof(float));
    g->slots_off = total;
    total += (size_t)g->nslots * g->slot_stride;
    g->ws_off = carve(&total, g->ws_floats * sizeof(float));
    return total;
}

/* ---- pass 7: activations fused into the op before them ------------------- */

/* A ReLU (after a convolution or an instance norm) or leaky ReLU (after an
 * instance norm) whose input it alone reads, written into the activation's
 * own storage (the view of pass 3), and which keeps no mask (its backward
 * reads its output): the op before applies it as it writes. */
static void plan_fusion(stylize_graph *g)
{
    for (int j = 0; j < g->n; j++) {
        const gd_node *nd = &g->d->nodes[j];
        g_node *r = &g->nodes[j];
        if ((nd->op != STYLIZE_OP_RELU && nd->op != STYLIZE_OP_LRELU) || r->bits_off != NONE_OFF)
            continue;
        int x = nd->in[0];
        g_node *c = &g->nodes[x];
        stylize_op op = g->d->nodes[x].op;
        int fusable = op == STYLIZE_OP_INORM || (op == STYLIZE_OP_CONV && nd->op == STYLIZE_OP_RELU);
        if (fusable && c->consumers == 1 && c->base == r->base && c->choff == r->choff) {
            c->act_fused = r->act_fused = 1;
            c->fused_into = j;
        }
    }
}

/* ---- pointers ------------------------------------------------------------- */

float *graph_slot(const stylize_graph *g, int slot)
{
    return (float *)(g->block + g->slots_off + (size_t)slot * g->slot_stride);
}

size_t graph_fwd_stride(const stylize_graph *g, int node)
{
    const g_node *b = &g->nodes[g->nodes[node].base];
    return (size_t)b->c * (size_t)b->h * (size_t)b->w;
}

float *graph_fwd(const stylize_graph *g, int node)
{
    const g_node *n = &g->nodes[node], *b = &g->nodes[n->base];
    float *base;
    if (b->store == STORE_INPUT)
        base = (float *)g->inputs[g->d->nodes[n->base].input_index];
    else if (b->store == STORE_OWN)
        base = (float *)(g->block + b->off);
    else
        base = graph_slot(g, b->slot);
    return base + (size_t)n->choff * (size_t)n->h * (size_t)n->w;
}

size_t graph_grad_stride(const stylize_graph *g, int node)
{
    const g_node *b = &g->nodes[g->nodes[node].gbase];
    return (size_t)b->c * (size_t)b->h * (size_t)b->w;
}

float *graph_grad(const stylize_graph *g, int node)
{
    const g_node *n = &g->nodes[node], *b = &g->nodes[n->gbase];
    float *base = b->gslot >= 0 ? graph_slot(g, b->gslot)
                                : g->input_grads[g->d->nodes[n->gbase].input_index];
    return base ? base + (size_t)n->gchoff * (size_t)n->h * (size_t)n->w : NULL;
}

/* ---- create / free -------------------------------------------------------- */

void stylize_graph_opts_defaults(stylize_graph_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->input_grad = 1;
    o->algo = stylize_conv_get_default_algo();
}

/* A recomputed node must be element-wise ops over one convolution of an
 * input, each the only consumer of the one before. */
static stylize_status check_recompute(const stylize_graph *g, int r, stylize_error *err)
{
    int x = r;
    while (x >= 0 && elementwise(g->d->nodes[x].op) && g->d->nodes[x].op != STYLIZE_OP_ADD) {
        x = g->d->nodes[x].in[0];
        if (g->nodes[x].consumers != 1)
            x = -1;
    }
    if (x < 0 || x == r || g->d->nodes[x].op != STYLIZE_OP_CONV ||
        g->d->nodes[g->d->nodes[x].in[0]].op != STYLIZE_OP_INPUT || !g->keep[r])
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "graph node %d: only a kept chain conv(input) -> element-wise ops "
                                 "can be recomputed", r);
    return STYLIZE_OK;
}

/* Convolution objects (kernels through the plan) and the workspace size. */
static stylize_status make_convs(stylize_graph *g, stylize_error *err)
{
    for (int i = 0; i < g->n; i++) {
        const gd_node *nd = &g->d->nodes[i];
        g_node *n = &g->nodes[i];
        if (nd->op != STYLIZE_OP_CONV)
            continue;
        const g_node *a = &g->nodes[nd->in[0]];
        stylize_conv_geom geom = {a->c, nd->c, nd->k, nd->stride, nd->pad};
        const float *w = nd->fw, *b = nd->fb;
        if (nd->trainable) {
            float *v = g->params ? g->params->value : NULL;
            w = v ? v + nd->p0 : NULL;
            b = v && nd->p1 >= 0 ? v + nd->p1 : NULL;
        }
        stylize_status st = stylize_conv_create_ex(&n->conv, &geom, w, b, g->o.algo, g->mem, err);
        if (st != STYLIZE_OK)
            return st;
        g->conv_bytes += stylize_conv_kernel_bytes(&geom, stylize_conv_get_algo(n->conv));
        size_t ws = stylize_conv_workspace_floats_ex(n->conv, a->h, a->w, n->wgrad);
        if (ws > g->ws_floats)
            g->ws_floats = ws;
    }
    return STYLIZE_OK;
}

/* Passes 1 to 5; scratch holds 4 n ints: the forward's last readers,
 * slots and first writers (3 n ints), then the slot flags (2 n bytes) and
 * which gradients exist (n bytes); the backward's slot references reuse the
 * first 2 n ints. */
static stylize_status plan_all(stylize_graph *g, int *scratch, stylize_error *err)
{
    stylize_status st = graph_shapes(g, g->hmax, g->wmax, err);
    if (st != STYLIZE_OK)
        return st;
    for (int i = 0; i < g->n; i++) {
        g_node *n = &g->nodes[i];
        n->emax = (size_t)n->c * (size_t)n->h * (size_t)n->w;
        n->gslot = -1;
    }
    plan_grads(g);
    for (int i = 0; i < g->n; i++)
        if (g->recompute[i] && (st = check_recompute(g, i, err)) != STYLIZE_OK)
            return st;
    plan_persist(g);
    plan_views(g);
    unsigned char *busy = (unsigned char *)(scratch + 3 * g->n); /* (2 n) */
    plan_slots(g, busy, scratch);
    for (int i = 0; i < g->n; i++)
        if (g->recompute[i]) { /* read into slot 0 after the forward */
            fit_slot(g, (size_t)g->o.batch * g->nodes[i].emax);
            if (g->nslots < 1)
                g->nslots = 1;
        }
    memset(busy, 0, 2 * (size_t)(unsigned)g->n);
    bwd_state b = {busy, scratch, busy + 2 * g->n};
    memset(scratch, 0, 2 * (size_t)g->n * sizeof(int));
    memset(b.has, 0, (size_t)(unsigned)g->n);
    plan_backward(g, &b);
    for (int i = 0; i < g->n; i++)
        if (g->d->nodes[i].op == STYLIZE_OP_INPUT && g->nodes[i].rg)
            g->nodes[i].gzero = !b.has[i]; /* no consumer writes it: zeroed */
    return STYLIZE_OK;
}

static stylize_status check_opts(const stylize_graph_desc *d, const stylize_params *p,
                                 const stylize_graph_opts *o, stylize_error *err)
{
    stylize_status st = stylize_graph_desc_status(d, err);
    if (st != STYLIZE_OK)
        return st;
    if (d->n == 0 || d->n_inputs == 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "graph: no nodes or no input");
    if (o->batch < 1 || o->height < 1 || o->width < 1 || o->batch > 4096)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "graph: batch %d of %dx%d is empty or too large",
                                 o->batch, o->width, o->height);
    if (d->n_params > 0 && (!p || p->n != d->n_params))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "graph: parameters missing or of another layout");
    return STYLIZE_OK;
}

stylize_status stylize_graph_create(stylize_graph **out, const stylize_graph_desc *d,
                                    stylize_params *params, const stylize_graph_opts *opts,
                                    stylize_mem *mem, stylize_error *err)
{
    *out = NULL;
    stylize_status st = check_opts(d, params, opts, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_graph *g = calloc(1, sizeof *g);
    int *scratch = NULL;
    if (g) {
        g->nodes = calloc((size_t)d->n, sizeof *g->nodes);
        g->keep = calloc(2 * (size_t)d->n, 1);
        scratch = calloc(4 * (size_t)d->n, sizeof(int));
    }
    if (!g || !g->nodes || !g->keep || !scratch) {
        free(scratch);
        stylize_graph_free(g);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a graph");
    }
    g->d = d, g->params = params, g->o = *opts, g->mem = mem, g->n = d->n;
    g->hmax = opts->height;
    g->wmax = opts->width;
    g->recompute = g->keep + d->n;
    g->recomputed = -1;
    for (int i = 0; i < d->n; i++) {
        g->keep[i] = opts->keep ? opts->keep[i] != 0 : 1;
        g->recompute[i] = opts->recompute ? opts->recompute[i] != 0 : 0;
    }
    g->o.keep = g->o.recompute = NULL; /* copied above */
    if ((st = plan_all(g, scratch, err)) == STYLIZE_OK && (st = make_convs(g, err)) == STYLIZE_OK) {
        g->block_bytes = plan_block(g);
        plan_fusion(g);
        void *blk = NULL;
        st = stylize_mem_alloc(mem, &blk, g->block_bytes, "network buffers", err);
        g->block = blk;
        if (st != STYLIZE_OK)
            g->block_bytes = 0;
    }
    free(scratch);
    if (st != STYLIZE_OK) {
        stylize_graph_free(g);
        return st;
    }
    *out = g;
    return STYLIZE_OK;
}

void stylize_graph_free(stylize_graph *g)
{
    if (!g)
        return;
    for (int i = 0; g->nodes && i < g->n; i++)
        stylize_conv_free(g->nodes[i].conv);
    stylize_mem_free(g->mem, g->block, g->block_bytes);
    free(g->nodes);
    free(g->keep);
    free(g);
}

size_t stylize_graph_bytes(const stylize_graph *g)
{
    return g->block_bytes + g->conv_bytes;
}

int stylize_graph_fused_acts(const stylize_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n; i++)
        n += (g->d->nodes[i].op == STYLIZE_OP_RELU || g->d->nodes[i].op == STYLIZE_OP_LRELU) &&
             g->nodes[i].act_fused;
    return n;
}

stylize_status stylize_graph_set_size(stylize_graph *g, int height, int width, stylize_error *err)
{
    if (height < 1 || height > g->hmax || width < 1 || width > g->wmax)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "graph size %dx%d outside 1..%dx1..%d", width,
                                 height, g->wmax, g->hmax);
    stylize_status st = graph_shapes(g, height, width, err);
    for (int i = 0; st == STYLIZE_OK && i < g->n; i++) {
        const g_node *n = &g->nodes[i];
        if (n->conv) {
            const g_node *a = &g->nodes[g->d->nodes[i].in[0]];
            if (stylize_conv_workspace_floats_ex(n->conv, a->h, a->w, n->wgrad) > g->ws_floats)
                st = stylize_error_set(err, STYLIZE_ERR_ARG,
                                       "graph size %dx%d: convolution workspace too small", width, height);
        }
    }
    if (st != STYLIZE_OK) { /* back to a consistent size */
        graph_shapes(g, g->o.height, g->o.width, NULL);
        return st;
    }
    g->o.height = height;
    g->o.width = width;
    g->recomputed = -1;
    return STYLIZE_OK;
}

stylize_status stylize_graph_set_height(stylize_graph *g, int height, stylize_error *err)
{
    return stylize_graph_set_size(g, height, g->o.width, err);
}

void stylize_graph_shape(const stylize_graph *g, int node, stylize_tshape *s)
{
    memset(s, 0, sizeof *s);
    if (node < 0 || node >= g->n)
        return;
    const g_node *n = &g->nodes[node];
    s->n = g->o.batch, s->c = n->c, s->h = n->h, s->w = n->w;
    s->nstride = graph_fwd_stride(g, node);
}
