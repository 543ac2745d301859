/* The run's image helpers: resized copies, masks, input conversion and
 * colour control, every buffer through the run's memory plan (counted and
 * not computed on a dry plan). */
#include <string.h>

#include "run/run_internal.h"
#include "stylize/style/colour.h"

stylize_status run_resized(run_ctx *x, stylize_image *dst, const stylize_image *src, int w, int h,
                           int *borrowed, stylize_error *err)
{
    if (src->width == w && src->height == h) {
        *dst = *src;
        *borrowed = 1;
        return STYLIZE_OK;
    }
    *borrowed = 0;
    stylize_status st = stylize_image_alloc_in(dst, w, h, x->mem, err);
    if (st == STYLIZE_OK && !x->dry && (st = stylize_image_resize_into(dst, src, err)) != STYLIZE_OK)
        stylize_image_free_in(dst, x->mem);
    return st;
}

void run_release(run_ctx *x, stylize_image *img, int borrowed)
{
    if (!borrowed)
        stylize_image_free_in(img, x->mem);
    memset(img, 0, sizeof *img);
}

void run_to_input(const run_ctx *x, const stylize_image *img, float *xin)
{
    if (!x->dry)
        stylize_image_to_input(img, &x->c->weights->input, xin);
}

stylize_status run_mask_at(run_ctx *x, float *mask, const stylize_image *img, int w, int h,
                           stylize_error *err)
{
    stylize_image r = {0};
    int borrowed = 0;
    stylize_status st = run_resized(x, &r, img, w, h, &borrowed, err);
    if (st != STYLIZE_OK)
        return st;
    size_t n = (size_t)w * h;
    for (size_t k = 0; k < n && !x->dry; k++) {
        float v = (r.data[k] + r.data[n + k] + r.data[2 * n + k]) / 3.0f;
        mask[k] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    run_release(x, &r, borrowed);
    return STYLIZE_OK;
}

stylize_status run_floats(run_ctx *x, float **p, size_t n, const char *what, stylize_error *err)
{
    void *v = NULL;
    stylize_status st = stylize_mem_alloc(x->mem, &v, n * sizeof(float), what, err);
    *p = v;
    return st;
}

void run_floats_free(run_ctx *x, float *p, size_t n)
{
    stylize_mem_free(x->mem, p, n * sizeof(float));
}

/* A colour-controlled image of (w, h), made by the colour module (which
 * allocates it) and counted in the plan; on a dry plan only counted. */
typedef enum { MAKE_LUMINANCE, MAKE_LUMINANCE_MATCHED, MAKE_HISTOGRAM } colour_make;

static stylize_status colour_image(run_ctx *x, stylize_image *out, colour_make how,
                                   const stylize_image *src, const stylize_image *content,
                                   stylize_error *err)
{
    stylize_status st = STYLIZE_OK;
    if (x->dry) {
        out->width = src->width, out->height = src->height, out->data = NULL;
    } else if (how == MAKE_LUMINANCE) {
        st = stylize_colour_luminance_image(out, src, err);
    } else if (how == MAKE_LUMINANCE_MATCHED) {
        st = stylize_colour_luminance_matched(out, src, content, err);
    } else {
        st = stylize_colour_histogram_matched(out, src, content, err);
    }
    if (st == STYLIZE_OK)
        stylize_mem_hold(x->mem, stylize_image_bytes(out->width, out->height));
    return st;
}

static void colour_free(run_ctx *x, stylize_image *img)
{
    stylize_mem_release(x->mem, stylize_image_bytes(img->width, img->height));
    stylize_image_free(img);
}

stylize_status run_prepare_colours(run_ctx *x, stylize_error *err)
{
    const stylize_run_config *c = x->c;
    stylize_status st = STYLIZE_OK;
    x->content = c->content;
    for (int i = 0; i < c->n_styles; i++)
        x->styles[i] = c->styles[i];
    if (c->preserve_colours == STYLIZE_COLOURS_NONE || !c->content)
        return STYLIZE_OK;
    int lum = c->preserve_colours == STYLIZE_COLOURS_LUMINANCE;
    if (lum) {
        if ((st = colour_image(x, &x->content_l, MAKE_LUMINANCE, c->content, NULL, err)) != STYLIZE_OK)
            return st;
        x->content = &x->content_l;
    }
    for (int i = 0; i < c->n_styles; i++) {
        st = colour_image(x, &x->styles_c[i], lum ? MAKE_LUMINANCE_MATCHED : MAKE_HISTOGRAM,
                          c->styles[i], c->content, err);
        if (st != STYLIZE_OK)
            return st;
        x->n_styles_c = i + 1;
        x->styles[i] = &x->styles_c[i];
    }
    return STYLIZE_OK;
}

void run_free_colours(run_ctx *x)
{
    if (x->content_l.width > 0)
        colour_free(x, &x->content_l);
    for (int i = 0; i < x->n_styles_c; i++)
        colour_free(x, &x->styles_c[i]);
    x->n_styles_c = 0;
}

size_t run_input_bytes(const stylize_run_config *c)
{
    size_t n = c->weights ? c->weights->blob_floats * sizeof(float) : 0;
    const stylize_image *imgs[2] = {c->content, c->init_image};
    for (int i = 0; i < 2; i++)
        n += imgs[i] ? stylize_image_bytes(imgs[i]->width, imgs[i]->height) : 0;
    for (int i = 0; i < c->n_styles && i < STYLIZE_MAX_STYLES; i++) {
        const stylize_image *m[3] = {c->styles[i], c->content_masks[i], c->style_masks[i]};
        for (int k = 0; k < 3; k++)
            n += m[k] ? stylize_image_bytes(m[k]->width, m[k]->height) : 0;
    }
    return n;
}
