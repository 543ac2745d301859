/* One scale of a run: the objective and its targets, the initial image, the
 * optimisation, the result. Each stage allocates through the run's plan
 * and, on a dry plan, computes nothing. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "run/run_internal.h"
#include "stylize/core/clock.h"
#include "stylize/core/rng.h"
#include "stylize/run/testing.h"

/* Fault injection (stylize/run/testing.h): evaluation whose loss becomes NaN. */
static int g_inject_nan_at;

void stylize_testing_inject_nan(int evaluation)
{
    g_inject_nan_at = evaluation > 0 ? evaluation : 0;
}

typedef struct {
    run_ctx *x;
    int k, w, h, iters;
    stylize_objective_spec spec;
    stylize_objective *obj;
    size_t n;                       /* 3 w h */
    float *xv, *tmp;                /* (3, h, w): the optimised image, a scratch image */
    stylize_image snap;             /* (w, h) for --save-every */
    stylize_lbfgs *lb;
    stylize_adam *adam;
    /* the breakdowns of recent evaluations, by evaluation number */
    stylize_loss_breakdown ring[RUN_RING];
    int ring_eval[RUN_RING];
    int evaluations, good_evaluations;
} scale_ctx;

int run_stage1_passes(const stylize_run_config *c)
{
    return c->n_scales > 0 ? c->n_scales : 1;
}

int run_passes(const stylize_run_config *c)
{
    return run_stage1_passes(c) + (c->photo_iterations > 0);
}

int run_pass_iterations(const stylize_run_config *c, int k)
{
    if (k >= run_stage1_passes(c))
        return c->photo_iterations;
    return c->scale_iterations[k] > 0 ? c->scale_iterations[k] : c->iterations;
}

void run_scale_spec(const run_ctx *x, int k, int w, int h, stylize_objective_spec *spec)
{
    const stylize_run_config *c = x->c;
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
    spec->tile_rows = x->tile;
    if (c->content_masks[0])
        spec->n_regions = c->n_styles;
    if (c->content && (c->photo_iterations == 0 || k >= run_stage1_passes(c)))
        spec->photorealism = c->photorealism;
    spec->region_area_weights = c->region_area_weights;
}

/* ---- optimiser callbacks ---------------------------------------------------- */

static stylize_status eval_fn(void *user, const float *xv, float *grad, double *value,
                              stylize_error *err)
{
    scale_ctx *s = user;
    stylize_status st = stylize_objective_eval(s->obj, xv, grad, value, err);
    s->evaluations++;
    if (st == STYLIZE_OK && g_inject_nan_at > 0 && s->evaluations >= g_inject_nan_at) {
        *value = NAN; /* fault injection for tests: as if the loss had overflowed */
        st = stylize_error_set(err, STYLIZE_ERR_NUMERIC, "loss is not finite (nan)");
    }
    if (st != STYLIZE_OK)
        return st;
    s->good_evaluations++;
    int k = s->evaluations % RUN_RING;
    s->ring_eval[k] = s->evaluations;
    stylize_objective_breakdown(s->obj, &s->ring[k]);
    const volatile sig_atomic_t *stop = s->x->c->stop_flag;
    if (stop && *stop)
        return stylize_error_set(err, STYLIZE_ERR_INTERRUPTED, "interrupted");
    return STYLIZE_OK;
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

static void save_snapshot(scale_ctx *s, const float *xv, int iteration)
{
    const stylize_run_config *c = s->x->c;
    char path[4096];
    stylize_error e;
    snapshot_path(path, sizeof path, c->output_path, iteration);
    stylize_image_from_input(&s->snap, &c->weights->input, xv);
    size_t enc = stylize_image_save_bytes(s->w, s->h); /* the encoder, counted as the dry run does */
    stylize_mem_hold(s->x->mem, enc);
    if (stylize_image_save(&s->snap, path, c->jpeg_quality, &e) != STYLIZE_OK)
        stylize_log(&c->log, STYLIZE_LOG_WARN, "snapshot: %s", e.msg);
    stylize_mem_release(s->x->mem, enc);
}

static int progress_fn(void *user, const stylize_opt_progress *p)
{
    scale_ctx *s = user;
    run_ctx *x = s->x;
    const stylize_run_config *c = x->c;
    int k = p->evaluation % RUN_RING;
    const stylize_loss_breakdown *b = s->ring_eval[k] == p->evaluation ? &s->ring[k] : NULL;
    double t = stylize_seconds() - x->t0;
    int last = p->iteration >= s->iters;
    if (x->report && (p->iteration % (c->print_every > 0 ? c->print_every : 1) == 0 || last))
        stylize_report_add(x->report, s->k, p->iteration, p->evaluations, t, p->value, b);
    if (c->save_every > 0 && p->iteration > 0 && p->iteration % c->save_every == 0 && c->output_path)
        save_snapshot(s, p->x, p->iteration);
    if (x->progress) {
        int stage2 = s->k >= run_stage1_passes(c);
        stylize_run_progress rp = {s->k, stage2 ? 1 : run_stage1_passes(c), s->w, s->h, p->iteration, s->iters,
                                   p->evaluations, p->value, b, t, x->mem->cur,
                                   stage2 ? 2 : 1};
        x->progress(x->puser, &rp);
    }
    return c->stop_flag && *c->stop_flag;
}

/* ---- stages ----------------------------------------------------------------- */

/* The objective, the image being optimised and its scratch. */
static stylize_status scale_begin(scale_ctx *s, stylize_error *err)
{
    run_ctx *x = s->x;
    const stylize_run_config *c = x->c;
    s->w = x->W, s->h = x->H; /* stage 2 runs at the output size */
    if (c->n_scales > 0 && s->k < c->n_scales)
        stylize_image_fit(x->W, x->H, c->scales[s->k], &s->w, &s->h);
    s->iters = run_pass_iterations(c, s->k);
    s->n = (size_t)3 * s->w * s->h;
    run_scale_spec(x, s->k, s->w, s->h, &s->spec);
    stylize_status st = stylize_objective_create(&s->obj, c->weights, &s->spec, x->mem, err);
    if (st == STYLIZE_OK)
        st = run_floats(x, &s->xv, s->n, "the image", err);
    if (st == STYLIZE_OK)
        st = run_floats(x, &s->tmp, s->n, "an image", err);
    return st;
}

/* Style i's size at this scale: its longest side follows the output's; in
 * texture mode the source keeps its --size scale whatever the output size. */
static void style_size(const scale_ctx *s, int i, int *sw, int *sh)
{
    const run_ctx *x = s->x;
    const stylize_run_config *c = x->c;
    double base = (double)(x->W > x->H ? x->W : x->H);
    if (!c->content) {
        int tw, th;
        stylize_image_fit(x->styles[0]->width, x->styles[0]->height, c->size, &tw, &th);
        base = (double)(tw > th ? tw : th);
    }
    double rel = (double)(s->w > s->h ? s->w : s->h) / (double)(x->W > x->H ? x->W : x->H);
    int side = (int)lround(c->style_scale * base * rel);
    stylize_image_fit(x->styles[i]->width, x->styles[i]->height, side < 1 ? 1 : side, sw, sh);
}

/* Region i's mask over x: where content mask i is bright. */
static stylize_status region_mask(scale_ctx *s, int i, stylize_error *err)
{
    run_ctx *x = s->x;
    size_t n = (size_t)s->w * s->h;
    float *cm = NULL;
    stylize_status st = run_floats(x, &cm, n, "a mask", err);
    if (st == STYLIZE_OK)
        st = run_mask_at(x, cm, x->c->content_masks[i], s->w, s->h, err);
    if (st == STYLIZE_OK)
        st = stylize_objective_set_region_mask(s->obj, i, cm, err);
    run_floats_free(x, cm, n);
    return st;
}

/* The batch's style cache, unless the styles depend on the content: colour
 * control matches each style to the content first. */
static stylize_style_cache *usable_cache(const stylize_run_config *c)
{
    return c->preserve_colours == STYLIZE_COLOURS_NONE ? c->style_cache : NULL;
}

/* Style i's targets from its image (sw, sh), only where its own mask is
 * bright when it has one. */
static stylize_status style_from_image(scale_ctx *s, int i, int sw, int sh, stylize_error *err)
{
    run_ctx *x = s->x;
    const stylize_run_config *c = x->c;
    size_t nxs = (size_t)3 * sw * sh, nm = (size_t)sw * sh;
    float *xs = NULL, *smask = NULL;
    stylize_image img = {0};
    int borrowed = 0, masked = c->content_masks[0] != NULL;
    stylize_status st = run_floats(x, &xs, nxs, "a style image", err);
    if (st == STYLIZE_OK && (st = run_resized(x, &img, x->styles[i], sw, sh, &borrowed, err)) == STYLIZE_OK) {
        run_to_input(x, &img, xs);
        run_release(x, &img, borrowed);
    }
    if (st == STYLIZE_OK && c->style_masks[i] && (st = run_floats(x, &smask, nm, "a mask", err)) == STYLIZE_OK)
        st = run_mask_at(x, smask, c->style_masks[i], sw, sh, err);
    /* a dry plan reads no pixels: any non-NULL pointer stands for the style mask */
    const float *sm = c->style_masks[i] ? (x->dry ? (const float *)s : smask) : NULL;
    if (st == STYLIZE_OK && masked)
        st = stylize_objective_add_style_region(s->obj, i, xs, sw, sh, sm, 1.0, err);
    else if (st == STYLIZE_OK)
        st = stylize_objective_add_style(s->obj, xs, sw, sh, c->style_blend[i] / x->blend_sum, err);
    run_floats_free(x, smask, c->style_masks[i] ? nm : 0);
    run_floats_free(x, xs, nxs);
    if (st == STYLIZE_OK && !x->dry)
        run_cache_store(usable_cache(c), c->weights, &s->spec, s->obj, masked ? i : 0, i, sw, sh);
    return st;
}

/* Every style's targets (from the batch's cache when it has them). */
static stylize_status scale_styles(scale_ctx *s, stylize_error *err)
{
    run_ctx *x = s->x;
    const stylize_run_config *c = x->c;
    int masked = c->content_masks[0] != NULL;
    for (int i = 0; i < c->n_styles && s->spec.n_style > 0; i++) {
        int sw, sh;
        style_size(s, i, &sw, &sh);
        stylize_status st = masked ? region_mask(s, i, err) : STYLIZE_OK;
        if (st != STYLIZE_OK)
            return st;
        const run_cache_entry *hit = run_cache_find(usable_cache(c), i, sw, sh);
        if (hit) { /* a batch: this style's Gram matrices at this size are known */
            double blend = masked ? 1.0 : c->style_blend[i] / x->blend_sum;
            if (!x->dry && (st = run_cache_apply(usable_cache(c), hit, s->obj, masked ? i : 0, blend,
                                                 err)) != STYLIZE_OK)
                return st;
            if (!x->dry)
                stylize_log(&c->log, STYLIZE_LOG_INFO, "style %d: targets at %dx%d reused", i + 1,
                            sw, sh);
        } else if ((st = style_from_image(s, i, sw, sh, err)) != STYLIZE_OK) {
            return st;
        }
    }
    return STYLIZE_OK;
}

/* Content targets, then the network for x (now that the style networks are freed). */
static stylize_status scale_content(scale_ctx *s, stylize_error *err)
{
    run_ctx *x = s->x;
    stylize_status st = STYLIZE_OK;
    if (x->content && (s->spec.n_content > 0 || s->spec.photorealism > 0)) {
        stylize_image img = {0};
        int borrowed = 0;
        if ((st = run_resized(x, &img, x->content, s->w, s->h, &borrowed, err)) != STYLIZE_OK)
            return st;
        run_to_input(x, &img, s->tmp);
        run_release(x, &img, borrowed);
        if ((st = stylize_objective_set_content(s->obj, s->tmp, err)) != STYLIZE_OK)
            return st;
    }
    return stylize_objective_prepare(s->obj, err);
}

/* The initial image into s->xv: the previous scale's result upsampled, or
 * the chosen init (content, noise, style, a given image). */
static stylize_status scale_init(scale_ctx *s, stylize_error *err)
{
    run_ctx *x = s->x;
    const stylize_run_config *c = x->c;
    stylize_image img = {0};
    int borrowed = 0;
    stylize_status st;
    if (s->k > 0) {
        st = run_resized(x, &img, &x->result, s->w, s->h, &borrowed, err);
    } else {
        stylize_init_kind init = c->init;
        if (init == STYLIZE_INIT_CONTENT && !x->content)
            init = STYLIZE_INIT_NOISE;
        const stylize_image *src = init == STYLIZE_INIT_CONTENT ? x->content
                                   : init == STYLIZE_INIT_STYLE ? x->styles[0]
                                                                : c->init_image;
        if (init == STYLIZE_INIT_NOISE) {
            if ((st = stylize_image_alloc_in(&img, s->w, s->h, x->mem, err)) == STYLIZE_OK && !x->dry) {
                stylize_rng rng;
                stylize_rng_seed(&rng, c->seed);
                for (size_t i = 0; i < s->n; i++)
                    img.data[i] = stylize_rng_uniform(&rng);
            }
        } else {
            st = run_resized(x, &img, src, s->w, s->h, &borrowed, err);
        }
    }
    if (st != STYLIZE_OK)
        return st;
    run_to_input(x, &img, s->xv);
    run_release(x, &img, borrowed);
    return STYLIZE_OK;
}

/* The optimiser for this scale, through the plan. */
static stylize_status make_optimiser(scale_ctx *s, stylize_error *err)
{
    const stylize_run_config *c = s->x->c;
    if (c->optimizer == STYLIZE_OPTIM_ADAM) {
        stylize_adam_params ap;
        stylize_adam_defaults(&ap);
        ap.learning_rate = c->learning_rate;
        ap.max_iterations = s->iters;
        ap.tol_change = c->tol_change;
        return stylize_adam_create(&s->adam, s->n, &ap, s->x->mem, err);
    }
    stylize_lbfgs_params lp;
    stylize_lbfgs_defaults(&lp);
    lp.history = c->lbfgs_history;
    lp.max_iterations = s->iters;
    lp.max_evaluations = c->max_evaluations;
    lp.tol_change = c->tol_change;
    return stylize_lbfgs_create(&s->lb, s->n, &lp, s->x->mem, err);
}

/* Optimises s->xv (live plans only); the outcome goes to x->run_st and the
 * run's totals. */
static void scale_optimise(scale_ctx *s)
{
    run_ctx *x = s->x;
    const stylize_run_config *c = x->c;
    stylize_opt_result o;
    memset(&o, 0, sizeof o);
    if (x->report)
        stylize_report_begin_scale(x->report, s->k, s->w, s->h, s->iters);
    if (s->adam)
        x->run_st = stylize_adam_run(s->adam, s->xv, eval_fn, s, progress_fn, s, &o, &x->run_err);
    else
        x->run_st = stylize_lbfgs_run(s->lb, s->xv, eval_fn, s, progress_fn, s, &o, &x->run_err);
    if (x->run_st == STYLIZE_OK && c->stop_flag && *c->stop_flag)
        x->run_st = stylize_error_set(&x->run_err, STYLIZE_ERR_INTERRUPTED, "interrupted");
    if (x->run_st == STYLIZE_ERR_NUMERIC)
        stylize_error_prefix(&x->run_err, "iteration %d", o.iterations + 1);
    if (s->k == 0)
        x->r.loss_initial = o.value_initial;
    x->r.loss_final = o.value_final;
    x->r.iterations += o.iterations;
    x->r.evaluations += o.evaluations;
    x->r.reason = o.reason;
    if (x->report)
        stylize_report_end_scale(x->report, s->k, o.iterations, o.evaluations, o.value_initial,
                                 o.value_final, stylize_stop_reason_str(o.reason));
}

/* The result at this scale (the best point: the optimisers return it in
 * xv), unless no evaluation ever succeeded. */
static stylize_status scale_result(scale_ctx *s, stylize_error *err)
{
    run_ctx *x = s->x;
    if (!x->dry && x->run_st == STYLIZE_ERR_NUMERIC && s->good_evaluations == 0)
        return STYLIZE_OK;
    stylize_image_free_in(&x->result, x->mem);
    stylize_status st = stylize_image_alloc_in(&x->result, s->w, s->h, x->mem, err);
    if (st != STYLIZE_OK)
        return st;
    if (!x->dry)
        stylize_image_from_input(&x->result, &x->c->weights->input, s->xv);
    x->r.width = s->w;
    x->r.height = s->h;
    return STYLIZE_OK;
}

static void scale_end(scale_ctx *s)
{
    stylize_image_free_in(&s->snap, s->x->mem);
    stylize_lbfgs_free(s->lb);
    stylize_adam_free(s->adam);
    stylize_objective_free(s->obj);
    run_floats_free(s->x, s->xv, s->n);
    run_floats_free(s->x, s->tmp, s->n);
}

stylize_status run_scale(run_ctx *x, int k, stylize_error *err)
{
    scale_ctx sc; /* ~40 KB, most of it the ring of breakdowns */
    scale_ctx *s = &sc;
    memset(s, 0, sizeof *s);
    s->x = x;
    s->k = k;
    stylize_status st = scale_begin(s, err);
    if (st == STYLIZE_OK)
        st = scale_styles(s, err);
    if (st == STYLIZE_OK)
        st = scale_content(s, err);
    if (st == STYLIZE_OK)
        st = scale_init(s, err);
    if (st == STYLIZE_OK)
        st = stylize_image_alloc_in(&s->snap, s->w, s->h, x->mem, err);
    if (st == STYLIZE_OK)
        st = make_optimiser(s, err);
    if (st == STYLIZE_OK && x->dry && x->c->save_every > 0) { /* a snapshot's encoder, at the peak */
        stylize_mem_hold(x->mem, stylize_image_save_bytes(s->w, s->h));
        stylize_mem_release(x->mem, stylize_image_save_bytes(s->w, s->h));
    }
    if (st == STYLIZE_OK && !x->dry)
        scale_optimise(s);
    if (st == STYLIZE_OK)
        st = scale_result(s, err);
    scale_end(s);
    return st;
}
