/* 2x2, stride 2 max and average pooling over CHW float32 tensors. Odd sizes
 * floor: the last row/column of an odd input is ignored forward and gets a
 * zero gradient backward. */
#include "stylize/nn/pool.h"

#include <string.h>

#include "core/parallel.h"

/* Index 0..3 of the first maximum of the window {a, b, c, d} (row-major
 * order: top-left, top-right, bottom-left, bottom-right); ties go to the
 * earlier element. A NaN counts as the maximum (the first NaN wins), so NaN
 * propagates through max pooling as in PyTorch. */
static int first_max(float a, float b, float c, float d)
{
    const float v[4] = {a, b, c, d};
    int idx = 0;
    for (int i = 1; i < 4 && v[idx] == v[idx]; i++)
        if (v[i] > v[idx] || v[i] != v[i])
            idx = i;
    return idx;
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
    {
        const float *src = in + ch * plane; /* (h, w) */
        float *dst = out + ch * oh * ow;    /* (oh, ow) */
        for (size_t y = 0; y < oh; y++) {
            const float *r0 = src + 2 * y * wn; /* input row 2y */
            const float *r1 = r0 + wn;          /* input row 2y + 1 */
            for (size_t x = 0; x < ow; x++) {
                float a = r0[2 * x], b = r0[2 * x + 1], cc = r1[2 * x], d = r1[2 * x + 1];
                float v;
                if (kind == STYLIZE_POOL_MAX) {
                    int k = first_max(a, b, cc, d);
                    if (idx)
                        idx[ch * oh * ow + y * ow + x] = (uint8_t)k;
                    switch (k) {
                    case 0: v = a; break;
                    case 1: v = b; break;
                    case 2: v = cc; break;
                    default: v = d; break;
                    }
                } else {
                    v = 0.25f * ((a + b) + (cc + d));
                }
                dst[y * ow + x] = v;
            }
        }
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

/* Max pooling takes each window's argmax from idx when given, else
 * recomputes it from in; average pooling reads neither. */
static void pool_backward_channel(stylize_pool_kind kind, float *gin, const float *gout,
                                  const float *in, const uint8_t *am, size_t ch, int h, int w)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    size_t oh = (size_t)h / 2, ow = (size_t)w / 2;
    {
        const float *g = gout + ch * oh * ow; /* (oh, ow) */
        float *gi = gin + ch * plane;         /* (h, w) */
        for (size_t y = 0; y < oh; y++) {
            float *g0 = gi + 2 * y * wn;
            float *g1 = g0 + wn;
            for (size_t x = 0; x < ow; x++) {
                float gv = g[y * ow + x];
                float *p0 = g0 + 2 * x, *p1 = g1 + 2 * x;
                if (kind == STYLIZE_POOL_MAX) {
                    int idx;
                    if (am) {
                        idx = am[ch * oh * ow + y * ow + x];
                    } else {
                        const float *r0 = in + ch * plane + 2 * y * wn, *r1 = r0 + wn;
                        idx = first_max(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1]);
                    }
                    p0[0] = idx == 0 ? gv : 0.0f;
                    p0[1] = idx == 1 ? gv : 0.0f;
                    p1[0] = idx == 2 ? gv : 0.0f;
                    p1[1] = idx == 3 ? gv : 0.0f;
                } else {
                    float q = 0.25f * gv;
                    p0[0] = p0[1] = p1[0] = p1[1] = q;
                }
            }
            if (w & 1) { /* last column, floored away */
                g0[wn - 1] = 0.0f;
                g1[wn - 1] = 0.0f;
            }
        }
        if (h & 1) /* last row, floored away */
            memset(gi + (size_t)(h - 1) * wn, 0, wn * sizeof(float));
    }
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
