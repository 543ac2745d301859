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
 * Input and weight gradients of the second kind stay on the general path. */
#include <cblas.h>
#include <string.h>

#include "nn/conv_internal.h"

int stylize_conv_is_pointwise(const stylize_conv_geom *g)
{
    return g->k == 1 && g->stride == 1;
}

int stylize_conv_is_thin(const stylize_conv_geom *g)
{
    return g->k >= 5 && g->stride == 1 && (g->cin <= 4 || g->cout <= 4);
}

size_t stylize_conv_thin_floats(const stylize_conv_geom *g, int h, int w)
{
    int p = g->k / 2; /* + 16: a block's last columns read past the last row (XB) */
    return (size_t)g->cin * (size_t)(h + 2 * p) * (size_t)(w + 2 * p) + 16;
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
    for (int co = 0; gb && co < g->cout; co++) {
        double s = 0;
        for (int i = 0; i < hw; i++)
            s += gout[(size_t)co * hw + i];
        gb[co] += (float)s;
    }
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

/* XB output columns of CB output channels (a register block: GCC vector
 * types, one 16-float vector per channel), accumulated over every input
 * channel and kernel position; cloned for AVX-512 and AVX2 + FMA (chosen at
 * load time from the CPU), the baseline otherwise. */
#define XB 16
typedef float thin_vec __attribute__((vector_size(XB * sizeof(float))));
#define THIN_BLOCK(CB)                                                                                   \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void            \
    thin_block_##CB(const thin_job *j, int y, int co0, int x0, int xn)                                   \
    {                                                                                                    \
        const stylize_conv_geom *g = j->g;                                                               \
        int k = g->k, W = j->w + 2 * (k / 2), H = j->h + 2 * (k / 2);                                    \
        size_t cstride = (size_t)g->cin * k * k;                                                         \
        thin_vec acc[CB];                                                                                \
        for (int c = 0; c < CB; c++)                                                                     \
            acc[c] = (thin_vec){0} + (j->bias ? j->bias[co0 + c] : 0.0f);                                \
        for (int ci = 0; ci < g->cin; ci++)                                                              \
            for (int ky = 0; ky < k; ky++) {                                                             \
                const float *row = j->P + ((size_t)ci * H + y + ky) * W + x0;                            \
                const float *wk = j->weight + (size_t)co0 * cstride + ((size_t)ci * k + ky) * k;         \
                for (int kx = 0; kx < k; kx++) {                                                         \
                    thin_vec r;                                                                          \
                    memcpy(&r, row + kx, sizeof r);                                                      \
                    for (int c = 0; c < CB; c++)                                                         \
                        acc[c] += wk[(size_t)c * cstride + kx] * r;                                      \
                }                                                                                        \
            }                                                                                            \
        for (int c = 0; c < CB; c++)                                                                     \
            memcpy(j->out + ((size_t)(co0 + c) * j->h + y) * j->w + x0, &acc[c], (size_t)xn * sizeof(float)); \
    }
THIN_BLOCK(4)
THIN_BLOCK(3)
THIN_BLOCK(2)
THIN_BLOCK(1)

/* Output rows of share t, in blocks of up to 4 channels and XB columns. */
static void thin_rows_task(void *arg, int t)
{
    const thin_job *j = arg;
    int y0 = (int)((long)j->h * t / j->ntasks), y1 = (int)((long)j->h * (t + 1) / j->ntasks);
    for (int y = y0; y < y1; y++)
        for (int co0 = 0; co0 < j->g->cout; co0 += 4) {
            int cb = j->g->cout - co0 < 4 ? j->g->cout - co0 : 4;
            for (int x0 = 0; x0 < j->w; x0 += XB) {
                int xn = j->w - x0 < XB ? j->w - x0 : XB;
                switch (cb) {
                case 4: thin_block_4(j, y, co0, x0, xn); break;
                case 3: thin_block_3(j, y, co0, x0, xn); break;
                case 2: thin_block_2(j, y, co0, x0, xn); break;
                default: thin_block_1(j, y, co0, x0, xn); break;
                }
            }
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
