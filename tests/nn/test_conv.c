/* Tests of the 3x3 convolution, for every algorithm (im2col, Winograd
 * F(4x4, 3x3), Winograd F(2x2, 3x3)): forward against the direct loops,
 * backward against a test-local scatter gradient and finite differences,
 * adjointness, odd and degenerate sizes (1x1, 5x1, 7x9, sizes not multiples
 * of the tile), tiling boundaries (im2col row bands, Winograd blocks that
 * split a tile row, channel and tile-chunk splits of the transforms),
 * workspace sizing and guards, accuracy on VGG-like magnitudes, the thread
 * pool, and create-time argument checks.
 *
 * TEST_CONV_VERBOSE=1 prints the error of every comparison. */
#include <pthread.h>
#include <stdatomic.h>

#include "stylize/nn/conv.h"
#include "stylize/core/threads.h"

#include "nn/conv_internal.h" /* the Winograd block hook */
#include "conv_testutil.h"
#include "testutil.h"

#define NALGO 3

static const stylize_conv_algo algos[NALGO] = {STYLIZE_CONV_IM2COL, STYLIZE_CONV_WINOGRAD,
                                               STYLIZE_CONV_WINOGRAD_F2};
static const char *const algo_names[NALGO] = {"im2col", "winograd4", "winograd2"};

/* Tolerance on max |err| / max(1, max |ref|) against a double-accumulated
 * reference, uniform(-1, 1) data, and on the adjoint identity. The Winograd
 * transforms add rounding: measured worst cases are ~4e-7 (F(2, 3)) and
 * ~8e-6 (F(4, 3)). */
static const double max_tol[NALGO] = {1e-5, 5e-5, 2e-5};

static int verbose;

#define xalloc tc_floats

/* Independent statement of the im2col workspace rule: per direction,
 * channels * 9 * w floats per output row, max(1, MAX / that) rows, capped at h. */
static size_t expected_im2col_ws(int cin, int cout, int h, int w)
{
    size_t best = 0;
    int chans[2] = {cin, cout};
    for (int i = 0; i < 2; i++) {
        size_t per_row = (size_t)chans[i] * 9 * (size_t)w;
        size_t rows = STYLIZE_CONV_WORKSPACE_MAX_FLOATS / per_row;
        if (rows < 1)
            rows = 1;
        if (rows > (size_t)h)
            rows = (size_t)h;
        if (per_row * rows > best)
            best = per_row * rows;
    }
    return best;
}

/* Workspace rules every algorithm must keep: exact im2col formula; for
 * Winograd F(m, 3), within the bound (unless one tile alone exceeds it) and
 * no more than the whole image's transforms plus padding. */
static void check_ws_rule(int ai, size_t nws, int cin, int cout, int h, int w)
{
    if (algos[ai] == STYLIZE_CONV_IM2COL) {
        CHECK_MSG(nws == expected_im2col_ws(cin, cout, h, w),
                  "im2col ws %zu, expected %zu (cin %d cout %d h %d w %d)", nws,
                  expected_im2col_ws(cin, cout, h, w), cin, cout, h, w);
        size_t widest_row = (size_t)(cin > cout ? cin : cout) * 9 * (size_t)w;
        CHECK(nws <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS ||
              widest_row > STYLIZE_CONV_WORKSPACE_MAX_FLOATS);
    } else {
        int m = algos[ai] == STYLIZE_CONV_WINOGRAD ? 4 : 2;
        size_t aa = (size_t)(m + 2) * (m + 2);
        size_t tiles = (size_t)((h + m - 1) / m) * (size_t)((w + m - 1) / m);
        size_t one_tile = aa * ((size_t)cin + cout);
        CHECK_MSG(nws >= one_tile && nws <= one_tile * tiles + 2 * 32 * aa,
                  "%s ws %zu outside [%zu, %zu] (cin %d cout %d h %d w %d)", algo_names[ai], nws,
                  one_tile, one_tile * tiles + 2 * 32 * aa, cin, cout, h, w);
        CHECK(nws <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS ||
              one_tile + 2 * 32 * aa > STYLIZE_CONV_WORKSPACE_MAX_FLOATS);
    }
}

/* max |a - b| / max(1, max |b|) over n elements; NaN anywhere gives +inf. */
static double max_rel_err(const float *a, const float *b, size_t n)
{
    double emax = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d == d))
            return INFINITY;
        if (d > emax)
            emax = d;
        scale = fmax(scale, fabs((double)b[i]));
    }
    return emax / scale;
}

/* sqrt(mean (a - b)^2) / sqrt(mean b^2); NaN anywhere gives +inf. */
static double rms_rel_err(const float *a, const float *b, size_t n)
{
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        if (!(d == d))
            return INFINITY;
        e += d * d;
        r += (double)b[i] * (double)b[i];
    }
    return r > 0 ? sqrt(e / r) : sqrt(e);
}

/* A convolution with the given algorithm (created with the im2col default,
 * then switched, so both the default and set_algo paths are exercised). */
static stylize_conv *make_conv(const float *weight, const float *bias, int cin, int cout, int ai)
{
    stylize_conv *conv = NULL;
    stylize_error err = {0};
    stylize_conv_algo saved = stylize_conv_get_default_algo();
    stylize_conv_set_default_algo(ai % 2 ? algos[ai] : STYLIZE_CONV_IM2COL);
    stylize_status st = stylize_conv_create(&conv, weight, bias, cin, cout, &err);
    stylize_conv_set_default_algo(saved);
    CHECK_MSG(st == STYLIZE_OK && conv, "create %d->%d: %s", cin, cout, err.msg);
    if (!conv)
        return NULL;
    stylize_conv_set_algo(conv, algos[ai]);
    CHECK(stylize_conv_get_algo(conv) == algos[ai]);
    return conv;
}

/* Forward of every algorithm against the direct reference. */
static void check_forward(int cin, int cout, int h, int w, int with_bias, uint64_t seed)
{
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w;
    float *weight = xalloc((size_t)cout * cin * 9); /* (cout, cin, 3, 3) */
    float *bias = xalloc((size_t)cout);             /* (cout) */
    float *in = xalloc(nin);                        /* (cin, h, w) */
    float *out = xalloc(nout);                      /* (cout, h, w) */
    float *ref = xalloc(nout);                      /* (cout, h, w) */
    tu_fill(weight, (size_t)cout * cin * 9, seed, -1, 1);
    tu_fill(bias, (size_t)cout, seed + 1, -2, 2);
    tu_fill(in, nin, seed + 2, -1, 1);
    stylize_conv3x3_direct(ref, in, weight, with_bias ? bias : NULL, cin, cout, h, w);

    for (int ai = 0; ai < NALGO; ai++) {
        stylize_conv *conv = make_conv(weight, with_bias ? bias : NULL, cin, cout, ai);
        if (!conv)
            continue;
        size_t nws = stylize_conv_workspace_floats(conv, h, w);
        CHECK(nws == stylize_conv_algo_workspace_floats(algos[ai], cin, cout, h, w));
        check_ws_rule(ai, nws, cin, cout, h, w);
        float *ws = ws_alloc(nws);
        fill_nan(out, nout); /* every element must be written */
        stylize_conv_forward(conv, out, in, h, w, ws);
        double e = max_rel_err(out, ref, nout);
        if (verbose)
            printf("forward %-9s %3d->%-3d %4dx%-4d bias %d: max rel %.2e rms rel %.2e\n",
                   algo_names[ai], cin, cout, h, w, with_bias, e, rms_rel_err(out, ref, nout));
        CHECK_MSG(e <= max_tol[ai], "forward %s cin %d cout %d h %d w %d bias %d: rel err %g",
                  algo_names[ai], cin, cout, h, w, with_bias, e);
        int fr = nout >= 8 ? fused_relu_differs(conv, in, h, w, out, nout, ws) : 0;
        CHECK_MSG(fr == 0, "forward_relu %s cin %d cout %d h %d w %d: %s", algo_names[ai], cin, cout, h,
                  w, fr == 1 ? "differs from relu(forward)" : "no negative output to test");
        CHECK_MSG(ws_guard_intact(ws, nws), "forward %s cin %d cout %d h %d w %d: guard",
                  algo_names[ai], cin, cout, h, w);
        free(ws);
        stylize_conv_free(conv);
    }
    free(weight);
    free(bias);
    free(in);
    free(out);
    free(ref);
}

/* Spot check of the direct reference itself on a hand-computed case:
 * 1 -> 1 channel, 2x2 input [[1,2],[3,4]], kernel 1..9, bias 0.5. */
static void check_direct_by_hand(void)
{
    const float in[4] = {1, 2, 3, 4};
    const float k[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float b = 0.5f;
    float out[4];
    stylize_conv3x3_direct(out, in, k, &b, 1, 1, 2, 2);
    /* out[0][0] = 5*1 + 6*2 + 8*3 + 9*4 = 77, out[0][1] = 4*1 + 5*2 + 7*3 + 8*4 = 67,
     * out[1][0] = 2*1 + 3*2 + 5*3 + 6*4 = 47, out[1][1] = 1*1 + 2*2 + 4*3 + 5*4 = 37. */
    CHECK_CLOSE(out[0], 77.5, 0);
    CHECK_CLOSE(out[1], 67.5, 0);
    CHECK_CLOSE(out[2], 47.5, 0);
    CHECK_CLOSE(out[3], 37.5, 0);
}

typedef struct {
    const float *weight, *bias, *r; /* (cout, cin, 3, 3), (cout), (cout, h, w) */
    int cin, cout, h, w;
} loss_ctx;

/* L(x) = sum r .* conv(x) with a direct convolution evaluated entirely in
 * double (the float-rounded outputs of stylize_conv3x3_direct would add
 * ~1e-3 relative noise to differences at h = 1e-2). */
static double conv_loss(void *user, const float *x)
{
    const loss_ctx *c = user;
    size_t plane = (size_t)c->h * c->w;
    double s = 0;
    for (int co = 0; co < c->cout; co++)
        for (int y = 0; y < c->h; y++)
            for (int xx = 0; xx < c->w; xx++) {
                double acc = c->bias ? (double)c->bias[co] : 0.0;
                for (int ci = 0; ci < c->cin; ci++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int sy = y + ky - 1, sx = xx + kx - 1;
                            if (sy < 0 || sy >= c->h || sx < 0 || sx >= c->w)
                                continue;
                            acc += (double)c->weight[(((size_t)co * c->cin + ci) * 3 + ky) * 3 + kx] *
                                   (double)x[(size_t)ci * plane + (size_t)sy * c->w + sx];
                        }
                s += (double)c->r[(size_t)co * plane + (size_t)y * c->w + xx] * acc;
            }
    return s;
}

/* Test-local input gradient by scattering each output gradient back over
 * its 3x3 window, in double. gin (cin, h, w). */
static void scatter_grad(float *gin, const float *gout, const float *weight, int cin, int cout,
                         int h, int w)
{
    size_t plane = (size_t)h * w;
    double *acc = calloc((size_t)cin * plane, sizeof(double));
    if (!acc) {
        fprintf(stderr, "test_conv: out of memory\n");
        exit(2);
    }
    for (int co = 0; co < cout; co++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double g = gout[(size_t)co * plane + (size_t)y * w + x];
                for (int ci = 0; ci < cin; ci++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int sy = y + ky - 1, sx = x + kx - 1;
                            if (sy < 0 || sy >= h || sx < 0 || sx >= w)
                                continue;
                            acc[(size_t)ci * plane + (size_t)sy * w + sx] +=
                                g * weight[(((size_t)co * cin + ci) * 3 + ky) * 3 + kx];
                        }
            }
    for (size_t i = 0; i < (size_t)cin * plane; i++)
        gin[i] = (float)acc[i];
    free(acc);
}

/* Backward of every algorithm against the scatter gradient and, when fd is
 * set (small problems only), against finite differences of
 * L = sum r .* conv(x). */
static void check_backward(int cin, int cout, int h, int w, int fd, uint64_t seed)
{
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w;
    float *weight = xalloc((size_t)cout * cin * 9); /* (cout, cin, 3, 3) */
    float *bias = xalloc((size_t)cout);             /* (cout) */
    float *x = xalloc(nin);                         /* (cin, h, w) */
    float *r = xalloc(nout);                        /* (cout, h, w) = dL/dout */
    float *gin = xalloc(nin);                       /* (cin, h, w) */
    float *gref = xalloc(nin);                      /* (cin, h, w) */
    tu_fill(weight, (size_t)cout * cin * 9, seed, -1, 1);
    tu_fill(bias, (size_t)cout, seed + 1, -1, 1);
    tu_fill(x, nin, seed + 2, -1, 1);
    tu_fill(r, nout, seed + 3, -1, 1);
    scatter_grad(gref, r, weight, cin, cout, h, w);

    for (int ai = 0; ai < NALGO; ai++) {
        stylize_conv *conv = make_conv(weight, bias, cin, cout, ai);
        if (!conv)
            continue;
        size_t nws = stylize_conv_workspace_floats(conv, h, w);
        float *ws = ws_alloc(nws);
        fill_nan(gin, nin); /* gin is overwritten, not accumulated */
        stylize_conv_backward(conv, gin, r, h, w, ws);
        CHECK_MSG(ws_guard_intact(ws, nws), "backward %s cin %d cout %d h %d w %d: guard",
                  algo_names[ai], cin, cout, h, w);
        free(ws);
        stylize_conv_free(conv);

        double e = max_rel_err(gin, gref, nin);
        if (verbose)
            printf("backward %-9s %3d->%-3d %4dx%-4d: max rel %.2e rms rel %.2e\n",
                   algo_names[ai], cin, cout, h, w, e, rms_rel_err(gin, gref, nin));
        CHECK_MSG(e <= max_tol[ai], "backward %s vs scatter cin %d cout %d h %d w %d: rel err %g",
                  algo_names[ai], cin, cout, h, w, e);
        if (fd) {
            loss_ctx ctx = {weight, bias, r, cin, cout, h, w};
            double fe = tu_fd_check(conv_loss, &ctx, x, gin, nin, 1e-2f, nin);
            CHECK_MSG(fe <= 1e-3, "backward %s FD cin %d cout %d h %d w %d: worst rel err %g",
                      algo_names[ai], cin, cout, h, w, fe);
        }
    }
    free(weight);
    free(bias);
    free(x);
    free(r);
    free(gin);
    free(gref);
}

/* <conv(x), y> == <x, convT(y)> with zero bias (the forward is then linear),
 * for every algorithm. */
static void check_adjoint(int cin, int cout, int h, int w, uint64_t seed)
{
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w;
    float *weight = xalloc((size_t)cout * cin * 9); /* (cout, cin, 3, 3) */
    float *x = xalloc(nin);                         /* (cin, h, w) */
    float *y = xalloc(nout);                        /* (cout, h, w) */
    float *cx = xalloc(nout);                       /* (cout, h, w) = conv(x) */
    float *cty = xalloc(nin);                       /* (cin, h, w) = convT(y) */
    tu_fill(weight, (size_t)cout * cin * 9, seed, -1, 1);
    tu_fill(x, nin, seed + 1, -1, 1);
    tu_fill(y, nout, seed + 2, -1, 1);

    for (int ai = 0; ai < NALGO; ai++) {
        stylize_conv *conv = make_conv(weight, NULL, cin, cout, ai);
        if (!conv)
            continue;
        size_t nws = stylize_conv_workspace_floats(conv, h, w);
        float *ws = ws_alloc(nws);
        fill_nan(cx, nout);
        fill_nan(cty, nin);
        stylize_conv_forward(conv, cx, x, h, w, ws);
        stylize_conv_backward(conv, cty, y, h, w, ws);
        CHECK(ws_guard_intact(ws, nws));
        free(ws);
        stylize_conv_free(conv);
        double a = 0, b = 0;
        for (size_t i = 0; i < nout; i++)
            a += (double)cx[i] * (double)y[i];
        for (size_t i = 0; i < nin; i++)
            b += (double)x[i] * (double)cty[i];
        double rel = fabs(a - b) / fmax(1.0, fmax(fabs(a), fabs(b)));
        if (verbose)
            printf("adjoint  %-9s %3d->%-3d %4dx%-4d: rel %.2e\n", algo_names[ai], cin, cout, h, w,
                   rel);
        CHECK_MSG(rel <= max_tol[ai],
                  "adjoint %s cin %d cout %d h %d w %d: <conv x, y> = %.9g, <x, convT y> = %.9g",
                  algo_names[ai], cin, cout, h, w, a, b);
    }
    free(weight);
    free(x);
    free(y);
    free(cx);
    free(cty);
}

/* Accuracy on VGG-like magnitudes: He-normal-scaled weights (uniform with
 * std sqrt(2 / (9 cin))), non-negative post-ReLU inputs of magnitude up to
 * `scale`, small bias. Requirement: RMS error relative to the output RMS
 * below 1e-4 in both directions (the Winograd transforms' rounding). */
static void check_vgg_accuracy(int cin, int cout, int h, int w, float scale, uint64_t seed)
{
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w, nwt = (size_t)cout * cin * 9;
    float *weight = xalloc(nwt), *bias = xalloc((size_t)cout), *x = xalloc(nin);
    float *out = xalloc(nout), *ref = xalloc(nout), *g = xalloc(nout);
    float *gin = xalloc(nin), *gref = xalloc(nin);
    float a = sqrtf(6.0f / (9.0f * (float)cin)); /* uniform(-a, a) has std sqrt(2 / (9 cin)) */
    tu_fill(weight, nwt, seed, -a, a);
    tu_fill(bias, (size_t)cout, seed + 1, -0.1f, 0.1f);
    tu_fill(x, nin, seed + 2, -scale, scale);
    for (size_t i = 0; i < nin; i++)
        x[i] = x[i] > 0 ? x[i] : 0.0f; /* half zeros, like ReLU output */
    tu_fill(g, nout, seed + 3, -1, 1);
    stylize_conv3x3_direct(ref, x, weight, bias, cin, cout, h, w);
    scatter_grad(gref, g, weight, cin, cout, h, w);
    for (int ai = 1; ai < NALGO; ai++) {
        stylize_conv *conv = make_conv(weight, bias, cin, cout, ai);
        if (!conv)
            continue;
        float *ws = xalloc(stylize_conv_workspace_floats(conv, h, w));
        stylize_conv_forward(conv, out, x, h, w, ws);
        stylize_conv_backward(conv, gin, g, h, w, ws);
        free(ws);
        stylize_conv_free(conv);
        double ef = rms_rel_err(out, ref, nout), eb = rms_rel_err(gin, gref, nin);
        if (verbose)
            printf("vgg-like %-9s %3d->%-3d %4dx%-4d scale %g: rms rel fwd %.2e bwd %.2e\n",
                   algo_names[ai], cin, cout, h, w, (double)scale, ef, eb);
        CHECK_MSG(ef < 1e-4 && eb < 1e-4, "%s %d->%d %dx%d: rms rel err fwd %g bwd %g",
                  algo_names[ai], cin, cout, h, w, ef, eb);
    }
    free(weight);
    free(bias);
    free(x);
    free(out);
    free(ref);
    free(g);
    free(gin);
    free(gref);
}

/* The same results with the pool at 1 and 3 threads (uneven shares of the
 * workspace columns, several runs of tiles or rows per task when the image
 * outgrows the workspace block), for every algorithm. */
static void check_threads(int cin, int cout, int h, int w)
{
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w;
    float *weight = xalloc((size_t)cout * cin * 9), *bias = xalloc((size_t)cout);
    float *x = xalloc(nin), *o1 = xalloc(nout), *o3 = xalloc(nout);
    float *g1 = xalloc(nin), *g3 = xalloc(nin);
    tu_fill(weight, (size_t)cout * cin * 9, 91, -1, 1);
    tu_fill(bias, (size_t)cout, 92, -1, 1);
    tu_fill(x, nin, 93, -1, 1);
    for (int ai = 0; ai < NALGO; ai++) {
        stylize_set_threads(1);
        CHECK(stylize_get_threads() == 1);
        stylize_conv *conv = make_conv(weight, bias, cin, cout, ai);
        if (!conv)
            continue;
        size_t nws = stylize_conv_workspace_floats(conv, h, w);
        float *ws = ws_alloc(nws);
        stylize_conv_forward(conv, o1, x, h, w, ws);
        stylize_conv_backward(conv, g1, o1, h, w, ws);
        stylize_set_threads(3);
        CHECK(stylize_get_threads() == 3);
        CHECK(stylize_conv_workspace_floats(conv, h, w) == nws); /* independent of threads */
        fill_nan(o3, nout);
        fill_nan(g3, nin);
        stylize_conv_forward(conv, o3, x, h, w, ws);
        stylize_conv_backward(conv, g3, o1, h, w, ws);
        CHECK(ws_guard_intact(ws, nws));
        /* sgemm may sum in another order for the narrower column runs */
        double eo = max_rel_err(o3, o1, nout), eg = max_rel_err(g3, g1, nin);
        if (verbose)
            printf("threads  %-9s %3d->%-3d %4dx%-4d: 3 vs 1 thread max rel fwd %.2e bwd %.2e\n",
                   algo_names[ai], cin, cout, h, w, eo, eg);
        CHECK_MSG(eo <= max_tol[ai] && eg <= max_tol[ai],
                  "%s %d->%d %dx%d: 3 threads differ from 1 by %g (fwd), %g (bwd)",
                  algo_names[ai], cin, cout, h, w, eo, eg);
        free(ws);
        stylize_conv_free(conv);
    }
    stylize_set_threads(0); /* clamps to 1 */
    CHECK(stylize_get_threads() == 1);
    free(weight);
    free(bias);
    free(x);
    free(o1);
    free(o3);
    free(g1);
    free(g3);
}

/* Workspace of the VGG-19 layer shapes at 512 px stays within the bound for
 * every algorithm, and the Winograd paths need far less than im2col. */
static void check_vgg_workspace(void)
{
    static const int shapes[][3] = {{3, 64, 512},    {64, 64, 512},  {64, 128, 256},
                                    {128, 128, 256}, {128, 256, 128}, {256, 256, 128},
                                    {256, 512, 64},  {512, 512, 64}, {512, 512, 32}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int ai = 0; ai < NALGO; ai++) {
            int cin = shapes[i][0], cout = shapes[i][1], hw = shapes[i][2];
            size_t n = stylize_conv_algo_workspace_floats(algos[ai], cin, cout, hw, hw);
            CHECK_MSG(n > 0 && n <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS,
                      "%s %d->%d at %d: ws %zu", algo_names[ai], cin, cout, hw, n);
            check_ws_rule(ai, n, cin, cout, hw, hw);
        }
    CHECK(stylize_conv_algo_workspace_floats(STYLIZE_CONV_WINOGRAD, 64, 64, 0, 5) == 0);
    CHECK(stylize_conv_owned_bytes(STYLIZE_CONV_WINOGRAD, 64, 32) >
          stylize_conv_owned_bytes(STYLIZE_CONV_WINOGRAD_F2, 64, 32));
    CHECK(stylize_conv_owned_bytes(STYLIZE_CONV_WINOGRAD_F2, 64, 32) >
          stylize_conv_owned_bytes(STYLIZE_CONV_IM2COL, 64, 32));
    /* one transformed kernel serves both directions */
    CHECK(stylize_conv_owned_bytes(STYLIZE_CONV_WINOGRAD, 64, 32) >= (size_t)64 * 32 * 36 * 4 &&
          stylize_conv_owned_bytes(STYLIZE_CONV_WINOGRAD, 64, 32) < (size_t)64 * 32 * 37 * 4);
}

/* Switching algorithms back and forth on one convolution. */
static void check_algo_switch(void)
{
    const int cin = 4, cout = 6, h = 9, w = 11;
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * h * w;
    float *weight = xalloc((size_t)cout * cin * 9), *x = xalloc(nin);
    float *out = xalloc(nout), *ref = xalloc(nout);
    tu_fill(weight, (size_t)cout * cin * 9, 71, -1, 1);
    tu_fill(x, nin, 72, -1, 1);
    stylize_conv3x3_direct(ref, x, weight, NULL, cin, cout, h, w);
    stylize_conv *conv = NULL;
    CHECK(stylize_conv_create(&conv, weight, NULL, cin, cout, NULL) == STYLIZE_OK);
    if (conv) {
        CHECK(stylize_conv_get_algo(conv) == stylize_conv_get_default_algo());
        static const int order[] = {1, 2, 0, 2, 1, 1, 0, 1};
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            int ai = order[i];
            stylize_conv_set_algo(conv, algos[ai]);
            CHECK(stylize_conv_get_algo(conv) == algos[ai]);
            float *ws = ws_alloc(stylize_conv_workspace_floats(conv, h, w));
            fill_nan(out, nout);
            stylize_conv_forward(conv, out, x, h, w, ws);
            CHECK_MSG(max_rel_err(out, ref, nout) <= max_tol[ai], "switch to %s",
                      algo_names[ai]);
            free(ws);
        }
    }
    stylize_conv_free(conv);
    free(weight);
    free(x);
    free(out);
    free(ref);
}

static void check_create_errors(void)
{
    float weight[2 * 3 * 9] = {0};
    stylize_conv *conv = (stylize_conv *)&conv; /* must be reset to NULL on failure */
    stylize_error err = {0};
    CHECK(stylize_conv_create(&conv, NULL, NULL, 3, 2, &err) == STYLIZE_ERR_ARG);
    CHECK(conv == NULL);
    CHECK(err.code == STYLIZE_ERR_ARG && err.msg[0] != '\0');
    CHECK(stylize_conv_create(&conv, weight, NULL, 0, 2, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_conv_create(&conv, weight, NULL, 3, -1, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_conv_create(NULL, weight, NULL, 3, 2, &err) == STYLIZE_ERR_ARG);
    stylize_conv_algo saved = stylize_conv_get_default_algo();
    stylize_conv_set_default_algo(STYLIZE_CONV_IM2COL);
    CHECK(stylize_conv_create(&conv, weight, NULL, 3, 2, NULL) == STYLIZE_OK);
    stylize_conv_set_default_algo(saved);
    CHECK(conv != NULL);
    if (conv) {
        CHECK(stylize_conv_in_channels(conv) == 3);
        CHECK(stylize_conv_out_channels(conv) == 2);
        CHECK(stylize_conv_get_algo(conv) == STYLIZE_CONV_IM2COL);
        CHECK(stylize_conv_workspace_floats(conv, 0, 5) == 0);
        CHECK(stylize_conv_workspace_floats(conv, 4, 5) == (size_t)3 * 9 * 5 * 4);
    }
    stylize_conv_free(conv);
    stylize_conv_free(NULL);
}

/* stylize_parallel_each runs its task once on each pool thread (distinct
 * threads, every index once) and nothing when the pool is busy (nested in
 * a run); creating a convolution warms every pool thread's OpenBLAS
 * buffers, again for every new pool (another count: new threads). */
enum { EACH_MAX = 8 };
typedef struct {
    pthread_t tid[EACH_MAX];
    atomic_int calls[EACH_MAX], nested;
} each_log;

static void each_task(void *ctx, int t)
{
    each_log *l = ctx;
    if (t >= 0 && t < EACH_MAX) {
        l->tid[t] = pthread_self();
        atomic_fetch_add(&l->calls[t], 1);
    }
}

static void nested_task(void *ctx, int t)
{
    each_log *l = ctx;
    (void)t;
    atomic_fetch_add(&l->nested, stylize_parallel_each(each_task, l) + 1);
}

static int make_conv_once(void)
{
    float wt[4 * 4 * 9] = {0};
    stylize_conv *c = NULL;
    if (stylize_conv_create(&c, wt, NULL, 4, 4, NULL) != STYLIZE_OK)
        return 0;
    stylize_conv_free(c);
    return 1;
}

static void check_each_and_warm(void)
{
    static const int counts[] = {2, 3, 1, 2};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        int n = counts[k];
        stylize_set_threads(n);
        each_log l = {0};
        CHECK_MSG(stylize_parallel_each(each_task, &l) == n, "each: %d threads", n);
        for (int t = 0; t < EACH_MAX; t++)
            CHECK_MSG(atomic_load(&l.calls[t]) == (t < n), "each: task %d ran %d times of %d threads", t,
                      atomic_load(&l.calls[t]), n);
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                CHECK_MSG(!pthread_equal(l.tid[a], l.tid[b]), "each: tasks %d and %d on one thread", a, b);
        CHECK(make_conv_once());
        CHECK_MSG(stylize_conv_testing_blas_warmed(), "warm: the pool of %d threads is not", n);
    }
    each_log l = {0};
    stylize_parallel_run(2, nested_task, &l); /* the pool is busy inside a run: each runs nothing */
    CHECK_MSG(atomic_load(&l.nested) == 2 && atomic_load(&l.calls[0]) == 0, "each inside a run: %d, %d",
              atomic_load(&l.nested), atomic_load(&l.calls[0]));
    stylize_set_threads(2);
}

int main(void)
{
    const char *v = getenv("TEST_CONV_VERBOSE");
    verbose = v && *v && *v != '0';
    stylize_set_threads(2); /* exercise the pool even under OPENBLAS_NUM_THREADS=1 */
    CHECK(stylize_get_threads() == 2);

    check_each_and_warm();
    check_direct_by_hand();
    check_create_errors();
    check_algo_switch();
    check_vgg_workspace();

    /* Forward: odd and degenerate sizes, sizes that are not tile multiples,
     * with and without bias. */
    check_forward(3, 5, 7, 9, 1, 11);
    check_forward(3, 5, 7, 9, 0, 12);
    check_forward(1, 1, 1, 1, 1, 13);
    check_forward(2, 3, 1, 5, 1, 14);
    check_forward(2, 3, 5, 1, 1, 15);
    check_forward(4, 3, 2, 2, 0, 16);
    check_forward(7, 2, 3, 2, 1, 17);
    check_forward(3, 4, 4, 4, 1, 41);   /* exactly one F(4, 3) tile */
    check_forward(3, 4, 8, 12, 1, 42);  /* whole tiles, no partial edge */
    check_forward(5, 6, 13, 17, 1, 43); /* partial tiles on both edges */
    check_forward(2, 2, 6, 70, 1, 44);  /* tile rows longer than one segment (16 tiles) */
    check_forward(64, 64, 19, 23, 1, 45);
    check_forward(64, 3, 10, 9, 1, 46);
    check_forward(3, 64, 9, 10, 0, 47);
    /* Several im2col row bands: 64 * 9 * 200 floats per row gives 145-row
     * bands (145 + 55); Winograd blocks of 256 tiles split tile rows. */
    CHECK((size_t)64 * 9 * 200 * 200 > STYLIZE_CONV_WORKSPACE_MAX_FLOATS);
    check_forward(64, 4, 200, 200, 1, 18);
    /* Winograd blocks that end mid tile row with many channels: 33 x 18
     * tiles of F(4, 3) in blocks of 256; 65 x 35 of F(2, 3) in blocks of 512. */
    check_forward(64, 64, 130, 70, 1, 48);
    /* Few channels: the transforms split each channel into tile chunks;
     * 75 x 75 F(4, 3) tiles span two blocks. */
    check_forward(3, 5, 300, 300, 1, 49);
    /* One im2col row alone exceeds the bound: one-row tiles; Winograd: 1024
     * tiles in blocks capped by the bound. */
    CHECK((size_t)512 * 9 * 4096 > STYLIZE_CONV_WORKSPACE_MAX_FLOATS);
    check_forward(512, 1, 2, 4096, 1, 19);

    /* Backward: finite differences and scatter reference on small problems,
     * scatter reference on larger ones. */
    check_backward(3, 4, 5, 6, 1, 21);
    check_backward(5, 2, 1, 7, 1, 22);
    check_backward(1, 3, 4, 1, 1, 23);
    check_backward(2, 2, 3, 3, 1, 24);
    check_backward(3, 2, 9, 10, 1, 25);
    check_backward(64, 64, 21, 18, 0, 26);
    check_backward(3, 64, 35, 33, 0, 27);
    check_backward(64, 5, 66, 70, 0, 28);

    /* Adjointness, small and with the backward (cout = 64) tiled into 145 + 5 rows. */
    check_adjoint(3, 5, 7, 9, 31);
    check_adjoint(5, 64, 150, 200, 32);
    check_adjoint(64, 5, 150, 200, 33);

    /* VGG-like magnitudes: RMS relative error < 1e-4. */
    check_vgg_accuracy(64, 64, 32, 32, 1.0f, 51);
    check_vgg_accuracy(128, 128, 22, 26, 10.0f, 52);
    check_vgg_accuracy(512, 64, 10, 10, 100.0f, 53);
    check_vgg_accuracy(3, 64, 40, 40, 2.0f, 54);

    /* Wide kernels (cin x cout >= 256 x 256, 2 threads) run the float32
     * Winograd phased (sgemms split by component): in one block, then in
     * blocks of 5 tiles; its results do not depend on the thread count. */
    check_forward(256, 256, 13, 10, 1, 60);
    check_backward(256, 256, 9, 11, 0, 61);
    stylize_conv_testing_wino_block_tiles(5);
    check_forward(256, 256, 13, 10, 1, 62);
    check_backward(256, 256, 9, 11, 0, 63);
    check_threads(256, 256, 13, 10);
    stylize_conv_testing_wino_block_tiles(0);

    check_threads(5, 7, 75, 61);
    check_threads(64, 64, 130, 70);
    check_threads(64, 3, 210, 190); /* im2col forward: a 153-row band, tasks of 51 rows */

    return TEST_SUMMARY();
}
