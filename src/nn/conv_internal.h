/* stylize internal: the convolution object and the kernels of its three
 * paths, shared by src/nn/conv.c (object, sizing, entry points),
 * src/nn/conv_im2col.c (the 3x3 im2col path and the general im2col path of
 * any geometry) and src/nn/conv_winograd.c (Winograd F(4x4, 3x3) and
 * F(2x2, 3x3)). Not a public header. */
#ifndef STYLIZE_CONV_INTERNAL_H
#define STYLIZE_CONV_INTERNAL_H

#include <stddef.h>

#include "core/parallel.h"
#include "stylize/core/mem.h"
#include "stylize/nn/conv.h"

struct stylize_conv {
    stylize_conv_geom g;
    const float *weight;     /* (cout, cin, k, k), borrowed; NULL allowed on a dry plan */
    const float *bias;       /* (cout) or NULL, borrowed */
    stylize_conv_algo algo;  /* selected; STYLIZE_CONV_IM2COL on the general path */
    int fast3;               /* 1: 3x3, stride 1, zero padding: algo's own path; 0: general */
    int thin_bf16;           /* 1: a thin geometry whose forward runs in bfloat16 (conv_direct.c) */
    float *cache;            /* kernel cache through mem (NULL on a dry plan or when none):
                              * fast3 im2col: (cin, cout, 3, 3), weight flipped, channels swapped;
                              * fast3 Winograd F(m): (a * a, cout, cin), a = m + 2;
                              * bfloat16 Winograd: packed slices (below);
                              * padded 3x3 (reflect, replicate, circular): the
                              * above for its algorithm (float32 Winograd kernel,
                              * packed bfloat16 slices or AMX taps), then the ring
                              * kernel (9, cin, cout), float32 in every algorithm,
                              * at the next multiple of 64 bytes (conv_padded.c);
                              * general path: none */
    size_t cache_bytes;      /* bytes counted in mem for cache (0 when none) */
    int bf16_layout;         /* bfloat16 algorithms: the cache's layout (stylize_conv_bf16_layout_for_cpu) */
    stylize_mem *mem;        /* borrowed, or NULL: plain allocation */
};

/* Output tile size m of a Winograd algo (4 or 2), 0 for im2col. */
static inline int stylize_conv_algo_tile(stylize_conv_algo algo)
{
    switch (algo) {
    case STYLIZE_CONV_WINOGRAD:
    case STYLIZE_CONV_WINOGRAD_BF16: return 4;
    case STYLIZE_CONV_WINOGRAD_F2:
    case STYLIZE_CONV_WINOGRAD_F2_BF16: return 2;
    case STYLIZE_CONV_IM2COL: break;
    }
    return 0;
}

/* 1 for the algorithms whose GEMMs run in bfloat16. */
static inline int stylize_conv_algo_bf16(stylize_conv_algo algo)
{
    return algo == STYLIZE_CONV_WINOGRAD_BF16 || algo == STYLIZE_CONV_WINOGRAD_F2_BF16;
}

/* Index that position i of a padded line of n pixels reads under mode, or
 * -1 for a zero. i lies in [-n, 2n) (geometry checks keep the padding
 * within the line: reflect needs n > pad, circular n >= pad). */
static inline int stylize_conv_pad_index(int i, int n, stylize_pad_mode mode)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case STYLIZE_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case STYLIZE_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case STYLIZE_PAD_CIRCULAR: return i < 0 ? i + n : i - n;
    case STYLIZE_PAD_ZERO: break;
    }
    return -1;
}

/* gb[co] += the sum of gout[co] (plane floats each) for co in [c0, c1),
 * summed in double: the bias gradient of every path. Eight partial sums
 * (element i into sum i mod 8, then added in order), so that the additions
 * do not wait on each other: one chain of dependent double additions was
 * 4% of a 48-channel layer's training pass. The order is fixed, so the
 * result does not depend on the threads or the CPU. */
#define STYLIZE_BIAS_GRAD_LANES 8
static inline void stylize_conv_bias_grad(float *gb, const float *gout, size_t plane, int c0, int c1)
{
    for (int co = c0; co < c1; co++) {
        const float *g = gout + (size_t)co * plane; /* (plane) */
        double part[STYLIZE_BIAS_GRAD_LANES] = {0};
        size_t i = 0;
        for (; i + STYLIZE_BIAS_GRAD_LANES <= plane; i += STYLIZE_BIAS_GRAD_LANES)
            for (int l = 0; l < STYLIZE_BIAS_GRAD_LANES; l++)
                part[l] += (double)g[i + l];
        for (int l = 0; i < plane; i++, l++)
            part[l] += (double)g[i];
        double sum = 0;
        for (int l = 0; l < STYLIZE_BIAS_GRAD_LANES; l++)
            sum += part[l];
        gb[co] += (float)sum;
    }
}

/* wf (cin, cout, k, k) = weight (cout, cin, k, k) rotated by 180 degrees,
 * channels swapped: wf[ci][co][ky][kx] = weight[co][ci][k-1-ky][k-1-kx],
 * the kernel of the input gradient (conv.c). */
void stylize_conv_flip_kernel(float *wf, const float *weight, int cin, int cout, int k);

/* Runs ntasks tasks of fn on the pool with OpenBLAS single-threaded inside
 * them (the tasks' sgemm calls run concurrently, one per thread); with one
 * task, in the caller with OpenBLAS's own threading. */
void stylize_conv_run_blas_tasks(int ntasks, stylize_task_fn fn, void *ctx);
/* Runs one sgemm on every thread of the pool unless this pool's threads
 * are warm already, out of OpenBLAS's slow state (conv_im2col.c); allocates
 * its operands for that run (each attempt, until one runs on the whole
 * pool), so it is called at creation. */
void stylize_conv_blas_warm(void);
/* Test hook: 1 when the current pool's threads are warm. */
int stylize_conv_testing_blas_warmed(void);

/* Output rows per im2col band when one output row needs per_row floats of
 * the im2col matrix: as many as fit STYLIZE_CONV_WORKSPACE_MAX_FLOATS, at
 * least one, at most rows. */
size_t stylize_conv_band_rows(size_t per_row, int rows);

/* ---- 3x3, stride 1, zero padding: im2col (conv_im2col.c) ---------------- */

/* out (cout, h, w) = conv(in (cin, h, w)) with weight (cout, cin, 3, 3) and
 * bias (cout) or NULL, through ws (cin * 9 * w * band floats, band =
 * stylize_conv_band_rows(cin * 9 * w, h)). The input gradient is the same
 * call with the flipped kernel, the channels swapped and no bias. */
void stylize_conv_im2col3x3(float *out, const float *in, const float *weight, const float *bias,
                            int cin, int cout, int h, int w, float *ws);

/* ---- general im2col path, any geometry (conv_im2col.c) ------------------ */

/* Workspace floats of every general-path call for input h x w: one band of
 * the im2col matrix, cin k k rows of band * ow floats (forward, input
 * gradient and weight gradient use the same shape); for 1x1, none; for
 * thin geometries, stylize_conv_thin_floats. */
size_t stylize_conv_general_floats(const stylize_conv_geom *g, int h, int w);

/* out (cout, oh, ow) = conv(in (cin, h, w)) with weight (cout, cin, k, k). */
void stylize_conv_general_forward(const stylize_conv_geom *g, const float *weight,
                                  const float *bias, float *out, const float *in, int h, int w,
                                  float *ws);
/* The forward with bfloat16 GEMMs (a 3x3 stride-2 layer under a bfloat16
 * algorithm where the kernels do not take the direct AMX layout): per
 * band, the im2col matrix in float32, packed as B (stylize_bf16_pack_b)
 * and multiplied by pa, the weight (cout x cin k k) packed as A for kern;
 * float32 sums. ws: stylize_conv_general_bf16_floats floats (a band of
 * the matrix and its packed copy, together within the workspace bound). */
size_t stylize_conv_general_bf16_floats(const stylize_conv_geom *g, int h, int w);
void stylize_conv_general_forward_bf16(const stylize_conv_geom *g, int kern, const void *pa, const float *bias,
                                       float *out, const float *in, int h, int w, float *ws);
/* Test hook: bands of at most rows output rows in the bfloat16 forward
 * above (0: the workspace bound alone), so that small images run several.
 * Set it before planning workspaces. */
void stylize_conv_testing_bf16_band_rows(int rows);
/* gin (cin, h, w) = dL/din (overwritten) given gout (cout, oh, ow). */
void stylize_conv_general_backward(const stylize_conv_geom *g, const float *weight, float *gin,
                                   const float *gout, int h, int w, float *ws);
/* gw (cout, cin, k, k) += dL/dW, gb (cout) or NULL += dL/db. */
void stylize_conv_general_weights(const stylize_conv_geom *g, float *gw, float *gb,
                                  const float *in, const float *gout, int h, int w, float *ws);

/* ---- Winograd F(m x m, 3 x 3), m = 4 or 2 (conv_winograd.c) ------------- */

/* u (a^2, cout, cin) = G g G^T of every (co, ci) kernel g of weight
 * (cout, cin, 3, 3), on the pool. */
void stylize_conv_winograd_kernel(float *u, const float *weight, int cin, int cout, int m);

/* The bfloat16 algorithms' kernel: a 64-byte header holding its layout,
 * then the slots. Layout STYLIZE_BF16_DPBF16 or STYLIZE_BF16_AMX (the GEMM
 * kernel whose packed-A layout the slots take): for each of the a^2
 * components k, U[k] (cout x cin) as packed A of stylize/nn/gemm_bf16.h,
 * then for each k the input gradient's (U[pi(k)])^T (cin x cout) packed
 * likewise (pi: the flip's permutation, see conv_winograd.c). Layout
 * STYLIZE_CONV_BF16_DIRECT: the direct AMX path's taps (below). The layout
 * this CPU packs now (AMX's direct one where the tiles are granted, unless
 * the test hook below says otherwise), the bytes of a layout, and the
 * transform of weight (cout, cin, 3, 3) into it (on the pool). A
 * convolution keeps the layout its kernel was last packed in (at creation
 * or an algorithm switch), whatever the CPU reads later. */
#define STYLIZE_CONV_BF16_DIRECT 2
#define STYLIZE_CONV_BF16_HEADER 64 /* bytes before the slots */
int stylize_conv_bf16_layout_for_cpu(void);
size_t stylize_conv_winograd_bf16_kernel_bytes(int layout, int m, int cin, int cout);
void stylize_conv_winograd_kernel_bf16(void *packs, int layout, const float *weight, int cin, int cout, int m);

/* ---- 3x3, bfloat16 on AMX tiles, direct (conv_amx.c) ------------------- */

/* The direct path's kernel: 9 packed A (cout x cin, the AMX layout of
 * stylize/nn/gemm_bf16.h), tap t = (dy, dx) holding weight[co][ci][t],
 * then 9 for the input gradient, (cin x cout), tap t holding
 * weight[co][ci][8 - t]. Bytes, and the packing on the pool (into a
 * zeroed buffer: the padding is not written). */
size_t stylize_conv_amx_kernel_bytes(int cin, int cout);
void stylize_conv_amx_kernel(void *slabs, const float *weight, int cin, int cout);
/* Floats of the smallest workspace it runs in at stride 1 or 2 (a band of
 * one output row). */
size_t stylize_conv_amx_min_floats(int cin, int w, int stride);
/* out (cout, oh, ow) = conv(in (cin, h, w)) at stride 1 or 2 (oh = (h - 1)
 * / stride + 1, likewise ow) with the slabs (backward: the input
 * gradient's half, stride 1 only; cin, cout are this call's), bias (cout)
 * or NULL, relu after it, pad the input's one-pixel padding (any mode),
 * through ws (ws_floats floats: bands of rows as many as fit, at least
 * stylize_conv_amx_min_floats). Only where AMX is usable. */
void stylize_conv_amx(float *out, const float *in, const void *slabs, const float *bias, int relu, int backward,
                      stylize_pad_mode pad, int stride, int cin, int cout, int h, int w, float *ws,
                      size_t ws_floats);
/* Test hook: 0 makes the bfloat16 convolutions created from now on use the
 * Winograd path on AMX instead of the direct one (1, the default). */
void stylize_conv_testing_amx_direct(int on);

/* Test hook: Winograd blocks (forward and input gradient) of at most tiles
 * tiles (0: the normal rule), so that small problems run several blocks.
 * Set it before planning workspaces: it changes their size. */
void stylize_conv_testing_wino_block_tiles(int tiles);

/* Test hook: 0 makes the bfloat16 F(4x4, 3x3) input transform write float32
 * V and pack it per GEMM, as where the packed transform does not fit (1,
 * the default: straight into the packed panels). The same words either way.
 * Returns the calls that took the packed path since the hook's last call. */
long stylize_conv_testing_wino_packed(int on);

/* Workspace floats of stylize_conv_winograd for (cin, cout, h, w) with a
 * Winograd algo (as effective: a bfloat16 one only where the CPU has it):
 * the same in both directions. */
size_t stylize_conv_winograd_floats(stylize_conv_algo algo, int cin, int cout, int h, int w);

/* What one Winograd call computes: the forward, the forward with the ReLU
 * (stylize_relu_forward's) fused into its output transform, or the input
 * gradient. */
typedef enum {
    STYLIZE_WINO_FORWARD = 0,
    STYLIZE_WINO_FORWARD_RELU,
    STYLIZE_WINO_BACKWARD
} stylize_wino_pass;

/* out (cout, h, w) = conv(in (cin, h, w)) through Winograd F(m, 3) (m and
 * the GEMMs' precision from algo) with the kernel cache kern and bias (cout)
 * or NULL. Float32 forward (pass FORWARD or FORWARD_RELU): kern is u
 * (a^2, cout, cin). Input gradient (BACKWARD): u is the forward's
 * (a^2, cin, cout), used permuted and transposed (the flipped kernel).
 * pad: the input's one-pixel padding (any mode: the input transform reads
 * the mode's pixels itself; the input gradient is called with zero). bfloat16: kern is the
 * packed kernel above, whose second half serves the input gradient. ws
 * holds stylize_conv_winograd_floats(algo, cin, cout, h, w) floats. */
void stylize_conv_winograd(float *out, const float *in, const void *kern, const float *bias,
                           stylize_conv_algo algo, stylize_wino_pass pass, stylize_pad_mode pad, int cin,
                           int cout, int h, int w, float *ws);

/* Weight gradient through Winograd F(m) (m from algo; float32 whatever the
 * algorithm's GEMM precision): gw (cout, cin, 3, 3) += dL/dW and gb (cout)
 * or NULL += dL/db, from the forward's input in (cin, h, w) with its
 * one-pixel padding pad (read by the input transform, as the forward) and
 * gout (cout, h, w). Only where stylize_conv_winograd_weights_ok (its dU
 * buffer within half the workspace bound); ws holds
 * stylize_conv_winograd_weights_floats floats. */
int stylize_conv_winograd_weights_ok(stylize_conv_algo algo, int cin, int cout);
size_t stylize_conv_winograd_weights_floats(stylize_conv_algo algo, int cin, int cout, int h, int w);
void stylize_conv_winograd_weights(float *gw, float *gb, const float *in, const float *gout,
                                   stylize_conv_algo algo, stylize_pad_mode pad, int cin, int cout, int h,
                                   int w, float *ws);

/* ---- 3x3, stride 1, reflect / replicate / circular (conv_padded.c) ------ */

/* Workspace floats: the Winograd call's at h x w, or the input gradient's
 * border ring (gout's first and last columns and one side's three tap
 * products), whichever is larger; the same figure in both directions. */
size_t stylize_conv_padded_floats(stylize_conv_algo algo, int cin, int cout, int h, int w);
/* Floats of the ring kernel that the input gradient reads at the border,
 * kept in the convolution's cache after the Winograd kernel. */
size_t stylize_conv_padded_ring_kernel_floats(int cin, int cout);
/* rw (9, cin, cout): rw[t][ci][co] = weight[co][ci][t] for the taps t = 3 ky + kx
 * of weight (cout, cin, 3, 3). */
void stylize_conv_padded_ring_kernel(float *rw, const float *weight, int cin, int cout);
/* out (cout, h, w) = conv(in (cin, h, w)) with g's padding mode through
 * the Winograd algo with its kernel cache kern (as stylize_conv_winograd;
 * pass: FORWARD or FORWARD_RELU). */
void stylize_conv_padded_forward(const stylize_conv_geom *g, const void *kern, const float *bias,
                                 stylize_conv_algo algo, stylize_wino_pass pass, float *out,
                                 const float *in, int h, int w, float *ws);
/* gin (cin, h, w) = dL/din (overwritten) given gout (cout, h, w): the
 * Winograd kernel kern inside, the ring kernel ring (9, cin, cout) at the
 * border. */
void stylize_conv_padded_backward(const stylize_conv_geom *g, const void *kern, const float *ring,
                                  stylize_conv_algo algo, float *gin, const float *gout, int h,
                                  int w, float *ws);

/* ---- 1x1 and thin large kernels (conv_direct.c) ---------------------------- */

/* 1x1, stride 1 (any padding: it reads none). */
int stylize_conv_is_pointwise(const stylize_conv_geom *g);
/* k >= 5, stride 1, cin <= 4 or cout <= 4: direct forward and gradients. */
int stylize_conv_is_thin(const stylize_conv_geom *g);
/* Workspace floats of the thin paths: the largest of the input gradient's,
 * the forward's (float32, or bfloat16 with bf16_forward) and, with
 * weight_grad or a float32 forward, the padded input's. */
size_t stylize_conv_thin_floats(const stylize_conv_geom *g, int h, int w, int bf16_forward, int weight_grad);
/* Over hw = h w positions: out (cout, hw) = W in (+ bias); gin = W^T gout;
 * gw += gout in^T, gb += row sums of gout. No workspace. */
void stylize_conv_pointwise_forward(const stylize_conv_geom *g, const float *weight, const float *bias,
                                    float *out, const float *in, int hw);
void stylize_conv_pointwise_backward(const stylize_conv_geom *g, const float *weight, float *gin,
                                     const float *gout, int hw);
void stylize_conv_pointwise_weights(const stylize_conv_geom *g, float *gw, float *gb, const float *in,
                                    const float *gout, int hw);
/* out (cout, h, w) = conv(in (cin, h, w)) for a thin geometry, through ws. */
void stylize_conv_thin_forward(const stylize_conv_geom *g, const float *weight, const float *bias,
                               float *out, const float *in, int h, int w, float *ws);
/* The same forward with bfloat16 operands (pairs of input channels through
 * AVX512-BF16 dot products, float32 sums); only where the CPU has
 * AVX512-BF16. Its workspace words (within stylize_conv_thin_floats). */
void stylize_conv_thin_forward_bf16(const stylize_conv_geom *g, const float *weight, const float *bias,
                                    float *out, const float *in, int h, int w, float *ws);
size_t stylize_conv_thin_bf16_words(const stylize_conv_geom *g, int h, int w);
/* gin (cin, h, w) = dL/din (overwritten) from gout (cout, h, w). */
void stylize_conv_thin_backward(const stylize_conv_geom *g, const float *weight, float *gin,
                                const float *gout, int h, int w, float *ws);
/* gw (cout, cin, k, k) += dL/dW, gb (cout) or NULL += dL/db. */
void stylize_conv_thin_weights(const stylize_conv_geom *g, float *gw, float *gb, const float *in,
                               const float *gout, int h, int w, float *ws);

#endif
