/* Average pooling by 2^k and nearest upsampling by 2 (stylize/nn/resample.h). */
#include "stylize/nn/resample.h"

#include <stddef.h>
#include <string.h>

void stylize_avgpool_forward(float *out, const float *in, int c, int h, int w, int k)
{
    size_t f = (size_t)1 << k, oh = (size_t)h >> k, ow = (size_t)w >> k;
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    double inv = 1.0 / (double)(f * f);
    for (size_t ch = 0; ch < (size_t)c; ch++) {
        const float *src = in + ch * plane; /* (h, w) */
        float *dst = out + ch * oh * ow;    /* (oh, ow) */
        for (size_t y = 0; y < oh; y++)
            for (size_t x = 0; x < ow; x++) {
                double s = 0;
                for (size_t dy = 0; dy < f; dy++) {
                    const float *row = src + (y * f + dy) * wn + x * f;
                    for (size_t dx = 0; dx < f; dx++)
                        s += row[dx];
                }
                dst[y * ow + x] = (float)(s * inv);
            }
    }
}

void stylize_avgpool_backward(float *gin, const float *gout, int c, int h, int w, int k)
{
    size_t f = (size_t)1 << k, oh = (size_t)h >> k, ow = (size_t)w >> k;
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    float inv = (float)(1.0 / (double)(f * f));
    memset(gin, 0, (size_t)c * plane * sizeof(float));
    for (size_t ch = 0; ch < (size_t)c; ch++) {
        const float *src = gout + ch * oh * ow; /* (oh, ow) */
        float *dst = gin + ch * plane;          /* (h, w) */
        for (size_t y = 0; y < oh; y++)
            for (size_t x = 0; x < ow; x++) {
                float g = src[y * ow + x] * inv;
                for (size_t dy = 0; dy < f; dy++) {
                    float *row = dst + (y * f + dy) * wn + x * f;
                    for (size_t dx = 0; dx < f; dx++)
                        row[dx] = g;
                }
            }
    }
}

void stylize_upsample2_forward(float *out, const float *in, int c, int h, int w)
{
    size_t wn = (size_t)w, ow = 2 * wn;
    for (size_t ch = 0; ch < (size_t)c; ch++)
        for (size_t y = 0; y < (size_t)h; y++) {
            const float *src = in + (ch * (size_t)h + y) * wn;      /* row y of channel ch */
            float *d0 = out + (ch * 2 * (size_t)h + 2 * y) * ow; /* rows 2y, 2y + 1 */
            for (size_t x = 0; x < wn; x++)
                d0[2 * x] = d0[2 * x + 1] = src[x];
            memcpy(d0 + ow, d0, ow * sizeof(float));
        }
}

void stylize_upsample2_backward(float *gin, const float *gout, int c, int h, int w)
{
    size_t wn = (size_t)w, ow = 2 * wn;
    for (size_t ch = 0; ch < (size_t)c; ch++)
        for (size_t y = 0; y < (size_t)h; y++) {
            const float *r0 = gout + (ch * 2 * (size_t)h + 2 * y) * ow, *r1 = r0 + ow;
            float *dst = gin + (ch * (size_t)h + y) * wn;
            for (size_t x = 0; x < wn; x++)
                dst[x] = (r0[2 * x] + r0[2 * x + 1]) + (r1[2 * x] + r1[2 * x + 1]);
        }
}
