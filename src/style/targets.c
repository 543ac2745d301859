/* The objective's targets: content features, style Gram matrices (of whole
 * style images, of masked parts, or reused from a batch's cache), region
 * masks carried down the layers, and the random-feature normalisation.
 * Temporary buffers come from the objective's memory plan; on a dry plan
 * they are counted and nothing is computed. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "stylize/style/losses.h"
#include "style/objective_internal.h"

static void layer_shape(const stylize_weights *w, int layer, int width, int height, int *C, int *M)
{
    int h, wd;
    stylize_vgg19_layer_dims(w, layer, width, height, C, &h, &wd);
    *M = h * wd;
}

void obj_update_norms(stylize_objective *obj)
{
    const stylize_objective_spec *s = &obj->spec;
    for (int i = 0; i < s->n_content; i++) {
        obj->content_norm[i] = 1.0;
        if (s->normalise_by_target && obj->has_content && !obj->dry) {
            int C, M;
            layer_shape(obj->weights, s->content[i].layer, s->width, s->height, &C, &M);
            double e = 0;
            for (size_t k = 0; k < (size_t)C * M; k++)
                e += (double)obj->P[i][k] * obj->P[i][k];
            obj->content_norm[i] = e > 0 ? 1.0 / (0.5 * e) : 1.0;
        }
    }
    for (int i = 0; i < s->n_style; i++) {
        int C = obj->chans[s->style[i].layer];
        for (int r = 0; r < obj->nreg; r++) {
            obj->style_norm[i][r] = 1.0;
            if (s->normalise_by_target && obj->n_styles_added && !obj->dry) {
                double e = 0;
                for (size_t k = 0; k < (size_t)C * C; k++)
                    e += (double)obj->A[i][r][k] * obj->A[i][r][k];
                double nm = (double)C * obj->area[i][r];
                e = nm > 0 ? e / (4.0 * nm * nm) : 0;
                obj->style_norm[i][r] = e > 0 ? 1.0 / e : 1.0;
            }
            if (s->region_area_weights && s->n_regions > 0) {
                int l = s->style[i].layer;
                obj->style_norm[i][r] *= obj->area[i][r] / ((double)obj->rows[l] * obj->cols[l]);
            }
        }
    }
}

stylize_status stylize_objective_set_content(stylize_objective *obj, const float *xc,
                                             stylize_error *err)
{
    stylize_status st = stylize_objective_prepare(obj, err);
    if (st != STYLIZE_OK || obj->dry)
        return st;
    const stylize_objective_spec *s = &obj->spec;
    int deepest = 0; /* the forward stops there: the targets need nothing deeper */
    for (int i = 0; i < s->n_content; i++)
        deepest = s->content[i].layer > deepest ? s->content[i].layer : deepest;
    for (int t = 0; t < obj->nstrips; t++) {
        obj_strip_forward(obj, obj->net, xc, s->width, s->height, t, obj->xs, deepest);
        for (int i = 0; i < s->n_content; i++) {
            int c, h, w, l = s->content[i].layer;
            const float *F = stylize_net_output(obj->net, l, &c, &h, &w);
            size_t m = (size_t)(obj->own_hi[l] - obj->own_lo[l]) * w;
            for (int ch = 0; ch < c; ch++)
                memcpy(obj->P[i] + ((size_t)ch * obj->rows[l] + obj->row0[l] + obj->own_lo[l]) * w,
                       F + ((size_t)ch * h + obj->own_lo[l]) * w, m * sizeof(float));
        }
    }
    if (obj->matting)
        stylize_matting_set_image(obj->matting, xc, obj->pix_a, obj->pix_b);
    obj->has_content = 1;
    obj_update_norms(obj);
    return STYLIZE_OK;
}

void stylize_objective_clear_style(stylize_objective *obj)
{
    for (int i = 0; i < obj->spec.n_style && !obj->dry; i++) {
        int C = obj->chans[obj->spec.style[i].layer];
        for (int r = 0; r < obj->nreg; r++)
            memset(obj->A[i][r], 0, (size_t)C * C * sizeof(float));
    }
    obj->n_styles_added = 0;
    obj_update_norms(obj);
}

/* out (M at layer) = mask (height, width) carried to the layer by 2x2
 * averaging at each pooling; tmp holds height*width floats. Returns the sum. */
static double mask_to_layer(float *out, const float *mask, int width, int height, int layer,
                            float *tmp)
{
    int h = height, w = width;
    memcpy(tmp, mask, (size_t)w * h * sizeof(float));
    for (int i = 0; i <= layer; i++) {
        if (stylize_vgg19_layer_kind(i) != STYLIZE_LAYER_POOL)
            continue;
        int h2 = h / 2, w2 = w / 2;
        for (int y = 0; y < h2; y++)
            for (int x = 0; x < w2; x++) {
                const float *p = tmp + (size_t)(2 * y) * w + 2 * x;
                tmp[(size_t)y * w2 + x] = 0.25f * (p[0] + p[1] + p[w] + p[w + 1]);
            }
        h = h2, w = w2;
    }
    double sum = 0;
    for (size_t k = 0; k < (size_t)w * h; k++) {
        out[k] = tmp[k];
        sum += tmp[k];
    }
    return sum;
}

stylize_status stylize_objective_set_region_mask(stylize_objective *obj, int region, const float *mask,
                                                 stylize_error *err)
{
    const stylize_objective_spec *s = &obj->spec;
    if (s->n_regions <= 0 || region < 0 || region >= s->n_regions)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "mask region %d out of range", region);
    size_t n = (size_t)s->width * s->height;
    for (size_t k = 0; k < n && !obj->dry; k++)
        if (!(mask[k] >= 0.0f && mask[k] <= 1.0f))
            return stylize_error_set(err, STYLIZE_ERR_ARG, "mask values must be in [0, 1]");
    void *tmp = NULL;
    stylize_status st = stylize_mem_alloc(obj->mem, &tmp, n * sizeof(float), "a mask", err);
    if (st != STYLIZE_OK)
        return st;
    for (int i = 0; i < s->n_style && !obj->dry; i++)
        obj->area[i][region] = mask_to_layer(obj->mask[i][region], mask, s->width, s->height,
                                             s->style[i].layer, tmp);
    stylize_mem_free(obj->mem, tmp, n * sizeof(float));
    obj_update_norms(obj);
    return STYLIZE_OK;
}

void obj_apply_mask(float *fm, const float *F, size_t ld, const float *mk, int N, int m)
{
    for (int c = 0; c < N; c++)
        for (int k = 0; k < m; k++)
            fm[(size_t)c * m + k] = F[(size_t)c * ld + k] * mk[k];
}

void obj_strip_gram(const stylize_objective *obj, float *G, const float *F, int l, int c, int h,
                    int w, const float *mask, float *fm, int first)
{
    int lo = obj->own_lo[l], m = (obj->own_hi[l] - lo) * w;
    if (m <= 0)
        return;
    if (mask) {
        obj_apply_mask(fm, F + (size_t)lo * w, (size_t)h * w, mask + (size_t)(obj->row0[l] + lo) * w,
                       c, m);
        stylize_gram_strided(G, fm, c, m, (size_t)m, !first);
    } else {
        stylize_gram_strided(G, F + (size_t)lo * w, c, m, (size_t)h * w, !first);
    }
}

/* Style depth and the height of the style image's network (strips). */
static int style_net_height(const stylize_objective *obj, int sh, int *sdepth)
{
    const stylize_objective_spec *s = &obj->spec;
    *sdepth = -1;
    for (int i = 0; i < s->n_style; i++)
        if (s->style[i].layer > *sdepth)
            *sdepth = s->style[i].layer;
    return obj->tile > 0 && sh > obj->tile + 2 * obj->halo ? obj->tile + 2 * obj->halo : sh;
}

/* The temporary buffers of one style image: the strip copy, the mask and
 * the style mask at each style layer, the masked features. One block. */
typedef struct {
    void *block;
    size_t bytes;
    float *sxs;           /* (3, snh, sw) a strip of the style image, several strips only */
    float *tmp;           /* (sh, sw) mask scratch, style masks only */
    float *lm[NL];        /* per style entry: the style mask at its layer (M) */
    float *fm;            /* (max C M of a strip) masked features */
} style_temps;

static stylize_status style_temps_alloc(stylize_objective *obj, style_temps *t, int sw, int sh,
                                        int snh, int strips, int masked, stylize_error *err)
{
    const stylize_objective_spec *s = &obj->spec;
    size_t off[NL + 3], total = 0, big = 1;
    memset(t, 0, sizeof *t);
    off[0] = total, total += strips > 1 ? stylize_mem_align((size_t)3 * sw * snh * sizeof(float)) : 0;
    off[1] = total, total += masked ? stylize_mem_align((size_t)sw * sh * sizeof(float)) : 0;
    for (int i = 0; masked && i < s->n_style; i++) {
        int C, M;
        layer_shape(obj->weights, s->style[i].layer, sw, sh, &C, &M);
        off[3 + i] = total, total += stylize_mem_align(((size_t)M ? (size_t)M : 1) * sizeof(float));
        layer_shape(obj->weights, s->style[i].layer, sw, snh, &C, &M);
        if ((size_t)C * M > big)
            big = (size_t)C * M;
    }
    off[2] = total, total += masked ? stylize_mem_align(big * sizeof(float)) : 0;
    stylize_status st = stylize_mem_alloc(obj->mem, &t->block, total, "style image buffers", err);
    if (st != STYLIZE_OK)
        return st;
    t->bytes = total; /* counted on a dry plan too */
    if (!t->block)
        return STYLIZE_OK;
    unsigned char *b = t->block;
    t->sxs = strips > 1 ? (float *)(b + off[0]) : NULL;
    t->tmp = masked ? (float *)(b + off[1]) : NULL;
    t->fm = masked ? (float *)(b + off[2]) : NULL;
    for (int i = 0; masked && i < s->n_style; i++)
        t->lm[i] = (float *)(b + off[3 + i]);
    return STYLIZE_OK;
}

/* The style image's Gram matrices into G[.][region], strip by strip. */
static void style_grams(stylize_objective *obj, stylize_net *snet, style_temps *t, int region,
                        const float *xs, int sw, int sh, int strips)
{
    const stylize_objective_spec *s = &obj->spec;
    for (int k = 0; k < strips; k++) {
        obj_strip_forward(obj, snet, xs, sw, sh, k, t->sxs, INT_MAX);
        for (int i = 0; i < s->n_style; i++) {
            int c, h, w, l = s->style[i].layer;
            const float *F = stylize_net_output(snet, l, &c, &h, &w);
            /* G is free until the next eval; see last_style_grams */
            obj_strip_gram(obj, obj->G[i][region], F, l, c, h, w, t->lm[i], t->fm, k == 0);
        }
    }
}

/* A_l,r += blend * (area_x / area_s) grams[i]. */
static void add_targets(stylize_objective *obj, int region, const float *const *grams,
                        const double *areas, double blend)
{
    const stylize_objective_spec *s = &obj->spec;
    for (int i = 0; i < s->n_style; i++) {
        int C = obj->chans[s->style[i].layer];
        if (!(areas[i] > 0))
            continue; /* the mask selects nothing at this layer */
        float k = (float)(blend * obj->area[i][region] / areas[i]);
        for (size_t j = 0; j < (size_t)C * C; j++)
            obj->A[i][region][j] += k * grams[i][j];
    }
    obj->n_styles_added++;
    obj_update_norms(obj);
}

static stylize_status check_style_args(const stylize_objective *obj, int region, int masked,
                                       double blend, stylize_error *err)
{
    if (region < 0 || region >= obj->nreg || (masked && obj->spec.n_regions <= 0))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style region %d out of range", region);
    if (!isfinite(blend) || blend < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style blend weight %g must be >= 0", blend);
    return STYLIZE_OK;
}

stylize_status stylize_objective_add_style_region(stylize_objective *obj, int region, const float *xs,
                                                  int sw, int sh, const float *smask, double blend,
                                                  stylize_error *err)
{
    const stylize_objective_spec *s = &obj->spec;
    if (s->n_style == 0)
        return STYLIZE_OK;
    stylize_status st = check_style_args(obj, region, smask != NULL, blend, err);
    if (st != STYLIZE_OK)
        return st;
    /* the style image runs in strips like x (whole when it fits in one) */
    int depth, snh = style_net_height(obj, sh, &depth), strips = obj_strip_count(sh, obj->tile);
    stylize_net *snet = NULL;
    style_temps t;
    if ((st = stylize_net_create(&snet, obj->weights, s->pool, depth, sw, snh, obj->keep, obj->mem,
                                 err)) != STYLIZE_OK) {
        stylize_error_prefix(err, "style image");
        return st;
    }
    if ((st = style_temps_alloc(obj, &t, sw, sh, snh, strips, smask != NULL, err)) == STYLIZE_OK &&
        !obj->dry) {
        for (int i = 0; smask && i < s->n_style; i++)
            obj->last_area_s[i] = mask_to_layer(t.lm[i], smask, sw, sh, s->style[i].layer, t.tmp);
        for (int i = 0; !smask && i < s->n_style; i++) {
            int C, M;
            layer_shape(obj->weights, s->style[i].layer, sw, sh, &C, &M);
            obj->last_area_s[i] = (double)M;
        }
        style_grams(obj, snet, &t, region, xs, sw, sh, strips);
        float *grams[NL];
        for (int i = 0; i < s->n_style; i++)
            grams[i] = obj->G[i][region];
        add_targets(obj, region, (const float *const *)grams, obj->last_area_s, blend);
    }
    stylize_mem_free(obj->mem, t.block, t.bytes);
    stylize_net_free(snet);
    return st;
}

stylize_status stylize_objective_add_style(stylize_objective *obj, const float *xs, int sw, int sh,
                                           double blend, stylize_error *err)
{
    return stylize_objective_add_style_region(obj, 0, xs, sw, sh, NULL, blend, err);
}

stylize_status stylize_objective_last_style_grams(const stylize_objective *obj, int region,
                                                  float *const *grams, double *areas)
{
    const stylize_objective_spec *s = &obj->spec;
    if (region < 0 || region >= obj->nreg)
        return STYLIZE_ERR_ARG;
    for (int i = 0; i < s->n_style && !obj->dry; i++) {
        int C = obj->chans[s->style[i].layer];
        memcpy(grams[i], obj->G[i][region], (size_t)C * C * sizeof(float));
        areas[i] = obj->last_area_s[i];
    }
    return STYLIZE_OK;
}

stylize_status stylize_objective_add_style_grams(stylize_objective *obj, int region,
                                                 const float *const *grams, const double *areas,
                                                 double blend, stylize_error *err)
{
    stylize_status st = check_style_args(obj, region, 0, blend, err);
    if (st == STYLIZE_OK && !obj->dry)
        add_targets(obj, region, grams, areas, blend);
    return st;
}
