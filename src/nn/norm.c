/* Instance normalisation, forward and backward (see stylize/nn/norm.h). */
#include "stylize/nn/norm.h"

#include <math.h>

/* mean and 1/sqrt(var + eps) of n values, two passes in double. */
static void channel_stats(const float *x, size_t n, float eps, float *mean, float *rstd)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = n ? s / (double)n : 0.0, v = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - m;
        v += d * d;
    }
    v = n ? v / (double)n : 0.0;
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(v + (double)eps));
}

void stylize_inorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, int C, size_t HW, float eps)
{
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * HW; /* (HW) */
        float *yc = y + (size_t)c * HW;
        channel_stats(xc, HW, eps, &mean[c], &rstd[c]);
        float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        float m = mean[c], k = g * rstd[c];
        for (size_t i = 0; i < HW; i++)
            yc[i] = (xc[i] - m) * k + b;
    }
}

void stylize_inorm_backward(float *gx, float *ggamma, float *gbeta, const float *gy,
                            const float *x, const float *mean, const float *rstd,
                            const float *gamma, int C, size_t HW)
{
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * HW, *gc = gy + (size_t)c * HW; /* (HW) */
        float *oc = gx + (size_t)c * HW;
        double m = mean[c], r = rstd[c], g = gamma ? gamma[c] : 1.0;
        double sg = 0, sgx = 0; /* sum gy, sum gy xh */
        for (size_t i = 0; i < HW; i++) {
            double xh = ((double)xc[i] - m) * r;
            sg += gc[i];
            sgx += (double)gc[i] * xh;
        }
        if (ggamma)
            ggamma[c] += (float)sgx;
        if (gbeta)
            gbeta[c] += (float)sg;
        if (!gx)
            continue;
        double n = HW ? (double)HW : 1.0;
        double md = g * sg / n, mdx = g * sgx / n; /* mean(d), mean(d xh) with d = gy g */
        for (size_t i = 0; i < HW; i++) {
            double xh = ((double)xc[i] - m) * r;
            oc[i] = (float)(r * (g * gc[i] - md - xh * mdx));
        }
    }
}
