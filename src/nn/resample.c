/* Average pooling by 2^k and nearest upsampling by 2 (stylize/nn/resample.h).
 * Each runs as tasks of the thread pool over bands of the coarse side's
 * rows of one channel; a task writes only its band's rows, and every value
 * is computed in the same order whatever the band, so results do not depend
 * on the thread count. */
#include "stylize/nn/resample.h"

#include <stddef.h>
#include <string.h>

#include "core/parallel.h"

#define BAND_VALUES ((size_t)1 << 16) /* fine-side values per task, about */
#define XCHUNK 256                    /* coarse columns summed at once (double accumulators) */

typedef struct {
    float *dst;
    const float *src;
    size_t h, w;    /* the fine side (c, h, w) */
    size_t oh, ow;  /* the coarse side (c, oh, ow): h / f, w / f */
    size_t f;       /* the factor */
    size_t band;    /* coarse rows per task */
    size_t nbands;  /* tasks per channel */
} rs_job;

static rs_job rs_plan(float *dst, const float *src, int c, size_t h, size_t w, size_t f, int *ntasks)
{
    rs_job j = {dst, src, h, w, h / f, w / f, f, 1, 1};
    size_t per_row = f * w > 0 ? f * w : 1; /* fine values per coarse row */
    j.band = BAND_VALUES / per_row > 0 ? BAND_VALUES / per_row : 1;
    j.nbands = j.oh > j.band ? (j.oh + j.band - 1) / j.band : 1;
    *ntasks = c * (int)j.nbands;
    return j;
}

/* Task t's channel and coarse rows [*y0, *y1). */
static size_t band_of(const rs_job *j, int t, size_t *y0, size_t *y1)
{
    size_t ch = (size_t)t / j->nbands, b = (size_t)t % j->nbands;
    *y0 = b * j->band;
    *y1 = *y0 + j->band < j->oh ? *y0 + j->band : j->oh;
    return ch;
}

/* Coarse row y of channel ch: each window's sum in double, in the order
 * rows dy, then columns dx (several windows at once, for the adder). */
static void pool_row(const rs_job *j, size_t ch, size_t y, double inv)
{
    const float *src = j->src + ch * j->h * j->w; /* (h, w) */
    float *dst = j->dst + (ch * j->oh + y) * j->ow; /* (ow) */
    for (size_t x0 = 0; x0 < j->ow; x0 += XCHUNK) {
        size_t n = j->ow - x0 < XCHUNK ? j->ow - x0 : XCHUNK;
        double acc[XCHUNK] = {0};
        for (size_t dy = 0; dy < j->f; dy++) {
            const float *row = src + (y * j->f + dy) * j->w + x0 * j->f;
            for (size_t dx = 0; dx < j->f; dx++)
                for (size_t x = 0; x < n; x++)
                    acc[x] += row[x * j->f + dx];
        }
        for (size_t x = 0; x < n; x++)
            dst[x0 + x] = (float)(acc[x] * inv);
    }
}

static void pool_fwd_task(void *ctx, int t)
{
    const rs_job *j = ctx;
    size_t y0, y1, ch = band_of(j, t, &y0, &y1);
    double inv = 1.0 / (double)(j->f * j->f);
    for (size_t y = y0; y < y1; y++)
        pool_row(j, ch, y, inv);
}

void stylize_avgpool_forward(float *out, const float *in, int c, int h, int w, int k)
{
    int ntasks;
    rs_job j = rs_plan(out, in, c, (size_t)h, (size_t)w, (size_t)1 << k, &ntasks);
    if (j.oh && j.ow)
        stylize_parallel_run(ntasks, pool_fwd_task, &j);
}

/* The fine rows of coarse rows [y0, y1) of channel ch: each window's
 * gradient / f^2, zero in the last w % f columns; the band that ends the
 * channel also zeroes the last h % f rows. */
static void pool_bwd_task(void *ctx, int t)
{
    const rs_job *j = ctx;
    size_t y0, y1, ch = band_of(j, t, &y0, &y1);
    float inv = (float)(1.0 / (double)(j->f * j->f));
    const float *src = j->src + ch * j->oh * j->ow; /* (oh, ow) */
    float *dst = j->dst + ch * j->h * j->w;         /* (h, w) */
    for (size_t y = y0; y < y1; y++)
        for (size_t dy = 0; dy < j->f; dy++) {
            float *row = dst + (y * j->f + dy) * j->w;
            for (size_t x = 0; x < j->ow; x++) {
                float g = src[y * j->ow + x] * inv;
                for (size_t dx = 0; dx < j->f; dx++)
                    row[x * j->f + dx] = g;
            }
            memset(row + j->ow * j->f, 0, (j->w - j->ow * j->f) * sizeof(float));
        }
    if (y1 == j->oh)
        memset(dst + j->oh * j->f * j->w, 0, (j->h - j->oh * j->f) * j->w * sizeof(float));
}

void stylize_avgpool_backward(float *gin, const float *gout, int c, int h, int w, int k)
{
    int ntasks;
    rs_job j = rs_plan(gin, gout, c, (size_t)h, (size_t)w, (size_t)1 << k, &ntasks);
    stylize_parallel_run(ntasks, pool_bwd_task, &j);
}

/* Upsampling: the coarse side is the input (c, h, w), the fine (c, 2h, 2w). */
static void up_fwd_task(void *ctx, int t)
{
    const rs_job *j = ctx;
    size_t y0, y1, ch = band_of(j, t, &y0, &y1);
    for (size_t y = y0; y < y1; y++) {
        const float *src = j->src + (ch * j->oh + y) * j->ow; /* row y of channel ch */
        float *d0 = j->dst + (ch * j->h + 2 * y) * j->w;      /* rows 2y, 2y + 1 */
        for (size_t x = 0; x < j->ow; x++)
            d0[2 * x] = d0[2 * x + 1] = src[x];
        memcpy(d0 + j->w, d0, j->w * sizeof(float));
    }
}

void stylize_upsample2_forward(float *out, const float *in, int c, int h, int w)
{
    int ntasks;
    rs_job j = rs_plan(out, in, c, 2 * (size_t)h, 2 * (size_t)w, 2, &ntasks);
    if (j.oh && j.ow)
        stylize_parallel_run(ntasks, up_fwd_task, &j);
}

static void up_bwd_task(void *ctx, int t)
{
    const rs_job *j = ctx;
    size_t y0, y1, ch = band_of(j, t, &y0, &y1);
    for (size_t y = y0; y < y1; y++) {
        const float *r0 = j->src + (ch * j->h + 2 * y) * j->w, *r1 = r0 + j->w;
        float *dst = j->dst + (ch * j->oh + y) * j->ow;
        for (size_t x = 0; x < j->ow; x++)
            dst[x] = (r0[2 * x] + r0[2 * x + 1]) + (r1[2 * x] + r1[2 * x + 1]);
    }
}

void stylize_upsample2_backward(float *gin, const float *gout, int c, int h, int w)
{
    int ntasks;
    rs_job j = rs_plan(gin, gout, c, 2 * (size_t)h, 2 * (size_t)w, 2, &ntasks);
    if (j.oh && j.ow)
        stylize_parallel_run(ntasks, up_bwd_task, &j);
}
