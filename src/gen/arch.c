/* The generator architectures (stylize/gen/generator.h): hyper-parameters
 * and the builders of their graph descriptions. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gen_internal.h"

void stylize_gen_arch_defaults(stylize_gen_arch *a, stylize_arch_kind kind, stylize_gen_mode mode)
{
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->mode = mode;
    a->scales = 6;
    a->channels = 8;
    a->slope = 0.0f;
    a->width_mult = 1.0;
    a->blocks = 5;
}

const char *stylize_arch_name(stylize_arch_kind k)
{
    return k == STYLIZE_ARCH_RESIDUAL ? "residual" : "pyramid";
}

int stylize_arch_parse(const char *s, stylize_arch_kind *k)
{
    if (strcmp(s, "pyramid") == 0)
        *k = STYLIZE_ARCH_PYRAMID;
    else if (strcmp(s, "residual") == 0)
        *k = STYLIZE_ARCH_RESIDUAL;
    else
        return -1;
    return 0;
}

stylize_status stylize_gen_arch_check(const stylize_gen_arch *a, stylize_error *err)
{
    if (a->kind != STYLIZE_ARCH_PYRAMID && a->kind != STYLIZE_ARCH_RESIDUAL)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "unknown generator architecture %d", (int)a->kind);
    if (a->mode != STYLIZE_GEN_TEXTURE && a->mode != STYLIZE_GEN_STYLE)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "unknown generator mode %d", (int)a->mode);
    if (!(a->slope >= 0.0f && a->slope < 1.0f))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "leaky ReLU slope %g outside [0, 1)", a->slope);
    if (a->kind == STYLIZE_ARCH_PYRAMID) {
        if (a->scales < 1 || a->scales > STYLIZE_GEN_MAX_SCALES)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "pyramid scales %d outside 1..%d", a->scales,
                                     STYLIZE_GEN_MAX_SCALES);
        if (a->channels < 1 || a->channels > 64)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "pyramid channels %d outside 1..64", a->channels);
    } else {
        if (!(a->width_mult >= 1.0 / 32 && a->width_mult <= 4.0))
            return stylize_error_set(err, STYLIZE_ERR_ARG, "width multiplier %g outside 1/32..4",
                                     a->width_mult);
        if (a->blocks < 0 || a->blocks > 16)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "residual blocks %d outside 0..16", a->blocks);
    }
    return STYLIZE_OK;
}

int stylize_gen_multiple(const stylize_gen_arch *a)
{
    return a->kind == STYLIZE_ARCH_PYRAMID ? 1 << (a->scales - 1) : 4;
}

int stylize_gen_min_side(const stylize_gen_arch *a)
{
    int m = stylize_gen_multiple(a);
    return a->kind == STYLIZE_ARCH_PYRAMID ? m : 8;
}

/* ---- builders ------------------------------------------------------------- */

static stylize_pad_mode pad_of(const stylize_gen_arch *a)
{
    if (a->mode == STYLIZE_GEN_TEXTURE)
        return STYLIZE_PAD_CIRCULAR;
    return a->kind == STYLIZE_ARCH_PYRAMID ? STYLIZE_PAD_REPLICATE : STYLIZE_PAD_REFLECT;
}

static int act(const stylize_gen_arch *a, stylize_graph_desc *d, int in)
{
    return a->slope > 0 ? stylize_gd_lrelu(d, in, a->slope) : stylize_gd_relu(d, in);
}

/* conv (no bias) -> affine instance norm -> activation */
static int conv_in_act(const stylize_gen_arch *a, stylize_graph_desc *d, int in, int cout, int k,
                       int stride)
{
    int c = stylize_gd_conv(d, in, cout, k, stride, pad_of(a), 0);
    return act(a, d, stylize_gd_inorm(d, c, 1));
}

/* The pyramid's block: conv3x3 -> conv3x3 -> conv1x1, each with IN and act. */
static int pyramid_block(const stylize_gen_arch *a, stylize_graph_desc *d, int in, int c)
{
    int x = conv_in_act(a, d, in, c, 3, 1);
    x = conv_in_act(a, d, x, c, 3, 1);
    return conv_in_act(a, d, x, c, 1, 1);
}

/* Scale i's input: noise (texture) or content with noise, pooled (each
 * pooled apart, so that the pools write into the concatenation). */
static int pyramid_source(const stylize_gen_arch *a, stylize_graph_desc *d, int content, int noise,
                          int levels)
{
    int x = levels > 0 ? stylize_gd_avgpool(d, noise, levels) : noise;
    if (a->mode == STYLIZE_GEN_STYLE) {
        int both[2] = {levels > 0 ? stylize_gd_avgpool(d, content, levels) : content, x};
        x = stylize_gd_concat(d, 2, both);
    }
    return x;
}

static int build_pyramid(const stylize_gen_arch *a, stylize_graph_desc *d, int *n_noise)
{
    int K = a->scales, c = a->channels;
    int content = a->mode == STYLIZE_GEN_STYLE ? stylize_gd_input(d, 3) : -1;
    int noise[STYLIZE_GEN_MAX_SCALES];
    for (int i = 0; i < K; i++)
        noise[i] = stylize_gd_input(d, 3);
    *n_noise = K;
    int cur = -1;
    for (int i = 0; i < K; i++) {
        int x = pyramid_block(a, d, pyramid_source(a, d, content, noise[i], K - 1 - i), c);
        if (i > 0) {
            int both[2] = {stylize_gd_inorm(d, cur, 1), stylize_gd_inorm(d, x, 1)};
            x = pyramid_block(a, d, stylize_gd_concat(d, 2, both), c * (i + 1));
        }
        cur = i < K - 1 ? stylize_gd_upsample(d, x) : x;
    }
    return stylize_gd_conv(d, cur, 3, 1, 1, pad_of(a), 1);
}

static int build_residual(const stylize_gen_arch *a, stylize_graph_desc *d, int *n_noise)
{
    int w = (int)lround(32.0 * a->width_mult);
    w = w < 1 ? 1 : w;
    int x = stylize_gd_input(d, 3);
    *n_noise = a->mode == STYLIZE_GEN_TEXTURE ? 1 : 0;
    x = conv_in_act(a, d, x, w, 9, 1);
    x = conv_in_act(a, d, x, 2 * w, 3, 2);
    x = conv_in_act(a, d, x, 4 * w, 3, 2);
    for (int b = 0; b < a->blocks; b++) {
        int y = conv_in_act(a, d, x, 4 * w, 3, 1);
        y = stylize_gd_conv(d, y, 4 * w, 3, 1, pad_of(a), 0);
        x = stylize_gd_add(d, x, stylize_gd_inorm(d, y, 1));
    }
    x = conv_in_act(a, d, stylize_gd_upsample(d, x), 2 * w, 3, 1);
    x = conv_in_act(a, d, stylize_gd_upsample(d, x), w, 3, 1);
    return stylize_gd_conv(d, x, 3, 9, 1, pad_of(a), 1);
}

stylize_status gen_build(const stylize_gen_arch *a, stylize_graph_desc **out, int *output, int *n_noise,
                         stylize_error *err)
{
    stylize_status st = stylize_gen_arch_check(a, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_graph_desc *d;
    if ((st = stylize_graph_desc_create(&d, err)) != STYLIZE_OK)
        return st;
    *output = a->kind == STYLIZE_ARCH_PYRAMID ? build_pyramid(a, d, n_noise) : build_residual(a, d, n_noise);
    stylize_gd_name(d, *output, "output");
    if ((st = stylize_graph_desc_status(d, err)) != STYLIZE_OK) {
        stylize_graph_desc_free(d);
        return st;
    }
    *out = d;
    return STYLIZE_OK;
}
