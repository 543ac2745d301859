/* Internal: one Gatys run as a sequence of stages (stylize/run/run.h).
 * run.c validates and drives the stages, scale.c runs one scale, images.c
 * holds the image helpers, style_cache.c the batch's style targets. Every
 * stage allocates through the run's memory plan; on a dry plan (the memory
 * estimate) the same stages run without computing anything. */
#ifndef STYLIZE_RUN_INTERNAL_H
#define STYLIZE_RUN_INTERNAL_H

#include "stylize/io/report.h"
#include "stylize/run/run.h"

/* Breakdowns of recent evaluations, by evaluation number: L-BFGS accepts one
 * of its line search's trials (at most 2 x 25 evaluations per iteration). */
#define RUN_RING 64

typedef struct {
    const stylize_run_config *c;
    stylize_mem *mem;
    int dry;                      /* mem is a dry plan: count, compute nothing */
    int W, H;                     /* output size */
    int tile;                     /* rows per strip, 0: whole images */
    int n_scales;
    double blend_sum;
    double t0;
    stylize_run_progress_fn progress;
    void *puser;
    /* the images after colour control: borrowed from c, or made here */
    const stylize_image *content;
    const stylize_image *styles[STYLIZE_MAX_STYLES];
    stylize_image content_l;      /* luminance-only content (preserve luminance) */
    stylize_image styles_c[STYLIZE_MAX_STYLES];
    int n_styles_c;
    stylize_report *report;       /* NULL: no report or plot asked */
    stylize_image result;         /* the result at the last scale run, RGB [0, 1] */
    stylize_run_result r;
    stylize_status run_st;        /* how the optimisation ended (may still write outputs) */
    stylize_error run_err;
} run_ctx;

/* ---- run.c ---- */
/* Validates c and sets the output size and blend sum. */
stylize_status run_check(const stylize_run_config *c, int *W, int *H, double *blend_sum,
                         stylize_error *err);

/* ---- scale.c ---- */
/* Passes of a run: the scales (stage 1), then with photo_iterations > 0
 * one more at the output size with the photorealism term (stage 2). */
int run_stage1_passes(const stylize_run_config *c);
int run_passes(const stylize_run_config *c);
/* Iterations of pass k. */
int run_pass_iterations(const stylize_run_config *c, int k);
/* Pass k: targets, initial image, optimisation, result. */
stylize_status run_scale(run_ctx *x, int k, stylize_error *err);
/* The objective spec of pass k at size (w, h). */
void run_scale_spec(const run_ctx *x, int k, int w, int h, stylize_objective_spec *spec);

/* ---- post.c ---- */
/* The result smoothed (c->smooth) and its photorealism figures (into
 * x->r), with the content at the result's size as guide. */
stylize_status run_post_process(run_ctx *x, stylize_error *err);

/* ---- images.c ---- */
/* dst = src resized to (w, h), allocated through the plan, or src's pixels
 * borrowed when the size matches (*borrowed = 1). */
stylize_status run_resized(run_ctx *x, stylize_image *dst, const stylize_image *src, int w, int h,
                           int *borrowed, stylize_error *err);
void run_release(run_ctx *x, stylize_image *img, int borrowed);
/* x (3, h, w) = img in the network's input convention (not on a dry plan). */
void run_to_input(const run_ctx *x, const stylize_image *img, float *xin);
/* mask (h, w) = mean of img's channels resized to (w, h), clamped to [0, 1]. */
stylize_status run_mask_at(run_ctx *x, float *mask, const stylize_image *img, int w, int h,
                           stylize_error *err);
/* Floats through the plan. */
stylize_status run_floats(run_ctx *x, float **p, size_t n, const char *what, stylize_error *err);
void run_floats_free(run_ctx *x, float *p, size_t n);
/* Colour control (preserve_colours): prepares content and styles once. */
stylize_status run_prepare_colours(run_ctx *x, stylize_error *err);
void run_free_colours(run_ctx *x);
/* Bytes of the loaded inputs (images and weights) the estimate includes. */
size_t run_input_bytes(const stylize_run_config *c);

/* ---- style_cache.c ---- */
typedef struct run_cache_entry run_cache_entry;
/* The cached Gram matrices of style i at (sw, sh), or NULL. */
const run_cache_entry *run_cache_find(stylize_style_cache *cache, int style, int sw, int sh);
/* Adds the entry's targets to the objective (region, blend). */
stylize_status run_cache_apply(stylize_style_cache *cache, const run_cache_entry *e,
                               stylize_objective *obj, int region, double blend, stylize_error *err);
/* Saves the Gram matrices the objective just computed (failures: no caching). */
void run_cache_store(stylize_style_cache *cache, const stylize_weights *w,
                     const stylize_objective_spec *spec, stylize_objective *obj, int region,
                     int style, int sw, int sh);

#endif
