/* One complete run: sizes, scales, targets, optimisation, outputs, report. */
#include "stylize/run/run.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stylize/core/rng.h"
#include "stylize/run/testing.h"
#include "stylize/style/colour.h"
#include "stylize/io/report.h"

stylize_status stylize_parse_layers(const char *s, stylize_layer_weight *out, int *n,
                                    stylize_error *err)
{
    char item[64];
    int count = 0;
    const char *p = s;
    if (!s || !*s)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "empty layer list");
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof item)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "bad layer item in '%s'", s);
        memcpy(item, p, len);
        item[len] = '\0';
        double weight = 1.0;
        char *colon = strchr(item, ':');
        if (colon) {
            char *end = NULL;
            *colon = '\0';
            errno = 0;
            weight = strtod(colon + 1, &end);
            if (errno || end == colon + 1 || *end || !isfinite(weight) || weight < 0)
                return stylize_error_set(err, STYLIZE_ERR_ARG,
                                         "layer '%s': weight '%s' is not a number >= 0", item,
                                         colon + 1);
        }
        int idx = stylize_vgg19_layer_index(item);
        if (idx < 0)
            return stylize_error_set(err, STYLIZE_ERR_ARG,
                                     "unknown layer '%s' (layers are conv1_1, relu1_1, ..., pool5)",
                                     item);
        if (count >= STYLIZE_VGG19_NLAYERS)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "too many layers in '%s'", s);
        out[count].layer = idx;
        out[count].weight = weight;
        count++;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p)
                return stylize_error_set(err, STYLIZE_ERR_ARG, "trailing comma in '%s'", s);
        }
    }
    *n = count;
    return STYLIZE_OK;
}

void stylize_run_defaults(stylize_run_config *c)
{
    memset(c, 0, sizeof *c);
    c->pool = STYLIZE_POOL_AVG; /* the paper: average pooling gives slightly more appealing results */
    c->size = 512;
    c->style_scale = 1.0;
    c->alpha = 1.0;
    c->beta = 1e3;
    c->tv = 0.0;
    c->init = STYLIZE_INIT_CONTENT;
    c->seed = 0;
    c->optimizer = STYLIZE_OPTIM_LBFGS;
    c->iterations = 500;
    c->tile_rows = STYLIZE_TILE_AUTO;
    c->lbfgs_history = 10;
    c->learning_rate = 1.0;
    c->tol_change = 1e-7;
    c->jpeg_quality = 95;
    c->print_every = 10;
    for (int i = 0; i < STYLIZE_MAX_STYLES; i++)
        c->style_blend[i] = 1.0;
}

double stylize_default_beta(const stylize_input_convention *c)
{
    double sd = (c->std[0] + c->std[1] + c->std[2]) / 3.0;
    double scale = sd > 0 ? c->pixel_scale / sd : 255.0;
    if (!(scale > 0) || !isfinite(scale))
        return 1e3;
    double r = 255.0 / scale;
    return 1e3 * r * r;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fault injection (stylize/run/testing.h): evaluation whose loss becomes NaN. */
static int g_inject_nan_at;

void stylize_testing_inject_nan(int evaluation)
{
    g_inject_nan_at = evaluation > 0 ? evaluation : 0;
}

/* Everything one scale's optimisation callbacks need. */
typedef struct {
    const stylize_run_config *cfg;
    stylize_objective *obj;
    int scale_index, width, height, max_iterations;
    double t0;
    /* The breakdowns of the last evaluations, to report the accepted iterate's. */
    double ring_value[4];
    stylize_loss_breakdown ring[4];
    int ring_next;
    stylize_report *report;
    stylize_image *snapshot; /* preallocated (width x height) */
    stylize_run_progress_fn progress;
    void *puser;
    int evaluations;
    int good_evaluations; /* evaluations that returned a finite loss */
} scale_ctx;

static stylize_status eval_fn(void *user, const float *x, float *grad, double *value,
                              stylize_error *err)
{
    scale_ctx *s = user;
    stylize_status st = stylize_objective_eval(s->obj, x, grad, value, err);
    s->evaluations++;
    if (st == STYLIZE_OK && g_inject_nan_at > 0 && s->evaluations >= g_inject_nan_at) {
        *value = NAN; /* fault injection for tests: as if the loss had overflowed */
        st = stylize_error_set(err, STYLIZE_ERR_NUMERIC, "loss is not finite (nan)");
    }
    if (st != STYLIZE_OK)
        return st;
    s->good_evaluations++;
    int k = s->ring_next++ & 3;
    s->ring_value[k] = *value;
    stylize_objective_breakdown(s->obj, &s->ring[k]);
    if (s->cfg->stop_flag && *s->cfg->stop_flag)
        return stylize_error_set(err, STYLIZE_ERR_INTERRUPTED, "interrupted");
    return STYLIZE_OK;
}

static const stylize_loss_breakdown *find_breakdown(const scale_ctx *s, double value)
{
    for (int i = 0; i < 4; i++) {
        int k = (s->ring_next - 1 - i) & 3;
        if (s->ring_value[k] == value)
            return &s->ring[k];
    }
    return &s->ring[(s->ring_next - 1) & 3];
}

/* One style image's Gram matrices at one size, per style entry. */
typedef struct {
    int style, sw, sh, n;
    float *grams[STYLIZE_VGG19_NLAYERS];  /* (N_i, N_i) each */
    double areas[STYLIZE_VGG19_NLAYERS];
} cache_entry;

struct stylize_style_cache {
    cache_entry *entries;
    int n, cap, hits;
};

stylize_status stylize_style_cache_create(stylize_style_cache **out, stylize_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? STYLIZE_OK : stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory");
}

void stylize_style_cache_free(stylize_style_cache *cache)
{
    if (!cache)
        return;
    for (int e = 0; e < cache->n; e++)
        for (int i = 0; i < cache->entries[e].n; i++)
            free(cache->entries[e].grams[i]);
    free(cache->entries);
    free(cache);
}

int stylize_style_cache_hits(const stylize_style_cache *cache)
{
    return cache ? cache->hits : 0;
}

static cache_entry *cache_find(stylize_style_cache *cache, int style, int sw, int sh)
{
    for (int e = 0; cache && e < cache->n; e++)
        if (cache->entries[e].style == style && cache->entries[e].sw == sw && cache->entries[e].sh == sh)
            return &cache->entries[e];
    return NULL;
}

/* Saves the Gram matrices the objective just computed for style i at (sw, sh).
 * A failure to allocate only means no caching. */
static void cache_store(stylize_style_cache *cache, const stylize_weights *w,
                        const stylize_objective_spec *spec, stylize_objective *obj, int region,
                        int style, int sw, int sh)
{
    if (!cache)
        return;
    if (cache->n == cache->cap) {
        int nc = cache->cap ? 2 * cache->cap : 8;
        cache_entry *ne = realloc(cache->entries, (size_t)nc * sizeof *ne);
        if (!ne)
            return;
        cache->entries = ne;
        cache->cap = nc;
    }
    cache_entry *e = &cache->entries[cache->n];
    memset(e, 0, sizeof *e);
    e->style = style, e->sw = sw, e->sh = sh, e->n = spec->n_style;
    for (int i = 0; i < spec->n_style; i++) {
        int c = stylize_vgg19_layer_channels(w, spec->style[i].layer);
        e->grams[i] = malloc((size_t)c * c * sizeof(float));
        if (!e->grams[i]) {
            for (int j = 0; j < i; j++)
                free(e->grams[j]);
            return;
        }
    }
    if (stylize_objective_last_style_grams(obj, region, e->grams, e->areas) != STYLIZE_OK) {
        for (int i = 0; i < spec->n_style; i++)
            free(e->grams[i]);
        return;
    }
    cache->n++;
}

/* "out.png" + 12 -> "out_0012.png" */
static void snapshot_path(char *buf, size_t cap, const char *out, int iteration)
{
    const char *slash = strrchr(out, '/');
    const char *dot = strrchr(out, '.');
    if (!dot || (slash && dot < slash))
        dot = out + strlen(out);
    snprintf(buf, cap, "%.*s_%04d%s", (int)(dot - out), out, iteration, dot);
}

static int progress_fn(void *user, const stylize_opt_progress *p)
{
    scale_ctx *s = user;
    const stylize_run_config *c = s->cfg;
    const stylize_loss_breakdown *b = find_breakdown(s, p->value);
    double t = now_seconds() - s->t0;
    int last = p->iteration >= s->max_iterations;
    if (s->report && (p->iteration % (c->print_every > 0 ? c->print_every : 1) == 0 || last))
        stylize_report_add(s->report, s->scale_index, p->iteration, p->evaluations, t, p->value, b);
    if (c->save_every > 0 && p->iteration > 0 && p->iteration % c->save_every == 0 && s->snapshot &&
        c->output_path) {
        char path[4096];
        stylize_error e;
        snapshot_path(path, sizeof path, c->output_path, p->iteration);
        stylize_image_from_input(s->snapshot, &c->weights->input, p->x);
        if (stylize_image_save(s->snapshot, path, c->jpeg_quality, &e) != STYLIZE_OK)
            stylize_log(&c->log, STYLIZE_LOG_WARN, "snapshot: %s", e.msg);
    }
    if (s->progress) {
        stylize_run_progress rp = {s->scale_index, c->n_scales > 0 ? c->n_scales : 1, s->width,
                                   s->height, p->iteration, s->max_iterations, p->evaluations,
                                   p->value, b, t};
        s->progress(s->puser, &rp);
    }
    return c->stop_flag && *c->stop_flag;
}

/* Output size of the whole run. */
static stylize_status output_size(const stylize_run_config *c, int *w, int *h, stylize_error *err)
{
    if (c->content) {
        stylize_image_fit(c->content->width, c->content->height, c->size, w, h);
    } else {
        if (c->n_styles < 1)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "texture synthesis needs a source texture");
        int sw, sh;
        stylize_image_fit(c->styles[0]->width, c->styles[0]->height, c->size, &sw, &sh);
        *w = c->width > 0 ? c->width : sw;
        *h = c->height > 0 ? c->height : sh;
    }
    if ((size_t)*w * (size_t)*h > STYLIZE_IMAGE_MAX_PIXELS)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT, "output %dx%d exceeds the pixel limit", *w, *h);
    return STYLIZE_OK;
}

/* Resizes src to (w, h) into dst (allocated) unless the size already matches,
 * in which case dst borrows src's pixels (*borrowed = 1). */
static stylize_status resized(stylize_image *dst, const stylize_image *src, int w, int h,
                              int *borrowed, stylize_error *err)
{
    if (src->width == w && src->height == h) {
        *dst = *src;
        *borrowed = 1;
        return STYLIZE_OK;
    }
    *borrowed = 0;
    return stylize_image_resize(dst, src, w, h, err);
}

static void release(stylize_image *img, int borrowed)
{
    if (!borrowed)
        stylize_image_free(img);
    else
        memset(img, 0, sizeof *img);
}

/* mask (h, w) = mean of the three channels of img resized to (w, h). */
static stylize_status mask_at(float *mask, const stylize_image *img, int w, int h, stylize_error *err)
{
    stylize_image r = {0};
    int borrowed = 0;
    stylize_status st = resized(&r, img, w, h, &borrowed, err);
    if (st != STYLIZE_OK)
        return st;
    size_t n = (size_t)w * h;
    for (size_t k = 0; k < n; k++) {
        float v = (r.data[k] + r.data[n + k] + r.data[2 * n + k]) / 3.0f;
        mask[k] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    release(&r, borrowed);
    return STYLIZE_OK;
}

/* Converts an image to the network input (3, h, w), optionally as luminance. */
static void to_input(const stylize_run_config *c, const stylize_image *img, float *x)
{
    stylize_image_to_input(img, &c->weights->input, x);
}

/* The objective spec of scale k at size (w, h). */
static void scale_spec(const stylize_run_config *c, int w, int h, int tile,
                       stylize_objective_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->pool = c->pool;
    spec->width = w;
    spec->height = h;
    spec->n_content = c->content ? c->n_content : 0;
    memcpy(spec->content, c->content_layers, sizeof spec->content);
    spec->n_style = c->n_style;
    memcpy(spec->style, c->style_layers, sizeof spec->style);
    spec->alpha = c->alpha;
    spec->beta = c->beta;
    spec->tv = c->tv;
    spec->normalise_gradients = c->normalise_gradients;
    spec->normalise_by_target = c->random_features;
    spec->tile_rows = tile;
    if (c->content_masks[0])
        spec->n_regions = c->n_styles;
}

static size_t image_bytes(const stylize_image *img)
{
    return img ? (size_t)3 * img->width * img->height * sizeof(float) : 0;
}

/* The estimate for strips of tile rows (0: whole images). */
static size_t estimate_tiled(const stylize_run_config *c, int tile)
{
    int W, H;
    if (!c->weights || output_size(c, &W, &H, NULL) != STYLIZE_OK)
        return 0;
    size_t loaded = image_bytes(c->content) + image_bytes(c->init_image) +
                    c->weights->blob_floats * sizeof(float);
    for (int i = 0; i < c->n_styles && i < STYLIZE_MAX_STYLES; i++)
        loaded += 2 * image_bytes(c->styles[i]) + image_bytes(c->content_masks[i]) +
                  image_bytes(c->style_masks[i]);
    int n_scales = c->n_scales > 0 ? c->n_scales : 1;
    size_t peak = 0;
    for (int k = 0; k < n_scales; k++) {
        int w = W, h = H;
        if (c->n_scales > 0)
            stylize_image_fit(W, H, c->scales[k], &w, &h);
        stylize_objective_spec spec;
        scale_spec(c, w, h, tile, &spec);
        size_t n = (size_t)3 * w * h;
        size_t bytes = stylize_objective_memory_bytes(c->weights, &spec);
        bytes += c->optimizer == STYLIZE_OPTIM_ADAM ? stylize_adam_memory_bytes(n)
                                                   : stylize_lbfgs_memory_bytes(n, c->lbfgs_history);
        bytes += 6 * n * sizeof(float); /* x, tmp, snapshot, result, resize buffers */
        /* the temporary network of the style image during target computation */
        double rel = (double)(w > h ? w : h) / (double)(W > H ? W : H);
        int side = (int)lround(c->style_scale * (W > H ? W : H) * rel);
        for (int i = 0; i < c->n_styles && i < STYLIZE_MAX_STYLES; i++) {
            int sw, sh;
            stylize_image_fit(c->styles[i]->width, c->styles[i]->height, side < 1 ? 1 : side, &sw, &sh);
            size_t sb = stylize_objective_style_memory_bytes(c->weights, &spec, sw, sh,
                                                             c->style_masks[i] != NULL) +
                        (size_t)3 * sw * sh * sizeof(float);
            if (sb > bytes)
                bytes = sb; /* the style networks are freed before x's network exists */
        }
        if (bytes > peak)
            peak = bytes;
    }
    return peak + loaded;
}

/* Rows per strip that a run uses: c->tile_rows when set; for
 * STYLIZE_TILE_AUTO, whole images when the estimate fits max_memory (or
 * there is no limit), else the largest power-of-two strips (from 2048 rows
 * down to 16) that fit, or 16 if none does (the caller then reports the
 * estimate). Gradient normalisation needs whole layers: never tiled. */
int stylize_run_tile_rows(const stylize_run_config *c)
{
    if (c->tile_rows != STYLIZE_TILE_AUTO)
        return c->tile_rows > 0 ? c->tile_rows : 0;
    if (c->normalise_gradients || c->max_memory == 0 || estimate_tiled(c, 0) <= c->max_memory)
        return 0;
    int t = 2048;
    while (t > 16 && estimate_tiled(c, t) > c->max_memory)
        t /= 2;
    return t;
}

size_t stylize_run_memory_estimate(const stylize_run_config *c)
{
    return estimate_tiled(c, stylize_run_tile_rows(c));
}

stylize_status stylize_run(const stylize_run_config *c, stylize_run_progress_fn progress, void *puser,
                           stylize_run_result *res, stylize_error *err)
{
    stylize_status st = STYLIZE_OK, run_st = STYLIZE_OK;
    stylize_error run_err = {0};
    int W, H;
    double t0 = now_seconds();
    stylize_run_result r;
    memset(&r, 0, sizeof r);
    stylize_image result = {0};     /* current result image, RGB [0, 1] at the current scale */
    stylize_image content_l = {0};  /* luminance-only content (preserve luminance) */
    stylize_image styles_c[STYLIZE_MAX_STYLES];
    int n_styles_c = 0;
    stylize_report *report = NULL;
    memset(styles_c, 0, sizeof styles_c);

    if (!c->weights)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "no weights");
    if ((st = output_size(c, &W, &H, err)) != STYLIZE_OK)
        return st;
    if (c->n_style > 0 && c->n_styles < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style layers given but no style image");
    if (c->n_styles > STYLIZE_MAX_STYLES)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "at most %d style images", STYLIZE_MAX_STYLES);
    double blend_sum = 0;
    for (int i = 0; i < c->n_styles; i++) {
        if (!isfinite(c->style_blend[i]) || c->style_blend[i] < 0)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "style blend weights must be >= 0");
        blend_sum += c->style_blend[i];
    }
    if (c->n_styles > 0 && !(blend_sum > 0))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style blend weights sum to zero");
    if (c->content_masks[0]) {
        if (!c->content)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "masks need a content image");
        for (int i = 0; i < c->n_styles; i++)
            if (!c->content_masks[i])
                return stylize_error_set(err, STYLIZE_ERR_ARG, "one content mask per style image");
    }
    for (int i = 0; i < c->n_styles; i++)
        if (c->style_masks[i] && !c->content_masks[0])
            return stylize_error_set(err, STYLIZE_ERR_ARG, "style masks need content masks");
    if (c->tile_rows < STYLIZE_TILE_AUTO)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "tile rows %d must be >= 0", c->tile_rows);
    if (c->tile_rows > 0 && c->normalise_gradients) /* before any work (objective.c checks too) */
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "gradient normalisation needs whole layers: not with tiling");
    int tile = stylize_run_tile_rows(c);
    size_t need = estimate_tiled(c, tile);
    if (c->max_memory > 0 && need > c->max_memory)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "a %dx%d run needs about %zu MiB, more than the %zu MiB allowed "
                                 "(--max-memory); lower --size or raise --max-memory",
                                 W, H, need >> 20, c->max_memory >> 20);
    if (tile > 0)
        stylize_log(&c->log, STYLIZE_LOG_INFO, "tiling: strips of %d rows (estimated peak %zu MiB)",
                    tile, need >> 20);
    if (c->init == STYLIZE_INIT_IMAGE && !c->init_image)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "init image missing");
    if (c->init == STYLIZE_INIT_STYLE && c->n_styles < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "--init style needs a style image");
    if (!c->content && c->n_content > 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "content layers given without a content image");

    /* Colour control prepares the images once, at their loaded size. */
    const stylize_image *content = c->content;
    const stylize_image *styles[STYLIZE_MAX_STYLES];
    for (int i = 0; i < c->n_styles; i++)
        styles[i] = c->styles[i];
    if (c->preserve_colours != STYLIZE_COLOURS_NONE && c->content) {
        if (c->preserve_colours == STYLIZE_COLOURS_LUMINANCE) {
            if ((st = stylize_colour_luminance_image(&content_l, c->content, err)) != STYLIZE_OK)
                goto done;
            content = &content_l;
        }
        for (int i = 0; i < c->n_styles; i++) {
            if (c->preserve_colours == STYLIZE_COLOURS_LUMINANCE)
                st = stylize_colour_luminance_matched(&styles_c[i], c->styles[i], c->content, err);
            else
                st = stylize_colour_histogram_matched(&styles_c[i], c->styles[i], c->content, err);
            if (st != STYLIZE_OK)
                goto done;
            n_styles_c = i + 1;
            styles[i] = &styles_c[i];
        }
    }

    int n_scales = c->n_scales > 0 ? c->n_scales : 1;
    if (c->report_path || c->plot_path) {
        int max_entries = 0;
        for (int k = 0; k < n_scales; k++) {
            int it = c->scale_iterations[k] > 0 ? c->scale_iterations[k] : c->iterations;
            max_entries += it / (c->print_every > 0 ? c->print_every : 1) + 3;
        }
        if ((st = stylize_report_create(&report, max_entries, n_scales, err)) != STYLIZE_OK)
            goto done;
    }

    for (int k = 0; k < n_scales && run_st == STYLIZE_OK; k++) {
        int w = W, h = H;
        if (c->n_scales > 0)
            stylize_image_fit(W, H, c->scales[k], &w, &h);
        int iters = c->scale_iterations[k] > 0 ? c->scale_iterations[k] : c->iterations;
        stylize_objective_spec spec;
        scale_spec(c, w, h, tile, &spec);
        int masked = c->content_masks[0] != NULL;

        stylize_objective *obj = NULL;
        float *x = NULL, *tmp = NULL;
        stylize_lbfgs *lb = NULL;
        stylize_adam *adam = NULL;
        stylize_image snap = {0}, img = {0};
        int borrowed = 0;
        size_t n = (size_t)3 * w * h;
        if ((st = stylize_objective_create(&obj, c->weights, &spec, NULL, err)) != STYLIZE_OK)
            goto scale_done;
        x = malloc(n * sizeof(float));
        tmp = malloc(n * sizeof(float));
        if (!x || !tmp) {
            st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a %dx%d image", w, h);
            goto scale_done;
        }
        /* Style targets. */
        for (int i = 0; i < c->n_styles && spec.n_style > 0; i++) {
            /* The style's longest side follows the output's at this scale; in
             * texture mode the source keeps its --size scale whatever the
             * output size. */
            double base = (double)(W > H ? W : H);
            if (!c->content) {
                int tw, th;
                stylize_image_fit(styles[0]->width, styles[0]->height, c->size, &tw, &th);
                base = (double)(tw > th ? tw : th);
            }
            double rel = (double)(w > h ? w : h) / (double)(W > H ? W : H);
            int side = (int)lround(c->style_scale * base * rel);
            int sw, sh;
            stylize_image_fit(styles[i]->width, styles[i]->height, side < 1 ? 1 : side, &sw, &sh);
            cache_entry *hit = cache_find(c->style_cache, i, sw, sh);
            if (hit) { /* a batch: this style's Gram matrices at this size are known */
                if (masked) {
                    float *cm = malloc((size_t)w * h * sizeof(float));
                    if (!cm) {
                        st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a mask");
                        goto scale_done;
                    }
                    st = mask_at(cm, c->content_masks[i], w, h, err);
                    if (st == STYLIZE_OK)
                        st = stylize_objective_set_region_mask(obj, i, cm, err);
                    free(cm);
                    if (st == STYLIZE_OK)
                        st = stylize_objective_add_style_grams(obj, i, (const float *const *)hit->grams,
                                                               hit->areas, 1.0, err);
                } else {
                    st = stylize_objective_add_style_grams(obj, 0, (const float *const *)hit->grams,
                                                           hit->areas, c->style_blend[i] / blend_sum, err);
                }
                if (st != STYLIZE_OK)
                    goto scale_done;
                c->style_cache->hits++;
                stylize_log(&c->log, STYLIZE_LOG_INFO, "style %d: targets at %dx%d reused", i + 1, sw, sh);
                continue;
            }
            float *xs = malloc((size_t)3 * sw * sh * sizeof(float));
            float *smask = NULL;
            if (!xs) {
                st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a style image");
                goto scale_done;
            }
            if ((st = resized(&img, styles[i], sw, sh, &borrowed, err)) != STYLIZE_OK) {
                free(xs);
                goto scale_done;
            }
            to_input(c, &img, xs);
            release(&img, borrowed);
            if (masked) {
                /* Region i: where content mask i is bright, style i (only
                 * where its own mask is bright, if given). */
                float *cm = malloc((size_t)w * h * sizeof(float));
                if (c->style_masks[i])
                    smask = malloc((size_t)sw * sh * sizeof(float));
                if (!cm || (c->style_masks[i] && !smask)) {
                    free(cm);
                    free(smask);
                    free(xs);
                    st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for a mask");
                    goto scale_done;
                }
                st = mask_at(cm, c->content_masks[i], w, h, err);
                if (st == STYLIZE_OK)
                    st = stylize_objective_set_region_mask(obj, i, cm, err);
                if (st == STYLIZE_OK && smask)
                    st = mask_at(smask, c->style_masks[i], sw, sh, err);
                free(cm);
                if (st == STYLIZE_OK)
                    st = stylize_objective_add_style_region(obj, i, xs, sw, sh, smask, 1.0, err);
            } else {
                st = stylize_objective_add_style(obj, xs, sw, sh, c->style_blend[i] / blend_sum, err);
            }
            free(smask);
            free(xs);
            if (st != STYLIZE_OK)
                goto scale_done;
            cache_store(c->style_cache, c->weights, &spec, obj, masked ? i : 0, i, sw, sh);
        }
        /* Content targets. */
        if (content && spec.n_content > 0) {
            if ((st = resized(&img, content, w, h, &borrowed, err)) != STYLIZE_OK)
                goto scale_done;
            to_input(c, &img, tmp);
            release(&img, borrowed);
            if ((st = stylize_objective_set_content(obj, tmp, err)) != STYLIZE_OK)
                goto scale_done;
        }
        /* The network for x, now that the style networks are freed. */
        if ((st = stylize_objective_prepare(obj, err)) != STYLIZE_OK)
            goto scale_done;
        /* Initial image. */
        if (k > 0) {
            if ((st = stylize_image_resize(&img, &result, w, h, err)) != STYLIZE_OK)
                goto scale_done;
            to_input(c, &img, x);
            stylize_image_free(&img);
        } else {
            stylize_init_kind init = c->init;
            if (init == STYLIZE_INIT_CONTENT && !content)
                init = STYLIZE_INIT_NOISE;
            const stylize_image *src = init == STYLIZE_INIT_CONTENT ? content
                                       : init == STYLIZE_INIT_STYLE ? styles[0]
                                                                    : c->init_image;
            if (init == STYLIZE_INIT_NOISE) {
                if ((st = stylize_image_alloc(&img, w, h, err)) != STYLIZE_OK)
                    goto scale_done;
                stylize_rng rng;
                stylize_rng_seed(&rng, c->seed);
                for (size_t i = 0; i < n; i++)
                    img.data[i] = stylize_rng_uniform(&rng);
                borrowed = 0;
            } else if ((st = resized(&img, src, w, h, &borrowed, err)) != STYLIZE_OK) {
                goto scale_done;
            }
            to_input(c, &img, x);
            release(&img, borrowed);
        }
        if ((st = stylize_image_alloc(&snap, w, h, err)) != STYLIZE_OK)
            goto scale_done;

        scale_ctx sc;
        memset(&sc, 0, sizeof sc);
        sc.cfg = c;
        sc.obj = obj;
        sc.scale_index = k;
        sc.width = w;
        sc.height = h;
        sc.max_iterations = iters;
        sc.t0 = t0;
        sc.report = report;
        sc.snapshot = &snap;
        sc.progress = progress;
        sc.puser = puser;
        if (report)
            stylize_report_begin_scale(report, k, w, h, iters);
        stylize_opt_result or;
        memset(&or, 0, sizeof or);
        if (c->optimizer == STYLIZE_OPTIM_ADAM) {
            stylize_adam_params ap;
            stylize_adam_defaults(&ap);
            ap.learning_rate = c->learning_rate;
            ap.max_iterations = iters;
            ap.tol_change = c->tol_change;
            if ((st = stylize_adam_create(&adam, n, &ap, err)) != STYLIZE_OK)
                goto scale_done;
            run_st = stylize_adam_run(adam, x, eval_fn, &sc, progress_fn, &sc, &or, &run_err);
        } else {
            stylize_lbfgs_params lp;
            stylize_lbfgs_defaults(&lp);
            lp.history = c->lbfgs_history;
            lp.max_iterations = iters;
            lp.max_evaluations = c->max_evaluations;
            lp.tol_change = c->tol_change;
            if ((st = stylize_lbfgs_create(&lb, n, &lp, err)) != STYLIZE_OK)
                goto scale_done;
            run_st = stylize_lbfgs_run(lb, x, eval_fn, &sc, progress_fn, &sc, &or, &run_err);
        }
        if (run_st == STYLIZE_OK && c->stop_flag && *c->stop_flag) {
            run_st = stylize_error_set(&run_err, STYLIZE_ERR_INTERRUPTED, "interrupted");
        }
        if (run_st == STYLIZE_ERR_NUMERIC)
            stylize_error_prefix(&run_err, "iteration %d", or.iterations + 1);
        if (k == 0)
            r.loss_initial = or.value_initial;
        r.loss_final = or.value_final;
        r.iterations += or.iterations;
        r.evaluations += or.evaluations;
        r.reason = or.reason;
        if (report)
            stylize_report_end_scale(report, k, or.iterations, or.evaluations, or.value_initial,
                                     or.value_final, stylize_stop_reason_str(or.reason));
        /* The result at this scale (the best point: L-BFGS returns it in x),
         * unless no evaluation ever succeeded. */
        if (run_st == STYLIZE_ERR_NUMERIC && sc.good_evaluations == 0)
            goto scale_done;
        stylize_image_free(&result);
        if ((st = stylize_image_alloc(&result, w, h, err)) != STYLIZE_OK)
            goto scale_done;
        stylize_image_from_input(&result, &c->weights->input, x);
        r.width = w;
        r.height = h;
    scale_done:
        stylize_image_free(&snap);
        stylize_lbfgs_free(lb);
        stylize_adam_free(adam);
        stylize_objective_free(obj);
        free(x);
        free(tmp);
        if (st != STYLIZE_OK)
            goto done;
    }

    if (!result.data) {
        st = run_st != STYLIZE_OK ? run_st : STYLIZE_ERR_INTERNAL;
        if (err && run_st != STYLIZE_OK)
            *err = run_err;
        goto done;
    }
    if (c->preserve_colours == STYLIZE_COLOURS_LUMINANCE && c->content) {
        if ((st = stylize_colour_restore(&result, c->content, err)) != STYLIZE_OK)
            goto done;
    }
    r.seconds = now_seconds() - t0;
    if (c->output_path && (st = stylize_image_save(&result, c->output_path, c->jpeg_quality, err)) !=
                              STYLIZE_OK)
        goto done;
    if (report) {
        if (c->report_path &&
            (st = stylize_report_write(report, c, &r, run_st, c->report_path, err)) != STYLIZE_OK)
            goto done;
        if (c->plot_path && (st = stylize_report_plot(report, c, c->plot_path, err)) != STYLIZE_OK)
            goto done;
    }
    if (run_st != STYLIZE_OK) {
        st = run_st;
        if (err)
            *err = run_err;
    }
done:
    if (res) {
        r.seconds = now_seconds() - t0;
        *res = r;
    }
    stylize_report_free(report);
    stylize_image_free(&result);
    stylize_image_free(&content_l);
    for (int i = 0; i < n_styles_c; i++)
        stylize_image_free(&styles_c[i]);
    return st;
}
