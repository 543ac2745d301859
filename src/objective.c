/* The style-transfer / texture objective: targets, value and gradient. */
#include "stylize/objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/losses.h"

struct stylize_objective {
    const stylize_weights *weights; /* borrowed */
    stylize_objective_spec spec;
    unsigned char keep_pre[STYLIZE_VGG19_NLAYERS];
    int depth;
    stylize_net *net;                /* at (3, height, width) */
    float *P[STYLIZE_VGG19_NLAYERS]; /* content target per content entry: (C, H, W) */
    float *A[STYLIZE_VGG19_NLAYERS]; /* style target per style entry: (N, N) */
    float *G[STYLIZE_VGG19_NLAYERS]; /* Gram of x per style entry: (N, N) */
    double content_norm[STYLIZE_VGG19_NLAYERS]; /* per content entry */
    double style_norm[STYLIZE_VGG19_NLAYERS];   /* per style entry */
    int has_content, n_styles_added;
    float *D;        /* (Nmax, Nmax) scratch for the style gradient */
    float *scratch;  /* (max loss-layer size) for normalize_gradients, else NULL */
    stylize_loss_breakdown last;
};

static int spec_depth(const stylize_objective_spec *s)
{
    int d = -1;
    for (int i = 0; i < s->n_content; i++)
        if (s->content[i].layer > d)
            d = s->content[i].layer;
    for (int i = 0; i < s->n_style; i++)
        if (s->style[i].layer > d)
            d = s->style[i].layer;
    return d;
}

static void spec_keep_pre(const stylize_objective_spec *s, unsigned char *keep)
{
    memset(keep, 0, STYLIZE_VGG19_NLAYERS);
    for (int i = 0; i < s->n_content; i++)
        if (stylize_vgg19_layer_kind(s->content[i].layer) == STYLIZE_LAYER_CONV)
            keep[s->content[i].layer] = 1;
    for (int i = 0; i < s->n_style; i++)
        if (stylize_vgg19_layer_kind(s->style[i].layer) == STYLIZE_LAYER_CONV)
            keep[s->style[i].layer] = 1;
}

/* Output shape of a layer for an input of (width, height): channels and positions. */
static void layer_shape(const stylize_weights *w, int layer, int width, int height, int *C, int *M)
{
    int c = 3, h = height, wd = width, k = 0;
    for (int i = 0; i <= layer; i++) {
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_CONV: c = w->layers[k++].out_ch; break;
        case STYLIZE_LAYER_RELU: break;
        case STYLIZE_LAYER_POOL: h /= 2, wd /= 2; break;
        }
    }
    *C = c;
    *M = h * wd;
}

static stylize_status validate_spec(const stylize_objective_spec *s, stylize_error *err)
{
    if (s->n_content < 0 || s->n_content > STYLIZE_VGG19_NLAYERS || s->n_style < 0 ||
        s->n_style > STYLIZE_VGG19_NLAYERS)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "too many loss layers");
    if (s->n_content + s->n_style == 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "no loss layers: nothing to optimise");
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? s->n_style : s->n_content;
        const stylize_layer_weight *lw = pass ? s->style : s->content;
        for (int i = 0; i < n; i++) {
            if (lw[i].layer < 0 || lw[i].layer >= STYLIZE_VGG19_NLAYERS)
                return stylize_error_set(err, STYLIZE_ERR_ARG, "layer index %d out of range",
                                         lw[i].layer);
            if (!isfinite(lw[i].weight) || lw[i].weight < 0)
                return stylize_error_set(err, STYLIZE_ERR_ARG, "layer %s: weight %g must be >= 0",
                                         stylize_vgg19_layer_name(lw[i].layer), lw[i].weight);
        }
    }
    if (!isfinite(s->alpha) || s->alpha < 0 || !isfinite(s->beta) || s->beta < 0 ||
        !isfinite(s->tv) || s->tv < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "loss weights must be finite and >= 0");
    return STYLIZE_OK;
}

size_t stylize_objective_memory_bytes(const stylize_weights *w, const stylize_objective_spec *s)
{
    unsigned char keep[STYLIZE_VGG19_NLAYERS];
    int depth = spec_depth(s);
    if (depth < 0)
        return 0;
    spec_keep_pre(s, keep);
    size_t total = stylize_net_memory_bytes(w, depth, s->width, s->height, keep);
    size_t nmax = 0, amax = 0;
    for (int i = 0; i < s->n_content; i++) {
        int C, M;
        layer_shape(w, s->content[i].layer, s->width, s->height, &C, &M);
        total += (size_t)C * M * sizeof(float);
        if ((size_t)C * M > amax)
            amax = (size_t)C * M;
    }
    for (int i = 0; i < s->n_style; i++) {
        int C, M;
        layer_shape(w, s->style[i].layer, s->width, s->height, &C, &M);
        total += 2 * (size_t)C * C * sizeof(float);
        if ((size_t)C > nmax)
            nmax = (size_t)C;
        if ((size_t)C * M > amax)
            amax = (size_t)C * M;
    }
    total += nmax * nmax * sizeof(float);
    if (s->normalize_gradients)
        total += amax * sizeof(float);
    return total;
}

stylize_status stylize_objective_create(stylize_objective **out, const stylize_weights *w,
                                        const stylize_objective_spec *spec, stylize_error *err)
{
    stylize_status st;
    *out = NULL;
    if ((st = validate_spec(spec, err)) != STYLIZE_OK)
        return st;
    stylize_objective *obj = calloc(1, sizeof *obj);
    if (!obj)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory creating the objective");
    obj->weights = w;
    obj->spec = *spec;
    obj->depth = spec_depth(spec);
    spec_keep_pre(spec, obj->keep_pre);
    st = stylize_net_create(&obj->net, w, spec->pool, obj->depth, spec->width, spec->height,
                            obj->keep_pre, err);
    if (st != STYLIZE_OK)
        goto fail;
    size_t nmax = 1, amax = 1;
    for (int i = 0; i < spec->n_content; i++) {
        int C, M;
        layer_shape(w, spec->content[i].layer, spec->width, spec->height, &C, &M);
        obj->P[i] = calloc((size_t)C * M, sizeof(float));
        obj->content_norm[i] = 1.0;
        if (!obj->P[i])
            goto nomem;
        if ((size_t)C * M > amax)
            amax = (size_t)C * M;
    }
    for (int i = 0; i < spec->n_style; i++) {
        int C, M;
        layer_shape(w, spec->style[i].layer, spec->width, spec->height, &C, &M);
        obj->A[i] = calloc((size_t)C * C, sizeof(float));
        obj->G[i] = calloc((size_t)C * C, sizeof(float));
        obj->style_norm[i] = 1.0;
        if (!obj->A[i] || !obj->G[i])
            goto nomem;
        if ((size_t)C > nmax)
            nmax = (size_t)C;
        if ((size_t)C * M > amax)
            amax = (size_t)C * M;
    }
    obj->D = malloc(nmax * nmax * sizeof(float));
    if (!obj->D)
        goto nomem;
    if (spec->normalize_gradients) {
        obj->scratch = malloc(amax * sizeof(float));
        if (!obj->scratch)
            goto nomem;
    }
    *out = obj;
    return STYLIZE_OK;
nomem:
    st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for loss targets");
fail:
    stylize_objective_free(obj);
    return st;
}

void stylize_objective_free(stylize_objective *obj)
{
    if (!obj)
        return;
    stylize_net_free(obj->net);
    for (int i = 0; i < STYLIZE_VGG19_NLAYERS; i++) {
        free(obj->P[i]);
        free(obj->A[i]);
        free(obj->G[i]);
    }
    free(obj->D);
    free(obj->scratch);
    free(obj);
}

static void update_norms(stylize_objective *obj)
{
    const stylize_objective_spec *s = &obj->spec;
    for (int i = 0; i < s->n_content; i++) {
        obj->content_norm[i] = 1.0;
        if (s->normalize_by_target && obj->has_content) {
            int C, M;
            layer_shape(obj->weights, s->content[i].layer, s->width, s->height, &C, &M);
            double e = 0;
            for (size_t k = 0; k < (size_t)C * M; k++)
                e += (double)obj->P[i][k] * obj->P[i][k];
            obj->content_norm[i] = e > 0 ? 1.0 / (0.5 * e) : 1.0;
        }
    }
    for (int i = 0; i < s->n_style; i++) {
        obj->style_norm[i] = 1.0;
        if (s->normalize_by_target && obj->n_styles_added) {
            int C, M;
            layer_shape(obj->weights, s->style[i].layer, s->width, s->height, &C, &M);
            double e = 0;
            for (size_t k = 0; k < (size_t)C * C; k++)
                e += (double)obj->A[i][k] * obj->A[i][k];
            double nm = (double)C * M;
            e /= 4.0 * nm * nm;
            obj->style_norm[i] = e > 0 ? 1.0 / e : 1.0;
        }
    }
}

stylize_status stylize_objective_set_content(stylize_objective *obj, const float *xc,
                                             stylize_error *err)
{
    (void)err;
    stylize_net_forward(obj->net, xc);
    for (int i = 0; i < obj->spec.n_content; i++) {
        int c, h, w;
        const float *F = stylize_net_output(obj->net, obj->spec.content[i].layer, &c, &h, &w);
        memcpy(obj->P[i], F, (size_t)c * h * w * sizeof(float));
    }
    obj->has_content = 1;
    update_norms(obj);
    return STYLIZE_OK;
}

void stylize_objective_clear_style(stylize_objective *obj)
{
    for (int i = 0; i < obj->spec.n_style; i++) {
        int C, M;
        layer_shape(obj->weights, obj->spec.style[i].layer, obj->spec.width, obj->spec.height, &C, &M);
        memset(obj->A[i], 0, (size_t)C * C * sizeof(float));
    }
    obj->n_styles_added = 0;
    update_norms(obj);
}

stylize_status stylize_objective_add_style(stylize_objective *obj, const float *xs, int sw, int sh,
                                           double blend, stylize_error *err)
{
    const stylize_objective_spec *s = &obj->spec;
    if (s->n_style == 0)
        return STYLIZE_OK;
    if (!isfinite(blend) || blend < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style blend weight %g must be >= 0", blend);
    int depth = -1;
    for (int i = 0; i < s->n_style; i++)
        if (s->style[i].layer > depth)
            depth = s->style[i].layer;
    stylize_net *snet = NULL;
    stylize_status st = stylize_net_create(&snet, obj->weights, s->pool, depth, sw, sh,
                                           obj->keep_pre, err);
    if (st != STYLIZE_OK) {
        stylize_error_prefix(err, "style image");
        return st;
    }
    stylize_net_forward(snet, xs);
    for (int i = 0; i < s->n_style; i++) {
        int c, h, w, C, Mx;
        const float *F = stylize_net_output(snet, s->style[i].layer, &c, &h, &w);
        layer_shape(obj->weights, s->style[i].layer, s->width, s->height, &C, &Mx);
        stylize_gram(obj->G[i], F, c, h * w); /* G[i] is free until the next eval */
        float k = (float)(blend * (double)Mx / ((double)h * w));
        for (size_t j = 0; j < (size_t)c * c; j++)
            obj->A[i][j] += k * obj->G[i][j];
    }
    stylize_net_free(snet);
    obj->n_styles_added++;
    update_norms(obj);
    return STYLIZE_OK;
}

/* Adds scale * g / (|g|_1 + 1e-8) into grad, where g is in obj->scratch. */
static void add_normalized(float *grad, const float *g, size_t n, double scale)
{
    double l1 = 0;
    for (size_t k = 0; k < n; k++)
        l1 += fabs(g[k]);
    float f = (float)(scale / (l1 + 1e-8));
    for (size_t k = 0; k < n; k++)
        grad[k] += f * g[k];
}

static void inject(void *user, int layer, const float *act, float *grad, int c, int h, int w)
{
    stylize_objective *obj = user;
    const stylize_objective_spec *s = &obj->spec;
    size_t n = (size_t)c * h * w;
    for (int i = 0; i < s->n_content; i++) {
        if (s->content[i].layer != layer)
            continue;
        double scale = s->alpha * s->content[i].weight * obj->content_norm[i];
        if (obj->scratch) {
            memset(obj->scratch, 0, n * sizeof(float));
            stylize_content_loss(act, obj->P[i], n, obj->scratch, 1.0f);
            add_normalized(grad, obj->scratch, n, s->alpha * s->content[i].weight);
        } else {
            stylize_content_loss(act, obj->P[i], n, grad, (float)scale);
        }
    }
    for (int i = 0; i < s->n_style; i++) {
        if (s->style[i].layer != layer)
            continue;
        double scale = s->beta * s->style[i].weight * obj->style_norm[i];
        if (obj->scratch) {
            memset(obj->scratch, 0, n * sizeof(float));
            stylize_style_grad(obj->scratch, act, obj->G[i], obj->A[i], c, h * w, 1.0f, obj->D);
            add_normalized(grad, obj->scratch, n, s->beta * s->style[i].weight);
        } else {
            stylize_style_grad(grad, act, obj->G[i], obj->A[i], c, h * w, (float)scale, obj->D);
        }
    }
}

stylize_status stylize_objective_eval(void *user, const float *x, float *grad, double *value,
                                      stylize_error *err)
{
    stylize_objective *obj = user;
    const stylize_objective_spec *s = &obj->spec;
    stylize_loss_breakdown *b = &obj->last;
    memset(b, 0, sizeof *b);
    stylize_net_forward(obj->net, x);
    for (int i = 0; i < s->n_content; i++) {
        int c, h, w, l = s->content[i].layer;
        const float *F = stylize_net_output(obj->net, l, &c, &h, &w);
        double v = stylize_content_loss(F, obj->P[i], (size_t)c * h * w, NULL, 0.0f);
        b->content_layer[l] += v;
        b->content += s->alpha * s->content[i].weight * obj->content_norm[i] * v;
    }
    for (int i = 0; i < s->n_style; i++) {
        int c, h, w, l = s->style[i].layer;
        const float *F = stylize_net_output(obj->net, l, &c, &h, &w);
        stylize_gram(obj->G[i], F, c, h * w);
        double v = stylize_style_loss(obj->G[i], obj->A[i], c, h * w);
        b->style_layer[l] += v;
        b->style += s->beta * s->style[i].weight * obj->style_norm[i] * v;
    }
    size_t nx = (size_t)3 * s->width * s->height;
    stylize_net_backward(obj->net, grad, inject, obj);
    if (s->tv > 0)
        b->tv = s->tv * stylize_tv_loss(x, 3, s->height, s->width, grad, (float)s->tv);
    b->total = b->content + b->style + b->tv;
    *value = b->total;
    if (!isfinite(b->total))
        return stylize_error_set(err, STYLIZE_ERR_NUMERIC, "loss is not finite (%g)", b->total);
    for (size_t k = 0; k < nx; k++)
        if (!isfinite(grad[k]))
            return stylize_error_set(err, STYLIZE_ERR_NUMERIC, "gradient is not finite");
    return STYLIZE_OK;
}

void stylize_objective_breakdown(const stylize_objective *obj, stylize_loss_breakdown *out)
{
    *out = obj->last;
}
