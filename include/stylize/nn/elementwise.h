/* stylize: element-wise ops of the layer graph over one image's (C, H, W)
 * float32 tensor: residual addition and a per-channel affine map. */
#ifndef STYLIZE_ELEMENTWISE_H
#define STYLIZE_ELEMENTWISE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = a[i] + b[i] for n elements; out may be a or b. */
void stylize_add_forward(float *out, const float *a, const float *b, size_t n);

/* out (C, HW) = x scale[c] + shift[c]; scale or shift may be NULL (1, 0);
 * out == x is allowed. */
void stylize_affine_forward(float *out, const float *x, const float *scale, const float *shift,
                            int C, size_t HW);

/* gx (C, HW) = gout scale[c] (overwritten; gx == gout allowed) if gx != NULL;
 * gscale (C) += sum gout x and gshift (C) += sum gout (if non-NULL; gscale
 * needs the forward's input x). Sums in double. */
void stylize_affine_backward(float *gx, float *gscale, float *gshift, const float *gout,
                             const float *x, const float *scale, int C, size_t HW);

#ifdef __cplusplus
}
#endif
#endif
