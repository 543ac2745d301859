/* The style-transfer / texture objective: targets, value and gradient,
 * optionally with spatial control (one mask and one style target per region). */
#include "stylize/objective.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/losses.h"

#define NL STYLIZE_VGG19_NLAYERS
#define NR STYLIZE_MAX_REGIONS

struct stylize_objective {
    const stylize_weights *weights; /* borrowed */
    stylize_objective_spec spec;
    int nreg;                        /* regions: spec.n_regions, or 1 without masks */
    unsigned char keep[NL];
    int depth;
    stylize_net *net;                /* at (3, height, width) */
    float *P[NL];                    /* content target per content entry: (C, H, W) */
    float *A[NL][NR];                /* style target per style entry and region: (N, N) */
    float *G[NL][NR];                /* Gram of x per style entry and region: (N, N) */
    float *mask[NL][NR];             /* per style entry and region: (M) at that layer, or NULL */
    double area[NL][NR];             /* sum of mask[i][r] (M without masks) */
    double content_norm[NL];         /* per content entry */
    double style_norm[NL][NR];       /* per style entry and region */
    double last_area_s[NL];          /* per style entry: area behind the last style Grams */
    int has_content, n_styles_added;
    float *D;        /* (Nmax, Nmax) scratch for the style gradient */
    float *fm;       /* (max style-layer size) masked features, masks only */
    float *fm2;      /* (max style-layer size) (G - A) (F o m), masks only */
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

/* The layers whose outputs the losses read: the networks keep only these
 * (lean networks, network.h). */
static void spec_keep(const stylize_objective_spec *s, unsigned char *keep)
{
    memset(keep, 0, NL);
    for (int i = 0; i < s->n_content; i++)
        keep[s->content[i].layer] = 1;
    for (int i = 0; i < s->n_style; i++)
        keep[s->style[i].layer] = 1;
}

/* Output shape of a layer for an input of (width, height): channels, rows, columns. */
static void layer_dims(const stylize_weights *w, int layer, int width, int height, int *C, int *H,
                       int *W)
{
    int c = 3, h = height, wd = width, k = 0;
    for (int i = 0; i <= layer; i++) {
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_CONV: c = w->layers[k++].out_ch; break;
        case STYLIZE_LAYER_RELU: break;
        case STYLIZE_LAYER_POOL: h /= 2, wd /= 2; break;
        }
    }
    *C = c, *H = h, *W = wd;
}

static void layer_shape(const stylize_weights *w, int layer, int width, int height, int *C, int *M)
{
    int h, wd;
    layer_dims(w, layer, width, height, C, &h, &wd);
    *M = h * wd;
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
    if (!isfinite(s->alpha) || s->alpha < 0 || !isfinite(s->beta) || s->beta < 0 ||
        !isfinite(s->tv) || s->tv < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "loss weights must be finite and >= 0");
    return STYLIZE_OK;
}

size_t stylize_objective_memory_bytes(const stylize_weights *w, const stylize_objective_spec *s)
{
    unsigned char keep[NL];
    int depth = spec_depth(s);
    if (depth < 0)
        return 0;
    spec_keep(s, keep);
    int nreg = s->n_regions > 0 ? s->n_regions : 1;
    size_t total = stylize_net_memory_bytes(w, depth, s->width, s->height, keep);
    size_t nmax = 0, amax = 0, smax = 0;
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
        total += (size_t)nreg * 2 * (size_t)C * C * sizeof(float);
        if (s->n_regions > 0)
            total += (size_t)nreg * (size_t)M * sizeof(float);
        if ((size_t)C > nmax)
            nmax = (size_t)C;
        if ((size_t)C * M > amax)
            amax = (size_t)C * M;
        if ((size_t)C * M > smax)
            smax = (size_t)C * M;
    }
    total += nmax * nmax * sizeof(float);
    if (s->n_regions > 0)
        total += 2 * smax * sizeof(float);
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
    obj->nreg = spec->n_regions > 0 ? spec->n_regions : 1;
    obj->depth = spec_depth(spec);
    spec_keep(spec, obj->keep);
    /* The network itself is created by stylize_objective_prepare, after the
     * style targets (whose temporary networks are freed by then), so that
     * the two never occupy memory together. Its size is checked now. */
    if (stylize_net_memory_bytes(w, obj->depth, spec->width, spec->height, obj->keep) == 0) {
        st = stylize_error_set(err, STYLIZE_ERR_ARG,
                               "image %dx%d is too small for layer %s (each pooling halves it)",
                               spec->width, spec->height, stylize_vgg19_layer_name(obj->depth));
        goto fail;
    }
    size_t nmax = 1, amax = 1, smax = 1;
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
        for (int r = 0; r < obj->nreg; r++) {
            obj->A[i][r] = calloc((size_t)C * C, sizeof(float));
            obj->G[i][r] = calloc((size_t)C * C, sizeof(float));
            obj->style_norm[i][r] = 1.0;
            obj->area[i][r] = M;
            if (!obj->A[i][r] || !obj->G[i][r])
                goto nomem;
            if (spec->n_regions > 0) {
                obj->mask[i][r] = calloc((size_t)M > 0 ? (size_t)M : 1, sizeof(float));
                obj->area[i][r] = 0;
                if (!obj->mask[i][r])
                    goto nomem;
            }
        }
        if ((size_t)C > nmax)
            nmax = (size_t)C;
        if ((size_t)C * M > amax)
            amax = (size_t)C * M;
        if ((size_t)C * M > smax)
            smax = (size_t)C * M;
    }
    obj->D = malloc(nmax * nmax * sizeof(float));
    if (!obj->D)
        goto nomem;
    if (spec->n_regions > 0) {
        obj->fm = malloc(smax * sizeof(float));
        obj->fm2 = malloc(smax * sizeof(float));
        if (!obj->fm || !obj->fm2)
            goto nomem;
    }
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
    for (int i = 0; i < NL; i++) {
        free(obj->P[i]);
        for (int r = 0; r < NR; r++) {
            free(obj->A[i][r]);
            free(obj->G[i][r]);
            free(obj->mask[i][r]);
        }
    }
    free(obj->D);
    free(obj->fm);
    free(obj->fm2);
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
        int C, M;
        layer_shape(obj->weights, s->style[i].layer, s->width, s->height, &C, &M);
        for (int r = 0; r < obj->nreg; r++) {
            obj->style_norm[i][r] = 1.0;
            if (s->normalize_by_target && obj->n_styles_added) {
                double e = 0;
                for (size_t k = 0; k < (size_t)C * C; k++)
                    e += (double)obj->A[i][r][k] * obj->A[i][r][k];
                double nm = (double)C * obj->area[i][r];
                e = nm > 0 ? e / (4.0 * nm * nm) : 0;
                obj->style_norm[i][r] = e > 0 ? 1.0 / e : 1.0;
            }
        }
    }
}

stylize_status stylize_objective_prepare(stylize_objective *obj, stylize_error *err)
{
    if (obj->net)
        return STYLIZE_OK;
    const stylize_objective_spec *s = &obj->spec;
    return stylize_net_create(&obj->net, obj->weights, s->pool, obj->depth, s->width, s->height,
                              obj->keep, err);
}

stylize_status stylize_objective_set_content(stylize_objective *obj, const float *xc,
                                             stylize_error *err)
{
    stylize_status st = stylize_objective_prepare(obj, err);
    if (st != STYLIZE_OK)
        return st;
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
        for (int r = 0; r < obj->nreg; r++)
            memset(obj->A[i][r], 0, (size_t)C * C * sizeof(float));
    }
    obj->n_styles_added = 0;
    update_norms(obj);
}

stylize_status stylize_objective_set_region_mask(stylize_objective *obj, int region, const float *mask,
                                                 stylize_error *err)
{
    const stylize_objective_spec *s = &obj->spec;
    if (s->n_regions <= 0 || region < 0 || region >= s->n_regions)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "mask region %d out of range", region);
    size_t n = (size_t)s->width * s->height;
    for (size_t k = 0; k < n; k++)
        if (!(mask[k] >= 0.0f && mask[k] <= 1.0f))
            return stylize_error_set(err, STYLIZE_ERR_ARG, "mask values must be in [0, 1]");
    float *tmp = malloc(n * sizeof(float));
    if (!tmp)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a mask");
    for (int i = 0; i < s->n_style; i++)
        obj->area[i][region] = mask_to_layer(obj->mask[i][region], mask, s->width, s->height,
                                             s->style[i].layer, tmp);
    free(tmp);
    update_norms(obj);
    return STYLIZE_OK;
}

stylize_status stylize_objective_add_style_region(stylize_objective *obj, int region, const float *xs,
                                                  int sw, int sh, const float *smask, double blend,
                                                  stylize_error *err)
{
    const stylize_objective_spec *s = &obj->spec;
    if (s->n_style == 0)
        return STYLIZE_OK;
    if (region < 0 || region >= obj->nreg || (smask && s->n_regions <= 0))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style region %d out of range", region);
    if (!isfinite(blend) || blend < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style blend weight %g must be >= 0", blend);
    int depth = -1;
    for (int i = 0; i < s->n_style; i++)
        if (s->style[i].layer > depth)
            depth = s->style[i].layer;
    stylize_net *snet = NULL;
    stylize_status st = stylize_net_create(&snet, obj->weights, s->pool, depth, sw, sh,
                                           obj->keep, err);
    if (st != STYLIZE_OK) {
        stylize_error_prefix(err, "style image");
        return st;
    }
    float *tmp = NULL, *lm = NULL, *fm = NULL;
    if (smask) {
        size_t n = (size_t)sw * sh, big = 0;
        for (int i = 0; i < s->n_style; i++) {
            int C, M;
            layer_shape(obj->weights, s->style[i].layer, sw, sh, &C, &M);
            if ((size_t)C * M > big)
                big = (size_t)C * M;
        }
        tmp = malloc(n * sizeof(float));
        lm = malloc(n * sizeof(float));
        fm = malloc((big ? big : 1) * sizeof(float));
        if (!tmp || !lm || !fm) {
            st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a style mask");
            goto done;
        }
    }
    stylize_net_forward(snet, xs);
    for (int i = 0; i < s->n_style; i++) {
        int c, h, w;
        const float *F = stylize_net_output(snet, s->style[i].layer, &c, &h, &w);
        double area_s = (double)h * w;
        float *G = obj->G[i][region]; /* free until the next eval; see last_style_grams */
        if (smask) {
            area_s = mask_to_layer(lm, smask, sw, sh, s->style[i].layer, tmp);
            for (int ch = 0; ch < c; ch++)
                for (size_t k = 0; k < (size_t)h * w; k++)
                    fm[(size_t)ch * h * w + k] = F[(size_t)ch * h * w + k] * lm[k];
            stylize_gram(G, fm, c, h * w);
        } else {
            stylize_gram(G, F, c, h * w);
        }
        obj->last_area_s[i] = area_s;
        if (!(area_s > 0))
            continue; /* the mask selects nothing at this layer */
        float k = (float)(blend * obj->area[i][region] / area_s);
        for (size_t j = 0; j < (size_t)c * c; j++)
            obj->A[i][region][j] += k * G[j];
    }
    obj->n_styles_added++;
    update_norms(obj);
done:
    free(tmp);
    free(lm);
    free(fm);
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
    for (int i = 0; i < s->n_style; i++) {
        int C, M;
        layer_shape(obj->weights, s->style[i].layer, s->width, s->height, &C, &M);
        memcpy(grams[i], obj->G[i][region], (size_t)C * C * sizeof(float));
        areas[i] = obj->last_area_s[i];
    }
    return STYLIZE_OK;
}

stylize_status stylize_objective_add_style_grams(stylize_objective *obj, int region,
                                                 const float *const *grams, const double *areas,
                                                 double blend, stylize_error *err)
{
    const stylize_objective_spec *s = &obj->spec;
    if (region < 0 || region >= obj->nreg)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style region %d out of range", region);
    if (!isfinite(blend) || blend < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style blend weight %g must be >= 0", blend);
    for (int i = 0; i < s->n_style; i++) {
        int C, M;
        layer_shape(obj->weights, s->style[i].layer, s->width, s->height, &C, &M);
        if (!(areas[i] > 0))
            continue;
        float k = (float)(blend * obj->area[i][region] / areas[i]);
        for (size_t j = 0; j < (size_t)C * C; j++)
            obj->A[i][region][j] += k * grams[i][j];
    }
    obj->n_styles_added++;
    update_norms(obj);
    return STYLIZE_OK;
}

/* Adds scale * g / (|g|_1 + 1e-8) into grad. */
static void add_normalized(float *grad, const float *g, size_t n, double scale)
{
    double l1 = 0;
    for (size_t k = 0; k < n; k++)
        l1 += fabs(g[k]);
    float f = (float)(scale / (l1 + 1e-8));
    for (size_t k = 0; k < n; k++)
        grad[k] += f * g[k];
}

/* fm (N, M) = F o m, the mask broadcast over channels. */
static void apply_mask(float *fm, const float *F, const float *m, int N, int M)
{
    for (int c = 0; c < N; c++)
        for (int k = 0; k < M; k++)
            fm[(size_t)c * M + k] = F[(size_t)c * M + k] * m[k];
}

/* grad (N, M) += scale / (N^2 area^2) ((G - A) (F o m)) o m. */
static void masked_style_grad(stylize_objective *obj, float *grad, const float *F, int i, int r,
                              int N, int M, double scale)
{
    double na = (double)N * obj->area[i][r];
    if (!(na > 0))
        return;
    float k = (float)(scale / (na * na));
    const float *m = obj->mask[i][r];
    apply_mask(obj->fm, F, m, N, M);
    size_t nn = (size_t)N * N;
    for (size_t j = 0; j < nn; j++)
        obj->D[j] = obj->G[i][r][j] - obj->A[i][r][j];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, M, N, 1.0f, obj->D, N, obj->fm, M,
                0.0f, obj->fm2, M);
    for (int c = 0; c < N; c++)
        for (int j = 0; j < M; j++)
            grad[(size_t)c * M + j] += k * obj->fm2[(size_t)c * M + j] * m[j];
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
        for (int r = 0; r < obj->nreg; r++) {
            double scale = s->beta * s->style[i].weight * obj->style_norm[i][r];
            float *dst = grad;
            if (obj->scratch) {
                memset(obj->scratch, 0, n * sizeof(float));
                dst = obj->scratch;
                scale = 1.0;
            }
            if (obj->mask[i][r])
                masked_style_grad(obj, dst, act, i, r, c, h * w, scale);
            else
                stylize_style_grad(dst, act, obj->G[i][r], obj->A[i][r], c, h * w, (float)scale, obj->D);
            if (obj->scratch)
                add_normalized(grad, obj->scratch, n, s->beta * s->style[i].weight);
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
    if (!obj->net) { /* prepare was not called: allocate now, once */
        stylize_status st = stylize_objective_prepare(obj, err);
        if (st != STYLIZE_OK)
            return st;
    }
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
        for (int r = 0; r < obj->nreg; r++) {
            double v = 0;
            if (obj->mask[i][r]) {
                apply_mask(obj->fm, F, obj->mask[i][r], c, h * w);
                stylize_gram(obj->G[i][r], obj->fm, c, h * w);
                double na = (double)c * obj->area[i][r];
                if (na > 0) /* the paper's E with M replaced by the region's area */
                    v = stylize_style_loss(obj->G[i][r], obj->A[i][r], c, 1) * c * c / (na * na);
            } else {
                stylize_gram(obj->G[i][r], F, c, h * w);
                v = stylize_style_loss(obj->G[i][r], obj->A[i][r], c, h * w);
            }
            b->style_layer[l] += v;
            b->style += s->beta * s->style[i].weight * obj->style_norm[i][r] * v;
        }
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
