/* stylize: ReLU and leaky ReLU. The backward uses the forward output (out > 0 exactly when
 * in > 0), so the pre-activation need not be kept. At the kink (in == 0)
 * the gradient is 0, as in PyTorch. */
#ifndef STYLIZE_ACTIVATION_H
#define STYLIZE_ACTIVATION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = max(in[i], 0) for n elements; out == in is allowed. */
void stylize_relu_forward(float *out, const float *in, size_t n);

/* gin[i] = out[i] > 0 ? gout[i] : 0; gin == gout is allowed. */
void stylize_relu_backward(float *gin, const float *gout, const float *out, size_t n);
/* As stylize_relu_forward, also writing the mask: bit (i % 8) of bits[i / 8]
 * is set exactly when out[i] > 0; bits holds (n + 7) / 8 bytes (caller's).
 * A network that keeps only these bits instead of the output needs 1/32 of
 * the memory for the backward. */
void stylize_relu_forward_mask(float *out, const float *in, size_t n, uint8_t *bits);
/* gin[i] = bit i of bits set ? gout[i] : 0; gin == gout is allowed. */
void stylize_relu_backward_mask(float *gin, const float *gout, const uint8_t *bits, size_t n);

/* Leaky ReLU with slope a > 0: out[i] = in[i] > 0 ? in[i] : a in[i]; out ==
 * in is allowed. If bits != NULL it receives the mask of out > 0, as
 * stylize_relu_forward_mask. */
void stylize_lrelu_forward(float *out, const float *in, size_t n, float a, uint8_t *bits);
/* gin[i] = gout[i] where out > 0, else a gout[i] (at in == 0 the gradient is
 * a, as in PyTorch), the sign read from out (forward output) or, when out is
 * NULL, from the mask bits. gin == gout is allowed. */
void stylize_lrelu_backward(float *gin, const float *gout, const float *out, const uint8_t *bits,
                            size_t n, float a);

#ifdef __cplusplus
}
#endif
#endif
