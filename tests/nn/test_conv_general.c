/* Tests of the general convolution (any odd kernel side, stride 1 or 2,
 * zero / reflect / replicate / circular padding), the weight and bias
 * gradients of every path (general im2col, 3x3 im2col, Winograd), the
 * kernel refresh after a weight change, the memory plan (dry and live), the
 * workspace rules and guards, the geometry checks, and the AVX-512 input
 * transform bit for bit the generic one. The references are test-local
 * loops in double with their own padding map; the library's
 * stylize_conv_direct is checked against them too.
 *
 * TEST_CONV_VERBOSE=1 prints the error of every comparison. */
#include "stylize/core/cpu.h"
#include "stylize/core/mem.h"
#include "stylize/core/threads.h"
#include "stylize/nn/conv.h"

#include "nn/conv_internal.h" /* the Winograd weight gradient's workspace */
#include "conv_testutil.h"
#include "testutil.h"

#define NALGO 3

static const stylize_conv_algo algos[NALGO] = {STYLIZE_CONV_IM2COL, STYLIZE_CONV_WINOGRAD,
                                               STYLIZE_CONV_WINOGRAD_F2};
static const char *const algo_names[NALGO] = {"im2col", "winograd4", "winograd2"};
static const char *const pad_names[4] = {"zero", "reflect", "replicate", "circular"};

/* Tolerances, on max |err| / max(1, max |ref|) against double references,
 * uniform(-1, 1) data: im2col paths (float sgemm over up to cin k k = 10^4
 * terms) 1e-5; Winograd forward as tests/nn/test_conv.c. Finite
 * differences of a linear loss: 1e-3 (tu_fd_check's relative error). */
#define TOL_IM2COL 1e-5
#define TOL_FD 1e-3
static const double wino_tol[NALGO] = {1e-5, 5e-5, 2e-5};

static int verbose;

#define FALLOC(n) tc_floats((size_t)(n))
#define DALLOC(n) ((double *)tc_alloc((size_t)(n) * sizeof(double)))

/* max |a - b| / max(1, max |b|) over n elements; NaN anywhere gives +inf. */
static double max_rel_err(const float *a, const double *b, size_t n)
{
    double emax = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d == d))
            return INFINITY;
        emax = fmax(emax, d);
        scale = fmax(scale, fabs(b[i]));
    }
    return emax / scale;
}

static double max_rel_err_f(const float *a, const float *b, size_t n)
{
    double emax = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d == d))
            return INFINITY;
        emax = fmax(emax, d);
        scale = fmax(scale, fabs((double)b[i]));
    }
    return emax / scale;
}

/* ---- test-local references ---------------------------------------------- */

/* The pixel that padded position i of a line of n reads, or -1 for zero,
 * written independently of the library (PyTorch's padding modes). */
static int tpad(int i, int n, stylize_pad_mode mode)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case STYLIZE_PAD_ZERO: return -1;
    case STYLIZE_PAD_REFLECT: return i < 0 ? -i : (n - 1) - (i - (n - 1)); /* mirror at the edge */
    case STYLIZE_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case STYLIZE_PAD_CIRCULAR: return ((i % n) + n) % n;
    }
    return -1;
}

/* Whether the padding fits a line of n (PyTorch's rules): reflect needs
 * n > k / 2, circular n >= k / 2. */
static int tpad_legal(int n, int k, stylize_pad_mode mode)
{
    if (mode == STYLIZE_PAD_REFLECT)
        return n > k / 2;
    if (mode == STYLIZE_PAD_CIRCULAR)
        return n >= k / 2;
    return 1;
}

typedef struct {
    stylize_conv_geom g;
    int h, w, oh, ow;
} shape;

static shape make_shape(int cin, int cout, int k, int s, stylize_pad_mode pad, int h, int w)
{
    shape sh = {{cin, cout, k, s, pad}, h, w, (h - 1) / s + 1, (w - 1) / s + 1};
    return sh;
}

static size_t n_in(const shape *s) { return (size_t)s->g.cin * s->h * s->w; }
static size_t n_out(const shape *s) { return (size_t)s->g.cout * s->oh * s->ow; }
static size_t n_wt(const shape *s) { return (size_t)s->g.cout * s->g.cin * s->g.k * s->g.k; }

/* Calls fn(ctx, co, ci, y, x, ky, kx, input index) for every tap that reads
 * an input pixel. */
typedef void (*tap_fn)(void *ctx, size_t o, size_t wi, size_t ii);
static void for_taps(const shape *s, tap_fn fn, void *ctx)
{
    const stylize_conv_geom *g = &s->g;
    int p = g->k / 2;
    for (int co = 0; co < g->cout; co++)
        for (int y = 0; y < s->oh; y++)
            for (int x = 0; x < s->ow; x++)
                for (int ci = 0; ci < g->cin; ci++)
                    for (int ky = 0; ky < g->k; ky++) {
                        int sy = tpad(y * g->stride + ky - p, s->h, g->pad);
                        for (int kx = 0; sy >= 0 && kx < g->k; kx++) {
                            int sx = tpad(x * g->stride + kx - p, s->w, g->pad);
                            if (sx < 0)
                                continue;
                            size_t o = ((size_t)co * s->oh + y) * s->ow + x;
                            size_t wi = (((size_t)co * g->cin + ci) * g->k + ky) * g->k + kx;
                            size_t ii = ((size_t)ci * s->h + sy) * s->w + sx;
                            fn(ctx, o, wi, ii);
                        }
                    }
}

typedef struct {
    const float *a, *b; /* the two operands of the taps */
    double *acc;
    int mode;           /* 0: acc[o] += w x; 1: acc[ii] += w r; 2: acc[wi] += r x */
} tap_ctx;

static void tap(void *vctx, size_t o, size_t wi, size_t ii)
{
    tap_ctx *c = vctx;
    if (c->mode == 0)
        c->acc[o] += (double)c->a[wi] * (double)c->b[ii];
    else if (c->mode == 1)
        c->acc[ii] += (double)c->a[wi] * (double)c->b[o];
    else
        c->acc[wi] += (double)c->a[o] * (double)c->b[ii];
}

/* out (cout, oh, ow) = conv(x) in double; bias may be NULL. */
static void ref_forward(double *out, const float *x, const float *wt, const float *bias,
                        const shape *s)
{
    size_t plane = (size_t)s->oh * s->ow;
    for (int co = 0; co < s->g.cout; co++)
        for (size_t i = 0; i < plane; i++)
            out[co * plane + i] = bias ? (double)bias[co] : 0.0;
    tap_ctx c = {wt, x, out, 0};
    for_taps(s, tap, &c);
}

/* gin (cin, h, w) = dL/dx for dL/dout = r, in double. */
static void ref_input_grad(double *gin, const float *r, const float *wt, const shape *s)
{
    memset(gin, 0, n_in(s) * sizeof(double));
    tap_ctx c = {wt, r, gin, 1};
    for_taps(s, tap, &c);
}

/* gw (cout, cin, k, k) and gb (cout) = dL/dW, dL/db for dL/dout = r, in double. */
static void ref_weight_grad(double *gw, double *gb, const float *x, const float *r, const shape *s)
{
    memset(gw, 0, n_wt(s) * sizeof(double));
    tap_ctx c = {r, x, gw, 2};
    for_taps(s, tap, &c);
    size_t plane = (size_t)s->oh * s->ow;
    for (int co = 0; co < s->g.cout; co++) {
        gb[co] = 0;
        for (size_t i = 0; i < plane; i++)
            gb[co] += r[co * plane + i];
    }
}

/* ---- helpers ------------------------------------------------------------ */

static stylize_conv *make(const shape *s, const float *wt, const float *bias,
                          stylize_conv_algo algo)
{
    stylize_conv *conv = NULL;
    stylize_error err = {0};
    stylize_status st = stylize_conv_create_ex(&conv, &s->g, wt, bias, algo, NULL, &err);
    CHECK_MSG(st == STYLIZE_OK && conv, "create_ex k %d s %d %s: %s", s->g.k, s->g.stride,
              pad_names[s->g.pad], err.msg);
    return st == STYLIZE_OK ? conv : NULL;
}

static int is_3x3(const stylize_conv_geom *g)
{
    return g->k == 3 && g->stride == 1 && g->pad == STYLIZE_PAD_ZERO;
}

/* 3x3, stride 1 with another padding: Winograd with the padding (the input
 * gradient's border ring apart) when a Winograd algorithm is asked for
 * (algorithm index ai > 0), else general. */
static int is_padded_3x3(const stylize_conv_geom *g)
{
    return g->k == 3 && g->stride == 1 && g->pad != STYLIZE_PAD_ZERO;
}

/* ---- geometry ----------------------------------------------------------- */

static void check_out_side(void)
{
    CHECK(stylize_conv_out_side(7, 3, 1) == 7);
    CHECK(stylize_conv_out_side(7, 3, 2) == 4);
    CHECK(stylize_conv_out_side(8, 3, 2) == 4);
    CHECK(stylize_conv_out_side(8, 9, 2) == 4);
    CHECK(stylize_conv_out_side(1, 9, 2) == 1);
    CHECK(stylize_conv_out_side(2, 1, 2) == 1);
    CHECK(stylize_conv_out_side(5, 5, 1) == 5);
    CHECK(stylize_conv_out_side(0, 3, 1) == 0);
}

static int one_line(const stylize_error *e)
{
    return e->msg[0] != '\0' && strchr(e->msg, '\n') == NULL;
}

/* st must be the failure code with a one-line message. */
static void expect_reject(const stylize_conv_geom *g, int h, int w, stylize_status code,
                          const char *what)
{
    stylize_error err = {0};
    stylize_status st = stylize_conv_geom_check(g, h, w, &err);
    CHECK_MSG(st == code && err.code == code && one_line(&err), "geom_check %s: status %d (%s)",
              what, (int)st, err.msg);
    if (verbose)
        printf("geom_check %-22s -> %s\n", what, err.msg);
}

static void check_geom_check(void)
{
    stylize_conv_geom g = {3, 4, 3, 1, STYLIZE_PAD_ZERO};
    CHECK(stylize_conv_geom_check(&g, 1, 1, NULL) == STYLIZE_OK);
    g.k = 2;
    expect_reject(&g, 8, 8, STYLIZE_ERR_ARG, "even k 2");
    g.k = 4;
    expect_reject(&g, 8, 8, STYLIZE_ERR_ARG, "even k 4");
    g.k = 0;
    expect_reject(&g, 8, 8, STYLIZE_ERR_ARG, "k 0");
    g.k = 17;
    expect_reject(&g, 32, 32, STYLIZE_ERR_ARG, "k 17");
    g.k = 15;
    CHECK(stylize_conv_geom_check(&g, 32, 32, NULL) == STYLIZE_OK);
    g.k = 3;
    g.stride = 3;
    expect_reject(&g, 8, 8, STYLIZE_ERR_ARG, "stride 3");
    g.stride = 0;
    expect_reject(&g, 8, 8, STYLIZE_ERR_ARG, "stride 0");
    g.stride = 2;
    g.pad = (stylize_pad_mode)4;
    expect_reject(&g, 8, 8, STYLIZE_ERR_ARG, "padding mode 4");
    g.pad = STYLIZE_PAD_ZERO;
    g.cin = 0;
    expect_reject(&g, 8, 8, STYLIZE_ERR_ARG, "cin 0");
    g.cin = 3;
    g.cout = -1;
    expect_reject(&g, 8, 8, STYLIZE_ERR_ARG, "cout -1");
    g.cout = 1 << 28;
    expect_reject(&g, 8, 8, STYLIZE_ERR_LIMIT, "cout 2^28");
    g.cout = 4;
    expect_reject(&g, 0, 8, STYLIZE_ERR_ARG, "h 0");
    expect_reject(&g, 8, -2, STYLIZE_ERR_ARG, "w -2");
    expect_reject(&g, 1 << 16, 1 << 16, STYLIZE_ERR_LIMIT, "65536 x 65536");
    /* reflect needs h, w > k / 2; circular h, w >= k / 2 */
    g.pad = STYLIZE_PAD_REFLECT;
    expect_reject(&g, 1, 8, STYLIZE_ERR_ARG, "reflect k 3 h 1");
    CHECK(stylize_conv_geom_check(&g, 2, 2, NULL) == STYLIZE_OK);
    g.k = 9;
    expect_reject(&g, 4, 20, STYLIZE_ERR_ARG, "reflect k 9 h 4");
    expect_reject(&g, 20, 4, STYLIZE_ERR_ARG, "reflect k 9 w 4");
    CHECK(stylize_conv_geom_check(&g, 5, 5, NULL) == STYLIZE_OK);
    g.pad = STYLIZE_PAD_CIRCULAR;
    expect_reject(&g, 3, 20, STYLIZE_ERR_ARG, "circular k 9 h 3");
    CHECK(stylize_conv_geom_check(&g, 4, 4, NULL) == STYLIZE_OK);
    g.pad = STYLIZE_PAD_REPLICATE;
    CHECK(stylize_conv_geom_check(&g, 1, 1, NULL) == STYLIZE_OK);
    g.k = 1;
    g.pad = STYLIZE_PAD_REFLECT;
    CHECK(stylize_conv_geom_check(&g, 1, 1, NULL) == STYLIZE_OK);

    /* create_ex runs the size-independent checks */
    float wt[4 * 3 * 9] = {0};
    stylize_conv *conv = (stylize_conv *)&conv; /* must be reset to NULL on failure */
    stylize_error err = {0};
    stylize_conv_geom bad = {3, 4, 4, 1, STYLIZE_PAD_ZERO};
    CHECK(stylize_conv_create_ex(&conv, &bad, wt, NULL, STYLIZE_CONV_IM2COL, NULL, &err) ==
          STYLIZE_ERR_ARG);
    CHECK(conv == NULL && one_line(&err));
    stylize_conv_geom ok = {3, 4, 3, 2, STYLIZE_PAD_REFLECT};
    CHECK(stylize_conv_create_ex(&conv, NULL, wt, NULL, STYLIZE_CONV_IM2COL, NULL, &err) ==
          STYLIZE_ERR_ARG);
    CHECK(stylize_conv_create_ex(&conv, &ok, NULL, NULL, STYLIZE_CONV_IM2COL, NULL, &err) ==
          STYLIZE_ERR_ARG); /* weight NULL on a live plan */
    CHECK(conv == NULL && one_line(&err));
    CHECK(stylize_conv_create_ex(NULL, &ok, wt, NULL, STYLIZE_CONV_IM2COL, NULL, &err) ==
          STYLIZE_ERR_ARG);
    CHECK(stylize_conv_geom_workspace_floats(&bad, STYLIZE_CONV_IM2COL, 8, 8, 1) == 0);
    CHECK(stylize_conv_kernel_bytes(&bad, STYLIZE_CONV_WINOGRAD) == 0);
}

/* The padding modes by hand: 3x3 input 1..9, a kernel with a single 1 reads
 * one shifted pixel, so out[0][0] (top-left tap) and out[2][2]
 * (bottom-right tap) show where each mode reads outside the image. Also
 * checks the library's stylize_conv_direct and the convolution itself. */
static void check_pad_by_hand(void)
{
    const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    /* top-left tap at out[0][0] reads (-1, -1); bottom-right at out[2][2] (3, 3) */
    static const float tl[4] = {0, 5, 1, 9}, br[4] = {0, 5, 9, 1};
    for (int pad = 0; pad < 4; pad++)
        for (int t = 0; t < 2; t++) {
            float k[9] = {0};
            k[t ? 8 : 0] = 1;
            stylize_conv_geom g = {1, 1, 3, 1, (stylize_pad_mode)pad};
            float out[9], lib[9];
            stylize_conv_direct(out, in, k, NULL, &g, 3, 3);
            int at = t ? 8 : 0;
            CHECK_MSG(out[at] == (t ? br : tl)[pad], "%s by hand: tap %d reads %g", pad_names[pad],
                      t, (double)out[at]);
            CHECK(out[4] == (t ? 9 : 1)); /* the centre output reads inside the image */
            stylize_conv *conv = NULL;
            CHECK(stylize_conv_create_ex(&conv, &g, k, NULL, STYLIZE_CONV_IM2COL, NULL, NULL) ==
                  STYLIZE_OK);
            if (!conv)
                continue;
            float *ws = ws_alloc(stylize_conv_workspace_floats(conv, 3, 3));
            stylize_conv_forward(conv, lib, in, 3, 3, ws);
            CHECK(memcmp(lib, out, sizeof out) == 0);
            free(ws);
            stylize_conv_free(conv);
        }
    /* stride 2, k 1, 1 x 5: picks pixels 0, 2, 4 */
    const float row[5] = {1, 2, 3, 4, 5}, one = 1;
    stylize_conv_geom g = {1, 1, 1, 2, STYLIZE_PAD_REFLECT};
    float o[3];
    stylize_conv_direct(o, row, &one, NULL, &g, 1, 5);
    CHECK(o[0] == 1 && o[1] == 3 && o[2] == 5);
}

/* stylize_conv_direct with 3x3 zero padding equals stylize_conv3x3_direct
 * bit for bit; both match the test-local reference for every geometry. */
static void check_direct(void)
{
    shape s = make_shape(3, 4, 3, 1, STYLIZE_PAD_ZERO, 7, 9);
    float *wt = FALLOC(n_wt(&s)), *b = FALLOC(4), *x = FALLOC(n_in(&s));
    float *o1 = FALLOC(n_out(&s)), *o2 = FALLOC(n_out(&s));
    tu_fill(wt, n_wt(&s), 1, -1, 1);
    tu_fill(b, 4, 2, -1, 1);
    tu_fill(x, n_in(&s), 3, -1, 1);
    stylize_conv_direct(o1, x, wt, b, &s.g, s.h, s.w);
    stylize_conv3x3_direct(o2, x, wt, b, 3, 4, s.h, s.w);
    CHECK(memcmp(o1, o2, n_out(&s) * sizeof(float)) == 0);
    free(wt);
    free(b);
    free(x);
    free(o1);
    free(o2);
    for (int pad = 0; pad < 4; pad++) {
        s = make_shape(2, 3, 5, 2, (stylize_pad_mode)pad, 9, 8);
        wt = FALLOC(n_wt(&s));
        x = FALLOC(n_in(&s));
        o1 = FALLOC(n_out(&s));
        double *ref = DALLOC(n_out(&s));
        tu_fill(wt, n_wt(&s), 4, -1, 1);
        tu_fill(x, n_in(&s), 5, -1, 1);
        stylize_conv_direct(o1, x, wt, NULL, &s.g, s.h, s.w);
        ref_forward(ref, x, wt, NULL, &s);
        CHECK_MSG(max_rel_err(o1, ref, n_out(&s)) < 1e-6, "direct %s", pad_names[pad]);
        free(wt);
        free(x);
        free(o1);
        free(ref);
    }
}

/* ---- forward ------------------------------------------------------------ */

/* Forward of the convolution (Winograd asked for: the general path must
 * fall back to im2col) against the double reference; every output written,
 * workspace guard intact. */
static void check_forward(int cin, int cout, int k, int st, stylize_pad_mode pad, int h, int w,
                          int with_bias, uint64_t seed)
{
    shape s = make_shape(cin, cout, k, st, pad, h, w);
    CHECK(s.oh == stylize_conv_out_side(h, k, st) && s.ow == stylize_conv_out_side(w, k, st));
    float *wt = FALLOC(n_wt(&s)), *b = FALLOC(cout), *x = FALLOC(n_in(&s));
    float *out = FALLOC(n_out(&s));
    double *ref = DALLOC(n_out(&s));
    tu_fill(wt, n_wt(&s), seed, -1, 1);
    tu_fill(b, (size_t)cout, seed + 1, -2, 2);
    tu_fill(x, n_in(&s), seed + 2, -1, 1);
    ref_forward(ref, x, wt, with_bias ? b : NULL, &s);
    stylize_conv *conv = make(&s, wt, with_bias ? b : NULL, STYLIZE_CONV_WINOGRAD);
    if (conv) {
        int general = !is_3x3(&s.g) && !is_padded_3x3(&s.g);
        CHECK(!general || stylize_conv_get_algo(conv) == STYLIZE_CONV_IM2COL);
        CHECK(!is_padded_3x3(&s.g) || stylize_conv_get_algo(conv) == STYLIZE_CONV_WINOGRAD);
        const stylize_conv_geom *gg = stylize_conv_get_geom(conv);
        CHECK(gg->k == k && gg->stride == st && gg->pad == pad && gg->cin == cin &&
              gg->cout == cout);
        size_t nws = stylize_conv_workspace_floats_ex(conv, h, w, 0);
        CHECK(nws == stylize_conv_geom_workspace_floats(&s.g, STYLIZE_CONV_WINOGRAD, h, w, 0));
        CHECK(nws == stylize_conv_workspace_floats(conv, h, w));
        float *ws = ws_alloc(nws);
        fill_nan(out, n_out(&s));
        stylize_conv_forward(conv, out, x, h, w, ws);
        double e = max_rel_err(out, ref, n_out(&s));
        double tol = general ? TOL_IM2COL : wino_tol[1];
        if (verbose)
            printf("forward  k %d s %d %-9s %2d->%-2d %3dx%-3d bias %d: max rel %.2e\n", k, st,
                   pad_names[pad], cin, cout, h, w, with_bias, e);
        CHECK_MSG(e <= tol, "forward k %d s %d %s %d->%d %dx%d bias %d: rel err %g", k, st,
                  pad_names[pad], cin, cout, h, w, with_bias, e);
        int fr = n_out(&s) >= 8 ? fused_relu_differs(conv, x, h, w, out, n_out(&s), ws) : 0;
        CHECK_MSG(fr == 0, "forward_relu k %d s %d %s %dx%d: %s", k, st, pad_names[pad], h, w,
                  fr == 1 ? "differs from relu(forward)" : "no negative output to test");
        CHECK_MSG(ws_guard_intact(ws, nws), "forward k %d s %d %s: guard", k, st, pad_names[pad]);
        free(ws);
        stylize_conv_free(conv);
    }
    free(wt);
    free(b);
    free(x);
    free(out);
    free(ref);
}

/* The padded 3x3 forward of both Winograd algorithms, whose input
 * transform reads the padding itself: rows of more than one 16-tile
 * segment, partial tiles at the right and bottom, two and one pixels, and
 * the fused ReLU. */
static void check_padded_forward_algos(void)
{
    static const int sizes[][2] = {{70, 131}, {9, 7}, {2, 2}, {1, 5}};
    uint64_t seed = 900;
    for (int pad = 1; pad < 4; pad++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int ai = 1; ai < NALGO; ai++) {
                int h = sizes[si][0], w = sizes[si][1];
                shape s = make_shape(5, 6, 3, 1, (stylize_pad_mode)pad, h, w);
                if (!tpad_legal(h, 3, s.g.pad) || !tpad_legal(w, 3, s.g.pad))
                    continue;
                float *wt = FALLOC(n_wt(&s)), *b = FALLOC(6), *x = FALLOC(n_in(&s)), *out = FALLOC(n_out(&s));
                double *ref = DALLOC(n_out(&s));
                tu_fill(wt, n_wt(&s), seed, -1, 1);
                tu_fill(b, 6, seed + 1, -1, 1);
                tu_fill(x, n_in(&s), seed + 2, -1, 1);
                seed += 3;
                ref_forward(ref, x, wt, b, &s);
                stylize_conv *conv = make(&s, wt, b, algos[ai]);
                if (conv) {
                    size_t nws = stylize_conv_workspace_floats(conv, h, w);
                    float *ws = ws_alloc(nws);
                    fill_nan(out, n_out(&s));
                    stylize_conv_forward(conv, out, x, h, w, ws);
                    double e = max_rel_err(out, ref, n_out(&s));
                    int fr = fused_relu_differs(conv, x, h, w, out, n_out(&s), ws);
                    CHECK_MSG(e <= wino_tol[ai] && fr == 0 && ws_guard_intact(ws, nws),
                              "padded forward %s %s %dx%d: rel err %g, fused relu %d", algo_names[ai],
                              pad_names[pad], h, w, e, fr);
                    free(ws);
                    stylize_conv_free(conv);
                }
                free(wt), free(b), free(x), free(out), free(ref);
            }
}

static float max_abs(const float *a, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabsf(a[i]) > m ? fabsf(a[i]) : m;
    return m;
}

/* The AVX-512 input transform of F(4, 3) (masked loads and permutes) gives
 * the generic transform's bits: forward (with and without the fused ReLU),
 * input and weight gradients with it and with the CPU's AVX-512 hidden,
 * every padding mode, widths with whole and partial segments at both
 * edges; skipped (visibly) on a CPU without AVX-512. */
static void check_avx512_input_bits(void)
{
    if (!stylize_cpu()->avx512f) {
        printf("SKIP: this CPU has no AVX-512; the generic input transform is the only one\n");
        return;
    }
    /* 63, 64, 127, 128: the right padding pixel in the segment's last two
     * values (r[64], r[65]) */
    static const int sizes[][2] = {{9, 67}, {6, 130}, {7, 66}, {5, 3}, {4, 65}, {2, 63}, {5, 64}, {3, 127}, {6, 128}};
    uint64_t seed = 950;
    for (int pad = 0; pad < 4; pad++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            int h = sizes[si][0], w = sizes[si][1];
            shape s = make_shape(3, 4, 3, 1, (stylize_pad_mode)pad, h, w);
            if (!tpad_legal(h, 3, s.g.pad) || !tpad_legal(w, 3, s.g.pad))
                continue;
            float *wt = FALLOC(n_wt(&s)), *b = FALLOC(4), *x = FALLOC(n_in(&s)), *gy = FALLOC(n_out(&s));
            float *r[2][4]; /* [generic, AVX-512][output, input gradient, weight gradient, fused ReLU] */
            tu_fill(wt, n_wt(&s), seed, -1, 1);
            tu_fill(b, 4, seed + 1, -1, 1);
            tu_fill(x, n_in(&s), seed + 2, -1, 1);
            tu_fill(gy, n_out(&s), seed + 3, -1, 1);
            seed += 4;
            stylize_conv *conv = make(&s, wt, b, STYLIZE_CONV_WINOGRAD);
            size_t nws = conv ? stylize_conv_workspace_floats_ex(conv, h, w, 1) : 0;
            float *ws = ws_alloc(nws), gb[4] = {0};
            for (int v = 0; conv && v < 2; v++) {
                stylize_cpu_testing_disable_avx512(v == 0);
                r[v][0] = FALLOC(n_out(&s)), r[v][1] = FALLOC(n_in(&s)), r[v][2] = FALLOC(n_wt(&s));
                r[v][3] = FALLOC(n_out(&s));
                memset(r[v][2], 0, n_wt(&s) * sizeof(float));
                stylize_conv_forward(conv, r[v][0], x, h, w, ws);
                stylize_conv_forward_relu(conv, r[v][3], x, h, w, ws);
                stylize_conv_backward(conv, r[v][1], gy, h, w, ws);
                stylize_conv_backward_weights(conv, r[v][2], gb, x, gy, h, w, ws);
            }
            stylize_cpu_testing_disable_avx512(0);
            if (conv) {
                int same = memcmp(r[0][0], r[1][0], n_out(&s) * sizeof(float)) == 0 &&
                           memcmp(r[0][1], r[1][1], n_in(&s) * sizeof(float)) == 0 &&
                           memcmp(r[0][2], r[1][2], n_wt(&s) * sizeof(float)) == 0 &&
                           memcmp(r[0][3], r[1][3], n_out(&s) * sizeof(float)) == 0;
                CHECK_MSG(same && max_abs(r[1][0], n_out(&s)) > 0.1, "AVX-512 input transform %s %dx%d differs",
                          pad_names[pad], h, w);
                for (int v = 0; v < 2; v++)
                    free(r[v][0]), free(r[v][1]), free(r[v][2]), free(r[v][3]);
            }
            free(ws);
            stylize_conv_free(conv);
            free(wt), free(b), free(x), free(gy);
        }
}

static void check_forward_all(void)
{
    static const int ks[] = {1, 3, 5, 9};
    static const int sizes[][2] = {{7, 5}, {9, 11}, {1, 6}, {6, 1}, {1, 1}, {12, 10}};
    uint64_t seed = 100;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (int st = 1; st <= 2; st++)
            for (int pad = 0; pad < 4; pad++)
                for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                    int h = sizes[si][0], w = sizes[si][1], k = ks[ki];
                    stylize_pad_mode pm = (stylize_pad_mode)pad;
                    stylize_conv_geom g = {3, 4, k, st, pm};
                    int legal = tpad_legal(h, k, pm) && tpad_legal(w, k, pm);
                    CHECK_MSG((stylize_conv_geom_check(&g, h, w, NULL) == STYLIZE_OK) == legal,
                              "geom_check k %d %s %dx%d: legal %d", k, pad_names[pad], h, w,
                              legal);
                    if (!legal)
                        continue;
                    check_forward(3, 4, k, st, pm, h, w, (int)(si % 2), seed);
                    seed += 10;
                }
}

/* ---- gradients ---------------------------------------------------------- */

typedef struct {
    const shape *s;
    const float *x, *wt, *b, *r; /* the fixed operands */
    int which;                   /* 0: vary x, 1: vary weight, 2: vary bias */
    double *out;                 /* (cout, oh, ow) scratch */
} loss_ctx;

/* L = sum r .* conv(x; W, b), entirely in double, with the varied operand v. */
static double conv_loss(void *user, const float *v)
{
    loss_ctx *c = user;
    ref_forward(c->out, c->which == 0 ? v : c->x, c->which == 1 ? v : c->wt,
                c->which == 2 ? v : c->b, c->s);
    double l = 0;
    for (size_t i = 0; i < n_out(c->s); i++)
        l += (double)c->r[i] * c->out[i];
    return l;
}

/* Input, weight and bias gradients of convolution conv (geometry s) against
 * the double references and central finite differences of L = sum r .* out.
 * gw and gb start from an offset to check that they accumulate. */
static void check_grads_of(stylize_conv *conv, const shape *s, const float *wt, float *b,
                           uint64_t seed, const char *what, double tol)
{
    size_t nin = n_in(s), nout = n_out(s), nwt = n_wt(s);
    int cout = s->g.cout, h = s->h, w = s->w;
    float *x = FALLOC(nin), *r = FALLOC(nout), *gin = FALLOC(nin), *gw = FALLOC(nwt);
    float *gb = FALLOC(cout), *wcopy = FALLOC(nwt);
    double *gin_ref = DALLOC(nin), *gw_ref = DALLOC(nwt), *gb_ref = DALLOC(cout);
    double *scratch = DALLOC(nout);
    tu_fill(x, nin, seed, -1, 1);
    tu_fill(r, nout, seed + 1, -1, 1);
    ref_input_grad(gin_ref, r, wt, s);
    ref_weight_grad(gw_ref, gb_ref, x, r, s);

    size_t nws = stylize_conv_workspace_floats_ex(conv, h, w, 1);
    CHECK(nws >= stylize_conv_workspace_floats_ex(conv, h, w, 0));
    float *ws = ws_alloc(nws);
    fill_nan(gin, nin); /* overwritten, not accumulated */
    stylize_conv_backward(conv, gin, r, h, w, ws);
    for (size_t i = 0; i < nwt; i++)
        gw[i] = 0.25f;
    for (int i = 0; i < cout; i++)
        gb[i] = -0.5f;
    stylize_conv_backward_weights(conv, gw, gb, x, r, h, w, ws);
    CHECK_MSG(ws_guard_intact(ws, nws), "%s: guard", what);
    for (size_t i = 0; i < nwt; i++)
        gw[i] -= 0.25f;
    for (int i = 0; i < cout; i++)
        gb[i] += 0.5f;
    double ei = max_rel_err(gin, gin_ref, nin), ew = max_rel_err(gw, gw_ref, nwt);
    double eb = max_rel_err(gb, gb_ref, (size_t)cout);
    loss_ctx c = {s, x, wt, b, r, 0, scratch};
    double fi = tu_fd_check(conv_loss, &c, x, gin, nin, 1e-2f, 200);
    memcpy(wcopy, wt, nwt * sizeof(float));
    c.which = 1;
    double fw = tu_fd_check(conv_loss, &c, wcopy, gw, nwt, 1e-2f, 200);
    c.which = 2;
    double fb = tu_fd_check(conv_loss, &c, b, gb, (size_t)cout, 1e-2f, (size_t)cout);
    if (verbose)
        printf("grads    %-34s: ref in %.1e w %.1e b %.1e  fd in %.1e w %.1e b %.1e\n", what, ei,
               ew, eb, fi, fw, fb);
    CHECK_MSG(ei <= tol && ew <= tol && eb <= TOL_IM2COL,
              "%s vs reference: input %g, weight %g, bias %g", what, ei, ew, eb);
    CHECK_MSG(fi <= TOL_FD && fw <= TOL_FD && fb <= TOL_FD,
              "%s vs finite differences: input %g, weight %g, bias %g", what, fi, fw, fb);
    free(ws);
    free(x);
    free(r);
    free(gin);
    free(gw);
    free(gb);
    free(wcopy);
    free(gin_ref);
    free(gw_ref);
    free(gb_ref);
    free(scratch);
}

static void check_grads(int cin, int cout, int k, int st, stylize_pad_mode pad, int h, int w,
                        uint64_t seed)
{
    shape s = make_shape(cin, cout, k, st, pad, h, w);
    float *wt = FALLOC(n_wt(&s)), *b = FALLOC(cout);
    tu_fill(wt, n_wt(&s), seed + 7, -1, 1);
    tu_fill(b, (size_t)cout, seed + 8, -1, 1);
    stylize_conv *conv = make(&s, wt, b, STYLIZE_CONV_IM2COL);
    if (conv) {
        char what[96];
        snprintf(what, sizeof what, "k %d s %d %s %d->%d %dx%d", k, st, pad_names[pad], cin, cout,
                 h, w);
        check_grads_of(conv, &s, wt, b, seed, what, TOL_IM2COL);
        stylize_conv_free(conv);
    }
    free(wt);
    free(b);
}

static void check_grads_all(void)
{
    static const int ks[] = {1, 3, 9};
    uint64_t seed = 500;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (int st = 1; st <= 2; st++)
            for (int pad = 0; pad < 4; pad++) {
                int k = ks[ki];
                stylize_pad_mode pm = (stylize_pad_mode)pad;
                check_grads(2, 3, k, st, pm, k == 9 ? 11 : 7, k == 9 ? 9 : 5, seed);
                if (tpad_legal(1, k, pm))
                    check_grads(2, 2, k, st, pm, 1, k == 9 ? 10 : 7, seed + 1);
                seed += 10;
            }
}

/* The weight gradients of the 3x3 algorithm paths (im2col: through the
 * im2col matrix; Winograd: in the transform domain, also over the padded
 * copy for reflect, replicate, circular), and their input gradients,
 * against the references and finite differences. */
static void check_grads_3x3_algos(void)
{
    for (int pad = 0; pad < 4; pad++) {
        shape s = make_shape(3, 4, 3, 1, (stylize_pad_mode)pad, 9, 7);
        float *wt = FALLOC(n_wt(&s)), *b = FALLOC(4);
        tu_fill(wt, n_wt(&s), 61, -1, 1);
        tu_fill(b, 4, 62, -1, 1);
        for (int ai = 0; ai < NALGO; ai++) {
            stylize_conv *conv = make(&s, wt, b, algos[ai]);
            if (!conv)
                continue;
            CHECK(stylize_conv_get_algo(conv) == algos[ai]);
            char what[64];
            snprintf(what, sizeof what, "3x3 %s %s 3->4 9x7", algo_names[ai], pad_names[pad]);
            check_grads_of(conv, &s, wt, b, 63, what, wino_tol[ai]);
            stylize_conv_free(conv);
        }
        free(wt);
        free(b);
    }
}

/* The padded modes' input gradient (the zero-padded Winograd gradient
 * inside, the border ring folded back) against the double reference: every
 * mode and Winograd algorithm, planes down to one pixel wide or tall
 * (where the ring's lines overlap: one row is both the top's and the
 * bottom's) and a wide, thin 2 x 97, and 36 -> 40 channels, where the ring
 * runs in two tasks; gin overwritten (NaN first), 1 and 2 threads
 * bit-identical, guards intact. */
static void check_padded_input_grad_blocks(void)
{
    static const int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 2}, {2, 3}, {3, 2}, {5, 9}, {13, 11}, {2, 97}};
    static const int chans[][2] = {{3, 4}, {36, 40}};
    uint64_t seed = 1300;
    for (int pad = 1; pad < 4; pad++)
        for (size_t ci = 0; ci < 2; ci++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                int h = sizes[si][0], w = sizes[si][1], cin = chans[ci][0], cout = chans[ci][1];
                shape s = make_shape(cin, cout, 3, 1, (stylize_pad_mode)pad, h, w);
                if (!tpad_legal(h, 3, s.g.pad) || !tpad_legal(w, 3, s.g.pad))
                    continue;
                float *wt = FALLOC(n_wt(&s)), *r = FALLOC(n_out(&s));
                float *gin[2] = {FALLOC(n_in(&s)), FALLOC(n_in(&s))};
                double *ref = DALLOC(n_in(&s));
                tu_fill(wt, n_wt(&s), seed, -1, 1);
                tu_fill(r, n_out(&s), seed + 1, -1, 1);
                seed += 2;
                ref_input_grad(ref, r, wt, &s);
                for (int ai = 1; ai < NALGO; ai++) {
                    stylize_conv *conv = make(&s, wt, NULL, algos[ai]);
                    if (!conv)
                        continue;
                    size_t nws = stylize_conv_workspace_floats(conv, h, w);
                    float *ws = ws_alloc(nws);
                    for (int v = 0; v < 2; v++) {
                        stylize_set_threads(v + 1);
                        fill_nan(gin[v], n_in(&s));
                        stylize_conv_backward(conv, gin[v], r, h, w, ws);
                    }
                    stylize_set_threads(2);
                    double e = max_rel_err(gin[1], ref, n_in(&s));
                    if (verbose)
                        printf("padded gin %-9s %-9s %2d->%-2d %2dx%-2d: %.2e\n", algo_names[ai], pad_names[pad], cin,
                               cout, h, w, e);
                    CHECK_MSG(e <= wino_tol[ai] && memcmp(gin[0], gin[1], n_in(&s) * sizeof(float)) == 0 &&
                                  ws_guard_intact(ws, nws),
                              "padded input gradient %s %s %d->%d %dx%d: rel err %g (or threads differ, or guard)",
                              algo_names[ai], pad_names[pad], cin, cout, h, w, e);
                    free(ws);
                    stylize_conv_free(conv);
                }
                free(wt), free(r), free(gin[0]), free(gin[1]), free(ref);
            }
}

/* The above in the Winograd block the plan picks, then in blocks of one
 * tile: there the ring's workspace is the larger need, so the guard checks
 * its size. */
static void check_padded_input_grad(void)
{
    for (int one_tile = 0; one_tile < 2; one_tile++) {
        stylize_conv_testing_wino_block_tiles(one_tile);
        check_padded_input_grad_blocks();
    }
    stylize_conv_testing_wino_block_tiles(0);
}

/* The Winograd weight gradient where it has several blocks of tiles (48 +
 * 64 channels: blocks of 260 tiles in F(4x4), 585 in F(2x2); 48 -> 64 so
 * that a swap of the channel axes fails), against the double reference, accumulating onto gw and gb, with
 * 1 and 2 threads bit-identical. */
static void check_wino_weights_large(int cin, int cout, stylize_pad_mode pad, int h, int w, uint64_t seed)
{
    shape s = make_shape(cin, cout, 3, 1, pad, h, w);
    size_t nwt = n_wt(&s);
    float *wt = FALLOC(nwt), *x = FALLOC(n_in(&s)), *r = FALLOC(n_out(&s));
    float *gw[2] = {FALLOC(nwt), FALLOC(nwt)}, *gb[2] = {FALLOC(cout), FALLOC(cout)};
    double *gw_ref = DALLOC(nwt), *gb_ref = DALLOC(cout);
    tu_fill(wt, nwt, seed, -1, 1);
    tu_fill(x, n_in(&s), seed + 1, -1, 1);
    tu_fill(r, n_out(&s), seed + 2, -1, 1);
    ref_weight_grad(gw_ref, gb_ref, x, r, &s);
    for (int ai = 1; ai < NALGO; ai++) {
        stylize_conv *conv = make(&s, wt, NULL, algos[ai]);
        if (!conv)
            continue;
        CHECK(stylize_conv_winograd_weights_ok(algos[ai], cin, cout));
        size_t nws = stylize_conv_workspace_floats_ex(conv, h, w, 1);
        float *ws = ws_alloc(nws);
        for (int v = 0; v < 2; v++) {
            stylize_set_threads(v + 1);
            for (size_t i = 0; i < nwt; i++)
                gw[v][i] = 0.25f;
            for (int i = 0; i < cout; i++)
                gb[v][i] = -0.5f;
            stylize_conv_backward_weights(conv, gw[v], gb[v], x, r, h, w, ws);
        }
        CHECK_MSG(memcmp(gw[0], gw[1], nwt * sizeof(float)) == 0 && memcmp(gb[0], gb[1], (size_t)cout * sizeof(float)) == 0,
                  "Winograd weights %s %s %d->%d %dx%d: 1 and 2 threads differ", algo_names[ai], pad_names[pad], cin,
                  cout, h, w);
        for (size_t i = 0; i < nwt; i++)
            gw[0][i] -= 0.25f;
        for (int i = 0; i < cout; i++)
            gb[0][i] += 0.5f;
        double ew = max_rel_err(gw[0], gw_ref, nwt), eb = max_rel_err(gb[0], gb_ref, (size_t)cout);
        if (verbose)
            printf("wino weights %-9s %-9s %2d->%-2d %3dx%-3d: weight %.2e bias %.2e\n", algo_names[ai], pad_names[pad],
                   cin, cout, h, w, ew, eb);
        CHECK_MSG(ew <= wino_tol[ai] && eb <= TOL_IM2COL, "Winograd weights %s %s %d->%d %dx%d: weight %g, bias %g",
                  algo_names[ai], pad_names[pad], cin, cout, h, w, ew, eb);
        CHECK_MSG(ws_guard_intact(ws, nws), "Winograd weights %s: guard", algo_names[ai]);
        free(ws);
        stylize_conv_free(conv);
    }
    stylize_set_threads(1);
    free(wt), free(x), free(r), free(gw[0]), free(gw[1]), free(gb[0]), free(gb[1]), free(gw_ref), free(gb_ref);
}

/* The thin paths' gradients (k >= 5, stride 1, 4 or fewer channels on a
 * side: the residual generator's 9x9 ends) at their real widths, against
 * the double references, gw and gb accumulating, 1 and 2 threads
 * bit-identical. */
static void check_thin_grads(int cin, int cout, int k, stylize_pad_mode pad, int h, int w, uint64_t seed)
{
    shape s = make_shape(cin, cout, k, 1, pad, h, w);
    size_t nwt = n_wt(&s), nin = n_in(&s);
    float *wt = FALLOC(nwt), *x = FALLOC(nin), *r = FALLOC(n_out(&s));
    float *gin[2] = {FALLOC(nin), FALLOC(nin)}, *gw[2] = {FALLOC(nwt), FALLOC(nwt)};
    float *gb[2] = {FALLOC(cout), FALLOC(cout)};
    double *gin_ref = DALLOC(nin), *gw_ref = DALLOC(nwt), *gb_ref = DALLOC(cout);
    tu_fill(wt, nwt, seed, -1, 1);
    tu_fill(x, nin, seed + 1, -1, 1);
    tu_fill(r, n_out(&s), seed + 2, -1, 1);
    ref_input_grad(gin_ref, r, wt, &s);
    ref_weight_grad(gw_ref, gb_ref, x, r, &s);
    stylize_conv *conv = make(&s, wt, NULL, STYLIZE_CONV_WINOGRAD);
    if (conv) {
        size_t nws = stylize_conv_workspace_floats_ex(conv, h, w, 1);
        float *ws = ws_alloc(nws);
        for (int v = 0; v < 2; v++) {
            stylize_set_threads(v + 1);
            fill_nan(gin[v], nin);
            stylize_conv_backward(conv, gin[v], r, h, w, ws);
            for (size_t i = 0; i < nwt; i++)
                gw[v][i] = 0.25f;
            for (int i = 0; i < cout; i++)
                gb[v][i] = -0.5f;
            stylize_conv_backward_weights(conv, gw[v], gb[v], x, r, h, w, ws);
        }
        stylize_set_threads(1);
        int same = memcmp(gin[0], gin[1], nin * sizeof(float)) == 0 && memcmp(gw[0], gw[1], nwt * sizeof(float)) == 0 &&
                   memcmp(gb[0], gb[1], (size_t)cout * sizeof(float)) == 0;
        CHECK_MSG(same, "thin k %d %s %d->%d: 1 and 2 threads differ", k, pad_names[pad], cin, cout);
        for (size_t i = 0; i < nwt; i++)
            gw[0][i] -= 0.25f;
        for (int i = 0; i < cout; i++)
            gb[0][i] += 0.5f;
        double ei = max_rel_err(gin[0], gin_ref, nin), ew = max_rel_err(gw[0], gw_ref, nwt);
        double eb = max_rel_err(gb[0], gb_ref, (size_t)cout);
        if (verbose)
            printf("thin grads k %d %-9s %2d->%-2d %3dx%-3d: input %.2e weight %.2e bias %.2e\n", k, pad_names[pad], cin,
                   cout, h, w, ei, ew, eb);
        CHECK_MSG(ei <= TOL_IM2COL && ew <= TOL_IM2COL && eb <= TOL_IM2COL,
                  "thin k %d %s %d->%d %dx%d: input %g, weight %g, bias %g", k, pad_names[pad], cin, cout, h, w, ei,
                  ew, eb);
        CHECK_MSG(ws_guard_intact(ws, nws), "thin k %d %s: guard", k, pad_names[pad]);
        free(ws);
        stylize_conv_free(conv);
    }
    free(wt), free(x), free(r), free(gin[0]), free(gin[1]), free(gw[0]), free(gw[1]), free(gb[0]), free(gb[1]);
    free(gin_ref), free(gw_ref), free(gb_ref);
}

/* The thin paths' blocks and taps per instruction set (AVX-512, whose
 * wide blocks take 3 or fewer output channels, 64 columns while they fit
 * in a row; AVX2; the SSE2 baseline; the input gradient of a layer with 3
 * or fewer input channels is such a forward): the forward (with bias), the
 * input and the weight gradient against the double references, and the
 * same bits with AVX-512 hidden and with AVX2 hidden; widths of whole
 * blocks, and of blocks with partial 16-column groups after them. An
 * instruction set the CPU lacks is skipped (visibly, in the caller). */
enum { THIN_ISAS = 3 };
static void check_thin_isas(int cin, int cout, int k, stylize_pad_mode pad, int h, int w, uint64_t seed)
{
    shape s = make_shape(cin, cout, k, 1, pad, h, w);
    size_t nin = n_in(&s), nout = n_out(&s), nwt = n_wt(&s);
    float *wt = FALLOC(nwt), *b = FALLOC(cout), *x = FALLOC(nin), *r = FALLOC(nout), *out[THIN_ISAS];
    float *gin[THIN_ISAS], *gw[THIN_ISAS];
    double *out_ref = DALLOC(nout), *gin_ref = DALLOC(nin), *gw_ref = DALLOC(nwt), *gb_ref = DALLOC(cout);
    for (int v = 0; v < THIN_ISAS; v++)
        out[v] = FALLOC(nout), gin[v] = FALLOC(nin), gw[v] = FALLOC(nwt);
    tu_fill(wt, nwt, seed, -1, 1);
    tu_fill(b, (size_t)cout, seed + 1, -2, 2);
    tu_fill(x, nin, seed + 2, -1, 1);
    tu_fill(r, nout, seed + 3, -1, 1);
    ref_forward(out_ref, x, wt, b, &s);
    ref_input_grad(gin_ref, r, wt, &s);
    ref_weight_grad(gw_ref, gb_ref, x, r, &s);
    stylize_conv *conv = make(&s, wt, b, STYLIZE_CONV_WINOGRAD);
    /* 0: this CPU's blocks; 1: AVX-512 hidden (AVX2's), if it has AVX-512; 2: AVX2 hidden (SSE2's) */
    int has[THIN_ISAS] = {1, stylize_cpu()->avx512f, stylize_cpu()->avx2};
    if (conv) {
        size_t nws = stylize_conv_workspace_floats_ex(conv, h, w, 1);
        float *ws = ws_alloc(nws);
        for (int v = 0; v < THIN_ISAS; v++) {
            if (!has[v])
                continue;
            stylize_cpu_testing_disable_avx512(v == 1);
            if (v == 2)
                stylize_cpu_testing_disable_avx2(1);
            fill_nan(out[v], nout);
            fill_nan(gin[v], nin);
            memset(gw[v], 0, nwt * sizeof(float));
            stylize_conv_forward(conv, out[v], x, h, w, ws);
            stylize_conv_backward(conv, gin[v], r, h, w, ws);
            stylize_conv_backward_weights(conv, gw[v], NULL, x, r, h, w, ws);
        }
        stylize_cpu_testing_disable_avx2(0);
        double eo = max_rel_err(out[0], out_ref, nout), ei = max_rel_err(gin[0], gin_ref, nin);
        double ew = max_rel_err(gw[0], gw_ref, nwt);
        if (verbose)
            printf("thin isas k %d %-9s %2d->%-2d %3dx%-3d: forward %.2e input %.2e weight %.2e\n", k, pad_names[pad],
                   cin, cout, h, w, eo, ei, ew);
        CHECK_MSG(eo <= TOL_IM2COL && ei <= TOL_IM2COL && ew <= TOL_IM2COL,
                  "thin isas k %d %s %d->%d %dx%d: forward %g, input %g, weight %g", k, pad_names[pad], cin, cout, h,
                  w, eo, ei, ew);
        for (int v = 1; v < THIN_ISAS; v++)
            if (has[v])
                CHECK_MSG(memcmp(out[0], out[v], nout * sizeof(float)) == 0 &&
                              memcmp(gin[0], gin[v], nin * sizeof(float)) == 0 &&
                              memcmp(gw[0], gw[v], nwt * sizeof(float)) == 0,
                          "thin k %d %s %d->%d %dx%d: %s hidden differs", k, pad_names[pad], cin, cout, h, w,
                          v == 1 ? "AVX-512" : "AVX2");
        CHECK_MSG(ws_guard_intact(ws, nws), "thin isas k %d %s: guard", k, pad_names[pad]);
        free(ws);
        stylize_conv_free(conv);
    }
    for (int v = 0; v < THIN_ISAS; v++)
        free(out[v]), free(gin[v]), free(gw[v]);
    free(wt), free(b), free(x), free(r), free(out_ref), free(gin_ref), free(gw_ref), free(gb_ref);
}

static void check_thin_isas_all(void)
{
    if (!stylize_cpu()->avx512f)
        printf("SKIP: this CPU has no AVX-512; the thin paths' AVX-512 blocks are not compared here\n");
    if (!stylize_cpu()->avx2)
        printf("SKIP: this CPU has no AVX2; only the thin paths' SSE2 blocks are checked here\n");
    /* w mod 64 from 49 to 63 (55, 63; the 9x9 gradients' padded widths
     * 120, 128 from 112, 120): a bound one group too loose writes past the
     * row there */
    static const int widths[] = {55, 63, 64, 70, 112, 120, 128, 143};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        uint64_t seed = 990 + 10 * i;
        check_thin_isas(32, 3, 9, STYLIZE_PAD_REFLECT, 11, widths[i], seed);      /* the residual's last */
        check_thin_isas(3, 32, 9, STYLIZE_PAD_CIRCULAR, 9, widths[i], seed + 1);  /* its first: gradient */
        check_thin_isas(5, 2, 5, STYLIZE_PAD_REPLICATE, 6, widths[i], seed + 2);
        check_thin_isas(6, 1, 7, STYLIZE_PAD_ZERO, 7, widths[i], seed + 3);
        check_thin_isas(3, 6, 9, STYLIZE_PAD_REFLECT, 5, widths[i], seed + 4);    /* wide from channel 4 */
    }
}

/* gw and gb accumulate: two calls add twice the gradient. */
static void check_accumulate(void)
{
    shape s = make_shape(3, 5, 5, 2, STYLIZE_PAD_REFLECT, 9, 8);
    float *wt = FALLOC(n_wt(&s)), *x = FALLOC(n_in(&s)), *r = FALLOC(n_out(&s));
    float *g1 = FALLOC(n_wt(&s)), *g2 = FALLOC(n_wt(&s)), b1[5] = {0}, b2[5] = {0};
    tu_fill(wt, n_wt(&s), 71, -1, 1);
    tu_fill(x, n_in(&s), 72, -1, 1);
    tu_fill(r, n_out(&s), 73, -1, 1);
    memset(g1, 0, n_wt(&s) * sizeof(float));
    memset(g2, 0, n_wt(&s) * sizeof(float));
    stylize_conv *conv = make(&s, wt, NULL, STYLIZE_CONV_IM2COL);
    if (conv) {
        size_t nws = stylize_conv_workspace_floats_ex(conv, s.h, s.w, 1);
        float *ws = ws_alloc(nws);
        stylize_conv_backward_weights(conv, g1, b1, x, r, s.h, s.w, ws);
        stylize_conv_backward_weights(conv, g2, b2, x, r, s.h, s.w, ws);
        stylize_conv_backward_weights(conv, g2, b2, x, r, s.h, s.w, ws);
        stylize_conv_backward_weights(conv, g2, NULL, x, r, s.h, s.w, ws); /* gb NULL */
        for (size_t i = 0; i < n_wt(&s); i++)
            g1[i] *= 3;
        for (int i = 0; i < 5; i++)
            b1[i] *= 2;
        CHECK(max_rel_err_f(g2, g1, n_wt(&s)) < 1e-6);
        CHECK(max_rel_err_f(b2, b1, 5) < 1e-6);
        CHECK(ws_guard_intact(ws, nws));
        free(ws);
        stylize_conv_free(conv);
    }
    free(wt);
    free(x);
    free(r);
    free(g1);
    free(g2);
}

/* <conv(x), y> == <x, conv^T(y)> with no bias, every padding mode and stride. */
static void check_adjoint(int cin, int cout, int k, int st, stylize_pad_mode pad, int h, int w,
                          uint64_t seed)
{
    shape s = make_shape(cin, cout, k, st, pad, h, w);
    float *wt = FALLOC(n_wt(&s)), *x = FALLOC(n_in(&s)), *y = FALLOC(n_out(&s));
    float *cx = FALLOC(n_out(&s)), *cty = FALLOC(n_in(&s));
    tu_fill(wt, n_wt(&s), seed, -1, 1);
    tu_fill(x, n_in(&s), seed + 1, -1, 1);
    tu_fill(y, n_out(&s), seed + 2, -1, 1);
    stylize_conv *conv = make(&s, wt, NULL, STYLIZE_CONV_IM2COL);
    if (conv) {
        size_t nws = stylize_conv_workspace_floats(conv, h, w);
        float *ws = ws_alloc(nws);
        stylize_conv_forward(conv, cx, x, h, w, ws);
        stylize_conv_backward(conv, cty, y, h, w, ws);
        CHECK(ws_guard_intact(ws, nws));
        double a = 0, b = 0;
        for (size_t i = 0; i < n_out(&s); i++)
            a += (double)cx[i] * (double)y[i];
        for (size_t i = 0; i < n_in(&s); i++)
            b += (double)x[i] * (double)cty[i];
        double rel = fabs(a - b) / fmax(1.0, fmax(fabs(a), fabs(b)));
        if (verbose)
            printf("adjoint  k %d s %d %-9s %2d->%-2d %3dx%-3d: rel %.2e\n", k, st,
                   pad_names[pad], cin, cout, h, w, rel);
        CHECK_MSG(rel <= TOL_IM2COL, "adjoint k %d s %d %s: <conv x, y> %.9g, <x, convT y> %.9g",
                  k, st, pad_names[pad], a, b);
        free(ws);
        stylize_conv_free(conv);
    }
    free(wt);
    free(x);
    free(y);
    free(cx);
    free(cty);
}

static void check_adjoint_all(void)
{
    uint64_t seed = 800;
    for (int st = 1; st <= 2; st++)
        for (int pad = 0; pad < 4; pad++) {
            check_adjoint(4, 6, 3, st, (stylize_pad_mode)pad, 13, 10, seed);
            check_adjoint(3, 2, 7, st, (stylize_pad_mode)pad, 8, 15, seed + 5);
            seed += 10;
        }
}

/* ---- refresh ------------------------------------------------------------ */

/* Forward and backward of conv (weights wt now, input x, gradient r)
 * against the references; returns the worst relative error. */
static double conv_error(stylize_conv *conv, const shape *s, const float *wt, const float *b,
                         const float *x, const float *r)
{
    float *out = FALLOC(n_out(s)), *gin = FALLOC(n_in(s));
    double *ref = DALLOC(n_out(s)), *gref = DALLOC(n_in(s));
    float *ws = ws_alloc(stylize_conv_workspace_floats(conv, s->h, s->w));
    stylize_conv_forward(conv, out, x, s->h, s->w, ws);
    stylize_conv_backward(conv, gin, r, s->h, s->w, ws);
    ref_forward(ref, x, wt, b, s);
    ref_input_grad(gref, r, wt, s);
    double e = fmax(max_rel_err(out, ref, n_out(s)), max_rel_err(gin, gref, n_in(s)));
    free(ws);
    free(out);
    free(gin);
    free(ref);
    free(gref);
    return e;
}

/* Changes the borrowed weights in place: without refresh, the cached
 * kernels (Winograd forward and backward, im2col backward) are stale and
 * the results wrong; after refresh they match the new weights. The general
 * path has no cache and is right either way. */
static void check_refresh(void)
{
    /* cases: the algorithms zero-padded, the Winograd ones replicate-padded
     * (the ring kernel of the input gradient is in the cache too), the
     * general path */
    for (int ci = 0; ci < 2 * NALGO; ci++) {
        int general = ci == 2 * NALGO - 1, padded = ci >= NALGO && !general;
        int ai = padded ? ci - NALGO + 1 : ci;
        shape s = make_shape(5, 6, general ? 5 : 3, 1,
                             general  ? STYLIZE_PAD_REFLECT
                             : padded ? STYLIZE_PAD_REPLICATE
                                      : STYLIZE_PAD_ZERO,
                             11, 13);
        float *wt = FALLOC(n_wt(&s)), *b = FALLOC(6), *x = FALLOC(n_in(&s)),
              *r = FALLOC(n_out(&s)); /* general: 5x5 reflect (3x3 reflect runs Winograd) */
        tu_fill(wt, n_wt(&s), 31, -1, 1);
        tu_fill(b, 6, 32, -1, 1);
        tu_fill(x, n_in(&s), 33, -1, 1);
        tu_fill(r, n_out(&s), 34, -1, 1);
        stylize_conv *conv = make(&s, wt, b, general ? STYLIZE_CONV_WINOGRAD : algos[ai]);
        char name[32];
        snprintf(name, sizeof name, "%s%s", general ? "general" : algo_names[ai], padded ? " replicate" : "");
        double tol = general ? TOL_IM2COL : wino_tol[ai];
        if (conv) {
            CHECK_MSG(conv_error(conv, &s, wt, b, x, r) <= tol, "%s before the change", name);
            tu_fill(wt, n_wt(&s), 35, -1, 1); /* an optimiser step */
            tu_fill(b, 6, 36, -1, 1);
            double stale = conv_error(conv, &s, wt, b, x, r);
            if (general)
                CHECK_MSG(stale <= tol, "general path without refresh: %g", stale);
            else
                CHECK_MSG(stale > 1e-2, "%s without refresh must be wrong: %g", name, stale);
            stylize_conv_refresh(conv);
            double e = conv_error(conv, &s, wt, b, x, r);
            if (verbose)
                printf("refresh  %-9s: stale %.2e refreshed %.2e\n", name, stale, e);
            CHECK_MSG(e <= tol, "%s after refresh: %g", name, e);
            stylize_conv_free(conv);
        }
        free(wt);
        free(b);
        free(x);
        free(r);
    }
}

/* ---- memory plan -------------------------------------------------------- */

/* create_ex on a dry plan counts exactly stylize_conv_kernel_bytes and
 * computes nothing (weight NULL), free returns the count to 0; a live plan
 * counts the same; set_algo moves the count to the new kernel. */
static void check_mem_plan(void)
{
    static const stylize_conv_geom geoms[] = {{64, 32, 3, 1, STYLIZE_PAD_ZERO},
                                              {3, 32, 9, 1, STYLIZE_PAD_REFLECT},
                                              {32, 64, 3, 2, STYLIZE_PAD_ZERO},
                                              {16, 16, 3, 1, STYLIZE_PAD_REPLICATE}};
    for (size_t gi = 0; gi < sizeof geoms / sizeof geoms[0]; gi++)
        for (int ai = 0; ai < NALGO; ai++) {
            const stylize_conv_geom *g = &geoms[gi];
            size_t kb = stylize_conv_kernel_bytes(g, algos[ai]);
            size_t pairs = (size_t)g->cin * g->cout;
            size_t per = ai == 0 ? 9 : ai == 1 ? 36 : 16;
            size_t expect = is_3x3(g) || (is_padded_3x3(g) && ai > 0) ? pairs * per * 4 : 0;
            if (is_padded_3x3(g) && ai > 0) /* the ring kernel (9 taps) on the next 64 bytes */
                expect = ((expect + 63) / 64 * 64) + pairs * 9 * 4;
            CHECK_MSG(kb == expect, "kernel bytes geom %zu %s: %zu, expected %zu", gi,
                      algo_names[ai], kb, expect);
            CHECK(!is_3x3(g) || kb < stylize_conv_owned_bytes(algos[ai], g->cin, g->cout));
            stylize_mem dry;
            stylize_mem_init(&dry, 1);
            stylize_conv *conv = NULL;
            CHECK(stylize_conv_create_ex(&conv, g, NULL, NULL, algos[ai], &dry, NULL) ==
                  STYLIZE_OK);
            CHECK_MSG(dry.cur == kb && dry.peak == kb, "dry geom %zu %s: cur %zu peak %zu", gi,
                      algo_names[ai], dry.cur, dry.peak);
            if (conv) {
                CHECK(stylize_conv_workspace_floats_ex(conv, 32, 32, 1) ==
                      stylize_conv_geom_workspace_floats(g, algos[ai], 32, 32, 1));
                stylize_conv_refresh(conv); /* no-op without weights */
                int other = (ai + 1) % NALGO;
                stylize_conv_set_algo(conv, algos[other]);
                CHECK(dry.cur == stylize_conv_kernel_bytes(g, algos[other]));
            }
            stylize_conv_free(conv);
            CHECK(dry.cur == 0);

            size_t nwt = (size_t)g->cout * g->cin * g->k * g->k;
            float *wt = FALLOC(nwt);
            tu_fill(wt, nwt, 41, -1, 1);
            stylize_mem live;
            stylize_mem_init(&live, 0);
            conv = NULL;
            CHECK(stylize_conv_create_ex(&conv, g, wt, NULL, algos[ai], &live, NULL) ==
                  STYLIZE_OK);
            CHECK_MSG(live.cur == kb, "live geom %zu %s: cur %zu", gi, algo_names[ai], live.cur);
            if (conv) {
                CHECK(stylize_conv_get_algo(conv) ==
                      (is_3x3(g) || (is_padded_3x3(g) && ai > 0) ? algos[ai] : STYLIZE_CONV_IM2COL));
                stylize_conv_set_algo(conv, STYLIZE_CONV_WINOGRAD_F2);
                CHECK(live.cur == stylize_conv_kernel_bytes(g, STYLIZE_CONV_WINOGRAD_F2));
            }
            stylize_conv_free(conv);
            CHECK(live.cur == 0);
            free(wt);
        }
}

/* ---- workspace ---------------------------------------------------------- */

/* Thin geometries (k >= 5, stride 1, 4 or fewer channels on a side): every
 * direction direct. Forward and weight gradient: the padded input
 * (cin, H2, W2) + 16; input gradient: the flipped kernel, and a band of R
 * rows of gP (cin, R, W2) with the R + k - 1 rows of the zero-embedded
 * output gradient it reads (cout, R + k - 1, w + 4p) + 16, R as many rows
 * as the bound holds. */
static void check_thin_workspace(void)
{
    stylize_conv_geom g = {128, 2, 15, 1, STYLIZE_PAD_ZERO};
    size_t fwd = (size_t)128 * 17 * 614 + 16, fixed = (size_t)128 * 2 * 225 + (size_t)2 * 14 * 628 + 16;
    size_t per_row = (size_t)2 * 628 + (size_t)128 * 614; /* all 17 rows of gP in one band */
    size_t bwd = fixed + 17 * per_row;
    CHECK(bwd > fwd);
    CHECK(stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_IM2COL, 3, 600, 1) == bwd);
    CHECK(stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_IM2COL, 3, 600, 0) == bwd);
    /* 256 -> 1, 5 x 5 at 14 x 4096: gP's 18 rows do not all fit: banded,
     * within the bound (the forward's padded input is not banded: larger) */
    stylize_conv_geom t = {256, 1, 5, 1, STYLIZE_PAD_REFLECT};
    per_row = (size_t)1 * 4104 + (size_t)256 * 4100;
    fixed = (size_t)256 * 25 + (size_t)1 * 4 * 4104 + 16;
    size_t rows = (STYLIZE_CONV_WORKSPACE_MAX_FLOATS - fixed) / per_row;
    CHECK(rows < 18 && fixed + rows * per_row <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS);
    fwd = (size_t)256 * 18 * 4100 + 16;
    size_t n = stylize_conv_geom_workspace_floats(&t, STYLIZE_CONV_IM2COL, 14, 4096, 1);
    CHECK_MSG(n == (fwd > fixed + rows * per_row ? fwd : fixed + rows * per_row), "thin 256->1 14x4096: %zu", n);
}

/* The rules: for 3x3 geometries and no weight gradient, exactly the old
 * query; with it, at least the Winograd weight gradient's buffers (V, M for
 * a block of tiles and dU (a^2, cout, cin), within the bound; Winograd
 * algorithms while dU fits half of it) or else the im2col matrix of the
 * input; the general path needs one band of the im2col matrix, within the
 * bound unless one output row alone is larger. */
static void check_workspace_rules(void)
{
    static const int shapes[][4] = {{3, 64, 512, 384}, {64, 64, 37, 29}, {256, 512, 64, 64},
                                    {512, 512, 32, 32}, {64, 3, 1, 1}, {512, 1, 2, 4096}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int ai = 0; ai < NALGO; ai++) {
            int cin = shapes[i][0], cout = shapes[i][1], h = shapes[i][2], w = shapes[i][3];
            stylize_conv_geom g = {cin, cout, 3, 1, STYLIZE_PAD_ZERO};
            size_t old = stylize_conv_algo_workspace_floats(algos[ai], cin, cout, h, w);
            size_t n0 = stylize_conv_geom_workspace_floats(&g, algos[ai], h, w, 0);
            size_t n1 = stylize_conv_geom_workspace_floats(&g, algos[ai], h, w, 1);
            size_t row = (size_t)cin * 9 * w;
            size_t rows = STYLIZE_CONV_WORKSPACE_MAX_FLOATS / row;
            rows = rows < 1 ? 1 : rows > (size_t)h ? (size_t)h : rows;
            size_t col = row * rows;
            CHECK_MSG(n0 == old, "%s %d->%d %dx%d: ex %zu, old %zu", algo_names[ai], cin, cout,
                      h, w, n0, old);
            int aa = ai == 1 ? 36 : 16, wino = ai > 0 && (size_t)aa * cin * cout <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS / 2;
            CHECK(stylize_conv_winograd_weights_ok(algos[ai], cin, cout) == wino);
            if (wino) {
                col = stylize_conv_winograd_weights_floats(algos[ai], cin, cout, h, w);
                CHECK_MSG(col <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS && col >= (size_t)aa * (cin + 1) * (cout + 1) - aa,
                          "%s %d->%d: Winograd weight gradient %zu floats", algo_names[ai], cin, cout, col);
            }
            CHECK_MSG(n1 == (old > col ? old : col), "%s %d->%d %dx%d weight grad: %zu",
                      algo_names[ai], cin, cout, h, w, n1);
            if (ai == 0)
                CHECK(n1 == n0); /* the 3x3 im2col workspace already holds the matrix */
            /* the same through an object (on a dry plan: no kernel is made) */
            stylize_mem dry;
            stylize_mem_init(&dry, 1);
            stylize_conv *conv = NULL;
            CHECK(stylize_conv_create_ex(&conv, &g, NULL, NULL, algos[ai], &dry, NULL) ==
                  STYLIZE_OK);
            if (conv) {
                CHECK(stylize_conv_workspace_floats_ex(conv, h, w, 0) == old);
                CHECK(stylize_conv_workspace_floats(conv, h, w) == old);
                CHECK(stylize_conv_workspace_floats_ex(conv, h, w, 1) == n1);
            }
            stylize_conv_free(conv);
        }
    /* general path: one band of the im2col matrix of cin k k rows of band * ow */
    stylize_conv_geom g = {64, 2, 9, 2, STYLIZE_PAD_REFLECT};
    size_t row = (size_t)64 * 81 * 200; /* 80 x 400 in: 40 x 200 out */
    size_t expect = row * (STYLIZE_CONV_WORKSPACE_MAX_FLOATS / row);
    CHECK(stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_WINOGRAD, 80, 400, 0) == expect);
    CHECK(stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_IM2COL, 80, 400, 1) == expect);
    CHECK(expect <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS && expect < row * 40);
    g.k = 15;
    g.cin = 128;
    g.cout = 8;   /* not thin: the im2col matrix */
    g.stride = 1; /* one 600-column output row: 128 * 225 * 600 floats > the bound */
    g.pad = STYLIZE_PAD_ZERO;
    CHECK(stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_IM2COL, 3, 600, 1) ==
          (size_t)128 * 225 * 600);
    g.pad = STYLIZE_PAD_REFLECT;
    CHECK(stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_IM2COL, 7, 600, 0) == 0);
    CHECK(stylize_conv_geom_workspace_floats(&g, STYLIZE_CONV_IM2COL, 0, 600, 0) == 0);
}

/* A general convolution over several row bands (and, for the wide one, one
 * row per band that exceeds the bound): forward, input gradient and weight
 * gradient against the references, at 1 and 3 threads, guards intact. */
static void check_bands(int cin, int cout, int k, int st, stylize_pad_mode pad, int h, int w,
                        uint64_t seed)
{
    shape s = make_shape(cin, cout, k, st, pad, h, w);
    float *wt = FALLOC(n_wt(&s)), *b = FALLOC(cout), *x = FALLOC(n_in(&s));
    float *r = FALLOC(n_out(&s)), *out = FALLOC(n_out(&s)), *gin = FALLOC(n_in(&s));
    float *gw = FALLOC(n_wt(&s)), *gb = FALLOC(cout);
    double *ref = DALLOC(n_out(&s)), *gref = DALLOC(n_in(&s)), *gwref = DALLOC(n_wt(&s));
    double *gbref = DALLOC(cout);
    tu_fill(wt, n_wt(&s), seed, -0.1f, 0.1f);
    tu_fill(b, (size_t)cout, seed + 1, -1, 1);
    tu_fill(x, n_in(&s), seed + 2, -1, 1);
    tu_fill(r, n_out(&s), seed + 3, -1, 1);
    ref_forward(ref, x, wt, b, &s);
    ref_input_grad(gref, r, wt, &s);
    ref_weight_grad(gwref, gbref, x, r, &s);
    static const int threads[2] = {1, 3};
    for (int ti = 0; ti < 2; ti++) {
        stylize_set_threads(threads[ti]);
        stylize_conv *conv = make(&s, wt, b, STYLIZE_CONV_IM2COL);
        if (!conv)
            continue;
        size_t nws = stylize_conv_workspace_floats_ex(conv, h, w, 1);
        float *ws = ws_alloc(nws);
        fill_nan(out, n_out(&s));
        fill_nan(gin, n_in(&s));
        memset(gw, 0, n_wt(&s) * sizeof(float));
        memset(gb, 0, (size_t)cout * sizeof(float));
        stylize_conv_forward(conv, out, x, h, w, ws);
        stylize_conv_backward(conv, gin, r, h, w, ws);
        stylize_conv_backward_weights(conv, gw, gb, x, r, h, w, ws);
        double ef = max_rel_err(out, ref, n_out(&s)), ei = max_rel_err(gin, gref, n_in(&s));
        double ew = max_rel_err(gw, gwref, n_wt(&s)), eb = max_rel_err(gb, gbref, (size_t)cout);
        if (verbose)
            printf("bands    k %d s %d %-9s %3d->%-2d %3dx%-3d threads %d ws %zu: fwd %.1e in "
                   "%.1e w %.1e b %.1e\n",
                   k, st, pad_names[pad], cin, cout, h, w, threads[ti], nws, ef, ei, ew, eb);
        CHECK_MSG(ef <= TOL_IM2COL && ei <= TOL_IM2COL && ew <= TOL_IM2COL && eb <= TOL_IM2COL,
                  "bands k %d s %d %s %dx%d threads %d: fwd %g in %g w %g b %g", k, st,
                  pad_names[pad], h, w, threads[ti], ef, ei, ew, eb);
        CHECK(ws_guard_intact(ws, nws));
        free(ws);
        stylize_conv_free(conv);
    }
    stylize_set_threads(2);
    free(wt);
    free(b);
    free(x);
    free(r);
    free(out);
    free(gin);
    free(gw);
    free(gb);
    free(ref);
    free(gref);
    free(gwref);
    free(gbref);
}

int main(void)
{
    const char *v = getenv("TEST_CONV_VERBOSE");
    verbose = v && *v && *v != '0';
    stylize_set_threads(2); /* exercise the pool even under OPENBLAS_NUM_THREADS=1 */

    check_out_side();
    check_geom_check();
    check_pad_by_hand();
    check_direct();
    check_forward_all();
    check_grads_all();
    check_padded_forward_algos();
    check_avx512_input_bits();
    check_grads_3x3_algos();
    check_padded_input_grad();
    check_wino_weights_large(48, 64, STYLIZE_PAD_ZERO, 130, 70, 81);
    check_wino_weights_large(64, 48, STYLIZE_PAD_REFLECT, 66, 75, 82);
    check_wino_weights_large(48, 64, STYLIZE_PAD_REPLICATE, 70, 67, 88);
    check_wino_weights_large(64, 48, STYLIZE_PAD_CIRCULAR, 67, 70, 89);
    check_thin_grads(32, 3, 9, STYLIZE_PAD_REFLECT, 40, 37, 83);
    check_thin_grads(3, 32, 9, STYLIZE_PAD_CIRCULAR, 37, 40, 84);
    check_thin_grads(4, 5, 5, STYLIZE_PAD_REPLICATE, 21, 19, 85);
    check_thin_grads(2, 1, 15, STYLIZE_PAD_ZERO, 17, 30, 86);
    check_thin_grads(256, 1, 5, STYLIZE_PAD_REFLECT, 14, 4096, 87); /* the input gradient in 2 bands */
    check_thin_isas_all();
    check_accumulate();
    check_adjoint_all();
    check_refresh();
    check_mem_plan();
    check_workspace_rules();
    check_thin_workspace();
    /* 64 * 81 * 200 floats per output row: bands of 16 rows (16 + 4),
     * whose stride-2 reads of the input overlap */
    check_bands(64, 2, 9, 2, STYLIZE_PAD_REFLECT, 40, 400, 901);
    /* one output row alone exceeds the bound: one-row bands */
    check_bands(128, 1, 15, 1, STYLIZE_PAD_REPLICATE, 2, 600, 902);
    /* many channels, 3x3 reflect (a generator's residual block) */
    check_bands(32, 16, 3, 1, STYLIZE_PAD_REFLECT, 33, 31, 903);
    check_bands(16, 32, 3, 2, STYLIZE_PAD_CIRCULAR, 33, 31, 904);

    return TEST_SUMMARY();
}
