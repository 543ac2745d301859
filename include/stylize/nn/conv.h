/* stylize: 3x3, stride 1, pad 1 convolution over CHW float32 tensors.
 *
 * Forward computes out = W * in + b. Backward computes the gradient with
 * respect to the input only (the weights are constants: no weight gradient
 * is ever computed). The backward of a 3x3 pad-1 convolution is itself a
 * 3x3 pad-1 convolution with the kernel flipped and its in/out channels
 * swapped.
 *
 * Two algorithms: im2col + sgemm (the reference; owns the flipped backward
 * kernel, 9 floats per channel pair) and Winograd F(4x4, 3x3) (or
 * F(2x2, 3x3)), which needs 4x (2.25x) fewer multiplications and owns one
 * transformed kernel, 36 (16) floats per channel pair, that serves both
 * directions; it is made when the algorithm is selected. Winograd rounds
 * differently: ~3e-6 RMS relative error (F(4x4)), ~3e-7 (F(2x2)) on VGG-like
 * data, against ~2e-7 for im2col. Both directions run through a
 * caller-supplied workspace whose size is bounded by tiling
 * (stylize_conv_workspace_floats), so no allocation happens in forward or
 * backward. Forward and backward split their work over the library's thread
 * pool (stylize/threads.h), one sgemm per pool thread. */
#ifndef STYLIZE_CONV_H
#define STYLIZE_CONV_H

#include <stddef.h>
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bound of the workspace of one convolution, in floats (64 MiB). */
#define STYLIZE_CONV_WORKSPACE_MAX_FLOATS ((size_t)16 * 1024 * 1024)

typedef enum {
    STYLIZE_CONV_IM2COL = 0,     /* im2col + cblas_sgemm: the reference path */
    STYLIZE_CONV_WINOGRAD = 1,   /* Winograd F(4x4, 3x3) + 36 sgemms per tile block */
    STYLIZE_CONV_WINOGRAD_F2 = 2 /* Winograd F(2x2, 3x3) + 16 sgemms per tile block */
} stylize_conv_algo;

/* Algorithm that stylize_conv_create selects (initially STYLIZE_CONV_WINOGRAD).
 * Process-wide and not synchronised: set it before creating convolutions
 * (networks). */
void stylize_conv_set_default_algo(stylize_conv_algo algo);
stylize_conv_algo stylize_conv_get_default_algo(void);

typedef struct stylize_conv stylize_conv; /* opaque */

/* Creates a convolution over weight (cout, cin, 3, 3) and bias (cout), both
 * borrowed: the caller keeps them alive and unchanged until stylize_conv_free.
 * bias may be NULL (zero bias). The kernel the default algorithm needs (the
 * flipped backward kernel for im2col, the transformed kernel for Winograd)
 * is allocated and owned by the convolution (stylize_conv_owned_bytes). *out
 * is owned by the caller and freed with stylize_conv_free. */
stylize_status stylize_conv_create(stylize_conv **out, const float *weight, const float *bias,
                                   int cin, int cout, stylize_error *err);
void stylize_conv_free(stylize_conv *conv); /* NULL is allowed */

int stylize_conv_in_channels(const stylize_conv *conv);
int stylize_conv_out_channels(const stylize_conv *conv);

/* Selects the algorithm (default: stylize_conv_get_default_algo() at create).
 * Makes the kernel the new algorithm needs and frees the old one (if the
 * allocation fails the algorithm stays unchanged: see stylize_conv_get_algo).
 * The workspace need changes with the algorithm: query
 * stylize_conv_workspace_floats again after this call. */
void stylize_conv_set_algo(stylize_conv *conv, stylize_conv_algo algo);
stylize_conv_algo stylize_conv_get_algo(const stylize_conv *conv);

/* Floats of workspace that forward and backward need at spatial size h x w
 * with the algorithm currently selected (exact, not an estimate). Never more
 * than STYLIZE_CONV_WORKSPACE_MAX_FLOATS unless one row of the im2col matrix
 * (im2col) or one tile's transforms, (m + 2)^2 * (cin + cout) floats
 * (Winograd), alone is larger. */
size_t stylize_conv_workspace_floats(const stylize_conv *conv, int h, int w);

/* The same for a convolution not yet created: algorithm algo, cin -> cout. */
size_t stylize_conv_algo_workspace_floats(stylize_conv_algo algo, int cin, int cout, int h, int w);

/* Bytes that a convolution cin -> cout with algorithm algo allocates and owns
 * (backward or Winograd kernel), excluding the borrowed weights. */
size_t stylize_conv_owned_bytes(stylize_conv_algo algo, int cin, int cout);

/* out (cout, h, w) = conv(in (cin, h, w)) + bias. ws: workspace floats as above.
 * out and in must not overlap. With more than one thread (stylize/threads.h)
 * the work runs on the library's pool with OpenBLAS switched to one thread
 * for the duration of the call (its thread count is restored afterwards), so
 * no other thread should call BLAS meanwhile. Forward and backward of
 * different convolutions must not run concurrently on the same workspace. */
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
