/* ReLU forward and backward: branch-free bit masks (so the compiler
 * vectorises them) and split over the thread pool in blocks. */
#include "stylize/nn/activation.h"

#include <stdint.h>
#include <string.h>

#include "core/parallel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_SSE2 1
#endif

#define RELU_BLOCK ((size_t)1 << 16) /* elements per task */

typedef struct {
    float *dst;
    const float *a; /* forward: input; backward: gout */
    const float *b; /* backward: forward output */
    uint8_t *bits;  /* forward_mask: mask out; backward_mask: mask in */
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

/* relu_fwd_range plus the mask bits; lo is a multiple of 8 (bits is the
 * mask of element 0 of the whole tensor). */
static void relu_fwd_mask_range(float *out, const float *in, size_t lo, size_t hi, uint8_t *bits)
{
    relu_fwd_range(out + lo, in + lo, hi - lo);
    size_t i = lo;
#ifdef HAVE_SSE2
    const __m128 zero = _mm_setzero_ps(); /* out > 0: false for NaN and -0, as below */
    for (; i + 8 <= hi; i += 8) {
        int m0 = _mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(out + i), zero));
        int m1 = _mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(out + i + 4), zero));
        bits[i / 8] = (uint8_t)(m0 | (m1 << 4));
    }
#endif
    for (; i < hi; i += 8) {
        unsigned byte = 0;
        for (size_t k = 0; k < 8 && i + k < hi; k++)
            byte |= (unsigned)(out[i + k] > 0.0f) << k;
        bits[i / 8] = (uint8_t)byte;
    }
}

static void relu_bwd_mask_range(float *gin, const float *gout, size_t lo, size_t hi,
                                const uint8_t *bits)
{
    size_t i = lo;
#ifdef HAVE_SSE2
    const __m128i sel = _mm_setr_epi32(1, 2, 4, 8);
    for (; i + 8 <= hi; i += 8) {
        unsigned b = bits[i / 8];
        __m128i b0 = _mm_set1_epi32((int)(b & 15u)), b1 = _mm_set1_epi32((int)(b >> 4));
        __m128 m0 = _mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(b0, sel), sel));
        __m128 m1 = _mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(b1, sel), sel));
        __m128 g0 = _mm_loadu_ps(gout + i), g1 = _mm_loadu_ps(gout + i + 4);
        _mm_storeu_ps(gin + i, _mm_and_ps(g0, m0));
        _mm_storeu_ps(gin + i + 4, _mm_and_ps(g1, m1));
    }
#endif
    for (; i < hi; i++) {
        float g = gout[i];
        uint32_t v, mask = (uint32_t)0 - (uint32_t)((bits[i / 8] >> (i % 8)) & 1u);
        memcpy(&v, &g, sizeof v);
        v &= mask;
        memcpy(&gin[i], &v, sizeof v);
    }
}

static void fwd_mask_task(void *ctx, int t)
{
    const relu_job *j = ctx;
    size_t lo = (size_t)t * RELU_BLOCK, hi = lo + RELU_BLOCK < j->n ? lo + RELU_BLOCK : j->n;
    relu_fwd_mask_range(j->dst, j->a, lo, hi, j->bits);
}

static void bwd_mask_task(void *ctx, int t)
{
    const relu_job *j = ctx;
    size_t lo = (size_t)t * RELU_BLOCK, hi = lo + RELU_BLOCK < j->n ? lo + RELU_BLOCK : j->n;
    relu_bwd_mask_range(j->dst, j->a, lo, hi, j->bits);
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
    relu_job j = {out, in, NULL, NULL, n};
    stylize_parallel_run((int)((n + RELU_BLOCK - 1) / RELU_BLOCK), fwd_task, &j);
}

void stylize_relu_backward(float *gin, const float *gout, const float *out, size_t n)
{
    if (n <= RELU_BLOCK) {
        relu_bwd_range(gin, gout, out, n);
        return;
    }
    relu_job j = {gin, gout, out, NULL, n};
    stylize_parallel_run((int)((n + RELU_BLOCK - 1) / RELU_BLOCK), bwd_task, &j);
}

void stylize_relu_forward_mask(float *out, const float *in, size_t n, uint8_t *bits)
{
    relu_job j = {out, in, NULL, bits, n};
    stylize_parallel_run((int)((n + RELU_BLOCK - 1) / RELU_BLOCK), fwd_mask_task, &j);
}

void stylize_relu_backward_mask(float *gin, const float *gout, const uint8_t *bits, size_t n)
{
    relu_job j = {gin, gout, NULL, (uint8_t *)bits, n};
    stylize_parallel_run((int)((n + RELU_BLOCK - 1) / RELU_BLOCK), bwd_mask_task, &j);
}

void stylize_lrelu_forward(float *out, const float *in, size_t n, float a, uint8_t *bits)
{
    for (size_t i = 0; i < n; i++) {
        float v = in[i];
        out[i] = v > 0.0f ? v : a * v;
    }
    if (!bits)
        return;
    for (size_t i = 0; i < n; i += 8) {
        unsigned byte = 0;
        for (size_t k = 0; k < 8 && i + k < n; k++)
            byte |= (unsigned)(out[i + k] > 0.0f) << k;
        bits[i / 8] = (uint8_t)byte;
    }
}

void stylize_lrelu_backward(float *gin, const float *gout, const float *out, const uint8_t *bits,
                            size_t n, float a)
{
    for (size_t i = 0; i < n; i++) {
        int pos = out ? out[i] > 0.0f : (bits[i / 8] >> (i % 8)) & 1;
        gin[i] = pos ? gout[i] : a * gout[i];
    }
}
