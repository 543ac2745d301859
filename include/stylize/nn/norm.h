/* stylize: instance normalisation (Ulyanov, Vedaldi and Lempitsky 2016) over
 * one image's (C, H, W) float32 tensor: every channel is normalised by its
 * own mean and variance over the H W positions,
 *     y[c] = gamma[c] (x[c] - mean[c]) rstd[c] + beta[c],
 *     rstd[c] = 1 / sqrt(var[c] + eps),  var the biased variance,
 * as PyTorch's InstanceNorm2d (affine=True) in training mode. Statistics are
 * computed in double, in two passes (mean, then the mean of squared
 * deviations): never as E[x^2] - E[x]^2, which cancels catastrophically. */
#ifndef STYLIZE_NORM_H
#define STYLIZE_NORM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_INORM_EPS 1e-5f

/* y (C, HW) = inorm(x (C, HW)); mean, rstd (C) receive the statistics the
 * backward needs. gamma, beta (C) may be NULL (1 and 0). y == x is allowed. */
void stylize_inorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, int C, size_t HW, float eps);

/* An activation applied as the normalised values are written. */
typedef enum {
    STYLIZE_INORM_NO_ACT, /* stylize_inorm_forward */
    STYLIZE_INORM_RELU,   /* then bit for bit stylize_relu_forward */
    STYLIZE_INORM_LRELU   /* then bit for bit stylize_lrelu_forward (slope, no mask) */
} stylize_inorm_act;

/* stylize_inorm_forward followed by the activation act (slope: LRELU's a)
 * over y, in the same pass over the values. */
void stylize_inorm_forward_act(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                               const float *beta, int C, size_t HW, float eps, stylize_inorm_act act,
                               float slope);

/* gx (C, HW) = dL/dx (overwritten; NULL: not computed) given gy = dL/dy, the forward's input x
 * and its mean, rstd; gamma (C) or NULL (1). ggamma, gbeta (C), if non-NULL,
 * accumulate (+=) dL/dgamma and dL/dbeta. gx == gy is allowed. Sums in double:
 *     xh = (x - mean) rstd,  d = gy gamma,
 *     gx = rstd (d - mean(d) - xh mean(d xh)). */
void stylize_inorm_backward(float *gx, float *ggamma, float *gbeta, const float *gy,
                            const float *x, const float *mean, const float *rstd,
                            const float *gamma, int C, size_t HW);

#ifdef __cplusplus
}
#endif
#endif
