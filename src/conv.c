/* 3x3, stride 1, pad 1 convolution over CHW float32 tensors: im2col +
 * cblas_sgemm, tiled over output rows so the im2col matrix stays within
 * STYLIZE_CONV_WORKSPACE_MAX_FLOATS. The input gradient is the same
 * operation run with the flipped, channel-swapped kernel built at create. */
#include "stylize/conv.h"

#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct stylize_conv {
    const float *weight; /* (cout, cin, 3, 3), borrowed */
    const float *bias;   /* (cout) or NULL, borrowed */
    float *weight_t;     /* (cin, cout, 3, 3), owned: weight flipped 180 deg, channels swapped */
    int cin, cout;
    stylize_conv_algo algo;
};

stylize_status stylize_conv_create(stylize_conv **out, const float *weight, const float *bias,
                                   int cin, int cout, stylize_error *err)
{
    if (!out)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: output pointer is NULL");
    *out = NULL;
    if (!weight)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: weight is NULL");
    if (cin <= 0 || cout <= 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "conv: channel counts must be positive (cin %d, cout %d)", cin,
                                 cout);
    /* The sgemm inner dimension (channels * 9) must fit an int, in both directions. */
    if (cin > INT_MAX / 9 || cout > INT_MAX / 9)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "conv: too many channels (cin %d, cout %d)", cin, cout);
    size_t ci_n = (size_t)cin, co_n = (size_t)cout;
    if (ci_n > SIZE_MAX / sizeof(float) / 9 / co_n)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "conv: weight too large (cin %d, cout %d)", cin, cout);

    stylize_conv *c = malloc(sizeof *c);
    if (!c)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "conv: out of memory for the layer");
    c->weight_t = malloc(ci_n * co_n * 9 * sizeof(float)); /* (cin, cout, 3, 3) */
    if (!c->weight_t) {
        free(c);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM,
                                 "conv: out of memory for the %d x %d backward kernel", cin, cout);
    }
    /* weight_t[ci][co][ky][kx] = weight[co][ci][2 - ky][2 - kx] */
    for (size_t co = 0; co < co_n; co++)
        for (size_t ci = 0; ci < ci_n; ci++) {
            const float *src = weight + (co * ci_n + ci) * 9;
            float *dst = c->weight_t + (ci * co_n + co) * 9;
            for (size_t k = 0; k < 9; k++)
                dst[k] = src[8 - k];
        }
    c->weight = weight;
    c->bias = bias;
    c->cin = cin;
    c->cout = cout;
    c->algo = STYLIZE_CONV_IM2COL;
    *out = c;
    return STYLIZE_OK;
}

void stylize_conv_free(stylize_conv *conv)
{
    if (!conv)
        return;
    free(conv->weight_t);
    free(conv);
}

int stylize_conv_in_channels(const stylize_conv *conv) { return conv->cin; }
int stylize_conv_out_channels(const stylize_conv *conv) { return conv->cout; }

void stylize_conv_set_algo(stylize_conv *conv, stylize_conv_algo algo) { conv->algo = algo; }

/* Output rows per tile when the im2col matrix has cin * 9 rows of w floats
 * per output row: as many as fit the workspace bound, at least one, at most h. */
static size_t tile_rows(int cin, int h, int w)
{
    size_t per_row = (size_t)cin * 9 * (size_t)w; /* im2col floats per output row */
    size_t rows = STYLIZE_CONV_WORKSPACE_MAX_FLOATS / per_row;
    if (rows < 1)
        rows = 1;
    if (rows > (size_t)h)
        rows = (size_t)h;
    return rows;
}

static size_t im2col_floats(int cin, int h, int w)
{
    return (size_t)cin * 9 * (size_t)w * tile_rows(cin, h, w);
}

size_t stylize_conv_workspace_floats(const stylize_conv *conv, int h, int w)
{
    if (h <= 0 || w <= 0)
        return 0;
    size_t fwd = im2col_floats(conv->cin, h, w);  /* forward: im2col of the input */
    size_t bwd = im2col_floats(conv->cout, h, w); /* backward: im2col of the gradient */
    return fwd > bwd ? fwd : bwd;
}

/* Writes the im2col matrix of output rows [y0, y0 + rows) of in (cin, h, w)
 * to col (cin * 9, rows * w): row (ci * 3 + ky) * 3 + kx, column
 * (y - y0) * w + x holds in[ci][y + ky - 1][x + kx - 1], zero outside. */
static void im2col_rows(float *col, const float *in, int cin, int h, int w, int y0, int rows)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    for (int ci = 0; ci < cin; ci++) {
        const float *src_c = in + (size_t)ci * plane; /* (h, w) */
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                /* x + kx - 1 is in range for x in [x_lo, x_hi) */
                int x_lo = kx == 0 ? 1 : 0;
                int x_hi = kx == 2 ? w - 1 : w;
                for (int r = 0; r < rows; r++) {
                    float *dst = col + (size_t)r * wn; /* (w) */
                    int sy = y0 + r + ky - 1;
                    if (sy < 0 || sy >= h || x_hi <= x_lo) {
                        memset(dst, 0, wn * sizeof(float));
                        continue;
                    }
                    const float *src = src_c + (size_t)sy * wn + (size_t)(x_lo + kx - 1);
                    if (x_lo > 0)
                        dst[0] = 0.0f;
                    memcpy(dst + x_lo, src, (size_t)(x_hi - x_lo) * sizeof(float));
                    if (x_hi < w)
                        dst[w - 1] = 0.0f;
                }
                col += (size_t)rows * wn;
            }
    }
}

/* out (cout, h, w) = conv(in (cin, h, w)) with weight (cout, cin, 3, 3) and
 * bias (cout) or NULL, through ws (at least im2col_floats(cin, h, w)).
 * The sgemm output leading dimension is h * w, which must fit an int. */
static void conv_im2col(float *out, const float *in, const float *weight, const float *bias,
                        int cin, int cout, int h, int w, float *ws)
{
    if (h <= 0 || w <= 0)
        return;
    size_t plane = (size_t)h * (size_t)w;
    int k = cin * 9;
    int rows = (int)tile_rows(cin, h, w);
    for (int y0 = 0; y0 < h; y0 += rows) {
        int n = h - y0 < rows ? h - y0 : rows;
        int cols = n * w; /* <= the workspace bound or w, so fits an int */
        float *dst = out + (size_t)y0 * (size_t)w; /* (cout, n, w) inside out, stride plane */
        im2col_rows(ws, in, cin, h, w, y0, n);     /* ws: (cin * 9, n * w) */
        float beta = 0.0f;
        if (bias) {
            for (int co = 0; co < cout; co++) {
                float *o = dst + (size_t)co * plane;
                for (int i = 0; i < cols; i++)
                    o[i] = bias[co];
            }
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, cols, k, 1.0f, weight, k, ws,
                    cols, beta, dst, (int)plane);
    }
}

void stylize_conv_forward(const stylize_conv *conv, float *out, const float *in, int h, int w,
                          float *ws)
{
    /* STYLIZE_CONV_WINOGRAD has no implementation yet: every algo runs im2col. */
    conv_im2col(out, in, conv->weight, conv->bias, conv->cin, conv->cout, h, w, ws);
}

void stylize_conv_backward(const stylize_conv *conv, float *gin, const float *gout, int h, int w,
                           float *ws)
{
    /* dL/din[ci][p][q] = sum_{co,ky,kx} weight[co][ci][ky][kx] gout[co][p - ky + 1][q - kx + 1],
     * i.e. a pad-1 convolution of gout with weight_t and no bias. */
    conv_im2col(gin, gout, conv->weight_t, NULL, conv->cout, conv->cin, h, w, ws);
}

void stylize_conv3x3_direct(float *out, const float *in, const float *weight, const float *bias,
                            int cin, int cout, int h, int w)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    for (int co = 0; co < cout; co++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double acc = bias ? (double)bias[co] : 0.0;
                for (int ci = 0; ci < cin; ci++) {
                    const float *wk = weight + ((size_t)co * (size_t)cin + (size_t)ci) * 9;
                    const float *src = in + (size_t)ci * plane;
                    for (int ky = 0; ky < 3; ky++) {
                        int sy = y + ky - 1;
                        if (sy < 0 || sy >= h)
                            continue;
                        for (int kx = 0; kx < 3; kx++) {
                            int sx = x + kx - 1;
                            if (sx < 0 || sx >= w)
                                continue;
                            acc += (double)wk[ky * 3 + kx] *
                                   (double)src[(size_t)sy * wn + (size_t)sx];
                        }
                    }
                }
                out[(size_t)co * plane + (size_t)y * wn + (size_t)x] = (float)acc;
            }
}
