/* stylize: convolution over CHW float32 tensors.
 *
 * Any odd square kernel (1x1 .. 15x15), stride 1 or 2, k / 2 pixels of
 * zero, reflect, replicate or circular padding on every side (PyTorch's
 * Conv2d with padding = k // 2 and padding_mode). Forward computes
 * out = W * in + b; backward the gradient with respect to the input;
 * stylize_conv_backward_weights accumulates the gradients of the weight and
 * bias (for trainable networks).
 *
 * The 3x3, stride 1, zero-padding geometry (VGG's) has three algorithms:
 * im2col + sgemm (the reference; owns the flipped backward kernel, 9 floats
 * per channel pair: the backward of a 3x3 pad-1 convolution is itself a 3x3
 * pad-1 convolution with the kernel flipped and its in/out channels swapped)
 * and Winograd F(4x4, 3x3) (or F(2x2, 3x3)), which needs 4x (2.25x) fewer
 * multiplications and owns one transformed kernel, 36 (16) floats per
 * channel pair, that serves both directions; it is made when the algorithm
 * is selected. Winograd rounds differently: ~3e-6 RMS relative error
 * (F(4x4)), ~3e-7 (F(2x2)) on VGG-like data, against ~2e-7 for im2col.
 * The bfloat16 Winograd algorithms (AVX512-BF16 only) keep the transforms
 * in float32 and run the element-wise products as bfloat16 GEMMs with
 * float32 accumulation; their kernel is the transform packed for the GEMM
 * twice, once per direction (2 x 36 (16) bfloat16 per channel pair), and
 * their error is bfloat16's (tests/nn/test_conv_bf16.c states the bound).
 * Every other geometry runs the general im2col path (no kernel cache): the
 * forward is im2col + sgemm, the input gradient W^T gout followed by col2im
 * (the adjoint of im2col: a padded position's gradient goes to the pixel it
 * was read from). The weight gradient of every convolution goes through the
 * im2col matrix of the input.
 *
 * Every call runs through a caller-supplied workspace whose size is bounded
 * by tiling (stylize_conv_workspace_floats_ex), so no allocation happens in
 * forward or backward. The work is split over the library's thread pool
 * (stylize/threads.h), one sgemm per pool thread. */
#ifndef STYLIZE_CONV_H
#define STYLIZE_CONV_H

#include <stddef.h>
#include "stylize/core/mem.h"
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bound of the workspace of one convolution, in floats (64 MiB). */
#define STYLIZE_CONV_WORKSPACE_MAX_FLOATS ((size_t)16 * 1024 * 1024)

typedef enum {
    STYLIZE_CONV_IM2COL = 0,     /* im2col + cblas_sgemm: the reference path */
    STYLIZE_CONV_WINOGRAD = 1,   /* Winograd F(4x4, 3x3) + 36 sgemms per tile block */
    STYLIZE_CONV_WINOGRAD_F2 = 2, /* Winograd F(2x2, 3x3) + 16 sgemms per tile block */
    /* The same transforms with bfloat16 GEMMs (float32 accumulation,
     * stylize/nn/gemm_bf16.h) where the CPU has AVX512-BF16 and both channel
     * counts are at least STYLIZE_CONV_BF16_MIN_CHANNELS; elsewhere they run
     * as their float32 counterparts (stylize_conv_get_algo says which). */
    STYLIZE_CONV_WINOGRAD_BF16 = 3,   /* F(4x4, 3x3) */
    STYLIZE_CONV_WINOGRAD_F2_BF16 = 4 /* F(2x2, 3x3) */
} stylize_conv_algo;

/* Narrower convolutions (the generators', VGG-19's conv1_1) keep float32
 * under a bfloat16 algorithm: through Winograd the transforms dominate
 * there, so bfloat16 saves almost nothing, while its rounding, through many
 * narrow layers and instance normalisations, moved a pyramid generator's
 * output by 17 levels of 255 on average (scripts/bench-train.sh,
 * 2026-12-01). On the direct AMX path (no transforms) bfloat16 pays on the
 * pyramid's 32..48-channel layers too, but not in training: there (Xeon,
 * 2026-12-03, scripts/bench-precision.sh) it cut a step from 0.93 to 0.84 s
 * and raised the final loss to 1.033x fp32's (from 32 channels; 1.050x
 * from 48) against the 2% allowed. */
#define STYLIZE_CONV_BF16_MIN_CHANNELS 64
/* Applying a generator, the direct AMX path (and any CPU's bf16 stride-2
 * layers, README Precision) takes layers from 32 channels:
 * a pyramid texture model's samples then keep their fp32-judged style loss
 * within 0.05% (4 samples, 256 px) and differ from float32's by 0.13 levels
 * of 255 on average, 5 at most (2026-12-03). */
#define STYLIZE_CONV_BF16_APPLY_MIN_CHANNELS 32

/* The narrowest layer (both channel counts) that a bfloat16 algorithm runs
 * in bfloat16 on the direct AMX path and at stride 2 (no transform there);
 * Winograd's bfloat16 keeps STYLIZE_CONV_BF16_MIN_CHANNELS. Initially
 * STYLIZE_CONV_BF16_MIN_CHANNELS; stylize_precision_select sets it for its work (stylize/nn/precision.h).
 * Process-wide and not synchronised, as the default algorithm below: set
 * it before creating convolutions; a convolution keeps its choice. */
void stylize_conv_set_bf16_min_channels(int channels);
int stylize_conv_get_bf16_min_channels(void);

/* Thin layers (stylize_conv_thin_bf16 below) created under a bfloat16
 * algorithm on a CPU with AVX512-BF16 run their forward in bfloat16 while
 * this is on; their gradients stay float32. Initially off;
 * stylize_precision_select turns it on for applying a model only: the
 * residual generator's 9x9 first and last layers then take 1.5x and 2x
 * less time, and a 60-step residual model's images moved from float32's
 * by 0.19-0.32 levels of 255 on average instead of 0.16-0.24 (README,
 * Precision; 2026-12-04). Process-wide, as the above. */
void stylize_conv_set_bf16_thin(int on);
int stylize_conv_get_bf16_thin(void);

/* The algorithm's name: "im2col", "winograd", "winograd2", "winograd-bf16",
 * "winograd2-bf16" (static storage); parse returns 0 and sets *out for one
 * of them, -1 otherwise. */
const char *stylize_conv_algo_name(stylize_conv_algo algo);
int stylize_conv_algo_parse(const char *name, stylize_conv_algo *out);

/* Algorithm that stylize_conv_create selects (initially STYLIZE_CONV_WINOGRAD).
 * Process-wide and not synchronised: set it before creating convolutions
 * (networks). */
void stylize_conv_set_default_algo(stylize_conv_algo algo);
stylize_conv_algo stylize_conv_get_default_algo(void);

/* Padding modes, as PyTorch's padding_mode 'zeros', 'reflect', 'replicate',
 * 'circular': a position i outside a line of n pixels reads zero, pixel -i or
 * 2 (n - 1) - i (reflect: -1 -> 1, n -> n - 2), the nearest edge pixel
 * (replicate), or pixel i mod n (circular). */
typedef enum {
    STYLIZE_PAD_ZERO = 0,
    STYLIZE_PAD_REFLECT = 1,
    STYLIZE_PAD_REPLICATE = 2,
    STYLIZE_PAD_CIRCULAR = 3
} stylize_pad_mode;

typedef struct {
    int cin, cout;
    int k;                /* odd kernel side: 1, 3, 5, 7, 9, ... up to 15 */
    int stride;           /* 1 or 2 */
    stylize_pad_mode pad; /* k / 2 pixels of padding on every side */
} stylize_conv_geom;

/* Output side for an input side `size`: (size + 2 (k / 2) - k) / stride + 1
 * (PyTorch's formula); 0 when size, k or stride is not positive. */
int stylize_conv_out_side(int size, int k, int stride);

/* Checks geometry g (odd k in 1..15, stride 1 or 2, a known padding mode,
 * channels > 0, sizes that fit int sgemm dimensions) for an input of h x w
 * (h * w must fit an int): reflect needs h, w > k / 2; circular needs h, w
 * >= k / 2. STYLIZE_ERR_ARG or STYLIZE_ERR_LIMIT with a one-line message.
 * Forward, backward and backward_weights expect sizes that pass it; for an
 * empty input, or padding wider than reflect or circular allow, they do
 * nothing (their outputs are left unwritten). */
stylize_status stylize_conv_geom_check(const stylize_conv_geom *g, int h, int w,
                                       stylize_error *err);

typedef struct stylize_conv stylize_conv; /* opaque */

/* Creates a convolution of any geometry g (checked as by
 * stylize_conv_geom_check without the size) over weight (cout, cin, k, k)
 * and bias (cout) or NULL, both borrowed: the caller keeps them alive until
 * stylize_conv_free, and may change them between calls (then call
 * stylize_conv_refresh). algo is used when the geometry allows it (the
 * Winograd algorithms and the 3x3 im2col need k 3, stride 1, zero padding;
 * a bfloat16 algorithm also takes 3x3 at stride 2, any padding, where AMX
 * runs the convolutions directly and both channel counts reach the bf16
 * minimum: its forward on the tiles, its gradients on the general path),
 * otherwise the general im2col path is used
 * (stylize_conv_get_algo then reports STYLIZE_CONV_IM2COL). The kernel cache the algorithm needs
 * (Winograd transform, flipped kernel, or nothing; the padded modes add the
 * float32 taps their input gradient reads at the border:
 * stylize_conv_kernel_bytes)
 * is requested through mem (NULL: plain allocation, uncounted). On a dry plan
 * (stylize_mem_is_dry) no kernel is allocated or computed and weight may be
 * NULL: the object only answers size queries and must be freed (only the
 * small object itself is allocated, outside the plan). mem must outlive the
 * convolution. *out is owned by the caller and freed with stylize_conv_free,
 * which returns the kernel memory to mem. */
stylize_status stylize_conv_create_ex(stylize_conv **out, const stylize_conv_geom *g,
                                      const float *weight, const float *bias,
                                      stylize_conv_algo algo, stylize_mem *mem,
                                      stylize_error *err);

/* The 3x3, stride 1, zero-padding convolution cin -> cout with the default
 * algorithm (stylize_conv_get_default_algo) and no memory plan: create_ex
 * with that geometry and mem NULL. weight (cout, cin, 3, 3) and bias (cout)
 * or NULL are borrowed as above. *out is owned by the caller. */
stylize_status stylize_conv_create(stylize_conv **out, const float *weight, const float *bias,
                                   int cin, int cout, stylize_error *err);
void stylize_conv_free(stylize_conv *conv); /* NULL is allowed */

int stylize_conv_in_channels(const stylize_conv *conv);
int stylize_conv_out_channels(const stylize_conv *conv);
/* The geometry, owned by conv (valid until stylize_conv_free). */
const stylize_conv_geom *stylize_conv_get_geom(const stylize_conv *conv);

/* Selects the algorithm (default: the one given at create). Makes the kernel
 * the new algorithm needs, through the convolution's memory plan, and frees
 * the old one (if the allocation fails the algorithm stays unchanged: see
 * stylize_conv_get_algo). The general path (a geometry other than those
 * create_ex names) stays STYLIZE_CONV_IM2COL; a thin layer's bfloat16
 * forward (stylize_conv_set_bf16_thin) follows algo, as at create.
 * The workspace need changes with the algorithm: query
 * stylize_conv_workspace_floats again after this call. */
void stylize_conv_set_algo(stylize_conv *conv, stylize_conv_algo algo);
stylize_conv_algo stylize_conv_get_algo(const stylize_conv *conv);
/* 1 when conv is a thin layer (k >= 5, stride 1, 4 or fewer channels on
 * one side: the direct path) whose forward runs in bfloat16. */
int stylize_conv_thin_bf16(const stylize_conv *conv);

/* Floats of workspace that forward and backward need at input size h x w
 * with the algorithm currently selected (exact, not an estimate):
 * stylize_conv_workspace_floats_ex(conv, h, w, 0). */
size_t stylize_conv_workspace_floats(const stylize_conv *conv, int h, int w);

/* Workspace floats that forward and backward (and, when weight_grad != 0,
 * backward_weights) need at input size h x w; exact; 0 for an input that
 * fails stylize_conv_geom_check's size rules. Never more than
 * STYLIZE_CONV_WORKSPACE_MAX_FLOATS unless one band alone is larger: one
 * output row of the im2col matrix, channels * k * k * ow floats (im2col
 * paths, channels = cin for the general path and the weight gradient, the
 * larger of cin and cout for the 3x3 im2col), or one tile's transforms,
 * (m + 2)^2 * (cin + cout) floats (Winograd), or the padded 3x3 modes'
 * input gradient at its border ring, 2 cout h + 3 cin max(h, w) floats.
 * The thin kernels' forward and weight gradient add a whole-image buffer
 * on top, the padded input (cin (h + k - 1) (w + k - 1)). With weight_grad == 0 and a
 * 3x3, stride 1, zero-padding geometry it equals
 * stylize_conv_algo_workspace_floats: frozen networks need no more memory. */
size_t stylize_conv_workspace_floats_ex(const stylize_conv *conv, int h, int w, int weight_grad);

/* The same for a convolution not yet created: geometry g, algorithm algo
 * (as create_ex would select it). 0 for an invalid geometry. */
size_t stylize_conv_geom_workspace_floats(const stylize_conv_geom *g, stylize_conv_algo algo,
                                          int h, int w, int weight_grad);

/* The same for a 3x3, stride 1, zero-padding convolution cin -> cout with
 * algorithm algo, without the weight gradient. */
size_t stylize_conv_algo_workspace_floats(stylize_conv_algo algo, int cin, int cout, int h, int w);

/* Bytes of kernel cache that create_ex requests through its plan for g and
 * algo (0 when none: the general path, or an invalid geometry). */
size_t stylize_conv_kernel_bytes(const stylize_conv_geom *g, stylize_conv_algo algo);

/* Bytes that a 3x3 convolution cin -> cout with algorithm algo allocates and
 * owns (backward or Winograd kernel, and the object), excluding the borrowed
 * weights. */
size_t stylize_conv_owned_bytes(stylize_conv_algo algo, int cin, int cout);

/* After the borrowed weights changed (an optimiser step): recomputes the
 * cached kernel (Winograd transform or flipped kernel) in place from the
 * current weights. Allocates nothing. No-op for the general path and on a
 * dry plan. Without it, forward (Winograd) and backward (every 3x3
 * algorithm) keep using the old weights' kernel. */
void stylize_conv_refresh(stylize_conv *conv);

/* out (cout, oh, ow) = conv(in (cin, h, w)) + bias, with oh =
 * stylize_conv_out_side(h, k, stride) and ow likewise: h, w are always the
 * input size. ws: workspace floats as above. out and in must not overlap. With more than one thread (stylize/threads.h)
 * the work runs on the library's pool with OpenBLAS switched to one thread
 * for the duration of the call (its thread count is restored afterwards), so
 * no other thread should call BLAS meanwhile. Forward and backward of
 * different convolutions must not run concurrently on the same workspace. */
void stylize_conv_forward(const stylize_conv *conv, float *out, const float *in, int h, int w,
                          float *ws);

/* As stylize_conv_forward, then out = ReLU(out) as stylize_relu_forward
 * (stylize/nn/activation.h) computes it, bit for bit: on the Winograd
 * algorithms inside the output transform (no second pass over out), on the
 * others as a pass after the convolution. */
void stylize_conv_forward_relu(const stylize_conv *conv, float *out, const float *in, int h, int w,
                               float *ws);

/* gin (cin, h, w) = dL/din given gout (cout, oh, ow) = dL/dout, for the
 * input size h x w. gin is overwritten (not accumulated). gin and gout must
 * not overlap. */
void stylize_conv_backward(const stylize_conv *conv, float *gin, const float *gout, int h, int w,
                           float *ws);

/* gw (cout, cin, k, k) += dL/dW and, if gb != NULL, gb (cout) += dL/db,
 * given the forward's input in (cin, h, w) and gout (cout, oh, ow) = dL/dout.
 * Accumulates (+=) so that a batch or several calls add up. 3x3, stride 1
 * under a Winograd algorithm (any padding mode, (m + 2)^2 cin cout floats
 * of kernel gradient within half the workspace bound): in the Winograd
 * domain, float32 (src/nn/conv_winograd.c); 1x1 and thin large kernels
 * (k >= 5, stride 1, 4 or fewer channels on a side) directly. Otherwise
 * through the im2col matrix of the input, banded over output rows within
 * the workspace
 * (stylize_conv_workspace_floats_ex with weight_grad != 0), and one sgemm
 * per band and thread: gw (cout, cin k k) += gout_band (cout, cols)
 * col_band^T. Works for every algorithm. gw and gb must not overlap in or
 * gout. Threads and BLAS as stylize_conv_forward. */
void stylize_conv_backward_weights(const stylize_conv *conv, float *gw, float *gb, const float *in,
                                   const float *gout, int h, int w, float *ws);

/* Reference for tests: direct loops in double, any geometry valid for h x w,
 * bias may be NULL. out (cout, oh, ow) = conv(in (cin, h, w)) with weight
 * (cout, cin, k, k). */
void stylize_conv_direct(float *out, const float *in, const float *weight, const float *bias,
                         const stylize_conv_geom *g, int h, int w);

/* Reference kernels for tests: direct six-loop convolution, no BLAS.
 * out (cout, h, w) = conv(in (cin, h, w)) with weight (cout, cin, 3, 3), bias (cout) or NULL. */
void stylize_conv3x3_direct(float *out, const float *in, const float *weight, const float *bias,
                            int cin, int cout, int h, int w);

#ifdef __cplusplus
}
#endif
#endif
