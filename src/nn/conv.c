/* Convolution over CHW float32 tensors: the object, geometry checks,
 * workspace sizing and the entry points (stylize/nn/conv.h).
 *
 * A convolution runs one of these paths, chosen at creation from its
 * geometry and the algorithm asked for:
 *   - 3x3, stride 1, zero padding with STYLIZE_CONV_IM2COL: banded im2col +
 *     sgemm, input gradient through the flipped kernel (conv_im2col.c);
 *   - the same geometry with a Winograd algorithm: F(4x4, 3x3) or
 *     F(2x2, 3x3) over the transformed kernel (conv_winograd.c);
 *   - 3x3, stride 1 with reflect, replicate or circular padding and a
 *     Winograd algorithm: the same Winograd path, its input transform
 *     reading the padding (conv_padded.c: the input gradient zero-padded
 *     inside, its border ring folded back onto the pixels the padding read);
 *   - 3x3, stride 2 (any padding) with a bfloat16 algorithm: the forward
 *     on the tiles where AMX runs the direct layout (conv_amx.c), else the
 *     general path's im2col through bfloat16 GEMMs (conv_im2col.c); the
 *     gradients on the general path below;
 *   - any other geometry: the general im2col path, input gradient through
 *     col2im (conv_im2col.c), with direct paths for 1x1 and thin large
 *     kernels (conv_direct.c).
 * The weight gradient of a 3x3, stride-1 Winograd convolution runs in the
 * Winograd domain (conv_winograd.c), every other one where the geometry's
 * forward runs (im2col, 1x1 or thin). The
 * kernel cache of the first three paths and of the stride-2 bfloat16 one
 * (flipped or transformed kernel, the AMX taps or the weight packed as a
 * GEMM's A; the padded modes add the ring kernel of
 * their input gradient) is requested through the memory plan given at
 * creation. */
#include "nn/conv_internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/core/cpu.h"
#include "stylize/nn/activation.h"
#include "stylize/nn/gemm_bf16.h"

static stylize_conv_algo g_default_algo = STYLIZE_CONV_WINOGRAD;
static int g_bf16_min_channels = STYLIZE_CONV_BF16_MIN_CHANNELS;
static int g_bf16_thin;

static const char *const algo_names[] = {"im2col", "winograd", "winograd2", "winograd-bf16",
                                         "winograd2-bf16"};
#define N_ALGOS ((int)(sizeof algo_names / sizeof algo_names[0]))

const char *stylize_conv_algo_name(stylize_conv_algo algo)
{
    return (unsigned)algo < (unsigned)N_ALGOS ? algo_names[algo] : "?";
}

int stylize_conv_algo_parse(const char *name, stylize_conv_algo *out)
{
    for (int i = 0; name && i < N_ALGOS; i++)
        if (strcmp(name, algo_names[i]) == 0) {
            *out = (stylize_conv_algo)i;
            return 0;
        }
    return -1;
}

void stylize_conv_set_default_algo(stylize_conv_algo algo) { g_default_algo = algo; }
stylize_conv_algo stylize_conv_get_default_algo(void) { return g_default_algo; }
void stylize_conv_set_bf16_min_channels(int channels) { g_bf16_min_channels = channels; }
int stylize_conv_get_bf16_min_channels(void) { return g_bf16_min_channels; }
void stylize_conv_set_bf16_thin(int on) { g_bf16_thin = on != 0; }
int stylize_conv_get_bf16_thin(void) { return g_bf16_thin; }

/* 1 when a convolution of geometry g asked for algo runs the thin bfloat16 forward. */
static int thin_bf16(const stylize_conv_geom *g, stylize_conv_algo algo)
{
    return g_bf16_thin && stylize_conv_is_thin(g) && stylize_conv_algo_bf16(algo) && stylize_cpu()->avx512_bf16;
}

/* 1 when g is the geometry of the algorithm paths: 3x3, stride 1, zero padding. */
static int geom_is_3x3(const stylize_conv_geom *g)
{
    return g->k == 3 && g->stride == 1 && g->pad == STYLIZE_PAD_ZERO;
}

/* 1 for 3x3, stride 1 with reflect, replicate or circular padding: with a
 * Winograd algorithm, the Winograd path with the padding (conv_padded.c). */
static int geom_is_padded_3x3(const stylize_conv_geom *g)
{
    return g->k == 3 && g->stride == 1 && g->pad != STYLIZE_PAD_ZERO;
}

/* 1 for 3x3, stride 2 (any padding): with a bfloat16 algorithm its
 * forward runs in bfloat16, on the AMX tiles where the kernels take the
 * direct layout (conv_amx.c), else through the general path's bfloat16
 * GEMMs (conv_im2col.c); its gradients, and the whole of it in float32,
 * on the general path. */
static int geom_is_3x3_s2(const stylize_conv_geom *g)
{
    return g->k == 3 && g->stride == 2;
}

/* The algorithm a convolution of geometry g runs when algo is asked for. */
static stylize_conv_algo effective_algo(const stylize_conv_geom *g, stylize_conv_algo algo)
{
    /* the direct AMX path and stride 2 have no transform: only the operands are rounded */
    int direct = stylize_conv_bf16_layout_for_cpu() == STYLIZE_CONV_BF16_DIRECT;
    int min = direct || geom_is_3x3_s2(g) ? g_bf16_min_channels : STYLIZE_CONV_BF16_MIN_CHANNELS;
    int narrow = g->cin < min || g->cout < min;
    /* the float32 counterpart where bfloat16 does not run */
    if (stylize_conv_algo_bf16(algo) && (narrow || !stylize_cpu()->avx512_bf16))
        algo = algo == STYLIZE_CONV_WINOGRAD_BF16 ? STYLIZE_CONV_WINOGRAD : STYLIZE_CONV_WINOGRAD_F2;
    if (geom_is_3x3_s2(g))
        return stylize_conv_algo_bf16(algo) ? algo : STYLIZE_CONV_IM2COL;
    int wino = (geom_is_3x3(g) || geom_is_padded_3x3(g)) && stylize_conv_algo_tile(algo);
    return wino ? algo : STYLIZE_CONV_IM2COL;
}

/* 1 when g's forward runs in bfloat16 at stride 2 with the effective algorithm eff. */
static int bf16_s2(const stylize_conv_geom *g, stylize_conv_algo eff)
{
    return geom_is_3x3_s2(g) && stylize_conv_algo_bf16(eff);
}

/* 1 when a convolution of g run with the effective algorithm eff keeps a kernel cache. */
static int has_cache(const stylize_conv_geom *g, stylize_conv_algo eff)
{
    return geom_is_3x3(g) || (geom_is_padded_3x3(g) && stylize_conv_algo_tile(eff)) || bf16_s2(g, eff);
}

/* ---- geometry ----------------------------------------------------------- */

int stylize_conv_out_side(int size, int k, int stride)
{
    if (size <= 0 || k <= 0 || stride <= 0)
        return 0;
    return (size + 2 * (k / 2) - k) / stride + 1;
}

/* The checks of g that do not depend on the input size. */
static stylize_status geom_check_shape(const stylize_conv_geom *g, stylize_error *err)
{
    if (!g)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: geometry is NULL");
    if (g->k < 1 || g->k > 15 || g->k % 2 == 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "conv: kernel side must be odd and in 1..15 (got %d)", g->k);
    if (g->stride != 1 && g->stride != 2)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: stride must be 1 or 2 (got %d)",
                                 g->stride);
    if ((unsigned)g->pad > (unsigned)STYLIZE_PAD_CIRCULAR)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: unknown padding mode %d",
                                 (int)g->pad);
    if (g->cin <= 0 || g->cout <= 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "conv: channel counts must be positive (cin %d, cout %d)", g->cin,
                                 g->cout);
    /* sgemm dimensions channels * k * k must fit an int (channels * 9 at least:
     * the 3x3 paths' bound, kept for every k) */
    int kk = g->k * g->k < 9 ? 9 : g->k * g->k;
    if (g->cin > INT_MAX / kk || g->cout > INT_MAX / kk)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "conv: too many channels (cin %d, cout %d) for a %dx%d kernel",
                                 g->cin, g->cout, g->k, g->k);
    /* the weight and the largest kernel cache (the padded modes' F(4x4):
     * 36 + 9 floats per channel pair, and 64 bytes; 46 bounds it) */
    size_t per_pair = (size_t)(kk < 46 ? 46 : kk) * sizeof(float);
    if (stylize_mem_mul((size_t)g->cin, (size_t)g->cout, per_pair) == SIZE_MAX)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "conv: weight too large (cin %d, cout %d, %dx%d)", g->cin,
                                 g->cout, g->k, g->k);
    return STYLIZE_OK;
}

stylize_status stylize_conv_geom_check(const stylize_conv_geom *g, int h, int w,
                                       stylize_error *err)
{
    stylize_status st = geom_check_shape(g, err);
    if (st != STYLIZE_OK)
        return st;
    int p = g->k / 2;
    if (h <= 0 || w <= 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "conv: input size must be positive (got %d x %d)", h, w);
    if (h > INT_MAX / w)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "conv: input %d x %d too large (h * w must fit an int)", h, w);
    int big = g->cin > g->cout ? g->cin : g->cout;
    if (stylize_mem_mul((size_t)big, (size_t)h * (size_t)w, sizeof(float)) == SIZE_MAX)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "conv: tensor of %d x %d x %d too large", big, h, w);
    if (g->pad == STYLIZE_PAD_REFLECT && (h <= p || w <= p))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "conv: reflect padding of %d needs an input larger than %d "
                                 "on each side (got %d x %d)", p, p, h, w);
    if (g->pad == STYLIZE_PAD_CIRCULAR && (h < p || w < p))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "conv: circular padding of %d needs an input of at least %d "
                                 "on each side (got %d x %d)", p, p, h, w);
    return STYLIZE_OK;
}

/* ---- kernel cache ------------------------------------------------------- */

/* Bytes of the cache's first part (an effective algo with a cache): the
 * Winograd kernel, the packed bfloat16 slices in layout bf16_layout, or
 * the flipped kernel. */
static size_t main_cache_bytes(const stylize_conv_geom *g, stylize_conv_algo algo, int bf16_layout)
{
    int m = stylize_conv_algo_tile(algo);
    if (bf16_s2(g, algo) && bf16_layout != STYLIZE_CONV_BF16_DIRECT) /* the weight as packed A */
        return STYLIZE_CONV_BF16_HEADER + stylize_bf16_pack_a_bytes(g->cout, g->cin * 9);
    if (stylize_conv_algo_bf16(algo)) /* packed slices each way: (cout x cin) and (cin x cout) */
        return stylize_conv_winograd_bf16_kernel_bytes(bf16_layout, m, g->cin, g->cout);
    size_t per_pair = m ? (size_t)(m + 2) * (size_t)(m + 2) : 9; /* Winograd u, or weight_t */
    return stylize_mem_mul((size_t)g->cin * (size_t)g->cout, per_pair, sizeof(float));
}

/* Byte offset of the padded 3x3 paths' ring kernel in the cache: after the
 * first part, on a 64-byte boundary. */
static size_t ring_offset(size_t main_bytes)
{
    return (main_bytes + 63) & ~(size_t)63;
}

/* 1 when g's cache under the effective algorithm eff ends with the ring kernel. */
static int has_ring(const stylize_conv_geom *g, stylize_conv_algo eff)
{
    return geom_is_padded_3x3(g) && stylize_conv_algo_tile(eff);
}

size_t stylize_conv_kernel_bytes(const stylize_conv_geom *g, stylize_conv_algo algo)
{
    if (!g || geom_check_shape(g, NULL) != STYLIZE_OK)
        return 0;
    algo = effective_algo(g, algo);
    if (!has_cache(g, algo))
        return 0;
    size_t bytes = main_cache_bytes(g, algo, stylize_conv_bf16_layout_for_cpu());
    if (!has_ring(g, algo))
        return bytes;
    /* within geom_check_shape's bound of 46 floats per channel pair: no overflow */
    return ring_offset(bytes) + stylize_conv_padded_ring_kernel_floats(g->cin, g->cout) * sizeof(float);
}

/* The ring kernel of a padded 3x3 convolution with a cache (else NULL). */
static float *ring_kernel(const stylize_conv *conv)
{
    if (!conv->cache || !has_ring(&conv->g, conv->algo))
        return NULL;
    return (float *)((char *)conv->cache + ring_offset(main_cache_bytes(&conv->g, conv->algo, conv->bf16_layout)));
}

void stylize_conv_flip_kernel(float *wf, const float *weight, int cin, int cout, int k)
{
    size_t kk = (size_t)k * (size_t)k;
    for (size_t co = 0; co < (size_t)cout; co++)
        for (size_t ci = 0; ci < (size_t)cin; ci++) {
            const float *src = weight + (co * (size_t)cin + ci) * kk;
            float *dst = wf + (ci * (size_t)cout + co) * kk;
            for (size_t t = 0; t < kk; t++)
                dst[t] = src[kk - 1 - t];
        }
}

void stylize_conv_refresh(stylize_conv *conv)
{
    if (!conv->cache || !conv->weight)
        return; /* the general path, or a dry plan */
    int m = stylize_conv_algo_tile(conv->algo);
    if (bf16_s2(&conv->g, conv->algo) && conv->bf16_layout != STYLIZE_CONV_BF16_DIRECT) {
        memset(conv->cache, 0, STYLIZE_CONV_BF16_HEADER);
        memcpy(conv->cache, &conv->bf16_layout, sizeof conv->bf16_layout);
        stylize_bf16_pack_a((stylize_bf16_kernel)conv->bf16_layout, conv->weight, conv->g.cin * 9, 0, conv->g.cout,
                            conv->g.cin * 9, (char *)conv->cache + STYLIZE_CONV_BF16_HEADER);
    } else if (stylize_conv_algo_bf16(conv->algo))
        stylize_conv_winograd_kernel_bf16(conv->cache, conv->bf16_layout, conv->weight, conv->g.cin, conv->g.cout,
                                          m);
    else if (m)
        stylize_conv_winograd_kernel(conv->cache, conv->weight, conv->g.cin, conv->g.cout, m);
    else
        stylize_conv_flip_kernel(conv->cache, conv->weight, conv->g.cin, conv->g.cout, 3);
    float *ring = ring_kernel(conv);
    if (ring)
        stylize_conv_padded_ring_kernel(ring, conv->weight, conv->g.cin, conv->g.cout);
}

/* Switches a 3x3 convolution to algo: requests its kernel cache through
 * the plan, fills it from the weights (not on a dry plan) and returns the
 * old one. On failure conv is unchanged. */
static stylize_status switch_cache(stylize_conv *c, stylize_conv_algo algo, stylize_error *err)
{
    size_t bytes = stylize_conv_kernel_bytes(&c->g, algo);
    char what[96];
    snprintf(what, sizeof what, "the %d x %d %s kernel of a convolution", c->g.cin, c->g.cout,
             algo == STYLIZE_CONV_IM2COL ? "backward"
             : !stylize_conv_algo_bf16(algo) ? "Winograd"
             : stylize_conv_bf16_layout_for_cpu() == STYLIZE_CONV_BF16_DIRECT ? "bfloat16 direct"
             : bf16_s2(&c->g, algo)                                          ? "bfloat16 packed"
                                                                              : "bfloat16 Winograd");
    void *p = NULL;
    stylize_status st = stylize_mem_alloc(c->mem, &p, bytes, what, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_mem_free(c->mem, c->cache, c->cache_bytes);
    c->cache = p;
    c->cache_bytes = bytes;
    c->algo = algo;
    c->bf16_layout = stylize_conv_bf16_layout_for_cpu(); /* the layout bytes was counted for */
    stylize_conv_refresh(c);
    return STYLIZE_OK;
}

/* ---- create / free ------------------------------------------------------ */

stylize_status stylize_conv_create_ex(stylize_conv **out, const stylize_conv_geom *g,
                                      const float *weight, const float *bias,
                                      stylize_conv_algo algo, stylize_mem *mem,
                                      stylize_error *err)
{
    if (!out)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: output pointer is NULL");
    *out = NULL;
    stylize_status st = geom_check_shape(g, err);
    if (st != STYLIZE_OK)
        return st;
    if (!weight && !stylize_mem_is_dry(mem))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: weight is NULL");
    stylize_conv *c = calloc(1, sizeof *c);
    if (!c)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "conv: out of memory for the layer");
    c->g = *g;
    c->weight = weight;
    c->bias = bias;
    c->mem = mem;
    c->fast3 = geom_is_3x3(g);
    c->thin_bf16 = thin_bf16(g, algo);
    c->algo = STYLIZE_CONV_IM2COL;
    stylize_parallel_init();
    stylize_conv_blas_warm();
    stylize_conv_algo eff = effective_algo(g, algo);
    if (has_cache(g, eff) && (st = switch_cache(c, eff, err)) != STYLIZE_OK) {
        free(c);
        return st;
    }
    *out = c;
    return STYLIZE_OK;
}

stylize_status stylize_conv_create(stylize_conv **out, const float *weight, const float *bias,
                                   int cin, int cout, stylize_error *err)
{
    if (!out)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: output pointer is NULL");
    *out = NULL;
    if (!weight)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: weight is NULL");
    stylize_conv_geom g = {cin, cout, 3, 1, STYLIZE_PAD_ZERO};
    return stylize_conv_create_ex(out, &g, weight, bias, g_default_algo, NULL, err);
}

void stylize_conv_free(stylize_conv *conv)
{
    if (!conv)
        return;
    stylize_mem_free(conv->mem, conv->cache, conv->cache_bytes);
    free(conv);
}

int stylize_conv_in_channels(const stylize_conv *conv) { return conv->g.cin; }
int stylize_conv_out_channels(const stylize_conv *conv) { return conv->g.cout; }
const stylize_conv_geom *stylize_conv_get_geom(const stylize_conv *conv) { return &conv->g; }

void stylize_conv_set_algo(stylize_conv *conv, stylize_conv_algo algo)
{
    conv->thin_bf16 = thin_bf16(&conv->g, algo);
    algo = effective_algo(&conv->g, algo);
    if (algo != conv->algo)
        (void)switch_cache(conv, algo, NULL); /* out of memory: keep the current algorithm */
}

stylize_conv_algo stylize_conv_get_algo(const stylize_conv *conv) { return conv->algo; }
int stylize_conv_thin_bf16(const stylize_conv *conv) { return conv->thin_bf16; }

size_t stylize_conv_owned_bytes(stylize_conv_algo algo, int cin, int cout)
{
    stylize_conv_geom g = {cin, cout, 3, 1, STYLIZE_PAD_ZERO};
    return stylize_conv_kernel_bytes(&g, algo) + sizeof(stylize_conv);
}

/* ---- workspace sizing --------------------------------------------------- */

/* Workspace of the 3x3 zero-padding paths for an algorithm already
 * effective (an existing convolution's is never resolved again: the CPU's
 * features may read otherwise later, under the test hook). */
static size_t algo_ws(stylize_conv_algo algo, int cin, int cout, int h, int w)
{
    if (h <= 0 || w <= 0 || cin <= 0 || cout <= 0)
        return 0;
    if (stylize_conv_algo_tile(algo))
        return stylize_conv_winograd_floats(algo, cin, cout, h, w);
    /* forward: im2col of the input; backward: im2col of the gradient */
    size_t fwd_row = (size_t)cin * 9 * (size_t)w, bwd_row = (size_t)cout * 9 * (size_t)w;
    size_t fwd = fwd_row * stylize_conv_band_rows(fwd_row, h);
    size_t bwd = bwd_row * stylize_conv_band_rows(bwd_row, h);
    return fwd > bwd ? fwd : bwd;
}

size_t stylize_conv_algo_workspace_floats(stylize_conv_algo algo, int cin, int cout, int h, int w)
{
    stylize_conv_geom g = {cin, cout, 3, 1, STYLIZE_PAD_ZERO};
    return cin > 0 && cout > 0 ? algo_ws(effective_algo(&g, algo), cin, cout, h, w) : 0;
}

/* 1 when the weight gradient of g under the effective algorithm eff runs
 * through Winograd (3x3, stride 1, a Winograd algorithm, channels within
 * stylize_conv_winograd_weights_ok), else through im2col. */
static int wino_weights(const stylize_conv_geom *g, stylize_conv_algo eff)
{
    return (geom_is_3x3(g) || geom_is_padded_3x3(g)) &&
           stylize_conv_winograd_weights_ok(eff, g->cin, g->cout);
}

/* Workspace of geometry g with the effective algorithm eff (thin16: a
 * thin layer's forward in bfloat16, thin_bf16; layout: the bfloat16
 * kernel's, for the stride-2 path it picks). */
static size_t ws_floats(const stylize_conv_geom *g, stylize_conv_algo eff, int layout, int thin16, int h, int w,
                        int weight_grad)
{
    if (!g || h <= 0 || w <= 0 || geom_check_shape(g, NULL) != STYLIZE_OK)
        return 0;
    if (stylize_conv_is_thin(g))
        return stylize_conv_thin_floats(g, h, w, thin16, weight_grad);
    if (bf16_s2(g, eff)) { /* the forward's bands; the gradients' im2col */
        size_t d = layout == STYLIZE_CONV_BF16_DIRECT ? stylize_conv_amx_min_floats(g->cin, w, 2)
                                                      : stylize_conv_general_bf16_floats(g, h, w);
        size_t n = stylize_conv_general_floats(g, h, w);
        return d > n ? d : n;
    }
    if (!geom_is_3x3(g) && !has_cache(g, eff))
        return stylize_conv_general_floats(g, h, w);
    size_t n = geom_is_3x3(g) ? algo_ws(eff, g->cin, g->cout, h, w)
                              : stylize_conv_padded_floats(eff, g->cin, g->cout, h, w);
    if (weight_grad) {
        size_t wg = stylize_conv_general_floats(g, h, w); /* the im2col matrix of the input */
        if (wino_weights(g, eff)) /* any padding mode: read by the input transform */
            wg = stylize_conv_winograd_weights_floats(eff, g->cin, g->cout, h, w);
        n = wg > n ? wg : n;
    }
    return n;
}

size_t stylize_conv_geom_workspace_floats(const stylize_conv_geom *g, stylize_conv_algo algo,
                                          int h, int w, int weight_grad)
{
    return g ? ws_floats(g, effective_algo(g, algo), stylize_conv_bf16_layout_for_cpu(), thin_bf16(g, algo), h, w,
                         weight_grad)
             : 0;
}

size_t stylize_conv_workspace_floats_ex(const stylize_conv *conv, int h, int w, int weight_grad)
{
    return ws_floats(&conv->g, conv->algo, conv->bf16_layout, conv->thin_bf16, h, w, weight_grad);
}

size_t stylize_conv_workspace_floats(const stylize_conv *conv, int h, int w)
{
    return stylize_conv_workspace_floats_ex(conv, h, w, 0);
}

/* ---- entry points ------------------------------------------------------- */

/* The forward; relu: the ReLU after it, inside the Winograd output
 * transform, else as a pass over the output. */
static void conv_forward(const stylize_conv *conv, float *out, const float *in, int h, int w,
                         float *ws, int relu)
{
    const stylize_conv_geom *g = &conv->g;
    stylize_conv_algo a = conv->algo;
    int m = stylize_conv_algo_tile(a);
    stylize_wino_pass pass = relu ? STYLIZE_WINO_FORWARD_RELU : STYLIZE_WINO_FORWARD;
    int s2 = bf16_s2(g, a); /* then the cache holds the packed kernel after its header */
    const unsigned char *packed = s2 ? (const unsigned char *)conv->cache + STYLIZE_CONV_BF16_HEADER : NULL;
    if (s2 && conv->bf16_layout == STYLIZE_CONV_BF16_DIRECT) {
        stylize_conv_amx(out, in, packed, conv->bias, relu, 0, g->pad, 2, g->cin, g->cout, h, w, ws,
                         ws_floats(g, a, conv->bf16_layout, 0, h, w, 0));
        return;
    }
    if (s2)
        stylize_conv_general_forward_bf16(g, conv->bf16_layout, packed, conv->bias, out, in, h, w, ws);
    else if (!conv->fast3 && m)
        stylize_conv_padded_forward(g, conv->cache, conv->bias, a, pass, out, in, h, w, ws);
    else if (m)
        stylize_conv_winograd(out, in, conv->cache, conv->bias, a, pass, STYLIZE_PAD_ZERO, g->cin, g->cout,
                              h, w, ws);
    else if (conv->thin_bf16)
        stylize_conv_thin_forward_bf16(g, conv->weight, conv->bias, out, in, h, w, ws);
    else if (!conv->fast3)
        stylize_conv_general_forward(g, conv->weight, conv->bias, out, in, h, w, ws);
    else
        stylize_conv_im2col3x3(out, in, conv->weight, conv->bias, g->cin, g->cout, h, w, ws);
    if (relu && (!m || s2)) { /* the paths that do not fuse it */
        int oh = stylize_conv_out_side(h, g->k, g->stride), ow = stylize_conv_out_side(w, g->k, g->stride);
        stylize_relu_forward(out, out, (size_t)g->cout * (size_t)oh * (size_t)ow);
    }
}

void stylize_conv_forward(const stylize_conv *conv, float *out, const float *in, int h, int w,
                          float *ws)
{
    conv_forward(conv, out, in, h, w, ws, 0);
}

void stylize_conv_forward_relu(const stylize_conv *conv, float *out, const float *in, int h, int w,
                               float *ws)
{
    conv_forward(conv, out, in, h, w, ws, 1);
}

void stylize_conv_backward(const stylize_conv *conv, float *gin, const float *gout, int h, int w,
                           float *ws)
{
    /* 3x3 paths: dL/din[ci][p][q] = sum_{co,ky,kx} weight[co][ci][ky][kx]
     * gout[co][p - ky + 1][q - kx + 1], i.e. a pad-1 convolution of gout with
     * the flipped kernel and no bias. */
    const stylize_conv_geom *g = &conv->g;
    stylize_conv_algo a = conv->algo;
    int m = stylize_conv_algo_tile(a);
    if (!conv->fast3 && m && !bf16_s2(g, a))
        stylize_conv_padded_backward(g, conv->cache, ring_kernel(conv), a, gin, gout, h, w, ws);
    else if (!conv->fast3)
        stylize_conv_general_backward(g, conv->weight, gin, gout, h, w, ws);
    else if (m)
        stylize_conv_winograd(gin, gout, conv->cache, NULL, a, STYLIZE_WINO_BACKWARD, STYLIZE_PAD_ZERO,
                              g->cout, g->cin, h, w, ws);
    else
        stylize_conv_im2col3x3(gin, gout, conv->cache, NULL, g->cout, g->cin, h, w, ws);
}

void stylize_conv_backward_weights(const stylize_conv *conv, float *gw, float *gb, const float *in,
                                   const float *gout, int h, int w, float *ws)
{
    const stylize_conv_geom *g = &conv->g;
    if (!wino_weights(g, conv->algo))
        stylize_conv_general_weights(g, gw, gb, in, gout, h, w, ws);
    else
        stylize_conv_winograd_weights(gw, gb, in, gout, conv->algo, g->pad, g->cin, g->cout, h, w, ws);
}

/* ---- references --------------------------------------------------------- */

void stylize_conv_direct(float *out, const float *in, const float *weight, const float *bias,
                         const stylize_conv_geom *g, int h, int w)
{
    int k = g->k, s = g->stride, p = k / 2;
    int oh = stylize_conv_out_side(h, k, s), ow = stylize_conv_out_side(w, k, s);
    size_t plane = (size_t)h * (size_t)w, oplane = (size_t)oh * (size_t)ow;
    for (int co = 0; co < g->cout; co++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double acc = bias ? (double)bias[co] : 0.0;
                for (int ci = 0; ci < g->cin; ci++) {
                    const float *wk = weight + ((size_t)co * (size_t)g->cin + (size_t)ci) *
                                                   (size_t)(k * k); /* (k, k) */
                    const float *src = in + (size_t)ci * plane;   /* (h, w) */
                    for (int ky = 0; ky < k; ky++) {
                        int sy = stylize_conv_pad_index(y * s + ky - p, h, g->pad);
                        if (sy < 0)
                            continue;
                        for (int kx = 0; kx < k; kx++) {
                            int sx = stylize_conv_pad_index(x * s + kx - p, w, g->pad);
                            if (sx >= 0)
                                acc += (double)wk[ky * k + kx] *
                                       (double)src[(size_t)sy * (size_t)w + (size_t)sx];
                        }
                    }
                }
                out[(size_t)co * oplane + (size_t)y * (size_t)ow + (size_t)x] = (float)acc;
            }
}

void stylize_conv3x3_direct(float *out, const float *in, const float *weight, const float *bias,
                            int cin, int cout, int h, int w)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    for (int co = 0; co < cout; co++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double acc = bias ? (double)bias[co] : 0.0;
                for (int ci = 0; ci < cin; ci++) {
                    const float *wk = weight + ((size_t)co * (size_t)cin + (size_t)ci) * 9;
                    const float *src = in + (size_t)ci * plane;
                    for (int ky = 0; ky < 3; ky++) {
                        int sy = y + ky - 1;
                        if (sy < 0 || sy >= h)
                            continue;
                        for (int kx = 0; kx < 3; kx++) {
                            int sx = x + kx - 1;
                            if (sx < 0 || sx >= w)
                                continue;
                            acc += (double)wk[ky * 3 + kx] *
                                   (double)src[(size_t)sy * wn + (size_t)sx];
                        }
                    }
                }
                out[(size_t)co * plane + (size_t)y * wn + (size_t)x] = (float)acc;
            }
}
