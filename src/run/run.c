/* One complete run: validation, the memory plan (a dry run of the stages
 * gives the estimate; the live run allocates through the same stages), the
 * scales, and the outputs. */
#include "stylize/run/run.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/run_internal.h"
#include "stylize/core/clock.h"
#include "stylize/style/colour.h"

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
    stylize_smooth_defaults(&c->smooth);
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

static stylize_status check_styles(const stylize_run_config *c, double *blend_sum,
                                   stylize_error *err)
{
    if (c->n_style > 0 && c->n_styles < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "style layers given but no style image");
    if (c->n_styles > STYLIZE_MAX_STYLES)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "at most %d style images", STYLIZE_MAX_STYLES);
    *blend_sum = 0;
    for (int i = 0; i < c->n_styles; i++) {
        if (!isfinite(c->style_blend[i]) || c->style_blend[i] < 0)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "style blend weights must be >= 0");
        *blend_sum += c->style_blend[i];
    }
    if (c->n_styles > 0 && !(*blend_sum > 0))
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
    return STYLIZE_OK;
}

/* Photorealism, its second stage and smoothing need a content image. */
static stylize_status check_photo(const stylize_run_config *c, stylize_error *err)
{
    if (!isfinite(c->photorealism) || c->photorealism < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "photorealism weight must be finite and >= 0");
    if (c->photo_iterations < 0 || (c->photo_iterations > 0 && !(c->photorealism > 0)))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "a second stage needs a photorealism weight > 0");
    if (!c->content && (c->photorealism > 0 || c->smooth.kind != STYLIZE_SMOOTH_NONE))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "photorealism and smoothing need a content image");
    if (c->smooth.kind != STYLIZE_SMOOTH_NONE &&
        (c->smooth.radius < 1 || c->smooth.radius > 64 || !(c->smooth.edge > 0) || !isfinite(c->smooth.edge)))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "smoothing radius must be in 1..64 and edge > 0");
    return STYLIZE_OK;
}

stylize_status run_check(const stylize_run_config *c, int *W, int *H, double *blend_sum,
                         stylize_error *err)
{
    stylize_status st;
    if (!c->weights)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "no weights");
    if ((st = output_size(c, W, H, err)) != STYLIZE_OK || (st = check_styles(c, blend_sum, err)) != STYLIZE_OK)
        return st;
    if (c->tile_rows < STYLIZE_TILE_AUTO)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "tile rows %d must be >= 0", c->tile_rows);
    if (c->tile_rows > 0 && c->normalise_gradients) /* before any work (objective.c checks too) */
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "gradient normalisation needs whole layers: not with tiling");
    if (c->init == STYLIZE_INIT_IMAGE && !c->init_image)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "init image missing");
    if (c->init == STYLIZE_INIT_STYLE && c->n_styles < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "--init style needs a style image");
    if (!c->content && c->n_content > 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "content layers given without a content image");
    return check_photo(c, err);
}

/* The report (and plot) history: room for every logged iteration. */
static stylize_status make_report(run_ctx *x, stylize_error *err)
{
    const stylize_run_config *c = x->c;
    if (!c->report_path && !c->plot_path)
        return STYLIZE_OK;
    int max_entries = 0;
    for (int k = 0; k < x->n_scales; k++) {
        int it = run_pass_iterations(c, k);
        max_entries += it / (c->print_every > 0 ? c->print_every : 1) + 3;
    }
    return stylize_report_create(&x->report, max_entries, x->n_scales, x->mem, err);
}

/* Colours restored (luminance mode), image, report and plot written. */
static stylize_status write_outputs(run_ctx *x, stylize_error *err)
{
    const stylize_run_config *c = x->c;
    stylize_status st = STYLIZE_OK;
    if (c->preserve_colours == STYLIZE_COLOURS_LUMINANCE && c->content) {
        /* the colour module resizes the content to the result's size */
        int resized = c->content->width != x->result.width || c->content->height != x->result.height;
        size_t tmp = resized ? stylize_image_bytes(x->result.width, x->result.height) : 0;
        stylize_mem_hold(x->mem, tmp);
        if (!x->dry)
            st = stylize_colour_restore(&x->result, c->content, err);
        stylize_mem_release(x->mem, tmp);
    }
    if (st == STYLIZE_OK)
        st = run_post_process(x, err);
    size_t enc = stylize_image_save_bytes(x->result.width, x->result.height);
    stylize_mem_hold(x->mem, enc); /* the encoder of the output */
    if (st == STYLIZE_OK && !x->dry) {
        x->r.seconds = stylize_seconds() - x->t0;
        x->r.memory_peak = x->mem->peak;
        if (c->output_path)
            st = stylize_image_save(&x->result, c->output_path, c->jpeg_quality, err);
    }
    stylize_mem_release(x->mem, enc);
    if (x->dry || st != STYLIZE_OK)
        return st;
    if (x->report && c->report_path &&
        (st = stylize_report_write(x->report, c, &x->r, x->run_st, c->report_path, err)) != STYLIZE_OK)
        return st;
    if (x->report && c->plot_path && (st = stylize_report_plot(x->report, c, c->plot_path, err)) != STYLIZE_OK)
        return st;
    return STYLIZE_OK;
}

/* Every stage of a checked run, on plan mem (dry: counts only). */
static stylize_status run_stages(run_ctx *x, stylize_error *err)
{
    stylize_mem_hold(x->mem, run_input_bytes(x->c));
    stylize_status st = run_prepare_colours(x, err);
    if (st == STYLIZE_OK)
        st = make_report(x, err);
    for (int k = 0; k < x->n_scales && st == STYLIZE_OK && x->run_st == STYLIZE_OK; k++)
        st = run_scale(x, k, err);
    if (st == STYLIZE_OK && !x->dry && !x->result.data) {
        st = x->run_st != STYLIZE_OK ? x->run_st : STYLIZE_ERR_INTERNAL;
        if (err && x->run_st != STYLIZE_OK)
            *err = x->run_err;
    } else if (st == STYLIZE_OK) {
        st = write_outputs(x, err);
    }
    stylize_report_free(x->report);
    x->report = NULL;
    stylize_image_free_in(&x->result, x->mem);
    run_free_colours(x);
    stylize_mem_release(x->mem, run_input_bytes(x->c));
    return st;
}

static void ctx_init(run_ctx *x, const stylize_run_config *c, stylize_mem *mem, int tile)
{
    memset(x, 0, sizeof *x);
    x->c = c;
    x->mem = mem;
    x->dry = stylize_mem_is_dry(mem);
    x->tile = tile;
    x->n_scales = run_passes(c);
    x->t0 = stylize_seconds();
}

/* *bytes = the peak of the run with strips of tile rows (0: whole images):
 * its stages on a dry plan. Fails when the configuration is invalid or the
 * dry run itself cannot allocate its small structures. */
static stylize_status estimate_tiled(const stylize_run_config *c, int tile, size_t *bytes,
                                     stylize_error *err)
{
    run_ctx x;
    stylize_mem dry;
    stylize_mem_init(&dry, 1);
    ctx_init(&x, c, &dry, tile);
    *bytes = 0;
    stylize_status st = run_check(c, &x.W, &x.H, &x.blend_sum, err);
    if (st == STYLIZE_OK && (st = run_stages(&x, err)) == STYLIZE_OK)
        *bytes = dry.peak;
    return st;
}

/* Rows per strip that a run uses: c->tile_rows when set; for
 * STYLIZE_TILE_AUTO, whole images when the estimate fits max_memory (or
 * there is no limit), else the largest power-of-two strips (from 2048 rows
 * down to 16) that fit, or 16 if none does (the caller then reports the
 * estimate). Gradient normalisation needs whole layers: never tiled. */
static stylize_status choose_tile(const stylize_run_config *c, int *tile, stylize_error *err)
{
    size_t need = 0;
    stylize_status st = STYLIZE_OK;
    *tile = c->tile_rows > 0 ? c->tile_rows : 0;
    if (c->tile_rows != STYLIZE_TILE_AUTO || c->normalise_gradients || c->max_memory == 0)
        return STYLIZE_OK;
    if ((st = estimate_tiled(c, 0, &need, err)) != STYLIZE_OK || need <= c->max_memory)
        return st;
    for (*tile = 2048; *tile > 16; *tile /= 2)
        if ((st = estimate_tiled(c, *tile, &need, err)) != STYLIZE_OK || need <= c->max_memory)
            break;
    return st;
}

/* Each public entry point runs with c's precision as the convolutions'
 * default (the dry runs' kernels and workspaces depend on it) and restores
 * the caller's afterwards. */
static stylize_status precision_enter(const stylize_run_config *c, stylize_conv_algo *old,
                                      stylize_precision *resolved, stylize_error *err)
{
    *old = stylize_conv_get_default_algo();
    return stylize_precision_select(c->precision, STYLIZE_WORK_OPTIMISE, resolved, err);
}

int stylize_run_tile_rows(const stylize_run_config *c)
{
    int tile = 0;
    stylize_conv_algo old;
    if (precision_enter(c, &old, NULL, NULL) != STYLIZE_OK)
        return 0;
    stylize_status st = choose_tile(c, &tile, NULL);
    stylize_conv_set_default_algo(old);
    return st == STYLIZE_OK ? tile : 0;
}

size_t stylize_run_memory_estimate(const stylize_run_config *c)
{
    int tile = 0;
    size_t bytes = 0;
    stylize_conv_algo old;
    if (precision_enter(c, &old, NULL, NULL) != STYLIZE_OK)
        return 0;
    if (choose_tile(c, &tile, NULL) == STYLIZE_OK)
        estimate_tiled(c, tile, &bytes, NULL);
    stylize_conv_set_default_algo(old);
    return bytes;
}

/* The estimate against --max-memory: STYLIZE_ERR_LIMIT over it. */
static stylize_status check_limit(const stylize_run_config *c, int W, int H, size_t need, stylize_error *err)
{
    if (c->max_memory > 0 && need > c->max_memory)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "a %dx%d run needs about %zu MiB, more than the %zu MiB allowed "
                                 "(--max-memory); lower --size or raise --max-memory",
                                 W, H, need >> 20, c->max_memory >> 20);
    return STYLIZE_OK;
}

stylize_status stylize_run_plan(const stylize_run_config *c, int *width, int *height, int *tile_rows,
                                size_t *bytes, stylize_error *err)
{
    double blend;
    stylize_conv_algo old;
    *width = *height = *tile_rows = 0, *bytes = 0;
    stylize_status st = run_check(c, width, height, &blend, err);
    if (st != STYLIZE_OK || (st = precision_enter(c, &old, NULL, err)) != STYLIZE_OK)
        return st;
    st = choose_tile(c, tile_rows, err);
    if (st == STYLIZE_OK)
        st = estimate_tiled(c, *tile_rows, bytes, err);
    stylize_conv_set_default_algo(old);
    return st == STYLIZE_OK ? check_limit(c, *width, *height, *bytes, err) : st;
}

/* The tile and the estimate, against --max-memory. */
static stylize_status plan_run(run_ctx *x, stylize_error *err)
{
    const stylize_run_config *c = x->c;
    size_t need = 0;
    stylize_status st = choose_tile(c, &x->tile, err);
    if (st == STYLIZE_OK)
        st = estimate_tiled(c, x->tile, &need, err);
    if (st != STYLIZE_OK) {
        stylize_error_prefix(err, "planning the run's memory");
        return st;
    }
    x->r.tile_rows = x->tile, x->r.memory_estimate = need;
    if ((st = check_limit(c, x->W, x->H, need, err)) != STYLIZE_OK)
        return st;
    if (x->tile > 0)
        stylize_log(&c->log, STYLIZE_LOG_INFO, "tiling: strips of %d rows (estimated peak %zu MiB)",
                    x->tile, need >> 20);
    return STYLIZE_OK;
}

stylize_status stylize_run(const stylize_run_config *c, stylize_run_progress_fn progress, void *puser,
                           stylize_run_result *res, stylize_error *err)
{
    run_ctx x;
    stylize_mem mem;
    stylize_mem_init(&mem, 0);
    ctx_init(&x, c, &mem, 0);
    x.progress = progress, x.puser = puser;
    stylize_conv_algo old = stylize_conv_get_default_algo();
    x.r.precision = stylize_precision_resolve(c->precision, STYLIZE_WORK_OPTIMISE); /* if refused early */
    stylize_status st = run_check(c, &x.W, &x.H, &x.blend_sum, err);
    if (st == STYLIZE_OK)
        st = precision_enter(c, &old, &x.r.precision, err);
    if (st == STYLIZE_OK)
        st = plan_run(&x, err);
    if (st == STYLIZE_OK && (st = run_stages(&x, err)) == STYLIZE_OK && x.run_st != STYLIZE_OK) {
        st = x.run_st;
        if (err)
            *err = x.run_err;
    }
    x.r.memory_peak = mem.peak > x.r.memory_peak ? mem.peak : x.r.memory_peak;
    x.r.seconds = stylize_seconds() - x.t0;
    stylize_conv_set_default_algo(old);
    if (res)
        *res = x.r;
    return st;
}
