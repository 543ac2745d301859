/* Residual addition and per-channel affine maps (stylize/nn/elementwise.h). */
#include "stylize/nn/elementwise.h"

void stylize_add_forward(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void stylize_affine_forward(float *out, const float *x, const float *scale, const float *shift,
                            int C, size_t HW)
{
    for (int c = 0; c < C; c++) {
        float s = scale ? scale[c] : 1.0f, t = shift ? shift[c] : 0.0f;
        const float *xc = x + (size_t)c * HW;
        float *oc = out + (size_t)c * HW;
        for (size_t i = 0; i < HW; i++)
            oc[i] = xc[i] * s + t;
    }
}

void stylize_affine_backward(float *gx, float *gscale, float *gshift, const float *gout,
                             const float *x, const float *scale, int C, size_t HW)
{
    for (int c = 0; c < C; c++) {
        const float *gc = gout + (size_t)c * HW;
        if (gscale || gshift) {
            double ss = 0, st = 0;
            for (size_t i = 0; i < HW; i++) {
                st += gc[i];
                if (gscale)
                    ss += (double)gc[i] * x[(size_t)c * HW + i];
            }
            if (gscale)
                gscale[c] += (float)ss;
            if (gshift)
                gshift[c] += (float)st;
        }
        if (gx) {
            float s = scale ? scale[c] : 1.0f;
            float *oc = gx + (size_t)c * HW;
            for (size_t i = 0; i < HW; i++)
                oc[i] = gc[i] * s;
        }
    }
}
