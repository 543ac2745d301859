/* stylize: ReLU. The backward uses the forward output (out > 0 exactly when
 * in > 0), so the pre-activation need not be kept. At the kink (in == 0)
 * the gradient is 0, as in PyTorch. */
#ifndef STYLIZE_ACTIVATION_H
#define STYLIZE_ACTIVATION_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = max(in[i], 0) for n elements; out == in is allowed. */
void stylize_relu_forward(float *out, const float *in, size_t n);

/* gin[i] = out[i] > 0 ? gout[i] : 0; gin == gout is allowed. */
void stylize_relu_backward(float *gin, const float *gout, const float *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
