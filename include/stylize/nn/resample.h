/* stylize: resampling of one image's (C, H, W) float32 tensor: average
 * pooling by 2^k (the multi-scale inputs of the pyramid generator) and
 * nearest-neighbour upsampling by 2. Sizes floor like PyTorch: average
 * pooling by f = 2^k gives (C, H / f, W / f); the last H % f rows and W % f
 * columns are ignored forward and get zero gradient backward. */
#ifndef STYLIZE_RESAMPLE_H
#define STYLIZE_RESAMPLE_H

#ifdef __cplusplus
extern "C" {
#endif

/* out (c, h >> k, w >> k) = mean of each 2^k x 2^k window of in (c, h, w),
 * summed in double; k in 0..15 (k = 0 copies). */
void stylize_avgpool_forward(float *out, const float *in, int c, int h, int w, int k);

/* gin (c, h, w) = dL/din (overwritten) given gout (c, h >> k, w >> k). */
void stylize_avgpool_backward(float *gin, const float *gout, int c, int h, int w, int k);

/* out (c, 2h, 2w): each pixel of in (c, h, w) repeated over a 2 x 2 block. */
void stylize_upsample2_forward(float *out, const float *in, int c, int h, int w);

/* gin (c, h, w) = sum of gout (c, 2h, 2w) over each 2 x 2 block (overwritten). */
void stylize_upsample2_backward(float *gin, const float *gout, int c, int h, int w);

#ifdef __cplusplus
}
#endif
#endif
