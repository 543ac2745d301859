/* Tests of the 3x3 convolution: im2col forward against the direct loops
 * (including row tiling and the one-row-exceeds-the-bound case), workspace
 * sizing, the input gradient against finite differences and a test-local
 * scatter gradient, adjointness, and create-time argument checks. */
#include "stylize/conv.h"

#include "testutil.h"

#define GUARD 64            /* sentinel floats after each workspace */
#define SENTINEL 12345.678f /* value the guard must still hold afterwards */

static float *xalloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "test_conv: out of memory (%zu floats)\n", n);
        exit(2);
    }
    return p;
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* Workspace of n floats followed by GUARD sentinels. */
static float *ws_alloc(size_t n)
{
    float *ws = xalloc(n + GUARD);
    fill_nan(ws, n);
    for (size_t i = 0; i < GUARD; i++)
        ws[n + i] = SENTINEL;
    return ws;
}

static int ws_guard_intact(const float *ws, size_t n)
{
    for (size_t i = 0; i < GUARD; i++)
        if (ws[n + i] != SENTINEL)
            return 0;
    return 1;
}

/* Independent statement of the workspace rule: per direction, channels * 9 * w
 * floats per output row, max(1, MAX / that) rows, capped at h. */
static size_t expected_ws(int cin, int cout, int h, int w)
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

/* im2col forward (both algo settings) against the direct reference. */
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

    stylize_conv *conv = NULL;
    stylize_error err = {0};
    stylize_status st = stylize_conv_create(&conv, weight, with_bias ? bias : NULL, cin, cout, &err);
    CHECK_MSG(st == STYLIZE_OK && conv, "create %d->%d: %s", cin, cout, err.msg);
    if (!conv)
        goto done;

    size_t nws = stylize_conv_workspace_floats(conv, h, w);
    CHECK_MSG(nws == expected_ws(cin, cout, h, w), "ws %zu, expected %zu (cin %d cout %d h %d w %d)",
              nws, expected_ws(cin, cout, h, w), cin, cout, h, w);
    size_t widest_row = (size_t)(cin > cout ? cin : cout) * 9 * (size_t)w;
    CHECK(nws <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS || widest_row > STYLIZE_CONV_WORKSPACE_MAX_FLOATS);
    float *ws = ws_alloc(nws);

    stylize_conv3x3_direct(ref, in, weight, with_bias ? bias : NULL, cin, cout, h, w);
    for (int algo = 0; algo < 2; algo++) {
        stylize_conv_set_algo(conv, algo ? STYLIZE_CONV_WINOGRAD : STYLIZE_CONV_IM2COL);
        fill_nan(out, nout); /* every element must be written */
        stylize_conv_forward(conv, out, in, h, w, ws);
        double e = max_rel_err(out, ref, nout);
        CHECK_MSG(e <= 1e-5, "forward algo %d cin %d cout %d h %d w %d bias %d: rel err %g", algo,
                  cin, cout, h, w, with_bias, e);
    }
    CHECK(ws_guard_intact(ws, nws));
    free(ws);
done:
    stylize_conv_free(conv);
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

/* Backward against finite differences of L = sum r .* conv(x) and against
 * the scatter gradient. */
static void check_backward_small(int cin, int cout, int h, int w, uint64_t seed)
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

    stylize_conv *conv = NULL;
    stylize_status st = stylize_conv_create(&conv, weight, bias, cin, cout, NULL);
    CHECK(st == STYLIZE_OK && conv);
    if (!conv)
        goto done;
    size_t nws = stylize_conv_workspace_floats(conv, h, w);
    float *ws = ws_alloc(nws);
    fill_nan(gin, nin); /* gin is overwritten, not accumulated */
    stylize_conv_backward(conv, gin, r, h, w, ws);
    CHECK(ws_guard_intact(ws, nws));
    free(ws);

    loss_ctx ctx = {weight, bias, r, cin, cout, h, w};
    double fd = tu_fd_check(conv_loss, &ctx, x, gin, nin, 1e-2f, nin);
    CHECK_MSG(fd <= 1e-3, "backward FD cin %d cout %d h %d w %d: worst rel err %g", cin, cout, h, w,
              fd);

    scatter_grad(gref, r, weight, cin, cout, h, w);
    double e = max_rel_err(gin, gref, nin);
    CHECK_MSG(e <= 1e-5, "backward vs scatter cin %d cout %d h %d w %d: rel err %g", cin, cout, h,
              w, e);
done:
    stylize_conv_free(conv);
    free(weight);
    free(bias);
    free(x);
    free(r);
    free(gin);
    free(gref);
}

/* <conv(x), y> == <x, convT(y)> with zero bias (the forward is then linear). */
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

    stylize_conv *conv = NULL;
    stylize_status st = stylize_conv_create(&conv, weight, NULL, cin, cout, NULL);
    CHECK(st == STYLIZE_OK && conv);
    if (!conv)
        goto done;
    size_t nws = stylize_conv_workspace_floats(conv, h, w);
    float *ws = ws_alloc(nws);
    fill_nan(cx, nout);
    fill_nan(cty, nin);
    stylize_conv_forward(conv, cx, x, h, w, ws);
    stylize_conv_backward(conv, cty, y, h, w, ws);
    CHECK(ws_guard_intact(ws, nws));
    free(ws);
    double a = 0, b = 0;
    for (size_t i = 0; i < nout; i++)
        a += (double)cx[i] * (double)y[i];
    for (size_t i = 0; i < nin; i++)
        b += (double)x[i] * (double)cty[i];
    CHECK_MSG(fabs(a - b) <= 1e-5 * fmax(1.0, fmax(fabs(a), fabs(b))),
              "adjoint cin %d cout %d h %d w %d: <conv x, y> = %.9g, <x, convT y> = %.9g", cin,
              cout, h, w, a, b);
done:
    stylize_conv_free(conv);
    free(weight);
    free(x);
    free(y);
    free(cx);
    free(cty);
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
    CHECK(stylize_conv_create(&conv, weight, NULL, 3, 2, NULL) == STYLIZE_OK);
    CHECK(conv != NULL);
    if (conv) {
        CHECK(stylize_conv_in_channels(conv) == 3);
        CHECK(stylize_conv_out_channels(conv) == 2);
        CHECK(stylize_conv_workspace_floats(conv, 0, 5) == 0);
        CHECK(stylize_conv_workspace_floats(conv, 4, 5) == (size_t)3 * 9 * 5 * 4);
    }
    stylize_conv_free(conv);
    stylize_conv_free(NULL);
}

int main(void)
{
    check_direct_by_hand();
    check_create_errors();

    /* Forward: odd and degenerate sizes, with and without bias. */
    check_forward(3, 5, 7, 9, 1, 11);
    check_forward(3, 5, 7, 9, 0, 12);
    check_forward(1, 1, 1, 1, 1, 13);
    check_forward(2, 3, 1, 5, 1, 14);
    check_forward(2, 3, 5, 1, 1, 15);
    check_forward(4, 3, 2, 2, 0, 16);
    check_forward(7, 2, 3, 2, 1, 17);
    /* Several row tiles: 64 * 9 * 200 floats per row gives 145-row tiles (145 + 55). */
    CHECK((size_t)64 * 9 * 200 * 200 > STYLIZE_CONV_WORKSPACE_MAX_FLOATS);
    check_forward(64, 4, 200, 200, 1, 18);
    /* One im2col row alone exceeds the bound: one-row tiles. */
    CHECK((size_t)512 * 9 * 4096 > STYLIZE_CONV_WORKSPACE_MAX_FLOATS);
    check_forward(512, 1, 2, 4096, 1, 19);

    /* Backward: finite differences and scatter reference. */
    check_backward_small(3, 4, 5, 6, 21);
    check_backward_small(5, 2, 1, 7, 22);
    check_backward_small(1, 3, 4, 1, 23);
    check_backward_small(2, 2, 3, 3, 24);

    /* Adjointness, small and with the backward (cout = 64) tiled into 145 + 5 rows. */
    check_adjoint(3, 5, 7, 9, 31);
    check_adjoint(5, 64, 150, 200, 32);
    check_adjoint(64, 5, 150, 200, 33);

    return TEST_SUMMARY();
}
