/* Two geometries the general im2col path serves badly (its copy of the
 * input, k^2 times, and OpenBLAS's packing of that copy cost more than the
 * multiply when one side of the sgemm is small):
 *   - 1x1, stride 1: the input already is the im2col matrix: one sgemm in
 *     each direction, straight on the tensors;
 *   - large kernels (k >= 5), stride 1, with 4 or fewer input or output
 *     channels (the first and last 9x9 layers of the residual generator):
 *     the forward as direct loops over a padded copy of the input, each
 *     output row accumulated in place along x (vectorised), rows shared
 *     among the threads.
 * The second kind's gradients are direct too (at the end of the file): the
 * input gradient as the thin forward of the output gradient embedded in
 * zeros with the flipped kernel, folded back through the padding; the
 * weight gradient as one vectorised dot product per kernel tap. */
#include <cblas.h>
#include <stdint.h>
#include <string.h>

#include "nn/bf16_internal.h"
#include "nn/conv_internal.h"
#include "stylize/core/cpu.h"

int stylize_conv_is_pointwise(const stylize_conv_geom *g)
{
    return g->k == 1 && g->stride == 1;
}

int stylize_conv_is_thin(const stylize_conv_geom *g)
{
    return g->k >= 5 && g->stride == 1 && (g->cin <= 4 || g->cout <= 4);
}

/* Floats of the thin forward's padded input of c channels at h x w. */
static size_t thin_fwd_floats(int c, int k, int h, int w)
{
    int p = k / 2; /* + 16: a block's last columns read past the last row (XB) */
    return (size_t)c * (size_t)(h + 2 * p) * (size_t)(w + 2 * p) + 16;
}

/* The input gradient's band: rows of gP (the gradient of the padded input,
 * H2 = h + 2p rows of W2 = w + 2p) per band, and the floats of the flipped
 * kernel, one band of Gz (the output gradient with 2p zeros on every side:
 * band + k - 1 rows of w + 4p, cout channels) and one band of gP (cin
 * channels): within STYLIZE_CONV_WORKSPACE_MAX_FLOATS unless one row alone
 * is larger. */
static int thin_band_rows(const stylize_conv_geom *g, int h, int w, size_t *floats)
{
    int k = g->k, H2 = h + k - 1, W2 = w + k - 1;
    size_t wz = (size_t)w + 2 * (size_t)(k - 1);
    size_t fixed = (size_t)g->cin * (size_t)g->cout * (size_t)k * (size_t)k + (size_t)g->cout * (size_t)(k - 1) * wz + 16;
    size_t per_row = (size_t)g->cout * wz + (size_t)g->cin * (size_t)W2;
    size_t room = STYLIZE_CONV_WORKSPACE_MAX_FLOATS > fixed ? STYLIZE_CONV_WORKSPACE_MAX_FLOATS - fixed : 0;
    size_t rows = room / per_row;
    rows = rows < 1 ? 1 : rows > (size_t)H2 ? (size_t)H2 : rows;
    if (floats)
        *floats = fixed + rows * per_row;
    return (int)rows;
}

size_t stylize_conv_thin_floats(const stylize_conv_geom *g, int h, int w, int bf16_forward, int weight_grad)
{
    /* input gradient: its band; the float32 forward and the weight
     * gradient: the padded input; the bfloat16 forward: its words (of a
     * float's size) */
    size_t n;
    thin_band_rows(g, h, w, &n);
    size_t fwd = !bf16_forward || weight_grad ? thin_fwd_floats(g->cin, g->k, h, w) : 0;
    size_t bf16 = bf16_forward ? stylize_conv_thin_bf16_words(g, h, w) : 0;
    n = fwd > n ? fwd : n;
    return bf16 > n ? bf16 : n;
}

/* ---- 1x1 ------------------------------------------------------------------ */

void stylize_conv_pointwise_forward(const stylize_conv_geom *g, const float *weight, const float *bias,
                                    float *out, const float *in, int hw)
{
    if (bias)
        for (int co = 0; co < g->cout; co++)
            for (int i = 0; i < hw; i++)
                out[(size_t)co * hw + i] = bias[co];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, hw, g->cin, 1.0f, weight, g->cin, in,
                hw, bias ? 1.0f : 0.0f, out, hw);
}

void stylize_conv_pointwise_backward(const stylize_conv_geom *g, const float *weight, float *gin,
                                     const float *gout, int hw)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->cin, hw, g->cout, 1.0f, weight, g->cin, gout,
                hw, 0.0f, gin, hw);
}

void stylize_conv_pointwise_weights(const stylize_conv_geom *g, float *gw, float *gb, const float *in,
                                    const float *gout, int hw)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->cout, g->cin, hw, 1.0f, gout, hw, in, hw, 1.0f,
                gw, g->cin);
    if (gb)
        stylize_conv_bias_grad(gb, gout, (size_t)hw, 0, g->cout);
}

/* ---- thin, large kernels: the forward ---------------------------------------- */

typedef struct {
    const stylize_conv_geom *g;
    const float *in, *weight, *bias;
    float *P, *out;
    int h, w, ntasks;
} thin_job;

/* P[ci] = in[ci] with p pixels of padding on every side. */
static void thin_pad_task(void *arg, int ci)
{
    const thin_job *j = arg;
    int p = j->g->k / 2, H = j->h + 2 * p, W = j->w + 2 * p;
    const float *src = j->in + (size_t)ci * j->h * j->w;
    float *dst = j->P + (size_t)ci * H * W;
    for (int y = 0; y < H; y++) {
        int sy = stylize_conv_pad_index(y - p, j->h, j->g->pad);
        float *d = dst + (size_t)y * W;
        const float *row = sy < 0 ? NULL : src + (size_t)sy * j->w;
        for (int x = 0; x < W; x++) {
            int sx = stylize_conv_pad_index(x - p, j->w, j->g->pad);
            d[x] = row && sx >= 0 ? row[sx] : 0.0f;
        }
    }
}

/* Prefetches floats [0, n) of the row `rows` rows of W floats after row:
 * an address, not a pointer (it may lie past the array; prefetches do not
 * fault). */
static inline void thin_prefetch(const float *row, size_t rows, int W, int n)
{
    uintptr_t a = (uintptr_t)row + rows * (size_t)W * sizeof(float);
    for (size_t b = 0; b < (size_t)n * sizeof(float); b += 64)
        __builtin_prefetch((const void *)(a + b));
    __builtin_prefetch((const void *)(a + (size_t)(n - 1) * sizeof(float))); /* the last line */
}

/* NV x XB output columns of CB output channels (a register block: GCC
 * vectors of VT, VW = its floats, XB / VW of them per channel and column
 * group), accumulated over every input channel and kernel position in the
 * same order whatever the block's shape or vector width, so every block
 * gives the same bits. The last group may hold xn < XB columns. PF:
 * prefetch the input row read next; KEEP(r): what is done to a loaded
 * input vector before its multiplies. Each instruction set gets vectors
 * of its own width: GCC splits a vector wider than the registers into
 * pieces through the stack (16 floats under AVX2 ran at a third of the
 * 8-float block's rate, AMD EPYC Zen 1). */
#define XB 16
typedef float thin_v16 __attribute__((vector_size(16 * sizeof(float))));
typedef float thin_v8 __attribute__((vector_size(8 * sizeof(float))));
typedef float thin_v4 __attribute__((vector_size(4 * sizeof(float))));
#define THIN_BLOCK(NAME, ATTR, VT, CB, NV, PF, KEEP)                                                     \
    ATTR static void NAME(const thin_job *j, int y, int co0, int x0, int xn)                             \
    {                                                                                                    \
        enum { VW = sizeof(VT) / sizeof(float), NVEC = NV * XB / VW };                                   \
        const stylize_conv_geom *g = j->g;                                                               \
        int k = g->k, W = j->w + 2 * (k / 2), H = j->h + 2 * (k / 2);                                    \
        size_t cstride = (size_t)g->cin * k * k;                                                         \
        VT acc[CB][NVEC];                                                                                \
        for (int c = 0; c < CB; c++)                                                                     \
            for (int v = 0; v < NVEC; v++)                                                               \
                acc[c][v] = (VT){0} + (j->bias ? j->bias[co0 + c] : 0.0f);                               \
        for (int ci = 0; ci < g->cin; ci++)                                                              \
            for (int ky = 0; ky < k; ky++) {                                                             \
                const float *row = j->P + ((size_t)ci * H + y + ky) * W + x0;                            \
                const float *wk = j->weight + (size_t)co0 * cstride + ((size_t)ci * k + ky) * k;         \
                if (PF) /* the row read next: the next channel's first after ky = k - 1 */              \
                    thin_prefetch(row, ky < k - 1 ? 1 : (size_t)(H - k + 1), W, NV * XB + k - 1);        \
                for (int kx = 0; kx < k; kx++) {                                                         \
                    VT r[NVEC];                                                                          \
                    for (int v = 0; v < NVEC; v++) {                                                     \
                        memcpy(&r[v], row + kx + v * VW, sizeof r[v]);                                   \
                        KEEP(r[v]);                                                                      \
                    }                                                                                    \
                    for (int c = 0; c < CB; c++)                                                         \
                        for (int v = 0; v < NVEC; v++)                                                   \
                            acc[c][v] += wk[(size_t)c * cstride + kx] * r[v];                            \
                }                                                                                        \
            }                                                                                            \
        int ncol = (NV - 1) * XB + xn; /* the block's columns inside the row */                         \
        for (int c = 0; c < CB; c++)                                                                     \
            for (int v = 0; v < NVEC && v * VW < ncol; v++)                                              \
                memcpy(j->out + ((size_t)(co0 + c) * j->h + y) * j->w + x0 + v * VW, &acc[c][v],        \
                       (size_t)(ncol - v * VW < VW ? ncol - v * VW : VW) * sizeof(float));               \
    }

/* The baseline blocks, XB columns, for AVX-512, AVX2 and the SSE2
 * baseline (chosen at call time from the CPU). With 4 output channels (the
 * 3 -> 32 layer) the AVX-512 block already runs near the FMA units' rate. */
#define THIN_KEEP_NONE(x) ((void)0)
#define THIN_AVX512 __attribute__((target("avx512f")))
#define THIN_AVX2 __attribute__((target("avx2")))
#define THIN_SSE2
#define THIN_BASE(ISA, VT)                                                                               \
    THIN_BLOCK(thin_##ISA##_4, THIN_##ISA, VT, 4, 1, 0, THIN_KEEP_NONE)                                  \
    THIN_BLOCK(thin_##ISA##_3, THIN_##ISA, VT, 3, 1, 0, THIN_KEEP_NONE)                                  \
    THIN_BLOCK(thin_##ISA##_2, THIN_##ISA, VT, 2, 1, 0, THIN_KEEP_NONE)                                  \
    THIN_BLOCK(thin_##ISA##_1, THIN_##ISA, VT, 1, 1, 0, THIN_KEEP_NONE)
THIN_BASE(AVX512, thin_v16)
THIN_BASE(AVX2, thin_v8)
THIN_BASE(SSE2, thin_v4)

/* AVX-512, 3 or fewer output channels (the residual generator's last
 * layer, 32 -> 3; and the input gradient of a thin layer with 3 or fewer
 * input channels, which the generators never need): a long reduction
 * (cin x k^2) into few channels, so 4 x XB columns a block (12
 * accumulators) to multiply each input vector by few weights, the input
 * vector held in a register (GCC would otherwise fold its load into each
 * channel's multiply: 3 loads per vector, the load ports the limit) and the
 * row read next prefetched (cin x k rows of the padded input feed one
 * output row). 2x the baseline block's rate on an AMD EPYC (Zen 4): 9x9
 * 32 -> 3 at 512x341, one thread, 75 -> 38 ms. */
#define THIN_WIDE 4
#define THIN_KEEP_REG(x) __asm__("" : "+v"(x))
THIN_BLOCK(thin_wide_3, THIN_AVX512, thin_v16, 3, THIN_WIDE, 1, THIN_KEEP_REG)
THIN_BLOCK(thin_wide_2, THIN_AVX512, thin_v16, 2, THIN_WIDE, 1, THIN_KEEP_REG)
THIN_BLOCK(thin_wide_1, THIN_AVX512, thin_v16, 1, THIN_WIDE, 1, THIN_KEEP_REG)

/* The instruction set of the blocks and taps this CPU runs: 0 AVX-512, 1
 * AVX2, 2 the SSE2 baseline (the index of the tables). */
static int thin_isa(void)
{
    const stylize_cpu_features *cpu = stylize_cpu();
    return cpu->avx512f ? 0 : cpu->avx2 ? 1 : 2;
}

/* The blocks by instruction set (AVX-512, AVX2, SSE2) and channel count;
 * the wide ones (AVX-512) for 1..3. */
typedef void thin_block_fn(const thin_job *j, int y, int co0, int x0, int xn);
static thin_block_fn *const thin_base[3][5] = {
    {NULL, thin_AVX512_1, thin_AVX512_2, thin_AVX512_3, thin_AVX512_4},
    {NULL, thin_AVX2_1, thin_AVX2_2, thin_AVX2_3, thin_AVX2_4},
    {NULL, thin_SSE2_1, thin_SSE2_2, thin_SSE2_3, thin_SSE2_4}};
static thin_block_fn *const thin_wide[4] = {NULL, thin_wide_1, thin_wide_2, thin_wide_3};

/* Output rows of share t, in blocks of up to 4 channels: with AVX-512 and
 * 3 or fewer channels, THIN_WIDE x XB columns while they fit in the row,
 * then the baseline blocks, XB columns (the last may be partial). */
static void thin_rows_task(void *arg, int t)
{
    const thin_job *j = arg;
    int y0 = (int)((long)j->h * t / j->ntasks), y1 = (int)((long)j->h * (t + 1) / j->ntasks);
    int isa = thin_isa(), wide = isa == 0;
    for (int y = y0; y < y1; y++)
        for (int co0 = 0; co0 < j->g->cout; co0 += 4) {
            int cb = j->g->cout - co0 < 4 ? j->g->cout - co0 : 4, x0 = 0;
            for (; wide && cb < 4 && x0 + THIN_WIDE * XB <= j->w; x0 += THIN_WIDE * XB)
                thin_wide[cb](j, y, co0, x0, XB);
            for (; x0 < j->w; x0 += XB)
                thin_base[isa][cb](j, y, co0, x0, j->w - x0 < XB ? j->w - x0 : XB);
        }
}

void stylize_conv_thin_forward(const stylize_conv_geom *g, const float *weight, const float *bias,
                               float *out, const float *in, int h, int w, float *ws)
{
    int nthr = stylize_parallel_threads();
    thin_job j = {g, in, weight, bias, ws, out, h, w, h < nthr ? h : nthr};
    stylize_parallel_run(g->cin, thin_pad_task, &j);
    stylize_parallel_run(j.ntasks, thin_rows_task, &j);
}

/* ---- thin, large kernels: the forward in bfloat16 ---------------------------
 * The same blocks as above over pairs of input channels: Q (np, H, W)
 * words, np = ceil(cin / 2), word (P[2q][y][x], P[2q + 1][y][x]) in
 * bfloat16 (zero past cin), and the kernel as words (weight[co][2q][t],
 * weight[co][2q + 1][t]), (cout, np, k, k). Each vdpbf16ps adds both
 * channels' products of 16 columns into float32 accumulators: half the
 * multiply instructions of the float32 block, and no separate add (ISO C
 * keeps the float32 blocks' a * b + c unfused). Every output is one
 * accumulator lane's sum in the order (q, ky, kx), whatever the block:
 * the same bits for any block shape and thread count. */
typedef struct {
    const stylize_conv_geom *g;
    const float *in, *weight, *bias;
    unsigned *Q, *Wq;
    float *out;
    int h, w, np, ntasks;
} thin_bf16_job;

size_t stylize_conv_thin_bf16_words(const stylize_conv_geom *g, int h, int w)
{
    int p = g->k / 2;
    size_t np = (size_t)(g->cin + 1) / 2; /* + 16: a block's last columns read past the last row */
    return np * (size_t)(h + 2 * p) * (size_t)(w + 2 * p) + 16 + (size_t)g->cout * np * (size_t)g->k * (size_t)g->k;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* Q[q] = the channel pair q of in with p pixels of padding on every side. */
static void thin_bf16_pad_task(void *arg, int q)
{
    const thin_bf16_job *j = arg;
    int p = j->g->k / 2, H = j->h + 2 * p, W = j->w + 2 * p;
    size_t plane = (size_t)j->h * (size_t)j->w;
    const float *c0 = j->in + (size_t)(2 * q) * plane, *c1 = 2 * q + 1 < j->g->cin ? c0 + plane : NULL;
    unsigned *dst = j->Q + (size_t)q * H * W;
    for (int y = 0; y < H; y++) {
        int sy = stylize_conv_pad_index(y - p, j->h, j->g->pad);
        for (int x = 0; x < W; x++) {
            int sx = stylize_conv_pad_index(x - p, j->w, j->g->pad);
            size_t i = (size_t)sy * (size_t)j->w + (size_t)sx;
            dst[(size_t)y * W + x] = sy >= 0 && sx >= 0 ? stylize_bf16_pair(c0[i], c1 ? c1[i] : 0.0f) : 0;
        }
    }
}

/* Wq[co][q][t] = (weight[co][2q][t], weight[co][2q + 1][t]), task t a band of co. */
static void thin_bf16_kernel_task(void *arg, int t)
{
    const thin_bf16_job *j = arg;
    const stylize_conv_geom *g = j->g;
    int kk = g->k * g->k;
    for (int co = g->cout * t / j->ntasks; co < g->cout * (t + 1) / j->ntasks; co++)
        for (int q = 0; q < j->np; q++)
            for (int i = 0; i < kk; i++) {
                const float *w0 = j->weight + ((size_t)co * g->cin + 2 * q) * kk + i;
                j->Wq[((size_t)co * j->np + q) * kk + i] = stylize_bf16_pair(*w0, 2 * q + 1 < g->cin ? w0[kk] : 0.0f);
            }
}

/* CB output channels x NV x 16 columns from x0 (the last 16 may hold xn
 * < 16 columns inside the row). */
#define THIN_BF16_BLOCK(NAME, CB, NV)                                                                   \
    BF16_TARGET static void NAME(const thin_bf16_job *j, int y, int co0, int x0, int xn)               \
    {                                                                                                  \
        int k = j->g->k, W = j->w + 2 * (k / 2), H = j->h + 2 * (k / 2);                               \
        size_t cstride = (size_t)j->np * k * k;                                                        \
        __m512 acc[CB][NV];                                                                            \
        for (int c = 0; c < CB; c++)                                                                   \
            for (int v = 0; v < NV; v++)                                                               \
                acc[c][v] = _mm512_set1_ps(j->bias ? j->bias[co0 + c] : 0.0f);                         \
        for (int q = 0; q < j->np; q++)                                                                \
            for (int ky = 0; ky < k; ky++) {                                                           \
                const unsigned *row = j->Q + ((size_t)q * H + y + ky) * W + x0;                        \
                const unsigned *wk = j->Wq + (size_t)co0 * cstride + ((size_t)q * k + ky) * k;         \
                for (int kx = 0; kx < k; kx++) {                                                       \
                    __m512i r[NV];                                                                     \
                    for (int v = 0; v < NV; v++) {                                                     \
                        r[v] = _mm512_loadu_si512(row + kx + 16 * v);                                  \
                        THIN_KEEP_REG(r[v]);                                                           \
                    }                                                                                  \
                    for (int c = 0; c < CB; c++) {                                                     \
                        __m512bh wv = (__m512bh)_mm512_set1_epi32((int)wk[(size_t)c * cstride + kx]);  \
                        for (int v = 0; v < NV; v++)                                                   \
                            acc[c][v] = _mm512_dpbf16_ps(acc[c][v], (__m512bh)r[v], wv);               \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
        for (int c = 0; c < CB; c++)                                                                   \
            for (int v = 0; v < NV; v++) {                                                             \
                float *dst = j->out + ((size_t)(co0 + c) * j->h + y) * j->w + x0 + 16 * v;            \
                _mm512_mask_storeu_ps(dst, v < NV - 1 || xn >= 16 ? (__mmask16)0xffff                  \
                                                                 : (__mmask16)((1u << xn) - 1),        \
                                      acc[c][v]);                                                      \
            }                                                                                          \
    }
THIN_BF16_BLOCK(thin_bf16_4x2, 4, 2)
THIN_BF16_BLOCK(thin_bf16_3x4, 3, 4)
THIN_BF16_BLOCK(thin_bf16_2x4, 2, 4)
THIN_BF16_BLOCK(thin_bf16_1x4, 1, 4)
THIN_BF16_BLOCK(thin_bf16_4x1, 4, 1)
THIN_BF16_BLOCK(thin_bf16_3x1, 3, 1)
THIN_BF16_BLOCK(thin_bf16_2x1, 2, 1)
THIN_BF16_BLOCK(thin_bf16_1x1, 1, 1)

typedef void thin_bf16_fn(const thin_bf16_job *j, int y, int co0, int x0, int xn);
static thin_bf16_fn *const thin_bf16_wide[5] = {NULL, thin_bf16_1x4, thin_bf16_2x4, thin_bf16_3x4, thin_bf16_4x2};
static thin_bf16_fn *const thin_bf16_one[5] = {NULL, thin_bf16_1x1, thin_bf16_2x1, thin_bf16_3x1, thin_bf16_4x1};

/* Output rows of share t, in blocks of up to 4 channels: 64 columns (32
 * with 4 channels) while they fit in the row, then 16 (the last partial). */
static void thin_bf16_rows_task(void *arg, int t)
{
    const thin_bf16_job *j = arg;
    int y0 = (int)((long)j->h * t / j->ntasks), y1 = (int)((long)j->h * (t + 1) / j->ntasks);
    for (int y = y0; y < y1; y++)
        for (int co0 = 0; co0 < j->g->cout; co0 += 4) {
            int cb = j->g->cout - co0 < 4 ? j->g->cout - co0 : 4, span = cb == 4 ? 32 : 64, x0 = 0;
            for (; x0 + span <= j->w; x0 += span)
                thin_bf16_wide[cb](j, y, co0, x0, 16);
            for (; x0 < j->w; x0 += 16)
                thin_bf16_one[cb](j, y, co0, x0, j->w - x0 < 16 ? j->w - x0 : 16);
        }
}
#endif

void stylize_conv_thin_forward_bf16(const stylize_conv_geom *g, const float *weight, const float *bias,
                                    float *out, const float *in, int h, int w, float *ws)
{
#if defined(__x86_64__) && defined(__GNUC__)
    int p = g->k / 2, np = (g->cin + 1) / 2, nthr = stylize_parallel_threads();
    unsigned *Q = (unsigned *)ws; /* (np, h + 2p, w + 2p) words + 16, then Wq (cout, np, k, k) */
    unsigned *Wq = Q + (size_t)np * (size_t)(h + 2 * p) * (size_t)(w + 2 * p) + 16;
    thin_bf16_job j = {g, in, weight, bias, Q, Wq, out, h, w, np, g->cout < nthr ? g->cout : nthr};
    stylize_parallel_run(j.ntasks, thin_bf16_kernel_task, &j);
    stylize_parallel_run(np, thin_bf16_pad_task, &j);
    j.ntasks = h < nthr ? h : nthr;
    stylize_parallel_run(j.ntasks, thin_bf16_rows_task, &j);
#else
    stylize_conv_thin_forward(g, weight, bias, out, in, h, w, ws); /* never chosen off x86-64 */
#endif
}

/* ---- thin, large kernels: the gradients -------------------------------------- */

typedef struct {
    const stylize_conv_geom *g;
    const float *gout;   /* (cout, h, w) */
    float *gin;          /* (cin, h, w) */
    float *Gz, *gP;      /* the band: (cout, rows + k - 1, w + 4p), (cin, rows, W2) */
    int h, w, a0, rows;  /* the band: rows [a0, a0 + rows) of gP */
} thin_grad_job;

/* Gz[co] band: row r is gout row a0 + r - 2p between 2p zeros on each side
 * (rows outside the image: zeros). */
static void thin_band_task(void *arg, int co)
{
    const thin_grad_job *j = arg;
    int q = 2 * (j->g->k / 2), wz = j->w + 2 * q, n = j->rows + j->g->k - 1;
    float *z = j->Gz + (size_t)co * n * wz;
    for (int r = 0; r < n; r++) {
        int y = j->a0 + r - q;
        float *d = z + (size_t)r * wz;
        memset(d, 0, (size_t)wz * sizeof(float));
        if (y >= 0 && y < j->h)
            memcpy(d + q, j->gout + ((size_t)co * j->h + y) * j->w, (size_t)j->w * sizeof(float));
    }
}

/* gin[ci] += the band of gP[ci] through the adjoint of the padding: each
 * padded position's value onto the pixel it was read from (none: zeros). */
static void thin_fold_task(void *arg, int ci)
{
    const thin_grad_job *j = arg;
    int p = j->g->k / 2, W2 = j->w + 2 * p;
    float *gi = j->gin + (size_t)ci * j->h * j->w;
    for (int r = 0; r < j->rows; r++) {
        int sy = stylize_conv_pad_index(j->a0 + r - p, j->h, j->g->pad);
        if (sy < 0)
            continue;
        const float *src = j->gP + ((size_t)ci * j->rows + r) * W2;
        float *row = gi + (size_t)sy * j->w;
        for (int x = 0; x < j->w; x++) /* the interior columns */
            row[x] += src[x + p];
        for (int b = 0; b < W2; b++) {
            if (b == p)
                b = p + j->w;
            int sx = b < W2 ? stylize_conv_pad_index(b - p, j->w, j->g->pad) : -1;
            if (sx >= 0)
                row[sx] += src[b];
        }
    }
}

void stylize_conv_thin_backward(const stylize_conv_geom *g, const float *weight, float *gin,
                                const float *gout, int h, int w, float *ws)
{
    /* gP (the gradient of the padded input, H2 x W2) is the thin forward of
     * the output gradient with 2p zeros around it and the flipped kernel;
     * folded through the padding into gin; band by band of gP's rows */
    int k = g->k, p = k / 2, H2 = h + 2 * p, W2 = w + 2 * p, nthr = stylize_parallel_threads();
    int rows = thin_band_rows(g, h, w, NULL);
    float *wf = ws, *Gz = wf + (size_t)g->cin * (size_t)g->cout * (size_t)k * (size_t)k;
    float *gP = Gz + (size_t)g->cout * (size_t)(rows + k - 1) * (size_t)(w + 4 * p) + 16;
    thin_grad_job j = {g, gout, gin, Gz, gP, h, w, 0, 0};
    stylize_conv_flip_kernel(wf, weight, g->cin, g->cout, k);
    memset(gin, 0, (size_t)g->cin * (size_t)h * (size_t)w * sizeof(float));
    stylize_conv_geom flipped = {g->cout, g->cin, k, 1, STYLIZE_PAD_ZERO};
    for (j.a0 = 0; j.a0 < H2; j.a0 += rows) {
        j.rows = H2 - j.a0 < rows ? H2 - j.a0 : rows;
        stylize_parallel_run(g->cout, thin_band_task, &j);
        thin_job t = {&flipped, NULL, wf, NULL, Gz, gP, j.rows, W2, j.rows < nthr ? j.rows : nthr};
        stylize_parallel_run(t.ntasks, thin_rows_task, &t);
        stylize_parallel_run(g->cin, thin_fold_task, &j);
    }
}

typedef struct {
    const thin_job *t;  /* P: the padded input (cin, H2, W2) */
    const float *gout;  /* (cout, h, w) */
    float *gw, *gb;     /* (cout, cin, k, k), (cout) or NULL: accumulated */
    int ntasks;
} thin_wgt_job;

/* sum over the image of gout[co] times P[ci] shifted by (ky, kx): XB
 * columns at a time in XB / VW vectors (column x + l in lane l % VW of
 * vector l / VW, whatever the width: the same bits), the rest and the
 * lanes' sum in double. One per instruction set, as the blocks. */
#define THIN_TAP(NAME, ATTR, VT)                                                                         \
    ATTR static double NAME(const float *go, const float *pc, int h, int w, int W2, int ky, int kx)      \
    {                                                                                                    \
        enum { VW = sizeof(VT) / sizeof(float), NVEC = XB / VW };                                        \
        VT acc[NVEC] = {{0}};                                                                            \
        double rest = 0;                                                                                 \
        for (int y = 0; y < h; y++) {                                                                    \
            const float *gr = go + (size_t)y * w, *pr = pc + (size_t)(y + ky) * W2 + kx;                 \
            int x = 0;                                                                                   \
            for (; x + XB <= w; x += XB)                                                                 \
                for (int v = 0; v < NVEC; v++) {                                                         \
                    VT a, b;                                                                             \
                    memcpy(&a, gr + x + v * VW, sizeof a);                                               \
                    memcpy(&b, pr + x + v * VW, sizeof b);                                               \
                    acc[v] += a * b;                                                                     \
                }                                                                                        \
            for (; x < w; x++)                                                                           \
                rest += (double)gr[x] * (double)pr[x];                                                   \
        }                                                                                                \
        for (int l = 0; l < XB; l++)                                                                     \
            rest += (double)acc[l / VW][l % VW];                                                         \
        return rest;                                                                                     \
    }
THIN_TAP(thin_tap_AVX512, THIN_AVX512, thin_v16)
THIN_TAP(thin_tap_AVX2, THIN_AVX2, thin_v8)
THIN_TAP(thin_tap_SSE2, THIN_SSE2, thin_v4)
typedef double thin_tap_fn(const float *go, const float *pc, int h, int w, int W2, int ky, int kx);
static thin_tap_fn *const thin_taps[3] = {thin_tap_AVX512, thin_tap_AVX2, thin_tap_SSE2};

/* Task t: a share of the (co, ci) pairs, every tap; and a share of gb. */
static void thin_wgt_task(void *arg, int t)
{
    const thin_wgt_job *j = arg;
    const stylize_conv_geom *g = j->t->g;
    int k = g->k, h = j->t->h, w = j->t->w, H2 = h + 2 * (k / 2), W2 = w + 2 * (k / 2);
    int pairs = g->cout * g->cin;
    thin_tap_fn *tap = thin_taps[thin_isa()];
    int p0 = (int)((long long)pairs * t / j->ntasks), p1 = (int)((long long)pairs * (t + 1) / j->ntasks);
    for (int q = p0; q < p1; q++) {
        int co = q / g->cin, ci = q % g->cin;
        const float *go = j->gout + (size_t)co * h * w, *pc = j->t->P + (size_t)ci * H2 * W2;
        float *dst = j->gw + (size_t)q * k * k; /* (k, k) of (co, ci) */
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                dst[ky * k + kx] += (float)tap(go, pc, h, w, W2, ky, kx);
    }
    if (j->gb)
        stylize_conv_bias_grad(j->gb, j->gout, (size_t)h * (size_t)w, g->cout * t / j->ntasks,
                               g->cout * (t + 1) / j->ntasks);
}

void stylize_conv_thin_weights(const stylize_conv_geom *g, float *gw, float *gb, const float *in,
                               const float *gout, int h, int w, float *ws)
{
    int nthr = stylize_parallel_threads(), pairs = g->cout * g->cin;
    thin_job t = {g, in, NULL, NULL, ws, NULL, h, w, 1};
    stylize_parallel_run(g->cin, thin_pad_task, &t);
    thin_wgt_job j = {&t, gout, gw, gb, pairs < nthr ? pairs : nthr};
    stylize_parallel_run(j.ntasks, thin_wgt_task, &j);
}
