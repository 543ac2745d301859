/* Instance normalisation, forward and backward (see stylize/nn/norm.h).
 * Channels are independent: they run as tasks of the thread pool (each
 * writes only its own channel's values, so results do not depend on the
 * thread count), and each channel's sums run in sixteen double lanes (for the
 * adder's latency and the vector units; the order is fixed, so results are
 * reproducible). */
#include "stylize/nn/norm.h"

#include <math.h>
#include <stddef.h>

#include "core/parallel.h"

/* The loops below are cloned for AVX-512 and AVX2 (chosen at load time
 * from the CPU; the baseline otherwise): sixteen double lanes per sum, whose
 * order is the same in every clone, so results do not depend on the CPU. */
#define NORM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define LANES 16

/* the lanes' sum, pairwise (s is overwritten). */
static double lanes_total(double *s)
{
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            s[j] += s[j + w];
    return s[0];
}

/* sum of x[i] in double. */
NORM_CLONES static double lane_sum(const float *x, size_t n)
{
    double s[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            s[j] += x[i + j];
    for (; i < n; i++)
        s[0] += x[i];
    return lanes_total(s);
}

/* sum of (x[i] - m)^2 in double. */
NORM_CLONES static double lane_var(const float *x, size_t n, double m)
{
    double s[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            double d = x[i + j] - m;
            s[j] += d * d;
        }
    for (; i < n; i++)
        s[0] += (x[i] - m) * (x[i] - m);
    return lanes_total(s);
}

/* y[i] = act((x[i] - m) k + b) over n values (y == x allowed); the
 * activations' comparisons as stylize_relu_forward's and
 * stylize_lrelu_forward's, so the values are theirs bit for bit. */
NORM_CLONES static void normalise(float *y, const float *x, size_t n, float m, float k, float b,
                                  stylize_inorm_act act, float slope)
{
    if (act == STYLIZE_INORM_RELU)
        for (size_t i = 0; i < n; i++) {
            float v = (x[i] - m) * k + b;
            y[i] = v < 0.0f ? 0.0f : v;
        }
    else if (act == STYLIZE_INORM_LRELU)
        for (size_t i = 0; i < n; i++) {
            float v = (x[i] - m) * k + b;
            y[i] = v > 0.0f ? v : slope * v;
        }
    else
        for (size_t i = 0; i < n; i++)
            y[i] = (x[i] - m) * k + b;
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
    float eps, slope;
    stylize_inorm_act act;
} norm_ctx;

static void forward_task(void *arg, int c)
{
    const norm_ctx *t = arg;
    const float *xc = t->x + (size_t)c * t->HW; /* (HW) */
    float *yc = t->y + (size_t)c * t->HW;
    channel_stats(xc, t->HW, t->eps, &t->mean[c], &t->rstd[c]);
    float g = t->gamma ? t->gamma[c] : 1.0f, b = t->beta ? t->beta[c] : 0.0f;
    normalise(yc, xc, t->HW, t->mean[c], g * t->rstd[c], b, t->act, t->slope);
}

void stylize_inorm_forward_act(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                               const float *beta, int C, size_t HW, float eps, stylize_inorm_act act,
                               float slope)
{
    norm_ctx t = {.y = y, .mean = mean, .rstd = rstd, .x = x, .gamma = gamma, .beta = beta, .HW = HW,
                  .eps = eps, .slope = slope, .act = act};
    stylize_parallel_run(C, forward_task, &t);
}

void stylize_inorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, int C, size_t HW, float eps)
{
    stylize_inorm_forward_act(y, mean, rstd, x, gamma, beta, C, HW, eps, STYLIZE_INORM_NO_ACT, 0.0f);
}

/* sum gy and sum gy xh (xh = (x - m) r) in double. */
NORM_CLONES static void grad_sums(const float *x, const float *gy, size_t n, double m, double r, double *sg,
                                  double *sgx)
{
    double a[LANES] = {0}, b[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            a[j] += gy[i + j];
            b[j] += (double)gy[i + j] * (((double)x[i + j] - m) * r);
        }
    for (; i < n; i++) {
        a[0] += gy[i];
        b[0] += (double)gy[i] * (((double)x[i] - m) * r);
    }
    *sg = lanes_total(a);
    *sgx = lanes_total(b);
}

/* gx[i] = r (g gy[i] - md - xh[i] mdx) over n values (gx == gy allowed). */
NORM_CLONES static void grad_input(float *gx, const float *x, const float *gy, size_t n, double m, double r,
                                   double g, double md, double mdx)
{
    for (size_t i = 0; i < n; i++) {
        double xh = ((double)x[i] - m) * r;
        gx[i] = (float)(r * (g * gy[i] - md - xh * mdx));
    }
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
    double n = t->HW ? (double)t->HW : 1.0;
    double md = g * sg / n, mdx = g * sgx / n; /* mean(d), mean(d xh) with d = gy g */
    grad_input(t->gx + (size_t)c * t->HW, xc, gc, t->HW, m, r, g, md, mdx);
}

void stylize_inorm_backward(float *gx, float *ggamma, float *gbeta, const float *gy,
                            const float *x, const float *mean, const float *rstd,
                            const float *gamma, int C, size_t HW)
{
    norm_ctx t = {.gx = gx, .ggamma = ggamma, .gbeta = gbeta, .gy = gy, .x = x, .cmean = mean,
                  .crstd = rstd, .gamma = gamma, .HW = HW};
    stylize_parallel_run(C, backward_task, &t);
}
