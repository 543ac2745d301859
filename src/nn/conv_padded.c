/* 3x3, stride 1 convolutions with reflect, replicate or circular padding
 * through the Winograd path. The forward is the Winograd call itself, its
 * input transform reading the mode's pixels at the border.
 *
 * The input gradient is the forward's adjoint. Think of the input padded
 * by one pixel, P (cin, h + 2, w + 2): its gradient D is the zero-padded
 * input gradient over the larger plane, and the gradient of the input is
 * D's interior plus each border pixel of D folded back onto the pixel the
 * padding copied. D's interior is the zero-padded Winograd input gradient
 * at h x w itself, written straight into gin. Its border ring is cheap
 * (one line of taps per side), so it is computed on its own and folded in:
 * no copies of the image. For the padded position (py, px),
 *   D[ci](py, px) = sum_{co, i, j} W[co][ci][i][j] gout[co](py - i + 1, px - j + 1),
 * and on the ring only one row (or column) of gout is in reach:
 *   top    (py = -1, px in [-1, w]): i = 0, gout row 0;
 *   bottom (py = h,  px in [-1, w]): i = 2, gout row h - 1;
 *   left   (px = -1, py in [0, h)):  j = 0, gout column 0;
 *   right  (px = w,  py in [0, h)):  j = 2, gout column w - 1
 * (the corners belong to the top and bottom rows). Each side is then a
 * three-tap correlation along that line, D(q) = sum_k R_k(q - k + 1) with
 * R_k = W_k^T line, W_k (cin, cout) the side's k-th tap: three sgemms per
 * side. The ring's taps are kept beside the Winograd kernel in the
 * convolution's cache (stylize_conv_padded_ring_kernel), so that the whole
 * gradient follows stylize_conv_refresh as the kernel does. The weight
 * gradient (conv_winograd.c) reads the padding as the forward does. */
#include <cblas.h>
#include <string.h>

#include "nn/conv_internal.h"

size_t stylize_conv_padded_ring_kernel_floats(int cin, int cout)
{
    return (size_t)9 * (size_t)cin * (size_t)cout;
}

void stylize_conv_padded_ring_kernel(float *rw, const float *weight, int cin, int cout)
{
    for (int t = 0; t < 9; t++)
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++)
                rw[((size_t)t * (size_t)cin + (size_t)ci) * (size_t)cout + (size_t)co] =
                    weight[((size_t)co * (size_t)cin + (size_t)ci) * 9 + (size_t)t];
}

/* The ring's workspace: gout's first and last columns (2, cout, h) and the
 * three tap products of one side (3, cin, max(h, w)). */
static size_t ring_ws_floats(int cin, int cout, int h, int w)
{
    size_t n = (size_t)(h > w ? h : w);
    return 2 * (size_t)cout * (size_t)h + 3 * (size_t)cin * n;
}

size_t stylize_conv_padded_floats(stylize_conv_algo algo, int cin, int cout, int h, int w)
{
    size_t wino = stylize_conv_winograd_floats(algo, cin, cout, h, w), ring = ring_ws_floats(cin, cout, h, w);
    return wino > ring ? wino : ring;
}

/* One side of the ring: its three taps (indices 3 i + j into the ring
 * kernel, in the order of k along the line), the line of gout it reads
 * (len values, channels ld apart), the positions q in [lo, hi) it yields
 * and where each folds: row `row` (or q when row < 0), column `col` (or
 * the padding's column of q when col < 0). */
typedef struct {
    int taps[3];
    const float *line;
    size_t ld;
    int len, lo, hi, row, col;
} ring_side;

typedef struct {
    const float *rw;   /* (9, cin, cout): the ring kernel */
    float *R;          /* (3, cin, n): one side's tap products */
    float *gin;        /* (cin, h, w): accumulated onto */
    ring_side side[4]; /* top, bottom, left, right */
    int cin, cout, h, w, n, ntasks;
    stylize_pad_mode mode;
} ring_job;

/* Channels [c0, c1) of one side: the three tap products, then each ring
 * value folded onto the pixel its padding read. */
static void ring_fold_side(const ring_job *j, const ring_side *s, int c0, int c1)
{
    size_t n = (size_t)j->n, plane = (size_t)j->h * (size_t)j->w;
    for (int k = 0; k < 3; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c1 - c0, s->len, j->cout, 1.0f,
                    j->rw + ((size_t)s->taps[k] * (size_t)j->cin + (size_t)c0) * (size_t)j->cout, j->cout,
                    s->line, (int)s->ld, 0.0f, j->R + ((size_t)k * (size_t)j->cin + (size_t)c0) * n, (int)n);
    for (int ci = c0; ci < c1; ci++) {
        const float *r0 = j->R + (size_t)ci * n, *r1 = r0 + (size_t)j->cin * n, *r2 = r1 + (size_t)j->cin * n;
        float *g = j->gin + (size_t)ci * plane;
        for (int q = s->lo; q < s->hi; q++) {
            float d = 0.0f; /* sum_k R_k(q - k + 1) over positions on the line */
            if (q + 1 >= 0 && q + 1 < s->len)
                d += r0[q + 1];
            if (q >= 0 && q < s->len)
                d += r1[q];
            if (q - 1 >= 0 && q - 1 < s->len)
                d += r2[q - 1];
            int y = s->row >= 0 ? s->row : q, x = s->col >= 0 ? s->col : stylize_conv_pad_index(q, j->w, j->mode);
            g[(size_t)y * (size_t)j->w + (size_t)x] += d;
        }
    }
}

/* Task t: a band of input channels, every side in turn (a channel's folds
 * touch only its own plane, so bands never meet). The bands depend on cin
 * alone, not on the threads: each sgemm has the same shape however many
 * run, so the result does not depend on them. */
static void ring_task(void *vctx, int t)
{
    const ring_job *j = vctx;
    int c0 = (int)((long long)j->cin * t / j->ntasks), c1 = (int)((long long)j->cin * (t + 1) / j->ntasks);
    for (int s = 0; c1 > c0 && s < 4; s++)
        ring_fold_side(j, &j->side[s], c0, c1);
}

#define RING_BAND_CHANNELS 32 /* input channels per task, at most */

void stylize_conv_padded_forward(const stylize_conv_geom *g, const void *kern, const float *bias,
                                 stylize_conv_algo algo, stylize_wino_pass pass, float *out,
                                 const float *in, int h, int w, float *ws)
{
    /* the input transform reads the padding itself: no copies */
    stylize_conv_winograd(out, in, kern, bias, algo, pass, g->pad, g->cin, g->cout, h, w, ws);
}

void stylize_conv_padded_backward(const stylize_conv_geom *g, const void *kern, const float *ring,
                                  stylize_conv_algo algo, float *gin, const float *gout, int h,
                                  int w, float *ws)
{
    /* the interior: the zero-padded input gradient, straight into gin */
    stylize_conv_winograd(gin, gout, kern, NULL, algo, STYLIZE_WINO_BACKWARD, STYLIZE_PAD_ZERO, g->cout, g->cin,
                          h, w, ws);
    /* the ring, in the workspace the Winograd call has finished with */
    size_t plane = (size_t)h * (size_t)w;
    float *cols = ws, *R = ws + 2 * (size_t)g->cout * (size_t)h; /* (2, cout, h), (3, cin, max(h, w)) */
    for (int co = 0; co < g->cout; co++)
        for (int y = 0; y < h; y++) {
            const float *row = gout + (size_t)co * plane + (size_t)y * (size_t)w;
            cols[(size_t)co * (size_t)h + (size_t)y] = row[0];
            cols[((size_t)g->cout + (size_t)co) * (size_t)h + (size_t)y] = row[w - 1];
        }
    int top = stylize_conv_pad_index(-1, h, g->pad), bottom = stylize_conv_pad_index(h, h, g->pad);
    int left = stylize_conv_pad_index(-1, w, g->pad), right = stylize_conv_pad_index(w, w, g->pad);
    int ntasks = (g->cin + RING_BAND_CHANNELS - 1) / RING_BAND_CHANNELS;
    ring_job j = {ring, R, gin,
                  {{{0, 1, 2}, gout, plane, w, -1, w + 1, top, -1},
                   {{6, 7, 8}, gout + (size_t)(h - 1) * (size_t)w, plane, w, -1, w + 1, bottom, -1},
                   {{0, 3, 6}, cols, (size_t)h, h, 0, h, -1, left},
                   {{2, 5, 8}, cols + (size_t)g->cout * (size_t)h, (size_t)h, h, 0, h, -1, right}},
                  g->cin, g->cout, h, w, h > w ? h : w, ntasks, g->pad};
    stylize_conv_run_blas_tasks(j.ntasks, ring_task, &j);
}
