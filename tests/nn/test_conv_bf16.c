/* The bfloat16 Winograd convolutions (STYLIZE_CONV_WINOGRAD_BF16, F(4x4, 3x3),
 * and STYLIZE_CONV_WINOGRAD_F2_BF16, F(2x2, 3x3)) against direct double
 * loops, forward and input gradient, on every 3x3 layer shape the engine
 * runs (VGG-19's conv1_1 .. conv5_x, the pyramid's and the residual net's),
 * zero, reflect, replicate and circular padding, ragged sizes. Layers
 * narrower than STYLIZE_CONV_BF16_MIN_CHANNELS (Winograd) or
 * STYLIZE_CONV_BF16_DIRECT_MIN_CHANNELS (the direct AMX path) must select
 * the float32 counterpart (and then meet the same tolerance easily).
 *
 * Tolerance, per output pixel, from where bfloat16 enters: the transformed
 * input V_c = B^T d_c B and kernel U_c = G g_c G^T are rounded to bfloat16
 * (relative error <= 2^-8 each, 8 significant bits), their products summed
 * over the K input channels in float32, and the output is A^T M A. So
 *   |y - y_exact| <= (2^-7 + 2^-16 + K 2^-24) sum_pq |A^T_rp| |A^T_sq| sum_c |U_c,pq| |V_c,pq|
 *                    + 1e-4 sum |w| |x|   (float32 transforms, as the float32 path's tests)
 * with U and V computed here in double. On AMX the default path is
 * direct (conv_amx.c), which rounds w and x themselves: there
 *   |y - y_exact| <= (2^-7 + 2^-16 + 9 K 2^-24) sum |w| |x|.
 * Every case runs on each path the CPU has: direct on AMX, Winograd with
 * AMX GEMMs (a test hook), Winograd on vdpbf16ps (AMX hidden). The 3x3
 * stride-2 layers (the residual net's downsampling) take the direct path's
 * forward on AMX, the general path elsewhere. The direct path's code also
 * runs over a software model of the tiles (amx_emul.h), strides 1 and 2,
 * so that its packing and bands are checked on CPUs without AMX too.
 * The result must also differ from
 * float32's beyond float32 rounding somewhere (bfloat16 is really used),
 * and be the same with 1 and 2 threads (the float32 fallback of narrow
 * layers: the same in two runs with 2 threads, and within the bound with
 * 1). Skipped, visibly (exit 77), on
 * CPUs without AVX512-BF16, where the algorithms run in float32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/core/cpu.h"
#include "stylize/core/threads.h"
#include "stylize/nn/conv.h"
#include "stylize/nn/precision.h"
#include "stylize/nn/gemm_bf16.h"
#include "nn/conv_internal.h" /* the packed kernel, for its layout check */
#include "conv_testutil.h"
#include "testutil.h"

static int amx_direct_on = 1; /* as stylize_conv_testing_amx_direct was last set */

/* 1 when kernels packed now take the direct AMX layout. */
static int direct_expected(void)
{
    return amx_direct_on && stylize_bf16_kernel_for_cpu() == STYLIZE_BF16_AMX;
}

/* The transforms of conv_winograd.c (its interpolation points). */
static const double G4[6][3] = {{1, 0, 0}, {1, 1, 1}, {1.0 / 9, -1.0 / 9, 1.0 / 9},
                                {1.0 / 9, 2.0 / 9, 4.0 / 9}, {4.0 / 9, 2.0 / 9, 1.0 / 9}, {0, 0, 1}};
static const double BT4[6][6] = {{1, -2.5, 0, 2.5, -1, 0}, {0, -1, 1.5, 1.5, -1, 0},
                                 {0, -1, 3.5, -3.5, 1, 0}, {0, 0.5, -1, -0.5, 1, 0},
                                 {0, 8, -4, -8, 4, 0},     {0, -1, 2.5, 0, -2.5, 1}};
static const double AT4[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, 0.5, 0},
                                 {0, 1, 1, 4, 0.25, 0}, {0, 1, -1, 8, 0.125, 1}};
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double BT2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double AT2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

typedef struct {
    int m, a;
    double G[6][3], BT[6][6], AT[4][6];
} wino;

static wino make_wino(int m)
{
    wino t;
    memset(&t, 0, sizeof t);
    t.m = m, t.a = m + 2;
    for (int i = 0; i < t.a; i++) {
        for (int x = 0; x < 3; x++)
            t.G[i][x] = m == 4 ? G4[i][x] : G2[i][x];
        for (int x = 0; x < t.a; x++)
            t.BT[i][x] = m == 4 ? BT4[i][x] : BT2[i][x];
    }
    for (int r = 0; r < m; r++)
        for (int x = 0; x < t.a; x++)
            t.AT[r][x] = m == 4 ? AT4[r][x] : AT2[r][x];
    return t;
}

/* |U| (cout, cin, a, a) in double: |G g G^T| of every kernel. */
static void abs_u(const wino *t, double *u, const float *wt, int cin, int cout)
{
    int a = t->a;
    for (size_t p = 0; p < (size_t)cin * cout; p++) {
        const float *g = wt + p * 9;
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) {
                double s = 0;
                for (int y = 0; y < 3; y++)
                    for (int x = 0; x < 3; x++)
                        s += t->G[i][y] * g[y * 3 + x] * t->G[j][x];
                u[p * a * a + i * a + j] = fabs(s);
            }
    }
}

/* bound (cout, h, w): the bfloat16 part of the tolerance above for the
 * zero-padded Winograd convolution of in (cin, h, w) with |U|. */
static void bf16_bound(const wino *t, double *bound, const double *u, const float *in, int cin,
                       int cout, int h, int w)
{
    int a = t->a, m = t->m, aa = a * a;
    double *v = malloc((size_t)cin * aa * sizeof *v), mag[36];
    if (!v) {
        CHECK(!"out of memory");
        return;
    }
    double eps = 0x1p-7 + 0x1p-16 + cin * 0x1p-24;
    for (int ty = 0; ty < (h + m - 1) / m; ty++)
        for (int tx = 0; tx < (w + m - 1) / m; tx++) {
            for (int c = 0; c < cin; c++) /* |V_c| = |B^T d B| */
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < a; j++) {
                        double s = 0;
                        for (int y = 0; y < a; y++)
                            for (int x = 0; x < a; x++) {
                                int py = ty * m - 1 + y, px = tx * m - 1 + x;
                                if (py >= 0 && py < h && px >= 0 && px < w)
                                    s += t->BT[i][y] * in[((size_t)c * h + py) * w + px] * t->BT[j][x];
                            }
                        v[(size_t)c * aa + i * a + j] = fabs(s);
                    }
            for (int co = 0; co < cout; co++) {
                for (int k = 0; k < aa; k++) {
                    mag[k] = 0;
                    for (int c = 0; c < cin; c++)
                        mag[k] += u[((size_t)co * cin + c) * aa + k] * v[(size_t)c * aa + k];
                }
                for (int r = 0; r < m && ty * m + r < h; r++)
                    for (int s = 0; s < m && tx * m + s < w; s++) {
                        double b = 0;
                        for (int p = 0; p < a; p++)
                            for (int q = 0; q < a; q++)
                                b += fabs(t->AT[r][p]) * fabs(t->AT[s][q]) * mag[p * a + q];
                        bound[((size_t)co * h + ty * m + r) * w + tx * m + s] = eps * b;
                    }
            }
        }
    free(v);
}

/* sum |w| |x| of every output of the convolution of in (zero padding). */
static void abs_direct(double *out, const float *in, const float *wt, int cin, int cout, int h, int w)
{
    for (int co = 0; co < cout; co++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double s = 0;
                for (int c = 0; c < cin; c++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int py = y + ky - 1, px = x + kx - 1;
                            if (py >= 0 && py < h && px >= 0 && px < w)
                                s += fabs(wt[(((size_t)co * cin + c) * 3 + ky) * 3 + kx] *
                                          in[((size_t)c * h + py) * w + px]);
                        }
                out[((size_t)co * h + y) * w + x] = s;
            }
}

/* A case over c channels of (h, w); o = 1 when the padding is written out:
 * big (c, h + 2o, w + 2o). */
typedef struct {
    int h, w, o;
    stylize_pad_mode pad;
} frame;

/* big = small with its padding written out (o = 1), or a copy. */
static void pad_out(const frame *f, float *big, const float *small, int c, int zeros)
{
    int H = f->h + 2 * f->o, W = f->w + 2 * f->o;
    for (int k = 0; k < c; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y - f->o, sx = x - f->o, in = sy >= 0 && sy < f->h && sx >= 0 && sx < f->w;
                if (!in && zeros) {
                    big[((size_t)k * H + y) * W + x] = 0;
                    continue;
                }
                sy = stylize_conv_pad_index(sy, f->h, f->pad), sx = stylize_conv_pad_index(sx, f->w, f->pad);
                big[((size_t)k * H + y) * W + x] = small[((size_t)k * f->h + sy) * f->w + sx];
            }
}

/* small = the interior of big (fold = 0) or every big position added onto
 * the pixel it reads (fold = 1: the adjoint of pad_out). */
static void crop_in(const frame *f, double *small, const double *big, int c, int fold)
{
    int H = f->h + 2 * f->o, W = f->w + 2 * f->o;
    memset(small, 0, (size_t)c * f->h * f->w * sizeof *small);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y - f->o, sx = x - f->o;
                if (!(sy >= 0 && sy < f->h && sx >= 0 && sx < f->w) && !fold)
                    continue;
                sy = stylize_conv_pad_index(sy, f->h, f->pad), sx = stylize_conv_pad_index(sx, f->w, f->pad);
                small[((size_t)k * f->h + sy) * f->w + sx] += big[((size_t)k * H + y) * W + x];
            }
}

/* ref (cout, H, W) = the zero-padded convolution of big (cin, H, W), double. */
static void direct_big(double *ref, const float *big, const float *wt, const float *bias, int cin,
                       int cout, int H, int W)
{
    float *tmp = malloc((size_t)cout * H * W * sizeof *tmp);
    if (!tmp) {
        CHECK(!"out of memory");
        return;
    }
    stylize_conv3x3_direct(tmp, big, wt, bias, cin, cout, H, W);
    for (size_t i = 0; i < (size_t)cout * H * W; i++)
        ref[i] = tmp[i];
    free(tmp);
}

typedef struct {
    double worst;  /* largest error / tolerance */
    double sq;     /* sum of (error / bfloat16 bound)^2 */
    size_t n;
    int visible;   /* some error beyond float32 rounding */
} verdict;

/* Compares got (c, h, w) with ref within bound + 1e-4 mag. */
static void judge(verdict *v, const float *got, const double *ref, const double *bound,
                  const double *mag, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - ref[i]), tol = bound[i] + 1e-4 * mag[i] + 1e-7;
        v->worst = fmax(v->worst, err / tol);
        v->sq += err * err / ((bound[i] + 1e-7) * (bound[i] + 1e-7)), v->n++;
        v->visible |= err > 1e-5 * mag[i] + 1e-7;
    }
}

/* Reference, tolerance and magnitude of one direction in the frame: x (c0,
 * h, w) through wt (c1, c0, 3, 3) [+ bias], the padding written out
 * (forward) or embedded in zeros and folded back (input gradient). */
static void expect(const frame *f, const wino *t, double *ref, double *bound, double *mag,
                   const float *x, const float *wt, const float *bias, int c0, int c1, int grad)
{
    int H = f->h + 2 * f->o, W = f->w + 2 * f->o;
    size_t big = (size_t)H * W;
    float *xb = malloc((size_t)c0 * big * sizeof *xb);
    double *u = malloc((size_t)c0 * c1 * t->a * t->a * sizeof *u);
    double *tmp = malloc((size_t)c1 * big * sizeof *tmp);
    if (!xb || !u || !tmp) {
        CHECK(!"out of memory");
        free(xb), free(u), free(tmp);
        return;
    }
    pad_out(f, xb, x, c0, grad);
    direct_big(tmp, xb, wt, bias, c0, c1, H, W);
    crop_in(f, ref, tmp, c1, grad);
    abs_u(t, u, wt, c0, c1);
    bf16_bound(t, tmp, u, xb, c0, c1, H, W);
    crop_in(f, bound, tmp, c1, grad);
    abs_direct(tmp, xb, wt, c0, c1, H, W);
    crop_in(f, mag, tmp, c1, grad);
    if (direct_expected()) /* the direct path rounds w and x themselves: K = 9 c0 products */
        for (size_t i = 0; i < (size_t)c1 * f->h * f->w; i++)
            bound[i] = (0x1p-7 + 0x1p-16 + 9 * c0 * 0x1p-24) * mag[i];
    free(xb), free(u), free(tmp);
}

#define CANARY 64

/* The input gradient's kernel: wf (cin, cout, 3, 3) = wt (cout, cin, 3, 3)
 * transposed and rotated by 180 degrees. */
static void flip_weights(float *wf, const float *wt, int cin, int cout)
{
    for (size_t co = 0; co < (size_t)cout; co++)
        for (size_t ci = 0; ci < (size_t)cin; ci++)
            for (int k = 0; k < 9; k++)
                wf[(ci * cout + co) * 9 + k] = wt[(co * cin + ci) * 9 + 8 - k];
}

/* 1 when the CANARY floats after a workspace still hold -12345. */
static int canary_intact(const float *c)
{
    int intact = 1;
    for (int i = 0; i < CANARY; i++)
        intact &= c[i] == -12345.0f;
    return intact;
}

/* The forward (dir 0) of x or the input gradient (dir 1) of gout into dst,
 * with threads threads (left at 2). */
static void run_dir(stylize_conv *conv, int dir, int threads, float *dst, const float *x, const float *gout,
                    int h, int w, float *ws)
{
    stylize_set_threads(threads);
    if (dir)
        stylize_conv_backward(conv, dst, gout, h, w, ws);
    else
        stylize_conv_forward(conv, dst, x, h, w, ws);
    stylize_set_threads(2);
}


/* One layer shape: forward and input gradient with algo (one bfloat16
 * algorithm), 1 and 2 threads bit-identical; returns 1 when bfloat16 was
 * visible. */
static int check_case(int cin, int cout, int h, int w, stylize_pad_mode pad, stylize_conv_algo algo)
{
    frame f = {h, w, pad != STYLIZE_PAD_ZERO, pad};
    wino t = make_wino(algo == STYLIZE_CONV_WINOGRAD_BF16 ? 4 : 2);
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w, nmax = nin > nout ? nin : nout;
    float *wt = malloc((size_t)cin * cout * 9 * sizeof *wt), *wf = malloc((size_t)cin * cout * 9 * sizeof *wf);
    float *bias = malloc((size_t)cout * sizeof *bias), *x = malloc(nin * sizeof *x);
    float *gout = malloc(nout * sizeof *gout), *got = malloc(nmax * sizeof *got), *got1 = malloc(nmax * sizeof *got1);
    double *ref = malloc(nmax * sizeof *ref), *bound = malloc(nmax * sizeof *bound), *mag = malloc(nmax * sizeof *mag);
    stylize_conv_geom g = {cin, cout, 3, 1, pad};
    stylize_conv *conv = NULL;
    float *ws = NULL;
    size_t nws = 0;
    verdict v = {0, 0, 0, 0};
    if (!wt || !wf || !bias || !x || !gout || !got || !got1 || !ref || !bound || !mag) {
        CHECK(!"out of memory");
        goto done;
    }
    tu_fill(wt, (size_t)cin * cout * 9, (uint64_t)cin * 31 + cout, -0.2f, 0.2f);
    tu_fill(bias, (size_t)cout, 7, -0.5f, 0.5f);
    tu_fill(x, nin, (uint64_t)h * 17 + w, 0.0f, 1.0f); /* post-ReLU-like */
    tu_fill(gout, nout, (uint64_t)w * 5 + cout, -1.0f, 1.0f);
    CHECK(stylize_conv_create_ex(&conv, &g, wt, bias, algo, NULL, NULL) == STYLIZE_OK);
    nws = conv ? stylize_conv_workspace_floats(conv, h, w) : 0;
    ws = malloc((nws + CANARY) * sizeof *ws); /* a canary after the workspace */
    if (!conv || !ws) {
        CHECK(!"out of memory or no convolution");
        goto done;
    }
    for (int i = 0; i < CANARY; i++)
        ws[nws + i] = -12345.0f;
    int min = amx_direct_on && stylize_bf16_kernel_for_cpu() == STYLIZE_BF16_AMX ? stylize_conv_get_bf16_min_channels()
                                                                                : STYLIZE_CONV_BF16_MIN_CHANNELS;
    int narrow = cin < min || cout < min;
    stylize_conv_algo expect_algo = !narrow ? algo : algo == STYLIZE_CONV_WINOGRAD_BF16 ? STYLIZE_CONV_WINOGRAD
                                                                                  : STYLIZE_CONV_WINOGRAD_F2;
    CHECK_MSG(stylize_conv_get_algo(conv) == expect_algo, "%d -> %d: algorithm %d, not %d", cin, cout,
              (int)stylize_conv_get_algo(conv), (int)expect_algo);
    flip_weights(wf, wt, cin, cout);
    for (int dir = 0; dir < 2; dir++) {
        size_t n = dir ? nin : nout;
        if (dir)
            expect(&f, &t, ref, bound, mag, gout, wf, NULL, cout, cin, 1);
        else
            expect(&f, &t, ref, bound, mag, x, wt, bias, cin, cout, 0);
        run_dir(conv, dir, 2, got, x, gout, h, w, ws);
        run_dir(conv, dir, 1, got1, x, gout, h, w, ws);
        if (narrow) {
            /* float32 through OpenBLAS, whose kernels (Prescott's, Haswell's)
             * round a column differently in calls of other widths, and a
             * task's runs of tiles are narrower with two threads: the thread
             * count may change the last bits, the timing may not */
            verdict d1 = {0, 0, 0, 0};
            judge(&d1, got1, ref, bound, mag, n);
            CHECK_MSG(d1.worst <= 1.0, "%d -> %d %dx%d, 1 thread: error %.3g of the tolerance", cin, cout, h,
                      w, d1.worst);
            run_dir(conv, dir, 2, got1, x, gout, h, w, ws);
        }
        /* bfloat16: our GEMM rounds every column alike in runs of any width */
        CHECK_MSG(memcmp(got, got1, n * sizeof *got) == 0, "%d -> %d %dx%d: %s", cin, cout, h, w,
                  narrow ? "two runs with 2 threads differ" : "1 and 2 threads differ");
        int fr = dir ? 0 : fused_relu_differs(conv, x, h, w, got, nout, ws);
        CHECK_MSG(fr == 0, "%d -> %d %dx%d: forward_relu %s", cin, cout, h, w,
                  fr == 1 ? "differs from relu(forward)" : "had no negative output to test");
        CHECK_MSG(canary_intact(ws + nws), "%d -> %d %dx%d: wrote past its workspace", cin, cout, h, w);
        verdict d = {0, 0, 0, 0};
        judge(&d, got, ref, bound, mag, n);
        printf("F(%d) %3d -> %3d %2dx%-2d pad %d %-14s worst %.3f rms %.4f of the bound\n", t.m, cin, cout, h, w,
               (int)pad, dir ? "input gradient" : "forward", d.worst, sqrt(d.sq / (double)d.n));
        CHECK_MSG(d.worst <= 1.0, "F(%d) %d -> %d %dx%d pad %d %s: error %.3g of the tolerance", t.m, cin,
                  cout, h, w, (int)pad, dir ? "input gradient" : "forward", d.worst);
        /* rounding errors add in quadrature, the bound adds them linearly:
         * measured rms 0.006 .. 0.15 of it */
        CHECK_MSG(sqrt(d.sq / (double)d.n) <= 0.25, "F(%d) %d -> %d %dx%d: rms error %.3g of the bound",
                  t.m, cin, cout, h, w, sqrt(d.sq / (double)d.n));
        v.worst = fmax(v.worst, d.worst), v.visible |= d.visible;
    }
done:
    stylize_conv_free(conv);
    free(wt), free(wf), free(bias), free(x), free(gout), free(got), free(got1), free(ref), free(bound), free(mag), free(ws);
    return v.visible;
}

/* The direct AMX path's taps (conv_amx.c): slab t of the forward holds
 * bf16(weight[co][ci][t]) at (co, ci), slab 8 - t of the input gradient
 * holds it at (ci, co); returns the wrong values, counts the nonzero ones. */
static size_t check_taps(const unsigned short *pk, const float *wt, int cin, int cout, size_t *nonzero)
{
    size_t fwd = stylize_bf16_pack_a_bytes(cout, cin) / 2, bwd = stylize_bf16_pack_a_bytes(cin, cout) / 2;
    size_t wrong = 0;
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < 9; t++) {
                unsigned short want = stylize_bf16_round(wt[((size_t)co * cin + ci) * 9 + t]);
                wrong += pk[(size_t)t * fwd + stylize_bf16_pack_a_index(STYLIZE_BF16_AMX, co, ci, cin)] != want;
                wrong += pk[9 * fwd + (size_t)(8 - t) * bwd +
                            stylize_bf16_pack_a_index(STYLIZE_BF16_AMX, ci, co, cout)] != want;
            }
    for (size_t i = 0; i < 9 * (fwd + bwd); i++)
        *nonzero += pk[i] != 0;
    return wrong;
}

/* The packed kernel bit for bit: slot k of the forward half holds
 * bf16(U[k]) at (co, ci), slot pi(k) of the input gradient's half holds it
 * at (ci, co) (pi: the flip's permutation of the interpolation points,
 * conv_winograd.c), the padding is zero; the live memory plan counted
 * exactly stylize_conv_kernel_bytes. */
static void check_layout(int cin, int cout, stylize_conv_algo algo)
{
    static const int pi4[6] = {5, 1, 2, 4, 3, 0}, pi2[4] = {3, 1, 2, 0};
    int m = algo == STYLIZE_CONV_WINOGRAD_BF16 ? 4 : 2, a = m + 2, aa = a * a;
    const int *pi = m == 4 ? pi4 : pi2;
    float *wt = malloc((size_t)cin * cout * 9 * sizeof *wt), *u = malloc((size_t)aa * cin * cout * sizeof *u);
    stylize_conv_geom g = {cin, cout, 3, 1, STYLIZE_PAD_ZERO};
    stylize_mem mem;
    stylize_mem_init(&mem, 0);
    stylize_conv *conv = NULL;
    if (!wt || !u) {
        CHECK(!"out of memory");
        free(wt), free(u);
        return;
    }
    tu_fill(wt, (size_t)cin * cout * 9, 99, -1.0f, 1.0f);
    CHECK(stylize_conv_create_ex(&conv, &g, wt, NULL, algo, &mem, NULL) == STYLIZE_OK);
    if (conv) {
        CHECK(stylize_conv_get_algo(conv) == algo);
        CHECK(mem.cur == stylize_conv_kernel_bytes(&g, algo) && mem.cur == conv->cache_bytes);
        stylize_conv_winograd_kernel(u, wt, cin, cout, m); /* the float32 transform, (aa, cout, ci) */
        int layout; /* the header: the Winograd slots for this CPU's GEMM kernel, or AMX's direct taps */
        memcpy(&layout, conv->cache, sizeof layout);
        CHECK(layout == (direct_expected() ? 2 : (int)stylize_bf16_kernel_for_cpu()));
        const unsigned short *pk = (const unsigned short *)((const unsigned char *)conv->cache + 64);
        size_t wrong = 0, nonzero = 0, fwd, bwd;
        if (layout == 2) {
            wrong = check_taps(pk, wt, cin, cout, &nonzero);
            aa = 9;
        } else {
            stylize_bf16_kernel kern = (stylize_bf16_kernel)layout;
            fwd = stylize_bf16_pack_a_bytes(cout, cin) / 2, bwd = stylize_bf16_pack_a_bytes(cin, cout) / 2;
            for (int k = 0; k < aa; k++)
                for (int co = 0; co < cout; co++)
                    for (int ci = 0; ci < cin; ci++) {
                        unsigned short want = stylize_bf16_round(u[((size_t)k * cout + co) * cin + ci]);
                        int kb = pi[k / a] * a + pi[k % a];
                        wrong += pk[(size_t)k * fwd + stylize_bf16_pack_a_index(kern, co, ci, cin)] != want;
                        wrong += pk[(size_t)aa * fwd + (size_t)kb * bwd +
                                    stylize_bf16_pack_a_index(kern, ci, co, cout)] != want;
                    }
            for (size_t i = 0; i < (size_t)aa * (fwd + bwd); i++)
                nonzero += pk[i] != 0;
        }
        CHECK_MSG(wrong == 0, "F(%d) %d -> %d: %zu packed values are not bf16(U)", m, cin, cout, wrong);
        CHECK_MSG(nonzero <= (size_t)2 * aa * cin * cout, "F(%d): padding is not zero", m);
    }
    stylize_conv_free(conv);
    CHECK(mem.cur == 0);
    free(wt), free(u);
}

/* Without AVX512-BF16 (the test hook, before creating) the bfloat16
 * algorithms run as their float32 counterparts, with their sizes. */
static void check_fallback(void)
{
    static float wt[64 * 64 * 9];
    stylize_conv_geom g = {64, 64, 3, 1, STYLIZE_PAD_ZERO};
    stylize_cpu_testing_disable_bf16(1);
    stylize_conv *c = NULL;
    CHECK(stylize_conv_create_ex(&c, &g, wt, NULL, STYLIZE_CONV_WINOGRAD_F2_BF16, NULL, NULL) == STYLIZE_OK);
    CHECK(c && stylize_conv_get_algo(c) == STYLIZE_CONV_WINOGRAD_F2);
    CHECK(stylize_conv_kernel_bytes(&g, STYLIZE_CONV_WINOGRAD_BF16) ==
          stylize_conv_kernel_bytes(&g, STYLIZE_CONV_WINOGRAD));
    CHECK(stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_WINOGRAD_BF16, 40, 40, 0) ==
          stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_WINOGRAD, 40, 40, 0));
    stylize_cpu_testing_disable_bf16(0);
    stylize_conv_free(c);
}

/* The workspace bound of conv.h holds with the packed V slice: wide layers
 * at sizes whose blocks are capped by it. */
static void check_bound(void)
{
    static const int ch[] = {512, 1024, 2048};
    for (int i = 0; i < 3; i++)
        for (int ai = 0; ai < 2; ai++) {
            stylize_conv_algo algo = ai ? STYLIZE_CONV_WINOGRAD_BF16 : STYLIZE_CONV_WINOGRAD_F2_BF16;
            size_t n = stylize_conv_algo_workspace_floats(algo, ch[i], ch[i], 64, 64);
            CHECK_MSG(n <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS, "%s %d channels: %zu floats over the bound",
                      stylize_conv_algo_name(algo), ch[i], n);
        }
}

/* nn/precision.h: names, auto's resolution (as measured: fp32 for L-BFGS,
 * bf16 for training and applying where the CPU has it and runs it fast:
 * the speed probe and the rule), the mapping to the algorithm, and bf16
 * refused without the instructions (the default algorithm then
 * unchanged). */
static void check_precision(void)
{
    stylize_precision p = STYLIZE_PRECISION_AUTO;
    CHECK(stylize_precision_parse("bf16", &p) == 0 && p == STYLIZE_PRECISION_BF16);
    CHECK(stylize_precision_parse("fp16", &p) == -1 && p == STYLIZE_PRECISION_BF16);
    CHECK(strcmp(stylize_precision_name(STYLIZE_PRECISION_FP32), "fp32") == 0);
    /* the probe: 0 without bf16, else a rate (0.45-0.51 measured on an
     * Intel Xeon without AMX, 14.5 with AMX, 2.00 on an AMD EPYC, Zen 4),
     * measured once */
    double speed = stylize_precision_bf16_speed();
    printf("bf16 speed on this CPU: %.3f of float32's multiply-add rate (auto %s bf16)\n", speed,
           speed >= STYLIZE_BF16_MIN_SPEED ? "picks" : "does not pick");
#ifdef STYLIZE_AMX_MODEL /* the probe times the software tiles there: any positive rate */
    const double slowest = 0.0;
#else
    const double slowest = 0.05;
#endif
    CHECK_MSG(stylize_precision_bf16_available() ? speed > slowest && speed < 40 : speed == 0.0,
              "bf16 speed %g", speed);
    CHECK(stylize_precision_bf16_speed() == speed);
    stylize_precision gen = speed >= STYLIZE_BF16_MIN_SPEED ? STYLIZE_PRECISION_BF16 : STYLIZE_PRECISION_FP32;
    /* auto's rule: the work's default where bf16 is fast enough */
    static const struct {
        stylize_precision p;
        stylize_work w;
        double speed;
        stylize_precision want;
    } rule[] = {
        {STYLIZE_PRECISION_AUTO, STYLIZE_WORK_TRAIN, 2.0, STYLIZE_PRECISION_BF16},
        {STYLIZE_PRECISION_AUTO, STYLIZE_WORK_APPLY, STYLIZE_BF16_MIN_SPEED, STYLIZE_PRECISION_BF16},
        {STYLIZE_PRECISION_AUTO, STYLIZE_WORK_TRAIN, 1.49, STYLIZE_PRECISION_FP32},
        {STYLIZE_PRECISION_AUTO, STYLIZE_WORK_APPLY, 0.48, STYLIZE_PRECISION_FP32},
        {STYLIZE_PRECISION_AUTO, STYLIZE_WORK_TRAIN, 0.0, STYLIZE_PRECISION_FP32},
        {STYLIZE_PRECISION_AUTO, STYLIZE_WORK_OPTIMISE, 4.0, STYLIZE_PRECISION_FP32},
        {STYLIZE_PRECISION_BF16, STYLIZE_WORK_TRAIN, 0.48, STYLIZE_PRECISION_BF16},
        {STYLIZE_PRECISION_FP32, STYLIZE_WORK_APPLY, 4.0, STYLIZE_PRECISION_FP32},
    };
    for (size_t i = 0; i < sizeof rule / sizeof rule[0]; i++)
        CHECK_MSG(stylize_precision_resolve_for(rule[i].p, rule[i].w, rule[i].speed) == rule[i].want,
                  "rule %zu", i);
    CHECK(stylize_precision_resolve(STYLIZE_PRECISION_AUTO, STYLIZE_WORK_OPTIMISE) == STYLIZE_PRECISION_FP32);
    CHECK(stylize_precision_resolve(STYLIZE_PRECISION_AUTO, STYLIZE_WORK_TRAIN) == gen);
    CHECK(stylize_precision_resolve(STYLIZE_PRECISION_AUTO, STYLIZE_WORK_APPLY) == gen);
    for (int w = 0; w < 3; w++)
        CHECK(stylize_precision_resolve(STYLIZE_PRECISION_BF16, (stylize_work)w) == STYLIZE_PRECISION_BF16);
    CHECK(stylize_precision_algo(STYLIZE_PRECISION_BF16, STYLIZE_CONV_IM2COL) == STYLIZE_CONV_WINOGRAD_BF16);
    CHECK(stylize_precision_algo(STYLIZE_PRECISION_FP32, STYLIZE_CONV_IM2COL) == STYLIZE_CONV_IM2COL);
    CHECK(stylize_precision_algo(STYLIZE_PRECISION_FP32, STYLIZE_CONV_WINOGRAD_F2_BF16) == STYLIZE_CONV_WINOGRAD_F2);
    CHECK(stylize_precision_select((stylize_precision)7, STYLIZE_WORK_TRAIN, &p, NULL) == STYLIZE_ERR_ARG);
    stylize_conv_algo old = stylize_conv_get_default_algo();
    stylize_cpu_testing_disable_bf16(1);
    CHECK(stylize_precision_bf16_speed() == 0.0);
    stylize_error err;
    CHECK(stylize_precision_select(STYLIZE_PRECISION_BF16, STYLIZE_WORK_TRAIN, &p, &err) == STYLIZE_ERR_ARG);
    CHECK(strstr(err.msg, "AVX512-BF16") != NULL);
    CHECK(stylize_conv_get_default_algo() == old);
    CHECK(stylize_precision_select(STYLIZE_PRECISION_AUTO, STYLIZE_WORK_APPLY, &p, NULL) == STYLIZE_OK &&
          p == STYLIZE_PRECISION_FP32 && stylize_conv_get_default_algo() == STYLIZE_CONV_WINOGRAD);
    stylize_cpu_testing_disable_bf16(0);
    /* the work's narrowest bfloat16 layer on the direct path, whatever the precision */
    CHECK(stylize_conv_get_bf16_min_channels() == STYLIZE_CONV_BF16_APPLY_MIN_CHANNELS);
    CHECK(stylize_conv_get_bf16_thin()); /* applying: the thin layers' forward in bfloat16 */
    CHECK(stylize_precision_select(STYLIZE_PRECISION_FP32, STYLIZE_WORK_TRAIN, &p, NULL) == STYLIZE_OK &&
          stylize_conv_get_bf16_min_channels() == STYLIZE_CONV_BF16_MIN_CHANNELS && !stylize_conv_get_bf16_thin());
    if (stylize_precision_bf16_available()) {
        CHECK(stylize_precision_select(STYLIZE_PRECISION_BF16, STYLIZE_WORK_APPLY, &p, NULL) == STYLIZE_OK &&
              stylize_conv_get_bf16_min_channels() == STYLIZE_CONV_BF16_APPLY_MIN_CHANNELS);
        CHECK(stylize_precision_select(STYLIZE_PRECISION_BF16, STYLIZE_WORK_TRAIN, &p, NULL) == STYLIZE_OK &&
              p == STYLIZE_PRECISION_BF16 && stylize_conv_get_default_algo() == STYLIZE_CONV_WINOGRAD_BF16 &&
              stylize_conv_get_bf16_min_channels() == STYLIZE_CONV_BF16_MIN_CHANNELS);
    }
    stylize_conv_set_default_algo(old);
}

/* The weight gradient stays float32 under the bfloat16 algorithms: bit for
 * bit the float32 counterpart's (Winograd, the same tile), within the
 * workspace the plan asks for with weight_grad = 1. */
static void check_weight_grads(int cin, int cout, int h, int w, stylize_pad_mode pad, stylize_conv_algo algo)
{
    stylize_conv_algo fp32 = algo == STYLIZE_CONV_WINOGRAD_BF16 ? STYLIZE_CONV_WINOGRAD : STYLIZE_CONV_WINOGRAD_F2;
    stylize_conv_geom g = {cin, cout, 3, 1, pad};
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w, nwt = (size_t)cin * cout * 9;
    float *wt = malloc(nwt * sizeof *wt), *x = malloc(nin * sizeof *x), *gout = malloc(nout * sizeof *gout);
    float *gw[2] = {calloc(nwt, sizeof(float)), calloc(nwt, sizeof(float))};
    float *gb[2] = {calloc((size_t)cout, sizeof(float)), calloc((size_t)cout, sizeof(float))};
    stylize_conv *conv[2] = {NULL, NULL};
    if (!wt || !x || !gout || !gw[0] || !gw[1] || !gb[0] || !gb[1]) {
        CHECK(!"out of memory");
        goto done;
    }
    tu_fill(wt, nwt, 5, -0.2f, 0.2f);
    tu_fill(x, nin, 6, 0.0f, 1.0f);
    tu_fill(gout, nout, 7, -1.0f, 1.0f);
    for (int v = 0; v < 2; v++) {
        CHECK(stylize_conv_create_ex(&conv[v], &g, wt, NULL, v ? fp32 : algo, NULL, NULL) == STYLIZE_OK);
        if (!conv[v])
            goto done;
        size_t nws = stylize_conv_workspace_floats_ex(conv[v], h, w, 1);
        float *ws = malloc((nws + CANARY) * sizeof *ws);
        if (!ws) {
            CHECK(!"out of memory");
            goto done;
        }
        for (int i = 0; i < CANARY; i++)
            ws[nws + i] = -12345.0f;
        stylize_conv_backward_weights(conv[v], gw[v], gb[v], x, gout, h, w, ws);
        int intact = 1;
        for (int i = 0; i < CANARY; i++)
            intact &= ws[nws + i] == -12345.0f;
        CHECK_MSG(intact, "weight gradient %d -> %d pad %d: wrote past its workspace", cin, cout, (int)pad);
        free(ws);
    }
    CHECK(stylize_conv_get_algo(conv[0]) == algo);
    CHECK_MSG(memcmp(gw[0], gw[1], nwt * sizeof(float)) == 0 && memcmp(gb[0], gb[1], (size_t)cout * sizeof(float)) == 0,
              "weight gradient %d -> %d pad %d under %s differs from float32's", cin, cout, (int)pad,
              stylize_conv_algo_name(algo));
done:
    stylize_conv_free(conv[0]);
    stylize_conv_free(conv[1]);
    free(wt), free(x), free(gout), free(gw[0]), free(gw[1]), free(gb[0]), free(gb[1]);
}

/* The direct bfloat16 paths' verdict on y, the forward of geometry g at
 * h x w: the worst error against stylize_conv_direct (double) as a
 * fraction of (2^-7 + 2^-16 + K 2^-24) sum |w| |x|, K = cin k^2 products
 * per output (weights and pixels rounded to bfloat16, float32 sums);
 * whether any error exceeds float32 rounding (bfloat16 was used); and the
 * outputs not finite (fmax would pass over them). */
typedef struct {
    double worst;
    int visible;
    size_t bad;
} direct_verdict;

static direct_verdict judge_direct(const stylize_conv_geom *g, int h, int w, const float *x, const float *wt,
                                   const float *bias, const float *y)
{
    int oh = stylize_conv_out_side(h, g->k, g->stride), ow = stylize_conv_out_side(w, g->k, g->stride);
    size_t nin = (size_t)g->cin * h * w, nw = (size_t)g->cin * g->cout * g->k * g->k;
    size_t nout = (size_t)g->cout * oh * ow;
    float *ax = tc_floats(nin), *aw = tc_floats(nw), *want = tc_floats(nout), *mag = tc_floats(nout);
    for (size_t i = 0; i < nin; i++)
        ax[i] = fabsf(x[i]);
    for (size_t i = 0; i < nw; i++)
        aw[i] = fabsf(wt[i]);
    stylize_conv_direct(want, x, wt, bias, g, h, w);
    stylize_conv_direct(mag, ax, aw, NULL, g, h, w);
    double k = 0x1p-7 + 0x1p-16 + (double)g->cin * g->k * g->k * 0x1p-24;
    direct_verdict v = {0, 0, 0};
    for (size_t i = 0; i < nout; i++) {
        double err = fabs(y[i] - want[i]);
        v.worst = fmax(v.worst, err / (k * mag[i] + 1e-6)), v.visible |= err > 1e-5 * mag[i] + 1e-7;
        v.bad += !isfinite(y[i]);
    }
    free(ax), free(aw), free(want), free(mag);
    return v;
}

/* 3x3 at stride 2 (the residual generator's downsampling) under a bfloat16
 * algorithm: where both channel counts reach the minimum, its forward runs
 * in bfloat16, on the tiles where kernels take the direct AMX layout, else
 * through the general path's bfloat16 GEMMs (either within the direct
 * bound of stylize_conv_direct, bfloat16 visible, 1 and 2 threads
 * identical, forward_relu = relu(forward)), and its input and weight
 * gradients are the float32 general path's bit for bit; narrower, all of
 * it is the general path's (reported as im2col). */
static void check_stride2(int cin, int cout, int h, int w, stylize_pad_mode pad, stylize_conv_algo algo)
{
    stylize_conv_geom g = {cin, cout, 3, 2, pad};
    int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * oh * ow, nw = (size_t)cin * cout * 9;
    float *wt = tc_floats(nw), *bias = tc_floats((size_t)cout), *x = tc_floats(nin), *gout = tc_floats(nout);
    float *y[2] = {tc_floats(nout), tc_floats(nout)}, *y1 = tc_floats(nout), *gi[2] = {tc_floats(nin), tc_floats(nin)};
    float *gw[2] = {calloc(nw, sizeof(float)), calloc(nw, sizeof(float))};
    float *gb[2] = {calloc((size_t)cout, sizeof(float)), calloc((size_t)cout, sizeof(float))};
    stylize_conv *conv[2] = {NULL, NULL};
    tu_fill(wt, nw, (uint64_t)cin * 7 + cout, -0.2f, 0.2f);
    tu_fill(bias, (size_t)cout, 3, -0.5f, 0.5f);
    tu_fill(x, nin, (uint64_t)h * 13 + w, 0.0f, 1.0f);
    tu_fill(gout, nout, (uint64_t)w * 3 + cout, -1.0f, 1.0f);
    for (int v = 0; v < 2; v++)
        CHECK(stylize_conv_create_ex(&conv[v], &g, wt, bias, v ? STYLIZE_CONV_IM2COL : algo, NULL, NULL) ==
              STYLIZE_OK);
    if (!conv[0] || !conv[1] || !gw[0] || !gw[1] || !gb[0] || !gb[1])
        goto done;
    int min = stylize_conv_get_bf16_min_channels();
    int bf16 = cin >= min && cout >= min; /* on the tiles or through the GEMMs */
    CHECK_MSG(stylize_conv_get_algo(conv[0]) == (bf16 ? algo : STYLIZE_CONV_IM2COL),
              "stride 2 %d -> %d: algorithm %d", cin, cout, (int)stylize_conv_get_algo(conv[0]));
    size_t nws = stylize_conv_workspace_floats_ex(conv[0], h, w, 1), n1 = stylize_conv_workspace_floats_ex(conv[1], h, w, 1);
    nws = nws > n1 ? nws : n1;
    float *ws = ws_alloc(nws);
    for (int v = 0; v < 2; v++) {
        stylize_conv_forward(conv[v], y[v], x, h, w, ws);
        stylize_conv_backward(conv[v], gi[v], gout, h, w, ws);
        stylize_conv_backward_weights(conv[v], gw[v], gb[v], x, gout, h, w, ws);
    }
    stylize_set_threads(1);
    stylize_conv_forward(conv[0], y1, x, h, w, ws);
    stylize_set_threads(2);
    direct_verdict dv = judge_direct(&g, h, w, x, wt, bias, y[0]);
    CHECK_MSG(dv.bad == 0, "stride 2 %d -> %d %dx%d: %zu outputs not finite", cin, cout, h, w, dv.bad);
    printf("stride 2 %3d -> %3d %2dx%-2d pad %d %s: worst %.3f of the bound\n", cin, cout, h, w, (int)pad,
           !bf16 ? "float32" : direct_expected() ? "on the tiles" : "bf16 GEMMs", dv.worst);
    CHECK_MSG(dv.worst <= 1.0, "stride 2 %d -> %d %dx%d: error %.3g of the bound", cin, cout, h, w, dv.worst);
    CHECK_MSG(bf16 ? dv.visible : memcmp(y[0], y[1], nout * sizeof(float)) == 0,
              "stride 2 %d -> %d %dx%d: %s", cin, cout, h, w,
              bf16 ? "never beyond float32 rounding" : "differs from the float32 general path");
    /* (OpenBLAS's float32 may change its last bits with the threads: bfloat16 may not) */
    CHECK_MSG(!bf16 || memcmp(y[0], y1, nout * sizeof(float)) == 0, "stride 2 %d -> %d: 1 and 2 threads differ",
              cin, cout);
    CHECK_MSG(fused_relu_differs(conv[0], x, h, w, y[0], nout, ws) == 0, "stride 2 %d -> %d: forward_relu", cin,
              cout);
    CHECK_MSG(memcmp(gi[0], gi[1], nin * sizeof(float)) == 0 && memcmp(gw[0], gw[1], nw * sizeof(float)) == 0 &&
                  memcmp(gb[0], gb[1], (size_t)cout * sizeof(float)) == 0,
              "stride 2 %d -> %d: gradients differ from the float32 general path's", cin, cout);
    CHECK_MSG(ws_guard_intact(ws, nws), "stride 2 %d -> %d: wrote past its workspace", cin, cout);
    free(ws);
done:
    stylize_conv_free(conv[0]), stylize_conv_free(conv[1]);
    free(wt), free(bias), free(x), free(gout), free(y[0]), free(y[1]);
    free(y1), free(gi[0]), free(gi[1]), free(gw[0]), free(gw[1]), free(gb[0]), free(gb[1]);
}

/* The thin layers (k >= 5, 4 or fewer channels on one side: the residual
 * net's 9x9 first and last) with bfloat16 on for them (applying a model):
 * the forward within (2^-7 + 2^-16 + K 2^-24) sum |w| |x| of the exact
 * one, K = cin k^2 products per output, and beyond float32 rounding
 * somewhere; 1 and 2 threads bit-identical; the fused ReLU; the gradients
 * bit for bit the float32 thin path's; nothing written past the
 * workspace. Off (training), the layer is the float32 path. */
static void check_thin(int cin, int cout, int k, int h, int w, stylize_pad_mode pad)
{
    stylize_conv_geom g = {cin, cout, k, 1, pad};
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w, nw = (size_t)cin * cout * k * k;
    float *wt = tc_floats(nw), *bias = tc_floats((size_t)cout), *x = tc_floats(nin), *gout = tc_floats(nout);
    float *y[3] = {tc_floats(nout), tc_floats(nout), tc_floats(nout)}, *gi[2] = {tc_floats(nin), tc_floats(nin)};
    float *gw[2] = {calloc(nw, sizeof(float)), calloc(nw, sizeof(float))};
    stylize_conv *conv[3] = {NULL, NULL, NULL}; /* bfloat16 on; float32 (im2col asked for); bfloat16 off */
    tu_fill(wt, nw, (uint64_t)cin * 11 + cout, -0.2f, 0.2f);
    tu_fill(bias, (size_t)cout, 5, -0.5f, 0.5f);
    tu_fill(x, nin, (uint64_t)h * 17 + w, -1.0f, 1.0f);
    tu_fill(gout, nout, (uint64_t)w * 5 + cout, -1.0f, 1.0f);
    for (int v = 0; v < 3; v++) {
        stylize_conv_set_bf16_thin(v == 0);
        CHECK(stylize_conv_create_ex(&conv[v], &g, wt, bias, v == 1 ? STYLIZE_CONV_IM2COL : STYLIZE_CONV_WINOGRAD_BF16,
                                     NULL, NULL) == STYLIZE_OK);
    }
    stylize_conv_set_bf16_thin(0);
    if (!conv[0] || !conv[1] || !conv[2] || !gw[0] || !gw[1])
        goto done;
    CHECK_MSG(stylize_conv_thin_bf16(conv[0]) && !stylize_conv_thin_bf16(conv[1]) && !stylize_conv_thin_bf16(conv[2]),
              "thin %d -> %d: which layers run bfloat16", cin, cout);
    /* the forward alone in exactly its workspace; a wide layer's (32 -> 3)
     * at 1920x1080 is the packed pairs', half the float32 padded copy */
    size_t nws = stylize_conv_workspace_floats_ex(conv[0], h, w, 0);
    float *ws = ws_alloc(nws);
    stylize_conv_forward(conv[0], y[0], x, h, w, ws);
    CHECK_MSG(ws_guard_intact(ws, nws), "thin %d -> %d: the forward wrote past its workspace", cin, cout);
    free(ws);
    nws = stylize_conv_thin_bf16_words(&g, h, w); /* binding here: the input gradient's band is larger */
    ws = ws_alloc(nws);
    stylize_conv_thin_forward_bf16(&g, wt, bias, y[1], x, h, w, ws);
    CHECK_MSG(ws_guard_intact(ws, nws) && memcmp(y[0], y[1], nout * sizeof(float)) == 0,
              "thin %d -> %d: the bfloat16 forward in its own words", cin, cout);
    free(ws);
    size_t big16 = stylize_conv_workspace_floats_ex(conv[0], 1080, 1920, 0);
    size_t big32 = stylize_conv_workspace_floats_ex(conv[1], 1080, 1920, 0);
    CHECK_MSG(cin < 8 || (big16 < big32 * 0.55 && big16 > big32 * 0.45), "thin %d -> %d at 1080p: workspace %zu vs %zu",
              cin, cout, big16, big32);
    nws = stylize_conv_workspace_floats_ex(conv[0], h, w, 1);
    size_t n1 = stylize_conv_workspace_floats_ex(conv[1], h, w, 1);
    nws = nws > n1 ? nws : n1;
    ws = ws_alloc(nws);
    for (int v = 0; v < 3; v++) {
        for (size_t i = 0; i < nout; i++)
            y[v][i] = NAN;
        stylize_conv_forward(conv[v], y[v], x, h, w, ws);
    }
    for (int v = 0; v < 2; v++) {
        stylize_conv_backward(conv[v], gi[v], gout, h, w, ws);
        stylize_conv_backward_weights(conv[v], gw[v], NULL, x, gout, h, w, ws);
    }
    direct_verdict dv = judge_direct(&g, h, w, x, wt, bias, y[0]);
    printf("thin %d -> %d k %d %3dx%-3d pad %d: worst %.3f of the bound\n", cin, cout, k, h, w, (int)pad, dv.worst);
    CHECK_MSG(dv.bad == 0, "thin %d -> %d %dx%d: %zu outputs not written or not finite", cin, cout, h, w, dv.bad);
    CHECK_MSG(dv.worst <= 1.0, "thin %d -> %d %dx%d: error %.3g of the bound", cin, cout, h, w, dv.worst);
    CHECK_MSG(dv.visible, "thin %d -> %d: never beyond float32 rounding", cin, cout);
    CHECK_MSG(memcmp(y[1], y[2], nout * sizeof(float)) == 0, "thin %d -> %d: off is not the float32 path", cin, cout);
    stylize_set_threads(1);
    stylize_conv_forward(conv[0], y[2], x, h, w, ws);
    stylize_set_threads(2);
    CHECK_MSG(memcmp(y[0], y[2], nout * sizeof(float)) == 0, "thin %d -> %d: 1 and 2 threads differ", cin, cout);
    CHECK_MSG(fused_relu_differs(conv[0], x, h, w, y[0], nout, ws) == 0, "thin %d -> %d: forward_relu", cin, cout);
    CHECK_MSG(memcmp(gi[0], gi[1], nin * sizeof(float)) == 0 && memcmp(gw[0], gw[1], nw * sizeof(float)) == 0,
              "thin %d -> %d: gradients differ from the float32 path's", cin, cout);
    CHECK_MSG(ws_guard_intact(ws, nws), "thin %d -> %d: wrote past its workspace", cin, cout);
    free(ws);
done:
    for (int v = 0; v < 3; v++)
        stylize_conv_free(conv[v]), free(y[v]);
    free(wt), free(bias), free(x), free(gout);
    free(gi[0]), free(gi[1]), free(gw[0]), free(gw[1]);
}

/* ---- conv_amx.c over the tile model (conv_amx_emul.c, amx_emul.h) ------ */

size_t stylize_conv_amx_kernel_bytes_emul(int cin, int cout);
void stylize_conv_amx_kernel_emul(void *slabs, const float *weight, int cin, int cout);
size_t stylize_conv_amx_min_floats_emul(int cin, int w, int stride);
void stylize_conv_amx_emul(float *out, const float *in, const void *slabs, const float *bias, int relu,
                           int backward, stylize_pad_mode pad, int stride, int cin, int cout, int h, int w,
                           float *ws, size_t ws_floats);
int stylize_conv_amx_emul_misuse(void);

/* One call of the direct path over the model: out (cout, oh, ow) of x (cin,
 * h, w) at stride s (backward: the input gradient, stride 1, zero padding,
 * of x = gout (cout, h, w) into out (cin, h, w)), in bands of `band` output
 * rows' workspace (0: the whole image), against stylize_conv_direct in
 * double within (2^-7 + 2^-16 + 9 K 2^-24) sum |w| |x|, K the reduction's
 * channels; 1 and 2 threads bit-identical; nothing written past the output
 * or the workspace. */
static void check_model_case(int cin, int cout, int h, int w, int s, stylize_pad_mode pad, int backward, int relu,
                             int band)
{
    int oh = (h - 1) / s + 1, ow = (w - 1) / s + 1;
    int ci = backward ? cout : cin, co = backward ? cin : cout; /* the call's channels */
    size_t nin = (size_t)ci * h * w, nout = (size_t)co * oh * ow, nw = (size_t)cin * cout * 9;
    float *wt = tc_floats(nw), *wf = tc_floats(nw), *bias = tc_floats((size_t)cout), *x = tc_floats(nin);
    float *ax = tc_floats(nin), *aw = tc_floats(nw), *want = tc_floats(nout), *mag = tc_floats(nout);
    float *got = tc_floats(nout + CANARY), *got1 = tc_floats(nout + CANARY);
    void *slabs = tc_alloc(stylize_conv_amx_kernel_bytes_emul(cin, cout));
    size_t row = stylize_conv_amx_min_floats_emul(ci, w, s) / 3 * s; /* floats per output row of a band */
    size_t nws = band ? stylize_conv_amx_min_floats_emul(ci, w, s) + (size_t)(band - 1) * row
                      : stylize_conv_amx_min_floats_emul(ci, w, s) + (size_t)oh * row;
    if (band == 2 && s == 2)
        nws += row / 2; /* a spare packed row that no band uses */
    float *ws = ws_alloc(nws);
    tu_fill(wt, nw, (uint64_t)cin * 131 + cout, -0.2f, 0.2f);
    tu_fill(bias, (size_t)cout, 11, -0.5f, 0.5f);
    tu_fill(x, nin, (uint64_t)h * 19 + w, backward ? -1.0f : 0.0f, 1.0f);
    memset(slabs, 0, stylize_conv_amx_kernel_bytes_emul(cin, cout));
    stylize_conv_amx_kernel_emul(slabs, wt, cin, cout);
    flip_weights(wf, wt, cin, cout);
    for (size_t i = 0; i < nin; i++)
        ax[i] = fabsf(x[i]);
    for (size_t i = 0; i < nw; i++)
        aw[i] = fabsf(backward ? wf[i] : wt[i]);
    stylize_conv_geom g = {ci, co, 3, s, backward ? STYLIZE_PAD_ZERO : pad};
    stylize_conv_direct(want, x, backward ? wf : wt, backward ? NULL : bias, &g, h, w);
    stylize_conv_direct(mag, ax, aw, NULL, &g, h, w);
    for (int t = 1; t <= 2; t++) {
        float *dst = t == 1 ? got1 : got;
        for (int i = 0; i < CANARY; i++)
            dst[nout + i] = -12345.0f;
        stylize_set_threads(t);
        stylize_conv_amx_emul(dst, x, slabs, backward ? NULL : bias, relu, backward, g.pad, s, ci, co, h, w, ws,
                              nws);
        stylize_set_threads(2);
        CHECK_MSG(canary_intact(dst + nout), "model %d -> %d %dx%d s%d: wrote past its output", ci, co, h, w, s);
    }
    double worst = 0, k = 0x1p-7 + 0x1p-16 + 9 * ci * 0x1p-24;
    int negatives = 0;
    size_t bad = 0; /* outputs not finite (fmax would pass over them) */
    for (size_t i = 0; i < nout; i++) {
        float ref = relu && want[i] < 0 ? 0.0f : want[i];
        negatives += want[i] < 0, bad += !isfinite(got[i]);
        worst = fmax(worst, fabs(got[i] - ref) / (k * mag[i] + 1e-6));
    }
    CHECK_MSG(bad == 0, "model %d -> %d %dx%d s%d: %zu outputs not finite", ci, co, h, w, s, bad);
    printf("model %3d -> %3d %2dx%-2d stride %d pad %d %s band %d: worst %.3f of the bound\n", ci, co, h, w, s,
           (int)g.pad, backward ? "input gradient" : relu ? "forward+relu  " : "forward       ", band, worst);
    CHECK_MSG(worst <= 1.0, "model %d -> %d %dx%d stride %d pad %d: error %.3g of the bound", ci, co, h, w, s,
              (int)g.pad, worst);
    CHECK_MSG(!relu || negatives > 0, "model %d -> %d: no negative output for the ReLU to clip", ci, co);
    CHECK_MSG(memcmp(got, got1, nout * sizeof *got) == 0, "model %d -> %d %dx%d s%d: 1 and 2 threads differ", ci,
              co, h, w, s);
    CHECK_MSG(ws_guard_intact(ws, nws), "model %d -> %d %dx%d s%d: wrote past its workspace", ci, co, h, w, s);
    free(wt), free(wf), free(bias), free(x), free(ax), free(aw), free(want), free(mag), free(got), free(got1);
    free(slabs), free(ws);
}

/* The direct path's shapes over the model: stride 1 both directions (as
 * the AMX hardware runs them in the cases above), and stride 2, the
 * residual generator's downsampling (32 -> 64, 64 -> 128), odd and even
 * sizes, output widths past one 32-pixel block, every padding mode, bands
 * of one and two output rows (a short last band; a spare packed row) and
 * the whole image. */
static void check_amx_model(void)
{
    /* {cin, cout, h, w, stride, pad, backward, relu, band} */
    static const int cases[][9] = {
        {64, 64, 7, 9, 1, 0, 0, 0, 0},    {64, 96, 6, 33, 1, 1, 0, 1, 1},  {70, 35, 5, 40, 1, 3, 0, 0, 2},
        {64, 96, 6, 33, 1, 0, 1, 0, 1},   {35, 70, 5, 40, 1, 0, 1, 0, 0},  {32, 64, 9, 17, 2, 1, 0, 0, 0},
        {32, 64, 9, 17, 2, 1, 0, 1, 1},   {64, 128, 8, 66, 2, 0, 0, 0, 2}, {64, 128, 10, 65, 2, 1, 0, 0, 1},
        {33, 40, 7, 7, 2, 2, 0, 1, 0},    {64, 64, 2, 3, 2, 3, 0, 0, 0},   {40, 33, 1, 1, 2, 0, 0, 0, 1},
        {64, 64, 12, 130, 2, 2, 0, 1, 2}, {32, 64, 9, 17, 2, 3, 0, 0, 2},  {31, 128, 11, 97, 2, 1, 0, 1, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int *c = cases[i];
        check_model_case(c[0], c[1], c[2], c[3], c[4], (stylize_pad_mode)c[5], c[6], c[7], c[8]);
    }
    CHECK_MSG(stylize_conv_amx_emul_misuse() == 0, "%d tile operations outside a configuration",
              stylize_conv_amx_emul_misuse());
}

/* The F(4x4) bfloat16 input transform straight into the GEMMs' packed
 * panels against float32 V packed per GEMM: the same words, so the same
 * bits, forward and input gradient, on 1 and 2 threads; expect_packed:
 * the packed path runs (else the layer falls back to packing: a block too
 * small for the panels). */
static void check_packed(int cin, int cout, int h, int w, stylize_pad_mode pad, int expect_packed)
{
    stylize_conv_geom g = {cin, cout, 3, 1, pad};
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w, nmax = nin > nout ? nin : nout;
    float *wt = malloc((size_t)cin * cout * 9 * sizeof *wt), *bias = malloc((size_t)cout * sizeof *bias);
    float *x = malloc(nin * sizeof *x), *gout = malloc(nout * sizeof *gout);
    float *a = malloc(nmax * sizeof *a), *b = malloc(nmax * sizeof *b);
    stylize_conv *conv = NULL;
    float *ws = NULL;
    if (!wt || !bias || !x || !gout || !a || !b) {
        CHECK(!"out of memory");
        goto done;
    }
    tu_fill(wt, (size_t)cin * cout * 9, (uint64_t)cin * 7 + cout, -0.2f, 0.2f);
    tu_fill(bias, (size_t)cout, 3, -0.5f, 0.5f);
    tu_fill(x, nin, (uint64_t)h * 3 + w, -1.0f, 1.0f);
    tu_fill(gout, nout, (uint64_t)w * 11 + cout, -1.0f, 1.0f);
    if (stylize_conv_create_ex(&conv, &g, wt, bias, STYLIZE_CONV_WINOGRAD_BF16, NULL, NULL) == STYLIZE_OK)
        ws = malloc(stylize_conv_workspace_floats(conv, h, w) * sizeof *ws);
    if (!conv || !ws) {
        CHECK(!"out of memory or no convolution");
        goto done;
    }
    CHECK(stylize_conv_get_algo(conv) == STYLIZE_CONV_WINOGRAD_BF16);
    for (int dir = 0; dir < 2; dir++)
        for (int threads = 1; threads <= 2; threads++) {
            size_t n = dir ? nin : nout;
            stylize_conv_testing_wino_packed(0);
            run_dir(conv, dir, threads, a, x, gout, h, w, ws);
            long unpacked = stylize_conv_testing_wino_packed(1);
            run_dir(conv, dir, threads, b, x, gout, h, w, ws);
            long packed = stylize_conv_testing_wino_packed(1);
            CHECK_MSG(unpacked == 0 && (packed > 0) == expect_packed, "%d -> %d %dx%d: %ld packed calls "
                      "(expected %s), %ld with the hook off", cin, cout, h, w, packed,
                      expect_packed ? "some" : "none", unpacked);
            CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0, "%d -> %d %dx%d pad %d, %s, %d threads: packed and "
                      "unpacked transforms differ", cin, cout, h, w, (int)pad, dir ? "input gradient" : "forward",
                      threads);
        }
done:
    stylize_conv_free(conv);
    free(wt), free(bias), free(x), free(gout), free(a), free(b), free(ws);
}

/* Per bfloat16 algorithm: the packed kernel's layout, the weight gradient. */
static void check_algo_extras(stylize_conv_algo algo)
{
    check_layout(64, 70, algo);
    check_layout(131, 67, algo);
    check_weight_grads(128, 128, 20, 24, STYLIZE_PAD_ZERO, algo);
    check_weight_grads(64, 96, 30, 26, STYLIZE_PAD_REFLECT, algo);
}

int main(void)
{
    unsetenv("STYLIZE_BF16_SPEED"); /* the probe's own value, not a developer's override */
    const stylize_cpu_features *f = stylize_cpu();
    check_precision();
    printf("CPU: %s; avx512_bf16 %d\n", f->model, f->avx512_bf16);
    check_fallback();
    if (!f->avx512_bf16) {
        printf("SKIP: this CPU has no AVX512-BF16; the bfloat16 convolutions run in float32 here\n");
        return TEST_SUMMARY() ? 1 : 77;
    }
    check_amx_model();
    /* {cin, cout, h, w, padding} */
    static const int shapes[][5] = {
        {3, 64, 20, 17, 0},   {64, 64, 12, 13, 0},  {64, 128, 12, 9, 0}, {128, 128, 9, 10, 0},
        {128, 256, 8, 7, 0},  {256, 256, 7, 6, 0},  {256, 512, 5, 6, 0}, {512, 512, 5, 5, 0}, /* VGG-19 */
        {3, 8, 16, 16, 3},    {8, 8, 8, 8, 3},      {24, 24, 9, 7, 3},   {40, 40, 6, 6, 0}, /* the pyramid */
        {32, 32, 10, 9, 3},   {48, 48, 9, 11, 2},   {31, 48, 5, 6, 3},
        {32, 32, 11, 9, 1},   {64, 64, 7, 7, 1},    {128, 128, 6, 5, 1}, /* the residual net */
        {64, 64, 3, 3, 3},    {64, 64, 5, 2, 2},    {65, 70, 4, 67, 0},  /* remainders */
        {71, 97, 3, 1, 0},    {1, 1, 1, 1, 0},      {5, 7, 3, 2, 2},
        {64, 64, 40, 40, 0},  {64, 64, 40, 40, 1},  {64, 64, 64, 64, 0}, /* two tasks, several runs each */
    };
    /* each path this CPU has: AMX where granted (direct, the default, then
     * Winograd with AMX GEMMs), then Winograd on vdpbf16ps (AMX hidden) */
    int amx = stylize_bf16_kernel_for_cpu() == STYLIZE_BF16_AMX;
    if (!amx)
        printf("SKIP: AMX (amx_bf16 %d, tile data granted %d): its paths are not used here\n", f->amx_bf16,
               f->amx_usable);
    static const char *const names[] = {"direct on AMX", "Winograd, GEMMs on AMX", "Winograd, GEMMs on vdpbf16ps"};
    for (int pass = amx ? 0 : 2; pass < 3; pass++) {
        stylize_cpu_testing_disable_amx(pass == 2);
        amx_direct_on = pass == 0;
        stylize_conv_testing_amx_direct(amx_direct_on);
        printf("bf16 path: %s\n", names[pass]);
        CHECK(pass == 2 || stylize_bf16_kernel_for_cpu() == STYLIZE_BF16_AMX);
        int visible = 0;
        stylize_conv_algo algos[2] = {STYLIZE_CONV_WINOGRAD_F2_BF16, STYLIZE_CONV_WINOGRAD_BF16};
        /* the direct path as applying a generator runs it (from 32
         * channels; the pyramid's 32..48 in bfloat16), then as training
         * does (from 64) on the pyramid's */
        stylize_conv_set_bf16_min_channels(pass == 0 ? STYLIZE_CONV_BF16_APPLY_MIN_CHANNELS
                                                     : STYLIZE_CONV_BF16_MIN_CHANNELS);
        for (int ai = 0; ai < 2; ai++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                visible += check_case(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                                      (stylize_pad_mode)shapes[s][4], algos[ai]);
        /* the residual net's downsampling, as applying runs it (32 -> 64 in
         * bfloat16), then as training does (from 64: 64 -> 128 only); in
         * the workspace conv.c plans, 32 -> 64 at 9x17 runs in two bands of
         * the tiles, 64 -> 64 at 7x7 in four */
        stylize_conv_set_bf16_min_channels(STYLIZE_CONV_BF16_APPLY_MIN_CHANNELS);
        for (int apply = 1; apply >= 0; apply--) {
            check_stride2(32, 64, 9, 17, STYLIZE_PAD_REFLECT, algos[apply]);
            check_stride2(64, 128, 8, 66, STYLIZE_PAD_ZERO, algos[apply]);
            check_stride2(64, 64, 7, 7, STYLIZE_PAD_REPLICATE, algos[1 - apply]);
            check_stride2(16, 32, 10, 12, STYLIZE_PAD_CIRCULAR, algos[apply]);
            stylize_conv_set_bf16_min_channels(STYLIZE_CONV_BF16_MIN_CHANNELS);
        }
        /* the bfloat16 GEMMs' path in bands of one and two output rows */
        for (int rows = 1; pass == 2 && rows <= 2; rows++) {
            stylize_conv_testing_bf16_band_rows(rows);
            check_stride2(64, 128, 8, 66, STYLIZE_PAD_ZERO, algos[1]);
            check_stride2(96, 64, 11, 9, STYLIZE_PAD_REFLECT, algos[0]);
            stylize_conv_testing_bf16_band_rows(0);
        }
        if (pass == 0) {
            visible += check_case(48, 48, 9, 11, STYLIZE_PAD_REPLICATE, algos[1]);
            visible += check_case(32, 64, 6, 7, STYLIZE_PAD_CIRCULAR, algos[0]);
        }
        /* the smallest workspaces: Winograd in blocks of one tile, the
         * direct path in bands of one or two rows */
        stylize_conv_testing_wino_block_tiles(1);
        visible += check_case(64, 64, 23, 40, STYLIZE_PAD_ZERO, algos[1]);
        visible += check_case(128, 64, 9, 70, STYLIZE_PAD_REFLECT, algos[0]);
        stylize_conv_testing_wino_block_tiles(0);
        CHECK_MSG(visible > 0, "never beyond float32 rounding: bfloat16 is not used");
        for (int ai = 0; ai < 2; ai++)
            check_algo_extras(algos[ai]);
        if (pass > 0) { /* the Winograd paths: several runs, an odd cin, rows that end mid-segment */
            check_packed(64, 64, 40, 40, STYLIZE_PAD_ZERO, 1);
            check_packed(65, 70, 13, 67, STYLIZE_PAD_REFLECT, 1);
            check_packed(128, 96, 9, 70, STYLIZE_PAD_REPLICATE, 1);
            check_packed(71, 97, 30, 31, STYLIZE_PAD_CIRCULAR, 1);
            check_packed(64, 64, 3, 3, STYLIZE_PAD_ZERO, 0);
        }
    }
    stylize_cpu_testing_disable_amx(0);
    stylize_conv_testing_amx_direct(1);
    amx_direct_on = 1;
    /* the residual net's 9x9 first and last layers (wide blocks, then
     * 16-column tails), an odd cin (a pair half zero), 4 + 1 channels */
    static const int widths[] = {55, 64, 70, 143};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        check_thin(3, 32, 9, 11, widths[i], STYLIZE_PAD_REFLECT);
        check_thin(32, 3, 9, 9, widths[i], STYLIZE_PAD_REFLECT);
    }
    check_thin(5, 2, 5, 6, 37, STYLIZE_PAD_REPLICATE);
    check_thin(4, 5, 7, 7, 19, STYLIZE_PAD_ZERO);
    check_thin(6, 1, 7, 5, 3, STYLIZE_PAD_CIRCULAR);
    check_bound();
    return TEST_SUMMARY();
}
