/* stylize: 3x3, stride 1, pad 1 convolution over CHW float32 tensors.
 *
 * Forward computes out = W * in + b. Backward computes the gradient with
 * respect to the input only (the weights are constants: no weight gradient
 * is ever computed). The backward of a 3x3 pad-1 convolution is itself a
 * 3x3 pad-1 convolution with the kernel flipped and its in/out channels
 * swapped; stylize_conv_create precomputes that kernel once.
 *
 * Both directions run through a caller-supplied workspace whose size is
 * bounded by tiling over output rows (stylize_conv_workspace_floats), so no
 * allocation happens in forward or backward. */
#ifndef STYLIZE_CONV_H
#define STYLIZE_CONV_H

#include <stddef.h>
#include "stylize/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bound of the workspace of one convolution, in floats (64 MiB). */
#define STYLIZE_CONV_WORKSPACE_MAX_FLOATS ((size_t)16 * 1024 * 1024)

typedef enum {
    STYLIZE_CONV_IM2COL = 0,  /* im2col + cblas_sgemm: the reference path */
    STYLIZE_CONV_WINOGRAD = 1 /* reserved for a fast path; falls back to im2col until present */
} stylize_conv_algo;

typedef struct stylize_conv stylize_conv; /* opaque */

/* Creates a convolution over weight (cout, cin, 3, 3) and bias (cout), both
 * borrowed: the caller keeps them alive and unchanged until stylize_conv_free.
 * bias may be NULL (zero bias). The flipped backward kernel (cin, cout, 3, 3)
 * is allocated and owned by the convolution. *out is owned by the caller and
 * freed with stylize_conv_free. */
stylize_status stylize_conv_create(stylize_conv **out, const float *weight, const float *bias,
                                   int cin, int cout, stylize_error *err);
void stylize_conv_free(stylize_conv *conv); /* NULL is allowed */

int stylize_conv_in_channels(const stylize_conv *conv);
int stylize_conv_out_channels(const stylize_conv *conv);

/* Selects the algorithm (default STYLIZE_CONV_IM2COL). */
void stylize_conv_set_algo(stylize_conv *conv, stylize_conv_algo algo);

/* Floats of workspace that forward and backward need at spatial size h x w.
 * Never more than STYLIZE_CONV_WORKSPACE_MAX_FLOATS unless one row of the
 * im2col matrix alone is larger. */
size_t stylize_conv_workspace_floats(const stylize_conv *conv, int h, int w);

/* out (cout, h, w) = conv(in (cin, h, w)) + bias. ws: workspace floats as above.
 * out and in must not overlap. */
void stylize_conv_forward(const stylize_conv *conv, float *out, const float *in, int h, int w,
                          float *ws);

/* gin (cin, h, w) = dL/din given gout (cout, h, w) = dL/dout. gin is
 * overwritten (not accumulated). gin and gout must not overlap. */
void stylize_conv_backward(const stylize_conv *conv, float *gin, const float *gout, int h, int w,
                           float *ws);

/* Reference kernels for tests: direct six-loop convolution, no BLAS.
 * out (cout, h, w) = conv(in (cin, h, w)) with weight (cout, cin, 3, 3), bias (cout) or NULL. */
void stylize_conv3x3_direct(float *out, const float *in, const float *weight, const float *bias,
                            int cin, int cout, int h, int w);

#ifdef __cplusplus
}
#endif
#endif
