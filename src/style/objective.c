/* The style-transfer / texture objective: targets, value and gradient,
 * optionally with spatial control (one mask and one style target per region). */
#include "stylize/style/objective.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/style/losses.h"

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
    float *scratch;  /* (max loss-layer size) for normalise_gradients, else NULL */
    /* spatial tiling (spec.tile_rows): strips of tile rows of x, each run
     * with halo rows above and below */
    int tile;        /* rows per strip, a multiple of 2^(pools up to depth); 0: no tiling */
    int halo;        /* a multiple of the same */
    int nstrips;     /* strips of x (1 without tiling) */
    int strip_max;   /* height of x's network */
    int level[NL];   /* pools at or before layer i */
    int chans[NL], rows[NL], cols[NL]; /* shape of layer i for the whole x */
    float *xs, *gs;  /* (3, strip_max, width): a strip of x and its gradient, tiling only */
    /* the current strip, per layer: global row of its first row, and the
     * rows [own_lo, own_hi) of its output that it owns */
    int row0[NL], own_lo[NL], own_hi[NL];
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
    int h = height, wd = width;
    for (int i = 0; i <= layer; i++)
        if (stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_POOL)
            h /= 2, wd /= 2;
    *C = stylize_vgg19_layer_channels(w, layer), *H = h, *W = wd;
}

static void layer_shape(const stylize_weights *w, int layer, int width, int height, int *C, int *M)
{
    int h, wd;
    layer_dims(w, layer, width, height, C, &h, &wd);
    *M = h * wd;
}

/* Rows [*a, *b) of an image of H rows owned by strip t, and the rows
 * [*L, *R) it runs on (with the halo, clipped to the image). */
static void strip_rows(int H, int tile, int halo, int t, int *a, int *b, int *L, int *R)
{
    if (tile <= 0) {
        *a = *L = 0;
        *b = *R = H;
        return;
    }
    *a = t * tile;
    *b = *a + tile < H ? *a + tile : H;
    *L = *a - halo > 0 ? *a - halo : 0;
    *R = *b + halo < H ? *b + halo : H;
}

static int strip_count(int H, int tile)
{
    return tile > 0 ? (H + tile - 1) / tile : 1;
}

/* Rows of halo for strips whose starts are multiples of align: at a strip's
 * inner edge each convolution spoils one more row (its zero padding stands
 * in for rows of the neighbour) and each pooling halves the spoiled rows,
 * rounding up; every kept layer's owned rows must stay clear of them. */
static int strip_halo(int depth, int align, const unsigned char *keep)
{
    for (int halo = align;; halo += align) {
        int bad = 0, k = 0, ok = 1;
        for (int i = 0; i <= depth && ok; i++) {
            switch (stylize_vgg19_layer_kind(i)) {
            case STYLIZE_LAYER_CONV: bad++; break;
            case STYLIZE_LAYER_RELU: break;
            case STYLIZE_LAYER_POOL: bad = (bad + 1) / 2, k++; break;
            }
            if (keep[i] && bad > (halo >> k))
                ok = 0;
        }
        if (ok)
            return halo;
    }
}

/* Tiling geometry of a spec: tile rows (0: none), halo, strip height. */
static void spec_tiling(const stylize_objective_spec *s, int depth, const unsigned char *keep,
                        int *tile, int *halo, int *strip_max)
{
    int pools = 0;
    for (int i = 0; i <= depth; i++)
        pools += stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_POOL;
    int align = 1 << pools; /* strip starts line up with every pooled grid */
    *tile = 0;
    *halo = 0;
    *strip_max = s->height;
    if (s->tile_rows <= 0)
        return;
    int t = (s->tile_rows + align - 1) / align * align;
    if (t >= s->height)
        return; /* one strip: the whole image */
    *tile = t;
    *halo = strip_halo(depth, align, keep);
    *strip_max = t + 2 * *halo < s->height ? t + 2 * *halo : s->height;
}

/* Sets the current strip to rows [a, b) of x, run on rows from L. */
static void set_strip(stylize_objective *obj, int a, int b, int L)
{
    for (int i = 0; i <= obj->depth; i++) {
        int k = obj->level[i];
        obj->row0[i] = L >> k;
        obj->own_lo[i] = (a >> k) - obj->row0[i];
        obj->own_hi[i] = (b >> k) - obj->row0[i];
    }
}

/* Runs net on strip t of x (3, H, W) (all of x without tiling), with xs
 * (3, strip_max, W) for the copy of the strip, and makes it current. */
static void strip_forward(stylize_objective *obj, stylize_net *net, const float *x, int W, int H,
                          int t, float *xs)
{
    int a, b, L, R;
    strip_rows(H, obj->tile, obj->halo, t, &a, &b, &L, &R);
    set_strip(obj, a, b, L);
    if (L == 0 && R == H && stylize_net_set_height(net, H, NULL) == STYLIZE_OK) {
        stylize_net_forward(net, x);
        return;
    }
    size_t plane = (size_t)(R - L) * W;
    for (int ch = 0; ch < 3; ch++)
        memcpy(xs + ch * plane, x + ((size_t)ch * H + L) * W, plane * sizeof(float));
    stylize_net_set_height(net, R - L, NULL); /* R - L <= the network's height */
    stylize_net_forward(net, xs);
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
    if (s->tile_rows < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "tile rows %d must be >= 0", s->tile_rows);
    if (s->tile_rows > 0 && s->normalise_gradients)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "gradient normalisation needs whole layers: not with tiling");
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
    int tile, halo, strip;
    spec_tiling(s, depth, keep, &tile, &halo, &strip);
    size_t total = stylize_net_memory_bytes(w, depth, s->width, strip, keep);
    if (tile > 0)
        total += 2 * (size_t)3 * s->width * strip * sizeof(float);
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
        layer_shape(w, s->style[i].layer, s->width, strip, &C, &M);
        if ((size_t)C * M > smax)
            smax = (size_t)C * M;
    }
    total += nmax * nmax * sizeof(float);
    if (s->n_regions > 0)
        total += 2 * smax * sizeof(float);
    if (s->normalise_gradients)
        total += amax * sizeof(float);
    return total;
}

/* Style depth and the height of the style image's network (strips). */
static int style_net_height(const stylize_objective_spec *s, int depth, const unsigned char *keep,
                            int sh, int *sdepth)
{
    int tile, halo, strip;
    spec_tiling(s, depth, keep, &tile, &halo, &strip);
    *sdepth = -1;
    for (int i = 0; i < s->n_style; i++)
        if (s->style[i].layer > *sdepth)
            *sdepth = s->style[i].layer;
    return tile > 0 && sh > tile + 2 * halo ? tile + 2 * halo : sh;
}

size_t stylize_objective_style_memory_bytes(const stylize_weights *w, const stylize_objective_spec *s,
                                            int sw, int sh, int masked)
{
    unsigned char keep[NL];
    int depth = spec_depth(s), sdepth;
    if (depth < 0 || s->n_style == 0)
        return 0;
    spec_keep(s, keep);
    int snh = style_net_height(s, depth, keep, sh, &sdepth);
    size_t total = stylize_net_memory_bytes(w, sdepth, sw, snh, keep);
    if (snh < sh)
        total += (size_t)3 * sw * snh * sizeof(float);
    if (masked) {
        total += (size_t)sw * sh * sizeof(float);
        for (int i = 0; i < s->n_style; i++) {
            int C, M;
            layer_shape(w, s->style[i].layer, sw, sh, &C, &M);
            total += (size_t)M * sizeof(float);
            layer_shape(w, s->style[i].layer, sw, snh, &C, &M);
            total += (size_t)C * M * sizeof(float);
        }
    }
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
    spec_tiling(spec, obj->depth, obj->keep, &obj->tile, &obj->halo, &obj->strip_max);
    obj->nstrips = strip_count(spec->height, obj->tile);
    for (int i = 0, k = 0; i < NL; i++) {
        k += stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_POOL;
        obj->level[i] = k;
        layer_dims(w, i, spec->width, spec->height, &obj->chans[i], &obj->rows[i], &obj->cols[i]);
    }
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
        layer_shape(w, spec->style[i].layer, spec->width, obj->strip_max, &C, &M);
        if ((size_t)C * M > smax)
            smax = (size_t)C * M;
    }
    obj->D = malloc(nmax * nmax * sizeof(float));
    if (!obj->D)
        goto nomem;
    if (obj->tile > 0) {
        size_t nx = (size_t)3 * spec->width * obj->strip_max;
        obj->xs = malloc(nx * sizeof(float));
        obj->gs = malloc(nx * sizeof(float));
        if (!obj->xs || !obj->gs)
            goto nomem;
    }
    if (spec->n_regions > 0) {
        obj->fm = malloc(smax * sizeof(float));
        obj->fm2 = malloc(smax * sizeof(float));
        if (!obj->fm || !obj->fm2)
            goto nomem;
    }
    if (spec->normalise_gradients) {
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
    free(obj->xs);
    free(obj->gs);
    free(obj);
}

static void update_norms(stylize_objective *obj)
{
    const stylize_objective_spec *s = &obj->spec;
    for (int i = 0; i < s->n_content; i++) {
        obj->content_norm[i] = 1.0;
        if (s->normalise_by_target && obj->has_content) {
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
            if (s->normalise_by_target && obj->n_styles_added) {
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
    return stylize_net_create(&obj->net, obj->weights, s->pool, obj->depth, s->width,
                              obj->strip_max, obj->keep, NULL, err);
}

stylize_status stylize_objective_set_content(stylize_objective *obj, const float *xc,
                                             stylize_error *err)
{
    stylize_status st = stylize_objective_prepare(obj, err);
    if (st != STYLIZE_OK)
        return st;
    const stylize_objective_spec *s = &obj->spec;
    for (int t = 0; t < obj->nstrips; t++) {
        strip_forward(obj, obj->net, xc, s->width, s->height, t, obj->xs);
        for (int i = 0; i < s->n_content; i++) {
            int c, h, w, l = s->content[i].layer;
            const float *F = stylize_net_output(obj->net, l, &c, &h, &w);
            size_t m = (size_t)(obj->own_hi[l] - obj->own_lo[l]) * w;
            for (int ch = 0; ch < c; ch++)
                memcpy(obj->P[i] + ((size_t)ch * obj->rows[l] + obj->row0[l] + obj->own_lo[l]) * w,
                       F + ((size_t)ch * h + obj->own_lo[l]) * w, m * sizeof(float));
        }
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

/* fm (N, m) = F o mk over m positions of F (rows ld floats apart), the mask
 * broadcast over channels. */
static void apply_mask(float *fm, const float *F, size_t ld, const float *mk, int N, int m)
{
    for (int c = 0; c < N; c++)
        for (int k = 0; k < m; k++)
            fm[(size_t)c * m + k] = F[(size_t)c * ld + k] * mk[k];
}

/* G (c, c) = (first) or += the Gram matrix of the current strip's own rows
 * of layer l, whose strip output F is (c, h, w); with mask (the layer's
 * whole-image mask) the features are masked first, through fm (c, m). */
static void strip_gram(const stylize_objective *obj, float *G, const float *F, int l, int c, int h,
                       int w, const float *mask, float *fm, int first)
{
    int lo = obj->own_lo[l], m = (obj->own_hi[l] - lo) * w;
    if (m <= 0)
        return;
    if (mask) {
        apply_mask(fm, F + (size_t)lo * w, (size_t)h * w, mask + (size_t)(obj->row0[l] + lo) * w, c, m);
        stylize_gram_strided(G, fm, c, m, (size_t)m, !first);
    } else {
        stylize_gram_strided(G, F + (size_t)lo * w, c, m, (size_t)h * w, !first);
    }
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
    /* the style image runs in strips like x (whole when it fits in one) */
    int depth, snh = style_net_height(s, obj->depth, obj->keep, sh, &depth);
    int nst = strip_count(sh, obj->tile);
    stylize_net *snet = NULL;
    stylize_status st = stylize_net_create(&snet, obj->weights, s->pool, depth, sw, snh, obj->keep, NULL,
                                           err);
    if (st != STYLIZE_OK) {
        stylize_error_prefix(err, "style image");
        return st;
    }
    float *tmp = NULL, *fm = NULL, *sxs = NULL;
    float *lm[NL] = {NULL}; /* per style entry: the style mask at its layer (M) */
    if (nst > 1 && !(sxs = malloc((size_t)3 * sw * snh * sizeof(float)))) {
        st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a style image strip");
        goto done;
    }
    if (smask) {
        size_t big = 1;
        tmp = malloc((size_t)sw * sh * sizeof(float));
        if (!tmp)
            goto nomem;
        for (int i = 0; i < s->n_style; i++) {
            int C, M;
            layer_shape(obj->weights, s->style[i].layer, sw, sh, &C, &M);
            if (!(lm[i] = malloc(((size_t)M ? (size_t)M : 1) * sizeof(float))))
                goto nomem;
            obj->last_area_s[i] = mask_to_layer(lm[i], smask, sw, sh, s->style[i].layer, tmp);
            layer_shape(obj->weights, s->style[i].layer, sw, snh, &C, &M);
            if ((size_t)C * M > big)
                big = (size_t)C * M;
        }
        if (!(fm = malloc(big * sizeof(float))))
            goto nomem;
    }
    for (int t = 0; t < nst; t++) {
        strip_forward(obj, snet, xs, sw, sh, t, sxs);
        for (int i = 0; i < s->n_style; i++) {
            int c, h, w, l = s->style[i].layer;
            const float *F = stylize_net_output(snet, l, &c, &h, &w);
            /* G is free until the next eval; see last_style_grams */
            strip_gram(obj, obj->G[i][region], F, l, c, h, w, lm[i], fm, t == 0);
        }
    }
    for (int i = 0; i < s->n_style; i++) {
        int C, M;
        layer_shape(obj->weights, s->style[i].layer, sw, sh, &C, &M);
        double area_s = smask ? obj->last_area_s[i] : (double)M;
        obj->last_area_s[i] = area_s;
        if (!(area_s > 0))
            continue; /* the mask selects nothing at this layer */
        float k = (float)(blend * obj->area[i][region] / area_s);
        for (size_t j = 0; j < (size_t)C * C; j++)
            obj->A[i][region][j] += k * obj->G[i][region][j];
    }
    obj->n_styles_added++;
    update_norms(obj);
    goto done;
nomem:
    st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a style mask");
done:
    free(tmp);
    free(fm);
    free(sxs);
    for (int i = 0; i < NL; i++)
        free(lm[i]);
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
    apply_mask(obj->fm, F, ld, mk, N, m);
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
            strip_gram(obj, obj->G[i][r], F, l, c, h, w, obj->mask[i][r], obj->fm, first);
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
        strip_forward(obj, obj->net, x, W, H, t, obj->xs);
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
                strip_forward(obj, obj->net, x, W, H, t, obj->xs);
            stylize_net_backward(obj->net, obj->gs, inject, obj);
            int a, bb, L, R;
            strip_rows(H, obj->tile, obj->halo, t, &a, &bb, &L, &R);
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
