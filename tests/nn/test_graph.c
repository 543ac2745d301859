/* The layer graph: central finite differences of every op's input and
 * parameter gradients through the executor (every padding mode, stride 2,
 * odd sizes, batch 2, instance norm at a constant input), a DAG with
 * concatenation and residual addition whose lean plan (scratch slots,
 * in-place ops, zero-copy concatenation, ReLU masks) must give bit-identical
 * outputs and gradients to the plan that keeps everything, with two
 * threads; activations fused into instance norms (bit for bit, and a
 * generator's blocks in three plans); pooling and upsampling in bands on two
 * threads against naive loops; dry plans that count exactly what live ones
 * allocate; refreshed Winograd kernels after a parameter update; and
 * build-time errors. */
#include "stylize/nn/graph.h"
#include "stylize/nn/norm.h"
#include "stylize/nn/activation.h"
#include "stylize/nn/resample.h"
#include "stylize/core/rng.h"
#include "stylize/core/threads.h"

#include "testutil.h"

#define N_BATCH 2

typedef struct {
    stylize_graph_desc *d;
    stylize_params p;
    stylize_graph *g;
    int out;          /* the node the loss reads */
    float *x;         /* the input (N, C, H, W) */
    float *gx;        /* its gradient */
    float *R;         /* (N, C, H, W) of the output: L = sum out * R */
    size_t nx, nr;
} gcase;

static void inject_r(void *user, int node, const float *act, float *grad, const stylize_tshape *s,
                     size_t gs)
{
    const gcase *c = user;
    (void)act;
    if (node != c->out)
        return;
    size_t e = (size_t)s->c * s->h * s->w;
    for (int b = 0; b < s->n; b++)
        for (size_t k = 0; k < e; k++)
            grad[(size_t)b * gs + k] += c->R[(size_t)b * e + k];
}

/* L = sum out * R after a forward at c->x. */
static double loss(gcase *c)
{
    stylize_graph_params_changed(c->g);
    const float *in = c->x;
    stylize_graph_forward(c->g, &in);
    stylize_tshape s;
    stylize_graph_shape(c->g, c->out, &s);
    const float *y = stylize_graph_output(c->g, c->out);
    size_t e = (size_t)s.c * s.h * s.w;
    double v = 0;
    for (int b = 0; b < s.n; b++)
        for (size_t k = 0; k < e; k++)
            v += (double)y[(size_t)b * s.nstride + k] * c->R[(size_t)b * e + k];
    return v;
}

static double f_input(void *u, const float *x)
{
    (void)x; /* c->x is perturbed in place */
    return loss(u);
}

static double f_param(void *u, const float *p)
{
    (void)p; /* c->p.value is perturbed in place */
    return loss(u);
}

/* Analytic gradients: input into c->gx, parameters into c->p.grad. */
static void gradients(gcase *c)
{
    stylize_params_zero_grad(&c->p);
    loss(c);
    stylize_graph_backward(c->g, inject_r, c, &c->gx);
}

/* The convolution algorithm of instantiate's graphs (see fd_case). */
static stylize_conv_algo g_algo = STYLIZE_CONV_IM2COL;

/* Creates c->g for c->d at (N, H, W) with the output kept (keep: NULL = all). */
static int instantiate(gcase *c, int C, int H, int W, const unsigned char *keep, int param_grad)
{
    stylize_error err;
    stylize_graph_opts o;
    stylize_graph_opts_defaults(&o);
    o.batch = N_BATCH, o.height = H, o.width = W, o.keep = keep, o.param_grad = param_grad;
    o.algo = g_algo; /* see fd_case */
    if (stylize_params_create(&c->p, c->d, NULL, &err) != STYLIZE_OK)
        return 0;
    stylize_params_init(&c->p, c->d, 11);
    stylize_rng r;
    stylize_rng_seed(&r, 5);
    for (size_t k = 0; k < c->p.n; k++) /* scales and shifts off 1 and 0 */
        c->p.value[k] += 0.2f * (stylize_rng_uniform(&r) - 0.5f);
    if (stylize_graph_create(&c->g, c->d, &c->p, &o, NULL, &err) != STYLIZE_OK) {
        fprintf(stderr, "graph: %s\n", err.msg);
        return 0;
    }
    c->nx = (size_t)N_BATCH * C * H * W;
    stylize_tshape s;
    stylize_graph_shape(c->g, c->out, &s);
    c->nr = (size_t)N_BATCH * s.c * s.h * s.w;
    c->x = malloc(c->nx * sizeof(float));
    c->gx = malloc(c->nx * sizeof(float));
    c->R = malloc(c->nr * sizeof(float));
    if (!c->x || !c->gx || !c->R)
        return 0;
    tu_fill(c->x, c->nx, 3, -1, 1);
    tu_fill(c->R, c->nr, 4, -1, 1);
    return 1;
}

static void release(gcase *c)
{
    stylize_graph_free(c->g);
    stylize_params_free(&c->p);
    stylize_graph_desc_free(c->d);
    free(c->x), free(c->gx), free(c->R);
    memset(c, 0, sizeof *c);
}

/* Finite differences of the input and parameter gradients of c: central
 * differences that allow for kinks (ReLU, max pooling:
 * tu_fd_check_piecewise), errors relative to the larger of the component
 * and 2% of the largest one. Steps: 5e-3 for the inputs (the float32
 * forward's rounding, ~3e-6 of the loss, must stay small against h times
 * the derivative) and 5e-4 for the parameters (a weight moves every
 * pre-activation of its layer: larger steps cross kinks in numbers). The
 * graphs run im2col convolutions: Winograd's rounding (about 1e-6 of the
 * loss) is too large for such small steps (2.5-3.5% errors); the Winograd
 * paths are checked against direct loops in test_conv_general.c, in the
 * DAG test here and against PyTorch in the cross-checks. */
static void fd_case(gcase *c, const char *what)
{
    gradients(c);
    float *gp = malloc((c->p.n ? c->p.n : 1) * sizeof(float));
    if (!gp)
        return;
    memcpy(gp, c->p.grad, c->p.n * sizeof(float));
    double wi = tu_fd_check_piecewise(f_input, c, c->x, c->gx, c->nx, 5e-3f, 60, 2e-2, 2e-2, NULL);
    CHECK_MSG(wi < 2e-2, "%s: input gradient rel err %g", what, wi);
    if (c->p.n) {
        double wp = tu_fd_check_piecewise(f_param, c, c->p.value, gp, c->p.n, 5e-4f, 80, 2e-2, 2e-2, NULL);
        CHECK_MSG(wp < 2e-2, "%s: parameter gradient rel err %g", what, wp);
    }
    free(gp);
}

/* input (C) -> conv(k, stride, pad) -> output, every combination. */
static void check_convs(void)
{
    static const char *const pads[] = {"zero", "reflect", "replicate", "circular"};
    const int ks[] = {1, 3, 9};
    for (int ki = 0; ki < 3; ki++)
        for (int s = 1; s <= 2; s++)
            for (int pad = 0; pad < 4; pad++) {
                gcase c = {0};
                char what[64];
                snprintf(what, sizeof what, "conv k%d s%d %s", ks[ki], s, pads[pad]);
                stylize_graph_desc_create(&c.d, NULL);
                int x = stylize_gd_input(c.d, 3);
                c.out = stylize_gd_conv(c.d, x, 4, ks[ki], s, (stylize_pad_mode)pad, pad != 1);
                if (instantiate(&c, 3, 11, 10, NULL, 1))
                    fd_case(&c, what);
                else
                    CHECK_MSG(0, "%s: could not build", what);
                release(&c);
            }
}

/* input -> conv -> op -> output for the other ops (the conv gives the op
 * inputs of both signs and puts a trainable layer in front of it). */
static void check_ops(void)
{
    for (int op = 0; op < 9; op++) {
        gcase c = {0};
        const char *names[] = {"inorm affine", "inorm", "relu", "lrelu", "maxpool", "avgpool 2",
                               "avgpool 4", "upsample", "affine"};
        stylize_graph_desc_create(&c.d, NULL);
        int x = stylize_gd_input(c.d, 3);
        int y = stylize_gd_conv(c.d, x, 5, 3, 1, STYLIZE_PAD_REPLICATE, 1);
        switch (op) {
        case 0: y = stylize_gd_inorm(c.d, y, 1); break;
        case 1: y = stylize_gd_inorm(c.d, y, 0); break;
        case 2: y = stylize_gd_relu(c.d, y); break;
        case 3: y = stylize_gd_lrelu(c.d, y, 0.1f); break;
        case 4: y = stylize_gd_maxpool(c.d, y); break;
        case 5: y = stylize_gd_avgpool(c.d, y, 1); break;
        case 6: y = stylize_gd_avgpool(c.d, y, 2); break;
        case 7: y = stylize_gd_upsample(c.d, y); break;
        default: y = stylize_gd_affine(c.d, y); break;
        }
        c.out = y;
        if (instantiate(&c, 3, 9, 13, NULL, 1))
            fd_case(&c, names[op]);
        else
            CHECK_MSG(0, "%s: could not build", names[op]);
        release(&c);
    }
}

/* Instance norm of a constant input: the variance is 0 and rstd =
 * 1/sqrt(eps); the gradient stays finite and equals its closed form
 * gamma rstd (R - mean R) per channel (finite differences cannot resolve
 * it: the float32 mean of a perturbed constant carries a relative error
 * of the size of the perturbation's own effect). */
static void check_inorm_constant(void)
{
    gcase c = {0};
    stylize_graph_desc_create(&c.d, NULL);
    int x = stylize_gd_input(c.d, 2);
    c.out = stylize_gd_inorm(c.d, x, 1);
    if (!instantiate(&c, 2, 5, 7, NULL, 1)) {
        CHECK(0);
        release(&c);
        return;
    }
    for (size_t k = 0; k < c.nx; k++)
        c.x[k] = 0.75f;
    gradients(&c);
    double worst = 0, gmax = 0;
    const size_t hw = 35;
    for (int b = 0; b < N_BATCH; b++)
        for (int ch = 0; ch < 2; ch++) {
            const float *r = c.R + ((size_t)b * 2 + ch) * hw, *g = c.gx + ((size_t)b * 2 + ch) * hw;
            double mean = 0, k = c.p.value[ch] / sqrt((double)STYLIZE_INORM_EPS);
            for (size_t i = 0; i < hw; i++)
                mean += r[i] / (double)hw;
            for (size_t i = 0; i < hw; i++) {
                double want = k * (r[i] - mean);
                worst = fmax(worst, isfinite(g[i]) ? fabs(g[i] - want) : INFINITY);
                gmax = fmax(gmax, fabs(want));
            }
        }
    CHECK_MSG(gmax > 1 && worst <= 1e-4 * gmax, "inorm at a constant input: error %g of %g", worst, gmax);
    release(&c);
}

/* A DAG: two branches of one trunk, a residual add, a concatenation (whose
 * producers can write into their slices), a second input. */
static void build_dag(gcase *c)
{
    stylize_graph_desc_create(&c->d, NULL);
    stylize_graph_desc *d = c->d;
    int x = stylize_gd_input(d, 3);
    int t = stylize_gd_relu(d, stylize_gd_inorm(d, stylize_gd_conv(d, x, 6, 3, 1, STYLIZE_PAD_REFLECT, 1), 1));
    int a = stylize_gd_conv(d, t, 6, 3, 1, STYLIZE_PAD_ZERO, 0);           /* a Winograd conv */
    a = stylize_gd_add(d, stylize_gd_lrelu(d, a, 0.2f), t);                 /* residual */
    int b = stylize_gd_upsample(d, stylize_gd_conv(d, stylize_gd_avgpool(d, t, 1), 4, 1, 1, STYLIZE_PAD_ZERO, 1));
    b = stylize_gd_inorm(d, b, 1);
    int m = stylize_gd_upsample(d, stylize_gd_relu(d, stylize_gd_conv(d, x, 2, 3, 2, STYLIZE_PAD_CIRCULAR, 1)));
    int q = stylize_gd_upsample(d, stylize_gd_maxpool(d, t));
    int parts[4] = {stylize_gd_inorm(d, a, 1), b, m, q};
    int cat = stylize_gd_concat(d, 4, parts);
    int y = stylize_gd_relu(d, stylize_gd_conv(d, cat, 5, 1, 1, STYLIZE_PAD_ZERO, 1));
    c->out = stylize_gd_conv(d, stylize_gd_affine(d, y), 3, 3, 1, STYLIZE_PAD_REPLICATE, 1);
}

/* The DAG's lean plan against keep-everything, with two threads; FD of the DAG. */
static void check_dag(void)
{
    gcase full = {0}, lean = {0};
    build_dag(&full);
    build_dag(&lean);
    unsigned char keep[STYLIZE_GRAPH_MAX_NODES] = {0};
    keep[lean.out] = 1;
    const int H = 12, W = 10;
    if (!instantiate(&full, 3, H, W, NULL, 1) || !instantiate(&lean, 3, H, W, keep, 1)) {
        CHECK_MSG(0, "dag: could not build");
        goto done;
    }
    CHECK_MSG(stylize_graph_bytes(lean.g) < stylize_graph_bytes(full.g), "dag: lean %zu >= full %zu bytes",
              stylize_graph_bytes(lean.g), stylize_graph_bytes(full.g));
    stylize_set_threads(2);
    gradients(&full);
    gradients(&lean);
    const float *yf = stylize_graph_output(full.g, full.out), *yl = stylize_graph_output(lean.g, lean.out);
    int bad = memcmp(yf, yl, full.nr * sizeof(float)) != 0;
    bad += memcmp(full.gx, lean.gx, full.nx * sizeof(float)) != 0;
    bad += memcmp(full.p.grad, lean.p.grad, full.p.n * sizeof(float)) != 0;
    CHECK_MSG(bad == 0, "dag: lean and full plans differ (%d of output, input and parameter gradients)", bad);
    stylize_set_threads(1);
    fd_case(&full, "dag");
done:
    release(&full);
    release(&lean);
}

/* A frozen chain (as VGG-19: input gradient only) in three plans: keeping
 * everything; lean, passing everything through two scratch slots,
 * convolutions writing into slots that the ReLUs then reuse in place (with
 * masks: no fusion but the kept output's); and VGG-19's, keeping the ReLUs' outputs only, where
 * each convolution computes its ReLU (stylize_graph_fused_acts). All three
 * bit-identical, with two threads and images large enough for several
 * Winograd tasks. */
static void check_lean_frozen(void)
{
    const int C = 8, H = 40, W = 36, NV = 3;
    float *wt = malloc((size_t)C * C * 9 * sizeof(float)), *bias = malloc((size_t)C * sizeof(float));
    float *x = malloc((size_t)3 * H * W * sizeof(float)), *g[3] = {NULL, NULL, NULL};
    stylize_graph_desc *d = NULL;
    stylize_graph *gr[3] = {NULL, NULL, NULL};
    stylize_graph_desc_create(&d, NULL);
    if (!wt || !bias || !x || !d)
        goto done;
    tu_fill(wt, (size_t)C * C * 9, 8, -0.4f, 0.4f);
    tu_fill(bias, (size_t)C, 9, -0.1f, 0.1f);
    tu_fill(x, (size_t)3 * H * W, 10, -1, 1);
    unsigned char keep[2][STYLIZE_GRAPH_MAX_NODES] = {{0}}; /* lean, VGG-19's */
    int y = stylize_gd_input(d, 3);
    y = stylize_gd_relu(d, stylize_gd_conv_frozen(d, y, C, 3, 1, STYLIZE_PAD_ZERO, wt, bias));
    keep[1][y] = 1;
    for (int k = 0; k < 3; k++) {
        y = stylize_gd_relu(d, stylize_gd_conv_frozen(d, y, C, 3, 1, STYLIZE_PAD_ZERO, wt, bias));
        keep[1][y] = 1;
    }
    y = stylize_gd_maxpool(d, y);
    keep[1][y] = 1;
    y = stylize_gd_relu(d, stylize_gd_conv_frozen(d, y, C, 3, 1, STYLIZE_PAD_ZERO, wt, bias));
    int out = y;
    keep[0][out] = keep[1][out] = 1;
    stylize_set_threads(2);
    for (int v = 0; v < NV; v++) {
        stylize_graph_opts o;
        stylize_graph_opts_defaults(&o);
        o.height = H, o.width = W, o.keep = v ? keep[v - 1] : NULL;
        g[v] = malloc((size_t)3 * H * W * sizeof(float));
        if (!g[v] || stylize_graph_create(&gr[v], d, NULL, &o, NULL, NULL) != STYLIZE_OK)
            goto done;
        static const int fused[3] = {0, 1, 5}; /* lean: the kept output's ReLU keeps no mask */
        CHECK_MSG(stylize_graph_fused_acts(gr[v]) == fused[v], "frozen chain plan %d: %d fused ReLUs", v,
                  stylize_graph_fused_acts(gr[v]));
        const float *in = x;
        stylize_graph_forward(gr[v], &in);
        gcase c = {0};
        stylize_tshape s;
        stylize_graph_shape(gr[v], out, &s);
        c.out = out;
        c.R = malloc((size_t)s.c * s.h * s.w * sizeof(float));
        if (!c.R)
            goto done;
        tu_fill(c.R, (size_t)s.c * s.h * s.w, 4, -1, 1);
        stylize_graph_backward(gr[v], inject_r, &c, &g[v]);
        free(c.R);
    }
    stylize_tshape s;
    stylize_graph_shape(gr[0], out, &s);
    for (int v = 1; v < NV; v++) {
        CHECK_MSG(memcmp(stylize_graph_output(gr[0], out), stylize_graph_output(gr[v], out),
                         (size_t)s.c * s.h * s.w * sizeof(float)) == 0, "frozen chain plan %d: output differs", v);
        CHECK_MSG(memcmp(g[0], g[v], (size_t)3 * H * W * sizeof(float)) == 0, "frozen chain plan %d: gradient differs", v);
    }
    CHECK(stylize_graph_bytes(gr[1]) < stylize_graph_bytes(gr[0]) / 2);
    CHECK(stylize_graph_bytes(gr[2]) < stylize_graph_bytes(gr[0]));
done:
    stylize_set_threads(1);
    for (int v = 0; v < NV; v++) {
        stylize_graph_free(gr[v]);
        free(g[v]);
    }
    stylize_graph_desc_free(d);
    free(wt), free(bias), free(x);
}

/* A recomputed chain conv -> relu -> affine (the recomputation fuses the
 * ReLU into the convolution and applies the affine after it): its output
 * read back equals the plan that stores it, bit for bit. */
static void check_recompute_chain(void)
{
    gcase c = {0};
    stylize_graph_desc_create(&c.d, NULL);
    int x = stylize_gd_input(c.d, 3);
    int r = stylize_gd_affine(c.d, stylize_gd_relu(c.d, stylize_gd_conv(c.d, x, 6, 3, 1, STYLIZE_PAD_ZERO, 1)));
    c.out = stylize_gd_conv(c.d, r, 2, 3, 1, STYLIZE_PAD_ZERO, 1);
    const int H = 11, W = 13;
    stylize_conv_algo saved = g_algo;
    g_algo = STYLIZE_CONV_WINOGRAD; /* the ReLU inside the output transform */
    if (!instantiate(&c, 3, H, W, NULL, 0)) {
        CHECK_MSG(0, "recompute chain: could not build");
        release(&c);
        g_algo = saved;
        return;
    }
    unsigned char keep[STYLIZE_GRAPH_MAX_NODES] = {0}, rec[STYLIZE_GRAPH_MAX_NODES] = {0};
    keep[r] = keep[c.out] = rec[r] = 1;
    stylize_graph_opts o;
    stylize_graph_opts_defaults(&o);
    o.batch = N_BATCH, o.height = H, o.width = W, o.keep = keep, o.recompute = rec;
    o.algo = g_algo; /* as instantiate */
    stylize_graph *g2 = NULL;
    CHECK(stylize_graph_create(&g2, c.d, &c.p, &o, NULL, NULL) == STYLIZE_OK);
    if (g2) {
        const float *in = c.x;
        stylize_graph_forward(c.g, &in);
        stylize_graph_forward(g2, &in);
        stylize_tshape s;
        stylize_graph_shape(c.g, r, &s);
        size_t n = (size_t)s.c * s.h * s.w; /* per image; both plans pack the batch */
        const float *a = stylize_graph_output(c.g, r), *b = stylize_graph_output(g2, r);
        int same = a && b;
        for (int i = 0; same && i < N_BATCH; i++)
            same = memcmp(a + (size_t)i * s.nstride, b + (size_t)i * n, n * sizeof(float)) == 0;
        stylize_tshape s2;
        stylize_graph_shape(g2, r, &s2);
        CHECK_MSG(same, "recomputed conv -> relu -> affine differs from the stored one");
        CHECK(stylize_graph_fused_acts(g2) == 0); /* the stored ReLU keeps a mask: not fused */
    }
    stylize_graph_free(g2);
    release(&c);
    g_algo = saved;
}

/* Pooling and upsampling over many bands of rows (700 x 515: a partial
 * last window row and column), 2 threads, against the naive loops (the same
 * summation order: bit for bit). */
static void check_resample_bands(void)
{
    enum { C = 2, H = 700, W = 515 };
    size_t n = (size_t)C * H * W;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * 4 * sizeof(float)), *want = malloc(n * 4 * sizeof(float));
    if (!x || !y || !want) {
        CHECK(0);
        goto done;
    }
    tu_fill(x, n, 21, -1, 1);
    stylize_set_threads(2);
    for (int k = 1; k <= 3; k += 2) {
        size_t f = (size_t)1 << k, oh = H / f, ow = W / f;
        for (size_t c = 0; c < C; c++)
            for (size_t i = 0; i < oh; i++)
                for (size_t j = 0; j < ow; j++) {
                    double sum = 0;
                    for (size_t dy = 0; dy < f; dy++)
                        for (size_t dx = 0; dx < f; dx++)
                            sum += x[(c * H + i * f + dy) * W + j * f + dx];
                    want[(c * oh + i) * ow + j] = (float)(sum * (1.0 / (double)(f * f)));
                }
        stylize_avgpool_forward(y, x, C, H, W, k);
        CHECK_MSG(memcmp(y, want, C * oh * ow * sizeof(float)) == 0, "avgpool %d forward differs", k);
        float inv = (float)(1.0 / (double)(f * f));
        for (size_t c = 0; c < C; c++)
            for (size_t i = 0; i < H; i++)
                for (size_t j = 0; j < W; j++)
                    want[(c * H + i) * W + j] = i < oh * f && j < ow * f ? x[(c * oh + i / f) * ow + j / f] * inv : 0.0f;
        for (size_t i = 0; i < n; i++)
            y[i] = 7.0f; /* overwritten everywhere */
        stylize_avgpool_backward(y, x, C, H, W, k);
        CHECK_MSG(memcmp(y, want, n * sizeof(float)) == 0, "avgpool %d backward differs", k);
    }
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < 2 * H; i++)
            for (size_t j = 0; j < 2 * W; j++)
                want[(c * 2 * H + i) * 2 * W + j] = x[(c * H + i / 2) * W + j / 2];
    stylize_upsample2_forward(y, x, C, H, W);
    CHECK_MSG(memcmp(y, want, 4 * n * sizeof(float)) == 0, "upsample forward differs");
    const size_t w2 = 2 * (W / 2); /* x read as gout (C, H, w2) */
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < H / 2; i++)
            for (size_t j = 0; j < W / 2; j++) {
                const float *r0 = x + (c * H + 2 * i) * w2 + 2 * j, *r1 = r0 + w2;
                want[(c * (H / 2) + i) * (W / 2) + j] = (r0[0] + r0[1]) + (r1[0] + r1[1]);
            }
    stylize_upsample2_backward(y, x, C, H / 2, W / 2);
    CHECK_MSG(memcmp(y, want, C * (H / 2) * (W / 2) * sizeof(float)) == 0, "upsample backward differs");
done:
    stylize_set_threads(1);
    free(x), free(y), free(want);
}

/* stylize_inorm_forward_act bit for bit stylize_inorm_forward, then
 * stylize_relu_forward or stylize_lrelu_forward (values of both signs; a
 * channel of 9 x 13: vector blocks and a tail). */
static void check_inorm_act_bits(void)
{
    /* channel 2: gamma 0, beta -0 (outputs +0 and -0); channel 3: a NaN */
    enum { C = 4, HW = 117 };
    float x[C * HW], want[C * HW], got[C * HW], st[2 * C], gamma[C] = {1.3f, -0.7f, 0.0f, 0.9f},
          beta[C] = {0.2f, -0.1f, -0.0f, 0.0f};
    tu_fill(x, C * HW, 12, -2, 3);
    x[3 * HW + 5] = NAN;
    for (int act = STYLIZE_INORM_RELU; act <= STYLIZE_INORM_LRELU; act++) {
        stylize_inorm_forward(want, st, st + C, x, gamma, beta, C, HW, STYLIZE_INORM_EPS);
        int negatives = 0, negzeros = 0, nans = 0;
        for (int i = 0; i < C * HW; i++)
            negatives += want[i] < 0, negzeros += want[i] == 0 && signbit(want[i]), nans += isnan(want[i]);
        if (act == STYLIZE_INORM_RELU)
            stylize_relu_forward(want, want, C * HW);
        else
            stylize_lrelu_forward(want, want, C * HW, 0.2f, NULL);
        stylize_inorm_forward_act(got, st, st + C, x, gamma, beta, C, HW, STYLIZE_INORM_EPS,
                                  (stylize_inorm_act)act, 0.2f);
        CHECK_MSG(negatives > 50 && negzeros > 20 && nans == HW && memcmp(want, got, sizeof got) == 0,
                  "inorm act %d: %d negatives, %d -0, %d NaN, differs", act, negatives, negzeros, nans);
    }
}

/* A generator's blocks, conv -> inorm -> relu and conv -> inorm -> lrelu,
 * in three plans: keeping everything (no fusion); an inference plan and a
 * training plan keeping the output only, where the activations run in place
 * inside the instance norms (without masks: their outputs are the next
 * convolutions' inputs, kept for the weight gradients). Outputs, and the
 * training plans' input and parameter gradients, bit for bit the same; the channels (40 x 36) give the norms'
 * vector loops several blocks and a tail. */
static void check_fused_inorm_act(void)
{
    gcase c = {0};
    stylize_graph_desc_create(&c.d, NULL);
    int x = stylize_gd_input(c.d, 3);
    int y = stylize_gd_relu(c.d, stylize_gd_inorm(c.d, stylize_gd_conv(c.d, x, 6, 3, 1, STYLIZE_PAD_REFLECT, 0), 1));
    y = stylize_gd_lrelu(c.d, stylize_gd_inorm(c.d, stylize_gd_conv(c.d, y, 5, 3, 1, STYLIZE_PAD_REFLECT, 0), 1),
                         0.2f);
    c.out = stylize_gd_conv(c.d, y, 2, 1, 1, STYLIZE_PAD_ZERO, 1);
    const int H = 40, W = 36;
    unsigned char keep[STYLIZE_GRAPH_MAX_NODES] = {0};
    keep[c.out] = 1;
    stylize_graph *g[3] = {NULL, NULL, NULL};
    float *grad[2] = {NULL, NULL}, *gin[2] = {NULL, NULL};
    if (!instantiate(&c, 3, H, W, NULL, 1) || !(grad[0] = malloc(c.p.n * sizeof(float))) ||
        !(grad[1] = malloc(c.p.n * sizeof(float))) || !(gin[0] = malloc(c.nx * sizeof(float))) ||
        !(gin[1] = malloc(c.nx * sizeof(float)))) {
        CHECK_MSG(0, "fused inorm act: could not build");
        goto done;
    }
    static const int fused[3] = {0, 2, 2}, param_grad[3] = {1, 0, 1};
    stylize_tshape s;
    stylize_graph_shape(c.g, c.out, &s);
    size_t e = (size_t)s.c * s.h * s.w; /* per image */
    const float *out0 = NULL;
    for (int v = 0; v < 3; v++) {
        stylize_graph_opts o;
        stylize_graph_opts_defaults(&o);
        o.batch = N_BATCH, o.height = H, o.width = W, o.keep = v ? keep : NULL;
        o.input_grad = v != 1, o.param_grad = param_grad[v], o.algo = g_algo;
        CHECK(stylize_graph_create(&g[v], c.d, &c.p, &o, NULL, NULL) == STYLIZE_OK);
        if (!g[v])
            goto done;
        CHECK_MSG(stylize_graph_fused_acts(g[v]) == fused[v], "fused inorm act plan %d: %d fused", v,
                  stylize_graph_fused_acts(g[v]));
        const float *in = c.x;
        stylize_graph_forward(g[v], &in);
        stylize_tshape sv;
        stylize_graph_shape(g[v], c.out, &sv);
        const float *ov = stylize_graph_output(g[v], c.out);
        if (v == 0)
            out0 = ov;
        int same = 1;
        for (int b = 0; b < N_BATCH; b++)
            same &= memcmp(out0 + (size_t)b * s.nstride, ov + (size_t)b * sv.nstride, e * sizeof(float)) == 0;
        CHECK_MSG(same, "fused inorm act plan %d: output differs", v);
        if (!param_grad[v])
            continue;
        stylize_params_zero_grad(&c.p);
        gcase u = c;
        u.g = g[v];
        stylize_graph_backward(g[v], inject_r, &u, &gin[v / 2]);
        memcpy(grad[v / 2], c.p.grad, c.p.n * sizeof(float));
    }
    CHECK_MSG(memcmp(grad[0], grad[1], c.p.n * sizeof(float)) == 0, "fused inorm act: parameter gradients differ");
    CHECK_MSG(memcmp(gin[0], gin[1], c.nx * sizeof(float)) == 0, "fused inorm act: input gradients differ");
done:
    for (int v = 0; v < 3; v++)
        stylize_graph_free(g[v]);
    free(grad[0]), free(grad[1]), free(gin[0]), free(gin[1]);
    release(&c);
}

/* Two threads give the same bits on every call: convolutions hand out
 * equal runs of tiles (rows), so no tile's arithmetic depends on which
 * thread took it or when. 161 x 150: 1558 Winograd tiles in blocks of 455
 * columns, which two tasks split unevenly; with unequal shares the results
 * differed between calls. */
static void check_deterministic(void)
{
    const int C = 32, H = 150, W = 161;
    size_t nx = (size_t)C * H * W;
    float *wt = malloc((size_t)C * C * 9 * sizeof(float)), *x = malloc(nx * sizeof(float));
    float *y0 = malloc(nx * sizeof(float)), *y1 = malloc(nx * sizeof(float));
    stylize_conv *conv = NULL;
    int differ = 0;
    if (!wt || !x || !y0 || !y1)
        goto done;
    tu_fill(wt, (size_t)C * C * 9, 12, -0.2f, 0.2f);
    tu_fill(x, nx, 13, -1, 1);
    stylize_set_threads(2);
    for (int algo = 0; algo < 2; algo++) {
        stylize_conv_geom g = {C, C, 3, 1, STYLIZE_PAD_ZERO};
        stylize_conv_algo a = algo ? STYLIZE_CONV_WINOGRAD : STYLIZE_CONV_IM2COL;
        if (stylize_conv_create_ex(&conv, &g, wt, NULL, a, NULL, NULL) != STYLIZE_OK)
            goto done;
        size_t nws = stylize_conv_workspace_floats_ex(conv, H, W, 0);
        float *ws = malloc(nws * sizeof(float));
        for (int rep = 0; ws && rep < 20; rep++) {
            stylize_conv_forward(conv, rep ? y1 : y0, x, H, W, ws);
            differ += rep && memcmp(y0, y1, nx * sizeof(float)) != 0;
        }
        free(ws);
        stylize_conv_free(conv);
        conv = NULL;
    }
    CHECK_MSG(differ == 0, "%d of 38 repeated two-thread convolutions differ from the first", differ);
done:
    stylize_set_threads(1);
    free(wt), free(x), free(y0), free(y1);
}

/* input_grad with no buffers for the input gradients: they are skipped
 * (concat, add and convolutions alike), the parameter gradients stay. */
static void check_no_input_buffers(void)
{
    gcase a = {0}, b = {0};
    build_dag(&a);
    build_dag(&b);
    if (!instantiate(&a, 3, 12, 10, NULL, 1) || !instantiate(&b, 3, 12, 10, NULL, 1)) {
        CHECK(0);
        goto done;
    }
    gradients(&a);
    stylize_params_zero_grad(&b.p);
    loss(&b);
    stylize_graph_backward(b.g, inject_r, &b, NULL);
    CHECK(memcmp(a.p.grad, b.p.grad, a.p.n * sizeof(float)) == 0);
    stylize_tshape s;
    stylize_graph_shape(a.g, 100000, &s); /* a bad index: zeros, no read */
    CHECK(s.n == 0 && s.c == 0 && stylize_graph_desc_op(a.d, -3) == STYLIZE_OP_INPUT);
done:
    release(&a);
    release(&b);
}

/* A dry plan counts exactly the bytes a live one allocates, and frees them. */
static void check_dry(void)
{
    gcase c = {0};
    build_dag(&c);
    stylize_params p;
    stylize_graph *g = NULL;
    stylize_graph_opts o;
    stylize_graph_opts_defaults(&o);
    o.batch = 3, o.height = 16, o.width = 14, o.param_grad = 1;
    size_t peak[2] = {0, 0};
    for (int dry = 0; dry <= 1; dry++) {
        stylize_mem m;
        stylize_mem_init(&m, dry);
        CHECK(stylize_params_create(&p, c.d, &m, NULL) == STYLIZE_OK);
        CHECK(stylize_graph_create(&g, c.d, &p, &o, &m, NULL) == STYLIZE_OK);
        CHECK(g && m.cur == stylize_graph_bytes(g) + 2 * p.n * sizeof(float));
        if (g && !dry) { /* a live graph runs */
            float *x = calloc((size_t)3 * 3 * 16 * 14, sizeof(float));
            const float *in = x;
            stylize_graph_forward(g, &in);
            free(x);
        }
        stylize_graph_free(g);
        stylize_params_free(&p);
        peak[dry] = m.peak;
        CHECK_MSG(m.cur == 0, "dry %d: %zu bytes still counted", dry, m.cur);
    }
    CHECK_MSG(peak[0] == peak[1] && peak[0] > 0, "live %zu vs dry %zu bytes", peak[0], peak[1]);
    stylize_graph_desc_free(c.d);
}

/* A trainable zero-padded 3x3 conv uses Winograd; after a parameter update
 * its kernels are refreshed: the output equals a freshly built graph's. */
static void check_refresh(void)
{
    gcase c = {0};
    stylize_graph_desc_create(&c.d, NULL);
    c.out = stylize_gd_conv(c.d, stylize_gd_input(c.d, 4), 6, 3, 1, STYLIZE_PAD_ZERO, 1);
    g_algo = STYLIZE_CONV_WINOGRAD;
    int made = instantiate(&c, 4, 9, 8, NULL, 1);
    g_algo = STYLIZE_CONV_IM2COL;
    if (!made) {
        CHECK(0);
        release(&c);
        return;
    }
    const float *in = c.x;
    stylize_graph_forward(c.g, &in);
    for (size_t k = 0; k < c.p.n; k++)
        c.p.value[k] *= -1.5f;
    stylize_graph_forward(c.g, &in);
    float *stale = malloc(c.nr * sizeof(float));
    if (stale)
        memcpy(stale, stylize_graph_output(c.g, c.out), c.nr * sizeof(float));
    stylize_graph_params_changed(c.g);
    stylize_graph_forward(c.g, &in);
    stylize_graph *fresh = NULL;
    stylize_graph_opts o;
    stylize_graph_opts_defaults(&o);
    o.batch = N_BATCH, o.height = 9, o.width = 8, o.algo = STYLIZE_CONV_WINOGRAD;
    CHECK(stylize_graph_create(&fresh, c.d, &c.p, &o, NULL, NULL) == STYLIZE_OK);
    if (fresh && stale) {
        stylize_graph_forward(fresh, &in);
        const float *a = stylize_graph_output(c.g, c.out), *b = stylize_graph_output(fresh, c.out);
        CHECK_MSG(memcmp(a, b, c.nr * sizeof(float)) == 0, "refreshed kernels differ from fresh ones");
        CHECK_MSG(memcmp(stale, b, c.nr * sizeof(float)) != 0, "stale kernels gave the new output");
    }
    free(stale);
    stylize_graph_free(fresh);
    release(&c);
}

/* Errors are reported at build and creation time, naming the node. */
static void check_errors(void)
{
    stylize_graph_desc *d = NULL;
    stylize_error err;
    stylize_graph *g = NULL;
    stylize_graph_opts o;
    stylize_graph_opts_defaults(&o);
    o.height = 4, o.width = 4;
    stylize_graph_desc_create(&d, NULL);
    int x = stylize_gd_input(d, 3);
    CHECK(stylize_gd_conv(d, x, 2, 4, 1, STYLIZE_PAD_ZERO, 1) == -1); /* even kernel */
    CHECK(stylize_graph_desc_status(d, &err) == STYLIZE_ERR_ARG && strstr(err.msg, "odd"));
    stylize_graph_desc_free(d);
    stylize_graph_desc_create(&d, NULL);
    CHECK(stylize_gd_conv(d, stylize_gd_input(d, 3), 2, 3, 1, (stylize_pad_mode)7, 1) == -1);
    CHECK(stylize_graph_desc_status(d, &err) == STYLIZE_ERR_ARG && strstr(err.msg, "padding"));
    CHECK(stylize_gd_relu(d, x) == -1); /* after an error every builder fails */
    stylize_graph_desc_free(d);

    stylize_graph_desc_create(&d, NULL);
    x = stylize_gd_input(d, 3);
    stylize_gd_name(d, stylize_gd_conv(d, x, 2, 9, 1, STYLIZE_PAD_REFLECT, 1), "wide");
    stylize_params p;
    stylize_params_create(&p, d, NULL, NULL);
    CHECK(stylize_graph_create(&g, d, &p, &o, NULL, &err) == STYLIZE_ERR_ARG && !g);
    CHECK_MSG(strstr(err.msg, "wide") != NULL, "message '%s' names the node", err.msg);
    stylize_params_free(&p);
    stylize_graph_desc_free(d);

    stylize_graph_desc_create(&d, NULL);
    x = stylize_gd_input(d, 3);
    int parts[2] = {x, stylize_gd_maxpool(d, x)};
    stylize_gd_concat(d, 2, parts);
    CHECK(stylize_graph_create(&g, d, NULL, &o, NULL, &err) == STYLIZE_ERR_ARG && !g);
    CHECK_MSG(strstr(err.msg, "different sizes") != NULL, "message '%s'", err.msg);
    stylize_graph_desc_free(d);
}

int main(void)
{
    stylize_set_threads(1);
    check_convs();
    check_ops();
    check_inorm_constant();
    check_resample_bands();
    check_inorm_act_bits();
    check_fused_inorm_act();
    check_dag();
    check_lean_frozen();
    check_recompute_chain();
    check_deterministic();
    check_no_input_buffers();
    check_dry();
    check_refresh();
    check_errors();
    return TEST_SUMMARY();
}
