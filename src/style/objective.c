/* The style-transfer / texture objective: creation (one block of targets
 * and scratch from the memory plan), evaluation and gradients. Targets are
 * set in targets.c, strips planned in strips.c. */
#include "stylize/style/objective.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/style/losses.h"
#include "style/objective_internal.h"

static stylize_status validate_spec(const stylize_objective_spec *s, stylize_error *err)
{
    if (s->n_content < 0 || s->n_content > NL || s->n_style < 0 || s->n_style > NL)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "too many loss layers");
    if (s->n_content + s->n_style == 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "no loss layers: nothing to optimise");
    if (s->n_regions < 0 || s->n_regions > NR)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "at most %d mask regions", NR);
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? s->n_style : s->n_content;
        const stylize_layer_weight *lw = pass ? s->style : s->content;
        for (int i = 0; i < n; i++) {
            if (lw[i].layer < 0 || lw[i].layer >= NL)
                return stylize_error_set(err, STYLIZE_ERR_ARG, "layer index %d out of range",
                                         lw[i].layer);
            if (!isfinite(lw[i].weight) || lw[i].weight < 0)
                return stylize_error_set(err, STYLIZE_ERR_ARG, "layer %s: weight %g must be >= 0",
                                         stylize_vgg19_layer_name(lw[i].layer), lw[i].weight);
        }
    }
    if (s->tile_rows < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "tile rows %d must be >= 0", s->tile_rows);
    if (s->tile_rows > 0 && s->normalise_gradients)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "gradient normalisation needs whole layers: not with tiling");
    if (!isfinite(s->alpha) || s->alpha < 0 || !isfinite(s->beta) || s->beta < 0 ||
        !isfinite(s->tv) || s->tv < 0 || !isfinite(s->photorealism) || s->photorealism < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "loss weights must be finite and >= 0");
    if (s->photorealism > 0 && (s->width < 3 || s->height < 3))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "photorealism needs an image of at least 3x3");
    return STYLIZE_OK;
}

size_t stylize_objective_memory_bytes(const stylize_weights *w, const stylize_objective_spec *s)
{
    stylize_mem dry;
    stylize_mem_init(&dry, 1);
    stylize_objective *obj = NULL;
    if (stylize_objective_create(&obj, w, s, &dry, NULL) != STYLIZE_OK)
        return 0;
    stylize_status st = stylize_objective_prepare(obj, NULL);
    stylize_objective_free(obj);
    return st == STYLIZE_OK ? dry.peak : 0;
}

size_t stylize_objective_style_memory_bytes(const stylize_weights *w, const stylize_objective_spec *s,
                                            int sw, int sh, int masked)
{
    stylize_mem dry;
    stylize_mem_init(&dry, 1);
    stylize_objective *obj = NULL;
    if (s->n_style == 0 || stylize_objective_create(&obj, w, s, &dry, NULL) != STYLIZE_OK)
        return 0;
    size_t base = dry.cur;
    dry.peak = base;
    /* a dry plan reads no pixels: any non-NULL style mask stands for one */
    const float *smask = masked ? (const float *)obj : NULL;
    stylize_status st = stylize_objective_add_style_region(obj, 0, NULL, sw, sh, smask, 1.0, NULL);
    stylize_objective_free(obj);
    return st == STYLIZE_OK ? dry.peak - base : 0;
}

/* Shapes of every layer, strips, regions. */
static void init_geometry(stylize_objective *obj, const stylize_weights *w,
                          const stylize_objective_spec *spec)
{
    obj->weights = w;
    obj->spec = *spec;
    obj->nreg = spec->n_regions > 0 ? spec->n_regions : 1;
    obj->depth = obj_spec_depth(spec);
    obj_spec_keep(spec, obj->keep);
    obj_spec_tiling(spec, obj->depth, obj->keep, &obj->tile, &obj->halo, &obj->strip_max);
    obj->nstrips = obj_strip_count(spec->height, obj->tile);
    for (int i = 0, k = 0; i < NL; i++) {
        k += stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_POOL;
        obj->level[i] = k;
        stylize_vgg19_layer_dims(w, i, spec->width, spec->height, &obj->chans[i], &obj->rows[i], &obj->cols[i]);
    }
}

/* Where a buffer goes in the block (offsets first, then pointers). */
typedef struct {
    size_t total;
    int place; /* 0: count offsets; 1: set pointers from base */
    unsigned char *base;
} carver;

static void carve(carver *c, float **p, size_t floats)
{
    size_t off = c->total;
    c->total += stylize_mem_align(floats * sizeof(float));
    if (c->place)
        *p = c->base ? (float *)(c->base + off) : NULL;
}

/* Every buffer of the objective: targets, Grams, masks and scratch. */
static void carve_all(stylize_objective *obj, carver *c)
{
    const stylize_objective_spec *s = &obj->spec;
    size_t nmax = 1, amax = 1, smax = 1;
    float *unused;
    for (int i = 0; i < s->n_content; i++) {
        int l = s->content[i].layer;
        size_t n = (size_t)obj->chans[l] * obj->rows[l] * obj->cols[l];
        carve(c, &obj->P[i], n);
        amax = n > amax ? n : amax;
    }
    for (int i = 0; i < s->n_style; i++) {
        int l = s->style[i].layer, C = obj->chans[l], hs, ws;
        size_t M = (size_t)obj->rows[l] * obj->cols[l];
        for (int r = 0; r < obj->nreg; r++) {
            carve(c, &obj->A[i][r], (size_t)C * C);
            carve(c, &obj->G[i][r], (size_t)C * C);
            if (s->n_regions > 0)
                carve(c, &obj->mask[i][r], M ? M : 1);
        }
        nmax = (size_t)C > nmax ? (size_t)C : nmax;
        amax = (size_t)C * M > amax ? (size_t)C * M : amax;
        stylize_vgg19_layer_dims(obj->weights, l, s->width, obj->strip_max, &C, &hs, &ws);
        smax = (size_t)C * hs * ws > smax ? (size_t)C * hs * ws : smax;
    }
    carve(c, &obj->D, nmax * nmax);
    if (obj->tile > 0) {
        carve(c, &obj->xs, (size_t)3 * s->width * obj->strip_max);
        carve(c, &obj->gs, (size_t)3 * s->width * obj->strip_max);
    }
    if (s->n_regions > 0) {
        carve(c, &obj->fm, smax);
        carve(c, &obj->fm2, smax);
    }
    carve(c, s->normalise_gradients ? &obj->scratch : &unused, s->normalise_gradients ? amax : 0);
}

/* The photorealism term's Laplacian (its windows are set with the content)
 * and x's pixel conversion, channel by channel of x. */
static stylize_status photo_create(stylize_objective *obj, const stylize_weights *w, stylize_error *err)
{
    const stylize_objective_spec *s = &obj->spec;
    if (!(s->photorealism > 0))
        return STYLIZE_OK;
    for (int k = 0; k < 3; k++) {
        obj->pix_a[k] = w->input.std[k] / w->input.pixel_scale;
        obj->pix_b[k] = w->input.mean[k] / w->input.pixel_scale;
    }
    return stylize_matting_create(&obj->matting, s->width, s->height, STYLIZE_MATTING_EPS, obj->mem, err);
}

stylize_status stylize_objective_create(stylize_objective **out, const stylize_weights *w,
                                        const stylize_objective_spec *spec, stylize_mem *mem,
                                        stylize_error *err)
{
    stylize_status st;
    *out = NULL;
    if ((st = validate_spec(spec, err)) != STYLIZE_OK)
        return st;
    /* the network for x is created by stylize_objective_prepare, after the
     * style targets (whose temporary networks are freed by then), so that the
     * two never occupy memory together; its size is checked now */
    if (!stylize_net_fits(obj_spec_depth(spec), spec->width, spec->height))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "image %dx%d is too small for layer %s (each pooling halves it)",
                                 spec->width, spec->height,
                                 stylize_vgg19_layer_name(obj_spec_depth(spec)));
    stylize_objective *obj = calloc(1, sizeof *obj);
    if (!obj)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory creating the objective");
    obj->mem = mem;
    obj->dry = stylize_mem_is_dry(mem);
    init_geometry(obj, w, spec);
    carver c = {0, 0, NULL};
    carve_all(obj, &c);
    void *block = NULL;
    if ((st = stylize_mem_calloc(mem, &block, c.total, "loss targets", err)) != STYLIZE_OK) {
        free(obj);
        return st;
    }
    obj->block = block;
    obj->block_bytes = c.total;
    carver place = {0, 1, obj->block};
    carve_all(obj, &place);
    for (int i = 0; i < NL; i++) {
        int l = i < spec->n_style ? spec->style[i].layer : 0;
        obj->content_norm[i] = 1.0;
        for (int r = 0; r < NR; r++) { /* per style entry: masks set their areas later */
            obj->style_norm[i][r] = 1.0;
            obj->area[i][r] = spec->n_regions > 0 ? 0.0 : (double)obj->rows[l] * obj->cols[l];
        }
    }
    if ((st = photo_create(obj, w, err)) != STYLIZE_OK) {
        stylize_objective_free(obj);
        return st;
    }
    *out = obj;
    return STYLIZE_OK;
}

void stylize_objective_free(stylize_objective *obj)
{
    if (!obj)
        return;
    stylize_matting_free(obj->matting);
    stylize_net_free(obj->net);
    stylize_mem_free(obj->mem, obj->block, obj->block_bytes);
    free(obj);
}

stylize_status stylize_objective_prepare(stylize_objective *obj, stylize_error *err)
{
    if (obj->net)
        return STYLIZE_OK;
    const stylize_objective_spec *s = &obj->spec;
    return stylize_net_create(&obj->net, obj->weights, s->pool, obj->depth, s->width,
                              obj->strip_max, obj->keep, obj->mem, err);
}

/* Adds scale * g / (|g|_1 + 1e-8) into grad. */
static void add_normalised(float *grad, const float *g, size_t n, double scale)
{
    double l1 = 0;
    for (size_t k = 0; k < n; k++)
        l1 += fabs(g[k]);
    float f = (float)(scale / (l1 + 1e-8));
    for (size_t k = 0; k < n; k++)
        grad[k] += f * g[k];
}

/* grad (N, m) += scale / (N^2 area^2) ((G - A) (F o mk)) o mk over m
 * positions of grad and F (rows ld floats apart), mk the region's mask there. */
static void masked_style_grad(stylize_objective *obj, float *grad, const float *F, size_t ld,
                              const float *mk, int i, int r, int N, int m, double scale)
{
    double na = (double)N * obj->area[i][r];
    if (!(na > 0))
        return;
    float k = (float)(scale / (na * na));
    obj_apply_mask(obj->fm, F, ld, mk, N, m);
    size_t nn = (size_t)N * N;
    for (size_t j = 0; j < nn; j++)
        obj->D[j] = obj->G[i][r][j] - obj->A[i][r][j];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, m, N, 1.0f, obj->D, N, obj->fm, m,
                0.0f, obj->fm2, m);
    for (int c = 0; c < N; c++)
        for (int j = 0; j < m; j++)
            grad[(size_t)c * ld + j] += k * obj->fm2[(size_t)c * m + j] * mk[j];
}

/* 1/2 sum (F - P)^2 over the current strip's own rows of content entry i
 * (F: the strip's (c, h, w) output); grad (like F), if given, += scale (F - P). */
static double content_rows(const stylize_objective *obj, int i, const float *F, int c, int h, int w,
                           float *grad, float scale)
{
    int l = obj->spec.content[i].layer, lo = obj->own_lo[l];
    size_t m = (size_t)(obj->own_hi[l] - lo) * w;
    double v = 0;
    for (int ch = 0; ch < c; ch++) {
        size_t off = ((size_t)ch * h + lo) * w;
        v += stylize_content_loss(F + off, obj->P[i] + ((size_t)ch * obj->rows[l] + obj->row0[l] + lo) * w,
                                  m, grad ? grad + off : NULL, scale);
    }
    return v;
}

/* The style gradient of entry i, region r over the current strip's own rows. */
static void style_rows_grad(stylize_objective *obj, int i, int r, const float *F, float *grad, int c,
                            int h, int w, double scale)
{
    int l = obj->spec.style[i].layer, lo = obj->own_lo[l], m = (obj->own_hi[l] - lo) * w;
    size_t off = (size_t)lo * w, ld = (size_t)h * w;
    if (m <= 0)
        return;
    if (obj->mask[i][r])
        masked_style_grad(obj, grad + off, F + off, ld,
                          obj->mask[i][r] + (size_t)(obj->row0[l] + lo) * w, i, r, c, m, scale);
    else
        stylize_style_grad_strided(grad + off, F + off, ld, c, m, (double)obj->rows[l] * w,
                                   obj->G[i][r], obj->A[i][r], (float)scale, obj->D);
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
        if (obj->scratch) { /* no tiling: the strip is the whole layer */
            memset(obj->scratch, 0, n * sizeof(float));
            content_rows(obj, i, act, c, h, w, obj->scratch, 1.0f);
            add_normalised(grad, obj->scratch, n, s->alpha * s->content[i].weight);
        } else {
            content_rows(obj, i, act, c, h, w, grad, (float)scale);
        }
    }
    for (int i = 0; i < s->n_style; i++) {
        if (s->style[i].layer != layer)
            continue;
        for (int r = 0; r < obj->nreg; r++) {
            double scale = s->beta * s->style[i].weight * obj->style_norm[i][r];
            float *dst = grad;
            if (obj->scratch) {
                memset(obj->scratch, 0, n * sizeof(float));
                dst = obj->scratch;
                scale = 1.0;
            }
            style_rows_grad(obj, i, r, act, dst, c, h, w, scale);
            if (obj->scratch)
                add_normalised(grad, obj->scratch, n, s->beta * s->style[i].weight);
        }
    }
}

/* Adds the current strip's contributions to the content losses (into b) and
 * to the Gram matrices of x (first strip: sets them). */
static void accumulate_strip(stylize_objective *obj, int first, stylize_loss_breakdown *b)
{
    const stylize_objective_spec *s = &obj->spec;
    for (int i = 0; i < s->n_content; i++) {
        int c, h, w, l = s->content[i].layer;
        const float *F = stylize_net_output(obj->net, l, &c, &h, &w);
        double v = content_rows(obj, i, F, c, h, w, NULL, 0.0f);
        b->content_layer[l] += v;
        b->content += s->alpha * s->content[i].weight * obj->content_norm[i] * v;
    }
    for (int i = 0; i < s->n_style; i++) {
        int c, h, w, l = s->style[i].layer;
        const float *F = stylize_net_output(obj->net, l, &c, &h, &w);
        for (int r = 0; r < obj->nreg; r++)
            obj_strip_gram(obj, obj->G[i][r], F, l, c, h, w, obj->mask[i][r], obj->fm, first);
    }
}

stylize_status stylize_objective_eval(void *user, const float *x, float *grad, double *value,
                                      stylize_error *err)
{
    stylize_objective *obj = user;
    const stylize_objective_spec *s = &obj->spec;
    stylize_loss_breakdown *b = &obj->last;
    memset(b, 0, sizeof *b);
    if (!obj->net) { /* prepare was not called: allocate now, once */
        stylize_status st = stylize_objective_prepare(obj, err);
        if (st != STYLIZE_OK)
            return st;
    }
    int W = s->width, H = s->height, T = obj->nstrips;
    /* pass 1: every strip's forward; content sums and Gram matrices */
    for (int t = 0; t < T; t++) {
        obj_strip_forward(obj, obj->net, x, W, H, t, obj->xs, INT_MAX);
        accumulate_strip(obj, t == 0, b);
    }
    for (int i = 0; i < s->n_style; i++) {
        int l = s->style[i].layer, c = obj->chans[l];
        for (int r = 0; r < obj->nreg; r++) {
            double v = 0;
            if (obj->mask[i][r]) {
                double na = (double)c * obj->area[i][r];
                if (na > 0) /* the paper's E with M replaced by the region's area */
                    v = stylize_style_loss(obj->G[i][r], obj->A[i][r], c, 1) * c * c / (na * na);
            } else {
                v = stylize_style_loss(obj->G[i][r], obj->A[i][r], c, obj->rows[l] * obj->cols[l]);
            }
            b->style_layer[l] += v;
            b->style += s->beta * s->style[i].weight * obj->style_norm[i][r] * v;
        }
    }
    /* pass 2: each strip's backward (the last strip's forward is still there) */
    size_t nx = (size_t)3 * W * H;
    if (T == 1) {
        stylize_net_backward(obj->net, grad, inject, obj);
    } else {
        memset(grad, 0, nx * sizeof(float));
        for (int t = T - 1; t >= 0; t--) {
            if (t != T - 1)
                obj_strip_forward(obj, obj->net, x, W, H, t, obj->xs, INT_MAX);
            stylize_net_backward(obj->net, obj->gs, inject, obj);
            int a, bb, L, R;
            obj_strip_rows(H, obj->tile, obj->halo, t, &a, &bb, &L, &R);
            size_t plane = (size_t)(R - L) * W;
            for (int ch = 0; ch < 3; ch++) {
                float *dst = grad + ((size_t)ch * H + L) * W;
                const float *src = obj->gs + ch * plane;
                for (size_t k = 0; k < plane; k++)
                    dst[k] += src[k];
            }
        }
    }
    if (s->tv > 0)
        b->tv = s->tv * stylize_tv_loss(x, 3, s->height, s->width, grad, (float)s->tv);
    if (obj->matting) {
        b->matting = stylize_matting_loss(obj->matting, x, obj->pix_a, grad, s->photorealism);
        b->photo = s->photorealism * b->matting;
    }
    b->total = b->content + b->style + b->tv + b->photo;
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
