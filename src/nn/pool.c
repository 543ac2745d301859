/* 2x2, stride 2 max and average pooling over CHW float32 tensors. Odd sizes
 * floor: the last row/column of an odd input is ignored forward and gets a
 * zero gradient backward. */
#include "stylize/nn/pool.h"

#include <string.h>

#include "core/parallel.h"

/* The rows run through clones for AVX-512, AVX2 and the baseline, chosen at
 * load time: the loops below are branch-free so that they vectorise (the
 * windows' deinterleaving included); every clone computes the same values. */
#define POOL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define POOL_INLINE static inline __attribute__((always_inline))

/* The first maximum of the window {a, b, c, d} (row-major order: top-left,
 * top-right, bottom-left, bottom-right) and its index 0..3 in *k; ties go
 * to the earlier element. A NaN counts as the maximum (the first NaN wins),
 * so NaN propagates through max pooling as in PyTorch. */
POOL_INLINE float win_max(float a, float b, float c, float d, float *k)
{
    /* take x: x > v, or x is the first NaN (v is not): the form GCC
     * if-converts and vectorises (the index as a float, as the values) */
    float v = a, i = 0.0f;
    i = (b > v || (b != b && v == v)) ? 1.0f : i, v = (b > v || (b != b && v == v)) ? b : v;
    i = (c > v || (c != c && v == v)) ? 2.0f : i, v = (c > v || (c != c && v == v)) ? c : v;
    i = (d > v || (d != d && v == v)) ? 3.0f : i, v = (d > v || (d != d && v == v)) ? d : v;
    *k = i;
    return v;
}

/* One output row of ow pixels from input rows r0, r1 (2 ow floats each):
 * max pooling (with its argmax into idx, or not) or average pooling. */
POOL_CLONES static void max_row_idx(float *restrict dst, uint8_t *restrict idx, const float *restrict r0,
                                    const float *restrict r1, size_t ow)
{
    for (size_t x = 0; x < ow; x++) {
        float k;
        dst[x] = win_max(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1], &k);
        idx[x] = (uint8_t)(int)k;
    }
}

POOL_CLONES static void max_row(float *restrict dst, const float *restrict r0, const float *restrict r1, size_t ow)
{
    for (size_t x = 0; x < ow; x++) {
        float k;
        dst[x] = win_max(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1], &k);
    }
}

POOL_CLONES static void avg_row(float *restrict dst, const float *restrict r0, const float *restrict r1, size_t ow)
{
    for (size_t x = 0; x < ow; x++)
        dst[x] = 0.25f * ((r0[2 * x] + r0[2 * x + 1]) + (r1[2 * x] + r1[2 * x + 1]));
}

/* One pooling call, split over the thread pool by channel. */
typedef struct {
    stylize_pool_kind kind;
    float *dst;
    const float *a, *b;
    uint8_t *idx; /* argmax variants: (c, h/2, w/2) */
    int h, w;
} pool_job;

static void pool_forward_channel(stylize_pool_kind kind, float *out, uint8_t *idx, const float *in,
                                 size_t ch, int h, int w)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    size_t oh = (size_t)h / 2, ow = (size_t)w / 2;
    const float *src = in + ch * plane; /* (h, w) */
    float *dst = out + ch * oh * ow;    /* (oh, ow) */
    for (size_t y = 0; y < oh; y++) {
        const float *r0 = src + 2 * y * wn; /* input row 2y */
        const float *r1 = r0 + wn;          /* input row 2y + 1 */
        if (kind != STYLIZE_POOL_MAX)
            avg_row(dst + y * ow, r0, r1, ow);
        else if (idx)
            max_row_idx(dst + y * ow, idx + ch * oh * ow + y * ow, r0, r1, ow);
        else
            max_row(dst + y * ow, r0, r1, ow);
    }
}

static void forward_task(void *ctx, int ch)
{
    const pool_job *j = ctx;
    pool_forward_channel(j->kind, j->dst, j->idx, j->a, (size_t)ch, j->h, j->w);
}

void stylize_pool_forward(stylize_pool_kind kind, float *out, const float *in, int c, int h, int w)
{
    if (c <= 0 || h <= 0 || w <= 0)
        return;
    pool_job j = {kind, out, in, NULL, NULL, h, w};
    stylize_parallel_run(c, forward_task, &j);
}

void stylize_pool_forward_argmax(float *out, uint8_t *idx, const float *in, int c, int h, int w)
{
    if (c <= 0 || h <= 0 || w <= 0)
        return;
    pool_job j = {STYLIZE_POOL_MAX, out, in, NULL, idx, h, w};
    stylize_parallel_run(c, forward_task, &j);
}

/* Input-gradient rows g0, g1 (2 ow floats each) of one output row's
 * gradient g: max pooling routes each to its window's argmax, from am or
 * recomputed from the input rows r0, r1; average pooling spreads a quarter. */
POOL_CLONES static void max_back_idx(float *restrict g0, float *restrict g1, const float *restrict g,
                                     const uint8_t *restrict am, size_t ow)
{
    for (size_t x = 0; x < ow; x++) {
        float gv = g[x], k = (float)am[x];
        g0[2 * x] = k == 0.0f ? gv : 0.0f;
        g0[2 * x + 1] = k == 1.0f ? gv : 0.0f;
        g1[2 * x] = k == 2.0f ? gv : 0.0f;
        g1[2 * x + 1] = k == 3.0f ? gv : 0.0f;
    }
}

POOL_CLONES static void max_back(float *restrict g0, float *restrict g1, const float *restrict g,
                                 const float *restrict r0, const float *restrict r1, size_t ow)
{
    for (size_t x = 0; x < ow; x++) {
        float gv = g[x], k;
        (void)win_max(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1], &k);
        g0[2 * x] = k == 0.0f ? gv : 0.0f;
        g0[2 * x + 1] = k == 1.0f ? gv : 0.0f;
        g1[2 * x] = k == 2.0f ? gv : 0.0f;
        g1[2 * x + 1] = k == 3.0f ? gv : 0.0f;
    }
}

POOL_CLONES static void avg_back(float *restrict g0, float *restrict g1, const float *restrict g, size_t ow)
{
    for (size_t x = 0; x < ow; x++) {
        float q = 0.25f * g[x];
        g0[2 * x] = g0[2 * x + 1] = q;
        g1[2 * x] = g1[2 * x + 1] = q;
    }
}

/* Max pooling takes each window's argmax from idx when given, else
 * recomputes it from in; average pooling reads neither. */
static void pool_backward_channel(stylize_pool_kind kind, float *gin, const float *gout,
                                  const float *in, const uint8_t *am, size_t ch, int h, int w)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    size_t oh = (size_t)h / 2, ow = (size_t)w / 2;
    const float *g = gout + ch * oh * ow; /* (oh, ow) */
    float *gi = gin + ch * plane;         /* (h, w) */
    for (size_t y = 0; y < oh; y++) {
        float *g0 = gi + 2 * y * wn, *g1 = g0 + wn;
        if (kind != STYLIZE_POOL_MAX) {
            avg_back(g0, g1, g + y * ow, ow);
        } else if (am) {
            max_back_idx(g0, g1, g + y * ow, am + ch * oh * ow + y * ow, ow);
        } else {
            const float *r0 = in + ch * plane + 2 * y * wn;
            max_back(g0, g1, g + y * ow, r0, r0 + wn, ow);
        }
        if (w & 1) { /* last column, floored away */
            g0[wn - 1] = 0.0f;
            g1[wn - 1] = 0.0f;
        }
    }
    if (h & 1) /* last row, floored away */
        memset(gi + (size_t)(h - 1) * wn, 0, wn * sizeof(float));
}

static void backward_task(void *ctx, int ch)
{
    const pool_job *j = ctx;
    pool_backward_channel(j->kind, j->dst, j->a, j->b, j->idx, (size_t)ch, j->h, j->w);
}

void stylize_pool_backward(stylize_pool_kind kind, float *gin, const float *gout, const float *in,
                           int c, int h, int w)
{
    if (c <= 0 || h <= 0 || w <= 0)
        return;
    pool_job j = {kind, gin, gout, in, NULL, h, w};
    stylize_parallel_run(c, backward_task, &j);
}

void stylize_pool_backward_argmax(float *gin, const float *gout, const uint8_t *idx, int c, int h,
                                  int w)
{
    if (c <= 0 || h <= 0 || w <= 0)
        return;
    pool_job j = {STYLIZE_POOL_MAX, gin, gout, NULL, (uint8_t *)idx, h, w};
    stylize_parallel_run(c, backward_task, &j);
}
