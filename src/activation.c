/* ReLU forward and backward: branch-free bit masks (so the compiler
 * vectorises them) and split over the thread pool in blocks. */
#include "stylize/activation.h"

#include <stdint.h>
#include <string.h>

#include "parallel.h"

#define RELU_BLOCK ((size_t)1 << 16) /* elements per task */

typedef struct {
    float *dst;
    const float *a; /* forward: input; backward: gout */
    const float *b; /* backward: forward output */
    size_t n;
} relu_job;

/* out = in where !(in < 0) (so NaN and -0.0 pass through, as "v < 0 ? 0 : v"), else +0. */
static void relu_fwd_range(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = in[i];
        uint32_t bits, mask = (uint32_t)0 - (uint32_t)!(v < 0.0f);
        memcpy(&bits, &v, sizeof bits);
        bits &= mask;
        memcpy(&out[i], &bits, sizeof bits);
    }
}

/* gin = gout where out > 0, else +0. */
static void relu_bwd_range(float *gin, const float *gout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gout[i];
        uint32_t bits, mask = (uint32_t)0 - (uint32_t)(out[i] > 0.0f);
        memcpy(&bits, &g, sizeof bits);
        bits &= mask;
        memcpy(&gin[i], &bits, sizeof bits);
    }
}

static void fwd_task(void *ctx, int t)
{
    const relu_job *j = ctx;
    size_t lo = (size_t)t * RELU_BLOCK, hi = lo + RELU_BLOCK < j->n ? lo + RELU_BLOCK : j->n;
    relu_fwd_range(j->dst + lo, j->a + lo, hi - lo);
}

static void bwd_task(void *ctx, int t)
{
    const relu_job *j = ctx;
    size_t lo = (size_t)t * RELU_BLOCK, hi = lo + RELU_BLOCK < j->n ? lo + RELU_BLOCK : j->n;
    relu_bwd_range(j->dst + lo, j->a + lo, j->b + lo, hi - lo);
}

void stylize_relu_forward(float *out, const float *in, size_t n)
{
    if (n <= RELU_BLOCK) {
        relu_fwd_range(out, in, n);
        return;
    }
    relu_job j = {out, in, NULL, n};
    stylize_parallel_run((int)((n + RELU_BLOCK - 1) / RELU_BLOCK), fwd_task, &j);
}

void stylize_relu_backward(float *gin, const float *gout, const float *out, size_t n)
{
    if (n <= RELU_BLOCK) {
        relu_bwd_range(gin, gout, out, n);
        return;
    }
    relu_job j = {gin, gout, out, n};
    stylize_parallel_run((int)((n + RELU_BLOCK - 1) / RELU_BLOCK), bwd_task, &j);
}
