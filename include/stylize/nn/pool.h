/* stylize: 2x2 stride-2 max and average pooling over CHW float32 tensors.
 * Odd sizes floor like PyTorch: out is (c, h/2, w/2) with integer division,
 * the last row/column of an odd input is ignored (and gets zero gradient). */
#ifndef STYLIZE_POOL_H
#define STYLIZE_POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { STYLIZE_POOL_MAX = 0, STYLIZE_POOL_AVG = 1 } stylize_pool_kind;

/* out (c, h/2, w/2) = pool(in (c, h, w)). */
void stylize_pool_forward(stylize_pool_kind kind, float *out, const float *in, int c, int h, int w);

/* gin (c, h, w) = dL/din, overwritten, given gout (c, h/2, w/2) and the
 * forward input in (c, h, w). Max pooling routes each gradient to the first
 * maximum of its window in row-major order (as PyTorch does), recomputed from
 * in, so no argmax buffer is kept. Average pooling does not read in (it
 * may be NULL). */
void stylize_pool_backward(stylize_pool_kind kind, float *gin, const float *gout, const float *in,
                           int c, int h, int w);
/* Max pooling that also records, per output, the index 0..3 (row-major in
 * its window) of the maximum it took: idx (c, h/2, w/2) bytes, caller's. */
void stylize_pool_forward_argmax(float *out, uint8_t *idx, const float *in, int c, int h, int w);
/* Max pooling backward from recorded indices instead of the input: equal to
 * stylize_pool_backward(STYLIZE_POOL_MAX, ...) on the same forward. */
void stylize_pool_backward_argmax(float *gin, const float *gout, const uint8_t *idx, int c, int h,
                                  int w);

#ifdef __cplusplus
}
#endif
#endif
