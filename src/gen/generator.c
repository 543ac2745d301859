/* Generator models and their instances (stylize/gen/generator.h). */
#include <stdlib.h>
#include <string.h>

#include "gen_internal.h"

#define MAX_INPUTS (STYLIZE_GEN_MAX_SCALES + 1)

struct stylize_gen {
    stylize_gen_model *m;      /* borrowed */
    stylize_graph *graph;      /* owned */
    stylize_mem *mem;
    int n, h, w;               /* batch and current size */
    int hmax, wmax;            /* created size */
    int n_inputs;              /* content (style models) + noise */
    float *in[MAX_INPUTS];     /* (N, 3, hmax, wmax) each, through mem */
    size_t in_floats;          /* floats of each */
    unsigned char *keep;       /* (nodes) */
    const float *dout;         /* the backward's output gradient */
};

stylize_status stylize_gen_model_create(stylize_gen_model *m, const stylize_gen_arch *a, uint64_t seed,
                                        stylize_mem *mem, stylize_error *err)
{
    memset(m, 0, sizeof *m);
    m->arch = *a;
    stylize_status st = gen_build(a, &m->desc, &m->output, &m->n_noise, err);
    if (st == STYLIZE_OK)
        st = stylize_params_create(&m->params, m->desc, mem, err);
    if (st != STYLIZE_OK) {
        stylize_gen_model_free(m);
        return st;
    }
    if (!stylize_mem_is_dry(mem))
        stylize_params_init(&m->params, m->desc, seed);
    return STYLIZE_OK;
}

void stylize_gen_model_free(stylize_gen_model *m)
{
    if (!m)
        return;
    stylize_params_free(&m->params);
    stylize_graph_desc_free(m->desc);
    memset(m, 0, sizeof *m);
}

float stylize_gen_noise_amplitude(const stylize_gen_model *m, int i)
{
    if (m->arch.kind != STYLIZE_ARCH_PYRAMID || i < 0 || i >= m->arch.scales)
        return 1.0f;
    return (float)(1 << (m->arch.scales - 1 - i));
}

static stylize_status check_size(const stylize_gen_arch *a, int batch, int height, int width,
                                 stylize_error *err)
{
    int mult = stylize_gen_multiple(a), lo = stylize_gen_min_side(a);
    if (batch < 1 || batch > 4096)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "generator batch %d outside 1..4096", batch);
    if (height < lo || width < lo || height % mult || width % mult)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "generator size %dx%d: sides must be multiples of %d, at least %d",
                                 width, height, mult, lo);
    return STYLIZE_OK;
}

static stylize_status alloc_inputs(stylize_gen *g, stylize_error *err)
{
    g->n_inputs = (g->m->arch.mode == STYLIZE_GEN_STYLE ? 1 : 0) + g->m->n_noise;
    g->in_floats = stylize_mem_mul((size_t)g->n * 3, (size_t)g->hmax, (size_t)g->wmax);
    for (int i = 0; i < g->n_inputs; i++) {
        stylize_status st = stylize_mem_alloc(g->mem, (void **)&g->in[i], g->in_floats * sizeof(float),
                                              "generator input", err);
        if (st != STYLIZE_OK)
            return st;
        if (!stylize_mem_is_dry(g->mem))
            memset(g->in[i], 0, g->in_floats * sizeof(float));
    }
    return STYLIZE_OK;
}

stylize_status stylize_gen_create(stylize_gen **out, stylize_gen_model *m, int batch, int height,
                                  int width, int train, stylize_mem *mem, stylize_error *err)
{
    *out = NULL;
    stylize_status st = check_size(&m->arch, batch, height, width, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_gen *g = calloc(1, sizeof *g);
    int nodes = stylize_graph_desc_nodes(m->desc);
    unsigned char *keep = calloc((size_t)nodes, 1);
    if (!g || !keep) {
        free(g), free(keep);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a generator");
    }
    g->m = m, g->mem = mem, g->n = batch, g->h = g->hmax = height, g->w = g->wmax = width;
    g->keep = keep;
    keep[m->output] = 1;
    stylize_graph_opts o;
    stylize_graph_opts_defaults(&o);
    o.batch = batch, o.height = height, o.width = width, o.keep = keep;
    o.input_grad = 0;
    o.param_grad = train != 0;
    st = stylize_graph_create(&g->graph, m->desc, &m->params, &o, mem, err);
    if (st == STYLIZE_OK)
        st = alloc_inputs(g, err);
    if (st != STYLIZE_OK) {
        stylize_gen_free(g);
        return st;
    }
    *out = g;
    return STYLIZE_OK;
}

void stylize_gen_free(stylize_gen *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->in[i])
            stylize_mem_free(g->mem, g->in[i], g->in_floats * sizeof(float));
    stylize_graph_free(g->graph);
    free(g->keep);
    free(g);
}

stylize_status stylize_gen_set_size(stylize_gen *g, int height, int width, stylize_error *err)
{
    stylize_status st = check_size(&g->m->arch, g->n, height, width, err);
    if (st == STYLIZE_OK && (height > g->hmax || width > g->wmax))
        st = stylize_error_set(err, STYLIZE_ERR_ARG, "generator size %dx%d above the created %dx%d",
                               width, height, g->wmax, g->hmax);
    if (st == STYLIZE_OK)
        st = stylize_graph_set_size(g->graph, height, width, err);
    if (st == STYLIZE_OK)
        g->h = height, g->w = width;
    return st;
}

float *stylize_gen_content(stylize_gen *g)
{
    return g->m->arch.mode == STYLIZE_GEN_STYLE ? g->in[0] : NULL;
}

static void fill_noise(stylize_gen *g, stylize_rng *rng)
{
    int first = g->m->arch.mode == STYLIZE_GEN_STYLE ? 1 : 0;
    size_t n = (size_t)g->n * 3 * (size_t)g->h * (size_t)g->w;
    for (int i = first; i < g->n_inputs; i++) {
        float amp = stylize_gen_noise_amplitude(g->m, i - first);
        float *x = g->in[i];
        stylize_rng_uniform_fill(rng, x, n);
        for (size_t j = 0; j < n; j++)
            x[j] = 0.5f + (x[j] - 0.5f) * amp;
    }
}

void stylize_gen_forward(stylize_gen *g, stylize_rng *rng)
{
    fill_noise(g, rng);
    const float *inputs[MAX_INPUTS];
    for (int i = 0; i < g->n_inputs; i++)
        inputs[i] = g->in[i];
    stylize_graph_forward(g->graph, inputs);
}

const float *stylize_gen_output(stylize_gen *g, size_t *nstride)
{
    stylize_tshape s;
    stylize_graph_shape(g->graph, g->m->output, &s);
    *nstride = s.nstride;
    return stylize_graph_output(g->graph, g->m->output);
}

static void inject_out(void *user, int node, const float *act, float *grad, const stylize_tshape *s,
                       size_t grad_nstride)
{
    (void)act;
    const stylize_gen *g = user;
    if (node != g->m->output)
        return;
    size_t per = (size_t)s->c * (size_t)s->h * (size_t)s->w;
    for (int b = 0; b < s->n; b++) {
        float *dst = grad + (size_t)b * grad_nstride;
        const float *src = g->dout + (size_t)b * per;
        for (size_t j = 0; j < per; j++)
            dst[j] += src[j];
    }
}

void stylize_gen_backward(stylize_gen *g, const float *dout)
{
    g->dout = dout;
    stylize_graph_backward(g->graph, inject_out, g, NULL);
    g->dout = NULL;
}

void stylize_gen_params_changed(stylize_gen *g)
{
    stylize_graph_params_changed(g->graph);
}

size_t stylize_gen_bytes(const stylize_gen *g)
{
    return stylize_graph_bytes(g->graph) + (size_t)g->n_inputs * stylize_mem_align(g->in_floats * sizeof(float));
}
