/* Instance normalisation, forward and backward (see stylize/nn/norm.h).
 * Channels are independent: they run as tasks of the thread pool (each
 * writes only its own channel's values, so results do not depend on the
 * thread count), and each channel's sums run in four double lanes (for the
 * adder's latency; the order is fixed, so results are reproducible). */
#include "stylize/nn/norm.h"

#include <math.h>
#include <stddef.h>

#include "core/parallel.h"

/* sum of x[i] and of (x[i] - m)^2 in double, four lanes. */
static double lane_sum(const float *x, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        s0 += x[i], s1 += x[i + 1], s2 += x[i + 2], s3 += x[i + 3];
    for (; i < n; i++)
        s0 += x[i];
    return (s0 + s1) + (s2 + s3);
}

static double lane_var(const float *x, size_t n, double m)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        double d0 = x[i] - m, d1 = x[i + 1] - m, d2 = x[i + 2] - m, d3 = x[i + 3] - m;
        s0 += d0 * d0, s1 += d1 * d1, s2 += d2 * d2, s3 += d3 * d3;
    }
    for (; i < n; i++)
        s0 += (x[i] - m) * (x[i] - m);
    return (s0 + s1) + (s2 + s3);
}

/* mean and 1/sqrt(var + eps) of n values, two passes in double. */
static void channel_stats(const float *x, size_t n, float eps, float *mean, float *rstd)
{
    double m = n ? lane_sum(x, n) / (double)n : 0.0;
    double v = n ? lane_var(x, n, m) / (double)n : 0.0;
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(v + (double)eps));
}

typedef struct {
    float *y, *mean, *rstd, *gx, *ggamma, *gbeta;
    const float *x, *gamma, *beta, *gy;
    const float *cmean, *crstd;
    size_t HW;
    float eps;
} norm_ctx;

static void forward_task(void *arg, int c)
{
    const norm_ctx *t = arg;
    const float *xc = t->x + (size_t)c * t->HW; /* (HW) */
    float *yc = t->y + (size_t)c * t->HW;
    channel_stats(xc, t->HW, t->eps, &t->mean[c], &t->rstd[c]);
    float g = t->gamma ? t->gamma[c] : 1.0f, b = t->beta ? t->beta[c] : 0.0f;
    float m = t->mean[c], k = g * t->rstd[c];
    for (size_t i = 0; i < t->HW; i++)
        yc[i] = (xc[i] - m) * k + b;
}

void stylize_inorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, int C, size_t HW, float eps)
{
    norm_ctx t = {.y = y, .mean = mean, .rstd = rstd, .x = x, .gamma = gamma, .beta = beta, .HW = HW, .eps = eps};
    stylize_parallel_run(C, forward_task, &t);
}

/* sum gy and sum gy xh (xh = (x - m) r) in double, four lanes. */
static void grad_sums(const float *x, const float *gy, size_t n, double m, double r, double *sg, double *sgx)
{
    double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) {
            a[j] += gy[i + j];
            b[j] += (double)gy[i + j] * (((double)x[i + j] - m) * r);
        }
    for (; i < n; i++) {
        a[0] += gy[i];
        b[0] += (double)gy[i] * (((double)x[i] - m) * r);
    }
    *sg = (a[0] + a[1]) + (a[2] + a[3]);
    *sgx = (b[0] + b[1]) + (b[2] + b[3]);
}

static void backward_task(void *arg, int c)
{
    const norm_ctx *t = arg;
    const float *xc = t->x + (size_t)c * t->HW, *gc = t->gy + (size_t)c * t->HW; /* (HW) */
    double m = t->cmean[c], r = t->crstd[c], g = t->gamma ? t->gamma[c] : 1.0;
    double sg, sgx;
    grad_sums(xc, gc, t->HW, m, r, &sg, &sgx);
    if (t->ggamma)
        t->ggamma[c] += (float)sgx;
    if (t->gbeta)
        t->gbeta[c] += (float)sg;
    if (!t->gx)
        return;
    float *oc = t->gx + (size_t)c * t->HW;
    double n = t->HW ? (double)t->HW : 1.0;
    double md = g * sg / n, mdx = g * sgx / n; /* mean(d), mean(d xh) with d = gy g */
    for (size_t i = 0; i < t->HW; i++) {
        double xh = ((double)xc[i] - m) * r;
        oc[i] = (float)(r * (g * gc[i] - md - xh * mdx));
    }
}

void stylize_inorm_backward(float *gx, float *ggamma, float *gbeta, const float *gy,
                            const float *x, const float *mean, const float *rstd,
                            const float *gamma, int C, size_t HW)
{
    norm_ctx t = {.gx = gx, .ggamma = ggamma, .gbeta = gbeta, .gy = gy, .x = x, .cmean = mean,
                  .crstd = rstd, .gamma = gamma, .HW = HW};
    stylize_parallel_run(C, backward_task, &t);
}
