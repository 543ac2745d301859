/* ReLU forward and backward. */
#include "stylize/activation.h"

void stylize_relu_forward(float *out, const float *in, size_t n)
{
    /* Written as "v < 0 ? 0 : v" so that a NaN input stays NaN and can be
     * detected downstream instead of being silently clamped to 0. */
    for (size_t i = 0; i < n; i++) {
        float v = in[i];
        out[i] = v < 0.0f ? 0.0f : v;
    }
}

void stylize_relu_backward(float *gin, const float *gout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gin[i] = out[i] > 0.0f ? gout[i] : 0.0f;
}
